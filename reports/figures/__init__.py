"""The report's seven figures, each a function ``(Run, Analysis) -> matplotlib Figure``.

:data:`FIGURES` lists them in page order with the file name each is saved
under and the caption the page shows under it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from matplotlib.figure import Figure

from reports.compute import Analysis
from reports.figures.costs import jit, layout, memory
from reports.figures.scaling import scaling, throughput
from reports.figures.speedup import headline, heatmap
from reports.load import Run


@dataclass(frozen=True)
class FigureSpec:
    """One figure: its file stem, heading, drawing function and caption."""

    stem: str
    heading: str
    draw: Callable[[Run, Analysis], Figure]
    caption: str


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "1-headline", "Headline: speedup over pure Python", headline,
        "How many times faster than the pure-Python loop each implementation runs at the "
        "seed's sizes (under each kernel), median over rounds with a bootstrap 95% "
        "interval. Python pays for every element: an interpreted "
        "bytecode loop and a boxed float per number; the others run one compiled loop.",
    ),
    FigureSpec(
        "2-scaling", "Scaling: time per call against size", scaling,
        "Median time per call with the interquartile band, log-log. The flat left part is "
        "fixed per-call cost (argument checks, dispatch, NumPy's temporaries); the slope-1 "
        "right part is per-element cost. Markers show where a backend overtakes python "
        "(triangle) or numpy (diamond), or falls behind (cross).",
    ),
    FigureSpec(
        "3-throughput", "Throughput against working set", throughput,
        "GB/s for the streaming kernels and GFLOP/s for matmul, from the work model and the "
        "median time. Red lines are the machine's ceilings measured in the same run (solid: "
        "one thread, dashed: all cores); dotted lines mark the L1, L2 and L3 cache sizes. "
        "Throughput drops where the working set leaves a cache.",
    ),
    FigureSpec(
        "4-layout", "Memory layout: C against Fortran order", layout,
        "Row and column sums over the same values stored row-major (C) and column-major "
        "(Fortran, hatched). A loop that walks memory in storage order streams whole cache "
        "lines; one that strides across rows touches a new line for every element.",
    ),
    FigureSpec(
        "5-jit", "JIT cost: compile time and break-even", jit,
        "Numba compiles on the first call. Left: the compile time of a fresh dispatcher. "
        "Right: how many calls at the reference size it takes for Numba's per-call saving "
        "over NumPy to repay that time; \"never\" where Numba is not faster than NumPy.",
    ),
    FigureSpec(
        "6-memory", "Memory: bytes per element and temporaries", memory,
        "Left: a Python list stores a pointer per element to a separate float object "
        "(about 32 bytes per number); an array stores 8. Right: peak memory allocated "
        "during one call: NumPy's whole-array temporaries against the loops' scalars "
        "(default variants, and hatched any variant that changes it by more than 2x).",
    ),
    FigureSpec(
        "7-heatmap", "At a glance: speedup over Python at every size", heatmap,
        "Each cell is the speedup over the pure-Python loop at that size (median ratio); "
        "blue is faster, red slower, grey where python or the implementation did not run.",
    ),
)

__all__ = ["FIGURES", "FigureSpec", "headline", "heatmap", "jit", "layout", "memory",
           "scaling", "throughput"]

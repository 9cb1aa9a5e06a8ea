"""The report's seven figures, each a function ``(Run, Analysis) -> matplotlib Figure``.

:data:`FIGURES` lists them in page order with the file name each is saved
under and the caption the page shows under it.  Headings and captions are
templates: :func:`words` fills them for the runs and baselines of a report
(:meth:`FigureSpec.worded`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from matplotlib.figure import Figure

from reports.baselines import Baseline
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

    def worded(self, fill: Mapping[str, str]) -> FigureSpec:
        """The spec with its heading and caption filled in from ``fill`` (see :func:`words`)."""
        return replace(self, heading=self.heading.format_map(fill),
                       caption=self.caption.format_map(fill))


#: The python baseline's words, so the default report reads as it always has.
_PYTHON_WORDS = {
    "base": "pure Python",
    "Base": "Python",
    "base_loop": "the pure-Python loop",
    "base_name": "python",
    "python_note": " Python pays for every element: an interpreted bytecode loop and a boxed "
                   "float per number; the others run one compiled loop.",
}


def words(runs: list[Run], baselines: tuple[Baseline, ...]) -> dict[str, str]:
    """What the headings and captions of :data:`FIGURES` say for these runs and baselines:
    the first baseline (the figures' reference), the crossover markers, the kernels
    run in more than one layout."""
    first = baselines[0]
    fill = (dict(_PYTHON_WORDS) if first == Baseline("python") else
            {"base": first.label, "Base": first.label, "base_loop": first.label,
             "base_name": first.label, "python_note": ""})
    marks = f"{first.label} (triangle)"
    if len(baselines) > 1:
        marks += f" or {' or '.join(b.label for b in baselines[1:])} (diamond)"
    fill["marks"] = marks
    layered = list(dict.fromkeys(k for run in runs for k in run.kernels
                                 if len({t.layout for t in run.steady if t.kernel == k}) > 1))
    fill["layout"] = (f"The kernels run in both orders ({', '.join(layered)}), over"
                      if layered else "Kernels run in both orders (none in this run), over")
    return fill


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "1-headline", "Headline: speedup over {base}", headline,
        "How many times faster than {base_loop} each implementation runs at the "
        "seed's sizes (under each kernel), median over rounds with a bootstrap 95% "
        "interval.{python_note}",
    ),
    FigureSpec(
        "2-scaling", "Scaling: time per call against size", scaling,
        "Median time per call with the interquartile band, log-log. The flat left part is "
        "fixed per-call cost (argument checks, dispatch, NumPy's temporaries); the slope-1 "
        "right part is per-element cost. Markers show where a backend overtakes {marks}, "
        "or falls behind (cross).",
    ),
    FigureSpec(
        "3-throughput", "Throughput against working set", throughput,
        "Each kernel in the unit of the ceiling it declares (GB/s for a memory-bound kernel, "
        "GFLOP/s for a compute-bound one, Gelem/s against sin throughput), from the work "
        "model and the median time. Red lines are the kernel's own ceiling measured in the "
        "same run (solid: one thread, dashed: all cores); dotted lines mark the L1, L2 and L3 "
        "cache sizes. Throughput drops where the working set leaves a cache.",
    ),
    FigureSpec(
        "4-layout", "Memory layout: C against Fortran order", layout,
        "{layout} the same values stored row-major (C) and column-major "
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
        "7-heatmap", "At a glance: speedup over {Base} at every size", heatmap,
        "Each cell is the speedup over {base_loop} at that size (median ratio); "
        "blue is faster, red slower, grey where {base_name} or the implementation did not "
        "run.",
    ),
)

__all__ = [
    "FIGURES",
    "FigureSpec",
    "headline",
    "heatmap",
    "jit",
    "layout",
    "memory",
    "scaling",
    "throughput",
    "words",
]

"""The machine ceilings a kernel can be held against, by ceiling name.

A kernel names its ceiling in its spec (``KernelSpec.ceiling``, saved with the
run as ``vecbench.kernels[NAME].ceiling``); this catalogue says what each
ceiling measures and how a kernel's speed is counted against it.  It is keyed
by the ceiling's name, never by a kernel: which kernel is held against which
ceiling is the kernel's own fact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reports.load import Timing


@dataclass(frozen=True)
class Roof:
    """What a kernel is held against: a measured ceiling, and how to count its speed.

    ``ceiling`` is None for a kernel that declares no ceiling (or of which
    nothing is known): its speed is shown in ``unit`` without a percent.
    """

    ceiling: str | None  # the ceiling's name in the run
    unit: str  # "GB/s", "GFLOP/s" or "Gelem/s"
    what: str  # for labels: "read", "BLAS dgemm", ...
    #: The same traffic into a result allocated at each call, for kernels that
    #: return a new array: the page faults of that result are part of the work.
    fresh: str | None = None
    #: Whether the kernel's size is a matrix side (n * n elements), for Gelem/s.
    matrix: bool = False

    def speed(self, t: Timing) -> float:
        """``t``'s speed in :attr:`unit`, from the work model and the median time."""
        if self.unit == "GFLOP/s":
            return t.flops / t.median / 1e9
        if self.unit == "Gelem/s":
            elements = t.size * t.size if self.matrix else t.size
            return elements / t.median / 1e9
        return t.bytes / t.median / 1e9

    @property
    def bandwidth(self) -> bool:
        """Whether the ceiling is a memory bandwidth (meaningless for a working set in cache)."""
        return self.ceiling is not None and self.unit == "GB/s"


#: Every ceiling a kernel may declare (bench/bench_ceilings.py measures them).
#: A streaming kernel reads memory; one that reads two streams and writes a
#: third is held against the same traffic (x + y into a third array, and into
#: a new one); a kernel bound by sin against a loop summing sin alone with the
#: fastest sin the machine has; a compute-bound one against BLAS dgemm.
ROOFS: dict[str, Roof] = {
    "read_bandwidth": Roof("read_bandwidth", "GB/s", "read"),
    "stream_add_bandwidth": Roof("stream_add_bandwidth", "GB/s", "x + y stream",
                                 fresh="stream_add_new_bandwidth"),
    "sin_throughput": Roof("sin_throughput", "Gelem/s", "sum of sin alone"),
    "matmul_gflops": Roof("matmul_gflops", "GFLOP/s", "BLAS dgemm"),
}

#: How the ceilings are named in tables and findings.
CEILING_NAMES = {
    "read_bandwidth": "memory read bandwidth",
    "stream_add_bandwidth": "stream add bandwidth (x + y)",
    "stream_add_new_bandwidth": "stream add into a new array (x + y, page faults included)",
    "matmul_gflops": "BLAS dgemm (n=2048)",
    "sin_throughput": "sin throughput (sum of sin alone)",
}


def ceiling_name(name: str) -> str:
    """A ceiling's name for people (its own name, with underscores as spaces, if unknown)."""
    return CEILING_NAMES.get(name, name.replace("_", " "))

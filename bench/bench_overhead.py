"""Per-call overhead: what a call costs before any work, per backend.

``empty`` is each backend's cheapest call (kernels/backends/*: a Python
function; one NumPy ufunc on a one-element array; a jitted function; a
compiled function taking a memoryview).  ``checks`` is the argument check the
registry puts in front of every kernel, on its fast path.  The report shows
these beside the n = 1 timings, so a reader sees how much of a tiny call is
overhead.  A run that selects some backends (``--vb-backend``) measures theirs.
"""

from __future__ import annotations

import numpy as np
import pytest

import kernels
from bench import harness
from bench.grid import Selection

CHECKS = "checks"
TARGETS = [*kernels.BACKENDS, CHECKS]


def targets(selection: Selection) -> list[str]:
    """The backends of the selection, and the checks (which every backend's kernels pay)."""
    return [b for b in kernels.BACKENDS if selection.has_backend(b)] + [CHECKS]


# ``target`` is parametrized by bench/conftest.py: :func:`targets` of the selection.
@pytest.mark.benchmark(group="call overhead")
def test_call_overhead(benchmark, target):
    x = np.ones(1)
    if target == CHECKS:
        func, arg = kernels.spec("sum_of_squares").checker(), (x,)
    elif kernels.backend_error(target) is not None:
        harness.not_measured("unavailable", f"backend {target} unavailable: "
                                            f"{kernels.backend_error(target)}")
    else:
        func = kernels.empty_call(target)
        arg = x.tolist() if kernels.implementation("sum_of_squares", target).inputs == "lists" \
            else x
    func(arg)  # Numba compiles here
    benchmark.extra_info.update({"measure": "overhead", "backend": target,
                                 "threads": harness.blas_threads()})
    benchmark(func, arg)

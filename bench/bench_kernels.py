"""Steady state: every kernel x backend x variant over the profile's sizes and layouts."""

from __future__ import annotations

import numpy as np

from bench import allocator, harness
from kernels.specs import cache_line_aligned


def test_kernel(benchmark, case, profile):
    harness.skip_unavailable(case)
    harness.skip_over_budget(case, profile)
    harness.check_once(case, profile)  # also compiles Numba's code before any timing
    args = harness.prepared_inputs(case.impl, case.n, case.layout)
    benchmark.extra_info.update(harness.extra_info(case, args))
    with harness.state_recorded(benchmark):
        benchmark(case.impl.func, *args)
    harness.keep_fastest(case, benchmark)


def test_kernel_fresh_pages(benchmark, fresh_case, profile):
    """The same call at its kernel's memory size in the allocator's "fresh"
    regime: every block of a page or more a new mapping, faulted in and zeroed
    on first touch (bench/allocator.py), as a program meets it whose allocator
    gives memory back.  Only for the implementations whose call allocates a
    page or more (results and temporaries); the default regime is restored
    afterwards, also when the benchmark fails.
    """
    case = fresh_case
    harness.skip_unavailable(case)
    harness.skip_over_budget(case, profile)
    harness.check_once(case, profile)
    args = harness.prepared_inputs(case.impl, case.n, case.layout)
    # Measured once, outside the regime (tracemalloc is slow on Python's lists).
    info = harness.extra_info(case, args)
    allocated = info.get("peak_extra_bytes")
    if allocated is None:
        allocated = harness.peak_extra_bytes(case.impl, args)
    if allocated < allocator.PAGE:
        harness.not_measured("not_applicable", f"one call allocates {allocated} bytes, less than "
                             f"a page ({allocator.PAGE} bytes)",
                             f"not applicable: {case.impl.label} {case.impl.kernel} n={case.n}")
    with allocator.regime("fresh") as done:
        if not done:
            harness.not_measured("not_applicable",
                                 f"the allocator cannot be set here: {allocator.why_not()}",
                                 "not applicable")
        # The inputs too are placed anew, as in a process that ran in this regime
        # from the start: mappings of their own, not blocks of the warm heap,
        # starting on a cache line as the warm inputs do (a mapping's block
        # starts 16 bytes past its page).
        args = tuple(cache_line_aligned(a, copy=True) if isinstance(a, np.ndarray)
                     else a.copy() if isinstance(a, list) else a for a in args)
        info["allocator"] = allocator.label()
        info["minor_faults_per_call"] = allocator.faults_per_call(case.impl.func, args)
        benchmark.extra_info.update(info)
        with harness.state_recorded(benchmark):
            benchmark(case.impl.func, *args)

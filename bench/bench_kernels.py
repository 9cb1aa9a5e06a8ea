"""Steady state: every kernel x backend x variant over the profile's sizes and layouts."""

from __future__ import annotations

from bench import harness


def test_kernel(benchmark, case, profile):
    harness.skip_unavailable(case)
    harness.skip_over_budget(case, profile)
    harness.check_once(case, profile)  # also compiles Numba's code before any timing
    args = harness.prepared_inputs(case.impl, case.n, case.layout)
    benchmark.extra_info.update(harness.extra_info(case, args))
    benchmark(case.impl.func, *args)

"""The benchmark grid and harness: profiles, ids, budget, pre-check, memory."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import kernels
from bench import bench_ceilings, grid, harness, machine
from kernels import simd
from kernels.registry import Implementation


@pytest.mark.parametrize("name", list(grid.PROFILES))
def test_every_implementation_in_every_profile(name):
    profile = grid.PROFILES[name]
    cases = grid.cases(profile)
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids))
    covered = {(c.impl.kernel, c.impl.backend, c.impl.variant) for c in cases}
    assert covered == {(i.kernel, i.backend, i.variant) for i in kernels.implementations()}
    # the seed's experiments at n = 10^6 are in every profile, and every
    # kernel's memory size (its spec's)
    for kernel in ("magnitude", "sum_of_squares", "sum_sq_sin"):
        assert kernels.spec(kernel).quoted_size == 10**6
        assert 10**6 in profile.sizes(kernel)
    for kernel, spec in kernels.SPECS.items():
        assert spec.measured_size in profile.sizes(kernel), (name, kernel)


def test_full_profile_ladders():
    full = grid.PROFILES["full"]
    vectors = full.sizes("magnitude")
    assert vectors[0] == 1 and vectors[-1] >= 2**24
    assert all(b / a <= 2.01 for a, b in itertools.pairwise(vectors))
    matmul = full.sizes("matmul")
    assert matmul[0] == 4 and matmul[-1] >= 2048 and kernels.spec("matmul").quoted_size in matmul
    # The largest matrix of the 2-D sums is far beyond the last-level cache
    # (32 MiB here), or its bandwidth would be the cache's.
    largest = full.sizes("row_sums")[-1]
    assert largest >= 4096 and 8 * largest**2 >= 4 * 32 * 2**20
    assert set(kernels.spec("row_sums").layouts) == {"C", "F"}


def test_case_ids_select_naturally_with_k():
    case = next(c for c in grid.cases(grid.PROFILES["quick"])
                if c.impl.kernel == "col_sums" and c.layout == "F")
    assert case.id.split("-") == [
        "col_sums", case.impl.backend, case.impl.variant, f"n{case.n}", "F"]
    assert case.group == f"col_sums n={case.n}"


def test_cases_sharing_inputs_are_adjacent():
    keys = [(c.impl.kernel, c.n, c.layout) for c in grid.cases(grid.PROFILES["full"])]
    runs = [k for i, k in enumerate(keys) if i == 0 or keys[i - 1] != k]
    assert len(runs) == len(set(runs))


def _impl(kernel: str, core, backend="numpy", variant="fake") -> Implementation:
    spec = kernels.spec(kernel)
    check = spec.checker()
    return Implementation(kernel=kernel, backend=backend, variant=variant,
                          func=lambda *a: core(*check(a)), core=core, inputs="arrays",
                          default=False)


def test_check_once_fails_a_wrong_implementation():
    wrong = _impl("sum_of_squares", lambda x: float(np.sum(x[1:] ** 2)))
    with pytest.raises(pytest.fail.Exception, match="disagrees with the reference"):
        harness.check_once(grid.Case(wrong, 1000, "C"))
    right = _impl("sum_of_squares", lambda x: float(np.sum(x * x)))
    harness.check_once(grid.Case(right, 1000, "C"))


def test_check_once_runs_the_reference_on_one_blas_thread(monkeypatch):
    """The check's BLAS calls run on one thread (OpenBLAS's workers spin after
    a call on several, on the cores a parallel benchmark's rounds need); the
    benchmark's own limit is back afterwards."""
    seen = []
    real = harness.reference

    def reference(*args):
        seen.append(harness.blas_threads())
        return real(*args)

    monkeypatch.setattr(harness, "reference", reference)
    impl = _impl("matmul", lambda A, B: A @ B, variant="two_threads")
    with harness.threads_limited(2):
        if harness.blas_threads() < 2:
            pytest.skip("the BLAS pool cannot use two threads on this machine")
        harness.check_once(grid.Case(impl, 64, "C", threads=2))
        assert seen == [1]
        assert harness.blas_threads() == 2


def test_an_unavailable_implementation_is_skipped_with_its_reason():
    import dataclasses

    impl = dataclasses.replace(_impl("sum_of_squares", lambda x: float(np.sum(x * x))),
                               unavailable="built without OpenMP")
    with pytest.raises(pytest.skip.Exception, match="unavailable here: built without OpenMP"):
        harness.skip_unavailable(grid.Case(impl, 1000, "C"))
    harness.skip_unavailable(grid.Case(_impl("sum_of_squares", np.sum), 1000, "C"))


def test_an_implementation_that_raises_fails_not_skips():
    def broken(x):
        raise ZeroDivisionError("inside the kernel")

    with pytest.raises(ZeroDivisionError):
        harness.check_once(grid.Case(_impl("sum_of_squares", broken), 1000, "C"))


def test_budget_estimate_fits_fixed_and_marginal_cost(monkeypatch):
    impl = _impl("matmul", lambda A, B: A @ B, variant="slow")
    case = grid.Case(impl, 1000, "C")
    key = ("matmul", "numpy", "slow", "C", 1)
    # 2 ms fixed + 5 ns a flop (2 n^3 flops): 3.25 ms at n=50, 12 ms at n=100
    monkeypatch.setitem(harness._measured, key, {50: 0.002 + 5e-9 * 2 * 50**3,
                                                 100: 0.002 + 5e-9 * 2 * 100**3})
    assert harness.estimate_seconds(case) == pytest.approx(0.002 + 5e-9 * 2 * 1000**3)
    # the same work model, scaled without the fixed cost, would say 12 ms x 1000
    assert harness.estimate_seconds(case) < 0.9 * 0.012 * 1000


def test_budget_probes_when_nothing_was_measured(monkeypatch):
    calls = []

    def core(x):
        calls.append(len(x))
        return float(np.sum(x * x))

    impl = _impl("sum_of_squares", core, variant="probe")
    harness._measured.pop(("sum_of_squares", "numpy", "probe", "C", 1), None)
    assert harness.estimate_seconds(grid.Case(impl, 1000, "C")) >= 0
    assert calls and max(calls) < 1000


def test_bytes_per_element_list_against_array():
    x = np.arange(1000.0)
    assert harness.bytes_per_element((x,)) == 8.0
    per = harness.bytes_per_element((x.tolist(),))
    assert 32.0 <= per < 33.0  # 24-byte float object + 8-byte pointer, plus the list header
    assert harness.bytes_per_element(([[1.5, 2.5], [3.5, 4.5]],)) > 32


def test_peak_extra_bytes_sees_numpy_temporaries():
    impl = kernels.implementation("magnitude", "numpy")
    x, y = kernels.spec("magnitude").inputs(100_000)
    numpy_peak = harness.peak_extra_bytes(impl, (x, y))
    fused_peak = harness.peak_extra_bytes(kernels.implementation("magnitude", "cython"), (x, y))
    assert fused_peak >= x.nbytes  # the result
    assert numpy_peak >= 2 * x.nbytes  # the result and at least one temporary
    assert numpy_peak > fused_peak


def test_machine_record():
    caches = machine.cpu_caches()
    assert all(isinstance(v, int) and v > 0 for v in caches.values())
    assert set(machine.simd_features()) <= set(machine.SIMD_FLAGS)
    record = machine.machine_record()["vecbench"]
    assert "-O3" in record["build"]["cython"]["cflags"]
    assert record["simd_path"]["path"] in simd.runnable()
    rows = {(r["kernel"], r["backend"], r["variant"]): r for r in record["implementations"]}
    assert rows["sum_sq_sin", "cython", "vector_sin"]["path"] == simd.selected()
    assert rows["magnitude", "numpy", "vectorized"]["path"] is None
    assert record["libraries"]["numpy"] == np.__version__


def test_parallel_variants_run_on_all_cores_beside_blas():
    cases = grid.cases(grid.PROFILES["quick"])
    parallel = [c for c in cases if c.impl.variant == grid.PARALLEL_VARIANT]
    assert parallel and all(c.threads == grid.ALL_CORES for c in parallel)
    assert {c.impl.backend for c in parallel} == {"numba", "cython"}
    if grid.ALL_CORES > 1:
        assert all(c.id.endswith(f"-t{grid.ALL_CORES}") for c in parallel)
        blas = {c.threads for c in cases if c.impl.kernel == "matmul" and c.impl.backend == "numpy"}
        assert blas == {1, grid.ALL_CORES}
    single = [c for c in cases if c.impl.variant != grid.PARALLEL_VARIANT
              and c.impl.backend != "numpy"]
    assert all(c.threads == 1 and not c.id.endswith("-t1") for c in single)


def test_threads_limited_sets_numba_and_blas():
    import numba

    with harness.threads_limited(1):
        assert numba.get_num_threads() == 1
        assert harness.blas_threads() == 1


def test_first_call_compilation_is_not_held_against_the_budget(monkeypatch):
    compiled = []

    def core(x):
        if not compiled:  # the first call stands for a JIT compilation
            compiled.append(True)
            import time

            time.sleep(0.3)
        return float(np.sum(x * x))

    impl = _impl("sum_of_squares", core, variant="jit_like")
    monkeypatch.delitem(harness._measured, ("sum_of_squares", "numpy", "jit_like", "C", 1),
                        raising=False)
    try:
        harness.check_once(grid.Case(impl, 10, "C"), grid.PROFILES["quick"])
    except pytest.skip.Exception as exc:
        pytest.fail(f"skipped for its compile time: {exc}")
    assert harness._measured[("sum_of_squares", "numpy", "jit_like", "C", 1)][10] < 0.25


def test_full_profile_measures_the_ceilings_again_after_everything_else():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "pytest", "bench", "--collect-only", "-q",
                          "--profile=full", "-p", "no:cacheprovider"],
                         capture_output=True, text=True, check=True).stdout
    ids = [line for line in out.splitlines() if "::" in line]
    last = [i for i, name in enumerate(ids) if "test_ceiling[last-" in name]
    first = [i for i, name in enumerate(ids) if "test_ceiling[first-" in name]
    assert len(last) == len(first) == len(bench_ceilings.PROBES)
    # every probe of the last pass comes after every other benchmark
    assert last == list(range(len(ids) - len(last), len(ids)))


def test_the_report_keeps_the_highest_of_repeated_ceilings():
    from reports.load import Ceiling, best_ceilings

    measured = [Ceiling("read_bandwidth", threads, value, "GB/s")
                for threads, value in ((1, 30.0), (2, 40.0), (1, 36.0), (2, 38.0))]
    kept = {(c.name, c.threads): c.value for c in best_ceilings(measured)}
    assert kept == {("read_bandwidth", 1): 36.0, ("read_bandwidth", 2): 40.0}

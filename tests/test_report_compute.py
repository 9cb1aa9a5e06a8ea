"""The report's numbers: bootstrap intervals, crossovers, percent of ceiling, what is missing."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_report_helpers import VECTOR_SIZES, model_seconds, synthetic_run, write_run

from reports import compute, tables
from reports.load import Timing, load_run


def _timing(samples, **kw) -> Timing:
    samples = np.asarray(samples, dtype=float)
    q1, med, q3 = np.percentile(samples, [25, 50, 75])
    base = dict(kernel="k", backend="b", variant="v", default=True, size=1, layout="C",
                threads=1, bytes=8.0, flops=1.0, median=float(med), q1=float(q1), q3=float(q3),
                rounds=samples.size, data=[float(x) for x in samples])
    base.update(kw)
    return Timing(**base)


@pytest.mark.parametrize("m", [2, 5, 7, 8, 30])
def test_bootstrap_medians_match_resampling(m):
    """The order-statistic shortcut has the distribution of resampled medians."""
    rng = np.random.default_rng(m)
    x = rng.lognormal(0.0, 0.5, m)
    fast = compute.bootstrap_medians(x, np.random.default_rng(1), 40_000)
    slow = np.median(rng.choice(x, size=(40_000, m), replace=True), axis=1)
    support = np.union1d(fast, slow)
    cdf_fast = np.searchsorted(np.sort(fast), support, side="right") / fast.size
    cdf_slow = np.searchsorted(np.sort(slow), support, side="right") / slow.size
    assert np.max(np.abs(cdf_fast - cdf_slow)) < 0.02  # Kolmogorov-Smirnov distance
    possible = set(x) | {(u + v) / 2 for u in x for v in x}
    assert set(np.unique(fast)) <= possible


def test_bootstrap_of_one_sample_is_that_sample():
    assert np.all(compute.bootstrap_medians([3.0], np.random.default_rng(0), 10) == 3.0)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("rounds", [5, 6, 40])
def test_ratio_interval_contains_point_estimate(seed, rounds):
    rng = np.random.default_rng(seed)
    slow = _timing(1e-3 * np.exp(rng.normal(0, 0.1, rounds)))
    fast = _timing(2e-5 * np.exp(rng.normal(0, 0.1, rounds)))
    est = compute.ratio(slow, fast)
    assert est.value == pytest.approx(slow.median / fast.median)
    assert est.low < est.value < est.high
    assert est.low > 20 and est.high < 100  # around the true 50x


def test_ratio_without_saved_rounds_has_no_interval():
    slow = _timing([2.0, 2.0, 2.0], data=None)
    fast = _timing([1.0, 1.0, 1.0], data=None)
    est = compute.ratio(slow, fast)
    assert (est.low, est.value, est.high) == (2.0, 2.0, 2.0)
    assert est.text() == "2.0x"


def test_crossing_found_where_the_model_says():
    # python: 1e-6 + 5e-8 w, numpy: 3e-6 + 1e-9 w, w = 2n: equal at n = 2e-6 / 98e-9 ~ 20.4.
    ns = VECTOR_SIZES
    py = [model_seconds("python", 2 * n) for n in ns]
    npy = [model_seconds("numpy", 2 * n) for n in ns]
    found = compute.crossings(ns, py, npy)
    assert len(found) == 1
    c = found[0]
    assert c.overtakes
    assert c.between == (16, 64)
    assert abs(math.log(c.size / 20.4)) < math.log(1.5)


def test_crossing_falls_behind_and_level_noise_is_not_a_crossing():
    ns = [1, 10, 100, 1000]
    found = compute.crossings(ns, [1.0, 1.0, 1.0, 1.0], [0.5, 0.8, 1.5, 3.0])
    assert [c.overtakes for c in found] == [False]
    assert found[0].between == (10, 100)
    assert compute.crossings(ns, [1.0] * 4, [0.98, 1.03, 0.99, 1.02]) == []


def test_crossovers_of_a_run(tmp_path):
    run = load_run(write_run(tmp_path / "run.json", synthetic_run()))
    found = {(c.kernel, c.challenger[0], c.reference[0]): c for c in compute.crossovers(run)}
    c = found[("sum_of_squares", "numpy", "python")]
    assert [x.overtakes for x in c.crossings] == [True]
    assert c.crossings[0].between == (16, 64)
    # numba is cheaper to call than python and cheaper per element: ahead throughout.
    assert found[("sum_of_squares", "numba", "python")].crossings == []
    assert "faster than python at every size" in found[("sum_of_squares", "numba",
                                                         "python")].verdict


def test_speedups_use_python_at_its_largest_size(tmp_path):
    run = load_run(write_run(tmp_path / "run.json", synthetic_run()))
    rows = {(s.kernel, s.backend, s.variant): s for s in compute.speedups(run)}
    mm = rows[("matmul", "numba", "naive_ijk")]
    assert mm.size == 64 and mm.versus("python").size == 16
    assert mm.versus("numpy").size == 64
    mag = rows[("magnitude", "cython", "loop")]
    assert [v.baseline for v in mag.against] == ["python", "numpy"]
    vs_python = mag.versus("python")
    assert mag.size == vs_python.size == 16384
    expected = model_seconds("python", 4 * 16384) / model_seconds("cython", 4 * 16384)
    assert vs_python.estimate.value == pytest.approx(expected, rel=0.1)
    assert vs_python.estimate.low <= vs_python.estimate.value <= vs_python.estimate.high
    # python is the first baseline: no row of its own; numpy has no numbers against itself.
    assert not any(backend == "python" for _, backend, _ in rows)
    assert rows[("magnitude", "numpy", "vectorized")].versus("numpy").estimate is None


def _small_caches(doc: dict) -> dict:
    """The synthetic run on a machine whose caches its largest inputs outgrow."""
    doc["machine_info"]["vecbench"]["caches"] = {"L1d": 1024, "L2": 4096, "L3": 16384}
    return doc


def test_percent_of_ceiling(tmp_path):
    run = load_run(write_run(tmp_path / "run.json", _small_caches(synthetic_run())))
    rows = {(o.kernel, o.backend, o.variant): o for o in compute.of_ceiling(run)}
    o = rows[("sum_of_squares", "numba", "loop")]
    t = compute.series(run, "sum_of_squares", "numba", "loop")[-1]
    assert o.unit == "GB/s" and o.ceiling is not None and o.ceiling.threads == 1
    assert not o.in_cache and o.working_set > 16384
    assert o.percent == pytest.approx(100 * t.bytes / t.median / 1e9 / 20.0)
    assert rows[("matmul", "numpy", "blas")].unit == "GFLOP/s"
    no_ceiling = load_run(write_run(tmp_path / "bare.json", synthetic_run(ceilings=False)))
    assert all(o.percent is None for o in compute.of_ceiling(no_ceiling))


def test_no_percent_of_a_memory_ceiling_in_cache(tmp_path):
    # The synthetic machine's 32 MiB L3 holds every input of the synthetic run.
    run = load_run(write_run(tmp_path / "run.json", synthetic_run()))
    rows = {(o.kernel, o.backend, o.variant): o for o in compute.of_ceiling(run)}
    o = rows[("sum_of_squares", "numba", "loop")]
    assert o.in_cache and o.ceiling is not None and o.percent is None
    assert o.llc == max(run.caches.values()) and o.working_set <= o.llc
    # A compute roof holds at any size.
    assert rows[("matmul", "numpy", "blas")].percent is not None
    cell = next(r for r in tables.ceiling_table([run], [compute.analyse(run)]).rows
                if r[:2] == ["sum_of_squares", "numba/loop"])[2]
    assert cell.startswith("in cache") and "%" not in cell


def test_a_missing_own_ceiling_is_named_never_replaced(tmp_path):
    # sum_sq_sin's roof is sin throughput, which the synthetic run lacks: it must not be
    # held against the read bandwidth the run has.
    run = load_run(write_run(tmp_path / "run.json", _small_caches(synthetic_run())))
    assert not any(c.name == "sin_throughput" for c in run.ceilings)
    assert any(c.name == "read_bandwidth" for c in run.ceilings)
    rows = [o for o in compute.of_ceiling(run) if o.kernel == "sum_sq_sin"]
    assert rows and all(o.percent is None and o.ceiling is None for o in rows)
    assert all(o.ceiling_name == "sin_throughput" for o in rows)
    text = "\n".join(compute.missing(run))
    assert "sum_sq_sin: its ceiling (sin_throughput) was not measured" in text
    cells = [r[2] for r in tables.ceiling_table([run], [compute.analyse(run)]).rows
             if r[0] == "sum_sq_sin"]
    assert cells and all("not measured" in c and "%" not in c for c in cells)


def test_magnitude_is_also_held_against_a_fresh_result(tmp_path):
    import copy

    doc = _small_caches(synthetic_run())
    probe = next(b for b in doc["benchmarks"] if b["extra_info"].get("measure") == "ceiling")
    for name, value in (("stream_add_bandwidth", 40.0), ("stream_add_new_bandwidth", 25.0)):
        extra = copy.deepcopy(probe)
        extra["name"] = extra["fullname"] = f"test_ceiling[{name}-1]"
        extra["extra_info"] = {"measure": "ceiling", "ceiling": name, "threads": 1,
                               "value": value, "unit": "GB/s"}
        doc["benchmarks"].append(extra)
    run = load_run(write_run(tmp_path / "run.json", doc))
    rows = {(o.kernel, o.backend, o.variant): o for o in compute.of_ceiling(run)}
    mag = rows[("magnitude", "numba", "loop")]
    t = compute.series(run, "magnitude", "numba", "loop")[-1]
    speed = t.bytes / t.median / 1e9
    assert mag.ceiling.name == "stream_add_bandwidth"
    assert mag.percent == pytest.approx(100 * speed / 40.0)
    assert mag.fresh_percent == pytest.approx(100 * speed / 25.0)
    # Kernels that return no new array have no second roof.
    assert rows[("sum_of_squares", "numba", "loop")].fresh_percent is None
    table = next(t for t in tables.tables([run], [compute.analyse(run)])
                 if t.anchor == "ceiling")
    cell = next(r for r in table.rows if r[:2] == ["magnitude", "numba/loop"])[2]
    assert f"{mag.fresh_percent:.0f}% of the same into a new array (25)" in cell


def test_missing_lists_absent_backends_and_sizes(tmp_path):
    doc = synthetic_run(backends=("python", "numpy", "numba"),
                        drop_sizes={("magnitude", "numba"): {256, 1024}}, ceilings=False)
    run = load_run(write_run(tmp_path / "run.json", doc))
    text = "\n".join(compute.missing(run))
    assert "backends not in this run at all: cython" in text
    assert "magnitude numba/loop: not run at n=256, 1,024" in text
    assert "matmul python/naive_ijk: not run at n=32, 64" in text
    assert "machine ceilings: not measured" in text


def test_missing_lists_what_the_machine_lacked_with_the_reason(tmp_path):
    doc = synthetic_run()
    doc["machine_info"].setdefault("vecbench", {}).update({
        "simd_path": {"path": "avx2", "setting": "VECBENCH_SIMD=avx2"},
        "implementations": [
            {"kernel": "sum_sq_sin", "backend": "cython", "variant": "vector_sin",
             "path": "scalar", "unavailable": "needs libmvec's SIMD sin"},
            {"kernel": "magnitude", "backend": "numba", "variant": "loop", "path": None,
             "unavailable": None},
        ]})
    run = load_run(write_run(tmp_path / "run.json", doc))
    text = "\n".join(compute.missing(run))
    assert ("sum_sq_sin cython/vector_sin: unavailable in this run: needs libmvec's SIMD sin"
            in text)
    assert "magnitude numba/loop" not in text
    assert run.simd_path == "avx2 (VECBENCH_SIMD=avx2)"
    assert "avx2 (VECBENCH_SIMD=avx2)" in tables.runs_table([run], [compute.analyse(run)]).rows[0]


def test_a_malformed_implementations_record_is_one_line(tmp_path):
    from reports.load import ReportError

    doc = synthetic_run()
    doc["machine_info"].setdefault("vecbench", {})["implementations"] = [{"kernel": 3}]
    with pytest.raises(ReportError, match=r"implementations\[0\]\.kernel is 3"):
        load_run(write_run(tmp_path / "run.json", doc))


def test_split_threads_makes_one_implementation_per_thread_count(tmp_path):
    run = load_run(write_run(tmp_path / "run.json", synthetic_run(parallel=True)))
    assert len(compute.series(run, "matmul", "numpy", "blas")) == 10  # 5 sizes x 2 counts
    split = compute.split_threads(run)
    one = compute.series(split, "matmul", "numpy", "blas")
    two = compute.series(split, "matmul", "numpy", "blas (2 threads)")
    assert [t.threads for t in one] == [1] * 5 and [t.threads for t in two] == [2] * 5
    assert all(t.default for t in one) and not any(t.default for t in two)
    # Comparisons keep single-threaded NumPy as the reference; parallel stays as named.
    assert compute.default_variant(split, "matmul", "numpy") == "blas"
    assert len(compute.series(split, "magnitude", "numba", "parallel")) == 8
    rows = {(o.kernel, o.backend, o.variant): o for o in compute.of_ceiling(split)}
    assert rows[("matmul", "numpy", "blas (2 threads)")].ceiling.threads == 2
    assert rows[("matmul", "numpy", "blas")].ceiling.threads == 1
    # Nothing to split: the same run comes back.
    plain = load_run(write_run(tmp_path / "plain.json", synthetic_run()))
    assert compute.split_threads(plain) is plain


def test_variant_styles_differ_within_a_report():
    from reports import style

    names = ["column_streaming", "row_streaming", "ikj", "parallel", "unrolled", "in_place",
             "vector_sin", "blas (2 threads)"]
    style.assign_variants(names)
    dashes = [style.variant_linestyle(n, False) for n in names]
    assert len({str(d) for d in dashes}) == len(names)
    assert style.variant_linestyle("loop", True) == "-"
    style.assign_variants(reversed(names))  # the order names come in does not matter
    assert [style.variant_linestyle(n, False) for n in names] == dashes


@pytest.mark.parametrize(("value", "text"), [(57.3, "57"), (3.21, "3.2"), (0.456, "0.46"),
                                             (1234.0, "1,234")])
def test_fmt_ratio(value, text):
    assert compute.fmt_ratio(value) == text


@pytest.mark.parametrize(("n", "text"), [(1024, "1,024"), (16384, "16.4k"),
                                         (1_000_000, "1M"), (16_777_216, "16.8M")])
def test_fmt_size(n, text):
    assert compute.fmt_size(n) == text

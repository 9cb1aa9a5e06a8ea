"""Skips on the budget that are right, and every absent case saved with its reason.

The budget tests run on a fake clock: each call of a fake implementation
advances it by a cost model, so they assert decisions, never timings.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import kernels
from bench import grid, harness, record
from kernels.registry import Implementation

QUICK = grid.PROFILES["quick"]
ROOT = Path(__file__).resolve().parents[1]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _costed(clock: FakeClock, cost: Callable[[int, int], float], variant: str,
            kernel: str = "sum_of_squares") -> tuple[Implementation, list[int]]:
    """A sum_of_squares (or row_sums) whose i-th call at size n takes ``cost(n, i)``
    on ``clock``; also the list of the sizes it was called at."""
    check = kernels.spec(kernel).checker()
    calls: list[int] = []

    def core(x):
        clock.now += cost(x.shape[0], len(calls))
        calls.append(x.shape[0])
        return float(np.dot(x, x)) if kernel == "sum_of_squares" else x.sum(axis=1)

    impl = Implementation(kernel=kernel, backend="numpy", variant=variant,
                          func=lambda *a: core(*check(a)), core=core, inputs="arrays",
                          default=False)
    return impl, calls


def _run_ladder(impl: Implementation, profile: grid.Profile = QUICK,
                sizes: tuple[int, ...] | None = None) -> dict[int, tuple[str, str] | None]:
    """What the suite does for each size of the profile (or ``sizes``): size ->
    (reason, detail) or None."""
    out: dict[int, tuple[str, str] | None] = {}
    for n in sizes if sizes is not None else profile.sizes(impl.kernel):
        case = grid.Case(impl, n, "C")
        try:
            harness.skip_over_budget(case, profile)
            harness.check_once(case, profile)
            out[n] = None
        except pytest.skip.Exception as exc:
            out[n] = harness.absent_reason(exc)
    return out


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(harness, "_clock", fake)
    return fake


@pytest.fixture
def fresh_budget(monkeypatch):
    """An empty record of measured calls, restored afterwards."""
    monkeypatch.setattr(harness, "_measured", {})
    monkeypatch.setattr(harness, "_over_budget", {})


def _cheap(n: int) -> float:
    return 20e-6 + 1e-9 * n  # 1 ms at a million elements, against a 0.25 s budget


def test_a_cheap_case_is_never_skipped_for_one_descheduled_call(monkeypatch, clock,
                                                                fresh_budget):
    # the quick profile up to 10^4 elements: small inputs, every call tried below
    sizes = QUICK.sizes("sum_of_squares")[:5]
    assert sizes[-1] == 10_000
    impl, calls = _costed(clock, lambda n, i: _cheap(n), "clean")
    assert all(v is None for v in _run_ladder(impl, sizes=sizes).values())
    total = len(calls)
    assert total > 10
    # the same run with any one of its calls descheduled for 30 s (120 budgets)
    for late in range(total):
        monkeypatch.setattr(harness, "_measured", {})
        impl, _ = _costed(clock, lambda n, i, late=late: _cheap(n) + (30.0 if i == late else 0),
                          f"late{late}")
        skipped = {n: v for n, v in _run_ladder(impl, sizes=sizes).items() if v is not None}
        assert not skipped, f"call {late} descheduled: {skipped}"


@pytest.mark.parametrize("seed", range(8))
def test_a_busy_core_at_small_sizes_does_not_extrapolate_into_a_skip(clock, fresh_budget, seed):
    # A parallel row sum waiting for a busy core: every call delayed by 0-200 ms,
    # which at small sizes looks like growth, and the quick profile's sizes
    # (16, 128, 1024) are 64 times the work apart (the calls of 9 us - 16 ms
    # once estimated at 0.85-108 s).
    delays = itertools.cycle(np.random.default_rng(seed).uniform(0.0, 0.2, 97))
    impl, _ = _costed(clock, lambda n, i: 5e-6 + 2e-9 * n * n + next(delays), "busy",
                      kernel="row_sums")
    outcome = _run_ladder(impl)
    assert all(v is None for v in outcome.values()), outcome


def test_a_case_over_budget_is_skipped_after_two_calls(clock, fresh_budget):
    impl, calls = _costed(clock, lambda n, i: 4e-7 * n, "slow")  # 0.4 s at n = 1e6
    outcome = _run_ladder(impl)
    assert all(outcome[n] is None for n in QUICK.sizes("sum_of_squares") if n < 1_000_000)
    reason, detail = outcome[1_000_000]
    assert reason == "over_budget"
    assert "two calls took 0.4 s and 0.4 s" in detail and "'quick'" in detail and "0.25 s" in detail
    assert calls.count(1_000_000) == 2  # estimated at 0.4 s, under two budgets: a second call
    # the same case again (the "fresh" allocator regime): skipped on those two calls
    again = _run_ladder(impl)[1_000_000]
    assert again[0] == "over_budget" and "(measured before)" in again[1]
    assert calls.count(1_000_000) == 2


def test_one_call_is_enough_where_the_estimate_put_it_beyond_two_budgets(clock, fresh_budget):
    impl, calls = _costed(clock, lambda n, i: 6e-7 * n, "slower")  # 0.6 s at n = 1e6
    reason, detail = _run_ladder(impl)[1_000_000]
    assert reason == "over_budget"
    assert "one call took 0.6 s (estimated at 0.6 s, fitted to n=" in detail
    assert calls.count(1_000_000) == 1


def test_a_descheduled_call_the_estimate_contradicts_is_called_again(clock, fresh_budget):
    # 1 ms at 10^6 elements, but its first call there delayed by 30 s
    late: list[int] = []

    def cost(n: int, i: int) -> float:
        if n == 1_000_000 and not late:
            late.append(i)
            return 30.0
        return _cheap(n)

    impl, calls = _costed(clock, cost, "late")
    assert _run_ladder(impl)[1_000_000] is None
    assert calls.count(1_000_000) >= 2


def test_a_case_far_over_budget_is_skipped_without_calling_it(clock, fresh_budget):
    impl, calls = _costed(clock, lambda n, i: 2e-5 * n, "slower")  # 2 s at 1e5, 20 s at 1e6
    outcome = _run_ladder(impl)
    assert outcome[10_000] is None  # 0.2 s
    for n, seconds in ((100_000, "2"), (1_000_000, "20")):
        reason, detail = outcome[n]
        assert reason == "over_budget"
        assert f"one call estimated at {seconds} s" in detail and "'quick'" in detail
        assert n not in calls  # never called: it would have wasted its time twice
    # the estimate was checked closer, but only at sizes estimated within two budgets
    assert max(calls) * 2e-5 <= 2 * QUICK.call_budget


def test_fixed_cost_is_not_scaled_by_the_work(clock, fresh_budget):
    impl, _ = _costed(clock, lambda n, i: 0.05, "fixed")  # 50 ms whatever the size
    assert harness.estimate_seconds(grid.Case(impl, 1_000_000, "C"), 0.25) == \
        pytest.approx(0.05)


def test_lists_far_over_budget_are_skipped_before_they_are_built(monkeypatch, clock,
                                                                fresh_budget):
    # Python's lists at a size beyond the cache (10^8 floats: gigabytes, and
    # seconds to build): the estimate skips the case, and nothing of that size
    # is ever built, as arrays or as lists.
    spec = kernels.spec("sum_of_squares")
    built: list[int] = []

    def make_inputs(n, rng, layout):
        built.append(n)
        return spec.make_inputs(n, rng, layout)

    monkeypatch.setitem(kernels.SPECS, "sum_of_squares",
                        dataclasses.replace(spec, make_inputs=make_inputs))
    harness.spec_inputs.cache_clear()
    harness.reference.cache_clear()
    harness._as_lists.cache_clear()
    monkeypatch.setattr(harness, "_available", lambda: 64 * 2**30)
    calls: list[int] = []

    def core(x):
        clock.now += 100e-9 * len(x)  # 0.1 s at 10^6 elements: 13 s at 2^27
        calls.append(len(x))
        # checked at the case's sizes only; the probes' results are not
        return float(np.dot(x, x)) if len(x) <= 10**6 else 0.0

    check = spec.checker(lists=True)
    impl = Implementation(kernel="sum_of_squares", backend="python", variant="lists_probe",
                          func=lambda *a: core(*check(a)), core=core, inputs="lists",
                          default=False)
    beyond = 2**27
    outcome = _run_ladder(impl, sizes=(1000, 10**6, beyond))
    assert outcome[1000] is None and outcome[10**6] is None
    reason, detail = outcome[beyond]
    assert reason == "over_budget" and "one call estimated at 13.4 s" in detail
    assert beyond not in built and beyond not in calls
    assert max(built) * 100e-9 <= 2 * QUICK.call_budget  # probes stop within two budgets
    harness.spec_inputs.cache_clear()
    harness.reference.cache_clear()
    harness._as_lists.cache_clear()


def test_a_fast_kernel_is_not_probed_up_to_a_size_it_cannot_be_skipped_at(clock, fresh_budget):
    impl, calls = _costed(clock, lambda n, i: 5e-6 + 1e-10 * n, "fast")  # 0.1 ms at 10^6
    assert all(v is None for v in _run_ladder(impl, sizes=(1000, 10**6)).values())
    before = list(calls)
    beyond = grid.Case(impl, 2**27, "C")  # at most 13 ms: within a quarter budget
    assert harness.estimate_seconds(beyond, QUICK.call_budget) == \
        pytest.approx(1e-10 * 2**27, rel=0.05)
    assert calls == before  # no probe between 10^6 and 2^27
    # a slower one still is (a strided loop may be many times slower beyond the
    # cache), and one far over budget is then skipped
    for variant, per_element, over in (("medium_probe", 1e-9, False),
                                       ("slow_probe", 1e-7, True)):
        other, other_calls = _costed(clock, lambda n, i, c=per_element: 5e-6 + c * n, variant)
        assert all(v is None for v in _run_ladder(other, sizes=(1000, 10**6)).values())
        estimate = harness.estimate_seconds(grid.Case(other, 2**27, "C"), QUICK.call_budget)
        assert (estimate > harness.SKIP_FACTOR * QUICK.call_budget) == over
        assert max(other_calls) > 10**6


def test_inputs_that_would_not_fit_in_memory_are_skipped_before_anything(monkeypatch,
                                                                         fresh_budget):
    monkeypatch.setattr(harness, "_available", lambda: 8 * 2**30)  # 8 GiB available
    lists = grid.Case(kernels.implementation("row_sums", "python"), 16384, "C")
    arrays = grid.Case(kernels.implementation("row_sums", "numpy"), 16384, "C")
    assert harness.memory_over(arrays) is None  # 2 GiB: within half of it
    with pytest.raises(pytest.skip.Exception) as skipped:
        harness.skip_over_budget(lists, QUICK)  # 8 GiB as lists: over a quarter
    reason, detail = harness.absent_reason(skipped.value)
    assert reason == "over_budget"
    assert detail == ("its inputs as Python lists would take 8 GiB, over 25% of the 8 GiB of "
                      "memory available")
    huge = grid.Case(kernels.implementation("row_sums", "numpy"), 40000, "C")  # 12 GiB
    assert "its inputs would take 11.9 GiB, over 50%" in harness.memory_over(huge)
    monkeypatch.setattr(harness, "_available", lambda: None)  # unknown: no guard
    assert harness.memory_over(huge) is None


def test_the_harness_names_its_reasons():
    wrong = Implementation(kernel="sum_of_squares", backend="numpy", variant="wrong",
                           func=lambda x: float(np.dot(x, x)) + 1.0, core=None,
                           inputs="arrays", default=False)
    with pytest.raises(pytest.fail.Exception) as failed:
        harness.check_once(grid.Case(wrong, 1000, "C"))
    reason, detail = harness.absent_reason(failed.value)
    assert reason == "failed" and detail.startswith("disagrees with the reference")

    def broken(x):
        raise ZeroDivisionError("inside the kernel")

    raising = Implementation(kernel="sum_of_squares", backend="numpy", variant="raises",
                             func=broken, core=broken, inputs="arrays", default=False)
    with pytest.raises(ZeroDivisionError) as raised:
        harness.check_once(grid.Case(raising, 1000, "C"))
    assert harness.absent_reason(raised.value) == ("failed",
                                                   "ZeroDivisionError: inside the kernel")


@pytest.mark.parametrize(("when", "outcome", "exc", "measure", "expected"), [
    ("setup", "failed", KeyError("no fixture"), "steady", "error"),
    ("call", "failed", RuntimeError("after the kernel"), "steady", "error"),
    ("call", "failed", AssertionError("value 0"), "ceiling", "failed"),
    ("call", "skipped", pytest.skip.Exception("no such thing here"), "overhead", "unavailable"),
])
def test_an_unnamed_ending_is_classified(when, outcome, exc, measure, expected):
    reason, detail = record.SessionRecord.reason(when, outcome, exc, measure)
    assert reason == expected and detail


def test_a_named_ending_keeps_its_reason():
    try:
        harness.not_measured("over_budget", "one call estimated at 3 s", "numba/parallel n=128")
    except pytest.skip.Exception as exc:
        assert str(exc.msg).startswith("numba/parallel n=128: ")
        assert record.SessionRecord.reason("call", "skipped", exc, "steady") == \
            ("over_budget", "one call estimated at 3 s")


PLUGIN = '''
"""Registered by tests/test_bench_absent.py in its child pytest only."""
import time

import numpy as np

from kernels import registry
from kernels.backends import numpy_vectorized


def wrong_on_purpose(x):
    return float(np.dot(x, x)) * 1.5 + 1.0


def slow_on_purpose(x):
    if x.size >= 10_000:
        time.sleep(0.3)  # over the quick profile's 0.25 s budget
    return float(np.dot(x, x))


numpy_vectorized.CORES["sum_of_squares"]["wrong_on_purpose"] = wrong_on_purpose
numpy_vectorized.CORES["sum_of_squares"]["slow_on_purpose"] = slow_on_purpose
registry._implementations.cache_clear()
'''


def test_a_saved_run_lists_what_it_did_not_measure_and_the_machine_state(tmp_path):
    (tmp_path / "vecbench_on_purpose.py").write_text(textwrap.dedent(PLUGIN))
    out = tmp_path / "run.json"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTEST_XDIST") and k != "PYTEST_CURRENT_TEST"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    child = subprocess.run(
        [sys.executable, "-m", "pytest", "bench/bench_kernels.py", "--benchmark-only",
         "--profile=quick", f"--benchmark-json={out}", "--benchmark-save-data",
         "-p", "vecbench_on_purpose", "-p", "no:cacheprovider", "-q",
         "-k", "test_kernel and not fresh and sum_of_squares-numpy"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert child.returncode == 1, child.stdout[-3000:] + child.stderr[-3000:]  # failures
    run = json.loads(out.read_text())
    vecbench = run["vecbench"]
    assert vecbench["version"] == 1 and vecbench["profile"] == "quick"
    sizes = set(QUICK.sizes("sum_of_squares"))

    absent = vecbench["absent"]
    assert all(set(e) >= {*record.FIELDS, "reason", "detail"} for e in absent)
    wrong = [e for e in absent if e["variant"] == "wrong_on_purpose"]
    assert {e["size"] for e in wrong} == sizes and len(wrong) == len(sizes)
    for e in wrong:
        assert e["reason"] == "failed" and e["measure"] == "steady"
        assert e["detail"].startswith("disagrees with the reference")
        assert (e["kernel"], e["backend"], e["layout"], e["threads"]) == \
            ("sum_of_squares", "numpy", "C", 1)
        assert e["benchmark"] == f"sum_of_squares-numpy-wrong_on_purpose-n{e['size']}-C"
        assert e["allocator"] in ("warm", "uncontrolled")
    slow = {e["size"]: e for e in absent if e["variant"] == "slow_on_purpose"}
    assert set(slow) == {n for n in sizes if n >= 10_000}
    assert all(e["reason"] == "over_budget" and "budget" in e["detail"] for e in slow.values())

    steady = [b for b in run["benchmarks"] if b["extra_info"].get("measure") == "steady"]
    measured = {(b["extra_info"]["variant"], b["extra_info"]["size"]) for b in steady}
    assert {n for v, n in measured if v == "slow_on_purpose"} == {n for n in sizes if n < 10_000}
    assert {n for v, n in measured if v == "vectorized"} == sizes
    for b in steady:
        assert set(b["extra_info"]["state"]) == {"other_cpu", "steal", "cpu_wait", "load1",
                                                    "running", "pace_before", "pace_after",
                                                    "waited"}
        assert b["extra_info"]["state"]["pace_before"] >= 1.0

    paced = vecbench["pace"]
    assert paced["probes"] >= 2 * len(steady) and paced["reference_seconds"] > 0
    assert paced["share"] == QUICK.pace_wait
    machine = vecbench["state"]
    assert machine["cpu_count"] == os.cpu_count()
    phases = [s["phase"] for s in machine["samples"]]
    assert phases[0] == "before" and phases[-1] == "after" and "during" in phases
    assert phases.count("before") == phases.count("after") == 1
    ats = [s["at"] for s in machine["samples"]]
    assert ats == sorted(ats) and ats[0] == 0.0


def test_a_slice_records_its_selection_and_kernels_and_nothing_outside_it():
    first = grid.PROFILES["first"]
    chosen = grid.make_selection(kernel="sum_of_squares", backend="numba,numpy",
                                 sizes="1e3..1e6")
    session = record.SessionRecord(first, chosen)
    session.measures = {"steady", "compile"}
    output: dict = {}
    session.pytest_benchmark_update_json(config=None, benchmarks=[], output_json=output)
    saved = output["vecbench"]
    assert saved["profile"] == "first"
    assert saved["selection"] == {"kernels": ["sum_of_squares"], "backends": ["numba", "numpy"],
                                  "variants": None, "sizes": "1e3..1e6", "sources": [],
                                  "slice": True}
    assert saved["kernels"] == {"sum_of_squares": kernels.spec("sum_of_squares").facts()}
    assert set(saved["beyond_cache"]) == {"sum_of_squares"}
    assert set(saved["beyond_cache"]["sum_of_squares"]) == {
        "size", "working_set_bytes", "input_bytes", "llc_bytes", "capped"}
    absent = saved["absent"]
    assert absent and {(e["kernel"], e["reason"]) for e in absent} == \
        {("sum_of_squares", "not_in_profile")}
    # what the profile leaves out of the slice: the compile cost of the
    # non-default Numba variants, and fresh pages; never python or cython
    assert {e["backend"] for e in absent} == {"numba", "numpy"}
    compile_ = {e["variant"] for e in absent if e["measure"] == "compile"}
    numba = {i.variant for i in kernels.implementations()
             if i.backend == "numba" and i.kernel == "sum_of_squares"}
    assert compile_ == numba - {"loop"}
    fresh = [e for e in absent if e["measure"] == "steady"]
    assert fresh and all(e["allocator"] == "fresh" and e["size"] == 10**6
                         and "does not time fresh pages" in e["detail"] for e in fresh)
    # the whole grid: every kernel's facts, not a slice
    whole = record.SessionRecord(QUICK)
    output = {}
    whole.pytest_benchmark_update_json(config=None, benchmarks=[], output_json=output)
    assert set(output["vecbench"]["kernels"]) == set(kernels.SPECS)
    assert output["vecbench"]["selection"]["slice"] is False
    assert output["vecbench"]["beyond_cache"] == {}  # the quick profile adds no size


def test_lists_left_out_beyond_the_cache_are_recorded(monkeypatch):
    monkeypatch.setattr(grid, "last_level_cache", lambda: 32 * 2**20)
    monkeypatch.setattr(grid, "_BEYOND", {})
    first = grid.PROFILES["first"]
    spec = kernels.spec("sum_of_squares")
    beyond = grid.machine_beyond_cache(spec).size
    session = record.SessionRecord(first, grid.make_selection(kernel="sum_of_squares",
                                                              backend="python"))
    session.measures = {"steady"}
    left = [e for e in session.not_in_profile() if e["size"] == beyond]
    assert [(e["backend"], e["variant"], e["layout"], e["reason"]) for e in left] == \
        [("python", "loop", "C", "not_in_profile")]
    assert "beyond the last-level cache" in left[0]["detail"]
    assert left[0]["benchmark"] == f"sum_of_squares-python-loop-n{beyond}-C"
    grid._BEYOND.clear()


def test_an_estimate_from_long_calls_is_believed_without_probing_closer(clock, fresh_budget):
    # 1 us an element: 0.52 s at 2^19, and 2^23 estimated at 8.39 s, beyond four
    # of the full profile's 2 s budgets, from calls long enough to believe
    full = grid.PROFILES["full"]
    sizes = (*(n for n in full.sizes("sum_of_squares") if n <= 2**19), 2**23)
    impl, calls = _costed(clock, lambda n, i: 1e-6 * n, "long")
    reason, detail = _run_ladder(impl, full, sizes=sizes)[2**23]
    assert reason == "over_budget" and "one call estimated at 8.39 s" in detail
    assert set(calls) <= set(sizes), sorted(set(calls) - set(sizes))  # nothing probed between


def test_the_benchmark_s_fastest_round_replaces_a_single_call(fresh_budget):
    impl = kernels.implementation("sum_of_squares", "numpy")
    case = grid.Case(impl, 1000, "C")
    harness._measured[harness._key(case)] = {1000: 0.5}  # one slow call
    stats = type("Stats", (), {"min": 0.001})()
    benchmark = type("Fixture", (), {"stats": type("Metadata", (), {"stats": stats})()})()
    harness.keep_fastest(case, benchmark)
    assert harness._measured[harness._key(case)][1000] == 0.001
    harness.keep_fastest(case, type("Disabled", (), {"stats": None})())
    assert harness._measured[harness._key(case)][1000] == 0.001


def test_a_case_estimated_over_budget_is_checked_at_the_next_size_first(clock, fresh_budget):
    # 1 us per element, six times that at the powers of two from 1024 (a cache
    # cliff): 2048 is estimated at 4.2 s from 512 and 1000, within four of the
    # full profile's 2 s budgets, but would take 25 s; a probe at 1024 shows it
    full = grid.PROFILES["full"]

    def cost(n: int, i: int) -> float:
        cliff = n >= 1024 and n & (n - 1) == 0
        return (6e-6 if cliff else 1e-6) * n * n

    impl, calls = _costed(clock, cost, "cliff", kernel="row_sums")
    sizes = (*(n for n in full.sizes("row_sums") if n <= 512), 1000, 2048)
    reason, detail = _run_ladder(impl, full, sizes=sizes)[2048]
    assert reason == "over_budget" and "one call estimated at" in detail, detail
    assert 1024 in calls and 2048 not in calls

"""The report says what disturbed a run, what is absent and why, and both allocator regimes."""

from __future__ import annotations

import copy

import pytest
from test_report_helpers import synthetic_run, write_run

from reports import compute, conditions, pipeline, tables, write
from reports.load import load_run

WARM = {"M_MMAP_THRESHOLD": 33554432, "M_TRIM_THRESHOLD": 1073741824}


def _steady(doc: dict) -> list[dict]:
    return [b for b in doc["benchmarks"] if "kernel" in b["extra_info"]
            and b["extra_info"].get("measure", "steady") == "steady"]


def _with_state(doc: dict, other_cpu: float, parallel_other: float | None = None) -> dict:
    """The run as the suites save it now: the machine's state sampled through the
    run and per benchmark, the allocator declared."""
    doc["vecbench"] = {
        "version": 1, "profile": "quick",
        "allocator": {"controlled": True, "how": "glibc mallopt", "default": "warm",
                      "regimes": {"warm": WARM, "fresh": {"M_MMAP_THRESHOLD": 4096}},
                      "why": None},
        "state": {"cpu_count": 2, "samples": [
            {"at": float(i), "phase": phase, "load1": 0.2 + other_cpu, "running": 1,
             "other_cpu": None if i == 0 else other_cpu, "steal": 0.0, "mhz": 2900.0}
            for i, phase in enumerate(["before", "during", "during", "during", "after"])]},
        "absent": [],
    }
    for b in _steady(doc):
        info = b["extra_info"]
        info["allocator"] = "warm"
        busy = other_cpu
        if parallel_other is not None and info["variant"] == "loop" \
                and info["backend"] == "numba" and info["kernel"] == "magnitude":
            info["threads"] = 2
            busy = parallel_other
        info["state"] = {"other_cpu": busy, "steal": 0.0, "load1": 0.2 + busy, "running": 1}
    return doc


def test_a_quiet_run_carries_no_warning(tmp_path):
    run = load_run(write_run(tmp_path / "run.json", _with_state(synthetic_run(), 0.05)))
    d = conditions.disturbance(run)
    assert d.recorded and d.warning is None
    assert not [t for t in run.steady if d.mark(t) and "other processes" in d.mark(t)]
    assert conditions.state_text(run, d).startswith("quiet: others used 0.05 of 2 cores")


def test_a_busy_run_warns_and_marks_the_parallel_benchmarks(tmp_path):
    # Another process kept one of the two cores busy: the one-thread benchmarks had
    # a core of their own, the two-thread ones did not.
    run = load_run(write_run(tmp_path / "run.json", _with_state(synthetic_run(), 1.0,
                                                                parallel_other=1.0)))
    d = conditions.disturbance(run)
    assert d.warning is not None and "busy machine" in d.warning
    assert "1.0 of 2 cores" in d.warning
    marked = [t for t in run.steady if d.mark(t)]
    assert marked and all(t.threads == 2 for t in marked)
    assert all("left free" in d.mark(t) for t in marked)
    assert {(t.kernel, t.backend, t.variant) for t in marked} == {("magnitude", "numba", "loop")}
    res = compute.analyse(run)
    table = tables.disturbed_table([run], [res])
    assert len(table.rows) == len(marked)
    speed = tables.speedup_table([run], [res])
    row = next(r for r in speed.rows if r[:3] == ["magnitude", "16.4k", "numba/loop"])
    assert tables.MARK in row[3]


def test_the_rendered_report_shows_the_warning(tmp_path):
    path = write_run(tmp_path / "run.json", _with_state(synthetic_run(), 1.2, 1.2))
    index = pipeline.render([path], tmp_path / "out")
    page = index.read_text()
    summary = (index.parent / "summary.md").read_text()
    assert 'class="warning"' in page and "busy machine" in page
    assert "**⚠ Warning.**" in summary and "Measured on a disturbed machine" in summary
    quiet = write_run(tmp_path / "quiet.json", _with_state(synthetic_run(), 0.0))
    page = pipeline.render([quiet], tmp_path / "out2").read_text()
    assert 'class="warning"' not in page


def test_rounds_far_wider_than_usual_are_marked(tmp_path):
    doc = _with_state(synthetic_run(), 0.0)
    b = next(b for b in _steady(doc) if b["extra_info"]["backend"] == "cython")
    s = b["stats"]
    s["q1"], s["q3"] = s["median"] * 0.5, s["median"] * 2.0
    run = load_run(write_run(tmp_path / "run.json", doc))
    d = conditions.disturbance(run)
    marked = [t for t in run.steady if d.mark(t)]
    assert len(marked) == 1 and "spread" in d.mark(marked[0])
    assert d.warning is None  # one wide benchmark is no disturbed machine


def test_an_unrecorded_state_says_so(tmp_path):
    run = load_run(write_run(tmp_path / "run.json", synthetic_run()))
    d = conditions.disturbance(run)
    assert not d.recorded and d.warning is None
    assert conditions.state_text(run, d) == "not recorded"
    assert conditions.allocator_text(run).startswith("not declared")


def test_every_absence_is_listed_with_its_reason(tmp_path):
    doc = _with_state(synthetic_run(), 0.0)
    doc["benchmarks"] = [b for b in doc["benchmarks"]
                         if not (b["extra_info"].get("backend") == "numba"
                                 and b["extra_info"].get("kernel") == "row_sums"
                                 and b["extra_info"].get("variant") == "row_at_a_time")]
    absent = doc["vecbench"]["absent"]
    for n in (4, 8, 16, 32, 64):
        absent.append({"benchmark": f"row_sums-numba-row_at_a_time-n{n}-C", "measure": "steady",
                       "kernel": "row_sums", "backend": "numba", "variant": "row_at_a_time",
                       "size": n, "layout": "C", "threads": 1, "allocator": "warm",
                       "reason": "failed", "detail": "row 0 differs: 1.5 against 2.0"})
    absent.append({"benchmark": "matmul-python-naive_ijk-n64-C", "measure": "steady",
                   "kernel": "matmul", "backend": "python", "variant": "naive_ijk", "size": 64,
                   "layout": "C", "threads": 1, "allocator": "warm", "reason": "over_budget",
                   "detail": "one call estimated at 3.1 s, over the 0.25 s budget"})
    absent.append({"benchmark": "read_bandwidth-1", "measure": "ceiling", "kernel": None,
                   "backend": None, "variant": None, "size": None, "layout": None,
                   "threads": 1, "allocator": None, "reason": "failed",
                   "detail": "probe raised MemoryError"})
    run = load_run(write_run(tmp_path / "run.json", doc))
    lines = compute.missing(run)
    text = "\n".join(lines)
    assert ("row_sums numba/row_at_a_time: failed at n=4, 8, 16, 32, 64 (every size it was "
            "to run at): row 0 differs: 1.5 against 2.0") in text
    assert "matmul python/naive_ijk: over the time budget at n=64: one call estimated" in text
    assert "ceiling read_bandwidth-1: failed: probe raised MemoryError" in text
    # Explained absences are not listed again as unexplained gaps; the rest are.
    assert "row_sums numba/row_at_a_time (" not in text
    assert "matmul python/naive_ijk: not run at n=32 (no reason recorded)" in text


def test_a_gap_no_record_explains_is_still_listed(tmp_path):
    doc = _with_state(synthetic_run(), 0.0)
    doc["benchmarks"] = [b for b in doc["benchmarks"]
                         if not (b["extra_info"].get("backend") == "cython"
                                 and b["extra_info"].get("kernel") == "magnitude"
                                 and b["extra_info"].get("size") == 64)]
    run = load_run(write_run(tmp_path / "run.json", doc))
    assert "magnitude cython/loop: not run at n=64 (no reason recorded)" in compute.missing(run)


def _with_fresh(doc: dict) -> dict:
    for b in list(_steady(doc)):
        info = b["extra_info"]
        if info["size"] == 16384 and info["backend"] in ("numpy", "numba"):
            twin = copy.deepcopy(b)
            twin["name"] = twin["name"].replace("test_kernel", "test_kernel_fresh_pages")
            twin["extra_info"]["allocator"] = "fresh"
            for key in ("median", "q1", "q3", "min", "max", "mean"):
                twin["stats"][key] *= 2.0
            twin["stats"]["data"] = [x * 2.0 for x in twin["stats"]["data"]]
            doc["benchmarks"].append(twin)
    return doc


def test_both_allocator_regimes_are_shown_side_by_side(tmp_path):
    path = write_run(tmp_path / "run.json", _with_fresh(_with_state(synthetic_run(), 0.0)))
    run = pipeline.load([path])[0]
    assert run.other_regimes and all(t.allocator == "fresh" for t in run.other_regimes)
    assert all(t.allocator == "warm" for t in run.steady)
    res = compute.analyse(run)
    assert res.regimes and all(p.ratio == pytest.approx(2.0) for p in res.regimes)
    table = tables.regime_table([run], [res])
    assert len(table.rows) == len(res.regimes)
    assert all(row[-1] == "2.00x" for row in table.rows)
    assert "first call on new data" in table.note
    assert conditions.allocator_text(run).startswith("warm (glibc mallopt: M_MMAP_THRESHOLD=")
    # The fresh timings are not a second implementation in the other tables.
    speed = tables.speedup_table([run], [res])
    assert len({tuple(r[:3]) for r in speed.rows}) == len(speed.rows)


@pytest.mark.parametrize(("huge", "why", "said"), [
    ({"warm": "kernel", "fresh": "off"}, None, "Fresh pages are 4 KiB pages in this run (the "
     "kernel's mode: madvise): transparent huge pages were turned off"),
    (None, "not Linux: no prctl", "Transparent huge pages were left to the kernel in this run "
     "(the kernel's mode: madvise): not Linux: no prctl: those fresh figures depend on where"),
])
def test_the_regime_table_says_what_fresh_assumed_of_huge_pages(tmp_path, huge, why, said):
    doc = _with_fresh(_with_state(synthetic_run(), 0.0))
    doc["vecbench"]["allocator"].update(huge_pages=huge, huge_pages_why=why,
                                        transparent_hugepages="madvise")
    run = pipeline.load([write_run(tmp_path / "run.json", doc)])[0]
    assert run.allocator.huge_pages == huge and run.allocator.transparent_hugepages == "madvise"
    note = tables.regime_table([run], [compute.analyse(run)]).note
    assert said in note
    assert ("4 KiB pages" in note) is (huge is not None)


def test_an_uncontrolled_allocator_is_said(tmp_path):
    doc = _with_state(synthetic_run(), 0.0)
    doc["vecbench"]["allocator"] = {"controlled": False, "how": "", "default": "undeclared",
                                    "regimes": {}, "why": "not glibc (musl)"}
    run = load_run(write_run(tmp_path / "run.json", doc))
    assert conditions.allocator_text(run) == "not controlled: not glibc (musl)"


@pytest.mark.parametrize(("wait", "marked"), [(0.0, False), (0.3, True)])
def test_a_coarse_core_count_needs_a_cpu_wait_to_mark(tmp_path, wait, marked):
    # Over a short benchmark the core count (10 ms ticks) reads 0.8 on a quiet
    # machine; only when tasks also waited for a CPU did others compete.
    doc = _with_state(synthetic_run(), 0.0, parallel_other=0.8)
    for b in _steady(doc):
        b["extra_info"]["state"]["cpu_wait"] = wait
    run = load_run(write_run(tmp_path / "run.json", doc))
    d = conditions.disturbance(run)
    two = [t for t in run.steady if t.threads == 2]
    assert two and all(bool(d.mark(t)) is marked for t in two)
    assert (d.warning is not None) is marked


def test_an_empty_regime_table_says_why(tmp_path):
    doc = _with_state(synthetic_run(), 0.0)
    doc["vecbench"]["profile"] = "first"
    run = pipeline.load([write_run(tmp_path / "run.json", doc)])[0]
    table = tables.regime_table([run], [compute.analyse(run)])
    assert not table.rows
    assert "the 'first' profile does not time fresh pages" in table.empty
    assert "profile does not time fresh pages" in write.markdown_table(table)
    assert "<code>vecbench run --profile full</code>" in write.html_table(table)
    doc["vecbench"]["profile"] = "quick"
    run = pipeline.load([write_run(tmp_path / "run.json", doc)])[0]
    assert tables.regime_table([run], [compute.analyse(run)]).empty == \
        "no benchmark of this run was timed with fresh pages"


def _paced(doc: dict, paces: list[tuple[float, float]]) -> dict:
    """``doc`` with the pace (before, after) of its steady benchmarks, cycled."""
    for i, b in enumerate(_steady(doc)):
        before, after = paces[i % len(paces)]
        b["extra_info"]["state"].update(pace_before=before, pace_after=after, waited=0.1)
    return doc


def test_a_slower_machine_around_the_rounds_marks_the_benchmark(tmp_path):
    doc = _paced(_with_state(synthetic_run(), 0.0), [(1.0, 1.02), (1.0, 1.6), (1.4, 1.0)])
    run = load_run(write_run(tmp_path / "run.json", doc))
    d = conditions.disturbance(run)
    for t in run.steady:
        why = d.mark(t)
        if max(t.pace_before, t.pace_after) > conditions.PACE_SLOW:
            side = "after" if t.pace_after > t.pace_before else "before"
            assert why is not None and f"slower than its recent best {side} its rounds" in why
        else:
            assert why is None
    # Two in three benchmarks slowed: the run warns, naming how many and how slow.
    assert d.warning is not None and "slower than its recent best" in d.warning
    assert "up to 1.6x" in d.warning


def test_a_few_slowed_benchmarks_mark_them_without_a_warning(tmp_path):
    doc = _with_state(synthetic_run(), 0.0)
    _paced(doc, [(1.0, 1.0)])
    _steady(doc)[0]["extra_info"]["state"]["pace_after"] = 1.5
    run = load_run(write_run(tmp_path / "run.json", doc))
    d = conditions.disturbance(run)
    assert sum(d.mark(t) is not None for t in run.steady) == 1
    assert d.warning is None


@pytest.mark.parametrize("field,value", [("pace_before", -1.0), ("pace_after", float("inf")),
                                         ("waited", "1 s")])
def test_a_bad_pace_reading_is_one_line(tmp_path, field, value):
    from reports.load import ReportError

    doc = _with_state(synthetic_run(), 0.0)
    _steady(doc)[0]["extra_info"]["state"][field] = value
    with pytest.raises(ReportError, match=field):
        load_run(write_run(tmp_path / "run.json", doc))


def test_the_runs_table_says_what_was_waited_for_the_pace(tmp_path):
    doc = _with_state(synthetic_run(), 0.0)
    doc["vecbench"]["pace"] = {"waited_seconds": 12.4, "benchmarks_waited": 31,
                               "benchmarks_begun_slow": 4, "share": 0.5, "probes": 900}
    run = load_run(write_run(tmp_path / "run.json", doc))
    text = conditions.state_text(run, conditions.disturbance(run))
    assert "waited 12 s for the machine's pace before 31 benchmarks" in text
    assert "4 began before it returned" in text
    doc["vecbench"]["pace"]["benchmarks_waited"] = -1
    from reports.load import ReportError

    with pytest.raises(ReportError, match="benchmarks_waited"):
        load_run(write_run(tmp_path / "bad.json", doc))


def test_a_calibration_met_by_a_stall_marks_a_single_threaded_benchmark():
    from reports.load import Timing

    def timing(iterations, threads=1, min_time=1e-4):
        return Timing("sum_sq_sin", "python", "loop", True, 1, "C", threads, 8.0, 2.0,
                      4.6e-6, 4.5e-6, 4.7e-6, 3, [4.5e-6, 4.6e-6, 4.7e-6],
                      iterations=iterations, min_time=min_time)

    why = conditions.stalled_calibration(timing(1))  # rounds of 4.5 us, meant to last 100
    assert why and "1 call" in why and "4.5 us" in why and "100 us" in why
    assert why.startswith("calibrated on a stalled or cold call")
    assert conditions.load_mark(timing(1), cores=2, pace=False) == why
    assert conditions.stalled_calibration(timing(22)) is None  # 99 us: as meant
    assert conditions.stalled_calibration(timing(11))  # 49.5 us: under half
    assert conditions.stalled_calibration(timing(12)) is None  # 54 us: over half
    assert conditions.stalled_calibration(timing(1, threads=2)) is None
    assert conditions.stalled_calibration(timing(1, min_time=None)) is None

"""The one-run comparison (empirical null), exit codes, input checks and the gate's rates.

Synthetic runs only (seeded): no timing here depends on this machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reports import compare, gate_check
from reports.ci_bench import MIN_PASSES
from reports.load import ReportError, Timing

KERNELS = ("magnitude", "sum_of_squares", "col_sums")
IMPLS = (("python", "loop"), ("numpy", "vectorized"), ("numba", "loop"), ("cython", "loop"))
SIZES = (10, 100, 1000, 10000, 100000)


def _grid(n_heavy_tailed: int = 4, seed: int = 0) -> list[dict]:
    """Benchmarks of a fake suite, in run order, each with a typical time and its
    own run-to-run noise (a few heavy-tailed: Student t with 3 degrees of freedom)."""
    rng = np.random.default_rng(seed)
    out = []
    for kernel in KERNELS:
        for n in SIZES:
            for backend, variant in IMPLS:
                out.append({"kernel": kernel, "backend": backend, "variant": variant, "size": n,
                            "seconds": float(1e-6 * n ** 0.8 * rng.uniform(0.5, 3)),
                            "heavy_tailed": False})
    for i in rng.choice(len(out), n_heavy_tailed, replace=False):
        out[i]["heavy_tailed"] = True
    return out


def _run_doc(grid: list[dict], rng: np.random.Generator, scale: dict[int, float] | None = None
             ) -> dict:
    """One run of ``grid``: per benchmark a process-level factor (lognormal, 3%; the
    heavy-tailed ones t(3) x 3%), a drift over the run, then 40 rounds (1% apart)."""
    drift = rng.normal(0, 0.02)
    benches = []
    for i, g in enumerate(grid):
        noise = 0.03 * rng.standard_t(3) if g["heavy_tailed"] else rng.normal(0, 0.03)
        center = g["seconds"] * np.exp(drift + noise) * (scale or {}).get(i, 1.0)
        data = (center * np.exp(rng.normal(0, 0.01, 40))).tolist()
        benches.append(_bench(g, data))
    return {"machine_info": {"node": "n"}, "commit_info": {"id": "abc"}, "version": "5",
            "datetime": "2026-01-01T00:00:00", "benchmarks": benches}


def _bench(g: dict, data: list[float], threads: int = 1, allocator: str | None = None) -> dict:
    info = {"measure": "steady", "kernel": g["kernel"], "backend": g["backend"],
            "variant": g["variant"], "size": g["size"], "layout": "C", "threads": threads,
            "bytes": 8 * g["size"], "flops": 2 * g["size"]}
    if allocator:
        info["allocator"] = allocator
    a = np.asarray(data)
    q1, med, q3 = (float(v) for v in np.quantile(a, [0.25, 0.5, 0.75]))
    name = f"test_kernel[{_bid(g)}]"
    return {"name": name, "fullname": f"bench/bench_kernels.py::{name}", "group": "g",
            "params": {}, "extra_info": info,
            "stats": {"min": float(a.min()), "max": float(a.max()), "mean": float(a.mean()),
                      "median": med, "q1": q1, "q3": q3, "iqr": q3 - q1, "rounds": len(data),
                      "iterations": 1, "stddev": float(a.std()), "data": data}}


def _write(path: Path, doc: dict) -> str:
    path.write_text(json.dumps(doc))
    return str(path)


def _double(doc: dict, index: int) -> dict:
    """``doc`` with every saved time of benchmark ``index`` doubled."""
    doc = json.loads(json.dumps(doc))
    s = doc["benchmarks"][index]["stats"]
    for k in ("min", "max", "mean", "median", "q1", "q3", "iqr", "stddev"):
        s[k] *= 2
    s["data"] = [2 * v for v in s["data"]]
    return doc


def _bid(g: dict) -> str:
    return f"{g['kernel']}-{g['backend']}-{g['variant']}-n{g['size']}-C"


# --------------------------------------------------------------------------
# The empirical null: A/A and one benchmark doubled
# --------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(5))
def test_separate_runs_of_identical_code_are_no_regression(tmp_path, capsys, seed):
    grid = _grid(seed=seed)
    rng = np.random.default_rng(100 + seed)
    base = _write(tmp_path / "a.json", _run_doc(grid, rng))
    new = _write(tmp_path / "b.json", _run_doc(grid, rng))
    assert compare.main([base, new, "--config", str(tmp_path / "none.toml")]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("OK: no regression") and "empirical null" in last


@pytest.mark.parametrize("seed", range(5))
def test_one_benchmark_doubled_is_named(tmp_path, capsys, seed):
    grid = _grid(seed=seed)
    rng = np.random.default_rng(200 + seed)
    base_doc, new_doc = _run_doc(grid, rng), _run_doc(grid, rng)
    steady = [i for i, g in enumerate(grid) if not g["heavy_tailed"]]
    target = int(np.random.default_rng(seed).choice(steady))
    base = _write(tmp_path / "a.json", base_doc)
    new = _write(tmp_path / "b.json", _double(new_doc, target))
    assert compare.main([base, new, "--config", str(tmp_path / "none.toml")]) == 1
    out = capsys.readouterr().out
    last = out.strip().splitlines()[-1]
    assert last.startswith("REGRESSION: 1 of") and _bid(grid[target]) in last
    assert "empirical null" in last


def test_a_busy_pair_says_too_noisy_rather_than_unchanged():
    """Runs that differ by +-40% a benchmark: nothing is judged unchanged, all too noisy."""
    rng = np.random.default_rng(3)
    base, new = {}, {}
    for i in range(60):
        key = ("magnitude", "numba", "loop", i + 1, "C", 1, "warm")
        rounds = 1e-5 * np.exp(rng.normal(0, 0.01, 30))
        base[key] = (f"magnitude-numba-loop-n{i + 1}-C", [rounds])
        new[key] = (base[key][0], [rounds * np.exp(rng.normal(0, 0.4))])
    rows = compare.compare(base, new, compare.Settings())
    assert {r.verdict for r in rows} <= {"noisy", "better", "worse"}
    assert sum(r.verdict == "noisy" for r in rows) > 50
    noisy = next(r for r in rows if r.verdict == "noisy")
    assert "too noisy to judge in one run" in noisy.note
    assert "too noisy to judge in one run" in compare.verdict_line(rows, compare.Settings())


def test_multithreaded_benchmarks_are_not_judged_in_one_run():
    rng = np.random.default_rng(4)
    base, new = {}, {}
    for i in range(30):
        for threads in (1, 2):
            key = ("magnitude", "numba", "loop", i + 1, "C", threads, "warm")
            rounds = 1e-5 * np.exp(rng.normal(0, 0.01, 30))
            base[key] = (f"magnitude-numba-loop-n{i + 1}-C-t{threads}", [rounds])
            new[key] = (base[key][0], [rounds * (1000.0 if threads == 2 and i == 0 else 1.0)])
    rows = {r.benchmark: r for r in compare.compare(base, new, compare.Settings())}
    stalled = rows["magnitude-numba-loop-n1-C-t2"]
    assert stalled.verdict == "noisy" and "multi-threaded" in stalled.note


def test_several_runs_a_side_use_the_paired_test_and_one_run_never_does():
    rng = np.random.default_rng(5)
    key = ("magnitude", "numpy", "vectorized", 1000, "C", 1, "warm")
    runs = [1e-5 * np.exp(rng.normal(0, 0.01, 20)) for _ in range(4)]
    base = {key: ("m", runs)}
    new = {key: ("m", [r * 1.3 for r in runs])}
    (row,) = compare.compare(base, new, compare.Settings())
    assert row.method == compare.METHOD_RUNS and row.verdict == "worse"
    assert "paired t-test" in compare.verdict_line([row], compare.Settings())
    (row,) = compare.compare({key: ("m", runs[:1])}, {key: ("m", runs[1:])}, compare.Settings())
    assert row.method == compare.METHOD_NULL
    with pytest.raises(ValueError, match="at least two runs a side"):
        compare.by_runs([1.0], [1.0, 2.0])


def test_small_comparisons_assume_a_wide_spread():
    """Too few benchmarks to measure the noise: a wide spread is assumed (SMALL_POOL)."""
    rounds = 1e-5 * np.exp(np.random.default_rng(6).normal(0, 0.01, 30))
    keys = [("magnitude", "numba", "loop", n, "C", 1, "warm") for n in (1, 2, 3)]
    base = {k: (f"b{k[3]}", [rounds]) for k in keys}
    new = {k: (f"b{k[3]}", [rounds * f]) for k, f in zip(keys, (1.0, 1.3, 10.0), strict=True)}
    rows = {r.benchmark: r for r in compare.compare(base, new, compare.Settings())}
    assert rows["b3"].verdict == "worse"
    assert rows["b1"].verdict == rows["b2"].verdict == "noisy"
    assert rows["b1"].spread == pytest.approx(compare.SMALL_POOL, rel=0.01)


def test_allocator_regime_is_part_of_the_key():
    def timing(regime: str, median: float) -> Timing:
        return Timing("magnitude", "numpy", "vectorized", True, 1000000, "C", 1, 1.0, 1.0,
                      median, median, median, 5, [median] * 5, allocator=regime)

    warm, fresh = timing("warm", 1e-3), timing("fresh", 2e-3)
    assert compare.benchmark_id(warm) == "magnitude-numpy-vectorized-n1000000-C"
    assert compare.benchmark_id(fresh) == "magnitude-numpy-vectorized-n1000000-C-fresh"
    assert compare.key_of(warm) != compare.key_of(fresh)


# --------------------------------------------------------------------------
# Unusable input: exit 2, one line
# --------------------------------------------------------------------------
@pytest.mark.parametrize(("field", "value"), [
    ("data", 0.0), ("data", -1e-6), ("median", 0.0), ("median", -2e-6), ("q1", -1.0),
    ("iterations", 0), ("iterations", 2.5), ("min_time", -1.0), ("min_time", "fast"),
])
def test_bad_times_exit_2_naming_file_benchmark_and_field(tmp_path, capsys, field, value):
    grid = _grid()
    doc = _run_doc(grid, np.random.default_rng(7))
    stats = doc["benchmarks"][3]["stats"]
    if field == "data":
        stats["data"][2] = value
    elif field == "min_time":
        doc["benchmarks"][3]["options"] = {"min_time": value}
    else:
        stats[field] = value
    good = _write(tmp_path / "good.json", _run_doc(grid, np.random.default_rng(8)))
    bad = _write(tmp_path / "bad.json", doc)
    assert compare.main([good, bad]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.json" in err and field in err
    # The benchmark is named (load.py shortens long names; compare names it by its id).
    assert "benchmark" in err or _bid(grid[3]) in err


def test_check_timing_refuses_non_finite_times():
    t = Timing("magnitude", "numpy", "vectorized", True, 10, "C", 1, 1.0, 1.0, 1e-6, 1e-6,
               1e-6, 3, [1e-6, float("nan"), 1e-6])
    with pytest.raises(ReportError, match=r"stats\.data\[1\] = nan"):
        compare.check_timing("x.json", t)
    t = Timing("magnitude", "numpy", "vectorized", True, 10, "C", 1, 1.0, 1.0, float("inf"),
               1e-6, 1e-6, 1, [1e-6])
    with pytest.raises(ReportError, match=r"stats\.median = inf"):
        compare.check_timing("x.json", t)


MALFORMED = [
    ("threshold = 'high'", "threshold must be a number"),
    ("threshold = true", "threshold must be a number"),
    ("threshold = -0.1", "threshold = -0.1 must be finite and >= 0"),
    ("threshold = nan", "must be finite"),
    ("threshold = inf", "must be finite"),
    ("alpha = 0", "alpha = 0 must be finite and > 0 and < 1"),
    ("alpha = 1.0", "alpha"),
    ("alpha = -0.5", "alpha"),
    ("alpha = [0.1]", "alpha must be a number"),
    ("thresold = 0.1", "unknown key 'thresold'"),
    ("thresholds = 0.2", "[tool.vecbench.compare.thresholds] must be a table"),
    ("thresholds = {matmul = 'x'}", "[tool.vecbench.compare.thresholds] matmul must be a number"),
    ("thresholds = {matmul = -1}", "matmul = -1 must be finite"),
    ("thresholds = {matmul = {deep = 1}}", "matmul must be a number"),
    # A carriage return in a kernel's name (found by the property test) stays on one line.
    ('thresholds = {"mat\\rmul" = "x"}', "mul must be a number"),
    ("accepted = [{benchmark = \"a\\nb\", max_ratio = 0.5, reason = 'r'}]", "max_ratio = 0.5"),
    ("accepted = 3", "must be an array of tables"),
    ("accepted = [1, 2]", "entry 1 must be a table"),
    ("accepted = [{benchmark = 'x', max_ratio = 1.5}]", "needs benchmark, max_ratio and reason"),
    ("accepted = [{benchmark = 'x', max_ratio = 1.5, reason = 'r', by = 'me'}]",
     "unknown key 'by'"),
    ("accepted = [{benchmark = 'x', max_ratio = 1.5, reason = ' '}]", "has no reason"),
    ("accepted = [{benchmark = 3, max_ratio = 1.5, reason = 'r'}]", "benchmark must be"),
    ("accepted = [{benchmark = 'x', max_ratio = 0.5, reason = 'r'}]", "max_ratio = 0.5"),
    ("accepted = [{benchmark = 'x', max_ratio = nan, reason = 'r'}]", "max_ratio = nan"),
    ("accepted = [{benchmark = 'x', max_ratio = '2', reason = 'r'}]", "max_ratio must be"),
    ("accepted = [{benchmark = 'x', max_ratio = 2, reason = 'r'}, "
     "{benchmark = 'x', max_ratio = 3, reason = 's'}]", "accepted twice"),
]


@pytest.mark.parametrize(("line", "message"), MALFORMED)
def test_malformed_settings_exit_2_in_one_line(tmp_path, capsys, line, message):
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text(f"[tool.vecbench.compare]\n{line}\n")
    with pytest.raises(ReportError) as info:
        compare.load_settings(cfg)
    assert message in str(info.value) and "pyproject.toml" in str(info.value)
    run = _write(tmp_path / "a.json", _run_doc(_grid(), np.random.default_rng(9)))
    assert compare.main([run, run, "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pyproject.toml" in err and message in err


@pytest.mark.parametrize("text", [
    "tool = 3\n", "[tool]\nvecbench = 'x'\n", "[tool.vecbench]\ncompare = [1]\n",
    "[tool.vecbench.compare\n",
])
def test_malformed_nesting_exits_2(tmp_path, capsys, text):
    cfg = tmp_path / "pyproject.toml"
    cfg.write_text(text)
    run = _write(tmp_path / "a.json", _run_doc(_grid(), np.random.default_rng(10)))
    assert compare.main([run, run, "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pyproject.toml" in err


def test_settings_from_is_usable_in_process():
    s = compare.settings_from({"threshold": 0.2, "thresholds": {"matmul": 0}, "accepted": [
        {"benchmark": "b", "max_ratio": 1.2, "reason": "why"}]})
    assert s.threshold_for("matmul") == 0 and s.threshold_for("x") == 0.2
    assert s.accepted == {"b": (1.2, "why")}


def test_main_never_raises(tmp_path, capsys, monkeypatch):
    def interrupted(argv):
        raise KeyboardInterrupt

    monkeypatch.setattr(compare, "_run", interrupted)
    assert compare.main(["a", "b"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted"

    def broken(argv):
        raise RuntimeError("something unforeseen\nsecond line")

    monkeypatch.setattr(compare, "_run", broken)
    assert compare.main(["a", "b"]) == 2
    assert capsys.readouterr().err.strip() == "error: RuntimeError: something unforeseen"


def test_usage_errors_return_2(capsys):
    assert compare.main([]) == 2
    assert compare.main(["--help"]) == 0


# --------------------------------------------------------------------------
# The gate's own rates
# --------------------------------------------------------------------------
def test_gate_check_refuses_too_few_passes(capsys):
    assert gate_check.main(["--passes", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--passes 1" in err and str(MIN_PASSES) in err
    assert gate_check.main(["--passes", str(MIN_PASSES - 1)]) == 2


def _row(name: str, verdict: str) -> compare.Row:
    return compare.Row(name, "sum_of_squares", verdict, ratio=1.0)


def test_gate_rates_summary_arithmetic():
    aa, untouched = gate_check.Tally(), gate_check.Tally()
    caught = {0.25: gate_check.Tally(), 0.5: gate_check.Tally()}
    t1, t2 = f"{gate_check.TARGET}-n100000-C", f"{gate_check.TARGET}-n1000000-C"
    quiet = [_row(n, "unchanged") for n in ("a", "b", t1, t2)]
    for verdicts in (("worse", "worse"), ("worse", "unchanged"), ("worse", "worse")):
        aa.add(quiet, all_needed=False)
        caught[0.25].add([_row(t1, verdicts[0]), _row(t2, verdicts[1])], all_needed=True)
        untouched.add([_row("a", "unchanged"), _row("b", "unchanged")], all_needed=False)
    aa.add([*quiet[:3], _row(t2, "worse")], all_needed=False)
    caught[0.5].add([_row(t1, "worse"), _row(t2, "worse")], all_needed=True)
    untouched.add([_row("a", "worse"), _row("b", "unchanged")], all_needed=False)
    lines = gate_check.summary(aa, caught, untouched)
    assert lines[0] == ("A/A: 1 of 4 repeats flagged anything "
                        "(1 false alarms among 16 benchmark comparisons)")
    assert lines[1].startswith("+25%: caught 2 of 3 (") and "5 of 6 injected" in lines[1]
    assert lines[2].startswith("+50%: caught 1 of 1 (") and "2 of 2 injected" in lines[2]
    assert lines[3].startswith("untouched benchmarks beside the injected one: 1 false alarms "
                               "among 8")


def _sides_with_state(base_state, new_state, stalled: float, cores: int | None = None):
    """30 single- and 30 two-thread benchmarks, one run a side, the machine's state
    per side as given (None: quiet), the first two-thread benchmark ``stalled`` x."""
    rng = np.random.default_rng(6)
    base, new = compare.Side(), compare.Side()
    base.cores = new.cores = cores
    for i in range(30):
        for threads in (1, 2):
            key = ("magnitude", "numba", "loop", i + 1, "C", threads, "warm")
            rounds = 1e-5 * np.exp(rng.normal(0, 0.01, 30))
            base[key] = (f"magnitude-numba-loop-n{i + 1}-C-t{threads}", [rounds])
            new[key] = (base[key][0], [rounds * (stalled if threads == 2 and i == 0 else 1.0)])
            base.state[key] = [base_state(key)]
            new.state[key] = [new_state(key)]
    return {r.benchmark: r for r in compare.compare(base, new, compare.Settings())}


def test_a_quiet_recorded_state_lets_one_run_judge_threaded_benchmarks():
    rows = _sides_with_state(lambda k: None, lambda k: None, 2.0)
    assert rows["magnitude-numba-loop-n1-C-t2"].verdict == "worse"
    assert not any(r.verdict == "worse" for name, r in rows.items()
                   if name != "magnitude-numba-loop-n1-C-t2")


@pytest.mark.parametrize("cores,judged", [(2, False), (4, True)])
def test_threads_on_every_core_are_not_judged_in_one_run(cores, judged):
    rows = _sides_with_state(lambda k: None, lambda k: None, 2.0, cores=cores)
    row = rows["magnitude-numba-loop-n1-C-t2"]
    if judged:
        assert row.verdict == "worse"
    else:
        assert row.verdict == "noisy" and "take every core of the machine (2)" in row.note


def test_rounds_disturbed_on_either_side_are_not_judged():
    busy = "other processes used 1.6 of 2 cores while it ran"
    rows = _sides_with_state(lambda k: None, lambda k: busy if k[3] == 1 else None, 1000.0)
    stalled = rows["magnitude-numba-loop-n1-C-t2"]
    assert stalled.verdict == "noisy" and "disturbed during its rounds" in stalled.note
    assert busy in stalled.note


def test_spells_of_a_slower_machine_are_left_out_of_the_null(tmp_path, capsys):
    """A quarter of the new run's benchmarks ran in spells 1.3-1.9x slower, as the
    pace marked them (bench/pace.py); one unmarked benchmark is doubled.  Left in
    the null, the spells widen every spread until nothing can be judged; left out,
    the doubled one is named and the marked ones are "too noisy", never "worse"."""
    grid = _grid(n_heavy_tailed=0, seed=7)
    rng = np.random.default_rng(7)
    base_doc = _run_doc(grid, rng)
    slowed = {int(i) for i in rng.choice(len(grid), len(grid) // 4, replace=False)}
    target = next(i for i in range(len(grid)) if i not in slowed and i > 10)
    scale = {i: float(rng.uniform(1.3, 1.9)) for i in slowed} | {target: 2.0}
    new_doc = _run_doc(grid, rng, scale)

    def paced(doc: dict, marked: bool) -> dict:
        doc = json.loads(json.dumps(doc))
        for i, b in enumerate(doc["benchmarks"]):
            slow = scale.get(i, 1.0) if marked and i in slowed else 1.0
            b["extra_info"]["state"] = {"other_cpu": 0.0, "steal": 0.0, "pace_before": 1.02,
                                        "pace_after": round(slow, 3), "waited": 0.0}
        return doc

    base = _write(tmp_path / "a.json", paced(base_doc, marked=False))
    unmarked = _write(tmp_path / "u.json", paced(new_doc, marked=False))
    rows = compare.compare(compare.runs_of([Path(base)]), compare.runs_of([Path(unmarked)]),
                           compare.Settings())
    assert not any(r.verdict == "worse" and r.benchmark == _bid(grid[target]) for r in rows)

    marked = _write(tmp_path / "m.json", paced(new_doc, marked=True))
    assert compare.main([base, marked, "--config", str(tmp_path / "none.toml")]) == 1
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("REGRESSION: 1 of") and _bid(grid[target]) in last
    rows = {r.benchmark: r for r in compare.compare(
        compare.runs_of([Path(base)]), compare.runs_of([Path(marked)]), compare.Settings())}
    for i in slowed:
        r = rows[_bid(grid[i])]
        assert r.verdict in ("unchanged", "noisy") and "slower than its best around it" in r.note


def _paced_sides(base_pace: float, new_pace: float, factor: float):
    """60 single-thread benchmarks, one run a side; the first ``factor`` x slower
    on the new side, with the given paces around it (the others at 1.0)."""
    rng = np.random.default_rng(11)
    base, new = compare.Side(), compare.Side()
    for i in range(60):
        key = ("magnitude", "numba", "loop", i + 1, "C", 1, "warm")
        rounds = 1e-5 * np.exp(rng.normal(0, 0.01, 30))
        base[key] = (f"magnitude-numba-loop-n{i + 1}-C", [rounds])
        moved = rounds * np.exp(rng.normal(0, 0.03)) * (factor if i == 0 else 1.0)
        new[key] = (base[key][0], [moved])
        base.state[key], new.state[key] = [None], [None]
        base.pace[key] = [base_pace if i == 0 else 1.0]
        new.pace[key] = [new_pace if i == 0 else 1.0]
    rows = compare.compare(base, new, compare.Settings())
    return next(r for r in rows if r.benchmark == "magnitude-numba-loop-n1-C")


def test_a_slower_machine_only_ever_explains_a_change_away():
    # The new side ran 1.3x slow: a 2.6x is judged as 2x, still a regression.
    row = _paced_sides(1.0, 1.3, 2.6)
    assert row.verdict == "worse" and row.ratio == pytest.approx(2.0, rel=0.1)
    assert "ratio 2.6" in row.note and "1.30x (new)" in row.note
    # A 1.5x on a new side that ran 1.5x slow is no regression.
    assert _paced_sides(1.0, 1.5, 1.5).verdict != "worse"
    # A slow base side never makes a slowdown out of an unchanged benchmark...
    assert _paced_sides(1.6, 1.0, 1.0).verdict != "worse"
    # ...nor hides a doubling.
    assert _paced_sides(1.6, 1.0, 2.0).verdict == "worse"


def test_one_run_names_no_change_smaller_than_processes_differ():
    # Significant against a tight null, but within what separate processes of
    # identical code were seen to move: not named from one run a side.
    below = _paced_sides(1.0, 1.0, 0.95 * compare.ONE_RUN_MIN)
    assert below.verdict == "unchanged"
    above = _paced_sides(1.0, 1.0, 1.1 * compare.ONE_RUN_MIN)
    assert above.verdict == "worse"


def test_one_run_judges_the_fastest_round_a_spell_left_alone(tmp_path, capsys):
    # A slow spell of the host covered 90% of one benchmark's rounds in the new
    # run (2x slower), its fastest rounds as fast as ever: no regression from
    # one run a side.  Its 10% quantile would have read 2x and been named.
    grid = _grid(seed=7)
    rng = np.random.default_rng(7)
    base_doc, new_doc = _run_doc(grid, rng), _run_doc(grid, rng)
    target = 5
    stats = new_doc["benchmarks"][target]["stats"]
    data = sorted(stats["data"])
    slow = [2 * v for v in data[4:]]  # the 36 rounds after the fastest 4
    stats["data"] = data[:4] + slow
    assert np.quantile(stats["data"], compare.LOW_Q) > 1.8 * np.quantile(data, compare.LOW_Q)
    base = _write(tmp_path / "a.json", base_doc)
    spelled = _write(tmp_path / "b.json", new_doc)
    assert compare.main([base, spelled, "--config", str(tmp_path / "none.toml")]) == 0
    capsys.readouterr()
    # Every round twice as slow: named.
    doubled = _write(tmp_path / "c.json", _double(_run_doc(grid, rng), target))
    assert compare.main([base, doubled, "--config", str(tmp_path / "none.toml")]) == 1
    assert _bid(grid[target]) in capsys.readouterr().out.strip().splitlines()[-1]


def test_a_benchmark_calibrated_during_a_stall_is_not_judged(tmp_path, capsys):
    # The new run's first benchmark: pytest-benchmark's calibration met a stall
    # (one call a round where a round should last 1 ms) and its rounds, a few
    # microseconds in all, fell inside it: 5x slower.  Not a regression but
    # too noisy, naming why; the same times with a normal calibration are named.
    grid = _grid(seed=3)
    rng = np.random.default_rng(3)
    base_doc, new_doc = _run_doc(grid, rng), _run_doc(grid, rng)
    bench = new_doc["benchmarks"][0]
    bench["stats"]["data"] = [5 * v for v in bench["stats"]["data"]]
    for k in ("min", "max", "mean", "median", "q1", "q3", "iqr", "stddev"):
        bench["stats"][k] *= 5
    bench["options"] = {"min_time": 1e-3}
    assert 5 * grid[0]["seconds"] * 1.2 < 0.5 * 1e-3
    base = _write(tmp_path / "a.json", base_doc)
    stalled = _write(tmp_path / "b.json", new_doc)
    assert compare.main([base, stalled, "--config", str(tmp_path / "none.toml")]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if f"| {_bid(grid[0])} |" in line)
    assert "noisy" in row and "calibrated on a stalled or cold call" in row
    bench["stats"]["iterations"] = 200  # rounds as long as they were meant to be
    calibrated = _write(tmp_path / "c.json", new_doc)
    assert compare.main([base, calibrated, "--config", str(tmp_path / "none.toml")]) == 1

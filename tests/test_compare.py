"""The regression gate: statistics, settings, bad input, and the gate checking itself."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from reports import compare, gate_check
from reports.load import ReportError


def _rounds(center: float, n: int, rng: np.random.Generator, spread: float = 0.02):
    return center * np.exp(rng.normal(0, spread, n))


def test_by_runs_paired_detects_a_consistent_slowdown():
    rng = np.random.default_rng(1)
    base = _rounds(1e-3, 4, rng, 0.03)
    slow = base * 1.25 * np.exp(rng.normal(0, 0.01, 4))
    ratio, low, high, p = compare.by_runs(base, slow)
    assert 1.2 < ratio < 1.3 and low < ratio < high
    assert p < 0.01
    assert compare._verdict(ratio, p < 0.01, 0.10) == "worse"


def test_by_runs_same_code_is_unchanged():
    rng = np.random.default_rng(2)
    base, same = _rounds(1e-3, 4, rng, 0.05), _rounds(1e-3, 4, rng, 0.05)
    ratio, low, high, p = compare.by_runs(base, same)
    assert low < 1 < high
    assert compare._verdict(ratio, p < 0.01, 0.10) == "unchanged"


def test_by_runs_welch_when_counts_differ():
    rng = np.random.default_rng(3)
    ratio, low, high, p = compare.by_runs(_rounds(1.0, 3, rng), _rounds(2.0, 5, rng))
    assert ratio == pytest.approx(2.0, rel=0.05) and p < 0.01 and low < 2.0 < high


def test_one_disturbed_pass_neither_hides_nor_makes_a_verdict():
    rng = np.random.default_rng(6)
    base = _rounds(1e-3, 6, rng, 0.03)
    slow = base * 1.3 * np.exp(rng.normal(0, 0.02, 6))
    slow[2] *= 3.0  # one pass of the new side descheduled
    ratio, low, high, p = compare.by_runs(base, slow)
    assert 1.25 < ratio < 1.4 and low < ratio < high
    assert p < 0.002  # Benjamini-Hochberg's cut for one of five at 0.01
    d = np.log(slow / base)  # a plain paired t-test would have missed it
    assert stats.t.sf(d.mean() / (d.std(ddof=1) / np.sqrt(6)), 5) > 0.002
    same = base * np.exp(rng.normal(0, 0.02, 6))
    same[4] *= 3.0
    assert compare.by_runs(base, same)[3] > 0.01


def test_small_significant_change_is_not_a_regression():
    rng = np.random.default_rng(4)
    base = _rounds(1e-3, 6, rng, 0.002)
    ratio, _, _, p = compare.by_runs(base, base * 1.05)
    assert p < 0.01 and compare._verdict(ratio, p < 0.01, 0.10) == "unchanged"


def test_by_rounds():
    rng = np.random.default_rng(5)
    ratio, low, high, p = compare.by_rounds(_rounds(1.0, 200, rng), _rounds(1.5, 200, rng))
    assert low < ratio < high and ratio == pytest.approx(1.5, rel=0.02) and p < 1e-6


def _side(name: str, runs: list[list[float]]) -> compare.Side:
    kernel, backend, variant, n, layout = name.split("-")
    key = (kernel, backend, variant, int(n[1:]), layout, 1)
    return {key: (name, [np.asarray(r) for r in runs])}


def test_compare_rows_accepted_new_and_missing():
    rng = np.random.default_rng(6)
    base_runs = [list(_rounds(1e-3, 5, rng, 0.001)) for _ in range(4)]
    slow_runs = [list(np.asarray(r) * 1.3) for r in base_runs]
    name = "magnitude-numpy-vectorized-n1000-C"
    base = {**_side(name, base_runs), **_side("matmul-numba-ikj-n64-C", base_runs)}
    new = {**_side(name, slow_runs), **_side("matmul-cython-ikj-n64-C", base_runs)}
    rows = {r.benchmark: r for r in compare.compare(base, new, compare.Settings())}
    assert rows[name].verdict == "worse"
    assert rows["matmul-numba-ikj-n64-C"].verdict == "missing"
    assert rows["matmul-cython-ikj-n64-C"].verdict == "new"
    accepted = compare.Settings(accepted={name: (1.4, "trade memory for speed elsewhere")})
    row = next(r for r in compare.compare(base, new, accepted) if r.benchmark == name)
    assert row.verdict == "accepted" and "trade memory" in row.note
    tight = compare.Settings(accepted={name: (1.1, "old decision")})
    row = next(r for r in compare.compare(base, new, tight) if r.benchmark == name)
    assert row.verdict == "worse" and "beyond the accepted" in row.note
    per_kernel = compare.Settings(thresholds={"magnitude": 0.5})
    row = next(r for r in compare.compare(base, new, per_kernel) if r.benchmark == name)
    assert row.verdict == "unchanged"
    text = compare.markdown(compare.compare(base, new, compare.Settings()), compare.Settings())
    assert text.splitlines()[-1].startswith("REGRESSION: 1 of 1 benchmarks judged slower")
    assert "| magnitude-numpy-vectorized-n1000-C |" in text


def test_settings_from_pyproject(tmp_path):
    f = tmp_path / "pyproject.toml"
    f.write_text(
        "[tool.vecbench.compare]\nthreshold = 0.2\nalpha = 0.05\n"
        "[tool.vecbench.compare.thresholds]\nmatmul = 0.3\n"
        '[[tool.vecbench.compare.accepted]]\nbenchmark = "x"\nmax_ratio = 1.5\nreason = "r"\n')
    s = compare.load_settings(f)
    assert (s.threshold, s.alpha, s.threshold_for("matmul"), s.threshold_for("magnitude")) == (
        0.2, 0.05, 0.3, 0.2)
    assert s.accepted == {"x": (1.5, "r")}
    f.write_text('[[tool.vecbench.compare.accepted]]\nbenchmark = "x"\nmax_ratio = 1.5\n')
    with pytest.raises(ReportError, match="needs benchmark, max_ratio and reason"):
        compare.load_settings(f)
    assert compare.load_settings(tmp_path / "absent.toml") == compare.Settings()


def test_project_settings_parse():
    compare.load_settings(Path(__file__).resolve().parents[1] / "pyproject.toml")


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such file"),
    ("", "empty"),
    ('{"benchmarks": [', "truncated"),
    ('{"hello": 1}', "not a pytest-benchmark"),
])
def test_unusable_input_exits_2(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    assert compare.main([str(bad), str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.json" in err and message in err.lower()


def test_rounds_are_required(tmp_path, capsys):
    doc = {"machine_info": {"node": "n"}, "commit_info": {"id": "abc"},
           "datetime": "2026-01-01T00:00:00",
           "version": "5", "benchmarks": [{
               "name": "test_kernel[x]", "fullname": "f", "group": "g", "params": {},
               "extra_info": {"measure": "steady", "kernel": "magnitude", "backend": "numpy",
                              "variant": "vectorized", "size": 10, "layout": "C",
                              "threads": 1, "bytes": 240, "flops": 40},
               "stats": {"min": 1e-6, "max": 2e-6, "mean": 1.5e-6, "median": 1.5e-6,
                         "q1": 1.2e-6, "q3": 1.8e-6, "iqr": 6e-7, "rounds": 5,
                         "iterations": 1, "stddev": 1e-7}}]}
    f = tmp_path / "nodata.json"
    f.write_text(json.dumps(doc))
    assert compare.main([str(f), str(f)]) == 2
    assert "--benchmark-save-data" in capsys.readouterr().err


# Timed, not a correctness check: real interleaved benchmark runs whose verdict
# depends on how quiet the machine is (on this 2-core shared machine it missed
# the 1.5x slowdown three times in one afternoon while other jobs ran, e.g. at
# q=0.024 and at p=0.094).  So it runs only when asked for, alone: pytest -m slow
# tests/test_compare.py (make test-matrix does); the gate's rates are measured
# by python -m reports.gate_check.
@pytest.mark.slow
def test_gate_checks_itself(tmp_path):
    """A/A flags nothing; a synthetic 1.5x-work implementation is flagged.

    Real benchmark runs, interleaved, of a few quick-profile benchmarks.
    """
    aa, ab = gate_check.check(0.5, passes=gate_check.PASSES, folder=tmp_path,
                              settings=compare.Settings(),
                              repo=Path(__file__).resolve().parents[1])
    # The injected kernel at two sizes, NumPy's beside it (and its fresh-allocator run).
    assert len([r for r in aa if r.benchmark.startswith(gate_check.TARGET)]) == 2
    assert len(aa) >= 4, [r.benchmark for r in aa]
    assert aa and not [r.benchmark for r in aa if r.verdict == "worse"]
    slowed = [r for r in ab if r.benchmark.startswith(gate_check.TARGET)]
    assert slowed and all(r.verdict == "worse" for r in slowed), slowed
    untouched = [r for r in ab if not r.benchmark.startswith(gate_check.TARGET)]
    assert untouched and not [r.benchmark for r in untouched if r.verdict == "worse"]


def test_bh_adjust_matches_the_procedure():
    p = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216]
    q = compare.bh_adjust(p)
    assert list(q <= 0.05) == [True, True] + [False] * 8  # the textbook example, alpha 0.05
    assert q[0] == pytest.approx(0.01) and np.all(np.diff(q) >= 0)
    assert compare.bh_adjust([]).size == 0


def test_one_chance_hit_among_many_is_not_flagged():
    """An A/A run of 200 benchmarks where one pair came out 30% apart at p ~ 0.009
    (what an A/A run on this machine once showed): not a regression."""
    rng = np.random.default_rng(7)
    base, new = {}, {}
    for k in range(200):
        runs = [list(_rounds(1e-5, 5, rng, 0.001)) for _ in range(4)]
        name = f"magnitude-numba-loop-n{k + 1}-C"
        base.update(_side(name, runs))
        new.update(_side(name, [list(np.asarray(r) * np.exp(rng.normal(0, 0.03)))
                                for r in runs]))
    fluke = "magnitude-numba-loop-n1-C"
    key = next(k for k in new if new[k][0] == fluke)
    new[key] = (fluke, [np.asarray(r) * f for r, f in zip(base[key][1], (1.12, 1.5, 1.2, 1.5),
                                                          strict=True)])
    rows = {r.benchmark: r for r in compare.compare(base, new, compare.Settings())}
    assert rows[fluke].p < 0.05 and rows[fluke].ratio > 1.1
    assert rows[fluke].verdict == "unchanged"
    assert not [r for r in rows.values() if r.verdict == "worse"]

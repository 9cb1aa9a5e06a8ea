"""History across saved runs, and the github-action-benchmark export."""

from __future__ import annotations

import json
import os

import matplotlib.pyplot as plt
import numpy as np
from test_report_helpers import synthetic_run, write_run

from reports import export, history
from reports.load import load_run


def _slow_down(doc: dict, kernel: str, backend: str, factor: float) -> dict:
    for bench in doc["benchmarks"]:
        info = bench["extra_info"]
        if info.get("kernel") == kernel and info.get("backend") == backend and "size" in info:
            stats = bench["stats"]
            stats["data"] = [v * factor for v in stats["data"]]
            for key in ("min", "max", "mean", "median", "q1", "q3"):
                stats[key] *= factor
    return doc


def test_history_flags_a_slowed_backend(tmp_path):
    old = write_run(tmp_path / "0001_old.json", synthetic_run(commit="1111111aaaa", rounds=30))
    # 2x: one run a side names no change under ONE_RUN_MIN (1.6x), and a step
    # of exactly 1.6x is a coin toss on the runs' noise.
    write_run(tmp_path / "0002_new.json", _slow_down(
        synthetic_run(commit="2222222bbbb", rounds=30, seed=1), "magnitude", "numba", 2.0))
    os.utime(old, (1, 1))  # saved first
    past = history.collect(tmp_path)
    assert [r.path.name for r in past.runs] == ["0001_old.json", "0002_new.json"]
    size = past.sizes["magnitude"]
    assert size == max(t.size for t in past.runs[0].steady if t.kernel == "magnitude")
    flagged = {bench for bench, _, _ in past.flagged}
    assert f"magnitude-numba-loop-n{size}-C" in flagged
    assert not [b for b in flagged if not b.startswith("magnitude-numba")]
    fig = history.plot(past)
    assert fig is not None and len([a for a in fig.axes if a.get_visible()]) == len(past.sizes)
    plt.close(fig)


def test_history_skips_unreadable_files(tmp_path):
    write_run(tmp_path / "good.json", synthetic_run())
    (tmp_path / "bad.json").write_text("{")
    past = history.collect(tmp_path)
    assert len(past.runs) == 1 and len(past.skipped) == 1 and "bad.json" in past.skipped[0]
    assert not past.flagged


def test_export_is_custom_smaller_is_better(tmp_path):
    run = load_run(write_run(tmp_path / "run.json", synthetic_run()))
    path = export.write(run, tmp_path / export.FILE_NAME)
    entries = json.loads(path.read_text())
    assert len(entries) == len(run.steady)
    assert all(set(e) == {"name", "unit", "value", "range", "extra"} for e in entries)
    first, t = entries[0], run.steady[0]
    assert first["unit"] == "us" and np.isclose(first["value"], t.median * 1e6)
    assert len({e["name"] for e in entries}) == len(entries)

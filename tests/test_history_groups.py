"""History by commit and machine: grouping, order, pooling, unreadable neighbours."""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
from test_history_export import _slow_down
from test_report_helpers import synthetic_run, write_run

from reports import history
from reports.__main__ import main


def _run(commit: str, time: str | None = None, node: str = "testbox", dirty: bool = False,
         seed: int = 0, started: str = "2026-01-02T03:04:05+00:00") -> dict:
    doc = synthetic_run(commit=commit, node=node, seed=seed, ceilings=False, compiles=False,
                        overheads=False, rounds=30)
    doc["commit_info"].update(time=time, dirty=dirty)
    doc["datetime"] = started
    return doc


def test_ordered_by_commit_time_not_by_file_time(tmp_path):
    # Saved in the reverse order of the commits, and started in that order too.
    new = write_run(tmp_path / "0001.json", _run("bbbbbbbb22", "2026-03-01T00:00:00+01:00",
                                                 started="2026-01-01T00:00:00"))
    old = write_run(tmp_path / "0002.json", _run("aaaaaaaa11", "2026-02-01T00:00:00Z",
                                                 started="2026-04-01T00:00:00"))
    os.utime(new, (1, 1))
    os.utime(old, (2, 2))
    past = history.collect(tmp_path)
    [machine] = past.machines
    assert [p.commit for p in machine.points] == ["aaaaaaaa", "bbbbbbbb"]
    assert [p.label for p in machine.points] == ["aaaaaaaa\n2026-02-01", "bbbbbbbb\n2026-02-28"]


def test_runs_of_one_commit_are_one_point_and_no_step(tmp_path):
    write_run(tmp_path / "a1.json", _run("aaaaaaaa11", "2026-02-01T00:00:00Z"))
    # The same code, run again while the machine was busy: slower, but not a commit.
    write_run(tmp_path / "a2.json", _slow_down(_run("aaaaaaaa11", "2026-02-01T00:00:00Z",
                                                    seed=1), "magnitude", "numba", 1.6))
    past = history.collect(tmp_path)
    [machine] = past.machines
    [point] = machine.points
    assert len(point.runs) == 2 and point.label.endswith("\n2 runs")
    assert not past.flagged
    fig = history.plot(past)
    assert fig is not None
    plt.close(fig)


def test_dirty_runs_are_points_of_their_own(tmp_path):
    write_run(tmp_path / "a.json", _run("aaaaaaaa11", "2026-02-01T00:00:00Z"))
    write_run(tmp_path / "b.json", _run("aaaaaaaa11", "2026-02-01T00:00:00Z", dirty=True,
                                        started="2026-02-02T00:00:00Z"))
    write_run(tmp_path / "c.json", _run("aaaaaaaa11", "2026-02-01T00:00:00Z", dirty=True,
                                        started="2026-02-03T00:00:00Z"))
    [machine] = history.collect(tmp_path).machines
    assert [p.commit for p in machine.points] == ["aaaaaaaa", "aaaaaaaa+dirty", "aaaaaaaa+dirty"]


def test_two_machines_are_two_series_not_two_commits(tmp_path):
    write_run(tmp_path / "a.json", _run("aaaaaaaa11", "2026-02-01T00:00:00Z", node="fast"))
    # Another machine, a later commit, much slower: a machine's difference, not a step.
    write_run(tmp_path / "b.json", _slow_down(
        _run("bbbbbbbb22", "2026-03-01T00:00:00Z", node="slow", seed=1), "magnitude", "numba",
        3.0))
    write_run(tmp_path / "c.json", _run("bbbbbbbb22", "2026-03-01T00:00:00Z", node="fast",
                                        seed=2))
    past = history.collect(tmp_path)
    assert [m.name.split(" ")[0] for m in past.machines] == ["fast", "slow"]
    assert [len(m.points) for m in past.machines] == [2, 1]
    assert not past.flagged
    fig = history.plot(past)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert any("slow (Test CPU" in t for t in titles) and any("fast (Test CPU" in t for t in titles)
    plt.close(fig)


def test_a_step_between_commits_is_flagged_on_its_machine(tmp_path):
    write_run(tmp_path / "a.json", _run("aaaaaaaa11", "2026-02-01T00:00:00Z"))
    write_run(tmp_path / "b.json", _slow_down(_run("bbbbbbbb22", "2026-03-01T00:00:00Z", seed=1),
                                              "magnitude", "numba", 2.0))  # beyond ONE_RUN_MIN
    past = history.collect(tmp_path)
    size = past.sizes["magnitude"]
    assert (f"magnitude-numba-loop-n{size}-C", 0, 1) in past.flagged
    assert all(bench.startswith("magnitude-numba") for bench, _, _ in past.flagged)


def test_an_unreadable_neighbour_is_left_out_and_said(tmp_path, capsys):
    good = write_run(tmp_path / "0002_good.json", _run("aaaaaaaa11", "2026-02-01T00:00:00Z"))
    (tmp_path / "0001_bad.json").write_text('{"benchmarks": [{"extra_info": {"measure": '
                                            '"steady", "kernel": "k", "backend": "b", '
                                            '"size": -1}, "stats": {}}]}')
    (tmp_path / "0003_cut.json").write_text("{")
    assert main([str(good), "--out", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().err == ""
    summary = (tmp_path / "out" / "summary.md").read_text()
    lines = [line for line in summary.splitlines() if line.startswith("- history: left out")]
    assert len(lines) == 2
    assert any("0001_bad.json" in line and "stats.median is missing" in line
               for line in lines)
    assert any("0003_cut.json" in line and "truncated JSON" in line for line in lines)
    assert "left out" in (tmp_path / "out" / "index.html").read_text()

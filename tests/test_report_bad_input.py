"""Bad runs: one line naming the file and the problem, exit status 2, no output written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_report_helpers import synthetic_run, write_run

from reports.__main__ import main

REPO = Path(__file__).resolve().parent.parent


def _valid(tmp_path: Path) -> str:
    return json.dumps(synthetic_run(ceilings=False, compiles=False))


def _not_vecbench(tmp_path: Path) -> str:
    return json.dumps({"machine_info": {}, "benchmarks": [
        {"name": "test_x", "extra_info": {}, "stats": {"median": 1.0}}]})


def _bad_stats(tmp_path: Path) -> str:
    doc = synthetic_run(ceilings=False, compiles=False)
    del doc["benchmarks"][3]["stats"]["median"]
    return json.dumps(doc)


# name -> (file contents, or None for no file; words the message must hold)
CASES = {
    "missing": (None, "no such file"),
    "empty": (lambda p: "", "empty file"),
    "blank": (lambda p: "  \n\n", "empty file"),
    "truncated": (lambda p: _valid(p)[:5000], "truncated JSON"),
    "garbage": (lambda p: "this is not json {", "invalid JSON"),
    "json_list": (lambda p: "[1, 2, 3]", "not a pytest-benchmark run"),
    "json_object": (lambda p: '{"name": "something else"}', "no 'benchmarks' list"),
    "no_benchmarks": (lambda p: '{"benchmarks": []}', "no benchmarks"),
    "not_vecbench": (_not_vecbench, "no vecbench kernel benchmarks"),
    "bad_stats": (_bad_stats, "stats.median is missing"),
}


def _make(tmp_path: Path, case: str) -> Path:
    path = tmp_path / f"{case}.json"
    content = CASES[case][0]
    if content is not None:
        path.write_text(content(tmp_path))
    return path


@pytest.mark.parametrize("case", list(CASES))
def test_bad_run_is_one_line_and_status_2(case, tmp_path, capsys):
    path = _make(tmp_path, case)
    out = tmp_path / "report"
    assert main([str(path), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert str(path) in lines[0]
    assert CASES[case][1] in lines[0]
    assert captured.out == ""
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_directory_and_binary_file(tmp_path, capsys):
    binary = tmp_path / "run.json"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    assert main([str(binary), "--out", str(tmp_path / "out")]) == 2
    assert "not text" in capsys.readouterr().err
    assert main([str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_bad_run_leaves_the_previous_report_untouched(tmp_path, capsys):
    out = tmp_path / "report"
    good = write_run(tmp_path / "good.json", synthetic_run())
    assert main([str(good), "--out", str(out)]) == 0
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.iterdir()}
    capsys.readouterr()
    # A good run first, so a bad one later in the list must still stop everything.
    assert main([str(good), str(_make(tmp_path, "truncated")), "--out", str(out)]) == 2
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.iterdir()}
    assert after == before
    assert "truncated.json" in capsys.readouterr().err


def test_out_that_is_not_a_report_is_not_replaced(tmp_path, capsys):
    out = tmp_path / "precious"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    good = write_run(tmp_path / "good.json", synthetic_run())
    assert main([str(good), "--out", str(out)]) == 2
    assert "not a vecbench report folder" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_command_line_exit_status_and_message(tmp_path):
    """The real ``python -m reports`` process: status 2 and one line on stderr."""
    path = _make(tmp_path, "empty")
    proc = subprocess.run([sys.executable, "-m", "reports", str(path), "--out",
                           str(tmp_path / "out")], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"reports: error: {path}: empty file, not a pytest-benchmark run"
    assert not (tmp_path / "out").exists()


def test_newest_run_and_no_run(tmp_path):
    from reports.load import ReportError, newest_run

    with pytest.raises(ReportError, match="no saved run here; run `make bench` first"):
        newest_run(tmp_path)
    machine = tmp_path / "Linux-CPython-3.11-64bit"
    machine.mkdir()
    old = write_run(machine / "0001_a.json", {"benchmarks": []})
    new = write_run(machine / "0002_b.json", {"benchmarks": []})
    os.utime(old, (2_000_000_000, 2_000_000_000))  # written last, though numbered first
    os.utime(new, (1_000_000_000, 1_000_000_000))
    assert newest_run(tmp_path) == old

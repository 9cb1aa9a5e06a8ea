"""Bad runs: one line naming the file and the problem, exit status 2, no output written."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
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


# --------------------------------------------------------------------------
# Every field checked: one line naming the file, the benchmark and the field
# --------------------------------------------------------------------------
def _steady_index(doc: dict) -> int:
    return next(i for i, b in enumerate(doc["benchmarks"])
                if b["extra_info"].get("measure") == "steady")


def _set(*where: object, value: object):
    """A change to a valid run: ``where`` is a path of keys from the top level, where a
    leading "steady" stands for the first steady benchmark."""
    def change(doc: dict) -> dict:
        node: object = doc
        path = list(where)
        if path and path[0] == "steady":
            path[0:1] = ["benchmarks", _steady_index(doc)]
        for key in path[:-1]:
            node = node.setdefault(key, {}) if isinstance(node, dict) else node[key]
        node[path[-1]] = value
        return doc
    return change


VECBENCH = {"version": 1, "profile": "quick",
            "state": {"cpu_count": 2, "samples": [{"at": 0.0, "phase": "before", "load1": 0.2,
                                                   "running": 1, "other_cpu": None,
                                                   "steal": 0.0, "mhz": 2900.0}]},
            "absent": []}

ALLOCATOR = {"controlled": True, "how": "glibc mallopt", "default": "warm",
             "regimes": {"warm": {"M_MMAP_THRESHOLD": 33554432},
                         "fresh": {"M_MMAP_THRESHOLD": 4096}}, "why": None}

# name -> (change to a valid run, text the message must hold)
FIELD_CASES = {
    "nan_median": (_set("steady", "stats", "median", value=math.nan),
                   "stats.median is NaN"),
    "infinite_q3": (_set("steady", "stats", "q3", value=math.inf), "stats.q3 is Infinity"),
    "negative_round": (_set("steady", "stats", "data", value=[1e-6, -1e-6]),
                       "stats.data[1] is -1e-06"),
    "string_size": (_set("steady", "extra_info", "size", value="1024"),
                    "extra_info.size is '1024', expected a positive integer"),
    "zero_size": (_set("steady", "extra_info", "size", value=0), "extra_info.size is 0"),
    "float_size": (_set("steady", "extra_info", "size", value=64.5), "extra_info.size is 64.5"),
    "bool_threads": (_set("steady", "extra_info", "threads", value=True),
                     "extra_info.threads is true"),
    "zero_threads": (_set("steady", "extra_info", "threads", value=0),
                     "extra_info.threads is 0"),
    "negative_bytes": (_set("steady", "extra_info", "bytes", value=-8),
                       "extra_info.bytes is -8"),
    "huge_flops": (_set("steady", "extra_info", "flops", value=10**400),
                   "extra_info.flops is an integer of"),
    "unknown_layout": (_set("steady", "extra_info", "layout", value="Z"),
                       "extra_info.layout is 'Z', expected one of C, F"),
    "list_kernel": (_set("steady", "extra_info", "kernel", value=["magnitude"]),
                    "extra_info.kernel is a list"),
    "newline_variant": (_set("steady", "extra_info", "variant", value="a\nb"),
                        "extra_info.variant is 'a\\nb'"),
    "state_not_object": (_set("steady", "extra_info", "state", value=3),
                         "extra_info.state is 3, expected an object"),
    "steal_above_one": (_set("steady", "extra_info", "state", value={"steal": 1.5}),
                        "extra_info.state.steal is 1.5"),
    "unknown_regime": (_set("steady", "extra_info", "allocator", value="lukewarm"),
                       "extra_info.allocator is 'lukewarm'"),
    "unknown_huge_pages": (_set("vecbench", value={**VECBENCH, "allocator": {
        **ALLOCATOR, "huge_pages": {"fresh": "sometimes"}}}),
        "vecbench.allocator.huge_pages.fresh is 'sometimes', expected one of kernel, off"),
    "huge_pages_of_no_regime": (_set("vecbench", value={**VECBENCH, "allocator": {
        **ALLOCATOR, "huge_pages": {"tepid": "off"}}}),
        "vecbench.allocator.huge_pages is a list"),
    "unknown_phase": (_set("vecbench", value={**VECBENCH, "state": {"samples": [
        {"at": 0.0, "phase": "midway"}]}}), "vecbench.state.samples[0].phase is 'midway'"),
    "unknown_reason": (_set("vecbench", value={**VECBENCH, "absent": [
        {"benchmark": "x", "measure": "steady", "reason": "lazy", "detail": ""}]}),
        "vecbench.absent[0].reason is 'lazy'"),
    "absent_not_list": (_set("vecbench", value={**VECBENCH, "absent": "none"}),
                        "vecbench.absent is 'none', expected a list"),
    "bad_commit_time": (_set("commit_info", "time", value="yesterday"),
                        "commit_info.time is 'yesterday', expected an ISO 8601"),
    "dirty_string": (_set("commit_info", "dirty", value="no"), "commit_info.dirty is 'no'"),
    "cache_string": (_set("machine_info", "vecbench", "caches", value={"L2": "1 MiB"}),
                     "machine_info.vecbench.caches.L2 is '1 MiB'"),
}


@pytest.mark.parametrize("case", list(FIELD_CASES))
def test_bad_field_is_one_line_naming_file_benchmark_and_field(case, tmp_path, capsys):
    change, words = FIELD_CASES[case]
    doc = change(synthetic_run(ceilings=False, compiles=False, overheads=False))
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc))  # NaN and Infinity as the tokens Python writes
    assert main([str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert str(path) in err and words in err, err
    if case.startswith(("nan", "string", "zero", "unknown_layout", "list", "bool")):
        assert "benchmark 'bench/bench_kernels.py::test_kernel[" in err  # names the benchmark
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text, words", [
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"benchmarks": [' + "1" * 5000 + "]}", "invalid JSON"),
    ('{"benchmarks": [1e400]}', "benchmarks[0] is Infinity, expected an object"),
])
def test_pathological_json_is_one_line(text, words, tmp_path, capsys):
    path = tmp_path / "run.json"
    path.write_text(text)
    assert main([str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and words in err, err


def test_run_saved_before_the_vecbench_record_loads(tmp_path):
    from reports.load import load_run

    run = load_run(write_run(tmp_path / "old.json", synthetic_run()))
    assert run.state == [] and run.absent is None and run.allocator is None
    assert {t.allocator for t in run.steady} == {"undeclared"}


def test_vecbench_record_is_read(tmp_path):
    from reports.load import load_run

    doc = synthetic_run()
    doc["vecbench"] = {**VECBENCH, "allocator": {
        "controlled": True, "how": "glibc mallopt", "default": "warm",
        "regimes": {"warm": {"M_MMAP_THRESHOLD": 33554432}, "fresh": {"M_MMAP_THRESHOLD": 4096}},
        "why": None}, "absent": [{"benchmark": "b", "measure": "steady", "reason": "failed",
                                  "detail": "line one\nline two", "size": 8, "layout": "F"}]}
    i = _steady_index(doc)
    doc["benchmarks"][i]["extra_info"].update(
        allocator="fresh", state={"other_cpu": 0.5, "steal": None, "load1": 1.2, "running": 3})
    run = load_run(write_run(tmp_path / "new.json", doc))
    assert run.profile == "quick" and run.allocator.regimes["fresh"] == {"M_MMAP_THRESHOLD": 4096}
    assert run.state[0].phase == "before" and run.state[0].mhz == 2900.0
    assert run.absent[0].detail == "line one line two" and run.absent[0].layout == "F"
    fresh = run.steady[i]
    assert (fresh.allocator, fresh.other_cpu, fresh.steal, fresh.load1, fresh.running) == (
        "fresh", 0.5, None, 1.2, 3)
    assert {t.allocator for t in run.steady[i + 1:]} == {"warm"}  # the declared default


# --------------------------------------------------------------------------
# The output folder, interrupts
# --------------------------------------------------------------------------
def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    return err


def test_out_below_a_regular_file(tmp_path, capsys):
    good = write_run(tmp_path / "good.json", synthetic_run())
    (tmp_path / "file").write_text("x")
    assert main([str(good), "--out", str(tmp_path / "file" / "report")]) == 2
    assert "file" in _one_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "good.json"]


def test_out_in_a_folder_that_cannot_be_written(tmp_path, capsys, monkeypatch):
    good = write_run(tmp_path / "good.json", synthetic_run())
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    if os.geteuid() == 0:  # root writes anyway: make the folder refuse as it would
        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied", str(locked))
        monkeypatch.setattr("tempfile.mkdtemp", refuse)
    try:
        assert main([str(good), "--out", str(locked / "report")]) == 2
        assert "Permission denied" in _one_line(capsys)
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o755)


def test_ctrl_c_leaves_the_previous_report_and_no_partial(tmp_path, capsys, monkeypatch):
    out = tmp_path / "report"
    good = write_run(tmp_path / "good.json", synthetic_run(ceilings=False, compiles=False))
    assert main([str(good), "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()

    def interrupted(runs, results, folder):
        (folder / "1-headline.png").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr("reports.pipeline.plot", interrupted)
    assert main([str(good), "--out", str(out)]) == 130
    assert "interrupted" in _one_line(capsys)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name or ".old-" in p.name]


def test_sigterm_exits_143_with_one_line_and_no_partial(tmp_path):
    """A real process, terminated while it draws: status 143, one line, nothing left."""
    import signal
    import time

    run = write_run(tmp_path / "run.json", synthetic_run())
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "reports", str(run), "--out", str(out)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not [p for p in tmp_path.iterdir() if ".partial-" in p.name]:
        assert proc.poll() is None and time.monotonic() < deadline, "render never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert err.strip().splitlines() == [f"reports: terminated (SIGTERM): nothing written to {out}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


# --------------------------------------------------------------------------
# Names are data in every format
# --------------------------------------------------------------------------
def test_names_are_escaped_everywhere(tmp_path):
    doc = synthetic_run(backends=("python", "numpy"), ceilings=False, compiles=False,
                        overheads=False, node="<script>alert(1)</script>$\\nosuch{$")
    for bench in doc["benchmarks"]:
        info = bench["extra_info"]
        if info.get("kernel") == "magnitude":
            info["kernel"] = "mag$\\frac{a}{b}$|`x`"
            if info["backend"] == "numpy":
                info["variant"] = "a$b\\c*d_"
            elif info["size"] == 4:  # not mathtext: an unknown command would fail the draw
                info["variant"] = "$\\nosuchcommand{$"
    good = write_run(tmp_path / "run.json", doc)
    assert main([str(good), "--out", str(tmp_path / "out")]) == 0
    summary = (tmp_path / "out" / "summary.md").read_text()
    page = (tmp_path / "out" / "index.html").read_text()
    for text in (summary, page):
        assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "mag\\$\\\\frac{a}{b}\\$\\|\\`x\\`" in summary  # literal in Markdown
    assert "mag$\\frac{a}{b}$|`x`" in page
    exported = json.loads((tmp_path / "out" / "benchmark-action.json").read_text())
    assert any(e["name"].startswith("mag$\\frac{a}{b}$|`x` numpy/a$b\\c*d_") for e in exported)


def test_figure_text_is_never_mathtext():
    import matplotlib.pyplot as plt

    from reports import style

    style.setup()
    names = ["$\\frac{a}{b}$", "a$b", "\\", "$\\nosuchcommand{$", "a\\$b"]
    fig, ax = plt.subplots()
    try:
        ax.plot([1, 10, 100], [1e-6, 1e-5, 1e-3], label=names[3])
        ax.set_yscale("log")  # its powers of ten stay mathtext
        ax.set_xticks([1, 10, 30, 60, 100], names)
        ax.legend()
        ax.set_title(names[0])
        style.literal(fig)
        style.literal(fig)  # a second call changes nothing
        fig.canvas.draw()  # parsing a name as mathtext would raise here
        assert not ax.title.get_parse_math() and ax.title.get_text() == names[0]
        drawn = [t.get_text() for t in ax.get_xticklabels()]
        assert [t._preprocess_math(s)[0] for t, s in zip(ax.get_xticklabels(), drawn,
                                                          strict=True)] == names
        assert all(t.get_parse_math() for t in ax.get_yticklabels())
        assert any("10^{-4}" in t.get_text() for t in ax.get_yticklabels())
    finally:
        plt.close(fig)


def test_no_benchmark_in_the_default_regime_is_one_line(tmp_path, capsys):
    doc = synthetic_run(ceilings=False, compiles=False, overheads=False)
    doc["vecbench"] = {**VECBENCH, "allocator": {
        "controlled": True, "how": "glibc mallopt", "default": "fresh",
        "regimes": {"warm": {"M_MMAP_THRESHOLD": 33554432}, "fresh": {"M_MMAP_THRESHOLD": 4096}},
        "why": None}}
    for bench in doc["benchmarks"]:
        bench["extra_info"]["allocator"] = "warm"
    path = write_run(tmp_path / "run.json", doc)
    assert main([str(path), "--out", str(tmp_path / "out")]) == 2
    assert "no steady benchmark in the run's default allocator regime ('fresh')" in _one_line(
        capsys)


def test_a_regime_without_declared_regimes_is_refused(tmp_path, capsys):
    doc = synthetic_run(ceilings=False, compiles=False, overheads=False)
    doc["benchmarks"][0]["extra_info"]["allocator"] = "warm"
    path = write_run(tmp_path / "run.json", doc)
    assert main([str(path), "--out", str(tmp_path / "out")]) == 2
    assert "extra_info.allocator is 'warm', expected none" in _one_line(capsys)


def test_a_swallowed_sigterm_still_stops_the_render_before_the_swap(tmp_path):
    """SIGTERM raised inside a callback that ignores exceptions (matplotlib's weakref
    callbacks) must still end the render with nothing written."""
    from reports import write

    class Stop(BaseException):
        pass

    out = tmp_path / "report"
    write.clear_stop()
    with pytest.raises(Stop):
        with write.atomic_dir(out) as tmp:
            (tmp / "index.html").write_text("half")
            write.request_stop(Stop)  # the handler's raise was swallowed; its note remains
    assert not out.exists() and list(tmp_path.iterdir()) == []
    with write.atomic_dir(out) as tmp:  # the note is used up: the next render swaps in
        (tmp / "index.html").write_text("whole")
    assert (out / "index.html").read_text() == "whole"


def test_a_sigterm_swallowed_by_a_callback_prints_nothing_of_its_own():
    """Python reports an exception raised in a weakref callback or __del__ on
    stderr ("Exception ignored in ..."); a Terminated swallowed there must not
    add lines to the one the report prints, while other such errors still show."""
    code = textwrap.dedent("""
        import gc, sys
        from reports import __main__ as cli

        class Dying:
            def __init__(self, exc):
                self.exc = exc
            def __del__(self):
                raise self.exc

        with cli._sigterm_raises():
            Dying(cli.Terminated()); gc.collect()
            print("--inside--", file=sys.stderr, flush=True)
            Dying(ValueError("shown")); gc.collect()
        print("--outside--", file=sys.stderr, flush=True)
        Dying(cli.Terminated()); gc.collect()
        """)
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    silent, rest = done.stderr.split("--inside--\n")
    shown, outside = rest.split("--outside--\n")
    assert silent == ""
    assert "ValueError: shown" in shown
    assert "Terminated" in outside  # outside the block: Python's own report again

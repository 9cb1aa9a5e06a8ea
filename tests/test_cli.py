"""The ``vecbench`` command (bench/cli.py) and its progress plugin (bench/progress.py).

Fast: every subcommand's help, the translation of ``vecbench run``'s options
into pytest arguments, bad arguments (one line, status 2), ``vecbench report``
with a run saved and with none (the first look, its benchmarking replaced),
and the progress plugin on a tiny suite of its own.  One end-to-end test runs
the example external kernel through the command in a temporary folder, with a
pytest configuration there that must not apply, then reports it against a
baseline of the user's choice; another interrupts a run.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_report_helpers import synthetic_run, write_run

from bench import cli, progress

REPO = Path(__file__).resolve().parents[1]
#: The example external kernel (examples/), and the kernel it defines.
EXAMPLE = REPO / "examples" / "scale2.py"
EXAMPLE_KERNEL = "scale2"
#: The built-in kernels: none may appear in a report of the example alone.
BUILT_IN = ("magnitude", "sum_of_squares", "row_sums", "col_sums", "matmul", "sum_sq_sin")
#: Seconds allowed for one command of the end-to-end test.
TIMEOUT = 600


def _command() -> list[str]:
    """The installed ``vecbench`` script beside this Python, else ``python -m bench.cli``."""
    script = Path(sys.executable).parent / "vecbench"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "bench.cli"]


def _env(**extra: str) -> dict[str, str]:
    """This environment without an xdist worker's variables (pytest-benchmark refuses
    --benchmark-only under xdist) and without a pytest configuration of its own."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_XDIST", "PYTEST_ADDOPTS", "PYTEST_PLUGINS"))
           and k not in ("PYTEST_CURRENT_TEST", "PYTHONPATH")}
    env["MPLBACKEND"] = "Agg"
    env.update(extra)
    return env


def _vecbench(args: list[str], cwd: Path, timeout: float = TIMEOUT,
              **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_command(), *args], cwd=cwd, env=_env(**env), capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


# --------------------------------------------------------------------------
# Help
# --------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["", "run", "report", "compare", "ci", "kernels"])
def test_every_command_has_help_with_examples(command, capsys):
    argv = [command, "--help"] if command else ["--help"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "examples:" in out
    example = re.search(rf"^\s+vecbench {command}\b", out, re.MULTILINE)
    assert example, f"no example of `vecbench {command}` in:\n{out}"
    assert "python -m" not in out.split("examples:")[0].splitlines()[0], out


def test_help_lists_every_command(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("run", "report", "compare", "ci", "kernels"):
        assert re.search(rf"^\s+{command}\s", out, re.MULTILINE), command


# --------------------------------------------------------------------------
# vecbench run: the pytest arguments
# --------------------------------------------------------------------------
def test_profiles_are_the_grids():
    from bench.grid import PROFILES

    assert set(cli.PROFILES) == set(PROFILES)
    assert cli.RUN_PROFILE in PROFILES and cli.FIRST_LOOK_PROFILE in PROFILES


def _pairs(args: list[str], flag: str) -> list[str]:
    """The values following each ``flag`` in ``args``."""
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a == flag]


def test_run_options_become_the_plugins_options(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    suite = tmp_path / "site" / "bench"
    ns = cli.parse_args([
        "run", "--kernel", "magnitude", "--kernel", "dot,matmul", "--backend", "numpy,numba",
        "--variant", "loop", "--sizes", "1e3..1e7", "--kernels", "mine.py", "pkg.kernels",
        "--kernels", "other.py", "--storage", "runs", "--no-progress", "--",
        "-k", "not parallel"])
    args = cli.pytest_args(ns, suite)
    assert args[0] == str(suite)
    assert f"--profile={cli.RUN_PROFILE}" in args
    assert "--vb-kernel=magnitude,dot,matmul" in args
    assert "--vb-backend=numpy,numba" in args
    assert "--vb-variant=loop" in args
    assert "--vb-sizes=1e3..1e7" in args
    assert [a for a in args if a.startswith("--vb-kernels=")] == [
        "--vb-kernels=mine.py", "--vb-kernels=pkg.kernels", "--vb-kernels=other.py"]
    assert "--vb-progress=off" in args
    assert f"--benchmark-storage={tmp_path / 'runs'}" in args
    assert args[-2:] == ["-k", "not parallel"]  # after --: to pytest, last


def test_run_is_isolated_from_the_users_pytest_configuration(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    suite = tmp_path / "site" / "bench"
    args = cli.pytest_args(cli.parse_args(["run"]), suite)
    assert f"--config-file={os.devnull}" in args  # no pytest.ini/pyproject/tox/setup.cfg
    assert f"--rootdir={tmp_path}" in args
    assert f"--confcutdir={suite}" in args  # no conftest.py above the suites
    assert "--import-mode=importlib" in args
    assert set(_pairs(args, "-p")) >= {"no:cacheprovider", "bench.plugin", "bench.progress"}
    assert "python_files=bench_*.py" in _pairs(args, "-o")
    for flag in ("--benchmark-only", "--benchmark-autosave", "--benchmark-save-data", "-q"):
        assert flag in args
    assert f"--benchmark-storage={tmp_path / '.benchmarks'}" in args
    assert not [a for a in args if a.startswith(("--vb-kernel", "--vb-backend", "--vb-variant",
                                                 "--vb-sizes", "--vb-progress"))]
    assert "--benchmark-quiet" in args
    assert "--benchmark-quiet" not in cli.pytest_args(cli.parse_args(["run", "--table"]), suite)


def test_run_suite_is_the_installed_bench_package():
    import bench

    assert cli.suite_dir() == Path(bench.__file__).resolve().parent
    assert (cli.suite_dir() / "conftest.py").is_file()


@pytest.mark.parametrize("argv, names", [
    (["run", "--kernel", "a,,b"], "--kernel"),
    (["run", "--backend", ""], "--backend"),
    (["run", "--sizes", " "], "--sizes"),
    (["run", "--kernels", ""], "--kernels"),
])
def test_run_refuses_empty_names_in_one_line(argv, names, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and names in err and "Traceback" not in err


# --------------------------------------------------------------------------
# Bad arguments: one line, status 2, no traceback (the installed command)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("argv, said", [
    ([], "choose a command"),
    (["nosuch"], "nosuch"),
    (["run", "--profile", "slow"], "--profile"),
    (["run", "--no-such-option"], "--no-such-option"),
    (["report", "--", "-k", "x"], "--"),
    (["report", "--bogus"], "--bogus"),
    (["compare"], "vecbench compare"),
    (["compare", "--bogus", "a", "b"], "--bogus"),
    (["kernels", "--bogus"], "--bogus"),
])
def test_bad_arguments_are_one_line_and_status_2(tmp_path, argv, said):
    result = _vecbench(argv, tmp_path, timeout=120)
    err = result.stderr.strip()
    assert result.returncode == 2, (result.stdout, err)
    assert len(err.splitlines()) == 1, err
    assert said in err and "Traceback" not in err, err
    assert not list(tmp_path.iterdir()), "a bad argument wrote something"


@pytest.mark.parametrize("argv, said", [
    (["run", "--kernels", "missing_kernels.py"], "missing_kernels.py"),
    (["run", "--kernel", "no_such_kernel"], "no_such_kernel"),
    (["run", "--sizes", "1e3..lots"], "lots"),
    (["run", "--kernel", "magnitude", "--", "-k", "no_such_case"], "no benchmark matches"),
])
def test_bad_selection_is_one_line_and_status_2(tmp_path, argv, said):
    """Refused by the plugins before any benchmark runs (pytest's one ERROR line)."""
    result = _vecbench(argv, tmp_path, timeout=300)
    err = result.stderr.strip()
    assert result.returncode == 2, (result.stdout, err)
    assert len(err.splitlines()) == 1 and said in err and "Traceback" not in err, err
    assert not list(tmp_path.glob(".benchmarks/**/*.json"))


# --------------------------------------------------------------------------
# vecbench report
# --------------------------------------------------------------------------
def _save_small_run(folder: Path, name: str = "0001_saved.json") -> Path:
    """A saved run of one kernel, python and numpy (quick to render), where
    pytest-benchmark's autosave puts it."""
    storage = folder / ".benchmarks" / "Linux-CPython-3.11-64bit"
    storage.mkdir(parents=True, exist_ok=True)
    doc = synthetic_run(backends=("python", "numpy"), ceilings=False, compiles=False,
                        overheads=False, commit="5a5a5a5a5a5a")
    doc["benchmarks"] = [b for b in doc["benchmarks"]
                         if b["extra_info"].get("kernel") == "magnitude"]
    return write_run(storage / name, doc)


def test_report_renders_a_saved_run_without_benchmarking(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _save_small_run(tmp_path)

    def no_run(ns):
        raise AssertionError("benchmarked although a run was saved")

    monkeypatch.setattr(cli, "run_benchmarks", no_run)
    assert cli.main(["report"]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "reports" / "out" / "index.html").is_file()
    assert "5a5a5a5" in (tmp_path / "reports" / "out" / "summary.md").read_text()
    assert "First look" not in out


def test_report_with_no_saved_run_takes_the_first_look(tmp_path, monkeypatch, capsys):
    from reports import __main__ as report_cli

    monkeypatch.chdir(tmp_path)
    calls, rendered = [], []

    def first_look(ns):  # what the run would save, without benchmarking
        calls.append(ns)
        return 0 if _save_small_run(tmp_path) else 1

    def render(paths, out, *args, **kwargs):  # what the report would render (the test
        # above renders for real)
        rendered.append(([Path(p).resolve() for p in paths], Path(out)))
        return Path(out).resolve() / "index.html"

    monkeypatch.setattr(cli, "run_benchmarks", first_look)
    monkeypatch.setattr(report_cli, "render", render)
    assert cli.main(["report", "--out", "first", "--no-progress"]) == 0
    (ns,) = calls
    assert ns.profile == cli.FIRST_LOOK_PROFILE == "first" and ns.no_progress
    assert not (ns.kernel or ns.backend or ns.variant or ns.sizes or ns.kernels)
    (saved,) = tmp_path.glob(".benchmarks/*/*.json")
    assert rendered == [([saved.resolve()], Path("first"))]
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith("First look") and "vecbench run --profile full" in last, last
    assert "vecbench report" in last and re.search(r"\d+(\.\d)? s\b|\d+ min", last), last


def test_report_stops_when_the_first_look_is_interrupted(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "run_benchmarks", lambda ns: cli.INTERRUPTED)
    assert cli.main(["report"]) == 130
    assert not (tmp_path / "reports").exists()


# --------------------------------------------------------------------------
# The progress plugin
# --------------------------------------------------------------------------
TINY_SUITE = """
import pytest

@pytest.mark.parametrize("n", range(3))
def test_ok(n):
    pass

def test_skip():
    pytest.skip("not here")

def test_fail():
    assert 1 == 2
"""


def _tiny_session(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (folder / "test_tiny.py").write_text(TINY_SUITE)
    return subprocess.run(
        [sys.executable, "-m", "pytest", f"--config-file={os.devnull}", "-p", "no:cacheprovider",
         "-p", "bench.progress", "-q", "-o", "console_output_style=classic", "-p", "no:xdist",
         "-p", "no:randomly", *args, "test_tiny.py"],
        cwd=folder, env=_env(), capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL)


def test_progress_without_a_terminal_is_two_lines(tmp_path):
    result = _tiny_session(tmp_path)
    assert result.returncode == 1  # test_fail
    lines = result.stdout.splitlines()
    ours = [line for line in lines if line.startswith("vecbench:")]
    assert len(ours) == 2, result.stdout
    assert lines[0] == ours[0] == "vecbench: 5 cases"
    assert lines[1] == ours[1]
    assert re.fullmatch(r"vecbench: 3 passed, 1 skipped, 1 failed in \d+\.\d s", ours[1])
    assert not [line for line in lines if re.fullmatch(r"[.sFE]+", line.strip())], result.stdout
    assert "test_fail" in result.stdout  # pytest's failure report still prints
    assert "\r" not in result.stderr and "case" not in result.stderr  # no bar


def test_progress_bar_counts_the_cases(tmp_path):
    result = _tiny_session(tmp_path, "--vb-progress=bar")
    # Drawn as each case starts (its label), so 4 of 5 done when the last starts.
    assert "4/5" in result.stderr and "case" in result.stderr, result.stderr
    assert "FAILED test_tiny.py::test_fail" in result.stderr  # announced above the bar
    assert "fail" in result.stderr  # the case's label beside the bar
    ours = [line for line in result.stdout.splitlines() if line.startswith("vecbench:")]
    assert len(ours) == 2, result.stdout


def test_progress_off_is_the_two_lines(tmp_path):
    result = _tiny_session(tmp_path, "--vb-progress=off")
    assert "\r" not in result.stderr
    ours = [line for line in result.stdout.splitlines() if line.startswith("vecbench:")]
    assert len(ours) == 2, result.stdout


@pytest.mark.parametrize("nodeid, label", [
    ("bench_kernels.py::test_kernel[magnitude-numba-loop-n1000-C]",
     "kernel magnitude-numba-loop-n1000-C"),
    ("bench_overhead.py::test_call_overhead[numpy]", "call_overhead numpy"),
    ("test_tiny.py::test_fail", "fail"),
])
def test_case_label(nodeid, label):
    assert progress.case_label(nodeid) == label


def test_case_label_keeps_both_ends_of_a_long_id():
    nodeid = "bench_kernels.py::test_kernel_fresh_pages[sum_sq_sin-cython-vector_sin-n1000000-C-t2]"
    label = progress.case_label(nodeid, width=30)
    assert len(label) == 30 and label.startswith("kernel_fresh") and label.endswith("C-t2")
    assert "…" in label


@pytest.mark.parametrize("seconds, text", [
    (4.21, "4.2 s"), (59.94, "59.9 s"), (187, "3 min 07 s"), (3725, "1 h 02 min")])
def test_duration(seconds, text):
    assert progress.duration(seconds) == text


# --------------------------------------------------------------------------
# End to end: the example external kernel, through the command, elsewhere
# --------------------------------------------------------------------------
#: A pytest configuration of the user's that must not reach `vecbench run`.
HOSTILE_INI = "[pytest]\naddopts = --no-such-option-from-the-users-ini\n"
HOSTILE_CONFTEST = "raise RuntimeError('the user conftest.py was imported')\n"


@pytest.fixture
def user_folder(tmp_path) -> Path:
    """A folder of the user's, with a pytest configuration of its own."""
    (tmp_path / "pytest.ini").write_text(HOSTILE_INI)
    (tmp_path / "conftest.py").write_text(HOSTILE_CONFTEST)
    shutil.copy(EXAMPLE, tmp_path / EXAMPLE.name)
    return tmp_path


def test_external_kernel_run_and_report_through_the_command(user_folder):
    # One small size, and no ceiling probes (each allocates and streams
    # 256 MiB): seconds, not minutes; the report says the ceilings are missing.
    run = _vecbench(["run", "--kernels", EXAMPLE.name, "--profile", "quick", "--sizes", "1000",
                     "--", "-k", "not test_ceiling"], user_folder,
                    PYTEST_ADDOPTS="--no-such-option-from-the-environment")
    assert run.returncode == 0, (run.stdout[-3000:], run.stderr[-3000:])
    lines = run.stdout.splitlines()
    assert re.match(rf"vecbench: \d+ cases, profile quick, .*{EXAMPLE_KERNEL}", lines[0]), lines
    ends = [line for line in lines if re.match(r"vecbench: \d+ passed, 0 skipped, 0 failed", line)]
    assert len(ends) == 1, run.stdout
    assert not [line for line in lines if re.fullmatch(r"[.sFE]+", line.strip())], run.stdout
    (saved,) = user_folder.glob(".benchmarks/*/*.json")
    assert f"saved {saved.relative_to(user_folder)}" in run.stdout
    assert not (user_folder / ".pytest_cache").exists()

    report = _vecbench(["report", "--baseline", "numpy/new"], user_folder)
    assert report.returncode == 0, (report.stdout[-3000:], report.stderr[-3000:])
    assert "First look" not in report.stdout  # a run was saved: no benchmarking
    summary = (user_folder / "reports" / "out" / "summary.md").read_text(encoding="utf-8")
    assert EXAMPLE_KERNEL in summary and "numpy/new" in summary
    shown = [k for k in BUILT_IN if re.search(rf"\b{k}\b", summary)]
    assert not shown, f"built-in kernels in a report of {EXAMPLE_KERNEL} alone: {shown}"


def test_failed_benchmark_is_status_1(user_folder):
    """An implementation that disagrees with the reference fails its case: status 1,
    the others still saved (the failed one recorded as absent, with why)."""
    wrong = user_folder / "wrong.py"
    text = EXAMPLE.read_text(encoding="utf-8")
    wrong.write_text(text.replace("    return x * 2\n", "    return x * 3\n", 1))
    assert wrong.read_text() != text
    run = _vecbench(["run", "--kernels", wrong.name, "--profile", "quick", "--sizes", "1000",
                     "--", "-k", "test_kernel and numpy"], user_folder)
    assert run.returncode == 1, (run.stdout[-3000:], run.stderr[-3000:])
    assert re.search(r"vecbench: 1 passed, 0 skipped, 1 failed", run.stdout), run.stdout
    assert "numpy-new" in run.stdout and "Traceback" not in run.stderr
    (saved,) = user_folder.glob(".benchmarks/*/*.json")
    assert "numpy-new" in saved.read_text(encoding="utf-8")  # in the run's absent list


def test_interrupted_run_is_one_line_130_and_keeps_nothing(user_folder):
    proc = subprocess.Popen(
        [*_command(), "run", "--kernels", EXAMPLE.name, "--profile", "quick", "--sizes",
         "1000,4096", "--no-progress", "--", "-k", "not test_ceiling"],
        cwd=user_folder, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL,
        # SIGINT as at a terminal, also where this test's own runner ignores it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        first = proc.stdout.readline()  # the start line: the cases are running
        assert first.startswith("vecbench:"), first + proc.stderr.read()
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (out, err)
    assert len(err.strip().splitlines()) == 1 and "interrupted" in err, err
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err
    assert not list(user_folder.glob(".benchmarks/**/*.json")), "a partial run was kept"

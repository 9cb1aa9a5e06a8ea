"""``vecbench``: the command line (console script ``vecbench = bench.cli:main``).

Subcommands, each with ``--help`` and examples:

- ``vecbench run``: the benchmark suites of the installed ``bench`` package,
  run in this process by ``pytest.main`` with the ``--vb-*`` selection, a
  progress bar (``bench.progress``) and the run saved under ``./.benchmarks``;
- ``vecbench report``: render saved runs (``reports.__main__``); with no saved
  run, it benchmarks the first look (profile ``first``) before;
- ``vecbench compare``, ``vecbench ci``, ``vecbench kernels``: the regression
  gate (``reports.compare``, ``reports.ci_bench``) and the kernel matrix
  (``kernels.__main__``), their arguments passed on as they are.

Everything is relative to the current folder: the run's storage, the rootdir
of the pytest session, the report.  The user's own pytest configuration does
not reach ``vecbench run``: no ini file (``pytest.ini``, ``pyproject.toml``,
``tox.ini``, ``setup.cfg``) is read, no ``conftest.py`` above the suites is
loaded, ``PYTEST_ADDOPTS`` and ``PYTEST_PLUGINS`` are set aside for the run,
and no ``.pytest_cache`` is written.

Exit status: 0 done; 1 a benchmark failed (``run``; ``report`` after
rendering a first look in which one failed), or what ``compare``/``ci``/
``kernels`` return; 2 a bad argument or setting (one line, never a
traceback); 3 an internal error of pytest, of the report stage or of this
command (a bug: one line, the traceback with ``VECBENCH_TRACEBACK=1``); 130
on Ctrl-C (one line; a run interrupted midway is not kept).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import inspect
import io
import os
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from bench import signals
from bench.slice_options import REPEATABLE, SLICE_OPTIONS

PROG = "vecbench"
#: Exit statuses (see the module's docstring).
OK, FAILED, BAD_USAGE, BUG, INTERRUPTED = 0, 1, 2, 3, 130
#: The benchmark profiles (bench.grid.PROFILES; not imported here, so that
#: ``--help`` does not load NumPy and Numba).
PROFILES = ("first", "quick", "full")
#: ``vecbench run``'s profile: the full one, the same as ``make bench`` and plain
#: ``pytest --benchmark-only``, so a run is the same measurement by any route;
#: ``vecbench report`` with no saved run takes the quick first look itself.
RUN_PROFILE = "full"
#: What ``vecbench report`` benchmarks when no run has been saved yet.
FIRST_LOOK_PROFILE = "first"
#: The full profile's wall time the README promises (a 2-core machine), quoted
#: by the first look's closing line.
FULL_PROFILE_MINUTES = 10
#: pytest-benchmark's storage of saved runs, relative to the current folder
#: (reports.pipeline.DEFAULT_RUNS reads the same).
DEFAULT_STORAGE = Path(".benchmarks")
#: pytest plugins of every run: the profiles and selection, and the progress bar.
PLUGINS = ("bench.plugin", "bench.progress")
#: The user's own pytest configuration in the environment, set aside for a run.
USER_PYTEST_ENV = ("PYTEST_ADDOPTS", "PYTEST_PLUGINS")
#: pytest-benchmark's tables (``vecbench run --table``), as ``pytest --benchmark-only``
#: shows them at the repository's root (pyproject.toml's addopts).
TABLE_ARGS = ("--benchmark-columns=min,median,iqr,rounds", "--benchmark-name=short")

#: pytest-benchmark's warning when a session timed nothing (a regular expression).
NOTHING_SAVED_WARNING = r"Not saving anything, no benchmarks have been run"
#: pytest's exit codes (pytest.ExitCode), named here to map them.
_PYTEST_OK, _PYTEST_FAILED, _PYTEST_INTERRUPTED = 0, 1, 2
_PYTEST_INTERNAL, _PYTEST_USAGE, _PYTEST_NO_TESTS = 3, 4, 5


class UsageError(Exception):
    """A bad argument: one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad argument reported in one line (no usage block), status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(BAD_USAGE, f"{self.prog}: error: {_one_line(message)}\n")


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


# ---------------------------------------------------------------------------
# vecbench run
# ---------------------------------------------------------------------------
RUN_EXAMPLES = f"""\
examples:
  vecbench run                          the full profile (under {FULL_PROFILE_MINUTES} min, 2 cores)
  vecbench run --profile quick          every implementation at a few sizes
  vecbench run --kernel magnitude --backend numpy,numba --sizes 1e3..1e7
  vecbench run --kernel matmul --variant blas,blocked --sizes 256,1000
  vecbench run --kernels my_kernels.py --profile quick    your own kernels only
  vecbench run --profile quick -- -k "not parallel"       more pytest arguments after --

The run is saved under ./.benchmarks (--storage); `vecbench report` renders the newest.
"""


def suite_dir() -> Path:
    """The installed ``bench`` package's folder: the suites ``vecbench run`` runs."""
    import bench

    return Path(bench.__file__).resolve().parent


def _names(values: Sequence[str] | None, option: str) -> str | None:
    """``--kernel a,b --kernel c`` as ``"a,b,c"``; None when not given."""
    if not values:
        return None
    names = [n.strip() for value in values for n in value.split(",")]
    if not all(names):
        raise UsageError(f"{option} {','.join(values)}: an empty name in the list")
    return ",".join(names)


def pytest_args(ns: argparse.Namespace, suite: Path | None = None) -> list[str]:
    """The ``pytest.main`` arguments of ``vecbench run`` (``ns`` from its parser).

    Parameters
    ----------
    ns
        The parsed ``vecbench run`` arguments (``profile``, ``kernel``,
        ``backend``, ``variant``, ``sizes``, ``kernels``, ``storage``,
        ``no_progress``, ``table``, ``pytest_args``).
    suite
        The folder of the suites (default: :func:`suite_dir`).

    Raises
    ------
    UsageError
        A selection with an empty name, or an empty ``--sizes``.
    """
    suite = suite or suite_dir()
    here = Path.cwd()
    storage = Path(ns.storage)
    if not str(ns.storage).strip():
        raise UsageError("--storage: an empty path")
    args = [
        str(suite),
        # No configuration file: the user's pytest.ini, pyproject.toml,
        # tox.ini or setup.cfg (and their addopts) do not apply.
        f"--config-file={os.devnull}",
        f"--rootdir={here}",
        # No conftest.py above the suites: neither the user's nor, in a
        # checkout, the repository's root one (bench.plugin comes with -p).
        f"--confcutdir={suite}",
        # The suites import as bench.*, whatever sys.path holds; nothing is
        # put on sys.path.
        "--import-mode=importlib",
        "-p", "no:cacheprovider",
        # The cases' order is the grid's (ceiling passes before and after).
        "-p", "no:randomly",
        *[arg for plugin in PLUGINS for arg in ("-p", plugin)],
        "-o", "python_files=bench_*.py",
        "-o", "console_output_style=classic",
        "-q",
        "--benchmark-only", "--benchmark-autosave", "--benchmark-save-data",
        f"--benchmark-storage={storage if storage.is_absolute() else here / storage}",
        *(TABLE_ARGS if ns.table else ("--benchmark-quiet",)),
        f"--profile={ns.profile}",
    ]
    for option, values in (("kernel", ns.kernel), ("backend", ns.backend),
                           ("variant", ns.variant)):
        names = _names(values, f"--{option}")
        if names is not None:
            args.append(f"--vb-{option}={names}")
    if ns.sizes is not None:
        if not ns.sizes.strip():
            raise UsageError("--sizes: empty; e.g. 1e3..1e7 or 1000,4096,1e6")
        args.append(f"--vb-sizes={ns.sizes.strip()}")
    for source in ns.kernels or ():
        if not source.strip():
            raise UsageError("--kernels: an empty path or module name")
        args.append(f"--vb-kernels={source}")
    if ns.no_progress:
        args.append("--vb-progress=off")
    args += ns.pytest_args
    return args


class _Watch:
    """An in-process pytest plugin: counts the cases and notices Ctrl-C.

    Python drops a KeyboardInterrupt raised inside a destructor or a weakref
    callback (a garbage collection during Numba's compilation, say), so the
    SIGINT handler of :func:`_sigint_noted` also notes it (``sigint``), and
    the next case to start or finish raises it again.
    """

    def __init__(self) -> None:
        self.config: Any = None
        self.total = 0
        self.done = 0
        self.sigint = False  # SIGINT received
        self.interrupted = False  # pytest saw the KeyboardInterrupt

    def _raise_if_dropped(self) -> None:
        if self.sigint and not self.interrupted:
            raise KeyboardInterrupt

    def pytest_configure(self, config: Any) -> None:
        self.config = config

    def pytest_collection_finish(self, session: Any) -> None:
        self.total = len(session.items)

    def pytest_runtest_logstart(self, nodeid: str, location: tuple) -> None:
        self._raise_if_dropped()

    def pytest_runtest_logfinish(self, nodeid: str, location: tuple) -> None:
        self.done += 1
        self._raise_if_dropped()

    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        # The command says it in one line: pytest's own account of the
        # interrupt (its terminal summary, the benchmark tables) is left out.
        self.interrupted = True
        if self.config is not None:
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                self.config.pluginmanager.unregister(reporter)


@contextlib.contextmanager
def _sigint_noted(watch: _Watch) -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt as usual and is noted in ``watch`` (main thread,
    unless SIGINT is ignored, as in a background job)."""
    def handler(signum: int, frame: Any) -> None:
        watch.sigint = True
        raise KeyboardInterrupt

    with signals.handled(signal.SIGINT, handler, unless_ignored=True):
        yield


@contextlib.contextmanager
def _environment_without(names: Sequence[str]) -> Iterator[None]:
    saved = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


def _saved_runs(storage: Path) -> dict[Path, float]:
    """Saved runs under ``storage``: path -> mtime (as reports.load.newest_run finds them)."""
    found = {}
    for path in storage.glob("**/*.json"):
        with contextlib.suppress(OSError):
            found[path] = path.stat().st_mtime
    return found


def _shown(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


def _selection(ns: argparse.Namespace) -> str:
    parts = [f"--{o} {','.join(getattr(ns, o))}" for o in ("kernel", "backend", "variant")
             if getattr(ns, o)]
    parts += [f"--sizes {ns.sizes}"] if ns.sizes else []
    parts += [f"--kernels {s}" for s in ns.kernels or ()]
    return " ".join([f"--profile {ns.profile}", *parts])


def run_benchmarks(ns: argparse.Namespace) -> int:
    """``vecbench run``: run the suites; return the command's exit status."""
    args = pytest_args(ns)
    storage = Path(ns.storage)
    before = _saved_runs(storage)
    watch = _Watch()
    import pytest

    with _environment_without(USER_PYTEST_ENV), _sigint_noted(watch), \
            warnings.catch_warnings():
        # Said in this command's own last line instead.
        warnings.filterwarnings("ignore", message=NOTHING_SAVED_WARNING)
        try:
            code = int(pytest.main(args, plugins=[watch]))
        except (Exception, KeyboardInterrupt):
            # After Ctrl-C, pytest-benchmark saves what it has at the session's
            # end, and fails on a benchmark interrupted before its first round
            # (no times); a Ctrl-C while the session ends leaves pytest.  No
            # part of an interrupted run is kept anyway.
            if not watch.sigint:
                raise
            code = _PYTEST_INTERRUPTED
    saved = sorted(p for p, stamp in _saved_runs(storage).items() if before.get(p) != stamp)
    if watch.sigint:
        for path in saved:  # a partial run would pass for a whole one in a report
            with contextlib.suppress(OSError):
                path.unlink()
        print(f"{PROG} run: interrupted (Ctrl-C) after {watch.done} of {watch.total} cases; "
              "nothing of this run was kept", file=sys.stderr)
        return INTERRUPTED
    if code == _PYTEST_USAGE:  # pytest said why, in one line (ERROR: ...)
        return BAD_USAGE
    if code == _PYTEST_NO_TESTS:
        print(f"{PROG} run: error: no benchmark matches the selection ({_selection(ns)})",
              file=sys.stderr)
        return BAD_USAGE
    if code == _PYTEST_INTERNAL:
        return BUG
    for path in saved:
        print(f"{PROG} run: saved {_shown(path)}; `vecbench report` renders it")
    if not saved and code in (_PYTEST_OK, _PYTEST_FAILED):
        print(f"{PROG} run: nothing saved (no benchmark ran)", file=sys.stderr)
    # pytest's 2 here is a collection error (Ctrl-C was handled above): the
    # suites could not be built, a failure like a failed benchmark.
    return OK if code == _PYTEST_OK else FAILED


def _add_run_options(parser: argparse.ArgumentParser, profile: bool = True) -> None:
    if profile:
        parser.add_argument("--profile", choices=PROFILES, default=RUN_PROFILE,
                            help=f"sizes and timing settings (default: {RUN_PROFILE}); "
                                 "'first' is the first look, 'quick' CI's")
    for name, (metavar, text) in SLICE_OPTIONS.items():
        parser.add_argument(f"--{name}", metavar=metavar, help=text,
                            action="append" if name in REPEATABLE else "store")
    parser.add_argument("--kernels", action="extend", nargs="+", metavar="SOURCE",
                        help="a .py file or an importable module defining SPECS and "
                             "IMPLEMENTATIONS (repeatable); without --kernel, only its kernels "
                             "run")
    parser.add_argument("--storage", default=str(DEFAULT_STORAGE), metavar="DIR",
                        help=f"where the run is saved (default: ./{DEFAULT_STORAGE})")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar: one line at the start and one at the end "
                             "(also when stdout is not a terminal)")
    parser.add_argument("--table", action="store_true",
                        help="print pytest-benchmark's tables at the end")


# ---------------------------------------------------------------------------
# vecbench report
# ---------------------------------------------------------------------------
REPORT_EXAMPLES = f"""\
examples:
  vecbench report                           the newest run under ./.benchmarks -> ./reports/out
  vecbench report --baseline numba/loop     speedups against numba's loop variant
  vecbench report .benchmarks/*/0003_*.json .benchmarks/*/0004_*.json   runs side by side
  vecbench report --out /tmp/report

With no saved run under ./.benchmarks, it first benchmarks the first look
(`vecbench run --profile {FIRST_LOOK_PROFILE}`, a few minutes), then renders it.
"""


def render_report(ns: argparse.Namespace) -> int:
    """``vecbench report``: render; benchmark the first look first when nothing is saved."""
    start = time.perf_counter()
    first_look = not ns.runs and not _saved_runs(DEFAULT_STORAGE)
    status = OK
    if first_look:
        print(f"{PROG} report: no saved run under ./{DEFAULT_STORAGE}: benchmarking the first "
              f"look (profile '{FIRST_LOOK_PROFILE}', a few minutes), then rendering it",
              flush=True)
        status = run_benchmarks(parse_args(
            ["run", "--profile", FIRST_LOOK_PROFILE, *(["--no-progress"] * ns.no_progress)]))
        if status not in (OK, FAILED) or not _saved_runs(DEFAULT_STORAGE):
            return status
    from reports.__main__ import main as report_main

    argv = [str(run) for run in ns.runs]
    if ns.out is not None:
        argv += ["--out", ns.out]
    if ns.baseline is not None:
        argv += ["--baseline", ns.baseline]
    try:
        with _argparse_errors_in_one_line(f"{PROG} report"):
            rendered = report_main(argv)
    except SystemExit as exc:
        rendered = _exit_status(exc)
    if rendered != OK:
        return rendered
    if first_look:
        from bench.progress import duration

        print(f"First look (profile '{FIRST_LOOK_PROFILE}') benchmarked and rendered in "
              f"{duration(time.perf_counter() - start)}. The full profile: `vecbench run "
              f"--profile full` (under {FULL_PROFILE_MINUTES} min on a 2-core machine), "
              "then `vecbench report`.")
    return status


# ---------------------------------------------------------------------------
# vecbench compare / ci / kernels: another module's main, arguments as given
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Delegate:
    """A subcommand that is another module's ``main(argv)``."""

    target: str  # "module:function"
    prog: str  # how that module names itself in its help ("python -m ...")
    summary: str
    examples: str

    def main(self) -> Callable[..., int]:
        module, _, function = self.target.partition(":")
        return getattr(importlib.import_module(module), function)

    def call(self, args: list[str], prog: str) -> int:
        """``main(args)``, naming itself ``prog`` where its ``main`` takes a ``prog``."""
        main = self.main()
        if "prog" in inspect.signature(main).parameters:
            return main(args, prog=prog)
        return main(args)


DELEGATES: dict[str, Delegate] = {
    "compare": Delegate(
        "reports.compare:main", "python -m reports.compare",
        "compare two saved runs: the regression gate's first look (0 / 1 regression / 2)",
        """\
examples:
  vecbench compare 0001 0002                 two runs saved under ./.benchmarks (their ids)
  vecbench compare base.json new.json        two run files
  vecbench compare runs/base/ runs/new/      folders of runs, several a side
"""),
    "ci": Delegate(
        "reports.ci_bench:main", "python -m reports.ci_bench",
        "the regression gate: a git ref against the working tree (times or instruction counts)",
        """\
examples:
  vecbench ci HEAD~1                 the previous commit against the working tree
  vecbench ci main --passes 6        six interleaved passes a side
  vecbench ci --mode instructions HEAD~1
                                     instruction counts under valgrind (one pass)
Run it inside the repository's checkout (it checks the base out into a worktree).
"""),
    "kernels": Delegate(
        "kernels.__main__:main", "python -m kernels",
        "the kernel x backend x variant matrix, each checked against its reference",
        """\
examples:
  vecbench kernels                            the built-in kernels
  vecbench kernels --kernels my_kernels.py    and yours: which backends each lacks
  vecbench kernels --require-all              exit 1 when a backend is unavailable
"""),
}


@contextlib.contextmanager
def _argparse_errors_in_one_line(prog: str) -> Iterator[None]:
    """While another module's ``main`` parses its arguments, a bad one is one line.

    The modules build their own ``argparse`` parsers (usage block, then the
    error); their ``error`` is swapped for :class:`_Parser`'s for the call.
    """
    original = argparse.ArgumentParser.error

    def error(self: argparse.ArgumentParser, message: str) -> NoReturn:
        self.exit(BAD_USAGE, f"{prog}: error: {_one_line(message)}\n")

    argparse.ArgumentParser.error = error  # type: ignore[method-assign]
    try:
        yield
    finally:
        argparse.ArgumentParser.error = original  # type: ignore[method-assign]


def _exit_status(exc: SystemExit) -> int:
    if exc.code is None:
        return OK
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return FAILED


def _wants_help(args: Sequence[str]) -> bool:
    before = args[: args.index("--")] if "--" in args else args
    return any(a in ("-h", "--help") for a in before)


def delegate_help(name: str) -> str:
    """``vecbench NAME --help``: the module's own help, named as the command, and examples."""
    delegate = DELEGATES[name]
    text = io.StringIO()
    with contextlib.redirect_stdout(text), contextlib.suppress(SystemExit):
        delegate.call(["--help"], f"{PROG} {name}")
    own = text.getvalue().replace(delegate.prog, f"{PROG} {name}").rstrip()
    if "examples:" in own:  # the module's own, now naming the command
        return own + "\n"
    return f"{own}\n\n{delegate.examples}"


def run_delegate(name: str, args: list[str]) -> int:
    """``vecbench NAME ARGS``: the module's ``main(ARGS)``."""
    if _wants_help(args):
        print(delegate_help(name), end="")
        return OK
    try:
        with _argparse_errors_in_one_line(f"{PROG} {name}"):
            return int(DELEGATES[name].call(args, f"{PROG} {name}") or 0)
    except SystemExit as exc:
        return _exit_status(exc)


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------
MAIN_EXAMPLES = """\
examples:
  vecbench report                      a first look: benchmarks a few minutes if nothing
                                       is saved yet, then renders ./reports/out/index.html
  vecbench run --profile full          the full profile, saved under ./.benchmarks
  vecbench run --kernel magnitude --backend numpy,numba --sizes 1e3..1e7
  vecbench run --kernels my_kernels.py --profile quick && vecbench report --baseline numpy/new
  vecbench kernels --kernels my_kernels.py
  vecbench compare 0001 0002

`vecbench COMMAND --help` says more about each.
"""


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``vecbench`` and of its ``run`` and ``report`` subcommands.

    ``compare``, ``ci`` and ``kernels`` are listed in it, but their arguments
    go to their modules as they are (:func:`run_delegate`).
    """
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(prog=PROG, formatter_class=fmt, epilog=MAIN_EXAMPLES,
                     description="Benchmark numeric kernels in pure Python, NumPy, Numba and "
                                 "Cython, and report why and when each wins.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser(
        "run", formatter_class=fmt, epilog=RUN_EXAMPLES,
        help="run the benchmarks (a profile, or a slice of it) and save the run",
        description="Run the benchmark suites of the installed vecbench with pytest-benchmark "
                    "and save the run under ./.benchmarks. Arguments after -- go to pytest.")
    _add_run_options(run)
    run.set_defaults(handler=run_benchmarks)

    report = sub.add_parser(
        "report", formatter_class=fmt, epilog=REPORT_EXAMPLES,
        help="render saved runs into ./reports/out (a first look first when none is saved)",
        description="Render saved runs into figures, index.html and summary.md.")
    report.add_argument("runs", nargs="*", metavar="RUN.json",
                        help=f"saved runs (default: the newest under ./{DEFAULT_STORAGE})")
    report.add_argument("--out", metavar="DIR",
                        help="report folder, replaced as a whole (default: ./reports/out)")
    report.add_argument("--baseline", metavar="BACKEND/VARIANT",
                        help="speedups against this implementation, e.g. numba/loop "
                             "(default: python and numpy)")
    report.add_argument("--no-progress", action="store_true",
                        help="for the first look's run: no progress bar, two lines")
    report.set_defaults(handler=render_report)

    for name, delegate in DELEGATES.items():
        sub.add_parser(name, help=delegate.summary, add_help=False)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("vecbench")
    except PackageNotFoundError:  # a source tree that is not installed
        return "(not installed)"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The ``run`` or ``report`` command line as a namespace (``pytest_args``: what
    follows ``--``).

    Raises
    ------
    SystemExit
        2 after one line on a bad argument; 0 after ``--help`` or ``--version``.
    """
    argv, extra = list(argv), []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    parser = build_parser()
    ns = parser.parse_args(argv)
    if ns.command is None:
        parser.error(f"choose a command: run, report, {', '.join(DELEGATES)} "
                     f"(`{PROG} --help` says more)")
    if extra and ns.command != "run":
        parser.error(f"{ns.command}: arguments after -- go to pytest, which only "
                     f"`{PROG} run` starts")
    ns.pytest_args = extra
    return ns


def _main(argv: list[str]) -> int:
    if argv and argv[0] in DELEGATES:
        return run_delegate(argv[0], argv[1:])
    ns = parse_args(argv)
    try:
        return ns.handler(ns)
    except UsageError as exc:
        print(f"{PROG} {ns.command}: error: {_one_line(exc)}", file=sys.stderr)
        return BAD_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``vecbench`` command; return its exit status (see the module's docstring)."""
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted (Ctrl-C)", file=sys.stderr)
        return INTERRUPTED
    except SystemExit as exc:
        return _exit_status(exc)
    except Exception as exc:  # a bug: still one line, the traceback on request
        if os.environ.get("VECBENCH_TRACEBACK"):
            traceback.print_exc()
        print(f"{PROG}: internal error (a bug, please report it): {type(exc).__name__}: "
              f"{_one_line(exc)}; set VECBENCH_TRACEBACK=1 to see where", file=sys.stderr)
        return BUG


if __name__ == "__main__":
    sys.exit(main())

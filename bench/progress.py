"""A pytest plugin: a progress bar over the benchmark cases (``-p bench.progress``).

``vecbench run`` loads it (plain ``pytest --benchmark-only`` does not).  While
the session runs, pytest's own per-test letters are blanked and, when stdout
and stderr are both terminals, a tqdm bar counts the cases: the case now
running (its id, shortened), how many are done of how many, the elapsed time
and an estimate of the time left (from the mean time per case so far).  When
either is not a terminal (a CI log, a pipe) or with ``--vb-progress=off``
there is no bar: one line at the start (``vecbench: N cases, profile P``,
followed by the plugin's other ``vecbench:`` header lines, if any, when
pytest's own header is hidden by ``-q``) and one at the end (cases passed,
skipped and failed, and the wall time).  The end line is printed with the bar
too; pytest's own summary and failures follow it as usual.  A failed case is
also announced above the bar as it happens.

After Ctrl-C the bar is closed and no end line is printed: whoever started
the session says what was interrupted (``vecbench run`` prints one line).
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

import pytest

#: ``--vb-progress``: a bar on a terminal, else lines (auto); always a bar; never one.
MODES = ("auto", "bar", "off")
#: Characters of the case id shown beside the bar.
DESCRIPTION_WIDTH = 44
#: The name this plugin's state is registered under (``config.pluginmanager``).
PLUGIN_NAME = "vecbench-progress"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("vecbench").addoption(
        "--vb-progress", choices=MODES, default="auto",
        help="progress over the benchmark cases: 'auto' (default) a bar when stdout and stderr "
             "are terminals, else one line at the start and one at the end; 'bar' always a "
             "bar (on stderr); 'off' no bar, only the two lines")


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin(PLUGIN_NAME):
        config.pluginmanager.register(Progress(config), PLUGIN_NAME)


def duration(seconds: float) -> str:
    """``seconds`` as a person reads it: ``4.2 s``, ``3 min 07 s``, ``1 h 02 min``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def case_label(nodeid: str, width: int = DESCRIPTION_WIDTH) -> str:
    """A short label for the case ``nodeid``: its test (without ``test_``) and its id.

    ``bench_kernels.py::test_kernel[magnitude-numba-loop-n1000-C]`` gives
    ``kernel magnitude-numba-loop-n1000-C``; a label wider than ``width`` keeps
    its start and end around an ellipsis.
    """
    name = nodeid.rpartition("::")[2]
    func, _, param = name.partition("[")
    func = func.removeprefix("test_")
    label = f"{func} {param[:-1]}" if param.endswith("]") else func
    if len(label) <= width:
        return label
    head = (width - 1) // 2
    return label[:head] + "…" + label[len(label) - (width - 1 - head):]


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class Progress:
    """The session's progress: counts per outcome, the bar or the two lines."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.mode: str = config.getoption("--vb-progress", default="auto")
        self.total = 0
        self.done = 0
        self.outcomes: dict[str, int] = {"passed": 0, "skipped": 0, "failed": 0}
        self.start: float | None = None
        self.interrupted = False
        self.bar: Any = None  # a tqdm bar while the cases run
        self._stream: IO[str] | None = None  # where the bar is drawn
        self._current: dict[str, str] = {}  # nodeid -> its outcome so far

    # -- what is shown ----------------------------------------------------
    def _active(self) -> bool:
        """Whether this session runs cases (not --collect-only, not an xdist worker)."""
        option = self.config.option
        return not (getattr(option, "collectonly", False)
                    or hasattr(self.config, "workerinput"))

    def _line(self, text: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(text)
        else:
            print(text, flush=True)

    def _vecbench_header(self) -> list[str]:
        """The ``vecbench:`` lines of the session's header (bench.plugin: the profile,
        the selection, the external kernels), when pytest does not show its header
        (``-q``); else none (pytest showed them)."""
        if self.config.get_verbosity() >= 0:
            return []
        found = self.config.hook.pytest_report_header(config=self.config,
                                                      start_path=self.config.rootpath)
        lines = [line for part in found
                 for line in ([part] if isinstance(part, str) else part)]
        return [line for line in lines if line.startswith("vecbench:")]

    def _wants_bar(self) -> bool:
        if self.mode == "bar":
            return True
        return self.mode == "auto" and _isatty(sys.stdout) and _isatty(sys.stderr)

    def _open_bar(self, stream: IO[str]) -> Any:
        from tqdm import tqdm

        class Bar(tqdm):
            # No monitor thread: it would wake up (and may redraw) during timed rounds.
            monitor_interval = 0

        # smoothing=0: the estimate is the mean time per case since the start,
        # steadier than a moving average over cases of very different lengths.
        return Bar(total=self.total, unit="case", file=stream, smoothing=0, leave=False,
                   dynamic_ncols=True, desc="starting")

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    # -- hooks --------------------------------------------------------------
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if not self._active():
            return
        self.total = len(session.items)
        self.start = time.perf_counter()
        header = self._vecbench_header()
        first = f"vecbench: {self.total} cases"
        if header and header[0].startswith("vecbench: profile "):
            first += ", " + header.pop(0).removeprefix("vecbench: ")
        else:
            profile = self.config.getoption("--profile", default=None)
            first += f", profile {profile}" if profile else ""
        for line in (first, *header):
            self._line(line)
        if self.total and self._wants_bar():
            self._stream = sys.stderr
            self.bar = self._open_bar(self._stream)

    @pytest.hookimpl(wrapper=True)
    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config):
        """pytest's per-test letter, blanked: the bar or the closing line counts instead."""
        status = yield
        if self.start is None or not isinstance(status, tuple) or len(status) != 3:
            return status
        category, _letter, word = status
        return category, "", word

    def pytest_runtest_logstart(self, nodeid: str, location: tuple) -> None:
        if self.bar is not None:
            self.bar.set_description_str(case_label(nodeid))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        before = self._current.get(report.nodeid, "passed")
        if report.failed:
            now = "failed"
        elif report.skipped and before != "failed":
            now = "skipped"
        else:
            now = before
        self._current[report.nodeid] = now

    def pytest_runtest_logfinish(self, nodeid: str, location: tuple) -> None:
        if self.start is None:
            return
        outcome = self._current.pop(nodeid, "passed")
        self.outcomes[outcome] += 1
        self.done += 1
        if self.bar is not None:
            if outcome == "failed":
                self.bar.write(f"FAILED {nodeid}", file=self._stream)
            self.bar.update(1)

    def pytest_keyboard_interrupt(self, excinfo: Any) -> None:
        self.interrupted = True
        self._close_bar()

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        self._close_bar()
        if self.start is None or self.interrupted:
            return
        seconds = time.perf_counter() - self.start
        counts = ", ".join(f"{n} {outcome}" for outcome, n in self.outcomes.items())
        left = self.total - self.done
        tail = f" ({left} not run)" if left else ""
        self._line(f"vecbench: {counts}{tail} in {duration(seconds)}")

"""``python -m reports [RUN.json ...] [--out DIR] [--baseline BACKEND/VARIANT ...]``:
render saved runs into a report.

Without a run, renders the newest one under ``.benchmarks/``; the report goes
to ``reports/out/``.  Both are relative to the current folder, never to where
the package is installed.  ``--baseline`` (repeatable) chooses what the
speedups are measured against, in place of python and numpy: an
implementation (``numba/loop``) or a backend (its default variant of each
kernel); the figures use the first.

Exit status, each failure one line on stderr and never a traceback:

- 0: the report was written;
- 2: a run cannot be used, a ``--baseline`` is malformed or not in a run (the
  line lists the implementations the run has), or ``--out`` cannot be (below
  a regular file, in a folder that cannot be written, an existing folder that
  is not an earlier report); nothing is written;
- 130 on Ctrl-C (SIGINT), 143 on SIGTERM: the render stops, its temporary
  folder is removed and an earlier report in ``--out`` is left as it was;
- 3: a bug in the report stage (the one line names the exception; set
  ``VECBENCH_TRACEBACK=1`` to see the traceback).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench import signals
from reports import baselines as base
from reports import write
from reports.load import ReportError, newest_run
from reports.pipeline import DEFAULT_OUT, DEFAULT_RUNS, render

#: Exit statuses (see the module's docstring).
OK, BAD_INPUT, BUG, INTERRUPTED, TERMINATED = 0, 2, 3, 130, 143


class Terminated(BaseException):
    """SIGTERM, raised where the program is so that every cleanup on the way runs."""


def _raise_terminated(signum: int, frame: Any) -> None:
    write.request_stop(Terminated)  # raised again before the swap if this one is swallowed
    raise Terminated


def _quiet_when_terminated(hook: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``sys.unraisablehook`` that says nothing of a :class:`Terminated` raised where
    Python cannot propagate it (a weakref callback or ``__del__`` matplotlib was
    running when SIGTERM came): the stop it requested is raised again before
    anything is swapped in (reports/write.py), and the one line follows."""
    def quiet(unraisable: Any) -> Any:
        if isinstance(unraisable.exc_value, Terminated):
            return None
        return hook(unraisable)

    return quiet


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Make SIGTERM raise :class:`Terminated` for the block (main thread only)."""
    installed = False
    hook = sys.unraisablehook
    try:
        with signals.handled(signal.SIGTERM, _raise_terminated) as installed:
            if installed:
                write.clear_stop()
                sys.unraisablehook = _quiet_when_terminated(hook)
            yield
    finally:
        if installed:  # after the previous handler is back
            sys.unraisablehook = hook
            write.clear_stop()


def _line(text: object) -> str:
    """``text`` on one line."""
    return " ".join(str(text).splitlines())


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m reports",
        description="Turn saved pytest-benchmark runs into figures, index.html and summary.md. "
                    "Several runs are compared side by side.",
        epilog="examples: python -m reports; python -m reports .benchmarks/*/0003_*.json "
               "--out /tmp/report; python -m reports --baseline numba/loop; "
               "python -m reports --baseline numpy --baseline cython")
    parser.add_argument("runs", nargs="*", type=Path, metavar="RUN.json",
                        help=f"saved runs (default: the newest under ./{DEFAULT_RUNS})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"report folder, replaced as a whole (default: ./{DEFAULT_OUT})")
    parser.add_argument("--baseline", action="append", default=[],
                        metavar="BACKEND/VARIANT",
                        help="what the speedups are measured against, in place of the "
                             "defaults python and numpy: an implementation (numba/loop) or a "
                             "backend (its default variant of each kernel); repeatable, the "
                             "figures use the first")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        with _sigterm_raises():
            baselines = base.parse(args.baseline)
            runs = args.runs or [newest_run(DEFAULT_RUNS)]
            page = render(runs, args.out, baselines)
    except ReportError as exc:
        print(f"reports: error: {_line(exc)}", file=sys.stderr)
        return BAD_INPUT
    except OSError as exc:  # e.g. a report folder that cannot be created or written
        print(f"reports: error: {_line(exc.filename or args.out)}: {_line(exc.strerror or exc)}",
              file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt:
        print(f"reports: interrupted (Ctrl-C): nothing written to {args.out}", file=sys.stderr)
        return INTERRUPTED
    except Terminated:
        print(f"reports: terminated (SIGTERM): nothing written to {args.out}", file=sys.stderr)
        return TERMINATED
    except Exception as exc:  # a bug: still one line, the traceback on request
        if os.environ.get("VECBENCH_TRACEBACK"):
            traceback.print_exc()
        print(f"reports: internal error (a bug, please report it): {type(exc).__name__}: "
              f"{_line(exc)}; set VECBENCH_TRACEBACK=1 to see where", file=sys.stderr)
        return BUG
    seconds = time.perf_counter() - start
    print(f"Rendered {len(runs)} run(s) in {seconds:.1f} s: {', '.join(map(str, runs))}")
    print(f"Summary: {page.parent / 'summary.md'}")
    print(f"Report:  {page.as_uri()}")
    return OK


if __name__ == "__main__":
    sys.exit(main())

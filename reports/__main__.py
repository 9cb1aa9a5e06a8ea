"""``python -m reports [RUN.json ...] [--out DIR]``: render saved runs into a report.

Without a run, renders the newest one under ``.benchmarks/``; the report goes
to ``reports/out/``.  Both are relative to the current folder, never to where
the package is installed.  A bad run or an unusable report folder prints one
line naming the path and what is wrong, and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from reports.load import ReportError, newest_run
from reports.pipeline import DEFAULT_OUT, DEFAULT_RUNS, render


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m reports",
        description="Turn saved pytest-benchmark runs into figures, index.html and summary.md. "
                    "Several runs are compared side by side.")
    parser.add_argument("runs", nargs="*", type=Path, metavar="RUN.json",
                        help=f"saved runs (default: the newest under ./{DEFAULT_RUNS})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"report folder, replaced as a whole (default: ./{DEFAULT_OUT})")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        runs = args.runs or [newest_run(DEFAULT_RUNS)]
        page = render(runs, args.out)
    except ReportError as exc:
        print(f"reports: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. a report folder that cannot be created or written
        print(f"reports: error: {exc.filename or args.out}: {exc.strerror or exc}",
              file=sys.stderr)
        return 2
    seconds = time.perf_counter() - start
    print(f"Rendered {len(runs)} run(s) in {seconds:.1f} s: {', '.join(map(str, runs))}")
    print(f"Summary: {page.parent / 'summary.md'}")
    print(f"Report:  {page.as_uri()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

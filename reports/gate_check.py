"""``python -m reports.gate_check``: does the regression gate cry wolf, and what does it catch?

Runs a few steady-state benchmarks of the working tree in interleaved passes,
three ways at once: A and C are the same code (an A/A pair: the gate must
flag nothing), B has a synthetic slower implementation injected through a
pytest plugin that exists only for the check: Numba's ``sum_of_squares``
replaced by a loop that does ``1 + extra`` times the work and returns the
same result.  Each comparison goes through :func:`reports.compare.compare`
exactly as ``make ci-bench`` does.  The tests use it with ``extra = 0.5``;
run by hand it measures the smallest slowdown caught every time.

The working tree is the current folder (as for ``make ci-bench``): run it
from the repository, which holds the suites and their ``conftest.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from reports import compare
from reports.ci_bench import SUITE, run_suite
from reports.load import ReportError

PLUGIN = "vecbench_injected_slowdown"
# Benchmarks the check runs: the injected kernel at two sizes, and NumPy's
# beside it left alone.  Few on purpose: significance is decided over all of
# them together (Benjamini-Hochberg), so each extra one costs power.
SELECTION = ("sum_of_squares and ((numba and loop) or (numpy and vectorized)) "
             "and (n100000 or n1000000)")
TARGET = "sum_of_squares-numba-loop"

_PLUGIN_SOURCE = '''\
"""Injected by reports.gate_check: a slower sum_of_squares for the numba backend."""
import os

import numba

from kernels.backends import numba_jit

EXTRA = float(os.environ["VECBENCH_INJECTED_EXTRA_WORK"])


@numba.njit(**numba_jit.JIT_OPTIONS)
def _slower(x, m):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * x[i]
    t = 0.0
    for i in range(m):  # the extra work, kept alive below
        t += x[i] * x[i]
    return s + 0.0 * t  # strict IEEE: 0.0 * t cannot be folded away


def slower(x):
    return _slower(x, int(EXTRA * x.shape[0]))


numba_jit.CORES["sum_of_squares"]["loop"] = slower
'''


def write_plugin(folder: Path) -> Path:
    """Write the slowdown plugin into ``folder`` (put it on PYTHONPATH to use it)."""
    path = folder / f"{PLUGIN}.py"
    path.write_text(_PLUGIN_SOURCE)
    return path


def working_tree(repo: Path | None = None) -> Path:
    """The checkout whose suites the check runs: ``repo``, or the current folder.

    Raises
    ------
    ReportError
        When it does not hold the steady-state suite.
    """
    repo = Path.cwd() if repo is None else Path(repo)
    if not (repo / SUITE).is_file():
        raise ReportError(f"{repo}: no {SUITE} here; run the gate check from the "
                          "vecbench repository")
    return repo


def check(extra: float, passes: int, folder: Path, settings: compare.Settings,
          repo: Path | None = None) -> tuple[list[compare.Row], list[compare.Row]]:
    """Interleaved A, B (slowed by ``extra``), C passes; the A/A and A/B rows.

    ``repo`` is the checkout whose suites run (default: the current folder).
    """
    repo = working_tree(repo)
    write_plugin(folder)
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(folder), env_path) if p)
    os.environ["VECBENCH_INJECTED_EXTRA_WORK"] = str(extra)
    log = folder / "runs.log"
    runs: dict[str, list[Path]] = {"A": [], "B": [], "C": []}
    try:
        for i in range(passes):
            for side in ("A", "B", "C") if i % 2 == 0 else ("C", "B", "A"):
                out = folder / f"{side}{i}.json"
                plugin = ["-p", PLUGIN] if side == "B" else []
                run_suite(Path(sys.executable), repo, out, log, ["-k", SELECTION, *plugin])
                runs[side].append(out)
    finally:
        os.environ["PYTHONPATH"] = env_path
        del os.environ["VECBENCH_INJECTED_EXTRA_WORK"]
    a = compare.runs_of(runs["A"])
    return (compare.compare(a, compare.runs_of(runs["C"]), settings),
            compare.compare(a, compare.runs_of(runs["B"]), settings))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports.gate_check",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--extra", type=float, nargs="+", default=[0.5],
                        help="extra work fractions to inject (0.25 = 1.25x the work)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--passes", type=int, default=4)
    args = parser.parse_args(argv)
    try:
        settings = compare.load_settings()
        repo = working_tree()
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("| extra work | repeat | A/A flagged | injected benchmarks flagged | ratios |")
    print("| ---: | ---: | ---: | --- | --- |")
    for extra in args.extra:
        for r in range(args.repeats):
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    aa, ab = check(extra, args.passes, Path(tmp), settings, repo)
                except ReportError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    return 2
            flagged_aa = sum(row.verdict == "worse" for row in aa)
            target = [row for row in ab if row.benchmark.startswith(TARGET)]
            caught = sum(row.verdict == "worse" for row in target)
            ratios = ", ".join(f"{row.ratio:.2f}" for row in target)
            print(f"| {extra:g} | {r + 1} | {flagged_aa} | {caught} of {len(target)} | {ratios} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m reports.gate_check``: does the regression gate cry wolf, and what does it catch?

Runs a few steady-state benchmarks of the working tree in interleaved passes,
three ways at once: A and C are the same code (an A/A pair: the gate must
flag nothing), B has a synthetic slower implementation injected through a
pytest plugin that exists only for the check: Numba's ``sum_of_squares``
replaced by a loop that does ``1 + extra`` times the work and returns the
same result.  Each comparison goes through :func:`reports.compare.compare`
exactly as ``make ci-bench`` does.  The tests use it with ``extra = 0.5``;
run by hand it measures the gate's own rates over ``--repeats``: false alarms
(the A/A pair: repeats that flagged anything, and flagged benchmarks among all
compared) and detection per injected slowdown (repeats in which every injected
benchmark was flagged, and injected benchmarks flagged among all).

``--passes`` below ``MIN_PASSES`` is refused: the paired t-test over ``p``
passes has ``p - 1`` degrees of freedom, and at 3 passes a +25% slowdown of
the two injected benchmarks (Benjamini-Hochberg over 5 at 0.01, one-sided:
p <= 0.004, t >= 11.1 on 2 df) is only caught when the passes' log ratios
scatter by less than about 3.5% (standard deviation), which this shared
machine does not deliver (the injected kernel's run statistics scatter by
4-6% between separate runs here); at 4 passes (t >= 6.3) about 7% is
tolerated, at 6 (t >= 4.3 on 5 df) about 13%.  Measured here with
``--extra 0.25 --repeats 10``: at 6 passes and a plain paired t-test, the
slowdown was flagged in 9 of 10 repeats under load (about 3 on 2 cores) and
again in 9 of 10 on a quiet machine, where the missed repeat measured 1.34x
on both injected sizes, one disturbed pass widening the interval; the A/A
pair flagged nothing.  Hence the default of 8 passes and, from 6 on, Yuen's
trimmed test (reports.compare.by_runs): with them, on the quiet machine,
10 of 10 repeats flagged both injected sizes (1.21x to 1.27x) and the A/A
pair flagged nothing in 50 comparisons.

The working tree is the current folder (as for ``make ci-bench``): run it
from the repository, which holds the suites and their ``conftest.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from reports import compare
from reports.ci_bench import MIN_PASSES, SUITE, run_suite
from reports.load import ReportError

PLUGIN = "vecbench_injected_slowdown"
# Benchmarks the check runs: the injected kernel at two sizes, and NumPy's
# beside it left alone.  Few on purpose: significance is decided over all of
# them together (Benjamini-Hochberg), so each extra one costs power.
SELECTION = ("sum_of_squares and ((numba and loop) or (numpy and vectorized)) "
             "and (n100000 or n1000000)")
TARGET = "sum_of_squares-numba-loop"
#: Passes per side by default: see the module docstring and the README.
PASSES = 8

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


@dataclass
class Tally:
    """Counts over repeats: how many flagged anything, and benchmarks flagged among compared."""

    repeats: int = 0
    hit_repeats: int = 0  # A/A: repeats that flagged anything; injected: all injected caught
    flagged: int = 0
    compared: int = 0

    def add(self, rows: list[compare.Row], all_needed: bool) -> None:
        """Count one repeat's rows (``all_needed``: a hit needs every row flagged)."""
        worse = [r.verdict == "worse" for r in rows]
        self.repeats += 1
        self.hit_repeats += bool(rows) and (all(worse) if all_needed else any(worse))
        self.flagged += sum(worse)
        self.compared += len(rows)


def summary(aa: Tally, caught: dict[float, Tally], untouched: Tally) -> list[str]:
    """The rates, one line each, with their counts."""
    lines = [f"A/A: {aa.hit_repeats} of {aa.repeats} repeats flagged anything "
             f"({aa.flagged} false alarms among {aa.compared} benchmark comparisons)"]
    for extra, t in caught.items():
        lines.append(f"+{extra:.0%}: caught {t.hit_repeats} of {t.repeats} (every injected "
                     f"benchmark flagged; {t.flagged} of {t.compared} injected benchmark "
                     "comparisons flagged)")
    lines.append(f"untouched benchmarks beside the injected one: {untouched.flagged} false "
                 f"alarms among {untouched.compared} comparisons")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports.gate_check",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--extra", type=float, nargs="+", default=[0.5],
                        help="extra work fractions to inject (0.25 = 1.25x the work)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--passes", type=int, default=PASSES,
                        help=f"interleaved passes per side (default {PASSES}, at least "
                             f"{MIN_PASSES})")
    args = parser.parse_args(argv)
    if args.passes < MIN_PASSES:
        print(f"error: --passes {args.passes}: the gate needs at least {MIN_PASSES} passes a "
              "side (fewer cannot catch +25% on this machine; see python -m "
              "reports.gate_check --help and the module docstring)", file=sys.stderr)
        return 2
    if args.repeats < 1 or any(not (0 < e <= 10) for e in args.extra):
        print("error: --repeats must be at least 1 and each --extra in (0, 10]",
              file=sys.stderr)
        return 2
    try:
        settings = compare.load_settings()
        repo = working_tree()
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    aa, untouched = Tally(), Tally()
    caught = {extra: Tally() for extra in args.extra}
    print(f"gate check: {args.passes} interleaved passes a side, {args.repeats} repeats")
    print("| extra work | repeat | A/A flagged | injected benchmarks flagged | ratios |")
    print("| ---: | ---: | ---: | --- | --- |")
    for extra in args.extra:
        for r in range(args.repeats):
            with tempfile.TemporaryDirectory() as tmp:
                try:
                    aa_rows, ab = check(extra, args.passes, Path(tmp), settings, repo)
                except ReportError as exc:
                    print(f"error: {exc}", file=sys.stderr)
                    return 2
            target = [row for row in ab if row.benchmark.startswith(TARGET)]
            aa.add(aa_rows, all_needed=False)
            caught[extra].add(target, all_needed=True)
            untouched.add([row for row in ab if not row.benchmark.startswith(TARGET)],
                          all_needed=False)
            flagged_aa = sum(row.verdict == "worse" for row in aa_rows)
            hits = sum(row.verdict == "worse" for row in target)
            ratios = ", ".join(f"{row.ratio:.2f}" for row in target)
            print(f"| {extra:g} | {r + 1} | {flagged_aa} | {hits} of {len(target)} | {ratios} |",
                  flush=True)
    print()
    print("\n".join(summary(aa, caught, untouched)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

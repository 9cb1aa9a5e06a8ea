"""``python -m reports.compare BASE NEW``: did a change make any kernel slower?

For every steady-state benchmark present on both sides: the ratio NEW/BASE
of the median times, an interval, a p-value, and a verdict.  A benchmark is a
regression only when its change is both significant and beyond the threshold
(ratio above ``1 + threshold``; 10% by default, settable per kernel).
Significance is decided over all benchmarks together, with the
Benjamini-Hochberg procedure at false discovery rate ``alpha``: with a few
hundred benchmarks, a per-benchmark ``p < alpha`` would let chance flag one
of them in most comparisons of unchanged code.  A slowdown that was decided
on is accepted through an entry in ``pyproject.toml`` naming the benchmark,
the ratio allowed and the reason; the statistics themselves are never
loosened.

BASE and NEW are each a saved run id (``0003``, as under ``.benchmarks/``), a
run file, or a folder of run files.  On a shared machine a whole process is
the unit that varies (placement of arrays in memory, neighbours, frequency),
not a round, so how the test is made depends on what is given:

- **several runs on each side** (the interleaved passes of ``make
  ci-bench``): one time per run (its rounds' ``LOW_Q`` quantile: a busy spell
  during part of a run inflates its median, rarely its fast rounds); a paired
  t-test on the log ratios of runs
  taken side by side (from ``TRIM_FROM`` pairs Yuen's trimmed one; a Welch
  test when the counts differ), the interval from the same t distribution.
  This is the wall-clock gate (CI's is the instruction-count one).
- **one run on a side** (method "empirical null"): the rounds of one run say
  nothing about how much the next process will differ, so the run-to-run
  noise is measured from the benchmarks themselves.  Most benchmarks do not
  change between two runs, so each benchmark's log ratio ``r`` (of its
  fastest round, ``ONE_RUN_Q``: interference only adds time, and a slow spell
  of the host can cover most of one run's rounds) is compared with those of its neighbours in run
  order: the ``NEIGHBOURS`` nearest on either side among benchmarks of its
  class (multi-threaded or not, heavy or not, allocator regime).  Centre
  ``c`` = their median, which follows the machine when part of the run was
  busier.  Spread = the largest of their MAD (x 1.4826), the class's MAD of
  ``r - c``, the class's tail scale (the ``TAIL_Q`` quantile of ``|r - c|``
  over the normal's) and ``FLOOR``, widened by the benchmark's own
  uncertainty ``u`` (the standard error of each side's median of log rounds,
  ``1.2533 * 1.4826 * MAD / sqrt(rounds)``).  Then ``z = (r - c) / spread``,
  a two-sided normal p-value, and Benjamini-Hochberg over all benchmarks so
  judged.  A regression must also be slower than the threshold both as
  measured (``exp(r)``) and relative to its neighbours (``exp(r - c)``), and
  by at least ``ONE_RUN_MIN`` relative to them: separate processes of
  identical code moved a few benchmarks by up to 1.56x here (outputs a
  kernel allocates land on a cache line in one process and not in the
  next), and one run a side cannot tell those from a change.  A benchmark
  whose spread is so wide that even a doubling would not stand out (``log 2
  < (z* + 1.645) * spread``, ``z*`` the Bonferroni cut-off of the
  comparison) is reported as **too noisy to judge in one run**, never as
  unchanged; so is every benchmark whose rounds the machine's load disturbed
  on either side (the state each run records: other processes on the cores
  it needed, or stolen time; :func:`reports.conditions.load_mark`), or whose
  rounds were calibrated on a stalled call (its fastest round under half its
  ``min_time``: :func:`reports.conditions.stalled_calibration`), and
  every multi-threaded one of a run that recorded no state (one descheduled
  thread stalls the others: A/A runs on a shared 2-core machine differed by
  up to 6500x).  A benchmark around whose rounds the machine ran slower than
  its recent best (its pace, bench/pace.py, above 1.15 on a side) is judged
  on its ratio less ``PACE_K`` x log(pace) of the new side for a slowdown, of
  the base side for a speed-up (never past no change), and is left out of the
  null: a spell of a slower machine moves a benchmark 1.3-1.9x and would
  widen every other's spread (measured on the 2-core VM: at its best pace a
  benchmark's log time varied by 0.02 sd, over all its spells by
  0.15-0.23).  What it cannot see: a slowdown shared by most neighbours of a
  benchmark (a whole kernel at every backend) looks like a busy machine; the
  interleaved runs of ``make ci-bench`` see it.  A side of several runs takes
  the median over its runs.

Exit status: 1 when any benchmark regressed, 0 otherwise, 2 on unusable input
(one line naming the file, the benchmark and the field, or pyproject.toml
and the entry), 130 when interrupted.  :func:`main` returns these and never
raises.

Settings (``pyproject.toml``)::

    [tool.vecbench.compare]
    threshold = 0.10          # default for every kernel (>= 0)
    alpha = 0.01              # false discovery rate (Benjamini-Hochberg), in (0, 1)
    [tool.vecbench.compare.thresholds]
    matmul = 0.15             # per kernel (>= 0)
    instructions_threshold = 0.01  # the count gate's (>= 0), see below
    [[tool.vecbench.compare.accepted]]
    benchmark = "magnitude-numpy-vectorized-n1000000-C"
    max_ratio = 1.3           # > 1
    reason = "why the slowdown is the right trade (reviewed in PR #...)"

Two instruction-count runs (``python -m bench.instructions``; ``vecbench.mode``
``"instructions"``) are gated on their counts instead (reports/instructions.py):
a benchmark whose estimated cost per call grows beyond
``instructions_threshold`` regresses, the accepted entries applying as here.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from reports import conditions
from reports.compute import bootstrap_medians
from reports.load import ReportError, Run, Timing, _one_line, load_run

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

#: kernel, backend, variant, size, layout, threads, allocator regime
Key = tuple[str, str, str, int, str, int, str]
BOOTSTRAP = 2000

# The empirical null of the one-run comparison.  Chosen on 12 separate quick
# runs of identical code on this 2-core shared machine, some made while it was
# busy (66 A/A pairs; see the README's "Regression gate").
#: Neighbours on either side, in run order, whose log ratios make a benchmark's null.
NEIGHBOURS = 10
#: The several-runs statistic: this quantile of each run's rounds (0: the fastest).
#: Interference only adds time, so the fast rounds are the least disturbed.
LOW_Q = 0.1
#: The one-run statistic: this quantile of the one run's rounds, the fastest.
#: A spell of a slower host can cover most of a benchmark's rounds (on the
#: 2-core VM, row_sums numba/column_streaming at n=16, F order, ran 90% of its
#: rounds at 2.4 us in one run and its fastest at 1.30 us, as in every other
#: run); with one run a side nothing averages it away, and the fastest round
#: is the one the spell left alone.  Over 380 ordered A/A pairs of 20 quick
#: runs, the 10% quantile flagged something in 42, the fastest round in 6.
ONE_RUN_Q = 0.0
#: Seconds per call from which a benchmark is heavy: few rounds, each long, so
#: it cannot outlast a busy spell and is judged among its own kind.
HEAVY = 2e-3
#: Fewest benchmarks a class needs for a null of its own (else it joins the others).
MIN_CLASS = 12
#: Fewest benchmarks for an empirical null at all; fewer: centre 1, spread SMALL_POOL.
MIN_POOL = 12
#: The pool's tail scale: this quantile of |r - centre| over the normal's.
TAIL_Q = 0.95
_TAIL_Z = float(stats.norm.isf((1 - TAIL_Q) / 2))
#: Smallest run-to-run spread (log ratio) ever assumed (the A/A pairs' MAD
#: of single-threaded benchmarks against their neighbours was 0.054 to 0.16).
FLOOR = 0.03
#: Spread assumed when too few benchmarks are compared to measure it: the
#: median tail scale of the single-threaded benchmarks over the A/A pairs.
SMALL_POOL = 0.27
#: A doubling must clear the cut-off by this many spreads (95% power) to be judged.
Z_POWER = 1.645
#: A benchmark whose pace (bench/pace.py) was slow on a side is judged on its
#: ratio less PACE_K x log(pace) of that side, with PACE_SD x that in its
#: uncertainty: seven kernels timed against the pace on the 2-core VM slowed
#: by 0.28 to 1.14 times the pace's log (0.8 typical).
PACE_K = 1.0
PACE_SD = 0.25
#: One run a side names no change smaller than this ratio against the
#: neighbours, whatever its significance: separate processes of identical code
#: moved a few benchmarks by up to 1.56x on the 2-core VM (outputs that a
#: kernel allocates land on a cache line in one process and not in the next).
ONE_RUN_MIN = 1.6

VERDICTS = ("worse", "accepted", "better", "noisy", "missing", "new", "unchanged")
METHOD_RUNS = "runs"
METHOD_NULL = "null"


# --------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Settings:
    """Thresholds, significance level and accepted slowdowns."""

    threshold: float = 0.10
    alpha: float = 0.01
    thresholds: dict[str, float] = field(default_factory=dict)
    accepted: dict[str, tuple[float, str]] = field(default_factory=dict)
    #: The count gate's (reports/instructions.py): a cost beyond 1 + this regresses.
    instructions_threshold: float = 0.01

    def threshold_for(self, kernel: str) -> float:
        return self.thresholds.get(kernel, self.threshold)


_TABLE = "[tool.vecbench.compare]"


def _number(path: Path, where: str, value: Any, low: float, *, low_open: bool = False,
            high: float | None = None) -> float:
    """``value`` as a finite float within the bounds, or a ReportError naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ReportError(f"{path}: {where} must be a number, not {type(value).__name__} "
                          f"{value!r}")
    v = float(value)
    bounds = (f"{'>' if low_open else '>='} {low:g}"
              + (f" and < {high:g}" if high is not None else ""))
    if (not math.isfinite(v) or v < low or (low_open and v == low)
            or (high is not None and v >= high)):
        raise ReportError(f"{path}: {where} = {value!r} must be finite and {bounds}")
    return v


def _table(path: Path, where: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ReportError(f"{path}: {where} must be a table, not {type(value).__name__}")
    return value


def settings_from(table: Any, path: str | Path = "pyproject.toml") -> Settings:
    """Check and read a ``[tool.vecbench.compare]`` table (as parsed from TOML).

    Raises
    ------
    ReportError
        One line naming ``path`` and the entry: a wrong type or nesting, a
        non-finite, negative or out-of-range number, an unknown key, an
        accepted entry that is not a table or lacks a field.
    """
    path = Path(path)
    table = _table(path, _TABLE, table)
    unknown = sorted(set(table) - {"threshold", "alpha", "thresholds", "accepted",
                                   "instructions_threshold"})
    if unknown:
        raise ReportError(f"{path}: {_TABLE} has unknown key {unknown[0]!r} (known: threshold, "
                          "alpha, thresholds, accepted, instructions_threshold)")
    instructions_threshold = _number(path, f"{_TABLE} instructions_threshold",
                                     table.get("instructions_threshold", 0.01), 0.0)
    threshold = _number(path, f"{_TABLE} threshold", table.get("threshold", 0.10), 0.0)
    alpha = _number(path, f"{_TABLE} alpha", table.get("alpha", 0.01), 0.0, low_open=True,
                    high=1.0)
    per_kernel = _table(path, "[tool.vecbench.compare.thresholds]",
                        table.get("thresholds", {}))
    thresholds = {str(k): _number(path, f"[tool.vecbench.compare.thresholds] {k}", v, 0.0)
                  for k, v in per_kernel.items()}
    entries = table.get("accepted", [])
    if not isinstance(entries, list):
        raise ReportError(f"{path}: tool.vecbench.compare.accepted must be an array of tables "
                          f"([[tool.vecbench.compare.accepted]]), not {type(entries).__name__}")
    accepted: dict[str, tuple[float, str]] = {}
    for i, entry in enumerate(entries):
        where = f"[[tool.vecbench.compare.accepted]] entry {i + 1}"
        if not isinstance(entry, dict):
            raise ReportError(f"{path}: {where} must be a table, not {type(entry).__name__}")
        extra = sorted(set(entry) - {"benchmark", "max_ratio", "reason"})
        if extra or not {"benchmark", "max_ratio", "reason"} <= set(entry):
            what = f"has unknown key {extra[0]!r}; it" if extra else ""
            raise ReportError(f"{path}: {where} {what} needs benchmark, max_ratio and reason"
                              .replace("  ", " "))
        name, reason = entry["benchmark"], entry["reason"]
        if not isinstance(name, str) or not name.strip():
            raise ReportError(f"{path}: {where}: benchmark must be a non-empty string")
        if not isinstance(reason, str) or not reason.strip():
            raise ReportError(f"{path}: accepted slowdown of {name} has no reason "
                              "(a non-empty string)")
        ratio = _number(path, f"{where} ({name}) max_ratio", entry["max_ratio"], 1.0,
                        low_open=True)
        if name in accepted:
            raise ReportError(f"{path}: {where}: {name} is accepted twice")
        accepted[name] = (ratio, reason)
    return Settings(threshold=threshold, alpha=alpha, thresholds=thresholds, accepted=accepted,
                    instructions_threshold=instructions_threshold)


def load_settings(pyproject: str | Path = "pyproject.toml") -> Settings:
    """Read ``[tool.vecbench.compare]``; defaults when the file or table is absent.

    Raises
    ------
    ReportError
        When the file cannot be read or parsed, or the table is malformed (one
        line naming the file and the entry; see :func:`settings_from`).
    """
    path = Path(pyproject)
    if not path.exists():
        return Settings()
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ReportError(f"{path}: not valid TOML ({exc})") from None
    node: Any = doc
    for i, part in enumerate(("tool", "vecbench", "compare")):
        if part not in node:
            return Settings()
        node = node[part]
        if i < 2:
            _table(path, ".".join(("tool", "vecbench")[: i + 1]), node)
    return settings_from(node, path)


# --------------------------------------------------------------------------
# Load
# --------------------------------------------------------------------------
def resolve(spec: str, storage: str | Path = ".benchmarks") -> list[Path]:
    """Run files named by ``spec``: a file, a folder of runs, or a saved run id.

    Raises
    ------
    ReportError
        When nothing matches, or a run id is ambiguous.
    """
    path = Path(spec)
    if path.is_dir():
        found = sorted(path.glob("*.json"))
        if not found:
            raise ReportError(f"{path}: folder holds no run files (*.json)")
        return found
    if path.exists() or spec.endswith(".json") or not spec:
        return [path]
    try:
        matches = sorted(Path(storage).glob(f"*/{spec}*.json"))
    except (ValueError, OSError):  # a pattern glob cannot take
        matches = []
    if len(matches) == 1:
        return matches
    if not matches:
        raise ReportError(f"{spec}: no such file, folder or saved run id under {storage}/")
    names = ", ".join(m.name for m in matches)
    raise ReportError(f"{spec}: run id is ambiguous under {storage}/: {names}")


def benchmark_id(t: Timing) -> str:
    """The benchmark's id as the suites name it.

    ``kernel-backend-variant-nSIZE-LAYOUT[-tN][-fresh]``: the suffix ``-fresh``
    marks the fresh allocator regime (every large block a fresh mapping).
    """
    suffix = f"-t{t.threads}" if t.threads > 1 else ""
    if getattr(t, "allocator", "undeclared") == "fresh":
        suffix += "-fresh"
    return f"{t.kernel}-{t.backend}-{t.variant}-n{t.size}-{t.layout}{suffix}"


def key_of(t: Timing) -> Key:
    """The comparison key: what must match for two timings to be compared."""
    return (t.kernel, t.backend, t.variant, t.size, t.layout, t.threads,
            getattr(t, "allocator", "undeclared"))


class Side(dict):
    """Per benchmark key: its id and the rounds of each run, in order.

    ``state`` holds, per key and run, why the machine's load disturbed that
    benchmark's rounds (:func:`reports.conditions.load_mark`), None when it
    did not, or the string ``"unknown"`` when the run recorded no state.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.state: dict[Key, list[str | None]] = {}
        #: Per key and run, the machine's pace around its rounds (1: at its best).
        self.pace: dict[Key, list[float]] = {}
        #: The fewest cores of the machines its runs were made on (None: not recorded).
        self.cores: int | None = None


def runs_of(paths: Sequence[Path]) -> Side:
    """Per benchmark, its id and the saved rounds of each run in ``paths``, in order.

    Raises
    ------
    ReportError
        When a file is unusable, or a benchmark was saved without its rounds
        (``--benchmark-save-data`` missing): no test is possible on it.
    """
    side = Side()
    for path in paths:
        side_of(load_run(path), side)
    return side


def _positive_time(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and value > 0)


def check_timing(path: Path | str, t: Timing) -> None:
    """Raise a one-line ReportError unless every time of ``t`` is finite and positive.

    Raises
    ------
    ReportError
        Naming the file, the benchmark and the field (``stats.data[i]``,
        ``stats.median`` ...).
    """
    name = benchmark_id(t)
    for what in ("median", "q1", "q3"):
        value = getattr(t, what)
        if not _positive_time(value):
            raise ReportError(f"{path}: {name}: stats.{what} = {value!r} is not a positive, "
                              "finite time")
    for i, value in enumerate(t.data or ()):
        if not _positive_time(value):
            raise ReportError(f"{path}: {name}: stats.data[{i}] = {value!r} is not a positive, "
                              "finite time (a round's seconds per call)")


def side_of(run: Run, side: Side | None = None) -> Side:
    """Add the steady-state benchmarks of an already loaded run to ``side``.

    Raises
    ------
    ReportError
        When a benchmark was saved without its rounds, has a time that is not
        positive and finite, or appears twice in the run.
    """
    side = Side() if side is None else side
    state = getattr(side, "state", {})
    seen: set[Key] = set()
    cores = run.cpu_count or 1
    if run.cpu_count:
        side.cores = min(side.cores or run.cpu_count, run.cpu_count)
    for t in run.steady:
        if not t.data:
            raise ReportError(
                f"{run.path}: {benchmark_id(t)} was saved without its rounds "
                "(run with --benchmark-save-data)")
        check_timing(run.path, t)
        key = key_of(t)
        if key in seen:
            raise ReportError(f"{run.path}: {benchmark_id(t)} appears twice in the run")
        seen.add(key)
        side.setdefault(key, (benchmark_id(t), []))[1].append(t.samples())
        # Without a recorded state the mark can still be a stalled calibration,
        # which shows in the rounds themselves.
        mark = conditions.load_mark(t, cores, pace=False)
        state.setdefault(key, []).append(mark or ("unknown" if t.other_cpu is None else None))
        side.pace.setdefault(key, []).append(conditions.pace_of(t))
    return side


# --------------------------------------------------------------------------
# Compute
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """One benchmark's verdict."""

    benchmark: str
    kernel: str
    verdict: str  # one of VERDICTS
    base: float | None = None  # median seconds per call
    new: float | None = None
    ratio: float | None = None
    low: float | None = None
    high: float | None = None
    p: float | None = None
    q: float | None = None  # Benjamini-Hochberg adjusted p-value
    note: str = ""
    method: str = ""  # METHOD_RUNS or METHOD_NULL ("" for new / missing)
    #: Empirical null only: the ratio the neighbours moved by, and the spread
    #: (log ratio) the benchmark was judged against.
    shift: float | None = None
    spread: float | None = None


def _verdict(ratio: float, significant: bool, threshold: float) -> str:
    if significant and ratio > 1 + threshold:
        return "worse"
    if significant and ratio < 1 / (1 + threshold):
        return "better"
    return "unchanged"


def bh_adjust(p: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values) of ``p``.

    ``q[i] <= alpha`` exactly for the tests the procedure rejects at false
    discovery rate ``alpha``.
    """
    p = np.asarray(p, dtype=np.float64)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p)
    scaled = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum.accumulate(scaled[::-1])[::-1]
    q = np.empty(m)
    q[order] = np.minimum(q_sorted, 1.0)
    return q


def by_rounds(base: np.ndarray, new: np.ndarray, seed: int = 0
              ) -> tuple[float, float, float, float]:
    """Rounds of one run a side: ratio of medians, bootstrap 95% interval, U test p-value.

    Not used for verdicts (rounds do not see between-run variation; see
    :func:`empirical_null`); kept for exploring a pair of runs by hand.
    """
    ratio = float(np.median(new) / np.median(base))
    rng = np.random.default_rng(seed)
    boot = bootstrap_medians(new, rng, BOOTSTRAP) / bootstrap_medians(base, rng, BOOTSTRAP)
    low, high = (float(v) for v in np.percentile(boot, [2.5, 97.5]))
    p = float(stats.mannwhitneyu(base, new, alternative="two-sided").pvalue)
    return ratio, low, high, p


#: From this many runs a side, the paired test trims the extreme log ratios
#: (Yuen's trimmed t-test, ``TRIM`` of them on each side): one pass disturbed
#: on one side otherwise widens the interval so much that a +34% slowdown
#: measured in the other passes was not significant (gate_check, 6 passes).
TRIM_FROM = 6
TRIM = 0.2


def by_runs(base: Sequence[float], new: Sequence[float]) -> tuple[float, float, float, float]:
    """Several runs a side: geometric-mean ratio of run medians, t interval, t-test p-value.

    Runs are paired in order (the passes of ``make ci-bench`` run side by
    side, so pairing cancels the machine's drift); with unequal counts the
    test is Welch's.  The p-value is one-sided, in the direction the ratio
    went: a slowdown and a speedup are each their own question at level
    ``alpha`` (only a slowdown fails the gate), which gives the few passes a
    gate can afford the power to see +25% (at 6 passes, t > 3.4 instead of
    t > 4.0 for p < 0.01).  From ``TRIM_FROM`` pairs on, the paired test is
    Yuen's: the mean of the log ratios trimmed by ``TRIM`` on each side, its
    standard error from the winsorized ones, on ``h - 1`` degrees of freedom
    (``h`` the pairs kept), so one disturbed pass neither makes nor hides a
    verdict.

    Raises
    ------
    ValueError
        When a side has fewer than two runs: one run is not "runs" (use
        :func:`empirical_null`).
    """
    a, b = np.log(np.asarray(base, dtype=np.float64)), np.log(np.asarray(new, dtype=np.float64))
    if a.size < 2 or b.size < 2:
        raise ValueError(f"the runs test needs at least two runs a side, not {a.size} and "
                         f"{b.size}")
    if a.size == b.size:
        d = b - a
        g = int(TRIM * d.size) if d.size >= TRIM_FROM else 0
        kept = np.sort(d)[g:d.size - g]
        winsorized = np.clip(d, kept[0], kept[-1])
        mean, df = kept.mean(), kept.size - 1
        se = np.sqrt((d.size - 1) * winsorized.var(ddof=1) / (kept.size * (kept.size - 1)))
    else:
        va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
        mean, se = b.mean() - a.mean(), np.sqrt(va + vb)
        df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1)) if se > 0 else 1
    if se == 0:
        p = 0.0 if mean != 0 else 1.0
        half = 0.0
    else:
        p = float(stats.t.sf(abs(mean) / se, df))
        half = float(stats.t.ppf(0.975, df) * se)
    return float(np.exp(mean)), float(np.exp(mean - half)), float(np.exp(mean + half)), p


def _mad(x: np.ndarray) -> float:
    """The median absolute deviation scaled to a normal's standard deviation."""
    return float(1.4826 * np.median(np.abs(x - np.median(x))))


def median_se(rounds: np.ndarray) -> float:
    """Standard error of the median of the log rounds (robust: MAD-based)."""
    logs = np.log(np.asarray(rounds, dtype=np.float64))
    return 1.2533 * _mad(logs) / math.sqrt(logs.size)


def bonferroni_z(alpha: float, m: int) -> float:
    """The two-sided normal cut-off of ``m`` tests at family-wise level ``alpha``."""
    return float(stats.norm.isf(alpha / (2 * max(m, 1))))


@dataclass(frozen=True)
class Null:
    """The empirical null of each benchmark: where its log ratio would lie unchanged."""

    centre: np.ndarray  # log ratio its neighbours moved by
    spread: np.ndarray  # run-to-run spread (log), own rounds' uncertainty included
    z: np.ndarray
    p: np.ndarray  # two-sided


def _neighbours(n: int) -> np.ndarray:
    """Per position of ``n`` in run order, the indices of its ``2 * NEIGHBOURS``
    nearest others (fewer when ``n`` is small): centred, shifted inward at the ends."""
    k = min(NEIGHBOURS, (n - 1) // 2)
    start = np.clip(np.arange(n) - k, 0, max(n - 2 * k - 1, 0))
    window = start[:, None] + np.arange(2 * k + 1)[None, :]
    others = window[window != np.arange(n)[:, None]].reshape(n, 2 * k)
    return others


def empirical_null(r: np.ndarray, own: np.ndarray, classes: Sequence[object],
                   in_pool: np.ndarray | None = None) -> Null:
    """Judge each log ratio ``r[i]`` against the benchmarks around it (run order).

    Parameters
    ----------
    r
        Log ratios NEW/BASE of the benchmarks' times, in run order.
    own
        Each benchmark's own uncertainty of ``r`` (its rounds: the two
        medians' standard errors combined).
    classes
        Each benchmark's class; a benchmark's neighbours are taken from its
        class when the class has at least ``MIN_CLASS`` members (the classes
        with fewer are pooled).
    in_pool
        Which benchmarks make the null (all when None); the others are judged
        against the neighbours of the nearest one that does.

    Returns
    -------
    Null
        Per benchmark: centre (median of its neighbours), spread and the
        two-sided normal z and p-value.  The spread is the largest of the
        neighbours' MAD, the pool's MAD of ``r - centre``, the pool's tail
        scale (the ``TAIL_Q`` quantile of ``|r - centre|`` over the normal's)
        and ``FLOOR``, widened by ``own``.
    """
    r = np.asarray(r, dtype=np.float64)
    own = np.asarray(own, dtype=np.float64)
    m = r.size
    member = np.ones(m, dtype=bool) if in_pool is None else np.asarray(in_pool, dtype=bool)
    centre, local = np.zeros(m), np.full(m, SMALL_POOL)
    groups: dict[object, list[int]] = {}
    for i, c in enumerate(classes):
        groups.setdefault(c, []).append(i)
    small = [i for idx in groups.values() if len(idx) < MIN_CLASS for i in idx]
    pools = [idx for idx in groups.values() if len(idx) >= MIN_CLASS]
    if small:
        pools.append(sorted(small))
    for idx in pools:
        made = [i for i in idx if member[i]]
        if len(made) < MIN_POOL:
            continue  # too few to measure a null: centre 0, spread SMALL_POOL
        x = r[made]
        window = _neighbours(x.size)
        hood = x[window]
        cen = np.median(hood, axis=1)
        loc = 1.4826 * np.median(np.abs(hood - np.median(hood, axis=1, keepdims=True)), axis=1)
        dev = x - cen
        pool = max(_mad(dev), float(np.quantile(np.abs(dev), TAIL_Q)) / _TAIL_Z)
        centre[made], local[made] = cen, np.maximum(np.maximum(loc, pool), FLOOR)
        others = [i for i in idx if not member[i]]
        if others:
            # The member nearest in run order lends its neighbours.
            nearest = np.abs(np.asarray(others)[:, None] - np.asarray(made)[None, :]).argmin(1)
            hood = x[np.concatenate([window[nearest], nearest[:, None]], axis=1)]
            centre[others] = np.median(hood, axis=1)
            spread = 1.4826 * np.median(np.abs(hood - np.median(hood, axis=1, keepdims=True)),
                                        axis=1)
            local[others] = np.maximum(np.maximum(spread, pool), FLOOR)
    spread = np.sqrt(local**2 + own**2)
    z = (r - centre) / spread
    return Null(centre, spread, z, 2 * stats.norm.sf(np.abs(z)))


def _median_of(runs: list[np.ndarray]) -> float:
    return float(np.median([np.median(x) for x in runs]))


def _fast_of(runs: list[np.ndarray], q: float = LOW_Q) -> float:
    """The ``q`` quantile of each run's rounds, median over the runs."""
    return float(np.median([np.quantile(x, q) for x in runs]))


def _one_run_of(runs: list[np.ndarray]) -> float:
    """The one-run statistic: the ``ONE_RUN_Q`` quantile of the rounds (median over runs)."""
    return _fast_of(runs, ONE_RUN_Q)


def _class(key: Key, base_seconds: float) -> tuple[bool, bool, str]:
    """Multi-threaded?  Heavy (few, long rounds)?  Allocator regime."""
    return (key[5] > 1, base_seconds >= HEAVY, key[6])


def compare(base: Side, new: Side, settings: Settings) -> list[Row]:
    """A row per benchmark on either side, regressions first, worst ratio first.

    Benchmarks with at least two runs on both sides are tested by the runs
    (:func:`by_runs`); the others by the empirical null (:func:`empirical_null`)
    of the benchmarks so compared, in the base's run order.
    """
    rows: list[Row] = []
    by_runs_rows: list[Row] = []
    null_keys: list[Key] = []
    for key in list(base) + [k for k in new if k not in base]:
        kernel = key[0]
        if key not in new:
            rows.append(Row(base[key][0], kernel, "missing", base=_median_of(base[key][1])))
            continue
        if key not in base:
            rows.append(Row(new[key][0], kernel, "new", new=_median_of(new[key][1])))
            continue
        name, a = base[key]
        _, b = new[key]
        if len(a) > 1 and len(b) > 1:
            ratio, low, high, p = by_runs([np.quantile(x, LOW_Q) for x in a],
                                          [np.quantile(x, LOW_Q) for x in b])
            by_runs_rows.append(Row(name, kernel, "unchanged", _fast_of(a), _fast_of(b),
                                    ratio, low, high, p, method=METHOD_RUNS))
        else:
            null_keys.append(key)
    # A disturbed benchmark is left out of the null: its ratio measures the
    # machine, and a spell of a slower machine would widen every other's spread.
    why = {k: _disturbed(base, new, k) for k in null_keys}
    for k in null_keys:
        if why[k] is not None:
            a, b = _one_run_of(base[k][1]), _one_run_of(new[k][1])
            rows.append(Row(base[k][0], k[0], "noisy", a, b, b / a,
                            note=f"too noisy to judge in one run: {why[k]}", method=METHOD_NULL))
    null_keys = [k for k in null_keys if why[k] is None]
    null_rows: list[Row] = []
    if null_keys:
        fast_a = np.array([_one_run_of(base[k][1]) for k in null_keys])
        bias = np.array([(_pace_bias(base, k), _pace_bias(new, k)) for k in null_keys])
        null_rows = null_rows_of(
            [base[k][0] for k in null_keys], [k[0] for k in null_keys], fast_a,
            np.array([_one_run_of(new[k][1]) for k in null_keys]),
            np.array([math.hypot(median_se(np.concatenate(base[k][1])),
                                 median_se(np.concatenate(new[k][1]))) for k in null_keys]),
            [_class(k, a) for k, a in zip(null_keys, fast_a, strict=True)], bias)
    rows += judge(by_runs_rows, settings) + judge(null_rows, settings)
    order = {v: i for i, v in enumerate(VERDICTS)}
    rows.sort(key=lambda r: (order[r.verdict], -(r.ratio or 0.0), r.benchmark))
    return rows


def _pace_bias(side: Side, key: Key) -> float:
    """The log time a slower machine may have added to ``key`` on ``side``:
    ``PACE_K`` x log of its pace where that was slow (0 where it was not)."""
    pace = float(np.median(getattr(side, "pace", {}).get(key, [1.0])))
    return PACE_K * math.log(pace) if pace > conditions.PACE_SLOW else 0.0


def null_rows_of(names: Sequence[str], kernels: Sequence[str], base: np.ndarray,
                 new: np.ndarray, own: np.ndarray, classes: Sequence[object],
                 bias: np.ndarray | None = None) -> list[Row]:
    """Rows (not yet judged) of benchmarks compared one run a side, in run order.

    ``base`` and ``new`` are the one-run statistic (:data:`ONE_RUN_Q`) of each
    benchmark's rounds, ``own`` the uncertainty of their log ratio from the
    rounds, ``classes`` as for :func:`empirical_null`.  ``bias``: per
    benchmark, the log time a slower machine may have added on the base and on
    the new side (:func:`_pace_bias`); a slowdown is judged less the new
    side's, a speed-up less the base side's (never past no change), a share
    ``PACE_SD`` of it added to the uncertainty, and such a benchmark is judged
    against the null without being part of it.
    """
    measured = np.log(np.asarray(new) / np.asarray(base))
    bias = np.zeros((measured.size, 2)) if bias is None else np.asarray(bias, dtype=np.float64)
    # Only ever towards no change: a slower machine on the new side may explain
    # a slowdown, on the base side a speed-up; never the other way round.
    taken = np.where(measured > 0, bias[:, 1], bias[:, 0])
    r = np.sign(measured) * np.maximum(np.abs(measured) - taken, 0.0)
    paced = bias.any(axis=1)
    null = empirical_null(r, np.hypot(own, PACE_SD * taken), classes, ~paced)
    half = 1.96 * null.spread
    return [Row(name, kernel, "unchanged", float(base[i]), float(new[i]), float(np.exp(r[i])),
                float(np.exp(r[i] - half[i])), float(np.exp(r[i] + half[i])), float(null.p[i]),
                note=(f"ratio {np.exp(measured[i]):.3f} as measured; the machine ran "
                      f"{np.exp(bias[i, 0]):.2f}x (base) and {np.exp(bias[i, 1]):.2f}x (new) "
                      f"slower than its best around it" if paced[i] else ""),
                method=METHOD_NULL, shift=float(np.exp(null.centre[i])),
                spread=float(null.spread[i]))
            for i, (name, kernel) in enumerate(zip(names, kernels, strict=True))]


def _disturbed(base: Side, new: Side, key: Key) -> str | None:
    """Why one run a side cannot judge ``key``: its rounds were disturbed by the
    machine's load on either side, or it is multi-threaded and a side recorded
    no state or it asks for every core (one descheduled thread stalls the
    others)."""
    marks = [m for side in (base, new)
             for m in getattr(side, "state", {}).get(key, ["unknown"])]
    known = [m for m in marks if m not in (None, "unknown")]
    if known:
        return f"disturbed during its rounds: {known[0]}"
    if key[5] > 1 and ("unknown" in marks or not marks):
        return ("multi-threaded, and the machine's state was not recorded: one descheduled "
                "thread stalls the others (A/A runs on a shared 2-core machine differed by "
                "up to 6500x)")
    cores = [c for c in (getattr(base, "cores", None), getattr(new, "cores", None)) if c]
    if key[5] > 1 and cores and key[5] >= min(cores):
        return (f"its {key[5]} threads take every core of the machine ({min(cores)}): "
                "anything else that runs a moment stalls one and the others wait (separate "
                "quiet runs of identical code moved such benchmarks by up to 2.8x)")
    return None


def judge(group: list[Row], settings: Settings) -> list[Row]:
    """Verdicts of one method's rows: Benjamini-Hochberg over the group, then
    :func:`_judge`."""
    if not group:
        return []
    qs = bh_adjust([r.p for r in group])
    cut = bonferroni_z(settings.alpha, len(group))
    return [_judge(r, float(q), settings, cut)
            for r, q in zip(group, qs, strict=True)]


def _judge(r: Row, q: float, settings: Settings, cut: float) -> Row:
    threshold = settings.threshold_for(r.kernel)
    significant = q <= settings.alpha
    assert r.ratio is not None
    verdict = _verdict(r.ratio, significant, threshold)
    note = ""
    if r.method == METHOD_NULL:
        assert r.shift is not None and r.spread is not None
        relative = r.ratio / r.shift  # against what its neighbours did
        if _verdict(relative, significant, threshold) != verdict:
            verdict = "unchanged"
        if verdict in ("worse", "better") and abs(math.log(relative)) < math.log(ONE_RUN_MIN):
            verdict = "unchanged"
        if verdict == "unchanged" and math.log(2) < (cut + Z_POWER) * r.spread:
            verdict = "noisy"
            note = (f"too noisy to judge in one run: runs here differ by "
                    f"+-{math.expm1(r.spread):.0%} (1 sd), a 2x would not stand out")
    if verdict == "worse" and r.benchmark in settings.accepted:
        allowed, reason = settings.accepted[r.benchmark]
        if r.ratio <= allowed:
            verdict, note = "accepted", f"accepted up to {allowed:g}x: {reason}"
        else:
            note = f"beyond the accepted {allowed:g}x"
    note = "; ".join(n for n in (note, r.note) if n)
    return Row(r.benchmark, r.kernel, verdict, r.base, r.new, r.ratio, r.low, r.high, r.p, q,
               note, r.method, r.shift, r.spread)


# --------------------------------------------------------------------------
# Write
# --------------------------------------------------------------------------
def _time(seconds: float | None) -> str:
    if seconds is None:
        return ""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def markdown(rows: list[Row], settings: Settings, method: str | None = None) -> str:
    """The table and the one-line verdict (``method`` is ignored: each row carries its own)."""
    lines = [
        "| benchmark | base | new | new/base [95% CI] | neighbours moved | p | q (BH) | verdict |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        ratio = ("" if r.ratio is None else f"{r.ratio:.3f}" if r.low is None or r.high is None
                 else f"{r.ratio:.3f} [{r.low:.3f}, {r.high:.3f}]")
        shift = "" if r.shift is None else f"{r.shift:.3f}"
        p = "" if r.p is None else f"{r.p:.2g}"
        q = "" if r.q is None else f"{r.q:.2g}"
        verdict = r.verdict + (f" ({r.note})" if r.note else "")
        lines.append(f"| {r.benchmark} | {_time(r.base)} | {_time(r.new)} | {ratio} | {shift} "
                     f"| {p} | {q} | {verdict} |")
    lines += ["", verdict_line(rows, settings)]
    return "\n".join(lines)


def verdict_line(rows: list[Row], settings: Settings, method: str | None = None) -> str:
    """One line: the verdict, how it was decided and what that means."""
    counts = {v: sum(r.verdict == v for r in rows) for v in VERDICTS}
    compared = sum(counts[v] for v in ("worse", "accepted", "better", "noisy", "unchanged"))
    tail = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    n_runs = sum(r.method == METHOD_RUNS for r in rows)
    n_null = sum(r.method == METHOD_NULL for r in rows)
    per_kernel = " (per-kernel thresholds apply)" if settings.thresholds else ""
    methods = []
    if n_runs:
        methods.append(
            f"several runs a side for {n_runs}: paired t-test of the runs' fast rounds "
            f"({LOW_Q:.0%} quantile), "
            f"significant at FDR {settings.alpha:g} (Benjamini-Hochberg over {n_runs}) "
            f"and beyond +{settings.threshold:.0%}{per_kernel}")
    if n_null:
        methods.append(
            f"one run a side for {n_null}: empirical null of the fastest rounds, i.e. "
            f"slower than +"
            f"{settings.threshold:.0%}{per_kernel} and far outside how much the "
            f"{2 * NEIGHBOURS} benchmarks around it moved between these two runs (FDR "
            f"{settings.alpha:g}, Benjamini-Hochberg over {n_null}); a first look: a "
            "slowdown shared by its neighbours, or hidden in run-to-run noise, is not "
            "seen (make ci-bench is the gate)")
    rule = "; ".join(methods) or "nothing compared"
    judged = compared - counts["noisy"]
    noisy = (f" ({counts['noisy']} of {compared} too noisy to judge in one run)"
             if counts["noisy"] else "")
    if counts["worse"]:
        worst = max((r for r in rows if r.verdict == "worse"), key=lambda r: r.ratio or 0)
        return (f"REGRESSION: {counts['worse']} of {judged} benchmarks judged slower{noisy}, "
                f"worst {worst.benchmark} {worst.ratio:.2f}x; method: {rule} ({tail})")
    return f"OK: no regression among {judged} benchmarks judged{noisy}; method: {rule} ({tail})"


def _run(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports.compare",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("base", help="saved run id, run file or folder of runs")
    parser.add_argument("new", help="saved run id, run file or folder of runs")
    parser.add_argument("--storage", default=".benchmarks", help="where saved run ids live")
    parser.add_argument("--config", default="pyproject.toml", help="settings file")
    parser.add_argument("--out", help="also write the Markdown to this file")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else 2
    try:
        settings = load_settings(args.config)
        base_paths = resolve(args.base, args.storage)
        new_paths = resolve(args.new, args.storage)
        from reports import instructions  # instruction-count runs: the count gate

        if any(map(instructions.is_instruction_run, [*base_paths, *new_paths])):
            return instructions.gate(base_paths, new_paths, settings, args.out)
        base, new = runs_of(base_paths), runs_of(new_paths)
    except ReportError as exc:
        # One line whatever the message quotes (a kernel name in pyproject.toml
        # may hold a carriage return).
        print(f"error: {_one_line(str(exc), limit=2000)}", file=sys.stderr)
        return 2
    if not set(base) & set(new):
        print("error: the two sides share no benchmark", file=sys.stderr)
        return 2
    rows = compare(base, new, settings)
    text = markdown(rows, settings)
    print(text)
    if args.out:
        try:
            Path(args.out).write_text(text + "\n")
        except OSError as exc:
            print(f"error: {args.out}: cannot be written: {exc.strerror or exc}",
                  file=sys.stderr)
            return 2
    return 1 if any(r.verdict == "worse" for r in rows) else 0


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; return 0 (no regression), 1 (regression), 2 (unusable input).

    Never raises and never prints a traceback: an interrupt returns 130 after
    one line; anything unexpected is reported in one line and returns 2.
    """
    try:
        return _run(argv)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"error: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

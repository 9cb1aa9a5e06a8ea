"""``python -m reports.compare BASE NEW``: did a change make any kernel slower?

For every steady-state benchmark present on both sides: the ratio NEW/BASE
of the times, a 95% interval and a test of significance.  A benchmark is a
regression only when the change is both significant and beyond the threshold
(ratio above ``1 + threshold``; 10% by default, settable per kernel).
Significance is decided over all benchmarks together, with the
Benjamini-Hochberg procedure at false discovery rate ``alpha``: with a few
hundred benchmarks, a per-benchmark ``p < alpha`` would let chance flag one
of them in most runs of unchanged code (it did, in the A/A runs that set
this method), while a change that slows a kernel shows at many sizes at once
and keeps its power.  A slowdown that was decided on is accepted through an entry in
``pyproject.toml`` naming the benchmark, the ratio allowed and the reason; the
statistics themselves are never loosened.

BASE and NEW are each a saved run id (``0003``, as under ``.benchmarks/``), a
run file, or a folder of run files.  How the test is made depends on what is
given, because on a shared machine a whole process is the unit that varies
(placement of arrays in memory, neighbours, frequency), not a round:

- several runs on each side (the interleaved passes of ``make ci-bench``):
  one median per run; a paired t-test on the log ratios of runs taken side by
  side (a Welch test when the counts differ), the interval from the same t
  distribution.  This is the gate CI uses.
- one run on a side: the saved rounds of each benchmark, a Mann-Whitney U
  test and a bootstrap interval.  Between-process variation is not seen this
  way, so the verdict says so; treat it as a first look, not a gate.

Exit status: 1 when any benchmark regressed, 0 otherwise, 2 on unusable input.

Settings (``pyproject.toml``)::

    [tool.vecbench.compare]
    threshold = 0.10          # default for every kernel
    alpha = 0.01              # false discovery rate (Benjamini-Hochberg)
    [tool.vecbench.compare.thresholds]
    matmul = 0.15             # per kernel
    [[tool.vecbench.compare.accepted]]
    benchmark = "magnitude-numpy-vectorized-n1000000-C"
    max_ratio = 1.3
    reason = "why the slowdown is the right trade (reviewed in PR #...)"
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from reports.compute import bootstrap_medians
from reports.load import ReportError, Run, Timing, load_run

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

Key = tuple[str, str, str, int, str, int]  # kernel, backend, variant, size, layout, threads
BOOTSTRAP = 2000


@dataclass(frozen=True)
class Settings:
    """Thresholds, significance level and accepted slowdowns."""

    threshold: float = 0.10
    alpha: float = 0.01
    thresholds: dict[str, float] = field(default_factory=dict)
    accepted: dict[str, tuple[float, str]] = field(default_factory=dict)

    def threshold_for(self, kernel: str) -> float:
        return self.thresholds.get(kernel, self.threshold)


def load_settings(pyproject: str | Path = "pyproject.toml") -> Settings:
    """Read ``[tool.vecbench.compare]``; defaults when the file or table is absent.

    Raises
    ------
    ReportError
        When the table is malformed (a line naming the file and the entry).
    """
    path = Path(pyproject)
    if not path.is_file():
        return Settings()
    try:
        table = tomllib.loads(path.read_text())["tool"]["vecbench"]["compare"]
    except KeyError:
        return Settings()
    except tomllib.TOMLDecodeError as exc:
        raise ReportError(f"{path}: not valid TOML ({exc})") from None
    accepted = {}
    for i, entry in enumerate(table.get("accepted", [])):
        try:
            accepted[str(entry["benchmark"])] = (float(entry["max_ratio"]), str(entry["reason"]))
        except (KeyError, TypeError, ValueError):
            raise ReportError(
                f"{path}: [[tool.vecbench.compare.accepted]] entry {i + 1} needs "
                "benchmark, max_ratio and reason") from None
        if not entry["reason"].strip():
            raise ReportError(f"{path}: accepted slowdown of {entry['benchmark']} has no reason")
    try:
        return Settings(
            threshold=float(table.get("threshold", 0.10)),
            alpha=float(table.get("alpha", 0.01)),
            thresholds={k: float(v) for k, v in table.get("thresholds", {}).items()},
            accepted=accepted,
        )
    except (TypeError, ValueError) as exc:
        raise ReportError(f"{path}: [tool.vecbench.compare] {exc}") from None


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
    if path.exists() or spec.endswith(".json"):
        return [path]
    matches = sorted(Path(storage).glob(f"*/{spec}*.json"))
    if len(matches) == 1:
        return matches
    if not matches:
        raise ReportError(f"{spec}: no such file, folder or saved run id under {storage}/")
    names = ", ".join(m.name for m in matches)
    raise ReportError(f"{spec}: run id is ambiguous under {storage}/: {names}")


def benchmark_id(t: Timing) -> str:
    """The benchmark's id as the suites name it (``kernel-backend-variant-nSIZE-LAYOUT[-tN]``)."""
    suffix = f"-t{t.threads}" if t.threads > 1 else ""
    return f"{t.kernel}-{t.backend}-{t.variant}-n{t.size}-{t.layout}{suffix}"


Side = dict[Key, tuple[str, list[np.ndarray]]]


def runs_of(paths: Sequence[Path]) -> Side:
    """Per benchmark, its id and the saved rounds of each run in ``paths``, in order.

    Raises
    ------
    ReportError
        When a file is unusable, or a benchmark was saved without its rounds
        (``--benchmark-save-data`` missing): no test is possible on it.
    """
    side: Side = {}
    for path in paths:
        side_of(load_run(path), side)
    return side


def side_of(run: Run, side: Side | None = None) -> Side:
    """Add the steady-state benchmarks of an already loaded run to ``side``.

    Raises
    ------
    ReportError
        When a benchmark was saved without its rounds.
    """
    side = {} if side is None else side
    for t in run.steady:
        if not t.data:
            raise ReportError(
                f"{run.path}: {benchmark_id(t)} was saved without its rounds "
                "(run with --benchmark-save-data)")
        key = (t.kernel, t.backend, t.variant, t.size, t.layout, t.threads)
        side.setdefault(key, (benchmark_id(t), []))[1].append(t.samples())
    return side


# --------------------------------------------------------------------------
# Compute
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """One benchmark's verdict."""

    benchmark: str
    kernel: str
    verdict: str  # "worse", "better", "unchanged", "accepted", "new", "missing"
    base: float | None = None  # median seconds per call
    new: float | None = None
    ratio: float | None = None
    low: float | None = None
    high: float | None = None
    p: float | None = None
    q: float | None = None  # Benjamini-Hochberg adjusted p-value
    note: str = ""


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
    """One run a side: ratio of medians, bootstrap 95% interval, U test p-value."""
    ratio = float(np.median(new) / np.median(base))
    rng = np.random.default_rng(seed)
    boot = bootstrap_medians(new, rng, BOOTSTRAP) / bootstrap_medians(base, rng, BOOTSTRAP)
    low, high = (float(v) for v in np.percentile(boot, [2.5, 97.5]))
    p = float(stats.mannwhitneyu(base, new, alternative="two-sided").pvalue)
    return ratio, low, high, p


def by_runs(base: Sequence[float], new: Sequence[float]) -> tuple[float, float, float, float]:
    """Several runs a side: geometric-mean ratio of run medians, t interval, t-test p-value.

    Runs are paired in order (the passes of ``make ci-bench`` run side by
    side, so pairing cancels the machine's drift); with unequal counts the
    test is Welch's.
    """
    a, b = np.log(np.asarray(base)), np.log(np.asarray(new))
    if a.size == b.size:
        d = b - a
        mean, se, df = d.mean(), d.std(ddof=1) / np.sqrt(d.size), d.size - 1
    else:
        va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
        mean, se = b.mean() - a.mean(), np.sqrt(va + vb)
        df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1)) if se > 0 else 1
    if se == 0:
        p = 0.0 if mean != 0 else 1.0
        half = 0.0
    else:
        p = float(2 * stats.t.sf(abs(mean) / se, df))
        half = float(stats.t.ppf(0.975, df) * se)
    return float(np.exp(mean)), float(np.exp(mean - half)), float(np.exp(mean + half)), p


def _median_of(runs: list[np.ndarray]) -> float:
    return float(np.median([np.median(r) for r in runs]))


def compare(base: Side, new: Side, settings: Settings) -> list[Row]:
    """A row per benchmark on either side, regressions first, worst ratio first."""
    rows: list[Row] = []
    tested = []
    for key in sorted(set(base) | set(new)):
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
            ratio, low, high, p = by_runs([np.median(r) for r in a], [np.median(r) for r in b])
        else:
            ratio, low, high, p = by_rounds(np.concatenate(a), np.concatenate(b))
        tested.append(Row(name, kernel, "unchanged", _median_of(a), _median_of(b),
                          ratio, low, high, p))
    qs = bh_adjust([r.p for r in tested])
    for r, q in zip(tested, qs, strict=True):
        verdict = _verdict(r.ratio, q <= settings.alpha, settings.threshold_for(r.kernel))
        note = ""
        if verdict == "worse" and r.benchmark in settings.accepted:
            allowed, reason = settings.accepted[r.benchmark]
            if r.ratio <= allowed:
                verdict, note = "accepted", f"accepted up to {allowed:g}x: {reason}"
            else:
                note = f"beyond the accepted {allowed:g}x"
        rows.append(Row(r.benchmark, r.kernel, verdict, r.base, r.new, r.ratio, r.low, r.high,
                        r.p, float(q), note))
    order = {"worse": 0, "accepted": 1, "better": 2, "missing": 3, "new": 4, "unchanged": 5}
    rows.sort(key=lambda r: (order[r.verdict], -(r.ratio or 0.0), r.benchmark))
    return rows


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


def markdown(rows: list[Row], settings: Settings, method: str = "runs") -> str:
    """The table and the one-line verdict."""
    lines = [
        "| benchmark | base | new | new/base [95% CI] | p | q (BH) | verdict |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        ratio = "" if r.ratio is None else f"{r.ratio:.3f} [{r.low:.3f}, {r.high:.3f}]"
        p = "" if r.p is None else f"{r.p:.2g}"
        q = "" if r.q is None else f"{r.q:.2g}"
        verdict = r.verdict + (f" ({r.note})" if r.note else "")
        lines.append(f"| {r.benchmark} | {_time(r.base)} | {_time(r.new)} | {ratio} | {p} "
                     f"| {q} | {verdict} |")
    lines += ["", verdict_line(rows, settings, method)]
    return "\n".join(lines)


def verdict_line(rows: list[Row], settings: Settings, method: str = "runs") -> str:
    counts = {v: sum(r.verdict == v for r in rows)
              for v in ("worse", "accepted", "better", "unchanged", "new", "missing")}
    compared = counts["worse"] + counts["accepted"] + counts["better"] + counts["unchanged"]
    tail = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    rule = (f"significant at FDR {settings.alpha:g} (Benjamini-Hochberg over {compared}) "
            f"and beyond +{settings.threshold:.0%}"
            + (" (per-kernel thresholds apply)" if settings.thresholds else ""))
    if method == "rounds":
        rule += "; one run a side: rounds only, between-run variation unseen"
    if counts["worse"]:
        worst = max((r for r in rows if r.verdict == "worse"), key=lambda r: r.ratio or 0)
        return (f"REGRESSION: {counts['worse']} of {compared} benchmarks slower, {rule}; "
                f"worst {worst.benchmark} {worst.ratio:.2f}x ({tail})")
    return f"OK: no regression among {compared} benchmarks, {rule} ({tail})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports.compare",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("base", help="saved run id, run file or folder of runs")
    parser.add_argument("new", help="saved run id, run file or folder of runs")
    parser.add_argument("--storage", default=".benchmarks", help="where saved run ids live")
    parser.add_argument("--config", default="pyproject.toml", help="settings file")
    parser.add_argument("--out", help="also write the Markdown to this file")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
        base_paths = resolve(args.base, args.storage)
        new_paths = resolve(args.new, args.storage)
        base, new = runs_of(base_paths), runs_of(new_paths)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not set(base) & set(new):
        print("error: the two sides share no benchmark", file=sys.stderr)
        return 2
    rows = compare(base, new, settings)
    method = "runs" if len(base_paths) > 1 and len(new_paths) > 1 else "rounds"
    text = markdown(rows, settings, method)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    return 1 if any(r.verdict == "worse" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())

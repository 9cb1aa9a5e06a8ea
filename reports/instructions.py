"""Instruction-count runs (bench/instructions.py): read them, gate on them, render them.

A run of the instruction mode holds, per benchmark, what callgrind counted
over its calls (instructions, simulated cache misses) and the estimated cost
per call, ``Ir + 10 x (I1mr + D1mr + D1mw) + 100 x (ILmr + DLmr + DLmw)``
(bench.callgrind.COST_FORMULA).  Its top-level ``vecbench.mode`` is
``"instructions"``; it holds no times, so the wall-clock report draws
nothing from it.

The count gate (:func:`gate`, what ``python -m reports.compare BASE NEW``
does with two instruction runs, and ``python -m reports.ci_bench --mode
instructions``): for every benchmark on both sides, the ratio NEW/BASE of
the cost per call.  Counts of identical code are identical (or within the
tolerance measured and stated in the README), so there is no statistics: a
benchmark whose cost grows beyond ``instructions_threshold`` (1% by default,
``[tool.vecbench.compare]`` in ``pyproject.toml``) is a regression, exit 1;
one that shrinks as much is better.  The ``[[tool.vecbench.compare.accepted]]``
entries apply as in the wall-clock gate (the benchmark id, the ratio allowed,
the reason).  Two runs counted under different conditions (simulated caches,
cost weights, the pinned environment) are not compared (exit 2); different
library versions are said beside the verdict.  A side of several runs takes
each benchmark's median cost and says how far its runs differ.

``python -m reports.instructions RUN.json ... [--out DIR]`` renders runs as a
short report (``summary.md`` and ``index.html``): a line saying it is an
instruction-count run, and the counts per call.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import callgrind
from reports import write
from reports.compare import Settings
from reports.load import ReportError, _Fields, _read_json
from reports.tables import Table

MODE = "instructions"
VERDICTS = ("worse", "accepted", "better", "missing", "new", "unchanged")
#: What must be equal for two runs' counts to be comparable.
CONDITIONS = ("caches", "cost", "environment")


@dataclass(frozen=True)
class Count:
    """One benchmark of an instruction run: counts over its calls, cost per call."""

    benchmark: str
    kernel: str
    backend: str
    variant: str
    size: int
    layout: str
    calls: int
    counts: dict[str, int]

    @property
    def cost(self) -> float:
        """Estimated cost per call (bench.callgrind.cost)."""
        return callgrind.cost(self.counts) / self.calls

    def per_call(self, events: Sequence[str]) -> float:
        return sum(self.counts[e] for e in events) / self.calls


@dataclass
class CountRun:
    """One instruction-count run, checked."""

    path: Path
    commit: str  # short id, "+dirty" when the tree had changes
    date: str
    machine: str
    counts: dict[str, Count]
    absent: list[tuple[str, str, str]]  # benchmark, reason, detail
    conditions: dict[str, Any]  # caches, cost, environment: must match to compare
    versions: dict[str, str] = field(default_factory=dict)  # libraries, valgrind, build flags

    @property
    def label(self) -> str:
        return f"{self.path.name} ({self.commit})"


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------
def mode_of(path: str | Path) -> str:
    """A run file's ``vecbench.mode`` (``"wall-clock"`` when it has none or cannot be read)."""
    try:
        raw = json.loads(Path(path).read_bytes())
    except (OSError, ValueError, RecursionError):
        return "wall-clock"
    top = raw.get("vecbench") if isinstance(raw, dict) else None
    mode = top.get("mode") if isinstance(top, dict) else None
    return mode if isinstance(mode, str) else "wall-clock"


def is_instruction_run(path: str | Path) -> bool:
    """Whether ``path`` is an instruction-count run (False for anything else)."""
    return mode_of(path) == MODE


def _counts(info: _Fields) -> dict[str, int]:
    counts = info.sub("counts")
    return {e: counts.integer(e, low=0, high=2**63) for e in callgrind.EVENTS}


def load_counts(path: str | Path) -> CountRun:
    """Read and check one instruction-count run.

    Raises
    ------
    ReportError
        One line naming the file, the benchmark and the field: not an
        instruction run, a count that is not a non-negative integer, a
        benchmark twice, no benchmark at all, ...
    """
    path = Path(path)
    raw = _read_json(path)
    doc = _Fields(str(path), "", raw)
    top = doc.sub("vecbench")
    mode = top.raw("mode", "wall-clock")
    if mode != MODE:
        raise ReportError(f"{path}: a {mode} run, not an instruction-count run "
                          "(vecbench.mode is not 'instructions')")
    top.integer("version", low=1, high=1)
    info = top.sub("instructions")
    caches_doc = info.sub("caches")
    caches = {}
    for level in ("I1", "D1", "LL"):
        c = caches_doc.sub(level)
        caches[level] = [c.integer(k, low=1) for k in ("bytes", "ways", "line")]
    cost_doc = info.sub("cost")
    cost = {k: cost_doc.number(k) for k in ("l1_miss_weight", "ll_miss_weight")}
    if (cost["l1_miss_weight"], cost["ll_miss_weight"]) != (callgrind.L1_MISS_WEIGHT,
                                                            callgrind.LL_MISS_WEIGHT):
        raise cost_doc.fail("l1_miss_weight", cost["l1_miss_weight"],
                            f"the weights {callgrind.L1_MISS_WEIGHT} and "
                            f"{callgrind.LL_MISS_WEIGHT} of {callgrind.COST_FORMULA}")
    env_doc = info.sub("environment")
    environment = {str(k): env_doc.text(k) for k in env_doc.obj}
    versions_doc = info.sub("versions", None)
    versions = {} if versions_doc is None else {
        str(k): versions_doc.text(k) for k in versions_doc.obj}
    versions["valgrind"] = info.text("valgrind", "unknown")
    build = info.sub("build", None)
    cython = None if build is None else build.sub("cython", None)
    if cython is not None:
        versions["cython cflags"] = cython.text("cflags", "unknown")

    benches = doc.items("benchmarks")
    if not benches:
        raise ReportError(f"{path}: instruction run with no benchmarks")
    counts: dict[str, Count] = {}
    for i, bench in enumerate(benches):
        b = doc.element("benchmarks", i, bench)
        name = b.name("name")
        b = _Fields(f"{path}: benchmark {name!r}", "", bench)
        e = b.sub("extra_info")
        e.name("measure", choices=(MODE,))
        count = Count(benchmark=name, kernel=e.name("kernel"), backend=e.name("backend"),
                      variant=e.name("variant"), size=e.integer("size", low=1),
                      layout=e.name("layout", choices=("C", "F")),
                      calls=e.integer("calls", low=1), counts=_counts(e))
        if name in counts:
            raise ReportError(f"{path}: benchmark {name!r} appears twice in the run")
        counts[name] = count
    absent = []
    for i, entry in enumerate(top.items("absent", [])):
        a = top.element("absent", i, entry)
        absent.append((a.name("benchmark"), a.name("reason"), a.text("detail", "")))
    commit_doc = doc.sub("commit_info", None)
    commit = "no commit"
    if commit_doc is not None:
        commit = commit_doc.name("id", "no commit")[:8] + (
            "+dirty" if commit_doc.flag("dirty", False) else "")
    machine_doc = doc.sub("machine_info", None)
    machine = "unknown machine"
    if machine_doc is not None:
        cpu = machine_doc.sub("cpu", None)
        machine = (f"{machine_doc.name('node', 'unknown host')} "
                   f"({cpu.name('brand_raw', 'unknown CPU') if cpu else 'unknown CPU'})")
    date = doc.when("datetime")
    return CountRun(path=path, commit=commit,
                    date="" if date is None else date.strftime("%Y-%m-%d %H:%M:%S UTC"),
                    machine=machine, counts=counts, absent=absent,
                    conditions={"caches": caches, "cost": cost, "environment": environment},
                    versions=versions)


# --------------------------------------------------------------------------
# The gate
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Row:
    """One benchmark's verdict: costs per call (median over a side's runs)."""

    benchmark: str
    verdict: str
    base: Count | None = None
    new: Count | None = None
    base_cost: float | None = None
    new_cost: float | None = None
    spread: float = 0.0  # largest relative difference between the runs of a side
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.base_cost is None or self.new_cost is None or self.base_cost <= 0:
            return None
        return self.new_cost / self.base_cost


def comparable(base: Sequence[CountRun], new: Sequence[CountRun]) -> None:
    """Refuse runs counted under different conditions.

    Raises
    ------
    ReportError
        Naming both files and what differs.
    """
    first = base[0]
    for run in [*base[1:], *new]:
        for what in CONDITIONS:
            if run.conditions[what] != first.conditions[what]:
                mine, theirs = first.conditions[what], run.conditions[what]
                if isinstance(mine, dict) and isinstance(theirs, dict):
                    keys = sorted(k for k in {*mine, *theirs} if mine.get(k) != theirs.get(k))
                    detail = "; ".join(f"{k}: {mine.get(k)!r} against {theirs.get(k)!r}"
                                       for k in keys[:3])
                else:
                    detail = f"{mine!r} against {theirs!r}"
                raise ReportError(f"{first.path} and {run.path} were counted with different "
                                  f"{what} ({detail}): their counts are not comparable")


def version_notes(base: Sequence[CountRun], new: Sequence[CountRun]) -> list[str]:
    """What differs between the sides' libraries and tools (counts may move with them)."""
    a, b = base[0].versions, new[0].versions
    return [f"{k} differs: {a.get(k, 'not recorded')} (base) against "
            f"{b.get(k, 'not recorded')} (new); every count may move with it"
            for k in sorted({*a, *b}) if a.get(k) != b.get(k)]


def _side(runs: Sequence[CountRun]) -> dict[str, tuple[Count, float, float]]:
    """Per benchmark: its count in the first run, median cost, spread over the runs."""
    out = {}
    names = list(dict.fromkeys(n for run in runs for n in run.counts))
    for name in names:
        costs = [run.counts[name].cost for run in runs if name in run.counts]
        first = next(run.counts[name] for run in runs if name in run.counts)
        spread = (max(costs) / min(costs) - 1) if min(costs) > 0 else 0.0
        out[name] = (first, statistics.median(costs), spread)
    return out


def _absent_reason(runs: Sequence[CountRun], name: str) -> str:
    for run in runs:
        for benchmark, reason, detail in run.absent:
            if benchmark == name:
                return f"{reason}: {detail}"
    return ""


def compare_counts(base: Sequence[CountRun], new: Sequence[CountRun],
                   settings: Settings) -> list[Row]:
    """A row per benchmark on either side, regressions first, worst ratio first."""
    comparable(base, new)
    a, b = _side(base), _side(new)
    threshold = settings.instructions_threshold
    rows = []
    for name in [*a, *(n for n in b if n not in a)]:
        if name not in b:
            rows.append(Row(name, "missing", base=a[name][0], base_cost=a[name][1],
                            note=_absent_reason(new, name)))
            continue
        if name not in a:
            rows.append(Row(name, "new", new=b[name][0], new_cost=b[name][1]))
            continue
        (base_count, base_cost, sa), (new_count, new_cost, sb) = a[name], b[name]
        ratio = new_cost / base_cost if base_cost > 0 else math.inf
        verdict, note = "unchanged", ""
        if ratio > 1 + threshold:
            verdict = "worse"
            if name in settings.accepted:
                allowed, reason = settings.accepted[name]
                if ratio <= allowed:
                    verdict, note = "accepted", f"accepted up to {allowed:g}x: {reason}"
                else:
                    note = f"beyond the accepted {allowed:g}x"
        elif ratio < 1 / (1 + threshold):
            verdict = "better"
        rows.append(Row(name, verdict, base_count, new_count, base_cost, new_cost,
                        max(sa, sb), note))
    order = {v: i for i, v in enumerate(VERDICTS)}
    rows.sort(key=lambda r: (order[r.verdict], -(r.ratio or 0.0), r.benchmark))
    return rows


def _amount(value: float | None) -> str:
    if value is None:
        return ""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.4g}{unit}"
    return f"{value:.4g}"


def _ratio(a: float, b: float) -> str:
    return f"{b / a:.3f}" if a > 0 else ("1.000" if b == 0 else "new")


def markdown(rows: list[Row], settings: Settings, notes: Sequence[str] = ()) -> str:
    """The table, the notes and the one-line verdict."""
    lines = ["| benchmark | base cost/call | new cost/call | new/base | instructions "
             "new/base | L1 misses new/base | LL misses new/base | verdict |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in rows:
        parts = ["", "", ""]
        if r.base is not None and r.new is not None:
            parts = [_ratio(r.base.per_call(events), r.new.per_call(events))
                     for events in (("Ir",), callgrind.L1_MISSES, callgrind.LL_MISSES)]
        ratio = "" if r.ratio is None else f"{r.ratio:.4f}"
        verdict = r.verdict + (f" ({r.note})" if r.note else "")
        lines.append(f"| {r.benchmark} | {_amount(r.base_cost)} | {_amount(r.new_cost)} | "
                     f"{ratio} | {' | '.join(parts)} | {verdict} |")
    spread = max((r.spread for r in rows), default=0.0)
    extra = list(notes)
    if spread > 0:
        extra.append(f"the runs of a side differ by up to {spread:.2%} in cost (the median "
                     "of each side is compared)")
    lines += [""] + [f"- {n}" for n in extra] + ([""] if extra else [])
    lines.append(verdict_line(rows, settings))
    return "\n".join(lines)


def verdict_line(rows: list[Row], settings: Settings) -> str:
    """One line: the verdict and the rule."""
    counts = {v: sum(r.verdict == v for r in rows) for v in VERDICTS}
    judged = sum(counts[v] for v in ("worse", "accepted", "better", "unchanged"))
    tail = ", ".join(f"{n} {v}" for v, n in counts.items() if n)
    rule = (f"instruction counts under callgrind (simulated caches pinned); estimated cost "
            f"per call = {callgrind.COST_FORMULA}; a cost beyond "
            f"+{settings.instructions_threshold:.1%} of the base's is a regression "
            "(counts are deterministic: no statistics)")
    if counts["worse"]:
        worst = max((r for r in rows if r.verdict == "worse"), key=lambda r: r.ratio or 0)
        return (f"REGRESSION: {counts['worse']} of {judged} benchmarks cost more, worst "
                f"{worst.benchmark} {worst.ratio:.3f}x; method: {rule} ({tail})")
    return f"OK: no regression among {judged} benchmarks; method: {rule} ({tail})"


def gate(base_paths: Sequence[Path], new_paths: Sequence[Path], settings: Settings,
         out: str | Path | None = None) -> int:
    """Compare instruction runs, print the table and verdict; return 0, 1 or 2.

    Every file on both sides must be an instruction-count run; 2 (with one
    line on stderr) when one is not, cannot be read, or the runs are not
    comparable, or ``out`` cannot be written.
    """
    try:
        for path in [*base_paths, *new_paths]:
            if not is_instruction_run(path):
                raise ReportError(f"{path}: not an instruction-count run; an instruction run "
                                  "is compared with instruction runs only")
        base = [load_counts(p) for p in base_paths]
        new = [load_counts(p) for p in new_paths]
        if not set(_side(base)) & set(_side(new)):
            raise ReportError("the two sides share no benchmark")
        rows = compare_counts(base, new, settings)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    text = markdown(rows, settings, version_notes(base, new))
    print(text)
    if out:
        try:
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            Path(out).write_text(text + "\n")
        except OSError as exc:
            print(f"error: {out}: cannot be written: {exc.strerror or exc}", file=sys.stderr)
            return 2
    return 1 if any(r.verdict == "worse" for r in rows) else 0


# --------------------------------------------------------------------------
# The report of instruction runs
# --------------------------------------------------------------------------
MODE_LINE = ("Mode: instruction counts (valgrind's callgrind, simulated caches pinned), "
             "not times: no wall-clock figures are drawn from them. Estimated cost per "
             f"call = {callgrind.COST_FORMULA}.")


def counts_table(run: CountRun) -> Table:
    """Per benchmark: instructions, misses and estimated cost, per call."""
    rows = [[c.benchmark, _amount(c.per_call(("Ir",))),
             _amount(c.per_call(callgrind.L1_MISSES)),
             _amount(c.per_call(callgrind.LL_MISSES)), _amount(c.cost)]
            for c in run.counts.values()]
    caches = ", ".join(f"{k} {v[0] // 1024} KiB {v[1]}-way" for k, v in
                       run.conditions["caches"].items())
    return Table(f"Counts per call: {run.label}",
                 ["benchmark", "instructions", "L1 misses", "LL misses", "estimated cost"],
                 rows, note=f"simulated caches: {caches}; {run.machine}, {run.date}",
                 anchor="counts")


def render(paths: Sequence[str | Path], out: str | Path) -> Path:
    """Write ``summary.md`` and ``index.html`` of instruction runs into ``out``.

    Raises
    ------
    ReportError
        A run cannot be read, or ``out`` is a folder that is not an earlier report.
    """
    runs = [load_counts(p) for p in paths]
    tables = [counts_table(r) for r in runs]
    tables.append(Table("Left out, with why", ["run", "benchmark", "reason", "detail"],
                        [[r.path.name, b, reason, detail] for r in runs
                         for b, reason, detail in r.absent], anchor="left-out"))
    md = ["# vecbench: instruction counts", "", MODE_LINE, ""]
    md += [write.markdown_table(t) for t in tables]
    page = ["<!doctype html><meta charset=utf-8><title>vecbench: instruction counts</title>",
            "<h1>vecbench: instruction counts</h1>", f"<p>{html.escape(MODE_LINE)}</p>"]
    page += [write.html_table(t) for t in tables]
    out = Path(out).resolve()
    with write.atomic_dir(out) as folder:
        (folder / "summary.md").write_text("\n".join(md), encoding="utf-8")
        (folder / "index.html").write_text("\n".join(page) + "\n", encoding="utf-8")
    return out / "index.html"


def main(argv: list[str] | None = None) -> int:
    """``python -m reports.instructions RUN.json ... [--out DIR]``: 0, or 2 on unusable input."""
    parser = argparse.ArgumentParser(prog="python -m reports.instructions",
                                     description="Render instruction-count runs (bench/"
                                                 "instructions.py) as summary.md and index.html.")
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN.json")
    parser.add_argument("--out", type=Path, default=Path("reports", "out"),
                        help="report folder, replaced as a whole (default: ./reports/out)")
    args = parser.parse_args(argv)
    try:
        page = render(args.runs, args.out)
    except ReportError as exc:
        print(f"reports.instructions: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"reports.instructions: error: {exc.filename or args.out}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"Summary: {page.parent / 'summary.md'}")
    print(f"Report:  {page.as_uri()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

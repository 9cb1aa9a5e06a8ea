"""History: each backend's time at a reference size across saved runs, by commit and machine.

The saved runs beside the reported one are read (an unreadable file is left
out with a line saying why; it never stops the report) and grouped:

- by **machine** (host name and CPU brand): one series of panels per
  machine, so two machines are never read as two commits;
- by **commit** within a machine: the runs of one commit are one point
  (each run's median time is a small dot, the point is the median of them),
  so repeated runs of identical code show their spread, not a step.  A run
  of a tree with uncommitted changes, or with no commit recorded, is a point
  of its own;
- in **commit order**: by the commit's time (pytest-benchmark's
  ``commit_info.time``), then by when the run started, then by the file's
  time; labelled with the short commit id and date.

Each kernel is followed at the size its facts name (``history_size``, from
the newest run that records it: ``Run.kernels``) when every run has it, else
at the largest size every run has.  Only the reported runs' kernels are drawn.

Between consecutive points of a machine, the regression gate's own test
(:func:`reports.compare.compare`, with the project's
``[tool.vecbench.compare]`` settings) is made on the pooled rounds, and the
steps it would call "worse" are circled.  With one run a side the test sees
no between-run variation: read a circle as "look here"; the interleaved
``make ci-bench`` is the gate.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from reports import compare, style
from reports.load import ReportError, Run, Timing, load_run

#: Points (commits) drawn per machine, the newest.
MAX_RUNS = 8
#: Files read at most, the most recently written: a long history is not
#: parsed whole on every render.
MAX_FILES = 3 * MAX_RUNS
#: Commit ids that name no commit (pytest-benchmark's placeholders).
NO_COMMIT = ("no commit", "unknown", "unversioned")


@dataclass
class Point:
    """One commit on one machine: the runs of it, pooled."""

    commit: str  # short id as shown ("+dirty" for a changed tree)
    date: str  # the commit's date (UTC), else the first run's
    runs: list[Run]

    @property
    def label(self) -> str:
        """The tick label: commit, date, and how many runs are pooled."""
        pooled = f"\n{len(self.runs)} runs" if len(self.runs) > 1 else ""
        return f"{self.commit}\n{self.date}{pooled}"


@dataclass
class Machine:
    """One machine's points, oldest commit first."""

    name: str  # host, CPU and cores, as the report names the machine
    points: list[Point]


@dataclass
class History:
    """The readable saved runs, grouped by machine and commit, and the flagged steps."""

    runs: list[Run]  # every run drawn, in commit order (machines interleaved)
    paths: list[Path]
    skipped: list[str]  # one line per file left out: the file and why
    sizes: dict[str, int]  # the size drawn per kernel
    #: (benchmark id, machine index, point index): the step into that point
    #: is one the gate's test calls worse.
    flagged: set[tuple[str, int, int]]
    machines: list[Machine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # other things the reader should know


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -math.inf


def _utc(stamp: float) -> datetime:
    if not math.isfinite(stamp):
        return datetime.min.replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(stamp, tz=timezone.utc)


def _commit_key(run: Run) -> str:
    """Runs with the same key are the same code: a clean commit; anything else is its own."""
    if run.dirty or run.commit_id in NO_COMMIT:
        return f"run:{run.path}"
    return f"commit:{run.commit_id}"


def _order(run: Run) -> tuple[datetime, datetime, str]:
    """Commit time, then the run's start, then the file's time."""
    started = run.started or _utc(_mtime(run.path))
    return (run.commit_time or started, started, run.path.name)


def group(runs: list[Run], max_points: int = MAX_RUNS) -> list[Machine]:
    """The runs by machine (in order of first appearance) and by commit, oldest first;
    the newest ``max_points`` commits of each machine."""
    by_machine: dict[tuple[str, str], dict[str, list[Run]]] = {}
    for run in sorted(runs, key=_order):
        commits = by_machine.setdefault((run.host, run.cpu), {})
        commits.setdefault(_commit_key(run), []).append(run)
    machines = []
    for commits in by_machine.values():
        groups = sorted(commits.values(), key=lambda rs: min(map(_order, rs)))[-max_points:]
        points = []
        for rs in groups:
            when = rs[0].commit_time or rs[0].started
            date = (when.astimezone(timezone.utc).strftime("%Y-%m-%d") if when
                    else rs[0].date[:10] or rs[0].path.name)
            points.append(Point(rs[0].commit, date, rs))
        machines.append(Machine(groups[0][0].machine, points))
    return machines


def collect(storage: Path, loaded: list[Run] = (), max_runs: int = MAX_RUNS,
            kernels: Collection[str] | None = None) -> History:
    """The saved runs in ``storage``, grouped, and the steps the gate would flag.

    Runs already ``loaded`` are not read again; they must be as :func:`load_run`
    returns them (the gate's test compares whole runs, every regime and thread
    count as saved), so the report's split runs are not passed here.
    Unreadable files are listed in ``skipped`` (one line each, naming the
    file and why), never fatal: history is a view over whatever was saved.
    ``kernels``: the kernels to draw (None: every kernel of the runs).
    """
    try:
        found = sorted(storage.glob("*.json"), key=lambda p: (_mtime(p), p.name))
    except OSError as exc:
        found = []
        skipped = [f"{storage}: cannot be listed: {exc.strerror or exc}"]
    else:
        skipped = []
    known = {run.path.resolve(): run for run in loaded}
    runs = []
    for path in found[-MAX_FILES:]:
        try:
            runs.append(known.get(path.resolve()) or load_run(path))
        except ReportError as exc:
            skipped.append(str(exc))
        except OSError as exc:  # vanished or unreadable between listing and reading
            skipped.append(f"{path}: cannot be read: {exc.strerror or exc}")
    return compare_neighbours(runs, skipped, max_runs, kernels)


def followed_size(runs: list[Run], kernel: str) -> int | None:
    """The size the kernel's facts say to follow, from the newest run that knows one."""
    for run in reversed(runs):
        facts = run.kernels.get(kernel)
        if facts is not None and facts.history_size is not None:
            return facts.history_size
    return None


def reference_sizes(runs: list[Run], kernels: Collection[str] | None = None
                    ) -> dict[str, int]:
    """Per kernel, the size to follow: the one its facts name when every run has it,
    else the largest size every run has (else the largest any run has).

    ``runs`` oldest first; ``kernels``: the kernels to follow (None: all of the runs').
    """
    out = {}
    found = dict.fromkeys(t.kernel for run in runs for t in run.steady)
    for kernel in found:
        if kernels is not None and kernel not in kernels:
            continue
        per_run = [{t.size for t in run.steady if t.kernel == kernel and t.layout == "C"}
                   for run in runs]
        per_run = [s for s in per_run if s]
        common = set.intersection(*per_run) if per_run else set()
        wanted = followed_size(runs, kernel)
        if wanted is not None and wanted in common:
            out[kernel] = wanted
        elif common or per_run:
            out[kernel] = max(common or set.union(*per_run))
    return out


def _drawn(run: Run, sizes: dict[str, int]) -> list[Timing]:
    """The run's timings the history draws: default variants, C order, one thread, at
    the reference size, in the run's default allocator regime."""
    regime = run.allocator.default if run.allocator is not None else "undeclared"
    return [t for t in run.steady
            if t.default and t.layout == "C" and t.threads == 1
            and sizes.get(t.kernel) == t.size and t.allocator in (regime, "undeclared")]


def _side(point: Point, notes: list[str]) -> compare.Side:
    """The point's runs as one side of the gate's test: every steady benchmark of each
    run, as the gate reads a run (:func:`reports.compare.side_of`), pooled by benchmark.
    A run the gate cannot use (saved without rounds) adds nothing, and a note."""
    side: compare.Side = {}
    for run in point.runs:
        try:
            own = compare.side_of(run)
        except ReportError as exc:
            notes.append(f"history: no step test with {run.path.name}: {exc}")
            continue
        for key, (name, rounds) in own.items():
            side.setdefault(key, (name, []))[1].extend(rounds)
    return side


def settings() -> tuple[compare.Settings, str | None]:
    """The gate's settings from ``pyproject.toml`` in the current folder, and a note
    when they cannot be read (the defaults are used then)."""
    try:
        return compare.load_settings("pyproject.toml"), None
    except (ReportError, OSError, ValueError) as exc:
        return compare.Settings(), (f"history: the gate's settings could not be read, "
                                    f"defaults used ({exc})")


def compare_neighbours(runs: list[Run], skipped: list[str] | None = None,
                       max_runs: int = MAX_RUNS, kernels: Collection[str] | None = None
                       ) -> History:
    """Group ``runs`` and make the gate's test between consecutive points of each machine
    (``kernels``: the kernels drawn, None: all)."""
    machines = group(runs, max_runs)
    drawn = [run for m in machines for p in m.points for run in p.runs]
    drawn.sort(key=_order)
    sizes = reference_sizes(drawn, kernels)
    gate, note = settings()
    notes = [note] if note else []
    flagged: set[tuple[str, int, int]] = set()
    for mi, machine in enumerate(machines):
        sides = [_side(p, notes) for p in machine.points]
        drawn_ids = {compare.benchmark_id(t) for p in machine.points for run in p.runs
                     for t in _drawn(run, sizes)}
        for i in range(1, len(sides)):
            if not (set(sides[i - 1]) & set(sides[i])):
                continue
            try:
                rows = compare.compare(sides[i - 1], sides[i], gate)
            except Exception as exc:  # the marks are advice; never stop the report for them
                notes.append(f"history: no step marks into {machine.points[i].commit} on "
                             f"{machine.name}: the gate's test failed "
                             f"({type(exc).__name__}: {exc})")
                continue
            flagged.update((row.benchmark, mi, i) for row in rows
                           if row.verdict == "worse" and row.benchmark in drawn_ids)
    return History(drawn, [run.path for run in drawn], list(skipped or []), sizes, flagged,
                   machines, notes)


Series = dict[tuple[str, str, str], list[tuple[int, float, list[float]]]]


def _series(machine: Machine, kernel: str, size: int, sizes: dict[str, int]) -> Series:
    """Per backend, its default variant at ``size`` by point: keyed by (backend,
    variant, benchmark id), (point index, the median of the runs' medians, each
    run's median)."""
    out: Series = {}
    for i, point in enumerate(machine.points):
        per_impl: dict[tuple[str, str, str], list[float]] = {}
        for run in point.runs:
            for t in _drawn(run, sizes):
                if t.kernel == kernel and t.size == size:
                    key = (t.backend, t.variant, compare.benchmark_id(t))
                    per_impl.setdefault(key, []).append(t.median)
        for impl, medians in per_impl.items():
            out.setdefault(impl, []).append((i, float(np.median(medians)), medians))
    return out


def notes(history: History) -> list[str]:
    """What the report says about the history beyond the figure: files left out, and why."""
    left_out = [f"history: left out {line}" for line in history.skipped]
    return left_out + history.notes


def plot(history: History) -> plt.Figure | None:
    """Per machine, one panel per kernel: each backend's time at the kernel's reference
    size by commit, the steps the gate would flag circled in red."""
    panels = [(mi, kernel) for mi, machine in enumerate(history.machines)
              for kernel, n in history.sizes.items()
              if _series(machine, kernel, n, history.sizes)]
    if not panels:
        return None
    several = len(history.machines) > 1
    cols = 2
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(13, 3.8 * rows), squeeze=False)
    for ax, (mi, kernel) in zip(axes.flat, panels, strict=False):
        machine = history.machines[mi]
        size = history.sizes[kernel]
        series = _series(machine, kernel, size, history.sizes)
        for (backend, variant, bench_id), points in sorted(
                series.items(), key=lambda kv: style.label(*kv[0][:2])):
            colour = style.backend_colour(backend)
            xs = [x for x, _, _ in points]
            ys = [y for _, y, _ in points]
            ax.plot(xs, ys, color=colour, marker="o", ms=4, label=style.label(backend, variant))
            for x, _, medians in points:
                if len(medians) > 1:
                    ax.plot([x] * len(medians), medians, linestyle="none", marker=".", ms=3,
                            color=colour, alpha=0.5)
            for x, y, _ in points:
                if (bench_id, mi, x) in history.flagged:
                    ax.plot([x], [y], marker="o", ms=13, mfc="none", mec="red", mew=2)
        ax.set_yscale("log")
        where = f"\n{machine.name}" if several else ""
        ax.set_title(f"{kernel}, n={size:,}{where}", fontsize=10)
        ax.set_ylabel("seconds per call")
        labels = [p.label for p in machine.points]
        ax.set_xticks(np.arange(len(labels)), labels, fontsize=7)
        ax.set_xlim(-0.5, len(labels) - 0.5)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    machines = (f"{len(history.machines)} machines, panels per machine" if several
                else history.machines[0].name)
    fig.suptitle("Time by commit (oldest left), default variant of each backend, "
                 f"{machines}\nruns of one commit pooled (small dots: each run); "
                 "red circle: a step the regression gate's test would flag", fontsize=11)
    style.literal(fig)  # commits, machines and names as written, never mathtext
    top = 1 - 0.6 / fig.get_figheight()  # room for the two-line title
    fig.tight_layout(rect=(0, 0, 1, top))
    return fig

"""History: each backend's time at a reference size across the saved runs (commits).

Every saved run under the storage folder that can be read is a point, in the
order the runs were saved (commit and date on the axis).  Between consecutive
runs the regression gate's comparison (:func:`reports.compare.compare`) is
made, and the steps it would flag as slower are marked.  These are single
runs, so the comparison is by rounds and sees no between-run variation: read
a mark as "look here", the interleaved ``make ci-bench`` is the gate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from reports import compare, style
from reports.load import ReportError, Run, load_run

#: Sizes in every profile (the seed's experiments and the memory sizes).
REFERENCE_SIZES = {"magnitude": 1_000_000, "sum_of_squares": 1_000_000,
                   "sum_sq_sin": 1_000_000, "row_sums": 1024, "col_sums": 1024, "matmul": 256}
MAX_RUNS = 8


@dataclass
class History:
    """The readable saved runs, oldest first, and the steps the gate would flag."""

    runs: list[Run]
    paths: list[Path]
    skipped: list[str]
    sizes: dict[str, int]  # the size drawn per kernel
    flagged: set[tuple[str, int]]  # benchmark id, and the index of the later run


def collect(storage: Path, loaded: list[Run] = (), max_runs: int = MAX_RUNS) -> History:
    """The newest ``max_runs`` saved runs in ``storage``, neighbours compared.

    Runs already ``loaded`` (the ones being reported) are not read again.
    Unreadable files are listed in ``skipped`` (one line each), not fatal:
    history is a view over whatever has been saved.
    """
    found = sorted(storage.glob("*.json"), key=lambda p: (p.stat().st_mtime, p.name))
    known = {run.path.resolve(): run for run in loaded}
    runs, skipped = [], []
    for path in found[-max_runs:]:
        try:
            runs.append(known.get(path.resolve()) or load_run(path))
        except ReportError as exc:
            skipped.append(str(exc))
    return compare_neighbours(runs, skipped)


def reference_sizes(runs: list[Run]) -> dict[str, int]:
    """Per kernel, the size to follow: the seed's size when every run has it, else the
    largest size every run has (else the largest any run has)."""
    out = {}
    kernels = dict.fromkeys(t.kernel for run in runs for t in run.steady)
    for kernel in kernels:
        per_run = [{t.size for t in run.steady if t.kernel == kernel and t.layout == "C"}
                   for run in runs]
        per_run = [s for s in per_run if s]
        common = set.intersection(*per_run) if per_run else set()
        if REFERENCE_SIZES.get(kernel) in common:
            out[kernel] = REFERENCE_SIZES[kernel]
        elif common or per_run:
            out[kernel] = max(common or set.union(*per_run))
    return out


def compare_neighbours(runs: list[Run], skipped: list[str] | None = None) -> History:
    """The gate's comparison between each run and the one before it."""
    paths = [run.path for run in runs]
    sizes = reference_sizes(runs)
    flagged: set[tuple[str, int]] = set()
    settings = compare.Settings()
    sides = []
    for run in runs:
        try:
            side = compare.side_of(run)
        except ReportError:
            sides.append(None)  # saved without rounds: no test possible
            continue
        # Only the reference sizes are drawn, so only they are tested.
        sides.append({k: v for k, v in side.items() if sizes.get(k[0]) == k[3]})
    for i in range(1, len(paths)):
        if sides[i - 1] is None or sides[i] is None:
            continue
        for row in compare.compare(sides[i - 1], sides[i], settings):
            if row.verdict == "worse":
                flagged.add((row.benchmark, i))
    return History(runs, paths, skipped or [], sizes, flagged)


def _series(history: History, kernel: str, size: int
            ) -> dict[tuple[str, str], list[tuple[int, float]]]:
    """Per backend, its default variant's time at ``size`` (C order, one thread) by run."""
    out: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for i, run in enumerate(history.runs):
        for t in run.steady:
            if (t.kernel == kernel and t.size == size and t.layout == "C" and t.default
                    and t.threads == 1):
                out.setdefault((t.backend, t.variant), []).append((i, t.median))
    return out


def plot(history: History) -> plt.Figure | None:
    """One panel per kernel: each backend's time at the kernel's reference size
    across the saved runs, the steps the gate would flag circled in red."""
    kernels = [k for k, n in history.sizes.items() if _series(history, k, n)]
    if not kernels:
        return None
    cols = 2
    rows = (len(kernels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(13, 3.6 * rows), squeeze=False)
    labels = [f"{r.commit}\n{r.date[:10]}" for r in history.runs]
    for ax, kernel in zip(axes.flat, kernels, strict=False):
        size = history.sizes[kernel]
        for (backend, variant), points in sorted(_series(history, kernel, size).items(),
                                                 key=lambda kv: style.label(*kv[0])):
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, color=style.backend_colour(backend), marker="o", ms=4,
                    label=style.label(backend, variant))
            bench_id = f"{kernel}-{backend}-{variant}-n{size}-C"
            for x, y in points:
                if (bench_id, x) in history.flagged:
                    ax.plot([x], [y], marker="o", ms=13, mfc="none", mec="red", mew=2)
        ax.set_yscale("log")
        ax.set_title(f"{kernel}, n={size:,}", fontsize=10)
        ax.set_ylabel("seconds per call")
        ax.set_xticks(np.arange(len(labels)), labels, fontsize=7)
        ax.set_xlim(-0.5, len(labels) - 0.5)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    for ax in list(axes.flat)[len(kernels):]:
        ax.set_visible(False)
    fig.suptitle("Time across saved runs (commit, date), default variant of each backend; "
                 "red circle: a step the gate would flag", fontsize=11)
    fig.tight_layout()
    return fig

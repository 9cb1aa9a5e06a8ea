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
MAX_RUNS = 12


@dataclass
class History:
    """The readable saved runs, oldest first, and the steps the gate would flag."""

    runs: list[Run]
    paths: list[Path]
    skipped: list[str]
    flagged: set[tuple[str, str, str, int]]  # benchmark id, and the index of the later run


def collect(storage: Path, max_runs: int = MAX_RUNS) -> History:
    """Load the newest ``max_runs`` saved runs under ``storage`` and compare neighbours.

    Unreadable files are listed in ``skipped`` (one line each), not fatal:
    history is a view over whatever has been saved.
    """
    found = sorted(storage.glob("**/*.json"), key=lambda p: (p.stat().st_mtime, p.name))
    runs, paths, skipped = [], [], []
    for path in found[-max_runs:]:
        try:
            runs.append(load_run(path))
            paths.append(path)
        except ReportError as exc:
            skipped.append(str(exc))
    return compare_neighbours(runs, skipped)


def compare_neighbours(runs: list[Run], skipped: list[str] | None = None) -> History:
    """The gate's comparison between each run and the one before it."""
    paths = [run.path for run in runs]
    flagged: set[tuple[str, str, str, int]] = set()
    settings = compare.Settings()
    sides = []
    for run in runs:
        try:
            side = compare.side_of(run)
        except ReportError:
            sides.append(None)  # saved without rounds: no test possible
            continue
        # Only the reference sizes are drawn, so only they are tested.
        sides.append({k: v for k, v in side.items() if REFERENCE_SIZES.get(k[0]) == k[3]})
    for i in range(1, len(paths)):
        if sides[i - 1] is None or sides[i] is None:
            continue
        for row in compare.compare(sides[i - 1], sides[i], settings):
            if row.verdict == "worse":
                flagged.add((row.benchmark, "", "", i))
    return History(runs, paths, skipped or [], flagged)


def _series(history: History, kernel: str, size: int
            ) -> dict[tuple[str, str, int], list[tuple[int, float]]]:
    out: dict[tuple[str, str, int], list[tuple[int, float]]] = {}
    for i, run in enumerate(history.runs):
        for t in run.steady:
            if t.kernel == kernel and t.size == size and t.layout == "C":
                out.setdefault((t.backend, t.variant, t.threads), []).append((i, t.median))
    return out


def plot(history: History, kernel: str) -> plt.Figure | None:
    """Time per call at the kernel's reference size across runs; flagged steps circled."""
    size = REFERENCE_SIZES.get(kernel)
    series = _series(history, kernel, size) if size else {}
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(9, 4.8))
    for (backend, variant, threads), points in sorted(series.items(),
                                                      key=lambda kv: style.label(*kv[0][:2])):
        xs, ys = zip(*points, strict=True)
        name = f"{backend}/{variant}" + (f" x{threads} threads" if threads > 1 else "")
        ax.plot(xs, ys, color=style.backend_colour(backend),
                linestyle=style.variant_linestyle(variant, False), marker="o", ms=3,
                label=name)
        suffix = f"-t{threads}" if threads > 1 else ""
        bench_id = f"{kernel}-{backend}-{variant}-n{size}-C{suffix}"
        for x, y in points:
            if (bench_id, "", "", x) in history.flagged:
                ax.plot([x], [y], marker="o", ms=12, mfc="none", mec="red", mew=2)
    ax.set_yscale("log")
    ax.set_ylabel("median time per call (s)")
    labels = [f"{r.commit}\n{r.date[:16]}" for r in history.runs]
    ax.set_xticks(np.arange(len(labels)), labels, fontsize=7, rotation=45, ha="right")
    ax.set_title(f"{kernel}, n={size}: time across saved runs "
                 "(red circle: a step the gate would flag)")
    ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.grid(True, which="both", alpha=0.3)
    return fig

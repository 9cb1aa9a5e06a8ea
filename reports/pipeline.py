"""The pipeline: load -> compute -> plot -> write, each stage a plain function.

The baselines the speedups are measured against (:mod:`reports.baselines`)
are a parameter of :func:`render`, checked against the runs once they are
loaded, passed to :func:`compute` and carried by each
:class:`~reports.compute.Analysis` to the figures and pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt

from reports import baselines as base
from reports import export, history, style, tables, write
from reports.baselines import Baseline
from reports.compute import Analysis, analyse, split_threads
from reports.conditions import split_regimes
from reports.figures import FIGURES, FigureSpec, words
from reports.load import ReportError, Run, label_runs, load_run

#: Where ``python -m reports`` looks for runs and writes the report by default:
#: relative to the current folder (pytest-benchmark saves runs under
#: ``./.benchmarks``), resolved when used.  Never relative to this package,
#: which may be installed read-only in site-packages.
DEFAULT_RUNS = Path(".benchmarks")
DEFAULT_OUT = Path("reports", "out")


def load(paths: Sequence[str | Path]) -> list[Run]:
    """Read and check every run first, so a bad file stops the render before any output.

    An implementation timed at several thread counts (NumPy's BLAS at one
    thread and at all cores) becomes one implementation per count; timings
    in a second allocator regime are set beside the run's (``other_regimes``).
    """
    runs = [split_regimes(split_threads(load_run(p))) for p in paths]
    for run in runs:
        if not run.steady:
            regime = run.allocator.default if run.allocator else "undeclared"
            raise ReportError(f"{run.path}: no steady benchmark in the run's default "
                              f"allocator regime ({regime!r}), nothing to draw")
    return label_runs(runs)


def compute(runs: list[Run], baselines: Sequence[Baseline] = base.DEFAULT) -> list[Analysis]:
    """The numbers of each run, the speedups against ``baselines``.

    Raises
    ------
    ReportError
        A baseline that did not run in one of the runs (one line listing what did).
    """
    base.check(runs, baselines)
    return [analyse(run, baselines) for run in runs]


def plot(runs: list[Run], results: list[Analysis], folder: Path
         ) -> list[tuple[FigureSpec, list[str]]]:
    """Save every figure of every run as PNG in ``folder``; return the file names.

    What the history could not use (a neighbouring file that cannot be read,
    and why) is added to the first run's ``notes``, which the pages list.
    """
    style.setup()
    style.assign_variants(t.variant for run in runs for t in run.steady if not t.default)
    fill = words(runs, results[0].baselines if results else base.DEFAULT)
    saved = []
    for spec in (spec.worded(fill) for spec in FIGURES):
        names = []
        for i, (run, res) in enumerate(zip(runs, results, strict=True), 1):
            name = f"{spec.stem}.png" if len(runs) == 1 else f"{spec.stem}-run{i}.png"
            fig = spec.draw(run, res)
            try:
                style.literal(fig)  # every name as written, never as mathtext
                fig.savefig(folder / name, bbox_inches="tight")
            finally:
                plt.close(fig)
            names.append(name)
        saved.append((spec, names))
    past = history.collect(runs[0].path.parent,
                           kernels={k for run in runs for k in run.kernels})
    runs[0].notes.extend(n for n in history.notes(past) if n not in runs[0].notes)
    fig = history.plot(past)
    if fig is not None:
        try:
            fig.savefig(folder / f"{HISTORY.stem}.png", bbox_inches="tight")
        finally:
            plt.close(fig)
        saved.append((HISTORY, [f"{HISTORY.stem}.png"]))
    return saved


#: Not one per run: the runs saved beside the (first) reported run, over time.
HISTORY = FigureSpec(
    "8-history", "History: each backend's time by commit and machine", lambda run, res: None,
    "The default variant of each backend at a fixed size per kernel (C order, one thread, "
    "the run's default allocator regime), in the runs saved beside this one. Runs are "
    "grouped by machine (host and CPU; one set of panels per machine, never one line "
    "across two machines) and ordered by the commit's time, then the run's start; each "
    "tick is a commit and its date. Runs of the same commit on the same machine are one "
    "point, the median of their medians (small dots: each run), so repeated runs of "
    "identical code show their spread and no step; a run of a tree with uncommitted "
    "changes is a point of its own. The newest eight points per machine are drawn. A red "
    "circle marks a step between consecutive commits that the regression gate's own test "
    "(reports.compare, the project's thresholds) calls worse on the pooled rounds; with "
    "one run a side it sees no between-run variation, so a circle says where to look, and "
    "`make ci-bench` (interleaved runs) is the gate. A saved file that cannot be read is "
    "left out and listed under Missing, with why.")


def write_pages(runs: list[Run], results: list[Analysis],
                figures: list[tuple[FigureSpec, list[str]]], folder: Path) -> None:
    """``index.html`` and ``summary.md`` in ``folder``."""
    table_list = tables.tables(runs, results)
    findings = [tables.findings(run, res) for run, res in zip(runs, results, strict=True)]
    missing = [[*res.missing, *(n for n in run.notes if n not in res.missing)]
               for run, res in zip(runs, results, strict=True)]
    warnings = [res.disturbance.warning for res in results]
    scopes = [tables.scope(run) for run in runs]
    first_looks = [tables.first_look(run) for run in runs]
    (folder / "summary.md").write_text(write.summary_markdown(
        runs, findings, table_list, missing, [spec for spec, _ in figures], warnings,
        scopes, first_looks), encoding="utf-8")
    (folder / "index.html").write_text(write.index_html(
        runs, findings, table_list, missing, figures, warnings, scopes, first_looks),
        encoding="utf-8")


def render(paths: Sequence[str | Path], out: str | Path = DEFAULT_OUT,
           baselines: Sequence[Baseline] = base.DEFAULT) -> Path:
    """Render the report of ``paths`` into the folder ``out``.

    Parameters
    ----------
    paths
        Saved pytest-benchmark runs; several are compared side by side.
    out
        The report folder; it is replaced as a whole, and only when the new
        report is complete.  A relative path is taken from the current folder.
    baselines
        What the speedups are measured against, in order (the figures use the
        first): python and numpy by default (:func:`reports.baselines.parse`
        makes them from ``BACKEND/VARIANT`` texts).

    Returns
    -------
    pathlib.Path
        The report's ``index.html``.

    Raises
    ------
    ReportError
        A run cannot be read or is not a vecbench run, a baseline is not in a
        run, or ``out`` is a folder that is not an earlier report.
    """
    from reports import instructions  # the other mode: counts under callgrind

    modes = {instructions.is_instruction_run(p) for p in paths}
    if modes == {True}:
        return instructions.render(paths, out)
    if len(modes) > 1:
        raise ReportError("cannot render instruction-count runs and timed runs together; "
                          "render each mode on its own")
    out = Path(out).resolve()
    runs = load(paths)
    results = compute(runs, tuple(baselines) or base.DEFAULT)
    with write.atomic_dir(out) as folder:
        figures = plot(runs, results, folder)
        write_pages(runs, results, figures, folder)
        for i, run in enumerate(runs, 1):
            name = export.FILE_NAME if len(runs) == 1 else f"run{i}-{export.FILE_NAME}"
            export.write(run, folder / name)
    return out / "index.html"

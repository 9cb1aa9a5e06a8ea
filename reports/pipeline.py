"""The pipeline: load -> compute -> plot -> write, each stage a plain function."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt

from reports import export, history, style, tables, write
from reports.compute import Analysis, analyse, split_threads
from reports.figures import FIGURES, FigureSpec
from reports.load import Run, label_runs, load_run

#: Where ``python -m reports`` looks for runs and writes the report by default:
#: relative to the current folder (pytest-benchmark saves runs under
#: ``./.benchmarks``), resolved when used.  Never relative to this package,
#: which may be installed read-only in site-packages.
DEFAULT_RUNS = Path(".benchmarks")
DEFAULT_OUT = Path("reports", "out")


def load(paths: Sequence[str | Path]) -> list[Run]:
    """Read and check every run first, so a bad file stops the render before any output.

    An implementation timed at several thread counts (NumPy's BLAS at one
    thread and at all cores) becomes one implementation per count.
    """
    return label_runs([split_threads(load_run(p)) for p in paths])


def compute(runs: list[Run]) -> list[Analysis]:
    """The numbers of each run."""
    return [analyse(run) for run in runs]


def plot(runs: list[Run], results: list[Analysis], folder: Path
         ) -> list[tuple[FigureSpec, list[str]]]:
    """Save every figure of every run as PNG in ``folder``; return the file names."""
    style.setup()
    style.assign_variants(t.variant for run in runs for t in run.steady if not t.default)
    saved = []
    for spec in FIGURES:
        names = []
        for i, (run, res) in enumerate(zip(runs, results, strict=True), 1):
            name = f"{spec.stem}.png" if len(runs) == 1 else f"{spec.stem}-run{i}.png"
            fig = spec.draw(run, res)
            try:
                fig.savefig(folder / name, bbox_inches="tight")
            finally:
                plt.close(fig)
            names.append(name)
        saved.append((spec, names))
    past = history.collect(runs[0].path.parent, loaded=runs)
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
    "8-history", "History: each backend's time across saved runs", lambda run, res: None,
    "The default variant of each backend at a fixed size per kernel, in every run saved "
    "beside this one (newest eight), by commit. A red circle marks a step the regression "
    "gate's comparison would flag; these are single runs, compared by their rounds, so a "
    "circle says where to look, and `make ci-bench` (interleaved runs) is the gate.")


def write_pages(runs: list[Run], results: list[Analysis],
                figures: list[tuple[FigureSpec, list[str]]], folder: Path) -> None:
    """``index.html`` and ``summary.md`` in ``folder``."""
    table_list = tables.tables(runs, results)
    findings = [tables.findings(run, res) for run, res in zip(runs, results, strict=True)]
    missing = [res.missing for res in results]
    (folder / "summary.md").write_text(write.summary_markdown(
        runs, findings, table_list, missing, [spec for spec, _ in figures]), encoding="utf-8")
    (folder / "index.html").write_text(write.index_html(
        runs, findings, table_list, missing, figures), encoding="utf-8")


def render(paths: Sequence[str | Path], out: str | Path = DEFAULT_OUT) -> Path:
    """Render the report of ``paths`` into the folder ``out``.

    Parameters
    ----------
    paths
        Saved pytest-benchmark runs; several are compared side by side.
    out
        The report folder; it is replaced as a whole, and only when the new
        report is complete.  A relative path is taken from the current folder.

    Returns
    -------
    pathlib.Path
        The report's ``index.html``.

    Raises
    ------
    ReportError
        A run cannot be read or is not a vecbench run, or ``out`` is a folder
        that is not an earlier report.
    """
    out = Path(out).resolve()
    runs = load(paths)
    results = compute(runs)
    with write.atomic_dir(out) as folder:
        figures = plot(runs, results, folder)
        write_pages(runs, results, figures, folder)
        for i, run in enumerate(runs, 1):
            name = export.FILE_NAME if len(runs) == 1 else f"run{i}-{export.FILE_NAME}"
            export.write(run, folder / name)
    return out / "index.html"

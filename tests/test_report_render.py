"""Rendering: every file of the report, partial runs, several runs, failures mid-render."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_report_helpers import synthetic_run, write_run

from reports import render
from reports.figures import FIGURES
from reports.pipeline import HISTORY
from reports.write import MARKER

PNG = b"\x89PNG\r\n\x1a\n"
FIGURE_FILES = [f"{spec.stem}.png" for spec in FIGURES] + [f"{HISTORY.stem}.png"]


def _render(tmp_path: Path, *docs: dict, name: str = "out") -> Path:
    paths = [write_run(tmp_path / f"run{i}.json", doc) for i, doc in enumerate(docs)]
    return render(paths, tmp_path / name)


@pytest.fixture(scope="module")
def full_report(tmp_path_factory) -> Path:
    return _render(tmp_path_factory.mktemp("full"), synthetic_run())


def test_seven_figures_page_and_summary(full_report):
    out = full_report.parent
    assert full_report.name == "index.html"
    assert len(FIGURES) == 7
    for name in FIGURE_FILES:
        data = (out / name).read_bytes()
        assert data.startswith(PNG), name
        assert len(data) > 10_000, name
    page = full_report.read_text()
    assert re.findall(r'<img src="([^"]+)"', page) == FIGURE_FILES  # relative, in order
    assert "http://" not in page and "https://" not in page  # opens from disk
    summary = (out / "summary.md").read_text()
    for heading in ("Speedup at the seed's sizes", "Crossover sizes",
                    "Percent of the machine's ceiling", "Machine ceilings"):
        assert f"### {heading}" in summary
        assert heading in page
    assert "testbox (Test CPU, 2 cores) @ abcdef12" in summary
    assert (out / MARKER).exists()


def test_parallel_variants_and_overheads(tmp_path):
    page = _render(tmp_path, synthetic_run(parallel=True))
    summary = (page.parent / "summary.md").read_text()
    assert "| matmul | 64 | numpy/blas (2 threads) |" in summary
    assert "| matmul | 64 | numba/parallel |" in summary
    assert re.search(r"\| numba: empty call \| [\d.]+ ns of [\d.]+ ns for magnitude at n=1 "
                     r"\(\d+%\) \|", summary)
    assert "| argument checks |" in summary


def test_summary_tables_hold_numbers(full_report):
    summary = (full_report.parent / "summary.md").read_text()
    # A speedup with its interval, a crossover, a percent of ceiling.
    assert re.search(r"\| magnitude \| 16\.4k \| numba/loop \| \d+x \[\d+-\d+\] \|", summary)
    assert re.search(r"sum_of_squares \| numpy \| python \| numpy overtakes at n≈\d+", summary)
    # In the synthetic machine's cache: no percent of a memory ceiling; matmul has one.
    assert re.search(r"in cache — [\d.]+ GB/s at n=16\.4k \(working set", summary)
    assert re.search(r"\*\*\d+%\*\* — [\d.]+ GFLOP/s at n=", summary)
    assert "| memory read bandwidth | 1 | 20 GB/s |" in summary


def test_partial_run_renders_and_lists_what_is_missing(tmp_path):
    doc = synthetic_run(backends=("python", "numpy", "numba"), ceilings=False, compiles=False,
                        drop_sizes={("row_sums", "numba"): {64}})
    page = _render(tmp_path, doc)
    out = page.parent
    assert sorted(p.name for p in out.glob("*.png")) == sorted(FIGURE_FILES)
    summary = (out / "summary.md").read_text()
    missing = summary.split("## Missing from the run", 1)[1]
    assert "backends not in this run at all: cython" in missing
    assert "row_sums numba/row_at_a_time (C order): not run at n=64" in missing
    assert "machine ceilings: not measured" in missing
    assert "numba compile times: not in this run" in missing
    assert "cython" in page.read_text().split('id="missing"', 1)[1]


def test_old_run_without_measure_field_or_rounds(tmp_path):
    page = _render(tmp_path, synthetic_run(measure_field=False, data=False))
    summary = (page.parent / "summary.md").read_text()
    assert "| magnitude | 16.4k | numba/loop |" in summary
    assert "[" not in summary.split("| magnitude | 16.4k | numba/loop |", 1)[1].split("\n")[0]


def test_several_runs_side_by_side(tmp_path):
    a = synthetic_run(node="alpha", commit="1111111111")
    b = synthetic_run(node="beta", commit="2222222222", backends=("python", "numpy"), seed=1)
    page = _render(tmp_path, a, b)
    out = page.parent
    for spec in FIGURES:
        assert (out / f"{spec.stem}-run1.png").exists() and (out / f"{spec.stem}-run2.png").exists()
    assert (out / f"{HISTORY.stem}.png").exists()  # one history for all the runs
    html = page.read_text()
    assert "alpha (Test CPU, 2 cores) @ 11111111" in html
    assert "beta (Test CPU, 2 cores) @ 22222222" in html
    summary = (out / "summary.md").read_text()
    assert "x python [95% CI] — run 1 | x numpy [95% CI] — run 1 | x python [95% CI] — run 2" \
        in summary
    numba_row = next(line for line in summary.splitlines()
                     if line.startswith("| magnitude | 16.4k | numba/loop |"))
    assert numba_row.rstrip(" |").endswith("not run")


def test_failed_render_keeps_previous_report_and_leaves_nothing(tmp_path, monkeypatch):
    run = write_run(tmp_path / "run.json", synthetic_run())
    out = tmp_path / "out"
    render([run], out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(run, analysis):
        raise RuntimeError("figure failed")

    spec = FIGURES[1]  # the first figure is written, the second fails
    monkeypatch.setattr("reports.pipeline.FIGURES", (FIGURES[0], type(spec)(
        spec.stem, spec.heading, broken, spec.caption), *FIGURES[2:]))
    with pytest.raises(RuntimeError, match="figure failed"):
        render([run], out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "run.json"]


def test_first_render_that_fails_leaves_no_folder(tmp_path, monkeypatch):
    run = write_run(tmp_path / "run.json", synthetic_run())

    def half_written(runs, results, folder):
        (folder / "1-headline.png").write_bytes(PNG)
        raise OSError("disk full")

    monkeypatch.setattr("reports.pipeline.plot", half_written)
    with pytest.raises(OSError, match="disk full"):
        render([run], tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]

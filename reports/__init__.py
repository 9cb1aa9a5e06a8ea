"""vecbench's report stage: saved benchmark runs -> figures, ``index.html``, ``summary.md``.

Public API
----------
render(paths, out, baselines=())
    Render one or more saved runs into a report folder; returns its ``index.html``.
    ``baselines``: ``"BACKEND"`` or ``"BACKEND/VARIANT"`` texts the speedups are
    measured against (default: python, then numpy).
load_run(path)
    Read and check one saved pytest-benchmark run.
ReportError
    Raised for a run that cannot be reported on; its message is one line
    naming the file and what is wrong.

From the shell: ``python -m reports [RUN.json ...] [--out DIR] [--baseline BACKEND/VARIANT]``
(``make report``).
Importing the package does not import matplotlib; :func:`render` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from reports.load import ReportError, Run, load_run


def render(paths: Sequence[str | Path], out: str | Path | None = None,
           baselines: Sequence[str] = ()) -> Path:
    """Render the report of ``paths`` into ``out`` (default ``reports/out`` in the current folder).

    ``baselines``: ``"BACKEND"`` or ``"BACKEND/VARIANT"`` texts (default: python,
    then numpy).  See :func:`reports.pipeline.render`.
    """
    from reports import baselines as base
    from reports import pipeline

    return pipeline.render(paths, pipeline.DEFAULT_OUT if out is None else out,
                           base.parse(baselines))


__all__ = ["ReportError", "Run", "load_run", "render"]

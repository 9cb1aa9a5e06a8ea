"""vecbench's report stage: a saved benchmark run -> figures, ``index.html``, ``summary.md``.

Public API
----------
render(paths, out)
    Render one or more saved runs into a report folder; returns its ``index.html``.
load_run(path)
    Read and check one saved pytest-benchmark run.
ReportError
    Raised for a run that cannot be reported on; its message is one line
    naming the file and what is wrong.

From the shell: ``python -m reports [RUN.json ...] [--out DIR]`` (``make report``).
"""

from __future__ import annotations

from reports.load import ReportError, Run, load_run
from reports.pipeline import render

__all__ = ["ReportError", "Run", "load_run", "render"]

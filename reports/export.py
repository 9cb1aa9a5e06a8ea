"""A run as github-action-benchmark's ``customSmallerIsBetter`` JSON.

A list of ``{"name", "unit", "value", "range", "extra"}``, one entry per
steady-state benchmark, so that an existing benchmark dashboard can ingest
vecbench runs without knowing pytest-benchmark's format.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reports.load import Run

FILE_NAME = "benchmark-action.json"


def entries(run: Run) -> list[dict[str, Any]]:
    """One entry per steady-state benchmark: the median time per call, in microseconds."""
    out = []
    for t in run.steady:
        threads = f" t{t.threads}" if t.threads > 1 else ""
        out.append({
            "name": f"{t.kernel} {t.backend}/{t.variant} n={t.size} {t.layout}{threads}",
            "unit": "us",
            "value": round(t.median * 1e6, 6),
            "range": f"± {(t.q3 - t.q1) / 2 * 1e6:.6g}",
            "extra": f"rounds: {t.rounds}\ncommit: {run.commit}\nmachine: {run.machine}",
        })
    return out


def write(run: Run, path: Path) -> Path:
    """Write :func:`entries` of ``run`` to ``path`` (github-action-benchmark's input)."""
    path.write_text(json.dumps(entries(run), indent=1) + "\n")
    return path

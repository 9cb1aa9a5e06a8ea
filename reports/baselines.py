"""What the speedups are measured against: python and numpy, or the user's choice.

A baseline is a backend (``python``: its default variant for each kernel, as
the report has always compared) or one implementation (``numba/loop``:
that variant, for the kernels that have it).  ``python -m reports
--baseline numba/loop`` (repeatable) replaces the defaults in every speedup
figure, table and finding; the figures use the first baseline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reports.load import ReportError, Run


@dataclass(frozen=True)
class Baseline:
    """A reference the speedups are measured against.

    ``variant`` None: the backend's default variant of each kernel (its
    first when it ran no default), and an implementation is never compared
    with another of the same backend; a named variant is compared with every
    other implementation, other variants of its backend included.
    """

    backend: str
    variant: str | None = None

    @property
    def label(self) -> str:
        """How tables and figures name it: ``python`` or ``numba/loop``."""
        return self.backend if self.variant is None else f"{self.backend}/{self.variant}"

    def covers(self, backend: str, variant: str) -> bool:
        """Whether the implementation is this baseline (or of its backend, for a backend)."""
        return backend == self.backend and self.variant in (None, variant)


#: The report's baselines unless the user chooses: pure Python, then NumPy.
DEFAULT: tuple[Baseline, ...] = (Baseline("python"), Baseline("numpy"))


def parse(texts: Iterable[str]) -> tuple[Baseline, ...]:
    """``BACKEND`` or ``BACKEND/VARIANT`` texts as baselines (duplicates dropped); the
    defaults when there are none.

    Raises
    ------
    ReportError
        For a text that is not of that form (one line).
    """
    out: list[Baseline] = []
    for text in texts:
        backend, slash, variant = text.strip().partition("/")
        backend, variant = backend.strip(), variant.strip()
        if not backend or (slash and not variant) or not text.isprintable():
            raise ReportError(f"--baseline {text!r}: expected BACKEND or BACKEND/VARIANT, "
                              "e.g. numba/loop")
        baseline = Baseline(backend, variant or None)
        if baseline not in out:
            out.append(baseline)
    return tuple(out) or DEFAULT


def check(runs: Sequence[Run], baselines: Sequence[Baseline]) -> None:
    """Every baseline the user chose must have run in every run (for some kernel).

    The defaults are not checked: a run without python or numpy (a slice of
    the grid) is reported with "—" where they would be.

    Raises
    ------
    ReportError
        One line naming the run, the baseline and the implementations the run has.
    """
    if is_default(baselines):
        return
    for run in runs:
        impls = dict.fromkeys((t.backend, t.variant) for t in run.steady)
        for b in baselines:
            if any(b.covers(*impl) for impl in impls):
                continue
            listed = ", ".join(f"{bk}/{v}" for bk, v in sorted(impls))
            backends = ", ".join(sorted({bk for bk, _ in impls}))
            raise ReportError(f"{run.path}: --baseline {b.label}: no such implementation in "
                              f"this run; it has {listed} (or a backend alone for its default "
                              f"variant: {backends})")


def is_default(baselines: Sequence[Baseline]) -> bool:
    """Whether ``baselines`` are the report's defaults (python, then numpy)."""
    return tuple(baselines) == DEFAULT

"""What a saved run holds beside its timings: the machine's state, and every absent case.

:class:`SessionRecord` is a pytest plugin (bench/conftest.py registers it).
It samples the machine's state before the benchmarks, at benchmark
boundaries (at most once a second, never inside a timed region) and at the
end (bench/state.py); it notes every benchmark that ended without a timing,
with why; and it writes both into the run JSON through pytest-benchmark's
``pytest_benchmark_update_json`` hook, as the top-level ``vecbench`` object::

    {"version": 1, "profile": "quick",
     "selection": {"kernels": [...], "backends": [...] | null, "variants": [...] | null,
                   "sizes": "1e3..1e7" | null, "sources": [...], "slice": false},
     "kernels": {"magnitude": {"summary", "params", "seed_size", "memory_size",
                               "history_size", "ceiling", "origin"}, ...},
     "beyond_cache": {"magnitude": {"size", "working_set_bytes", "input_bytes",
                                    "llc_bytes", "capped"}, ...},
     "state": {"cpu_count": 2, "samples": [{"at", "phase", "load1", "running",
                                            "other_cpu", "steal", "mhz"}, ...]},
     "absent": [{"benchmark", "measure", "kernel", "backend", "variant", "size",
                 "layout", "threads", "allocator", "reason", "detail"}, ...]}

``kernels`` holds the facts of every selected kernel's spec
(``KernelSpec.facts()``), so a report needs no module to read them;
``beyond_cache`` the size each streaming kernel got beyond the last-level
cache (bench/grid.py), with why where it is capped (profiles that add one).
What the selection leaves out (``--vb-*``, bench/plugin.py) is not absent:
``selection`` says what the run is a slice of.

An absent entry's ``reason`` is one of :data:`REASONS`.  The harness names it
for the cases it ends (``harness.absent_reason``); a case that ends otherwise
is an ``error`` (a fixture error, an exception outside the kernel), except
that a failing ceiling, compile or overhead measurement is ``failed`` (the
test's body is the measurement) and a plain skip is ``unavailable``.  The
outcome is worked out where the item is (``pytest_runtest_makereport``),
carried on the report (so it reaches the main process under pytest-xdist)
and collected in ``pytest_runtest_logreport``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

import kernels
from bench import grid, harness, pace, state
from bench.grid import (
    BANDWIDTH_CEILINGS,
    Case,
    Profile,
    Selection,
    beyond_left_out,
    cases,
    fresh_left_out,
    jit_id,
    jit_implementations,
)

VERSION = 1
PLUGIN_NAME = "vecbench-session-record"
REASONS = ("over_budget", "failed", "unavailable", "not_in_profile", "not_applicable", "error")
FIELDS = ("benchmark", "measure", "kernel", "backend", "variant", "size", "layout", "threads",
          "allocator")


def _regime(params: dict[str, Any], case: Case) -> str:
    """The allocator regime of a steady case: its own where it names one, else the default."""
    given = params.get("allocator") or getattr(case, "allocator", None)
    if given:
        return str(given)
    try:
        from bench import allocator
    except ImportError:
        return "warm"
    return allocator.DEFAULT if allocator.why_not() is None else "uncontrolled"


def _first_line(text: str) -> str:
    lines = str(text).strip().splitlines()
    return lines[0][:300] if lines else ""


class SessionRecord:
    """The pytest plugin that records the machine's state and the absent cases."""

    def __init__(self, profile: Profile, selection: Selection | None = None,
                 timed: bool = True) -> None:
        self.profile = profile
        self.selection = selection or grid.EVERYTHING
        self.sampler = state.Sampler()
        self.sampler.sample("before")
        # Untimed (--benchmark-disable: each body runs once, as make test does),
        # nothing is gained by waiting for the machine's pace.
        self.pace = pace.start(profile.pace_wait if timed else 0.0)
        self.absent: dict[str, dict[str, Any]] = {}  # nodeid -> entry
        self.measures: set[str] = set()  # the measures this session selected
        self._cases: dict[str, Case] | None = None

    # -- describing an item ------------------------------------------------
    def case(self, case_id: str) -> Case | None:
        if self._cases is None:
            self._cases = {c.id: c for c in cases(self.profile, self.selection)}
        return self._cases.get(case_id)

    def describe(self, item: pytest.Item) -> dict[str, Any]:
        """The entry's fields that say which benchmark ``item`` is (None where not applicable)."""
        spec = getattr(item, "callspec", None)
        params = dict(getattr(spec, "params", {}))
        entry: dict[str, Any] = dict.fromkeys(FIELDS)
        entry["benchmark"] = getattr(spec, "id", None) or item.name
        # bench_kernels.test_kernel_fresh_pages: the same cases, in the "fresh" regime
        fresh = "fresh_case_id" in params
        case_id = params.get("fresh_case_id" if fresh else "case_id")
        case = self.case(str(case_id)) if case_id is not None else None
        if case is not None:
            i = case.impl
            entry.update(benchmark=case.id, measure="steady", kernel=i.kernel, backend=i.backend,
                         variant=i.variant, size=case.n, layout=case.layout,
                         threads=case.threads,
                         allocator="fresh" if fresh else _regime(params, case))
        elif case_id is not None:
            entry.update(benchmark=case_id, measure="steady")
        elif "jit_id" in params:
            kernel, backend, variant = str(params["jit_id"]).split("-", 2)
            entry.update(benchmark=params["jit_id"], measure="compile", kernel=kernel,
                         backend=backend, variant=variant)
        elif "probe" in params:
            scope = str(params["probe"]).rsplit("-", 1)[-1]
            entry.update(measure="ceiling", threads=1 if scope == "1" else os.cpu_count())
        elif "target" in params:
            entry.update(benchmark=params["target"], measure="overhead", backend=params["target"])
        else:
            entry["measure"] = getattr(item, "originalname", item.name)
        return entry

    @staticmethod
    def reason(when: str, outcome: str, exc: BaseException | None, measure: str | None,
               fallback: str = "") -> tuple[str, str]:
        """Why a benchmark ended without a timing: ``(reason, detail)``."""
        given = harness.absent_reason(exc)
        if given is not None:
            return given[0], _first_line(given[1])
        if exc is None:
            detail = fallback
        elif isinstance(exc, (pytest.skip.Exception, pytest.fail.Exception)):
            detail = str(exc.msg or "")
        else:
            detail = harness.one_line(exc)
        if outcome == "skipped":
            kind = "unavailable"
        elif when == "call" and measure not in (None, "steady"):
            kind = "failed"
        else:
            kind = "error"
        return kind, _first_line(detail) or f"{outcome} at {when}"

    def not_in_profile(self) -> list[dict[str, Any]]:
        """The registered implementations of the selection the profile does not run,
        for the measures this session selected."""
        out = []
        name = self.profile.name
        sel = self.selection
        if "compile" in self.measures:
            chosen = {jit_id(i) for i in jit_implementations(self.profile, sel)}
            for i in kernels.implementations():
                if i.backend == "numba" and sel.includes(i) and jit_id(i) not in chosen:
                    out.append({**dict.fromkeys(FIELDS), "benchmark": jit_id(i),
                                "measure": "compile", "kernel": i.kernel, "backend": i.backend,
                                "variant": i.variant, "reason": "not_in_profile",
                                "detail": f"the '{name}' profile measures the compile cost of "
                                          f"each kernel's default Numba variant only"})
        if "steady" in self.measures:
            why = (f"the '{name}' profile does not time fresh pages" if not
                   self.profile.fresh_pages else
                   f"the '{name}' profile times Python's lists in the warm regime only "
                   "(their floats come from CPython's own arenas, which the regimes do not "
                   "govern)")
            for c in fresh_left_out(self.profile, sel):
                i = c.impl
                out.append({"benchmark": c.id, "measure": "steady", "kernel": i.kernel,
                            "backend": i.backend, "variant": i.variant, "size": c.n,
                            "layout": c.layout, "threads": c.threads, "allocator": "fresh",
                            "reason": "not_in_profile", "detail": why})
            for c in beyond_left_out(self.profile, sel):
                i = c.impl
                out.append({"benchmark": c.id, "measure": "steady", "kernel": i.kernel,
                            "backend": i.backend, "variant": i.variant, "size": c.n,
                            "layout": c.layout, "threads": c.threads,
                            "allocator": _regime({}, c), "reason": "not_in_profile",
                            "detail": f"the '{name}' profile adds n={c.n} beyond the "
                                      "last-level cache for the bandwidth ceilings; Python's "
                                      "lists are held against none"})
            for i in kernels.implementations():
                if sel.includes(i) and not sel.sizes_of(self.profile, i.kernel):
                    within = f" within sizes {sel.sizes.text}" if sel.sizes is not None else ""
                    out.append({**dict.fromkeys(FIELDS),
                                "benchmark": f"{i.kernel}-{i.backend}-{i.variant}",
                                "measure": "steady", "kernel": i.kernel, "backend": i.backend,
                                "variant": i.variant, "reason": "not_in_profile",
                                "detail": f"the '{name}' profile has no sizes for "
                                          f"{i.kernel}{within}"})
        return out

    # -- hooks ---------------------------------------------------------------
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.measures = {self.describe(i)["measure"] for i in session.items
                         if "benchmark" in getattr(i, "fixturenames", ())}

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None
                                ) -> Iterator[None]:
        try:
            return (yield)
        finally:
            self.sampler.during()  # between benchmarks: never inside a timed region

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo
                                  ) -> Iterator[pytest.TestReport]:
        report = yield
        if (report.when in ("setup", "call") and report.outcome != "passed"
                and "benchmark" in getattr(item, "fixturenames", ())):
            entry = self.describe(item)
            exc = call.excinfo.value if call.excinfo is not None else None
            entry["reason"], entry["detail"] = self.reason(
                report.when, report.outcome, exc, entry["measure"],
                fallback=_first_line(report.longreprtext))
            report.vecbench_absent = entry  # type: ignore[attr-defined]
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = getattr(report, "vecbench_absent", None)
        if isinstance(entry, dict):
            self.absent[report.nodeid] = entry

    @pytest.hookimpl(optionalhook=True)
    def pytest_benchmark_update_json(self, config: pytest.Config, benchmarks: list,
                                     output_json: dict) -> None:
        self.sampler.finish()
        # A test that failed after its rounds (a check on the value) still has a benchmark.
        timed = {b.get("fullname") for b in output_json.get("benchmarks", [])
                 if isinstance(b, dict)}
        absent = [e for nodeid, e in self.absent.items() if nodeid not in timed]
        output_json.setdefault("vecbench", {}).update({
            "version": VERSION,
            "profile": self.profile.name,
            "selection": self.selection.record(),
            "kernels": {k: kernels.spec(k).facts() for k in self.selection.selected_kernels()},
            "beyond_cache": self.beyond_cache(),
            "state": self.sampler.record(),
            "pace": self.pace.record(),
            "absent": absent + self.not_in_profile(),
        })

    def beyond_cache(self) -> dict[str, dict[str, Any]]:
        """The size beyond the last-level cache of each selected streaming kernel
        (empty where the profile adds none)."""
        if not self.profile.beyond_cache:
            return {}
        out = {}
        for kernel in self.selection.selected_kernels():
            spec = kernels.spec(kernel)
            if spec.ceiling in BANDWIDTH_CEILINGS:
                out[kernel] = grid.machine_beyond_cache(spec).record()
        return out

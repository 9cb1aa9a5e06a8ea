"""Property: whatever a run file or a settings file holds, the report stage answers with a
report, a verdict, or one line and exit status 2; never a traceback.

A small valid run (steady, ceiling, compile and overhead benchmarks, the
run's own ``vecbench`` record: profile, selection, kernels' facts, allocator,
state, absences) and a valid ``[tool.vecbench.compare]`` table
are mutated: any value anywhere replaced by another JSON value (wrong types,
NaN and Infinity, negative and huge numbers, JSON nested thousands deep,
strings with ``$``, ``<script>``, ``|`` and newlines), or a key deleted.
The entry points are called in-process.

Figures are the slow part of a render (about 7 s of matplotlib layout per
report on the 2-core machine, however small the run), so the many-example
test builds every figure but neither lays it out nor writes it (``savefig``
and ``tight_layout`` stubbed), and a second test renders in full for fewer
examples.  ``VECBENCH_PROPERTY_EXAMPLES`` sets the number of examples
(default 25, under a minute in all; the issue's bar is 1000, about 17 minutes);
the full-render test runs one in 50 of them, at least 2.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from reports import compare
from reports.__main__ import main as report_main

EXAMPLES = int(os.environ.get("VECBENCH_PROPERTY_EXAMPLES", "25"))
FULL_EXAMPLES = max(2, EXAMPLES // 50)
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --------------------------------------------------------------------------
# The valid inputs
# --------------------------------------------------------------------------
def _stats(median: float) -> dict[str, Any]:
    data = [median * f for f in (0.96, 0.98, 1.0, 1.03, 1.05)]
    return {"min": min(data), "max": max(data), "mean": sum(data) / 5, "stddev": 0.0,
            "rounds": 5, "median": median, "iqr": median * 0.05, "q1": median * 0.98,
            "q3": median * 1.03, "iterations": 1, "ops": 1 / median, "total": sum(data),
            "data": data}


def _bench(name: str, extra: dict[str, Any], median: float) -> dict[str, Any]:
    return {"group": None, "name": f"test_x[{name}]", "fullname": f"bench/b.py::test_x[{name}]",
            "params": {"case_id": name}, "param": name, "extra_info": extra,
            "options": {"min_rounds": 5}, "stats": _stats(median)}


def template(commit: str = "abcdef1234567890") -> dict[str, Any]:
    """A valid run with a few benchmarks of every kind and the run's own record."""
    benches = []
    for kernel, backend, variant, n, layout, seconds in (
            ("magnitude", "python", "loop", 4, "C", 2e-6),
            ("magnitude", "python", "loop", 64, "C", 2e-5),
            ("magnitude", "numpy", "vectorized", 4, "C", 3e-6),
            ("magnitude", "numpy", "vectorized", 64, "C", 3.2e-6),
            ("row_sums", "numpy", "vectorized", 8, "C", 2e-6),
            ("row_sums", "numpy", "vectorized", 8, "F", 2.5e-6)):
        extra = {"measure": "steady", "kernel": kernel, "backend": backend, "variant": variant,
                 "default_variant": True, "size": n, "layout": layout, "dtype": "float64",
                 "threads": 1, "bytes": 24 * n, "flops": 4 * n, "allocator": "warm",
                 "state": {"other_cpu": 0.1, "steal": 0.0, "load1": 0.5, "running": 1}}
        if n == 64:
            extra.update(input_bytes_per_element=8.0, peak_extra_bytes=512)
        benches.append(_bench(f"{kernel}-{backend}-{variant}-n{n}-{layout}", extra, seconds))
    fresh = copy.deepcopy(benches[3])
    fresh["extra_info"]["allocator"] = "fresh"
    fresh["name"] += "-fresh"
    benches.append(fresh)
    benches.append(_bench("magnitude-numba", {
        "measure": "compile", "kernel": "magnitude", "backend": "numba", "variant": "loop",
        "compile_seconds": 0.1, "reference_size": 64, "numba_seconds": 1e-6,
        "numpy_seconds": 3e-6, "break_even_calls": 50000, "threads": 1}, 0.1))
    benches.append(_bench("read_bandwidth-1", {
        "measure": "ceiling", "ceiling": "read_bandwidth", "threads": 1, "value": 20.0,
        "unit": "GB/s"}, 0.01))
    benches.append(_bench("overhead-numpy", {"measure": "overhead", "backend": "numpy",
                                             "threads": 1}, 3e-7))
    return {
        "machine_info": {
            "node": "box", "machine": "x86_64", "processor": "x86_64",
            "cpu": {"brand_raw": "Test CPU", "count": 2},
            "vecbench": {"cpu_count": 2, "caches": {"L1d": 32768, "L2": 1048576},
                         "blas": [{"internal_api": "openblas", "version": "0.3"}],
                         "implementations": [{"kernel": "magnitude", "backend": "cython",
                                              "variant": "loop", "path": None,
                                              "unavailable": "not built"}],
                         "simd_path": {"path": "numpy", "setting": "auto"}}},
        "commit_info": {"id": commit, "time": "2026-01-01T10:00:00+00:00", "dirty": False,
                        "branch": "main"},
        "benchmarks": benches,
        "datetime": "2026-01-02T03:04:05.000000+00:00",
        "version": "5.1.0",
        "vecbench": {
            "version": 1, "profile": "quick",
            "selection": {"kernels": ["magnitude", "row_sums"], "backends": None,
                          "variants": None, "sizes": "1..1e6", "sources": ["ext/mod.py"]},
            "kernels": {
                "magnitude": {"summary": "elementwise sqrt(x_i^2 + y_i^2)",
                              "params": [["x", "vector"], ["y", "vector"]], "seed_size": 64,
                              "memory_size": 64, "history_size": 64,
                              "ceiling": "stream_add_bandwidth", "origin": "vecbench"},
                "row_sums": {"summary": "sum of each row", "params": [["A", "matrix"]],
                             "seed_size": 8, "memory_size": 8, "history_size": 8,
                             "ceiling": None, "origin": "ext/mod.py"}},
            "beyond_cache": {"magnitude": {"size": 64, "working_set_bytes": 1536,
                                           "input_bytes": 1024, "llc_bytes": 1048576,
                                           "capped": "n=128 needs too much memory"}},
            "allocator": {"controlled": True, "how": "glibc mallopt", "default": "warm",
                          "regimes": {"warm": {"M_MMAP_THRESHOLD": 33554432},
                                      "fresh": {"M_MMAP_THRESHOLD": 4096}}, "why": None},
            "state": {"cpu_count": 2, "samples": [
                {"at": 0.0, "phase": "before", "load1": 0.21, "running": 1, "other_cpu": None,
                 "steal": 0.0, "mhz": 2900.0},
                {"at": 1.0, "phase": "during", "load1": 0.3, "running": 2, "other_cpu": 0.1,
                 "steal": 0.0, "mhz": 2900.0},
                {"at": 2.0, "phase": "after", "load1": 0.3, "running": 1, "other_cpu": 0.05,
                 "steal": 0.0, "mhz": None}]},
            "absent": [{"benchmark": "row_sums-numba-parallel-n128-C-t2", "measure": "steady",
                        "kernel": "row_sums", "backend": "numba", "variant": "parallel",
                        "size": 128, "layout": "C", "threads": 2, "allocator": "warm",
                        "reason": "over_budget", "detail": "one call estimated at 3 s"}]},
    }


SETTINGS_TABLE: dict[str, Any] = {
    "threshold": 0.10,
    "alpha": 0.01,
    "thresholds": {"matmul": 0.15},
    "accepted": [{"benchmark": "magnitude-numpy-vectorized-n64-C", "max_ratio": 1.3,
                  "reason": "reviewed"}],
}


# --------------------------------------------------------------------------
# Mutations
# --------------------------------------------------------------------------
#: Stands for JSON nested this deep; spliced into the text after json.dumps.
DEEP = "\x00deep:"
TEXTS = ("", " ", "$", "a$b", "$\\frac{a}{b}$", "\\", "<script>alert(1)</script>", "|", "a|b",
         "line\nbreak", "`x`", "**bold**", "_x_", "[a](http://x)", "C", "F", "warm", "fresh",
         "steady", "ceiling", "compile", "overhead", "during", "error", "1e400", "NaN", "x" * 300)


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(), st.booleans(),
        st.integers(-3, 3), st.sampled_from([2**31, 2**53 + 1, 10**30, -(10**30), 10**400]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from([0.0, -0.0, -1.0, 1e-300, 5e-324, 1e308, math.nan, math.inf]),
        st.sampled_from(TEXTS), st.text(max_size=8),
        st.integers(100, 5000).map(lambda depth: f"{DEEP}{depth}"),
    )
    containers = st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
        max_leaves=6)
    return st.one_of(scalars, containers)


def _places(doc: Any, path: tuple = ()) -> Iterator[tuple]:
    """Every place in ``doc``: the path of keys and indices to it."""
    yield path
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _places(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _places(v, (*path, i))


def _mutate(doc: Any, path: tuple, value: Any, delete: bool) -> Any:
    if not path:
        return value
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


@st.composite
def mutated(draw: st.DrawFn, base: Any) -> Any:
    """``base`` (copied) with one to three places replaced or deleted."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 3))):
        places = list(_places(doc))[1:]  # not the whole document: its own tests do that
        if not places:
            break
        path = draw(st.sampled_from(places))
        delete = bool(path) and draw(st.booleans()) and draw(st.booleans())
        doc = _mutate(doc, path, None if delete else draw(_json_values()), delete)
    return doc


def _dumps(doc: Any) -> str:
    """JSON text (NaN and Infinity as the tokens Python writes), deep markers spliced in."""
    text = json.dumps(doc)
    while DEEP in text:
        start = text.index(json.dumps(DEEP)[:-1])
        end = text.index('"', start + 1)
        depth = int(text[start + len(json.dumps(DEEP)) - 1:end])
        text = text[:start] + "[" * depth + "]" * depth + text[end + 1:]
    return text


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(
            value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    return '"null"'  # TOML has no null


def settings_text(table: Any) -> str:
    """``pyproject.toml`` holding ``table`` as ``[tool.vecbench.compare]`` (inline values)."""
    if not isinstance(table, dict):
        return f"[tool.vecbench]\ncompare = {_toml(table)}\n"
    lines = ["[tool.vecbench.compare]"]
    lines += [f"{json.dumps(k)} = {_toml(v)}" for k, v in table.items() if v is not None]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# Calling the entry points
# --------------------------------------------------------------------------
def _call(fn: Any, argv: list[str]) -> tuple[int, str]:
    """``fn(argv)``'s status and stderr; nothing may escape it."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = fn(argv)
    return status, err.getvalue()


def _one_line_on_error(status: int, err: str, allowed: tuple[int, ...]) -> None:
    assert status in allowed, (status, err)
    if status == 2:
        assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err, err


@contextlib.contextmanager
def _no_layout() -> Iterator[None]:
    """Figures are built but not laid out or written (a PNG stands in)."""
    def save(self: Figure, fname: Any, *args: Any, **kwargs: Any) -> None:
        Path(fname).write_bytes(b"\x89PNG\r\n\x1a\n")

    with pytest.MonkeyPatch.context() as m:
        m.setattr(Figure, "savefig", save)
        m.setattr(Figure, "tight_layout", lambda self, *a, **k: None)
        yield


def _render_both(doc: Any, *, full: bool) -> None:
    """Render the mutated run beside a good one, and the good one beside the mutated one."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp, "runs")
        folder.mkdir()
        good = folder / "0001_good.json"
        good.write_text(json.dumps(template()))
        bad = folder / "0002_mutated.json"
        bad.write_text(_dumps(doc))
        status, err = _call(report_main, [str(bad), "--out", str(Path(tmp, "out"))])
        _one_line_on_error(status, err, (0, 2))
        if status == 2:
            assert not Path(tmp, "out").exists()
        # A corrupt neighbour never stops a good run: the history leaves it out.
        status, err = _call(report_main, [str(good), "--out", str(Path(tmp, "out2"))])
        _one_line_on_error(status, err, (0,))
        assert not [p for p in Path(tmp).iterdir() if ".partial-" in p.name]
        if not full:
            return
        for out in ("out", "out2"):
            for name in ("summary.md", "index.html"):
                page = Path(tmp, out, name)
                assert not page.exists() or "<script>" not in page.read_text(encoding="utf-8")


@SETTINGS
@given(doc=mutated(template()))
def test_mutated_run_one_line_or_report(doc: Any) -> None:
    with _no_layout():
        _render_both(doc, full=False)


@settings(SETTINGS, max_examples=FULL_EXAMPLES)
@given(doc=mutated(template()))
def test_mutated_run_full_render(doc: Any) -> None:
    _render_both(doc, full=True)


@SETTINGS
@given(new=mutated(template(commit="bcdef12345678901")),
       base_mutated=st.booleans(), table=st.one_of(st.just(SETTINGS_TABLE),
                                                   mutated(SETTINGS_TABLE)))
def test_mutated_compare_verdict_or_one_line(new: Any, base_mutated: bool, table: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base, other = Path(tmp, "base.json"), Path(tmp, "new.json")
        base.write_text(json.dumps(template()))
        other.write_text(_dumps(new))
        if base_mutated:
            base, other = other, base
        config = Path(tmp, "pyproject.toml")
        config.write_text(settings_text(table), encoding="utf-8")
        status, err = _call(compare.main, [str(base), str(other), "--config", str(config),
                                           "--storage", tmp])
        _one_line_on_error(status, err, (0, 1, 2))


def test_template_is_valid(tmp_path: Path) -> None:
    """The unmutated inputs give a report and a verdict (so mutations are what fail)."""
    run = tmp_path / "run.json"
    run.write_text(json.dumps(template()))
    with _no_layout():
        assert _call(report_main, [str(run), "--out", str(tmp_path / "out")]) == (0, "")
    config = tmp_path / "pyproject.toml"
    config.write_text(settings_text(SETTINGS_TABLE))
    status, err = _call(compare.main, [str(run), str(run), "--config", str(config)])
    assert status == 0, err

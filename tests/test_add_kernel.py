"""Adding a kernel takes one spec and one function per backend, and nothing else.

The module below, written to a temporary folder, is all there is to the new
kernel "energy" (the sum of x_i^2): a spec, and one function each for the
python, numpy, numba and cython backends (the cython one is a function of
the project's compiled extension, as a user's own compiled module would
be).  With no other change the grid has its cases, the suites benchmark it
(the JIT benchmark too), the saved run keeps its facts, and the report and
the history render it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import kernels
from bench import grid

ROOT = Path(__file__).resolve().parents[1]
KERNEL = "energy"
QUICK_SIZES = (10, 1000)
HISTORY_SIZE = 10  # not the largest size: the history must follow the spec's choice

MODULE = f'''
"""The kernel {KERNEL!r}: one spec, one function per backend."""
import numpy as np

import kernels
from kernels.backends.numba_options import njit
from kernels import KernelSpec, Param


def _inputs(n, rng, layout):
    return (rng.standard_normal(n),)


def _reference(x):
    x = np.asarray(x, dtype=np.longdouble)
    return float(np.sum(x * x))


def _error_scale(x):
    x = np.asarray(x, dtype=np.float64)
    return float(np.sum(x * x)), x.size


SPEC = KernelSpec(
    name={KERNEL!r},
    summary="sum of x_i^2, the signal's energy",
    params=(Param("x", "vector"),),
    make_inputs=_inputs,
    reference=_reference,
    error_scale=_error_scale,
    bytes_moved=lambda n: 8 * n,
    flops=lambda n: 2 * n,
    sizes=(1, 10, 100, 1000, 10000),
    ladders={{"first": {QUICK_SIZES!r}, "quick": {QUICK_SIZES!r}, "full": (1, 10, 100, 1000)}},
    seed_size=1000,
    memory_size=1000,
    history_size={HISTORY_SIZE},
)


def energy_python(x):
    s = 0.0
    for v in x:
        s += v * v
    return s


def energy_numpy(x):
    return float(np.dot(x, x))


@njit({{"cache": False}})
def energy_numba(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * x[i]
    return s


IMPLEMENTATIONS = {{
    ({KERNEL!r}, "python", "loop"): energy_python,
    ({KERNEL!r}, "numpy", "dot"): energy_numpy,
    ({KERNEL!r}, "numba", "loop"): energy_numba,
    # a function of a compiled extension: the project's own Cython loop
    ({KERNEL!r}, "cython", "loop"): kernels.implementation("sum_of_squares", "cython").core,
}}
'''

BACKENDS = {"python": "loop", "numpy": "dot", "numba": "loop", "cython": "loop"}


@pytest.fixture(scope="module")
def module(tmp_path_factory) -> Path:
    if kernels.backend_error("cython") is not None:
        pytest.skip(f"the Cython extension is not built: {kernels.backend_error('cython')}")
    path = tmp_path_factory.mktemp("user") / "energy_kernel.py"
    path.write_text(textwrap.dedent(MODULE))
    return path


def test_the_grid_has_the_new_kernels_cases(module):
    from kernels import external

    specs = external.load(str(module))
    try:
        assert [s.name for s in specs] == [KERNEL]
        quick = grid.PROFILES["quick"]
        mine = {(c.impl.backend, c.impl.variant, c.n, c.layout)
                for c in grid.cases(quick) if c.impl.kernel == KERNEL}
        assert mine == {(b, v, n, "C") for b, v in BACKENDS.items() for n in QUICK_SIZES}
        only = grid.make_selection(sources=[str(module)], defined=[KERNEL])
        assert {c.impl.kernel for c in grid.cases(quick, only)} == {KERNEL}
        assert [(i.kernel, i.variant) for i in grid.jit_implementations(quick, only)] == \
            [(KERNEL, "loop")]
        assert [c.impl.backend for c in grid.fresh_cases(quick, only)] == \
            ["numpy", "numba", "cython"]  # the quick profile leaves Python's lists out
    finally:
        external.unload(str(module))
    assert KERNEL not in kernels.SPECS


def _child_env() -> dict[str, str]:
    # Not an xdist worker's: pytest-benchmark would refuse --benchmark-only.
    return {k: v for k, v in os.environ.items()
            if not k.startswith("PYTEST_XDIST") and k != "PYTEST_CURRENT_TEST"}


@pytest.fixture(scope="module")
def saved_run(module, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """The suites run in a child pytest on the new kernel alone, from another folder."""
    folder = tmp_path_factory.mktemp("run")
    out = folder / "runs" / "run.json"
    out.parent.mkdir()
    child = subprocess.run(
        [sys.executable, "-m", "pytest", str(ROOT / "bench"), "--benchmark-only",
         "--profile=quick", "--vb-kernels", str(module), f"--benchmark-json={out}",
         "--benchmark-save-data", "-p", "no:cacheprovider", "-q", "-rs"],
        cwd=folder, env=_child_env(), capture_output=True, text=True, timeout=900)
    assert child.returncode == 0, child.stdout[-4000:] + child.stderr[-4000:]
    return out, child


def test_the_suites_benchmark_the_new_kernel(saved_run, module):
    out, child = saved_run
    assert "KeyError" not in child.stdout + child.stderr
    run = json.loads(out.read_text())
    vecbench = run["vecbench"]
    assert vecbench["profile"] == "quick"
    assert vecbench["selection"] == {"kernels": [KERNEL], "backends": None, "variants": None,
                                     "sizes": None, "sources": [str(module)], "slice": True}
    facts = vecbench["kernels"]
    assert list(facts) == [KERNEL]
    assert facts[KERNEL]["origin"] == str(module)
    assert facts[KERNEL]["params"] == [["x", "vector"]]
    assert (facts[KERNEL]["seed_size"], facts[KERNEL]["memory_size"],
            facts[KERNEL]["history_size"]) == (1000, 1000, HISTORY_SIZE)

    infos = [b["extra_info"] for b in run["benchmarks"]]
    steady = {(i["kernel"], i["backend"], i["variant"], i["size"]) for i in infos
              if i.get("measure") == "steady" and i.get("allocator") != "fresh"}
    assert steady == {(KERNEL, b, v, n) for b, v in BACKENDS.items() for n in QUICK_SIZES}
    compiled = [i for i in infos if i.get("measure") == "compile"]
    assert [(i["kernel"], i["variant"]) for i in compiled] == [(KERNEL, "loop")]
    assert compiled[0]["compile_seconds"] > 0 and compiled[0]["reference_size"] == 1000
    ceilings = {i["ceiling"] for i in infos if i.get("measure") == "ceiling"}
    assert ceilings == {"read_bandwidth"}  # the default roof; the spec names no other
    assert {i["backend"] for i in infos if i.get("measure") == "overhead"} == \
        {*kernels.BACKENDS, "checks"}
    # nothing of the new kernel failed; nothing outside the slice is listed as absent
    absent = vecbench["absent"]
    assert not [e for e in absent if e["reason"] in ("failed", "error")], absent
    assert {e["kernel"] for e in absent} <= {KERNEL, None}


def test_the_report_and_the_history_show_the_new_kernel(saved_run, tmp_path):
    out, _ = saved_run
    report = subprocess.run([sys.executable, "-m", "reports", str(out), "--out",
                             str(tmp_path / "out")],
                            cwd=tmp_path, env=_child_env(), capture_output=True, text=True,
                            timeout=600)
    assert report.returncode == 0, report.stdout[-3000:] + report.stderr[-3000:]
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert KERNEL in summary

    from reports import history

    found = history.collect(out.parent)
    assert not found.skipped, found.skipped
    assert [r.path.name for r in found.runs] == [out.name]
    assert found.sizes.get(KERNEL) == HISTORY_SIZE
    assert history.plot(found) is not None

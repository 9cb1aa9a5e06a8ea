"""Every SIMD path of the sin variants runs here, not only the widest (kernels/simd.py).

The test ids carry ``simd-<path>``; the session's closing summary counts them
(conftest.py), so a run shows which paths it executed.  A path this machine
cannot run is skipped with the reason: on an AVX-512 machine nothing is.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
from test_sum_order import chunk_order_sum, lane_order_sum

import kernels
from kernels import registry, simd
from kernels.backends.numba_lanes import CHUNK

COMPILED = ("numba", "cython")
SIZES = (0, 1, 31, 32, 33, 511, 512, 513, 5000, 2 * CHUNK + 3)


def _on_path(path: str) -> list[kernels.Implementation]:
    """Every implementation with SIMD paths, on ``path``."""
    return [kernels.implementation(i.kernel, i.backend, i.variant, path=path)
            for i in kernels.implementations() if i.path is not None]


def _path_param(path: str):
    return pytest.param(path, id=f"simd-{path}")


PATH_PARAMS = [_path_param(p) for p in simd.PATHS]


@pytest.fixture(params=PATH_PARAMS)
def path(request) -> str:
    reason = simd.why_not(request.param)
    if reason is not None:
        pytest.skip(f"this machine cannot run it: {reason}")
    return request.param


def test_the_sin_variants_have_paths_in_both_backends():
    with_paths = {(i.kernel, i.backend, i.variant) for i in kernels.implementations()
                  if i.path is not None}
    for backend in COMPILED:
        assert ("sum_sq_sin", backend, "vector_sin") in with_paths
        assert ("sum_sq_sin", backend, "parallel") in with_paths


def test_every_path_agrees_with_the_reference(path):
    impls = _on_path(path)
    assert impls and all(i.path == path and i.runnable for i in impls)
    for impl in impls:
        for n in SIZES:
            inputs = impl.spec.inputs(n)
            problem = impl.spec.mismatch(impl.func(*inputs), inputs)
            assert problem is None, f"{impl.label} on {path}, n={n}: {problem}"


def test_both_backends_give_the_same_bits_on_every_path(path):
    # The same libmvec (or libm) function, in the same order, in both backends.
    for variant in ("vector_sin", "parallel"):
        for n in SIZES:
            x = kernels.spec("sum_sq_sin").inputs(n)[0]
            got = [kernels.implementation("sum_sq_sin", b, variant, path=path).func(x)
                   for b in COMPILED]
            assert got[0] == got[1], f"{variant} on {path}, n={n}: {got}"


@pytest.mark.parametrize("n", SIZES)
def test_the_scalar_path_is_libm_sin_in_lane_order(n):
    # Python's math.sin is libm's sin: the scalar path must give these bits exactly.
    x = kernels.spec("sum_sq_sin").inputs(n)[0]
    terms = [v * v + math.sin(v) for v in x.tolist()]
    for backend in COMPILED:
        vector = kernels.implementation("sum_sq_sin", backend, "vector_sin", path="scalar")
        parallel = kernels.implementation("sum_sq_sin", backend, "parallel", path="scalar")
        assert vector.func(x) == lane_order_sum(terms), backend
        assert parallel.func(x) == chunk_order_sum(terms), backend


def test_the_sin_ceilings_run_on_every_path(path):
    from functools import partial

    from kernels.backends import _cython_vecmath, numba_vecmath

    x = kernels.spec("sum_sq_sin").inputs(4099)[0]
    expected = float(np.sum(np.sin(x.astype(np.longdouble))))
    loops = numba_vecmath.loops(path)
    index = _cython_vecmath.PATHS.index(path)
    for f in (loops.sum_sin_vector, loops.sum_sin_parallel,
              partial(_cython_vecmath.sum_sin_vector, path=index),
              partial(_cython_vecmath.sum_sin_parallel, path=index)):
        assert math.isclose(f(x), expected, rel_tol=1e-12, abs_tol=1e-9)


def test_both_backends_see_the_same_paths_on_this_machine():
    from kernels.backends import _cython_vecmath

    if os.environ.get("NUMBA_CPU_FEATURES"):
        pytest.skip("NUMBA_CPU_FEATURES gives Numba a target apart from the CPU the "
                    "extension asks")
    ours = [simd.why_not(p) is None for p in simd.PATHS]
    theirs = [_cython_vecmath.why_not(p) is None for p in simd.PATHS]
    assert ours == theirs, (simd.record(), [_cython_vecmath.why_not(p) for p in simd.PATHS])
    assert simd.runnable()[-1] == "scalar"


def test_the_widest_runnable_path_is_the_default(monkeypatch):
    monkeypatch.delenv(simd.ENV, raising=False)
    assert simd.selected() == simd.runnable()[0]
    impl = kernels.implementation("sum_sq_sin", "numba", "vector_sin")
    assert impl.path == simd.selected()


@pytest.mark.parametrize("value", ["avx2", " AVX2 ", "scalar", "auto", ""])
def test_the_setting_forces_a_path(monkeypatch, value):
    monkeypatch.setenv(simd.ENV, value)
    expected = value.strip().lower() or "auto"
    assert simd.requested() == expected
    assert simd.selected() == (simd.runnable()[0] if expected == "auto" else expected)


def test_a_bad_setting_is_named(monkeypatch):
    monkeypatch.setenv(simd.ENV, "sse9")
    with pytest.raises(simd.SimdSettingError, match=r"VECBENCH_SIMD='sse9'.*avx512, avx2"):
        simd.selected()


def test_a_bad_setting_ends_python_m_kernels_in_one_line():
    env = {"VECBENCH_SIMD": "neon", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "kernels"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done
    assert done.stderr.strip().count("\n") == 0 and "VECBENCH_SIMD='neon'" in done.stderr
    assert "Traceback" not in done.stderr


def test_numba_cpu_features_narrow_numbas_paths(monkeypatch):
    monkeypatch.setenv("NUMBA_CPU_FEATURES", "+sse2,+avx,+avx2,+fma,-avx512f")
    simd.target_features.cache_clear()
    try:
        assert "NUMBA_CPU_FEATURES" in simd.why_not("avx512")
        assert "avx512" not in simd.runnable()
    finally:
        monkeypatch.delenv("NUMBA_CPU_FEATURES")
        simd.target_features.cache_clear()


@pytest.fixture
def no_libmvec(monkeypatch):
    """This process as if on a system without libmvec (macOS, musl), registry rebuilt."""
    monkeypatch.setattr(simd, "libmvec", lambda: None)
    registry._implementations.cache_clear()
    yield
    monkeypatch.undo()
    registry._implementations.cache_clear()


def test_a_path_that_cannot_run_is_never_built_and_says_why(no_libmvec):
    impl = kernels.implementation("sum_sq_sin", "numba", "vector_sin", path="avx2")
    assert not impl.runnable and "libmvec" in impl.unavailable
    with pytest.raises(RuntimeError, match="libmvec"):
        impl.func(np.ones(64))


def test_without_libmvec_vector_sin_is_unavailable_and_parallel_is_scalar(no_libmvec, monkeypatch):
    monkeypatch.delenv(simd.ENV, raising=False)
    rows = {(r.backend, r.variant): r for r in kernels.available() if r.kernel == "sum_sq_sin"}
    assert "libmvec" in rows["numba", "vector_sin"].error
    assert rows["numba", "parallel"].ok
    assert kernels.implementation("sum_sq_sin", "numba", "parallel").path == "scalar"


def test_a_forced_scalar_path_is_listed_with_the_setting(monkeypatch):
    monkeypatch.setenv(simd.ENV, "scalar")
    registry._implementations.cache_clear()
    try:
        rows = [r for r in kernels.available() if r.variant == "vector_sin"]
        assert rows and all("VECBENCH_SIMD=scalar" in r.error for r in rows)
    finally:
        monkeypatch.delenv(simd.ENV)
        registry._implementations.cache_clear()


def test_the_cython_vecmath_gate_refuses_bad_path_indices():
    from kernels.backends import _cython_vecmath

    with pytest.raises(ValueError, match="out of range"):
        _cython_vecmath.sum_sq_sin_vector(np.ones(40), 7)
    with pytest.raises(ValueError, match="unknown SIMD path"):
        _cython_vecmath.why_not("avx1024")

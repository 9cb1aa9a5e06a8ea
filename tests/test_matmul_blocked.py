"""The cache-blocked, register-tiled matmul (variant ``blocked``) of numba and cython.

The cores are tested directly (the registry's checks guarantee C-contiguous
float64 2-D inputs with matching inner dimensions), over shapes that hit
every edge of the blocking: empty, 1, 2, odd, one below / at / above the tile
sizes MR = 6 and KU = 4, the block sizes NC = 128 (columns) and KC = 256 (k),
and the vector width 8.  Besides agreeing with the long-double reference, the
blocked product sums every element in the plain k order with one rounding per
multiply and add, so it is bitwise equal to ``ikj`` of the same backend.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kernels
from kernels.backends import numba_jit, numba_matmul

SPEC = kernels.spec("matmul")


def _cores():
    cores = {"numba": (numba_matmul.matmul_blocked, numba_jit.matmul_ikj)}
    try:
        from kernels.backends import _cython_loops, _cython_matmul
    except ImportError as exc:  # extension not built: reported, not hidden
        cores["cython"] = exc
    else:
        cores["cython"] = (_cython_matmul.matmul_blocked, _cython_loops.matmul_ikj)
    return cores


CORES = _cores()


def _core(backend):
    found = CORES[backend]
    if isinstance(found, Exception):
        pytest.fail(f"cython extension _cython_matmul not importable: {found}")
    return found


# (n, k, m): A is n x k, B is k x m.
SHAPES = [
    (0, 3, 2), (5, 0, 4), (0, 0, 0), (3, 4, 0), (0, 0, 5), (1, 1, 1), (2, 2, 2),
    (1, 7, 1), (7, 1, 7), (3, 5, 7), (17, 33, 9),
    # rows around MR = 6, k around KU = 4, columns around the vector width 8
    (5, 3, 7), (6, 4, 8), (7, 5, 9), (11, 8, 15), (12, 9, 16), (13, 11, 17),
    # columns around NC = 128, k around KC = 256
    (6, 256, 128), (7, 255, 127), (8, 257, 129), (13, 513, 257), (19, 260, 300),
    (130, 257, 65), (1, 600, 1), (61, 1, 400), (300, 300, 300),
]


def _inputs(n, k, m, seed=0):
    rng = np.random.default_rng([seed, n, k, m])
    return rng.standard_normal((n, k)), rng.standard_normal((k, m))


def _bits(x):
    return np.ascontiguousarray(x).view(np.uint64)


@pytest.mark.parametrize("backend", ["numba", "cython"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_agrees_with_reference(backend, shape):
    blocked, _ = _core(backend)
    A, B = _inputs(*shape)
    C = blocked(A, B)
    assert isinstance(C, np.ndarray) and C.dtype == np.float64
    assert C.shape == (shape[0], shape[2]) and C.flags.c_contiguous
    problem = SPEC.mismatch(C, (A, B))
    assert problem is None, f"{backend} blocked {shape}: {problem}"


@pytest.mark.parametrize("backend", ["numba", "cython"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_bitwise_equal_to_ikj(backend, shape):
    blocked, ikj = _core(backend)
    A, B = _inputs(*shape, seed=1)
    assert np.array_equal(_bits(blocked(A, B)), _bits(ikj(A, B)))


def test_backends_bitwise_equal():
    A, B = _inputs(131, 517, 263, seed=2)
    numba_blocked, _ = _core("numba")
    cython_blocked, _ = _core("cython")
    assert np.array_equal(_bits(numba_blocked(A, B)), _bits(cython_blocked(A, B)))


@pytest.mark.parametrize("backend", ["numba", "cython"])
def test_inputs_untouched_and_read_only_accepted(backend):
    blocked, ikj = _core(backend)
    A, B = _inputs(14, 261, 133, seed=3)
    A0, B0 = A.copy(), B.copy()
    A.flags.writeable = False
    B.flags.writeable = False
    C = blocked(A, B)
    assert np.array_equal(A, A0) and np.array_equal(B, B0)
    assert np.array_equal(_bits(C), _bits(ikj(A0, B0)))


@pytest.mark.parametrize("backend", ["numba", "cython"])
def test_special_values_propagate_like_ikj(backend):
    blocked, ikj = _core(backend)
    A, B = _inputs(13, 9, 11, seed=4)
    A[2, 3] = np.inf
    A[5, 0] = np.nan
    B[4, 7] = -np.inf
    B[1, :] = -0.0
    A[7, :] = 0.0
    C, ref = blocked(A, B), ikj(A, B)
    assert np.array_equal(C, ref, equal_nan=True)
    assert np.array_equal(np.signbit(C), np.signbit(ref))


@pytest.mark.parametrize("backend", ["numba", "cython"])
def test_repeated_calls_do_not_leak_state(backend):
    # The packed-B and C-tile buffers are per call; a big call then a small one
    # must not see the big one's leftovers (padding columns, edge rows).
    blocked, ikj = _core(backend)
    big = _inputs(20, 300, 140, seed=5)
    small = _inputs(7, 5, 3, seed=6)
    blocked(*big)
    assert np.array_equal(_bits(blocked(*small)), _bits(ikj(*small)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(0, 20),
    k=st.integers(0, 600),
    m=st.integers(0, 300),
    seed=st.integers(0, 2**16),
    backend=st.sampled_from(["numba", "cython"]),
)
def test_any_shape(n, k, m, seed, backend):
    blocked, ikj = _core(backend)
    A, B = _inputs(n, k, m, seed=seed)
    C = blocked(A, B)
    assert C.shape == (n, m)
    assert SPEC.mismatch(C, (A, B)) is None
    assert np.array_equal(_bits(C), _bits(ikj(A, B)))

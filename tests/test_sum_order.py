"""The compiled reductions add in the order their sources document, bit for bit.

``unrolled`` and ``parallel`` change the order of a sum on purpose (lanes,
chunks, blocks of rows); that order is written down (kernels/backends/
numba_lanes.py, _lanes.pxd) so that a result can be reproduced.  These tests
rebuild each documented order in plain Python float arithmetic, which is the
same IEEE double arithmetic, and ask for equality, not closeness: a loop that
summed in some other order, or a compiler allowed to reassociate, would fail.
"""

from __future__ import annotations

import numpy as np
import pytest

import kernels
from kernels.backends.numba_lanes import CHUNK, LANES

COMPILED = ("numba", "cython")
VECTOR_SIZES = (0, 1, 31, 32, 33, 95, 1000, 4099)


def lane_order_sum(values) -> float:
    """LANES partial sums (lane k: elements k, k + LANES, ...); the four vectors of
    eight lanes added as (v0 + v1) + (v2 + v3), their lanes pairwise; then the tail."""
    values = [float(v) for v in values]
    whole = len(values) - len(values) % LANES
    s = [0.0] * LANES
    for i in range(0, whole, LANES):
        for k in range(LANES):
            s[k] += values[i + k]
    t = [(s[k] + s[k + 8]) + (s[k + 16] + s[k + 24]) for k in range(8)]
    total = ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]))
    for v in values[whole:]:
        total += v
    return total


def chunk_order_sum(values) -> float:
    """Fixed chunks of CHUNK elements, each in lane order, added in chunk order."""
    total = 0.0
    for lo in range(0, len(values), CHUNK):
        total += lane_order_sum(values[lo:lo + CHUNK])
    return total


def four_row_sums(A: np.ndarray) -> np.ndarray:
    """Column sums, four rows a pass: out += (r0 + r1) + (r2 + r3), then single rows."""
    out = np.zeros(A.shape[1])
    n = A.shape[0]
    for i in range(0, n - n % 4, 4):
        out += (A[i] + A[i + 1]) + (A[i + 2] + A[i + 3])
    for i in range(n - n % 4, n):
        out += A[i]
    return out


def _vector(n: int) -> np.ndarray:
    return np.random.default_rng(n).standard_normal(n)


@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("n", VECTOR_SIZES)
def test_unrolled_sum_of_squares_is_in_lane_order(backend, n):
    x = _vector(n)
    got = kernels.get("sum_of_squares", backend, "unrolled")(x)
    assert got == lane_order_sum(x * x)


@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("n", (0, 5, CHUNK, 2 * CHUNK + 77))
def test_parallel_sum_of_squares_is_in_chunk_order(backend, n):
    x = _vector(n)
    got = kernels.get("sum_of_squares", backend, "parallel")(x)
    assert got == chunk_order_sum(x * x)


@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("layout", ["C", "F"])
def test_unrolled_row_sums_are_in_lane_order(backend, layout):
    # m = 70: two whole lanes and a tail; F order reads each row with a stride.
    A = np.asarray(np.random.default_rng(7).standard_normal((5, 70)), order=layout)
    got = kernels.get("row_sums", backend, "unrolled")(A)
    assert got.tolist() == [lane_order_sum(row) for row in A]


@pytest.mark.parametrize("backend", COMPILED)
@pytest.mark.parametrize("variant", ["unrolled", "parallel"])
def test_column_sums_add_four_rows_a_pass(backend, variant):
    # 255 rows: one block of the parallel form (256 rows), with a tail of three.
    A = np.random.default_rng(3).standard_normal((255, 41))
    got = kernels.get("col_sums", backend, variant)(A)
    assert got.tolist() == four_row_sums(A).tolist()


@pytest.mark.parametrize("backend", COMPILED)
def test_parallel_column_sums_add_blocks_in_order(backend):
    # 600 rows: blocks of 256, 256 and 88 rows, each summed four rows a pass.
    A = np.random.default_rng(4).standard_normal((600, 19))
    expected = np.zeros(19)
    for lo in range(0, 600, 256):
        expected += four_row_sums(A[lo:lo + 256])
    got = kernels.get("col_sums", backend, "parallel")(A)
    assert got.tolist() == expected.tolist()
    # row sums of the transpose, in F order, take the same path
    got = kernels.get("row_sums", backend, "parallel")(np.asfortranarray(A.T))
    assert got.tolist() == expected.tolist()


# The vector sin variants, path by path: tests/test_simd_paths.py.

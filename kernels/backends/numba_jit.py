"""Numba: the loops of the python backend, compiled by ``@njit``.

Options are named in ``numba_options`` and nowhere else.  Every variant is strict IEEE
(``fastmath=False``: the compiler neither reassociates sums nor contracts
into FMA), the same policy the Cython extension is compiled with.  Where a
variant sums in another order, the order is written in the source:

- ``unrolled``: thirty-two independent partial sums (lane k takes elements
  k, k+32, ...), combined pairwise at the end, so the additions no longer
  wait on each other and the loop can run at memory speed; Numba does not
  vectorize them by itself, so ``numba_lanes`` writes the SIMD loop.  For
  col_sums, four rows are added before each pass over the result;
- ``parallel``: ``PARALLEL_OPTIONS`` (``parallel=True``) with ``prange`` over
  fixed chunks, each summed as in ``unrolled`` (sum_sq_sin as in
  ``vector_sin``), the chunk sums added in order; the result does not depend
  on the number of threads.  2-D kernels pick the loop order that streams
  through the array's layout.

Compilation happens on the first call with each array layout; the benchmarks
make that call before timing.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from kernels.backends import numba_vecmath
from kernels.backends.numba_lanes import chunked_sum, sum_range, sum_squares_range
from kernels.backends.numba_matmul import matmul_blocked
from kernels.backends.numba_options import JIT_OPTIONS, PARALLEL_OPTIONS, njit

INPUTS = "arrays"

#: Rows per block of a parallel column sum: each block keeps its own partial sums.
ROWS = 256

jit = njit(JIT_OPTIONS)
pjit = njit(PARALLEL_OPTIONS)


def _numpy_result(fill):
    """Run ``fill(x, y, out)`` on a result NumPy allocated.

    NumPy asks the kernel for transparent huge pages on large arrays; Numba's
    runtime allocator does not, and on a 2^24-element result the 4 KiB page
    faults of its first touch cost several times the loop (measured: 127 ms
    against 15 ms to allocate and fill 128 MiB).  So the one kernel with a
    large result takes it from NumPy, as the Cython extension does.  ``jitted``
    and ``jit_args`` let the compile-cost benchmark reach the jitted loop.
    """

    def run(x, y):
        out = np.empty(x.shape[0])
        fill(x, y, out)
        return out

    run.jitted = fill
    run.jit_args = lambda x, y: (x, y, np.empty(x.shape[0]))
    run.__name__ = run.__qualname__ = fill.__name__.removesuffix("_into")
    return run


@jit
def _magnitude_into(x, y, out):
    for i in range(x.shape[0]):
        out[i] = math.sqrt(x[i] * x[i] + y[i] * y[i])


magnitude = _numpy_result(_magnitude_into)


@jit
def sum_of_squares(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * x[i]
    return s


@jit
def sum_sq_sin(x):
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * x[i] + math.sin(x[i])
    return s


@jit
def row_sums_row_at_a_time(A):
    n, m = A.shape
    out = np.empty(n)
    for i in range(n):
        s = 0.0
        for j in range(m):
            s += A[i, j]
        out[i] = s
    return out


@jit
def row_sums_column_streaming(A):
    n, m = A.shape
    out = np.zeros(n)
    for j in range(m):
        for i in range(n):
            out[i] += A[i, j]
    return out


@jit
def col_sums_column_at_a_time(A):
    n, m = A.shape
    out = np.empty(m)
    for j in range(m):
        s = 0.0
        for i in range(n):
            s += A[i, j]
        out[j] = s
    return out


@jit
def col_sums_row_streaming(A):
    n, m = A.shape
    out = np.zeros(m)
    for i in range(n):
        for j in range(m):
            out[j] += A[i, j]
    return out


@jit
def matmul_naive_ijk(A, B):
    n, k = A.shape
    m = B.shape[1]
    C = np.empty((n, m))
    for i in range(n):
        for j in range(m):
            s = 0.0
            for p in range(k):
                s += A[i, p] * B[p, j]
            C[i, j] = s
    return C


@jit
def matmul_ikj(A, B):
    n, k = A.shape
    m = B.shape[1]
    C = np.zeros((n, m))
    for i in range(n):
        for p in range(k):
            a = A[i, p]
            for j in range(m):
                C[i, j] += a * B[p, j]
    return C



# --------------------------------------------------------------------------
# unrolled: thirty-two partial sums (numba_lanes) or four rows a pass
# --------------------------------------------------------------------------
@jit
def _total(v):
    """Sum of a 1-D view (a row or a column) in lanes."""
    return sum_range(v, 0, v.shape[0])


@jit
def _add_rows(A, lo, hi, out):
    """out[j] += A[lo:hi, j], four rows a pass: out is read and written once per four rows."""
    m = A.shape[1]
    i = lo
    while i + 4 <= hi:
        for j in range(m):
            out[j] += (A[i, j] + A[i + 1, j]) + (A[i + 2, j] + A[i + 3, j])
        i += 4
    while i < hi:
        for j in range(m):
            out[j] += A[i, j]
        i += 1


@jit
def sum_of_squares_unrolled(x):
    return sum_squares_range(x, 0, x.shape[0])


@jit
def row_sums_unrolled(A):
    n = A.shape[0]
    out = np.empty(n)
    for i in range(n):
        out[i] = _total(A[i])
    return out


@jit
def col_sums_unrolled(A):
    out = np.zeros(A.shape[1])
    _add_rows(A, 0, A.shape[0], out)
    return out


# --------------------------------------------------------------------------
# parallel: prange over fixed chunks or blocks
# --------------------------------------------------------------------------
@pjit
def _magnitude_parallel_into(x, y, out):
    for i in numba.prange(x.shape[0]):
        out[i] = math.sqrt(x[i] * x[i] + y[i] * y[i])


magnitude_parallel = _numpy_result(_magnitude_parallel_into)


@jit
def sum_of_squares_parallel(x):
    return chunked_sum(sum_squares_range, x)


@pjit
def _column_totals_parallel(B):
    """Column sums of B streaming along its rows: each block of ROWS rows on a thread
    sums into its own row of partial sums, added in block order at the end."""
    n, m = B.shape
    blocks = (n + ROWS - 1) // ROWS
    partial = np.zeros((blocks, m))
    for b in numba.prange(blocks):
        _add_rows(B, b * ROWS, min(n, (b + 1) * ROWS), partial[b])
    return col_sums_row_streaming(partial)  # the blocks' sums, added in order


@pjit
def _line_totals_parallel(A):
    """Row sums of A whose rows are contiguous: one row per iteration."""
    n = A.shape[0]
    out = np.empty(n)
    for i in numba.prange(n):
        out[i] = _total(A[i])
    return out


@jit
def row_sums_parallel(A):
    if A.strides[1] == A.itemsize:  # rows contiguous: a row per iteration
        return _line_totals_parallel(A)
    return _column_totals_parallel(A.T)  # columns contiguous: stream down them


@jit
def col_sums_parallel(A):
    if A.strides[0] == A.itemsize:  # columns contiguous: a column per iteration
        return _line_totals_parallel(A.T)
    return _column_totals_parallel(A)  # rows contiguous: stream along them


@pjit
def matmul_parallel(A, B):
    n, k = A.shape
    m = B.shape[1]
    C = np.zeros((n, m))
    for i in numba.prange(n):
        for p in range(k):
            a = A[i, p]
            for j in range(m):
                C[i, j] += a * B[p, j]
    return C


@jit
def empty(x):
    """A call that does nothing: dispatch on the argument types, unboxing, return."""
    return 0.0


CORES = {
    "magnitude": {"loop": magnitude, "parallel": magnitude_parallel},
    "sum_of_squares": {
        "loop": sum_of_squares,
        "unrolled": sum_of_squares_unrolled,
        "parallel": sum_of_squares_parallel,
    },
    "row_sums": {
        "row_at_a_time": row_sums_row_at_a_time,
        "column_streaming": row_sums_column_streaming,
        "unrolled": row_sums_unrolled,
        "parallel": row_sums_parallel,
    },
    "col_sums": {
        "column_at_a_time": col_sums_column_at_a_time,
        "row_streaming": col_sums_row_streaming,
        "unrolled": col_sums_unrolled,
        "parallel": col_sums_parallel,
    },
    "matmul": {
        "naive_ijk": matmul_naive_ijk,
        "ikj": matmul_ikj,
        "parallel": matmul_parallel,
        "blocked": matmul_blocked,
    },
    "sum_sq_sin": {
        "loop": sum_sq_sin,
        "parallel": numba_vecmath.PARALLEL,
        "vector_sin": numba_vecmath.VECTOR_SIN,
    },
}


def build_info() -> dict[str, str]:
    """Numba's version and the options its kernels are compiled with."""
    return {
        "numba": numba.__version__,
        "llvmlite": __import__("llvmlite").__version__,
        "jit_options": ", ".join(f"{k}={v}" for k, v in JIT_OPTIONS.items()),
        "parallel_options": "parallel=True, the rest as jit_options",
        "threading_layer": _threading_layer(),
        **numba_vecmath.build_info(),
        "threads": str(numba.config.NUMBA_NUM_THREADS),
    }


def _threading_layer() -> str:
    try:
        return numba.threading_layer()
    except ValueError:  # no parallel function has run yet in this process
        return "not yet chosen (set on the first parallel call)"

"""Numba: the loops of the python backend, compiled by ``@njit``.

Options are named in ``numba_options`` and nowhere else.  Every variant is strict IEEE
(``fastmath=False``: the compiler neither reassociates sums nor contracts
into FMA), the same policy the Cython extension is compiled with.  Where a
variant sums in another order, the order is written in the source:

- ``unrolled``: eight independent partial sums (lane k takes elements
  k, k+8, ...), combined pairwise at the end, so the additions no longer wait
  on each other and the loop can run at memory speed;
- ``parallel``: ``PARALLEL_OPTIONS`` (``parallel=True``) with ``prange`` over
  fixed chunks, each summed as in ``unrolled``, the chunk sums added in
  order; the result does not depend on the number of threads.  2-D kernels
  pick the loop order that streams through the array's layout.

Compilation happens on the first call with each array layout; the benchmarks
make that call before timing.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from kernels.backends import numba_vecmath
from kernels.backends.numba_matmul import matmul_blocked
from kernels.backends.numba_options import JIT_OPTIONS, PARALLEL_OPTIONS

INPUTS = "arrays"

#: Elements per chunk of a parallel reduction (128 KiB of float64).
CHUNK = 16384
#: Rows (or columns) per block of a parallel 2-D reduction.
BLOCK = 64

jit = numba.njit(**JIT_OPTIONS)
pjit = numba.njit(**PARALLEL_OPTIONS)


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
# unrolled: eight partial sums, in the source
# --------------------------------------------------------------------------
@jit
def _sum_sq_range(x, lo, hi):
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    i = lo
    while i + 8 <= hi:
        s0 += x[i] * x[i]
        s1 += x[i + 1] * x[i + 1]
        s2 += x[i + 2] * x[i + 2]
        s3 += x[i + 3] * x[i + 3]
        s4 += x[i + 4] * x[i + 4]
        s5 += x[i + 5] * x[i + 5]
        s6 += x[i + 6] * x[i + 6]
        s7 += x[i + 7] * x[i + 7]
        i += 8
    s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    while i < hi:
        s += x[i] * x[i]
        i += 1
    return s


@jit
def _row_sum(A, i, m):
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    j = 0
    while j + 8 <= m:
        s0 += A[i, j]
        s1 += A[i, j + 1]
        s2 += A[i, j + 2]
        s3 += A[i, j + 3]
        s4 += A[i, j + 4]
        s5 += A[i, j + 5]
        s6 += A[i, j + 6]
        s7 += A[i, j + 7]
        j += 8
    s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    while j < m:
        s += A[i, j]
        j += 1
    return s


@jit
def sum_of_squares_unrolled(x):
    return _sum_sq_range(x, 0, x.shape[0])


@jit
def row_sums_unrolled(A):
    n, m = A.shape
    out = np.empty(n)
    for i in range(n):
        out[i] = _row_sum(A, i, m)
    return out


# --------------------------------------------------------------------------
# parallel: prange over fixed chunks or blocks
# --------------------------------------------------------------------------
@pjit
def _magnitude_parallel_into(x, y, out):
    for i in numba.prange(x.shape[0]):
        out[i] = math.sqrt(x[i] * x[i] + y[i] * y[i])


magnitude_parallel = _numpy_result(_magnitude_parallel_into)


@pjit
def sum_of_squares_parallel(x):
    n = x.shape[0]
    chunks = (n + CHUNK - 1) // CHUNK
    partial = np.empty(chunks)
    for c in numba.prange(chunks):
        partial[c] = _sum_sq_range(x, c * CHUNK, min(n, (c + 1) * CHUNK))
    s = 0.0
    for c in range(chunks):
        s += partial[c]
    return s


@jit
def _sum_sq_sin_range(x, lo, hi):
    s = 0.0
    for i in range(lo, hi):
        s += x[i] * x[i] + math.sin(x[i])
    return s


@pjit
def sum_sq_sin_parallel(x):
    n = x.shape[0]
    chunks = (n + CHUNK - 1) // CHUNK
    partial = np.empty(chunks)
    for c in numba.prange(chunks):
        partial[c] = _sum_sq_sin_range(x, c * CHUNK, min(n, (c + 1) * CHUNK))
    s = 0.0
    for c in range(chunks):
        s += partial[c]
    return s


@pjit
def row_sums_parallel(A):
    n, m = A.shape
    out = np.zeros(n)
    if A.strides[1] == A.itemsize:  # rows contiguous: one row per iteration
        for i in numba.prange(n):
            out[i] = _row_sum(A, i, m)
    else:  # columns contiguous: each block of rows streams down the columns
        for b in numba.prange((n + BLOCK - 1) // BLOCK):
            for j in range(m):
                for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
                    out[i] += A[i, j]
    return out


@pjit
def col_sums_parallel(A):
    n, m = A.shape
    out = np.zeros(m)
    if A.strides[0] == A.itemsize:  # columns contiguous: one column per iteration
        for j in numba.prange(m):
            s = 0.0
            for i in range(n):
                s += A[i, j]
            out[j] = s
    else:  # rows contiguous: each block of columns streams along the rows
        for b in numba.prange((m + BLOCK - 1) // BLOCK):
            for i in range(n):
                for j in range(b * BLOCK, min(m, (b + 1) * BLOCK)):
                    out[j] += A[i, j]
    return out


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
        "parallel": sum_sq_sin_parallel,
        "vector_sin": numba_vecmath.sum_sq_sin_vector,
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

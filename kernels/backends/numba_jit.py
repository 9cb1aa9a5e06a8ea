"""Numba: the loops of the python backend, compiled by ``@njit``.

Options are named here and nowhere else.  The default variants are strict
IEEE (``fastmath=False``: no reassociation of sums, no contraction into FMA),
the same policy the Cython extension is compiled with.  Parallel or fastmath
forms, when added, are separate named variants with their own options.
Compilation happens on the first call with each array layout; the benchmarks
make that call before timing.
"""

from __future__ import annotations

import math

import numba
import numpy as np

INPUTS = "arrays"

#: Options of every single-threaded, strict-IEEE kernel.
JIT_OPTIONS = {
    "nogil": True,
    "cache": False,  # a cache would hide the compile cost the benchmarks measure
    "fastmath": False,
    "error_model": "numpy",  # no Python-style ZeroDivisionError checks in loops
    "boundscheck": False,
}

jit = numba.njit(**JIT_OPTIONS)


@jit
def magnitude(x, y):
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = math.sqrt(x[i] * x[i] + y[i] * y[i])
    return out


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


CORES = {
    "magnitude": {"loop": magnitude},
    "sum_of_squares": {"loop": sum_of_squares},
    "row_sums": {
        "row_at_a_time": row_sums_row_at_a_time,
        "column_streaming": row_sums_column_streaming,
    },
    "col_sums": {
        "column_at_a_time": col_sums_column_at_a_time,
        "row_streaming": col_sums_row_streaming,
    },
    "matmul": {"naive_ijk": matmul_naive_ijk, "ikj": matmul_ikj},
    "sum_sq_sin": {"loop": sum_sq_sin},
}


def build_info() -> dict[str, str]:
    """Numba's version and the options its kernels are compiled with."""
    return {
        "numba": numba.__version__,
        "llvmlite": __import__("llvmlite").__version__,
        "jit_options": ", ".join(f"{k}={v}" for k, v in JIT_OPTIONS.items()),
    }

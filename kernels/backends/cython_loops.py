"""Cython: the same loops, compiled ahead of time into ``_cython_loops``.

The extension is built by ``pip install`` (see setup.py); when it was not
built, importing this module fails and the registry reports the backend as
unavailable with that error.
"""

from __future__ import annotations

from kernels.backends import _cython_loops as ext
from kernels.backends import _cython_matmul
from kernels.backends import _cython_vecmath as vecmath

INPUTS = "arrays"
empty = ext.empty

CORES = {
    "magnitude": {"loop": ext.magnitude, "parallel": ext.magnitude_parallel},
    "sum_of_squares": {
        "loop": ext.sum_of_squares,
        "unrolled": ext.sum_of_squares_unrolled,
        "parallel": ext.sum_of_squares_parallel,
    },
    "row_sums": {
        "row_at_a_time": ext.row_sums_row_at_a_time,
        "column_streaming": ext.row_sums_column_streaming,
        "unrolled": ext.row_sums_unrolled,
        "parallel": ext.row_sums_parallel,
    },
    "col_sums": {
        "column_at_a_time": ext.col_sums_column_at_a_time,
        "row_streaming": ext.col_sums_row_streaming,
        "unrolled": ext.col_sums_unrolled,
        "parallel": ext.col_sums_parallel,
    },
    "matmul": {
        "naive_ijk": ext.matmul_naive_ijk,
        "ikj": ext.matmul_ikj,
        "parallel": ext.matmul_parallel,
        "blocked": _cython_matmul.matmul_blocked,
    },
    "sum_sq_sin": {
        "loop": ext.sum_sq_sin,
        "parallel": vecmath.sum_sq_sin_parallel,
        "vector_sin": vecmath.sum_sq_sin_vector,
    },
}


def build_info() -> dict[str, str]:
    """Compiler, flags and Cython version recorded inside the extension."""
    return {**ext.build_info(), **vecmath.build_info()}

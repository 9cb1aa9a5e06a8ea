"""Cython: the same loops, compiled ahead of time into ``_cython_loops``.

The extension is built by ``pip install`` (see setup.py); when it was not
built, importing this module fails and the registry reports the backend as
unavailable with that error.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from kernels import simd
from kernels.backends import _cython_loops as ext
from kernels.backends import _cython_matmul
from kernels.backends import _cython_vecmath as vecmath

INPUTS = "arrays"
empty = ext.empty


def sin_loop(name: str) -> Callable[[str], Callable[..., float]]:
    """``path -> f(x)``: the vecmath function ``name`` on one SIMD path (kernels.simd)."""
    function = getattr(vecmath, name)
    return lambda path: partial(function, path=vecmath.PATHS.index(path))


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
        "parallel": simd.ByPath(sin_loop("sum_sq_sin_parallel"), vecmath.why_not),
        "vector_sin": simd.ByPath(sin_loop("sum_sq_sin_vector"), vecmath.why_not,
                                  vector_only=True),
    },
}

#: Variants that cannot be what their name says in this build, and why.
UNAVAILABLE = {} if ext.OPENMP else {
    (kernel, "parallel"): f"the extension was built without OpenMP ({ext.OPENMP_WHY}): "
                          "the parallel variant would run serially"
    for kernel, variants in CORES.items() if "parallel" in variants
}


def build_info() -> dict[str, str]:
    """Compiler, flags and Cython version recorded inside the extension."""
    return {**ext.build_info(), **vecmath.build_info()}

"""sum_sq_sin with a vectorized sin for the numba backend: glibc's libmvec.

Numba's ``math.sin`` is a call to scalar libm sin per element (this Numba's
llvmlite has no SVML), so the loop cannot be vectorized.  The Cython backend
gets libmvec's SIMD sin from GCC (kernels/backends/_cython_vecmath.pyx); to
give Numba the same function, the lane sums of ``numba_lanes`` take a term
that calls libmvec's ``_ZGVeN8v_sin`` (AVX-512) on each vector of eight
doubles, or ``_ZGVdN4v_sin`` (AVX2) on its halves.  The loop is the Cython
one: thirty-two lanes of ``x*x + sin(x)``, fused, no buffer of terms.  Strict
IEEE as elsewhere; libmvec's sin is within 4 ulp of scalar sin.  Without
libmvec or AVX2 the same loop calls LLVM's sin, scalarized, and
:func:`build_info` says so.
"""

from __future__ import annotations

import ctypes.util
import math

import llvmlite.binding as llvm
import numba
from llvmlite import ir
from numba.core import cgutils

from kernels.backends import numba_lanes
from kernels.backends.numba_options import JIT_OPTIONS


def _libmvec() -> tuple[int, str | None, str]:
    path = ctypes.util.find_library("mvec")
    features = llvm.get_host_cpu_features()
    if path is None:
        return 0, None, "no: libmvec not found; scalar sin"
    if features.get("avx512f"):
        width, name = 8, "_ZGVeN8v_sin"
    elif features.get("avx2"):
        width, name = 4, "_ZGVdN4v_sin"
    else:
        return 0, None, "no: the CPU has neither AVX2 nor AVX-512; scalar sin"
    llvm.load_library_permanently(path)
    return width, name, f"libmvec (glibc) {name}, {width} doubles a call"


WIDTH, SIMD_SIN, STATUS = _libmvec()

jit = numba.njit(**JIT_OPTIONS)


def _sin(builder: ir.IRBuilder, v: ir.Value) -> ir.Value:
    """sin of one ``<8 x double>``: libmvec's SIMD sin, or LLVM's scalarized sin."""
    vector = v.type
    if WIDTH == vector.count:
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vector, [vector]), SIMD_SIN)
        return builder.call(fn, [v])
    if WIDTH:  # AVX2: two calls on the halves
        half = ir.VectorType(vector.element, WIDTH)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(half, [half]), SIMD_SIN)
        parts = [builder.call(fn, [builder.shuffle_vector(
            v, v, ir.Constant.literal_vector([ir.IntType(32)(k) for k in range(lo, lo + WIDTH)]))])
            for lo in range(0, vector.count, WIDTH)]
        return builder.shuffle_vector(parts[0], parts[1], ir.Constant.literal_vector(
            [ir.IntType(32)(k) for k in range(vector.count)]))
    fn = builder.module.declare_intrinsic("llvm.sin", [vector])
    return builder.call(fn, [v])


def _square_plus_sin(builder: ir.IRBuilder, v: ir.Value) -> ir.Value:
    return builder.fadd(builder.fmul(v, v), _sin(builder, v))


@jit
def _square_plus_sin_scalar(v):
    return v * v + math.sin(v)


@jit
def _sin_scalar(v):
    return math.sin(v)


#: sum of x*x + sin(x) over x[lo:hi]: whole lanes with the SIMD sin, then the tail.
sum_sq_sin_range = numba_lanes.range_sum(numba_lanes.make(_square_plus_sin, calls=True),
                                         _square_plus_sin_scalar)
#: sum of sin(x) alone over x[lo:hi], the same loop: sum_sq_sin's ceiling.
sum_sin_range = numba_lanes.range_sum(numba_lanes.make(_sin, calls=True), _sin_scalar)


@jit
def sum_sq_sin_vector(x):
    """sum of x*x + sin(x), the sin vectorized (the `vector_sin` variant)."""
    return sum_sq_sin_range(x, 0, x.shape[0])


@jit
def sum_sin_vector(x):
    """sum of sin(x) alone on one thread: sum_sq_sin's ceiling."""
    return sum_sin_range(x, 0, x.shape[0])


@jit
def sum_sin_parallel(x):
    """sum of sin(x) alone on all threads: the ceiling of sum_sq_sin's parallel variant."""
    return numba_lanes.chunked_sum(sum_sin_range, x)


def build_info() -> dict[str, str]:
    return {"vector_sin": STATUS}

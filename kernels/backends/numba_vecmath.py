"""sum_sq_sin with a vectorized sin for the numba backend: glibc's libmvec.

Numba's ``math.sin`` is a call to scalar libm sin per element (this Numba's
llvmlite has no SVML), so the loop cannot be vectorized.  The Cython backend
gets libmvec's SIMD sin from GCC (kernels/backends/_cython_vecmath.pyx); to
give Numba the same function, ``_simd_terms`` makes an intrinsic that loads
``WIDTH`` doubles, calls libmvec's ``_ZGVeN8v_sin`` (AVX-512) or
``_ZGVdN4v_sin`` (AVX2) on them and stores the terms.  The loop has the
same shape as the Cython one: blocks of terms ``x*x + sin(x)`` into a buffer,
then summed in eight lanes.  Strict IEEE options as elsewhere; libmvec's sin
is within 4 ulp of scalar sin.  Without libmvec or AVX2 the same loop calls
scalar sin and :func:`build_info` says so.
"""

from __future__ import annotations

import ctypes.util
import math

import llvmlite.binding as llvm
import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from kernels.backends.numba_options import JIT_OPTIONS

BLOCK = 512  # terms per block, as in the Cython module


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


def _simd_terms(with_squares: bool):
    """An intrinsic ``f(x, i, out, j)``: out[j:j+WIDTH] = (x*x +) sin(x[i:i+WIDTH]).

    One call of libmvec's SIMD sin on ``WIDTH`` doubles; the square and the
    addition are plain vector ``fmul``/``fadd`` (no fast-math flags).
    """

    @intrinsic
    def simd_terms(typingctx, x, i, out, j):
        sig = types.void(x, i, out, j)

        def codegen(context, builder, sig, args):
            vector = ir.VectorType(ir.DoubleType(), WIDTH)
            xs = context.make_array(sig.args[0])(context, builder, args[0])
            outs = context.make_array(sig.args[2])(context, builder, args[2])
            src = builder.bitcast(builder.gep(xs.data, [args[1]]), vector.as_pointer())
            dst = builder.bitcast(builder.gep(outs.data, [args[3]]), vector.as_pointer())
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(vector, [vector]), SIMD_SIN)
            v = builder.load(src, align=8)
            term = builder.call(fn, [v])
            if with_squares:
                term = builder.fadd(builder.fmul(v, v), term)
            builder.store(term, dst, align=8)
            return context.get_dummy_value()

        return sig, codegen

    return simd_terms


def _make(with_squares: bool, simd: bool):
    simd_terms = _simd_terms(with_squares)

    @jit
    def run(x):
        n = x.shape[0]
        t = np.empty(BLOCK)
        s = 0.0
        lo = 0
        while lo < n:
            m = min(BLOCK, n - lo)
            i = 0
            if simd:
                while i + WIDTH <= m:
                    simd_terms(x, lo + i, t, i)
                    i += WIDTH
            while i < m:
                v = x[lo + i]
                t[i] = v * v + math.sin(v) if with_squares else math.sin(v)
                i += 1
            # eight lanes over the block's terms, as in the Cython module
            s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
            j = 0
            while j + 8 <= m:
                s0 += t[j]
                s1 += t[j + 1]
                s2 += t[j + 2]
                s3 += t[j + 3]
                s4 += t[j + 4]
                s5 += t[j + 5]
                s6 += t[j + 6]
                s7 += t[j + 7]
                j += 8
            b = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
            while j < m:
                b += t[j]
                j += 1
            s += b
            lo += m
        return s

    return run


#: sum of x*x + sin(x), the sin vectorized (the `vector_sin` variant).
sum_sq_sin_vector = _make(True, WIDTH > 0)
#: sum of sin(x) alone, the same loop: sum_sq_sin's ceiling.
sum_sin_vector = _make(False, WIDTH > 0)


def build_info() -> dict[str, str]:
    return {"vector_sin": STATUS}

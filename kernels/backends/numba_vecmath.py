"""sum_sq_sin with a vectorized sin for the numba backend: glibc's libmvec.

Numba's ``math.sin`` is a call to scalar libm sin per element (this Numba's
llvmlite has no SVML), so the loop cannot be vectorized.  The Cython backend
calls libmvec's SIMD sin explicitly (kernels/backends/_cython_vecmath.pyx);
to give Numba the same function, the lane sums of ``numba_lanes`` take a term
that calls it on each vector of eight doubles: ``_ZGVeN8v_sin`` once on the
avx512 path, ``_ZGVdN4v_sin`` on each half on the avx2 path, libm's sin on
each element on the scalar path (:mod:`kernels.simd` says which path runs
where).  Strict IEEE as elsewhere; libmvec's sin is within 4 ulp of scalar sin.

Every function here is built per path, on demand, and only for a path this
machine can run: :func:`loops` is the one entry point.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import llvmlite.binding as llvm
from llvmlite import ir

from kernels import simd
from kernels.backends import numba_lanes
from kernels.backends.numba_options import JIT_OPTIONS, njit

jit = njit(JIT_OPTIONS)
_I32 = ir.IntType(32)


def _callee(module: ir.Module, name: str, fnty: ir.FunctionType) -> ir.Function:
    """The function ``name`` declared in ``module`` (once)."""
    existing = module.globals.get(name)
    return existing if existing is not None else ir.Function(module, fnty, name)


def _mask(indices: range) -> ir.Constant:
    return ir.Constant(ir.VectorType(_I32, len(indices)), list(indices))


def sin_term(path: str):
    """``term(builder, v)``: the sin of one ``<8 x double>`` the way ``path`` computes it."""
    spec = simd.SPECS[path]

    def sin(builder: ir.IRBuilder, v: ir.Value) -> ir.Value:
        vector = v.type
        if spec.feature is None:  # scalar: libm's sin on each element
            scalar = _callee(builder.module, "sin",
                             ir.FunctionType(vector.element, [vector.element]))
            out = ir.Constant(vector, ir.Undefined)
            for k in range(vector.count):
                at = ir.Constant(_I32, k)
                out = builder.insert_element(
                    out, builder.call(scalar, [builder.extract_element(v, at)]), at)
            return out
        part = ir.VectorType(vector.element, spec.width)
        fn = _callee(builder.module, spec.symbol, ir.FunctionType(part, [part]))
        if spec.width == vector.count:
            return builder.call(fn, [v])
        # Narrower than the vector: one call per part, the parts joined back in order.
        parts = [builder.call(fn, [builder.shuffle_vector(v, v, _mask(range(lo, lo + spec.width)))])
                 for lo in range(0, vector.count, spec.width)]
        while len(parts) > 1:
            width = 2 * parts[0].type.count
            parts = [builder.shuffle_vector(parts[k], parts[k + 1], _mask(range(width)))
                     for k in range(0, len(parts), 2)]
        return parts[0]

    return sin


@jit
def _square_plus_sin_scalar(v):
    return v * v + math.sin(v)


@jit
def _sin_scalar(v):
    return math.sin(v)


@dataclass(frozen=True)
class Loops:
    """The jitted sin loops of one path."""

    sum_sq_sin_range: Callable  # sum of x*x + sin(x) over x[lo:hi]
    sum_sin_range: Callable  # sum of sin(x) over x[lo:hi]
    sum_sq_sin_vector: Callable  # the `vector_sin` variant
    sum_sin_vector: Callable  # sum_sq_sin's ceiling, one thread
    sum_sin_parallel: Callable  # the same on all threads
    sum_sq_sin_parallel: Callable  # the `parallel` variant


@cache
def loops(path: str) -> Loops:
    """The loops of ``path``; ValueError (with the reason) for a path this machine cannot run."""
    reason = simd.why_not(path)
    if reason is not None:
        raise ValueError(reason)
    if simd.SPECS[path].feature is not None:
        llvm.load_library_permanently(simd.libmvec())
    sin = sin_term(path)

    def square_plus_sin(builder: ir.IRBuilder, v: ir.Value) -> ir.Value:
        return builder.fadd(builder.fmul(v, v), sin(builder, v))

    sq_sin_range = numba_lanes.range_sum(numba_lanes.make(square_plus_sin, calls=True),
                                         _square_plus_sin_scalar)
    sin_range = numba_lanes.range_sum(numba_lanes.make(sin, calls=True), _sin_scalar)

    def sum_sq_sin_vector(x):
        """sum of x*x + sin(x) in lanes, the sin of this path (the `vector_sin` variant)."""
        return sq_sin_range(x, 0, x.shape[0])

    def sum_sin_vector(x):
        """sum of sin(x) alone on one thread: sum_sq_sin's ceiling."""
        return sin_range(x, 0, x.shape[0])

    def sum_sin_parallel(x):
        """sum of sin(x) alone on all threads: the ceiling of sum_sq_sin's parallel variant."""
        return numba_lanes.chunked_sum(sin_range, x)

    def sum_sq_sin_parallel(x):
        """sum of x*x + sin(x) on all threads: fixed chunks as in vector_sin, added in order."""
        return numba_lanes.chunked_sum(sq_sin_range, x)

    return Loops(sq_sin_range, sin_range, jit(sum_sq_sin_vector), jit(sum_sin_vector),
                 jit(sum_sin_parallel), jit(sum_sq_sin_parallel))


#: The registry's entries (numba_jit.CORES): built per path on first use.
VECTOR_SIN = simd.ByPath(lambda path: loops(path).sum_sq_sin_vector, simd.why_not,
                         vector_only=True)
PARALLEL = simd.ByPath(lambda path: loops(path).sum_sq_sin_parallel, simd.why_not)


def build_info() -> dict[str, str]:
    """The path this process's sin variants take, or why it cannot run here."""
    path = simd.selected()
    reason = simd.why_not(path)
    return {"simd_path": simd.describe(path) if reason is None else f"unavailable: {reason}"}

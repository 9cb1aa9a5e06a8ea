"""Thirty-two-lane sums for the numba backend, as explicit SIMD.

A strict IEEE sum is one chain of additions, so no compiler may vectorize it.
Writing the lanes in the source (lane k takes elements k, k+32, ...) gives
the compiler independent additions, but Numba runs no SLP vectorizer: the
scalar accumulators stay scalar, and the loop issues one load, one addition
(and one multiplication for sum_of_squares) per element, short of memory
speed (measured: 34 GB/s with eight scalar lanes against a 40 GB/s read
roof).  GCC does vectorize the same source in the Cython extension
(_lanes.pxd).  To give Numba the same machine code, :func:`make` builds an
intrinsic whose loop keeps the lanes in four ``<8 x double>`` vectors.  Four,
not two: with two vectors (sixteen lanes) the Numba loop measured 29-32 GB/s,
with four 38-39, level with the read roof in the same runs.

The order is the one written above, in both backends: the four vectors are
added as (v0 + v1) + (v2 + v3), then their eight lanes pairwise, then the
tail in order.  No fast-math flags: every operation is the IEEE one the
scalar code would do, so both backends give the same bits
(tests/test_sum_order.py).
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from kernels.backends.numba_options import JIT_OPTIONS, PARALLEL_OPTIONS

#: Partial sums kept by a lane reduction; lane k takes elements k, k+LANES, ...
LANES = 32
_WIDTH = 8  # doubles in a vector
_VECTORS = LANES // _WIDTH
_VECTOR = ir.VectorType(ir.DoubleType(), _WIDTH)
#: Elements per chunk of a parallel reduction (128 KiB of float64).
CHUNK = 16384
#: Elements per block of a buffered lane sum (``make(calls=True)``): 4 KiB, in L1.
BLOCK = 512

#: ``term(builder, v) -> vector``: the function summed, on one ``<8 x double>``.
Term = Callable[[ir.IRBuilder, ir.Value], ir.Value]


def identity(builder: ir.IRBuilder, v: ir.Value) -> ir.Value:
    return v


def square(builder: ir.IRBuilder, v: ir.Value) -> ir.Value:
    return builder.fmul(v, v)


def _pairwise(builder: ir.IRBuilder, values: list[ir.Value]) -> ir.Value:
    """((v0 + v1) + (v2 + v3)) + ...: a power-of-two count, added pairwise."""
    while len(values) > 1:
        values = [builder.fadd(values[k], values[k + 1]) for k in range(0, len(values), 2)]
    return values[0]


def _combine(builder: ir.IRBuilder, vectors: list[ir.Value]) -> ir.Value:
    t = _pairwise(builder, vectors)
    return _pairwise(builder, [builder.extract_element(t, ir.Constant(ir.IntType(32), k))
                               for k in range(_WIDTH)])


def _contiguous_load(builder, data, i):
    """The vector x[i : i + 8] of a contiguous x."""
    at = builder.gep(data, [i])
    return builder.load(builder.bitcast(at, _VECTOR.as_pointer()), align=8)


def _strided_load(builder, data, i, intp, stride):
    """The same vector gathered element by element; ``stride`` is in bytes."""
    base = builder.bitcast(data, ir.IntType(8).as_pointer())
    v = ir.Constant(_VECTOR, ir.Undefined)
    for k in range(_WIDTH):
        offset = builder.mul(builder.add(i, intp(k)), stride)
        at = builder.bitcast(builder.gep(base, [offset]), ir.DoubleType().as_pointer())
        v = builder.insert_element(v, builder.load(at), ir.Constant(ir.IntType(32), k))
    return v


class _Lanes:
    """The IR of one lane sum: LANES accumulators in ``_VECTORS`` vectors."""

    def __init__(self, builder: ir.IRBuilder, intp: ir.IntType):
        self.builder, self.intp = builder, intp
        zero = ir.Constant(_VECTOR, [0.0] * _WIDTH)
        self.accs = [cgutils.alloca_once_value(builder, zero) for _ in range(_VECTORS)]

    def add(self, lo, hi, vector) -> None:
        """Add ``vector(i)`` (x[i : i + 8], mapped) for i in lo, lo + 8, ... hi - 8."""
        b, intp = self.builder, self.intp
        with cgutils.for_range_slice(b, lo, hi, intp(LANES), intp) as (i, _):
            for q, acc in enumerate(self.accs):
                b.store(b.fadd(b.load(acc), vector(b.add(i, intp(q * _WIDTH)))), acc)

    def add_buffered(self, lo, hi, term: Term, load) -> None:
        """The same through a buffer of BLOCK terms: for terms that call a function."""
        b, intp = self.builder, self.intp
        with b.goto_entry_block():
            block = b.alloca(ir.ArrayType(ir.DoubleType(), BLOCK))
            block.align = 64  # whole cache lines; LLVM realigns the frame for it
        buf = b.bitcast(block, ir.DoubleType().as_pointer())
        with cgutils.for_range_slice(b, lo, hi, intp(BLOCK), intp) as (first, _):
            after = b.add(first, intp(BLOCK))
            last = b.select(b.icmp_signed("<", after, hi), after, hi)
            with cgutils.for_range_slice(b, first, last, intp(_WIDTH), intp) as (i, _):
                at = b.bitcast(b.gep(buf, [b.sub(i, first)]), _VECTOR.as_pointer())
                b.store(term(b, load(i)), at, align=8)
            self.add(first, last, lambda i: _contiguous_load(b, buf, b.sub(i, first)))

    def total(self) -> ir.Value:
        return _combine(self.builder, [self.builder.load(acc) for acc in self.accs])


def make(term: Term, calls: bool = False):
    """An intrinsic ``f(x, lo, hi)``: the sum of ``term`` over whole lanes of x[lo:hi].

    ``x`` is any 1-D float64 array; the sum covers
    ``x[lo : lo + (hi - lo) // LANES * LANES]`` and the caller adds the tail.
    Contiguous arrays are read with vector loads; a strided view (a column of
    a C-ordered matrix, say) is gathered element by element, same order.

    ``calls``: the term calls a function, which may clobber every vector
    register.  Kept in registers across such calls, the accumulators and the
    loaded vectors are spilled around every call, to stack slots LLVM left
    unaligned (64-byte stores split across cache lines): the sin loop
    measured 1.1-1.6 Gelem/s, varying with the caller's stack, against 1.75
    for GCC's aligned frame.  So the terms of a block of ``BLOCK`` elements
    go to a buffer aligned to 64 bytes first, one vector a step, and are then
    added into the lanes (same order): the accumulators are saved once a
    block, and every spill is aligned.  Measured: 1.9-2.0 Gelem/s.
    """

    @intrinsic
    def lane_sum(typingctx, x, lo, hi):
        if not (isinstance(x, types.Array) and x.ndim == 1 and x.dtype == types.float64):
            return None
        sig = types.float64(x, lo, hi)

        def codegen(context, builder, sig, args):
            ary = context.make_array(sig.args[0])(context, builder, args[0])
            intp = context.get_value_type(types.intp)
            start = context.cast(builder, args[1], sig.args[1], types.intp)
            stop = context.cast(builder, args[2], sig.args[2], types.intp)
            whole = builder.mul(builder.sdiv(builder.sub(stop, start), intp(LANES)), intp(LANES))
            end = builder.add(start, whole)
            lanes = _Lanes(builder, intp)

            def loop(load):
                if calls:
                    lanes.add_buffered(start, end, term, load)
                else:
                    lanes.add(start, end, lambda i: term(builder, load(i)))

            if sig.args[0].layout in "CF":
                loop(lambda i: _contiguous_load(builder, ary.data, i))
            else:  # layout known only at run time: branch once, outside the loop
                stride = cgutils.unpack_tuple(builder, ary.strides, 1)[0]
                unit = builder.icmp_signed("==", stride, intp(8))
                with builder.if_else(unit) as (unit_stride, other_stride):
                    with unit_stride:
                        loop(lambda i: _contiguous_load(builder, ary.data, i))
                    with other_stride:
                        loop(lambda i: _strided_load(builder, ary.data, i, intp, stride))
            return lanes.total()

        return sig, codegen

    return lane_sum


def range_sum(lanes, scalar):
    """A jitted ``f(x, lo, hi)``: the sum over x[lo:hi] of ``scalar``, whose
    vector form is the intrinsic ``lanes`` (from :func:`make`): the whole
    lanes with it, then the tail, in order, with the jitted ``scalar``."""

    @numba.njit(**JIT_OPTIONS)
    def f(x, lo, hi):
        s = lanes(x, lo, hi)
        for i in range(hi - (hi - lo) % LANES, hi):
            s += scalar(x[i])
        return s

    return f


@numba.njit(**JIT_OPTIONS)
def _value(v):
    return v


@numba.njit(**JIT_OPTIONS)
def _square(v):
    return v * v


#: sum of x[i] over x[lo:hi], in lanes
sum_range = range_sum(make(identity), _value)
#: sum of x[i] * x[i] over x[lo:hi], in lanes
sum_squares_range = range_sum(make(square), _square)


@numba.njit(**PARALLEL_OPTIONS)
def chunked_sum(range_sum, x):
    """``range_sum(x, lo, hi)`` over fixed chunks of x on all threads, added in order.

    The chunks do not depend on the number of threads, and neither does the sum.
    """
    n = x.shape[0]
    chunks = (n + CHUNK - 1) // CHUNK
    partial = np.empty(chunks)
    for c in numba.prange(chunks):
        partial[c] = range_sum(x, c * CHUNK, min(n, (c + 1) * CHUNK))
    s = 0.0
    for c in range(chunks):
        s += partial[c]
    return s

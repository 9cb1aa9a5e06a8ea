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

Only documented APIs are used (the project's rule): Numba's ``@intrinsic``
with ``numba.types`` and ``context.get_value_type``, and llvmlite's
``llvmlite.ir`` builder.  The intrinsic never opens Numba's array structure:
the jitted wrapper of :func:`range_sum` hands it the array's address
(``x.ctypes.data``) and stride in bytes (``x.strides[0]``) as plain integers,
and the array itself only for its type, which checks the input and says
whether the layout is known to be contiguous.  The loops are built from basic
blocks and phi nodes here (:func:`_counted_loop`), not Numba's helpers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from kernels.backends.numba_options import JIT_OPTIONS, PARALLEL_OPTIONS, njit

#: Partial sums kept by a lane reduction; lane k takes elements k, k+LANES, ...
LANES = 32
_WIDTH = 8  # doubles in a vector
_VECTORS = LANES // _WIDTH
_ITEMSIZE = 8  # bytes in a double: the stride of a contiguous float64 array
_DOUBLE = ir.DoubleType()
_VECTOR = ir.VectorType(_DOUBLE, _WIDTH)
_I32 = ir.IntType(32)
#: Elements per chunk of a parallel reduction (128 KiB of float64).
CHUNK = 16384
#: Elements per block of a buffered lane sum (``make(calls=True)``): 4 KiB, in L1.
BLOCK = 512

#: ``term(builder, v) -> vector``: the function summed, on one ``<8 x double>``.
Term = Callable[[ir.IRBuilder, ir.Value], ir.Value]


def identity(builder: ir.IRBuilder, v: ir.Value) -> ir.Value:
    """The term of a plain sum: ``v`` itself.

    Parameters
    ----------
    builder
        The builder of the loop body (unused).
    v
        One ``<8 x double>`` of the input.

    Returns
    -------
    ir.Value
        ``v``.
    """
    return v


def square(builder: ir.IRBuilder, v: ir.Value) -> ir.Value:
    """The term of a sum of squares: ``v * v``, lane by lane (no FMA: no fast-math flags).

    Parameters
    ----------
    builder
        The builder of the loop body.
    v
        One ``<8 x double>`` of the input.

    Returns
    -------
    ir.Value
        The ``<8 x double>`` of squares.
    """
    return builder.fmul(v, v)


@contextmanager
def _counted_loop(builder: ir.IRBuilder, lo: ir.Value, hi: ir.Value,
                  step: ir.Value) -> Iterator[ir.Value]:
    """``for i in range(lo, hi, step)`` with ``step > 0``, as basic blocks.

    Yields ``i``; the body is what the ``with`` block emits.  On exit the builder
    is positioned after the loop.  Signed comparison, like Python's ``range``.
    """
    before = builder.block
    test = builder.append_basic_block("loop.test")
    body = builder.append_basic_block("loop.body")
    done = builder.append_basic_block("loop.done")
    builder.branch(test)
    builder.position_at_end(test)
    i = builder.phi(lo.type, name="loop.i")
    i.add_incoming(lo, before)
    builder.cbranch(builder.icmp_signed("<", i, hi), body, done)
    builder.position_at_end(body)
    yield i
    # The body may have added blocks of its own: the step comes from the last one.
    i.add_incoming(builder.add(i, step), builder.block)
    builder.branch(test)
    builder.position_at_end(done)


def _pairwise(builder: ir.IRBuilder, values: list[ir.Value]) -> ir.Value:
    """((v0 + v1) + (v2 + v3)) + ...: a power-of-two count, added pairwise."""
    while len(values) > 1:
        values = [builder.fadd(values[k], values[k + 1]) for k in range(0, len(values), 2)]
    return values[0]


def _combine(builder: ir.IRBuilder, vectors: list[ir.Value]) -> ir.Value:
    """The vectors added pairwise, then the eight lanes of the result pairwise."""
    t = _pairwise(builder, vectors)
    return _pairwise(builder, [builder.extract_element(t, ir.Constant(_I32, k))
                               for k in range(_WIDTH)])


def _contiguous_load(builder: ir.IRBuilder, data: ir.Value, i: ir.Value) -> ir.Value:
    """The vector x[i : i + 8] of a contiguous x; ``data`` points to x[0]."""
    at = builder.gep(data, [i])
    return builder.load(builder.bitcast(at, _VECTOR.as_pointer()), align=8)


def _strided_load(builder: ir.IRBuilder, data: ir.Value, i: ir.Value, stride: ir.Value
                  ) -> ir.Value:
    """The same vector gathered element by element; ``stride`` is in bytes."""
    base = builder.bitcast(data, ir.IntType(8).as_pointer())
    v = ir.Constant(_VECTOR, ir.Undefined)
    for k in range(_WIDTH):
        offset = builder.mul(builder.add(i, i.type(k)), stride)
        at = builder.bitcast(builder.gep(base, [offset]), _DOUBLE.as_pointer())
        v = builder.insert_element(v, builder.load(at), ir.Constant(_I32, k))
    return v


class _Lanes:
    """The IR of one lane sum: LANES accumulators in ``_VECTORS`` vectors.

    The accumulators are stack slots in the function's entry block, set to zero
    where the sum starts; LLVM promotes them to registers.
    """

    def __init__(self, builder: ir.IRBuilder, intp: ir.IntType):
        self.builder, self.intp = builder, intp
        with builder.goto_entry_block():
            self.accs = [builder.alloca(_VECTOR, name=f"lanes.{q}") for q in range(_VECTORS)]
        zero = ir.Constant(_VECTOR, [0.0] * _WIDTH)
        for acc in self.accs:
            builder.store(zero, acc)

    def add(self, lo: ir.Value, hi: ir.Value, vector: Callable[[ir.Value], ir.Value]) -> None:
        """Add ``vector(i)`` (x[i : i + 8], mapped) for i in lo, lo + 8, ... hi - 8."""
        b, intp = self.builder, self.intp
        with _counted_loop(b, lo, hi, intp(LANES)) as i:
            for q, acc in enumerate(self.accs):
                b.store(b.fadd(b.load(acc), vector(b.add(i, intp(q * _WIDTH)))), acc)

    def add_buffered(self, lo: ir.Value, hi: ir.Value, term: Term,
                     load: Callable[[ir.Value], ir.Value]) -> None:
        """The same through a buffer of BLOCK terms: for terms that call a function."""
        b, intp = self.builder, self.intp
        with b.goto_entry_block():
            # Allocated as vectors, the buffer takes their alignment, 64 bytes
            # (whole cache lines; LLVM realigns the frame for it).
            block = b.alloca(ir.ArrayType(_VECTOR, BLOCK // _WIDTH), name="lanes.block")
        buf = b.bitcast(block, _DOUBLE.as_pointer())
        with _counted_loop(b, lo, hi, intp(BLOCK)) as first:
            after = b.add(first, intp(BLOCK))
            last = b.select(b.icmp_signed("<", after, hi), after, hi)
            with _counted_loop(b, first, last, intp(_WIDTH)) as i:
                at = b.bitcast(b.gep(buf, [b.sub(i, first)]), _VECTOR.as_pointer())
                b.store(term(b, load(i)), at, align=8)
            self.add(first, last, lambda i: _contiguous_load(b, buf, b.sub(i, first)))

    def total(self) -> ir.Value:
        """The sum of the lanes, in the documented order."""
        return _combine(self.builder, [self.builder.load(acc) for acc in self.accs])


def make(term: Term, calls: bool = False) -> Callable[..., float]:
    """An intrinsic ``f(x, address, stride, lo, hi)``: ``term`` summed over whole lanes.

    The sum covers ``x[lo : lo + (hi - lo) // LANES * LANES]``; the caller adds
    the tail (:func:`range_sum` is that caller).  ``x`` is a 1-D float64 array,
    ``address`` its ``x.ctypes.data`` and ``stride`` its ``x.strides[0]`` (bytes):
    the intrinsic reads the elements through these two, and takes ``x`` for its
    type only, which rejects any other input (a typing error, as for any
    unsupported call) and tells a C- or F-contiguous type, read with vector
    loads alone, from any other, which branches once, outside the loop, on the
    stride: vector loads at unit stride, else a gather element by element in
    the same order (a column of a C-ordered matrix, say).  The caller must keep
    ``x`` alive during the call (it does, holding it).

    Parameters
    ----------
    term
        The function summed, ``term(builder, v)`` on one ``<8 x double>``.
    calls
        The term calls a function, which may clobber every vector register.
        Kept in registers across such calls, the accumulators and the loaded
        vectors are spilled around every call, to stack slots LLVM left
        unaligned (64-byte stores split across cache lines): the sin loop
        measured 1.1-1.6 Gelem/s, varying with the caller's stack, against
        1.75 for GCC's aligned frame.  So the terms of a block of ``BLOCK``
        elements go to a buffer aligned to 64 bytes first, one vector a step,
        and are then added into the lanes (same order): the accumulators are
        saved once a block, and every spill is aligned.  Measured: 1.9-2.0
        Gelem/s.

    Returns
    -------
    callable
        The intrinsic, callable from jitted code only; returns a float64.
    """

    @intrinsic
    def lane_sum(typingctx, x, address, stride, lo, hi):
        if not (isinstance(x, types.Array) and x.ndim == 1 and x.dtype == types.float64):
            return None
        if not all(isinstance(a, types.Integer) for a in (address, stride, lo, hi)):
            return None
        contiguous = x.layout in ("C", "F")
        # The integers are converted to these types at the call.
        sig = types.float64(x, types.uintp, types.intp, types.intp, types.intp)

        def codegen(context, builder, signature, args):
            _, address, stride, start, stop = args  # the array's own value is not read
            intp = context.get_value_type(types.intp)
            data = builder.inttoptr(address, _DOUBLE.as_pointer())
            whole = builder.mul(builder.sdiv(builder.sub(stop, start), intp(LANES)), intp(LANES))
            end = builder.add(start, whole)
            lanes = _Lanes(builder, intp)

            def loop(load: Callable[[ir.Value], ir.Value]) -> None:
                if calls:
                    lanes.add_buffered(start, end, term, load)
                else:
                    lanes.add(start, end, lambda i: term(builder, load(i)))

            if contiguous:
                loop(lambda i: _contiguous_load(builder, data, i))
            else:  # layout known only at run time: branch once, outside the loop
                unit = builder.icmp_signed("==", stride, intp(_ITEMSIZE))
                with builder.if_else(unit) as (unit_stride, other_stride):
                    with unit_stride:
                        loop(lambda i: _contiguous_load(builder, data, i))
                    with other_stride:
                        loop(lambda i: _strided_load(builder, data, i, stride))
            return lanes.total()

        return sig, codegen

    return lane_sum


def range_sum(lanes: Callable[..., float], scalar: Callable[[float], float]
              ) -> Callable[..., float]:
    """A jitted ``f(x, lo, hi)``: the sum over x[lo:hi] of ``scalar``, in lanes.

    Parameters
    ----------
    lanes
        The vector form of ``scalar``: an intrinsic from :func:`make`.
    scalar
        A jitted ``scalar(v)`` on one float64: the same term, for the tail.

    Returns
    -------
    callable
        ``f(x, lo, hi)`` for a 1-D float64 array ``x`` and ``0 <= lo <= hi <= len(x)``:
        the whole lanes with ``lanes``, then the tail, in order, with ``scalar``.
    """

    @njit(JIT_OPTIONS)
    def f(x, lo, hi):
        s = lanes(x, x.ctypes.data, x.strides[0], lo, hi)
        for i in range(hi - (hi - lo) % LANES, hi):
            s += scalar(x[i])
        return s

    return f


@njit(JIT_OPTIONS)
def _value(v):
    return v


@njit(JIT_OPTIONS)
def _square(v):
    return v * v


#: sum of x[i] over x[lo:hi], in lanes
sum_range = range_sum(make(identity), _value)
#: sum of x[i] * x[i] over x[lo:hi], in lanes
sum_squares_range = range_sum(make(square), _square)


@njit(PARALLEL_OPTIONS)
def chunked_sum(range_sum, x):
    """``range_sum(x, lo, hi)`` over fixed chunks of x on all threads, added in order.

    The chunks do not depend on the number of threads, and neither does the sum.

    Parameters
    ----------
    range_sum
        A jitted ``range_sum(x, lo, hi)`` (from :func:`range_sum`).
    x
        A 1-D float64 array.

    Returns
    -------
    float
        The chunk sums, each of CHUNK elements (the last may be shorter), added in
        chunk order.
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

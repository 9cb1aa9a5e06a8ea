"""One spec per kernel: arguments, seeded inputs, reference result, work model, sizes.

A spec says what a kernel computes, independently of any backend:

- ``params``: the argument names and the array kind each must be;
- ``make_inputs(n, rng, layout)``: float64 inputs of size ``n`` from a seeded
  generator (``n`` is a vector length, or the side of a square matrix);
- ``reference(*inputs)``: the expected result, computed in long double so that
  it is independent of, and more accurate than, every backend;
- ``error_scale(*inputs)``: for each output, the sum of the magnitudes of the
  terms that make it up and the number of terms; any correct float64 order of
  evaluation lands within ``(terms + 8) * eps * scale + atol`` of the exact
  result, ``atol`` covering underflow.  None (the default) takes ``|expected|``
  as the scale and :data:`DEFAULT_TERMS` terms: right for elementwise kernels
  and short sums whose terms do not cancel;
- ``bytes_moved(n)`` and ``flops(n)``: the work model used for GB/s and GFLOP/s;
- ``sizes``: the default size ladder; ``layouts``: the memory layouts that mean
  something for it; ``loop_variants``: the loop forms every loop backend
  (python, numba, cython) carries, the first being the default;
- ``ladders``: the sizes per benchmark profile (``"first"``, ``"quick"``,
  ``"full"``); a profile the spec does not name gets a few sizes spread over
  ``sizes`` (:meth:`KernelSpec.ladder`), never the whole ladder;
- ``seed_size``: the size the report quotes (the seed's experiments: vectors
  at 10^6, matmul at 1000); ``memory_size``: where memory, fresh pages and the
  JIT's break-even are measured; ``history_size``: the size the history
  follows across commits.  A derived ladder includes all three;
- ``ceiling``: the machine ceiling (bench/bench_ceilings.py) the kernel is
  held against, or None for none: ``"read_bandwidth"``,
  ``"stream_add_bandwidth"``, ``"sin_throughput"`` or ``"matmul_gflops"``;
- ``heavy_from``: the size from which one call of a compiled implementation
  takes about a second or more (fewer rounds), None when no size in the
  ladders does.

Every field is a keyword.  A kernel of one's own needs only ``name``,
``params``, ``make_inputs``, ``reference``, ``bytes_moved``, ``flops`` and
``sizes``; the others default to: no summary, no relation between the
arguments, the ``|expected|`` error scale, the C layout, one loop variant
``"loop"``, no ceiling, and ladders derived from ``sizes``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kernels import checks

EPS = float(np.finfo(np.float64).eps)
_LD = np.longdouble
# Slack on top of the number of terms: a few roundings outside the reduction
# (the square root, sin's own error, conversion of the reference to float64).
_SLACK_TERMS = 8
#: Terms assumed per output when a spec has no ``error_scale``: the tolerance is
#: then ``(DEFAULT_TERMS + 8) * eps * |expected| + atol``.
DEFAULT_TERMS = 16

#: The benchmark profiles a spec's ``ladders`` may name.
PROFILES = ("first", "quick", "full")
#: The machine ceilings (bench/bench_ceilings.py) a spec's ``ceiling`` may name.
CEILINGS = ("read_bandwidth", "stream_add_bandwidth", "sin_throughput", "matmul_gflops")
#: Argument kinds of :class:`Param`.
PARAM_KINDS = ("vector", "matrix", "matrix_c")
#: Relations between two arguments that a spec's checks enforce.
RELATIONS = ("same_length", "inner_dims")
#: Memory layouts of the inputs.
LAYOUTS = ("C", "F")


#: Bytes of a cache line: where every input array starts.
CACHE_LINE = 64


def cache_line_aligned(a: Any, copy: bool = False) -> Any:
    """``a`` itself when it starts on a cache line (or is no contiguous array),
    else a copy that does, in the same layout; with ``copy``, always a new
    aligned array (a contiguous one) made in one copy.

    NumPy's arrays start wherever malloc put them: 16 bytes apart, so one
    process's inputs may start on a cache line and the next's not.  A wide
    SIMD loop over a misaligned array splits every other load across two
    lines; measured on an AVX-512 machine, sum_of_squares' unrolled loops at
    n = 100,000 took 6.8 us in one process and 12.2 us in the next.
    """
    if not isinstance(a, np.ndarray) or (a.ctypes.data % CACHE_LINE == 0 and not copy):
        return a
    if a.flags.c_contiguous:
        order = "C"
    elif a.flags.f_contiguous:
        order = "F"
    else:
        return a.copy(order="K") if copy else a
    raw = np.empty(a.nbytes + CACHE_LINE, dtype=np.uint8)
    start = (-raw.ctypes.data) % CACHE_LINE
    out = raw[start:start + a.nbytes].view(a.dtype).reshape(a.shape, order=order)
    out[...] = a
    return out


@dataclass(frozen=True)
class Param:
    """A kernel argument: its name and the array kind it must be.

    ``kind`` is ``"vector"`` (1-D), ``"matrix"`` (2-D, C or Fortran order kept)
    or ``"matrix_c"`` (2-D, converted to C order).
    """

    name: str
    kind: str


def geometric_sizes(lo: int, hi: int, per_octave: int = 2) -> tuple[int, ...]:
    """Sizes from ``lo`` to ``hi`` (both included), ``per_octave`` steps per doubling."""
    count = round(np.log2(hi / lo) * per_octave) + 1
    raw = np.geomspace(lo, hi, count)
    return tuple(sorted({round(float(v)) for v in raw}))


@dataclass(frozen=True, kw_only=True)
class KernelSpec:
    """Everything about a kernel that does not depend on the backend.

    See the module docstring for each field; every field is a keyword.
    """

    name: str
    params: tuple[Param, ...]
    make_inputs: Callable[[int, np.random.Generator, str], tuple[np.ndarray, ...]]
    reference: Callable[..., Any]
    bytes_moved: Callable[[int], int]
    flops: Callable[[int], int]
    sizes: tuple[int, ...]
    summary: str = ""
    relation: str | None = None  # "same_length", "inner_dims" or None
    #: None: ``|expected|`` as the scale and DEFAULT_TERMS terms.
    error_scale: Callable[..., tuple[Any, int]] | None = None
    layouts: tuple[str, ...] = ("C",)
    loop_variants: tuple[str, ...] = ("loop",)
    # Absolute tolerance on top of the relative one, for where float64 itself
    # underflows (tiny squares flushed to subnormals or zero).
    atol: float = float(np.finfo(np.float64).tiny)
    ladders: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    seed_size: int | None = None
    memory_size: int | None = None
    history_size: int | None = None
    ceiling: str | None = None
    heavy_from: int | None = None
    #: Where the spec comes from: "vecbench" for the built-in kernels, else the
    #: module (path or entry point) that defined it.
    origin: str = "vecbench"

    @property
    def arg_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    @property
    def matrix(self) -> bool:
        """Whether ``n`` is a matrix side (``n * n`` elements) rather than a length."""
        return any(p.kind.startswith("matrix") for p in self.params)

    def elements(self, n: int) -> int:
        """Elements of one input at size ``n``."""
        return n * n if self.matrix else n

    @property
    def quoted_size(self) -> int:
        """The seed size, else the largest ladder size up to 10^6."""
        if self.seed_size is not None:
            return self.seed_size
        small = [n for n in self.sizes if self.elements(n) <= 1_000_000]
        return max(small or self.sizes)

    @property
    def measured_size(self) -> int:
        """Where memory, fresh pages and the JIT's break-even are measured."""
        return self.memory_size if self.memory_size is not None else self.quoted_size

    @property
    def followed_size(self) -> int:
        """The size the history follows."""
        return self.history_size if self.history_size is not None else self.quoted_size

    def ladder(self, profile: str) -> tuple[int, ...]:
        """The sizes of ``profile``: the spec's own ladder for it as given; else
        every size (full) or five sizes spread over ``sizes``, with the
        quoted, measured and followed sizes."""
        own = self.ladders.get(profile)
        if own is not None:
            return tuple(sorted(set(own)))
        if profile == "full":
            own = self.sizes
        else:
            pick = np.unique(np.linspace(0, len(self.sizes) - 1, 5).round().astype(int))
            own = tuple(self.sizes[int(i)] for i in pick)
        keep = {self.quoted_size, self.measured_size, self.followed_size}
        return tuple(sorted(set(own) | keep))

    def facts(self) -> dict[str, Any]:
        """What a saved run keeps of the spec, so a report needs no module to read it."""
        return {
            "summary": self.summary,
            "params": [[p.name, p.kind] for p in self.params],
            "seed_size": self.quoted_size,
            "memory_size": self.measured_size,
            "history_size": self.followed_size,
            "ceiling": self.ceiling,
            "origin": self.origin,
        }

    def inputs(self, n: int, layout: str = "C", seed: int = 0) -> tuple[np.ndarray, ...]:
        """Seeded float64 inputs of size ``n`` in ``layout`` ("C" or "F"),
        each starting on a cache line (see :func:`cache_line_aligned`).

        The same ``(n, seed)`` gives the same values in every layout.
        """
        if layout not in self.layouts:
            raise ValueError(
                f"{self.name}: layout must be one of {self.layouts}, got {layout!r}"
            )
        if n < 0:
            raise ValueError(f"{self.name}: size must be >= 0, got {n}")
        rng = np.random.default_rng([seed, n])
        return tuple(cache_line_aligned(a) for a in self.make_inputs(n, rng, layout))

    # -- argument checks -------------------------------------------------
    def _arity(self, args: tuple[Any, ...]) -> None:
        if len(args) != len(self.params):
            raise TypeError(
                f"{self.name}() takes {len(self.params)} argument(s) "
                f"({', '.join(self.arg_names)}), got {len(args)}"
            )

    def _relate(self, first: Any, second: Any) -> None:
        if self.relation == "same_length":
            if len(first) != len(second):
                checks.same_length(self.name, self.arg_names, first, second)
        elif self.relation == "inner_dims":
            if isinstance(first, np.ndarray):
                width = first.shape[1]
            else:
                width = len(first[0]) if len(first) else 0
            if width != len(second):
                checks.inner_dims_match(self.name, self.arg_names, width, len(second))

    def checker(self, lists: bool = False) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
        """The argument check of this kernel, as a function of the argument tuple.

        With ``lists=False`` (array backends) it returns the arguments as
        float64 arrays in a layout the cores accept (see
        :func:`kernels.checks.as_float64`); with ``lists=True`` (python backend)
        it checks lengths only and returns the arguments unchanged.  Either way
        it raises ``TypeError``/``ValueError`` naming the argument.  It is
        unrolled for the kernel's arity: on the common path it costs a few
        hundred nanoseconds, so it does not drown the per-call cost that the
        small-size benchmarks show.
        """
        name = self.name

        def convert(p: Param) -> Callable[[Any], Any]:
            if lists:
                fn = checks.as_sequence if p.kind == "vector" else checks.as_rows
                return lambda v: fn(name, p.name, v)
            return checks.float64_converter(name, p.name, p.kind)

        convs = [convert(p) for p in self.params]
        if len(convs) == 1:
            (c0,) = convs

            def check1(args: tuple[Any, ...]) -> tuple[Any, ...]:
                if len(args) != 1:
                    self._arity(args)
                return (c0(args[0]),)

            return check1
        if len(convs) == 2:
            c0, c1 = convs

            def check2(args: tuple[Any, ...]) -> tuple[Any, ...]:
                if len(args) != 2:
                    self._arity(args)
                first, second = c0(args[0]), c1(args[1])
                self._relate(first, second)
                return first, second

            return check2

        def check_any(args: tuple[Any, ...]) -> tuple[Any, ...]:
            self._arity(args)
            return tuple(c(a) for c, a in zip(convs, args, strict=True))

        return check_any

    # -- agreement with the reference --------------------------------------
    def mismatch(self, result: Any, inputs: tuple[np.ndarray, ...],
                 expected: Any = None) -> str | None:
        """Describe how ``result`` disagrees with the reference, or return None.

        ``result`` may be a list (python backend) or an array; ``expected``
        may be passed when the reference has already been computed.
        """
        if expected is None:
            expected = self.reference(*inputs)
        expected = np.asarray(expected, dtype=np.float64)
        try:
            got = np.asarray(result, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            return f"result is not numeric: {exc}"
        if got.size == 0 and expected.size == 0:
            got = got.reshape(expected.shape)
        if got.shape != expected.shape:
            return f"shape {got.shape}, expected {expected.shape}"
        if self.error_scale is None:
            scale, terms = np.abs(expected), DEFAULT_TERMS
        else:
            scale, terms = self.error_scale(*inputs)
        tol = (terms + _SLACK_TERMS) * EPS * np.asarray(scale, dtype=np.float64)
        tol = tol + self.atol
        err = np.abs(got - expected)
        bad = ~(err <= tol)  # also catches NaN
        if np.any(bad):
            i = np.unravel_index(int(np.argmax(np.where(bad, err - tol, -np.inf))), err.shape)
            if err.shape == ():
                i = ()
            where = tuple(int(v) for v in i)
            limit = np.broadcast_to(tol, err.shape)[i]
            return (f"{int(bad.sum())} of {bad.size} value(s) off; at index {where} "
                    f"got {got[i]!r}, expected {expected[i]!r} (tolerance {limit:.3g})")
        return None


# --------------------------------------------------------------------------
# Input makers
# --------------------------------------------------------------------------
def _matrix(n: int, rng: np.random.Generator, layout: str) -> np.ndarray:
    a = rng.standard_normal((n, n))
    return np.asfortranarray(a) if layout == "F" else a


def _two_vectors(n: int, rng: np.random.Generator, layout: str) -> tuple[np.ndarray, ...]:
    return rng.standard_normal(n), rng.standard_normal(n)


def _one_vector(n: int, rng: np.random.Generator, layout: str) -> tuple[np.ndarray, ...]:
    return (rng.standard_normal(n),)


def _angles(n: int, rng: np.random.Generator, layout: str) -> tuple[np.ndarray, ...]:
    # A few periods of sin: arguments stay where sin's range reduction is cheap.
    return (rng.uniform(-8.0, 8.0, n),)


def _one_matrix(n: int, rng: np.random.Generator, layout: str) -> tuple[np.ndarray, ...]:
    return (_matrix(n, rng, layout),)


def _two_matrices(n: int, rng: np.random.Generator, layout: str) -> tuple[np.ndarray, ...]:
    return _matrix(n, rng, layout), _matrix(n, rng, layout)


# --------------------------------------------------------------------------
# References (long double) and error scales
# --------------------------------------------------------------------------
def _ld(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).astype(_LD)


def _ref_magnitude(x, y):
    x, y = _ld(x), _ld(y)
    return np.sqrt(x * x + y * y).astype(np.float64)


def _scale_magnitude(x, y):
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return np.sqrt(x * x + y * y), 2


def _ref_sum_of_squares(x):
    x = _ld(x)
    return float(np.sum(x * x))


def _scale_sum_of_squares(x):
    x = np.asarray(x, dtype=np.float64)
    return float(np.sum(x * x)), x.size


def _ref_sum_sq_sin(x):
    x = _ld(x)
    return float(np.sum(x * x + np.sin(x)))


def _scale_sum_sq_sin(x):
    x = np.asarray(x, dtype=np.float64)
    return float(np.sum(x * x + np.abs(np.sin(x)))), 2 * x.size


def _ref_row_sums(a):
    return np.sum(_ld(a), axis=1).astype(np.float64)


def _scale_row_sums(a):
    a = np.asarray(a, dtype=np.float64)
    return np.sum(np.abs(a), axis=1), a.shape[1]


def _ref_col_sums(a):
    return np.sum(_ld(a), axis=0).astype(np.float64)


def _scale_col_sums(a):
    a = np.asarray(a, dtype=np.float64)
    return np.sum(np.abs(a), axis=0), a.shape[0]


def _ref_matmul(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape[0] * a.shape[1] * b.shape[1] <= 2**27:
        return (_ld(a) @ _ld(b)).astype(np.float64)
    # Long double matmul has no BLAS; past ~512^3 it takes seconds, so large
    # products use float64 BLAS, whose own error the tolerance doubles for.
    return a @ b


def _scale_matmul(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    k = a.shape[1]
    extra = 0 if a.shape[0] * k * b.shape[1] <= 2**27 else k
    return np.abs(a) @ np.abs(b), 2 * k + extra


VECTOR_SIZES = geometric_sizes(1, 2**24, per_octave=2)
MATRIX_SIZES = geometric_sizes(4, 2048, per_octave=2)

#: The seed's experiments, quoted by the report: vectors at 10^6, matmul at 1000.
SEED_VECTOR = 1_000_000
SEED_MATMUL = 1000

#: Per profile: "first" (the first look), "quick" (CI) and "full".
VECTOR_LADDERS = {
    # The tiny-array crossover with NumPy's call overhead, and the seed's size.
    "first": (1, 10, 100, 1_000, SEED_VECTOR),
    "quick": (1, 10, 100, 1_000, 10_000, 100_000, SEED_VECTOR),
    # Half-octave steps up to 64, where the crossovers with NumPy's call
    # overhead are; octave steps beyond, enough to see each cache level go
    # (half octaves up to 4096 took the full profile to 11 min 15 s here).
    "full": tuple(sorted({*geometric_sizes(1, 64, per_octave=2),
                          *geometric_sizes(64, 2**24, per_octave=1), SEED_VECTOR})),
}
SUM_LADDERS = {
    "first": (1024,),
    "quick": (16, 128, 1024),
    "full": geometric_sizes(4, 4096, per_octave=1),
}
MATMUL_LADDERS = {
    "first": (64, 256),
    "quick": (16, 64, 256),
    "full": (4, 8, 16, 32, 64, 128, 256, 512, SEED_MATMUL, 2048),
}

SPECS: dict[str, KernelSpec] = {
    spec.name: spec
    for spec in (
        KernelSpec(
            name="magnitude",
            summary="elementwise sqrt(x_i^2 + y_i^2)",
            params=(Param("x", "vector"), Param("y", "vector")),
            relation="same_length",
            make_inputs=_two_vectors,
            reference=_ref_magnitude,
            error_scale=_scale_magnitude,
            bytes_moved=lambda n: 3 * 8 * n,  # read x and y, write the result
            flops=lambda n: 4 * n,  # 2 mul, 1 add, 1 sqrt
            sizes=VECTOR_SIZES,
            layouts=("C",),
            loop_variants=("loop",),
            ladders=VECTOR_LADDERS,
            seed_size=SEED_VECTOR,
            memory_size=SEED_VECTOR,
            history_size=SEED_VECTOR,
            # Two streams read and one written: held against the same traffic.
            ceiling="stream_add_bandwidth",
            # x*x underflows below |x| ~ 1.5e-154, and the square root brings
            # the lost part back up to that scale.
            atol=1e-150,
        ),
        KernelSpec(
            name="sum_of_squares",
            summary="sum of x_i^2",
            params=(Param("x", "vector"),),
            relation=None,
            make_inputs=_one_vector,
            reference=_ref_sum_of_squares,
            error_scale=_scale_sum_of_squares,
            bytes_moved=lambda n: 8 * n,
            flops=lambda n: 2 * n,
            sizes=VECTOR_SIZES,
            layouts=("C",),
            loop_variants=("loop",),
            ladders=VECTOR_LADDERS,
            seed_size=SEED_VECTOR,
            memory_size=SEED_VECTOR,
            history_size=SEED_VECTOR,
            ceiling="read_bandwidth",
        ),
        KernelSpec(
            name="row_sums",
            summary="sum of each row of a 2-D array",
            params=(Param("A", "matrix"),),
            relation=None,
            make_inputs=_one_matrix,
            reference=_ref_row_sums,
            error_scale=_scale_row_sums,
            bytes_moved=lambda n: 8 * n * n + 8 * n,
            flops=lambda n: n * n,
            sizes=MATRIX_SIZES,
            layouts=("C", "F"),
            loop_variants=("row_at_a_time", "column_streaming"),
            ladders=SUM_LADDERS,
            seed_size=1024,
            memory_size=1024,
            history_size=1024,
            ceiling="read_bandwidth",
        ),
        KernelSpec(
            name="col_sums",
            summary="sum of each column of a 2-D array",
            params=(Param("A", "matrix"),),
            relation=None,
            make_inputs=_one_matrix,
            reference=_ref_col_sums,
            error_scale=_scale_col_sums,
            bytes_moved=lambda n: 8 * n * n + 8 * n,
            flops=lambda n: n * n,
            sizes=MATRIX_SIZES,
            layouts=("C", "F"),
            loop_variants=("column_at_a_time", "row_streaming"),
            ladders=SUM_LADDERS,
            seed_size=1024,
            memory_size=1024,
            history_size=1024,
            ceiling="read_bandwidth",
        ),
        KernelSpec(
            name="matmul",
            summary="(n, k) x (k, m) matrix product",
            params=(Param("A", "matrix_c"), Param("B", "matrix_c")),
            relation="inner_dims",
            make_inputs=_two_matrices,
            reference=_ref_matmul,
            error_scale=_scale_matmul,
            bytes_moved=lambda n: 3 * 8 * n * n,  # compulsory traffic: read A, B, write C
            flops=lambda n: 2 * n**3,
            sizes=MATRIX_SIZES,
            layouts=("C",),
            loop_variants=("naive_ijk", "ikj"),
            ladders=MATMUL_LADDERS,
            seed_size=SEED_MATMUL,
            memory_size=256,
            history_size=256,
            ceiling="matmul_gflops",
            heavy_from=SEED_MATMUL,
        ),
        KernelSpec(
            name="sum_sq_sin",
            summary="sum of x_i^2 + sin(x_i)",
            params=(Param("x", "vector"),),
            relation=None,
            make_inputs=_angles,
            reference=_ref_sum_sq_sin,
            error_scale=_scale_sum_sq_sin,
            bytes_moved=lambda n: 8 * n,
            flops=lambda n: 3 * n,  # mul, add, add; sin counted as one operation
            sizes=VECTOR_SIZES,
            layouts=("C",),
            loop_variants=("loop",),
            ladders=VECTOR_LADDERS,
            seed_size=SEED_VECTOR,
            memory_size=SEED_VECTOR,
            history_size=SEED_VECTOR,
            # Bound by sin: held against a loop summing sin alone.
            ceiling="sin_throughput",
        ),
    )
}


#: The built-in kernels, in their order; ``SPECS`` also holds the kernels
#: registered later (kernels.registry.register, kernels.external).
BUILTIN_KERNELS: tuple[str, ...] = tuple(SPECS)


def spec(kernel: str) -> KernelSpec:
    """Return the spec of ``kernel``.

    Raises
    ------
    KeyError
        Naming the known kernels when ``kernel`` is not one of them.
    """
    try:
        return SPECS[kernel]
    except KeyError:
        raise KeyError(f"unknown kernel {kernel!r}; known: {', '.join(SPECS)}") from None

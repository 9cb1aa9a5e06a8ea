"""A kernel of one's own for vecbench: ``x * 2``, with and without ``out=``.

NumPy's ufunc ``x * 2`` allocates its result on every call; with
``np.multiply(x, 2.0, out=buf)`` into a buffer that is reused, the same loop
runs without the allocation (and, for a large ``x``, without faulting in
fresh pages).  A Python list comprehension and a Numba loop stand beside them;
there is no Cython implementation, so ``vecbench kernels`` lists scale2 as
lacking cython.

Run it from the folder that holds ``examples/`` (copy this file to start your
own: one spec, one function per backend)::

    vecbench kernels --kernels examples/scale2.py     # checked, and what it lacks
    vecbench run --kernels examples/scale2.py --profile quick
    vecbench report --baseline numpy/new              # speedups against NumPy's x * 2
"""

from __future__ import annotations

import numpy as np

from kernels import KernelSpec, Param, geometric_sizes
from kernels.backends.numba_options import njit

#: Numba options, named once: strict IEEE as vecbench's own kernels, no cache
#: (a cache would hide the compile time vecbench measures).  ``njit(options)``
#: is ``numba.njit(**options)`` that keeps the options, so vecbench can time a
#: fresh compilation with the same ones.
NUMBA_OPTIONS = {"nogil": True, "cache": False, "fastmath": False, "boundscheck": False}


def _inputs(n: int, rng: np.random.Generator, layout: str) -> tuple[np.ndarray, ...]:
    """Seeded float64 inputs of size ``n`` (``layout`` is "C": one vector has no other)."""
    return (rng.standard_normal(n),)


def _reference(x: np.ndarray) -> np.ndarray:
    # Doubling is exact in float64 (below overflow), so no wider type is needed.
    return np.asarray(x, dtype=np.float64) * 2.0


SPEC = KernelSpec(
    name="scale2",
    summary="elementwise 2 * x_i (the ufunc x * 2)",
    params=(Param("x", "vector"),),
    make_inputs=_inputs,
    reference=_reference,
    bytes_moved=lambda n: 16 * n,  # read x, write the result
    flops=lambda n: n,
    sizes=geometric_sizes(1, 2**24, per_octave=1),  # the full profile's ladder
    ladders={
        "first": (10, 1_000, 1_000_000),
        "quick": (10, 1_000, 100_000, 1_000_000),
    },
    seed_size=1_000_000,
    # One stream read and one written.  Of vecbench's ceilings only the stream
    # add (out = x + y, two read and one written) writes memory, as this kernel
    # does; the read bandwidth has no write traffic at all, so a kernel that
    # writes would look slower than it is against it.  A copy-like loop cannot
    # quite reach the stream add either (the cache fills the written line before
    # writing it, a larger share of its traffic): read its percent as a bound.
    ceiling="stream_add_bandwidth",
)


def scale2_loop(x: list[float]) -> list[float]:
    """Pure Python: a list comprehension over a list."""
    return [2.0 * v for v in x]


def scale2_new(x: np.ndarray) -> np.ndarray:
    """NumPy as one writes it: the ufunc allocates a new result each call."""
    return x * 2


class _Out:
    """NumPy with ``out=``: the result goes into a buffer reused across calls.

    One buffer, for the size of the latest call (a benchmark calls at one size
    many times); the caller gets that buffer, overwritten by the next call.
    """

    def __init__(self) -> None:
        self.buf = np.empty(0)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.buf.shape != x.shape:
            self.buf = np.empty_like(x)
        return np.multiply(x, 2.0, out=self.buf)


@njit(NUMBA_OPTIONS)
def scale2_numba(x: np.ndarray) -> np.ndarray:
    """Numba: the loop, into a result it allocates."""
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = x[i] * 2.0
    return out


#: (kernel, backend, variant) -> the bare function; the first variant of a
#: backend is its default.  vecbench checks the arguments before calling it.
IMPLEMENTATIONS = {
    ("scale2", "python", "loop"): scale2_loop,
    ("scale2", "numpy", "new"): scale2_new,
    ("scale2", "numpy", "out"): _Out(),
    ("scale2", "numba", "loop"): scale2_numba,
}

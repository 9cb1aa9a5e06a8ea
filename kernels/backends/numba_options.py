"""The Numba options every module of the numba backend compiles with, named once.

Every variant is strict IEEE: ``fastmath=False``, so the compiler neither
reassociates sums nor contracts into FMA, the same policy the Cython
extension is compiled with (setup.py).
"""

from __future__ import annotations

#: Options of every single-threaded, strict-IEEE kernel.
JIT_OPTIONS = {
    "nogil": True,
    "cache": False,  # a cache would hide the compile cost the benchmarks measure
    "fastmath": False,
    "error_model": "numpy",  # no Python-style ZeroDivisionError checks in loops
    "boundscheck": False,
}

#: The parallel variants: the same, plus threads over ``prange`` loops.
PARALLEL_OPTIONS = {**JIT_OPTIONS, "parallel": True}

"""The Numba options every module of the numba backend compiles with, named once.

Every variant is strict IEEE: ``fastmath=False``, so the compiler neither
reassociates sums nor contracts into FMA, the same policy the Cython
extension is compiled with (setup.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba
from numba.extending import is_jitted

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


#: The attribute of a dispatcher made by :func:`njit` that holds its options.
OPTIONS_ATTRIBUTE = "vecbench_options"


def njit(options: dict[str, Any]) -> Callable[[Callable[..., Any]], Any]:
    """``numba.njit(**options)``, the options kept on the dispatcher it makes.

    Numba documents no way to read a dispatcher's options back, and the
    benchmarks need them: the compile-time benchmark (bench/bench_jit.py)
    compiles a fresh dispatcher of the same function with the same options,
    and the instruction counts (bench/instruction_child.py) a cached twin.
    A kernel of your own compiled with ``numba.njit`` directly still runs
    everywhere; only those two list it as not measured, and why.
    """
    decorate = numba.njit(**options)

    def wrap(func: Callable[..., Any]) -> Any:
        dispatcher = decorate(func)
        setattr(dispatcher, OPTIONS_ATTRIBUTE, dict(options))
        return dispatcher

    return wrap


def options_of(obj: Any) -> dict[str, Any] | None:
    """The options ``obj`` was compiled with through :func:`njit`, or None (not a
    Numba dispatcher, or one made otherwise)."""
    if not is_jitted(obj):
        return None
    options = getattr(obj, OPTIONS_ATTRIBUTE, None)
    return dict(options) if isinstance(options, dict) else None

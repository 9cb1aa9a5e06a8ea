"""Cold cost: Numba's compile time per kernel, and calls until the JIT pays for itself.

Each round compiles a fresh dispatcher built from the kernel's Python source
with the same options, so no earlier compilation in the process can hide the
cost.  The first compilation in a process also pays Numba's own start-up,
which these rounds (after the first) do not include.
"""

from __future__ import annotations

import math
import time
import timeit

import numba
import pytest

import kernels
from bench import harness
from bench.grid import JIT_REFERENCE_SIZES

COMPILE_SIZE = 8  # compile on small inputs of the same types, so the run itself is negligible


def _fresh(impl: kernels.Implementation, args: tuple) -> tuple[tuple, dict]:
    # A core may be a shim around the jitted loop (numba_jit._numpy_result).
    jitted = getattr(impl.core, "jitted", impl.core)
    if hasattr(impl.core, "jit_args"):
        args = impl.core.jit_args(*args)
    dispatcher = numba.jit(**jitted.targetoptions)(jitted.py_func)
    return (dispatcher, *args), {}


def _first_call(dispatcher, *args):
    return dispatcher(*args)


def _steady_seconds(impl: kernels.Implementation, n: int) -> float:
    args = harness.prepared_inputs(impl, n, "C")
    impl.func(*args)
    timer = timeit.Timer(lambda: impl.func(*args))
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=3, number=number)) / number


def test_numba_compile(benchmark, jit_impl, profile):
    args = jit_impl.spec.checker()(harness.spec_inputs(jit_impl.kernel, COMPILE_SIZE, "C"))
    start = time.perf_counter()
    benchmark.pedantic(_first_call, setup=lambda: _fresh(jit_impl, args),
                       rounds=profile.jit_rounds)
    compile_seconds = benchmark.stats.stats.median if benchmark.stats else (
        time.perf_counter() - start)
    harness.limit_threads()

    n = JIT_REFERENCE_SIZES[jit_impl.kernel]
    numpy_impl = kernels.implementation(jit_impl.kernel, "numpy")
    numba_seconds = _steady_seconds(jit_impl, n)
    numpy_seconds = _steady_seconds(numpy_impl, n)
    saved = numpy_seconds - numba_seconds
    benchmark.extra_info.update({
        "kernel": jit_impl.kernel, "backend": "numba", "variant": jit_impl.variant,
        "measure": "compile", "compile_seconds": compile_seconds,
        "reference_size": n, "numba_seconds": numba_seconds, "numpy_seconds": numpy_seconds,
        # None: Numba is not faster than NumPy at this size, so the JIT never pays off.
        "break_even_calls": math.ceil(compile_seconds / saved) if saved > 0 else None,
        "threads": harness.blas_threads(),
    })
    if compile_seconds <= 0:
        pytest.fail("compile time was not measured")

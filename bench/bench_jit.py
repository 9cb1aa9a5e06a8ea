"""Cold cost: Numba's compile time per kernel, and calls until the JIT pays for itself.

Each round compiles a fresh dispatcher built from the kernel's Python source
with the same options, so no earlier compilation in the process can hide the
cost.  The first compilation in a process also pays Numba's own start-up,
which these rounds (after the first) do not include.

The break-even is measured at the kernel's ``spec.measured_size``, against
its NumPy implementation (None when it has none).  A numba implementation
that is not a Numba dispatcher (a plain function a kernel module of one's own
registered) or whose compilation cannot be repeated is recorded as not
measured, with the reason.
"""

from __future__ import annotations

import math
import time
import timeit
from typing import Any

import numba
import pytest
from numba.extending import is_jitted

import kernels
from bench import harness
from kernels.backends.numba_options import options_of

COMPILE_SIZE = 8  # compile on small inputs of the same types, so the run itself is negligible


def _jitted(impl: kernels.Implementation) -> Any:
    """The Numba dispatcher behind ``impl``, or None when it has none."""
    # A core may be a shim around the jitted loop (numba_jit._numpy_result).
    jitted = getattr(impl.core, "jitted", impl.core)
    return jitted if is_jitted(jitted) else None


def _fresh(impl: kernels.Implementation, args: tuple) -> tuple[tuple, dict]:
    jitted = _jitted(impl)
    options = options_of(jitted)
    assert options is not None
    if hasattr(impl.core, "jit_args"):
        args = impl.core.jit_args(*args)
    # ``py_func``: the dispatcher's Python function (documented attribute).
    dispatcher = numba.njit(**options)(jitted.py_func)
    return (dispatcher, *args), {}


def _first_call(dispatcher, *args):
    return dispatcher(*args)


#: The steady calls of the break-even: the best of STEADY_REPEAT rounds of
#: at least STEADY_ROUND seconds each (timeit's autorange takes 0.2 s a round,
#: which made these two timings cost more than the compilations they are set
#: against).
STEADY_ROUND = 0.01
STEADY_REPEAT = 5


def _steady_seconds(impl: kernels.Implementation, n: int) -> float:
    args = harness.prepared_inputs(impl, n, "C")
    impl.func(*args)  # warm: the first call may touch fresh pages
    timer = timeit.Timer(lambda: impl.func(*args))
    once = timer.timeit(number=1)
    number = max(1, math.ceil(STEADY_ROUND / once)) if once > 0 else 1000
    return min(timer.repeat(repeat=STEADY_REPEAT, number=number)) / number


def _numpy_default(kernel: str) -> kernels.Implementation | None:
    """The kernel's default NumPy implementation, if it has one that runs here."""
    if kernels.backend_error("numpy") is not None or not kernels.variants(kernel, "numpy"):
        return None
    impl = kernels.implementation(kernel, "numpy")
    return impl if impl.runnable else None


def test_numba_compile(benchmark, jit_impl, profile):
    case = f"not applicable: {jit_impl.label} {jit_impl.kernel}"
    if _jitted(jit_impl) is None:
        harness.not_measured("not_applicable", f"its core ({type(jit_impl.core).__name__}) is "
                             "not a Numba dispatcher, so there is no compilation to repeat", case)
    if options_of(_jitted(jit_impl)) is None:
        harness.not_measured("not_applicable", "it was compiled with numba.njit directly, and "
                             "Numba documents no way to read a dispatcher's options back: "
                             "compile it with kernels.backends.numba_options.njit(options) to have "
                             "its compile time measured", case)
    args = jit_impl.spec.checker()(harness.spec_inputs(jit_impl.kernel, COMPILE_SIZE, "C"))
    start = time.perf_counter()
    try:
        benchmark.pedantic(_first_call, setup=lambda: _fresh(jit_impl, args),
                           rounds=profile.jit_rounds)
    except Exception as exc:  # the benchmark has an error then, and is not saved
        harness.not_measured("not_applicable", "its compilation cannot be repeated on a fresh "
                             f"dispatcher: {harness.one_line(exc)}", case)
    compile_seconds = benchmark.stats.stats.median if benchmark.stats else (
        time.perf_counter() - start)
    harness.limit_threads()

    n = jit_impl.spec.measured_size
    numpy_impl = _numpy_default(jit_impl.kernel)
    numba_seconds = _steady_seconds(jit_impl, n)
    numpy_seconds = None if numpy_impl is None else _steady_seconds(numpy_impl, n)
    saved = None if numpy_seconds is None else numpy_seconds - numba_seconds
    benchmark.extra_info.update({
        "kernel": jit_impl.kernel, "backend": "numba", "variant": jit_impl.variant,
        "measure": "compile", "compile_seconds": compile_seconds,
        "reference_size": n, "numba_seconds": numba_seconds,
        # None: the kernel has no NumPy implementation to set the JIT against.
        "numpy_seconds": numpy_seconds,
        # None: Numba is not faster than NumPy at this size, so the JIT never pays
        # off, or there is no NumPy implementation (numpy_seconds None).
        "break_even_calls": math.ceil(compile_seconds / saved) if saved and saved > 0 else None,
        "threads": harness.blas_threads(),
    })
    if compile_seconds <= 0:
        pytest.fail("compile time was not measured")

"""Everything around a timed call: inputs, the correctness check, the budget, memory.

Nothing here is timed.  Inputs are built once per (kernel, size, layout) and
shared by the backends that follow one another in the grid; every
implementation is called on the benchmark's own inputs and checked against
the reference before it is timed (which also compiles Numba's code), and a
call whose estimated time exceeds the profile's budget is skipped with the
estimate in the reason.
"""

from __future__ import annotations

import math
import sys
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import kernels
from bench.grid import MEMORY_SIZES, Case, Profile


@lru_cache(maxsize=2)
def spec_inputs(kernel: str, n: int, layout: str) -> tuple[np.ndarray, ...]:
    return kernels.spec(kernel).inputs(n, layout)


@lru_cache(maxsize=2)
def reference(kernel: str, n: int, layout: str) -> Any:
    return kernels.spec(kernel).reference(*spec_inputs(kernel, n, layout))


@lru_cache(maxsize=1)
def _as_lists(kernel: str, n: int, layout: str) -> tuple[Any, ...]:
    return tuple(a.tolist() for a in spec_inputs(kernel, n, layout))


def prepared_inputs(impl: kernels.Implementation, n: int, layout: str) -> tuple[Any, ...]:
    """The arguments ``impl.func`` takes, built outside any timed region."""
    if impl.inputs == "lists":
        return _as_lists(impl.kernel, n, layout)
    return impl.prepare(spec_inputs(impl.kernel, n, layout))


@contextmanager
def threads_limited(threads: int) -> Iterator[None]:
    """BLAS and OpenMP pools (threadpoolctl) and Numba's threads set to ``threads``."""
    previous = numba.get_num_threads()
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        numba.set_num_threads(previous)


def limit_threads(threads: int = 1) -> None:
    """Limit every thread pool loaded so far to ``threads``.

    The suites' fixture limits the pools loaded before each test; a first call
    may load another (Numba's first compilation loads SciPy's OpenBLAS).
    """
    threadpool_limits(limits=threads)


def blas_threads() -> int:
    """Threads the BLAS pools may use now (1 inside the suites' limit)."""
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    return max((p["num_threads"] for p in pools), default=1)


# --------------------------------------------------------------------------
# Budget: estimated seconds for one call, from the same implementation's last
# measured call at a smaller size, scaled by the work model.
# --------------------------------------------------------------------------
_last_call: dict[tuple[str, str, str, str, int], tuple[int, float]] = {}
_PROBE_SECONDS = 0.01


def _work(kernel: str, n: int) -> float:
    spec = kernels.spec(kernel)
    return float(max(spec.flops(n), spec.bytes_moved(n), 1))


def _timed_call(impl: kernels.Implementation, n: int, layout: str, repeat: int = 1) -> float:
    """Best of ``repeat`` calls: one descheduled call (other jobs on the
    machine) should not skip a whole size."""
    args = prepared_inputs(impl, n, layout)
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        impl.func(*args)
        best = min(best, time.perf_counter() - start)
    return best


def _key(case: Case) -> tuple[str, str, str, str, int]:
    i = case.impl
    return (i.kernel, i.backend, i.variant, case.layout, case.threads)


def estimate_seconds(case: Case) -> float:
    """Estimated time of one call of ``case``.

    Scales the last call measured for the same implementation, layout and
    threads at a smaller size by the work model.  A call under 10 ms is mostly
    fixed cost and would scale badly, so first the spec's ladder between the
    two sizes is probed upwards until a call takes 10 ms; with nothing
    measured yet (a ``-k`` selection) the probe starts at the bottom.  A probe
    counts only when its call also grew from the size below.
    """
    impl, key = case.impl, _key(case)
    last = _last_call.get(key)
    if last is None or last[0] > case.n or last[1] < _PROBE_SECONDS:
        floor = last[0] if last is not None and last[0] <= case.n else -1
        previous = last[1] if floor >= 0 else None
        for m in kernels.spec(impl.kernel).sizes:
            if m <= floor:
                continue
            if m >= case.n:
                break
            if last is None:
                _timed_call(impl, m, case.layout)  # the first call may compile
            last = (m, _timed_call(impl, m, case.layout, repeat=3))
            _last_call[key] = last
            # Stop once a call is long enough to scale and did grow with the
            # size: a slow call that did not (a thread descheduled while the
            # machine is busy) is fixed cost, and would scale absurdly.
            if last[1] >= _PROBE_SECONDS and previous is not None and last[1] > 1.5 * previous:
                break
            previous = last[1]
    if last is None or last[0] > case.n:
        return 0.0
    m, seconds = last
    return seconds * _work(impl.kernel, case.n) / _work(impl.kernel, m)


def skip_unavailable(case: Case) -> None:
    """``pytest.skip`` an implementation that is not what its name says on this machine."""
    impl = case.impl
    if impl.unavailable is not None:
        pytest.skip(f"{impl.label} {impl.kernel}: unavailable here: {impl.unavailable}")


def skip_over_budget(case: Case, profile: Profile) -> None:
    """``pytest.skip`` a case whose one call would exceed the profile's budget."""
    estimate = estimate_seconds(case)
    if estimate > profile.call_budget:
        pytest.skip(
            f"{case.impl.label} {case.impl.kernel} n={case.n}: one call estimated at "
            f"{estimate:.3g} s, over the '{profile.name}' profile's "
            f"{profile.call_budget:g} s per-call budget"
        )


def check_once(case: Case, profile: Profile | None = None) -> None:
    """Call the implementation on the benchmark's inputs; fail on disagreement.

    Also records the call's time for the budget of the next size: a second
    call is timed when the first was short, and always for an implementation's
    first case, whose first call may have included compilation.
    """
    impl, n, layout = case.impl, case.n, case.layout
    args = prepared_inputs(impl, n, layout)
    start = time.perf_counter()
    result = impl.func(*args)
    seconds = time.perf_counter() - start
    problem = impl.spec.mismatch(result, spec_inputs(impl.kernel, n, layout),
                                 reference(impl.kernel, n, layout))
    if problem:
        pytest.fail(f"{case.id} disagrees with the reference: {problem}")
    limit_threads(case.threads)
    if _key(case) not in _last_call:  # the first call of an implementation may compile
        seconds = _timed_call(impl, n, layout, repeat=2)
    elif seconds < 1.0:
        seconds = min(seconds, _timed_call(impl, n, layout, repeat=2))
    _last_call[_key(case)] = (n, seconds)
    # The estimate scales by the work model and misses cliffs (a power-of-two
    # matrix whose columns all fall in the same cache sets): the call just
    # measured is what counts.
    if profile is not None and seconds > profile.call_budget:
        pytest.skip(f"{impl.label} {impl.kernel} n={n}: one call took {seconds:.3g} s, over "
                    f"the '{profile.name}' profile's {profile.call_budget:g} s per-call budget")


# --------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------
def bytes_per_element(args: tuple[Any, ...]) -> float:
    """Memory the inputs occupy per number: 8 for float64 arrays, ~32 for lists.

    For lists this counts each list and every distinct float object in it
    (``sys.getsizeof``), which is what a list of Python floats costs.
    """
    total = count = 0
    seen: set[int] = set()

    def walk(obj: Any) -> None:
        nonlocal total, count
        if isinstance(obj, np.ndarray):
            total += obj.nbytes
            count += obj.size
        elif isinstance(obj, list):
            total += sys.getsizeof(obj)
            for item in obj:
                walk(item)
        else:
            count += 1
            if id(obj) not in seen:
                seen.add(id(obj))
                total += sys.getsizeof(obj)

    for a in args:
        walk(a)
    return total / count if count else math.nan


def peak_extra_bytes(impl: kernels.Implementation, args: tuple[Any, ...]) -> int:
    """Peak memory allocated during one call, above what was allocated before it.

    Measured with tracemalloc, which sees Python objects, NumPy's buffers and
    Numba's runtime allocations alike: the result itself plus any temporaries.
    """
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        impl.func(*args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - base


def extra_info(case: Case, args: tuple[Any, ...]) -> dict[str, Any]:
    """What each saved benchmark records beside its timings."""
    impl, n = case.impl, case.n
    spec = impl.spec
    arrays = spec_inputs(impl.kernel, n, case.layout)
    info: dict[str, Any] = {
        "measure": "steady",
        "kernel": impl.kernel,
        "backend": impl.backend,
        "variant": impl.variant,
        "default_variant": impl.default,
        "size": n,
        "shape": [list(a.shape) for a in arrays],
        "layout": case.layout,
        "dtype": "float64",
        "threads": case.threads,
        "blas_threads": blas_threads(),
        "bytes": spec.bytes_moved(n),
        "flops": spec.flops(n),
    }
    if impl.path is not None:
        info["simd_path"] = impl.path
    if MEMORY_SIZES.get(impl.kernel) == n:
        info["input_bytes_per_element"] = bytes_per_element(args)
        info["peak_extra_bytes"] = peak_extra_bytes(impl, args)
    return info

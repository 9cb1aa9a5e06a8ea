"""Machine ceilings: what this machine can do at best, saved with every run.

Ten probes, in the group "machine ceilings", each recording
``extra_info = {measure: "ceiling", ceiling, threads, value, unit}``:

- memory read bandwidth (GB/s), one thread and all cores: a compiled sum over
  an array far larger than the last-level cache, the fastest of several
  loops: Numba with ``fastmath`` (the compiler reassociates the sum into
  vector accumulators), and the 32-lane sums of both compiled backends
  (kernels/backends/numba_lanes.py, _lanes.pxd).  A single loop was beaten by
  the kernels it is meant to bound (sum_of_squares at 108-110% of the
  ``fastmath`` loop).  The all-cores forms are a ``prange`` reduction and
  the lane sum over fixed chunks on every thread;
- BLAS dgemm (GFLOP/s), ``A @ B`` in float64 at n=2048, with the BLAS pool
  at one thread and at every core;
- stream add bandwidth (GB/s), one thread and all cores: ``out = x + y`` over
  arrays far larger than the last-level cache, counting 24 bytes an element,
  the traffic of ``magnitude`` (two streams read, one written);
- the same into a new array each call (GB/s), one thread and all cores: what
  a kernel that returns a fresh result, as ``magnitude`` does, can reach.
  The OS zeroes each fresh page when it is first written, a write pass over
  the result that the loop cannot avoid (NumPy, as ``magnitude``, asks for
  transparent huge pages, so the faults themselves are few);
- sin throughput (Gelem/s), one thread and all cores: a sum of ``sin(x)``
  alone with the fastest sin the build has (libmvec's SIMD sin,
  kernels/backends/*vecmath*), on sum_sq_sin's own input at its largest
  size, the faster of the numba and cython forms: ``sum_sq_sin``'s ceiling.
  The all-cores form sums fixed chunks on every thread, as the parallel
  variants do.

In the full profile every probe runs twice, first and after all the other
benchmarks (``ceiling_pass``, the profile's ``ceiling_passes``): the
bandwidth a shared machine gives moves over minutes, and the report keeps
the higher of the two.  A run that selects some kernels (``--vb-kernel``)
measures only the ceilings their specs name and the read bandwidth, the
default roof (:func:`probes`).  Where several loops can do a probe's work,
each is timed ``profile.fastest_of`` times (five in the full and quick
profiles) and the fastest is measured (``extra_info["source"]`` names it).  The value
is the best round: a ceiling is what the machine reaches, not what it
reaches on average.  The suites limit every thread pool to one thread per
test (``bench/conftest.py``); the all-cores probes lift that limit inside the
test and put it back afterwards.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import partial

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import kernels
from bench import harness
from bench.grid import Selection
from bench.harness import threads_limited
from bench.machine import cpu_caches
from kernels import simd
from kernels.backends.numba_lanes import chunked_sum, sum_range

GROUP = "machine ceilings"
#: The probes of each ceiling a spec may name (its ``ceiling``): one thread and
#: all cores, and for the stream ceiling the same into a new array.
CEILING_PROBES: dict[str, tuple[str, ...]] = {
    "read_bandwidth": ("read_bandwidth-1", "read_bandwidth-all"),
    "matmul_gflops": ("matmul_gflops-1", "matmul_gflops-all"),
    "stream_add_bandwidth": ("stream_add_bandwidth-1", "stream_add_bandwidth-all",
                             "stream_add_new_bandwidth-1", "stream_add_new_bandwidth-all"),
    "sin_throughput": ("sin_throughput-1", "sin_throughput-all"),
}
PROBES = tuple(p for probes in CEILING_PROBES.values() for p in probes)
#: The roof of a kernel whose spec names no ceiling in the report's figures:
#: always measured.
DEFAULT_CEILING = "read_bandwidth"
SIN_N = 2**24  # sum_sq_sin's largest size in the full profile
MATMUL_N = 2048
_MIN_READ_BYTES = 256 * 2**20  # at least 256 MiB ...
# ... and four times the largest cache: twice what the kernels' sizes beyond
# the cache exceed (bench/grid.py), so no part of it stays cached.
_L3_MULTIPLE = 4


# fastmath lets LLVM reassociate the sum: it keeps several vector accumulators,
# so the loop waits on memory, not on the latency of one chain of additions.
@numba.njit(fastmath=True, nogil=True, cache=False)
def read_one_thread(a):
    """Sum of ``a`` on one thread; bound by memory bandwidth for a large ``a``."""
    s = 0.0
    for i in range(a.size):
        s += a[i]
    return s


@numba.njit(parallel=True, fastmath=True, nogil=True, cache=False)
def read_all_cores(a):
    """Sum of ``a`` split among Numba's threads (``prange`` reduction)."""
    s = 0.0
    for i in numba.prange(a.size):
        s += a[i]
    return s


@numba.njit(nogil=True, cache=False)
def read_lanes(a):
    """Sum of ``a`` in Numba's 32 vector lanes, one thread."""
    return sum_range(a, 0, a.size)


def read_lanes_all_cores(a):
    """The same over fixed chunks of ``a`` on all Numba's threads."""
    return chunked_sum(sum_range, a)


def _read_loops(parallel: bool) -> dict[str, Callable]:
    if parallel:
        return {"numba fastmath prange": read_all_cores, "numba lanes": read_lanes_all_cores}
    loops = {"numba fastmath": read_one_thread, "numba lanes": read_lanes}
    try:
        from kernels.backends import _cython_loops
    except ImportError:
        return loops
    # row_sums of a single row: _lanes.pxd's lane_sum over the whole array
    loops["cython lanes"] = lambda a: _cython_loops.row_sums_unrolled(a.reshape(1, -1))
    return loops


@numba.njit(nogil=True, cache=False)
def add_one_thread(x, y, out):
    """out = x + y on one thread: two streams read, one written."""
    for i in range(x.size):
        out[i] = x[i] + y[i]


@numba.njit(parallel=True, nogil=True, cache=False)
def add_all_cores(x, y, out):
    """out = x + y split among Numba's threads."""
    for i in numba.prange(x.size):
        out[i] = x[i] + y[i]


def add_new(add: Callable) -> Callable:
    """x + y with ``add`` into a result NumPy allocates at each call."""

    def run(x, y):
        out = np.empty(x.size)
        add(x, y, out)
        return out

    return run


def _sin_loops(parallel: bool = False) -> dict[str, Callable]:
    """The sum-of-sin loops on this process's SIMD path (kernels.simd), of the backends
    that can run it; none when the path cannot run here (the probe then skips)."""
    from kernels.backends import numba_vecmath

    path = simd.selected()
    name = "sum_sin_parallel" if parallel else "sum_sin_vector"
    loops = {}
    if simd.why_not(path) is None:
        loops["numba sum of sin"] = getattr(numba_vecmath.loops(path), name)
    try:
        from kernels.backends import _cython_vecmath
    except ImportError:
        return loops
    if _cython_vecmath.why_not(path) is None:
        loops["cython sum of sin"] = partial(getattr(_cython_vecmath, name),
                                             path=_cython_vecmath.PATHS.index(path))
    return loops


def _fastest(loops: dict[str, Callable], args: tuple, calls: int = 5) -> str:
    """The name of the loop fastest over ``calls`` calls each (after one that compiles)."""
    for loop in loops.values():
        loop(*args)
    if len(loops) == 1:
        return next(iter(loops))
    return min(loops, key=lambda name: min(_time_once(loops[name], *args)
                                           for _ in range(calls)))


def read_bytes() -> int:
    """Size of the bandwidth probe's array: far beyond the last-level cache."""
    largest = max(cpu_caches().values(), default=0)
    return max(_MIN_READ_BYTES, _L3_MULTIPLE * largest)


def _blas_threads() -> int:
    pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    return max((int(p["num_threads"]) for p in pools), default=1)


def _time_once(func: Callable, *args) -> float:
    start = time.perf_counter()
    func(*args)
    return time.perf_counter() - start


def probes(selection: Selection) -> list[str]:
    """The probes of the ceilings the selected kernels' specs name, and the default
    roof's; every probe when the selection leaves no kernel out."""
    if selection.kernels is None:
        return list(PROBES)
    named = {DEFAULT_CEILING} | {kernels.spec(k).ceiling for k in selection.selected_kernels()}
    return [p for c, group in CEILING_PROBES.items() if c in named for p in group]


def _measure(benchmark, func: Callable, args: tuple, rounds: int) -> float:
    """Best seconds per call over ``rounds`` timed rounds (after one warm-up call)."""
    with harness.state_recorded(benchmark):
        benchmark.pedantic(func, args=args, rounds=rounds, iterations=1, warmup_rounds=1)
    if benchmark.stats:  # timed run: pytest-benchmark's own rounds
        return float(benchmark.stats.stats.min)
    # --benchmark-disable ran it once, untimed: time one call so the value is still real.
    start = time.perf_counter()
    func(*args)
    return time.perf_counter() - start


@pytest.fixture(scope="module")
def read_array() -> np.ndarray:
    # Filled, not just allocated, so every page is mapped before any timing.
    return np.full(read_bytes() // 8, 1.0)


@pytest.fixture(scope="module")
def add_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = read_bytes() // 8 // 3
    return np.full(n, 1.0), np.full(n, 2.0), np.full(n, 0.0)


@pytest.fixture(scope="module")
def sin_input() -> np.ndarray:
    return kernels.spec("sum_sq_sin").inputs(SIN_N)[0]


@pytest.fixture(scope="module")
def matmul_inputs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((MATMUL_N, MATMUL_N)), rng.standard_normal((MATMUL_N, MATMUL_N))


# ``probe`` and ``ceiling_pass`` are parametrized by bench/conftest.py: the probes
# of the selection (:func:`probes`), in the profile's passes.
def test_ceiling(benchmark, probe, ceiling_pass, profile, request):
    ceiling, scope = probe.split("-")
    cores = os.cpu_count() or 1
    threads = 1 if scope == "1" else min(cores, numba.config.NUMBA_NUM_THREADS)
    if ceiling == "read_bandwidth":
        a = request.getfixturevalue("read_array")
        loops = _read_loops(parallel=scope != "1")  # imported first: its OpenMP pool is then seen
        with threads_limited(threads):
            best = _fastest(loops, (a,), profile.fastest_of)
            seconds = _measure(benchmark, loops[best], (a,), profile.ceiling_rounds)
        value, unit = a.nbytes / seconds / 1e9, "GB/s"
        benchmark.extra_info["source"] = best
    elif ceiling in ("stream_add_bandwidth", "stream_add_new_bandwidth"):
        x, y, out = request.getfixturevalue("add_arrays")
        rounds = profile.ceiling_rounds
        add = add_one_thread if scope == "1" else add_all_cores
        func, args = (add, (x, y, out)) if ceiling == "stream_add_bandwidth" else (add_new(add),
                                                                                   (x, y))
        with threads_limited(threads):
            seconds = _measure(benchmark, func, args, rounds)
        value, unit = 24 * x.size / seconds / 1e9, "GB/s"
    elif ceiling == "sin_throughput":
        x = request.getfixturevalue("sin_input")
        loops = _sin_loops(parallel=scope != "1")
        if not loops:
            harness.not_measured("unavailable", f"no sin loop can run on SIMD path "
                                 f"{simd.selected()}: {simd.why_not(simd.selected())}")
        with threads_limited(threads):
            best = _fastest(loops, (x,), profile.fastest_of)
            seconds = _measure(benchmark, loops[best], (x,), profile.ceiling_rounds)
        value, unit = x.size / seconds / 1e9, "Gelem/s"
        benchmark.extra_info.update({"source": best, "simd_path": simd.selected()})
    else:
        A, B = request.getfixturevalue("matmul_inputs")
        rounds = profile.gemm_rounds
        with threadpool_limits(limits=1 if scope == "1" else cores, user_api="blas"):
            threads = _blas_threads()
            seconds = _measure(benchmark, np.matmul, (A, B), rounds)
        value, unit = 2.0 * MATMUL_N**3 / seconds / 1e9, "GFLOP/s"
    benchmark.extra_info.update({
        "measure": "ceiling", "ceiling": ceiling, "threads": threads,
        "value": value, "unit": unit,
    })
    assert value > 0

"""Everything around a timed call: inputs, the correctness check, the budget, memory.

Nothing here is timed.  Inputs are built once per (kernel, size, layout) and
shared by the backends that follow one another in the grid; every
implementation is called on the benchmark's own inputs and checked against
the reference before it is timed (which also compiles Numba's code), and a
call estimated far beyond the profile's budget, or measured over it twice, is
skipped with the estimate or the times in the reason.  Every skip and failure
says which kind it is (:func:`absent_reason`), for the saved run's list of
what was not measured (bench/record.py).
"""

from __future__ import annotations

import math
import sys
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, NoReturn

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import kernels
from bench import allocator, pace, state
from bench.grid import MEMORY_SHARE, Case, Profile


@lru_cache(maxsize=2)
def spec_inputs(kernel: str, n: int, layout: str) -> tuple[np.ndarray, ...]:
    return kernels.spec(kernel).inputs(n, layout)


@lru_cache(maxsize=2)
def reference(kernel: str, n: int, layout: str) -> Any:
    return kernels.spec(kernel).reference(*spec_inputs(kernel, n, layout))


@lru_cache(maxsize=1)
def _as_lists(kernel: str, n: int, layout: str) -> tuple[Any, ...]:
    return tuple(a.tolist() for a in spec_inputs(kernel, n, layout))


def prepared_inputs(impl: kernels.Implementation, n: int, layout: str,
                    cached: bool = True) -> tuple[Any, ...]:
    """The arguments ``impl.func`` takes, built outside any timed region.

    ``cached=False`` builds them anew without keeping them (the budget's
    probes at other sizes), so they do not push the case's own inputs out of
    the cache.
    """
    if not cached:
        return impl.prepare(kernels.spec(impl.kernel).inputs(n, layout))
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


@contextmanager
def state_recorded(benchmark: Any) -> Iterator[None]:
    """Wait for the machine's pace, then record its state over a benchmark's rounds
    in ``extra_info["state"]``.

    ``{other_cpu, steal, cpu_wait, load1, running}`` (bench/state.py): cores
    other processes used meanwhile, the fraction of CPU time stolen, the share
    of time a task waited for a CPU, the 1-minute load at the end, the most
    runnable processes seen; None where unreadable.  ``{pace_before,
    pace_after, waited}`` (bench/pace.py): how much slower than its recent best
    the machine ran a fixed workload before and after the rounds, and the
    seconds waited beforehand for it to return within ``pace.SLOW``.  Wrap only
    the ``benchmark(...)`` call: the readings are outside its timing.
    """
    run_pace = pace.session()
    before_pace, waited = run_pace.settle()
    before = state.snapshot(with_mhz=False)
    try:
        yield
    finally:
        recorded = state.between(before, state.snapshot(with_mhz=False))
        recorded.update(pace_before=round(before_pace, 3),
                        pace_after=round(run_pace.after(), 3), waited=waited)
        benchmark.extra_info["state"] = recorded


# --------------------------------------------------------------------------
# Why a case ends without a benchmark, in the saved run's terms (the run
# JSON's vecbench.absent): the exception that ends it carries
# ``vecbench_absent = (reason, detail)``, read by bench/record.py.
# --------------------------------------------------------------------------
def _marked(exc: BaseException, reason: str, detail: str) -> BaseException:
    try:
        exc.vecbench_absent = (reason, detail)  # type: ignore[attr-defined]
    except AttributeError:  # an exception type without a __dict__
        pass
    return exc


def absent_reason(exc: BaseException | None) -> tuple[str, str] | None:
    """The ``(reason, detail)`` the harness gave the exception that ended a case, or None."""
    found = getattr(exc, "vecbench_absent", None)
    return (str(found[0]), str(found[1])) if isinstance(found, tuple) and len(found) == 2 \
        else None


def not_measured(reason: str, detail: str, prefix: str = "") -> NoReturn:
    """``pytest.skip`` with the reason kind recorded: ``over_budget``, ``unavailable``, ...

    Parameters
    ----------
    reason
        One of the saved run's absent reasons.
    detail
        One line: what the saved run says beside the reason.
    prefix
        Put before ``detail`` in the message pytest prints (the case).
    """
    raise _marked(pytest.skip.Exception(f"{prefix}: {detail}" if prefix else detail),
                  reason, detail)


def one_line(exc: BaseException) -> str:
    """``Type: message``, its first line, at most 300 characters."""
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


# --------------------------------------------------------------------------
# Budget: the time of one call, estimated from calls of the same
# implementation measured at smaller sizes (t = fixed + marginal x work).
# --------------------------------------------------------------------------
#: (kernel, backend, variant, layout, threads) -> {size: best seconds of a call}
_measured: dict[tuple[str, str, str, str, int], dict[int, float]] = {}
#: (that key, size) -> (the fastest call that skipped a case for taking too
#: long, what the skip said): a second regime of the same case is skipped on it
_over_budget: dict[tuple[tuple[str, str, str, str, int], int], tuple[float, str]] = {}
#: Probes climb the size ladder until a call takes this long (and grew).
_PROBE_SECONDS = 0.01
#: A case is skipped on its estimate alone only beyond this many budgets:
#: below, its real call is measured (twice before it is skipped).  Four, not
#: more: an estimate that far out has been checked by probing closer (see
#: estimate_seconds), and each case between costs two real calls.
SKIP_FACTOR = 4.0
#: check_once times a call shorter than this twice more (the best of three
#: for the estimates): one descheduled call should not skip a larger size.
#: A longer one is timed again by the benchmark's own rounds (keep_fastest),
#: and two more calls of Python's loops at the full profile's large sizes
#: cost seconds a case.
REPEAT_BELOW = 0.05
#: An estimate from calls this long is believed without probing closer: a
#: descheduled call is short beside them, and they are the fastest of a
#: benchmark's rounds (keep_fastest).  Probing Python's matmul at 362 to
#: confirm that 512 is over the full profile's budget took 9 s.
BELIEVED_SECONDS = 0.5
_clock = time.perf_counter  # tests replace it with a fake clock


def _work(kernel: str, n: int) -> float:
    spec = kernels.spec(kernel)
    return float(max(spec.flops(n), spec.bytes_moved(n), 1))


def _timed_call(impl: kernels.Implementation, n: int, layout: str, repeat: int = 1,
                limit: float = math.inf, args: tuple[Any, ...] | None = None) -> float:
    """Best of ``repeat`` calls: one descheduled call (other jobs on the
    machine) should not skip a whole size.  No call is started after the
    second once the calls so far took ``limit`` seconds in all.  ``args``:
    the inputs to call with, else the case's (cached) inputs."""
    if args is None:
        args = prepared_inputs(impl, n, layout)
    best = spent = 0.0
    for i in range(repeat):
        start = _clock()
        impl.func(*args)
        seconds = _clock() - start
        best = seconds if i == 0 else min(best, seconds)
        spent += seconds
        if i >= 1 and spent >= limit:
            break
    return best


def _key(case: Case) -> tuple[str, str, str, str, int]:
    i = case.impl
    return (i.kernel, i.backend, i.variant, case.layout, case.threads)


def _pair(kernel: str, points: dict[int, float], n: int) -> tuple[int, int] | None:
    """The two sizes below ``n`` a fit uses: the largest, and a partner with a
    quarter of its work or less where measured (a wide span keeps the slope
    out of the noise), else the next size down."""
    below = sorted(m for m in points if m < n)
    if len(below) < 2:
        return None
    m2 = below[-1]
    wide = [m for m in below[:-1] if _work(kernel, m) <= _work(kernel, m2) / 4]
    return (wide[-1] if wide else below[-2]), m2


def _fit(kernel: str, points: dict[int, float], n: int) -> tuple[float, str]:
    """Estimated seconds at ``n`` from the points measured below it, and how."""
    pair = _pair(kernel, points, n)
    if pair is None:
        below = [m for m in points if m < n]
        if not below:
            return 0.0, "nothing measured below"
        m2 = max(below)  # one point: all of it marginal cost, an upper bound
        return points[m2] * _work(kernel, n) / _work(kernel, m2), f"scaled from n={m2}"
    m1, m2 = pair
    (t1, w1), (t2, w2) = ((points[m], _work(kernel, m)) for m in pair)
    slope = max((t2 - t1) / (w2 - w1), 0.0) if w2 > w1 else 0.0
    return t2 + slope * (_work(kernel, n) - w2), f"fitted to n={m1} and n={m2}"


def _probe(case: Case, m: int, limit: float = math.inf) -> None:
    points = _measured.setdefault(_key(case), {})
    args = prepared_inputs(case.impl, m, case.layout, cached=False)
    if not points:
        _timed_call(case.impl, m, case.layout, args=args)  # the first call may compile
    best = _timed_call(case.impl, m, case.layout, repeat=3, limit=limit, args=args)
    points[m] = min(points.get(m, math.inf), best)


def estimate_seconds(case: Case, budget: float | None = None) -> float:
    """Estimated time of one call of ``case``.

    Fits ``t = fixed + marginal x work`` (the work model) to two calls of the
    same implementation, layout and threads measured at smaller sizes, each
    the best of three (one descheduled call does not count).  A call under
    10 ms is mostly fixed cost and says little about the marginal cost, so
    the spec's ladder below ``n`` is probed upwards until the larger call of
    the fit takes 10 ms and grew by half from the smaller; with nothing
    measured yet (a ``-k`` selection) the probe starts at the bottom.

    With ``budget``, an estimate beyond ``SKIP_FACTOR`` budgets is checked
    before it is believed: a busy machine's delays at a small size look like
    growth and extrapolate absurdly (9 us calls estimated at seconds).  So the
    ladder is probed on, closer to ``n``, while the estimate stays beyond.
    Probing stops at a size itself estimated over two budgets (one second
    without ``budget``), and a probe's calls stop once they took a budget.

    An estimate over the budget but within ``SKIP_FACTOR`` budgets, whose
    case would be called, is first checked at the spec's next size above
    the largest measured (when that is estimated within two budgets): a
    cache cliff there (a power-of-two matrix whose columns share cache sets)
    shows in a probe instead of in a call of tens of seconds at ``n``
    (Cython's naive matmul at 2048: estimated at 7.5 s from 512 and 1000, it
    took 45 s).

    With ``budget``, nothing is probed either where the estimate is far
    from a skip: when both the fit and the largest call below scaled up as
    if all of it were marginal cost (an upper bound but for cache effects,
    as calls only get delayed) are within ``1 / SKIP_FACTOR`` of a budget,
    so that even a call ``SKIP_FACTOR`` times slower per element beyond the
    cache stays within one; the case's own call is then measured
    (:func:`check_once`).  A fast kernel measured far below ``n`` (a sparse
    ladder, a size beyond the cache) is not probed up the ladder; a slower
    one (a strided loop, whose calls grow many times faster once its data
    leave the cache) still is, so that it is skipped without being called.
    """
    kernel, n = case.impl.kernel, case.n
    points = _measured.setdefault(_key(case), {})
    limit = budget if budget is not None else math.inf

    def cannot_skip() -> bool:
        below = [m for m in points if m < n]
        if budget is None or not below:
            return False
        top = max(below)
        bound = points[top] * _work(kernel, n) / _work(kernel, top)
        return max(bound, _fit(kernel, points, n)[0]) <= budget / SKIP_FACTOR

    checked = False  # probed once while the estimate was over the budget

    def settled() -> bool:
        if cannot_skip():
            return True
        pair = _pair(kernel, points, n)
        if pair is None or points[pair[1]] < _PROBE_SECONDS \
                or points[pair[1]] <= 1.5 * points[pair[0]]:
            return False  # no growth seen yet: fixed cost or noise
        if budget is None:
            return True
        estimate = _fit(kernel, points, n)[0]
        if estimate > SKIP_FACTOR * budget:
            return points[pair[1]] >= BELIEVED_SECONDS
        return estimate <= budget or checked

    top = max((m for m in points if m < n), default=-1)
    for m in kernels.spec(kernel).sizes:
        if m <= top:
            continue
        if m >= n or settled():
            break
        if points and _fit(kernel, points, m)[0] > (2 * budget if budget is not None else 1.0):
            break  # probing this size would itself take too long
        over = budget is not None and bool(points) and _fit(kernel, points, n)[0] > budget
        _probe(case, m, limit)
        checked = checked or over
    return _fit(kernel, points, n)[0]


def _budget_words(profile: Profile) -> str:
    return f"over the '{profile.name}' profile's {profile.call_budget:g} s per-call budget"


def skip_unavailable(case: Case) -> None:
    """Skip an implementation that is not what its name says on this machine."""
    impl = case.impl
    if impl.unavailable is not None:
        not_measured("unavailable", impl.unavailable,
                     f"{impl.label} {impl.kernel}: unavailable here")


#: Bytes a number takes as a Python float in a list (24-byte object, 8-byte pointer).
LIST_BYTES = 32
_available = state.available_memory  # tests replace it


def memory_over(case: Case) -> str | None:
    """Why the inputs of ``case`` would not fit in memory, or None when they do.

    Python's lists (``LIST_BYTES`` a number) must stay under ``MEMORY_SHARE``
    of the memory available, float64 arrays under twice that (the grid keeps
    its own beyond-cache sizes under ``MEMORY_SHARE``; the margin is for the
    inputs this process holds meanwhile).  Worked out from the spec, before
    any input of that size is built.
    """
    available = _available()
    if not available:
        return None
    spec = case.impl.spec
    lists = case.impl.inputs == "lists"
    need = (LIST_BYTES if lists else 8) * spec.elements(case.n) * len(spec.params)
    share = MEMORY_SHARE if lists else 2 * MEMORY_SHARE
    if need <= share * available:
        return None
    what = "as Python lists " if lists else ""
    return (f"its inputs {what}would take {need / 2**30:.3g} GiB, over {share:.0%} of the "
            f"{available / 2**30:.3g} GiB of memory available")


def skip_over_budget(case: Case, profile: Profile) -> None:
    """Skip a case whose inputs would not fit in memory (:func:`memory_over`), or
    whose one call is estimated far beyond the profile's budget.

    Only beyond ``SKIP_FACTOR`` budgets, where calling it would waste real
    time; a case estimated nearer is left to :func:`check_once`, which
    measures its real call.  Nothing here builds the inputs at the case's
    size (Python's lists of 10^8 numbers take gigabytes and seconds): the
    estimate calls the implementation at smaller sizes only.
    """
    too_big = memory_over(case)
    if too_big is not None:
        not_measured("over_budget", too_big, f"{case.impl.label} {case.impl.kernel} n={case.n}")
    took = _over_budget.get((_key(case), case.n))
    if took is not None and took[0] > profile.call_budget:  # e.g. in the other regime
        not_measured("over_budget", f"{took[1]} (measured before), {_budget_words(profile)}",
                     f"{case.impl.label} {case.impl.kernel} n={case.n}")
    estimate = estimate_seconds(case, profile.call_budget)
    if estimate > SKIP_FACTOR * profile.call_budget:
        _, how = _fit(case.impl.kernel, _measured[_key(case)], case.n)
        not_measured("over_budget",
                     f"one call estimated at {estimate:.3g} s ({how}), {_budget_words(profile)}",
                     f"{case.impl.label} {case.impl.kernel} n={case.n}")


def check_once(case: Case, profile: Profile | None = None) -> None:
    """Call the implementation on the benchmark's inputs; fail on disagreement.

    Also times the call, for the budget: the measured call is what counts
    (the estimate misses cliffs, a power-of-two matrix whose columns all fall
    in the same cache sets).  A case is skipped only when two calls both
    exceed the budget, so one descheduled call does not skip it, or when one
    does and the estimate fitted to the smaller sizes before it put it beyond
    twice the budget (two independent measurements agree); the first
    call of an implementation, which may have compiled, is not one of them.
    A call under ``REPEAT_BELOW`` is timed twice more (the best of three is
    kept for the estimates of the next sizes), except at the profile's
    largest size; a longer one is left to the benchmark (:func:`keep_fastest`).
    """
    impl, n, layout = case.impl, case.n, case.layout
    args = prepared_inputs(impl, n, layout)
    points = _measured.setdefault(_key(case), {})
    first_call = not points
    start = _clock()
    try:
        result = impl.func(*args)
    except Exception as exc:  # the kernel's own error: it fails as it is, marked
        _marked(exc, "failed", one_line(exc))
        raise
    seconds = _clock() - start
    # The check is the harness's work, not the benchmark's, so its BLAS calls
    # (matmul's reference and error scale) run on one thread: after a call on
    # several, OpenBLAS's workers spin for about 0.1 s, on the cores the
    # rounds of a parallel benchmark then need (Numba's parallel matmul at
    # n=256 measured 9.5-12 ms instead of 0.86 ms in 2 of 6 runs).
    with threadpool_limits(limits=1, user_api="blas"):
        problem = impl.spec.mismatch(result, spec_inputs(impl.kernel, n, layout),
                                     reference(impl.kernel, n, layout))
    if problem:
        raise _marked(pytest.fail.Exception(f"{case.id} disagrees with the reference: {problem}"),
                      "failed", f"disagrees with the reference: {problem}")
    limit_threads(case.threads)
    budget = profile.call_budget if profile is not None else math.inf
    if first_call:  # the first call of an implementation may compile
        seconds = _timed_call(impl, n, layout)
    if profile is not None and seconds > budget:
        # One call over the budget is believed when the estimate from the
        # smaller sizes, made before it, put it beyond twice the budget;
        # otherwise a second call decides.
        expected, how = _fit(impl.kernel, points, n)
        if _pair(impl.kernel, points, n) is not None and expected > 2 * budget:
            said = f"one call took {seconds:.3g} s (estimated at {expected:.3g} s, {how})"
        else:
            again = _timed_call(impl, n, layout)
            said = f"two calls took {seconds:.3g} s and {again:.3g} s"
            seconds = min(seconds, again)
        points[n] = min(points.get(n, math.inf), seconds)
        if seconds > budget:
            _over_budget[_key(case), n] = (seconds, said)
            not_measured("over_budget", f"{said}, {_budget_words(profile)}",
                         f"{impl.label} {impl.kernel} n={n}")
        return
    # Best of three for the estimates of the larger sizes, where that is
    # cheap; a longer call is timed again by the benchmark's rounds, whose
    # fastest replaces it (keep_fastest).  At the profile's largest size of
    # the kernel no estimate follows.
    largest = profile is not None and n >= max(profile.sizes(impl.kernel), default=0)
    if seconds < REPEAT_BELOW and not largest:
        seconds = min(seconds, _timed_call(impl, n, layout, repeat=2))
    points[n] = min(points.get(n, math.inf), seconds)


def keep_fastest(case: Case, benchmark: Any) -> None:
    """Keep the fastest call the benchmark's rounds measured for the estimates
    of the larger sizes (nothing when the benchmark was disabled)."""
    stats = getattr(getattr(benchmark, "stats", None), "stats", None)
    fastest = getattr(stats, "min", None)
    if isinstance(fastest, float) and math.isfinite(fastest) and fastest > 0:
        points = _measured.setdefault(_key(case), {})
        points[case.n] = min(points.get(case.n, math.inf), fastest)


# --------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------
def bytes_per_element(args: tuple[Any, ...]) -> float:
    """Memory the inputs occupy per number: 8 for float64 arrays, ~32 for lists.

    For lists this counts each list and every distinct float object in it
    (``sys.getsizeof``), which is what a list of Python floats costs.
    """
    total = count = 0
    numbers: dict[int, Any] = {}  # id -> object: each distinct number once
    floats: set[int] = set()  # the ids of the floats among them (all one size)
    pending = list(args)
    while pending:
        obj = pending.pop()
        if isinstance(obj, np.ndarray):
            total += obj.nbytes
            count += obj.size
        elif isinstance(obj, list):
            total += sys.getsizeof(obj)
            nested = [item for item in obj if isinstance(item, (list, np.ndarray))]
            if nested:
                pending.extend(nested)
                leaves = [item for item in obj if not isinstance(item, (list, np.ndarray))]
            else:
                leaves = obj
            count += len(leaves)
            if set(map(type, leaves)) == {float}:  # one size: count the distinct objects
                floats.update(map(id, leaves))
            else:
                numbers.update({id(item): item for item in leaves})
        else:
            count += 1
            numbers[id(obj)] = obj
    total += sum(map(sys.getsizeof, numbers.values()))
    total += len(floats - numbers.keys()) * sys.getsizeof(0.0)
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


#: (case key, size) -> (input bytes per element, peak extra bytes of a call)
_memory_measured: dict[tuple[tuple[str, str, str, str, int], int], tuple[float, int]] = {}


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
        # The allocator regime in force (bench/allocator.py): "warm", "fresh",
        # or "uncontrolled" where it cannot be set.
        "allocator": allocator.label(),
        "bytes": spec.bytes_moved(n),
        "flops": spec.flops(n),
    }
    if impl.path is not None:
        info["simd_path"] = impl.path
    if spec.measured_size == n:
        key = (_key(case), n)
        if key not in _memory_measured:  # the fresh-pages case asks again
            _memory_measured[key] = (bytes_per_element(args), peak_extra_bytes(impl, args))
        info["input_bytes_per_element"], info["peak_extra_bytes"] = _memory_measured[key]
        # Evidence of the allocator regime that load does not blur: 0 when warm.
        info["minor_faults_per_call"] = allocator.faults_per_call(impl.func, args)
    return info

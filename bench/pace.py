"""The machine's pace: how fast a fixed piece of work runs now, against its best in the run.

On a shared host the machine can run a benchmark 1.3 to 1.9 times slower for
seconds at a time while nothing in the guest shows it: no load, no stolen
time, the same clock (measured on a 2-vCPU VM; presumably another tenant of
the same physical core).  A run of a few hundred benchmarks meets several such spells, and
every benchmark timed inside one looks like a slow method; two runs of
identical code then differ by up to 1.8x here and there.

So a small fixed workload (:func:`probe`: a Python loop and a NumPy ``sin``,
about 0.35 ms a try on the 2-core VM, the fastest of three tries) is timed before each benchmark's
rounds and after them.  Its time over the best seen in the last
``WINDOW`` seconds is the *pace* (1: as fast as the machine has lately
been).  Before the rounds, :meth:`Pace.settle` waits, probing every ``STEP``
seconds, until the pace is within ``SLOW`` again, for at most ``WAIT``
seconds a benchmark and at most a share of the run's time (the profile's
``pace_wait``): a run on a machine that stays slow is not held up, it is
measured and marked.  Both readings are saved with the benchmark
(``extra_info["state"]``: ``pace_before``, ``pace_after``, ``waited``) and
the run's totals under ``vecbench.pace``; the report marks a benchmark
whose rounds the pace says were slowed (reports/conditions.py).

The reference is the best of the last ``WINDOW`` seconds, not of the whole
run, so a laptop that settles at a lower clock after a minute is measured
at that clock rather than waited on.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

#: A pace above this is slow: the machine runs this much slower than its recent best.
SLOW = 1.15
#: Seconds between probes while waiting for the pace to return.
STEP = 0.05
#: Longest wait before one benchmark's rounds (seconds).
WAIT = 2.0
#: Seconds before a slow reading after the rounds is taken again.
AGAIN = 0.02
#: Seconds of probes the reference (the best of them) is taken from.
WINDOW = 60.0
#: Tries per probe; the fastest counts (a probe interrupted once is not a slow machine).
TRIES = 3

_LOOP = 4000
_SIN = np.random.default_rng(2026).random(16384)
# The sine's result goes here: a probe that allocated its 128 KiB result would
# time the allocator too, and in the "fresh" regime (bench/allocator.py) that
# is a new mapping and 32 page faults a try, so every fresh-pages benchmark
# read as 1.2-2x slow and waited for a pace that could not return.
_OUT = np.empty_like(_SIN)


def work() -> None:
    """The probe's fixed work: a Python loop (the interpreter) and a NumPy ``sin``
    (SIMD) into a buffer of its own; it allocates nothing, so the allocator's
    regime does not change it."""
    s = 0
    for i in range(_LOOP):
        s += i * i
    np.sin(_SIN, out=_OUT).sum()


def slower(before: float | None, after: float | None) -> float:
    """The slower of a benchmark's two pace readings (1 where neither was recorded);
    above :data:`SLOW`, a spell of a slower machine covered its rounds."""
    return max(p for p in (before, after, 1.0) if p is not None)


def probe(task: Callable[[], Any] = work, tries: int = TRIES) -> float:
    """Seconds the fixed work takes now: the fastest of ``tries``."""
    best = float("inf")
    for _ in range(tries):
        start = time.perf_counter()
        task()
        best = min(best, time.perf_counter() - start)
    return best


class Pace:
    """The run's pace probes, its reference and the time spent waiting.

    Parameters
    ----------
    share
        At most this share of the run's time (since the first probe) is spent
        waiting for the pace; 0 never waits.
    wait
        The longest wait of one :meth:`settle` (seconds).
    measure, clock, sleep
        The probe, the clock and the sleep (tests give fakes).
    """

    def __init__(self, share: float = 0.1, measure: Callable[[], float] = probe,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, wait: float = WAIT) -> None:
        self.share, self.wait = share, wait
        self._measure, self._clock, self._sleep = measure, clock, sleep
        self._recent: deque[tuple[float, float]] = deque()
        self.start: float | None = None
        self.waited = 0.0
        self.waits = 0  # benchmarks that waited
        self.gave_up = 0  # benchmarks that began while the pace was still slow
        self.probes = 0

    def reading(self) -> float:
        """Probe now; the pace (this probe over the recent best, at least 1)."""
        now = self._clock()
        seconds = self._measure()
        self.probes += 1
        if self.start is None:
            self.start = now
        while self._recent and self._recent[0][0] < now - WINDOW:
            self._recent.popleft()
        self._recent.append((now, seconds))
        best = min(s for _, s in self._recent)
        return max(1.0, seconds / best) if best > 0 else 1.0

    @property
    def reference(self) -> float | None:
        """The best probe of the last ``WINDOW`` seconds (seconds), None before any."""
        return min((s for _, s in self._recent), default=None)

    def budget(self) -> float:
        """Seconds of waiting still allowed in this run."""
        if self.start is None:
            return 0.0
        return max(0.0, self.share * (self._clock() - self.start) + self.wait - self.waited)

    def settle(self) -> tuple[float, float]:
        """Wait (bounded) until the pace is within ``SLOW``.

        Returns
        -------
        tuple
            The pace when the wait ended, and the seconds waited.
        """
        pace = self.reading()
        began = self._clock()
        waited = 0.0
        while pace > SLOW and self.share > 0:
            if min(self.wait - waited, self.budget() - waited) < STEP:
                self.gave_up += 1
                break
            self._sleep(STEP)
            pace = self.reading()
            waited = self._clock() - began
        if waited > 0:
            self.waits += 1
            self.waited += waited
        return pace, round(waited, 3)

    def after(self) -> float:
        """The pace after a benchmark's rounds.  A reading above ``SLOW`` is taken
        again ``AGAIN`` seconds later and the lower counts: a blip of a few
        milliseconds ends before the second reading, a spell that slowed the
        rounds lasts through it."""
        pace = self.reading()
        if pace > SLOW:
            self._sleep(AGAIN)
            pace = min(pace, self.reading())
        return pace

    def record(self) -> dict[str, Any]:
        """What the run saves under ``vecbench.pace``."""
        ref = self.reference
        return {"slow": SLOW, "wait_per_benchmark": self.wait, "share": self.share,
                "window": WINDOW, "probes": self.probes,
                "reference_seconds": None if ref is None else round(ref, 7),
                "waited_seconds": round(self.waited, 3), "benchmarks_waited": self.waits,
                "benchmarks_begun_slow": self.gave_up}


#: The session's pace (one benchmark process, one run); set by :func:`start`.
_session: Pace | None = None


def start(share: float) -> Pace:
    """Begin the session's pace record (bench/record.py, at the session's start)."""
    global _session
    _session = Pace(share)
    _session.reading()
    return _session


def session() -> Pace:
    """The session's pace record, begun on first use when :func:`start` was not called."""
    return _session if _session is not None else start(0.1)

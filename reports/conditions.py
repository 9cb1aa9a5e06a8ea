"""The conditions a run was measured under: machine load, and the allocator's regime.

A figure's conditions are part of it.  This module reads what the benchmark
side recorded (``vecbench.state`` and each benchmark's ``extra_info["state"]``,
``vecbench.allocator`` and each benchmark's regime) and decides:

- whether the run as a whole was disturbed (other processes used a sizeable
  share of the cores while it ran, or the hypervisor stole time), which the
  report states in a warning at its top;
- which benchmarks were disturbed themselves: other processes used more
  cores than the benchmark left free (a parallel variant with every core
  asked for loses a thread to each busy core, and is then no measure of the
  method), the hypervisor stole time from them, or their rounds spread far
  more than the run's benchmarks usually do;
- how the kernels that allocate fare in each allocator regime.

Nothing here draws or writes.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace

from bench.pace import SLOW, slower
from reports.load import Run, Timing

#: Cores other processes may use beyond the ones a benchmark leaves free
#: before it is marked (the readings count in clock ticks of 10 ms, so a
#: short benchmark's reading is coarse).
SPARE_CORES = 0.5
#: Mean cores used by other processes over the run above which the run is
#: reported as disturbed.
RUN_BUSY_CORES = 0.3
#: Share of CPU time stolen by the hypervisor above which a run or a
#: benchmark is disturbed.
STEAL = 0.05
#: Share of a benchmark's time during which some task waited for a CPU
#: (pressure stall information) that confirms other processes competed for
#: its cores: the core count alone counts in 10 ms ticks, and over a short
#: benchmark it reads several tenths of a core high or low on a quiet machine.
CPU_WAIT = 0.05
#: A benchmark whose rounds' relative spread (interquartile range over the
#: median) is this many times the run's typical spread, and at least
#: SPREAD_FLOOR, is marked.
SPREAD_FACTOR = 5.0
SPREAD_FLOOR = 0.25
#: Share of a run's benchmarks marked by the pace above which the run is
#: reported as disturbed (a few are marked in most runs of a shared host).
PACE_RUN_SHARE = 0.1
#: A pace (bench/pace.py) above this, before or after a benchmark's rounds,
#: marks it: the machine ran a fixed workload this many times slower than its
#: recent best, which on a shared host neither load nor steal shows.
PACE_SLOW = SLOW  # the harness's own threshold (bench/pace.py)
#: pytest-benchmark repeats a call in each round until the round lasts its
#: ``min_time``, counting the repeats from a first timing.  A benchmark whose
#: fastest round lasted under this share of ``min_time`` was calibrated on a
#: call at least twice as slow as its rounds (the machine stalled, or the
#: first call was cold), and a stall that long also covers rounds of a few
#: calls each.  20 quick runs on the 2-core VM: 41 of 5,320 single-threaded
#: benchmarks were below it, among them the 4 that were 5-13x slower than in
#: the other 19 runs (1 call a round where 100-160 were usual); over the 380
#: ordered A/A pairs of those runs, leaving them unjudged cut the one-run
#: comparison's false alarms (79 to 22 pairs) and named a doubling about as
#: often (327 against 330 of 462 single-threaded benchmarks).
CALIBRATED_SHARE = 0.5


# --------------------------------------------------------------------------
# Allocator regimes
# --------------------------------------------------------------------------
def default_regime(run: Run) -> str:
    """The regime of the run's benchmarks not marked otherwise."""
    return run.allocator.default if run.allocator is not None else "undeclared"


def split_regimes(run: Run) -> Run:
    """The run with the timings of non-default allocator regimes moved to
    ``other_regimes``, so every figure and table of the report compares
    benchmarks of one regime; returns ``run`` itself when there are none."""
    main = default_regime(run)
    other = [t for t in run.steady if t.allocator not in (main, "undeclared")]
    if not other:
        return run
    steady = [t for t in run.steady if t not in other]
    kept = {t.kernel for t in steady}
    return replace(run, steady=steady, other_regimes=run.other_regimes + other,
                   kernels={k: f for k, f in run.kernels.items() if k in kept})


@dataclass(frozen=True)
class RegimePair:
    """One implementation at one size, timed in the default regime and in another."""

    kernel: str
    backend: str
    variant: str
    size: int
    layout: str
    threads: int
    default: Timing
    other: Timing

    @property
    def ratio(self) -> float:
        """How many times longer the call takes in the other regime."""
        return self.other.median / self.default.median


def regime_pairs(run: Run) -> list[RegimePair]:
    """Every benchmark timed in a second regime, beside its default-regime twin."""
    twins = {(t.kernel, t.backend, t.variant, t.size, t.layout, t.threads): t
             for t in run.steady}
    out = []
    for t in run.other_regimes:
        key = (t.kernel, t.backend, t.variant, t.size, t.layout, t.threads)
        if key in twins:
            out.append(RegimePair(*key, default=twins[key], other=t))
    return out


def allocator_text(run: Run) -> str:
    """The run's declared allocator regime, in a few words."""
    a = run.allocator
    if a is None:
        return "not declared (run saved before regimes were)"
    if not a.controlled:
        return f"not controlled: {a.why or 'no reason recorded'}"
    params = a.regimes.get(a.default, {})
    settings = ", ".join(f"{k}={v:,}" for k, v in params.items())
    return f"{a.default} ({a.how}{': ' + settings if settings else ''})"


# --------------------------------------------------------------------------
# Machine load
# --------------------------------------------------------------------------
MarkKey = tuple[str, str, str, str, int, str]  # kernel, backend, variant, layout, size, regime


def mark_key(t: Timing) -> MarkKey:
    """A benchmark's key among the marks (the variant names the thread count)."""
    return (t.kernel, t.backend, t.variant, t.layout, t.size, t.allocator)


@dataclass(frozen=True)
class Disturbance:
    """How disturbed a run was, and which of its benchmarks were."""

    recorded: bool  # whether the run recorded the machine's state at all
    busy_cores: float | None  # mean cores used by other processes while it ran
    busiest: float | None  # the most cores they used between two samples
    steal: float | None  # mean share of CPU time stolen
    load1: float | None  # the highest 1-minute load seen
    warning: str | None  # the report's warning, None when the run was quiet
    regime: str  # the run's default allocator regime
    marks: dict[MarkKey, str]  # why each marked benchmark is marked

    def mark(self, t: Timing) -> str | None:
        """Why ``t`` is marked as disturbed, or None."""
        return self.marks.get(mark_key(t))

    def mark_of(self, kernel: str, backend: str, variant: str, size: int,
                layout: str = "C") -> str | None:
        """Why the benchmark of the run's default regime is marked, or None."""
        return next((why for k, why in self.marks.items()
                     if k[:5] == (kernel, backend, variant, layout, size)
                     and k[5] in (self.regime, "undeclared")), None)


def _cpu_count(run: Run) -> int:
    return run.cpu_count or 1


def _spread(t: Timing) -> float:
    return (t.q3 - t.q1) / t.median if t.median > 0 else 0.0


def crowded(t: Timing, cores: int) -> bool:
    """Whether other processes used more of the cores than ``t`` left free (beyond
    SPARE_CORES), confirmed by tasks waiting for a CPU where that is recorded."""
    free = max(cores - t.threads, 0)
    competed = t.cpu_wait is None or t.cpu_wait > CPU_WAIT
    return t.other_cpu is not None and t.other_cpu > free + SPARE_CORES and competed


def load_mark(t: Timing, cores: int, pace: bool = True) -> str | None:
    """Why the machine's load disturbed ``t``'s rounds (other processes on the
    cores it needed, stolen time, or, with ``pace``, a slower machine around
    them), or None.  The regression comparison reads it without the pace, which
    it corrects for (:func:`pace_of`)."""
    reasons = []
    if crowded(t, cores):
        free = max(cores - t.threads, 0)
        own = "1 thread" if t.threads == 1 else f"{t.threads} threads"
        waited = ("" if t.cpu_wait is None
                  else f"; a task waited for a CPU {t.cpu_wait:.0%} of the time")
        reasons.append(f"other processes used {t.other_cpu:.1f} of {cores} cores while it ran "
                       f"({own} of its own, {free} left free{waited})")
    if t.steal is not None and t.steal > STEAL:
        reasons.append(f"the hypervisor stole {t.steal:.0%} of CPU time")
    if pace and slowed(t):
        reasons.append(f"the machine ran {pace_of(t):.2f}x slower than its recent best "
                       f"{'before' if (t.pace_before or 0) > PACE_SLOW else 'after'} its rounds "
                       f"(a fixed workload timed before and after them)")
    stall = stalled_calibration(t)
    if stall:
        reasons.append(stall)
    return "; ".join(reasons) or None


def stalled_calibration(t: Timing) -> str | None:
    """Why ``t``'s rounds look calibrated on a stalled or cold call, or None:
    its fastest round lasted under ``CALIBRATED_SHARE`` of the round length
    pytest-benchmark aimed at (``min_time``).  Single-threaded benchmarks only:
    a multi-threaded call's first one after a pause also wakes its threads,
    so its calibration is long without any stall."""
    if t.threads != 1 or t.iterations is None or t.min_time is None or not t.data:
        return None
    fastest = t.iterations * min(t.data)
    if fastest >= CALIBRATED_SHARE * t.min_time:
        return None
    calls = "1 call" if t.iterations == 1 else f"{t.iterations:,} calls"
    return (f"calibrated on a stalled or cold call: its rounds of {calls} lasted "
            f"{fastest * 1e6:.3g} us at fastest, under {CALIBRATED_SHARE:.0%} of the "
            f"{t.min_time * 1e6:.3g} us they were meant to last")


def pace_of(t: Timing) -> float:
    """The machine's pace around ``t``'s rounds: the slower reading (1 when not recorded)."""
    return slower(t.pace_before, t.pace_after)


def slowed(t: Timing) -> bool:
    """Whether the machine's pace (bench/pace.py) was slow just before or just after
    ``t``'s rounds: a spell of a slower machine covered them."""
    return pace_of(t) > PACE_SLOW


def _mark(t: Timing, cores: int, typical_spread: float) -> str | None:
    by_load = load_mark(t, cores)
    reasons = [by_load] if by_load else []
    spread = _spread(t)
    if t.rounds >= 3 and spread > max(SPREAD_FACTOR * typical_spread, SPREAD_FLOOR):
        reasons.append(f"its rounds spread {spread:.0%} (interquartile range over median), "
                       f"against {typical_spread:.0%} typical in this run")
    return "; ".join(reasons) or None


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def disturbance(run: Run) -> Disturbance:
    """Whether the run, and which of its benchmarks, were measured on a disturbed machine."""
    cores = _cpu_count(run)
    timings = run.steady + run.other_regimes
    spreads = [_spread(t) for t in timings if t.rounds >= 3]
    typical = statistics.median(spreads) if spreads else 0.0
    marks = {mark_key(t): why for t in timings
             if (why := _mark(t, cores, typical)) is not None}
    samples = [s for s in run.state if s.phase != "before"]
    recorded = bool(run.state) or any(t.other_cpu is not None for t in timings)
    busy = _mean([s.other_cpu for s in samples if s.other_cpu is not None])
    busiest = max((s.other_cpu for s in samples if s.other_cpu is not None), default=None)
    steal = _mean([s.steal for s in samples if s.steal is not None])
    load1 = max((s.load1 for s in run.state if s.load1 is not None), default=None)
    by_load = [t for t in timings if crowded(t, cores)]
    by_pace = [t for t in timings if slowed(t)]
    reasons = []
    if busy is not None and busy > RUN_BUSY_CORES:
        reasons.append(f"other processes used {busy:.1f} of {cores} cores on average while it "
                       f"ran (up to {busiest:.1f})")
    if steal is not None and steal > STEAL:
        reasons.append(f"the hypervisor stole {steal:.0%} of CPU time")
    if by_load:
        reasons.append(f"{len(by_load)} benchmarks ran while other processes used more cores "
                       f"than they left free")
    if by_pace and len(by_pace) > PACE_RUN_SHARE * len(timings):
        reasons.append(f"{len(by_pace)} of {len(timings)} benchmarks ran while the machine was "
                       f"up to {max(pace_of(t) for t in by_pace):.1f}x slower than its recent best "
                       f"(a fixed workload timed around each; no load or steal shows this)")
    warning = None
    if reasons:
        warning = ("This run was measured on a busy machine: " + "; ".join(reasons)
                   + (f"; 1-minute load up to {load1:.1f}" if load1 is not None else "")
                   + ". Its times are slower than this machine's and the marked benchmarks "
                   "(⚠) are no measure of their method; run again on a quiet machine.")
    return Disturbance(recorded, busy, busiest, steal, load1, warning, default_regime(run),
                       marks)


def state_text(run: Run, d: Disturbance) -> str:
    """The machine's state during the run, in a few words (the Runs table)."""
    if not d.recorded:
        return "not recorded"
    parts = []
    if d.busy_cores is not None:
        parts.append(f"others used {d.busy_cores:.2f} of {_cpu_count(run)} cores "
                     f"(up to {d.busiest:.2f})")
    if d.load1 is not None:
        parts.append(f"load up to {d.load1:.1f}")
    if d.steal is not None:
        parts.append(f"steal {d.steal:.1%}")
    mhz = [s.mhz for s in run.state if s.mhz is not None]
    if mhz:
        parts.append(f"{min(mhz):,.0f}-{max(mhz):,.0f} MHz")
    if run.pace is not None:
        p = run.pace
        parts.append(f"waited {p.waited_seconds:.0f} s for the machine's pace before "
                     f"{p.benchmarks_waited} benchmarks"
                     + (f", {p.benchmarks_begun_slow} began before it returned"
                        if p.benchmarks_begun_slow else ""))
    return ("disturbed: " if d.warning else "quiet: ") + ", ".join(parts or ["no readings"])

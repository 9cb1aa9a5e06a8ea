"""The machine's pace (bench/pace.py): waiting for it, its reference, its record.

A fake probe, clock and sleep stand in for the machine, so every branch runs
here whatever this machine's pace does meanwhile.
"""

from __future__ import annotations

import json

import pytest

from bench import harness, pace


class FakeMachine:
    """A probe that takes ``seconds[i]`` on its i-th call (the last one after
    that), a clock that only sleeps and probes advance, and a sleep."""

    def __init__(self, seconds: list[float], probe_cost: float = 0.001) -> None:
        self.seconds, self.calls, self.now, self.cost = list(seconds), 0, 1000.0, probe_cost
        self.slept = 0.0

    def measure(self) -> float:
        value = self.seconds[min(self.calls, len(self.seconds) - 1)]
        self.calls += 1
        self.now += self.cost
        return value

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds

    def pace(self, share: float = 0.5) -> pace.Pace:
        return pace.Pace(share, measure=self.measure, clock=self.clock, sleep=self.sleep)


def test_settle_waits_for_the_pace_to_return():
    m = FakeMachine([1.0, 1.5, 1.6, 1.5, 1.02])
    p = m.pace()
    assert p.reading() == 1.0
    now, waited = p.settle()
    assert now == pytest.approx(1.02) and waited == pytest.approx(3 * pace.STEP, abs=0.01)
    assert p.waits == 1 and p.gave_up == 0 and p.waited == pytest.approx(waited, abs=1e-3)
    # Already at its pace: no wait at all.
    assert p.settle() == (pytest.approx(1.02), 0.0) and p.waits == 1


def test_settle_gives_up_after_its_longest_wait():
    m = FakeMachine([1.0] + [1.5] * 10_000)
    p = m.pace(share=1.0)
    p.reading()
    m.sleep(30.0)  # a run so far whose share allows more than WAIT (within WINDOW)
    now, waited = p.settle()
    assert now == pytest.approx(1.5)
    assert pace.WAIT - pace.STEP <= waited <= pace.WAIT + 0.05
    assert p.gave_up == 1


def test_the_runs_share_bounds_the_waiting():
    m = FakeMachine([1.0] + [1.5] * 10_000)
    p = m.pace(share=0.1)
    p.reading()
    total = 0.0
    for _ in range(20):
        m.sleep(1.0)  # a benchmark's rounds
        total += p.settle()[1]
    elapsed = m.now - p.start
    assert p.waited == pytest.approx(total, abs=1e-3)
    assert total <= 0.1 * elapsed + pace.WAIT + 1e-6
    assert p.gave_up == 20


def test_a_share_of_zero_never_waits():
    m = FakeMachine([1.0, 2.0])
    p = m.pace(share=0.0)
    p.reading()
    assert p.settle() == (2.0, 0.0) and m.slept == 0.0 and p.gave_up == 0


def test_the_reference_forgets_probes_older_than_the_window():
    # A laptop that settles at a lower clock: after WINDOW seconds its new
    # speed is the reference, and it is no longer waited on.
    m = FakeMachine([1.0] + [1.3] * 10_000)
    p = m.pace(share=0.0)
    p.reading()
    assert p.reading() == pytest.approx(1.3)
    m.sleep(pace.WINDOW + 1)
    assert p.reading() == pytest.approx(1.0)
    assert p.reference == pytest.approx(1.3)


def test_after_reads_again_when_slow():
    blip = FakeMachine([1.0, 1.5, 1.01])  # a blip: gone at the second reading
    p = blip.pace()
    p.reading()
    assert p.after() == pytest.approx(1.01) and blip.slept == pytest.approx(pace.AGAIN)
    spell = FakeMachine([1.0, 1.5, 1.6])  # a spell: still there
    p = spell.pace()
    p.reading()
    assert p.after() == pytest.approx(1.5)
    quiet = FakeMachine([1.0, 1.05])
    p = quiet.pace()
    p.reading()
    assert p.after() == pytest.approx(1.05) and quiet.slept == 0.0


def test_the_record_is_json_and_says_what_was_waited():
    m = FakeMachine([1.0, 1.5, 1.0])
    p = m.pace()
    p.reading()
    p.settle()
    record = json.loads(json.dumps(p.record()))
    assert record["benchmarks_waited"] == 1 and record["waited_seconds"] > 0
    assert record["reference_seconds"] == 1.0 and record["slow"] == pace.SLOW
    assert record["probes"] == 3


def test_the_probe_times_real_work():
    seconds = pace.probe()
    assert 0 < seconds < 1.0
    calls = []
    assert pace.probe(lambda: calls.append(1), tries=4) >= 0 and len(calls) == 4


class FakeBenchmark:
    def __init__(self) -> None:
        self.extra_info: dict = {}


def test_state_recorded_saves_the_pace_around_the_rounds(monkeypatch):
    m = FakeMachine([1.0, 1.5, 1.0, 1.6, 1.7])
    monkeypatch.setattr(pace, "_session", m.pace())
    pace.session().reading()
    bench = FakeBenchmark()
    with harness.state_recorded(bench):
        pass
    state = bench.extra_info["state"]
    assert state["pace_before"] == 1.0 and state["waited"] > 0
    assert state["pace_after"] == pytest.approx(1.6)  # slow twice: a spell, kept
    assert {"other_cpu", "steal", "cpu_wait", "load1", "running"} <= set(state)


def test_start_begins_a_fresh_record(monkeypatch):
    monkeypatch.setattr(pace, "_session", None)
    first = pace.session()
    assert first.probes == 1 and pace.session() is first
    second = pace.start(0.25)
    assert second is not first and second.share == 0.25 and pace.session() is second


def test_an_untimed_session_never_waits_for_the_pace():
    """make test runs every body once (--benchmark-disable): no time to wait for."""
    from bench import record
    from bench.grid import PROFILES

    quick = PROFILES["quick"]
    assert quick.pace_wait > 0
    assert record.SessionRecord(quick).pace.share == quick.pace_wait
    assert record.SessionRecord(quick, timed=False).pace.share == 0.0


def test_the_probe_allocates_nothing_so_the_allocator_regime_cannot_slow_it():
    """In the "fresh" regime every block of a page or more is a new mapping that
    faults: a probe allocating its sine's result read every fresh-pages
    benchmark as 1.2-2x slow."""
    import tracemalloc

    pace.work()
    tracemalloc.start()
    try:
        pace.work()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4096, peak


def test_the_probe_faults_no_page_in_the_fresh_regime():
    from bench import allocator

    with allocator.regime("fresh") as done:
        if not done:
            pytest.skip(f"the allocator cannot be set here: {allocator.why_not()}")
        faults = allocator.faults_per_call(pace.work, (), calls=3)
    if faults is None:
        pytest.skip("getrusage counts no page faults here")
    assert faults == 0

"""The machine's state readers (bench/state.py): real files, missing files, fake files."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from bench import state

LINUX = Path("/proc/stat").exists() and Path("/proc/loadavg").exists()


@pytest.mark.skipif(not LINUX, reason="reads Linux's /proc")
def test_readers_return_numbers_here():
    assert isinstance(state.load1(), float) and state.load1() >= 0
    times, running = state.cpu_stat()
    assert times is not None and times.total >= times.busy > 0
    assert isinstance(running, int) and running >= 1  # this process is running
    snap = state.snapshot()
    assert snap.own_cpu > 0
    assert snap.mhz is None or snap.mhz > 0
    later = state.snapshot()
    interval = state.between(snap, later)
    assert set(interval) == {"other_cpu", "steal", "cpu_wait", "load1", "running"}
    assert interval["other_cpu"] is None or interval["other_cpu"] >= 0


@pytest.fixture
def nowhere(monkeypatch, tmp_path):
    missing = tmp_path / "missing"
    monkeypatch.setattr(state, "PROC", missing)
    monkeypatch.setattr(state, "SYS_CPU", missing / "cpu")
    return missing


def test_unreadable_state_is_none_and_still_saved(nowhere):
    assert state.load1() is None
    assert state.cpu_stat() == (None, None)
    assert state.mhz() is None
    a, b = state.snapshot(), state.snapshot()
    assert a.load1 is None and a.cpu is None and a.running is None and a.mhz is None
    assert a.cpu_wait_us is None
    assert state.between(a, b) == {"other_cpu": None, "steal": None, "cpu_wait": None,
                                   "load1": None, "running": None}
    sampler = state.Sampler()
    sampler.sample("before")
    sampler.during(every=0.0)
    sampler.finish()
    sampler.finish()  # once only
    record = json.loads(json.dumps(sampler.record()))
    assert [s["phase"] for s in record["samples"]] == ["before", "during", "after"]
    for sample in record["samples"]:
        assert {k: sample[k] for k in ("load1", "running", "other_cpu", "steal", "mhz")} == \
            dict.fromkeys(("load1", "running", "other_cpu", "steal", "mhz"))
        assert sample["at"] >= 0


def _fake_proc(folder: Path, stat: str, loadavg: str = "0.50 0.40 0.30 2/300 999\n",
               cpuinfo: str = "") -> None:
    folder.mkdir(exist_ok=True)
    (folder / "stat").write_text(stat)
    (folder / "loadavg").write_text(loadavg)
    (folder / "cpuinfo").write_text(cpuinfo)


def test_other_cpu_and_steal_from_two_proc_stat_texts(monkeypatch, tmp_path):
    monkeypatch.setattr(state, "PROC", tmp_path)
    monkeypatch.setattr(state, "SYS_CPU", tmp_path / "no-sys")
    monkeypatch.setattr(state, "CLK_TCK", 100)
    # user nice system idle iowait irq softirq steal guest guest_nice
    _fake_proc(tmp_path, "cpu  1000 0 500 8000 100 0 0 50 0 0\nprocs_running 3\n",
               cpuinfo="cpu MHz\t\t: 2000.0\ncpu MHz\t\t: 3000.0\n")
    before = dataclasses.replace(state.snapshot(), at=10.0, own_cpu=1.0)
    _fake_proc(tmp_path, "cpu  1250 50 600 8200 100 0 0 100 0 0\nprocs_running 5\n",
               loadavg="1.25 0.40 0.30 5/300 999\n")
    after = dataclasses.replace(state.snapshot(), at=12.0, own_cpu=2.0)
    # busy: 400 ticks = 4 s of CPU in 2 s, of which this process used 1 s
    assert state.other_cpu(before, after) == pytest.approx((4.0 - 1.0) / 2.0)
    # steal: 50 of 650 ticks (busy 400 + idle 200 + steal 50)
    assert state.steal(before, after) == pytest.approx(50 / 650)
    assert state.between(before, after) == {
        "other_cpu": 1.5, "steal": round(50 / 650, 4), "cpu_wait": None, "load1": 1.25,
        "running": 5}
    assert before.mhz == pytest.approx(2500.0)
    # this process's own time is not counted, and the result never goes below 0
    busy_self = dataclasses.replace(after, own_cpu=9.0)
    assert state.other_cpu(before, busy_self) == 0.0


def test_a_kernel_without_steal_says_none(monkeypatch, tmp_path):
    monkeypatch.setattr(state, "PROC", tmp_path)
    _fake_proc(tmp_path, "cpu  10 0 5 100\nprocs_running 1\n")
    snap = state.snapshot()
    assert snap.cpu is not None and snap.cpu.steal is None
    assert snap.cpu.busy == 15 and snap.cpu.total == 115
    assert state.steal(None, snap) is None
    assert state.between(snap, snap)["steal"] is None


def test_mhz_prefers_cpufreq(monkeypatch, tmp_path):
    sys_cpu = tmp_path / "cpu"
    for i, khz in enumerate((1_000_000, 3_000_000)):
        folder = sys_cpu / f"cpu{i}" / "cpufreq"
        folder.mkdir(parents=True)
        (folder / "scaling_cur_freq").write_text(f"{khz}\n")
    monkeypatch.setattr(state, "SYS_CPU", sys_cpu)
    monkeypatch.setattr(state, "PROC", tmp_path / "proc")
    _fake_proc(tmp_path / "proc", "cpu 1 1 1 1\n", cpuinfo="cpu MHz\t: 100.0\n")
    assert state.mhz() == pytest.approx(2000.0)


def test_session_samples_say_what_happened_since_the_previous(monkeypatch, tmp_path):
    monkeypatch.setattr(state, "PROC", tmp_path)
    monkeypatch.setattr(state, "SYS_CPU", tmp_path / "no-sys")
    _fake_proc(tmp_path, "cpu  100 0 0 900 0 0 0 10 0 0\nprocs_running 2\n")
    sampler = state.Sampler()
    first = sampler.sample("before")
    assert first["other_cpu"] is None and first["at"] == 0.0
    assert first["steal"] == pytest.approx(10 / 1010, abs=1e-4)  # since boot
    sampler.during(every=3600.0)  # too soon: no sample
    assert len(sampler.samples) == 1
    _fake_proc(tmp_path, "cpu  100 0 0 1900 0 0 0 10 0 0\nprocs_running 1\n")
    sampler.during(every=0.0)
    second = sampler.samples[-1]
    assert second["phase"] == "during" and second["steal"] == 0.0
    assert second["other_cpu"] == 0.0  # no busy ticks at all since the first sample


def test_cpu_wait_from_pressure_stall_information(tmp_path, monkeypatch):
    (tmp_path / "pressure").mkdir()
    psi = tmp_path / "pressure" / "cpu"
    monkeypatch.setattr(state, "PROC", tmp_path)
    psi.write_text("some avg10=0.00 avg60=0.00 avg300=0.00 total=1000000\n"
                   "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
    assert state.cpu_pressure() == 1_000_000
    before = state.Snapshot(at=10.0, load1=None, cpu=None, running=None, own_cpu=0.0, mhz=None,
                            cpu_wait_us=1_000_000)
    after = state.Snapshot(at=12.0, load1=None, cpu=None, running=None, own_cpu=0.0, mhz=None,
                           cpu_wait_us=1_500_000)
    assert state.cpu_wait(before, after) == 0.25
    assert state.between(before, after)["cpu_wait"] == 0.25
    psi.unlink()  # a kernel without PSI
    assert state.cpu_pressure() is None
    assert state.cpu_wait(before, state.Snapshot(12.0, None, None, None, 0.0, None)) is None

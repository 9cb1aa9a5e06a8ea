"""The machine's state while benchmarks run: load, other processes' CPU use, steal, clock.

Read from Linux's /proc and /sys.  Every reader returns None where it cannot
read (not Linux, a container without /sys), so a record is always made, with
nulls.  Reading is cheap (three small files, no subprocess): a
:func:`snapshot` is taken before and after each benchmark's timed rounds, and
the session is sampled by a :class:`Sampler` at benchmark boundaries.

``other_cpu`` is the number of cores other processes kept busy between two
snapshots: the machine's busy time (``/proc/stat``, in clock ticks) less this
process's own CPU time (``os.times()``, all its threads), over the elapsed
time.  On a 2-core machine a value near 1 means another job had a whole core.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Where the readers look; tests point these at a missing or fake folder.
PROC = Path("/proc")
SYS_CPU = Path("/sys/devices/system/cpu")

try:
    CLK_TCK = os.sysconf("SC_CLK_TCK")
except (AttributeError, ValueError, OSError):  # not POSIX
    CLK_TCK = 100


@dataclass(frozen=True)
class CpuTimes:
    """The aggregate ``cpu`` line of ``/proc/stat``, in clock ticks since boot."""

    busy: int  # user + nice + system + irq + softirq
    total: int  # busy + idle + iowait + steal
    steal: int | None  # None: the kernel does not report steal


@dataclass(frozen=True)
class Snapshot:
    """One cheap reading of the machine's state."""

    at: float  # time.monotonic()
    load1: float | None
    cpu: CpuTimes | None
    running: int | None  # procs_running: runnable processes, this one included
    own_cpu: float  # seconds of CPU this process has used (user + system, all threads)
    mhz: float | None
    #: Microseconds some runnable task waited for a CPU since boot (Linux's
    #: pressure stall information, /proc/pressure/cpu "some total"), or None.
    cpu_wait_us: int | None = None


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def load1() -> float | None:
    """The 1-minute load average, or None."""
    text = _read(PROC / "loadavg")
    try:
        return float(text.split()[0]) if text else None
    except (ValueError, IndexError):
        return None


def cpu_stat() -> tuple[CpuTimes | None, int | None]:
    """The aggregate CPU times and ``procs_running`` of ``/proc/stat`` (None each if unread)."""
    text = _read(PROC / "stat")
    times = running = None
    for line in (text or "").splitlines():
        fields = line.split()
        if not fields:
            continue
        try:
            if fields[0] == "cpu" and len(fields) >= 5:
                # user nice system idle iowait irq softirq steal guest guest_nice;
                # guest time is already counted in user and nice.
                v = [int(f) for f in fields[1:9]] + [0] * (8 - len(fields[1:9]))
                busy = v[0] + v[1] + v[2] + v[5] + v[6]
                steal = v[7] if len(fields) >= 9 else None
                times = CpuTimes(busy=busy, total=busy + v[3] + v[4] + (steal or 0),
                                 steal=steal)
            elif fields[0] == "procs_running":
                running = int(fields[1])
        except (ValueError, IndexError):
            continue
    return times, running


def mhz() -> float | None:
    """Mean current CPU frequency in MHz: cpufreq's ``scaling_cur_freq``, else
    ``cpu MHz`` of /proc/cpuinfo, else None."""
    khz = []
    for path in sorted(SYS_CPU.glob("cpu[0-9]*/cpufreq/scaling_cur_freq")):
        text = _read(path)
        if text and text.strip().isdigit():
            khz.append(int(text.strip()))
    if khz:
        return sum(khz) / len(khz) / 1000.0
    values = []
    for line in (_read(PROC / "cpuinfo") or "").splitlines():
        name, _, value = line.partition(":")
        if name.strip() == "cpu MHz":
            try:
                values.append(float(value))
            except ValueError:
                continue
    return sum(values) / len(values) if values else None


def own_cpu() -> float:
    """Seconds of CPU this process has used, user and system, all its threads."""
    t = os.times()
    return t.user + t.system


def cpu_pressure() -> int | None:
    """Microseconds during which some runnable task waited for a CPU, since boot
    (``/proc/pressure/cpu``, Linux 4.20 and later with PSI), or None."""
    text = _read(PROC / "pressure" / "cpu")
    for line in (text or "").splitlines():
        fields = line.split()
        if fields and fields[0] == "some":
            for field in fields[1:]:
                name, _, value = field.partition("=")
                if name == "total" and value.isdigit():
                    return int(value)
    return None


def available_memory() -> int | None:
    """Bytes of memory available to a new process without swapping (``MemAvailable`` of
    /proc/meminfo), or None where it cannot be read."""
    for line in (_read(PROC / "meminfo") or "").splitlines():
        name, _, value = line.partition(":")
        if name == "MemAvailable":
            fields = value.split()
            if fields and fields[0].isdigit():
                scale = 1024 if fields[1:] == ["kB"] else 1
                return int(fields[0]) * scale
    return None


def snapshot(with_mhz: bool = True) -> Snapshot:
    """Read the machine's state now.

    Parameters
    ----------
    with_mhz
        Also read the clock speed (one file per CPU); the per-benchmark
        snapshots leave it out.
    """
    cpu, running = cpu_stat()
    return Snapshot(at=time.monotonic(), load1=load1(), cpu=cpu, running=running,
                    own_cpu=own_cpu(), mhz=mhz() if with_mhz else None,
                    cpu_wait_us=cpu_pressure())


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def other_cpu(before: Snapshot, after: Snapshot) -> float | None:
    """Cores used by other processes between two snapshots (>= 0), or None."""
    elapsed = after.at - before.at
    if before.cpu is None or after.cpu is None or elapsed <= 0:
        return None
    busy = (after.cpu.busy - before.cpu.busy) / CLK_TCK
    return max(0.0, (busy - (after.own_cpu - before.own_cpu)) / elapsed)


def steal(before: Snapshot | None, after: Snapshot) -> float | None:
    """Fraction of CPU time stolen by the hypervisor between two snapshots (since
    boot when ``before`` is None); None when the kernel does not report steal."""
    if after.cpu is None or after.cpu.steal is None:
        return None
    if before is None:
        return after.cpu.steal / after.cpu.total if after.cpu.total > 0 else 0.0
    if before.cpu is None or before.cpu.steal is None:
        return None
    total = after.cpu.total - before.cpu.total
    return (after.cpu.steal - before.cpu.steal) / total if total > 0 else 0.0


def cpu_wait(before: Snapshot, after: Snapshot) -> float | None:
    """Share of the interval during which some runnable task waited for a CPU
    (0 to 1), or None without pressure stall information.

    Unlike ``other_cpu``, whose readings count in clock ticks of 10 ms and so
    scatter by several tenths of a core over a benchmark of a few tens of
    milliseconds, this is counted in microseconds: on a quiet machine it
    stays near 0 even for a parallel benchmark on every core, and it rises as
    soon as another job competes for the cores.
    """
    elapsed = after.at - before.at
    if before.cpu_wait_us is None or after.cpu_wait_us is None or elapsed <= 0:
        return None
    return min(1.0, max(0.0, (after.cpu_wait_us - before.cpu_wait_us) / 1e6 / elapsed))


def between(before: Snapshot, after: Snapshot) -> dict[str, Any]:
    """The state over an interval, as saved in ``extra_info["state"]``.

    Returns
    -------
    dict
        ``other_cpu`` (cores, mean), ``steal`` (fraction), ``cpu_wait``
        (fraction of the time some task waited for a CPU), ``load1`` (at
        the end) and ``running`` (the larger of the two readings); None
        where unreadable.
    """
    readings = [r for r in (before.running, after.running) if r is not None]
    return {
        "other_cpu": _round(other_cpu(before, after), 3),
        "steal": _round(steal(before, after), 4),
        "cpu_wait": _round(cpu_wait(before, after), 4),
        "load1": after.load1,
        "running": max(readings) if readings else None,
    }


class Sampler:
    """The session's state samples: "before", "during" (at most once a second, at
    benchmark boundaries) and "after".

    Each sample is ``{at, phase, load1, running, other_cpu, steal, mhz}``;
    ``other_cpu`` and ``steal`` cover the time since the previous sample
    (``other_cpu`` is None for the first, ``steal`` of the first is since boot).
    """

    def __init__(self) -> None:
        self.samples: list[dict[str, Any]] = []
        self._start: float | None = None
        self._last: Snapshot | None = None
        self.finished = False

    def sample(self, phase: str) -> dict[str, Any]:
        """Take a sample now and keep it."""
        snap = snapshot()
        if self._start is None:
            self._start = snap.at
        previous, self._last = self._last, snap
        record = {
            "at": round(snap.at - self._start, 3),
            "phase": phase,
            "load1": snap.load1,
            "running": snap.running,
            "other_cpu": None if previous is None else _round(other_cpu(previous, snap), 3),
            "steal": _round(steal(previous, snap), 4),
            "mhz": _round(snap.mhz, 1),
        }
        self.samples.append(record)
        return record

    def during(self, every: float = 1.0) -> None:
        """Sample ("during") when ``every`` seconds have passed since the last sample."""
        if self._last is None or time.monotonic() - self._last.at >= every:
            self.sample("during" if self._last is not None else "before")

    def finish(self) -> None:
        """Take the "after" sample, once."""
        if not self.finished:
            self.finished = True
            self.sample("after")

    def record(self) -> dict[str, Any]:
        """What the run saves under ``vecbench.state``."""
        return {"cpu_count": os.cpu_count(), "samples": list(self.samples)}

"""Valgrind's callgrind for the instruction-count gate: the command, the caches, the dumps.

The instruction mode (bench/instructions.py) runs every benchmark of its
profile in one valgrind process::

    valgrind --tool=callgrind --instr-atstart=no --cache-sim=yes
             --I1=32768,8,64 --D1=32768,8,64 --LL=8388608,16,64 ...

- ``--instr-atstart=no``: nothing is counted until the program asks (the
  client requests of bench/_callgrind.pyx, around each benchmark's calls);
- ``--cache-sim=yes`` with the geometry of :data:`CACHES` *pinned*: the
  simulated caches are these on every machine, so the counts do not depend on
  the host's caches (size in bytes, associativity, line size);
- one dump per benchmark (``CALLGRIND_DUMP_STATS_AT(id)``, each in a file of
  its own: ``%p`` in the file name, as each benchmark runs in a process forked
  for it), read here by
  :func:`read_dumps`: each dump's ``totals:`` line (the sum of its cost lines)
  under the names of its ``events:`` line.  Its ``summary:`` line is not used:
  after ``CALLGRIND_ZERO_STATS`` it holds callgrind's running total, not the
  dump's.

The cost of a call combines what the CPU executes with what the memory
hierarchy adds (KCachegrind's cycle estimate, also what CodSpeed-style tools
report): :data:`COST_FORMULA`, computed by :func:`cost`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

#: The events of a cache-simulating run, as callgrind names them: instructions
#: (Ir), data reads and writes (Dr, Dw), and the misses of the first-level
#: instruction and data caches (I1mr, D1mr, D1mw) and of the last level (ILmr,
#: DLmr, DLmw).
EVENTS: tuple[str, ...] = ("Ir", "Dr", "Dw", "I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw")
#: Misses of the first level, then of the last level.
L1_MISSES: tuple[str, ...] = ("I1mr", "D1mr", "D1mw")
LL_MISSES: tuple[str, ...] = ("ILmr", "DLmr", "DLmw")
#: The cost formula's weights: a first-level miss counts as 10 instructions,
#: a last-level miss as 100.
L1_MISS_WEIGHT = 10
LL_MISS_WEIGHT = 100
COST_FORMULA = "Ir + 10 x (I1mr + D1mr + D1mw) + 100 x (ILmr + DLmr + DLmw)"

#: The simulated caches, pinned: (bytes, ways, line bytes).  L1s of 32 KiB,
#: 8-way, and a last level of 8 MiB, 16-way (a common desktop core's).
CACHES: dict[str, tuple[int, int, int]] = {
    "I1": (32 * 1024, 8, 64),
    "D1": (32 * 1024, 8, 64),
    "LL": (8 * 1024 * 1024, 16, 64),
}

_TRIGGER = re.compile(r"^desc:\s*Trigger:\s*Client Request:\s*(.*?)\s*$")


class DumpError(ValueError):
    """A callgrind dump that cannot be read; the message is one line naming the file."""


@dataclass(frozen=True)
class Dump:
    """One part callgrind wrote: its trigger and its totals per event."""

    path: Path
    label: str | None  # the client request's name; None for other triggers (termination)
    counts: dict[str, int]


def options(folder: str | Path, caches: Mapping[str, tuple[int, int, int]] = CACHES
            ) -> list[str]:
    """Valgrind's options for the instruction mode: dumps into ``folder``.

    Each process writes ``callgrind.out.PID.N`` there, a file per dump
    (``%p``: the instruction mode forks a process per benchmark).
    """
    return ["--tool=callgrind", "--instr-atstart=no", "--cache-sim=yes",
            *(f"--{name}={size},{ways},{line}" for name, (size, ways, line) in caches.items()),
            "--dump-line=no", "--dump-instr=no",
            f"--callgrind-out-file={Path(folder) / 'callgrind.out.%p'}"]


def cost(counts: Mapping[str, float]) -> float:
    """The estimated cost of ``counts``: :data:`COST_FORMULA`.

    Raises
    ------
    KeyError
        When an event of the formula is missing (a run without cache simulation).
    """
    return (float(counts["Ir"])
            + L1_MISS_WEIGHT * float(sum(counts[e] for e in L1_MISSES))
            + LL_MISS_WEIGHT * float(sum(counts[e] for e in LL_MISSES)))


def parse_dump(path: str | Path) -> Dump:
    """Read one dump file: the client request that triggered it and its totals.

    Raises
    ------
    DumpError
        When the file cannot be read, or lacks its ``events:`` or ``totals:``
        line, or they do not parse.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DumpError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    label = events = totals = None
    for line in text.splitlines():
        if label is None and (m := _TRIGGER.match(line)):
            label = m.group(1)
        elif line.startswith("events:"):
            events = line.split(":", 1)[1].split()
        elif line.startswith("totals:"):
            totals = line.split(":", 1)[1].split()
    if not text.startswith("# callgrind format") and "creator: callgrind" not in text:
        raise DumpError(f"{path}: not a callgrind dump")
    if not events:
        raise DumpError(f"{path}: no 'events:' line")
    if totals is None:
        raise DumpError(f"{path}: no 'totals:' line")
    if len(totals) > len(events) or not all(t.isdigit() for t in totals):
        raise DumpError(f"{path}: 'totals:' {' '.join(totals)!r} does not match 'events:' "
                        f"{' '.join(events)!r}")
    # Callgrind leaves out trailing zeros of a cost line.
    counts = {e: int(totals[i]) if i < len(totals) else 0 for i, e in enumerate(events)}
    return Dump(path, label, counts)


def read_dumps(folder: str | Path) -> dict[str, Dump]:
    """Every client-request dump in ``folder`` (``callgrind.out.*``), by label.

    Raises
    ------
    DumpError
        When a dump cannot be read, two dumps have the same label, or one
        lacks an event of :data:`EVENTS` (no cache simulation).
    """
    found: dict[str, Dump] = {}
    for path in sorted(Path(folder).glob("callgrind.out.*")):
        dump = parse_dump(path)
        if dump.label is None:
            continue
        if dump.label in found:
            raise DumpError(f"{path}: a second dump of {dump.label!r} "
                            f"(the first: {found[dump.label].path.name})")
        lacking = [e for e in EVENTS if e not in dump.counts]
        if lacking:
            raise DumpError(f"{path}: no {', '.join(lacking)} counts (was the cache "
                            "simulation on?)")
        found[dump.label] = dump
    return found


def valgrind() -> str | None:
    """The valgrind program on PATH, or None."""
    return shutil.which("valgrind")


def version() -> str | None:
    """``valgrind --version`` (e.g. ``valgrind-3.19.0``), or None when it cannot be run."""
    program = valgrind()
    if program is None:
        return None
    try:
        done = subprocess.run([program, "--version"], capture_output=True, text=True,
                              timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None

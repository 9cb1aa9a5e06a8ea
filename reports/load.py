"""Read saved pytest-benchmark runs and check them before anything is drawn.

A run is read whole and checked before a single figure is made: a file that
is missing, empty, truncated or not a pytest-benchmark run raises
:class:`ReportError` with one line naming the file and what is wrong.

Three kinds of benchmark are kept, told apart by ``extra_info["measure"]``:
``steady`` (bench/bench_kernels.py; a benchmark without ``measure`` but with
kernel, backend and size is taken as steady, as runs saved before the field
existed have it), ``compile`` (bench/bench_jit.py), ``ceiling``
(bench/bench_ceilings.py) and ``overhead`` (bench/bench_overhead.py).
Anything else is ignored.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


class ReportError(Exception):
    """A run that cannot be reported on; the message is one line naming the file."""


@dataclass(frozen=True, eq=False)
class Timing:
    """One steady-state benchmark: an implementation at a size and layout."""

    kernel: str
    backend: str
    variant: str
    default: bool
    size: int
    layout: str
    threads: int
    bytes: float  # work model: bytes moved per call (the working set)
    flops: float
    median: float  # seconds per call
    q1: float
    q3: float
    rounds: int
    data: list[float] | None  # per-round seconds per call, when saved
    bytes_per_element: float | None = None
    peak_extra_bytes: float | None = None
    #: The allocator regime the benchmark ran in: "warm" (large blocks reused
    #: from the heap), "fresh" (every large block a fresh mapping), or
    #: "undeclared" (runs saved before regimes were declared).
    allocator: str = "undeclared"
    #: The machine while this benchmark's rounds ran (extra_info["state"]):
    #: cores used by other processes (mean), CPU steal (fraction), 1-minute
    #: load, runnable processes (most seen).  None: not recorded.
    other_cpu: float | None = None
    steal: float | None = None
    load1: float | None = None
    running: int | None = None

    @property
    def impl(self) -> tuple[str, str]:
        return (self.backend, self.variant)

    def samples(self) -> np.ndarray:
        """The per-round times, or just the median when rounds were not saved."""
        if self.data:
            return np.asarray(self.data, dtype=np.float64)
        return np.array([self.median])


@dataclass(frozen=True)
class Compile:
    """Numba's compile cost of one kernel variant (bench/bench_jit.py)."""

    kernel: str
    variant: str
    seconds: float  # median over rounds
    low: float  # fastest and slowest round
    high: float
    reference_size: int
    numba_seconds: float
    numpy_seconds: float
    break_even_calls: int | None  # None: never pays off against NumPy


@dataclass(frozen=True)
class Ceiling:
    """One machine ceiling (bench/bench_ceilings.py)."""

    name: str  # "read_bandwidth" or "matmul_gflops"
    threads: int
    value: float
    unit: str


@dataclass(frozen=True)
class Overhead:
    """The cost of a call that does no work (bench/bench_overhead.py)."""

    target: str  # a backend's empty call, or "checks" (the registry's argument check)
    median: float
    q1: float
    q3: float


@dataclass(frozen=True)
class StateSample:
    """One reading of the machine's state (the run's ``vecbench.state.samples``)."""

    at: float  # seconds since the session started
    phase: str  # "before", "during" or "after" the benchmarks
    load1: float | None
    running: int | None  # runnable processes (procs_running), this one included
    other_cpu: float | None  # cores used by other processes since the previous sample
    steal: float | None  # fraction of CPU time stolen by the hypervisor since then
    mhz: float | None  # mean current CPU frequency


@dataclass(frozen=True)
class Absent:
    """A benchmark of the profile that was not measured, with why (``vecbench.absent``)."""

    benchmark: str  # the benchmark's id
    measure: str  # "steady", "ceiling", "compile" or "overhead"
    reason: str  # over_budget, failed, unavailable, not_in_profile, not_applicable, error
    detail: str  # one line
    kernel: str | None = None
    backend: str | None = None
    variant: str | None = None
    size: int | None = None
    layout: str | None = None
    threads: int | None = None
    allocator: str | None = None


@dataclass(frozen=True)
class Allocator:
    """The allocator regimes the run declared (``vecbench.allocator``)."""

    controlled: bool
    how: str  # e.g. "glibc mallopt"
    default: str  # the regime of every benchmark not marked otherwise
    regimes: dict[str, dict[str, int]]  # regime -> mallopt parameter -> value
    why: str | None = None  # why it was not controlled


@dataclass(eq=False)
class Run:
    """One saved run, reduced to what the report draws."""

    path: Path
    machine: str  # host and CPU
    commit: str  # short id, "+dirty" when the tree had changes
    date: str
    cpu_count: int | None
    caches: dict[str, int]
    blas: str
    steady: list[Timing]
    compiles: list[Compile]
    ceilings: list[Ceiling]
    notes: list[str] = field(default_factory=list)
    label: str = ""  # set by :func:`label_runs`
    overheads: list[Overhead] = field(default_factory=list)
    #: (kernel, backend, variant, reason): what the machine or build lacked
    #: for an implementation, recorded with the run (bench/machine.py).
    unavailable: list[tuple[str, str, str, str]] = field(default_factory=list)
    #: The SIMD path of the sin variants (kernels.simd), as recorded.
    simd_path: str = "not recorded"
    #: The profile the run was made with ("" when not recorded).
    profile: str = ""
    #: The machine's state sampled before, during and after the run (empty:
    #: not recorded, a run saved before this was).
    state: list[StateSample] = field(default_factory=list)
    #: What the profile held and the run did not measure, with why.  None:
    #: not recorded (a run saved before absences were).
    absent: list[Absent] | None = None
    #: The declared allocator regimes (None: not declared).
    allocator: Allocator | None = None

    @property
    def kernels(self) -> list[str]:
        """The kernels of the run, in the order they were benchmarked."""
        return list(dict.fromkeys(t.kernel for t in self.steady))


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------
def _read_json(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ReportError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ReportError(f"{path}: is a directory, not a run file") from None
    except OSError as exc:
        raise ReportError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    if not raw.strip():
        raise ReportError(f"{path}: empty file, not a pytest-benchmark run")
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise ReportError(f"{path}: not text (binary data), not a pytest-benchmark run") from None
    except json.JSONDecodeError as exc:
        what = "truncated JSON (the file ends early)" if _ends_early(exc) else "invalid JSON"
        raise ReportError(
            f"{path}: {what}: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None


def _ends_early(exc: json.JSONDecodeError) -> bool:
    """Whether parsing failed because the text stops: inside a string, or within the
    last few characters (a value, a literal or a number cut short)."""
    return (exc.msg.startswith("Unterminated string")
            or len(exc.doc.rstrip()) - exc.pos <= 8)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _stats(path: Path, bench: dict[str, Any]) -> dict[str, Any]:
    name = bench.get("fullname") or bench.get("name") or "?"
    stats = bench.get("stats")
    if not isinstance(stats, dict):
        raise ReportError(f"{path}: benchmark {name!r} has no 'stats' object")
    for key in ("median", "q1", "q3", "min", "max", "rounds"):
        if not _is_number(stats.get(key)):
            raise ReportError(f"{path}: benchmark {name!r}: stats.{key} is missing or not a number")
    if stats["median"] <= 0:
        raise ReportError(f"{path}: benchmark {name!r}: median time {stats['median']} is not > 0")
    data = stats.get("data")
    if data is not None and not (isinstance(data, list) and all(map(_is_number, data))):
        raise ReportError(f"{path}: benchmark {name!r}: stats.data is not a list of numbers")
    return stats


def _steady(path: Path, bench: dict[str, Any], info: dict[str, Any]) -> Timing:
    stats = _stats(path, bench)
    name = bench.get("fullname") or bench.get("name")
    try:
        size = int(info["size"])
        return Timing(
            kernel=str(info["kernel"]),
            backend=str(info["backend"]),
            variant=str(info.get("variant") or "default"),
            default=bool(info.get("default_variant", True)),
            size=size,
            layout=str(info.get("layout", "C")),
            threads=int(info.get("threads") or 1),
            bytes=float(info.get("bytes") or math.nan),
            flops=float(info.get("flops") or math.nan),
            median=float(stats["median"]),
            q1=float(stats["q1"]),
            q3=float(stats["q3"]),
            rounds=int(stats["rounds"]),
            data=stats.get("data") or None,
            bytes_per_element=info.get("input_bytes_per_element"),
            peak_extra_bytes=info.get("peak_extra_bytes"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportError(f"{path}: benchmark {name!r}: bad extra_info ({exc})") from None


def _compile(path: Path, bench: dict[str, Any], info: dict[str, Any]) -> Compile:
    stats = _stats(path, bench)
    name = bench.get("fullname") or bench.get("name")
    try:
        calls = info.get("break_even_calls")
        return Compile(
            kernel=str(info["kernel"]),
            variant=str(info.get("variant") or "default"),
            seconds=float(info.get("compile_seconds") or stats["median"]),
            low=float(stats["min"]),
            high=float(stats["max"]),
            reference_size=int(info["reference_size"]),
            numba_seconds=float(info["numba_seconds"]),
            numpy_seconds=float(info["numpy_seconds"]),
            break_even_calls=None if calls is None else int(calls),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportError(f"{path}: benchmark {name!r}: bad compile extra_info ({exc})") from None


def _ceiling(path: Path, bench: dict[str, Any], info: dict[str, Any]) -> Ceiling:
    name = bench.get("fullname") or bench.get("name")
    try:
        value = float(info["value"])
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"value {value} is not > 0")
        return Ceiling(name=str(info["ceiling"]), threads=int(info["threads"]), value=value,
                       unit=str(info["unit"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ReportError(f"{path}: benchmark {name!r}: bad ceiling extra_info ({exc})") from None


def _machine(doc: dict[str, Any]) -> tuple[str, int | None, dict[str, int], str]:
    info = doc.get("machine_info") if isinstance(doc.get("machine_info"), dict) else {}
    cpu = info.get("cpu") if isinstance(info.get("cpu"), dict) else {}
    extra = info.get("vecbench") if isinstance(info.get("vecbench"), dict) else {}
    count = extra.get("cpu_count") or cpu.get("count")
    brand = cpu.get("brand_raw") or info.get("processor") or info.get("machine") or "unknown CPU"
    host = info.get("node") or "unknown host"
    machine = f"{host} ({brand}{f', {count} cores' if count else ''})"
    caches = {k: int(v) for k, v in (extra.get("caches") or {}).items() if _is_number(v)}
    blas = ", ".join(
        f"{b.get('internal_api', '?')} {b.get('version', '')}".strip()
        for b in extra.get("blas") or [] if isinstance(b, dict)
    )
    return machine, (int(count) if count else None), caches, blas or "unknown"


def _unavailable(path: Path, doc: dict[str, Any]) -> tuple[list[tuple[str, str, str, str]], str]:
    """The implementations the run's machine record lists as unavailable, and the SIMD path."""
    info = doc.get("machine_info") if isinstance(doc.get("machine_info"), dict) else {}
    extra = info.get("vecbench") if isinstance(info.get("vecbench"), dict) else {}
    rows = extra.get("implementations", [])
    if not isinstance(rows, list):
        raise ReportError(f"{path}: machine_info.vecbench.implementations is a "
                          f"{type(rows).__name__}, expected a list")
    out = []
    for i, row in enumerate(rows):
        keys = ("kernel", "backend", "variant")
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in keys):
            raise ReportError(f"{path}: machine_info.vecbench.implementations[{i}] needs "
                              f"kernel, backend and variant as strings")
        reason = row.get("unavailable")
        if reason is not None:
            out.append((row["kernel"], row["backend"], row["variant"], str(reason)))
    simd = extra.get("simd_path") if isinstance(extra.get("simd_path"), dict) else {}
    path_taken = simd.get("path")
    simd_path = (f"{path_taken} ({simd.get('setting', '?')})" if isinstance(path_taken, str)
                 else "not recorded")
    return out, simd_path


def _commit(doc: dict[str, Any]) -> str:
    info = doc.get("commit_info") if isinstance(doc.get("commit_info"), dict) else {}
    commit = str(info.get("id") or "no commit")[:8]
    return commit + ("+dirty" if info.get("dirty") else "")


def load_run(path: str | Path) -> Run:
    """Read and check one saved pytest-benchmark run.

    Parameters
    ----------
    path
        A JSON file written by ``pytest --benchmark-autosave`` (or ``--benchmark-json``).

    Returns
    -------
    Run
        Steady-state timings, compile costs and machine ceilings of the run.

    Raises
    ------
    ReportError
        With one line naming the file and what is wrong with it.
    """
    path = Path(path)
    doc = _read_json(path)
    if not isinstance(doc, dict):
        raise ReportError(f"{path}: not a pytest-benchmark run (top level is a "
                          f"{type(doc).__name__}, expected an object)")
    benches = doc.get("benchmarks")
    if not isinstance(benches, list):
        raise ReportError(f"{path}: not a pytest-benchmark run (no 'benchmarks' list)")
    if not benches:
        raise ReportError(f"{path}: pytest-benchmark run with no benchmarks")

    steady: list[Timing] = []
    compiles: list[Compile] = []
    ceilings: list[Ceiling] = []
    overheads: list[Overhead] = []
    for i, bench in enumerate(benches):
        if not isinstance(bench, dict):
            raise ReportError(f"{path}: benchmarks[{i}] is not an object")
        info = bench.get("extra_info")
        if not isinstance(info, dict):
            continue
        measure = info.get("measure")
        if measure == "compile":
            compiles.append(_compile(path, bench, info))
        elif measure == "ceiling":
            ceilings.append(_ceiling(path, bench, info))
        elif measure == "overhead" and "backend" in info:
            stats = _stats(path, bench)
            overheads.append(Overhead(str(info["backend"]), float(stats["median"]),
                                      float(stats["q1"]), float(stats["q3"])))
        elif measure == "steady" or (
                measure is None and {"kernel", "backend", "size"} <= info.keys()):
            steady.append(_steady(path, bench, info))
    if not steady:
        raise ReportError(f"{path}: no vecbench kernel benchmarks in this run "
                          f"(no benchmark has extra_info with kernel, backend and size)")

    machine, count, caches, blas = _machine(doc)
    unavailable, simd_path = _unavailable(path, doc)
    notes = []
    if not any(t.data for t in steady):
        notes.append("per-round times were not saved (--benchmark-save-data): "
                     "no confidence intervals")
    return Run(path=path, machine=machine, commit=_commit(doc),
               date=str(doc.get("datetime", ""))[:19].replace("T", " "),
               cpu_count=count, caches=caches, blas=blas,
               steady=steady, compiles=compiles, ceilings=best_ceilings(ceilings), notes=notes,
               overheads=overheads, unavailable=unavailable, simd_path=simd_path)


def best_ceilings(ceilings: list[Ceiling]) -> list[Ceiling]:
    """One ceiling per name and thread count, the highest measured.

    The full profile measures each ceiling before and after the kernels: on a
    shared machine the bandwidth one can have moves over minutes, and a
    ceiling is what the machine reached, not what it reached at one moment.
    """
    best: dict[tuple[str, int], Ceiling] = {}
    for c in ceilings:
        key = (c.name, c.threads)
        if key not in best or c.value > best[key].value:
            best[key] = c
    return list(best.values())


def label_runs(runs: list[Run]) -> list[Run]:
    """Give each run a short label, machine and commit, unique among ``runs``."""
    for run in runs:
        run.label = f"{run.machine} @ {run.commit}"
    seen: dict[str, int] = {}
    for run in runs:
        seen[run.label] = seen.get(run.label, 0) + 1
    for run in runs:
        if seen[run.label] > 1:
            run.label = f"{run.label} ({run.date or run.path.name})"
    return runs


def newest_run(root: str | Path) -> Path:
    """The most recently written ``*.json`` under ``root`` (pytest-benchmark's storage).

    Raises
    ------
    ReportError
        When there is no saved run under ``root``.
    """
    root = Path(root)
    found = sorted(root.glob("**/*.json"), key=lambda p: (p.stat().st_mtime, p.name))
    if not found:
        raise ReportError(f"{root}: no saved run here; run `make bench` first")
    return found[-1]

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

Every field the report reads is checked before it is used, and the first
one that fails raises :class:`ReportError` with one line naming the file, the
benchmark and the field (``FILE: benchmark 'ID': extra_info.size is -3,
expected a positive integer``):

- names (kernel, backend, variant, machine, units, ...) are strings of 1 to
  :data:`MAX_NAME` printable characters; a layout is ``C`` or ``F``; a phase,
  a reason, a measure and an allocator regime are one of their known values;
- sizes, rounds and counts are integers (never a bool or a float), sizes and
  rounds at least 1, threads from 1 to :data:`MAX_THREADS`;
- times in seconds are finite and within [:data:`MIN_SECONDS`,
  :data:`MAX_SECONDS`]; bytes, flops and other amounts are finite, not
  negative and at most :data:`MAX_AMOUNT`; fractions (steal) within [0, 1];
- dates are ISO 8601; flags are JSON booleans; objects and lists are what
  they should be, so NaN, Infinity, a string where a number belongs or a
  nested list where a name belongs are all refused;
- free text (a reason, a detail) is flattened to one line and shortened.

JSON nested too deeply to parse, or with an integer of more digits than
Python converts, is refused the same way.  Fields the report does not read
are not checked.  The run's own record (top-level ``vecbench``: profile,
selection, kernels, sizes beyond the cache, allocator regimes, machine state,
absent benchmarks) is optional: a run saved before it existed loads with no state, ``absent``
None, no allocator, and every timing's regime ``"undeclared"``.

What the report knows of each kernel (:class:`KernelFacts`: what it
computes, the size it quotes, where memory is measured, the size the history
follows, the ceiling it is held against, where it comes from) is read from
the run's ``vecbench.kernels``; for a run saved before that record existed,
or a kernel it lacks, from the built-in spec (``kernels.SPECS[name].facts()``);
for a kernel with neither (someone's own kernel in an old run), derived from
the timings: quoted at its largest size, held against no ceiling, and the
report says so.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
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
    #: Share of its rounds' time some runnable task waited for a CPU (Linux's
    #: pressure stall information); None: not recorded.
    cpu_wait: float | None = None
    load1: float | None = None
    running: int | None = None
    #: The machine's pace around its rounds (bench/pace.py): how many times
    #: longer than its recent best a fixed workload took just before and just
    #: after them, and the seconds waited beforehand for it.  None: not recorded.
    pace_before: float | None = None
    pace_after: float | None = None
    waited: float | None = None
    #: Calls per round (stats.iterations) and the round length pytest-benchmark's
    #: calibration aimed at (options.min_time, seconds).  None: not recorded.
    iterations: int | None = None
    min_time: float | None = None

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
    #: regime -> transparent huge pages: "kernel" (the kernel's mode) or "off";
    #: None when the run did not set them (``huge_pages_why`` says why, if it said).
    huge_pages: dict[str, str] | None = None
    huge_pages_why: str | None = None
    transparent_hugepages: str | None = None  # the kernel's mode ("madvise", ...)


@dataclass(frozen=True)
class PaceRecord:
    """What the run spent waiting for the machine's pace (``vecbench.pace``, bench/pace.py)."""

    waited_seconds: float
    benchmarks_waited: int
    benchmarks_begun_slow: int  # began while the pace was still slow (wait or budget spent)
    share: float  # the largest share of the run's time it could spend waiting


#: Where a kernel's facts come from: the run's own record, the built-in spec
#: (a run saved before the record existed), or derived from the timings.
FACT_SOURCES = ("run", "spec", "derived")


@dataclass(frozen=True)
class KernelFacts:
    """What the report knows of one kernel beyond its timings.

    A run keeps them per kernel in ``vecbench.kernels`` (``KernelSpec.facts()``);
    sizes and the ceiling are None when not known (facts derived from the
    timings): the report then quotes the largest size run and gives no
    percent of a ceiling.
    """

    name: str
    summary: str = ""
    params: tuple[tuple[str, str], ...] = ()  # (argument name, array kind)
    seed_size: int | None = None  # the size the report quotes
    memory_size: int | None = None  # where memory and fresh pages are measured
    history_size: int | None = None  # the size the history follows
    ceiling: str | None = None  # a name of reports.ceilings.ROOFS, or None: none declared
    origin: str = "unknown"  # "vecbench" for a built-in kernel, else the module defining it
    source: str = "derived"  # one of FACT_SOURCES

    @property
    def matrix(self) -> bool:
        """Whether the kernel's size is a matrix side (``n * n`` elements)."""
        return any(kind.startswith("matrix") for _, kind in self.params)


@dataclass(frozen=True)
class Selection:
    """What a run selected of its profile (``vecbench.selection``); None fields: all."""

    kernels: tuple[str, ...] | None
    backends: tuple[str, ...] | None
    variants: tuple[str, ...] | None
    sizes: str | None  # the size specification as given, None: the profile's ladders
    sources: tuple[str, ...] = ()  # modules of external kernels (paths or module names)
    #: Whether the selection leaves anything of the profile out (None: not recorded).
    slice: bool | None = None


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
    #: Timings in a regime other than the run's default (the "fresh pages"
    #: benchmarks): kept out of ``steady`` by
    #: :func:`reports.conditions.split_regimes` for the report, which shows
    #: them beside their default-regime twins.
    other_regimes: list[Timing] = field(default_factory=list)
    #: Who and what the run is, for grouping runs over time (reports.history):
    #: host name and CPU brand (the machine), the full commit id ("no commit"
    #: when not recorded), whether the tree had uncommitted changes, the
    #: commit's time and the run's start, both in UTC (None: not recorded).
    host: str = "unknown host"
    cpu: str = "unknown CPU"
    commit_id: str = "no commit"
    dirty: bool = False
    commit_time: datetime | None = None
    started: datetime | None = None
    #: The kernels of the run's steady timings, in the order they were
    #: benchmarked, each with what is known of it (see :class:`KernelFacts`).
    kernels: dict[str, KernelFacts] = field(default_factory=dict)
    #: What the run selected of its profile (None: not recorded, a run saved
    #: before selections were, or made with plain pytest ``-k``).
    selection: Selection | None = None
    #: Per kernel, why the profile could add no size beyond the last-level cache
    #: (or only a capped one), as recorded in ``vecbench.beyond_cache``.
    beyond_cache: dict[str, str] = field(default_factory=dict)
    #: The time spent waiting for the machine's pace (None: not recorded).
    pace: PaceRecord | None = None


# --------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------
#: Bounds of the values a run may hold.  Anything outside is not a measurement
#: (or would overflow the report's arithmetic), and the run is refused.
MIN_SECONDS = 1e-12  # a picosecond: below any timer's resolution
MAX_SECONDS = 1e6  # eleven days for one call
MAX_COUNT = 2**53  # sizes, rounds, call counts: exact as floats
MAX_THREADS = 65_536
MAX_AMOUNT = 1e24  # bytes or flops per call, throughput values
MAX_NAME = 200  # characters in a name (kernel, backend, variant, machine, ...)
MAX_TEXT = 500  # characters kept of a free-text reason or detail
LAYOUTS = ("C", "F")
MEASURES = ("steady", "ceiling", "compile", "overhead")
PHASES = ("before", "during", "after")
HUGE_PAGE_STATES = ("kernel", "off")  # transparent huge pages in a regime (bench/allocator.py)
REASONS = ("over_budget", "failed", "unavailable", "not_in_profile", "not_applicable", "error")
REGIMES = ("warm", "fresh")
_MISSING = object()


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
    except RecursionError:
        raise ReportError(f"{path}: JSON nested too deeply to be a pytest-benchmark run") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise ReportError(f"{path}: invalid JSON: {_one_line(str(exc), 120)}") from None


def _ends_early(exc: json.JSONDecodeError) -> bool:
    """Whether parsing failed because the text stops: inside a string, or within the
    last few characters (a value, a literal or a number cut short)."""
    return (exc.msg.startswith("Unterminated string")
            or len(exc.doc.rstrip()) - exc.pos <= 8)


def _is_number(v: Any) -> bool:
    """A finite JSON number (a bool is not one; an int too large for a float is not)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    return abs(v) < 1e300 if isinstance(v, int) else math.isfinite(v)


def _one_line(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` on one line: runs of whitespace and control characters become one space,
    and it is cut at ``limit`` characters."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[:limit - 1] + "…"


def _show(value: Any) -> str:
    """A short, one-line description of a JSON value for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value) if abs(value) < 10**15 else f"an integer of {value.bit_length()} bits"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return repr(value) if math.isfinite(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + "…")
    return "an object" if isinstance(value, dict) else f"a {type(value).__name__}"


def _name_of(bench: Any, i: int) -> str:
    """How an error names a benchmark: its id, quoted, or its place in the list."""
    name = bench.get("fullname") or bench.get("name") if isinstance(bench, dict) else None
    if isinstance(name, str) and name:
        return f"benchmark {_show(name)}"
    return f"benchmarks[{i}]"


class _Fields:
    """Typed reads of one JSON object, each failure a :class:`ReportError` with one
    line naming the file, the object (a benchmark) and the field.

    Parameters
    ----------
    where
        The file, and the benchmark when the object belongs to one.
    prefix
        The object's own path in the document, e.g. ``"extra_info."``.
    obj
        The object; anything but a dict is refused.
    """

    def __init__(self, where: str, prefix: str, obj: Any) -> None:
        if not isinstance(obj, dict):
            raise ReportError(f"{where}: {prefix.rstrip('.') or 'top level'} is {_show(obj)}, "
                              f"expected an object")
        self.where, self.prefix, self.obj = where, prefix, obj

    def fail(self, key: str, value: Any, expected: str) -> ReportError:
        return ReportError(f"{self.where}: {self.prefix}{key} is {_show(value)}, "
                           f"expected {expected}")

    def raw(self, key: str, default: Any = _MISSING) -> Any:
        """The value at ``key``; ``default`` when missing or null (required without one)."""
        value = self.obj.get(key)
        if value is None:
            if default is _MISSING:
                what = "null" if key in self.obj else "missing"
                raise ReportError(f"{self.where}: {self.prefix}{key} is {what}")
            return default
        return value

    def name(self, key: str, default: Any = _MISSING, choices: Sequence[str] = ()) -> Any:
        """A name: 1 to MAX_NAME printable characters (one of ``choices`` when given).
        An optional name that is empty (Python's ``platform.processor()`` often is)
        counts as missing."""
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        if default is not _MISSING and isinstance(value, str) and not value.strip():
            return default
        if choices:
            if value not in choices:
                raise self.fail(key, value, "one of " + ", ".join(choices))
        elif not (isinstance(value, str) and 0 < len(value) <= MAX_NAME
                  and value.isprintable() and value.strip()):
            raise self.fail(key, value, f"a name (1 to {MAX_NAME} printable characters)")
        return value

    def text(self, key: str, default: Any = _MISSING) -> Any:
        """Free text (a reason, a detail), flattened to one line."""
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str):
            raise self.fail(key, value, "a string")
        return _one_line(value)

    def integer(self, key: str, default: Any = _MISSING, low: int = 0,
                high: int = MAX_COUNT) -> Any:
        """An integer in ``[low, high]`` (a bool or a float is not one)."""
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            expected = ("a positive integer" if low == 1 and high == MAX_COUNT
                        else f"an integer from {low:,} to {high:,}")
            raise self.fail(key, value, expected)
        return value

    def number(self, key: str, default: Any = _MISSING, low: float = 0.0,
               high: float = MAX_AMOUNT, above: bool = False) -> Any:
        """A finite number in ``[low, high]`` (``(low, high]`` when ``above``)."""
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        if not (_is_number(value) and (value > low if above else value >= low)
                and value <= high):
            raise self.fail(key, value, f"a number {'>' if above else '>='} {low:g} and "
                                        f"<= {high:g}")
        return float(value)

    def seconds(self, key: str, default: Any = _MISSING) -> Any:
        """A time in seconds, in ``[MIN_SECONDS, MAX_SECONDS]``."""
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        if not (_is_number(value) and MIN_SECONDS <= value <= MAX_SECONDS):
            raise self.fail(key, value, f"a time in seconds from {MIN_SECONDS:g} to "
                                        f"{MAX_SECONDS:g}")
        return float(value)

    def flag(self, key: str, default: Any = _MISSING) -> Any:
        """A JSON boolean."""
        value = self.raw(key, default)
        if not isinstance(value, bool) and not (value is default and default is not _MISSING):
            raise self.fail(key, value, "true or false")
        return value

    def when(self, key: str) -> datetime | None:
        """An ISO 8601 date and time (UTC when it has no offset), or None when absent."""
        value = self.raw(key, None)
        if value is None:
            return None
        parsed = _parse_time(value) if isinstance(value, str) else None
        if parsed is None:
            raise self.fail(key, value, "an ISO 8601 date and time")
        return parsed

    def sub(self, key: str, default: Any = _MISSING) -> Any:
        """The object at ``key`` as :class:`_Fields` (``default`` when missing or null)."""
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        return _Fields(self.where, f"{self.prefix}{key}.", value)

    def items(self, key: str, default: Any = _MISSING) -> Any:
        """The list at ``key``."""
        value = self.raw(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, list):
            raise self.fail(key, value, "a list")
        return value

    def element(self, key: str, i: int, value: Any) -> _Fields:
        """The object ``value``, element ``i`` of the list at ``key``."""
        return _Fields(self.where, f"{self.prefix}{key}[{i}].", value)


def _parse_time(text: str) -> datetime | None:
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def _stats(bench: _Fields) -> _Fields:
    """The benchmark's ``stats``, its times checked."""
    stats = bench.sub("stats")
    for key in ("median", "q1", "q3", "min", "max"):
        stats.seconds(key)
    stats.integer("rounds", low=1)
    data = stats.items("data", None)
    if data is not None:
        for i, value in enumerate(data):
            if not (_is_number(value) and MIN_SECONDS <= value <= MAX_SECONDS):
                raise stats.fail(f"data[{i}]", value, f"a time in seconds from "
                                                      f"{MIN_SECONDS:g} to {MAX_SECONDS:g}")
    return stats


def _steady(bench: _Fields, info: _Fields, allocator: Allocator | None) -> Timing:
    stats = _stats(bench)
    data = stats.items("data", None)
    # A regime is one the run declares (vecbench.allocator); a run that declares
    # none has its benchmarks' regimes "undeclared", and none of its own.
    if allocator is None and info.raw("allocator", None) is not None:
        raise info.fail("allocator", info.obj["allocator"],
                        "none, as the run declares no regimes (vecbench.allocator)")
    regimes = (("undeclared",) if allocator is None
               else (*REGIMES, *allocator.regimes, allocator.default))
    regime = info.name("allocator", allocator.default if allocator else "undeclared",
                       choices=tuple(dict.fromkeys(regimes)))
    state = info.sub("state", None)
    options = bench.sub("options", None)
    return Timing(
        kernel=info.name("kernel"),
        backend=info.name("backend"),
        variant=info.name("variant", "default"),
        default=info.flag("default_variant", True),
        size=info.integer("size", low=1),
        layout=info.name("layout", "C", choices=LAYOUTS),
        threads=info.integer("threads", 1, low=1, high=MAX_THREADS),
        # No work model (absent or 0): no throughput.
        bytes=info.number("bytes", math.nan) or math.nan,
        flops=info.number("flops", math.nan) or math.nan,
        median=stats.seconds("median"),
        q1=stats.seconds("q1"),
        q3=stats.seconds("q3"),
        rounds=stats.integer("rounds", low=1),
        data=[float(v) for v in data] if data else None,
        bytes_per_element=info.number("input_bytes_per_element", None),
        peak_extra_bytes=info.number("peak_extra_bytes", None),
        allocator=regime,
        other_cpu=None if state is None else state.number("other_cpu", None, high=MAX_THREADS),
        steal=None if state is None else state.number("steal", None, high=1.0),
        cpu_wait=None if state is None else state.number("cpu_wait", None, high=1.0),
        load1=None if state is None else state.number("load1", None, high=1e6),
        running=None if state is None else state.integer("running", None, high=10**7),
        pace_before=None if state is None else state.number("pace_before", None, high=1e6),
        pace_after=None if state is None else state.number("pace_after", None, high=1e6),
        waited=None if state is None else state.number("waited", None, high=1e6),
        iterations=stats.integer("iterations", None, low=1, high=10**12),
        min_time=None if options is None else options.number("min_time", None, high=1e6),
    )


def _compile(bench: _Fields, info: _Fields) -> Compile:
    stats = _stats(bench)
    calls = info.integer("break_even_calls", None)
    return Compile(
        kernel=info.name("kernel"),
        variant=info.name("variant", "default"),
        seconds=info.seconds("compile_seconds", stats.seconds("median")),
        low=stats.seconds("min"),
        high=stats.seconds("max"),
        reference_size=info.integer("reference_size", low=1),
        numba_seconds=info.seconds("numba_seconds"),
        numpy_seconds=info.seconds("numpy_seconds"),
        break_even_calls=calls,
    )


def _ceiling(info: _Fields) -> Ceiling:
    return Ceiling(name=info.name("ceiling"),
                   threads=info.integer("threads", low=1, high=MAX_THREADS),
                   value=info.number("value", above=True),
                   unit=info.name("unit"))


def _overhead(bench: _Fields, info: _Fields) -> Overhead:
    stats = _stats(bench)
    return Overhead(info.name("backend"), stats.seconds("median"), stats.seconds("q1"),
                    stats.seconds("q3"))


def _machine(doc: _Fields) -> tuple[str, str, int | None, dict[str, int], str]:
    """Host, CPU, core count, caches and BLAS from ``machine_info``."""
    info = doc.sub("machine_info", None) or _Fields(doc.where, "machine_info.", {})
    cpu = info.sub("cpu", None) or _Fields(doc.where, "machine_info.cpu.", {})
    extra = info.sub("vecbench", None) or _Fields(doc.where, "machine_info.vecbench.", {})
    count = extra.integer("cpu_count", None, low=1, high=MAX_THREADS)
    if count is None:
        count = cpu.integer("count", None, low=1, high=MAX_THREADS)
    brand = (cpu.name("brand_raw", None) or info.name("processor", None)
             or info.name("machine", None) or "unknown CPU")
    host = info.name("node", None) or "unknown host"
    caches_doc = extra.sub("caches", None)
    caches = {} if caches_doc is None else {
        str(k): caches_doc.integer(k, low=1) for k in caches_doc.obj}
    for level in caches:
        if not (0 < len(level) <= MAX_NAME and level.isprintable()):
            raise ReportError(f"{doc.where}: machine_info.vecbench.caches has a key "
                              f"{_show(level)}, expected a cache name")
    blas = []
    for i, lib in enumerate(extra.items("blas", [])):
        lib = extra.element("blas", i, lib)
        blas.append(f"{lib.name('internal_api', '?')} {lib.text('version', '')}".strip())
    return host, brand, count, caches, ", ".join(blas) or "unknown"


def _unavailable(doc: _Fields) -> tuple[list[tuple[str, str, str, str]], str]:
    """The implementations the run's machine record lists as unavailable, and the SIMD path."""
    info = doc.sub("machine_info", None) or _Fields(doc.where, "machine_info.", {})
    extra = info.sub("vecbench", None) or _Fields(doc.where, "machine_info.vecbench.", {})
    out = []
    for i, row in enumerate(extra.items("implementations", [])):
        row = extra.element("implementations", i, row)
        names = row.name("kernel"), row.name("backend"), row.name("variant")
        reason = row.text("unavailable", None)
        if reason is not None:
            out.append((*names, reason))
    simd = extra.sub("simd_path", None)
    taken = None if simd is None else simd.name("path", None)
    simd_path = (f"{taken} ({simd.text('setting', '?')})" if taken is not None
                 else "not recorded")
    return out, simd_path


def _commit(doc: _Fields) -> tuple[str, str, bool, datetime | None]:
    """Short id (with "+dirty"), full id, dirty, commit time, from ``commit_info``."""
    info = doc.sub("commit_info", None) or _Fields(doc.where, "commit_info.", {})
    full = info.name("id", "no commit")
    dirty = info.flag("dirty", False)
    return full[:8] + ("+dirty" if dirty else ""), full, dirty, info.when("time")


def _names(fields: _Fields, key: str) -> tuple[str, ...] | None:
    """A list of names at ``key`` (None when missing or null)."""
    values = fields.items(key, None)
    if values is None:
        return None
    for i, value in enumerate(values):
        if not (isinstance(value, str) and 0 < len(value) <= MAX_NAME and value.isprintable()
                and value.strip()):
            raise fields.fail(f"{key}[{i}]", value, f"a name (1 to {MAX_NAME} printable "
                                                    "characters)")
    return tuple(values)


def _selection(top: _Fields) -> Selection | None:
    """What the run selected (``vecbench.selection``), None when not recorded."""
    sel = top.sub("selection", None)
    if sel is None:
        return None
    sources = sel.items("sources", [])
    for i, value in enumerate(sources):
        if not isinstance(value, str) or not value.strip():
            raise sel.fail(f"sources[{i}]", value, "a module name or path")
    return Selection(kernels=_names(sel, "kernels"), backends=_names(sel, "backends"),
                     variants=_names(sel, "variants"), sizes=sel.text("sizes", None),
                     sources=tuple(_one_line(v) for v in sources),
                     slice=sel.flag("slice", None))


def _facts(entry: _Fields, name: str, source: str) -> KernelFacts:
    """One kernel's facts (``KernelSpec.facts()``), every field checked."""
    from reports.ceilings import ROOFS

    params = []
    for i, pair in enumerate(entry.items("params", [])):
        if not (isinstance(pair, list) and len(pair) == 2
                and all(isinstance(v, str) and 0 < len(v) <= MAX_NAME and v.isprintable()
                        and v.strip() for v in pair)):
            raise entry.fail(f"params[{i}]", pair, "a [name, kind] pair of names")
        params.append((pair[0], pair[1]))
    ceiling = entry.raw("ceiling", None)
    if ceiling is not None and not (isinstance(ceiling, str) and ceiling in ROOFS):
        raise entry.fail("ceiling", ceiling, "null (no ceiling) or one of " + ", ".join(ROOFS))
    return KernelFacts(
        name=name, summary=entry.text("summary", ""), params=tuple(params),
        seed_size=entry.integer("seed_size", None, low=1),
        memory_size=entry.integer("memory_size", None, low=1),
        history_size=entry.integer("history_size", None, low=1),
        ceiling=ceiling, origin=entry.text("origin", "unknown") or "unknown", source=source)


def _recorded_facts(top: _Fields) -> dict[str, KernelFacts]:
    """The facts the run recorded per kernel (``vecbench.kernels``)."""
    record = top.sub("kernels", None)
    if record is None:
        return {}
    out = {}
    for name in record.obj:
        if not (0 < len(name) <= MAX_NAME and name.isprintable() and name.strip()):
            raise ReportError(f"{top.where}: vecbench.kernels has a key {_show(name)}, "
                              f"expected a kernel name")
        out[name] = _facts(record.sub(name), name, "run")
    return out


def builtin_facts(name: str) -> KernelFacts | None:
    """The facts of the built-in kernel ``name`` (``kernels.SPECS``), None when there is none.

    For runs saved before they recorded their kernels' facts.
    """
    try:
        from kernels.specs import SPECS
    except ImportError:  # pragma: no cover - the kernels package ships with the reports
        return None
    spec = SPECS.get(name)
    if spec is None:
        return None
    saved = json.loads(json.dumps(spec.facts()))  # as a run would save them
    return _facts(_Fields(f"kernels.SPECS[{name!r}]", "", saved), name, "spec")


def kernel_facts(steady: list[Timing], recorded: dict[str, KernelFacts]
                 ) -> dict[str, KernelFacts]:
    """Per kernel of ``steady``, in order: the run's record, else the built-in spec, else
    facts derived from the timings (no sizes, no ceiling)."""
    out = {}
    for name in dict.fromkeys(t.kernel for t in steady):
        out[name] = (recorded.get(name) or builtin_facts(name)
                     or KernelFacts(name=name, source="derived"))
    return out


def _beyond_cache(top: _Fields) -> dict[str, str]:
    """Per kernel, why no size (or only a capped one) went beyond the last-level cache."""
    record = top.sub("beyond_cache", None)
    if record is None:
        return {}
    out = {}
    for name in record.obj:
        if not (0 < len(name) <= MAX_NAME and name.isprintable() and name.strip()):
            raise ReportError(f"{top.where}: vecbench.beyond_cache has a key {_show(name)}, "
                              f"expected a kernel name")
        entry = record.sub(name)
        entry.integer("size", None, low=1)
        note = entry.text("capped", None)
        if note:
            out[name] = note
    return out


def _vecbench(doc: _Fields) -> tuple[str, Allocator | None, int | None, list[StateSample],
                                     list[Absent] | None, Selection | None,
                                     dict[str, KernelFacts], dict[str, str]]:
    """The run's own record (top-level ``vecbench``): profile, allocator, state, absences,
    selection, kernels' facts, sizes beyond the cache."""
    top = doc.sub("vecbench", None)
    if top is None:
        return "", None, None, [], None, None, {}, {}
    top.integer("version", 1, low=1)
    profile = top.name("profile", "")
    selection = _selection(top)
    recorded = _recorded_facts(top)
    beyond = _beyond_cache(top)
    allocator = None
    alloc = top.sub("allocator", None)
    if alloc is not None:
        regimes_doc = alloc.sub("regimes", None)
        regimes = {}
        for regime in ([] if regimes_doc is None else list(regimes_doc.obj)):
            if not (0 < len(regime) <= MAX_NAME and regime.isprintable()):
                raise ReportError(f"{doc.where}: vecbench.allocator.regimes has a key "
                                  f"{_show(regime)}, expected a regime name")
            params = regimes_doc.sub(regime)
            regimes[regime] = {}
            for param in params.obj:
                if not (0 < len(param) <= MAX_NAME and param.isprintable()):
                    raise ReportError(f"{doc.where}: vecbench.allocator.regimes.{regime} has "
                                      f"a key {_show(param)}, expected a parameter name")
                regimes[regime][param] = params.integer(param, low=-(2**63), high=2**63 - 1)
        default = alloc.name("default", "undeclared")
        if regimes and default not in regimes:
            raise alloc.fail("default", default, "one of the declared regimes "
                             + ", ".join(regimes))
        huge_doc = alloc.sub("huge_pages", None)
        if huge_doc is not None and not set(huge_doc.obj) <= set(regimes):
            raise alloc.fail("huge_pages", sorted(huge_doc.obj), "states of the declared "
                             "regimes only (" + ", ".join(regimes) + ")")
        huge = None if huge_doc is None else {
            regime: huge_doc.name(regime, choices=HUGE_PAGE_STATES) for regime in huge_doc.obj}
        allocator = Allocator(controlled=alloc.flag("controlled"),
                              how=alloc.text("how", ""), default=default,
                              regimes=regimes, why=alloc.text("why", None),
                              huge_pages=huge, huge_pages_why=alloc.text("huge_pages_why", None),
                              transparent_hugepages=alloc.name("transparent_hugepages", None))
    state = top.sub("state", None)
    count = None if state is None else state.integer("cpu_count", None, low=1,
                                                     high=MAX_THREADS)
    samples = []
    for i, raw in enumerate([] if state is None else state.items("samples", [])):
        s = state.element("samples", i, raw)
        samples.append(StateSample(
            at=s.number("at", high=1e9), phase=s.name("phase", choices=PHASES),
            load1=s.number("load1", None, high=1e6),
            running=s.integer("running", None, high=10**7),
            other_cpu=s.number("other_cpu", None, high=MAX_THREADS),
            steal=s.number("steal", None, high=1.0),
            mhz=s.number("mhz", None, high=1e6, above=True)))
    absent = None
    if top.raw("absent", None) is not None:
        absent = []
        for i, raw in enumerate(top.items("absent")):
            a = top.element("absent", i, raw)
            absent.append(Absent(
                benchmark=a.name("benchmark"), measure=a.name("measure", choices=MEASURES),
                reason=a.name("reason", choices=REASONS), detail=a.text("detail", ""),
                kernel=a.name("kernel", None), backend=a.name("backend", None),
                variant=a.name("variant", None), size=a.integer("size", None, low=1),
                layout=a.name("layout", None, choices=LAYOUTS),
                threads=a.integer("threads", None, low=1, high=MAX_THREADS),
                allocator=a.name("allocator", None)))
    return profile, allocator, count, samples, absent, selection, recorded, beyond


def _pace(doc: _Fields) -> PaceRecord | None:
    """The run's ``vecbench.pace``, checked; None when not recorded."""
    top = doc.sub("vecbench", None)
    pace = None if top is None else top.sub("pace", None)
    if pace is None:
        return None
    return PaceRecord(waited_seconds=pace.number("waited_seconds", high=1e7),
                      benchmarks_waited=pace.integer("benchmarks_waited", low=0, high=10**9),
                      benchmarks_begun_slow=pace.integer("benchmarks_begun_slow", low=0,
                                                         high=10**9),
                      share=pace.number("share", high=1e3))


def load_run(path: str | Path) -> Run:
    """Read and check one saved pytest-benchmark run.

    Every field the report reads is checked (see the module's docstring)
    before anything is made of it.

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
        With one line naming the file, the benchmark and the field at fault.
    """
    path = Path(path)
    raw = _read_json(path)
    if not isinstance(raw, dict):
        raise ReportError(f"{path}: not a pytest-benchmark run (top level is "
                          f"{_show(raw)}, expected an object)")
    top = raw.get("vecbench")
    if isinstance(top, dict) and top.get("mode") == "instructions":
        raise ReportError(f"{path}: an instruction-count run (callgrind counts, not times), "
                          "which the wall-clock report does not draw: render it with python -m "
                          "reports.instructions, compare two with python -m reports.compare")
    benches = raw.get("benchmarks")
    if not isinstance(benches, list):
        raise ReportError(f"{path}: not a pytest-benchmark run (no 'benchmarks' list)")
    if not benches:
        raise ReportError(f"{path}: pytest-benchmark run with no benchmarks")
    doc = _Fields(str(path), "", raw)
    (profile, allocator, state_count, state, absent, selection, recorded,
     beyond) = _vecbench(doc)

    steady: list[Timing] = []
    compiles: list[Compile] = []
    ceilings: list[Ceiling] = []
    overheads: list[Overhead] = []
    for i, raw_bench in enumerate(benches):
        where = f"{path}: {_name_of(raw_bench, i)}"
        if not isinstance(raw_bench, dict):
            raise ReportError(f"{path}: benchmarks[{i}] is {_show(raw_bench)}, "
                              f"expected an object")
        bench = _Fields(where, "", raw_bench)
        if raw_bench.get("extra_info") is None:
            continue  # not a vecbench benchmark
        info = bench.sub("extra_info")
        measure = info.raw("measure", None)
        if measure is not None and not isinstance(measure, str):
            raise info.fail("measure", measure, "one of " + ", ".join(MEASURES))
        if measure == "compile":
            compiles.append(_compile(bench, info))
        elif measure == "ceiling":
            ceilings.append(_ceiling(info))
        elif measure == "overhead" and "backend" in info.obj:
            overheads.append(_overhead(bench, info))
        elif measure == "steady" or (
                measure is None and {"kernel", "backend", "size"} <= info.obj.keys()):
            steady.append(_steady(bench, info, allocator))
    if not steady:
        raise ReportError(f"{path}: no vecbench kernel benchmarks in this run "
                          f"(no benchmark has extra_info with kernel, backend and size)")

    host, cpu, count, caches, blas = _machine(doc)
    count = count or state_count
    machine = f"{host} ({cpu}{f', {count} cores' if count else ''})"
    unavailable, simd_path = _unavailable(doc)
    commit, commit_id, dirty, commit_time = _commit(doc)
    started = doc.when("datetime")
    notes = []
    if not any(t.data for t in steady):
        notes.append("per-round times were not saved (--benchmark-save-data): "
                     "no confidence intervals")
    return Run(path=path, machine=machine, commit=commit,
               date="" if started is None
               else started.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
               cpu_count=count, caches=caches, blas=blas,
               steady=steady, compiles=compiles, ceilings=best_ceilings(ceilings), notes=notes,
               overheads=overheads, unavailable=unavailable, simd_path=simd_path,
               profile=profile, state=state, absent=absent, allocator=allocator,
               host=host, cpu=cpu, commit_id=commit_id, dirty=dirty,
               commit_time=commit_time, started=started,
               kernels=kernel_facts(steady, recorded), selection=selection,
               beyond_cache=beyond, pace=_pace(doc))


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
    found = sorted((stamp, p.name, p) for p in root.glob("**/*.json")
                   if (stamp := _mtime(p)) is not None)
    if not found:
        raise ReportError(f"{root}: no saved run here; run `make bench` first")
    return found[-1][2]


def _mtime(path: Path) -> float | None:
    """When ``path`` was last written; None when it cannot be read (a dangling link)."""
    try:
        return path.stat().st_mtime
    except OSError:
        return None

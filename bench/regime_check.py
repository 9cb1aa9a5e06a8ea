"""Does the harness's median in each allocator regime match a plain ``timeit``?

Usage::

    python -m bench.regime_check RUN.json [--kernels magnitude,sum_sq_sin]
        [--size 1000000] [--impl numpy/vectorized] [--repeat 7] [--tolerance 0.15]

For each kernel and each regime the run declared (``vecbench.allocator``),
starts a fresh Python process with the regime's ``MALLOC_*`` environment
variables and its transparent huge pages (bench/allocator.py; the child turns
them off itself, before NumPy allocates, where the run did) and the
benchmark's thread count (OpenMP,
OpenBLAS, MKL and Numba), builds the spec's seeded inputs there, times the
same call with ``timeit`` (autorange, several repeats, median per call; each
repeat begun, as the harness begins a benchmark's rounds, once the machine is
back at its recent best pace: bench/pace.py), and prints a Markdown table
beside the run's median of the benchmark with that kernel, implementation,
size and regime.

Each target is timed in ``--processes`` fresh processes (3 by default), taken
in turn, and compared by the median of their medians: on the 2-core VM this
was written on, one fresh process timed numpy's sum_sq_sin at n = 10^6 at
23-36 ms where the next measured the same call steadily at 24 ms, so one
process alone is a draw, not a reference.  The table shows their range.
Each process is begun once the machine is back at its recent best pace, as
this process's own probes see it (waiting at most ``SETTLE_WAIT`` seconds):
a spell of a slower host lasts up to a minute there, longer than a child's
own wait, and a process timed inside one was set beside a harness figure
taken outside it.  The table shows the slowest pace at which they began.

Exit status: 0 when every row agrees within the tolerance, 1 when one does
not, 2 on unusable input (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import allocator, pace

DEFAULT_KERNELS = ("magnitude", "sum_sq_sin")
DEFAULT_SIZE = 1_000_000
DEFAULT_IMPL = "numpy/vectorized"
TOLERANCE = 0.15
#: Longest wait (seconds) before a timeit process for the machine's pace to return:
#: spells of a slower host last from seconds to a minute on the 2-core VM, and a
#: process timed inside one is set beside a harness figure taken outside it.
SETTLE_WAIT = 10.0
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS")

# Runs in the child: seeded inputs built under the regime, one untimed call
# (Numba compiles; the harness also calls once before timing), then timeit,
# each repeat begun as the harness begins a benchmark's rounds: with the
# machine back at its recent best pace (bench/pace.py).
_CHILD = """
import json, statistics, sys, timeit
from bench import allocator
kernel, backend, variant, n, layout, path, repeat, huge = sys.argv[1:9]
if huge:  # before NumPy allocates anything
    allocator.set_huge_pages(huge == "kernel")
import kernels
from bench import pace
impl = kernels.implementation(kernel, backend, variant, path or None)
args = impl.prepare(kernels.spec(kernel).inputs(int(n), layout))
func = impl.func
func(*args)
timer = timeit.Timer(lambda: func(*args))
number, _ = timer.autorange()
machine = pace.Pace(share=1.0)
machine.reading()
totals = []
for _ in range(int(repeat)):
    machine.settle()
    totals.append(timer.timeit(number))
faults = None
try:
    import resource
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    func(*args)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
except ImportError:
    pass
print(json.dumps({"median": statistics.median(totals) / number, "number": number,
                  "faults": faults, "huge_pages": allocator.huge_pages_allowed()}))
"""


class CheckError(Exception):
    """Unusable input; the message is one line."""


@dataclass(frozen=True)
class Target:
    """One harness benchmark to set a plain timeit beside."""

    kernel: str
    backend: str
    variant: str
    size: int
    layout: str
    threads: int
    simd_path: str | None
    regime: str
    env: dict[str, str]  # the regime's MALLOC_* variables
    harness_median: float
    harness_faults: float | None = None  # minor page faults per call, as recorded
    huge_pages: str | None = None  # "kernel" or "off" as the run declared; None: not declared
    #: The machine's pace before and after the harness's rounds (bench/pace.py), as recorded.
    harness_pace: tuple[float | None, float | None] = (None, None)


@dataclass(frozen=True)
class Row:
    target: Target
    timeit_medians: tuple[float, ...]  # one per fresh process
    timeit_faults: float | None = None
    #: The machine's pace as each timeit process began (this process's probes; 1: at its best).
    timeit_paces: tuple[float, ...] = ()

    @property
    def timeit_median(self) -> float:
        return statistics.median(self.timeit_medians)

    @property
    def ratio(self) -> float:
        return self.target.harness_median / self.timeit_median

    def agrees(self, tolerance: float = TOLERANCE) -> bool:
        return math.isfinite(self.ratio) and abs(self.ratio - 1.0) <= tolerance


#: Times one target in a fresh process: (target, repeat) -> seconds per call,
#: or (seconds per call, minor page faults per call or None).
Measure = Callable[[Target, int], "float | tuple[float, float | None]"]


def read_run(path: str | Path) -> dict[str, Any]:
    """The run's JSON document, or :class:`CheckError` with one line."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckError(f"{path}: cannot read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise CheckError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise CheckError(f"{path}: not a pytest-benchmark run (no 'benchmarks' list)")
    return doc


def declared_regimes(path: str | Path, doc: dict[str, Any]) -> dict[str, dict[str, str]]:
    """regime -> its environment variables, from the run's ``vecbench.allocator``."""
    vb = doc.get("vecbench")
    decl = vb.get("allocator") if isinstance(vb, dict) else None
    if not isinstance(decl, dict):
        raise CheckError(f"{path}: the run declares no allocator regime (no vecbench.allocator)")
    if not decl.get("controlled"):
        raise CheckError(f"{path}: the allocator was not controlled in this run "
                         f"({decl.get('why') or 'no reason given'})")
    regimes = decl.get("regimes")
    if not isinstance(regimes, dict) or not regimes:
        raise CheckError(f"{path}: vecbench.allocator.regimes is not a table of regimes")
    out = {}
    for name, params in regimes.items():
        if not isinstance(params, dict) or not all(
                p in allocator.ENV_NAMES and isinstance(v, int) and not isinstance(v, bool)
                for p, v in params.items()):
            known = ", ".join(allocator.ENV_NAMES)
            raise CheckError(f"{path}: vecbench.allocator.regimes[{name!r}] is not a table "
                             f"of mallopt parameters ({known}) to integers")
        out[str(name)] = {allocator.ENV_NAMES[p]: str(v) for p, v in params.items()}
    return out


def declared_huge_pages(doc: dict[str, Any]) -> dict[str, str]:
    """regime -> ``"kernel"`` or ``"off"``: transparent huge pages as the run
    set them (``vecbench.allocator.huge_pages``); empty for a run that did not."""
    decl = doc.get("vecbench", {}).get("allocator", {})
    huge = decl.get("huge_pages") if isinstance(decl, dict) else None
    if not isinstance(huge, dict):
        return {}
    return {str(k): v for k, v in huge.items() if v in ("kernel", "off")}


def find_targets(path: str | Path, doc: dict[str, Any], kernels: Sequence[str], size: int,
                 backend: str, variant: str) -> list[Target]:
    """The run's benchmark for each kernel and declared regime.

    Raises
    ------
    CheckError
        A kernel and regime without a benchmark in the run.
    """
    regimes = declared_regimes(path, doc)
    huge = declared_huge_pages(doc)
    found: dict[tuple[str, str], Target] = {}
    for bench in doc["benchmarks"]:
        info = bench.get("extra_info") if isinstance(bench, dict) else None
        stats = bench.get("stats") if isinstance(bench, dict) else None
        if not isinstance(info, dict) or not isinstance(stats, dict):
            continue
        if (info.get("measure", "steady") != "steady" or info.get("kernel") not in kernels
                or info.get("backend") != backend or info.get("variant") != variant
                or info.get("size") != size or info.get("allocator") not in regimes):
            continue
        median = stats.get("median")
        if not isinstance(median, (int, float)) or not median > 0:
            raise CheckError(f"{path}: benchmark {bench.get('name')!r} has no usable median")
        key = (info["kernel"], info["allocator"])
        target = Target(
            kernel=info["kernel"], backend=backend, variant=variant, size=size,
            layout=str(info.get("layout", "C")), threads=int(info.get("threads") or 1),
            simd_path=info.get("simd_path"), regime=info["allocator"],
            env=regimes[info["allocator"]], harness_median=float(median),
            harness_faults=_number(info.get("minor_faults_per_call")),
            huge_pages=huge.get(info["allocator"]),
            harness_pace=_pace_of(info.get("state")))
        # One thread and C order first, where the run has several.
        rank = (target.threads != 1, target.layout != "C")
        if key not in found or rank < (found[key].threads != 1, found[key].layout != "C"):
            found[key] = target
    missing = [f"{k} ({r})" for k in kernels for r in regimes if (k, r) not in found]
    if missing:
        raise CheckError(f"{path}: no {backend}/{variant} benchmark at n={size} for "
                         f"{', '.join(missing)} in the run")
    return [found[k, r] for k in kernels for r in regimes]


def _pace_of(state: Any) -> tuple[float | None, float | None]:
    if not isinstance(state, dict):
        return (None, None)
    return (_number(state.get("pace_before")), _number(state.get("pace_after")))


def _number(value: Any) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else None


def child_environment(target: Target) -> dict[str, str]:
    """This process's environment, with the target's regime and thread count only."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("MALLOC_") or k == "GLIBC_TUNABLES")}
    env.update(target.env)
    env.update({k: str(target.threads) for k in THREAD_VARIABLES})
    # The child imports kernels as this process did: installed, or from the
    # current folder (python -c puts it first on sys.path), which it inherits.
    return env


def measure_in_child(target: Target, repeat: int) -> tuple[float, float | None]:
    """Seconds per call of ``target`` timed by ``timeit`` in a fresh process,
    and the minor page faults of one more call there."""
    argv = [sys.executable, "-c", _CHILD, target.kernel, target.backend, target.variant,
            str(target.size), target.layout, target.simd_path or "", str(repeat),
            target.huge_pages or ""]
    done = subprocess.run(argv, env=child_environment(target),
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise CheckError(f"timing {target.kernel} {target.backend}/{target.variant} in the "
                         f"'{target.regime}' regime failed: {last}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return float(out["median"]), _number(out.get("faults"))


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"


def table(rows: Sequence[Row], tolerance: float = TOLERANCE) -> str:
    """The Markdown table of the comparison."""
    pct = f"{tolerance:.0%}"
    lines = [f"| kernel | regime | harness median | timeit median | ratio | agrees within {pct} "
             "| timeit's processes | machine's pace around the harness's rounds "
             "| as timeit's processes began (slowest) |",
             "|---|---|---:|---:|---:|---|---|---|---|"]
    for r in rows:
        t = r.target
        spread = (f"{len(r.timeit_medians)}: {_ms(min(r.timeit_medians))} to "
                  f"{_ms(max(r.timeit_medians))}")
        lines.append(f"| {t.kernel} | {t.regime} | {_ms(t.harness_median)} | "
                     f"{_ms(r.timeit_median)} | {r.ratio:.2f} | "
                     f"{'yes' if r.agrees(tolerance) else 'no'} | {spread} | "
                     f"{_pace_text(t.harness_pace)} | {_slowest_text(r.timeit_paces)} |")
    if any(_slow(r.target.harness_pace) or _slow(_slowest(r.timeit_paces)) for r in rows):
        lines += ["", f"(slow): the machine ran more than {pace.SLOW}x slower than its recent "
                  "best around those rounds or as those processes began (bench/pace.py), even "
                  "after waiting for it; the report marks such benchmarks, and their figure is the "
                  "machine's as much as the method's."]
    faults = [r for r in rows if r.target.harness_faults is not None or r.timeit_faults is not None]
    if faults:
        lines += ["", "Minor page faults per call (harness / timeit's process; not blurred by "
                  "load): " + "; ".join(
                      f"{r.target.kernel} {r.target.regime}{_huge(r.target)} "
                      f"{_count(r.target.harness_faults)} / "
                      f"{_count(r.timeit_faults)}" for r in faults)]
    return "\n".join(lines)


def _slow(p: tuple[float | None, float | None]) -> bool:
    return pace.slower(*p) > pace.SLOW


def _pace_text(p: tuple[float | None, float | None]) -> str:
    if p == (None, None):
        return "not recorded"
    text = " / ".join("-" if x is None else f"{x:.2f}" for x in p)
    return text + (" (slow)" if _slow(p) else "")


def _slowest(paces: Sequence[float]) -> tuple[float | None, None]:
    """The slowest of the timeit processes' paces, as a (before, after) pair."""
    return (max(paces, default=None), None)


def _slowest_text(paces: Sequence[float]) -> str:
    if not paces:
        return "not recorded"
    return f"{max(paces):.2f}" + (" (slow)" if _slow(_slowest(paces)) else "")


def _huge(target: Target) -> str:
    said = {"off": "huge pages off", "kernel": "huge pages as the kernel gives them"}
    return f" ({said[target.huge_pages]})" if target.huge_pages in said else ""


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def check(path: str | Path, kernels: Sequence[str], size: int, impl: str,
          measure: Measure = measure_in_child, repeat: int = 7,
          processes: int = 3, machine: pace.Pace | None = None) -> list[Row]:
    """Each target of the run beside its timeit in ``processes`` fresh processes of
    the same regime, taken in turn (every target once, then again).

    With ``machine``, each process is begun once the machine is back at its
    recent best pace (this process's probes, :meth:`bench.pace.Pace.settle`),
    as the harness begins a benchmark's rounds, and that pace is kept.  No
    reading is taken after a process: this one has sat idle meanwhile, and on
    the 2-core VM its first probes after a child then read 1.2-2.3x slow
    with nothing else running.
    """
    backend, sep, variant = impl.partition("/")
    if not sep or not backend or not variant:
        raise CheckError(f"--impl must be backend/variant (e.g. {DEFAULT_IMPL}), got {impl!r}")
    doc = read_run(path)
    targets = find_targets(path, doc, kernels, size, backend, variant)
    times: dict[int, list[float]] = {i: [] for i in range(len(targets))}
    paces: dict[int, list[float]] = {i: [] for i in range(len(targets))}
    faults: dict[int, float | None] = {}
    for _ in range(processes):
        for i, t in enumerate(targets):
            if machine is not None:
                paces[i].append(machine.settle()[0])
            got = measure(t, repeat)
            seconds, fault = got if isinstance(got, tuple) else (got, None)
            times[i].append(float(seconds))
            faults.setdefault(i, fault)
    return [Row(t, tuple(times[i]), faults[i], tuple(paces[i])) for i, t in enumerate(targets)]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.regime_check",
        description="Set the harness's median in each allocator regime beside a plain "
                    "timeit in a fresh process of the same regime.")
    p.add_argument("run", help="a saved run (pytest --benchmark-json)")
    p.add_argument("--kernels", default=",".join(DEFAULT_KERNELS),
                   help="comma-separated kernels (default: %(default)s)")
    p.add_argument("--size", type=int, default=DEFAULT_SIZE, help="default: %(default)s")
    p.add_argument("--impl", default=DEFAULT_IMPL,
                   help="backend/variant (default: %(default)s)")
    p.add_argument("--repeat", type=int, default=7, help="timeit repeats (default: %(default)s)")
    p.add_argument("--processes", type=int, default=3,
                   help="fresh processes per target, their medians' median compared "
                        "(default: %(default)s)")
    p.add_argument("--tolerance", type=float, default=TOLERANCE,
                   help="relative difference that still agrees (default: %(default)s)")
    return p


def main(argv: Sequence[str] | None = None, measure: Measure = measure_in_child,
         machine: pace.Pace | None = None) -> int:
    """Print the table; 0 when every row agrees, 1 when one does not, 2 on unusable input.

    A real measurement (``measure_in_child``) waits for the machine's pace
    unless ``machine`` says otherwise; a fake one (tests) times nothing and
    waits for nothing unless given a ``machine``.
    """
    args = _parser().parse_args(argv)
    if machine is None and measure is measure_in_child:
        machine = pace.Pace(share=1.0, wait=SETTLE_WAIT)
    kernels = [k.strip() for k in args.kernels.split(",") if k.strip()]
    try:
        if not kernels:
            raise CheckError("--kernels names no kernel")
        if args.size < 1 or args.repeat < 1 or args.processes < 1 or not args.tolerance > 0:
            raise CheckError("--size, --repeat and --processes must be >= 1 and "
                             "--tolerance > 0")
        rows = check(args.run, kernels, args.size, args.impl, measure, args.repeat,
                     args.processes, machine)
    except CheckError as exc:
        print(f"regime_check: {exc}", file=sys.stderr)
        return 2
    print(table(rows, args.tolerance))
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    if load is not None:
        print(f"\nload average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
              f"({os.cpu_count()} cores)")
    return 0 if all(r.agrees(args.tolerance) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

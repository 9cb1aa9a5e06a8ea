"""``python -m bench.instructions``: one instruction-count run of the CI profile.

What the CPU executes, counted under valgrind's callgrind, instead of how
long it took: identical code gives identical counts on a busy machine, so
a 1% change is a real change.  The benchmarks of the profile run under one
valgrind command (bench/callgrind.py), instrumentation switched on only
around their calls (bench/_callgrind.pyx, one dump per benchmark);
interpreter start-up, imports, Numba's compilation, input preparation and
the correctness check are not counted.  The run keeps each benchmark's raw
counts (instructions, simulated cache misses) and its estimated cost per
call (bench.callgrind.COST_FORMULA); ``python -m reports.compare BASE NEW``
gates two such runs on the cost (reports/instructions.py), and
``python -m reports.ci_bench --mode instructions BASE`` does base and
working tree in one go.

How a run is made (:func:`measure`):

1. the tree is built where valgrind can run it: a copy (the files git tracks
   or would track) installed with ``pip install --no-deps
   --no-build-isolation --target`` and ``VECBENCH_MARCH=x86-64-v3`` (AVX2,
   no AVX-512, which valgrind cannot execute); the third-party libraries
   are this environment's, the same for every tree measured.
   ``--installed`` measures the installed vecbench instead (its Cython
   backend only when that build is one valgrind runs);
2. ``fill``, outside valgrind (bench/instruction_child.py): resolves the
   profile against the tree's registry, checks every implementation against
   its reference (long double), and compiles the Numba kernels into Numba's
   on-disk cache;
3. ``count``, inside valgrind: the same environment, so the cache is hit and
   nothing is compiled.  The parent process imports and initializes Numba,
   then forks a process per benchmark, so that each starts from the same
   state whatever else the profile holds (measured: without it, counts of
   the same benchmark moved by up to 50% with what ran before it, through
   Python's specializing interpreter and the heap).  Each: inputs, a checked
   call, :data:`WARMUPS` uncounted calls when the call does little work,
   then a warm-up call and :data:`CALLS` counted ones with instrumentation on.

Both processes get the same environment (:func:`environment`): Numba's
target forced to ``NUMBA_CPU_NAME=haswell`` with AVX2-level features and
the SIMD path to ``VECBENCH_SIMD=avx2`` on both sides (valgrind runs no
AVX-512), one thread everywhere (BLAS, OpenMP, Numba), OpenBLAS's kernels
pinned to Haswell's, the fresh allocator regime (:data:`ALLOCATOR`) and
``PYTHONHASHSEED=0``.  Inputs are the specs' seeded ones (seed 0).

The profile (:data:`PROFILE`, a dict keyed by kernel; kernels it does not
name, e.g. ones loaded with ``--kernels``, get a size from their quick
ladder, :data:`FALLBACK_WORK`): every kernel x backend at its default
variant, plus the loop orders of the row and column sums, at sizes where a
call is long enough to matter and short enough for valgrind; the python
backend at small sizes only; col_sums in C order at n=2048, whose 32 MiB
matrix is beyond the simulated 8 MiB last-level cache.  Left out, recorded
with why: multi-threaded variants (valgrind runs threads one at a time:
threads are the wall-clock gate's job), and what the tree cannot run.

Exit status: 0 when the run was written, 2 when it could not be made (one
line: valgrind or its headers missing, a bad argument, a build or child
process that failed, with the last lines of its log), 130 when interrupted.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench import allocator, callgrind

#: Counted calls per benchmark (after one warm-up call).
CALLS = 2
#: The seed of every input (KernelSpec.inputs).
SEED = 0
#: What the Cython extension is built for under valgrind (VECBENCH_MARCH).
MARCH = "x86-64-v3"
#: Numba's target on both sides of valgrind: an AVX2 CPU (valgrind runs no AVX-512).
NUMBA_CPU_NAME = "haswell"
NUMBA_CPU_FEATURES = ("+64bit,+avx,+avx2,+bmi,+bmi2,+cmov,+cx16,+cx8,+f16c,+fma,+fxsr,+lzcnt,"
                      "+mmx,+movbe,+popcnt,+sahf,+sse,+sse2,+sse3,+sse4.1,+sse4.2,+ssse3,+xsave,"
                      "-avx512f,-avx512bw,-avx512cd,-avx512dq,-avx512vl")
#: The SIMD path (kernels.simd) forced on both sides.
SIMD_PATH = "avx2"
#: OpenBLAS's kernels, pinned (else chosen from the CPU valgrind presents).
OPENBLAS_CORETYPE = "Haswell"
#: The allocator regime of both processes (bench/allocator.py): every block
#: of a page or more a fresh mapping, so where it starts in a page, which
#: decides the first-level cache sets it falls in, does not depend on the
#: heap's history (in the warm regime it does: measured, a 2x difference in
#: a column sum's misses).  Callgrind counts no page fault either way.
ALLOCATOR = "fresh"
#: Uncounted calls before the counted ones of a call of little work (at most
#: WARMUP_WORK: flops, or bytes / 8), so that Python's specializing
#: interpreter has rewritten the bytecode on the call's path (after 8 calls,
#: then specialized instructions) before counting; calls of more work: 2.
WARMUPS = 32
WARMUP_WORK = 1e6
#: A kernel the profile does not name: the largest size of its quick ladder
#: whose work model (max of flops and bytes / 8) is at most this; python at most
#: FALLBACK_PYTHON_WORK.
FALLBACK_WORK = 2e6
FALLBACK_PYTHON_WORK = 2e4
#: Where the Debian package with valgrind's headers is named, for the refusal.
HEADERS_HINT = ("valgrind's headers (valgrind/callgrind.h) were missing when vecbench was "
                "built; install Debian's valgrind package (apt-get install valgrind), "
                "which ships them, then reinstall vecbench (make install)")


@dataclass(frozen=True)
class Rule:
    """One kernel in the instruction profile: its (size, layout) cases.

    ``cases`` for the compiled and NumPy backends, ``python_cases`` for the
    python backend; ``variants`` run besides each backend's default.
    """

    cases: tuple[tuple[int, str], ...]
    python_cases: tuple[tuple[int, str], ...] = ()
    variants: tuple[str, ...] = ()


def _c(*sizes: int) -> tuple[tuple[int, str], ...]:
    return tuple((n, "C") for n in sizes)


#: The CI instruction profile.  Every working set is well inside a simulated
#: cache or well beyond it, never near its size: there the misses would
#: depend on where the arrays happen to lie.  Every call costs 0.3 million
#: or more: a call of 10^4 to 10^5 (the per-call overhead of checks and
#: dispatch, n = 100) moved by up to 2% against a tree with unrelated
#: changes, through where the interpreter's own data lay in the simulated
#: first-level cache; at 10^6 and more, by under 0.05%.  So: vectors at 10^5
#: (0.8 MB a vector: beyond the first level, inside the last).  The sums in C
#: order at 2048 (32 MiB: beyond the 8 MiB last level; a column at a time,
#: each access misses both levels) and in Fortran order at 512 (2 MiB).
#: matmul at 128 (the naive loop's column of B misses the first level at
#: every step).  The python backend at small sizes (the interpreter under
#: valgrind is slow), C order only (its lists of rows have no layout).
PROFILE: dict[str, Rule] = {
    "magnitude": Rule(_c(100_000), python_cases=_c(2000)),
    "sum_of_squares": Rule(_c(100_000), python_cases=_c(2000)),
    "sum_sq_sin": Rule(_c(100_000), python_cases=_c(2000)),
    "row_sums": Rule(((2048, "C"), (512, "F")), python_cases=_c(64),
                     variants=("row_at_a_time", "column_streaming")),
    "col_sums": Rule(((2048, "C"), (512, "F")), python_cases=_c(64),
                     variants=("column_at_a_time", "row_streaming")),
    "matmul": Rule(_c(128), python_cases=_c(24)),
}


class InstructionError(Exception):
    """The instruction mode cannot run or a step failed; the message's first line says why."""


# --------------------------------------------------------------------------
# What is needed
# --------------------------------------------------------------------------
def client_module() -> Path:
    """The compiled client-request module (bench/_callgrind.pyx).

    Raises
    ------
    InstructionError
        When it is not built, or was built without valgrind's headers.
    """
    found = importlib.util.find_spec("bench._callgrind")
    if found is None or not found.origin:
        raise InstructionError("bench._callgrind is not built: " + HEADERS_HINT)
    from bench import _callgrind  # type: ignore[attr-defined]

    if not _callgrind.HEADERS:
        raise InstructionError(HEADERS_HINT)
    return Path(found.origin)


def check_tools() -> Path:
    """The client module's path, once valgrind and its headers are known to be here.

    Raises
    ------
    InstructionError
        One line: valgrind is not installed, or its headers were missing at build time.
    """
    if callgrind.valgrind() is None:
        raise InstructionError("valgrind is not installed (no valgrind on PATH); install "
                               "Debian's valgrind package (apt-get install valgrind)")
    return client_module()


def environment(work: Path, site: Path | None, base: dict[str, str] | None = None
                ) -> dict[str, str]:
    """The environment of both child processes (see the module's docstring)."""
    env = dict(os.environ if base is None else base)
    for name in list(env):
        if name.startswith(("NUMBA_", "VECBENCH_", "OMP_", "OPENBLAS_", "MKL_", "MALLOC_",
                            "PYTHON")):
            del env[name]
    env.update({
        "PYTHONHASHSEED": "0",
        "VECBENCH_SIMD": SIMD_PATH,
        "NUMBA_CPU_NAME": NUMBA_CPU_NAME,
        "NUMBA_CPU_FEATURES": NUMBA_CPU_FEATURES,
        "NUMBA_CACHE_DIR": str(work / "numba-cache"),
        "NUMBA_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_CORETYPE": OPENBLAS_CORETYPE,
        **allocator.environment(ALLOCATOR),
    })
    if site is not None:
        env["PYTHONPATH"] = str(site)
    return env


def pinned() -> dict[str, str]:
    """The settings :func:`environment` pins, as a run records them."""
    env = environment(Path("WORK"), None, base={})
    env.pop("NUMBA_CACHE_DIR")
    return env


# --------------------------------------------------------------------------
# Trees
# --------------------------------------------------------------------------
def git(*args: str, cwd: Path) -> str:
    """``git ARGS`` in ``cwd``, its output stripped (raises CalledProcessError)."""
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def top_level(folder: Path) -> Path:
    """The git work tree holding ``folder``.

    Raises
    ------
    InstructionError
        When ``folder`` is not inside one.
    """
    try:
        return Path(git("rev-parse", "--show-toplevel", cwd=folder))
    except (OSError, subprocess.CalledProcessError):
        raise InstructionError(f"{folder}: not inside a git work tree; run this in a vecbench "
                               "checkout, or pass --installed to measure the installed "
                               "vecbench") from None


def copy_tree(root: Path, dest: Path) -> None:
    """The files of ``root`` that git tracks or would track (not ignored ones), into ``dest``."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], cwd=root, check=True,
                             capture_output=True).stdout.decode()
    for name in filter(None, listing.split("\0")):
        source = root / name
        if source.is_file():  # skips files deleted in the working tree
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def commit_of(tree: Path, dirty: bool | None = None) -> dict[str, Any]:
    """``commit_info`` of a run: the commit of ``tree``, whether it had changes, its time."""
    try:
        sha = git("rev-parse", "HEAD", cwd=tree)
        when = git("show", "-s", "--format=%cI", "HEAD", cwd=tree)
        if dirty is None:
            dirty = bool(git("status", "--porcelain", "--untracked-files=no", cwd=tree))
    except (OSError, subprocess.CalledProcessError):
        return {"id": "no commit", "dirty": False}
    return {"id": sha, "dirty": bool(dirty), "time": when}


def _tail(log: Path, lines: int = 15) -> str:
    try:
        text = log.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


#: The child processes running now (any thread), so an interrupt can stop them all.
_RUNNING: set[subprocess.Popen[bytes]] = set()
_LOCK = threading.Lock()


def stop_all() -> None:
    """Kill every child process started here that still runs (and what it forked)."""
    with _LOCK:
        running = list(_RUNNING)
    for proc in running:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass


def _run_logged(cmd: Sequence[str], log: Path, what: str, cwd: Path,
                env: dict[str, str] | None = None) -> float:
    """Run ``cmd`` with its output appended to ``log``; return its CPU seconds.

    It runs in a session of its own, so :func:`stop_all` stops it with its
    forked processes.

    Raises
    ------
    InstructionError
        When it exits non-zero: the first line says what failed, then the
        last lines of the log.
    """
    with log.open("a") as f:
        f.write(f"\n$ (cd {cwd} && {' '.join(map(str, cmd))})\n")
        f.flush()
        proc = subprocess.Popen(list(map(str, cmd)), cwd=cwd, env=env, stdout=f,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        with _LOCK:
            _RUNNING.add(proc)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            stop_all()
            proc.wait()
            raise
        finally:
            with _LOCK:
                _RUNNING.discard(proc)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        last = _tail(log, 1)
        if proc.returncode == 2 and last.startswith("error: "):  # the child's own one line
            raise InstructionError(last.removeprefix("error: "))
        raise InstructionError(f"{what} failed (exit {proc.returncode}); last lines of "
                               f"{log}:\n{_tail(log)}")
    return usage.ru_utime + usage.ru_stime


def build(src: Path, site: Path, log: Path, march: str = MARCH) -> Path:
    """Install the tree ``src`` into the folder ``site`` for valgrind.

    ``pip install --no-deps --no-build-isolation --target site src`` with
    ``VECBENCH_MARCH=march``: this interpreter's Cython and setuptools build
    it, its libraries run it (the same for every tree measured).

    Raises
    ------
    InstructionError
        When Cython or setuptools is missing here, or the build fails.
    """
    for module in ("Cython", "setuptools"):
        if importlib.util.find_spec(module) is None:
            raise InstructionError(f"building a tree for valgrind needs {module} in this "
                                   "environment (pip install -e '.[test]')")
    env = dict(os.environ, VECBENCH_MARCH=march, PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PYTHONPATH", None)
    # No isolated build environment, so no build constraints: pip refuses
    # PIP_BUILD_CONSTRAINT (which the Makefile sets) with --no-build-isolation,
    # and the Cython and setuptools used are this environment's, locked already.
    env.pop("PIP_BUILD_CONSTRAINT", None)
    _run_logged([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                 "--no-build-isolation", "--target", str(site), str(src)], log,
                f"building {src} with VECBENCH_MARCH={march}", cwd=src, env=env)
    if not (site / "kernels").is_dir():
        raise InstructionError(f"building {src} installed no kernels package into {site}")
    return site


# --------------------------------------------------------------------------
# A run
# --------------------------------------------------------------------------
@dataclass
class Side:
    """A tree to count: its label, interpreter, built packages and commit.

    ``site`` is the folder on ``PYTHONPATH`` holding the tree's packages
    (:func:`build`); None measures the packages installed in ``python``'s
    environment.
    """

    label: str
    python: Path
    site: Path | None
    commit: dict[str, Any] = field(default_factory=dict)


def plan(kernels: Sequence[str] | None = None, backends: Sequence[str] | None = None,
         variants: Sequence[str] | None = None, sizes: Sequence[int] | None = None,
         layouts: Sequence[str] | None = None, sources: Sequence[str] = (),
         calls: int = CALLS) -> dict[str, Any]:
    """What the child runs: the profile, the selection, the sources of extra kernels."""
    return {
        "profile": {k: {"cases": [list(c) for c in r.cases],
                        "python_cases": [list(c) for c in r.python_cases],
                        "variants": list(r.variants)}
                    for k, r in PROFILE.items()},
        "fallback": {"work": FALLBACK_WORK, "python_work": FALLBACK_PYTHON_WORK},
        "kernels": list(kernels) if kernels else None,
        "backends": list(backends) if backends else None,
        "variants": list(variants) if variants else None,
        "sizes": list(sizes) if sizes else None,
        "layouts": list(layouts) if layouts else None,
        "sources": [str(Path(s).resolve()) if s.endswith(".py") or "/" in s else s
                    for s in sources],
        "calls": calls,
        "warmups": WARMUPS,
        "warmup_work": WARMUP_WORK,
        "seed": SEED,
    }


def _cpu_brand() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def measure(side: Side, the_plan: dict[str, Any], folder: Path, client: Path
            ) -> dict[str, Any]:
    """Make one instruction-count run of ``side`` in ``folder``; return the run (JSON).

    Raises
    ------
    InstructionError
        When a child process fails (the last lines of its log), or its
        dumps cannot be read.
    """
    harness, work, dumps = folder / "harness", folder / "work", folder / "dumps"
    for path in (harness, work, dumps):
        path.mkdir(parents=True, exist_ok=True)
    script = importlib.util.find_spec("bench.instruction_child")
    assert script is not None and script.origin is not None
    shutil.copy2(script.origin, harness / "instruction_child.py")
    shutil.copy2(client, harness / client.name)
    (work / "plan.json").write_text(json.dumps(the_plan, indent=1))
    env = environment(work, side.site)
    log = folder / "log.txt"
    child = [str(side.python), str(harness / "instruction_child.py")]
    started = time.perf_counter()
    fill_cpu = _run_logged([*child, "fill", str(work)], log,
                           f"{side.label}: filling Numba's cache and checking the "
                           "implementations (outside valgrind)", cwd=work, env=env)
    filled = time.perf_counter()
    resolved = json.loads((work / "resolved.json").read_text())
    if side.site is not None and not Path(resolved["kernels_file"]).is_relative_to(
            side.site.resolve()):
        raise InstructionError(f"{side.label}: the child imported {resolved['kernels_file']}, "
                               f"not the build in {side.site}")
    count_cpu = _run_logged([str(callgrind.valgrind()), *callgrind.options(dumps), *child,
                             "count", str(work)], log, f"{side.label}: counting under valgrind",
                            cwd=work, env=env)
    counted_at = time.perf_counter()
    counted = {bench["id"]: json.loads(path.read_text()) for bench, path in zip(
        resolved["benchmarks"], sorted((work / "counted").glob("*.json")), strict=True)}
    try:
        found = callgrind.read_dumps(dumps)
    except callgrind.DumpError as exc:
        raise InstructionError(f"{side.label}: {exc}") from None
    calls = int(the_plan["calls"])
    benchmarks, absent = [], list(resolved["absent"])
    for bench in resolved["benchmarks"]:
        name, result = bench["id"], counted.get(bench["id"], {})
        if "failed" in result or name not in found:
            absent.append({"benchmark": name, "measure": "instructions",
                           "reason": "failed" if "failed" in result else "error",
                           "detail": result.get("failed", "no callgrind dump was written"),
                           **{k: bench[k] for k in ("kernel", "backend", "variant", "size",
                                                    "layout")}, "threads": 1})
            continue
        counts = found[name].counts
        benchmarks.append({"name": name, "fullname": name, "extra_info": {
            "measure": "instructions",
            **{k: bench[k] for k in ("kernel", "backend", "variant", "size", "layout")},
            "default_variant": bench["default"], "threads": 1, "calls": calls,
            "counts": {e: counts[e] for e in callgrind.EVENTS},
            "cost_per_call": callgrind.cost(counts) / calls,
            "jit": bench.get("jit"), "jit_cache": result.get("jit_cache"),
        }})
    return {
        "vecbench": {
            "version": 1, "mode": "instructions", "profile": "instructions",
            "selection": resolved["selection"], "kernels": resolved["kernels"],
            "absent": absent,
            "instructions": {
                "tool": "callgrind", "valgrind": callgrind.version(),
                "options": callgrind.options(".")[:-1],
                "caches": {k: {"bytes": s, "ways": w, "line": line}
                           for k, (s, w, line) in callgrind.CACHES.items()},
                "cost": {"formula": callgrind.COST_FORMULA,
                         "l1_miss_weight": callgrind.L1_MISS_WEIGHT,
                         "ll_miss_weight": callgrind.LL_MISS_WEIGHT},
                "calls": calls, "warmup_calls": 1, "seed": the_plan["seed"],
                "environment": pinned(), "build": resolved["build"],
                "versions": resolved["versions"], "simd": resolved["simd"],
                "tree": "installed" if side.site is None else f"built with VECBENCH_MARCH={MARCH}",
                # Wall time, and the CPU time of the processes (the machine may be shared).
                "seconds": {"fill": round(filled - started, 1),
                            "valgrind": round(counted_at - filled, 1),
                            "fill_cpu": round(fill_cpu, 1),
                            "valgrind_cpu": round(count_cpu, 1)},
            },
        },
        "machine_info": {"node": platform.node(), "machine": platform.machine(),
                         "cpu": {"brand_raw": _cpu_brand()},
                         "vecbench": {"cpu_count": os.cpu_count() or 1}},
        "commit_info": side.commit,
        "datetime": datetime.now(timezone.utc).isoformat(),
        "benchmarks": benchmarks,
    }


def write_run(run: dict[str, Any], out: Path) -> None:
    """Write ``run`` to ``out`` whole (a partial file is never left behind)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    tmp.write_text(json.dumps(run, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, out)


def summary_line(run: dict[str, Any]) -> str:
    """One line on what a run holds."""
    info = run["vecbench"]["instructions"]
    absent = run["vecbench"]["absent"]
    took = info["seconds"]
    return (f"{len(run['benchmarks'])} benchmarks counted, {len(absent)} left out; "
            f"fill {took['fill']:.0f} s, valgrind {took['valgrind']:.0f} s "
            f"(CPU {took['fill_cpu']:.0f} s and {took['valgrind_cpu']:.0f} s)")


def _names(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def _sizes(text: str) -> list[int]:
    out = []
    for v in _names(text):
        try:
            n = int(float(v)) if "e" in v.lower() else int(v)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{v!r} is not a size") from None
        if n < 1:
            raise argparse.ArgumentTypeError(f"{v!r}: sizes are positive")
        out.append(n)
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench.instructions",
        description="One instruction-count run (valgrind's callgrind) of the CI profile, "
                    "saved as a run that python -m reports.compare gates on counts.",
        epilog="examples:\n"
               "  python -m bench.instructions --out base.json\n"
               "  python -m bench.instructions --kernel col_sums --backend numba --out x.json\n"
               "  python -m reports.compare base.json new.json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("instructions.json"),
                   help="the run file (default: ./instructions.json)")
    p.add_argument("--installed", action="store_true",
                   help="measure the installed vecbench as it is, not a build of the "
                        "current git tree (its Cython backend only if valgrind can run it)")
    p.add_argument("--kernels", action="append", default=[], metavar="SOURCE",
                   help="a .py file or module of kernels from outside vecbench "
                        "(kernels.external); repeatable")
    p.add_argument("--kernel", type=_names, help="only these kernels (comma-separated)")
    p.add_argument("--backend", type=_names, help="only these backends")
    p.add_argument("--variant", type=_names, help="only these variants")
    p.add_argument("--sizes", type=_sizes, help="exactly these sizes, for every backend")
    p.add_argument("--layout", type=_names, help="only these layouts (C, F)")
    p.add_argument("--calls", type=int, default=CALLS,
                   help=f"counted calls per benchmark (default {CALLS})")
    p.add_argument("--keep", type=Path, metavar="DIR",
                   help="keep the work folder (logs, dumps) as DIR")
    return p


def run_once(args: argparse.Namespace) -> dict[str, Any]:
    """Build (unless ``--installed``) and measure; return the run."""
    client = check_tools()
    if args.calls < 1:
        raise InstructionError(f"--calls {args.calls}: at least 1")
    the_plan = plan(args.kernel, args.backend, args.variant, args.sizes, args.layout,
                    args.kernels, args.calls)
    folder = Path(tempfile.mkdtemp(prefix="vecbench-instructions-"))
    try:
        if args.installed:
            side = Side("installed", Path(sys.executable), None,
                        commit_of(Path.cwd()) if shutil.which("git") else {})
        else:
            root = top_level(Path.cwd())
            print(f"instructions: building {root} for valgrind (VECBENCH_MARCH={MARCH})",
                  flush=True)
            copy_tree(root, folder / "A" / "src")
            site = build(folder / "A" / "src", folder / "A" / "site", folder / "A" / "log.txt")
            side = Side("tree", Path(sys.executable), site, commit_of(root))
        print("instructions: counting (fill Numba's cache, then one valgrind process)",
              flush=True)
        return measure(side, the_plan, folder / "A", client)
    finally:
        if args.keep:
            if args.keep.exists():
                shutil.rmtree(args.keep)
            shutil.move(str(folder), str(args.keep))
        else:
            shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    """Make one run; return 0, 2 (could not) or 130 (interrupted)."""
    args = parser().parse_args(argv)
    try:
        run = run_once(args)
        write_run(run, args.out)
    except InstructionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    print(f"instructions: {summary_line(run)}; saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The instruction mode's child process: ``fill`` outside valgrind, ``count`` inside it.

    python instruction_child.py fill WORK
    valgrind --tool=callgrind ... python instruction_child.py count WORK

bench/instructions.py copies this file, with the compiled client requests
(bench/_callgrind.pyx, imported here as the top-level module ``_callgrind``),
into a folder of their own and runs it with the interpreter and the
``kernels`` package of the tree being measured, which may be an older tree
(the base of a comparison).  So it imports nothing from ``bench``, and from
``kernels`` only what trees have long had (``implementation``, ``variants``,
``BACKENDS``, ``backend_error``, a spec's ``inputs``, ``reference``,
``mismatch`` and ``checker``), plus ``kernels.external`` when kernels from
outside vecbench are asked for.  Both modes get the same environment
(bench/instructions.py: the Numba target and cache folder, the SIMD path,
one thread everywhere, the allocator, the hash seed).

``WORK/plan.json`` says what to run (written by bench/instructions.py).

fill
    Resolves the plan against this tree's registry into benchmarks (and what
    is left out, with why); makes every input, calls each implementation once
    and checks it against the kernel's reference (long double, which valgrind
    cannot compute: it runs x87 code in double precision); saves the
    reference results; and compiles the Numba implementations into Numba's
    on-disk cache (``NUMBA_CACHE_DIR``).  The project compiles its kernels
    with ``cache=False`` on purpose (bench_jit measures the compile), so here
    each dispatcher gets a twin: ``numba.njit(cache=True, **its options)``
    over the same Python function; a Python wrapper around a dispatcher (the
    kernels whose result NumPy allocates) is rebuilt around the twin.  Writes
    ``WORK/resolved.json`` (the benchmarks, what was left out, the build),
    ``WORK/parent.json`` (what ``count``'s parent reads) and one
    ``WORK/benchmarks/NNNN.json`` per benchmark.
count
    Inside valgrind, with instrumentation off: imports, the kernel sources,
    Numba's target initialized; then a process forked per benchmark (see
    :func:`count`), which makes its inputs and twins (loaded from the cache,
    not compiled), checks one call against the saved reference, makes the
    uncounted warm-up calls (:func:`warmups`), then ``_callgrind.measure``:
    instrumentation on, a warm-up call, costs zeroed, ``calls`` calls, one
    dump named by the benchmark's id, instrumentation off.  Writes
    ``WORK/counted/NNNN.json``, one per benchmark, in order.

Exit status: 0, or 2 with one line on stderr (a plan or kernel source that
cannot be used, not under valgrind in ``count``).
"""

from __future__ import annotations

import gc
import json
import os
import platform
import re
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import kernels

#: Variant names that run on several threads: left out (threads are the wall-clock gate's job).
PARALLEL = "parallel"
#: -march values whose code valgrind runs (no AVX-512); "native" only on a CPU without it.
SAFE_MARCH = ("x86-64", "x86-64-v2", "x86-64-v3", "haswell", "broadwell", "skylake")


class PlanError(Exception):
    """A plan or kernel source this child cannot use (one line)."""


def _one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _read(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _write(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".partial")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)


# --------------------------------------------------------------------------
# What to run
# --------------------------------------------------------------------------
def load_sources(sources: list[str]) -> list[str]:
    """Register the kernels of each source (kernels.external); return their names."""
    if not sources:
        return []
    try:
        from kernels import external
    except ImportError:
        raise PlanError("this tree's kernels package has no kernels.external: it cannot "
                        "load kernels from outside vecbench") from None
    names: list[str] = []
    for source in sources:
        try:
            names += [s.name for s in external.load(source) if s.name not in names]
        except ValueError as exc:
            raise PlanError(str(exc).splitlines()[0]) from None
    return names


def _fallback(spec: Any, fallback: dict[str, float]) -> dict[str, Any]:
    """Cases for a kernel the profile does not name: the largest size of its quick
    ladder whose work model stays within the plan's budget (python: a smaller one)."""
    ladder = sorted(spec.ladder("quick") if hasattr(spec, "ladder") else spec.sizes)

    def work(n: int) -> float:
        return max(float(spec.flops(n)), float(spec.bytes_moved(n)) / 8, 1.0)

    def pick(limit: float) -> list[list[Any]]:
        fits = [n for n in ladder if work(n) <= limit]
        return [[max(fits) if fits else min(ladder), spec.layouts[0]]]

    return {"cases": pick(fallback["work"]), "python_cases": pick(fallback["python_work"]),
            "variants": []}


def cases_of(rule: dict[str, Any], plan: dict[str, Any], spec: Any, python: bool
             ) -> list[tuple[int, str]]:
    """The (size, layout) cases of one backend: the rule's, or the plan's sizes in the
    rule's layouts (or the plan's); only layouts the kernel has."""
    own = [(int(n), str(layout)) for n, layout in
           (rule["python_cases"] if python else rule["cases"])]
    layouts = plan.get("layouts") or list(dict.fromkeys(layout for _, layout in
                                                         [*rule["cases"], *own]))
    if plan.get("sizes"):
        own = [(n, layout) for n in plan["sizes"] for layout in layouts]
    return [(n, layout) for n, layout in own if layout in layouts and layout in spec.layouts]


def _march(cflags: str) -> str | None:
    found = re.findall(r"-march=(\S+)", cflags)
    return found[-1] if found else None


def cython_unsafe() -> str | None:
    """Why valgrind cannot run this tree's Cython build (AVX-512 possible), or None."""
    try:
        info = kernels.build_info().get("cython", {})
    except Exception:  # an older tree, or the backend failed to import
        return None
    cflags = str(info.get("cflags", ""))
    march = _march(cflags)
    if march is None or march in SAFE_MARCH:
        return None
    if march == "native":
        import llvmlite.binding as llvm

        if not llvm.get_host_cpu_features().get("avx512f"):
            return None
    return (f"the Cython extension was built with -march={march}, which may hold AVX-512 "
            "instructions that valgrind cannot run; build it with VECBENCH_MARCH=x86-64-v3 "
            "(python -m bench.instructions without --installed does)")


def _absent(kernel: str, backend: str, variant: str, reason: str, detail: str,
            size: int | None = None, layout: str | None = None) -> dict[str, Any]:
    name = f"{kernel}-{backend}-{variant}" + (f"-n{size}-{layout}" if size else "")
    return {"benchmark": name, "measure": "instructions", "reason": reason, "detail": detail,
            "kernel": kernel, "backend": backend, "variant": variant, "size": size,
            "layout": layout, "threads": 1}


def _is_parallel(impl: Any) -> bool:
    if impl.variant == PARALLEL:
        return True
    if impl.backend != "numba":
        return False
    from kernels.backends.numba_options import options_of  # Numba only where it is used

    options = options_of(getattr(impl.core, "jitted", impl.core)) or {}
    return bool(options.get("parallel"))


def resolve(plan: dict[str, Any], external: list[str]
            ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The plan's benchmarks in this tree, and what it leaves out with why."""
    profile: dict[str, Any] = plan["profile"]
    wanted = plan.get("kernels") or (external if plan.get("sources") else list(profile))
    backends = [b for b in kernels.BACKENDS if not plan.get("backends")
                or b in plan["backends"]]
    cython_why = cython_unsafe() if "cython" in backends else None
    benchmarks: list[dict[str, Any]] = []
    absent: list[dict[str, Any]] = []
    for kernel in wanted:
        try:
            spec = kernels.spec(kernel)
        except KeyError:
            raise PlanError(f"unknown kernel {kernel!r}; known: "
                            f"{', '.join(kernels.SPECS)}") from None
        rule = profile.get(kernel) or _fallback(spec, plan["fallback"])
        for backend in backends:
            error = kernels.backend_error(backend)
            if error is not None:
                absent.append(_absent(kernel, backend, "?", "unavailable", error))
                continue
            names = kernels.variants(kernel, backend)
            if not names:
                continue  # the kernel has no such backend (python -m kernels says so)
            if plan.get("variants"):
                chosen = [v for v in names if v in plan["variants"]]
            else:
                chosen = [names[0], *(v for v in rule["variants"]
                                      if v in names and v != names[0])]
            cases = cases_of(rule, plan, spec, backend == "python")
            for variant in chosen:
                impl = kernels.implementation(kernel, backend, variant)
                why = None
                if _is_parallel(impl):
                    why = ("not_applicable", "runs on several threads: valgrind runs threads "
                           "one at a time, so threads are the wall-clock gate's job")
                elif not getattr(impl, "runnable", True) or getattr(impl, "unavailable", None):
                    why = ("unavailable", str(impl.unavailable or "cannot run here"))
                elif backend == "cython" and cython_why:
                    why = ("unavailable", cython_why)
                if why is not None:
                    absent.append(_absent(kernel, backend, variant, *why))
                    continue
                benchmarks += [{
                    "id": f"{kernel}-{backend}-{variant}-n{n}-{layout}",
                    "kernel": kernel, "backend": backend, "variant": variant,
                    "default": bool(getattr(impl, "default", variant == names[0])),
                    "size": int(n), "layout": layout} for n, layout in cases]
    order = {k: i for i, k in enumerate(wanted)}
    back = {b: i for i, b in enumerate(kernels.BACKENDS)}
    # Benchmarks sharing inputs follow one another (one set of inputs held at a time).
    benchmarks.sort(key=lambda b: (order[b["kernel"]], b["size"], b["layout"],
                                   back[b["backend"]]))
    return benchmarks, absent


# --------------------------------------------------------------------------
# The callables: Numba's with cached twins
# --------------------------------------------------------------------------
def _is_dispatcher(obj: Any) -> bool:
    """A Numba dispatcher whose options are known (made by ``numba_options.njit``)."""
    from kernels.backends.numba_options import options_of

    return options_of(obj) is not None


def _twin(dispatcher: Any) -> Any:
    """The same Python function, with the same options, compiled with ``cache=True``."""
    import numba

    from kernels.backends.numba_options import options_of

    options = {k: v for k, v in (options_of(dispatcher) or {}).items()
               if k not in ("nopython", "cache")}
    return numba.njit(cache=True, **options)(dispatcher.py_func)


def cached_core(core: Any) -> tuple[Callable[..., Any] | None, list[Any]]:
    """``core`` with its Numba dispatchers replaced by cached twins, and the twins.

    A dispatcher becomes its twin; a Python function holding dispatchers in
    its closure is rebuilt with twins in their place.  Anything else: (None, []).
    """
    if _is_dispatcher(core):
        twin = _twin(core)
        return twin, [twin]
    cells = getattr(core, "__closure__", None)
    if isinstance(core, types.FunctionType) and cells:
        twins = []
        new_cells = []
        for cell in cells:
            value = cell.cell_contents
            if _is_dispatcher(value):
                twin = _twin(value)
                twins.append(twin)
                new_cells.append(types.CellType(twin))
            else:
                new_cells.append(cell)
        if twins:
            rebuilt = types.FunctionType(core.__code__, core.__globals__, core.__name__,
                                         core.__defaults__, tuple(new_cells))
            return rebuilt, twins
    return None, []


def callable_of(bench: dict[str, Any]) -> tuple[Callable[..., Any], list[Any], Any]:
    """The checked callable of a benchmark, its Numba twins, and its implementation."""
    impl = kernels.implementation(bench["kernel"], bench["backend"], bench["variant"])
    if bench["backend"] != "numba":
        return impl.func, [], impl
    core, twins = cached_core(impl.core)
    if core is None:
        return impl.func, [], impl  # compiled in the child's first call (not counted)
    check = impl.spec.checker(impl.inputs == "lists")

    def call(*args: Any) -> Any:  # the registry's wrapper, around the twin
        return core(*check(args))

    return call, twins, impl


def first_call(func: Callable[..., Any], args: tuple[Any, ...], twins: list[Any]
               ) -> tuple[Any, str | None]:
    """Call ``func`` once; its result, and whether its Numba twins came from the
    cache ("hit") or were compiled in this call ("miss"); None without twins.

    Compilations are seen through Numba's documented event API
    (``numba.core.event``: a "numba:compile" event is broadcast whenever a
    dispatcher compiles; loading from the cache broadcasts none).
    """
    if not twins:
        return func(*args), None
    from numba.core import event  # Numba only where it is used

    with event.install_recorder("numba:compile") as recorded:
        result = func(*args)
    mine = {id(t) for t in twins}
    compiled = [e for _, e in recorded.buffer
                if e.is_start and id((e.data or {}).get("dispatcher")) in mine]
    return result, "miss" if compiled else "hit"


class Inputs:
    """The inputs of one (kernel, size, layout) at a time, and their prepared forms
    (fill: benchmarks sharing inputs follow one another)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.key: tuple[str, int, str] | None = None
        self.arrays: tuple[np.ndarray, ...] = ()
        self.lists: tuple[Any, ...] | None = None

    def get(self, impl: Any, n: int, layout: str) -> tuple[tuple[np.ndarray, ...],
                                                           tuple[Any, ...]]:
        key = (impl.kernel, n, layout)
        if key != self.key:
            self.key, self.lists = key, None
            self.arrays = impl.spec.inputs(n, layout, seed=self.seed)
        if impl.inputs == "lists":
            if self.lists is None:
                self.lists = impl.prepare(self.arrays)
            return self.arrays, self.lists
        return self.arrays, impl.prepare(self.arrays)


def _expected_path(work: Path, bench: dict[str, Any]) -> Path:
    return work / "expected" / f"{bench['kernel']}-n{bench['size']}-{bench['layout']}.npy"


# --------------------------------------------------------------------------
# The two modes
# --------------------------------------------------------------------------
def _facts(name: str) -> dict[str, Any]:
    spec = kernels.spec(name)
    if hasattr(spec, "facts"):
        return spec.facts()
    return {"summary": spec.summary, "params": [[p.name, p.kind] for p in spec.params],
            "origin": "vecbench"}


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("numba", "llvmlite", "scipy"):
        try:
            out[name] = __import__(name).__version__
        except ImportError:
            pass
    return out


def fill(work: Path) -> None:
    """Resolve, check, keep the references, and fill Numba's cache (outside valgrind)."""
    plan = _read(work / "plan.json")
    external = load_sources(plan.get("sources", []))
    benchmarks, absent = resolve(plan, external)
    (work / "expected").mkdir(exist_ok=True)
    inputs = Inputs(plan["seed"])
    kept: list[dict[str, Any]] = []
    for bench in benchmarks:
        try:
            func, twins, impl = callable_of(bench)
            arrays, args = inputs.get(impl, bench["size"], bench["layout"])
            result = func(*args)
            path = _expected_path(work, bench)
            if path.exists():
                expected = np.load(path)
            else:
                expected = np.asarray(impl.spec.reference(*arrays), dtype=np.float64)
                np.save(path, expected)
            problem = impl.spec.mismatch(result, arrays, expected)
        except Exception as exc:  # the kernel's own error: recorded, not counted
            absent.append(_absent(bench["kernel"], bench["backend"], bench["variant"],
                                  "failed", _one_line(exc), bench["size"], bench["layout"]))
            continue
        if problem:
            absent.append(_absent(bench["kernel"], bench["backend"], bench["variant"],
                                  "failed", f"disagrees with the reference: {problem}",
                                  bench["size"], bench["layout"]))
            continue
        bench["jit"] = "cached twin" if twins else (
            "compiled inside valgrind, not counted" if bench["backend"] == "numba" else None)
        kept.append(bench)
    try:
        build = kernels.build_info()
    except Exception as exc:
        build = {"error": {"detail": _one_line(exc)}}
    simd = kernels.simd.record() if hasattr(kernels, "simd") else {}
    # What each benchmark's process in ``count`` reads: its own file only, so
    # that nothing in its state depends on the other benchmarks planned.
    (work / "benchmarks").mkdir(exist_ok=True)
    for i, bench in enumerate(kept):
        _write(work / "benchmarks" / f"{i:04d}.json", {
            "bench": bench, **{k: plan[k] for k in ("seed", "calls", "warmups",
                                                    "warmup_work")}})
    _write(work / "parent.json", {
        "benchmarks": len(kept), "sources": plan.get("sources", []),
        "numba": any(b["backend"] == "numba" for b in kept)})
    _write(work / "resolved.json", {
        "benchmarks": kept, "absent": absent,
        "kernels": {k: _facts(k) for k in dict.fromkeys(b["kernel"] for b in
                                                        [*kept, *absent])},
        "build": build, "versions": _versions(), "simd": simd,
        "kernels_file": str(Path(kernels.__file__).resolve()),
        "selection": {"kernels": list(dict.fromkeys(b["kernel"] for b in kept)),
                      "backends": plan.get("backends"), "variants": plan.get("variants"),
                      "sizes": plan.get("sizes"), "layouts": plan.get("layouts"),
                      "sources": plan.get("sources", [])},
    })


def warmups(bench: dict[str, Any], plan: dict[str, Any]) -> int:
    """Uncounted calls before a benchmark's counted ones, decided by its kernel and size only.

    Python's specializing interpreter rewrites a function's bytecode after
    its first few calls (quickening, then specialized instructions): a
    benchmark counted before that would count the rewriting.  So a call of
    little work is made ``plan["warmups"]`` times first; one of much work
    (the rewriting a negligible part) twice.
    """
    spec = kernels.spec(bench["kernel"])
    n = bench["size"]
    work = max(float(spec.flops(n)), float(spec.bytes_moved(n)) / 8)
    return int(plan["warmups"]) if work <= float(plan["warmup_work"]) else 2


def count_one(work: Path, plan: dict[str, Any], bench: dict[str, Any]) -> dict[str, Any]:
    """Count one benchmark (in a process of its own, forked for it).

    ``plan`` holds the seed, the counted calls and the warm-up rule.
    """
    import _callgrind

    func, twins, impl = callable_of(bench)
    arrays, args = Inputs(plan["seed"]).get(impl, bench["size"], bench["layout"])
    jit_cache = None
    try:
        result, jit_cache = first_call(func, args, twins)  # from Numba's cache: not counted
        problem = impl.spec.mismatch(result, arrays, np.load(_expected_path(work, bench)))
    except Exception as exc:
        problem = _one_line(exc)
    if problem:
        return {"failed": f"disagrees with the reference under valgrind: {problem}"}
    before = warmups(bench, plan)
    for _ in range(before):
        func(*args)
    _callgrind.measure(func, args, int(plan["calls"]), bench["id"])
    return {"jit_cache": jit_cache, "uncounted_calls": before + 2}


def _numba_ready() -> None:
    """Initialize Numba's CPU target once, so each forked process only loads its code."""
    import numba

    # The first compilation of a process sets up the typing and target
    # contexts; a trivial one does it here, through the documented decorator.
    numba.njit(lambda: 0)()


def count(work: Path) -> None:
    """Count each benchmark, each in a process forked for it (inside valgrind).

    The parent imports, loads the kernel sources and initializes Numba, with
    instrumentation off, reading only ``WORK/parent.json`` (the number of
    benchmarks, the sources), so its state does not depend on which
    benchmarks run.  Then it forks one process per benchmark, which reads its
    own ``WORK/benchmarks/NNNN.json`` (written by ``fill``) and counts it.
    So every benchmark starts from the same state, whatever ran or was
    planned besides it: the heap, the interpreter's specialized bytecode,
    NumPy's caches.  The garbage collector is off in those processes.
    """
    import _callgrind

    if not _callgrind.HEADERS:
        raise PlanError("the client-request module was built without valgrind's headers")
    if not _callgrind.running_on_valgrind():
        raise PlanError("count must run under valgrind --tool=callgrind")
    parent = _read(work / "parent.json")
    load_sources(parent["sources"])
    if parent["numba"]:
        _numba_ready()
    results = work / "counted"
    results.mkdir(exist_ok=True)
    gc.collect()
    for i in range(int(parent["benchmarks"])):
        path = results / f"{i:04d}.json"
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the benchmark's own process: never returns
            status = 0
            try:
                gc.disable()
                start = time.perf_counter()
                job = _read(work / "benchmarks" / f"{i:04d}.json")
                result = count_one(work, job, job["bench"])
                result["seconds"] = round(time.perf_counter() - start, 2)
                _write(path, result)
            except BaseException as exc:
                status = 1
                try:
                    _write(path, {"failed": f"error under valgrind: {_one_line(exc)}"})
                finally:
                    os._exit(status)
            os._exit(status)
        _, status = os.waitpid(pid, 0)
        if not path.exists():
            _write(path, {"failed": f"its process ended without a result (wait status "
                                    f"{status})"})


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("fill", "count"):
        print("usage: instruction_child.py fill|count WORK", file=sys.stderr)
        return 2
    work = Path(argv[1])
    try:
        (fill if argv[0] == "fill" else count)(work)
    except PlanError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

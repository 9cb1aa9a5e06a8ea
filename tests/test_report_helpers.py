"""Synthetic saved runs for the report tests (this module holds no tests).

:func:`synthetic_run` builds a small pytest-benchmark document shaped like
``make bench`` saves it, from a simple cost model: each backend has a fixed
cost per call and a cost per unit of work, so where one overtakes another is
known in advance.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

VECTOR_SIZES = (1, 4, 16, 64, 256, 1024, 4096, 16384)
MATRIX_SIZES = (4, 8, 16, 32, 64)
KERNELS: dict[str, dict[str, Any]] = {
    "magnitude": dict(sizes=VECTOR_SIZES, layouts=("C",), loops=("loop",), numpy="vectorized",
                      bytes=lambda n: 24 * n, flops=lambda n: 4 * n),
    "sum_of_squares": dict(sizes=VECTOR_SIZES, layouts=("C",), loops=("loop",),
                           numpy="vectorized", bytes=lambda n: 8 * n, flops=lambda n: 2 * n),
    "row_sums": dict(sizes=MATRIX_SIZES, layouts=("C", "F"),
                     loops=("row_at_a_time", "column_streaming"), numpy="vectorized",
                     bytes=lambda n: 8 * n * n + 8 * n, flops=lambda n: n * n),
    "col_sums": dict(sizes=MATRIX_SIZES, layouts=("C", "F"),
                     loops=("column_at_a_time", "row_streaming"), numpy="vectorized",
                     bytes=lambda n: 8 * n * n + 8 * n, flops=lambda n: n * n),
    "matmul": dict(sizes=MATRIX_SIZES, layouts=("C",), loops=("naive_ijk", "ikj"),
                   numpy="blas", bytes=lambda n: 24 * n * n, flops=lambda n: 2 * n**3,
                   python_max=16),
    "sum_sq_sin": dict(sizes=VECTOR_SIZES, layouts=("C",), loops=("loop",), numpy="vectorized",
                       bytes=lambda n: 8 * n, flops=lambda n: 3 * n),
}
#: Seconds per call = fixed + per_work * work: python cheap to call, slow per element.
COST = {
    "python": (1e-6, 5e-8),
    "numpy": (3e-6, 1e-9),
    "numba": (3e-7, 8e-10),
    "cython": (5e-7, 9e-10),
}
BACKENDS = tuple(COST)


def model_seconds(backend: str, work: float, variant_index: int = 0, layout: str = "C") -> float:
    """The model's time per call."""
    fixed, per = COST[backend]
    if variant_index:
        per *= 1.5
    if layout == "F" and backend != "numpy":
        per *= 3
    return fixed + per * work


def _stats(seconds: float, rng: np.random.Generator, rounds: int, data: bool) -> dict:
    times = np.sort(seconds * np.exp(rng.normal(0.0, 0.03, rounds)))
    q1, median, q3 = np.percentile(times, [25, 50, 75])
    out = {"min": float(times[0]), "max": float(times[-1]), "mean": float(times.mean()),
           "stddev": float(times.std()), "rounds": rounds, "median": float(median),
           "iqr": float(q3 - q1), "q1": float(q1), "q3": float(q3), "iterations": 1,
           "ops": float(1 / times.mean()), "total": float(times.sum())}
    if data:
        out["data"] = [float(t) for t in rng.permutation(times)]
    return out


def _bench(group: str, name: str, extra: dict, stats: dict) -> dict:
    return {"group": group, "name": f"test_kernel[{name}]",
            "fullname": f"bench/bench_kernels.py::test_kernel[{name}]",
            "params": {"case_id": name}, "param": name, "extra_info": extra,
            "options": {"min_rounds": 5, "max_time": 0.1, "timer": "perf_counter"},
            "stats": stats}


def synthetic_run(backends: tuple[str, ...] = BACKENDS, node: str = "testbox",
                  commit: str = "abcdef1234567890", drop_sizes: dict | None = None,
                  ceilings: bool = True, compiles: bool = True, data: bool = True,
                  measure_field: bool = True, rounds: int = 7, seed: int = 0,
                  parallel: bool = False, overheads: bool = True,
                  kernels: dict[str, dict[str, Any]] | None = None) -> dict:
    """A pytest-benchmark document with every kernel of ``kernels`` (default ``KERNELS``).

    Parameters
    ----------
    backends
        The backends the run has.
    drop_sizes
        ``{(kernel, backend): {sizes}}`` left out, as the budget skips them.
    ceilings, compiles
        Whether the machine-ceiling and Numba compile benchmarks are present.
    data
        Whether per-round times are saved (``--benchmark-save-data``).
    measure_field
        Whether steady benchmarks carry ``extra_info["measure"]`` (older runs do not).
    parallel
        Whether numba and cython have a ``parallel`` variant (2 threads) and NumPy's
        matmul also runs at 2 threads, as the all-cores cases do.
    overheads
        Whether the call-overhead benchmarks are present.
    kernels
        The kernels, shaped like :data:`KERNELS` (e.g. one the report knows only
        from the run).
    """
    kernels = KERNELS if kernels is None else kernels
    rng = np.random.default_rng(seed)
    drop_sizes = drop_sizes or {}
    benches = []
    for kernel, k in kernels.items():
        for n in k["sizes"]:
            for layout in k["layouts"]:
                for backend in backends:
                    variants = [(k["numpy"], 1)] if backend == "numpy" else [
                        (v, 1) for v in k["loops"]]
                    if parallel and backend in ("numba", "cython"):
                        variants.append(("parallel", 2))
                    if parallel and backend == "numpy" and kernel == "matmul":
                        variants.append((k["numpy"], 2))
                    if n in drop_sizes.get((kernel, backend), ()):
                        continue
                    if backend == "python" and n > k.get("python_max", math.inf):
                        continue
                    for vi, (variant, threads) in enumerate(variants):
                        work = max(k["flops"](n), k["bytes"](n) / 8)
                        seconds = model_seconds(backend, work, vi, layout) / threads
                        extra = {"kernel": kernel, "backend": backend, "variant": variant,
                                 "default_variant": variant == variants[0][0], "size": n,
                                 "layout": layout, "dtype": "float64", "threads": threads,
                                 "bytes": k["bytes"](n), "flops": k["flops"](n)}
                        if measure_field:
                            extra["measure"] = "steady"
                        if n == k["sizes"][-1]:
                            extra["input_bytes_per_element"] = 32.0 if backend == "python" else 8.0
                            extra["peak_extra_bytes"] = {"python": 4000 * n, "numpy": 16 * n,
                                                         "numba": 48, "cython": 248}[backend]
                        name = f"{kernel}-{backend}-{variant}-n{n}-{layout}-t{threads}"
                        benches.append(_bench(f"{kernel} n={n}", name, extra,
                                              _stats(seconds, rng, rounds, data)))
    if compiles and "numba" in backends:
        for kernel, k in kernels.items():
            calls = None if kernel == "sum_of_squares" else 42
            extra = {"measure": "compile", "kernel": kernel, "backend": "numba",
                     "variant": k["loops"][0], "compile_seconds": 0.1,
                     "reference_size": k["sizes"][-1], "numba_seconds": 1e-4,
                     "numpy_seconds": 3e-3, "break_even_calls": calls, "threads": 1}
            benches.append(_bench("numba compile (fresh dispatcher)", f"{kernel}-numba",
                                  extra, _stats(0.1, rng, 3, data)))
    if ceilings:
        for name, unit, one, many in (("read_bandwidth", "GB/s", 20.0, 35.0),
                                      ("matmul_gflops", "GFLOP/s", 50.0, 95.0)):
            for threads, value in ((1, one), (2, many)):
                extra = {"measure": "ceiling", "ceiling": name, "threads": threads,
                         "value": value, "unit": unit}
                benches.append(_bench("machine ceilings", f"{name}-{threads}", extra,
                                      _stats(0.01, rng, 3, data)))
    if overheads:
        for target in (*backends, "checks"):
            extra = {"measure": "overhead", "backend": target, "threads": 1}
            benches.append(_bench("call overhead", f"overhead-{target}", extra,
                                  _stats(COST.get(target, (2e-7, 0))[0] / 2, rng, rounds, data)))
    return {
        "machine_info": {"node": node, "machine": "x86_64", "cpu": {"brand_raw": "Test CPU",
                                                                     "count": 2},
                         "vecbench": {"cpu_count": 2, "caches": {"L1d": 32768, "L2": 1048576,
                                                                 "L3": 16777216},
                                      "blas": [{"internal_api": "openblas",
                                                "version": "0.3.30"}]}},
        "commit_info": {"id": commit, "dirty": False, "branch": "main"},
        "benchmarks": benches,
        "datetime": "2026-01-02T03:04:05.000000+00:00",
        "version": "5.1.0",
    }


def write_run(path: Path, doc: dict) -> Path:
    """Save ``doc`` as JSON at ``path``; return the path."""
    path.write_text(json.dumps(doc))
    return path

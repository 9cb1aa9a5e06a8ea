"""The machine record added to every saved run's ``machine_info``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

#: Environment variables that change what BLAS, OpenMP or Numba do.  This
#: workplace sets OPENBLAS_CORETYPE=Haswell, which keeps OpenBLAS on its AVX2
#: kernels even on an AVX-512 CPU: the BLAS ceiling depends on it.
ENVIRONMENT = ("OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
               "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER")
SIMD_FLAGS = ("sse2", "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512dq", "avx512bw",
              "avx512vl", "asimd", "sve")


def cpu_caches() -> dict[str, int]:
    """Cache sizes in bytes of CPU 0, as ``{"L1d": ..., "L2": ..., "L3": ...}`` (Linux)."""
    caches: dict[str, int] = {}
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        if kind == "Instruction":
            continue
        name = f"L{level}" + ("d" if kind == "Data" else "")
        scale = {"K": 1024, "M": 1024**2, "G": 1024**3}.get(size[-1], 1)
        caches[name] = int(size.rstrip("KMG")) * scale
    return caches


def simd_features() -> list[str]:
    """The SIMD instruction sets the CPU reports (from /proc/cpuinfo)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            flags.update(line.split(":", 1)[1].split())
            break
    return [f for f in SIMD_FLAGS if f in flags]


def _path(row: Any) -> str | None:
    import kernels

    if kernels.backend_error(row.backend) is not None:
        return None
    return kernels.implementation(row.kernel, row.backend, row.variant).path


def machine_record() -> dict[str, Any]:
    """Libraries, BLAS, SIMD, caches and compile flags, for ``machine_info``."""
    import llvmlite.binding as llvm

    import kernels
    from kernels import about, simd

    return {
        "vecbench": {
            "libraries": about.library_versions(),
            "build": kernels.build_info(),
            "simd_path": simd.record(),
            # Every implementation: its SIMD path where it has one, and why it
            # could not be measured here where it could not.
            "implementations": [
                {"kernel": r.kernel, "backend": r.backend, "variant": r.variant,
                 "path": _path(r), "unavailable": r.error}
                for r in kernels.available()
            ],
            "blas": about.blas_info(),
            "cpu_count": os.cpu_count(),
            "llvm_host_cpu": llvm.get_host_cpu_name(),
            "simd": simd_features(),
            "caches": cpu_caches(),
            "environment": {k: os.environ[k] for k in ENVIRONMENT if k in os.environ},
        }
    }

"""Versions of the libraries the kernels run on, and the BLAS NumPy uses."""

from __future__ import annotations

import platform
from importlib import metadata


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def library_versions() -> dict[str, str]:
    """Python, NumPy, Numba and llvmlite versions (Cython's is in the extension's build info)."""
    return {
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "numba": _version("numba"),
        "llvmlite": _version("llvmlite"),
    }


def blas_info() -> list[dict[str, str]]:
    """The BLAS and OpenMP thread pools loaded in this process (threadpoolctl)."""
    import numpy  # noqa: F401  (loads NumPy's BLAS so that threadpoolctl sees it)
    from threadpoolctl import threadpool_info

    keep = ("user_api", "internal_api", "version", "num_threads", "architecture", "filepath")
    return [{k: str(p.get(k)) for k in keep if p.get(k) is not None} for p in threadpool_info()]

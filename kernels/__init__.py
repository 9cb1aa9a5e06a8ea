"""vecbench kernels: the same numeric kernels in pure Python, NumPy, Numba and Cython.

Public API
----------
get(kernel, backend, variant=None)
    The checking callable of one implementation.
available()
    Every (kernel, backend, variant) with its availability or import error.
spec(kernel) / SPECS
    Inputs, reference result, work model and size ladder of each kernel.
implementation(kernel, backend, variant=None, path=None) / implementations()
    The full records, with bare cores, input preparation, SIMD path and availability.
simd
    The SIMD paths of the sin variants and the ``VECBENCH_SIMD`` setting.
"""

from __future__ import annotations

from kernels import simd
from kernels.registry import (
    BACKENDS,
    Availability,
    BackendUnavailable,
    Implementation,
    available,
    backend_error,
    build_info,
    empty_call,
    get,
    implementation,
    implementations,
    missing,
    variants,
)
from kernels.specs import SPECS, KernelSpec, spec

KERNELS: tuple[str, ...] = tuple(SPECS)

__all__ = [
    "BACKENDS",
    "KERNELS",
    "SPECS",
    "Availability",
    "BackendUnavailable",
    "Implementation",
    "KernelSpec",
    "available",
    "backend_error",
    "build_info",
    "empty_call",
    "get",
    "implementation",
    "implementations",
    "missing",
    "simd",
    "spec",
    "variants",
]

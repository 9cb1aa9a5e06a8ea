"""vecbench kernels: the same numeric kernels in pure Python, NumPy, Numba and Cython.

Public API
----------
get(kernel, backend, variant=None)
    The checking callable of one implementation.
available()
    Every (kernel, backend, variant) with its availability or import error.
spec(kernel) / SPECS
    Inputs, reference result, work model and size ladder of each kernel
    (``SPECS`` also holds the kernels registered from outside vecbench).
KERNELS
    The names of the built-in kernels (``SPECS`` may hold more, see below).
KernelSpec, Param, geometric_sizes
    What a module of one's own kernels builds its specs from (kernels.external).
register(spec, cores) / unregister(kernel) / registered(spec, cores)
    Add a kernel from outside vecbench; ``kernels.external.load(source)``
    validates a user's module and registers its kernels.
missing() / lacking(kernel)
    What the backends lack.
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
    lacking,
    missing,
    register,
    registered,
    unregister,
    variants,
)
from kernels.specs import BUILTIN_KERNELS, SPECS, KernelSpec, Param, geometric_sizes, spec

#: The built-in kernels; registered ones are in ``SPECS`` too, not here.
KERNELS: tuple[str, ...] = BUILTIN_KERNELS

__all__ = [
    "BACKENDS",
    "KERNELS",
    "SPECS",
    "Availability",
    "BackendUnavailable",
    "Implementation",
    "KernelSpec",
    "Param",
    "available",
    "backend_error",
    "build_info",
    "empty_call",
    "geometric_sizes",
    "get",
    "implementation",
    "implementations",
    "lacking",
    "missing",
    "register",
    "registered",
    "simd",
    "spec",
    "unregister",
    "variants",
]

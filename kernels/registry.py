"""The registry: (kernel, backend, variant) -> checked callable.

``BACKENDS`` below is the one place that names the backends.  Each backend
module holds a plain ``CORES`` dict (kernel -> {variant: bare core}); the
registry wraps every core with its kernel spec's checks, so nothing reaches
compiled code unchecked.  A backend that fails to import (Numba missing, the
Cython extension not built) is recorded with its error and skipped.

Kernels from outside vecbench (kernels/external.py) are added by
:func:`register`: their spec joins ``SPECS`` and their cores a plain dict
here, ``backend -> kernel -> {variant: core}``, read beside the backend
modules' ``CORES``; from then on they are looked up, checked and listed
exactly as the built-in kernels.  Their cores for a backend whose module
failed to import are unavailable with that module's error.
"""

from __future__ import annotations

import importlib
import inspect
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

import numpy as np

from kernels import simd
from kernels.specs import BUILTIN_KERNELS, SPECS, KernelSpec, spec


@dataclass(frozen=True)
class Backend:
    """A registry line: the module holding the cores, and whether it is a loop
    backend (one that carries every loop variant of every kernel)."""

    module: str
    loops: bool


BACKENDS: dict[str, Backend] = {
    "python": Backend("kernels.backends.python_lists", loops=True),
    "numpy": Backend("kernels.backends.numpy_vectorized", loops=False),
    "numba": Backend("kernels.backends.numba_jit", loops=True),
    "cython": Backend("kernels.backends.cython_loops", loops=True),
}


class BackendUnavailable(ImportError):
    """Raised by :func:`get` for a backend whose module could not be imported."""


#: The cores of registered (external) kernels: backend -> kernel -> {variant: core},
#: the first variant of a (kernel, backend) being its default.  Filled by
#: :func:`register` only.
_EXTERNAL: dict[str, dict[str, dict[str, Callable[..., Any]]]] = {}


def _cores(backend: str, module: ModuleType) -> dict[str, dict[str, Any]]:
    """The backend module's ``CORES`` with the registered kernels' cores beside them."""
    extra = _EXTERNAL.get(backend, {})
    return {**module.CORES, **extra} if extra else module.CORES


def _clear() -> None:
    _implementations.cache_clear()


def register(kspec: KernelSpec, cores: Mapping[tuple[str, str], Callable[..., Any]]) -> None:
    """Add a kernel from outside vecbench: its spec and its bare cores.

    From then on the kernel is in ``SPECS`` and its implementations are in
    :func:`implementation`, :func:`implementations`, :func:`available`,
    :func:`variants` and :func:`missing` as the built-in ones are, each core
    wrapped with the spec's checks (lists for the python backend, float64
    arrays for the others).  :mod:`kernels.external` validates a user's
    module before it calls this.

    Parameters
    ----------
    kspec
        The kernel's spec; its name must not be taken.
    cores
        ``(backend, variant) -> bare core``; the first variant of each
        backend is its default.  A backend may be absent (the kernel lacks it).

    Raises
    ------
    ValueError
        When the name is taken, a backend is unknown or a core is not callable;
        nothing is registered then.
    """
    if kspec.name in SPECS:
        raise ValueError(f"kernel {kspec.name!r} is already registered "
                         f"(from {SPECS[kspec.name].origin})")
    for (backend, variant), core in cores.items():
        if backend not in BACKENDS:
            raise ValueError(f"{kspec.name}: unknown backend {backend!r}; "
                             f"known: {', '.join(BACKENDS)}")
        if not callable(core):
            raise ValueError(f"{kspec.name}: the core of ({backend}, {variant}) is not callable")
    SPECS[kspec.name] = kspec
    for (backend, variant), core in cores.items():
        _EXTERNAL.setdefault(backend, {}).setdefault(kspec.name, {})[variant] = core
    _clear()


def unregister(kernel: str) -> None:
    """Remove a kernel added by :func:`register` (a built-in one cannot be removed).

    Raises
    ------
    ValueError
        For a built-in kernel.
    KeyError
        For a kernel that is not registered.
    """
    if kernel in BUILTIN_KERNELS:
        raise ValueError(f"{kernel!r} is a built-in kernel; only registered ones can be removed")
    spec(kernel)
    del SPECS[kernel]
    for by_kernel in _EXTERNAL.values():
        by_kernel.pop(kernel, None)
    _clear()


@contextmanager
def registered(kspec: KernelSpec, cores: Mapping[tuple[str, str], Callable[..., Any]]
               ) -> Iterator[KernelSpec]:
    """:func:`register` for the duration of a ``with`` block (tests): the
    registry is as before afterwards."""
    register(kspec, cores)
    try:
        yield kspec
    finally:
        unregister(kspec.name)


@dataclass(frozen=True)
class Implementation:
    """One (kernel, backend, variant): its checked callable and its bare core."""

    kernel: str
    backend: str
    variant: str
    func: Callable[..., Any]
    core: Callable[..., Any]
    inputs: str  # "arrays" or "lists"
    default: bool
    #: The SIMD path (kernels.simd) of an implementation whose machine code
    #: depends on it; None for the others.
    path: str | None = None
    #: Why this implementation is not what its name says here (the benchmarks
    #: skip it and the report lists it), or None.  It may still run: only
    #: when :attr:`runnable` is False does calling it raise.
    unavailable: str | None = None
    runnable: bool = True

    @property
    def spec(self) -> KernelSpec:
        return SPECS[self.kernel]

    @property
    def label(self) -> str:
        return f"{self.backend}/{self.variant}"

    def prepare(self, arrays: tuple[np.ndarray, ...]) -> tuple[Any, ...]:
        """Turn spec inputs into what :attr:`func` takes (lists for python).

        This is input preparation: benchmarks call it outside the timed region.
        """
        if self.inputs == "lists":
            return tuple(a.tolist() for a in arrays)
        return arrays


@dataclass(frozen=True)
class Availability:
    """Whether a (kernel, backend, variant) can be used, and if not, why."""

    kernel: str
    backend: str
    variant: str
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _wrap(kspec: KernelSpec, backend: str, variant: str, core: Callable[..., Any],
          lists: bool) -> Callable[..., Any]:
    check = kspec.checker(lists)

    def kernel(*args: Any) -> Any:
        return core(*check(args))

    kernel.__name__ = kernel.__qualname__ = kspec.name
    kernel.__doc__ = f"{kspec.summary} ({backend} backend, {variant} variant)."
    kernel.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_ONLY) for n in kspec.arg_names]
    )
    kernel.core = core  # type: ignore[attr-defined]
    return kernel


@cache
def _load(backend: str) -> tuple[ModuleType | None, str | None]:
    try:
        return importlib.import_module(BACKENDS[backend].module), None
    except Exception as exc:  # any import failure makes the backend unavailable
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return None, last


def _cannot_run(reason: str) -> Callable[..., Any]:
    def refuse(*args: Any) -> Any:
        raise RuntimeError(f"cannot run on this machine: {reason}")

    return refuse


def _scalar_reason(backend_why: Callable[[str], str | None], chosen: bool) -> str:
    if chosen:
        cause = "chosen by the caller"
    elif simd.requested() == "scalar":
        cause = f"forced by {simd.ENV}=scalar"
    else:
        cause = "; ".join(filter(None, map(backend_why, simd.PATHS[:-1])))
    return (f"needs libmvec's SIMD sin; on the scalar path ({cause}) it calls libm's sin "
            f"one double at a time")


@cache
def _implementations(backend: str, path: str | None = None
                     ) -> dict[tuple[str, str], Implementation]:
    module, _ = _load(backend)
    if module is None:
        return {}
    lists = module.INPUTS == "lists"
    lacking = getattr(module, "UNAVAILABLE", {})
    found = {}
    for kernel, variants in _cores(backend, module).items():
        if kernel not in SPECS:
            continue  # reported by missing()
        kspec = SPECS[kernel]
        for i, (variant, core) in enumerate(variants.items()):
            on_path = unavailable = None
            runnable = True
            if isinstance(core, simd.ByPath):
                on_path = path or simd.selected()
                unavailable = core.why_not(on_path)
                runnable = unavailable is None
                if not runnable:
                    core = _cannot_run(unavailable)
                else:
                    if core.vector_only and on_path == "scalar":
                        unavailable = _scalar_reason(core.why_not, path is not None)
                    core = core.build(on_path)
            unavailable = unavailable or lacking.get((kernel, variant))
            found[kernel, variant] = Implementation(
                kernel=kernel, backend=backend, variant=variant,
                func=_wrap(kspec, backend, variant, core, lists),
                core=core, inputs=module.INPUTS, default=i == 0,
                path=on_path, unavailable=unavailable, runnable=runnable,
            )
    return found


def backend_error(backend: str) -> str | None:
    """The import error of ``backend``, or None when it is available."""
    if backend not in BACKENDS:
        raise KeyError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    return _load(backend)[1]


def backend_module(backend: str) -> ModuleType:
    """The imported module of ``backend``; raises BackendUnavailable when it failed."""
    error = backend_error(backend)
    if error is not None:
        raise BackendUnavailable(f"backend {backend!r} is unavailable: {error}")
    module, _ = _load(backend)
    assert module is not None
    return module


def variants(kernel: str, backend: str) -> tuple[str, ...]:
    """Variant names of ``kernel`` in ``backend``, the default first."""
    spec(kernel)
    backend_module(backend)
    return tuple(v for k, v in _implementations(backend) if k == kernel)


def implementation(kernel: str, backend: str, variant: str | None = None,
                   path: str | None = None) -> Implementation:
    """The :class:`Implementation` of (kernel, backend, variant).

    ``path`` chooses the SIMD path (kernels.simd) of an implementation that
    has several; None is this process's (``VECBENCH_SIMD``, else the widest
    this machine runs).  Implementations without paths ignore it.

    Raises
    ------
    KeyError
        For an unknown kernel, backend or variant (the message lists the known ones).
    BackendUnavailable
        When the backend's module could not be imported.
    """
    names = variants(kernel, backend)
    if not names:
        raise KeyError(f"backend {backend!r} has no implementation of {kernel!r}")
    chosen = names[0] if variant is None else variant
    if chosen not in names:
        raise KeyError(
            f"{kernel!r} has no variant {variant!r} in backend {backend!r}; "
            f"known: {', '.join(names)}"
        )
    if path is not None and path not in simd.PATHS:
        raise KeyError(f"unknown SIMD path {path!r}; known: {', '.join(simd.PATHS)}")
    return _implementations(backend, path)[kernel, chosen]


def get(kernel: str, backend: str, variant: str | None = None) -> Callable[..., Any]:
    """The public, checking callable of (kernel, backend, variant).

    Parameters
    ----------
    kernel
        A kernel name, e.g. ``"magnitude"``.
    backend
        ``"python"``, ``"numpy"``, ``"numba"`` or ``"cython"``.
    variant
        A variant name; None gives the backend's default variant of the kernel.

    Returns
    -------
    callable
        Takes the kernel's arguments positionally (lists for the python backend,
        arrays for the others) and returns its result.
    """
    return implementation(kernel, backend, variant).func


def implementations() -> list[Implementation]:
    """Every implementation of the importable backends, in kernel, backend, variant order.

    Those that are not what their name says here carry the reason in
    ``unavailable``; those that cannot run here at all have ``runnable`` False.
    """
    out = []
    for kernel in SPECS:
        for backend in BACKENDS:
            if backend_error(backend) is None:
                out.extend(i for (k, _), i in _implementations(backend).items() if k == kernel)
    return out


def available() -> list[Availability]:
    """Every (kernel, backend, variant), with the reason of those that cannot be used.

    The reason is the backend's import error, or what this machine or build
    lacks for the variant (libmvec, a CPU feature, OpenMP).  For an
    unavailable loop backend the variants listed are the spec's loop
    variants; for other unavailable backends the variant is ``"?"``; for a
    registered kernel, the variants it brought for that backend.
    """
    rows = []
    for kernel, kspec in SPECS.items():
        for backend, line in BACKENDS.items():
            error = backend_error(backend)
            if error is None:
                rows.extend(Availability(kernel, backend, v, i.unavailable)
                            for (k, v), i in _implementations(backend).items() if k == kernel)
            elif kernel in BUILTIN_KERNELS:
                names = kspec.loop_variants if line.loops else ("?",)
                rows.extend(Availability(kernel, backend, v, error) for v in names)
            else:  # a registered kernel: the variants it brought for this backend
                names = tuple(_EXTERNAL.get(backend, {}).get(kernel, ()))
                rows.extend(Availability(kernel, backend, v, error) for v in names)
    return rows


def missing(kernels: Iterable[str] | None = None) -> list[str]:
    """What the importable backends lack: kernels, loop variants, unknown names.

    ``kernels`` restricts the check to those kernels (e.g.
    ``specs.BUILTIN_KERNELS``: a registered kernel may lack backends by
    design; :func:`lacking` says which, per kernel).
    """
    wanted = set(SPECS if kernels is None else kernels)
    problems = []
    for backend, line in BACKENDS.items():
        module, _ = _load(backend)
        if module is None:
            continue
        cores = _cores(backend, module)
        for kernel in cores:
            if kernel not in SPECS:
                problems.append(f"({kernel}, {backend}): not a kernel of any spec")
        for kernel, kspec in SPECS.items():
            if kernel not in wanted:
                continue
            if not cores.get(kernel):
                problems.append(f"({kernel}, {backend}): no implementation")
            elif line.loops:
                problems.extend(
                    f"({kernel}, {backend}): lacks loop variant {v!r}"
                    for v in kspec.loop_variants if v not in cores[kernel]
                )
    return problems


def lacking(kernel: str) -> dict[str, str]:
    """What ``kernel`` lacks in each importable backend: backend -> ``"no
    implementation"`` or ``"lacks loop variant(s) 'a', 'b'"``; backends it has
    complete are left out (an unimportable backend is reported by
    :func:`backend_error`, not here)."""
    kspec = spec(kernel)
    out = {}
    for backend, line in BACKENDS.items():
        module, _ = _load(backend)
        if module is None:
            continue
        have = _cores(backend, module).get(kernel)
        if not have:
            out[backend] = "no implementation"
        elif line.loops:
            gone = [v for v in kspec.loop_variants if v not in have]
            if gone:
                out[backend] = "lacks loop variant(s) " + ", ".join(map(repr, gone))
    return out


def empty_call(backend: str) -> Callable[[Any], Any]:
    """The backend's ``empty(x)``: a call that does nothing, for per-call overhead.

    It takes one vector (a list for the python backend, a float64 array for
    the others) and is not wrapped with checks; :func:`get` adds those.
    """
    return backend_module(backend).empty


def build_info() -> dict[str, dict[str, str]]:
    """Per available backend, what its module reports about how it was built."""
    out = {}
    for backend in BACKENDS:
        module, _ = _load(backend)
        if module is not None and hasattr(module, "build_info"):
            out[backend] = module.build_info()
    return out

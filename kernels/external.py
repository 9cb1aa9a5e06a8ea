"""Kernels from outside vecbench: a module of one's own specs and implementations.

A module, given as the path of a ``.py`` file or as an importable module name,
defines::

    from kernels import KernelSpec, Param

    SPECS = [KernelSpec(name="scale2", ...), ...]   # or SPEC = KernelSpec(...)
    IMPLEMENTATIONS = {
        ("scale2", "numpy", "new"): scale2_new,     # (kernel, backend, variant): bare core
        ("scale2", "python", "loop"): scale2_loop,
    }

The backend is one of ``kernels.registry.BACKENDS``; a core takes the spec's
inputs (lists for "python", float64 arrays for the others) and returns the
result, and the registry wraps it with the spec's checks as it does the
built-in cores.  The first variant of each (kernel, backend) is its default.
A backend may be left out: the kernel lacks it (``python -m kernels`` says so).

:func:`load` validates the module before it registers anything; a module that
cannot be used raises :class:`ExternalKernelError`, whose message is one line:
``"<source>: <problem>"``.  It does not check the implementations against the
reference (the benchmarks do, before timing each case; :func:`verify` does it
on a few small sizes).  Modules named by the entry point group
``vecbench.kernels`` are loaded by :func:`load_entry_points`.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import numbers
import re
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from kernels import agreement, registry
from kernels.specs import (
    CEILINGS,
    LAYOUTS,
    PARAM_KINDS,
    PROFILES,
    RELATIONS,
    SPECS,
    KernelSpec,
    Param,
)

#: The entry point group whose entries each name a module of kernels.
GROUP = "vecbench.kernels"
#: Kernel and variant names: they go into benchmark ids (``kernel-backend-variant-n...``).
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
#: Inputs are checked at the smallest ladder size from this one on (so that a
#: vector is not mistaken for a 1x1 matrix).
CHECK_FROM = 3


class ExternalKernelError(ValueError):
    """A module of kernels that cannot be used; the message is ``"<source>: <problem>"``."""


class _Problem(Exception):
    """A problem with the module, without its source (added by :func:`load`)."""


#: Loaded sources: key (resolved path or module name) -> the specs registered.
_LOADED: dict[str, tuple[KernelSpec, ...]] = {}
#: Key -> the name the module got in ``sys.modules`` (files only).
_MODULE_NAMES: dict[str, str] = {}


def _is_path(source: str) -> bool:
    return source.endswith(".py") or "/" in source or "\\" in source


def _key(source: str) -> str:
    return str(Path(source).resolve()) if _is_path(source) else source


def _last_line(exc: BaseException, filename: str | None = None) -> str:
    """``Type: message`` of ``exc`` on one line, with the line of ``filename`` it came from."""
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    text = traceback.format_exception_only(type(exc), exc)[-1].strip()
    text = " ".join(text.split())
    if filename is not None:
        lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__)
                 if f.filename == filename]
        if lines:
            text += f" (line {lines[-1]})"
    return text


def _import(source: str) -> ModuleType:
    """Import ``source``, a ``.py`` file or a module name."""
    if not _is_path(source):
        try:
            return importlib.import_module(source)
        except (Exception, SystemExit) as exc:
            raise _Problem(f"cannot be imported: {_last_line(exc)}") from None
    path = Path(source)
    if not path.is_file():
        raise _Problem("no such file")
    resolved = path.resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:10]
    stem = re.sub(r"\W", "_", resolved.stem)
    name = f"vecbench_external_{stem}_{digest}"
    module_spec = importlib.util.spec_from_file_location(name, resolved)
    if module_spec is None or module_spec.loader is None:
        raise _Problem("cannot be imported: not a Python module")
    module = importlib.util.module_from_spec(module_spec)
    # As when run as a script: modules beside it (its own compiled extension,
    # say) can be imported while it is.
    folder = str(resolved.parent)
    added = folder not in sys.path
    if added:
        sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        module_spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        del sys.modules[name]
        raise _Problem(f"cannot be imported: {_last_line(exc, str(resolved))}") from None
    finally:
        if added and folder in sys.path:
            sys.path.remove(folder)
    _MODULE_NAMES[_key(source)] = name
    return module


# --------------------------------------------------------------------------
# What the module defines
# --------------------------------------------------------------------------
def _specs_of(module: ModuleType) -> list[Any]:
    has_specs, has_spec = hasattr(module, "SPECS"), hasattr(module, "SPEC")
    if has_specs and has_spec:
        raise _Problem("defines both SPECS and SPEC; keep one")
    if not (has_specs or has_spec):
        raise _Problem("defines neither SPECS (a list of KernelSpec) nor SPEC (a KernelSpec)")
    if has_spec:
        return [module.SPEC]
    found = module.SPECS
    if not isinstance(found, list | tuple):
        raise _Problem(f"SPECS must be a list of KernelSpec, not {type(found).__name__}")
    if not found:
        raise _Problem("SPECS is empty")
    return list(found)


def _implementations_of(module: ModuleType) -> Mapping[Any, Any]:
    if not hasattr(module, "IMPLEMENTATIONS"):
        raise _Problem("defines no IMPLEMENTATIONS (a dict (kernel, backend, variant) -> "
                       "callable)")
    found = module.IMPLEMENTATIONS
    if not isinstance(found, Mapping):
        raise _Problem(f"IMPLEMENTATIONS must be a dict (kernel, backend, variant) -> callable, "
                       f"not {type(found).__name__}")
    return found


# --------------------------------------------------------------------------
# Spec fields
# --------------------------------------------------------------------------
def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _positive_sizes(value: Any, what: str) -> tuple[int, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, list | tuple | range):
        raise _Problem(f"{what} must be a tuple of positive integers, got {value!r}")
    if not value:
        raise _Problem(f"{what} is empty")
    bad = [v for v in value if not _is_int(v) or v <= 0]
    if bad:
        raise _Problem(f"{what} must be positive integers; got {bad[0]!r}")
    return tuple(sorted({int(v) for v in value}))


def _positive_size(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if not _is_int(value) or value <= 0:
        raise _Problem(f"{what} must be a positive integer or None, got {value!r}")
    return int(value)


def _names(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple) or not value:
        raise _Problem(f"{what} must be a non-empty tuple of names, got {value!r}")
    for v in value:
        if not isinstance(v, str) or not NAME.match(v):
            raise _Problem(f"{what}: {v!r} is not a name (letters, digits, _; a letter first)")
    if len(set(value)) != len(value):
        raise _Problem(f"{what} repeats a name: {value!r}")
    return tuple(value)


def _callable(kspec: KernelSpec, field: str, optional: bool = False) -> None:
    value = getattr(kspec, field)
    if optional and value is None:
        return
    if not callable(value):
        raise _Problem(f"{field} must be callable, got {type(value).__name__}")


def _fields(kspec: KernelSpec) -> KernelSpec:
    """Check every field of ``kspec``; return it with sizes and names as sorted tuples."""
    if not isinstance(kspec.summary, str):
        raise _Problem(f"summary must be a string, got {type(kspec.summary).__name__}")
    params = kspec.params
    if isinstance(params, Param):
        params = (params,)
    if not isinstance(params, list | tuple) or not params:
        raise _Problem(f"params must be a non-empty tuple of Param, got {params!r}")
    for p in params:
        if not isinstance(p, Param):
            raise _Problem(f"params: {p!r} is not a kernels.Param")
        if p.kind not in PARAM_KINDS:
            raise _Problem(f"params: {p.name!r} has unknown kind {p.kind!r}; "
                           f"known: {', '.join(PARAM_KINDS)}")
    _names([p.name for p in params], "params")
    if kspec.relation is not None:
        if kspec.relation not in RELATIONS:
            raise _Problem(f"unknown relation {kspec.relation!r}; known: "
                           f"{', '.join(RELATIONS)} or None")
        if len(params) != 2:
            raise _Problem(f"relation {kspec.relation!r} needs two params, got {len(params)}")
    for field in ("make_inputs", "reference", "bytes_moved", "flops"):
        _callable(kspec, field)
    _callable(kspec, "error_scale", optional=True)
    layouts = _names(kspec.layouts, "layouts")
    unknown = [v for v in layouts if v not in LAYOUTS]
    if unknown:
        raise _Problem(f"unknown layout {unknown[0]!r}; known: {', '.join(LAYOUTS)}")
    loop_variants = _names(kspec.loop_variants, "loop_variants")
    sizes = _positive_sizes(kspec.sizes, "sizes")
    if not isinstance(kspec.ladders, Mapping):
        raise _Problem(f"ladders must be a dict profile -> sizes, got {kspec.ladders!r}")
    ladders = {}
    for profile, ladder in kspec.ladders.items():
        if profile not in PROFILES:
            raise _Problem(f"ladders: unknown profile {profile!r}; known: {', '.join(PROFILES)}")
        ladders[profile] = _positive_sizes(ladder, f"ladders[{profile!r}]")
    sized = {f: _positive_size(getattr(kspec, f), f)
             for f in ("seed_size", "memory_size", "history_size", "heavy_from")}
    if kspec.ceiling is not None and kspec.ceiling not in CEILINGS:
        raise _Problem(f"unknown ceiling {kspec.ceiling!r}; known: {', '.join(CEILINGS)} or None")
    if not isinstance(kspec.atol, numbers.Real) or not kspec.atol >= 0:
        raise _Problem(f"atol must be a number >= 0, got {kspec.atol!r}")
    return replace(kspec, params=tuple(params), layouts=layouts, loop_variants=loop_variants,
                   sizes=sizes, ladders=ladders, **sized)


# --------------------------------------------------------------------------
# The spec at work: inputs, reference, error scale, work model at a small size
# --------------------------------------------------------------------------
def _expected_shape(p: Param, n: int) -> tuple[int, ...]:
    return (n,) if p.kind == "vector" else (n, n)


def _work(kspec: KernelSpec, file: str | None) -> None:
    """Call the spec's functions at a small size of its ladder; ``file`` is the
    module's, for the line an exception comes from."""
    n = min((v for v in kspec.sizes if v >= CHECK_FROM), default=max(kspec.sizes))

    def _run(field: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as exc:
            raise _Problem(f"{field} raised at n={n}: {_last_line(exc, file)}") from None

    for layout in kspec.layouts:
        inputs = _run("make_inputs", lambda layout=layout: kspec.inputs(n, layout))
        if not isinstance(inputs, tuple | list):
            raise _Problem(f"make_inputs must return a tuple of arrays, got "
                           f"{type(inputs).__name__} at n={n}")
        if len(inputs) != len(kspec.params):
            raise _Problem(f"make_inputs returned {len(inputs)} array(s) for "
                           f"{len(kspec.params)} param(s) ({', '.join(kspec.arg_names)}) at n={n}")
        for p, a in zip(kspec.params, inputs, strict=True):
            if not isinstance(a, np.ndarray):
                raise _Problem(f"make_inputs: {p.name} is a {type(a).__name__}, not a float64 "
                               f"array at n={n}")
            if a.dtype != np.float64:
                raise _Problem(f"make_inputs: {p.name} has dtype {a.dtype}, not float64 at n={n}")
            want = _expected_shape(p, n)
            if a.shape != want:
                raise _Problem(f"make_inputs: {p.name} ({p.kind}) has shape {a.shape}, "
                               f"expected {want} at n={n}")
        inputs = tuple(inputs)
        expected = _run("reference", lambda inputs=inputs: kspec.reference(*inputs))
        try:
            values = np.asarray(expected, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise _Problem(f"reference returned a non-numeric result at n={n}: "
                           f"{_last_line(exc)}") from None
        if not np.all(np.isfinite(values)):
            raise _Problem(f"reference returned NaN or infinity at n={n}")
        field = "error_scale" if kspec.error_scale is not None else "the agreement check"
        problem = _run(field, lambda inputs=inputs, expected=expected:
                       kspec.mismatch(expected, inputs, expected))
        if problem is not None:
            raise _Problem(f"the reference's result fails its own check at n={n}: {problem}")
    for field in ("bytes_moved", "flops"):
        value = _run(field, lambda field=field: getattr(kspec, field)(n))
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
            raise _Problem(f"{field}({n}) must be a number >= 0, got {value!r}")


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------
def _validated(module: ModuleType, origin: str
               ) -> list[tuple[KernelSpec, dict[tuple[str, str], Callable[..., Any]]]]:
    specs = []
    for kspec in _specs_of(module):
        if not isinstance(kspec, KernelSpec):
            raise _Problem(f"{type(kspec).__name__} {kspec!r:.60} is not a kernels.KernelSpec")
        if not isinstance(kspec.name, str) or not NAME.match(kspec.name):
            raise _Problem(f"kernel name {kspec.name!r} is not a name "
                           "(letters, digits, _; a letter first)")
        where = f"kernel {kspec.name!r}"
        if any(s.name == kspec.name for s in specs):
            raise _Problem(f"{where} is defined twice")
        if kspec.name in registry.BUILTIN_KERNELS:
            raise _Problem(f"{where} clashes with a built-in kernel")
        if kspec.name in SPECS:
            raise _Problem(f"{where} is already defined by {SPECS[kspec.name].origin}")
        try:
            checked = _fields(kspec)
            _work(checked, getattr(module, "__file__", None))
        except _Problem as exc:
            raise _Problem(f"{where}: {exc}") from None
        specs.append(replace(checked, origin=origin))

    cores: dict[str, dict[tuple[str, str], Callable[..., Any]]] = {s.name: {} for s in specs}
    for key, core in _implementations_of(module).items():
        if (not isinstance(key, tuple) or len(key) != 3
                or not all(isinstance(k, str) for k in key)):
            raise _Problem(f"IMPLEMENTATIONS: key {key!r} is not a (kernel, backend, variant) "
                           "tuple of strings")
        kernel, backend, variant = key
        if kernel not in cores:
            raise _Problem(f"IMPLEMENTATIONS: {key!r}: unknown kernel {kernel!r}; this module "
                           f"defines {', '.join(cores)}")
        if backend not in registry.BACKENDS:
            raise _Problem(f"IMPLEMENTATIONS: {key!r}: unknown backend {backend!r}; known: "
                           f"{', '.join(registry.BACKENDS)}")
        if not NAME.match(variant):
            raise _Problem(f"IMPLEMENTATIONS: {key!r}: variant {variant!r} is not a name "
                           "(letters, digits, _; a letter first)")
        if not callable(core):
            raise _Problem(f"IMPLEMENTATIONS: {key!r} is not callable "
                           f"({type(core).__name__})")
        cores[kernel][backend, variant] = core
    return [(s, cores[s.name]) for s in specs]


def _load(source: str, label: str) -> list[KernelSpec]:
    key = _key(source)
    done = _LOADED.get(key)
    if done is not None and all(SPECS.get(s.name) is s for s in done):
        return list(done)
    try:
        module = _import(source)
        found = _validated(module, source)
    except _Problem as exc:
        raise ExternalKernelError(f"{label}: {exc}") from None
    registered: list[str] = []
    try:
        for kspec, cores in found:
            registry.register(kspec, cores)
            registered.append(kspec.name)
    except ValueError as exc:  # validated above; kept all-or-nothing regardless
        for name in registered:
            registry.unregister(name)
        raise ExternalKernelError(f"{label}: {exc}") from None
    _LOADED[key] = tuple(s for s, _ in found)
    return [s for s, _ in found]


def load(source: str) -> list[KernelSpec]:
    """Validate the module ``source`` and register its kernels.

    Parameters
    ----------
    source
        The path of a ``.py`` file (relative to the current folder) or the
        name of an importable module.  A file's folder is on ``sys.path``
        while it is imported, so it can import modules beside it.

    Returns
    -------
    list of KernelSpec
        The kernels registered, each with ``origin`` set to ``source``.
        Loading a source again returns them without registering anything.

    Raises
    ------
    ExternalKernelError
        With one line, ``"<source>: <problem>"``, when the module cannot be
        imported, lacks or mistypes ``SPECS``/``IMPLEMENTATIONS``, a spec is
        wrong (fields, inputs, reference) or a name is taken.  Nothing is
        registered then.
    """
    return _load(source, source)


def load_entry_points(group: str = GROUP) -> list[KernelSpec]:
    """Load every module named by the entry points of ``group`` (see :func:`load`).

    Each entry point names a module (``name = package.module``).  A bad one
    raises :class:`ExternalKernelError` naming the module and the entry point.
    """
    out = []
    for ep in sorted(importlib.metadata.entry_points(group=group), key=lambda e: e.name):
        label = f"{ep.value} (entry point {ep.name!r} of {group})"
        if ep.attr:
            raise ExternalKernelError(f"{label}: an entry point of {group} names a module, "
                                      "not an attribute")
        out.extend(s for s in _load(ep.module, label) if s not in out)
    return out


def loaded() -> dict[str, tuple[str, ...]]:
    """The sources loaded so far (resolved path or module name) -> their kernels' names."""
    return {key: tuple(s.name for s in specs) for key, specs in _LOADED.items()}


def unload(source: str) -> None:
    """Unregister the kernels of ``source`` (tests; a no-op when it is not loaded)."""
    key = _key(source)
    for kspec in _LOADED.pop(key, ()):
        if SPECS.get(kspec.name) is kspec:
            registry.unregister(kspec.name)
    name = _MODULE_NAMES.pop(key, None)
    if name is not None:
        sys.modules.pop(name, None)


def verify(kernel: str) -> dict[tuple[str, str], str | None]:
    """Each implementation of ``kernel`` against its reference on a few small sizes.

    Returns
    -------
    dict
        ``(backend, variant) -> None`` when it agrees, else what went wrong
        (``"not run: <reason>"`` for one that cannot run here).  Backends
        that failed to import have no entries (see ``registry.available()``).
    """
    registry.spec(kernel)
    return {(i.backend, i.variant): agreement.check(i) if i.runnable
            else f"not run: {i.unavailable}"
            for i in registry.implementations() if i.kernel == kernel}

"""The SIMD path of the vector sin, and the one setting that forces a narrower one.

Two compiled variants take their sin from glibc's vector math library
(libmvec): sum_sq_sin ``vector_sin`` and ``parallel``, in both compiled
backends, and the sin-throughput ceiling.  Which libmvec function they call
depends on the CPU, so the same source runs different machine code on
different machines:

=========  ===================  ============================================
path       libmvec function     runs where
=========  ===================  ============================================
avx512     ``_ZGVeN8v_sin``     AVX-512F (eight doubles a call)
avx2       ``_ZGVdN4v_sin``     AVX2 (four doubles a call)
scalar     libm's ``sin``       anywhere: one double a call, no libmvec
=========  ===================  ============================================

By default each process takes the widest path this machine can run.  The
environment variable ``VECBENCH_SIMD`` (``avx512``, ``avx2``, ``scalar`` or
``auto``) forces one for both backends at once: they must agree, because the
libmvec functions of different widths may round differently and the two
backends are checked to give the same bits.  The tests do not rely on the
setting: they run every path this machine can execute, each through
:func:`kernels.implementation`'s ``path`` argument, so the narrower paths are
executed on the widest machine too.

A path this machine cannot run is never built: asking for it gives the
reason instead (:func:`why_not`).  Numba's target is the one Numba compiles
for, so ``NUMBA_CPU_FEATURES`` (Numba's documented setting) narrows it too.
"""

from __future__ import annotations

import ctypes.util
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

#: The paths, widest first.
PATHS: tuple[str, ...] = ("avx512", "avx2", "scalar")
#: The setting that forces a path for the whole process.
ENV = "VECBENCH_SIMD"
AUTO = "auto"


@dataclass(frozen=True)
class Path:
    """One SIMD path: how many doubles a sin call takes, and what it needs."""

    name: str
    width: int  # doubles per call of the sin; 1 for scalar
    symbol: str  # the libmvec function (scalar: libm's sin)
    feature: str | None  # the CPU feature it needs (LLVM's name), None for scalar

    def describe(self) -> str:
        if self.feature is None:
            return "scalar: libm sin, one double a call"
        return f"{self.name}: libmvec {self.symbol}, {self.width} doubles a call"


SPECS: dict[str, Path] = {
    "avx512": Path("avx512", 8, "_ZGVeN8v_sin", "avx512f"),
    "avx2": Path("avx2", 4, "_ZGVdN4v_sin", "avx2"),
    "scalar": Path("scalar", 1, "sin", None),
}


@dataclass(frozen=True)
class ByPath:
    """A registry entry whose machine code depends on the path: built per path, on demand.

    ``build(path)`` returns the bare core of that path; it is called only for
    a path ``why_not`` accepts (the backend's own check: the extension may
    lack what the CPU has).  ``vector_only``: the variant *is* the vector sin,
    so on the scalar path it is listed as unavailable (it still runs, and the
    tests run it).
    """

    build: Callable[[str], Callable[..., Any]]
    why_not: Callable[[str], str | None]
    vector_only: bool = False


class SimdSettingError(ValueError):
    """``VECBENCH_SIMD`` holds a value that names no path."""


@cache
def libmvec() -> str | None:
    """The file name of glibc's libmvec, or None where there is none (macOS, musl, ...)."""
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return None
    return ctypes.util.find_library("mvec")


def _parse_features(text: str) -> dict[str, bool]:
    """LLVM's feature string (``+avx2,-avx512f,...``) as a dict."""
    out = {}
    for item in text.split(","):
        item = item.strip()
        if item[:1] in "+-" and len(item) > 1:
            out[item[1:]] = item[0] == "+"
    return out


@cache
def target_features() -> dict[str, bool]:
    """The CPU features Numba compiles for: ``NUMBA_CPU_FEATURES`` when set, else the host's.

    Numba itself does the same (a ``NUMBA_CPU_NAME`` alone keeps the host's features).
    """
    forced = os.environ.get("NUMBA_CPU_FEATURES")
    if forced:
        return _parse_features(forced)
    import llvmlite.binding as llvm

    return dict(llvm.get_host_cpu_features())


def why_not(path: str) -> str | None:
    """Why this machine cannot run ``path`` (for Numba's target), or None when it can."""
    spec = _spec(path)
    if spec.feature is None:
        return None
    if libmvec() is None:
        return (f"{path} needs glibc's libmvec, which this system does not have "
                f"({platform.system()} {platform.machine()})")
    if not target_features().get(spec.feature):
        where = ("NUMBA_CPU_FEATURES" if os.environ.get("NUMBA_CPU_FEATURES")
                 else "this CPU")
        return f"{path} needs the CPU feature {spec.feature}, which {where} lacks"
    return None


def runnable() -> tuple[str, ...]:
    """The paths this machine can run, widest first; ``scalar`` always."""
    return tuple(p for p in PATHS if why_not(p) is None)


def _spec(path: str) -> Path:
    try:
        return SPECS[path]
    except KeyError:
        raise SimdSettingError(
            f"unknown SIMD path {path!r}; expected one of {', '.join(PATHS)}") from None


def requested() -> str:
    """``VECBENCH_SIMD`` as set (``auto`` when unset or empty).

    Raises
    ------
    SimdSettingError
        When the setting names no path.
    """
    value = os.environ.get(ENV, "").strip().lower() or AUTO
    if value != AUTO and value not in SPECS:
        raise SimdSettingError(
            f"{ENV}={os.environ[ENV]!r} names no SIMD path; expected one of "
            f"{', '.join((AUTO, *PATHS))}")
    return value


def selected() -> str:
    """The path of this process: the one ``VECBENCH_SIMD`` forces, else the widest runnable.

    A forced path this machine cannot run is still returned: the variants
    that need it are then unavailable, with :func:`why_not` as the reason.
    """
    value = requested()
    return runnable()[0] if value == AUTO else value


def describe(path: str) -> str:
    """One line for people: the path, the function it calls and its width."""
    return _spec(path).describe()


def record() -> dict[str, object]:
    """What a saved run records: the setting, the path taken, and every path's status."""
    try:
        value, path = requested(), selected()
    except SimdSettingError as exc:
        value, path = f"invalid: {exc}", None
    return {
        "setting": f"{ENV}={value}",
        "path": path,
        "paths": {p: why_not(p) or "runnable" for p in PATHS},
        "libmvec": libmvec() or "not found",
    }

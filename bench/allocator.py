"""The C allocator's regime: a declared condition of every run, not an accident.

A kernel that returns a new array, or makes temporaries, asks ``malloc`` for
large blocks on every call.  What it gets depends on glibc's state: a block
below the mmap threshold is carved from the heap, whose pages were touched
before (warm); a block above it is a fresh mapping, whose every page faults
and is zeroed by the kernel on first touch.  glibc also raises the threshold
by itself each time a mapped block is freed, so without control the regime
of a benchmark depends on what happened to run earlier in the process (the
long-double reference computed before timing, say): ``magnitude`` at n=10^6
measured 2.8 ms after it and 5.9 ms in a fresh process.

Here the regimes are plain data, set with glibc's ``mallopt(3)`` (fixed
values, which also switch off the dynamic threshold):

``warm``
    every large block comes from the heap and freed memory stays there:
    memory-mapped blocks off (``M_MMAP_MAX`` 0, so even blocks above the
    largest threshold glibc accepts, 32 MiB, are heap blocks), and the top
    of the heap is not given back below 1 GiB.  What a long-running program
    that allocates the same sizes over and over meets.
``fresh``
    every block of at least one page is a fresh mapping, unmapped when freed:
    page faults and zeroing on first touch.  What a short program, or one
    whose allocator gives memory back, meets.

Both set the same parameters, so switching from one to the other leaves
nothing of the first behind.  :func:`environment` gives the same regime as
``MALLOC_*_`` environment variables, for a fresh process.

The mmap threshold alone does not make ``fresh`` in a process that ran
``warm`` before: glibc maps a block only when no free block of the heap can
hold it (``sysmalloc``), and ``warm`` leaves the heap full of large free
blocks whose pages are warm.  A fresh process never has them (every large
block was a mapping).  So entering ``fresh`` in a process also reserves every
free heap block of a page or more (:data:`RESERVE_FREE_HEAP`): ``malloc``
takes them, from the largest size down, until a request of that size comes
back as a mapping; no page of them is touched, and they are freed when the
process leaves ``fresh``.  That reserve covers the main arena, where the
calling thread's blocks come from (the kernels allocate in the calling thread).

Transparent huge pages are part of the regime too.  NumPy asks for them for
arrays of 4 MiB or more, and a fresh block then faults in 2 MiB at a time,
but only over the aligned 2 MiB regions it covers: where the kernel puts the
mapping, so how many such regions an 8 MB block covers (3 or 2: 421 or 932
faults), depends on the process's address-space layout, that is on its
history.  magnitude at n = 10^6 took 6.3 ms in a fresh process whose three
8 MB blocks each got three huge pages, and 14 ms with 4 KiB pages only; the
harness's process, with another layout, fell in between.  So ``fresh`` turns
them off for the process (``prctl(PR_SET_THP_DISABLE)``, Linux 3.15 on; a
child process inherits it): every fresh page is a 4 KiB fault, the same in
every process.  ``warm`` leaves them to the kernel's mode (its pages are
faulted once, before timing).  :data:`HUGE_PAGES` holds this, :func:`record`
says whether it could be set, and :func:`faults_per_call` (recorded per
benchmark at the memory sizes) shows what a run got.

Where the allocator cannot be controlled (not glibc: macOS, musl; or
``mallopt`` refusing a value), nothing breaks: :func:`apply` returns False
and :func:`record` says ``"controlled": false`` and why.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import platform
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: ``mallopt`` parameter numbers, from glibc's ``<malloc.h>``.
PARAMS: dict[str, int] = {
    "M_TRIM_THRESHOLD": -1,
    "M_TOP_PAD": -2,
    "M_MMAP_THRESHOLD": -3,
    "M_MMAP_MAX": -4,
    "M_ARENA_MAX": -8,
}
#: The environment variable glibc reads at start-up for each parameter (mallopt(3)).
ENV_NAMES: dict[str, str] = {
    "M_TRIM_THRESHOLD": "MALLOC_TRIM_THRESHOLD_",
    "M_TOP_PAD": "MALLOC_TOP_PAD_",
    "M_MMAP_THRESHOLD": "MALLOC_MMAP_THRESHOLD_",
    "M_MMAP_MAX": "MALLOC_MMAP_MAX_",
    "M_ARENA_MAX": "MALLOC_ARENA_MAX",
}

PAGE = mmap.PAGESIZE
#: The largest mmap threshold glibc accepts on 64-bit (HEAP_MAX_SIZE / 2).
MAX_MMAP_THRESHOLD = 32 * 1024 * 1024
#: glibc's documented defaults of the parameters a regime does not change.
_TOP_PAD = 128 * 1024
_MMAP_MAX = 65536

#: The regimes: ``mallopt`` parameter -> value.  Every regime sets the same
#: parameters, so applying one undoes any other.
REGIMES: dict[str, dict[str, int]] = {
    "warm": {
        "M_MMAP_THRESHOLD": MAX_MMAP_THRESHOLD,  # fixed: no dynamic threshold
        "M_MMAP_MAX": 0,  # no mapped blocks at all: larger blocks are heap blocks too
        "M_TRIM_THRESHOLD": 1024 * 1024 * 1024,  # freed memory stays in the heap
        "M_TOP_PAD": _TOP_PAD,
    },
    "fresh": {
        "M_MMAP_THRESHOLD": PAGE,  # every block of a page or more is a fresh mapping
        "M_MMAP_MAX": _MMAP_MAX,
        "M_TRIM_THRESHOLD": 128 * 1024,  # glibc's default: the heap gives memory back
        "M_TOP_PAD": _TOP_PAD,
    },
}
#: Transparent huge pages in each regime: True leaves them to the kernel's mode
#: (``/sys/kernel/mm/transparent_hugepage/enabled``), False turns them off for
#: the process.  Every regime says, so applying one undoes any other.
HUGE_PAGES: dict[str, bool] = {"warm": True, "fresh": False}
#: ``prctl`` options, from Linux's ``<linux/prctl.h>``.
PR_SET_THP_DISABLE = 41
PR_GET_THP_DISABLE = 42
#: Regimes in which no free heap block of a page or more may serve a request:
#: entering one reserves them (see the module's docstring).
RESERVE_FREE_HEAP = frozenset({"fresh"})
#: The regime of every benchmark not marked otherwise.
DEFAULT = "warm"
HOW = "glibc mallopt"


class AllocatorError(Exception):
    """The allocator cannot be set as asked; the message is one line."""


# The state of this process: the regime in force (None: none applied or it
# failed), and why it is not controlled.
_state: dict[str, Any] = {"current": None, "why": "no regime applied in this session",
                          "huge_pages_why": "no regime applied in this session"}
# Free heap blocks reserved while a RESERVE_FREE_HEAP regime is in force.
_reserved: list[int] = []


def _load_mallopt() -> Callable[[int, int], int]:
    """glibc's ``mallopt`` through ctypes.

    Raises
    ------
    AllocatorError
        Not glibc, or no ``mallopt`` in the process.
    """
    name, version = platform.libc_ver()
    if name != "glibc":
        raise AllocatorError(f"the C library is not glibc (platform.libc_ver() gives "
                             f"{name or 'nothing'!r}), no mallopt to set")
    try:
        func = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError) as exc:
        raise AllocatorError(f"glibc {version}: mallopt not found ({exc})") from None
    func.argtypes = (ctypes.c_int, ctypes.c_int)
    func.restype = ctypes.c_int
    return func


#: How ``mallopt`` is found; tests replace it to force the uncontrolled branch.
load_mallopt: Callable[[], Callable[[int, int], int]] = _load_mallopt


def set_params(params: dict[str, int]) -> None:
    """Set each ``mallopt`` parameter of ``params``.

    Raises
    ------
    AllocatorError
        ``mallopt`` is not there, or refused a value (it returns 1 on success).
    """
    mallopt = load_mallopt()
    for param, value in params.items():
        if param not in PARAMS:
            raise AllocatorError(f"unknown mallopt parameter {param!r}")
        done = mallopt(PARAMS[param], int(value))
        if done != 1:
            raise AllocatorError(f"mallopt({param}, {value}) refused (returned {done})")


def _load_prctl() -> Callable[[int, int, int, int, int], int]:
    """Linux's ``prctl`` through ctypes.

    Raises
    ------
    AllocatorError
        Not Linux, or no ``prctl`` in the C library.
    """
    if not sys.platform.startswith("linux"):
        raise AllocatorError(f"not Linux ({sys.platform}): no prctl to turn transparent "
                             "huge pages off")
    try:
        func = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError) as exc:
        raise AllocatorError(f"prctl not found ({exc})") from None
    func.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                     ctypes.c_ulong)
    func.restype = ctypes.c_int
    return func


#: How ``prctl`` is found; tests replace it to force the uncontrolled branch.
load_prctl: Callable[[], Callable[[int, int, int, int, int], int]] = _load_prctl


def set_huge_pages(allowed: bool) -> None:
    """Leave transparent huge pages to the kernel's mode (``allowed``) or turn
    them off for this process and the processes it starts.

    Raises
    ------
    AllocatorError
        ``prctl`` is not there or refused (a kernel before 3.15).
    """
    prctl = load_prctl()
    if prctl(PR_SET_THP_DISABLE, 0 if allowed else 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise AllocatorError(f"prctl(PR_SET_THP_DISABLE, {0 if allowed else 1}) refused: "
                             f"{os.strerror(err) if err else 'no reason given'}")


def huge_pages_allowed() -> bool | None:
    """Whether this process may get transparent huge pages (False: turned off
    by ``prctl``), or None where that cannot be read."""
    try:
        prctl = load_prctl()
    except AllocatorError:
        return None
    got = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0)
    return None if got < 0 else got == 0


def apply(regime: str) -> bool:
    """Put the allocator of this process in ``regime``.

    Returns
    -------
    bool
        True when it was set.  False when it cannot be controlled here; the
        reason is kept for :func:`record`, and nothing is raised.  Transparent
        huge pages are set too (:data:`HUGE_PAGES`); where they cannot be, the
        regime still holds and :func:`record` says why.

    Raises
    ------
    ValueError
        ``regime`` is not one of :data:`REGIMES` (a programming error).
    """
    if regime not in REGIMES:
        raise ValueError(f"unknown allocator regime {regime!r}; known: {', '.join(REGIMES)}")
    try:
        set_params(REGIMES[regime])
        _release_reserved()  # under the new parameters: "warm" keeps them in the heap
        if regime in RESERVE_FREE_HEAP:
            _reserve_free_heap()
    except AllocatorError as exc:
        _state.update(current=None, why=str(exc))
        return False
    _state.update(current=regime, why=None)
    try:
        set_huge_pages(HUGE_PAGES[regime])
        _state["huge_pages_why"] = None
    except AllocatorError as exc:  # malloc's part holds; the run says huge pages do not
        _state["huge_pages_why"] = str(exc)
    return True


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None)
    libc.malloc.argtypes = (ctypes.c_size_t,)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = (ctypes.c_void_p,)
    libc.free.restype = None
    return libc


def _mapped_blocks() -> int:
    info = mallinfo()
    if info is None:
        raise AllocatorError("neither mallinfo2 nor mallinfo found: cannot tell mapped blocks")
    return info["hblks"]


def _reserve_free_heap() -> int:
    """Take every free block of the heap of a page or more, so that a request
    of a page or more must be a fresh mapping; returns the bytes reserved.

    Must run under a regime whose mmap threshold is a page: a request that no
    free block holds then comes back as a mapping (freed at once) instead of
    growing the heap, which ends the search at that size.
    """
    libc = _libc()
    info = mallinfo()
    free_bytes = info["fordblks"] if info is not None else 0
    size, taken = PAGE, 0
    while size * 2 <= free_bytes:
        size *= 2
    while size >= PAGE:
        before = _mapped_blocks()
        # A request of size - 8 is a chunk of exactly ``size`` bytes (glibc
        # adds its 8-byte header and rounds to 16).
        block = libc.malloc(size - 8)
        if not block:
            break
        if _mapped_blocks() > before:  # no free block that large is left
            libc.free(block)
            size //= 2
            continue
        _reserved.append(block)
        taken += size
    return taken


def _release_reserved() -> None:
    if _reserved:
        libc = _libc()
        while _reserved:
            libc.free(_reserved.pop())


def current() -> str | None:
    """The regime in force, or None when the allocator is not controlled."""
    return _state["current"]


def label() -> str:
    """What a benchmark records as its regime: the regime, or ``"uncontrolled"``."""
    return _state["current"] or "uncontrolled"


def why_not() -> str | None:
    """Why the allocator is not controlled (None: it is)."""
    return None if _state["current"] is not None else _state["why"]


@contextmanager
def regime(name: str) -> Iterator[bool]:
    """Run a block in regime ``name``, then go back to the regime before (the
    default when none was in force), also when the block raises.

    Yields whether ``name`` was set.
    """
    before = _state["current"] or DEFAULT
    try:
        yield apply(name)
    finally:
        apply(before)


def environment(name: str) -> dict[str, str]:
    """Regime ``name`` as the environment variables glibc reads when a process starts."""
    if name not in REGIMES:
        raise ValueError(f"unknown allocator regime {name!r}; known: {', '.join(REGIMES)}")
    return {ENV_NAMES[p]: str(v) for p, v in REGIMES[name].items()}


def transparent_hugepages() -> str | None:
    """The kernel's transparent huge page mode ("always", "madvise", "never"), or None.

    It decides what a fresh page costs: NumPy asks for huge pages for arrays
    of 4 MiB or more, and a fresh block then faults in 2 MiB at a time where
    it covers an aligned 2 MiB region.
    """
    try:
        text = Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return None
    chosen = [w.strip("[]") for w in text.split() if w.startswith("[")]
    return chosen[0] if chosen else None


def faults_per_call(func: Callable[..., Any], args: tuple[Any, ...],
                    calls: int = 1) -> float | None:
    """Minor page faults of the process per call of ``func(*args)`` (the mean
    of ``calls`` calls after one untimed call), or None where ``getrusage``
    does not count them.

    Load-independent evidence of the regime: 0 for a warm call; for a fresh
    one, a fault per page touched first (4 KiB, or 2 MiB with huge pages).
    """
    try:
        import resource
    except ImportError:
        return None
    func(*args)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        func(*args)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


def record() -> dict[str, Any]:
    """The run's declaration (the run JSON's ``vecbench.allocator``).

    Beside the contract's keys, ``transparent_hugepages``: the kernel's mode;
    ``huge_pages``: regime -> ``"kernel"`` (left to that mode) or ``"off"``
    (:data:`HUGE_PAGES`), or None with ``huge_pages_why`` when they could not
    be set.
    """
    controlled = _state["current"] is not None
    thp_why = _state["why"] if not controlled else _state["huge_pages_why"]
    return {
        "controlled": controlled,
        "how": HOW if controlled else "none",
        "default": DEFAULT,
        "regimes": {name: dict(params) for name, params in REGIMES.items()},
        "why": None if controlled else _state["why"],
        "transparent_hugepages": transparent_hugepages(),
        "huge_pages": None if thp_why else {name: "kernel" if HUGE_PAGES[name] else "off"
                                            for name in REGIMES},
        "huge_pages_why": thp_why,
    }


_MALLINFO_FIELDS = ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                    "uordblks", "fordblks", "keepcost")


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in _MALLINFO_FIELDS]


class _Mallinfo(ctypes.Structure):  # glibc before 2.33: int fields
    _fields_ = [(name, ctypes.c_int) for name in _MALLINFO_FIELDS]


def mallinfo() -> dict[str, int] | None:
    """glibc's ``mallinfo2(3)`` (``mallinfo`` before glibc 2.33), or None where
    there is neither (not glibc).

    ``arena`` is the heap's size, ``fordblks`` its free bytes, ``hblks`` and
    ``hblkhd`` the number and bytes of blocks that are mappings of their own.
    """
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    for name, struct in (("mallinfo2", _Mallinfo2), ("mallinfo", _Mallinfo)):
        func = getattr(libc, name, None)
        if func is not None:
            func.argtypes = ()
            func.restype = struct
            info = func()
            return {field: int(getattr(info, field)) for field in _MALLINFO_FIELDS}
    return None

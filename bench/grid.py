"""What the benchmark suites run: profiles, the selection, and the case grid.

A profile is plain data: pytest-benchmark's timing settings, a per-call time
budget, and whether it adds a size beyond the last-level cache.  Its sizes
come from each kernel's spec (``spec.ladder(profile.name)``), never from
lists here.  A :class:`Selection` (the ``--vb-*`` options, bench/plugin.py)
narrows the grid to some kernels, backends, variants and sizes.
:func:`cases` turns both into pytest parameters with string ids
(``kernel-backend-variant-nSIZE-LAYOUT``), ordered so that the cases sharing
inputs run one after another.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import kernels
from kernels.specs import KernelSpec

#: Threads of the all-cores cases: the parallel variants, and BLAS beside them.
ALL_CORES = os.cpu_count() or 1
PARALLEL_VARIANT = "parallel"
#: The ceiling whose kernels' NumPy implementations run on BLAS: they run at one
#: thread and at all cores, to stand beside either.
BLAS_CEILING = "matmul_gflops"
#: Ceilings that are a memory bandwidth: a kernel held against one means
#: something only at a size whose working set is beyond the last-level cache.
BANDWIDTH_CEILINGS = ("read_bandwidth", "stream_add_bandwidth")
#: The working set of the beyond-cache size exceeds this many last-level caches ...
CACHE_MULTIPLE = 1.5
#: ... while its inputs stay under this share of the memory available.
MEMORY_SHARE = 0.25
#: A python (lists) call is heavy (fewer rounds) from this many elements.
HEAVY_LIST_ELEMENTS = 2**22
_DOUBLINGS = 64  # how far the beyond-cache size may extend a spec's sizes


@dataclass(frozen=True)
class Profile:
    """Timing settings of one benchmark profile; its sizes come from the specs."""

    name: str
    max_time: float  # pytest-benchmark: seconds of rounds per benchmark
    min_time: float  # pytest-benchmark: a round repeats the call until it lasts this long
    min_rounds: int
    heavy_rounds: int  # min_rounds of the heavy cases (calls of a second or more)
    call_budget: float  # a single call estimated above this is skipped
    jit_rounds: int
    jit_all_variants: bool
    #: Whether the fresh-pages cases include Python's lists: their bulk (the
    #: float objects) comes from CPython's own arenas, not from the regime's
    #: malloc, and they took 57 of the 73 s the fresh cases added to a quick
    #: run (a busy machine, load 5 on 2 cores).
    fresh_lists: bool = True
    #: Whether the profile times the memory-size cases again with fresh pages.
    fresh_pages: bool = True
    #: Whether a kernel held against a bandwidth ceiling also runs at a size
    #: whose working set is beyond the machine's last-level cache (see
    #: :func:`beyond_cache`), so that its percent of the ceiling means something.
    beyond_cache: bool = False
    #: Every layout of a spec (the sums in C and Fortran order), or its first only.
    all_layouts: bool = True
    #: When the machine ceilings are measured: before the kernels, and maybe
    #: after them too (bench_ceilings.py; the report keeps the higher).
    ceiling_passes: tuple[str, ...] = ("first",)
    ceiling_rounds: int = 10  # rounds of the bandwidth and sin probes
    gemm_rounds: int = 3  # rounds of the dgemm probes
    #: A probe with several candidate loops times each this many times to pick one.
    fastest_of: int = 5
    #: At most this share of the run's time is spent waiting for the machine's
    #: pace before a benchmark's rounds (bench/pace.py): the runs that are
    #: compared one against one (quick) wait the most; the full profile must
    #: stay under 10 minutes.
    pace_wait: float = 0.1

    def sizes(self, kernel: str) -> tuple[int, ...]:
        """The sizes of ``kernel`` in this profile: its spec's ladder for the
        profile, plus the beyond-cache size where the profile adds it."""
        spec = kernels.spec(kernel)
        own = set(spec.ladder(self.name))
        if self.beyond_cache and spec.ceiling in BANDWIDTH_CEILINGS:
            found = machine_beyond_cache(spec)
            if found.size is not None:
                own.add(found.size)
        return tuple(sorted(own))


PROFILES: dict[str, Profile] = {
    # The first look (vecbench report with no saved run): the seed's
    # experiments and one size beyond the last-level cache per streaming
    # kernel, each timed briefly; the ceilings measured once; no fresh pages.
    "first": Profile(
        name="first",
        max_time=0.02,
        min_time=1e-4,
        min_rounds=3,
        heavy_rounds=2,
        call_budget=0.5,
        jit_rounds=1,
        jit_all_variants=False,
        fresh_lists=False,
        fresh_pages=False,
        beyond_cache=True,
        # Row against column sums is the C-order pair; Fortran order (the
        # layout figure) is the full profile's: it took a sixth of this one.
        all_layouts=False,
        ceiling_passes=("first",),
        ceiling_rounds=2,
        gemm_rounds=2,
        fastest_of=2,
    ),
    # CI: every implementation at a few sizes, within the cache.
    "quick": Profile(
        name="quick",
        max_time=0.03,
        min_time=1e-4,
        min_rounds=5,
        heavy_rounds=5,
        call_budget=0.25,
        jit_rounds=1,
        jit_all_variants=False,
        fresh_lists=False,
        ceiling_passes=("first",),
        ceiling_rounds=3,
        gemm_rounds=2,
        pace_wait=0.5,
    ),
    # Every implementation over the whole ladders, under 10 minutes on a 2-core
    # machine.  Its ladders reach 2^24 elements and 4096^2 (128 MiB), beyond
    # a last-level cache of up to 64 MiB; no size is added beyond a larger one
    # (300 MiB on the 2-core VM it is timed on: inputs of 0.5-1 GiB, about two
    # more minutes); the first profile adds it, and --vb-sizes can.
    "full": Profile(
        name="full",
        # 1,500 cases: each 10 ms of rounds here is 15 s of the run.
        max_time=0.03,
        # Rounds of at least 0.2 ms: a tiny call is timed over many iterations
        # (less timer noise), and a saved run holds at most ~500 rounds per
        # benchmark instead of tens of thousands (file size, load time).
        min_time=2e-4,
        min_rounds=5,
        heavy_rounds=3,
        # Calls over 2 s (python from 2^24 elements, the compiled matmuls at
        # 2048) say little the smaller sizes do not, and took an eighth of the
        # run with a 3 s budget.
        call_budget=2.0,
        jit_rounds=2,
        jit_all_variants=True,
        beyond_cache=False,
        # The bandwidth a shared machine gives moves over minutes: measured
        # before and after everything else.
        ceiling_passes=("first", "last"),
        pace_wait=0.01,
    ),
}
DEFAULT_PROFILE = "full"


# --------------------------------------------------------------------------
# Beyond the last-level cache
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class BeyondCache:
    """The size a profile adds to a kernel so that its working set leaves the cache."""

    kernel: str
    size: int | None  # None: no size could be added (see ``note``)
    working_set: int | None  # spec.bytes_moved(size)
    input_bytes: int | None  # the float64 inputs at that size
    llc: int | None  # the last-level cache, bytes
    #: Why the size is not beyond ``CACHE_MULTIPLE`` caches (capped, or unknown
    #: cache), or None when it is.
    note: str | None = None

    def record(self) -> dict[str, Any]:
        """The run JSON's ``vecbench.beyond_cache[kernel]``."""
        return {"size": self.size, "working_set_bytes": self.working_set,
                "input_bytes": self.input_bytes, "llc_bytes": self.llc,
                "capped": self.note}


def input_bytes(spec: KernelSpec, n: int) -> int:
    """Bytes of a kernel's float64 inputs at size ``n``."""
    return 8 * spec.elements(n) * len(spec.params)


def _bytes(count: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{count:.0f} B"


def beyond_cache(spec: KernelSpec, llc: int | None, available: int | None) -> BeyondCache:
    """The smallest size of ``spec`` whose working set (``spec.bytes_moved``) is
    beyond ``CACHE_MULTIPLE`` times the last-level cache ``llc``, the spec's
    sizes extended by doubling where none is (each size of the top octave
    doubled, so the extension keeps the ladder's steps); capped so that the
    inputs stay under ``MEMORY_SHARE`` of the ``available`` memory (the note
    says so).

    Parameters
    ----------
    spec
        The kernel's spec.
    llc
        The last-level cache in bytes; None or 0 when unknown (no size is added).
    available
        Bytes of memory available; None when unknown (no cap).
    """
    if not llc:
        return BeyondCache(spec.name, None, None, None, llc,
                           "the last-level cache size of this machine is unknown")
    target = CACHE_MULTIPLE * llc
    chain = _extended(spec, target)
    wanted = next((n for n in chain if spec.bytes_moved(n) > target), None)
    if wanted is None:
        return BeyondCache(spec.name, None, None, None, llc,
                           f"its working set does not grow beyond {_bytes(target)} "
                           f"at n={chain[-1]}")
    limit = MEMORY_SHARE * available if available else math.inf
    if input_bytes(spec, wanted) < limit:
        return BeyondCache(spec.name, wanted, spec.bytes_moved(wanted),
                           input_bytes(spec, wanted), llc)
    fits = [n for n in chain if n < wanted and input_bytes(spec, n) < limit]
    why = (f"n={wanted} (working set {_bytes(spec.bytes_moved(wanted))}, beyond "
           f"{CACHE_MULTIPLE} x the {_bytes(llc)} last-level cache) needs "
           f"{_bytes(input_bytes(spec, wanted))} of inputs, over {MEMORY_SHARE:.0%} of the "
           f"{_bytes(available or 0)} of memory available")
    if not fits:
        return BeyondCache(spec.name, None, None, None, llc, f"{why}; no size added")
    got = fits[-1]
    return BeyondCache(spec.name, got, spec.bytes_moved(got), input_bytes(spec, got), llc,
                       f"{why}; capped at n={got} (working set "
                       f"{_bytes(spec.bytes_moved(got))}, within the cache)")


def _extended(spec: KernelSpec, target: int) -> list[int]:
    """The spec's sizes and their doublings, up to the first beyond ``target`` bytes
    (at most ``_DOUBLINGS`` doublings)."""
    sizes = set(spec.sizes)
    for _ in range(_DOUBLINGS):
        top = max(sizes)
        if spec.bytes_moved(top) > target:
            break
        sizes |= {2 * n for n in sizes if 2 * n > top}
    return sorted(sizes)


def last_level_cache() -> int | None:
    """This machine's last-level cache in bytes (bench/machine.py), or None."""
    from bench.machine import cpu_caches

    return max(cpu_caches().values(), default=None)


_BEYOND: dict[tuple[str, int], BeyondCache] = {}


def machine_beyond_cache(spec: KernelSpec) -> BeyondCache:
    """:func:`beyond_cache` on this machine, worked out once per spec and process."""
    key = (spec.name, id(spec))
    if key not in _BEYOND:
        from bench.state import available_memory

        _BEYOND[key] = beyond_cache(spec, last_level_cache(), available_memory())
    return _BEYOND[key]


# --------------------------------------------------------------------------
# The selection
# --------------------------------------------------------------------------
_NUMBER = re.compile(r"^\s*\d[\d_]*(\.\d*)?([eE]\+?\d+)?\s*$")
SIZES_SYNTAX = ("a range LO..HI (the profile's sizes within it, e.g. 1e3..1e7) or a list "
                "of sizes (e.g. 1000,4096,1e6)")


_MAX_SIZE = 2**62  # beyond anything an array can hold


def _size(text: str, whole: str) -> int:
    if not _NUMBER.match(text):
        raise ValueError(f"sizes {whole!r}: {text.strip()!r} is not a size; expected "
                         f"{SIZES_SYNTAX}")
    value = Decimal(text.strip().replace("_", ""))
    if value != value.to_integral_value() or value < 1:
        raise ValueError(f"sizes {whole!r}: {text.strip()} is not a positive whole number")
    if value > _MAX_SIZE:
        raise ValueError(f"sizes {whole!r}: {text.strip()} is too large")
    return int(value)


@dataclass(frozen=True)
class Sizes:
    """A size selection: a range of the profile's sizes, or exactly some sizes."""

    text: str
    low: int | None = None
    high: int | None = None
    exact: tuple[int, ...] | None = None

    def pick(self, ladder: Iterable[int]) -> tuple[int, ...]:
        """The sizes kept of a profile's ``ladder``."""
        if self.exact is not None:
            return self.exact
        assert self.low is not None and self.high is not None
        return tuple(n for n in ladder if self.low <= n <= self.high)


def parse_sizes(text: str) -> Sizes:
    """Parse a size selection: ``"1e3..1e7"`` (the profile's sizes in that range,
    both ends included) or ``"1000,4096,1e6"`` (exactly these sizes).

    Raises
    ------
    ValueError
        One line naming what is wrong.
    """
    whole = text.strip()
    if not whole:
        raise ValueError(f"sizes {whole!r}: empty; expected {SIZES_SYNTAX}")
    if ".." in whole:
        low_text, _, high_text = whole.partition("..")
        if ".." in high_text or "," in whole:
            raise ValueError(f"sizes {whole!r}: expected {SIZES_SYNTAX}")
        low, high = _size(low_text, whole), _size(high_text, whole)
        if low > high:
            raise ValueError(f"sizes {whole!r}: the range is empty ({low} > {high})")
        return Sizes(whole, low=low, high=high)
    parts = whole.split(",")
    if any(not p.strip() for p in parts):
        raise ValueError(f"sizes {whole!r}: an empty entry; expected {SIZES_SYNTAX}")
    return Sizes(whole, exact=tuple(sorted({_size(p, whole) for p in parts})))


def _names(values: Iterable[str] | None) -> tuple[str, ...] | None:
    """Names given as ``a,b`` (or several such), in order, once each; None if none."""
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for value in values:
        out.extend(v.strip() for v in str(value).split(",") if v.strip())
    return tuple(dict.fromkeys(out)) or None


@dataclass(frozen=True)
class Selection:
    """A slice of the grid: some kernels, backends, variants, sizes (None: all).

    ``sources`` are the external kernel modules the run loaded (``--vb-kernels``).
    """

    kernels: tuple[str, ...] | None = None
    backends: tuple[str, ...] | None = None
    variants: tuple[str, ...] | None = None
    sizes: Sizes | None = None
    sources: tuple[str, ...] = ()

    @property
    def is_slice(self) -> bool:
        """Whether the selection leaves anything of the grid out."""
        return any(v is not None for v in (self.kernels, self.backends, self.variants,
                                            self.sizes))

    def has_kernel(self, kernel: str) -> bool:
        return self.kernels is None or kernel in self.kernels

    def has_backend(self, backend: str) -> bool:
        return self.backends is None or backend in self.backends

    def includes(self, impl: Any) -> bool:
        """Whether an implementation (or availability row) is in the selection."""
        return (self.has_kernel(impl.kernel) and self.has_backend(impl.backend)
                and (self.variants is None or impl.variant in self.variants))

    def sizes_of(self, profile: Profile, kernel: str) -> tuple[int, ...]:
        """The sizes ``kernel`` runs at: the profile's, narrowed by the selection."""
        ladder = profile.sizes(kernel)
        return ladder if self.sizes is None else self.sizes.pick(ladder)

    def selected_kernels(self) -> tuple[str, ...]:
        """The selected kernels, in the registry's order."""
        return tuple(k for k in kernels.SPECS if self.has_kernel(k))

    def record(self) -> dict[str, Any]:
        """The run JSON's ``vecbench.selection``."""
        return {
            "kernels": list(self.selected_kernels()),
            "backends": list(self.backends) if self.backends is not None else None,
            "variants": list(self.variants) if self.variants is not None else None,
            "sizes": self.sizes.text if self.sizes is not None else None,
            "sources": list(self.sources),
            "slice": self.is_slice,
        }


EVERYTHING = Selection()


def make_selection(kernel: Iterable[str] | str | None = None,
                   backend: Iterable[str] | str | None = None,
                   variant: Iterable[str] | str | None = None,
                   sizes: str | None = None, sources: Iterable[str] = (),
                   defined: Iterable[str] = ()) -> Selection:
    """Check the names of a selection and build it.

    Parameters
    ----------
    kernel, backend, variant
        Names, each ``"a,b"`` or several such; None for all.
    sizes
        A size selection (:func:`parse_sizes`), or None for the profile's sizes.
    sources
        The external kernel modules loaded for this run.
    defined
        The kernels those modules defined: the selection's kernels when
        ``kernel`` is None and ``sources`` is not empty.

    Raises
    ------
    ValueError
        One line: an unknown kernel, backend or variant (with the known ones), or
        bad sizes.
    """
    kernel_names, backend_names = _names(kernel), _names(backend)
    variant_names = _names(variant)
    known = tuple(kernels.SPECS)
    for name in kernel_names or ():
        if name not in known:
            raise ValueError(f"unknown kernel {name!r}; known: {', '.join(known)}")
    for name in backend_names or ():
        if name not in kernels.BACKENDS:
            raise ValueError(f"unknown backend {name!r}; known: {', '.join(kernels.BACKENDS)}")
    sources = tuple(sources)
    if kernel_names is None and sources:
        kernel_names = tuple(dict.fromkeys(defined))
    chosen = Selection(kernel_names, backend_names, None, None, sources)
    if variant_names is not None:
        rows = [r for r in kernels.available() if chosen.includes(r) and r.variant != "?"]
        offered = tuple(dict.fromkeys(r.variant for r in rows))
        for name in variant_names:
            if name not in offered:
                raise ValueError(f"unknown variant {name!r} for the selected kernels and "
                                 f"backends; known: {', '.join(offered) or 'none'}")
    return Selection(kernel_names, backend_names, variant_names,
                     parse_sizes(sizes) if sizes is not None else None, sources)


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One steady-state benchmark: an implementation at a size, layout and thread count."""

    impl: kernels.Implementation
    n: int
    layout: str
    threads: int = 1

    @property
    def id(self) -> str:
        i = self.impl
        suffix = f"-t{self.threads}" if self.threads > 1 else ""
        return f"{i.kernel}-{i.backend}-{i.variant}-n{self.n}-{self.layout}{suffix}"

    @property
    def group(self) -> str:
        return f"{self.impl.kernel} n={self.n}"

    @property
    def heavy(self) -> bool:
        """A call of a second or more: from the spec's ``heavy_from``, and python's
        lists from ``HEAVY_LIST_ELEMENTS`` elements."""
        spec = kernels.spec(self.impl.kernel)
        if spec.heavy_from is not None and self.n >= spec.heavy_from:
            return True
        return self.impl.inputs == "lists" and spec.elements(self.n) >= HEAVY_LIST_ELEMENTS


def threads_for(impl: kernels.Implementation) -> tuple[int, ...]:
    """Thread counts an implementation runs at: one, or all cores for the parallel
    variants; NumPy's implementations of a kernel held against BLAS's ceiling
    run at both, to stand beside either."""
    if impl.variant == PARALLEL_VARIANT:
        return (ALL_CORES,)
    if (impl.backend == "numpy" and kernels.spec(impl.kernel).ceiling == BLAS_CEILING
            and ALL_CORES > 1):
        return (1, ALL_CORES)
    return (1,)


def cases(profile: Profile, selection: Selection | None = None) -> list[Case]:
    """Every available implementation of the selection at every size and layout
    of ``profile`` (the whole grid when ``selection`` is None).

    At the size a profile adds beyond the cache (:func:`beyond_cache`), which
    is there for the bandwidth ceilings, only the spec's first layout and the
    array backends run: the layouts' cache experiment is the ladder's, and
    Python's lists are held against no ceiling (they are listed as not in
    the profile, :func:`beyond_left_out`).

    Ordered kernel, size, layout, backend, variant: cases that share inputs
    are adjacent, so each input set is built once.
    """
    chosen = selection or EVERYTHING
    impls = [i for i in kernels.implementations() if chosen.includes(i)]
    out = []
    for kernel, spec in kernels.SPECS.items():
        mine = [i for i in impls if i.kernel == kernel]
        if not mine:
            continue
        for n in chosen.sizes_of(profile, kernel):
            added = _added(profile, spec, n, chosen)
            for layout in spec.layouts if profile.all_layouts and not added \
                    else spec.layouts[:1]:
                out.extend(Case(i, n, layout, t) for i in mine for t in threads_for(i)
                           if not (added and i.inputs == "lists"))
    return out


def _added(profile: Profile, spec: KernelSpec, n: int, selection: Selection) -> bool:
    """Whether ``n`` is the size the profile adds beyond the cache (not one of its
    ladder's, nor one the selection names)."""
    named = selection.sizes is not None and selection.sizes.exact is not None
    return not named and n not in spec.ladder(profile.name)


def beyond_left_out(profile: Profile, selection: Selection | None = None) -> list[Case]:
    """The Python (lists) implementations of the selection at the size the profile
    adds beyond the cache, which :func:`cases` leaves out."""
    chosen = selection or EVERYTHING
    out = []
    for i in kernels.implementations():
        if i.inputs != "lists" or not chosen.includes(i):
            continue
        spec = kernels.spec(i.kernel)
        out.extend(Case(i, n, spec.layouts[0], t)
                   for n in chosen.sizes_of(profile, i.kernel)
                   if _added(profile, spec, n, chosen) for t in threads_for(i))
    return out


def jit_implementations(profile: Profile, selection: Selection | None = None
                        ) -> list[kernels.Implementation]:
    """The Numba implementations of the selection whose compile cost the profile
    measures: every variant, or the defaults and the variants named by the selection."""
    chosen = selection or EVERYTHING
    named = chosen.variants or ()
    return [i for i in kernels.implementations()
            if i.backend == "numba" and chosen.includes(i)
            and (profile.jit_all_variants or i.default or i.variant in named)]


def jit_id(impl: kernels.Implementation) -> str:
    """The id of a compile benchmark: ``kernel-backend-variant``."""
    return f"{impl.kernel}-{impl.backend}-{impl.variant}"


def _at_memory_size(profile: Profile, selection: Selection | None) -> list[Case]:
    return [c for c in cases(profile, selection)
            if c.n == kernels.spec(c.impl.kernel).measured_size]


def fresh_cases(profile: Profile, selection: Selection | None = None) -> list[Case]:
    """The cases timed again with fresh pages (bench_kernels.test_kernel_fresh_pages):
    every implementation at its kernel's memory size, lists only where the
    profile includes them; none where the profile times no fresh pages."""
    if not profile.fresh_pages:
        return []
    return [c for c in _at_memory_size(profile, selection)
            if profile.fresh_lists or c.impl.inputs != "lists"]


def fresh_left_out(profile: Profile, selection: Selection | None = None) -> list[Case]:
    """The memory-size cases of the selection the profile does not time with fresh pages."""
    kept = {c.id for c in fresh_cases(profile, selection)}
    return [c for c in _at_memory_size(profile, selection) if c.id not in kept]

"""What the benchmark suites run: profiles, size ladders and the case grid.

A profile is plain data: sizes per kernel family, pytest-benchmark's timing
settings and a per-call time budget.  :func:`cases` turns a profile into
pytest parameters with string ids (``kernel-backend-variant-nSIZE-LAYOUT``),
ordered so that the cases sharing inputs run one after another.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import kernels
from kernels.specs import geometric_sizes

#: The seed's experiments: sizes every profile includes.
SEED_VECTOR = 1_000_000
SEED_MATMUL = 1000
#: Size at which memory is measured (bytes per element, peak temporaries).
MEMORY_SIZES = {
    "magnitude": SEED_VECTOR,
    "sum_of_squares": SEED_VECTOR,
    "sum_sq_sin": SEED_VECTOR,
    "row_sums": 1024,
    "col_sums": 1024,
    "matmul": 256,
}
#: Size at which Numba's compile time is set against NumPy (break-even calls).
JIT_REFERENCE_SIZES = {**MEMORY_SIZES, "matmul": 256}

#: Threads of the all-cores cases: the parallel variants, and BLAS beside them.
ALL_CORES = os.cpu_count() or 1
PARALLEL_VARIANT = "parallel"

VECTOR_KERNELS = ("magnitude", "sum_of_squares", "sum_sq_sin")
SUM_KERNELS = ("row_sums", "col_sums")


@dataclass(frozen=True)
class Profile:
    """Sizes and timing settings of one benchmark profile."""

    name: str
    vector_sizes: tuple[int, ...]
    sum_sizes: tuple[int, ...]
    matmul_sizes: tuple[int, ...]
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

    def sizes(self, kernel: str) -> tuple[int, ...]:
        if kernel in VECTOR_KERNELS:
            return self.vector_sizes
        if kernel in SUM_KERNELS:
            return self.sum_sizes
        if kernel == "matmul":
            return self.matmul_sizes
        # A kernel added later runs on its spec's own ladder until a profile names it.
        return kernels.spec(kernel).sizes


def _with(*sizes: int, extra: tuple[int, ...] = ()) -> tuple[int, ...]:
    return tuple(sorted(set(sizes) | set(extra)))


PROFILES: dict[str, Profile] = {
    "full": Profile(
        name="full",
        # Half-octave steps up to 4096, where the crossovers with NumPy's call
        # overhead are; octave steps beyond, enough to see each cache level go.
        vector_sizes=_with(*geometric_sizes(1, 4096, per_octave=2),
                           *geometric_sizes(4096, 2**24, per_octave=1), extra=(SEED_VECTOR,)),
        # Up to 4096 (128 MiB): the largest matrix must be far beyond the 32 MiB
        # L3, or its "bandwidth" is the cache's.
        sum_sizes=geometric_sizes(4, 4096, per_octave=1),
        matmul_sizes=(4, 8, 16, 32, 64, 128, 256, 512, SEED_MATMUL, 2048),
        max_time=0.06,
        # Rounds of at least 0.2 ms: a tiny call is timed over many iterations
        # (less timer noise), and a saved run holds at most ~500 rounds per
        # benchmark instead of tens of thousands (file size, load time).
        min_time=2e-4,
        min_rounds=5,
        heavy_rounds=3,
        call_budget=3.0,
        jit_rounds=2,
        jit_all_variants=True,
    ),
    "quick": Profile(
        name="quick",
        vector_sizes=(1, 10, 100, 1_000, 10_000, 100_000, SEED_VECTOR),
        sum_sizes=(16, 128, 1024),
        matmul_sizes=(16, 64, 256),
        max_time=0.03,
        min_time=1e-4,
        min_rounds=5,
        heavy_rounds=5,
        call_budget=0.25,
        jit_rounds=1,
        jit_all_variants=False,
        fresh_lists=False,
    ),
}
DEFAULT_PROFILE = "full"


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
        """A call of a second or more: matmul from n=1000, python from 2^22 elements."""
        i = self.impl
        elements = self.n * self.n if i.kernel in SUM_KERNELS else self.n
        return (i.kernel == "matmul" and self.n >= 1000) or (i.backend == "python"
                                                            and elements >= 2**22)


def threads_for(impl: kernels.Implementation) -> tuple[int, ...]:
    """Thread counts an implementation runs at: one, or all cores for the parallel
    variants; BLAS's matmul runs at both, to stand beside either."""
    if impl.variant == PARALLEL_VARIANT:
        return (ALL_CORES,)
    if impl.backend == "numpy" and impl.kernel == "matmul" and ALL_CORES > 1:
        return (1, ALL_CORES)
    return (1,)


def cases(profile: Profile) -> list[Case]:
    """Every available implementation at every size and layout of ``profile``.

    Ordered kernel, size, layout, backend, variant: cases that share inputs
    are adjacent, so each input set is built once.
    """
    impls = kernels.implementations()
    out = []
    for kernel, spec in kernels.SPECS.items():
        mine = [i for i in impls if i.kernel == kernel]
        for n in profile.sizes(kernel):
            for layout in spec.layouts:
                out.extend(Case(i, n, layout, t) for i in mine for t in threads_for(i))
    return out


def jit_implementations(profile: Profile) -> list[kernels.Implementation]:
    """The Numba implementations whose compile cost the profile measures."""
    return [i for i in kernels.implementations()
            if i.backend == "numba" and (profile.jit_all_variants or i.default)]


def jit_id(impl: kernels.Implementation) -> str:
    """The id of a compile benchmark: ``kernel-backend-variant``."""
    return f"{impl.kernel}-{impl.backend}-{impl.variant}"


def _at_memory_size(profile: Profile) -> list[Case]:
    return [c for c in cases(profile) if MEMORY_SIZES.get(c.impl.kernel) == c.n]


def fresh_cases(profile: Profile) -> list[Case]:
    """The cases timed again with fresh pages (bench_kernels.test_kernel_fresh_pages):
    every implementation at its kernel's memory size, lists only where the
    profile includes them."""
    return [c for c in _at_memory_size(profile)
            if profile.fresh_lists or c.impl.inputs != "lists"]


def fresh_left_out(profile: Profile) -> list[Case]:
    """The memory-size cases the profile does not time with fresh pages."""
    kept = {c.id for c in fresh_cases(profile)}
    return [c for c in _at_memory_size(profile) if c.id not in kept]

"""Numbers behind the figures and tables: speedups with confidence intervals,
crossover sizes, throughput and percent of the machine's ceiling.

Every function takes a :class:`~reports.load.Run` (or plain arrays) and
returns plain values; nothing here draws or writes.  What a kernel is held
against and the size it is quoted at are the kernel's own facts
(``Run.kernels``), never a list kept here; the speedups are measured
against the report's baselines (:mod:`reports.baselines`: python and numpy
unless the user chose others).

The point estimate of a time is the median over rounds.  Its uncertainty
comes from the saved rounds by bootstrap: each resample's median is drawn
directly from the order statistics of the sorted rounds (the k-th smallest of
m indices drawn uniformly from 1..m is ``ceil(m * U)`` with ``U`` distributed
Beta(k, m + 1 - k)), which is exact and costs the same for 5 rounds or 50 000.
A speedup's interval is the 2.5 and 97.5 percentiles of the ratio of two
independent resampled medians.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from reports import conditions
from reports.baselines import DEFAULT, Baseline
from reports.ceilings import ROOFS, Roof
from reports.load import Absent, Ceiling, Run, Timing

#: Resamples per bootstrap interval.
N_BOOT = 4000
#: Two implementations within this factor of each other are level, not a crossing.
LEVEL = 1.05
_BACKEND_ORDER = ("python", "numpy", "numba", "cython")
#: Work-model flops per byte above which a kernel is compute-bound (GFLOP/s, not GB/s).
COMPUTE_BOUND = 1.0


# --------------------------------------------------------------------------
# Indexing a run
# --------------------------------------------------------------------------
Key = tuple[str, str, str, str, int]  # kernel, backend, variant, layout, size


def index(run: Run) -> dict[Key, Timing]:
    """The run's steady timings by (kernel, backend, variant, layout, size); first one wins."""
    out: dict[Key, Timing] = {}
    for t in run.steady:
        out.setdefault((t.kernel, t.backend, t.variant, t.layout, t.size), t)
    return out


def split_threads(run: Run) -> Run:
    """The run with each implementation timed at several thread counts split in one
    implementation per count.

    The fewest threads keep the variant's name (and its default status, so
    comparisons stay single-threaded); the others become non-default variants
    named like ``"blas (2 threads)"``.  Returns ``run`` itself when nothing is split.
    """
    counts: dict[tuple[str, str, str], set[int]] = {}
    for t in run.steady:
        counts.setdefault((t.kernel, t.backend, t.variant), set()).add(t.threads)
    if all(len(c) == 1 for c in counts.values()):
        return run
    steady = []
    for t in run.steady:
        c = counts[(t.kernel, t.backend, t.variant)]
        if len(c) > 1 and t.threads != min(c):
            t = replace(t, variant=f"{t.variant} ({t.threads} threads)", default=False)
        steady.append(t)
    return replace(run, steady=steady)


def backend_rank(backend: str) -> tuple[int, str]:
    """Sort key: the project's backends in their usual order, others after, by name."""
    if backend in _BACKEND_ORDER:
        return (_BACKEND_ORDER.index(backend), "")
    return (len(_BACKEND_ORDER), backend)


def implementations(run: Run, kernel: str, layout: str | None = "C"
                    ) -> list[tuple[str, str, bool]]:
    """(backend, variant, default) of ``kernel`` in the run, backends in order, defaults first."""
    seen: dict[tuple[str, str], bool] = {}
    for t in run.steady:
        if t.kernel == kernel and (layout is None or t.layout == layout):
            seen.setdefault((t.backend, t.variant), t.default)
    return sorted(((b, v, d) for (b, v), d in seen.items()),
                  key=lambda x: (backend_rank(x[0]), not x[2]))


def default_variant(run: Run, kernel: str, backend: str) -> str | None:
    """The variant of ``backend`` a kernel's comparisons use: its default, else its first."""
    impls = [(v, d) for b, v, d in implementations(run, kernel, None) if b == backend]
    if not impls:
        return None
    return next((v for v, d in impls if d), impls[0][0])


def series(run: Run, kernel: str, backend: str, variant: str, layout: str = "C"
           ) -> list[Timing]:
    """Timings of one implementation, by increasing size."""
    return sorted((t for t in run.steady if t.kernel == kernel and t.backend == backend
                   and t.variant == variant and t.layout == layout), key=lambda t: t.size)


def sizes(run: Run, kernel: str, layout: str | None = "C") -> list[int]:
    """Every size of ``kernel`` that some implementation ran at."""
    return sorted({t.size for t in run.steady
                   if t.kernel == kernel and (layout is None or t.layout == layout)})


def seed_size(run: Run, kernel: str) -> int:
    """The headline size: the one the kernel's facts quote (the seed's: vectors 10^6,
    matmul 1000, sums 1024) when it ran, else the largest size run."""
    facts = run.kernels.get(kernel)
    wanted = facts.seed_size if facts is not None else None
    have = sizes(run, kernel) or sizes(run, kernel, None)  # a kernel run in F order only
    return wanted if wanted in have else max(have)


def reference(run: Run, kernel: str, baseline: Baseline) -> str | None:
    """The variant of ``baseline`` the kernel is compared with (None: not in the run)."""
    if baseline.variant is None:
        return default_variant(run, kernel, baseline.backend)
    ran = any(b == baseline.backend and v == baseline.variant
              for b, v, _ in implementations(run, kernel, None))
    return baseline.variant if ran else None


# --------------------------------------------------------------------------
# Bootstrap
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Estimate:
    """A point estimate with a 95% interval (equal to the point when unknown)."""

    value: float
    low: float
    high: float

    def text(self, unit: str = "x") -> str:
        if self.low == self.high == self.value:
            return f"{fmt_ratio(self.value)}{unit}"
        return f"{fmt_ratio(self.value)}{unit} [{fmt_ratio(self.low)}-{fmt_ratio(self.high)}]"


def bootstrap_medians(samples: np.ndarray, rng: np.random.Generator, n: int = N_BOOT
                      ) -> np.ndarray:
    """``n`` medians of bootstrap resamples of ``samples``, drawn from order statistics.

    Parameters
    ----------
    samples
        Observations (per-round times); at least one.
    rng
        Source of randomness.
    n
        Number of resampled medians.

    Returns
    -------
    numpy.ndarray
        ``n`` medians, distributed exactly as the medians of ``n`` resamples
        of ``len(samples)`` values drawn with replacement.
    """
    x = np.sort(np.asarray(samples, dtype=np.float64))
    m = x.size
    if m == 0:
        raise ValueError("bootstrap_medians needs at least one sample")
    if m == 1:
        return np.full(n, x[0])

    def at(u: np.ndarray) -> np.ndarray:
        return x[np.clip(np.ceil(u * m).astype(np.int64), 1, m) - 1]

    k = (m + 1) // 2  # the lower middle order statistic
    u = rng.beta(k, m + 1 - k, n)
    if m % 2:
        return at(u)
    # The (k+1)-th: the smallest of the m - k draws above the k-th.
    u_next = u + (1.0 - u) * rng.beta(1, m - k, n)
    return (at(u) + at(u_next)) / 2


def ratio(slow: Timing, fast: Timing, seed: int = 0) -> Estimate:
    """How many times faster ``fast`` is than ``slow``, with a bootstrap 95% interval.

    Parameters
    ----------
    slow, fast
        Two timings; the point estimate is ``slow.median / fast.median``.
    seed
        Seeds the resampling, so a report is reproducible.
    """
    value = slow.median / fast.median
    if not (slow.data and fast.data):
        return Estimate(value, value, value)
    rng = np.random.default_rng(seed)
    boot = (bootstrap_medians(slow.samples(), rng) / bootstrap_medians(fast.samples(), rng))
    low, high = np.percentile(boot, [2.5, 97.5])
    return Estimate(value, float(low), float(high))


# --------------------------------------------------------------------------
# Headline speedups
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Versus:
    """An implementation against one baseline."""

    baseline: str  # the baseline's label: "python", "numba/loop"
    estimate: Estimate | None  # None: the baseline did not run, or is the implementation
    size: int | None = None  # the size compared at (below the row's when the baseline
    #                          did not run at the headline size)


@dataclass(frozen=True)
class Speedup:
    """One implementation against each of the report's baselines."""

    kernel: str
    backend: str
    variant: str
    default: bool
    size: int
    against: tuple[Versus, ...]  # one per baseline, in the baselines' order

    def versus(self, baseline: str) -> Versus | None:
        """The comparison with the baseline labelled ``baseline``."""
        return next((v for v in self.against if v.baseline == baseline), None)


def _largest_common(idx: dict[Key, Timing], kernel: str, a: tuple[str, str],
                    b: tuple[str, str], upto: int) -> int | None:
    common = [n for (k, bk, v, lay, n) in idx
              if k == kernel and (bk, v) == a and lay == "C" and n <= upto
              and (kernel, *b, "C", n) in idx]
    return max(common, default=None)


def speedups(run: Run, baselines: Sequence[Baseline] = DEFAULT) -> list[Speedup]:
    """Every implementation but the first baseline at each kernel's headline size
    (C order), against each baseline.

    Against a baseline at that size when it ran there; otherwise at the
    largest size both ran at (matmul: the python loops are skipped past a
    few hundred), recorded in :attr:`Versus.size`.  A baseline given as a
    backend is not compared with its own backend's implementations.
    """
    idx = index(run)
    out = []
    for kernel in run.kernels:
        n = seed_size(run, kernel)
        refs = [(b, reference(run, kernel, b)) for b in baselines]
        for backend, variant, default in implementations(run, kernel):
            me = idx.get((kernel, backend, variant, "C", n))
            if me is None or (baselines and baselines[0].covers(backend, variant)):
                continue
            against = []
            for b, rv in refs:
                m = None
                if rv is not None and not b.covers(backend, variant):
                    m = _largest_common(idx, kernel, (backend, variant), (b.backend, rv), n)
                if m is None:
                    against.append(Versus(b.label, None))
                    continue
                against.append(Versus(b.label, ratio(idx[(kernel, b.backend, rv, "C", m)],
                                                     idx[(kernel, backend, variant, "C", m)]),
                                      m))
            out.append(Speedup(kernel, backend, variant, default, n, tuple(against)))
    return out


# --------------------------------------------------------------------------
# Crossovers
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Crossing:
    """Where a challenger's time crosses a reference's (log-log interpolation)."""

    size: float
    overtakes: bool  # True: faster from here on; False: falls behind
    between: tuple[int, int]
    seconds: float  # the challenger's interpolated time there


def crossings(ns: Iterable[int], t_ref: Iterable[float], t_new: Iterable[float],
              level: float = LEVEL) -> list[Crossing]:
    """Where ``t_new`` crosses ``t_ref`` as size grows.

    Points where the two are within a factor ``level`` are level and never
    make a crossing on their own, so noise around a tie is not reported.

    Parameters
    ----------
    ns
        Increasing sizes.
    t_ref, t_new
        Times of the reference and the challenger at those sizes.
    level
        Ratio below which the two count as level.

    Returns
    -------
    list of Crossing
        In order of size; empty when one is ahead (or level) throughout.
    """
    ns = np.asarray(list(ns), dtype=np.float64)
    r = np.log(np.asarray(list(t_ref), dtype=np.float64) / np.asarray(list(t_new), np.float64))
    tn = np.log(np.asarray(list(t_new), dtype=np.float64))
    bound = math.log(level)
    state = np.where(r > bound, 1, np.where(r < -bound, -1, 0))
    out: list[Crossing] = []
    last = None
    for i, s in enumerate(state):
        if s == 0:
            continue
        if last is not None and s != state[last]:
            j = next((j for j in range(last, i) if (r[j] > 0) != (r[j + 1] > 0)), last)
            f = r[j] / (r[j] - r[j + 1]) if r[j] != r[j + 1] else 0.5
            x0, x1 = math.log(ns[j]), math.log(ns[j + 1])
            size = math.exp(x0 + f * (x1 - x0))
            seconds = math.exp(tn[j] + f * (tn[j + 1] - tn[j]))
            out.append(Crossing(size, bool(s > 0), (int(ns[j]), int(ns[j + 1])), seconds))
        last = i
    return out


@dataclass(frozen=True)
class Crossover:
    """How one backend fares against another over the sizes both ran at."""

    kernel: str
    challenger: tuple[str, str]
    reference: tuple[str, str]
    crossings: list[Crossing]
    verdict: str  # what happens, in words
    against: str = ""  # the baseline's label ("python", "numba/loop")


def _verdict(ns: list[int], r: np.ndarray, found: list[Crossing], who: str, ref: str) -> str:
    if found:
        parts = [f"{'overtakes' if c.overtakes else 'falls behind'} at n≈{fmt_size(c.size)}"
                 for c in found]
        return f"{who} " + ", then ".join(parts)
    span = f"n={fmt_size(ns[0])}-{fmt_size(ns[-1])}"
    if np.all(r > math.log(LEVEL)):
        return f"{who} faster than {ref} at every size ({span})"
    if np.all(r < -math.log(LEVEL)):
        return f"{who} slower than {ref} at every size ({span})"
    if np.all(r >= -math.log(LEVEL)):
        return f"{who} faster or level at every size ({span})"
    if np.all(r <= math.log(LEVEL)):
        return f"{who} slower or level at every size ({span})"
    return f"{who} level with {ref} ({span})"


def crossovers(run: Run, baselines: Sequence[Baseline] = DEFAULT) -> list[Crossover]:
    """Each backend's default variant against each baseline (by default: NumPy, Numba,
    Cython and any other backend against Python; the compiled loops against NumPy),
    C order, at the sizes both ran at.  A pair already shown the other way round
    (a challenger that is an earlier baseline) is not repeated."""
    idx = index(run)
    out = []
    for kernel in run.kernels:
        backends = sorted({b for b, _, _ in implementations(run, kernel)}, key=backend_rank)
        for i, base in enumerate(baselines):
            rv = reference(run, kernel, base)
            if rv is None:
                continue
            for ch in backends:
                cv = default_variant(run, kernel, ch)
                if cv is None or any(b.covers(ch, cv) for b in baselines[:i + 1]):
                    continue
                ns = [n for n in sizes(run, kernel) if (kernel, base.backend, rv, "C", n) in idx
                      and (kernel, ch, cv, "C", n) in idx]
                if len(ns) < 2:
                    continue
                t_ref = [idx[(kernel, base.backend, rv, "C", n)].median for n in ns]
                t_new = [idx[(kernel, ch, cv, "C", n)].median for n in ns]
                found = crossings(ns, t_ref, t_new)
                r = np.log(np.array(t_ref) / np.array(t_new))
                out.append(Crossover(kernel, (ch, cv), (base.backend, rv), found,
                                     _verdict(ns, r, found, ch, base.label), base.label))
    return out


# --------------------------------------------------------------------------
# Throughput and ceilings
# --------------------------------------------------------------------------
def compute_bound(run: Run, kernel: str) -> bool:
    """Whether the kernel's work model does more than COMPUTE_BOUND flops per byte
    at its largest size (matmul), so GFLOP/s rather than GB/s measures it (the unit
    of a kernel that declares no ceiling)."""
    ts = [t for t in run.steady if t.kernel == kernel and t.bytes > 0]
    if not ts:
        return False
    big = max(ts, key=lambda t: t.size)
    return big.flops / big.bytes > COMPUTE_BOUND


def throughput(t: Timing, compute: bool) -> float:
    """GFLOP/s when ``compute`` else GB/s, from the work model and the median time."""
    return (t.flops if compute else t.bytes) / t.median / 1e9


def roof(run: Run, kernel: str) -> Roof:
    """The roof of the ceiling the kernel's facts name (:data:`reports.ceilings.ROOFS`).

    A roof whose ceiling the run lacks stays the kernel's roof (no percent is
    given): a kernel is never held against another roof than its own.  A
    kernel that declares no ceiling, or of which nothing is known, gets a roof
    with no ceiling: its speed in GFLOP/s when its work model is compute-bound,
    else in GB/s, and no percent.
    """
    facts = run.kernels.get(kernel)
    if facts is not None and facts.ceiling is not None:
        return replace(ROOFS[facts.ceiling], matrix=facts.matrix)
    unit = "GFLOP/s" if compute_bound(run, kernel) else "GB/s"
    known = facts is not None and facts.source != "derived"
    return Roof(None, unit, "no ceiling declared" if known else "no ceiling known")


def last_level_cache(run: Run) -> int | None:
    """The largest cache of the run's machine in bytes (None: not recorded)."""
    return max(run.caches.values(), default=None) or None


def ceiling_for(run: Run, name: str, threads: int) -> Ceiling | None:
    """The ceiling ``name`` measured at ``threads`` (one thread stands in for fewer)."""
    found = [c for c in run.ceilings if c.name == name]
    exact = [c for c in found if c.threads == threads]
    if exact:
        return exact[0]
    return min(found, key=lambda c: c.threads) if found and threads <= 1 else None


@dataclass(frozen=True)
class OfCeiling:
    """A compiled implementation's throughput at its largest size against the ceiling."""

    kernel: str
    backend: str
    variant: str
    size: int
    value: float
    unit: str
    ceiling: Ceiling | None
    fresh: Ceiling | None = None  # the roof's ``fresh`` ceiling, when measured
    ceiling_name: str = ""  # the roof's ceiling, measured or not ("": none declared)
    #: For a bandwidth roof: whether the working set fit in the last-level
    #: cache, where memory bandwidth is no limit and a percent means nothing.
    in_cache: bool = False
    working_set: float = 0.0  # bytes
    llc: int | None = None  # bytes of the last-level cache, when recorded

    @property
    def percent(self) -> float | None:
        if self.ceiling is None or self.in_cache:
            return None
        return 100.0 * self.value / self.ceiling.value

    @property
    def fresh_percent(self) -> float | None:
        if self.fresh is None or self.in_cache:
            return None
        return 100.0 * self.value / self.fresh.value


def of_ceiling(run: Run) -> list[OfCeiling]:
    """Each non-python implementation (C order) at its largest size, against its roof.

    A bandwidth roof holds only beyond the last-level cache: at a size whose
    working set fits in it, the implementation is marked ``in_cache`` and
    given no percent.
    """
    out = []
    llc = last_level_cache(run)
    for kernel in run.kernels:
        r = roof(run, kernel)
        for backend, variant, _ in implementations(run, kernel):
            if backend == "python":
                continue
            ts = series(run, kernel, backend, variant)
            if not ts:
                continue
            big = ts[-1]
            fresh = None if r.fresh is None else ceiling_for(run, r.fresh, big.threads)
            in_cache = r.bandwidth and llc is not None and big.bytes <= llc
            own = None if r.ceiling is None else ceiling_for(run, r.ceiling, big.threads)
            out.append(OfCeiling(kernel, backend, variant, big.size, r.speed(big), r.unit,
                                 own, fresh, r.ceiling or "", in_cache, big.bytes, llc))
    return out


# --------------------------------------------------------------------------
# What is missing
# --------------------------------------------------------------------------
def _known_backends(run: Run) -> list[str]:
    """The backends the run was to have: those it selected, else every known one."""
    if run.selection is not None and run.selection.backends is not None:
        return list(run.selection.backends)
    try:
        import kernels
    except ImportError:  # pragma: no cover - the kernels package is part of the repo
        return list(_BACKEND_ORDER)
    return list(kernels.BACKENDS)


def _selected(run: Run, kernel: str, backend: str, variant: str) -> bool:
    """Whether the run's selection (if any) holds the implementation."""
    sel = run.selection
    if sel is None:
        return True
    return ((sel.kernels is None or kernel in sel.kernels)
            and (sel.backends is None or backend in sel.backends)
            and (sel.variants is None or variant in sel.variants))


#: How each recorded reason for an absent benchmark reads in the report.
REASONS = {
    "over_budget": "over the time budget",
    "failed": "failed",
    "unavailable": "unavailable on this machine",
    "not_in_profile": "not in this profile",
    "not_applicable": "not applicable",
    "error": "could not run",
}


def _absent_who(a: Absent) -> str:
    if a.measure == "steady" and a.kernel and a.backend and a.variant:
        who = f"{a.kernel} {a.backend}/{a.variant}"
        if a.layout and a.layout != "C":
            who += f" ({a.layout} order)"
        if a.threads and a.threads > 1:
            who += f" ({a.threads} threads)"
        if a.allocator and a.allocator not in ("warm", "undeclared"):
            who += f" ({a.allocator} pages)"
        return who
    return f"{'ceiling' if a.measure == 'ceiling' else a.measure} {a.benchmark}"


def _absent_lines(run: Run) -> list[str]:
    """The run's recorded absences: one line per implementation and reason, with
    the sizes and the distinct details."""
    measured = {(t.kernel, t.backend, t.variant) for t in run.steady + run.other_regimes}
    merged: dict[tuple[str, str], tuple[list[int], list[str], bool]] = {}
    # A regime that does not apply (the call allocates too little for fresh pages
    # to matter): one line per kernel and regime, naming the implementations.
    moot: dict[tuple[str, str], tuple[list[str], set[int]]] = {}
    for a in run.absent or []:
        if a.reason == "not_applicable" and a.measure == "steady" and a.kernel:
            impls, ns = moot.setdefault((a.kernel, a.allocator or "?"), ([], set()))
            impls.append(f"{a.backend}/{a.variant}")
            if a.size is not None:
                ns.add(a.size)
            continue
        ran = (a.kernel, a.backend, a.variant) in measured
        ns, details, _ = merged.setdefault((_absent_who(a), a.reason), ([], [], ran))
        if a.size is not None:
            ns.append(a.size)
        details.append(a.detail)
    lines = []
    for (who, reason), (ns, details, ran) in merged.items():
        text = f"{who}: {REASONS.get(reason, reason)}"
        if ns:
            text += f" at n={', '.join(fmt_size(n) for n in sorted(set(ns)))}"
            text += "" if ran else " (every size it was to run at)"
        distinct = list(dict.fromkeys(d for d in details if d))
        if distinct:
            more = f" (and {len(distinct) - 3} more)" if len(distinct) > 3 else ""
            text += f": {'; '.join(distinct[:3])}{more}"
        lines.append(text)
    for (kernel, regime), (impls, ns) in moot.items():
        at = f" at n={', '.join(fmt_size(n) for n in sorted(ns))}" if ns else ""
        lines.append(f"{kernel} ({regime} pages): not applicable to "
                     f"{', '.join(dict.fromkeys(impls))}{at}: one call allocates less than a "
                     "page, so the regime changes nothing")
    return lines


def missing(run: Run) -> list[str]:
    """What the run lacks, one line each, with why: implementations and sizes,
    backends, ceilings, compile times and memory.

    The run's recorded absences come first (every case the profile held that
    was skipped, failed or could not run, with its reason).  Then anything
    else absent that no record explains: a size counts as missing for an
    implementation when another implementation of the same kernel and layout
    ran at it.  In a run that is a slice of its profile (``Run.selection``),
    only what it selected can be missing.
    """
    lines = _absent_lines(run)
    recorded = {(a.kernel, a.backend, a.variant, a.size) for a in run.absent or []}
    present = {t.backend for t in run.steady}
    absent = [b for b in _known_backends(run) if b not in present]
    if absent:
        lines.append(f"backends not in this run at all: {', '.join(absent)}")
    unexplained = " (no reason recorded)" if run.absent is not None else ""
    if run.selection is not None and run.selection.kernels is not None:
        said = {a.kernel for a in run.absent or []}
        lines.extend(f"{kernel}: selected, but no benchmark of it is in the run"
                     f"{unexplained}" for kernel in run.selection.kernels
                     if kernel not in run.kernels and kernel not in said
                     and not any(t.kernel == kernel for t in run.other_regimes))
    lines.extend(f"{kernel}: no size beyond the last-level cache: {note}"
                 for kernel, note in run.beyond_cache.items() if kernel in run.kernels)
    for kernel, facts in run.kernels.items():
        if facts.source == "derived":
            lines.append(f"{kernel}: nothing is recorded of this kernel (not in the run's "
                         f"kernel record, not a built-in kernel): quoted at the largest size "
                         f"it ran at, n={fmt_size(seed_size(run, kernel))}, and held against "
                         "no ceiling")
    for kernel in run.kernels:
        kb = {t.backend for t in run.steady if t.kernel == kernel}
        lacking = sorted(present - kb, key=backend_rank)
        if lacking:
            lines.append(f"{kernel}: no {', '.join(lacking)} benchmarks")
        layouts = sorted({t.layout for t in run.steady if t.kernel == kernel})
        for layout in layouts:
            all_n = sizes(run, kernel, layout)
            for backend, variant, _ in implementations(run, kernel, layout):
                have = {t.size for t in series(run, kernel, backend, variant, layout)}
                gone = [n for n in all_n if n not in have
                        and (kernel, backend, variant, n) not in recorded]
                if gone:
                    where = f" ({layout} order)" if len(layouts) > 1 else ""
                    lines.append(f"{kernel} {backend}/{variant}{where}: not run at "
                                 f"n={', '.join(fmt_size(n) for n in gone)}{unexplained}")
    if run.absent is None:
        lines.extend(f"{kernel} {backend}/{variant}: unavailable in this run: {reason}"
                     for kernel, backend, variant, reason in run.unavailable
                     if _selected(run, kernel, backend, variant))
    roofs = {kernel: roof(run, kernel) for kernel in run.kernels}
    if not run.ceilings and any(r.ceiling is not None for r in roofs.values()):
        lines.append("machine ceilings: not measured in this run (no bench_ceilings results); "
                     "no ceilings are drawn and no percent of ceiling is given")
    elif run.ceilings:
        names = {c.name for c in run.ceilings}
        for kernel, r in roofs.items():
            if r.ceiling is not None and r.ceiling not in names:
                lines.append(f"{kernel}: its ceiling ({r.ceiling}) was not measured in this "
                             "run; it is shown without a percent of ceiling")
    if not run.compiles and ("numba" in present or run.selection is None):
        lines.append("numba compile times: not in this run")
    if not any(t.bytes_per_element is not None for t in run.steady):
        lines.append("memory measurements: not in this run")
    return lines


# --------------------------------------------------------------------------
# Everything at once
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Analysis:
    """What the tables and figures of one run are drawn from."""

    speedups: list[Speedup]
    crossovers: list[Crossover]
    of_ceiling: list[OfCeiling]
    missing: list[str]
    disturbance: conditions.Disturbance
    regimes: list[conditions.RegimePair]
    #: What the speedups are measured against, in order (the figures use the first).
    baselines: tuple[Baseline, ...] = DEFAULT


def analyse(run: Run, baselines: Sequence[Baseline] = DEFAULT) -> Analysis:
    """Speedups against ``baselines``, crossovers, percent of ceiling, what is missing,
    how disturbed the machine was and the allocator regimes, for one run."""
    baselines = tuple(baselines)
    return Analysis(speedups(run, baselines), crossovers(run, baselines), of_ceiling(run),
                    missing(run), conditions.disturbance(run), conditions.regime_pairs(run),
                    baselines)


# --------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------
def fmt_ratio(x: float) -> str:
    """A speedup as people say it: 57, 3.2, 0.45, 1,234."""
    if not math.isfinite(x):
        return "?"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.0f}"
    if x >= 1:
        return f"{x:.1f}"
    return f"{x:.2g}"


def fmt_size(n: float) -> str:
    """A size, exact below 10 000, else in k or M with two significant digits."""
    if n < 10_000:
        return f"{n:,.0f}"
    if n < 1_000_000:
        return f"{n / 1e3:.3g}k"
    return f"{n / 1e6:.3g}M"


def fmt_seconds(s: float) -> str:
    """A time in the unit that suits it: 1.2 s, 35 ms, 4.1 µs, 560 ns."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def fmt_bytes(b: float) -> str:
    """Bytes in B, KiB, MiB or GiB."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= scale:
            return f"{b / scale:.3g} {unit}"
    return f"{b:.0f} B"

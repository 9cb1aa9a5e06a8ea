"""The report's tables and findings, as plain strings, for HTML and Markdown alike.

Several runs are compared side by side: each table has one row per thing
measured and one column (or pair of columns) per run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reports import compute, conditions
from reports.baselines import DEFAULT, Baseline, is_default
from reports.ceilings import ceiling_name
from reports.compute import Analysis, fmt_bytes, fmt_seconds, fmt_size
from reports.load import Run


@dataclass(frozen=True)
class Table:
    """A titled table of strings, with a note under it."""

    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""
    anchor: str = field(default="")
    #: What the report says instead when there are no rows.
    empty: str = "nothing to show in this run"


def _run_cols(runs: list[Run], names: list[str]) -> list[str]:
    if len(runs) == 1:
        return names
    return [f"{name} — run {i + 1}" for i in range(len(runs)) for name in names]


def selection_text(run: Run) -> str:
    """What the run selected of its profile, in a few words."""
    sel = run.selection
    if sel is None:
        return "not recorded"

    def names(values: tuple[str, ...] | None) -> str:
        return "all" if values is None else ", ".join(values) or "none"

    if sel.slice is False and not sel.sources:  # nothing of the profile left out
        text = "everything in the profile"
    else:
        text = (f"kernels: {names(sel.kernels)}; backends: {names(sel.backends)}; "
                f"variants: {names(sel.variants)}; sizes: {sel.sizes or 'the profile ladders'}")
    if sel.sources:
        text += f"; kernels from {', '.join(sel.sources)}"
    return text


def scope(run: Run) -> str | None:
    """The run's profile and what it selected, on one line (None: neither recorded)."""
    if run.selection is None:
        return f"profile {run.profile}" if run.profile else None
    return f"profile {run.profile or 'not recorded'}; {selection_text(run)}"


#: The profile of the first look (``vecbench report`` with no saved run).
FIRST_PROFILE = "first"


def first_look(run: Run) -> str | None:
    """What the report says of a run of the "first" profile: it is the first look, and
    how to get the full one (None for any other profile).  Plain text; the commands
    are in backquotes."""
    if run.profile != FIRST_PROFILE:
        return None
    return ("This is the first look (profile \"first\"): a few sizes per kernel, enough for "
            "the speedups at the quoted sizes, the tiny-array crossover and the ceilings. "
            "For the full profile: `vecbench run --profile full`, then `vecbench report`.")


def runs_table(runs: list[Run], results: list[Analysis]) -> Table:
    """Which machine and commit each run is, under what conditions, and where it came from."""
    rows = []
    for i, (run, res) in enumerate(zip(runs, results, strict=True), 1):
        caches = ", ".join(f"{k} {fmt_bytes(v)}" for k, v in run.caches.items()) or "unknown"
        rows.append([str(i), run.machine, run.commit, run.date, run.profile or "not recorded",
                     selection_text(run), run.blas, run.simd_path,
                     conditions.allocator_text(run), conditions.state_text(run, res.disturbance),
                     caches, run.path.name])
    return Table("Runs", ["run", "machine", "commit", "date (UTC)", "profile", "selection",
                          "BLAS", "SIMD path of sin", "allocator", "machine while it ran",
                          "caches", "file"],
                 rows, note="The machine's state is sampled before, during (between "
                 "benchmarks, about once a second) and after the run: cores used by other "
                 "processes (from /proc/stat, less this process's own CPU time), the 1-minute "
                 "load, CPU time stolen by the hypervisor and the clock frequency, where the "
                 "system reports them.", anchor="runs")


#: Appended to a figure measured on a disturbed machine.
MARK = " ⚠"


def _marked(res: Analysis, kernel: str, backend: str, variant: str, size: int) -> str:
    return MARK if res.disturbance.mark_of(kernel, backend, variant, size) else ""


def _baselines(results: list[Analysis]) -> tuple[Baseline, ...]:
    """The report's baselines (every run is compared against the same)."""
    return results[0].baselines if results else DEFAULT


def _references_text(baselines: tuple[Baseline, ...]) -> str:
    """The baselines in words, in order, for the notes: "python's or numpy's default
    variant", "numba/loop or numpy's default variant"."""
    parts: list[str] = []
    for i, b in enumerate(baselines):
        if b.variant is not None:
            parts.append(b.label)
            continue
        more = i + 1 < len(baselines) and baselines[i + 1].variant is None
        parts.append(f"{b.label}'s" if more else f"{b.label}'s default variant")
    return " or ".join(parts)


def speedup_table(runs: list[Run], results: list[Analysis]) -> Table:
    """Speedups over the baselines (python and numpy unless chosen) at the seed's sizes,
    with 95% intervals."""
    baselines = _baselines(results)
    keys: dict[tuple[str, str, str], int] = {}
    for res in results:
        for s in res.speedups:
            keys.setdefault((s.kernel, s.backend, s.variant), s.size)
    rows = []
    for (kernel, backend, variant), size in keys.items():
        row = [kernel, fmt_size(size), f"{backend}/{variant}"]
        for res in results:
            s = next((s for s in res.speedups if (s.kernel, s.backend, s.variant)
                      == (kernel, backend, variant)), None)
            if s is None:
                row += ["not run"] * len(baselines)
                continue
            at = f" at n={fmt_size(s.size)}" if s.size != size else ""
            at += _marked(res, kernel, backend, variant, s.size)
            for v in s.against:
                if v.estimate is None:
                    row.append("—")
                elif v.size != s.size:
                    row.append(f"{v.estimate.text()} at n={fmt_size(v.size)} "
                               f"({v.baseline} not run at n={fmt_size(s.size)})")
                else:
                    row.append(v.estimate.text() + at)
        rows.append(row)
    return Table(
        "Speedup at the seed's sizes",
        ["kernel", "n", "implementation",
         *_run_cols(runs, [f"x {b.label} [95% CI]" for b in baselines])],
        rows,
        note=f"Median time of the reference ({_references_text(baselines)}, C order) over "
             "the median time of the implementation; 95% interval by bootstrap over the saved "
             f"rounds. Above 1: faster.{MARK}: the implementation was measured while the machine "
             "was disturbed (see 'Measured on a disturbed machine'): no measure of its method."
             + ("" if is_default(baselines) else
                " —: the reference did not run for this kernel, or is the implementation "
                "itself (the --baseline option chose the references)."),
        anchor="speedups")


def crossover_table(runs: list[Run], results: list[Analysis]) -> Table:
    """Where each backend overtakes each baseline (by default: python, and where the
    compiled loops meet numpy)."""
    keys = list(dict.fromkeys((c.kernel, c.challenger[0], c.against)
                              for res in results for c in res.crossovers))
    rows = []
    for kernel, challenger, reference in keys:
        row = [kernel, challenger, reference]
        for res in results:
            c = next((c for c in res.crossovers if (c.kernel, c.challenger[0], c.against)
                      == (kernel, challenger, reference)), None)
            if c is None:
                row.append("not run")
                continue
            text = c.verdict
            if c.crossings:
                text += " (" + "; ".join(f"between n={fmt_size(a)} and {fmt_size(b)}"
                                         for a, b in (x.between for x in c.crossings)) + ")"
            row.append(text)
        rows.append(row)
    return Table(
        "Crossover sizes",
        ["kernel", "backend", "against", *_run_cols(runs, ["where it crosses"])],
        rows,
        note=f"Default variants, C order. A crossing is interpolated in log-log between the two "
             f"sizes where the order changes; times within {compute.LEVEL:g}x of each other "
             f"count as level and make no crossing on their own.",
        anchor="crossovers")


def ceiling_table(runs: list[Run], results: list[Analysis]) -> Table:
    """Each compiled implementation at its largest size against the machine's ceiling."""
    keys = list(dict.fromkeys((o.kernel, o.backend, o.variant)
                              for res in results for o in res.of_ceiling))
    rows = []
    for key in keys:
        row = [key[0], f"{key[1]}/{key[2]}"]
        for run, res in zip(runs, results, strict=True):
            o = next((o for o in res.of_ceiling if (o.kernel, o.backend, o.variant) == key),
                     None)
            if o is None:
                row.append("not run")
                continue
            text = (f"{o.value:.3g} {o.unit} at n={fmt_size(o.size)}"
                    + _marked(res, o.kernel, o.backend, o.variant, o.size))
            if o.in_cache:
                text = (f"in cache — {text} (working set {fmt_bytes(o.working_set)}, last-level "
                        f"cache {fmt_bytes(o.llc or 0)}: no percent of a memory ceiling)")
            elif o.percent is not None and o.ceiling is not None:
                threads = "1 thread" if o.ceiling.threads <= 1 else f"{o.ceiling.threads} threads"
                text = f"**{o.percent:.0f}%** — {text} (ceiling {o.ceiling.value:.3g}, {threads})"
                if o.fresh_percent is not None:
                    text += (f"; {o.fresh_percent:.0f}% of the same into a new array "
                             f"({o.fresh.value:.3g})")
            elif not o.ceiling_name:
                text += (" (no ceiling declared)" if _facts_known(run, o.kernel)
                         else " (no ceiling known: nothing is recorded of this kernel)")
            elif any(c.name == o.ceiling_name for c in run.ceilings):
                text += " (no ceiling at this thread count)"
            else:
                text += (f" (no percent: its ceiling, {ceiling_name(o.ceiling_name)}, was not "
                         "measured in this run)")
            row.append(text)
        rows.append(row)
    fresh = list(dict.fromkeys(k for run in runs for k in run.kernels
                               if compute.roof(run, k).fresh is not None))
    note = ("Speed from the work model and the median time, against the ceiling the kernel "
            f"declares, measured in the run ({_roofs_text(runs)}), at the same thread count; a "
            "kernel whose own ceiling was not measured gets no percent, never another roof's. "
            "A memory-bandwidth percent is given only where the working set is larger than "
            "the last-level cache; below it the row says 'in cache'. Above 100%: the "
            "implementation beats the probe, which is the machine's BLAS or a simple compiled "
            "loop, not the hardware's peak.")
    if fresh:
        note += (f" {', '.join(fresh)} {'returns' if len(fresh) == 1 else 'return'} a new "
                 "array, whose pages the OS zeroes when they are first written, a pass the "
                 "loop cannot avoid; the second figure holds it against x + y into a new "
                 "array, the same work.")
    return Table(
        "Percent of the machine's ceiling at the largest size",
        ["kernel", "implementation", *_run_cols(runs, ["% of ceiling"])],
        rows, note=note, anchor="ceiling")


def _facts_known(run: Run, kernel: str) -> bool:
    facts = run.kernels.get(kernel)
    return facts is not None and facts.source != "derived"


def _roofs_text(runs: list[Run]) -> str:
    """Each kernel and its ceiling, as the runs' kernel facts name them."""
    out: dict[str, str] = {}
    for run in runs:
        for kernel in run.kernels:
            r = compute.roof(run, kernel)
            out.setdefault(kernel, ceiling_name(r.ceiling) if r.ceiling else r.what)
    return ", ".join(f"{kernel}: {name}" for kernel, name in out.items()) or "no kernel"


def machine_table(runs: list[Run]) -> Table:
    """The machine's ceilings, as measured with each run."""
    keys = sorted({(c.name, c.threads) for run in runs for c in run.ceilings})
    rows = []
    for name, threads in keys:
        row = [ceiling_name(name), str(threads)]
        for run in runs:
            c = next((c for c in run.ceilings if (c.name, c.threads) == (name, threads)), None)
            row.append("not measured" if c is None else f"{c.value:.3g} {c.unit}")
        rows.append(row)
    return Table("Machine ceilings", ["ceiling", "threads", *_run_cols(runs, ["value"])],
                 rows, note="Measured by bench/bench_ceilings.py in the same run, the best "
                 "round of each probe (in the full profile, the higher of a pass before the "
                 "kernels and one after them): the fastest of several compiled loops over "
                 "arrays far larger than the last cache, A @ B in float64 through the "
                 "machine's BLAS, a sum of sin alone.",
                 anchor="machine")


#: How each source of a kernel's facts reads in the Kernels table.
FACT_SOURCES = {
    "run": "the run's record",
    "spec": "the built-in spec (the run recorded none)",
    "derived": "derived from the timings: nothing is recorded of this kernel",
}


def kernels_table(runs: list[Run]) -> Table:
    """What each kernel computes, the size it is quoted at and the ceiling it is held
    against, and where these facts come from."""
    keys = list(dict.fromkeys(k for run in runs for k in run.kernels))
    rows = []
    for kernel in keys:
        known = [run.kernels[kernel] for run in runs if kernel in run.kernels]
        first = next((f for f in known if f.source != "derived"), known[0])
        row = [kernel, first.summary or "not recorded", first.origin]
        for run in runs:
            facts = run.kernels.get(kernel)
            if facts is None:
                row += ["not run"] * 3
                continue
            r = compute.roof(run, kernel)
            row += [fmt_size(compute.seed_size(run, kernel)),
                    ceiling_name(r.ceiling) if r.ceiling else r.what,
                    FACT_SOURCES.get(facts.source, facts.source)]
        rows.append(row)
    return Table(
        "Kernels", ["kernel", "what it computes", "from",
                    *_run_cols(runs, ["quoted at", "ceiling", "facts from"])],
        rows,
        note="What the report knows of each kernel: its spec's facts as the run recorded "
             "them (vecbench.kernels), the built-in spec's for a run saved before they were "
             "recorded, else derived from the timings (quoted at the largest size run, no "
             "ceiling). 'quoted at': the size of the speedup table and the findings (the "
             "spec's when it ran, else the largest size run). 'from': vecbench for a built-in "
             "kernel, else the module that defined it.",
        anchor="kernels")


def _smallest_call(run: Run, backend: str) -> tuple[str, int, float] | None:
    """The default variant's time at the smallest size, for the kernel with the
    smallest sizes: (kernel, size, seconds)."""
    idx = compute.index(run)
    best = None
    for kernel in run.kernels:
        variant = compute.default_variant(run, kernel, backend)
        ns = [n for n in compute.sizes(run, kernel) if (kernel, backend, variant, "C", n) in idx]
        if ns and (best is None or ns[0] < best[1]):
            best = (kernel, ns[0], idx[(kernel, backend, variant, "C", ns[0])].median)
    return best


def overhead_table(runs: list[Run]) -> Table:
    """What a call costs before any work, beside the smallest call of each backend."""
    targets = list(dict.fromkeys(o.target for run in runs for o in run.overheads))
    rows = []
    for target in targets:
        name = "argument checks" if target == "checks" else f"{target}: empty call"
        row = [name]
        for run in runs:
            o = next((o for o in run.overheads if o.target == target), None)
            if o is None:
                row.append("not run")
                continue
            text = fmt_seconds(o.median)
            small = _smallest_call(run, target)
            if small is not None:
                kernel, n, seconds = small
                text += (f" of {fmt_seconds(seconds)} for {kernel} at n={fmt_size(n)} "
                         f"({100 * o.median / seconds:.0f}%)")
            row.append(text)
        rows.append(row)
    return Table(
        "Call overhead",
        ["overhead", *_run_cols(runs, ["median time per call"])],
        rows,
        note="A call that does no work (bench/bench_overhead.py), beside the backend's "
             "smallest timed call: the share of a tiny call that is overhead. The argument "
             "checks run in front of every kernel.",
        anchor="overhead")


def _no_regimes(runs: list[Run]) -> str:
    """Why no benchmark of ``runs`` was timed with fresh pages, as far as they tell."""
    from bench.grid import PROFILES  # the profiles say which time fresh pages

    without = sorted({r.profile for r in runs if r.profile in PROFILES
                      and not PROFILES[r.profile].fresh_pages})
    if without:
        names = " and ".join(f"'{p}'" for p in without)
        return (f"not timed: the {names} profile does not time fresh pages; the quick and "
                "full profiles do (`vecbench run --profile full`)")
    return "no benchmark of this run was timed with fresh pages"


def regime_table(runs: list[Run], results: list[Analysis]) -> Table:
    """The kernels that allocate, timed with warm memory and with fresh pages."""
    keys = list(dict.fromkeys((p.kernel, p.backend, p.variant, p.size, p.layout)
                              for res in results for p in res.regimes))
    rows = []
    for kernel, backend, variant, size, layout in keys:
        row = [kernel, f"{backend}/{variant}", fmt_size(size)]
        for res in results:
            p = next((p for p in res.regimes if (p.kernel, p.backend, p.variant, p.size,
                                                 p.layout) == (kernel, backend, variant, size,
                                                               layout)), None)
            if p is None:
                row += ["not run"] * 3
                continue
            mark = MARK if (res.disturbance.mark(p.default) or res.disturbance.mark(p.other)) \
                else ""
            row += [fmt_seconds(p.default.median), fmt_seconds(p.other.median),
                    f"{p.ratio:.2f}x{mark}"]
        rows.append(row)
    return Table(
        "Warm memory against fresh pages",
        ["kernel", "implementation", "n",
         *_run_cols(runs, ["warm memory", "fresh pages", "fresh / warm"])],
        rows,
        empty=_no_regimes(runs),
        note="Every implementation whose call allocates at least a page (its result or "
             "temporaries), at its memory size, in the two allocator regimes a program meets. "
             "Warm: the blocks a call frees are reused by the next call, pages already mapped "
             "- what a loop calling the kernel over and over sees once glibc's heap has grown "
             "(and what every other table shows). Fresh: every large block is a new mapping "
             "that the OS zeroes page by page on first touch - what the first call on new data "
             "sees, and any program whose large temporaries glibc hands back to the OS "
             "(blocks above its mmap threshold, 128 KiB until large frees raise it)."
             + _huge_pages_note(runs),
        anchor="regimes")


def _huge_pages_note(runs: list[Run]) -> str:
    """What the fresh figures assumed of transparent huge pages, run by run."""
    off, left = [], []
    for i, run in enumerate(runs, 1):
        alloc = run.allocator
        if alloc is None or not alloc.controlled:
            continue
        label = f"run {i}" if len(runs) > 1 else "this run"
        mode = f" (the kernel's mode: {alloc.transparent_hugepages})" \
            if alloc.transparent_hugepages else ""
        if alloc.huge_pages and alloc.huge_pages.get("fresh") == "off":
            off.append(label + mode)
        elif alloc.transparent_hugepages not in (None, "never"):
            left.append(label + mode + (f": {alloc.huge_pages_why}" if alloc.huge_pages_why
                                        else ""))
    text = ""
    if off:
        text += (f" Fresh pages are 4 KiB pages in {', '.join(off)}: transparent huge pages "
                 "were turned off for the benchmark process, because how many 2 MiB pages a "
                 "fresh block gets depends on where it lands in the address space, which "
                 "differs from process to process. A program that gets them (NumPy asks for "
                 "them for arrays of 4 MiB or more) faults fewer, larger pages, and its first "
                 "call on new data can be faster than shown.")
    if left:
        text += (f" Transparent huge pages were left to the kernel in {', '.join(left)}: "
                 "those fresh figures depend on where each block landed and may differ from "
                 "process to process.")
    return text


def disturbed_table(runs: list[Run], results: list[Analysis]) -> Table:
    """Every benchmark measured while the machine was disturbed, and how."""
    rows = []
    for i, (run, res) in enumerate(zip(runs, results, strict=True), 1):
        for t in run.steady + run.other_regimes:
            why = res.disturbance.mark(t)
            if why:
                regime = "" if t.allocator in (res.disturbance.regime, "undeclared") \
                    else f" ({t.allocator} pages)"
                rows.append([str(i), t.kernel, f"{t.backend}/{t.variant}{regime}",
                             fmt_size(t.size), t.layout, fmt_seconds(t.median), why])
    header = ["run", "kernel", "implementation", "n", "layout", "median", "why it is marked"]
    if len(runs) == 1:
        header, rows = header[1:], [r[1:] for r in rows]
    return Table(
        "Measured on a disturbed machine",
        header, rows,
        note=f"Marked: other processes used more cores than the benchmark left free (beyond "
             f"{conditions.SPARE_CORES:g} core of slack; a parallel variant leaves none), the "
             f"hypervisor stole more than {conditions.STEAL:.0%} of CPU time, or the rounds "
             f"spread more than {conditions.SPREAD_FACTOR:g}x the run's typical spread (and "
             f"over {conditions.SPREAD_FLOOR:.0%}). Their times say what the machine gave them, "
             "not what the method does.",
        anchor="disturbed")


def tables(runs: list[Run], results: list[Analysis]) -> list[Table]:
    """Every table of the report, in page order."""
    return [speedup_table(runs, results), crossover_table(runs, results),
            overhead_table(runs), ceiling_table(runs, results), machine_table(runs),
            regime_table(runs, results), disturbed_table(runs, results),
            kernels_table(runs), runs_table(runs, results)]


#: How a backend is written at the start of a finding's clause.
_PROPER = {"numpy": "NumPy", "numba": "Numba", "cython": "Cython", "python": "Python"}


def findings(run: Run, res: Analysis) -> list[str]:
    """One line per kernel: who wins at the seed's size and by how much against each
    baseline, and where the second baseline overtakes the first (by default: NumPy
    against python); then the machine's ceilings."""
    idx = compute.index(run)
    first, second = (*res.baselines, None, None)[:2]
    lines = []
    for kernel in run.kernels:
        n = compute.seed_size(run, kernel)
        here = [t for k, t in idx.items() if k[0] == kernel and k[3] == "C" and k[4] == n]
        if not here:
            continue
        best = min(here, key=lambda t: t.median)
        text = f"**{kernel}** (n={fmt_size(n)}): {best.backend}/{best.variant} is fastest"
        s = next((s for s in res.speedups if (s.kernel, s.backend, s.variant)
                  == (kernel, best.backend, best.variant)), None)
        for v in () if s is None else s.against:
            if v.estimate is not None:
                at = "" if v.size == n else f" at n={fmt_size(v.size)}"
                text += f", {v.estimate.text()} {v.baseline}{at}"
        cross = None if second is None else next(
            (c for c in res.crossovers if c.kernel == kernel and c.against == first.label
             and second.covers(*c.challenger)), None)
        if cross is not None:
            who = cross.challenger[0]
            text += (f". {_PROPER.get(who, who)} against {first.label}: "
                     f"{cross.verdict.removeprefix(who + ' ')}")
        lines.append(text + ".")
    if run.ceilings:
        parts = [f"{ceiling_name(c.name)} {c.value:.3g} {c.unit} "
                 f"({'1 thread' if c.threads <= 1 else f'{c.threads} threads'})"
                 for c in sorted(run.ceilings, key=lambda c: (c.name, c.threads))]
        lines.append("Machine ceilings: " + "; ".join(parts) + ".")
    return lines


"""The report's tables and findings, as plain strings, for HTML and Markdown alike.

Several runs are compared side by side: each table has one row per thing
measured and one column (or pair of columns) per run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reports import compute
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


def _run_cols(runs: list[Run], names: list[str]) -> list[str]:
    if len(runs) == 1:
        return names
    return [f"{name} — run {i + 1}" for i in range(len(runs)) for name in names]


def runs_table(runs: list[Run]) -> Table:
    """Which machine and commit each run is, and where it came from."""
    rows = []
    for i, run in enumerate(runs, 1):
        caches = ", ".join(f"{k} {fmt_bytes(v)}" for k, v in run.caches.items()) or "unknown"
        rows.append([str(i), run.machine, run.commit, run.date, run.blas, run.simd_path, caches,
                     run.path.name])
    return Table("Runs", ["run", "machine", "commit", "date (UTC)", "BLAS", "SIMD path of sin",
                          "caches", "file"],
                 rows, anchor="runs")


def speedup_table(runs: list[Run], results: list[Analysis]) -> Table:
    """Speedups over python and numpy at the seed's sizes, with 95% intervals."""
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
                row += ["not run", "not run"]
                continue
            at = f" at n={fmt_size(s.size)}" if s.size != size else ""
            if s.vs_python is None:
                py = "—"
            elif s.python_size != s.size:
                py = (f"{s.vs_python.text()} at n={fmt_size(s.python_size)} "
                      f"(python not run at n={fmt_size(s.size)})")
            else:
                py = s.vs_python.text() + at
            row += [py, "—" if s.vs_numpy is None else s.vs_numpy.text() + at]
        rows.append(row)
    return Table(
        "Speedup at the seed's sizes",
        ["kernel", "n", "implementation", *_run_cols(runs, ["x python [95% CI]",
                                                            "x numpy [95% CI]"])],
        rows,
        note="Median time of the reference (python's or numpy's default variant, C order) over "
             "the median time of the implementation; 95% interval by bootstrap over the saved "
             "rounds. Above 1: faster.",
        anchor="speedups")


def crossover_table(runs: list[Run], results: list[Analysis]) -> Table:
    """Where each backend overtakes python, and where the compiled loops meet numpy."""
    keys = list(dict.fromkeys((c.kernel, c.challenger[0], c.reference[0])
                              for res in results for c in res.crossovers))
    rows = []
    for kernel, challenger, reference in keys:
        row = [kernel, challenger, reference]
        for res in results:
            c = next((c for c in res.crossovers if (c.kernel, c.challenger[0], c.reference[0])
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
            text = f"{o.value:.3g} {o.unit} at n={fmt_size(o.size)}"
            if o.percent is not None and o.ceiling is not None:
                threads = "1 thread" if o.ceiling.threads <= 1 else f"{o.ceiling.threads} threads"
                text = f"**{o.percent:.0f}%** — {text} (ceiling {o.ceiling.value:.3g}, {threads})"
                if o.fresh_percent is not None:
                    text += (f"; {o.fresh_percent:.0f}% of the same into a new array "
                             f"({o.fresh.value:.3g})")
            elif any(c.name == compute.roof(run, o.kernel).ceiling for c in run.ceilings):
                text += " (no ceiling at this thread count)"
            else:
                text += " (no ceiling measured)"
            row.append(text)
        rows.append(row)
    return Table(
        "Percent of the machine's ceiling at the largest size",
        ["kernel", "implementation", *_run_cols(runs, ["% of ceiling"])],
        rows,
        note="Speed from the work model and the median time, against the kernel's own roof "
             f"measured in the run ({_roofs_text()}; the rest: "
             f"{ceiling_name(compute.READ_ROOF.ceiling)}), at the same thread count. Above "
             "100%: the working set still fits in a cache, or the implementation beats the "
             "probe, which is the machine's BLAS or a simple compiled loop, not the "
             "hardware's peak. magnitude returns a new array, whose pages the OS zeroes "
             "when they are first written, a pass the loop cannot avoid; the second "
             "figure holds it against x + y into a new array, the same work.",
        anchor="ceiling")


def _roofs_text() -> str:
    return ", ".join(f"{kernel}: {ceiling_name(r.ceiling)}" for kernel, r in compute.ROOFS.items())


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


#: How the ceilings are named in tables and findings.
CEILING_NAMES = {
    "read_bandwidth": "memory read bandwidth",
    "stream_add_bandwidth": "stream add bandwidth (x + y)",
    "stream_add_new_bandwidth": "stream add into a new array (x + y, page faults included)",
    "matmul_gflops": "BLAS dgemm (n=2048)",
    "sin_throughput": "sin throughput (sum of sin alone)",
}


def ceiling_name(name: str) -> str:
    """A ceiling's name for people (its own name, with underscores as spaces, if unknown)."""
    return CEILING_NAMES.get(name, name.replace("_", " "))


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


def tables(runs: list[Run], results: list[Analysis]) -> list[Table]:
    """Every table of the report, in page order."""
    return [speedup_table(runs, results), crossover_table(runs, results),
            overhead_table(runs), ceiling_table(runs, results), machine_table(runs),
            runs_table(runs)]


def findings(run: Run, res: Analysis) -> list[str]:
    """One line per kernel: who wins at the seed's size and by how much, and where
    NumPy overtakes Python; then the machine's ceilings."""
    idx = compute.index(run)
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
        if s is not None and s.vs_python is not None:
            at = "" if s.python_size == n else f" at n={fmt_size(s.python_size)}"
            text += f", {s.vs_python.text()} python{at}"
        if s is not None and s.vs_numpy is not None:
            text += f", {s.vs_numpy.text()} numpy"
        cross = next((c for c in res.crossovers if c.kernel == kernel
                      and c.challenger[0] == "numpy" and c.reference[0] == "python"), None)
        if cross is not None:
            text += f". NumPy against python: {cross.verdict.removeprefix('numpy ')}"
        lines.append(text + ".")
    if run.ceilings:
        parts = [f"{ceiling_name(c.name)} {c.value:.3g} {c.unit} "
                 f"({'1 thread' if c.threads <= 1 else f'{c.threads} threads'})"
                 for c in sorted(run.ceilings, key=lambda c: (c.name, c.threads))]
        lines.append("Machine ceilings: " + "; ".join(parts) + ".")
    return lines


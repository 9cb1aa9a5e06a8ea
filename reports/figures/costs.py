"""Figures 4, 5 and 6: memory layout, Numba's compile cost, memory use."""

from __future__ import annotations

import math
from collections.abc import Iterator

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from reports import compute, style
from reports.figures import common
from reports.load import Run, Timing


def _bar_labels(ax: Axes, xs: list[float], ys: list[float], texts: list[str],
                rotate: bool = False) -> None:
    for x, y, t in zip(xs, ys, texts, strict=True):
        ax.text(x, y * 1.1, t, ha="center", va="bottom", fontsize=9,
                rotation=90 if rotate else 0)


def _layout_size(run: Run, kernel: str) -> int | None:
    """The largest size at which some implementation ran in every layout."""
    by: dict[tuple[str, str, int], set[str]] = {}
    layouts = {t.layout for t in run.steady if t.kernel == kernel}
    for t in run.steady:
        if t.kernel == kernel:
            by.setdefault((t.backend, t.variant, t.size), set()).add(t.layout)
    full = [n for (_, _, n), lay in by.items() if lay == layouts]
    return max(full, default=None)


def layout(run: Run, analysis: compute.Analysis) -> Figure:
    """Figure 4: the kernels run in C and Fortran order (row and column sums), per
    implementation.

    GB/s at the largest size run in both orders; hatched bars are Fortran
    order.  A loop that walks memory in order streams; one that strides
    across it waits on cache misses.
    """
    # Kernels with an implementation run in every layout at one size (two layouts
    # by different implementations or sizes make no comparison).
    kernels = [k for k in run.kernels if len({t.layout for t in run.steady if t.kernel == k}) > 1
               and _layout_size(run, k) is not None]
    widest = max((len(compute.implementations(run, k, None)) for k in kernels), default=1)
    fig, axes = common.panels(max(1, len(kernels)), ncols=1, width=max(15.0, 1.5 * widest),
                              height=5.0)
    common.title(fig, "Memory layout: C (row-major) against Fortran (column-major) order",
                 run.label)
    if not kernels:
        common.no_data(axes[0], "no kernel ran in more than one layout")
        return fig
    idx = compute.index(run)
    for ax, kernel in zip(axes, kernels, strict=True):
        roof = compute.roof(run, kernel)
        # The kernel's own bandwidth ceiling, one thread (the bars are GB/s).
        bw = [c for c in run.ceilings
              if roof.bandwidth and c.name == roof.ceiling and c.threads <= 1]
        n = _layout_size(run, kernel)
        layouts = sorted({t.layout for t in run.steady if t.kernel == kernel})
        impls = compute.implementations(run, kernel, None)
        width = 0.8 / len(layouts)
        xs, ys, texts = [], [], []
        for i, (backend, variant, _) in enumerate(impls):
            for j, lay in enumerate(layouts):
                t: Timing | None = idx.get((kernel, backend, variant, lay, n))
                value = math.nan if t is None else compute.throughput(t, compute=False)
                if not math.isfinite(value):  # not run, or no work model saved
                    continue
                x = i + (j - (len(layouts) - 1) / 2) * width
                hatch = style.FORTRAN_HATCH if lay == "F" else ""
                ax.bar(x, value, width=width * 0.95, color=style.backend_colour(backend),
                       hatch=hatch, edgecolor="white", zorder=2)
                xs.append(x)
                ys.append(value)
                texts.append(f"{value:.0f}" if value >= 10 else f"{value:.2g}")
        _bar_labels(ax, xs, ys, texts, rotate=True)
        for c in bw:
            ax.axhline(c.value, color=style.CEILING_COLOUR, linewidth=1.5, zorder=1)
            ax.annotate(f"{roof.what} bandwidth, 1 thread: {c.value:.3g} GB/s",
                        (0.005, c.value),
                        xycoords=("axes fraction", "data"), ha="left", va="bottom",
                        fontsize=9, color=style.CEILING_COLOUR)
        ax.set_yscale("log")
        if ys or bw:
            ax.set_ylim(top=max(ys + [c.value for c in bw]) * 8)
        ax.set_xticks(range(len(impls)), [f"{b}/\n{v}" for b, v, _ in impls], fontsize=11)
        ax.set_title(f"{kernel}, n={compute.fmt_size(n)} (an n x n matrix)")
        ax.set_ylabel("GB/s (higher is better)")
        ax.grid(axis="x", visible=False)
    keys = [Patch(facecolor="#999999", edgecolor="white", label=f"{lay} order",
                  hatch=style.FORTRAN_HATCH if lay == "F" else "") for lay in ("C", "F")]
    keys += [Patch(color=style.backend_colour(b), label=b)
             for b in sorted({t.backend for t in run.steady}, key=compute.backend_rank)]
    style.literal(fig)  # names as written, never mathtext
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    common.bottom_legend(fig, keys, ncol=len(keys), y=0.045)
    return fig


def jit(run: Run, analysis: compute.Analysis) -> Figure:
    """Figure 5: Numba's compile time per kernel, and the calls until it pays off.

    Break-even calls: compile time over the time Numba saves per call
    against NumPy at the reference size; "never" where Numba is not faster.
    """
    many = len(run.compiles) > 10  # one panel above the other, each as wide as the page
    fig, (left, right) = plt.subplots(
        *((2, 1) if many else (1, 2)),
        figsize=(max(16.0, 0.6 * len(run.compiles) + 2), 12 if many else 6.5))
    common.title(fig, "JIT cost: Numba's compile time and the break-even call count", run.label)
    order = {k: i for i, k in enumerate(run.kernels)}
    rows = sorted(run.compiles, key=lambda c: (
        order.get(c.kernel, len(order)),
        compute.default_variant(run, c.kernel, "numba") != c.variant, c.variant))
    if not rows:
        for ax in (left, right):
            common.no_data(ax, "no numba compile benchmarks in this run")
        return fig
    colour = style.backend_colour("numba")
    names = [f"{c.kernel}\n{c.variant}" for c in rows]
    xs = list(range(len(rows)))
    defaults = {(c.kernel, c.variant): compute.default_variant(run, c.kernel, "numba") == c.variant
                for c in rows}
    for x, c in zip(xs, rows, strict=True):
        hatch = style.variant_hatch(c.variant, defaults[(c.kernel, c.variant)])
        left.bar(x, c.seconds, color=colour, hatch=hatch, edgecolor="white", zorder=2)
        left.errorbar(x, c.seconds, yerr=[[max(c.seconds - c.low, 0.0)],
                                          [max(c.high - c.seconds, 0.0)]],
                      fmt="none", ecolor="black", capsize=3, zorder=3)
        left.text(x, c.high * 1.03 + 0.005, compute.fmt_seconds(c.seconds), ha="center",
                  va="bottom", fontsize=9)
    left.set_xticks(xs, names, fontsize=9, rotation=45 if len(rows) > 6 else 0, ha="right"
                    if len(rows) > 6 else "center", rotation_mode="anchor")
    left.set_ylabel("compile time (median; bars: fastest to slowest round)")
    left.set_title("compile time, fresh dispatcher")
    left.set_ylim(0, max(c.high for c in rows) * 1.2 + 0.01)  # room for the labels
    left.grid(axis="x", visible=False)

    calls = [c.break_even_calls for c in rows]
    finite = [k for k in calls if k is not None] or [1]
    never_height = max(finite) * 10
    for x, c in zip(xs, rows, strict=True):
        if c.break_even_calls is None:
            right.bar(x, never_height, color="none", edgecolor="#888888", hatch="//", zorder=2)
            right.text(x, never_height * 1.1, "never", ha="center", va="bottom", fontsize=10)
        else:
            right.bar(x, max(c.break_even_calls, 1), color=colour, zorder=2)
            right.text(x, max(c.break_even_calls, 1) * 1.1, f"{c.break_even_calls:,}",
                       ha="center", va="bottom", fontsize=10)
        right.text(x, 1.0, f"n={compute.fmt_size(c.reference_size)}", ha="center",
                   va="bottom", fontsize=8, rotation=90, color="white" if c.break_even_calls
                   and c.break_even_calls > 3 else "#333333")
    right.set_yscale("log")
    right.set_ylim(0.8, never_height * 6)
    right.set_xticks(xs, names, fontsize=9, rotation=45 if len(rows) > 6 else 0, ha="right"
                     if len(rows) > 6 else "center", rotation_mode="anchor")
    right.set_ylabel("calls until numba's compile time is repaid")
    right.set_title("break-even against numpy (never: numba not faster there)")
    right.grid(axis="x", visible=False)
    style.literal(fig)  # names as written, never mathtext
    fig.tight_layout()
    return fig


def _grouped(run: Run, measured: list[Timing], kernels: list[str], backends: list[str],
             width: float) -> Iterator[tuple[float, Timing]]:
    """Bar positions of each kernel's default variants, one group per kernel."""
    for i, kernel in enumerate(kernels):
        for j, backend in enumerate(backends):
            variant = compute.default_variant(run, kernel, backend)
            t = next((t for t in measured if t.kernel == kernel and t.backend == backend
                      and t.variant == variant), None)
            if t is not None:
                yield i + (j - (len(backends) - 1) / 2) * width, t


def _memory_bars(run: Run, measured: list[Timing], kernel: str, backends: list[str]
                 ) -> list[Timing]:
    """Each backend's default variant, then any of its variants whose peak differs
    from the default's by more than a factor 2 (an in-place form, say)."""
    out = []
    for backend in backends:
        mine = [t for t in measured if t.kernel == kernel and t.backend == backend]
        default = next((t for t in mine if t.default), None)
        if default is None:
            continue
        out.append(default)
        base = max(float(default.peak_extra_bytes or 0), 1.0)
        out += [t for t in mine if not t.default
                and not 0.5 <= max(float(t.peak_extra_bytes or 0), 1.0) / base <= 2.0]
    return out


def memory(run: Run, analysis: compute.Analysis) -> Figure:
    """Figure 6: bytes per element of the inputs, and peak temporaries per call.

    Left: what one number costs in a Python list (a pointer and a float
    object) against a float64 array.  Right: memory allocated during one call
    above what was allocated before it (result and temporaries), log scale:
    default variants, and the variants that change it by more than 2x (hatched).
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(16, 6.5))
    common.title(fig, "Memory: bytes per element and peak temporaries per call", run.label)
    measured = [t for t in run.steady if t.bytes_per_element is not None and t.layout == "C"]
    if not measured:
        for ax in (left, right):
            common.no_data(ax, "no memory measurements in this run")
        return fig
    kernels = [k for k in run.kernels if any(t.kernel == k for t in measured)]
    backends = sorted({t.backend for t in measured}, key=compute.backend_rank)
    width = 0.8 / len(backends)
    for x, t in _grouped(run, measured, kernels, backends, width):
        left.bar(x, t.bytes_per_element, width=width * 0.95,
                 color=style.backend_colour(t.backend), zorder=2)
        left.text(x, t.bytes_per_element + 0.5, f"{t.bytes_per_element:.0f}", ha="center",
                  va="bottom", fontsize=9)
    sizes = {k: next(t.size for t in measured if t.kernel == k) for k in kernels}
    left.set_xticks(range(len(kernels)),
                    [f"{k}\nn={compute.fmt_size(sizes[k])}" for k in kernels], fontsize=10)
    left.set_ylabel("input bytes per element")
    left.set_title("what one number costs: list against array")
    left.set_ylim(0, max(t.bytes_per_element for t in measured) * 1.15)
    left.grid(axis="x", visible=False)

    bars = {k: _memory_bars(run, measured, k, backends) for k in kernels}
    width = 0.85 / max(len(b) for b in bars.values())
    handles = {b: Patch(color=style.backend_colour(b), label=b) for b in backends}
    for i, kernel in enumerate(kernels):
        for j, t in enumerate(bars[kernel]):
            x = i + (j - (len(bars[kernel]) - 1) / 2) * width
            value = max(float(t.peak_extra_bytes or 0), 1.0)
            right.bar(x, value, width=width * 0.95, color=style.backend_colour(t.backend),
                      hatch=style.variant_hatch(t.variant, t.default), edgecolor="white",
                      zorder=2)
            right.text(x, value * 1.15, compute.fmt_bytes(value), ha="center", va="bottom",
                       fontsize=9, rotation=90)
            if not t.default:
                handles.setdefault(t.variant, Patch(facecolor="#999999", edgecolor="white",
                                                    hatch=style.variant_hatch(t.variant, False),
                                                    label=t.variant))
    right.set_yscale("log")
    top = max(max(float(t.peak_extra_bytes or 1), 1.0) for t in measured)
    right.set_ylim(0.8, top * 300)
    right.set_xticks(range(len(kernels)), [k for k in kernels], fontsize=10)
    right.set_ylabel("peak bytes allocated during one call")
    right.set_title("peak temporaries, result included")
    right.grid(axis="x", visible=False)
    style.literal(fig)  # names as written, never mathtext
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    common.bottom_legend(fig, list(handles.values()), ncol=len(handles), y=0.05)
    return fig

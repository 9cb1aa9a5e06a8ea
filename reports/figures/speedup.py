"""Figures 1 and 7: speedup over the first baseline (pure Python unless the user chose
another) at the seed's sizes, and at every size."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from reports import compute, style
from reports.baselines import Baseline
from reports.figures import common
from reports.load import Run


def _over(base: Baseline, python: str) -> str:
    """How a title names the baseline: ``python`` (e.g. "pure Python") for python."""
    return python if base == Baseline("python") else base.label


def headline(run: Run, analysis: compute.Analysis) -> Figure:
    """Figure 1: speedup over the first baseline (pure Python unless chosen) per kernel
    at the seed's sizes (log scale).

    One group of bars per kernel, one bar per implementation but the baseline's,
    labelled "57x", with the bootstrap 95% interval as error bars.  Where the
    baseline did not run at the headline size (python's matmul) the comparison
    is made at the largest size it ran at, and the group says so.
    """
    base = analysis.baselines[0]
    rows = [s for s in analysis.speedups if s.against[0].estimate is not None]
    groups_n = len({s.kernel for s in rows})
    crowded = len(rows) > 30  # labels turned upright so they do not overlap
    fig, ax = plt.subplots(figsize=(max(16.0, 0.36 * len(rows) + 0.5 * groups_n + 2), 7.5))
    common.title(fig, f"Speedup over {_over(base, 'pure Python')} at the seed's sizes",
                 run.label)
    if not rows:
        common.no_data(ax, f"no implementation ran at a size {base.label} also ran at")
        return fig
    kernels = list(dict.fromkeys(s.kernel for s in rows))
    x = 0.0
    ticks, tick_names, groups = [], [], []
    top = max(s.against[0].estimate.high for s in rows)
    bottom = min(s.against[0].estimate.low for s in rows)
    for kernel in kernels:
        mine = [s for s in rows if s.kernel == kernel]
        start = x
        for s in mine:
            est = s.against[0].estimate
            ax.bar(x, est.value, width=0.8, color=style.backend_colour(s.backend),
                   edgecolor="white", hatch=style.variant_hatch(s.variant, s.default), zorder=2)
            ax.errorbar(x, est.value, yerr=[[max(est.value - est.low, 0.0)],
                                            [max(est.high - est.value, 0.0)]],
                        fmt="none", ecolor="black", elinewidth=1.2, capsize=3, zorder=3)
            ax.text(x, est.high * 1.12, f"{compute.fmt_ratio(est.value)}x", ha="center",
                    va="bottom", fontsize=10 if crowded else 11, fontweight="bold",
                    rotation=90 if crowded else 0)
            ticks.append(x)
            tick_names.append(s.variant)
            x += 1
        sizes = {s.against[0].size for s in mine}
        note = f"n={compute.fmt_size(mine[0].size)}"
        if sizes != {mine[0].size}:
            at = ", ".join(compute.fmt_size(n) for n in sorted(sizes))
            note += f" ({base.label}: n={at}, its largest)"
        groups.append(((start + x - 1) / 2, f"{kernel}\n{note}"))
        x += 0.8
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{compute.fmt_ratio(v)}x"))
    ax.axhline(1.0, color=style.backend_colour(base.backend), linewidth=1.5, zorder=1)
    ax.annotate(base.label, (1.0, 1.0), xycoords=("axes fraction", "data"), xytext=(4, 0),
                textcoords="offset points", va="center", fontsize=11,
                color=style.backend_colour(base.backend))
    ax.set_ylim(min(0.5, bottom / 2), top * (12 if crowded else 4))
    ax.set_xlim(-0.7, x - 0.5)
    ax.set_xticks(ticks, tick_names, rotation=90, fontsize=10)
    style.literal(fig)  # names as written, never mathtext
    fig.canvas.draw()  # lay out the tick labels, to put the kernel names under them
    renderer = fig.canvas.get_renderer()
    tallest = max(t.get_window_extent(renderer).height for t in ax.get_xticklabels())
    depth = tallest * 72 / fig.dpi + 10  # points below the axis
    for centre, text in groups:
        ax.annotate(text, (centre, 0), xycoords=("data", "axes fraction"),
                    xytext=(0, -depth), textcoords="offset points", ha="center", va="top",
                    fontsize=12, fontweight="bold")
    ax.set_ylabel(f"times faster than {base.label} (median, 95% CI)")
    ax.grid(axis="x", visible=False)
    backends = list(dict.fromkeys(s.backend for s in rows))
    ax.legend(handles=common.backend_handles(backends), loc="upper left",
              ncol=len(backends), frameon=False)
    style.literal(fig)  # names as written, never mathtext
    fig.tight_layout()
    return fig


def heatmap(run: Run, analysis: compute.Analysis) -> Figure:
    """Figure 7: speedup over the first baseline (pure Python unless chosen),
    implementation x size, one panel per kernel.

    Blue is faster than the baseline, red slower, on one colour scale for all
    panels; grey where the baseline (or the implementation) did not run.
    """
    base = analysis.baselines[0]
    idx = compute.index(run)
    kernels = list(run.kernels)
    tallest = max((len(compute.implementations(run, k)) for k in kernels), default=4)
    fig, axes = common.panels(len(kernels), ncols=2, width=8.0, height=1.2 + 0.42 * tallest)
    common.title(fig, f"At a glance: speedup over {_over(base, 'pure Python')} (C order)",
                 run.label)
    grids = []
    for kernel in kernels:
        rv = compute.reference(run, kernel, base)
        impls = [i for i in compute.implementations(run, kernel) if not base.covers(i[0], i[1])]
        ns = compute.sizes(run, kernel)
        grid = np.full((len(impls), len(ns)), np.nan)
        for r, (b, v, _) in enumerate(impls):
            for c, n in enumerate(ns):
                ref = idx.get((kernel, base.backend, rv, "C", n))
                me = idx.get((kernel, b, v, "C", n))
                if ref is not None and me is not None:
                    grid[r, c] = math.log10(ref.median / me.median)
        grids.append((kernel, impls, ns, grid))
    finite = [np.nanmax(np.abs(g)) for *_, g in grids if np.isfinite(g).any()]
    limit = max(finite, default=1.0) or 1.0
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit)
    cmap = plt.get_cmap("RdBu").with_extremes(bad="#dddddd")
    image = None
    for ax, (kernel, impls, ns, grid) in zip(axes, grids, strict=True):
        ax.grid(False)
        if not impls or not np.isfinite(grid).any():
            common.no_data(ax, f"{kernel}: no size has both {base.label} and another "
                               "implementation")
            continue
        image = ax.imshow(np.ma.masked_invalid(grid), aspect="auto", cmap=cmap, norm=norm,
                          interpolation="nearest")
        ax.set_title(kernel)
        ax.set_yticks(range(len(impls)), [style.label(b, v) for b, v, _ in impls])
        # Every column when they are wide enough for a label; else a few inside ones.
        shown = (list(range(len(ns))) if len(ns) <= 12 else
                 sorted({round(v) for v in np.linspace(2, len(ns) - 3, 8)}))
        ax.set_xticks(shown, [compute.fmt_size(ns[c]) for c in shown])
        ax.set_xlabel("size n")
        for r in range(len(impls)):
            for c in shown:
                if np.isfinite(grid[r, c]):
                    value = 10 ** grid[r, c]
                    dark = abs(grid[r, c]) > 0.6 * limit
                    text = compute.fmt_ratio(value) if value >= 0.01 else "<0.01"
                    ax.text(c, r, text, ha="center", va="center",
                            fontsize=9, color="white" if dark else "black")
    style.literal(fig)  # names as written, never mathtext
    fig.tight_layout(rect=(0, 0, 0.92, 1))
    if image is not None:
        bar = fig.colorbar(image, ax=axes, fraction=0.025, pad=0.02)
        ticks = [t for t in (-4, -3, -2, -1, 0, 1, 2, 3, 4) if abs(t) <= limit]
        bar.set_ticks(ticks, labels=[f"{compute.fmt_ratio(10.0 ** t)}x" for t in ticks])
        bar.set_label(f"times faster than {base.label} (grey: not run)")
    return fig

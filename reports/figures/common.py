"""Pieces the figures share: panel grids, legends, empty-panel notes, axis formats."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter, NullLocator

from reports import style
from reports.compute import fmt_bytes, fmt_seconds, fmt_size


def panels(count: int, ncols: int, width: float = 5.4, height: float = 4.0
           ) -> tuple[Figure, list[Axes]]:
    """A figure with ``count`` panels in rows of ``ncols``; spare panels are hidden."""
    count = max(count, 1)
    ncols = min(ncols, count)
    nrows = math.ceil(count / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows),
                             squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[count:]:
        ax.set_visible(False)
    return fig, flat[:count]


def no_data(ax: Axes, text: str) -> None:
    """Say in the panel why it is empty."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center",
            fontsize=12, color="#555555", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)


def line_handle(backend: str, variant: str, default: bool) -> Line2D:
    """A legend entry for one implementation's line."""
    return Line2D([], [], color=style.backend_colour(backend),
                  linestyle=style.variant_linestyle(variant, default),
                  marker=style.variant_marker(variant, default),
                  label=style.label(backend, variant))


def bar_handle(backend: str, variant: str, default: bool) -> Patch:
    """A legend entry for one implementation's bars."""
    return Patch(facecolor=style.backend_colour(backend), edgecolor="white",
                 hatch=style.variant_hatch(variant, default),
                 label=style.label(backend, variant))


def backend_handles(backends: list[str]) -> list[Patch]:
    """Legend entries for backend colours."""
    return [Patch(color=style.backend_colour(b), label=b) for b in backends]


def variant_legend(ax: Axes, impls: list[tuple[str, str, bool]], loc: str = "upper left"
                   ) -> None:
    """A small in-panel legend of the line styles of the kernel's variants, when any
    backend carries more than one (grey: the colour is the backend's)."""
    per_backend: dict[str, int] = {}
    for backend, _, _ in impls:
        per_backend[backend] = per_backend.get(backend, 0) + 1
    if max(per_backend.values(), default=0) < 2:
        return
    variants = dict.fromkeys((v, d) for b, v, d in impls if per_backend[b] > 1)
    handles = [Line2D([], [], color="#444444", linestyle=style.variant_linestyle(v, d),
                      marker=style.variant_marker(v, d), label=v) for v, d in variants]
    ax.legend(handles=handles, loc=loc, fontsize=9, frameon=True, framealpha=0.85,
              handlelength=4.5)


def bottom_legend(fig: Figure, handles: list, ncol: int = 6, y: float = 0.0) -> None:
    """One legend for the whole figure, under the panels."""
    if handles:
        fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, y),
                   ncol=min(ncol, len(handles)), frameon=False)


def title(fig: Figure, text: str, run_label: str) -> None:
    """The figure's title, with the run it shows."""
    fig.suptitle(f"{text}\n{run_label}", fontsize=15, fontweight="bold")


def size_axis(ax: Axes, sizes: list[int]) -> None:
    """Log x axis of sizes, labelled 1, 1k, 1M; at the sizes themselves when they are few."""
    ax.set_xscale("log")
    if 0 < len(sizes) <= 12:
        ax.xaxis.set_major_locator(FixedLocator(sizes))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_size(v) if v >= 1 else f"{v:g}"))


def bytes_axis(ax: Axes) -> None:
    """Log x axis of bytes, labelled in KiB and MiB at powers of 32 (or of 4, when short)."""
    ax.set_xscale("log", base=2)
    low, high = ax.get_xlim()
    span = math.log2(max(high, 2.0)) - math.log2(max(low, 1.0))
    step = 2 if span < 14 else 5
    ax.xaxis.set_major_locator(FixedLocator([2.0**k for k in range(0, 64, step)]))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_bytes(v)))




def seconds_axis(ax: Axes) -> None:
    """Log y axis of seconds, labelled with units."""
    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_seconds(v)))

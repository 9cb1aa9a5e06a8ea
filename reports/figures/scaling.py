"""Figures 2 and 3: time per call against size, throughput against working set."""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from reports import compute, style
from reports.figures import common
from reports.load import Run


def _lines(ax: Axes, run: Run, kernel: str, y, band: bool, legend: str = "upper left"
           ) -> None:
    impls = compute.implementations(run, kernel)
    for backend, variant, default in impls:
        ts = compute.series(run, kernel, backend, variant)
        if not ts:
            continue
        colour = style.backend_colour(backend)
        xs = [t.size for t in ts] if band else [t.bytes for t in ts]
        ax.plot(xs, [y(t) for t in ts], color=colour,
                linestyle=style.variant_linestyle(variant, default),
                marker=style.variant_marker(variant, default), zorder=3)
        if band:
            ax.fill_between(xs, [t.q1 for t in ts], [t.q3 for t in ts], color=colour,
                            alpha=0.2, linewidth=0, zorder=2)
    common.variant_legend(ax, impls, loc=legend)


def _clip_overhead_floor(ax: Axes, run: Run, kernel: str, roof: compute.Roof) -> None:
    """Keep the y axis to four decades below the fastest point: below that are only
    overhead-bound calls at tiny sizes, which would squash the rest."""
    speeds = [roof.speed(t) for t in run.steady if t.kernel == kernel and t.layout == "C"]
    speeds = [v for v in speeds if v > 0]
    if speeds and min(speeds) < max(speeds) / 1e4:
        ax.set_ylim(bottom=max(speeds) / 1e4)


def _backends(run: Run) -> list[str]:
    return sorted({t.backend for t in run.steady}, key=compute.backend_rank)


_OVER_PY, _OVER_NP, _BEHIND = "v", "D", "X"


def scaling(run: Run, analysis: compute.Analysis) -> Figure:
    """Figure 2: time per call against size (log-log) with the crossovers marked.

    One line per implementation (C order), the median with its interquartile
    band.  Markers sit where a backend's default variant overtakes the first
    baseline (triangle; python unless chosen) or another (diamond; numpy), or
    falls behind (cross).
    """
    baselines = analysis.baselines
    kernels = list(run.kernels)
    fig, axes = common.panels(len(kernels), ncols=3, width=5.6, height=4.4)
    common.title(fig, "Time per call against size (median, interquartile band)", run.label)
    for ax, kernel in zip(axes, kernels, strict=True):
        _lines(ax, run, kernel, lambda t: t.median, band=True)
        for co in (c for c in analysis.crossovers if c.kernel == kernel):
            colour = style.backend_colour(co.challenger[0])
            for cr in co.crossings:
                marker = (_BEHIND if not cr.overtakes else
                          _OVER_PY if co.against == baselines[0].label else _OVER_NP)
                ax.plot(cr.size, cr.seconds, marker=marker, markersize=11, color=colour,
                        markeredgecolor="black", markeredgewidth=1.0, linestyle="none",
                        zorder=5)
                ax.axvline(cr.size, color=colour, linestyle=":", linewidth=1.0, alpha=0.7,
                           zorder=1)
        ax.set_title(kernel)
        common.size_axis(ax, compute.sizes(run, kernel))
        common.seconds_axis(ax)
        ax.set_xlabel("size n")
        ax.set_ylabel("time per call")
    keys = [Line2D([], [], marker=_OVER_PY, color="#999999", markeredgecolor="black",
                   linestyle="none", markersize=10, label=f"overtakes {baselines[0].label}")]
    if len(baselines) > 1:
        others = " or ".join(b.label for b in baselines[1:])
        keys.append(Line2D([], [], marker=_OVER_NP, color="#999999", markeredgecolor="black",
                           linestyle="none", markersize=9, label=f"overtakes {others}"))
    keys.append(Line2D([], [], marker=_BEHIND, color="#999999", markeredgecolor="black",
                       linestyle="none", markersize=10, label="falls behind"))
    style.literal(fig)  # names as written, never mathtext
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    common.bottom_legend(fig, common.backend_handles(_backends(run)) + keys, ncol=7, y=0.06)
    return fig


def throughput(run: Run, analysis: compute.Analysis) -> Figure:
    """Figure 3: each kernel's speed in its ceiling's unit against working-set size.

    Each kernel in the unit of the ceiling its facts name, that ceiling as
    measured with the run in horizontal lines (solid: one thread, dashed: all
    cores; a kernel that declares none says so); the cache sizes are vertical
    lines.
    """
    kernels = list(run.kernels)
    fig, axes = common.panels(len(kernels), ncols=3, width=5.6, height=4.4)
    heading = "Throughput against working-set size, with the machine's ceilings"
    if not run.ceilings:
        heading = ("Throughput against working-set size "
                   "(machine ceilings not measured in this run)")
    common.title(fig, heading, run.label)
    for ax, kernel in zip(axes, kernels, strict=True):
        roof = compute.roof(run, kernel)
        unit = roof.unit
        _lines(ax, run, kernel, roof.speed, band=False, legend="best")
        ax.set_yscale("log")
        ceilings = sorted((c for c in run.ceilings
                           if roof.ceiling is not None and c.name == roof.ceiling),
                          key=lambda c: c.threads)
        for c in ceilings:
            ax.axhline(c.value, color=style.CEILING_COLOUR,
                       linestyle="-" if c.threads <= 1 else "--", linewidth=1.5, zorder=1)
        if ceilings:
            values = ", ".join(f"{c.value:.3g} ({'1 thread' if c.threads <= 1 else 'all cores'})"
                               for c in ceilings)
            ax.text(0.5, 1.01, f"{roof.what}: {values} {ceilings[0].unit}",
                    transform=ax.transAxes, ha="center", va="bottom", fontsize=9.5,
                    color=style.CEILING_COLOUR)
        elif roof.ceiling is None:
            ax.text(0.5, 1.01, roof.what, transform=ax.transAxes, ha="center", va="bottom",
                    fontsize=9.5, color=style.CACHE_COLOUR)
        for cache, size in sorted(run.caches.items(), key=lambda kv: kv[1]):
            ax.axvline(size, color=style.CACHE_COLOUR, linestyle=":", linewidth=1.2, zorder=1)
            ax.annotate(cache, (size, 0.02), xycoords=("data", "axes fraction"),
                        rotation=90, ha="right", va="bottom", fontsize=9,
                        color=style.CACHE_COLOUR)
        _clip_overhead_floor(ax, run, kernel, roof)  # after everything that sets the top
        common.bytes_axis(ax)
        ax.set_title(kernel, pad=18 if ceilings or roof.ceiling is None else 6)
        ax.set_xlabel("working set (work model's bytes per call)")
        ax.set_ylabel(unit)
    keys = [Line2D([], [], color=style.CEILING_COLOUR, linestyle="-", label="ceiling, 1 thread"),
            Line2D([], [], color=style.CEILING_COLOUR, linestyle="--",
                   label="ceiling, all cores")] if run.ceilings else []
    style.literal(fig)  # names as written, never mathtext
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    common.bottom_legend(fig, common.backend_handles(_backends(run)) + keys, ncol=6, y=0.045)
    return fig

"""One look for every figure: a colour per backend, a line style per variant.

Colours and line styles are functions of names only, so the same backend or
variant looks the same in every figure of every report, whatever else a run
holds.  The four backends the project ships have fixed, colour-blind-safe
colours (Okabe-Ito); a backend added later gets one from a spare palette,
chosen from its name.  A kernel's default variant is drawn solid; any other
variant gets a dash pattern, marker and hatch of its own, chosen from its name
(see :func:`assign_variants`).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt

_BACKEND_COLOURS = {
    "python": "#6e6e6e",
    "numpy": "#0072B2",
    "numba": "#E69F00",
    "cython": "#009E73",
}
_SPARE_COLOURS = ("#CC79A7", "#D55E00", "#56B4E9", "#8C564B", "#9467BD", "#BCBD22")
# Dash patterns for non-default variants, all distinguishable from solid and
# from one another at a line width of 2.
_DASHES = (
    (0, (5, 2)),
    (0, (1, 1.5)),
    (0, (6, 2, 1, 2)),
    (0, (3, 1, 1, 1, 1, 1)),
    (0, (2, 3)),
    (0, (8, 2, 2, 2, 2, 2)),
    (0, (4, 1, 4, 1, 1, 1)),
    (0, (1, 3)),
    (0, (6, 1.5, 1, 1.5, 1, 1.5)),
    (0, (3, 2, 3, 5)),
)
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*", "d")
_HATCHES = ("..", "xx", "\\\\", "oo", "++", "--", "**", "//..", "||", "OO")
# Slot of each non-default variant name in the report being drawn (see assign_variants).
_slots: dict[str, int] = {}

#: Hatch that marks Fortran-ordered data in bar charts.
FORTRAN_HATCH = "///"
#: Colours of the machine's ceilings and cache markers.
CEILING_COLOUR = "#B22222"
CACHE_COLOUR = "#555555"


def _pick(name: str, options: tuple) -> object:
    return options[zlib.crc32(name.encode()) % len(options)]


def _slot(variant: str) -> int:
    return _slots.get(variant, zlib.crc32(variant.encode()))


def assign_variants(variants: Iterable[str]) -> None:
    """Give each non-default variant name of a report its own style slot.

    Each name takes the slot its hash prefers, or the next free one, in
    sorted order: the result depends only on the set of names, so every
    figure of a report agrees, and no two variants share a dash pattern
    while there are no more names than patterns.
    """
    _slots.clear()
    taken: set[int] = set()
    for name in sorted(set(variants)):
        slot = zlib.crc32(name.encode()) % len(_DASHES)
        for step in range(len(_DASHES)):
            if (slot + step) % len(_DASHES) not in taken:
                slot = (slot + step) % len(_DASHES)
                break
        taken.add(slot)
        _slots[name] = slot


def backend_colour(backend: str) -> str:
    """The colour of ``backend`` in every figure."""
    return _BACKEND_COLOURS.get(backend) or str(_pick(backend, _SPARE_COLOURS))


def variant_linestyle(variant: str, default: bool) -> object:
    """The line style of ``variant``: solid for a default variant, else a dash pattern."""
    return "-" if default else _DASHES[_slot(variant) % len(_DASHES)]


def variant_marker(variant: str, default: bool) -> str:
    """The marker of ``variant`` (circles for a default variant)."""
    return "o" if default else _MARKERS[1 + _slot(variant) % (len(_MARKERS) - 1)]


def variant_hatch(variant: str, default: bool) -> str:
    """The bar hatch of ``variant``: none for a default variant, else a pattern from its name."""
    return "" if default else _HATCHES[_slot(variant) % len(_HATCHES)]


def label(backend: str, variant: str) -> str:
    """How an implementation is named in figures and tables."""
    return f"{backend}/{variant}"


def setup() -> None:
    """Matplotlib settings for slides: large type, light grid, no clutter."""
    plt.rcParams.update({
        "figure.dpi": 100,
        "savefig.dpi": 100,
        "font.size": 12,
        "axes.titlesize": 14,
        "axes.titleweight": "bold",
        "axes.labelsize": 12,
        "legend.fontsize": 11,
        "xtick.labelsize": 11,
        "ytick.labelsize": 11,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "lines.linewidth": 2.0,
        "lines.markersize": 4,
    })

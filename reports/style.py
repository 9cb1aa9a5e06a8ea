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

import weakref
import zlib
from collections.abc import Iterable
from functools import partial

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import FixedFormatter, Formatter, FuncFormatter

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


#: The tick formatters :func:`literal` made (it never wraps one twice).
_ESCAPED: weakref.WeakSet[Formatter] = weakref.WeakSet()


def literal(fig: Figure) -> Figure:
    """Draw every text of ``fig`` as written, never as mathtext; return ``fig``.

    Names come from run files, and matplotlib reads a text with two ``$`` as
    mathtext: ``$\\frac{a}{b}$`` would be typeset, and ``$\\nosuch{$`` would
    fail the render.  Titles, labels, legends and annotations are set not to
    parse math; tick labels given as names (a fixed list or a function, as
    ``set_xticks(ticks, labels)`` makes) have their ``$`` escaped, since tick
    texts are made anew when drawn, and matplotlib's own number formatters
    keep the mathtext they use for powers of ten.
    Call it once the figure is built, before it is laid out or drawn, and
    again before saving (for what was added since); a second call changes
    nothing already done.
    """
    texts = fig.findobj(Text)  # first: listing an axis's children makes its ticks
    ticks = {id(label) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)
             for tick in (*axis.majorTicks, *axis.minorTicks)
             for label in (tick.label1, tick.label2)}
    for text in texts:
        if id(text) not in ticks:
            text.set_parse_math(False)
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for major in (True, False):
                formatter = axis.get_major_formatter() if major else axis.get_minor_formatter()
                if (isinstance(formatter, (FixedFormatter, FuncFormatter))
                        and formatter not in _ESCAPED):
                    escaped = FuncFormatter(partial(_escaped_dollars, formatter))
                    _ESCAPED.add(escaped)
                    (axis.set_major_formatter if major else axis.set_minor_formatter)(escaped)
    return fig


def _escaped_dollars(formatter: Formatter, value: float, pos: int | None = None) -> str:
    """The label ``formatter`` gives, its ``$`` escaped: never the start of mathtext."""
    return str(formatter(value, pos)).replace("$", "\\$")


def setup() -> None:
    """Matplotlib settings for slides: large type, light grid, no clutter.

    Text is never handed to TeX; see :func:`literal` for mathtext.
    """
    plt.rcParams.update({
        "text.usetex": False,
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

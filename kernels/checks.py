"""Input checks that stand between Python callers and the bare kernel cores.

Array backends (numpy, numba, cython) receive float64 arrays that are
contiguous in a layout the core was written for; anything else is converted
or refused here with an error that names the kernel, the argument, what was
given and what was expected.  The python backend receives lists, and only
their lengths are checked (element types are checked by Python's own
arithmetic).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence, Sized
from typing import Any

import numpy as np

_F64 = np.dtype(np.float64)
# Integer and real floating dtypes are converted to float64; bool, complex,
# object, strings and dates are refused.
_NUMERIC_KINDS = frozenset("iuf")
_NDIM = {"vector": 1, "matrix": 2, "matrix_c": 2}
_EXPECTED = {
    "vector": "a 1-D numeric array",
    "matrix": "a 2-D numeric array",
    "matrix_c": "a 2-D numeric array",
}


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    return f"{type(value).__name__}"


def as_float64(kernel: str, arg: str, value: Any, kind: str) -> np.ndarray:
    """Return ``value`` as a float64 array the compiled cores can read safely.

    Parameters
    ----------
    kernel, arg
        Names used in error messages.
    value
        Anything ``numpy.asarray`` understands.
    kind
        ``"vector"``: 1-D, C-contiguous.  ``"matrix"``: 2-D, C- or
        Fortran-contiguous (the layout is kept, since layout is what the
        row/column benchmarks measure).  ``"matrix_c"``: 2-D, C-contiguous.

    Returns
    -------
    numpy.ndarray
        ``value`` itself when it already fits, else a converted copy.

    Raises
    ------
    TypeError
        When the dtype is not an integer or real floating type.
    ValueError
        When the number of dimensions is wrong or the object is ragged.
    """
    ndim = _NDIM[kind]
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"{kernel}(): argument '{arg}' must be {_EXPECTED[kind]}, "
            f"got a {_describe(value)} that numpy cannot read as one ({exc})"
        ) from None
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(
            f"{kernel}(): argument '{arg}' must have an integer or real floating dtype, "
            f"got {_describe(array)}"
        )
    if array.ndim != ndim:
        raise ValueError(
            f"{kernel}(): argument '{arg}' must be {_EXPECTED[kind]}, "
            f"got {_describe(array)} ({array.ndim}-D)"
        )
    if kind == "matrix" and array.flags.f_contiguous and not array.flags.c_contiguous:
        return np.asfortranarray(array, dtype=_F64)
    return np.ascontiguousarray(array, dtype=_F64)


def float64_converter(kernel: str, arg: str, kind: str) -> Callable[[Any], np.ndarray]:
    """:func:`as_float64` for one argument, with the common case inlined.

    A float64 array already in a usable layout is returned after a few
    attribute reads; anything else goes through :func:`as_float64`.
    """
    ndim = _NDIM[kind]
    any_order = kind == "matrix"

    def convert(value: Any) -> np.ndarray:
        if type(value) is np.ndarray and value.dtype is _F64 and value.ndim == ndim:
            flags = value.flags
            if flags.c_contiguous or (any_order and flags.f_contiguous):
                return value
        return as_float64(kernel, arg, value, kind)

    return convert


def same_length(kernel: str, names: tuple[str, str], a: Sized, b: Sized) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same length."""
    if len(a) != len(b):
        raise ValueError(
            f"{kernel}(): arguments '{names[0]}' and '{names[1]}' must have the same length, "
            f"got {len(a)} and {len(b)}"
        )


def inner_dims_match(kernel: str, names: tuple[str, str], a_cols: int, b_rows: int) -> None:
    """Raise ``ValueError`` unless the inner dimensions of a product agree."""
    if a_cols != b_rows:
        raise ValueError(
            f"{kernel}(): inner dimensions differ: '{names[0]}' has {a_cols} columns "
            f"but '{names[1]}' has {b_rows} rows; expected equal"
        )



def as_sequence(kernel: str, arg: str, value: Any) -> Sequence[Any]:
    """Check that ``value`` is a sequence with a length (python backend)."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise TypeError(
            f"{kernel}(): argument '{arg}' must be a list of numbers, got {_describe(value)}"
        )
    return value


def as_rows(kernel: str, arg: str, value: Any) -> Sequence[Any]:
    """Check a list of equal-length rows (python backend) and return it."""
    rows = as_sequence(kernel, arg, value)
    width = None
    for i, row in enumerate(rows):
        if isinstance(row, (str, bytes)) or not hasattr(row, "__len__"):
            raise TypeError(
                f"{kernel}(): argument '{arg}' must be a list of rows, "
                f"got {_describe(row)} as row {i}"
            )
        if width is None:
            width = len(row)
        elif len(row) != width:
            raise ValueError(
                f"{kernel}(): argument '{arg}' must have rows of equal length, "
                f"got row 0 of length {width} and row {i} of length {len(row)}"
            )
    return rows

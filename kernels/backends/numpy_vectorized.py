"""NumPy: the idiomatic vectorized form a NumPy user writes.

Each line is one or a few calls into NumPy's compiled loops; ``x * x + y * y``
allocates temporaries, which is part of what this backend shows.  ``matmul``
goes through ``@``, i.e. the BLAS NumPy was built with.

``in_place`` is the same arithmetic written to allocate less: ``out=``
arguments and in-place operations, and ``einsum`` for the sums of products,
which reduces without materialising ``x * x``.  Set beside ``vectorized`` and
a fused compiled loop, it shows how much of NumPy's loss is allocation (and
the extra passes over memory that come with it).  Row and column sums and
``@`` allocate nothing but their result, so they have no such variant.
"""

from __future__ import annotations

import numpy as np

INPUTS = "arrays"


def magnitude(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.sqrt(x * x + y * y)


def sum_of_squares(x: np.ndarray) -> float:
    return float(np.sum(x * x))


def sum_sq_sin(x: np.ndarray) -> float:
    return float(np.sum(x * x + np.sin(x)))


def row_sums(A: np.ndarray) -> np.ndarray:
    return A.sum(axis=1)


def col_sums(A: np.ndarray) -> np.ndarray:
    return A.sum(axis=0)


def matmul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    return A @ B


def magnitude_in_place(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    out = np.multiply(x, x)
    np.add(out, np.multiply(y, y), out=out)  # one temporary: y * y
    return np.sqrt(out, out=out)


def sum_of_squares_in_place(x: np.ndarray) -> float:
    return float(np.einsum("i,i->", x, x))


def sum_sq_sin_in_place(x: np.ndarray) -> float:
    return float(np.einsum("i,i->", x, x) + np.sin(x).sum())  # one temporary: sin(x)


def empty(x: np.ndarray) -> np.ndarray:
    """The cheapest NumPy call a kernel makes: one ufunc on a small array."""
    return np.positive(x)


CORES = {
    "magnitude": {"vectorized": magnitude, "in_place": magnitude_in_place},
    "sum_of_squares": {"vectorized": sum_of_squares, "in_place": sum_of_squares_in_place},
    "row_sums": {"vectorized": row_sums},
    "col_sums": {"vectorized": col_sums},
    "matmul": {"blas": matmul},
    "sum_sq_sin": {"vectorized": sum_sq_sin, "in_place": sum_sq_sin_in_place},
}

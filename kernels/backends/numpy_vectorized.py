"""NumPy: the idiomatic vectorized form a NumPy user writes.

Each line is one or a few calls into NumPy's compiled loops; ``x * x + y * y``
allocates temporaries, which is part of what this backend shows.  ``matmul``
goes through ``@``, i.e. the BLAS NumPy was built with.
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


CORES = {
    "magnitude": {"vectorized": magnitude},
    "sum_of_squares": {"vectorized": sum_of_squares},
    "row_sums": {"vectorized": row_sums},
    "col_sums": {"vectorized": col_sums},
    "matmul": {"blas": matmul},
    "sum_sq_sin": {"vectorized": sum_sq_sin},
}

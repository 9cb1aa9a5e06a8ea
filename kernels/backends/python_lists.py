"""Pure Python: lists of floats and the ``math`` module.

Written as a careful Python programmer writes it (comprehensions, ``zip``,
built-in ``sum``, local names for hot globals).  Inputs arrive as lists: the
array-to-list conversion is input preparation and is never timed.
"""

from __future__ import annotations

import math

INPUTS = "lists"


def magnitude(x: list[float], y: list[float]) -> list[float]:
    sqrt = math.sqrt
    return [sqrt(a * a + b * b) for a, b in zip(x, y, strict=True)]


def sum_of_squares(x: list[float]) -> float:
    return sum([v * v for v in x], 0.0)


def sum_sq_sin(x: list[float]) -> float:
    sin = math.sin
    return sum([v * v + sin(v) for v in x], 0.0)


def row_sums_row_at_a_time(A: list[list[float]]) -> list[float]:
    return [sum(row, 0.0) for row in A]


def row_sums_column_streaming(A: list[list[float]]) -> list[float]:
    # Walk the columns in the outer loop, adding each into every row's total.
    out = [0.0] * len(A)
    if not A:
        return out
    for j in range(len(A[0])):
        for i, row in enumerate(A):
            out[i] += row[j]
    return out


def col_sums_column_at_a_time(A: list[list[float]]) -> list[float]:
    return [sum(col, 0.0) for col in zip(*A, strict=True)]


def col_sums_row_streaming(A: list[list[float]]) -> list[float]:
    if not A:
        return []
    out = [0.0] * len(A[0])
    for row in A:
        for j, v in enumerate(row):
            out[j] += v
    return out


def matmul_naive_ijk(A: list[list[float]], B: list[list[float]]) -> list[list[float]]:
    n, k = len(A), len(B)
    m = len(B[0]) if B else 0
    C = [[0.0] * m for _ in range(n)]
    for i in range(n):
        for j in range(m):
            s = 0.0
            for p in range(k):
                s += A[i][p] * B[p][j]
            C[i][j] = s
    return C


def matmul_ikj(A: list[list[float]], B: list[list[float]]) -> list[list[float]]:
    m = len(B[0]) if B else 0
    C = []
    for a_row in A:
        c_row = [0.0] * m
        for a, b_row in zip(a_row, B, strict=True):
            for j, b in enumerate(b_row):
                c_row[j] += a * b
        C.append(c_row)
    return C


def empty(x: list[float]) -> float:
    """A call that does nothing: the per-call cost of a Python function."""
    return 0.0


CORES = {
    "magnitude": {"loop": magnitude},
    "sum_of_squares": {"loop": sum_of_squares},
    "row_sums": {
        "row_at_a_time": row_sums_row_at_a_time,
        "column_streaming": row_sums_column_streaming,
    },
    "col_sums": {
        "column_at_a_time": col_sums_column_at_a_time,
        "row_streaming": col_sums_row_streaming,
    },
    "matmul": {"naive_ijk": matmul_naive_ijk, "ikj": matmul_ikj},
    "sum_sq_sin": {"loop": sum_sq_sin},
}

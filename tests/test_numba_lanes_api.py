"""numba_lanes: documented APIs only, and every read path in lane order, bit for bit.

The intrinsic reads the array through its address and stride (no Numba
internals), so these tests cover what the kernels' inputs do not: views
with any stride (negative too), sub-ranges, and the buffered path
(``make(calls=True)``) on strided views and across block boundaries.
"""

from __future__ import annotations

import ast
import inspect
import re

import numpy as np
import pytest
from numba.core.errors import TypingError
from test_sum_order import lane_order_sum

from kernels.backends import numba_lanes
from kernels.backends.numba_lanes import BLOCK, LANES, make, range_sum, square

#: What the module may import from numba and llvmlite: the documented extension API.
ALLOWED_IMPORTS = {"numba", "numba.types", "numba.extending.intrinsic", "llvmlite.ir"}


def _tree() -> ast.Module:
    return ast.parse(inspect.getsource(numba_lanes))


def test_imports_only_documented_numba_and_llvmlite():
    imported = set()
    for node in ast.walk(_tree()):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
    ours = {name for name in imported if name.split(".")[0] in ("numba", "llvmlite")}
    assert ours <= ALLOWED_IMPORTS, ours - ALLOWED_IMPORTS


def test_codegen_asks_the_context_for_value_types_only():
    # context.make_array, context.cast and the like are Numba internals.
    used = {node.attr for node in ast.walk(_tree())
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id == "context"}
    assert used == {"get_value_type"}


def _views() -> dict[str, np.ndarray]:
    x = np.random.default_rng(11).standard_normal(3 * BLOCK + 77)
    C = np.random.default_rng(12).standard_normal((2 * LANES + 5, 9))
    return {
        "contiguous": x,
        "step 2": x[::2],
        "step 3": x[1::3],
        "reversed": x[::-1],
        "step -2": x[::-2],
        "column of C": C[:, 4],
        "row of F": np.asfortranarray(C.T)[4],
    }


def _ranges(n: int, *more: tuple[int, int]) -> list[tuple[int, int]]:
    """Sub-ranges of a view of n elements: whole lanes or not, from any start."""
    ranges = [(0, n), (5, n), (3, n - 7), (LANES - 1, 3 * LANES + 2), (2, 2), (0, LANES - 1),
              *more]
    return [(lo, hi) for lo, hi in ranges if 0 <= lo <= hi <= n]


@pytest.mark.parametrize("name", list(_views()))
def test_any_view_sums_in_lane_order(name):
    v = _views()[name]
    for lo, hi in _ranges(v.shape[0]):
        part = v[lo:hi]
        assert numba_lanes.sum_range(v, lo, hi) == lane_order_sum(part), (lo, hi)
        assert numba_lanes.sum_squares_range(v, lo, hi) == lane_order_sum(part * part), (lo, hi)


@pytest.fixture(scope="module")
def buffered_squares():
    """sum_squares_range through the buffered path, as the sin loops use it."""
    return range_sum(make(square, calls=True), numba_lanes._square)


@pytest.mark.parametrize("name", list(_views()))
def test_the_buffered_path_sums_in_lane_order(name, buffered_squares):
    v = _views()[name]
    n = v.shape[0]
    for lo, hi in _ranges(n, (1, BLOCK + LANES + 1), (BLOCK - 3, n)):
        part = v[lo:hi]
        assert buffered_squares(v, lo, hi) == lane_order_sum(part * part), (lo, hi)


def test_the_block_buffer_is_aligned_to_64_bytes(buffered_squares):
    buffered_squares(np.ones(100), 0, 100)
    ir_text = buffered_squares.inspect_llvm(buffered_squares.signatures[0])
    assert re.search(rf"alloca \[{BLOCK // 8} x <8 x double>\], align 64", ir_text), (
        "the buffer of the calls=True path lost its 64-byte alignment")


@pytest.mark.parametrize("x", [np.ones(40, dtype=np.float32), np.ones((4, 40)),
                               np.ones(40, dtype=np.int64)], ids=["float32", "2-D", "int64"])
def test_other_arrays_are_a_typing_error(x):
    with pytest.raises(TypingError):
        numba_lanes.sum_range(x, 0, 40)

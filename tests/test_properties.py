"""Property tests: any shape, stride, layout and numeric dtype gives the float64 answer."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import kernels

ARRAY_IMPLS = [i for i in kernels.implementations() if i.inputs == "arrays"]
LIST_IMPLS = [i for i in kernels.implementations() if i.inputs == "lists"]
DTYPES = ["float64", "float32", ">f8", "int64", "int32", "uint8", "float16"]
# How the logical values are laid out in memory; every view holds the same values.
LAYOUTS = ["C", "F", "strided", "reversed", "transposed"]

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _elements(dtype: np.dtype) -> st.SearchStrategy:
    if dtype.kind == "f":
        bound = 100.0 if dtype.itemsize == 2 else 1e3
        return st.floats(-bound, bound, width=8 * min(dtype.itemsize, 8))
    info = np.iinfo(dtype)
    return st.integers(max(info.min, -1000), min(info.max, 1000))


def _shapes(draw, spec) -> list[tuple[int, ...]]:
    dim = st.integers(0, 12)
    if spec.relation == "same_length":
        n = draw(st.integers(0, 40))
        return [(n,), (n,)]
    if spec.relation == "inner_dims":
        n, k, m = draw(dim), draw(dim), draw(dim)
        return [(n, k), (k, m)]
    return [(draw(st.integers(0, 40)),) if p.kind == "vector" else (draw(dim), draw(dim))
            for p in spec.params]


def _laid_out(a: np.ndarray, layout: str) -> np.ndarray:
    if layout == "C":
        return np.ascontiguousarray(a)
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided":
        big = np.zeros(tuple(2 * s + 1 for s in a.shape), dtype=a.dtype)
        view = big[tuple(slice(1, None, 2) for _ in a.shape)]
        view[...] = a
        return view
    if layout == "reversed":
        flip = tuple(slice(None, None, -1) for _ in a.shape)
        return np.ascontiguousarray(a[flip])[flip]
    if layout == "transposed":
        return np.ascontiguousarray(a.T).T
    raise AssertionError(layout)


@st.composite
def kernel_inputs(draw, spec):
    """(arguments as laid out in memory, the same values as float64)."""
    args, logical = [], []
    for shape in _shapes(draw, spec):
        dtype = np.dtype(draw(st.sampled_from(DTYPES)))
        a = draw(hnp.arrays(dtype, shape, elements=_elements(dtype)))
        args.append(_laid_out(a, draw(st.sampled_from(LAYOUTS))))
        logical.append(a.astype(np.float64))
    return tuple(args), tuple(logical)


@pytest.mark.parametrize("impl", ARRAY_IMPLS, ids=lambda i: f"{i.kernel}-{i.label}")
@SETTINGS
@given(data=st.data())
def test_any_layout_and_dtype_gives_the_float64_result(impl, data):
    args, logical = data.draw(kernel_inputs(impl.spec))
    result = impl.func(*args)
    assert np.asarray(result).dtype == np.float64
    problem = impl.spec.mismatch(result, logical)
    assert problem is None, problem


@pytest.mark.parametrize("impl", ARRAY_IMPLS, ids=lambda i: f"{i.kernel}-{i.label}")
@SETTINGS
@given(data=st.data())
def test_inputs_are_never_modified(impl, data):
    args, _ = data.draw(kernel_inputs(impl.spec))
    before = [a.copy() for a in args]
    impl.func(*args)
    for a, b in zip(args, before, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("impl", LIST_IMPLS, ids=lambda i: f"{i.kernel}-{i.label}")
@SETTINGS
@given(data=st.data())
def test_python_backend_on_lists(impl, data):
    _, logical = data.draw(kernel_inputs(impl.spec))
    # A list of rows cannot say how many columns a matrix with no rows has.
    if any(a.ndim == 2 and a.shape[0] == 0 and a.shape[1] > 0 for a in logical):
        return
    if impl.kernel == "matmul" and logical[1].shape[0] == 0:
        return  # B == []: the column count of the product is lost the same way
    result = impl.func(*(a.tolist() for a in logical))
    problem = impl.spec.mismatch(result, logical)
    assert problem is None, problem


ODD_VECTORS = {
    "broadcast (zero stride)": lambda: np.broadcast_to(np.float64(1.5), (7,)),
    "read-only": lambda: _read_only(np.arange(7.0)),
    "big-endian": lambda: np.arange(7.0).astype(">f8"),
    "huge stride": lambda: np.zeros(7 * 4096)[::4096] + 2.0,
    "python list": lambda: [1.0, 2, 3.5],
    "integer list": lambda: [1, 2, 3],
    "masked array": lambda: np.ma.masked_array(np.arange(4.0), mask=[0, 1, 0, 0]),
    "float32": lambda: np.linspace(-1, 1, 9, dtype=np.float32),
    "uint64 near 2**63": lambda: np.array([2**63, 1], dtype=np.uint64),
}


def _read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@pytest.mark.parametrize("case", list(ODD_VECTORS))
@pytest.mark.parametrize("backend", ["numpy", "numba", "cython"])
@pytest.mark.parametrize("kernel", ["sum_of_squares", "sum_sq_sin"])
def test_odd_vectors(kernel, backend, case):
    x = ODD_VECTORS[case]()
    expected = np.asarray(x, dtype=np.float64)
    result = kernels.get(kernel, backend)(x)
    assert kernels.spec(kernel).mismatch(result, (expected,)) is None


ODD_MATRICES = {
    "broadcast rows": lambda: np.broadcast_to(np.arange(5.0), (4, 5)),
    "read-only F": lambda: _read_only(np.asfortranarray(np.arange(20.0).reshape(4, 5))),
    "np.matrix": lambda: np.asmatrix(np.arange(20.0).reshape(4, 5)),
    "column slice": lambda: np.arange(40.0).reshape(4, 10)[:, 3:8],
    "nested list": lambda: [[1.0, 2.0, 3.0, 4.0, 5.0]] * 4,
    "int16": lambda: np.arange(20, dtype=np.int16).reshape(4, 5),
}


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
@pytest.mark.parametrize("case", list(ODD_MATRICES))
@pytest.mark.parametrize("impl", [i for i in ARRAY_IMPLS if i.kernel in ("row_sums", "col_sums")],
                         ids=lambda i: f"{i.kernel}-{i.label}")
def test_odd_matrices(impl, case):
    A = ODD_MATRICES[case]()
    expected = np.asarray(A, dtype=np.float64)
    assert impl.spec.mismatch(impl.func(A), (expected,)) is None

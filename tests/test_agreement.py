"""Every kernel x backend x variant agrees with the reference.

Sizes 0, 1, 2, odd and large, in every layout the kernel takes.
"""

from __future__ import annotations

import pytest

import kernels

# "large" is bounded by the python backend's O(n^3) matmul (n=96 is ~1.8M
# multiply-adds, about a second); the compiled backends also run a big one.
SIZES = {"vector": (0, 1, 2, 7, 131_071), "matrix": (0, 1, 2, 7, 96)}
BIG_MATRIX = 301


def _cases():
    for impl in kernels.implementations():
        spec = impl.spec
        kind = "vector" if spec.params[0].kind == "vector" else "matrix"
        sizes = SIZES[kind]
        if kind == "matrix" and impl.backend != "python":
            sizes = (*sizes, BIG_MATRIX)
        for layout in spec.layouts:
            for n in sizes:
                yield pytest.param(impl, n, layout, id=f"{impl.kernel}-{impl.label}-{n}-{layout}")


@pytest.mark.parametrize(("impl", "n", "layout"), list(_cases()))
def test_agrees_with_reference(impl, n, layout):
    inputs = impl.spec.inputs(n, layout)
    result = impl.func(*impl.prepare(inputs))
    problem = impl.spec.mismatch(result, inputs)
    assert problem is None, f"{impl.kernel} {impl.label} n={n} {layout}: {problem}"


@pytest.mark.parametrize("backend", ["numpy", "numba", "cython"])
def test_results_are_float64_of_the_right_type(backend):
    x = kernels.spec("magnitude").inputs(5)
    out = kernels.get("magnitude", backend)(*x)
    assert out.dtype.name == "float64" and out.shape == (5,)
    assert isinstance(kernels.get("sum_of_squares", backend)(x[0]), float)
    assert isinstance(kernels.get("sum_sq_sin", backend)(x[0]), float)


@pytest.mark.parametrize("impl", [i for i in kernels.implementations() if i.inputs == "arrays"],
                         ids=lambda i: f"{i.kernel}-{i.label}")
def test_empty_inputs_give_the_mathematical_answer(impl):
    import numpy as np

    kernel = impl.kernel
    f = impl.func
    if kernel == "magnitude":
        out = f(np.empty(0), np.empty(0))
        assert out.shape == (0,)
    elif kernel in ("sum_of_squares", "sum_sq_sin"):
        assert f(np.empty(0)) == 0.0
    elif kernel == "row_sums":
        assert f(np.empty((0, 4))).shape == (0,)
        np.testing.assert_array_equal(f(np.empty((3, 0))), np.zeros(3))
    elif kernel == "col_sums":
        np.testing.assert_array_equal(f(np.empty((0, 4))), np.zeros(4))
        assert f(np.empty((3, 0))).shape == (0,)
    elif kernel == "matmul":
        np.testing.assert_array_equal(f(np.empty((2, 0)), np.empty((0, 3))), np.zeros((2, 3)))
        assert f(np.empty((0, 3)), np.ones((3, 2))).shape == (0, 2)
        assert f(np.ones((2, 3)), np.empty((3, 0))).shape == (2, 0)
    else:
        pytest.fail(f"no empty-input case written for {kernel}")

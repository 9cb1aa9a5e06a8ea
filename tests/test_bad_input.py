"""Bad input: TypeError or ValueError naming the argument, what it got and what was expected."""

from __future__ import annotations

import numpy as np
import pytest

import kernels

ARRAY_IMPLS = [i for i in kernels.implementations() if i.inputs == "arrays"]
IDS = lambda i: f"{i.kernel}-{i.label}"  # noqa: E731


def _good_args(impl, n=4):
    return list(impl.spec.inputs(n))


def _wrong_ndim(kind):
    return np.ones((3, 3)) if kind == "vector" else np.ones(3)


@pytest.mark.parametrize("impl", ARRAY_IMPLS, ids=IDS)
def test_wrong_number_of_dimensions(impl):
    for i, param in enumerate(impl.spec.params):
        args = _good_args(impl)
        args[i] = _wrong_ndim(param.kind)
        with pytest.raises(ValueError) as info:
            impl.func(*args)
        message = str(info.value)
        assert f"'{param.name}'" in message
        assert str(args[i].shape) in message
        assert ("1-D" if param.kind == "vector" else "2-D") in message
        assert message.startswith(f"{impl.kernel}()")


BAD_DTYPES = {
    "strings": lambda shape: np.full(shape, "a"),
    "objects": lambda shape: np.full(shape, None, dtype=object),
    "complex": lambda shape: np.ones(shape, dtype=complex),
    "bool": lambda shape: np.ones(shape, dtype=bool),
    "datetime": lambda shape: np.zeros(shape, dtype="datetime64[s]"),
}


@pytest.mark.parametrize("dtype", list(BAD_DTYPES))
@pytest.mark.parametrize("impl", ARRAY_IMPLS, ids=IDS)
def test_non_numeric_dtype(impl, dtype):
    for i, param in enumerate(impl.spec.params):
        args = _good_args(impl)
        args[i] = BAD_DTYPES[dtype](args[i].shape)
        with pytest.raises(TypeError) as info:
            impl.func(*args)
        message = str(info.value)
        assert f"'{param.name}'" in message
        assert str(args[i].dtype) in message
        assert "integer or real floating" in message


@pytest.mark.parametrize("impl", ARRAY_IMPLS, ids=IDS)
def test_not_an_array(impl):
    for i, param in enumerate(impl.spec.params):
        args = _good_args(impl)
        args[i] = None
        with pytest.raises(TypeError, match=f"'{param.name}'"):
            impl.func(*args)
        args[i] = [[1.0, 2.0], [3.0]] if param.kind != "vector" else [1.0, [2.0, 3.0]]
        with pytest.raises(ValueError, match=f"'{param.name}'.*cannot read"):
            impl.func(*args)
        args[i] = np.float64(2.0)
        with pytest.raises(ValueError, match=f"'{param.name}'.*0-D"):
            impl.func(*args)


@pytest.mark.parametrize("impl", ARRAY_IMPLS, ids=IDS)
def test_wrong_number_of_arguments(impl):
    args = _good_args(impl)
    with pytest.raises(TypeError, match=rf"{impl.kernel}\(\) takes {len(args)} argument"):
        impl.func(*args, args[0])
    with pytest.raises(TypeError, match=rf"{impl.kernel}\(\) takes"):
        impl.func()


@pytest.mark.parametrize("backend", ["numpy", "numba", "cython", "python"])
def test_mismatched_lengths(backend):
    x, y = np.ones(3), np.ones(4)
    if backend == "python":
        x, y = x.tolist(), y.tolist()
    with pytest.raises(ValueError, match=r"'x' and 'y' must have the same length, got 3 and 4"):
        kernels.get("magnitude", backend)(x, y)


@pytest.mark.parametrize("variant", ["naive_ijk", "ikj"])
@pytest.mark.parametrize("backend", ["numpy", "numba", "cython", "python"])
def test_mismatched_inner_dimensions(backend, variant):
    if backend == "numpy":
        variant = None
    A, B = np.ones((2, 3)), np.ones((4, 2))
    if backend == "python":
        A, B = A.tolist(), B.tolist()
    with pytest.raises(ValueError, match=r"'A' has 3 columns but 'B' has 4 rows"):
        kernels.get("matmul", backend, variant)(A, B)


@pytest.mark.parametrize("impl", [i for i in kernels.implementations() if i.inputs == "lists"],
                         ids=IDS)
def test_python_backend_checks_its_lists(impl):
    for i, param in enumerate(impl.spec.params):
        args = [a.tolist() for a in _good_args(impl)]
        args[i] = 5
        with pytest.raises(TypeError, match=f"'{param.name}'.*got int"):
            impl.func(*args)
        args[i] = "abc"
        with pytest.raises(TypeError, match=f"'{param.name}'"):
            impl.func(*args)
        if param.kind != "vector":
            args[i] = [[1.0, 2.0, 3.0, 4.0]] * 3 + [[1.0]]
            with pytest.raises(ValueError, match=f"'{param.name}' must have rows of equal length"):
                impl.func(*args)
            args[i] = [1.0, 2.0, 3.0, 4.0]
            with pytest.raises(TypeError, match=f"'{param.name}' must be a list of rows"):
                impl.func(*args)

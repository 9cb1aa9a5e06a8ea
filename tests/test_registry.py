"""The registry: complete, lazy about broken backends, strict about names."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest

import kernels
from kernels import registry


def test_every_backend_carries_every_kernel_and_loop_variant():
    # The built-in kernels; a registered one may lack backends (test_external.py).
    problems = registry.missing(kernels.KERNELS)
    assert problems == [], "incomplete backends:\n" + "\n".join(problems)


@pytest.mark.parametrize("backend", list(registry.BACKENDS))
def test_every_backend_imports(backend):
    # make test builds every backend; a missing one here is a broken install.
    assert registry.backend_error(backend) is None, registry.backend_error(backend)


def test_completeness_check_names_the_missing_pair(fake_backend):
    cores = {k: {v: None for v in spec.loop_variants} for k, spec in kernels.SPECS.items()}
    del cores["matmul"]
    cores["col_sums"].pop("row_streaming")
    cores["typo_kernel"] = {"loop": None}
    fake_backend("partial", cores)
    problems = registry.missing()
    assert "(matmul, partial): no implementation" in problems
    assert "(col_sums, partial): lacks loop variant 'row_streaming'" in problems
    assert "(typo_kernel, partial): not a kernel of any spec" in problems
    assert all("partial" in p for p in problems), problems


def test_non_loop_backend_needs_only_one_variant(fake_backend):
    fake_backend("vec", {k: {"whatever": None} for k in kernels.SPECS}, loops=False)
    assert registry.missing() == []


def test_unimportable_backend_is_reported_and_skipped(fake_backend):
    fake_backend("ghost", None)
    rows = [r for r in kernels.available() if r.backend == "ghost"]
    assert rows and all(not r.ok for r in rows)
    assert "ModuleNotFoundError" in rows[0].error
    assert {r.variant for r in rows if r.kernel == "matmul"} == {"naive_ijk", "ikj"}
    with pytest.raises(kernels.BackendUnavailable, match="ghost"):
        kernels.get("magnitude", "ghost")
    # the other backends are untouched
    x = np.arange(3.0)
    assert kernels.get("sum_of_squares", "numpy")(x) == 5.0
    assert all(i.backend != "ghost" for i in kernels.implementations())


def test_available_lists_every_implementation():
    rows = kernels.available()
    # Only what a machine or build can lack: OpenMP, libmvec, a CPU feature.
    lacking = [r for r in rows if not r.ok]
    assert all(r.variant in ("parallel", "vector_sin") for r in lacking), lacking
    keys = {(r.kernel, r.backend, r.variant) for r in rows}
    assert keys == {(i.kernel, i.backend, i.variant) for i in kernels.implementations()}
    for kernel in kernels.KERNELS:
        assert {r.backend for r in rows if r.kernel == kernel} == set(registry.BACKENDS)


def test_default_variant_is_the_first():
    for kernel, spec in kernels.SPECS.items():
        for backend in ("python", "numba", "cython"):
            assert kernels.variants(kernel, backend)[0] == spec.loop_variants[0]
            impl = kernels.implementation(kernel, backend)
            assert impl.default and impl.variant == spec.loop_variants[0]
            assert kernels.get(kernel, backend) is impl.func


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("nope", "numpy"), "unknown kernel 'nope'; known: magnitude"),
        (("magnitude", "fortran"), "unknown backend 'fortran'; known: python, numpy"),
        (("matmul", "numba", "strassen"),
         "no variant 'strassen' in backend 'numba'; known: naive_ijk, ikj, parallel, blocked"),
    ],
)
def test_unknown_names_raise_key_error_listing_known(args, match):
    with pytest.raises(KeyError, match=match):
        kernels.get(*args)


def test_public_callable_has_kernel_signature_and_bare_core():
    f = kernels.get("magnitude", "cython")
    assert f.__name__ == "magnitude"
    assert list(inspect.signature(f).parameters) == ["x", "y"]
    assert f.core is kernels.implementation("magnitude", "cython").core
    assert f.core is not f


def test_python_backend_takes_lists_prepared_outside_the_kernel():
    impl = kernels.implementation("row_sums", "python")
    (A,) = impl.prepare(kernels.spec("row_sums").inputs(3))
    assert isinstance(A, list) and all(type(v) is float for row in A for v in row)
    numpy_impl = kernels.implementation("row_sums", "numpy")
    inputs = kernels.spec("row_sums").inputs(3)
    assert numpy_impl.prepare(inputs) is inputs


def test_build_info_records_compile_flags_and_jit_options():
    info = kernels.build_info()
    assert "-O3" in info["cython"]["cflags"].split()
    assert "-ffp-contract=off" in info["cython"]["cflags"].split()
    assert info["cython"]["cython"][0].isdigit()
    assert "fastmath=False" in info["numba"]["jit_options"]


def _tripled():
    return kernels.KernelSpec(
        name="tripled", summary="3 x_i", params=(kernels.Param("x", "vector"),),
        make_inputs=lambda n, rng, layout: (rng.standard_normal(n),),
        reference=lambda x: 3.0 * x, bytes_moved=lambda n: 16 * n, flops=lambda n: n,
        sizes=(1, 10), loop_variants=("loop", "fast"))


def test_a_registered_kernel_is_looked_up_and_checked_like_a_builtin():
    def numpy_core(x):
        return 3.0 * x

    cores = {("numpy", "v"): numpy_core, ("numpy", "w"): lambda x: x * 3.0,
             ("python", "loop"): lambda x: [3.0 * v for v in x]}
    with kernels.registered(_tripled(), cores) as spec:
        assert kernels.spec("tripled") is spec
        assert kernels.variants("tripled", "numpy") == ("v", "w")
        impl = kernels.implementation("tripled", "numpy")
        assert impl.default and impl.variant == "v" and impl.core is numpy_core
        assert impl.func.__name__ == "tripled" and impl.func.core is numpy_core
        assert list(inspect.signature(impl.func).parameters) == ["x"]
        assert kernels.get("tripled", "numpy")(np.arange(3)).tolist() == [0.0, 3.0, 6.0]
        with pytest.raises(TypeError, match="tripled"):
            kernels.get("tripled", "numpy")()
        py = kernels.implementation("tripled", "python")
        assert py.inputs == "lists" and py.func([1.0, 2.0]) == [3.0, 6.0]
        assert {(i.backend, i.variant) for i in kernels.implementations()
                if i.kernel == "tripled"} == {("numpy", "v"), ("numpy", "w"), ("python", "loop")}
        assert kernels.lacking("tripled") == {
            "python": "lacks loop variant(s) 'fast'",
            "numba": "no implementation", "cython": "no implementation"}
        problems = registry.missing()
        assert "(tripled, numba): no implementation" in problems
        assert "(tripled, python): lacks loop variant 'fast'" in problems
        assert registry.missing(kernels.KERNELS) == []
        assert "tripled" not in kernels.KERNELS  # the built-in kernels only
        with pytest.raises(KeyError, match="no implementation of 'tripled'"):
            kernels.get("tripled", "numba")
    assert "tripled" not in kernels.SPECS
    assert all(i.kernel != "tripled" for i in kernels.implementations())
    assert registry.missing(kernels.KERNELS) == registry.missing()


def test_register_refuses_clashes_and_unknown_backends():
    with pytest.raises(ValueError, match="'magnitude' is already registered"):
        registry.register(dataclasses.replace(_tripled(), name="magnitude"), {})
    with pytest.raises(ValueError, match="unknown backend 'fortran'"):
        registry.register(_tripled(), {("fortran", "loop"): abs})
    with pytest.raises(ValueError, match="not callable"):
        registry.register(_tripled(), {("numpy", "v"): 3})
    assert "tripled" not in kernels.SPECS
    with pytest.raises(ValueError, match="built-in"):
        registry.unregister("matmul")
    with pytest.raises(KeyError, match="unknown kernel 'tripled'"):
        registry.unregister("tripled")

"""The registry: complete, lazy about broken backends, strict about names."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import kernels
from kernels import registry


def test_every_backend_carries_every_kernel_and_loop_variant():
    problems = registry.missing()
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

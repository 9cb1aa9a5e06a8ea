"""Specs: seeded inputs, layouts, work model and the agreement check itself."""

from __future__ import annotations

import numpy as np
import pytest

import kernels
from kernels import specs
from kernels.specs import geometric_sizes


@pytest.mark.parametrize("kernel", kernels.KERNELS)
def test_inputs_are_seeded_float64_and_same_in_every_layout(kernel):
    spec = kernels.spec(kernel)
    first = spec.inputs(9)
    again = spec.inputs(9)
    other_seed = spec.inputs(9, seed=1)
    for a, b, c in zip(first, again, other_seed, strict=True):
        assert a.dtype == np.float64
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
    for layout in spec.layouts:
        for a, b in zip(first, spec.inputs(9, layout), strict=True):
            np.testing.assert_array_equal(a, b)
            assert b.flags.f_contiguous if layout == "F" else b.flags.c_contiguous
    with pytest.raises(ValueError, match="layout"):
        spec.inputs(9, "K")


@pytest.mark.parametrize("kernel", kernels.KERNELS)
def test_work_model_and_ladder(kernel):
    spec = kernels.spec(kernel)
    assert list(spec.sizes) == sorted(set(spec.sizes))
    for n in (1, 10, 1000):
        assert spec.bytes_moved(n) >= 8 * n
        assert spec.flops(n) >= n
    assert spec.bytes_moved(2000) > spec.bytes_moved(1000)


def test_work_model_values():
    assert kernels.spec("matmul").flops(100) == 2 * 100**3
    assert kernels.spec("magnitude").bytes_moved(10) == 240
    assert kernels.spec("sum_of_squares").bytes_moved(10) == 80


def test_geometric_sizes():
    assert geometric_sizes(1, 16, per_octave=1) == (1, 2, 4, 8, 16)
    sizes = geometric_sizes(4, 2048, per_octave=2)
    assert sizes[0] == 4 and sizes[-1] == 2048 and 1448 in sizes
    assert kernels.spec("magnitude").sizes[-1] >= 2**24
    assert kernels.spec("matmul").sizes[-1] >= 2048


@pytest.mark.parametrize("kernel", kernels.KERNELS)
def test_mismatch_catches_a_wrong_result(kernel):
    spec = kernels.spec(kernel)
    inputs = spec.inputs(50)
    good = spec.reference(*inputs)
    assert spec.mismatch(good, inputs) is None
    bad = np.array(good, dtype=float, copy=True)
    bad.flat[0] += 1e-6 * max(1.0, abs(bad.flat[0]))
    assert "off" in spec.mismatch(bad, inputs)
    nan = np.array(good, dtype=float, copy=True)
    nan.flat[-1] = np.nan
    assert spec.mismatch(nan, inputs) is not None
    if np.ndim(good):
        assert "shape" in spec.mismatch(np.asarray(good)[:-1], inputs)


def test_mismatch_accepts_any_summation_order():
    spec = kernels.spec("sum_of_squares")
    (x,) = spec.inputs(100_000)
    forward = 0.0
    for v in (x * x).tolist():
        forward += v
    assert spec.mismatch(forward, (x,)) is None
    assert spec.mismatch(float(np.sum(np.sort(x * x)[::-1])), (x,)) is None
    # dropping one term of a hundred thousand is caught
    assert spec.mismatch(forward - float(np.max(x * x)), (x,)) is not None


def _minimal(**fields):
    return kernels.KernelSpec(
        name="halved", params=(kernels.Param("x", "vector"),),
        make_inputs=lambda n, rng, layout: (rng.standard_normal(n),),
        reference=lambda x: x / 2, bytes_moved=lambda n: 16 * n, flops=lambda n: n,
        sizes=(1, 10, 100), **fields)


def test_a_spec_needs_only_seven_fields():
    spec = _minimal()
    assert spec.summary == "" and spec.relation is None and spec.error_scale is None
    assert spec.layouts == ("C",) and spec.loop_variants == ("loop",)
    assert spec.ceiling is None and spec.origin == "vecbench" and dict(spec.ladders) == {}
    assert spec.quoted_size == spec.measured_size == spec.followed_size == 100
    assert spec.facts()["ceiling"] is None
    with pytest.raises(TypeError):  # keywords only
        kernels.KernelSpec("halved", (kernels.Param("x", "vector"),))
    with pytest.raises(TypeError, match="sizes"):
        kernels.KernelSpec(name="halved", params=(), make_inputs=len, reference=len,
                           bytes_moved=len, flops=len)


def test_mismatch_without_error_scale_takes_the_expected_magnitude():
    spec = _minimal()
    inputs = spec.inputs(100)
    expected = spec.reference(*inputs)
    assert spec.mismatch(expected, inputs) is None
    tol = (specs.DEFAULT_TERMS + specs._SLACK_TERMS) * specs.EPS
    assert spec.mismatch(expected * (1 + tol / 2), inputs) is None
    assert "off" in spec.mismatch(expected * (1 + 2 * tol), inputs)
    assert "shape" in spec.mismatch(expected[:-1], inputs)


def test_builtin_specs_keep_their_ceilings():
    assert {k: s.ceiling for k, s in kernels.SPECS.items() if k in kernels.KERNELS} == {
        "magnitude": "stream_add_bandwidth", "sum_of_squares": "read_bandwidth",
        "row_sums": "read_bandwidth", "col_sums": "read_bandwidth",
        "matmul": "matmul_gflops", "sum_sq_sin": "sin_throughput"}
    for spec in kernels.SPECS.values():
        assert spec.ceiling is None or spec.ceiling in specs.CEILINGS
        assert set(spec.ladders) <= set(specs.PROFILES)
        assert {p.kind for p in spec.params} <= set(specs.PARAM_KINDS)


@pytest.mark.parametrize("name", sorted(kernels.KERNELS))
def test_inputs_start_on_a_cache_line_with_the_same_values(name):
    spec = kernels.spec(name)
    for n in (1, 3, 100, 1000):
        for layout in spec.layouts:
            made = spec.make_inputs(n, np.random.default_rng([0, n]), layout)
            for got, plain in zip(spec.inputs(n, layout), made, strict=True):
                assert got.ctypes.data % specs.CACHE_LINE == 0
                assert np.array_equal(got, plain) and got.dtype == plain.dtype
                assert got.flags.c_contiguous == plain.flags.c_contiguous
                assert got.flags.f_contiguous == plain.flags.f_contiguous


def test_cache_line_aligned_copies_only_what_it_must():
    raw = np.zeros(1000 + 16, dtype=np.uint8)
    start = (-raw.ctypes.data) % specs.CACHE_LINE
    aligned = raw[start:start + 800].view(np.float64)
    assert specs.cache_line_aligned(aligned) is aligned
    shifted = raw[start + 16:start + 816].view(np.float64).reshape(10, 10, order="F")
    shifted[...] = np.arange(100.0).reshape(10, 10)
    moved = specs.cache_line_aligned(shifted)
    assert moved.ctypes.data % specs.CACHE_LINE == 0 and moved.flags.f_contiguous
    assert np.array_equal(moved, shifted)
    strided = np.arange(20.0)[::2]
    assert specs.cache_line_aligned(strided) is strided  # not contiguous: as it is
    assert specs.cache_line_aligned([1.0, 2.0]) == [1.0, 2.0]


def test_cache_line_aligned_copy_always_gives_a_new_aligned_array():
    raw = np.zeros(1000 + 16, dtype=np.uint8)
    start = (-raw.ctypes.data) % specs.CACHE_LINE
    aligned = raw[start:start + 800].view(np.float64).reshape(10, 10, order="F")
    aligned[...] = np.arange(100.0).reshape(10, 10)
    fresh = specs.cache_line_aligned(aligned, copy=True)
    assert fresh is not aligned and not np.shares_memory(fresh, aligned)
    assert fresh.ctypes.data % specs.CACHE_LINE == 0 and fresh.flags.f_contiguous
    assert np.array_equal(fresh, aligned)
    strided = np.arange(20.0)[::2]
    copied = specs.cache_line_aligned(strided, copy=True)
    assert copied is not strided and np.array_equal(copied, strided)

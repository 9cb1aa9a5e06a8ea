"""The grid: profiles' sizes from the specs, the size beyond the cache, the selection."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import kernels
from bench import grid
from kernels import registry

FIRST, QUICK, FULL = (grid.PROFILES[p] for p in ("first", "quick", "full"))
MiB = 2**20


@pytest.fixture
def machine(monkeypatch):
    """Set this machine's last-level cache and available memory for the grid."""

    def set_(llc: int | None, available: int | None = 64 * 2**30) -> None:
        monkeypatch.setattr(grid, "last_level_cache", lambda: llc)
        monkeypatch.setattr("bench.state.available_memory", lambda: available)
        monkeypatch.setattr(grid, "_BEYOND", {})

    yield set_
    grid._BEYOND.clear()


# --------------------------------------------------------------------------
# Sizes come from the specs
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(grid.PROFILES))
def test_a_profiles_sizes_are_its_specs_ladder(name, machine):
    machine(32 * MiB)
    profile = grid.PROFILES[name]
    for kernel, spec in kernels.SPECS.items():
        sizes = set(profile.sizes(kernel))
        ladder = set(spec.ladder(name))
        assert ladder <= sizes, (name, kernel)
        extra = sizes - ladder
        if profile.beyond_cache and spec.ceiling in grid.BANDWIDTH_CEILINGS:
            assert extra <= {grid.machine_beyond_cache(spec).size}, (name, kernel, extra)
        else:
            assert not extra, (name, kernel, extra)


def test_a_ladder_the_spec_changes_is_the_profiles(monkeypatch):
    spec = kernels.spec("matmul")
    monkeypatch.setitem(kernels.SPECS, "matmul",
                        dataclasses.replace(spec, ladders={**spec.ladders, "quick": (8, 24)}))
    assert QUICK.sizes("matmul") == (8, 24)
    assert {c.n for c in grid.cases(QUICK) if c.impl.kernel == "matmul"} == {8, 24}


def test_the_per_kernel_lists_are_gone():
    for name in ("VECTOR_KERNELS", "SUM_KERNELS", "MEMORY_SIZES", "JIT_REFERENCE_SIZES",
                 "SEED_VECTOR", "SEED_MATMUL"):
        assert not hasattr(grid, name), name


def test_heavy_cases_come_from_the_spec():
    matmul = kernels.spec("matmul")
    assert matmul.heavy_from is not None
    for impl in kernels.implementations():
        if impl.kernel == "matmul":
            assert grid.Case(impl, matmul.heavy_from, "C").heavy
            assert not grid.Case(impl, matmul.heavy_from // 2, "C").heavy  # 250,000 elements
    lists = kernels.implementation("sum_of_squares", "python")
    arrays = kernels.implementation("sum_of_squares", "numba")
    assert kernels.spec("sum_of_squares").heavy_from is None
    assert grid.Case(lists, 2**22, "C").heavy and not grid.Case(lists, 2**22 - 1, "C").heavy
    assert not grid.Case(arrays, 2**24, "C").heavy
    rows = kernels.implementation("row_sums", "python")
    assert grid.Case(rows, 2048, "C").heavy and not grid.Case(rows, 1024, "C").heavy


# --------------------------------------------------------------------------
# Beyond the last-level cache
# --------------------------------------------------------------------------
def test_the_beyond_cache_size_is_the_smallest_spec_size_past_the_cache_multiple():
    spec = kernels.spec("sum_of_squares")
    target = grid.CACHE_MULTIPLE * 32 * MiB
    assert grid.CACHE_MULTIPLE > 1
    found = grid.beyond_cache(spec, 32 * MiB, 64 * 2**30)
    expected = min(n for n in spec.sizes if spec.bytes_moved(n) > target)
    assert found.size == expected and found.note is None
    assert found.working_set == spec.bytes_moved(expected) > target
    assert found.input_bytes == 8 * expected
    smaller = [n for n in spec.sizes if n < expected]
    assert spec.bytes_moved(max(smaller)) <= target


def test_the_beyond_cache_size_extends_the_sizes_by_doubling():
    spec = kernels.spec("row_sums")  # sides up to 2048 in half octaves: 32 MiB
    assert spec.sizes[-2:] == (1448, 2048)
    found = grid.beyond_cache(spec, 300 * MiB, 64 * 2**30)
    target = grid.CACHE_MULTIPLE * 300 * MiB
    # the spec's top octave doubled until past the target: 2048 x 4 = 8192 (512 MiB)
    # for 1.5 caches (450 MiB); 1448 x 4 = 5792 (256 MiB) is within it
    expected = min(n * 2**k for n in spec.sizes[-2:] for k in range(1, 8)
                   if spec.bytes_moved(n * 2**k) > target)
    assert found.size == expected and found.note is None
    assert spec.bytes_moved(found.size) > target
    vectors = kernels.spec("magnitude")  # 24 bytes an element, up to 2^24
    found = grid.beyond_cache(vectors, 300 * MiB, None)
    assert vectors.bytes_moved(found.size) > grid.CACHE_MULTIPLE * 300 * MiB
    assert vectors.bytes_moved(found.size // 2) <= grid.CACHE_MULTIPLE * 300 * MiB * 1.5


def test_the_beyond_cache_size_runs_the_arrays_in_the_first_layout(machine):
    machine(32 * MiB)
    spec = kernels.spec("row_sums")
    beyond = grid.machine_beyond_cache(spec).size
    assert beyond not in spec.ladder("first")
    at = [c for c in grid.cases(FIRST) if c.impl.kernel == "row_sums" and c.n == beyond]
    assert at and {c.layout for c in at} == {spec.layouts[0]}
    assert {c.impl.backend for c in at} == {i.backend for i in kernels.implementations()
                                            if i.kernel == "row_sums"} - {"python"}
    left = [c for c in grid.beyond_left_out(FIRST) if c.impl.kernel == "row_sums"]
    assert {(c.impl.backend, c.impl.variant, c.n) for c in left} == \
        {("python", v, beyond) for v in spec.loop_variants}
    # a size the selection names runs as any other (in the first profile's one layout)
    named = grid.make_selection(kernel="row_sums", sizes=str(beyond))
    assert {(c.layout, c.impl.backend) for c in grid.cases(FIRST, named)} >= \
        {("C", "python")}
    assert grid.beyond_left_out(FIRST, named) == []
    assert grid.beyond_left_out(QUICK) == []


def test_profiles_add_the_beyond_cache_size_to_streaming_kernels_only(machine):
    machine(32 * MiB)
    for kernel, spec in kernels.SPECS.items():
        beyond = [n for n in FIRST.sizes(kernel)
                  if spec.bytes_moved(n) > grid.CACHE_MULTIPLE * 32 * MiB]
        if spec.ceiling in grid.BANDWIDTH_CEILINGS:
            assert beyond, kernel
        else:
            assert set(FIRST.sizes(kernel)) == set(spec.ladder("first")), kernel
    assert not QUICK.beyond_cache
    assert QUICK.sizes("sum_of_squares") == kernels.spec("sum_of_squares").ladder("quick")


# --------------------------------------------------------------------------
# The first profile: what design12.md says it shows
# --------------------------------------------------------------------------
def test_the_first_profile_covers_the_first_look(machine):
    machine(32 * MiB)
    covered = {(c.impl.kernel, c.impl.backend, c.n, c.layout) for c in grid.cases(FIRST)}
    backends = {b for b in kernels.BACKENDS if kernels.backend_error(b) is None}
    # the speedups at n = 10^6, every backend
    for kernel in ("magnitude", "sum_of_squares", "sum_sq_sin"):
        assert {(kernel, b, 10**6, "C") for b in backends} <= covered
        # the tiny-array crossover with NumPy's call overhead
        assert {1, 10, 100, 1000} <= set(FIRST.sizes(kernel))
    # row against column sums (C order: Fortran order is the full profile's); matmul
    for kernel in ("row_sums", "col_sums"):
        assert (kernel, "numpy", 1024, "C") in covered
        assert (kernel, "numpy", 1024, "F") not in covered
    assert any(k == "matmul" for k, *_ in covered)
    # every streaming kernel at a size whose working set leaves the cache
    for kernel, spec in kernels.SPECS.items():
        if spec.ceiling in grid.BANDWIDTH_CEILINGS:
            assert any(spec.bytes_moved(n) > grid.CACHE_MULTIPLE * 32 * MiB
                       for n in FIRST.sizes(kernel)), kernel
    # every implementation somewhere; the ceilings once; no fresh pages
    assert {(k, b) for k, b, *_ in covered} >= {(i.kernel, i.backend)
                                                for i in kernels.implementations()}
    assert FIRST.ceiling_passes == ("first",) and grid.fresh_cases(FIRST) == []
    assert len(grid.fresh_left_out(FIRST)) > 0  # recorded as not in the profile
    assert FIRST.call_budget <= QUICK.call_budget * 2 and FIRST.max_time <= QUICK.max_time


# --------------------------------------------------------------------------
# The selection
# --------------------------------------------------------------------------
def test_a_size_range_picks_the_profiles_sizes_within_it():
    sizes = grid.parse_sizes("1e3..1e6")
    assert (sizes.low, sizes.high, sizes.exact) == (1000, 10**6, None)
    assert sizes.pick((1, 10, 1000, 4096, 10**6, 10**7)) == (1000, 4096, 10**6)
    assert grid.parse_sizes(" 16 .. 1_024 ").pick(range(1, 2000)) == tuple(range(16, 1025))


def test_a_size_list_is_exactly_those_sizes():
    sizes = grid.parse_sizes("1000,4096,1e6")
    assert sizes.exact == (1000, 4096, 10**6) and sizes.text == "1000,4096,1e6"
    assert sizes.pick((1, 10)) == (1000, 4096, 10**6)
    assert grid.parse_sizes("1e6").exact == (10**6,)
    assert grid.parse_sizes("4096, 16,16").exact == (16, 4096)
    assert grid.parse_sizes("1.5e3,123456789012345678").exact == (1500, 123456789012345678)


@pytest.mark.parametrize(("text", "says"), [
    ("", "empty"),
    ("   ", "empty"),
    ("big", "'big' is not a size"),
    ("1e3..", "'' is not a size"),
    ("..1e6", "'' is not a size"),
    ("1e6..1e3", "the range is empty"),
    ("1.5", "not a positive whole number"),
    ("0", "not a positive whole number"),
    ("-5", "'-5' is not a size"),
    ("1,,2", "an empty entry"),
    ("1..2..3", "expected a range"),
    ("1..5,7", "expected a range"),
    ("0x10", "is not a size"),
    ("1e400", "too large"),
    ("1.0001e3", "not a positive whole number"),
])
def test_bad_sizes_are_refused_in_one_line(text, says):
    with pytest.raises(ValueError) as refused:
        grid.parse_sizes(text)
    message = str(refused.value)
    assert says in message and "\n" not in message
    assert message.startswith(f"sizes {text.strip()!r}")


def test_a_selection_checks_its_names():
    with pytest.raises(ValueError, match=r"unknown kernel 'dot'; known: magnitude, .*matmul"):
        grid.make_selection(kernel="magnitude,dot")
    with pytest.raises(ValueError, match=r"unknown backend 'jax'; known: python, numpy, numba"):
        grid.make_selection(backend=["numpy", "jax"])
    with pytest.raises(ValueError, match=r"unknown variant 'loop' .*known: vectorized, in_place"):
        grid.make_selection(kernel="magnitude", backend="numpy", variant="loop")
    with pytest.raises(ValueError, match="is not a size"):
        grid.make_selection(sizes="lots")
    chosen = grid.make_selection(kernel=["magnitude", "matmul,magnitude"], backend="numba",
                                 variant="loop,naive_ijk", sizes="16..1e3")
    assert chosen.kernels == ("magnitude", "matmul") and chosen.backends == ("numba",)
    assert chosen.variants == ("loop", "naive_ijk") and chosen.sizes.text == "16..1e3"
    assert chosen.is_slice and not grid.make_selection().is_slice
    assert grid.make_selection() == grid.EVERYTHING


def test_the_kernels_of_sources_are_the_selection_without_a_kernel_option():
    chosen = grid.make_selection(sources=["mine.py"], defined=["magnitude"])
    assert chosen.kernels == ("magnitude",) and chosen.sources == ("mine.py",)
    named = grid.make_selection(kernel="matmul", sources=["mine.py"], defined=["magnitude"])
    assert named.kernels == ("matmul",)


def test_cases_honour_the_selection():
    chosen = grid.make_selection(kernel="magnitude,row_sums", backend="numpy,numba",
                                 sizes="100..1024")
    got = grid.cases(QUICK, chosen)
    assert got
    assert {c.impl.kernel for c in got} == {"magnitude", "row_sums"}
    assert {c.impl.backend for c in got} == {"numpy", "numba"}
    assert {c.n for c in got if c.impl.kernel == "magnitude"} == {100, 1000}
    assert {c.n for c in got if c.impl.kernel == "row_sums"} == {128, 1024}
    assert {(c.n, c.layout) for c in got if c.impl.kernel == "row_sums"} == \
        {(128, "C"), (128, "F"), (1024, "C"), (1024, "F")}
    everything = {c.id for c in grid.cases(QUICK)}
    assert {c.id for c in got} <= everything
    # exact sizes, for every selected kernel
    exact = grid.cases(QUICK, grid.make_selection(kernel="matmul", backend="numpy",
                                                  sizes="8,24"))
    assert {c.n for c in exact} == {8, 24}
    # a variant
    parallel = grid.cases(QUICK, grid.make_selection(variant="parallel"))
    assert parallel and {c.impl.variant for c in parallel} == {"parallel"}
    assert {c.impl.kernel for c in parallel} == set(kernels.SPECS)


def test_compile_and_fresh_cases_honour_the_selection():
    chosen = grid.make_selection(kernel="sum_of_squares", backend="numba,python")
    jit = grid.jit_implementations(QUICK, chosen)
    assert [(i.kernel, i.variant) for i in jit] == [("sum_of_squares", "loop")]
    assert grid.jit_implementations(QUICK, grid.make_selection(backend="numpy")) == []
    # a variant named by the selection is compiled even where the profile
    # measures the defaults only
    named = grid.jit_implementations(QUICK, grid.make_selection(kernel="magnitude",
                                                                variant="parallel"))
    assert [(i.backend, i.variant) for i in named] == [("numba", "parallel")]
    fresh = grid.fresh_cases(FULL, chosen)
    assert fresh and {(c.impl.kernel, c.n) for c in fresh} == \
        {("sum_of_squares", kernels.spec("sum_of_squares").measured_size)}
    assert {c.impl.backend for c in fresh} == {"numba", "python"}
    assert {c.impl.backend for c in grid.fresh_left_out(QUICK, chosen)} == {"python"}


def test_the_selection_record():
    chosen = grid.make_selection(kernel="matmul", backend="numpy", sizes="8,24",
                                 sources=["x.py"], defined=[])
    assert chosen.record() == {"kernels": ["matmul"], "backends": ["numpy"],
                               "variants": None, "sizes": "8,24", "sources": ["x.py"],
                               "slice": True}
    whole = grid.EVERYTHING.record()
    assert whole["kernels"] == list(kernels.SPECS) and whole["slice"] is False


# --------------------------------------------------------------------------
# A kernel added to the registry is in the grid
# --------------------------------------------------------------------------
def test_a_registered_kernel_is_in_the_grid_from_its_spec(machine):
    machine(1 * MiB)
    base = kernels.spec("sum_of_squares")
    spec = dataclasses.replace(base, name="grid_probe_sq", origin="tests",
                               ladders={"quick": (3, 30), "first": (5,)}, memory_size=30,
                               seed_size=30, history_size=30, ceiling="read_bandwidth")

    def core(x):
        return float(np.dot(x, x))

    with registry.registered(spec, {("numpy", "dot"): core}):
        mine = [c for c in grid.cases(QUICK) if c.impl.kernel == "grid_probe_sq"]
        assert {(c.impl.backend, c.impl.variant, c.n) for c in mine} == \
            {("numpy", "dot", 3), ("numpy", "dot", 30)}
        first = {c.n for c in grid.cases(FIRST) if c.impl.kernel == "grid_probe_sq"}
        assert 5 in first and max(first) * 8 > grid.CACHE_MULTIPLE * MiB  # past the 1 MiB cache
        assert [c.n for c in grid.fresh_cases(FULL, grid.make_selection(
            kernel="grid_probe_sq"))] == [30]
    assert "grid_probe_sq" not in kernels.SPECS

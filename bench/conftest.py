from __future__ import annotations

import pytest

from bench import harness, record
from bench.grid import PROFILES, Case, cases, fresh_cases, jit_implementations
from bench.grid import jit_id as _jit_id

#: When the machine ceilings are measured: before the kernels, and in the full
#: profile after them too (bench_ceilings.py; the report keeps the higher).
CEILING_PASSES = {"full": ("first", "last"), "quick": ("first",)}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Move the ceiling probes of the "last" pass behind every other test."""
    def last(item: pytest.Item) -> bool:
        spec = getattr(item, "callspec", None)
        return spec is not None and spec.params.get("ceiling_pass") == "last"

    items[:] = [i for i in items if not last(i)] + [i for i in items if last(i)]


def _profile(config: pytest.Config):
    return PROFILES[config.getoption("--profile")]


def pytest_configure(config: pytest.Config) -> None:
    """Record the machine's state and every absent case into the saved run (bench/record.py)."""
    if not config.pluginmanager.has_plugin(record.PLUGIN_NAME):
        config.pluginmanager.register(record.SessionRecord(_profile(config)), record.PLUGIN_NAME)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    profile = _profile(metafunc.config)
    timing = {"max_time": profile.max_time, "min_time": profile.min_time}
    # Parametrized with strings, so saved runs hold readable, stable params.
    if "case_id" in metafunc.fixturenames:
        metafunc.parametrize("case_id", [
            pytest.param(c.id, id=c.id, marks=pytest.mark.benchmark(
                group=c.group, min_rounds=profile.heavy_rounds if c.heavy
                else profile.min_rounds, **timing))
            for c in cases(profile)
        ])
    if "fresh_case_id" in metafunc.fixturenames:
        # The cases at their kernel's memory size, timed again with fresh pages
        # (bench_kernels.test_kernel_fresh_pages); the same ids as the steady
        # ones, told apart by extra_info["allocator"].
        metafunc.parametrize("fresh_case_id", [
            pytest.param(c.id, id=c.id, marks=pytest.mark.benchmark(
                group=f"{c.group} fresh pages", min_rounds=profile.heavy_rounds if c.heavy
                else profile.min_rounds, **timing))
            for c in fresh_cases(profile)
        ])
    if "ceiling_pass" in metafunc.fixturenames:
        metafunc.parametrize("ceiling_pass", CEILING_PASSES[profile.name])
    if "jit_id" in metafunc.fixturenames:
        metafunc.parametrize("jit_id", [
            pytest.param(_jit_id(i), id=_jit_id(i),
                         marks=pytest.mark.benchmark(group="numba compile (fresh dispatcher)"))
            for i in jit_implementations(profile)
        ])


@pytest.fixture(scope="session")
def profile(request: pytest.FixtureRequest):
    return _profile(request.config)


@pytest.fixture(scope="session")
def _cases_by_id(profile) -> dict[str, Case]:
    return {c.id: c for c in cases(profile)}


@pytest.fixture
def case(case_id: str, _cases_by_id: dict[str, Case]) -> Case:
    return _cases_by_id[case_id]


@pytest.fixture
def fresh_case(fresh_case_id: str, _cases_by_id: dict[str, Case]) -> Case:
    return _cases_by_id[fresh_case_id]


@pytest.fixture
def jit_impl(jit_id: str, profile):
    return {_jit_id(i): i for i in jit_implementations(profile)}[jit_id]


@pytest.fixture(autouse=True)
def thread_count(request: pytest.FixtureRequest):
    """BLAS, OpenMP and Numba threads for this benchmark: one, so that NumPy's
    BLAS meets the single-threaded loops on equal terms, or all cores for the
    parallel cases.  The count is recorded per benchmark.

    Set per test, not per session: a library that loads a thread pool of its
    own midway (SciPy's OpenBLAS, say) is limited from the next test on.
    """
    threads = request.getfixturevalue("case").threads if "case_id" in request.fixturenames else 1
    if "fresh_case_id" in request.fixturenames:
        threads = request.getfixturevalue("fresh_case").threads
    with harness.threads_limited(threads):
        yield threads

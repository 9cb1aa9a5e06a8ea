"""The suites' parameters and fixtures: the case grid of the session's profile and selection.

The options, the profile and the selection come from the vecbench plugin
(bench/plugin.py); this conftest turns them into pytest parameters with
string ids, so saved runs hold readable, stable params.
"""

from __future__ import annotations

import pytest

from bench import grid, harness, plugin, record
from bench.grid import Case, cases, fresh_cases, jit_implementations
from bench.grid import jit_id as _jit_id

#: The parameters this conftest gives the suites; their values are strings.
PARAMS = ("case_id", "fresh_case_id", "ceiling_pass", "probe", "target", "jit_id")


def _empty(item: pytest.Item) -> bool:
    """Whether ``item`` stands for an empty parameter list (no fresh-pages case in
    the profile, no compile benchmark in the selection): pytest puts a
    placeholder that is not a string there, and skips it."""
    spec = getattr(item, "callspec", None)
    params = getattr(spec, "params", {})
    return any(name in params and not isinstance(params[name], str) for name in PARAMS)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Drop the placeholders of empty parameter lists (what the profile or the
    selection leaves out is recorded by bench/record.py, not skipped here), and
    move the ceiling probes of the "last" pass behind every other test."""
    empty = [i for i in items if _empty(i)]
    if empty:
        config.hook.pytest_deselected(items=empty)
        items[:] = [i for i in items if not _empty(i)]

    def last(item: pytest.Item) -> bool:
        spec = getattr(item, "callspec", None)
        return spec is not None and spec.params.get("ceiling_pass") == "last"

    items[:] = [i for i in items if not last(i)] + [i for i in items if last(i)]


def pytest_configure(config: pytest.Config) -> None:
    """Record the machine's state and every absent case into the saved run (bench/record.py)."""
    if not config.pluginmanager.has_plugin(record.PLUGIN_NAME):
        setup = plugin.run_setup(config)
        timed = not config.getoption("--benchmark-disable", default=False)
        config.pluginmanager.register(record.SessionRecord(setup.profile, setup.selection,
                                                           timed),
                                      record.PLUGIN_NAME)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    setup = plugin.run_setup(metafunc.config)
    profile, chosen = setup.profile, setup.selection
    timing = {"max_time": profile.max_time, "min_time": profile.min_time}
    # Parametrized with strings, so saved runs hold readable, stable params.
    if "case_id" in metafunc.fixturenames:
        metafunc.parametrize("case_id", [
            pytest.param(c.id, id=c.id, marks=pytest.mark.benchmark(
                group=c.group, min_rounds=profile.heavy_rounds if c.heavy
                else profile.min_rounds, **timing))
            for c in cases(profile, chosen)
        ])
    if "fresh_case_id" in metafunc.fixturenames:
        # The cases at their kernel's memory size, timed again with fresh pages
        # (bench_kernels.test_kernel_fresh_pages); the same ids as the steady
        # ones, told apart by extra_info["allocator"].
        metafunc.parametrize("fresh_case_id", [
            pytest.param(c.id, id=c.id, marks=pytest.mark.benchmark(
                group=f"{c.group} fresh pages", min_rounds=profile.heavy_rounds if c.heavy
                else profile.min_rounds, **timing))
            for c in fresh_cases(profile, chosen)
        ])
    if "ceiling_pass" in metafunc.fixturenames:
        metafunc.parametrize("ceiling_pass", profile.ceiling_passes)
    if "probe" in metafunc.fixturenames:
        from bench import bench_ceilings

        metafunc.parametrize("probe", [
            pytest.param(p, marks=pytest.mark.benchmark(group=bench_ceilings.GROUP))
            for p in bench_ceilings.probes(chosen)
        ])
    if "target" in metafunc.fixturenames:
        from bench import bench_overhead

        metafunc.parametrize("target", bench_overhead.targets(chosen))
    if "jit_id" in metafunc.fixturenames:
        metafunc.parametrize("jit_id", [
            pytest.param(_jit_id(i), id=_jit_id(i),
                         marks=pytest.mark.benchmark(group="numba compile (fresh dispatcher)"))
            for i in jit_implementations(profile, chosen)
        ])


@pytest.fixture(scope="session")
def profile(request: pytest.FixtureRequest) -> grid.Profile:
    return plugin.profile(request.config)


@pytest.fixture(scope="session")
def selection(request: pytest.FixtureRequest) -> grid.Selection:
    return plugin.selection(request.config)


@pytest.fixture(scope="session")
def _cases_by_id(profile, selection) -> dict[str, Case]:
    return {c.id: c for c in cases(profile, selection)}


@pytest.fixture
def case(case_id: str, _cases_by_id: dict[str, Case]) -> Case:
    return _cases_by_id[case_id]


@pytest.fixture
def fresh_case(fresh_case_id: str, _cases_by_id: dict[str, Case]) -> Case:
    return _cases_by_id[fresh_case_id]


@pytest.fixture
def jit_impl(jit_id: str, profile, selection):
    return {_jit_id(i): i for i in jit_implementations(profile, selection)}[jit_id]


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

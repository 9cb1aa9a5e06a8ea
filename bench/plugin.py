"""The vecbench pytest plugin: the options, the run's profile and selection, the records.

The repository's ``conftest.py`` loads it (``pytest_plugins = ["bench.plugin"]``),
so ``pytest --benchmark-only`` at the root works; the ``vecbench`` command
passes ``-p bench.plugin`` to an installed copy run from any folder.  pytest
registers a plugin module once by its name, whichever way it came.

Options (``pytest --help``, group "vecbench")::

    --profile {first,quick,full}  the benchmark profile (bench/grid.py), default full
    --vb-kernel K[,K...]          only these kernels
    --vb-backend B[,B...]         only these backends
    --vb-variant V[,V...]         only these variants
    --vb-sizes SPEC               "1e3..1e7": the profile's sizes in that range;
                                  "1000,4096,1e6": exactly these sizes
    --vb-kernels SOURCE           (repeatable) a .py path or module name of external
                                  kernels; without --vb-kernel, only theirs run

Before collection it applies the allocator's default regime, checks the SIMD
setting, loads the kernels of the ``vecbench.kernels`` entry points and of
every ``--vb-kernels`` source (kernels/external.py) and checks the selection:
a bad one ends the session with one line (``pytest.UsageError``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from bench.grid import DEFAULT_PROFILE, PROFILES, Profile, Selection
from bench.slice_options import REPEATABLE, SLICE_OPTIONS

GROUP = "vecbench"


@dataclass(frozen=True)
class RunSetup:
    """What the options decided for this session."""

    profile: Profile
    selection: Selection
    #: The external kernels loaded: source (path, module or entry point) -> kernel names.
    loaded: dict[str, tuple[str, ...]] = field(default_factory=dict)


_SETUP = pytest.StashKey[RunSetup]()
_CONFIGURED = pytest.StashKey[bool]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, "vecbench benchmarks")
    if any("--vb-kernel" in option.names() for option in group.options):
        return  # already added: the same plugin loaded under a second name
    group.addoption(
        "--profile", choices=list(PROFILES), default=DEFAULT_PROFILE,
        help="benchmark profile: 'first' (the first look, under 3 min), 'quick' (CI) or "
             "'full' (default, under 10 min)",
    )
    for name, (metavar, text) in SLICE_OPTIONS.items():
        group.addoption(f"--vb-{name}", metavar=metavar, help=text,
                        action="append" if name in REPEATABLE else "store")
    group.addoption("--vb-kernels", action="append", default=[], metavar="SOURCE",
                    help="external kernels: a .py path or an importable module name "
                         "(repeatable); without --vb-kernel only their kernels run")


def _load_kernels(config: pytest.Config) -> dict[str, tuple[str, ...]]:
    """Register the entry points' kernels and those of every ``--vb-kernels`` source."""
    from kernels import external

    loaded: dict[str, tuple[str, ...]] = {}
    try:
        for spec in external.load_entry_points():
            loaded.setdefault(spec.origin, ())
            loaded[spec.origin] += (spec.name,)
        for source in config.getoption("--vb-kernels") or []:
            loaded[source] = tuple(s.name for s in external.load(source))
    except external.ExternalKernelError as exc:
        raise pytest.UsageError(_one_line(str(exc))) from None
    return loaded


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    return re.sub(r"\s+", " ", lines[0]) if lines else text


def run_setup(config: pytest.Config) -> RunSetup:
    """The session's profile, selection and external kernels (worked out once).

    Raises
    ------
    pytest.UsageError
        One line: an external module that is refused, or a bad selection.
    """
    found = config.stash.get(_SETUP, None)
    if found is not None:
        return found
    from bench import grid

    loaded = _load_kernels(config)
    sources = tuple(config.getoption("--vb-kernels") or [])
    try:
        selection = grid.make_selection(
            kernel=config.getoption("--vb-kernel"), backend=config.getoption("--vb-backend"),
            variant=config.getoption("--vb-variant"), sizes=config.getoption("--vb-sizes"),
            sources=sources, defined=[k for s in sources for k in loaded.get(s, ())])
    except ValueError as exc:
        raise pytest.UsageError(_one_line(str(exc))) from None
    setup = RunSetup(PROFILES[config.getoption("--profile")], selection, loaded)
    config.stash[_SETUP] = setup
    return setup


def profile(config: pytest.Config) -> Profile:
    """The session's profile (``--profile``)."""
    return run_setup(config).profile


def selection(config: pytest.Config) -> Selection:
    """The session's selection (``--vb-*``)."""
    return run_setup(config).selection


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if config.stash.get(_CONFIGURED, False):
        return
    config.stash[_CONFIGURED] = True
    # First: the allocator's default regime, before anything allocates large
    # blocks (bench/allocator.py); where it cannot be set, the run says why.
    from bench import allocator

    allocator.apply(allocator.DEFAULT)

    from kernels import simd

    try:
        simd.requested()
    except simd.SimdSettingError as exc:
        raise pytest.UsageError(str(exc)) from None
    run_setup(config)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """The profile, the selection and the sizes beyond the cache, atop the session."""
    setup = run_setup(config)
    chosen = setup.selection
    lines = [f"vecbench: profile {setup.profile.name}"
             + (f", a slice: {_describe(chosen)}" if chosen.is_slice else "")]
    if setup.loaded:
        lines.append("vecbench: external kernels: " + "; ".join(
            f"{source}: {', '.join(names) or 'none'}" for source, names in setup.loaded.items()))
    lines.extend(f"vecbench: {line}" for line in _beyond_cache_notes(setup))
    return lines


def _beyond_cache_notes(setup: RunSetup) -> list[str]:
    """One line per selected streaming kernel whose size beyond the cache is capped
    or missing (the run JSON's ``vecbench.beyond_cache`` says the same)."""
    from bench import grid

    if not setup.profile.beyond_cache:
        return []
    import kernels

    out = []
    for kernel in setup.selection.selected_kernels():
        spec = kernels.spec(kernel)
        if spec.ceiling in grid.BANDWIDTH_CEILINGS:
            found = grid.machine_beyond_cache(spec)
            if found.note is not None:
                out.append(f"beyond the last-level cache: {kernel}: {found.note}")
    return out


def _describe(chosen: Selection) -> str:
    parts = [f"kernels {','.join(chosen.selected_kernels()) or 'none'}"]
    if chosen.backends is not None:
        parts.append(f"backends {','.join(chosen.backends)}")
    if chosen.variants is not None:
        parts.append(f"variants {','.join(chosen.variants)}")
    if chosen.sizes is not None:
        parts.append(f"sizes {chosen.sizes.text}")
    return "; ".join(parts)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Under --benchmark-only, drop the unit tests instead of listing each as skipped.
    if config.getoption("--benchmark-only", default=False):
        keep = [i for i in items if "benchmark" in getattr(i, "fixturenames", ())]
        dropped = [i for i in items if "benchmark" not in getattr(i, "fixturenames", ())]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = keep


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    from bench.machine import machine_record

    machine_info.update(machine_record())


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(config: pytest.Config, benchmarks: list,
                                 output_json: dict) -> None:
    """The run's allocator declaration, in the run JSON's ``vecbench`` object."""
    from bench import allocator

    output_json.setdefault("vecbench", {})["allocator"] = allocator.record()


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Which SIMD paths of the sin variants this session executed (tests/test_simd_paths.py);
    the sizes beyond the cache that were capped (also under ``-q``, which has no header)."""
    from kernels import simd

    if config.getoption("--benchmark-only", default=False):
        notes = _beyond_cache_notes(run_setup(config))
        if notes:
            terminalreporter.section("vecbench")
            for line in notes:
                terminalreporter.write_line(line)

    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            found = re.search(r"simd-(\w+)", getattr(report, "nodeid", ""))
            if found and getattr(report, "when", "call") in ("call", "setup"):
                if outcome == "passed" and report.when != "call":
                    continue
                per = counts.setdefault(found.group(1), {})
                per[outcome] = per.get(outcome, 0) + 1
    if not counts:
        return
    terminalreporter.section("SIMD paths")
    for path in simd.PATHS:
        per = counts.get(path, {})
        said = ", ".join(f"{n} {o}" for o, n in per.items()) or "no tests"
        why = simd.why_not(path)
        terminalreporter.write_line(f"{path:<7} {said}" + (f" (cannot run here: {why})"
                                                          if why else ""))

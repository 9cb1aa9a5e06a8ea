"""Repository-wide pytest configuration: the benchmark profile option and machine record."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--profile", choices=["quick", "full"], default="full",
        help="benchmark profile: 'quick' (CI, under 90 s) or 'full' (default, under 10 min)",
    )


def pytest_configure(config: pytest.Config) -> None:
    # First: the allocator's default regime, before anything allocates large
    # blocks (bench/allocator.py); where it cannot be set, the run says why.
    from bench import allocator

    allocator.apply(allocator.DEFAULT)

    from kernels import simd

    try:
        simd.requested()
    except simd.SimdSettingError as exc:
        raise pytest.UsageError(str(exc)) from None


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
    """Which SIMD paths of the sin variants this session executed (tests/test_simd_paths.py)."""
    import re

    from kernels import simd

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

"""Repository-wide pytest configuration: the benchmark profile option and machine record."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--profile", choices=["quick", "full"], default="full",
        help="benchmark profile: 'quick' (CI, under 90 s) or 'full' (default, under 10 min)",
    )


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

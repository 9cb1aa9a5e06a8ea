from __future__ import annotations

import sys
import types

import pytest

from kernels import registry


@pytest.fixture
def fake_backend(monkeypatch):
    """Register a throw-away backend module; return a function that installs it.

    ``install(name, cores, inputs="arrays", loops=True)`` puts a module holding
    ``cores`` into ``sys.modules`` and a line for it into ``BACKENDS``;
    ``install(name, None)`` registers a line whose module cannot be imported.
    The registry's caches are cleared before and after.
    """

    def install(name, cores, inputs="arrays", loops=True):
        module_name = f"vecbench_test_backend_{name}"
        if cores is not None:
            module = types.ModuleType(module_name)
            module.CORES = cores
            module.INPUTS = inputs
            monkeypatch.setitem(sys.modules, module_name, module)
        monkeypatch.setitem(registry.BACKENDS, name, registry.Backend(module_name, loops=loops))
        _clear()

    def _clear():
        registry._load.cache_clear()
        registry._implementations.cache_clear()

    yield install
    monkeypatch.undo()
    _clear()

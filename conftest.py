"""Repository-wide pytest configuration: the vecbench plugin (bench/plugin.py).

Its options (``--profile``, ``--vb-*``), the allocator regime, the SIMD setting
check and the machine record apply to every session started in this folder,
so ``pytest --benchmark-only`` here runs the suites as ``vecbench run`` does.
"""

from __future__ import annotations

pytest_plugins = ["bench.plugin"]

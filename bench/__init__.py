"""pytest-benchmark suites: steady-state timings, JIT cost, memory."""

"""The vecbench pytest plugin: its options, how it is loaded, what a selection collects.

Each test runs a child pytest that only collects (``--collect-only``): the
plugin's work is done before collection, and collecting is quick.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench import bench_ceilings

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"


def _pytest(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTEST_XDIST") and k != "PYTEST_CURRENT_TEST"}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _ids(child: subprocess.CompletedProcess) -> list[str]:
    assert child.returncode == 0, child.stdout[-3000:] + child.stderr[-3000:]
    return [line.split("::", 1)[1] for line in child.stdout.splitlines() if "::" in line]


def test_a_slice_collects_its_kernels_backends_ceilings_and_overheads():
    ids = _ids(_pytest(str(BENCH), "--collect-only", "-q", "--profile=quick",
                       "--vb-kernel", "magnitude", "--vb-backend", "numpy,numba",
                       "--vb-sizes", "100..1e4"))
    steady = [i for i in ids if i.startswith("test_kernel[")]
    assert steady and all(i.startswith("test_kernel[magnitude-nump")
                          or i.startswith("test_kernel[magnitude-numba-") for i in steady)
    assert {i.split("-n")[-1].split("-")[0] for i in steady} == {"100", "1000", "10000"}
    # magnitude is held against the stream bandwidth; the read bandwidth is the default roof
    ceilings = {i.split("[", 1)[1].rstrip("]").split("-", 1)[1] for i in ids
                if i.startswith("test_ceiling[")}
    assert ceilings == {*bench_ceilings.CEILING_PROBES["read_bandwidth"],
                        *bench_ceilings.CEILING_PROBES["stream_add_bandwidth"]}
    overhead = {i for i in ids if i.startswith("test_call_overhead[")}
    assert overhead == {"test_call_overhead[numpy]", "test_call_overhead[numba]",
                        "test_call_overhead[checks]"}
    assert [i for i in ids if i.startswith("test_numba_compile[")] == \
        ["test_numba_compile[magnitude-numba-loop]"]
    # the sizes 10^6 and beyond are not selected: no fresh-pages case, and no placeholder
    assert not [i for i in ids if "fresh_pages" in i]


def test_the_first_profile_collects_no_placeholder_and_the_ceilings_once():
    ids = _ids(_pytest(str(BENCH), "--collect-only", "-q", "--profile=first"))
    assert not [i for i in ids if "NOTSET" in i or "fresh_pages" in i]
    assert len([i for i in ids if i.startswith("test_ceiling[first-")]) == \
        len(bench_ceilings.PROBES)
    assert not [i for i in ids if i.startswith("test_ceiling[last-")]


@pytest.mark.parametrize(("args", "says"), [
    (["--vb-kernel", "magnitude,dot"], "unknown kernel 'dot'; known: magnitude,"),
    (["--vb-backend", "jax"], "unknown backend 'jax'; known: python, numpy, numba, cython"),
    (["--vb-backend", "numpy", "--vb-variant", "loop"], "unknown variant 'loop'"),
    (["--vb-sizes", "1e6..1e3"], "sizes '1e6..1e3': the range is empty"),
    (["--vb-sizes", "lots"], "sizes 'lots': 'lots' is not a size"),
    (["--vb-kernels", "no/such/module.py"], "no/such/module.py: no such file"),
    (["--profile", "medium"], "invalid choice: 'medium'"),
])
def test_a_bad_option_is_one_line_and_a_usage_error(args, says):
    child = _pytest(str(BENCH / "bench_overhead.py"), "--collect-only", "-q", *args)
    assert child.returncode == 4, child.stdout[-2000:] + child.stderr[-2000:]
    lines = [line for line in child.stderr.splitlines() if line.strip()]
    assert says in child.stderr
    assert "Traceback" not in child.stderr + child.stdout
    if args[0] != "--profile":  # argparse prints its usage lines first
        assert len(lines) == 1 and lines[0].startswith("ERROR: "), child.stderr


def test_a_wrong_external_module_is_refused_with_its_problem(tmp_path):
    module = tmp_path / "broken_kernel.py"
    module.write_text(textwrap.dedent('''
        import numpy as np
        from kernels import KernelSpec, Param

        def _reference(x):
            raise ArithmeticError("no reference here")

        SPEC = KernelSpec(name="broken", params=(Param("x", "vector"),),
                          make_inputs=lambda n, rng, layout: (rng.standard_normal(n),),
                          reference=_reference, bytes_moved=lambda n: 8 * n,
                          flops=lambda n: n, sizes=(10, 100))
        IMPLEMENTATIONS = {("broken", "numpy", "sum"): np.sum}
    '''))
    child = _pytest(str(BENCH / "bench_overhead.py"), "--collect-only", "-q",
                    "--vb-kernels", str(module))
    assert child.returncode == 4
    lines = [line for line in child.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, child.stderr
    assert lines[0].startswith(f"ERROR: {module}: ") and "reference" in lines[0]
    assert "no reference here" in lines[0]


def test_the_plugin_loads_by_name_from_another_folder_and_once(tmp_path):
    # An installed copy run elsewhere: no repository conftest (cut off by
    # --confcutdir), the plugin named with -p, the suites' own conftest found.
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    ids = _ids(_pytest("-p", "bench.plugin", f"--confcutdir={BENCH}", "-c",
                       str(tmp_path / "pytest.ini"), f"--rootdir={tmp_path}",
                       str(BENCH / "bench_overhead.py"), "--collect-only", "-q",
                       "--vb-backend", "python", cwd=tmp_path))
    assert ids == ["test_call_overhead[python]", "test_call_overhead[checks]"]
    # Both ways at once (the repository's conftest and -p): registered once.
    ids = _ids(_pytest("-p", "bench.plugin", str(BENCH / "bench_overhead.py"),
                       "--collect-only", "-q", "--vb-backend", "cython"))
    assert ids == ["test_call_overhead[cython]", "test_call_overhead[checks]"]

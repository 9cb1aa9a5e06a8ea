"""The instruction-count gate: callgrind's dumps, the count rule, and runs under valgrind.

The test that runs valgrind (``test_counts_are_repeatable_and_changes_are_flagged``)
needs Debian's ``valgrind`` package (the program and its headers, with which
bench/_callgrind.pyx was built); without it, it fails saying so, it does not
skip.  It counts three runs at once, with tiny sizes and two kernels
registered only here: twice the same module (identical counts), then a module
whose kernels do 2% more work and stream a column sum in the other order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench import callgrind, instructions
from bench import instruction_child as child
from reports import compare
from reports import instructions as counts
from reports.load import ReportError, load_run

DATA = Path(__file__).parent / "data"
EVENTS = callgrind.EVENTS


# --------------------------------------------------------------------------
# Callgrind's dumps
# --------------------------------------------------------------------------
def test_a_dump_is_read_from_its_trigger_and_totals():
    dump = callgrind.parse_dump(DATA / "callgrind.out.sample")
    assert dump.label == "sum_of_squares-numba-loop-n100000-C"
    # The totals line, not the summary line (wrong after CALLGRIND_ZERO_STATS);
    # callgrind leaves out trailing zeros: DLmw is 0.
    assert dump.counts == {"Ir": 953655, "Dr": 200314, "Dw": 100109, "I1mr": 403,
                           "D1mr": 25001, "D1mw": 12, "ILmr": 93, "DLmr": 30, "DLmw": 0}
    assert callgrind.cost(dump.counts) == 953655 + 10 * (403 + 25001 + 12) + 100 * (93 + 30)


@pytest.mark.parametrize("edit, problem", [
    (lambda t: t.replace("totals:", "#totals:"), "no 'totals:' line"),
    (lambda t: t.replace("events:", "#events:"), "no 'events:' line"),
    (lambda t: t.replace("totals: 953655", "totals: 1 2 3 4 5 6 7 8 9 10 953655"),
     "does not match"),
    (lambda t: t.replace("totals: 953655", "totals: x953655"), "does not match"),
    (lambda t: "hello\n", "not a callgrind dump"),
])
def test_a_broken_dump_is_refused_naming_the_file(tmp_path, edit, problem):
    path = tmp_path / "callgrind.out.1.1"
    path.write_text(edit((DATA / "callgrind.out.sample").read_text()))
    with pytest.raises(callgrind.DumpError, match=problem) as info:
        callgrind.parse_dump(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_dumps_are_collected_by_label_and_the_termination_dump_is_left_out(tmp_path):
    text = (DATA / "callgrind.out.sample").read_text()
    (tmp_path / "callgrind.out.11.1").write_text(text)
    (tmp_path / "callgrind.out.12.1").write_text(text.replace("-n100000-", "-n100-"))
    (tmp_path / "callgrind.out.12").write_text(
        text.replace("Client Request: sum_of_squares-numba-loop-n100000-C",
                     "Program termination"))
    found = callgrind.read_dumps(tmp_path)
    assert sorted(found) == ["sum_of_squares-numba-loop-n100-C",
                             "sum_of_squares-numba-loop-n100000-C"]
    (tmp_path / "callgrind.out.13.1").write_text(text)
    with pytest.raises(callgrind.DumpError, match="a second dump"):
        callgrind.read_dumps(tmp_path)


def test_a_dump_without_cache_simulation_is_refused(tmp_path):
    text = (DATA / "callgrind.out.sample").read_text()
    (tmp_path / "callgrind.out.1.1").write_text(
        text.replace("events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw", "events: Ir")
        .replace("totals: 953655 200314 100109 403 25001 12 93 30", "totals: 953655"))
    with pytest.raises(callgrind.DumpError, match="cache simulation"):
        callgrind.read_dumps(tmp_path)


def test_valgrind_options_pin_the_caches_and_count_nothing_at_start(tmp_path):
    opts = callgrind.options(tmp_path)
    assert "--instr-atstart=no" in opts and "--cache-sim=yes" in opts
    assert {"--I1=32768,8,64", "--D1=32768,8,64", "--LL=8388608,16,64"} <= set(opts)
    assert opts[-1] == f"--callgrind-out-file={tmp_path}/callgrind.out.%p"


# --------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------
def test_the_count_threshold_is_a_setting_checked_like_the_others():
    assert compare.settings_from({}).instructions_threshold == 0.01
    assert compare.settings_from({"instructions_threshold": 0.02}).instructions_threshold == 0.02
    for bad in (-0.01, "1%", True, float("nan")):
        with pytest.raises(ReportError, match="instructions_threshold"):
            compare.settings_from({"instructions_threshold": bad})
    with pytest.raises(ReportError, match="unknown key 'instruction_threshold'"):
        compare.settings_from({"instruction_threshold": 0.01})


# --------------------------------------------------------------------------
# The gate, on runs written here
# --------------------------------------------------------------------------
def _counts(cost: float) -> dict[str, int]:
    """Counts of 2 calls whose cost per call is ``cost`` (Ir only, plus fixed misses)."""
    fixed = {"Dr": 10, "Dw": 10, "I1mr": 1, "D1mr": 2, "D1mw": 3, "ILmr": 1, "DLmr": 0,
             "DLmw": 0}
    extra = 10 * 6 + 100 * 1
    return {"Ir": int(2 * cost) - 2 * extra, **{k: 2 * v for k, v in fixed.items()}}


def _run(path: Path, costs: dict[str, float], caches: dict | None = None) -> Path:
    """An instruction run holding ``costs`` (benchmark id -> cost per call)."""
    benchmarks = []
    for name, cost in costs.items():
        kernel, backend, variant, size, layout = name.split("-")
        benchmarks.append({"name": name, "fullname": name, "extra_info": {
            "measure": "instructions", "kernel": kernel, "backend": backend,
            "variant": variant, "size": int(size[1:]), "layout": layout,
            "default_variant": True, "threads": 1, "calls": 2,
            "counts": _counts(cost), "cost_per_call": cost}})
    run = {"vecbench": {"version": 1, "mode": "instructions", "absent": [
               {"benchmark": "k-cython-loop", "measure": "instructions",
                "reason": "unavailable", "detail": "built with -march=native"}],
           "instructions": {
               "caches": caches or {k: {"bytes": s, "ways": w, "line": line}
                                    for k, (s, w, line) in callgrind.CACHES.items()},
               "cost": {"formula": callgrind.COST_FORMULA, "l1_miss_weight": 10,
                        "ll_miss_weight": 100},
               "environment": instructions.pinned(), "valgrind": "valgrind-3.19.0",
               "versions": {"numpy": "2.0"}}},
           "commit_info": {"id": "0123456789abcdef", "dirty": False},
           "machine_info": {"node": "host", "cpu": {"brand_raw": "CPU"}},
           "datetime": "2025-01-01T00:00:00+00:00",
           "benchmarks": benchmarks}
    path.write_text(json.dumps(run))
    return path


BASE = {"a-numba-loop-n100-C": 1e6, "b-numba-loop-n100-C": 1e6, "c-numba-loop-n100-C": 1e6,
        "d-numba-loop-n100-C": 1e6, "gone-numba-loop-n100-C": 1e6}
NEW = {"a-numba-loop-n100-C": 1.005e6, "b-numba-loop-n100-C": 1.015e6,
       "c-numba-loop-n100-C": 0.98e6, "d-numba-loop-n100-C": 1.04e6,
       "added-numba-loop-n100-C": 1e6}


def _pyproject(tmp_path: Path, text: str = "") -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.vecbench.compare]\n" + text)
    return path


def test_beyond_the_threshold_is_a_regression_and_accepted_entries_apply(tmp_path, capsys):
    base, new = _run(tmp_path / "base.json", BASE), _run(tmp_path / "new.json", NEW)
    config = _pyproject(tmp_path, textwrap.dedent("""
        [[tool.vecbench.compare.accepted]]
        benchmark = "d-numba-loop-n100-C"
        max_ratio = 1.05
        reason = "the price of a check"
        """))
    status = compare.main([str(base), str(new), "--config", str(config)])
    out = capsys.readouterr().out
    assert status == 1
    verdicts = {line.split("|")[1].strip(): line.split("|")[-2].strip()
                for line in out.splitlines() if line.startswith("| ") and "-n100-" in line}
    assert verdicts["a-numba-loop-n100-C"] == "unchanged"
    assert verdicts["b-numba-loop-n100-C"] == "worse"
    assert verdicts["c-numba-loop-n100-C"] == "better"
    assert verdicts["d-numba-loop-n100-C"].startswith("accepted")
    assert verdicts["gone-numba-loop-n100-C"] == "missing"
    assert verdicts["added-numba-loop-n100-C"] == "new"
    assert "REGRESSION: 1 of 4" in out and "b-numba-loop-n100-C 1.015x" in out

    # A looser threshold from pyproject.toml: +1.5% passes.
    config = _pyproject(tmp_path, "instructions_threshold = 0.02\n")
    assert compare.main([str(base), str(new), "--config", str(config)]) == 1  # d: +4%
    without_d = {k: v for k, v in NEW.items() if not k.startswith("d-")}
    assert compare.main([str(base), str(_run(tmp_path / "n2.json", without_d)),
                         "--config", str(config)]) == 0


def test_identical_counts_pass(tmp_path, capsys):
    base = _run(tmp_path / "base.json", BASE)
    assert compare.main([str(base), str(_run(tmp_path / "again.json", BASE)),
                         "--config", str(tmp_path / "none.toml")]) == 0
    assert "OK: no regression among 5 benchmarks" in capsys.readouterr().out


def test_runs_that_cannot_be_compared_are_refused_in_one_line(tmp_path, capsys):
    base = _run(tmp_path / "base.json", BASE)
    other = _run(tmp_path / "other.json", BASE,
                 caches={"I1": {"bytes": 32768, "ways": 8, "line": 64},
                         "D1": {"bytes": 49152, "ways": 12, "line": 64},
                         "LL": {"bytes": 8388608, "ways": 16, "line": 64}})
    config = str(tmp_path / "none.toml")
    assert compare.main([str(base), str(other), "--config", config]) == 2
    err = capsys.readouterr().err
    assert "different caches" in err and len(err.strip().splitlines()) == 1
    wall = tmp_path / "wall.json"
    wall.write_text(json.dumps({"benchmarks": [{"name": "x", "extra_info": {}}]}))
    assert compare.main([str(base), str(wall), "--config", config]) == 2
    assert "not an instruction-count run" in capsys.readouterr().err


@pytest.mark.parametrize("edit, problem", [
    (lambda r: r["benchmarks"][0]["extra_info"]["counts"].update(Ir=-1), "counts.Ir is -1"),
    (lambda r: r["benchmarks"][0]["extra_info"]["counts"].update(D1mr=1.5), "counts.D1mr"),
    (lambda r: r["benchmarks"][0]["extra_info"]["counts"].pop("DLmw"), "counts.DLmw is missing"),
    (lambda r: r["benchmarks"][0]["extra_info"].update(calls=0), "calls is 0"),
    (lambda r: r["benchmarks"].append(r["benchmarks"][0]), "appears twice"),
    (lambda r: r["vecbench"]["instructions"]["cost"].update(l1_miss_weight=20), "weights"),
    (lambda r: r.update(benchmarks=[]), "no benchmarks"),
])
def test_a_bad_instruction_run_is_refused_naming_the_field(tmp_path, edit, problem):
    path = _run(tmp_path / "run.json", BASE)
    run = json.loads(path.read_text())
    edit(run)
    path.write_text(json.dumps(run))
    with pytest.raises(ReportError, match=problem) as info:
        counts.load_counts(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_the_report_says_it_is_an_instruction_run_and_draws_no_times(tmp_path, capsys):
    run = _run(tmp_path / "run.json", BASE)
    with pytest.raises(ReportError, match="an instruction-count run"):
        load_run(run)
    assert counts.main([str(run), "--out", str(tmp_path / "out")]) == 0
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "Mode: instruction counts" in summary and "not times" in summary
    assert "a-numba-loop-n100-C" in summary and "built with -march=native" in summary
    assert "<h1>vecbench: instruction counts</h1>" in (tmp_path / "out" / "index.html").read_text()


# --------------------------------------------------------------------------
# What the instruction mode needs, runs and pins
# --------------------------------------------------------------------------
def test_without_valgrind_or_its_headers_it_refuses_in_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(callgrind, "valgrind", lambda: None)
    assert instructions.main(["--installed", "--out", "x.json"]) == 2
    err = capsys.readouterr().err.strip()
    assert "valgrind is not installed" in err and "apt-get install valgrind" in err
    assert len(err.splitlines()) == 1 and not (tmp_path / "x.json").exists()

    monkeypatch.setattr(callgrind, "valgrind", lambda: "/usr/bin/valgrind")
    from bench import _callgrind

    monkeypatch.setattr(_callgrind, "HEADERS", False)
    assert instructions.main(["--installed", "--out", "x.json"]) == 2
    err = capsys.readouterr().err.strip()
    assert "valgrind's headers" in err and "Debian's valgrind package" in err
    assert len(err.splitlines()) == 1


def test_both_processes_get_the_same_pinned_environment(tmp_path):
    env = instructions.environment(tmp_path, tmp_path / "site",
                                   base={"NUMBA_OPT": "0", "VECBENCH_SIMD": "avx512",
                                         "PYTHONPATH": "/elsewhere", "HOME": "/home/x"})
    assert env["PYTHONHASHSEED"] == "0" and env["VECBENCH_SIMD"] == "avx2"
    assert env["NUMBA_CPU_NAME"] == "haswell" and "-avx512f" in env["NUMBA_CPU_FEATURES"]
    assert env["NUMBA_CACHE_DIR"] == str(tmp_path / "numba-cache")
    assert env["PYTHONPATH"] == str(tmp_path / "site") and env["HOME"] == "/home/x"
    assert "NUMBA_OPT" not in env and env["OPENBLAS_NUM_THREADS"] == "1"
    assert env["MALLOC_MMAP_THRESHOLD_"] == str(os.sysconf("SC_PAGE_SIZE"))


def test_the_profile_keeps_the_loop_orders_and_leaves_threads_out():
    plan = instructions.plan()
    benchmarks, absent = child.resolve(plan, [])
    ids = {b["id"] for b in benchmarks}
    for backend in ("numba",):
        assert f"col_sums-{backend}-row_streaming-n2048-C" in ids
        assert f"col_sums-{backend}-column_at_a_time-n2048-C" in ids
        assert f"row_sums-{backend}-column_streaming-n2048-C" in ids
        assert f"col_sums-{backend}-row_streaming-n512-F" in ids
    assert {b["size"] for b in benchmarks if b["backend"] == "python"} <= {24, 64, 2000}
    assert not any("parallel" in i for i in ids)
    benchmarks, absent = child.resolve(instructions.plan(kernels=["magnitude"],
                                                         backends=["numba"],
                                                         variants=["parallel"]), [])
    assert not benchmarks
    assert [(a["benchmark"], a["reason"]) for a in absent] == [
        ("magnitude-numba-parallel", "not_applicable")]
    assert "wall-clock gate" in absent[0]["detail"]


def test_a_call_of_little_work_is_warmed_up_more():
    plan = instructions.plan()
    small = {"kernel": "magnitude", "size": 2000}
    large = {"kernel": "col_sums", "size": 2048}
    assert child.warmups(small, plan) == instructions.WARMUPS > child.warmups(large, plan) == 2


# --------------------------------------------------------------------------
# Under valgrind
# --------------------------------------------------------------------------
MODULE = '''
"""Kernels registered only by test_instructions.py."""
from dataclasses import replace

import numba

from kernels import spec
from kernels.backends import numba_jit
from kernels.backends.numba_options import njit

EXTRA_PER_50 = {extra}

SPECS = [replace(spec("sum_of_squares"), name="vb_work", ladders={{"quick": (100_000,)}}),
         replace(spec("col_sums"), name="vb_colsums", ladders={{"quick": (512,)}})]


@njit({{}})
def work(x):
    n = x.shape[0]
    s = 0.0
    for i in range(n):
        s += x[i] * x[i]
    t = 0.0
    for i in range(n * EXTRA_PER_50 // 50):  # the same loop again over 2% of x
        t += x[i] * x[i]
    return s + 0.0 * t


IMPLEMENTATIONS = {{
    ("vb_work", "numba", "loop"): work,
    ("vb_colsums", "numba", "row_streaming"): numba_jit.{colsums},
}}
'''


@pytest.fixture
def valgrind_ready():
    """Fail, saying what to install, where valgrind or its headers are missing."""
    try:
        instructions.check_tools()
    except instructions.InstructionError as exc:
        pytest.fail(f"the instruction mode's tests need valgrind: {exc}")


def test_counts_are_repeatable_and_changes_are_flagged(valgrind_ready, tmp_path):
    """Three runs at once: the base module twice (A/A), then its 2%-more-work and
    column-order version; the A/A counts are identical, both changes are flagged."""
    base, new = tmp_path / "base_kernels.py", tmp_path / "new_kernels.py"
    base.write_text(MODULE.format(extra=0, colsums="col_sums_row_streaming"))
    new.write_text(MODULE.format(extra=1, colsums="col_sums_column_at_a_time"))
    jobs = {name: subprocess.Popen(
        [sys.executable, "-m", "bench.instructions", "--installed", "--kernels", str(source),
         "--backend", "numba", "--out", f"{name}.json"], cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for name, source in (("a1", base), ("a2", base), ("b", new))}
    for name, job in jobs.items():
        output, _ = job.communicate(timeout=1200)
        assert job.returncode == 0, f"{name}: exit {job.returncode}:\n{output[-3000:]}"

    a1, a2, b = (counts.load_counts(tmp_path / f"{n}.json") for n in ("a1", "a2", "b"))
    names = {"vb_work-numba-loop-n100000-C", "vb_colsums-numba-row_streaming-n512-C"}
    assert set(a1.counts) == set(a2.counts) == set(b.counts) == names
    for name in names:  # identical code, identical counts: every event
        assert a1.counts[name].counts == a2.counts[name].counts, name
    for run in (a1, a2, b):  # Numba's code came from its cache, compiled outside valgrind
        raw = json.loads(run.path.read_text())
        assert {x["extra_info"]["jit_cache"] for x in raw["benchmarks"]} == {"hit"}

    settings = compare.Settings()
    assert all(r.verdict == "unchanged" and r.ratio == 1.0
               for r in counts.compare_counts([a1], [a2], settings))
    rows = {r.benchmark: r for r in counts.compare_counts([a1], [b], settings)}
    work = rows["vb_work-numba-loop-n100000-C"]
    assert work.verdict == "worse" and 1.01 < work.ratio < 1.03, work
    order = rows["vb_colsums-numba-row_streaming-n512-C"]
    assert order.verdict == "worse" and order.ratio > 1.5, order
    # The column order misses the first-level cache at every element (a row is 4 KiB:
    # a column's elements all fall in one set): the misses, more than the
    # instructions, make its cost.
    assert order.new.per_call(callgrind.L1_MISSES) > 4 * order.base.per_call(callgrind.L1_MISSES)
    assert order.ratio > 1.5 * order.new.per_call(("Ir",)) / order.base.per_call(("Ir",))
    assert compare.main([str(a1.path), str(b.path), "--config",
                         str(tmp_path / "none.toml")]) == 1


def test_numba_kernels_get_cached_twins_and_the_project_s_stay_uncached():
    """A dispatcher, or a wrapper holding one in its closure (magnitude: the result
    NumPy allocates), gets a twin compiled with cache=True from the same function;
    the project's own dispatchers are left as they are (bench_jit times compiles)."""
    import kernels

    plain = kernels.implementation("sum_of_squares", "numba").core
    twin, twins = child.cached_core(plain)
    assert twins == [twin] and twin is not plain and twin.py_func is plain.py_func
    wrapper = kernels.implementation("magnitude", "numba").core
    rebuilt, (inner,) = child.cached_core(wrapper)
    original = [c.cell_contents for c in wrapper.__closure__ if hasattr(c.cell_contents,
                                                                         "py_func")]
    assert rebuilt is not wrapper and rebuilt.__code__ is wrapper.__code__
    assert inner in [c.cell_contents for c in rebuilt.__closure__]
    assert inner.py_func is original[0].py_func and inner is not original[0]
    assert child.cached_core(kernels.implementation("magnitude", "numpy").core) == (None, [])


def test_a_bad_kernel_source_is_refused_in_one_line(valgrind_ready, tmp_path, capsys,
                                                     monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert instructions.main(["--installed", "--kernels", "missing.py", "--out", "x.json"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {tmp_path / 'missing.py'}: no such file"
    assert not (tmp_path / "x.json").exists()


def test_the_valgrind_build_drops_the_build_constraint(tmp_path, monkeypatch):
    """make sets PIP_BUILD_CONSTRAINT; pip refuses it with --no-build-isolation."""
    seen = {}

    def fake_run(cmd, log, what, cwd, env):
        seen.update(cmd=cmd, env=env)
        (tmp_path / "site" / "kernels").mkdir(parents=True)

    monkeypatch.setenv("PIP_BUILD_CONSTRAINT", str(tmp_path / "lock"))
    monkeypatch.setenv("PIP_CONSTRAINT", str(tmp_path / "lock"))
    monkeypatch.setattr(instructions, "_run_logged", fake_run)
    instructions.build(tmp_path, tmp_path / "site", tmp_path / "log")
    assert "--no-build-isolation" in seen["cmd"]
    assert "PIP_BUILD_CONSTRAINT" not in seen["env"]
    assert seen["env"]["VECBENCH_MARCH"] == instructions.MARCH


def test_the_first_call_tells_a_cache_load_from_a_compile(tmp_path, monkeypatch):
    """Numba's documented event API tells them apart: a twin loaded from the
    cache (filled by another process) is a "hit", one compiled here a "miss"."""
    import numpy as np

    (tmp_path / "vb_twin.py").write_text(textwrap.dedent("""
        import numba

        @numba.njit(cache=True)
        def cached(x):
            return x.sum() * 2.0

        @numba.njit
        def fresh(x):
            return x.sum() * 3.0
        """))
    subprocess.run([sys.executable, "-c", "import numpy, vb_twin; "
                    "vb_twin.cached(numpy.ones(4))"], cwd=tmp_path, check=True)
    monkeypatch.syspath_prepend(str(tmp_path))
    import vb_twin

    x = np.ones(4)
    assert child.first_call(vb_twin.cached, (x,), [vb_twin.cached]) == (8.0, "hit")
    assert child.first_call(vb_twin.fresh, (x,), [vb_twin.fresh]) == (12.0, "miss")
    assert child.first_call(np.sum, (x,), []) == (4.0, None)

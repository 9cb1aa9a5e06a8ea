"""The allocator regimes (bench/allocator.py), the fresh-pages benchmark and
``python -m bench.regime_check`` (no timing thresholds: the machine is shared)."""

from __future__ import annotations

import itertools
import json
import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bench import allocator, pace, regime_check

ROOT = Path(__file__).resolve().parent.parent
GLIBC = platform.libc_ver()[0] == "glibc" and allocator.mallinfo() is not None
needs_glibc = pytest.mark.skipif(not GLIBC, reason="needs glibc's mallopt and mallinfo")
MB8 = 1_000_000  # float64 elements: an 8 MB array


@pytest.fixture
def default_after(monkeypatch):
    """Put the session's default regime back after a test that changes it."""
    yield
    monkeypatch.undo()
    allocator.apply(allocator.DEFAULT)


def _child(code: str, env: dict[str, str] | None = None) -> dict:
    """Run ``code`` in a fresh Python (no MALLOC_* inherited); its last line is JSON."""
    base = {k: v for k, v in os.environ.items()
            if not (k.startswith("MALLOC_") or k == "GLIBC_TUNABLES")}
    base["PYTHONPATH"] = str(ROOT)
    base.update(env or {})
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=base, cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------
# The regimes are applied (observed with mallinfo2 in a child process)
# --------------------------------------------------------------------------
@needs_glibc
def test_warm_keeps_a_freed_block_in_the_heap():
    out = _child(f"""
        import json
        import numpy as np
        from bench import allocator
        assert allocator.apply("warm")
        before = allocator.mallinfo()
        a = np.ones({MB8})
        live = allocator.mallinfo()
        del a
        after = allocator.mallinfo()
        print(json.dumps({{"before": before, "live": live, "after": after}}))
    """)
    before, live, after = out["before"], out["live"], out["after"]
    assert live["hblks"] == before["hblks"]  # a heap block, not a mapping
    assert live["uordblks"] - before["uordblks"] >= 8 * MB8
    # Freed, it stays in the heap: the heap did not shrink, its free bytes grew.
    assert after["arena"] >= live["arena"]
    assert after["fordblks"] - live["fordblks"] >= 0.99 * 8 * MB8


@needs_glibc
def test_fresh_maps_a_live_block_even_after_warm_left_free_heap():
    # The warm heap holds a free 8 MB block first: "fresh" must not reuse it.
    out = _child(f"""
        import json
        import numpy as np
        from bench import allocator
        assert allocator.apply("warm")
        a = np.ones({MB8}); del a
        heap_free = allocator.mallinfo()["fordblks"]
        with allocator.regime("fresh") as done:
            assert done and allocator.current() == "fresh"
            before = allocator.mallinfo()
            b = np.ones({MB8})
            live = allocator.mallinfo()
            del b
            freed = allocator.mallinfo()
        back = allocator.current()
        before_warm = allocator.mallinfo()
        c = np.ones({MB8})
        warm = allocator.mallinfo()
        print(json.dumps({{"heap_free": heap_free, "before": before, "live": live,
                           "freed": freed, "back": back, "before_warm": before_warm,
                           "warm": warm}}))
    """)
    assert out["heap_free"] >= 8 * MB8
    before, live, freed = out["before"], out["live"], out["freed"]
    assert live["hblks"] == before["hblks"] + 1
    assert live["hblkhd"] - before["hblkhd"] >= 8 * MB8
    assert freed["hblks"] == before["hblks"]  # unmapped when freed
    # Back in "warm": a new 8 MB block comes from the heap again.
    assert out["back"] == "warm"
    assert out["warm"]["hblks"] == out["before_warm"]["hblks"]


@needs_glibc
@pytest.mark.parametrize("regime", ["warm", "fresh"])
def test_environment_form_sets_the_same_regime(regime):
    out = _child(f"""
        import json
        import numpy as np
        from bench import allocator
        before = allocator.mallinfo()
        a = np.ones({MB8})
        print(json.dumps({{"mapped": allocator.mallinfo()["hblks"] - before["hblks"]}}))
    """, env=allocator.environment(regime))
    assert out["mapped"] == (1 if regime == "fresh" else 0)


def test_environment_form_equals_the_mallopt_table():
    for name, params in allocator.REGIMES.items():
        env = allocator.environment(name)
        assert env == {allocator.ENV_NAMES[p]: str(v) for p, v in params.items()}
        assert all(p in allocator.PARAMS for p in params)
    # Every regime sets the same parameters: applying one undoes any other.
    keys = {frozenset(p) for p in allocator.REGIMES.values()}
    assert len(keys) == 1
    assert allocator.PARAMS == {"M_TRIM_THRESHOLD": -1, "M_TOP_PAD": -2,
                                "M_MMAP_THRESHOLD": -3, "M_MMAP_MAX": -4, "M_ARENA_MAX": -8}
    with pytest.raises(ValueError, match="unknown allocator regime"):
        allocator.environment("tepid")


@needs_glibc
def test_the_session_runs_in_the_default_regime():
    # Root conftest.py applies it in pytest_configure.
    assert allocator.current() == allocator.DEFAULT
    rec = allocator.record()
    assert rec == {"controlled": True, "how": "glibc mallopt", "default": "warm",
                   "regimes": allocator.REGIMES, "why": None,
                   "transparent_hugepages": allocator.transparent_hugepages(),
                   "huge_pages": {"warm": "kernel", "fresh": "off"}, "huge_pages_why": None}
    json.dumps(rec)


# --------------------------------------------------------------------------
# Where the allocator cannot be controlled (forced here)
# --------------------------------------------------------------------------
def test_not_glibc_records_controlled_false(monkeypatch, default_after):
    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("", ""))
    assert allocator.apply("warm") is False
    rec = allocator.record()
    assert rec["controlled"] is False and rec["how"] == "none"
    assert "not glibc" in rec["why"]
    assert rec["default"] == "warm" and rec["regimes"] == allocator.REGIMES
    assert allocator.current() is None and allocator.label() == "uncontrolled"
    with allocator.regime("fresh") as done:  # nothing raises
        assert done is False
    assert allocator.why_not() == rec["why"]


def test_mallopt_missing_or_refusing_records_why(monkeypatch, default_after):
    def missing():
        raise allocator.AllocatorError("glibc 2.x: mallopt not found (undefined symbol)")

    monkeypatch.setattr(allocator, "load_mallopt", missing)
    assert allocator.apply("fresh") is False
    assert "mallopt not found" in allocator.record()["why"]

    monkeypatch.setattr(allocator, "load_mallopt", lambda: lambda param, value: 0)
    assert allocator.apply("warm") is False
    rec = allocator.record()
    assert rec["controlled"] is False
    assert "refused" in rec["why"] and "returned 0" in rec["why"]


def test_fresh_pages_benchmark_skips_when_uncontrolled(monkeypatch, default_after):
    from bench import bench_kernels

    case = _case("magnitude", "numpy", "vectorized", 100_000)
    monkeypatch.setattr(allocator, "load_mallopt", lambda: lambda param, value: 0)
    with pytest.raises(pytest.skip.Exception, match="not applicable"):
        bench_kernels.test_kernel_fresh_pages(_FakeBenchmark(), case, _quick())


# --------------------------------------------------------------------------
# The fresh-pages benchmark
# --------------------------------------------------------------------------
class _FakeBenchmark:
    """Stands in for pytest-benchmark's fixture: calls once, sees the regime."""

    def __init__(self, fail: bool = False) -> None:
        self.extra_info: dict = {}
        self.fail = fail
        self.regime_seen: str | None = None

    def __call__(self, func, *args):
        self.regime_seen = allocator.current()
        func(*args)
        if self.fail:
            raise RuntimeError("the benchmark failed")


def _case(kernel: str, backend: str, variant: str, n: int):
    import kernels
    from bench.grid import Case

    return Case(kernels.implementation(kernel, backend, variant), n, "C")


def _quick():
    from bench.grid import PROFILES

    return PROFILES["quick"]


@needs_glibc
@pytest.mark.parametrize("fail", [False, True])
def test_fresh_pages_benchmark_restores_the_default(fail):
    from bench import bench_kernels

    bench = _FakeBenchmark(fail=fail)
    case = _case("magnitude", "numpy", "vectorized", 100_000)
    if fail:
        with pytest.raises(RuntimeError, match="the benchmark failed"):
            bench_kernels.test_kernel_fresh_pages(bench, case, _quick())
    else:
        bench_kernels.test_kernel_fresh_pages(bench, case, _quick())
    assert bench.regime_seen == "fresh"
    assert bench.extra_info["allocator"] == "fresh"
    assert allocator.current() == allocator.DEFAULT


def test_fresh_pages_benchmark_skips_what_allocates_under_a_page():
    from bench import bench_kernels

    bench = _FakeBenchmark()
    case = _case("sum_of_squares", "numpy", "in_place", 100_000)  # einsum: no temporary
    with pytest.raises(pytest.skip.Exception, match=r"^not applicable"):
        bench_kernels.test_kernel_fresh_pages(bench, case, _quick())
    assert bench.regime_seen is None
    assert allocator.current() == (allocator.DEFAULT if GLIBC else None)


# --------------------------------------------------------------------------
# python -m bench.regime_check
# --------------------------------------------------------------------------
def _bench(kernel: str, regime: str, median: float, variant: str = "vectorized") -> dict:
    return {
        "name": f"test_kernel[{kernel}-numpy-{variant}-n1000000-C]",
        "stats": {"median": median, "q1": median, "q3": median, "rounds": 5},
        "extra_info": {"measure": "steady", "kernel": kernel, "backend": "numpy",
                       "variant": variant, "size": 1_000_000, "layout": "C", "threads": 1,
                       "allocator": regime},
    }


def _run_file(tmp_path: Path, benches: list[dict], declaration: dict | None = None) -> Path:
    doc = {"benchmarks": benches,
           "vecbench": {"allocator": declaration if declaration is not None else {
               "controlled": True, "how": "glibc mallopt", "default": "warm",
               "regimes": allocator.REGIMES, "why": None}}}
    path = tmp_path / "run.json"
    path.write_text(json.dumps(doc))
    return path


HARNESS = {("magnitude", "warm"): 3e-3, ("magnitude", "fresh"): 7e-3,
           ("sum_sq_sin", "warm"): 25e-3, ("sum_sq_sin", "fresh"): 26e-3}


def _synthetic(tmp_path: Path) -> Path:
    benches = [_bench(k, r, m) for (k, r), m in HARNESS.items()]
    benches.append(_bench("magnitude", "warm", 1.0, variant="in_place"))  # not the one asked
    return _run_file(tmp_path, benches)


def test_regime_check_agrees(tmp_path, capsys):
    seen = []

    def fake(target, repeat):
        seen.append(target)
        return HARNESS[target.kernel, target.regime] * 1.1  # 10% apart: agrees

    assert regime_check.main([str(_synthetic(tmp_path))], measure=fake) == 0
    out = capsys.readouterr().out
    assert "| kernel | regime | harness median | timeit median | ratio | agrees within 15% |" in out
    assert "| magnitude | fresh | 7 ms | 7.7 ms | 0.91 | yes |" in out
    assert {(t.kernel, t.regime) for t in seen} == set(HARNESS)
    # Each child gets its regime's environment and one thread.
    for t in seen:
        assert t.env == allocator.environment(t.regime)
        env = regime_check.child_environment(t)
        assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "1"
        assert env["MALLOC_MMAP_THRESHOLD_"] == str(
            allocator.REGIMES[t.regime]["M_MMAP_THRESHOLD"])


def test_regime_check_disagrees(tmp_path, capsys):
    def fake(target, repeat):
        m = HARNESS[target.kernel, target.regime]
        return m * 0.5 if (target.kernel, target.regime) == ("magnitude", "fresh") else m

    assert regime_check.main([str(_synthetic(tmp_path))], measure=fake) == 1
    out = capsys.readouterr().out
    assert "| magnitude | fresh | 7 ms | 3.5 ms | 2.00 | no |" in out
    assert "| magnitude | warm | 3 ms | 3 ms | 1.00 | yes |" in out


def test_regime_check_shows_page_faults_beside(tmp_path, capsys):
    benches = [_bench(k, r, m) for (k, r), m in HARNESS.items()]
    for b in benches:
        b["extra_info"]["minor_faults_per_call"] = 0 if b["extra_info"]["allocator"] == "warm" \
            else 1263
    path = _run_file(tmp_path, benches)

    def fake(target, repeat):
        return HARNESS[target.kernel, target.regime], (0 if target.regime == "warm" else 842)

    assert regime_check.main([str(path)], measure=fake) == 0
    out = capsys.readouterr().out
    assert "magnitude warm 0 / 0" in out and "sum_sq_sin fresh 1263 / 842" in out


def test_regime_check_compares_the_median_of_fresh_processes(tmp_path, capsys):
    calls: dict[tuple[str, str], int] = {}

    def fake(target, repeat):  # the second process of each target is an outlier
        key = (target.kernel, target.regime)
        calls[key] = calls.get(key, 0) + 1
        return HARNESS[key] * (1.5 if calls[key] == 2 else 1.05)

    assert regime_check.main([str(_synthetic(tmp_path))], measure=fake) == 0
    assert set(calls.values()) == {3}
    out = capsys.readouterr().out
    assert "| magnitude | fresh | 7 ms | 7.35 ms | 0.95 | yes | 3: 7.35 ms to 10.5 ms |" in out
    calls.clear()
    assert regime_check.main([str(_synthetic(tmp_path)), "--processes", "1"], measure=fake) == 0
    assert set(calls.values()) == {1}
    assert regime_check.main([str(_synthetic(tmp_path)), "--processes", "0"], measure=fake) == 2


def test_regime_check_begins_each_process_at_the_machine_s_pace(tmp_path, capsys):
    """A slow spell (probes 1.5x their best) is waited out before a timeit
    process, as before the harness's rounds; the pace around each is shown."""
    clock = [0.0]
    slow_until = [0.0]
    started: list[float] = []

    def probe():  # seconds of the pace's fixed work now
        return 1.5e-3 if clock[0] < slow_until[0] else 1e-3

    def sleep(seconds):
        clock[0] += seconds

    machine = pace.Pace(share=1.0, measure=probe, clock=lambda: clock[0], sleep=sleep,
                        wait=regime_check.SETTLE_WAIT)

    def fake(target, repeat):
        started.append(clock[0])
        clock[0] += 1.0
        if len(started) == 2:
            slow_until[0] = clock[0] + 3.0  # a 3 s spell begins after the second process
        return HARNESS[target.kernel, target.regime]

    assert regime_check.main([str(_synthetic(tmp_path)), "--processes", "1"], measure=fake,
                             machine=machine) == 0
    out = capsys.readouterr().out
    assert "as timeit's processes began (slowest) |" in out
    assert started[2] - started[1] >= 1.0 + 3.0 - pace.STEP  # waited out the spell
    assert machine.waits == 1
    assert "| sum_sq_sin | warm | 25 ms | 25 ms | 1.00 | yes | 1: 25 ms to 25 ms | " \
           "not recorded | 1.00 |" in out
    assert "(slow)" not in out
    # A machine that stays slow is not waited on beyond SETTLE_WAIT a process.
    started.clear()
    slow_until[0] = 1e9
    assert regime_check.main([str(_synthetic(tmp_path)), "--processes", "1"], measure=fake,
                             machine=machine) == 0
    gaps = [b - a for a, b in itertools.pairwise(started)]
    assert 1.0 + regime_check.SETTLE_WAIT - 2 * pace.STEP < max(gaps)
    assert max(gaps) <= 1.0 + regime_check.SETTLE_WAIT + pace.STEP
    out = capsys.readouterr().out
    assert "| 1.50 (slow) |" in out and "(slow): the machine ran more than" in out


@needs_glibc
def test_faults_per_call_tell_the_regimes_apart():
    import numpy as np

    x = np.ones(MB8)
    assert allocator.faults_per_call(np.sqrt, (x,)) == 0  # warm: the heap's pages
    with allocator.regime("fresh"):
        assert allocator.faults_per_call(np.sqrt, (x,)) > 100  # fresh pages fault
    assert allocator.current() == allocator.DEFAULT


LINUX = sys.platform.startswith("linux")
needs_linux = pytest.mark.skipif(not LINUX, reason="transparent huge pages are Linux's")


# --------------------------------------------------------------------------
# Transparent huge pages: off in "fresh", left to the kernel in "warm"
# --------------------------------------------------------------------------
@needs_linux
def test_fresh_turns_huge_pages_off_and_warm_gives_them_back(default_after):
    assert allocator.apply("warm") and allocator.huge_pages_allowed() is True
    with allocator.regime("fresh"):
        assert allocator.huge_pages_allowed() is False
        rec = allocator.record()
    assert allocator.huge_pages_allowed() is True
    assert rec["huge_pages"] == {"warm": "kernel", "fresh": "off"}
    assert rec["huge_pages_why"] is None


@needs_glibc
@needs_linux
def test_fresh_pages_are_4k_pages_wherever_the_block_lands():
    """With huge pages allowed (kernel mode madvise or always), NumPy's 8 MB
    block faults 2 MiB at a time over the aligned regions it covers: a few
    hundred faults.  In "fresh" every 4 KiB page faults, whatever the layout."""
    import numpy as np

    pages = 8 * MB8 // allocator.PAGE
    with allocator.regime("fresh"):
        for _ in range(3):  # blocks landing at different addresses
            keep = np.empty(MB8 // 3)  # moves where the next block lands
            faults = allocator.faults_per_call(np.ones, (MB8,))
            assert pages - 5 <= faults <= pages + 20, faults
            del keep


def test_huge_pages_that_cannot_be_set_leave_the_regime_and_say_why(monkeypatch,
                                                                     default_after):
    def missing():
        raise allocator.AllocatorError("not Linux (darwin): no prctl to turn transparent "
                                       "huge pages off")

    monkeypatch.setattr(allocator, "load_prctl", missing)
    assert allocator.huge_pages_allowed() is None
    if GLIBC:
        assert allocator.apply("fresh") is True and allocator.current() == "fresh"
        rec = allocator.record()
        assert rec["controlled"] is True and rec["huge_pages"] is None
        assert "no prctl" in rec["huge_pages_why"]

    monkeypatch.setattr(allocator, "load_prctl", lambda: lambda *args: -1)
    if GLIBC:
        assert allocator.apply("fresh") is True
        assert "PR_SET_THP_DISABLE, 1) refused" in allocator.record()["huge_pages_why"]
    with pytest.raises(allocator.AllocatorError, match="refused"):
        allocator.set_huge_pages(False)


def test_regime_check_child_sets_the_runs_huge_pages(tmp_path, capsys):
    decl = {"controlled": True, "how": "glibc mallopt", "default": "warm",
            "regimes": allocator.REGIMES, "why": None,
            "huge_pages": {"warm": "kernel", "fresh": "off"}}
    path = _run_file(tmp_path, [_bench(k, r, m) for (k, r), m in HARNESS.items()], decl)
    seen = {}

    def fake(target, repeat):
        seen[target.kernel, target.regime] = target.huge_pages
        return HARNESS[target.kernel, target.regime], 1954
    assert regime_check.main([str(path)], measure=fake) == 0
    assert seen[("magnitude", "fresh")] == "off" and seen[("magnitude", "warm")] == "kernel"
    assert "magnitude fresh (huge pages off) - / 1954" in capsys.readouterr().out
    # An older run without the field: the child leaves them as they are.
    path = _synthetic(tmp_path)
    assert regime_check.main([str(path)], measure=fake) == 0
    assert set(seen.values()) == {None}


@needs_linux
def test_regime_check_child_turns_huge_pages_off_itself(monkeypatch):
    """The real child: told "off", it reports them off, whatever its parent had."""
    captured = {}
    real_run = subprocess.run

    def spy(argv, **kw):
        done = real_run(argv, **kw)
        captured["out"] = done.stdout
        return done

    monkeypatch.setattr(regime_check.subprocess, "run", spy)
    target = regime_check.Target("magnitude", "numpy", "vectorized", 1000, "C", 1, None,
                                 "fresh", allocator.environment("fresh"), 1.0,
                                 huge_pages="off")
    regime_check.measure_in_child(target, 1)
    assert json.loads(captured["out"].strip().splitlines()[-1])["huge_pages"] is False
    target = regime_check.Target("magnitude", "numpy", "vectorized", 1000, "C", 1, None,
                                 "warm", allocator.environment("warm"), 1.0,
                                 huge_pages="kernel")
    regime_check.measure_in_child(target, 1)
    assert json.loads(captured["out"].strip().splitlines()[-1])["huge_pages"] is True


def test_regime_check_shows_the_machine_s_pace_around_the_harness_rounds(tmp_path, capsys):
    benches = [_bench(k, r, m) for (k, r), m in HARNESS.items()]
    for b in benches:
        slow = (b["extra_info"]["kernel"], b["extra_info"]["allocator"]) == ("sum_sq_sin", "fresh")
        b["extra_info"]["state"] = {"pace_before": 1.1, "pace_after": 1.5 if slow else 1.02}
    path = _run_file(tmp_path, benches)
    assert regime_check.main([str(path)], measure=lambda t, r: HARNESS[t.kernel, t.regime]) == 0
    out = capsys.readouterr().out
    assert "| machine's pace around the harness's rounds |" in out
    assert ("| sum_sq_sin | fresh | 26 ms | 26 ms | 1.00 | yes | 3: 26 ms to 26 ms | "
            "1.10 / 1.50 (slow) |") in out
    assert "| magnitude | warm | 3 ms | 3 ms | 1.00 | yes | 3: 3 ms to 3 ms | 1.10 / 1.02 |" in out
    assert "(slow): the machine ran more than 1.15x slower" in out
    regime_check.main([str(_synthetic(tmp_path))], measure=lambda t, r: HARNESS[t.kernel, t.regime])
    out = capsys.readouterr().out
    assert "| not recorded |" in out and "(slow)" not in out


def test_regime_check_child_strips_inherited_malloc_settings(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=1")
    target = regime_check.Target("magnitude", "numpy", "vectorized", 10, "C", 1, None,
                                 "fresh", allocator.environment("fresh"), 1.0)
    env = regime_check.child_environment(target)
    assert "MALLOC_ARENA_MAX" not in env and "GLIBC_TUNABLES" not in env
    assert {k: env[k] for k in target.env} == target.env


def _never(target, repeat):
    raise AssertionError("no timing on unusable input")


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ("{not json", "not JSON"),
    ("[]", "not a pytest-benchmark run"),
    (json.dumps({"benchmarks": [_bench("magnitude", "warm", 1e-3)]}), "no allocator regime"),
    (json.dumps({"benchmarks": [], "vecbench": {"allocator": {
        "controlled": False, "how": "none", "default": "warm", "regimes": {},
        "why": "the C library is not glibc"}}}), "not controlled in this run"),
    (json.dumps({"benchmarks": [_bench("magnitude", "warm", 1e-3)], "vecbench": {"allocator": {
        "controlled": True, "how": "glibc mallopt", "default": "warm",
        "regimes": {"warm": {"M_MMAP_THRESHOLD": "big"}}, "why": None}}}),
     "not a table of mallopt parameters"),
])
def test_regime_check_exit_2_on_a_bad_file(tmp_path, capsys, content, message):
    path = tmp_path / "run.json"
    if content is not None:
        path.write_text(content)
    assert regime_check.main([str(path)], measure=_never) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_regime_check_exit_2_on_a_missing_benchmark_or_bad_impl(tmp_path, capsys):
    path = _run_file(tmp_path, [_bench("magnitude", "warm", 3e-3)])  # no fresh, no sum_sq_sin
    assert regime_check.main([str(path)], measure=_never) == 2
    err = capsys.readouterr().err
    assert "magnitude (fresh)" in err and "sum_sq_sin (warm)" in err
    assert len(err.strip().splitlines()) == 1
    assert regime_check.main([str(path), "--impl", "numpy"], measure=_never) == 2
    assert "backend/variant" in capsys.readouterr().err

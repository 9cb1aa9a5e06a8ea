"""Per-kernel facts from the run, slices of the grid, the first look, and --baseline."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
from test_report_helpers import KERNELS, VECTOR_SIZES, synthetic_run, write_run

from kernels.specs import SPECS
from reports import compute, history, tables
from reports.__main__ import main
from reports.baselines import Baseline, parse
from reports.load import KernelFacts, ReportError, load_run

#: A kernel the report knows only from the run (as an external module defines it).
SCALE2 = {"scale2": dict(sizes=VECTOR_SIZES, layouts=("C",), loops=("loop",),
                         numpy="vectorized", bytes=lambda n: 16 * n, flops=lambda n: n)}
SCALE2_FACTS = {"summary": "a * 2 into a new array", "params": [["a", "vector"]],
                "seed_size": 4096, "memory_size": 4096, "history_size": 1024,
                "ceiling": "read_bandwidth", "origin": "examples/scale2.py"}


def _record(doc: dict, profile: str = "quick", selection: dict | None = None,
            facts: dict | None = None) -> dict:
    """``doc`` with the run's own record: profile, selection, kernels' facts."""
    doc["vecbench"] = {"version": 1, "profile": profile, "absent": []}
    if selection is not None:
        doc["vecbench"]["selection"] = selection
    if facts is not None:
        doc["vecbench"]["kernels"] = facts
    return doc


def _external(profile: str = "quick") -> dict:
    doc = synthetic_run(kernels=SCALE2)
    doc["machine_info"]["vecbench"]["caches"] = {"L1d": 1024, "L2": 4096, "L3": 16384}
    return _record(doc, profile, {"kernels": ["scale2"], "backends": None, "variants": None,
                                  "sizes": None, "sources": ["examples/scale2.py"]},
                   {"scale2": copy.deepcopy(SCALE2_FACTS)})


def _report(tmp_path: Path, doc: dict, *args: str) -> tuple[str, str]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    run = write_run(tmp_path / "run.json", doc)
    assert main([str(run), "--out", str(tmp_path / "out"), *args]) == 0
    return ((tmp_path / "out" / "summary.md").read_text(encoding="utf-8"),
            (tmp_path / "out" / "index.html").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------
# Loading the facts
# --------------------------------------------------------------------------
def test_facts_come_from_the_run(tmp_path):
    doc = _external()
    run = load_run(write_run(tmp_path / "run.json", doc))
    assert list(run.kernels) == ["scale2"]
    assert run.kernels["scale2"] == KernelFacts(
        name="scale2", summary="a * 2 into a new array", params=(("a", "vector"),),
        seed_size=4096, memory_size=4096, history_size=1024, ceiling="read_bandwidth",
        origin="examples/scale2.py", source="run")
    assert run.profile == "quick"
    assert run.selection.kernels == ("scale2",) and run.selection.backends is None
    assert run.selection.sources == ("examples/scale2.py",)
    assert compute.seed_size(run, "scale2") == 4096
    assert compute.roof(run, "scale2").ceiling == "read_bandwidth"


def test_old_run_falls_back_to_the_built_in_specs(tmp_path):
    run = load_run(write_run(tmp_path / "old.json", synthetic_run()))
    assert run.selection is None and run.profile == ""
    assert list(run.kernels) == ["magnitude", "sum_of_squares", "row_sums", "col_sums",
                                 "matmul", "sum_sq_sin"]
    for name, facts in run.kernels.items():
        spec = SPECS[name].facts()
        assert facts.source == "spec"
        assert (facts.seed_size, facts.history_size, facts.ceiling) == (
            spec["seed_size"], spec["history_size"], spec["ceiling"])
    # The seed's sizes are not in the synthetic run: the largest size is quoted.
    assert compute.seed_size(run, "magnitude") == 16384
    assert compute.roof(run, "magnitude").fresh == "stream_add_new_bandwidth"
    assert compute.roof(run, "row_sums").ceiling == "read_bandwidth"


def test_the_runs_record_overrides_the_built_in_spec(tmp_path):
    facts = {"magnitude": {**SPECS["magnitude"].facts(), "ceiling": None, "seed_size": 256}}
    run = load_run(write_run(tmp_path / "run.json", _record(synthetic_run(), facts=facts)))
    assert run.kernels["magnitude"].source == "run"
    assert run.kernels["sum_of_squares"].source == "spec"  # the record lacks it
    assert compute.seed_size(run, "magnitude") == 256
    rows = [o for o in compute.of_ceiling(run) if o.kernel == "magnitude"]
    assert rows and all(o.percent is None and o.ceiling_name == "" for o in rows)
    cells = [r[2] for r in tables.ceiling_table([run], [compute.analyse(run)]).rows
             if r[0] == "magnitude"]
    assert cells and all(c.endswith("(no ceiling declared)") for c in cells)
    assert not any("magnitude: its ceiling" in line for line in compute.missing(run))


def test_a_kernel_known_to_nobody_is_derived_and_said(tmp_path):
    doc = synthetic_run(kernels={"mystery": SCALE2["scale2"]})
    summary, _ = _report(tmp_path, doc)
    run = load_run(tmp_path / "run.json")
    assert run.kernels["mystery"] == KernelFacts(name="mystery", source="derived")
    assert compute.seed_size(run, "mystery") == max(VECTOR_SIZES)
    assert compute.roof(run, "mystery").ceiling is None
    missing = summary.split("## Missing from the run", 1)[1]
    assert ("mystery: nothing is recorded of this kernel (not in the run's kernel record, "
            "not a built-in kernel): quoted at the largest size it ran at, n=16.4k, and held "
            "against no ceiling") in missing
    assert "(no ceiling known: nothing is recorded of this kernel)" in summary
    assert "| mystery | 16.4k | numba/loop |" in summary


BAD_FACTS = {
    "kernels_not_object": (lambda v: v.update(kernels=["scale2"]),
                           "vecbench.kernels is a list, expected an object"),
    "entry_not_object": (lambda v: v["kernels"].update(scale2="a * 2"),
                         "vecbench.kernels.scale2 is 'a * 2', expected an object"),
    "empty_name": (lambda v: v["kernels"].update({" ": {}}),
                   "vecbench.kernels has a key ' ', expected a kernel name"),
    "zero_seed_size": (lambda v: v["kernels"]["scale2"].update(seed_size=0),
                       "vecbench.kernels.scale2.seed_size is 0, expected a positive integer"),
    "float_history_size": (lambda v: v["kernels"]["scale2"].update(history_size=1024.0),
                           "vecbench.kernels.scale2.history_size is 1024.0"),
    "string_memory_size": (lambda v: v["kernels"]["scale2"].update(memory_size="4096"),
                           "vecbench.kernels.scale2.memory_size is '4096'"),
    "unknown_ceiling": (lambda v: v["kernels"]["scale2"].update(ceiling="gpu_flops"),
                        "vecbench.kernels.scale2.ceiling is 'gpu_flops', expected null (no "
                        "ceiling) or one of read_bandwidth"),
    "list_ceiling": (lambda v: v["kernels"]["scale2"].update(ceiling=["read_bandwidth"]),
                     "vecbench.kernels.scale2.ceiling is a list"),
    "bad_params": (lambda v: v["kernels"]["scale2"].update(params=[["a"]]),
                   "vecbench.kernels.scale2.params[0] is a list, expected a [name, kind] pair"),
    "number_summary": (lambda v: v["kernels"]["scale2"].update(summary=3),
                       "vecbench.kernels.scale2.summary is 3, expected a string"),
    "profile_number": (lambda v: v.update(profile=7), "vecbench.profile is 7"),
    "selection_list": (lambda v: v.update(selection=["scale2"]),
                       "vecbench.selection is a list, expected an object"),
    "selected_kernels_text": (lambda v: v["selection"].update(kernels="scale2"),
                              "vecbench.selection.kernels is 'scale2', expected a list"),
    "selected_backend_number": (lambda v: v["selection"].update(backends=["numpy", 3]),
                                "vecbench.selection.backends[1] is 3, expected a name"),
    "selected_sizes_number": (lambda v: v["selection"].update(sizes=1000),
                              "vecbench.selection.sizes is 1000, expected a string"),
    "selected_source_empty": (lambda v: v["selection"].update(sources=[""]),
                              "vecbench.selection.sources[0] is '', expected a module"),
}


@pytest.mark.parametrize("case", list(BAD_FACTS))
def test_bad_facts_or_selection_is_one_line_and_status_2(case, tmp_path, capsys):
    change, words = BAD_FACTS[case]
    doc = _external()
    change(doc["vecbench"])
    path = write_run(tmp_path / "run.json", doc)
    assert main([str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert str(path) in err and words in err, err
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------
# A kernel known only from the run; slices; the first look
# --------------------------------------------------------------------------
def test_an_external_kernel_alone_renders_fully_and_nothing_built_in(tmp_path):
    # An older run of the built-in kernels beside it: the history must not draw them.
    write_run(tmp_path / "0000_builtin.json", synthetic_run(commit="0" * 16))
    summary, page = _report(tmp_path, _external())
    assert "| scale2 | 4,096 | numba/loop |" in summary  # speedups at its own quoted size
    assert re.search(r"\| scale2 \| numba/loop \| \*\*\d+%\*\* — [\d.]+ GB/s at n=16\.4k",
                     summary)  # its declared ceiling, measured in the run
    assert re.search(r"scale2 \| numpy \| python \| numpy overtakes at n≈\d+", summary)
    assert "**scale2** (n=4,096):" in summary
    assert "| scale2 | a \\* 2 into a new array | examples/scale2.py | 4,096 |" in summary
    assert ("profile quick; kernels: scale2; backends: all; variants: all; sizes: the "
            "profile ladders; kernels from examples/scale2.py") in summary
    for text in (summary, page):
        for name in SPECS:
            assert name not in text, name
    assert "backends not in this run at all" not in summary
    for name in ("1-headline", "2-scaling", "3-throughput", "5-jit", "6-memory", "7-heatmap",
                 "8-history"):
        assert (tmp_path / "out" / f"{name}.png").stat().st_size > 10_000, name
    past = history.collect(tmp_path, kernels={"scale2"})
    assert set(past.sizes) == {"scale2"}
    assert past.sizes["scale2"] == 1024  # the size its facts say the history follows


def test_a_slice_lists_only_what_it_selected_as_missing(tmp_path):
    doc = synthetic_run(backends=("numpy", "numba"), compiles=False,
                        kernels={"magnitude": KERNELS["magnitude"]})
    _record(doc, "full", {"kernels": ["magnitude", "sum_sq_sin"], "backends": ["numpy", "numba"],
                          "variants": None, "sizes": "1..1e6", "sources": []})
    doc["vecbench"]["absent"] = [{"benchmark": "sum_sq_sin-numba-loop-n1-C", "measure": "steady",
                                  "kernel": "sum_sq_sin", "backend": "numba", "variant": "loop",
                                  "size": 1, "reason": "failed", "detail": "mismatch"}]
    summary, page = _report(tmp_path, doc)
    missing = summary.split("## Missing from the run", 1)[1].split("## Figures", 1)[0]
    assert "backends not in this run at all" not in missing  # python, cython: not selected
    assert "sum_sq_sin numba/loop: failed at n=1 (every size it was to run at): mismatch" \
        in missing  # absent entries are still listed
    assert "numba compile times: not in this run" in missing  # numba was selected and ran
    assert "row_sums" not in missing and "matmul" not in missing
    assert ("profile full; kernels: magnitude, sum_sq_sin; backends: numpy, numba; "
            "variants: all; sizes: 1..1e6") in summary
    assert "profile full; kernels: magnitude, sum_sq_sin" in page
    assert "First look" not in summary and "first-look" not in page.split("</style>")[1]
    # The default baselines need not be in a slice: no python here, so "—".
    assert re.search(r"\| magnitude \| 16\.4k \| numba/loop \| — \| \d", summary)


def test_a_selected_kernel_with_no_benchmark_is_missing(tmp_path):
    doc = _external()
    doc["vecbench"]["selection"]["kernels"] = ["scale2", "cube"]
    run = load_run(write_run(tmp_path / "run.json", doc))
    assert "cube: selected, but no benchmark of it is in the run (no reason recorded)" in \
        compute.missing(run)


def test_the_first_profile_says_how_to_get_the_full_one(tmp_path):
    summary, page = _report(tmp_path, _external(profile="first"))
    assert ("> **First look.** This is the first look (profile \"first\")" in summary)
    assert "`vecbench run --profile full`, then `vecbench report`." in summary
    assert ('<p class="first-look"><strong>First look.</strong> This is the first look'
            in page)
    assert "<code>vecbench run --profile full</code>, then <code>vecbench report</code>" in page


# --------------------------------------------------------------------------
# --baseline
# --------------------------------------------------------------------------
def test_parse_baselines():
    assert parse([]) == (Baseline("python"), Baseline("numpy"))
    assert parse(["numba/loop", "numba/loop", " cython "]) == (
        Baseline("numba", "loop"), Baseline("cython"))
    assert parse(["numpy/blas (2 threads)"]) == (Baseline("numpy", "blas (2 threads)"),)
    for bad in ("", "/loop", "numba/", "a\nb"):
        with pytest.raises(ReportError, match="expected BACKEND or BACKEND/VARIANT"):
            parse([bad])


def test_baseline_numba_loop_changes_the_speedup_rows(tmp_path):
    default, _ = _report(tmp_path / "a", synthetic_run())
    summary, page = _report(tmp_path / "b", synthetic_run(), "--baseline", "numba/loop")
    assert "| kernel | n | implementation | x numba/loop [95% CI] |" in summary
    assert "x python [95% CI]" not in summary and "x numpy [95% CI]" not in summary
    assert "| magnitude | 16.4k | numba/loop |" in default
    assert "| magnitude | 16.4k | numba/loop |" not in summary  # the baseline itself
    py = re.search(r"\| magnitude \| 16\.4k \| python/loop \| (0\.\d+)x \[", summary)
    assert py and float(py.group(1)) < 1  # python is slower than numba
    assert "| magnitude | 16.4k | python/loop |" not in default
    # matmul has no numba/loop: its rows have no numbers against it.
    assert re.search(r"\| matmul \| 64 \| numba/naive_ijk \| — \|", summary)
    assert re.search(r"\| sum_of_squares \| numpy \| numba/loop \| ", summary)  # crossovers
    assert "**magnitude** (n=16.4k): numba/loop is fastest." in summary
    assert "Headline: speedup over numba/loop" in page
    assert "overtakes numba/loop (triangle), or falls behind" in page


def test_several_baselines_in_order(tmp_path):
    run = load_run(write_run(tmp_path / "run.json", synthetic_run()))
    chosen = parse(["numpy", "cython/loop"])
    res = compute.analyse(run, chosen)
    rows = {(s.kernel, s.backend, s.variant): s for s in res.speedups}
    assert ("magnitude", "numpy", "vectorized") not in rows  # the first baseline's backend
    mag = rows[("magnitude", "numba", "loop")]
    assert [v.baseline for v in mag.against] == ["numpy", "cython/loop"]
    assert all(v.estimate is not None for v in mag.against)
    assert rows[("magnitude", "cython", "loop")].versus("cython/loop").estimate is None
    table = tables.speedup_table([run], [res])
    assert table.header[3:] == ["x numpy [95% CI]", "x cython/loop [95% CI]"]
    # Crossovers: against numpy; against cython/loop, but not numpy again the other way.
    against = {(c.challenger[0], c.against) for c in res.crossovers if c.kernel == "magnitude"}
    assert against == {("python", "numpy"), ("numba", "numpy"), ("cython", "numpy"),
                       ("python", "cython/loop"), ("numba", "cython/loop")}


@pytest.mark.parametrize("chosen", ["numba/nosuch", "fortran"])
def test_unknown_baseline_is_one_line_listing_the_implementations(chosen, tmp_path, capsys):
    path = write_run(tmp_path / "run.json", synthetic_run(backends=("python", "numpy", "numba")))
    assert main([str(path), "--out", str(tmp_path / "out"), "--baseline", chosen]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert f"--baseline {chosen}: no such implementation in this run" in err
    assert "numba/loop" in err and "numpy/vectorized" in err and "cython" not in err
    assert str(path) in err
    assert not (tmp_path / "out").exists()


def test_malformed_baseline_is_one_line(tmp_path, capsys):
    path = write_run(tmp_path / "run.json", synthetic_run())
    assert main([str(path), "--out", str(tmp_path / "out"), "--baseline", "numba/"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "reports: error: --baseline 'numba/': expected BACKEND or BACKEND/VARIANT, "
        "e.g. numba/loop"]


def test_facts_reach_the_saved_json_shape():
    """What the report reads is what KernelSpec.facts() writes (JSON round trip)."""
    from reports.load import builtin_facts

    for name, spec in SPECS.items():
        saved = json.loads(json.dumps(spec.facts()))
        facts = builtin_facts(name)
        assert facts.ceiling == saved["ceiling"] and facts.seed_size == saved["seed_size"]
        assert facts.params == tuple(tuple(p) for p in saved["params"])


def test_a_whole_profile_and_a_capped_size_beyond_the_cache(tmp_path):
    doc = _record(synthetic_run(), "full",
                  {"kernels": list(SPECS), "backends": None, "variants": None, "sizes": None,
                   "sources": [], "slice": False})
    doc["vecbench"]["beyond_cache"] = {
        "magnitude": {"size": 4096, "working_set_bytes": 98304, "input_bytes": 65536,
                      "llc_bytes": 16384, "capped": None},
        "sum_of_squares": {"size": None, "working_set_bytes": None, "input_bytes": None,
                           "llc_bytes": None,
                           "capped": "the last-level cache size of this machine is unknown"}}
    run = load_run(write_run(tmp_path / "run.json", doc))
    assert run.selection.slice is False
    assert tables.scope(run) == "profile full; everything in the profile"
    assert run.beyond_cache == {
        "sum_of_squares": "the last-level cache size of this machine is unknown"}
    assert ("sum_of_squares: no size beyond the last-level cache: the last-level cache size "
            "of this machine is unknown") in compute.missing(run)
    doc["vecbench"]["beyond_cache"]["magnitude"]["size"] = -1
    with pytest.raises(ReportError, match=r"vecbench\.beyond_cache\.magnitude\.size is -1"):
        load_run(write_run(tmp_path / "bad.json", doc))

"""Kernels from outside vecbench: the example module, bad modules, entry points.

Loading registers into the process's registry, so every in-process load here
is undone by the ``loading`` fixture (tests run two to a worker process, one
after the other); ``python -m kernels`` and the entry points run in subprocesses.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import kernels
from kernels import external, registry

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "scale2.py"


@pytest.fixture
def loading():
    """``load(source)`` that is undone after the test, and the registry checked intact."""
    before = dict(kernels.SPECS)
    sources = []

    def load(source):
        sources.append(source)
        return external.load(source)

    yield load
    for source in reversed(sources):
        external.unload(source)
    assert kernels.SPECS == before
    assert registry._EXTERNAL == {} or all(not v for v in registry._EXTERNAL.values())


def _check_all(kernel):
    spec = kernels.spec(kernel)
    impls = [i for i in kernels.implementations() if i.kernel == kernel]
    assert impls
    for impl in impls:
        for n in (1, 10, 1000):
            inputs = spec.inputs(n)
            result = impl.func(*impl.prepare(inputs))
            assert spec.mismatch(result, inputs) is None, (impl.label, n)
    return impls


# --------------------------------------------------------------------------
# The example
# --------------------------------------------------------------------------
def test_example_by_path_registers_every_implementation(loading, monkeypatch):
    monkeypatch.chdir(ROOT)
    (spec,) = loading("examples/scale2.py")
    assert spec.name == "scale2" and kernels.spec("scale2") is spec
    assert spec.origin == "examples/scale2.py"
    assert spec.ceiling == "stream_add_bandwidth" and spec.quoted_size == 1_000_000
    assert spec.ladder("quick") == (10, 1000, 100_000, 1_000_000)
    assert kernels.variants("scale2", "numpy") == ("new", "out")
    assert kernels.implementation("scale2", "numpy").variant == "new"  # the first is the default
    assert kernels.implementation("scale2", "python").inputs == "lists"
    impls = _check_all("scale2")
    assert {i.label for i in impls} == {"python/loop", "numpy/new", "numpy/out", "numba/loop"}
    # the registry's checks wrap the bare core, as for the built-ins
    with pytest.raises(TypeError, match="scale2"):
        kernels.get("scale2", "numpy")(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="x"):
        kernels.get("scale2", "numba")(np.zeros((2, 2)))
    # what it lacks is reported, not an error
    assert kernels.lacking("scale2") == {"cython": "no implementation"}
    assert "(scale2, cython): no implementation" in kernels.missing()
    assert kernels.missing(kernels.KERNELS) == []
    assert {r.backend for r in kernels.available() if r.kernel == "scale2"} == {
        "python", "numpy", "numba"}
    assert external.verify("scale2") == {("python", "loop"): None, ("numpy", "new"): None,
                                         ("numpy", "out"): None, ("numba", "loop"): None}
    assert spec.facts()["origin"] == "examples/scale2.py"


def test_example_out_variant_reuses_its_buffer(loading):
    loading(str(EXAMPLE))
    f = kernels.get("scale2", "numpy", "out")
    x = kernels.spec("scale2").inputs(100)[0]
    first = f(x)
    assert f(x) is first
    np.testing.assert_array_equal(first, 2 * x)
    assert f(x[:10]).shape == (10,)


def test_loading_twice_is_a_no_op_and_another_source_clashes(loading, tmp_path, monkeypatch):
    first = loading(str(EXAMPLE))
    assert loading(str(EXAMPLE)) == first
    assert loading(os.path.relpath(EXAMPLE)) == first  # the same file, spelt otherwise
    copy = tmp_path / "my_scale2.py"
    shutil.copy(EXAMPLE, copy)
    with pytest.raises(external.ExternalKernelError) as info:
        external.load(str(copy))
    assert str(info.value) == (f"{copy}: kernel 'scale2' is already defined by {EXAMPLE}")


def test_example_by_module_name(loading, tmp_path, monkeypatch):
    shutil.copy(EXAMPLE, tmp_path / "vb_scale2_example.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        (spec,) = loading("vb_scale2_example")
        assert spec.origin == "vb_scale2_example"
        _check_all("scale2")
    finally:
        sys.modules.pop("vb_scale2_example", None)


def test_missing_loop_variants_are_lacking_not_an_error(loading, tmp_path):
    path = _module(tmp_path, impls='{("tw", "python", "other"): lambda x: [2 * v for v in x],'
                                   ' ("tw", "numpy", "v"): lambda x: 2 * x}',
                   extra='loop_variants=("loop", "fast"),')
    loading(str(path))
    assert kernels.lacking("tw") == {
        "python": "lacks loop variant(s) 'loop', 'fast'",
        "numba": "no implementation", "cython": "no implementation"}
    assert "(tw, python): lacks loop variant 'fast'" in kernels.missing()
    _check_all("tw")


def test_an_unimportable_backend_makes_its_external_implementations_unavailable(
        loading, fake_backend, tmp_path):
    fake_backend("ghost", None)
    path = _module(tmp_path, impls='{("tw", "numpy", "v"): lambda x: 2 * x,'
                                   ' ("tw", "ghost", "loop"): lambda x: 2 * x}')
    loading(str(path))
    rows = {(r.backend, r.variant): r.error for r in kernels.available() if r.kernel == "tw"}
    assert rows[("numpy", "v")] is None
    assert "ModuleNotFoundError" in rows[("ghost", "loop")]
    with pytest.raises(kernels.BackendUnavailable, match="ghost"):
        kernels.get("tw", "ghost")


def test_registered_restores_the_registry():
    spec = kernels.KernelSpec(
        name="tiny", params=(kernels.Param("x", "vector"),),
        make_inputs=lambda n, rng, layout: (rng.standard_normal(n),),
        reference=lambda x: x * 3.0, bytes_moved=lambda n: 16 * n, flops=lambda n: n,
        sizes=(1, 10))
    before = dict(kernels.SPECS)
    with kernels.registered(spec, {("numpy", "v"): lambda x: x * 3.0}):
        assert kernels.get("tiny", "numpy")(np.ones(2)).tolist() == [3.0, 3.0]
        with pytest.raises(ValueError, match="already registered"):
            kernels.register(spec, {})
    assert kernels.SPECS == before
    with pytest.raises(KeyError, match="unknown kernel 'tiny'"):
        kernels.get("tiny", "numpy")
    with pytest.raises(ValueError, match="built-in"):
        kernels.unregister("magnitude")
    with pytest.raises(ValueError, match="unknown backend 'fortran'"):
        kernels.register(spec, {("fortran", "v"): len})
    assert "tiny" not in kernels.SPECS


# --------------------------------------------------------------------------
# Bad modules: one line naming the source and the problem, nothing registered
# --------------------------------------------------------------------------
TEMPLATE = '''\
import numpy as np
from kernels import KernelSpec, Param

def make(n, rng, layout):
    return {inputs}

SPECS = [KernelSpec(
    name={name},
    params={params},
    make_inputs=make,
    reference={reference},
    bytes_moved={bytes_moved},
    flops=lambda n: n,
    sizes={sizes},
    {extra}
)]
IMPLEMENTATIONS = {impls}
'''
DEFAULTS = {
    "inputs": "(rng.standard_normal(n),)",
    "name": '"tw"',
    "params": '(Param("x", "vector"),)',
    "reference": "lambda x: 2.0 * x",
    "bytes_moved": "lambda n: 16 * n",
    "sizes": "(1, 10, 100)",
    "extra": "",
    "impls": '{("tw", "numpy", "vectorized"): lambda x: 2.0 * x}',
}


def _module(folder: Path, file: str = "bad_kernels.py", text: str | None = None,
            **fields: str) -> Path:
    path = folder / file
    path.write_text(text if text is not None else TEMPLATE.format(**{**DEFAULTS, **fields}))
    return path


BAD = {
    "import error": (dict(text="import vb_no_such_module_xyz\n"),
                     "cannot be imported: ModuleNotFoundError: No module named "
                     "'vb_no_such_module_xyz' (line 1)"),
    "syntax error": (dict(text="SPECS = [\n"), "cannot be imported: SyntaxError: "),
    "module raises": (dict(text="x = 1\nraise RuntimeError('boom')\n"),
                      "cannot be imported: RuntimeError: boom (line 2)"),
    "no specs": (dict(text="IMPLEMENTATIONS = {}\n"), "defines neither SPECS"),
    "specs not a list": (dict(text="SPECS = 'tw'\nIMPLEMENTATIONS = {}\n"),
                         "SPECS must be a list of KernelSpec, not str"),
    "specs empty": (dict(text="SPECS = []\nIMPLEMENTATIONS = {}\n"), "SPECS is empty"),
    "both": (dict(text="SPECS = []\nSPEC = None\nIMPLEMENTATIONS = {}\n"),
             "defines both SPECS and SPEC"),
    "not a spec": (dict(text="SPECS = [{'name': 'tw'}]\nIMPLEMENTATIONS = {}\n"),
                   "dict {'name': 'tw'} is not a kernels.KernelSpec"),
    "no implementations": (dict(impls="{}\ndel IMPLEMENTATIONS"), "defines no IMPLEMENTATIONS"),
    "implementations not a dict": (dict(impls="[]"), "IMPLEMENTATIONS must be a dict"),
    "built-in name": (dict(name='"magnitude"', impls="{}"),
                      "kernel 'magnitude' clashes with a built-in kernel"),
    "bad name": (dict(name='"my-kernel"', impls="{}"), "kernel name 'my-kernel' is not a name"),
    "twice": (dict(text=TEMPLATE.format(**DEFAULTS).replace("SPECS = [", "SPECS = 2 * [")),
              "kernel 'tw' is defined twice"),
    "size zero": (dict(sizes="(0, 10)"), "kernel 'tw': sizes must be positive integers; got 0"),
    "size float": (dict(sizes="(1.5, 10)"), "sizes must be positive integers; got 1.5"),
    "sizes empty": (dict(sizes="()"), "kernel 'tw': sizes is empty"),
    "sizes text": (dict(sizes='"10"'), "sizes must be a tuple of positive integers, got '10'"),
    "ladder negative": (dict(extra='ladders={"quick": (10, -1)},'),
                        "ladders['quick'] must be positive integers; got -1"),
    "ladder profile": (dict(extra='ladders={"fast": (10,)},'),
                       "ladders: unknown profile 'fast'; known: first, quick, full"),
    "seed size": (dict(extra="seed_size=0,"),
                  "seed_size must be a positive integer or None, got 0"),
    "memory size": (dict(extra="memory_size=2.5,"),
                    "memory_size must be a positive integer or None, got 2.5"),
    "history size": (dict(extra='history_size="1000",'),
                     "history_size must be a positive integer or None, got '1000'"),
    "ceiling": (dict(extra='ceiling="l3_bandwidth",'),
                "unknown ceiling 'l3_bandwidth'; known: read_bandwidth, stream_add_bandwidth"),
    "param kind": (dict(params='(Param("x", "tensor"),)'),
                   "params: 'x' has unknown kind 'tensor'; known: vector, matrix, matrix_c"),
    "relation": (dict(extra='relation="same_length",'),
                 "relation 'same_length' needs two params, got 1"),
    "layout": (dict(extra='layouts=("K",),'), "unknown layout 'K'; known: C, F"),
    "inputs raise": (dict(inputs="(1 / 0,)"),
                     "kernel 'tw': make_inputs raised at n=10: ZeroDivisionError: division by "
                     "zero (line 5)"),
    "inputs float32": (dict(inputs="(rng.standard_normal(n).astype(np.float32),)"),
                       "make_inputs: x has dtype float32, not float64 at n=10"),
    "inputs shape": (dict(inputs="(rng.standard_normal(n + 1),)"),
                     "make_inputs: x (vector) has shape (11,), expected (10,) at n=10"),
    "matrix shape": (dict(params='(Param("A", "matrix"),)'),
                     "make_inputs: A (matrix) has shape (10,), expected (10, 10) at n=10"),
    "inputs list": (dict(inputs="(list(rng.standard_normal(n)),)"),
                    "make_inputs: x is a list, not a float64 array at n=10"),
    "inputs count": (dict(inputs="(rng.standard_normal(n), rng.standard_normal(n))"),
                     "make_inputs returned 2 array(s) for 1 param(s) (x) at n=10"),
    "reference raises": (dict(reference="lambda x: x[n]"),
                         "kernel 'tw': reference raised at n=10: NameError: name 'n' is not "
                         "defined (line 11)"),
    "reference nan": (dict(reference="lambda x: x * np.nan"),
                      "kernel 'tw': reference returned NaN or infinity at n=10"),
    "reference wrong": (dict(extra="error_scale=lambda x: (-1.0, 1),"),
                        "the reference's result fails its own check at n=10: 10 of 10 "
                        "value(s) off"),
    "error scale raises": (dict(extra="error_scale=lambda x: 1 / 0,"),
                           "error_scale raised at n=10: ZeroDivisionError"),
    "work model raises": (dict(bytes_moved="lambda n: n / 0"),
                          "bytes_moved raised at n=10: ZeroDivisionError"),
    "work model type": (dict(bytes_moved="lambda n: str(n)"),
                        "bytes_moved(10) must be a number >= 0, got '10'"),
    "unknown kernel": (dict(impls='{("magnitude", "numpy", "v"): abs}'),
                       "IMPLEMENTATIONS: ('magnitude', 'numpy', 'v'): unknown kernel "
                       "'magnitude'; this module defines tw"),
    "unknown backend": (dict(impls='{("tw", "fortran", "v"): abs}'),
                        "IMPLEMENTATIONS: ('tw', 'fortran', 'v'): unknown backend 'fortran'; "
                        "known: python, numpy, numba, cython"),
    "not callable": (dict(impls='{("tw", "numpy", "v"): 2.0}'),
                     "IMPLEMENTATIONS: ('tw', 'numpy', 'v') is not callable (float)"),
    "bad key": (dict(impls='{("tw", "numpy"): abs}'),
                "IMPLEMENTATIONS: key ('tw', 'numpy') is not a (kernel, backend, variant)"),
    "bad variant": (dict(impls='{("tw", "numpy", "a-b"): abs}'),
                    "variant 'a-b' is not a name"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_module_is_refused_with_one_line(case, tmp_path):
    fields, expected = BAD[case]
    path = _module(tmp_path, **fields)
    before = dict(kernels.SPECS)
    with pytest.raises(external.ExternalKernelError) as info:
        external.load(str(path))
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "\n" not in message
    assert message.startswith(f"{path}: "), message
    assert expected in message, message
    assert kernels.SPECS == before
    assert str(path.resolve()) not in external.loaded()


def test_missing_file_and_unimportable_module(tmp_path):
    with pytest.raises(external.ExternalKernelError, match=r"^nope/k\.py: no such file$"):
        external.load("nope/k.py")
    with pytest.raises(external.ExternalKernelError,
                       match=r"^vb_no_such_mod: cannot be imported: ModuleNotFoundError: "
                             r"No module named 'vb_no_such_mod'$"):
        external.load("vb_no_such_mod")


def test_a_module_with_two_kernels_is_all_or_nothing(tmp_path):
    text = TEMPLATE.format(**DEFAULTS) + textwrap.dedent('''
        import dataclasses
        SPECS.append(dataclasses.replace(SPECS[0], name="tw2", sizes=(0, 3)))
    ''')
    path = _module(tmp_path, text=text)
    before = dict(kernels.SPECS)
    with pytest.raises(external.ExternalKernelError, match="kernel 'tw2': sizes must be"):
        external.load(str(path))
    assert kernels.SPECS == before


def test_spec_fields_are_normalized(loading, tmp_path):
    path = _module(tmp_path, sizes="[100, 1, 10, 10]", extra='ladders={"quick": [10, 1]},')
    (spec,) = loading(str(path))
    assert spec.sizes == (1, 10, 100) and spec.ladder("quick") == (1, 10)
    assert spec.ladder("first") == (1, 10, 100)  # derived; with the quoted size
    assert spec.error_scale is None and spec.relation is None and spec.ceiling is None


# --------------------------------------------------------------------------
# python -m kernels --kernels, and the entry points, in subprocesses
# --------------------------------------------------------------------------
def _run(args, cwd, env=None):
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_kernels_command_lists_what_the_example_lacks():
    done = _run(["-m", "kernels", "--kernels", "examples/scale2.py"], cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "  scale2          examples/scale2.py: lacks cython (no implementation)" in lines
    rows = [line.split() for line in lines if line.startswith("scale2 ")]
    assert [r[:3] for r in rows] == [["scale2", "python", "loop"], ["scale2", "numpy", "new"],
                                     ["scale2", "numpy", "out"], ["scale2", "numba", "loop"]]
    assert all(r[-2:] == ["yes", "yes"] for r in rows)
    assert "1 of 7 kernels checked (1 from outside vecbench)" in done.stdout


def test_kernels_command_refuses_a_bad_module_in_one_line(tmp_path):
    path = _module(tmp_path, sizes="(0, 10)")
    done = _run(["-m", "kernels", "--kernels", str(path)], cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (f"python -m kernels: error: {path}: kernel 'tw': sizes must be "
                           "positive integers; got 0\n")
    done = _run(["-m", "kernels", "--kernel", "nope"], cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("python -m kernels: error: --kernel: unknown kernel 'nope'")


def _distribution(site: Path, entry_points: str, modules: dict[str, str]) -> dict[str, str]:
    info = site / "vbfake-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: vbfake\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)
    for name, text in modules.items():
        (site / f"{name}.py").write_text(text)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return env


ENTRY_SCRIPT = """
import kernels
from kernels import external
specs = external.load_entry_points()
print([(s.name, s.origin) for s in specs])
spec = kernels.spec("scale2")
for i in kernels.implementations():
    if i.kernel == "scale2":
        inputs = spec.inputs(100)
        assert spec.mismatch(i.func(*i.prepare(inputs)), inputs) is None, i.label
print(sorted(kernels.lacking("scale2").items()))
print(external.load_entry_points() == specs)
"""


def test_entry_point_kernels_are_loaded(tmp_path):
    env = _distribution(tmp_path / "site", "[vecbench.kernels]\nscale = vb_ep_scale2\n",
                        {"vb_ep_scale2": EXAMPLE.read_text()})
    done = _run(["-c", ENTRY_SCRIPT], cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["[('scale2', 'vb_ep_scale2')]",
                                        "[('cython', 'no implementation')]", "True"]
    # and the kernels command shows them without --kernels
    done = _run(["-m", "kernels", "--kernel", "scale2"], cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "  scale2          vb_ep_scale2: lacks cython (no implementation)" in \
        done.stdout.splitlines()


def test_bad_entry_point_is_refused_with_one_line(tmp_path):
    env = _distribution(tmp_path / "site", "[vecbench.kernels]\nbroken = vb_ep_broken\n",
                        {"vb_ep_broken": "raise ImportError('needs libfoo')\n"})
    done = _run(["-m", "kernels"], cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert done.stderr == ("python -m kernels: error: vb_ep_broken (entry point 'broken' of "
                           "vecbench.kernels): cannot be imported: ImportError: needs libfoo\n")
    env = _distribution(tmp_path / "site2", "[vecbench.kernels]\nattr = vb_ep_x:SPECS\n", {})
    done = _run(["-c", "from kernels import external; external.load_entry_points()"],
                cwd=tmp_path, env=env)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "kernels.external.ExternalKernelError: vb_ep_x:SPECS (entry point 'attr' of "
        "vecbench.kernels): an entry point of vecbench.kernels names a module, not an attribute")


JIT_MODULE = '''
import numba
from kernels import KernelSpec, Param
from kernels.backends.numba_options import njit

def _spec(name):
    return KernelSpec(name=name, params=(Param("x", "vector"),),
                      make_inputs=lambda n, rng, layout: (rng.standard_normal(n),),
                      reference=lambda x: 3.0 * x, bytes_moved=lambda n: 16 * n,
                      flops=lambda n: n, sizes=(10, 1000))

@njit({"nogil": True})
def tripled(x):
    return 3.0 * x

@numba.njit
def tripled_direct(x):
    return 3.0 * x

SPECS = [_spec("plain3"), _spec("jit3"), _spec("direct3")]
IMPLEMENTATIONS = {("plain3", "numba", "loop"): lambda x: 3.0 * x,
                   ("jit3", "numba", "loop"): tripled,
                   ("direct3", "numba", "loop"): tripled_direct}
'''


def test_jit_benchmark_takes_external_numba_implementations(tmp_path):
    """A plain function registered as numba is recorded as not measured, with the
    reason, and so is a dispatcher made by numba.njit directly (its options cannot
    be read back); one made by kernels' njit, of a kernel with no NumPy
    implementation, is measured."""
    path = tmp_path / "jit_kernels.py"
    path.write_text(JIT_MODULE)
    done = _run(["-m", "pytest", str(ROOT / "bench" / "bench_jit.py"), "--profile=quick",
                 "--benchmark-disable", "--vb-kernels", str(path), "-q", "-rs",
                 "-p", "no:randomly", "-p", "no:cacheprovider"], cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 passed, 2 skipped" in done.stdout, done.stdout[-3000:]
    assert ("not applicable: numba/loop direct3: it was compiled with numba.njit directly, "
            "and Numba documents no way to read a dispatcher's options back") in done.stdout
    assert ("not applicable: numba/loop plain3: its core (function) is not a Numba "
            "dispatcher, so there is no compilation to repeat") in done.stdout

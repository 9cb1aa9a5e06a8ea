"""vecbench as an installed package (``pip install .``), not only as an editable checkout.

What the wheel installs (``[tool.setuptools]`` in pyproject.toml) must be all
the installed commands need, and they must read and write relative to the
current folder, never beside their own source (site-packages may be
read-only, and is shared).

The fast tests run every time: the shipped modules never resolve paths from
``__file__`` and import nothing the wheel lacks; the commands' defaults are
the current folder; and, when pyproject.toml's ``[build-system] requires``
(setuptools, Cython) are installed in the test environment, the sdist holds
what building the wheel needs and the wheel's files are the right ones
(``build_py`` on the unpacked sdist: everything but compiling).

The slow test does it for real, and takes minutes: sdist -> ``pip wheel``
(isolated build) -> install into a fresh virtual environment (dependencies
from the package index) -> ``python -m kernels``, ``python -m reports``,
``python -m reports.compare`` and the ``vecbench`` command (``--help``,
``vecbench kernels``) from an unrelated temporary folder, and nothing written
into site-packages.  It runs only when selected::

    python -m pytest -m slow tests/test_install.py
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from test_report_helpers import synthetic_run, write_run

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
#: The packages the wheel installs.
PACKAGES: list[str] = PYPROJECT["tool"]["setuptools"]["packages"]
#: Source files of a package; ``.c`` beside a ``.pyx`` of the same name is Cython's output.
SOURCE_SUFFIXES = (".py", ".pyx", ".pxd", ".h")
#: Left out of the copy of the checkout the packaging is built from: build
#: products anywhere; at the top, hidden folders (.git, .venv, .matrix, ...) too.
IGNORED = ("__pycache__", "*.so", "*.pyd", "*.pyc")
TOP_IGNORED = ("build", "dist", "venv")
#: Seconds allowed for one build or install step (the slow test downloads wheels).
STEP_TIMEOUT = 1800


def _package_dir(root: Path, package: str) -> Path:
    return root.joinpath(*package.split("."))


def _package_sources(root: Path) -> list[Path]:
    """The source files of every shipped package under ``root``, generated C excluded."""
    return sorted(p for package in PACKAGES for p in _package_dir(root, package).iterdir()
                  if p.is_file() and p.suffix in SOURCE_SUFFIXES)


def _generated_c(root: Path) -> list[Path]:
    return sorted(p for package in PACKAGES for p in _package_dir(root, package).glob("*.c")
                  if p.with_suffix(".pyx").is_file())


def _extensions(root: Path) -> list[str]:
    """Module names of the Cython extensions (one per ``.pyx``)."""
    return sorted(f"{package}.{p.stem}" for package in PACKAGES
                  for p in _package_dir(root, package).glob("*.pyx"))


# --------------------------------------------------------------------------
# Fast: the code
# --------------------------------------------------------------------------
def _file_uses(path: Path) -> list[int]:
    """Lines of ``path`` that use ``__file__``."""
    text = path.read_text(encoding="utf-8")
    if path.suffix != ".py":  # Cython: no ast; a plain search, comments included
        return [i for i, line in enumerate(text.splitlines(), 1)
                if re.search(r"\b__file__\b", line)]
    return sorted({node.lineno for node in ast.walk(ast.parse(text, str(path)))
                   if isinstance(node, ast.Name) and node.id == "__file__"})


def test_shipped_code_never_resolves_paths_from_its_own_source():
    """Outputs go where the user runs the command; the package may sit in site-packages."""
    found = [f"{p.relative_to(REPO)}:{line}" for p in _package_sources(REPO)
             for line in _file_uses(p)]
    assert not found, ("paths resolved relative to the package's own files (use the current "
                       "folder, or importlib.resources to read package data): "
                       + ", ".join(found))


def _local_module(name: str) -> tuple[str, Path] | None:
    """The package holding module ``name`` of this checkout and its file, or None."""
    path = REPO.joinpath(*name.split("."))
    if (path / "__init__.py").is_file():
        return name, path / "__init__.py"
    for suffix in (".py", ".pyx"):
        if path.with_suffix(suffix).is_file():
            return name.rpartition(".")[0], path.with_suffix(suffix)
    return None


def _imported_modules(path: Path, package: str) -> list[tuple[int, str]]:
    """(line, module) of every import in ``path``, relative ones resolved; names
    imported from a module count as modules too (``from a import b`` may be a.b)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            found.append((node.lineno, base))
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def test_shipped_code_imports_only_what_the_wheel_installs():
    """reports imports bench.grid, so bench must be installed too (and nothing from tests)."""
    missing = []
    for package in PACKAGES:
        for path in sorted(_package_dir(REPO, package).glob("*.py")):
            for line, module in _imported_modules(path, package):
                local = _local_module(module)
                if local is not None and local[0] not in PACKAGES:
                    missing.append(f"{path.relative_to(REPO)}:{line} imports {module} "
                                   f"({local[1].relative_to(REPO)}), which the wheel lacks")
    assert not missing, "\n".join(missing)


def test_console_script_is_a_function_the_wheel_installs():
    """``[project.scripts]``: the vecbench command is bench.cli:main, shipped."""
    import importlib

    scripts = PYPROJECT["project"]["scripts"]
    assert scripts == {"vecbench": "bench.cli:main"}
    module, _, function = scripts["vecbench"].partition(":")
    assert module.rpartition(".")[0] in PACKAGES
    assert callable(getattr(importlib.import_module(module), function))


# --------------------------------------------------------------------------
# Fast: the commands' defaults are the current folder
# --------------------------------------------------------------------------
def _save_runs(folder: Path) -> tuple[Path, Path]:
    """Two small saved runs (with rounds) where pytest-benchmark's autosave puts them."""
    storage = folder / ".benchmarks" / "Linux-CPython-3.11-64bit"
    storage.mkdir(parents=True)
    small = {"backends": ("python", "numpy"), "ceilings": False, "compiles": False}
    base = write_run(storage / "0001_base.json", synthetic_run(commit="1111111aaaa", **small))
    new = write_run(storage / "0002_new.json",
                    synthetic_run(commit="2222222bbbb", seed=1, **small))
    os.utime(base, (1_000_000_000, 1_000_000_000))  # so that 0002 is the newest
    return base, new


def test_report_defaults_are_the_current_folder(tmp_path, monkeypatch, capsys):
    from reports import __main__ as cli

    monkeypatch.chdir(tmp_path)
    assert cli.main([]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and ".benchmarks" in err

    _, new = _save_runs(tmp_path)
    calls = []

    def render(paths, out, *args, **kwargs):  # where the real render would read and write
        calls.append(([Path(p).resolve() for p in paths], Path(out).resolve()))
        return Path(out).resolve() / "index.html"

    monkeypatch.setattr(cli, "render", render)
    assert cli.main([]) == 0
    assert calls == [([new.resolve()], (tmp_path / "reports" / "out").resolve())]


def test_report_folder_that_cannot_be_made_is_one_line(tmp_path, monkeypatch, capsys):
    from reports import __main__ as cli

    monkeypatch.chdir(tmp_path)
    base, _ = _save_runs(tmp_path)
    (tmp_path / "file").write_text("")
    assert cli.main([str(base), "--out", "file/report"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "file" in err, err


def test_compare_defaults_are_the_current_folder(tmp_path, monkeypatch, capsys):
    from reports import compare

    monkeypatch.chdir(tmp_path)
    _save_runs(tmp_path)
    assert compare.main(["0001", "0002"]) in (0, 1)  # run ids, found under ./.benchmarks
    assert "benchmarks" in capsys.readouterr().out


def test_gate_check_needs_a_checkout_not_its_own_location(tmp_path, monkeypatch, capsys):
    from reports import gate_check

    monkeypatch.chdir(tmp_path)
    assert gate_check.main([]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(tmp_path) in err and "bench" in err


# --------------------------------------------------------------------------
# The sdist and the wheel's files
# --------------------------------------------------------------------------
def _unmet_build_requirements() -> list[str]:
    """The ``[build-system] requires`` this environment does not satisfy."""
    unmet = []
    for text in PYPROJECT["build-system"]["requires"]:
        req = Requirement(text)
        try:
            version = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            unmet.append(text)
            continue
        if not req.specifier.contains(version, prereleases=True):
            unmet.append(f"{text} (have {version})")
    return unmet


def _ignore(folder: str, names: list[str]) -> set[str]:
    ignored = shutil.ignore_patterns(*IGNORED)(folder, names)
    if Path(folder) == REPO:  # hidden folders (.git, .venv, .matrix, ...) and build output
        ignored |= {n for n in names if n.startswith(".") or n in TOP_IGNORED
                    or n.endswith(".egg-info")}
    if Path(folder) == REPO / "reports":
        ignored |= {"out"}  # make report's output
    return ignored


@pytest.fixture
def source_copy(tmp_path_factory) -> Path:
    """The working tree, copied: building writes egg-info and generated C beside the sources."""
    return Path(shutil.copytree(REPO, tmp_path_factory.mktemp("source") / "vecbench",
                                ignore=_ignore))


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None,
         timeout: float = STEP_TIMEOUT) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, (f"{' '.join(map(str, cmd))} (in {cwd}) exited "
                                    f"{result.returncode}:\n{result.stdout[-3000:]}\n"
                                    f"{result.stderr[-3000:]}")
    return result


def _python(prefix: Path) -> Path:
    return prefix / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _build_sdist(source: Path, out: Path, python: Path | str = sys.executable,
                 env: dict[str, str] | None = None) -> Path:
    """The sdist of ``source`` into ``out``, by ``python`` (which has the build requirements).

    The PEP 517 ``build_sdist`` hook of pyproject.toml's backend, called as
    ``python -m build --sdist`` calls it, without needing ``build``.
    """
    out.mkdir(parents=True, exist_ok=True)
    backend = PYPROJECT["build-system"]["build-backend"]
    _run([str(python), "-c", f"import importlib, sys\n"
          f"importlib.import_module({backend!r}).build_sdist(sys.argv[1])", str(out)],
         cwd=source, env=env)
    (sdist,) = out.glob("*.tar.gz")
    return sdist


def _unpack(sdist: Path, folder: Path) -> Path:
    with tarfile.open(sdist) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(folder, filter="data")
        else:  # pragma: no cover  (a Python without extraction filters)
            tar.extractall(folder)
    (unpacked,) = folder.glob("vecbench-*")
    return unpacked


def test_sdist_and_the_wheel_files_built_from_it(source_copy, tmp_path):
    """The sdist holds what building the wheel needs, and no build products; the
    wheel built from it holds the modules and the ``.pxd``, and no generated C.

    The wheel's files short of compiling: ``build_py`` is the step of the wheel
    build that chooses the modules and package data.  Cython's generated C, as
    the build leaves it beside the ``.pyx``, is put into the unpacked sdist
    first: cythonize then has nothing to do (fast), and the wheel must leave
    it out.
    """
    unmet = _unmet_build_requirements()
    if unmet:
        pytest.skip("builds the sdist with this environment's build requirements "
                    f"(no download); unmet: {', '.join(unmet)}")
    sdist = _build_sdist(source_copy, tmp_path / "dist")
    unpacked = _unpack(sdist, tmp_path / "unpacked")
    files = {p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*") if p.is_file()}
    needed = {"pyproject.toml", "setup.py", "README.md", "kernels/backends/_lanes.pxd",
              "bench/grid.py"}
    needed |= {p.relative_to(source_copy).as_posix() for p in _package_sources(source_copy)}
    assert not sorted(needed - files), f"missing from {sdist.name}: {sorted(needed - files)}"
    built = sorted(f for f in files if f.endswith((".c", ".so", ".pyd", ".pyc")))
    assert not built, f"build products in {sdist.name}: {built}"

    generated = _generated_c(source_copy)
    assert generated, "building the sdist ran cythonize: the generated C should be there"
    for c in generated:
        shutil.copy2(c, unpacked / c.relative_to(source_copy))
    lib = tmp_path / "lib"
    _run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(lib)], cwd=unpacked)
    wheel = {p.relative_to(lib).as_posix() for p in lib.rglob("*") if p.is_file()}
    assert "kernels/backends/_lanes.pxd" in wheel and "bench/grid.py" in wheel
    assert not sorted(f for f in wheel if f.endswith(".c")), "generated C in the wheel"
    modules = {p.relative_to(source_copy).as_posix() for p in _package_sources(source_copy)
               if p.suffix in (".py", ".pxd")}
    assert not sorted(modules - wheel), f"not in the wheel: {sorted(modules - wheel)}"


# --------------------------------------------------------------------------
# Slow: build, install into a fresh environment, run from an unrelated folder
# --------------------------------------------------------------------------
def _module_name(relative: Path) -> str:
    parts = relative.with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _tree(folder: Path) -> dict[str, tuple[int, int]]:
    """Files under ``folder`` with size and mtime; Python's own bytecode caches left out."""
    return {p.relative_to(folder).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


@pytest.mark.slow
def test_installed_package_runs_from_any_folder(source_copy, tmp_path_factory):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    env["MPLBACKEND"] = "Agg"
    pip = ["-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    builder = Path(sys.executable)
    if _unmet_build_requirements():  # an environment of their own, as an isolated build has
        prefix = tmp_path_factory.mktemp("buildenv") / "env"
        venv.EnvBuilder(with_pip=True).create(prefix)
        builder = _python(prefix)
        _run([str(builder), *pip, *PYPROJECT["build-system"]["requires"]], cwd=prefix, env=env)
    sdist = _build_sdist(source_copy, tmp_path_factory.mktemp("sdist"), builder, env)
    wheels = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
          "--wheel-dir", str(wheels), str(sdist)], cwd=wheels, env=env)
    (wheel,) = wheels.glob("vecbench-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    assert "kernels/backends/_lanes.pxd" in names and "bench/grid.py" in names
    assert not sorted(n for n in names if n.endswith(".c")), "generated C in the wheel"
    for module in _extensions(source_copy):
        stem = module.replace(".", "/") + "."
        assert any(n.startswith(stem) and n.endswith((".so", ".pyd")) for n in names), module

    prefix = tmp_path_factory.mktemp("venv") / "env"
    venv.EnvBuilder(with_pip=True).create(prefix)
    python = _python(prefix)
    here = tmp_path_factory.mktemp("anywhere")  # an unrelated folder: not the checkout
    _run([str(python), *pip, str(wheel)], cwd=here, env=env)  # dependencies from the index
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                      "['purelib'])"], cwd=here, env=env).stdout.strip())

    # Every module imports, from site-packages, with what the wheel brought.
    tops = sorted({package.split(".")[0] for package in PACKAGES})
    where = _run([str(python), "-c", (
        "import importlib, pkgutil\n"
        f"for top in {tops!r}:\n"
        "    pkg = importlib.import_module(top)\n"
        "    print(top, pkg.__file__)\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, top + '.'):\n"
        "        print(m.name, importlib.import_module(m.name).__file__)\n")],
        cwd=here, env=env)
    imported = dict(line.split(" ", 1) for line in where.stdout.splitlines())
    outside = {m: f for m, f in imported.items() if not Path(f).resolve().is_relative_to(
        site.resolve())}
    assert not outside, f"imported from outside {site}: {outside}"
    expected = {_module_name(p.relative_to(source_copy)) for p in _package_sources(source_copy)
                if p.suffix in (".py", ".pyx")}
    assert not sorted(expected - imported.keys()), sorted(expected - imported.keys())

    before = _tree(site)
    base, _ = _save_runs(here)  # 0001_base.json, and 0002_new.json the newest

    kernels = _run([str(python), "-m", "kernels"], cwd=here, env=env)
    assert "NO:" not in kernels.stdout and "available" in kernels.stdout
    backends = _run([str(python), "-c", "from kernels import registry\n"
                     "print(' '.join(sorted({r.backend for r in registry.available() "
                     "if r.ok})))"], cwd=here, env=env).stdout.split()
    assert "cython" in backends, backends  # the compiled extension loads

    report = _run([str(python), "-m", "reports"], cwd=here, env=env)  # the defaults
    assert (here / "reports" / "out" / "index.html").is_file(), report.stdout
    summary = (here / "reports" / "out" / "summary.md").read_text(encoding="utf-8")
    assert "2222222" in summary and "1111111" not in summary  # the newest, 0002_new.json
    _run([str(python), "-m", "reports", str(base.relative_to(here)), "--out", "elsewhere"],
         cwd=here, env=env)
    assert (here / "elsewhere" / "index.html").is_file()

    cmp = subprocess.run([str(python), "-m", "reports.compare", "0001", "0002", "--out",
                          "compare.md"], cwd=here, env=env, capture_output=True, text=True,
                         timeout=STEP_TIMEOUT)
    assert cmp.returncode in (0, 1), cmp.stderr  # 1: a regression found, still a comparison
    assert "benchmarks" in cmp.stdout and (here / "compare.md").is_file()

    # The command the wheel installs, from the same folder.
    command = prefix / ("Scripts/vecbench.exe" if os.name == "nt" else "bin/vecbench")
    helped = _run([str(command), "--help"], cwd=here, env=env)
    assert "examples:" in helped.stdout and "vecbench run" in helped.stdout, helped.stdout
    listed = _run([str(command), "kernels"], cwd=here, env=env)
    assert "NO:" not in listed.stdout and "available" in listed.stdout, listed.stdout
    # A slice of a run, seconds long: the suites and their conftest.py are found
    # in site-packages, and the run is saved here (into a storage of its own, so
    # that the newest run the report checks below is still 0002_new.json).
    sliced = _run([str(command), "run", "--profile", "quick", "--kernel", "magnitude",
                   "--backend", "numpy", "--sizes", "1000", "--storage", "sliced", "--",
                   "-k", "test_kernel"], cwd=here, env=env)
    assert re.search(r"vecbench: [1-9]\d* passed, 0 skipped, 0 failed", sliced.stdout), (
        sliced.stdout)
    assert list((here / "sliced").glob("*/*.json")), sliced.stdout
    assert not (here / ".pytest_cache").exists()

    bad = subprocess.run([str(python), "-m", "reports", "missing.json"], cwd=here, env=env,
                         capture_output=True, text=True, timeout=STEP_TIMEOUT)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0, bad.stderr
    assert "missing.json" in bad.stderr and "Traceback" not in bad.stderr

    after = _tree(site)
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"written into site-packages ({site}): {changed}"
    assert not [p for p in site.rglob("out") if p.is_dir() and p.parent.name == "reports"]

"""The build matrix: ``make test-matrix``, ``make test-newest``, ``make test-oldest``.

    python .ci/matrix.py [--pytest-args ARGS] [--serial-args SERIAL] [--packaging] LEG...

Each leg gets a fresh folder ``.matrix/LEG/`` holding a copy of the working
tree (the files git tracks or would track: ``src/``), a venv (``venv/``) and
its logs.  In it the project is installed editable, so the Cython extension is
compiled afresh inside the copy with the leg's compiler and switches; then
``python -m kernels`` must report that build (compiler, ``-march``, OpenMP),
and the test suite runs with the leg's interpreter (ARGS: what ``make test``
runs).  What does not depend on the build runs once, in the first leg:
SERIAL (the second pytest run of ``make test``, the tests that run alone) and,
with ``--packaging``, the slow packaging test (``pytest -m slow
tests/test_install.py``).  A table of
every leg closes the run; the exit status is 1 when any leg failed.

Legs: the compiler legs install the lock's versions (requirements.lock, also
for the build requirements); ``newest`` installs the newest releases
pyproject.toml admits, no lock; ``oldest`` its lower bounds (``>=X`` pinned
to ``==X`` for runtime, test and build requirements by .ci/requirements.py;
the dependencies of dependencies float).  Standard library only.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
FOLDER = ROOT / ".matrix"
PACKAGING = ["-m", "slow", "tests/test_install.py"]


@dataclass(frozen=True)
class Leg:
    cc: str | None = None         # CC at install time; None: the environment's
    march: str | None = None      # VECBENCH_MARCH: "native", "" (portable); None: unset
    openmp: bool | None = None    # VECBENCH_OPENMP=1/0; None: unset
    deps: str = "lock"            # lock | newest | oldest


LEGS = {
    "gcc-native": Leg("gcc", "native", True),
    "gcc-portable": Leg("gcc", "", True),
    "gcc-noopenmp": Leg("gcc", "native", False),
    "clang-native": Leg("clang", "native", True),
    "clang-portable": Leg("clang", "", True),
    "clang-noopenmp": Leg("clang", "native", False),
    "newest": Leg(deps="newest"),
    "oldest": Leg(deps="oldest"),
}


@dataclass
class Row:
    leg: str
    deps: str
    compiler: str = "?"
    march: str = "?"
    openmp: str = "?"
    result: str = "not run"
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.result == "pass"


class LegFailed(Exception):
    pass


def log_run(cmd: list[str], log: Path, cwd: Path, env: dict[str, str]) -> int:
    with log.open("a") as f:
        f.write(f"\n$ (cd {cwd} && {shlex.join(cmd)})\n")
        f.flush()
        return subprocess.run(cmd, cwd=cwd, env=env, stdout=f, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL).returncode


def tail(log: Path, lines: int = 25) -> str:
    return "\n".join("    " + s for s in log.read_text(errors="replace").splitlines()[-lines:])


def run(cmd: list[str], log: Path, cwd: Path, env: dict[str, str], what: str) -> None:
    status = log_run(cmd, log, cwd, env)
    if status != 0:
        raise LegFailed(f"{what} failed (exit {status}); last lines of {log}:\n{tail(log)}")


def copy_tree(dest: Path) -> None:
    """The working tree's files that git tracks or would track (not ignored ones)."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                              "--exclude-standard"], cwd=ROOT, check=True,
                             capture_output=True).stdout.decode()
    for name in filter(None, listing.split("\0")):
        source = ROOT / name
        if source.is_file():  # skips files deleted in the working tree
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def environment(leg: Leg, constraints: str) -> dict[str, str]:
    env = dict(os.environ)
    # Constraints for what pip installs and for the isolated build environment
    # (see the Makefile); empty ones override a pip configuration's.
    env["PIP_CONSTRAINT"] = env["PIP_BUILD_CONSTRAINT"] = constraints
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    for name in ("VIRTUAL_ENV", "PYTHONPATH"):
        env.pop(name, None)
    if leg.cc is not None:
        env["CC"] = leg.cc
        for name in ("LDSHARED", "CFLAGS", "CPPFLAGS", "LDFLAGS"):
            env.pop(name, None)  # CC alone decides compiling and linking
    if leg.march is not None:
        env["VECBENCH_MARCH"] = leg.march
    if leg.openmp is not None:
        env["VECBENCH_OPENMP"] = "1" if leg.openmp else "0"
    return env


def build_lines(text: str) -> dict[str, str]:
    """The cython backend's build lines of ``python -m kernels``: key -> value."""
    return {m.group(1): m.group(2).strip()
            for m in re.finditer(r"^\s+cython\s+(\S+)\s+(.*)$", text, re.MULTILINE)}


def check_build(leg: Leg, build: dict[str, str], row: Row) -> None:
    row.compiler = build.get("compiler", "?")
    cflags = build.get("cflags", "")
    march = re.search(r"-march=(\S+)", cflags)
    row.march = march.group(1) if march else "portable"
    row.openmp = "yes" if build.get("openmp", "").startswith("yes") else "no"
    problems = []
    if leg.cc is not None and not row.compiler.startswith(leg.cc):
        problems.append(f"built by {row.compiler!r}, not {leg.cc}")
    if leg.march is not None and row.march != (leg.march or "portable"):
        problems.append(f"-march: {row.march}, not {leg.march or 'portable'} (cflags: {cflags})")
    if leg.openmp is not None and (row.openmp == "yes") != leg.openmp:
        problems.append(f"OpenMP {row.openmp!r} ({build.get('openmp', '?')}), expected "
                        f"{'yes' if leg.openmp else 'no'}")
    if problems:
        raise LegFailed("the build is not the leg's: " + "; ".join(problems))


def pytest(py: Path, args: list[str], src: Path, folder: Path, name: str,
           env: dict[str, str], row: Row) -> None:
    """Run pytest; count from its JUnit XML; no test run (exit 5) is a failure."""
    junit = folder / f"{name}.xml"
    log = folder / f"{name}.log"
    status = log_run([str(py), "-m", "pytest", *args, f"--junitxml={junit}"], log, src, env)
    if junit.is_file():
        suites = ET.parse(junit).getroot()
        suites = [suites] if suites.tag == "testsuite" else list(suites.iter("testsuite"))
        total = sum(int(s.get("tests", 0)) for s in suites)
        failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
        skipped = sum(int(s.get("skipped", 0)) for s in suites)
        row.failed += failed
        row.skipped += skipped
        passed = total - failed - skipped
        row.passed += passed
    else:
        passed = 0
    summary = [s for s in log.read_text(errors="replace").splitlines() if s.startswith("=")]
    if summary:
        row.notes.append(summary[-1].strip("= "))
    if status == 5 or (status == 0 and passed == 0):
        raise LegFailed(f"pytest ran no test (exit {status}); last lines of {log}:\n{tail(log)}")
    if status != 0:
        raise LegFailed(f"pytest failed (exit {status}); last lines of {log}:\n{tail(log, 40)}")


def versions(py: Path, src: Path, env: dict[str, str]) -> str:
    """The installed versions of what pyproject.toml declares (and pip)."""
    declared = subprocess.run([str(py), str(ROOT / ".ci" / "requirements.py"), "all"],
                              capture_output=True, text=True, env=env).stdout.split()
    names = {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].lower() for r in declared} | {"pip"}
    frozen = subprocess.run([str(py), "-m", "pip", "freeze", "--all"], cwd=src, env=env,
                            capture_output=True, text=True).stdout.splitlines()
    return ", ".join(line for line in frozen
                     if line.split("==")[0].lower().replace("_", "-") in names)


def constraints_for(leg: Leg, folder: Path) -> str:
    if leg.deps == "newest":
        return ""
    if leg.deps == "lock":
        return str(LOCK)
    # oldest: the lower bounds, and the lock's pip (pip is no dependency).
    pins = subprocess.run([sys.executable, str(ROOT / ".ci" / "requirements.py"), "oldest"],
                          check=True, capture_output=True, text=True).stdout
    pip = [s for s in LOCK.read_text().splitlines() if s.lower().startswith("pip==")]
    path = folder / "constraints-oldest.txt"
    path.write_text(pins + "\n".join(pip) + "\n")
    return str(path)


def run_leg(name: str, pytest_args: list[str], serial_args: list[str], once: bool,
            packaging: bool) -> list[Row]:
    leg = LEGS[name]
    row = Row(name, leg.deps)
    rows = [row]
    folder = FOLDER / name
    start = time.monotonic()
    print(f"\n=== {name}: CC={leg.cc or os.environ.get('CC', '(default)')} "
          f"VECBENCH_MARCH={leg.march if leg.march is not None else '(unset)'} "
          f"VECBENCH_OPENMP={'(unset)' if leg.openmp is None else int(leg.openmp)} "
          f"deps={leg.deps}  ->  {folder.relative_to(ROOT)}/", flush=True)
    try:
        shutil.rmtree(folder, ignore_errors=True)
        src, venv = folder / "src", folder / "venv"
        src.mkdir(parents=True)
        copy_tree(src)
        env = environment(leg, constraints_for(leg, folder))
        py = venv / "bin" / "python"
        log = folder / "install.log"
        run([sys.executable, "-m", "venv", str(venv)], log, src, env, "creating the venv")
        run([str(py), "-m", "pip", "install", "--upgrade", "pip"], log, src, env,
            "installing pip")
        upgrade = ["--upgrade", "--upgrade-strategy", "eager"] if leg.deps == "newest" else []
        run([str(py), "-m", "pip", "install", *upgrade, "-e", ".[test]"], log, src, env,
            "pip install -e '.[test]'")
        installed = time.monotonic()
        print(f"  installed in {installed - start:.0f} s: {versions(py, src, env)}", flush=True)

        status = log_run([str(py), "-m", "kernels"], folder / "kernels.log", src, env)
        text = (folder / "kernels.log").read_text(errors="replace")
        build = build_lines(text)
        print("  build: " + "; ".join(f"{k} {build.get(k, '?')}"
                                      for k in ("compiler", "cflags", "openmp", "cython")),
              flush=True)
        check_build(leg, build, row)
        if status != 0:
            raise LegFailed(f"python -m kernels exit {status}; last lines of "
                            f"{folder / 'kernels.log'}:\n{tail(folder / 'kernels.log')}")

        for part, args in (("tests", pytest_args), ("serial", serial_args if once else [])):
            if args:
                started = time.monotonic()
                pytest(py, args, src, folder, part, env, row)
                print(f"  {part}: {row.notes[-1] if row.notes else ''} "
                      f"({time.monotonic() - started:.0f} s)", flush=True)
        row.result = "pass"
    except LegFailed as exc:
        row.result = "FAIL"
        row.notes.append(str(exc).splitlines()[0])
        print(f"  FAIL: {exc}", flush=True)
    row.seconds = time.monotonic() - start

    if packaging and once:
        pack = Row(f"packaging ({name})", leg.deps, "-", "-", "-")
        rows.append(pack)
        start = time.monotonic()
        print(f"\n=== packaging test, once: pytest {shlex.join(PACKAGING)} (in {name})",
              flush=True)
        try:
            if not (folder / "venv" / "bin" / "python").is_file():
                raise LegFailed(f"no venv: leg {name} did not install")
            if not (folder / "src" / PACKAGING[-1]).is_file():
                raise LegFailed(f"{PACKAGING[-1]} does not exist")
            pytest(folder / "venv" / "bin" / "python", PACKAGING, folder / "src", folder,
                   "packaging", environment(leg, constraints_for(leg, folder)), pack)
            pack.result = "pass"
            print(f"  {pack.notes[-1] if pack.notes else ''}", flush=True)
        except LegFailed as exc:
            pack.result = "FAIL"
            pack.notes.append(str(exc).splitlines()[0])
            print(f"  FAIL: {exc}", flush=True)
        pack.seconds = time.monotonic() - start
    return rows


def table(rows: list[Row]) -> str:
    header = ("leg", "deps", "compiler", "march", "openmp", "result", "passed", "failed",
              "skipped", "wall")
    body = [(r.leg, r.deps, r.compiler, r.march, r.openmp, r.result, str(r.passed),
             str(r.failed), str(r.skipped), f"{r.seconds / 60:.1f} min") for r in rows]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python .ci/matrix.py",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("legs", nargs="+", metavar="LEG", help=", ".join(LEGS))
    parser.add_argument("--pytest-args", default="--profile=quick --benchmark-disable",
                        help="the test command's pytest arguments (the Makefile's TEST_ARGS)")
    parser.add_argument("--serial-args", default="",
                        help="a second pytest run after the first, in the first leg only "
                             "(the Makefile's SERIAL_ARGS: the tests that run alone; they "
                             "time Numba and NumPy, not the extension)")
    parser.add_argument("--packaging", action="store_true",
                        help="run the slow packaging test once, in the first leg")
    args = parser.parse_args(argv)
    unknown = [leg for leg in args.legs if leg not in LEGS]
    if unknown:
        parser.error(f"unknown leg(s) {', '.join(unknown)}; legs: {', '.join(LEGS)}")

    rows: list[Row] = []
    for i, name in enumerate(args.legs):
        rows += run_leg(name, shlex.split(args.pytest_args), shlex.split(args.serial_args),
                        i == 0, args.packaging)

    text = table(rows)
    FOLDER.mkdir(exist_ok=True)
    (FOLDER / "summary.md").write_text(text + "\n")
    print("\n" + text)
    for r in rows:
        if not r.ok:
            print(f"{r.leg}: {r.notes[-1] if r.notes else r.result}")
    print(f"\nlogs under {FOLDER.relative_to(ROOT)}/LEG/; this table in "
          f"{(FOLDER / 'summary.md').relative_to(ROOT)}")
    passed, failed = sum(r.passed for r in rows), sum(r.failed for r in rows)
    print(f"matrix: {passed} passed, {failed} failed")
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

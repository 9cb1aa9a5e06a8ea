"""``python -m reports.ci_bench BASE``: same-run A/B of a git ref against the working tree.

Two modes (``--mode``):

``wall-clock`` (the default)
    The base is checked out into a temporary worktree and installed into an
    environment of its own; then the base's (A) and the working tree's (B)
    steady-state suites run in the quick profile, interleaved A B B A A B B A
    ... in one job, so that the machine's drift during the job falls on both
    sides alike.  The runs are compared with :mod:`reports.compare` (one
    median per run, paired by pass).
``instructions``
    What the CPU executes instead of how long it took (bench/instructions.py):
    the base (a temporary worktree) and a copy of the working tree are each
    built for valgrind (``VECBENCH_MARCH=x86-64-v3``, into folders of their
    own, run with this environment's libraries, so both sides differ only in
    vecbench's own code), then each is counted under callgrind in the CI
    instruction profile, the two sides at once (their counts do not depend on
    the load).  The runs are gated on the counts (reports/instructions.py:
    an estimated cost per call beyond ``instructions_threshold``, 1% by
    default, is a regression).  ``--runs DIR`` keeps both runs.

The worktree, copies and environments are removed afterwards, also on
failure or interrupt.

Exit status as ``reports.compare``: 1 on a regression, 0 otherwise, 2 when the
comparison cannot be made.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import venv
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench import instructions
from reports import compare
from reports import instructions as counts
from reports.load import ReportError

SUITE = "bench/bench_kernels.py"
#: Fewest interleaved passes a side that can be a gate: the paired t-test over
#: p passes has p - 1 degrees of freedom, and at 3 a +25% slowdown is caught
#: only when the passes scatter by under ~3% (python -m reports.gate_check
#: measures the rates; see its docstring).  One run a side is no gate at all.
MIN_PASSES = 4
MODES = ("wall-clock", "instructions")
#: Where each mode writes its Markdown by default.
DEFAULT_OUT = {"wall-clock": ".benchmarks/ci-bench.md",
               "instructions": ".benchmarks/ci-instructions.md"}


def _git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def order(passes: int) -> list[str]:
    """A B B A A B ...: each side runs ``passes`` times; pairs alternate who goes first."""
    return [side for i in range(passes) for side in (("A", "B") if i % 2 == 0 else ("B", "A"))]


def run_suite(python: Path, cwd: Path, out: Path, log: Path, extra: Sequence[str] = ()) -> None:
    """One quick-profile run of the steady suite, saved with its rounds to ``out``."""
    cmd = [str(python), "-m", "pytest", SUITE, "--benchmark-only", "--profile=quick",
           f"--benchmark-json={out}", "--benchmark-save-data", "-q", "-p", "no:cacheprovider",
           *extra]
    with log.open("a") as f:
        f.write(f"\n$ (cd {cwd} && {' '.join(cmd)})\n")
        f.flush()
        result = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        tail = log.read_text().splitlines()[-15:]
        raise ReportError(f"benchmark run in {cwd} failed (exit {result.returncode}); "
                          f"last lines of {log}:\n" + "\n".join(tail))


def interleave(python_a: Path, cwd_a: Path, python_b: Path, cwd_b: Path, folder: Path,
               passes: int, extra_a: Sequence[str] = (), extra_b: Sequence[str] = ()
               ) -> tuple[list[Path], list[Path]]:
    """Run A and B ``passes`` times each in :func:`order`; return their run files."""
    runs: dict[str, list[Path]] = {"A": [], "B": []}
    log = folder / "runs.log"
    for step, side in enumerate(order(passes)):
        out = folder / side / f"{step:02d}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        python, cwd, extra = (python_a, cwd_a, extra_a) if side == "A" else (python_b, cwd_b,
                                                                                extra_b)
        print(f"  pass {step // 2 + 1}/{passes}: {side}", flush=True)
        run_suite(python, cwd, out, log, extra)
        runs[side].append(out)
    return runs["A"], runs["B"]


def _raise_exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def instruction_gate(repo: Path, base: str, sha: str, settings: compare.Settings, out: Path,
                     runs: Path | None = None, jobs: int = 2) -> int:
    """The instruction mode: build both sides, count them at once, gate on the counts.

    Returns 0, 1 (a regression) or 2 (could not compare: one line on stderr).
    """
    try:
        client = instructions.check_tools()
    except instructions.InstructionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _raise_exit)
    tmp = Path(tempfile.mkdtemp(prefix="vecbench-ci-instructions-"))
    # Folders of the same length on both sides: the paths are in each process's
    # environment and arguments, whose size moves the stack.
    worktree, copy = tmp / "A" / "src", tmp / "B" / "src"
    try:
        _git("worktree", "add", "--detach", str(worktree), sha, cwd=repo)
        if not (worktree / "kernels" / "registry.py").is_file():
            print(f"base {base} ({sha[:10]}) has no kernels/registry.py: nothing to compare")
            return 0
        instructions.copy_tree(repo, copy)
        print(f"ci-bench (instructions): base {base} ({sha[:10]}) against the working tree; "
              f"building both for valgrind (VECBENCH_MARCH={instructions.MARCH})", flush=True)
        started = time.perf_counter()
        sides = [instructions.Side("base", Path(sys.executable), tmp / "A" / "site",
                                   instructions.commit_of(worktree, dirty=False)),
                 instructions.Side("new", Path(sys.executable), tmp / "B" / "site",
                                   instructions.commit_of(repo))]
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(lambda side, src: instructions.build(src, side.site,
                                                               side.site.parent / "build.log"),
                          sides, (worktree, copy)))
        built = time.perf_counter()
        print(f"  built in {built - started:.0f} s; counting both sides (fill Numba's cache, "
              "then one valgrind process each)", flush=True)
        the_plan = instructions.plan()
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            made = list(pool.map(lambda side, folder: instructions.measure(
                side, the_plan, folder, client), sides, (tmp / "A" / "run", tmp / "B" / "run")))
        counted = time.perf_counter()
        paths = [tmp / "base.json", tmp / "new.json"]
        for run, path in zip(made, paths, strict=True):
            instructions.write_run(run, path)
            if runs is not None:
                instructions.write_run(run, runs / path.name)
        took = (f"counted in {counted - built:.0f} s (both sides at once: "
                + "; ".join(f"{side.label} {instructions.summary_line(run)}"
                            for side, run in zip(sides, made, strict=True))
                + f"); built in {built - started:.0f} s")
        print(f"  {took}", flush=True)
        status = counts.gate(paths[:1], paths[1:], settings, out)
        if status != 2:
            with Path(out).open("a") as f:
                f.write(f"\n{took}\n")
        return status
    except (instructions.InstructionError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    finally:
        instructions.stop_all()
        subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=repo,
                       capture_output=True)
        subprocess.run(["git", "worktree", "prune"], cwd=repo, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports.ci_bench",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("base", help="git ref of the base (e.g. HEAD, HEAD~1, main)")
    parser.add_argument("--mode", choices=MODES, default="wall-clock",
                        help="wall-clock (default): interleaved timed passes; instructions: "
                             "counts under valgrind's callgrind")
    parser.add_argument("--passes", type=int,
                        help=f"wall-clock: runs per side (default and least: {MIN_PASSES})")
    parser.add_argument("--out", help="where the Markdown table is also written (default: "
                        + ", ".join(f"{m}: {o}" for m, o in DEFAULT_OUT.items()) + ")")
    parser.add_argument("--runs", type=Path,
                        help="instructions: also keep the two runs as DIR/base.json and "
                             "DIR/new.json")
    parser.add_argument("--jobs", type=int, default=2,
                        help="instructions: sides built and counted at once (default 2)")
    args = parser.parse_args(argv)
    out = Path(args.out or DEFAULT_OUT[args.mode])
    if args.mode == "instructions" and args.passes is not None:
        print("error: --passes: the instruction mode runs each side once (its counts do not "
              "vary)", file=sys.stderr)
        return 2
    if args.mode == "wall-clock" and (args.runs is not None):
        print("error: --runs is for --mode instructions", file=sys.stderr)
        return 2
    if args.jobs < 1:
        print(f"error: --jobs {args.jobs}: at least 1", file=sys.stderr)
        return 2
    passes = MIN_PASSES if args.passes is None else args.passes
    if passes < MIN_PASSES:
        print(f"error: --passes {passes}: the gate needs at least {MIN_PASSES} runs a "
              "side (the test works on runs, not rounds)", file=sys.stderr)
        return 2

    try:
        repo = Path(_git("rev-parse", "--show-toplevel", cwd=Path.cwd()))
    except (OSError, subprocess.CalledProcessError):
        print(f"error: {Path.cwd()}: not inside a git work tree", file=sys.stderr)
        return 2
    try:
        sha = _git("rev-parse", "--verify", f"{args.base}^{{commit}}", cwd=repo)
    except subprocess.CalledProcessError:
        print(f"error: {args.base}: not a commit of this repository", file=sys.stderr)
        return 2
    try:
        settings = compare.load_settings(repo / "pyproject.toml")
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.mode == "instructions":
        return instruction_gate(repo, args.base, sha, settings, out, args.runs, args.jobs)

    # A terminated job still removes its worktree and environment.
    signal.signal(signal.SIGTERM, _raise_exit)
    tmp = Path(tempfile.mkdtemp(prefix="vecbench-ci-bench-"))
    worktree = tmp / "base"
    try:
        _git("worktree", "add", "--detach", str(worktree), sha, cwd=repo)
        if not (worktree / SUITE).is_file():
            print(f"base {args.base} ({sha[:10]}) has no {SUITE}: nothing to compare")
            return 0
        print(f"ci-bench: base {args.base} ({sha[:10]}) against the working tree, "
              f"{passes} interleaved passes of the quick profile")
        print("  installing the base into its own environment", flush=True)
        venv.create(tmp / "venv", with_pip=True)
        base_python = tmp / "venv" / "bin" / "python"
        subprocess.run([str(base_python), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", "-e", str(worktree)],
                       check=True, stdout=subprocess.DEVNULL)
        a_runs, b_runs = interleave(base_python, worktree, Path(sys.executable), repo, tmp,
                                    passes)
        rows = compare.compare(compare.runs_of(a_runs), compare.runs_of(b_runs), settings)
    except (ReportError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=repo,
                       capture_output=True)
        subprocess.run(["git", "worktree", "prune"], cwd=repo, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)

    text = compare.markdown(rows, settings)
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    return 1 if any(r.verdict == "worse" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())

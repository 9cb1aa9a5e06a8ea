"""``python -m reports.ci_bench BASE``: same-run A/B of a git ref against the working tree.

The base is checked out into a temporary worktree and installed into an
environment of its own; then the base's (A) and the working tree's (B)
steady-state suites run in the quick profile, interleaved A B B A A B B A ...
in one job, so that the machine's drift during the job falls on both sides
alike.  The runs are compared with :mod:`reports.compare` (one median per run,
paired by pass).  The worktree and its environment are removed afterwards,
also on failure or interrupt.

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
import venv
from collections.abc import Sequence
from pathlib import Path

from reports import compare
from reports.load import ReportError

SUITE = "bench/bench_kernels.py"
#: Fewest interleaved passes a side that can be a gate: the paired t-test over
#: p passes has p - 1 degrees of freedom, and at 3 a +25% slowdown is caught
#: only when the passes scatter by under ~3% (python -m reports.gate_check
#: measures the rates; see its docstring).  One run a side is no gate at all.
MIN_PASSES = 4


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reports.ci_bench",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("base", help="git ref of the base (e.g. HEAD, HEAD~1, main)")
    parser.add_argument("--passes", type=int, default=MIN_PASSES,
                        help=f"runs per side (default and least: {MIN_PASSES})")
    parser.add_argument("--out", default=".benchmarks/ci-bench.md",
                        help="where the Markdown table is also written")
    args = parser.parse_args(argv)
    if args.passes < MIN_PASSES:
        print(f"error: --passes {args.passes}: the gate needs at least {MIN_PASSES} runs a "
              "side (the test works on runs, not rounds)", file=sys.stderr)
        return 2

    repo = Path(_git("rev-parse", "--show-toplevel", cwd=Path.cwd()))
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
              f"{args.passes} interleaved passes of the quick profile")
        print("  installing the base into its own environment", flush=True)
        venv.create(tmp / "venv", with_pip=True)
        base_python = tmp / "venv" / "bin" / "python"
        subprocess.run([str(base_python), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", "-e", str(worktree)],
                       check=True, stdout=subprocess.DEVNULL)
        a_runs, b_runs = interleave(base_python, worktree, Path(sys.executable), repo, tmp,
                                    args.passes)
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
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")
    return 1 if any(r.verdict == "worse" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())

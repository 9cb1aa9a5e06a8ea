"""A portable build (``VECBENCH_MARCH=``) runs on any x86-64 CPU: no AVX outside the SIMD paths.

The extension carries the avx2 and avx512 paths of the sin as functions
built for those instruction sets (kernels/backends/_cython_vecmath.pyx),
entered only after asking the CPU.  Everything else in a portable build
must be baseline x86-64: this test disassembles the built modules and
names any function outside those paths that holds a VEX or EVEX
instruction.  It runs where the extension was built portable (the matrix's
portable legs, and CI's); a native build is skipped, saying so.
"""

from __future__ import annotations

import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import kernels
from kernels.backends import _cython_loops, _cython_matmul, _cython_vecmath

MODULES = (_cython_loops, _cython_matmul, _cython_vecmath)
#: Functions built for a wider instruction set on purpose, entered after a CPU check.
SIMD_FUNCTIONS = re.compile(r"vb_terms_avx(2|512)\b")
# AVX, AVX2 and AVX-512 instructions are the VEX/EVEX ones: mnemonics beginning with v.
WIDE = re.compile(r"^\s*[0-9a-f]+:\s+(v[a-z0-9]+)\b|%[yz]mm\d+")


def wide_instructions(path: Path) -> dict[str, list[str]]:
    """Per function of the shared object ``path``, its AVX instructions (objdump)."""
    text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(path)], check=True,
                          capture_output=True, text=True).stdout
    found: dict[str, list[str]] = {}
    function = "?"
    for line in text.splitlines():
        head = re.match(r"^[0-9a-f]+ <(.+)>:$", line)
        if head:
            function = head.group(1)
        elif WIDE.search(line):
            found.setdefault(function, []).append(line.strip())
    return found


def test_the_wide_paths_are_the_only_avx_code_of_a_portable_build():
    if platform.machine() != "x86_64":
        pytest.skip(f"x86-64 only, this is {platform.machine()}")
    if shutil.which("objdump") is None:
        pytest.skip("objdump (binutils) is not installed")
    cflags = kernels.build_info()["cython"]["cflags"]
    if "-march=" in cflags:
        pytest.skip(f"this extension is a native build ({cflags}); the portable legs of "
                    "make test-matrix and CI run this test")
    seen_paths = set()
    for module in MODULES:
        found = wide_instructions(Path(module.__file__))
        stray = {f: lines[:3] for f, lines in found.items() if not SIMD_FUNCTIONS.search(f)}
        assert not stray, f"{Path(module.__file__).name}: AVX outside the SIMD paths: {stray}"
        seen_paths |= {SIMD_FUNCTIONS.search(f).group(0) for f in found}
    # ... and the paths are really there, with their wide instructions.
    assert seen_paths == {"vb_terms_avx2", "vb_terms_avx512"}, seen_paths


def test_the_scan_sees_avx_in_a_native_build(tmp_path):
    # The scan itself: a function built for AVX2 is found, a baseline one is not.
    if platform.machine() != "x86_64" or shutil.which("objdump") is None:
        pytest.skip("needs x86-64 and objdump")
    source = tmp_path / "probe.c"
    source.write_text(
        "__attribute__((target(\"avx2\"))) void wide(double *a, int n) {\n"
        "    for (int i = 0; i < n; i++) a[i] *= 3.0; }\n"
        "void narrow(double *a, int n) { for (int i = 0; i < n; i++) a[i] += 1.0; }\n")
    library = tmp_path / "probe.so"
    compiler = shutil.which("cc") or shutil.which("gcc") or pytest.skip("no C compiler")
    subprocess.run([compiler, "-O3", "-shared", "-fPIC", str(source), "-o", str(library)],
                   check=True)
    found = wide_instructions(library)
    assert "wide" in found and "narrow" not in found, found

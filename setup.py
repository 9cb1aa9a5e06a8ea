"""Build of the Cython extension; metadata and build requirements live in pyproject.toml.

Everything that decides how the compiled kernels are built is in this file:
the Cython directives, the C compiler flags and the floating-point policy.
The flags that were really used are compiled into the extension itself, so
``python -m kernels`` and the benchmarks report what was built, not what was
meant.  ``pip install -e .`` runs this through the PEP 517 build.
"""

from __future__ import annotations

import os
import tempfile

import Cython
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

CYTHON_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "initializedcheck": False,
    "cdivision": True,
}

# Floating-point policy, shared with Numba's JIT_OPTIONS (fastmath=False):
# strict IEEE arithmetic, no reassociation (no -ffast-math) and no contraction
# of a*b+c into FMA.  -fno-math-errno only stops libm from setting errno, which
# Numba never does; it lets sqrt vectorize and changes no result.
REQUIRED_FLAGS = ["-O3", "-fno-math-errno", "-ffp-contract=off"]
# Tuning for the CPU that builds (as Numba's JIT does); VECBENCH_MARCH=""
# builds a portable extension instead.  Dropped when the compiler refuses it.
MARCH = os.environ.get("VECBENCH_MARCH", "native")
OPTIONAL_FLAGS = [f"-march={MARCH}"] if MARCH else []
# OpenMP for the parallel (prange) variants.  A compiler without it builds the
# same code serially; the extension records which happened.
OPENMP_FLAG = "-fopenmp"
OPENMP_PROBE = """
#include <omp.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 ? 0 : 1;
}
"""


def _c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class BuildExt(build_ext):
    """Keep the optional flags the compiler accepts and record the flags used."""

    def _accepts(self, flag: str, source: str = "int main(void) { return 0; }\n",
                 link: bool = False) -> bool:
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "probe.c")
            with open(src, "w") as f:
                f.write(source)
            try:
                objects = self.compiler.compile([src], output_dir=tmp, extra_postargs=[flag])
                if link:
                    self.compiler.link_executable(objects, "probe", output_dir=tmp,
                                                  extra_postargs=[flag])
            except Exception:
                return False
        return True

    def build_extensions(self) -> None:
        flags = REQUIRED_FLAGS + [f for f in OPTIONAL_FLAGS if self._accepts(f)]
        openmp = self._accepts(OPENMP_FLAG, OPENMP_PROBE, link=True)
        if openmp:
            flags.append(OPENMP_FLAG)
        command = " ".join(getattr(self.compiler, "compiler_so", []) or [])
        for ext in self.extensions:
            ext.extra_compile_args = flags
            ext.extra_link_args = [OPENMP_FLAG] if openmp else []
            ext.define_macros += [
                ("VECBENCH_OPENMP", "1" if openmp else "0"),
                ("VECBENCH_CFLAGS", _c_string(" ".join(flags))),
                ("VECBENCH_COMPILE_COMMAND", _c_string(command)),
                ("VECBENCH_CYTHON_VERSION", _c_string(Cython.__version__)),
            ]
        super().build_extensions()


extensions = [
    Extension(
        "kernels.backends._cython_loops",
        ["kernels/backends/_cython_loops.pyx"],
    )
]

setup(
    ext_modules=cythonize(extensions, compiler_directives=CYTHON_DIRECTIVES),
    cmdclass={"build_ext": BuildExt},
)

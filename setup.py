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


# glibc's libmvec: vectorized sin for the `vector_sin` variant.  Declaring sin
# with the simd attribute (as glibc's own headers do only under -ffast-math)
# lets the vectorizer call its SIMD clones under the strict flags above; the
# clones differ from scalar sin by at most 4 ulp.
LIBMVEC_PROBE = """
__attribute__((__simd__("notinbranch"))) extern double sin(double);
double x[64], y[64];
int main(void) {
    for (int i = 0; i < 64; i++) y[i] = sin(x[i]);
    return (int)y[3];
}
"""
VECMATH_EXTENSION = "kernels.backends._cython_vecmath"


def _c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class BuildExt(build_ext):
    """Keep the optional flags the compiler accepts and record the flags used."""

    def _accepts(self, flag: str, source: str = "int main(void) { return 0; }\n",
                 link: bool = False, libraries: tuple[str, ...] = ()) -> bool:
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "probe.c")
            with open(src, "w") as f:
                f.write(source)
            try:
                objects = self.compiler.compile([src], output_dir=tmp, extra_postargs=[flag])
                if link:
                    self.compiler.link_executable(objects, "probe", output_dir=tmp,
                                                  extra_postargs=[flag],
                                                  libraries=list(libraries))
            except Exception:
                return False
        return True

    def build_extensions(self) -> None:
        flags = REQUIRED_FLAGS + [f for f in OPTIONAL_FLAGS if self._accepts(f)]
        openmp = self._accepts(OPENMP_FLAG, OPENMP_PROBE, link=True)
        if openmp:
            flags.append(OPENMP_FLAG)
        libmvec = self._accepts("-O3", LIBMVEC_PROBE, link=True, libraries=("mvec", "m"))
        command = " ".join(getattr(self.compiler, "compiler_so", []) or [])
        for ext in self.extensions:
            ext.extra_compile_args = flags
            ext.extra_link_args = [OPENMP_FLAG] if openmp else []
            if ext.name == VECMATH_EXTENSION and libmvec:
                ext.libraries += ["mvec", "m"]
            ext.define_macros += [
                ("VECBENCH_OPENMP", "1" if openmp else "0"),
                ("VECBENCH_LIBMVEC", "1" if libmvec else "0"),
                ("VECBENCH_CFLAGS", _c_string(" ".join(flags))),
                ("VECBENCH_COMPILE_COMMAND", _c_string(command)),
                ("VECBENCH_CYTHON_VERSION", _c_string(Cython.__version__)),
            ]
        super().build_extensions()


extensions = [
    Extension("kernels.backends._cython_loops", ["kernels/backends/_cython_loops.pyx"]),
    Extension(VECMATH_EXTENSION, ["kernels/backends/_cython_vecmath.pyx"]),
    Extension("kernels.backends._cython_matmul", ["kernels/backends/_cython_matmul.pyx"]),
]

setup(
    ext_modules=cythonize(extensions, compiler_directives=CYTHON_DIRECTIVES),
    cmdclass={"build_ext": BuildExt},
)

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
# VECBENCH_OPENMP=0 at install time builds without it (the matrix's no-OpenMP leg).
OPENMP_FLAG = "-fopenmp"
OPENMP_WANTED = os.environ.get("VECBENCH_OPENMP", "1").strip() not in ("0", "no", "off")
OPENMP_PROBE = """
#include <omp.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 ? 0 : 1;
}
"""


# glibc's libmvec: the vectorized sin of the `vector_sin` and `parallel`
# sum_sq_sin variants (kernels/backends/_cython_vecmath.pyx calls its
# functions explicitly, each path in a function of its own target, chosen at
# run time).  Linked when this probe links; otherwise only the scalar path
# is compiled.
LIBMVEC_PROBE = """
#include <immintrin.h>
__attribute__((target("avx2"))) extern __m256d _ZGVdN4v_sin(__m256d);
__attribute__((target("avx2"))) static double probe(double v) {
    __m256d r = _ZGVdN4v_sin(_mm256_set1_pd(v));
    return _mm256_cvtsd_f64(r);
}
int main(int argc, char **argv) { return probe((double)argc) > 2.0; }
"""
VECMATH_EXTENSION = "kernels.backends._cython_vecmath"

# Callgrind's client requests (bench/_callgrind.pyx): the instruction-count
# gate (bench/instructions.py) switches valgrind's counting on and off around
# each benchmark's calls through the macros of <valgrind/callgrind.h>.  The
# header comes with valgrind (Debian: the valgrind package); where this probe
# does not compile, the module is built without it (VECBENCH_CALLGRIND 0) and
# the instruction mode refuses, saying so.  Built without -march and OpenMP:
# it runs inside valgrind, which executes no AVX-512, whatever the kernels'
# build.
CALLGRIND_PROBE = """
#include <valgrind/callgrind.h>
int main(void) { CALLGRIND_ZERO_STATS; return 0; }
"""
CALLGRIND_EXTENSION = "bench._callgrind"


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
        if not OPENMP_WANTED:
            openmp, openmp_why = False, "disabled by VECBENCH_OPENMP=0 at build time"
        else:
            openmp = self._accepts(OPENMP_FLAG, OPENMP_PROBE, link=True)
            openmp_why = "built with -fopenmp" if openmp else "the compiler refused -fopenmp"
        if openmp:
            flags.append(OPENMP_FLAG)
        libmvec = self._accepts("-O3", LIBMVEC_PROBE, link=True, libraries=("mvec", "m"))
        callgrind = self._accepts("-O2", CALLGRIND_PROBE)
        command = " ".join(getattr(self.compiler, "compiler_so", []) or [])
        for ext in self.extensions:
            if ext.name == CALLGRIND_EXTENSION:
                ext.extra_compile_args = REQUIRED_FLAGS
                ext.define_macros += [("VECBENCH_CALLGRIND", "1" if callgrind else "0")]
                continue
            ext.extra_compile_args = flags
            ext.extra_link_args = [OPENMP_FLAG] if openmp else []
            if ext.name == VECMATH_EXTENSION and libmvec:
                ext.libraries += ["mvec", "m"]
            ext.define_macros += [
                ("VECBENCH_OPENMP", "1" if openmp else "0"),
                ("VECBENCH_OPENMP_WHY", _c_string(openmp_why)),
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
    Extension(CALLGRIND_EXTENSION, ["bench/_callgrind.pyx"]),
]

setup(
    ext_modules=cythonize(extensions, compiler_directives=CYTHON_DIRECTIVES),
    cmdclass={"build_ext": BuildExt},
)

# sum_sq_sin with a vectorized sin (glibc's libmvec), for the cython backend's
# `vector_sin` and `parallel` variants and the sin-throughput ceiling.
#
# Every SIMD path of kernels/simd.py is compiled into this one module, each
# in a function of its own with the instruction set named on the function
# (GCC's and Clang's `target` attribute), whatever -march the extension is
# built with: the caller chooses the path at run time, so the narrower paths
# run (and are tested) on the widest machine, and a portable build still
# takes the wide path where the CPU has it.  A path is entered only after
# the CPU was asked (__builtin_cpu_supports): paths() says which can run.
#
# The libmvec functions are called explicitly, on vectors of the path's
# width: `_ZGVeN8v_sin` (avx512), `_ZGVdN4v_sin` (avx2); the scalar path calls
# libm's sin.  No compiler vectorizes a call to sin by itself under the
# strict flags of setup.py, so what runs is what is written, with GCC and
# Clang alike, and the numba backend (numba_vecmath.py) calls the same
# functions in the same order: both give the same bits on every path.
#
# setup.py links libmvec when a probe program links against it; otherwise
# VECBENCH_LIBMVEC is 0 and only the scalar path is compiled.
#
# The loop is the lane sum of _lanes.pxd over the terms x*x + sin(x), taken a
# block at a time through a buffer (the loop of numba_lanes.make(calls=True)).

from kernels.backends._lanes cimport BLOCK, LANES, chunked_sum, combine, range_sum


cdef extern from *:
    """
    #include <math.h>
    #ifndef VECBENCH_LIBMVEC
    #define VECBENCH_LIBMVEC 0
    #endif
    #if VECBENCH_LIBMVEC && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    #define VB_WIDE 1
    #include <immintrin.h>
    __attribute__((target("avx512f"))) extern __m512d _ZGVeN8v_sin(__m512d);
    __attribute__((target("avx2"))) extern __m256d _ZGVdN4v_sin(__m256d);

    /* t[i] = x[i]*x[i] + sin(x[i]) (or sin(x[i]) alone) for i < m, m a multiple of 8 */
    __attribute__((target("avx512f")))
    static void vb_terms_avx512(const double *x, double *t, Py_ssize_t m, int squares) {
        for (Py_ssize_t i = 0; i < m; i += 8) {
            __m512d v = _mm512_loadu_pd(x + i);
            __m512d s = _ZGVeN8v_sin(v);
            _mm512_storeu_pd(t + i, squares ? _mm512_add_pd(_mm512_mul_pd(v, v), s) : s);
        }
    }

    __attribute__((target("avx2")))
    static void vb_terms_avx2(const double *x, double *t, Py_ssize_t m, int squares) {
        for (Py_ssize_t i = 0; i < m; i += 4) {
            __m256d v = _mm256_loadu_pd(x + i);
            __m256d s = _ZGVdN4v_sin(v);
            _mm256_storeu_pd(t + i, squares ? _mm256_add_pd(_mm256_mul_pd(v, v), s) : s);
        }
    }

    static int vb_cpu_has(int path) {
        __builtin_cpu_init();
        return path == 0 ? __builtin_cpu_supports("avx512f") : __builtin_cpu_supports("avx2");
    }
    #else
    #define VB_WIDE 0
    /* never called: vb_runnable() refuses the wide paths in this build */
    static void vb_terms_avx512(const double *x, double *t, Py_ssize_t m, int squares) {}
    static void vb_terms_avx2(const double *x, double *t, Py_ssize_t m, int squares) {}
    static int vb_cpu_has(int path) { return 0; }
    #endif

    static void vb_terms_scalar(const double *x, double *t, Py_ssize_t m, int squares) {
        for (Py_ssize_t i = 0; i < m; i++)
            t[i] = squares ? x[i] * x[i] + sin(x[i]) : sin(x[i]);
    }
    """
    int VECBENCH_LIBMVEC
    int VB_WIDE
    double sin(double) nogil
    int vb_cpu_has(int path) nogil
    void vb_terms_avx512(const double *x, double *t, Py_ssize_t m, int squares) noexcept nogil
    void vb_terms_avx2(const double *x, double *t, Py_ssize_t m, int squares) noexcept nogil
    void vb_terms_scalar(const double *x, double *t, Py_ssize_t m, int squares) noexcept nogil


ctypedef void (*terms_fn)(const double *x, double *t, Py_ssize_t m, int squares) noexcept nogil

#: The paths in kernels.simd.PATHS order, as the index every function here takes.
PATHS = ("avx512", "avx2", "scalar")


def build_info():
    """Which SIMD paths this build carries."""
    return {"simd_paths": "avx512, avx2 (libmvec, chosen at run time), scalar" if VB_WIDE
            else "scalar only: libmvec did not link, or not x86-64"}


def why_not(str path):
    """Why this build, on this CPU, cannot run ``path``; None when it can."""
    if path not in PATHS:
        raise ValueError(f"unknown SIMD path {path!r}; expected one of {', '.join(PATHS)}")
    cdef int index = PATHS.index(path)
    if index == 2:
        return None
    if not VB_WIDE:
        return f"{path}: the extension was built without libmvec (scalar sin only)"
    if not vb_cpu_has(index):
        return f"{path} needs the CPU feature {('avx512f', 'avx2')[index]}, which this CPU lacks"
    return None


cdef inline double _sum_terms(terms_fn terms, const double *x, Py_ssize_t n,
                              bint with_squares) noexcept nogil:
    # sum of (x*x +) sin(x) in LANES lanes.  The terms of a block go to a
    # buffer first, with the path's sin, then into the lanes in order: the
    # loop of numba_lanes.make(calls=True), where it keeps the lanes from
    # being spilled around every call of sin.
    cdef double t[BLOCK]
    cdef double s[LANES]
    cdef Py_ssize_t lo = 0, i, k, m, whole = n - n % LANES
    for k in range(LANES):
        s[k] = 0.0
    while lo < whole:
        m = min(BLOCK, whole - lo)  # a multiple of LANES
        terms(x + lo, t, m, with_squares)
        i = 0
        while i < m:
            for k in range(LANES):
                s[k] += t[i + k]
            i += LANES
        lo += m
    cdef double total = combine(s)
    for i in range(whole, n):
        total += x[i] * x[i] + sin(x[i]) if with_squares else sin(x[i])
    return total


# One function per (path, term), so that chunked_sum can take them as range_sum.
cdef double _sq_sin_avx512(const double *x, Py_ssize_t n) noexcept nogil:
    return _sum_terms(vb_terms_avx512, x, n, True)


cdef double _sq_sin_avx2(const double *x, Py_ssize_t n) noexcept nogil:
    return _sum_terms(vb_terms_avx2, x, n, True)


cdef double _sq_sin_scalar(const double *x, Py_ssize_t n) noexcept nogil:
    return _sum_terms(vb_terms_scalar, x, n, True)


cdef double _sin_avx512(const double *x, Py_ssize_t n) noexcept nogil:
    return _sum_terms(vb_terms_avx512, x, n, False)


cdef double _sin_avx2(const double *x, Py_ssize_t n) noexcept nogil:
    return _sum_terms(vb_terms_avx2, x, n, False)


cdef double _sin_scalar(const double *x, Py_ssize_t n) noexcept nogil:
    return _sum_terms(vb_terms_scalar, x, n, False)


cdef range_sum _SQ_SIN[3]
cdef range_sum _SIN[3]
_SQ_SIN[:] = [_sq_sin_avx512, _sq_sin_avx2, _sq_sin_scalar]
_SIN[:] = [_sin_avx512, _sin_avx2, _sin_scalar]


# Whether each path can run here, asked once: the one gate in front of the
# path-specific machine code, cheap enough for every call.
cdef bint _RUNNABLE[3]
_RUNNABLE[:] = [why_not(p) is None for p in PATHS]


cdef int _checked(int path) except -1:
    if not 0 <= path < 3:
        raise ValueError(f"path index {path} out of range; expected 0-2 for {', '.join(PATHS)}")
    if not _RUNNABLE[path]:
        raise ValueError(why_not(PATHS[path]))
    return path


cdef double _run(range_sum f, const double[::1] x, bint parallel):
    cdef double s = 0.0
    if x.shape[0]:
        with nogil:
            s = chunked_sum(f, &x[0], x.shape[0]) if parallel else f(&x[0], x.shape[0])
    return s


def sum_sq_sin_vector(const double[::1] x, int path):
    """sum of x*x + sin(x), the sin of path index ``path`` (the `vector_sin` variant).

    ``path`` indexes :data:`PATHS`; a path this machine cannot run raises ValueError."""
    return _run(_SQ_SIN[_checked(path)], x, False)


def sum_sin_vector(const double[::1] x, int path):
    """sum of sin(x) alone, the same loop: sum_sq_sin's ceiling."""
    return _run(_SIN[_checked(path)], x, False)


def sum_sq_sin_parallel(const double[::1] x, int path):
    """sum of x*x + sin(x) on all threads: fixed chunks as in vector_sin, added in order."""
    return _run(_SQ_SIN[_checked(path)], x, True)


def sum_sin_parallel(const double[::1] x, int path):
    """sum of sin(x) alone on all threads: the parallel variant's ceiling."""
    return _run(_SIN[_checked(path)], x, True)

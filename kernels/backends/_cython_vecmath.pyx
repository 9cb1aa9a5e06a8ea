# sum_sq_sin with a vectorized sin (glibc's libmvec), for the cython backend's
# `vector_sin` variant.  A module of its own because only here is sin
# declared with the simd attribute, which tells GCC that vector versions of
# sin exist (_ZGVdN4v_sin, _ZGVeN8v_sin) so that a loop calling it can be
# vectorized under the same strict flags as everything else.  setup.py links
# libmvec when a probe program links; otherwise VECBENCH_LIBMVEC is 0 and the
# same code calls scalar sin (build_info() says which).
#
# The loop is the lane sum of _lanes.pxd over the terms x*x + sin(x), taken
# a block at a time through a buffer; GCC vectorizes both steps and calls the
# SIMD sin on eight doubles at a time.

from kernels.backends._lanes cimport BLOCK, LANES, chunked_sum, combine, range_sum


cdef extern from *:
    """
    #include <math.h>
    #ifndef VECBENCH_LIBMVEC
    #define VECBENCH_LIBMVEC 0
    #endif
    #if VECBENCH_LIBMVEC
    __attribute__((__simd__("notinbranch"))) extern double sin(double);
    #endif
    """
    int VECBENCH_LIBMVEC
    double sin(double) nogil


def build_info():
    """Whether this module's sin is libmvec's vectorized one."""
    return {"vector_sin": "libmvec (glibc), simd clones of sin" if VECBENCH_LIBMVEC
            else "no: libmvec did not link; scalar sin"}


cdef inline double _sum_terms(const double *x, Py_ssize_t n, bint with_squares
                             ) noexcept nogil:
    # sum of (x*x +) sin(x) in LANES lanes; with_squares is a constant at
    # every call, so each caller gets its own specialized loop.  The terms of
    # a block go to a buffer first (vectorized, with the SIMD sin), then into
    # the lanes: the loop of numba_lanes.make(calls=True), where it keeps the
    # lanes from being spilled around every call of sin.  GCC's fused loop
    # measured the same (plain C, 2^24: 1.61-1.67 Gelem/s fused, 1.56-1.65
    # buffered); the one form keeps the two backends' loops alike.
    cdef double t[BLOCK]
    cdef double s[LANES]
    cdef Py_ssize_t lo = 0, i, k, m, whole = n - n % LANES
    for k in range(LANES):
        s[k] = 0.0
    while lo < whole:
        m = min(BLOCK, whole - lo)  # a multiple of LANES
        if with_squares:
            for i in range(m):
                t[i] = x[lo + i] * x[lo + i] + sin(x[lo + i])
        else:
            for i in range(m):
                t[i] = sin(x[lo + i])
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


cdef double _sq_sin_terms(const double *x, Py_ssize_t n) noexcept nogil:
    return _sum_terms(x, n, True)


cdef double _sin_terms(const double *x, Py_ssize_t n) noexcept nogil:
    return _sum_terms(x, n, False)


cdef double _serial(range_sum f, const double[::1] x):
    cdef double s = 0.0
    if x.shape[0]:
        with nogil:
            s = f(&x[0], x.shape[0])
    return s


def sum_sq_sin_vector(const double[::1] x):
    """sum of x*x + sin(x), the sin vectorized."""
    return _serial(_sq_sin_terms, x)


def sum_sin_vector(const double[::1] x):
    """sum of sin(x) alone, the same loop: sum_sq_sin's ceiling."""
    return _serial(_sin_terms, x)


cdef double _parallel(range_sum f, const double[::1] x):
    cdef double s = 0.0
    if x.shape[0]:
        with nogil:
            s = chunked_sum(f, &x[0], x.shape[0])
    return s


def sum_sq_sin_parallel(const double[::1] x):
    """sum of x*x + sin(x) on all threads: fixed chunks as in vector_sin, added in order."""
    return _parallel(_sq_sin_terms, x)


def sum_sin_parallel(const double[::1] x):
    """sum of sin(x) alone on all threads: the parallel variant's ceiling."""
    return _parallel(_sin_terms, x)

# sum_sq_sin with a vectorized sin (glibc's libmvec), for the cython backend's
# `vector_sin` variant.  A module of its own because only here is sin
# declared with the simd attribute, which tells GCC that vector versions of
# sin exist (_ZGVdN4v_sin, _ZGVeN8v_sin) so that a loop calling it can be
# vectorized under the same strict flags as everything else.  setup.py links
# libmvec when a probe program links; otherwise VECBENCH_LIBMVEC is 0 and the
# same code calls scalar sin (build_info() says which).
#
# The loop is split so that the vectorizable part has no reduction in it:
# blocks of BLOCK terms x*x + sin(x) are computed into a buffer (vectorized),
# then summed in eight lanes (lane k takes terms k, k+8, ...).

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

cdef enum:
    BLOCK = 512  # terms per block: 4 KiB of buffer, in L1


def build_info():
    """Whether this module's sin is libmvec's vectorized one."""
    return {"vector_sin": "libmvec (glibc), simd clones of sin" if VECBENCH_LIBMVEC
            else "no: libmvec did not link; scalar sin"}


cdef inline double _lanes(const double *t, Py_ssize_t n) noexcept nogil:
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    cdef double s4 = 0.0, s5 = 0.0, s6 = 0.0, s7 = 0.0
    cdef Py_ssize_t j = 0
    while j + 8 <= n:
        s0 += t[j]
        s1 += t[j + 1]
        s2 += t[j + 2]
        s3 += t[j + 3]
        s4 += t[j + 4]
        s5 += t[j + 5]
        s6 += t[j + 6]
        s7 += t[j + 7]
        j += 8
    cdef double s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    while j < n:
        s += t[j]
        j += 1
    return s


cdef double _sum_terms(const double *x, Py_ssize_t n, bint with_squares) noexcept nogil:
    cdef double t[BLOCK]
    cdef double s = 0.0
    cdef Py_ssize_t lo, i, m
    lo = 0
    while lo < n:
        m = min(BLOCK, n - lo)
        if with_squares:
            for i in range(m):
                t[i] = x[lo + i] * x[lo + i] + sin(x[lo + i])
        else:
            for i in range(m):
                t[i] = sin(x[lo + i])
        s += _lanes(t, m)
        lo += m
    return s


def sum_sq_sin_vector(const double[::1] x):
    """sum of x*x + sin(x), the sin vectorized."""
    cdef double s = 0.0
    if x.shape[0]:
        with nogil:
            s = _sum_terms(&x[0], x.shape[0], True)
    return s


def sum_sin_vector(const double[::1] x):
    """sum of sin(x), the same loop without the squares: sum_sq_sin's ceiling."""
    cdef double s = 0.0
    if x.shape[0]:
        with nogil:
            s = _sum_terms(&x[0], x.shape[0], False)
    return s

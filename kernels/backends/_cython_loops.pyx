# Bare compiled cores of the cython backend.  No checks here: the registry
# wraps every function with its spec's checks, which guarantee float64 inputs
# of matching lengths in the layout each signature names.  Directives and
# compiler flags are set in setup.py, in one place.
#
# Vectors are contiguous (double[::1]).  The row/column sums take any strides
# (double[:, :]) so that the same loop runs over C- and Fortran-ordered
# arrays: memory layout is what those benchmarks measure.  matmul takes
# C-ordered matrices (double[:, ::1]).

from cython.parallel cimport prange
from libc.math cimport sin, sqrt

import numpy as np

cdef extern from *:
    """
    #ifndef VECBENCH_CFLAGS
    #define VECBENCH_CFLAGS "unknown"
    #endif
    #ifndef VECBENCH_COMPILE_COMMAND
    #define VECBENCH_COMPILE_COMMAND "unknown"
    #endif
    #ifndef VECBENCH_OPENMP
    #define VECBENCH_OPENMP 0
    #endif
    #if VECBENCH_OPENMP
    #include <omp.h>
    static int vecbench_max_threads(void) { return omp_get_max_threads(); }
    #else
    static int vecbench_max_threads(void) { return 1; }
    #endif
    #ifndef VECBENCH_CYTHON_VERSION
    #define VECBENCH_CYTHON_VERSION "unknown"
    #endif
    #if defined(__clang__)
    #define VECBENCH_COMPILER "clang " __VERSION__
    #elif defined(__GNUC__)
    #define VECBENCH_COMPILER "gcc " __VERSION__
    #elif defined(__VERSION__)
    #define VECBENCH_COMPILER __VERSION__
    #else
    #define VECBENCH_COMPILER "unknown"
    #endif
    """
    const char *VECBENCH_CFLAGS
    const char *VECBENCH_COMPILE_COMMAND
    const char *VECBENCH_CYTHON_VERSION
    const char *VECBENCH_COMPILER
    int VECBENCH_OPENMP
    int vecbench_max_threads() nogil


def build_info():
    """The flags, compiler, Cython version and OpenMP support of this build."""
    return {
        "openmp": (f"yes, {vecbench_max_threads()} threads by default" if VECBENCH_OPENMP
                   else "no: the compiler refused -fopenmp; parallel variants run serially"),
        "cflags": VECBENCH_CFLAGS.decode(),
        "compile_command": VECBENCH_COMPILE_COMMAND.decode(),
        "compiler": VECBENCH_COMPILER.decode(),
        "cython": VECBENCH_CYTHON_VERSION.decode(),
    }


def empty(const double[::1] x):
    """A call that does nothing: argument parsing and acquiring the memoryview."""
    return 0.0


def magnitude(const double[::1] x, const double[::1] y):
    cdef Py_ssize_t i, n = x.shape[0]
    out = np.empty(n)
    cdef double[::1] o = out
    with nogil:
        for i in range(n):
            o[i] = sqrt(x[i] * x[i] + y[i] * y[i])
    return out


def sum_of_squares(const double[::1] x):
    cdef Py_ssize_t i, n = x.shape[0]
    cdef double s = 0.0
    with nogil:
        for i in range(n):
            s += x[i] * x[i]
    return s


def sum_sq_sin(const double[::1] x):
    cdef Py_ssize_t i, n = x.shape[0]
    cdef double s = 0.0
    with nogil:
        for i in range(n):
            s += x[i] * x[i] + sin(x[i])
    return s


def row_sums_row_at_a_time(const double[:, :] A):
    cdef Py_ssize_t i, j, n = A.shape[0], m = A.shape[1]
    cdef double s
    out = np.empty(n)
    cdef double[::1] o = out
    with nogil:
        for i in range(n):
            s = 0.0
            for j in range(m):
                s += A[i, j]
            o[i] = s
    return out


def row_sums_column_streaming(const double[:, :] A):
    cdef Py_ssize_t i, j, n = A.shape[0], m = A.shape[1]
    out = np.zeros(n)
    cdef double[::1] o = out
    with nogil:
        for j in range(m):
            for i in range(n):
                o[i] += A[i, j]
    return out


def col_sums_column_at_a_time(const double[:, :] A):
    cdef Py_ssize_t i, j, n = A.shape[0], m = A.shape[1]
    cdef double s
    out = np.empty(m)
    cdef double[::1] o = out
    with nogil:
        for j in range(m):
            s = 0.0
            for i in range(n):
                s += A[i, j]
            o[j] = s
    return out


def col_sums_row_streaming(const double[:, :] A):
    cdef Py_ssize_t i, j, n = A.shape[0], m = A.shape[1]
    out = np.zeros(m)
    cdef double[::1] o = out
    with nogil:
        for i in range(n):
            for j in range(m):
                o[j] += A[i, j]
    return out


def matmul_naive_ijk(const double[:, ::1] A, const double[:, ::1] B):
    cdef Py_ssize_t i, j, p, n = A.shape[0], k = A.shape[1], m = B.shape[1]
    cdef double s
    out = np.empty((n, m))
    cdef double[:, ::1] C = out
    with nogil:
        for i in range(n):
            for j in range(m):
                s = 0.0
                for p in range(k):
                    s += A[i, p] * B[p, j]
                C[i, j] = s
    return out


def matmul_ikj(const double[:, ::1] A, const double[:, ::1] B):
    cdef Py_ssize_t i, j, p, n = A.shape[0], k = A.shape[1], m = B.shape[1]
    cdef double a
    out = np.zeros((n, m))
    cdef double[:, ::1] C = out
    with nogil:
        for i in range(n):
            for p in range(k):
                a = A[i, p]
                for j in range(m):
                    C[i, j] += a * B[p, j]
    return out


# ---------------------------------------------------------------------------
# unrolled: eight partial sums written in the source (lane k takes elements
# k, k+8, ...), combined pairwise; strict IEEE still holds, the order is ours.
# parallel: prange (OpenMP) over fixed chunks or blocks; chunk sums are added
# in order, so the result does not depend on the number of threads.  The 2-D
# kernels pick the loop order that streams through the array's layout.
# ---------------------------------------------------------------------------
cdef enum:
    CHUNK = 16384  # elements per chunk of a parallel reduction (128 KiB)
    BLOCK = 64  # rows or columns per block of a parallel 2-D reduction


cdef inline double _sum_sq_range(const double *x, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    cdef double s4 = 0.0, s5 = 0.0, s6 = 0.0, s7 = 0.0
    cdef Py_ssize_t i = lo
    while i + 8 <= hi:
        s0 += x[i] * x[i]
        s1 += x[i + 1] * x[i + 1]
        s2 += x[i + 2] * x[i + 2]
        s3 += x[i + 3] * x[i + 3]
        s4 += x[i + 4] * x[i + 4]
        s5 += x[i + 5] * x[i + 5]
        s6 += x[i + 6] * x[i + 6]
        s7 += x[i + 7] * x[i + 7]
        i += 8
    cdef double s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    while i < hi:
        s += x[i] * x[i]
        i += 1
    return s


cdef inline double _sum_lanes(const double *x, Py_ssize_t n, Py_ssize_t stride
                              ) noexcept nogil:
    # x[0], x[stride], ... x[(n - 1) * stride]; stride is in elements.
    cdef double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    cdef double s4 = 0.0, s5 = 0.0, s6 = 0.0, s7 = 0.0
    cdef Py_ssize_t j = 0
    while j + 8 <= n:
        s0 += x[j * stride]
        s1 += x[(j + 1) * stride]
        s2 += x[(j + 2) * stride]
        s3 += x[(j + 3) * stride]
        s4 += x[(j + 4) * stride]
        s5 += x[(j + 5) * stride]
        s6 += x[(j + 6) * stride]
        s7 += x[(j + 7) * stride]
        j += 8
    cdef double s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    while j < n:
        s += x[j * stride]
        j += 1
    return s


cdef inline double _sum_sq_sin_range(const double *x, Py_ssize_t lo, Py_ssize_t hi
                                     ) noexcept nogil:
    cdef double s = 0.0
    cdef Py_ssize_t i
    for i in range(lo, hi):
        s += x[i] * x[i] + sin(x[i])
    return s


def sum_of_squares_unrolled(const double[::1] x):
    cdef Py_ssize_t n = x.shape[0]
    cdef double s = 0.0
    if n:
        with nogil:
            s = _sum_sq_range(&x[0], 0, n)
    return s


def row_sums_unrolled(const double[:, :] A):
    cdef Py_ssize_t i, n = A.shape[0], m = A.shape[1]
    cdef Py_ssize_t stride = A.strides[1] // sizeof(double)
    out = np.zeros(n)
    cdef double[::1] o = out
    if m == 0:
        return out
    with nogil:
        if stride == 1:  # the common case, spelled out so the compiler sees unit stride
            for i in range(n):
                o[i] = _sum_lanes(&A[i, 0], m, 1)
        else:
            for i in range(n):
                o[i] = _sum_lanes(&A[i, 0], m, stride)
    return out


def magnitude_parallel(const double[::1] x, const double[::1] y):
    cdef Py_ssize_t i, n = x.shape[0]
    out = np.empty(n)
    cdef double[::1] o = out
    for i in prange(n, nogil=True, schedule="static"):
        o[i] = sqrt(x[i] * x[i] + y[i] * y[i])
    return out


def sum_of_squares_parallel(const double[::1] x):
    cdef Py_ssize_t c, n = x.shape[0], chunks = (n + CHUNK - 1) // CHUNK
    cdef double s = 0.0
    partial = np.empty(chunks)
    cdef double[::1] p = partial
    if n:
        for c in prange(chunks, nogil=True, schedule="static"):
            p[c] = _sum_sq_range(&x[0], c * CHUNK, min(n, (c + 1) * CHUNK))
    for c in range(chunks):
        s += p[c]
    return s


def sum_sq_sin_parallel(const double[::1] x):
    cdef Py_ssize_t c, n = x.shape[0], chunks = (n + CHUNK - 1) // CHUNK
    cdef double s = 0.0
    partial = np.empty(chunks)
    cdef double[::1] p = partial
    if n:
        for c in prange(chunks, nogil=True, schedule="static"):
            p[c] = _sum_sq_sin_range(&x[0], c * CHUNK, min(n, (c + 1) * CHUNK))
    for c in range(chunks):
        s += p[c]
    return s


def row_sums_parallel(const double[:, :] A):
    cdef Py_ssize_t i, j, b, n = A.shape[0], m = A.shape[1]
    out = np.zeros(n)
    cdef double[::1] o = out
    if m == 0:
        return out
    if A.strides[1] == sizeof(double):  # rows contiguous: one row per iteration
        for i in prange(n, nogil=True, schedule="static"):
            o[i] = _sum_lanes(&A[i, 0], m, 1)
    else:  # columns contiguous: each block of rows streams down the columns
        for b in prange((n + BLOCK - 1) // BLOCK, nogil=True, schedule="static"):
            for j in range(m):
                for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
                    o[i] += A[i, j]
    return out


def col_sums_parallel(const double[:, :] A):
    cdef Py_ssize_t i, j, b, n = A.shape[0], m = A.shape[1]
    out = np.zeros(m)
    cdef double[::1] o = out
    if n == 0:
        return out
    if A.strides[0] == sizeof(double):  # columns contiguous: one column per iteration
        for j in prange(m, nogil=True, schedule="static"):
            o[j] = _sum_lanes(&A[0, j], n, 1)
    else:  # rows contiguous: each block of columns streams along the rows
        for b in prange((m + BLOCK - 1) // BLOCK, nogil=True, schedule="static"):
            for i in range(n):
                for j in range(b * BLOCK, min(m, (b + 1) * BLOCK)):
                    o[j] += A[i, j]
    return out


def matmul_parallel(const double[:, ::1] A, const double[:, ::1] B):
    cdef Py_ssize_t i, j, p, n = A.shape[0], k = A.shape[1], m = B.shape[1]
    cdef double a
    out = np.zeros((n, m))
    cdef double[:, ::1] C = out
    for i in prange(n, nogil=True, schedule="static"):
        for p in range(k):
            a = A[i, p]
            for j in range(m):
                C[i, j] += a * B[p, j]
    return out

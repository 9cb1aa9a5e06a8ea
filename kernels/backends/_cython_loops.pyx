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

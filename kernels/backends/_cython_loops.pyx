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

from kernels.backends._lanes cimport chunked_sum, lane_sum, lane_sum_squares

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
    #ifndef VECBENCH_OPENMP_WHY
    #define VECBENCH_OPENMP_WHY "unknown"
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
    const char *VECBENCH_OPENMP_WHY
    int vecbench_max_threads() nogil


#: Whether the parallel (prange) loops were built with OpenMP; if not, why not.
OPENMP = bool(VECBENCH_OPENMP)
OPENMP_WHY = VECBENCH_OPENMP_WHY.decode()


def build_info():
    """The flags, compiler, Cython version and OpenMP support of this build."""
    return {
        "openmp": (f"yes, {vecbench_max_threads()} threads by default" if VECBENCH_OPENMP
                   else f"no ({OPENMP_WHY}): parallel variants run serially"),
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


cdef inline void _add_line(const double *a, Py_ssize_t stride, Py_ssize_t m,
                           double *out) noexcept nogil:
    # out[j] += a[j * stride] for j < m: one line of A into the result
    cdef Py_ssize_t j
    for j in range(m):
        out[j] += a[j * stride]


cdef void _add_lines(const double *a, Py_ssize_t line, Py_ssize_t stride, Py_ssize_t count,
                     Py_ssize_t m, double *out) noexcept nogil:
    # out += each of `count` lines (line apart) of m elements (stride apart).
    # Unit stride is spelled out so that the compiler sees it, as Numba sees
    # the layout it compiles for.
    cdef Py_ssize_t i
    for i in range(count):
        if stride == 1:
            _add_line(a + i * line, 1, m, out)
        else:
            _add_line(a + i * line, stride, m, out)


def row_sums_column_streaming(const double[:, :] A):
    cdef Py_ssize_t n = A.shape[0], m = A.shape[1]
    out = np.zeros(n)
    cdef double[::1] o = out
    if n and m:
        with nogil:  # column j is a line of n elements
            _add_lines(&A[0, 0], A.strides[1] // sizeof(double), A.strides[0] // sizeof(double),
                       m, n, &o[0])
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
    cdef Py_ssize_t n = A.shape[0], m = A.shape[1]
    out = np.zeros(m)
    cdef double[::1] o = out
    if n and m:
        with nogil:  # row i is a line of m elements
            _add_lines(&A[0, 0], A.strides[0] // sizeof(double), A.strides[1] // sizeof(double),
                       n, m, &o[0])
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
# unrolled: LANES partial sums written in the source (_lanes.pxd: lane k takes
# elements k, k+32, ...), combined pairwise; strict IEEE still holds, the
# order is ours.  col_sums adds four rows before each pass over its result.
# parallel: prange (OpenMP) over fixed chunks or blocks; chunk sums are added
# in order, so the result does not depend on the number of threads.  The 2-D
# kernels pick the loop order that streams through the array's layout.
# ---------------------------------------------------------------------------
cdef enum:
    ROWS = 256  # rows per block of a parallel column sum, each with its own partial sums


cdef inline void _add_rows(const double *a, Py_ssize_t rs, Py_ssize_t cs, Py_ssize_t lo,
                           Py_ssize_t hi, Py_ssize_t m, double *out) noexcept nogil:
    # out[j] += a[i, j] for lo <= i < hi, strides rs and cs in elements; four
    # rows a pass, so out is read and written once per four rows.
    cdef Py_ssize_t i = lo, j
    cdef const double *r
    while i + 4 <= hi:
        r = a + i * rs
        for j in range(m):
            out[j] += (r[j * cs] + r[rs + j * cs]) + (r[2 * rs + j * cs] + r[3 * rs + j * cs])
        i += 4
    while i < hi:
        _add_line(a + i * rs, cs, m, out)
        i += 1


cdef void _column_totals(const double *a, Py_ssize_t rs, Py_ssize_t cs, Py_ssize_t n,
                         Py_ssize_t m, double *out) noexcept nogil:
    # out = column sums of the n x m matrix at a, streaming along its rows
    if cs == 1:  # spelled out so that the compiler sees unit stride
        _add_rows(a, rs, 1, 0, n, m, out)
    else:
        _add_rows(a, rs, cs, 0, n, m, out)


cdef void _column_totals_parallel(const double *a, Py_ssize_t rs, Py_ssize_t cs,
                                  Py_ssize_t n, Py_ssize_t m, double *out,
                                  double *partial) noexcept nogil:
    # Each block of ROWS rows, on some thread, sums into its own row of partial
    # (zeroed, blocks x m); the rows of partial are then added in block order.
    cdef Py_ssize_t b, blocks = (n + ROWS - 1) // ROWS
    for b in prange(blocks, schedule="static"):
        _column_totals(a + b * ROWS * rs, rs, cs, min(ROWS, n - b * ROWS), m, partial + b * m)
    _add_lines(partial, m, 1, blocks, m, out)


cdef void _line_totals_parallel(const double *a, Py_ssize_t rs, Py_ssize_t n, Py_ssize_t m,
                                double *out) noexcept nogil:
    # out[i] = sum of the contiguous line a[i * rs : i * rs + m], a line per iteration
    cdef Py_ssize_t i
    for i in prange(n, schedule="static"):
        out[i] = lane_sum(a + i * rs, m, 1)


def sum_of_squares_unrolled(const double[::1] x):
    cdef Py_ssize_t n = x.shape[0]
    cdef double s = 0.0
    if n:
        with nogil:
            s = lane_sum_squares(&x[0], n)
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
                o[i] = lane_sum(&A[i, 0], m, 1)
        else:
            for i in range(n):
                o[i] = lane_sum(&A[i, 0], m, stride)
    return out


def col_sums_unrolled(const double[:, :] A):
    cdef Py_ssize_t n = A.shape[0], m = A.shape[1]
    out = np.zeros(m)
    cdef double[::1] o = out
    if n and m:
        with nogil:
            _column_totals(&A[0, 0], A.strides[0] // sizeof(double),
                           A.strides[1] // sizeof(double), n, m, &o[0])
    return out


def magnitude_parallel(const double[::1] x, const double[::1] y):
    cdef Py_ssize_t i, n = x.shape[0]
    out = np.empty(n)
    cdef double[::1] o = out
    for i in prange(n, nogil=True, schedule="static"):
        o[i] = sqrt(x[i] * x[i] + y[i] * y[i])
    return out


cdef double _sum_squares(const double *x, Py_ssize_t n) noexcept nogil:
    return lane_sum_squares(x, n)


def sum_of_squares_parallel(const double[::1] x):
    cdef double s = 0.0
    if x.shape[0]:
        with nogil:
            s = chunked_sum(_sum_squares, &x[0], x.shape[0])
    return s


def _sums_along(const double[:, :] A, int axis):
    # Sums along `axis` (1: row sums, 0: column sums) on all threads, in the
    # loop order that streams through A's layout.
    cdef Py_ssize_t n = A.shape[0], m = A.shape[1]
    cdef Py_ssize_t rs = A.strides[0] // sizeof(double), cs = A.strides[1] // sizeof(double)
    if axis == 1:  # row sums are the column sums of the transpose
        n, m, rs, cs = m, n, cs, rs
    # Now out[j] = sum over i of a[i * rs + j * cs], i < n, j < m.
    out = np.zeros(m)
    cdef double[::1] o = out
    cdef double[::1] p
    if n == 0 or m == 0:
        return out
    if rs == 1:  # the summed lines are contiguous: a line per iteration
        with nogil:
            _line_totals_parallel(&A[0, 0], cs, m, n, &o[0])
    else:  # stream along the other axis, blocks of rows with partial sums
        p = np.zeros(((n + ROWS - 1) // ROWS) * m)
        with nogil:
            _column_totals_parallel(&A[0, 0], rs, cs, n, m, &o[0], &p[0])
    return out


def row_sums_parallel(const double[:, :] A):
    return _sums_along(A, 1)


def col_sums_parallel(const double[:, :] A):
    return _sums_along(A, 0)


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

# Lane sums shared by the Cython modules (the numba twin is numba_lanes.py).
#
# A strict IEEE sum is one chain of additions that no compiler may reorder.
# Here the order is written in the source: LANES partial sums, lane k taking
# elements k, k+LANES, ...; GCC turns the lanes into four vectors of eight
# doubles, with no fast-math flag.  At the end the four vectors are added as
# (v0 + v1) + (v2 + v3) and their eight lanes pairwise, the order numba_lanes
# uses too, so both backends give the same sum.  Thirty-two lanes, not eight:
# with a single vector accumulator the loop waited on its additions (34 GB/s
# against a 40 GB/s read roof, sum_of_squares at 2^24).

from cython.parallel cimport prange
from libc.stdlib cimport free, malloc

cdef enum:
    LANES = 32
    WIDTH = 8  # doubles in a vector
    CHUNK = 16384  # elements per chunk of a parallel reduction (128 KiB)
    BLOCK = 512  # terms per block of a buffered lane sum (4 KiB, in L1)


cdef inline double combine(const double *s) noexcept nogil:
    cdef double t[WIDTH]
    cdef Py_ssize_t k
    for k in range(WIDTH):
        t[k] = (s[k] + s[k + WIDTH]) + (s[k + 2 * WIDTH] + s[k + 3 * WIDTH])
    return ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]))


cdef inline double _lanes(const double *x, Py_ssize_t n, Py_ssize_t stride,
                          bint square) noexcept nogil:
    # stride and square are constants at every call: each gets its own loop.
    cdef double s[LANES]
    cdef double v
    cdef Py_ssize_t i = 0, k
    for k in range(LANES):
        s[k] = 0.0
    while i + LANES <= n:
        for k in range(LANES):
            v = x[(i + k) * stride]
            s[k] += v * v if square else v
        i += LANES
    cdef double total = combine(s)
    while i < n:
        v = x[i * stride]
        total += v * v if square else v
        i += 1
    return total


cdef inline double lane_sum(const double *x, Py_ssize_t n, Py_ssize_t stride) noexcept nogil:
    """x[0] + x[stride] + ... + x[(n - 1) * stride] in lanes; stride in elements."""
    return _lanes(x, n, stride, False)


cdef inline double lane_sum_squares(const double *x, Py_ssize_t n) noexcept nogil:
    """x[0]**2 + ... + x[n - 1]**2 in lanes."""
    return _lanes(x, n, 1, True)


ctypedef double (*range_sum)(const double *x, Py_ssize_t n) noexcept nogil


cdef inline double chunked_sum(range_sum f, const double *x, Py_ssize_t n) noexcept nogil:
    """f over fixed chunks of x on all threads, the chunk sums added in order.

    The chunks do not depend on the number of threads, and neither does the sum.
    Should the chunk sums' buffer not be had, the chunks run one after another
    on this thread: the same sum, only slower.
    """
    cdef Py_ssize_t c, chunks = (n + CHUNK - 1) // CHUNK
    cdef double s = 0.0
    cdef double *partial = <double *> malloc(chunks * sizeof(double))
    if partial == NULL:
        for c in range(chunks):
            s += f(x + c * CHUNK, min(CHUNK, n - c * CHUNK))
        return s
    for c in prange(chunks, schedule="static"):
        partial[c] = f(x + c * CHUNK, min(CHUNK, n - c * CHUNK))
    for c in range(chunks):
        s += partial[c]
    free(partial)
    return s

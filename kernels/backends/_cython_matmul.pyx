# Cache-blocked, register-tiled matrix multiply: the "blocked" variant of the
# cython backend.  numba_matmul.py is the same algorithm, tile sizes and
# summation order for Numba, and its docstring tells the longer story.
#
# Bare core, no checks: the registry guarantees C-contiguous float64 2-D
# arrays with A.shape[1] == B.shape[0]; any sizes >= 0 work.  Directives and
# compiler flags come from setup.py, the same as _cython_loops (strict IEEE:
# no -ffast-math, -ffp-contract=off, so no FMA).
#
#   for each block of NC columns of B and C                     (jc)
#     for each block of KC rows of B                            (pc)
#       pack B[pc:pc+KC, jc:jc+NC] into Bp (KC x LD, ~272 KiB: stays in L2)
#       for each group of MR = 6 rows of A and C                 (i)
#         copy C[i:i+6, jc:jc+NC] into the tile Cb (6 x LD, ~6.5 KiB: L1)
#         for each group of KU = 4 steps of k                    (p)
#           hold the 6 x 4 block A[i:i+6, p:p+4] in 24 registers and stream
#           the 4 rows Bp[p:p+4] once over the tile:
#             Cb[r, j] = (((Cb[r, j] + a[r,0] B[p,j]) + a[r,1] B[p+1,j])
#                          + a[r,2] B[p+2,j]) + a[r,3] B[p+3,j]
#         copy Cb back to C
#
# Every C[i, j] is summed over k in the plain order p = 0, 1, ..., k-1, one
# rounded multiply and one rounded add per term, exactly as matmul_ikj does,
# so the result is bitwise equal to ikj: blocking changes where the partial
# sums live (registers, L1, L2), not the arithmetic.  The inner j loop is
# what gcc vectorizes (vmulpd/vaddpd on zmm registers with -march=native).
# Cb is a C array on the stack, so gcc knows it cannot overlap Bp and needs
# no run-time alias checks (Numba has no such arrays and checks per tile).

import numpy as np

cdef extern from *:
    """
    #ifndef VECBENCH_CFLAGS
    #define VECBENCH_CFLAGS "unknown"
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
    const char *VECBENCH_COMPILER


# Tile and block sizes, the same as numba_matmul.py.  The 6 x 4 block of A
# takes 24 of the 32 zmm registers; 4 more hold the rows of B.
cdef enum:
    MR = 6      # rows of A and C per register tile
    KU = 4      # steps of k per register tile
    KC = 256    # rows of the packed B block
    NC = 128    # columns of the packed B block and of the C tile
    LD = NC + 8 # row length of Bp and Cb: NC rounded up to 8, plus room to align
    VEC = 8     # doubles per zmm register (and per 64-byte cache line)


def build_info():
    """The flags this extension was built with and its tile sizes (keys distinct
    from _cython_loops.build_info(), so the two can be merged)."""
    return {
        "matmul_cflags": VECBENCH_CFLAGS.decode(),
        "matmul_compiler": VECBENCH_COMPILER.decode(),
        "matmul_tiles": f"MR={MR} KU={KU} KC={KC} NC={NC} LD={LD}",
    }


cdef inline void _tile_6x4(const double[:, ::1] A, const double *Bp, double *Cb,
                           Py_ssize_t i, Py_ssize_t p, Py_ssize_t pb,
                           Py_ssize_t ncv) noexcept nogil:
    """The micro-kernel: Cb[0:6, 0:ncv] += A[i:i+6, p:p+4] @ Bp[pb:pb+4, 0:ncv],
    term by term in k order, with the 6 x 4 block of A in registers."""
    cdef double a00 = A[i, p], a01 = A[i, p + 1], a02 = A[i, p + 2], a03 = A[i, p + 3]
    cdef double a10 = A[i + 1, p], a11 = A[i + 1, p + 1], a12 = A[i + 1, p + 2], a13 = A[i + 1, p + 3]
    cdef double a20 = A[i + 2, p], a21 = A[i + 2, p + 1], a22 = A[i + 2, p + 2], a23 = A[i + 2, p + 3]
    cdef double a30 = A[i + 3, p], a31 = A[i + 3, p + 1], a32 = A[i + 3, p + 2], a33 = A[i + 3, p + 3]
    cdef double a40 = A[i + 4, p], a41 = A[i + 4, p + 1], a42 = A[i + 4, p + 2], a43 = A[i + 4, p + 3]
    cdef double a50 = A[i + 5, p], a51 = A[i + 5, p + 1], a52 = A[i + 5, p + 2], a53 = A[i + 5, p + 3]
    cdef const double *b0 = Bp + pb * LD
    cdef const double *b1 = b0 + LD
    cdef const double *b2 = b1 + LD
    cdef const double *b3 = b2 + LD
    cdef double *c0 = Cb
    cdef double *c1 = Cb + LD
    cdef double *c2 = Cb + 2 * LD
    cdef double *c3 = Cb + 3 * LD
    cdef double *c4 = Cb + 4 * LD
    cdef double *c5 = Cb + 5 * LD
    cdef double c
    cdef Py_ssize_t j
    for j in range(ncv):
        c = c0[j]
        c = c + a00 * b0[j]
        c = c + a01 * b1[j]
        c = c + a02 * b2[j]
        c = c + a03 * b3[j]
        c0[j] = c
        c = c1[j]
        c = c + a10 * b0[j]
        c = c + a11 * b1[j]
        c = c + a12 * b2[j]
        c = c + a13 * b3[j]
        c1[j] = c
        c = c2[j]
        c = c + a20 * b0[j]
        c = c + a21 * b1[j]
        c = c + a22 * b2[j]
        c = c + a23 * b3[j]
        c2[j] = c
        c = c3[j]
        c = c + a30 * b0[j]
        c = c + a31 * b1[j]
        c = c + a32 * b2[j]
        c = c + a33 * b3[j]
        c3[j] = c
        c = c4[j]
        c = c + a40 * b0[j]
        c = c + a41 * b1[j]
        c = c + a42 * b2[j]
        c = c + a43 * b3[j]
        c4[j] = c
        c = c5[j]
        c = c + a50 * b0[j]
        c = c + a51 * b1[j]
        c = c + a52 * b2[j]
        c = c + a53 * b3[j]
        c5[j] = c


cdef inline void _tile_edge(const double[:, ::1] A, const double *Bp, double *Cb,
                            Py_ssize_t i, Py_ssize_t rows, Py_ssize_t p, Py_ssize_t pb,
                            Py_ssize_t ks, Py_ssize_t ncv) noexcept nogil:
    """Edges (fewer than 6 rows or 4 steps of k left): the same terms in the
    same order, one row and step at a time."""
    cdef Py_ssize_t r, q, j
    cdef double a
    cdef const double *b
    cdef double *c
    for r in range(rows):
        c = Cb + r * LD
        for q in range(ks):
            a = A[i + r, p + q]
            b = Bp + (pb + q) * LD
            for j in range(ncv):
                c[j] = c[j] + a * b[j]


def matmul_blocked(const double[:, ::1] A, const double[:, ::1] B):
    cdef Py_ssize_t n = A.shape[0], k = A.shape[1], m = B.shape[1]
    cdef Py_ssize_t jb, jc, nc, ncv, pb, pc, kc, ib, i, rows, kb, p, ks, r, j
    cdef double Cb[MR * LD]  # the C tile, on the stack (gcc aligns it to 64 bytes)
    # The packed B block, used from the offset (0 to 7 doubles) at which it
    # starts on a 64-byte boundary: NumPy's buffers are 16-byte aligned, and a
    # zmm access that is not on a multiple of 64 straddles two cache lines.
    cdef double[::1] Bbuf = np.empty(KC * LD)
    cdef double *Bp = &Bbuf[0]
    Bp += (<size_t>(-(<Py_ssize_t>Bp)) % 64) // 8
    out = np.zeros((n, m))
    cdef double[:, ::1] C = out
    with nogil:
        for r in range(MR * LD):
            Cb[r] = 0.0
        # Blocks are counted, not stepped: Cython compiles range() with a
        # step only when the step is a literal.
        for jb in range((m + NC - 1) // NC):
            jc = jb * NC
            nc = min(NC, m - jc)
            ncv = (nc + VEC - 1) // VEC * VEC  # the tile width, whole vectors
            for pb in range((k + KC - 1) // KC):
                pc = pb * KC
                kc = min(KC, k - pc)
                for p in range(kc):
                    for j in range(nc):
                        Bp[p * LD + j] = B[pc + p, jc + j]
                    for j in range(nc, ncv):
                        Bp[p * LD + j] = 0.0
                for ib in range((n + MR - 1) // MR):
                    i = ib * MR
                    rows = min(MR, n - i)
                    for r in range(rows):
                        for j in range(nc):
                            Cb[r * LD + j] = C[i + r, jc + j]
                    for kb in range((kc + KU - 1) // KU):
                        p = kb * KU
                        ks = min(KU, kc - p)
                        if rows == MR and ks == KU:
                            _tile_6x4(A, Bp, Cb, i, pc + p, p, ncv)
                        else:
                            _tile_edge(A, Bp, Cb, i, rows, pc + p, p, ks, ncv)
                    for r in range(rows):
                        for j in range(nc):
                            C[i + r, jc + j] = Cb[r * LD + j]
    return out

"""Cache-blocked, register-tiled matrix multiply for Numba: the ``blocked`` variant.

The same algorithm, tile sizes and summation order as ``_cython_matmul.pyx``::

    for each block of NC columns of B and C                       (jc)
      for each block of KC rows of B                              (pc)
        pack B[pc:pc+KC, jc:jc+NC] into Bp (KC x LD, ~272 KiB: stays in L2)
        for each group of MR = 6 rows of A and C                   (i)
          copy C[i:i+6, jc:jc+NC] into the tile Cb (6 x LD, ~6.5 KiB: L1)
          for each group of KU = 4 steps of k                      (p)
            hold the 6 x 4 block A[i:i+6, p:p+4] in 24 registers (broadcast)
            and stream the 4 rows Bp[p:p+4] once over the tile:
              Cb[r, j] = (((Cb[r, j] + a[r,0] B[p,j]) + a[r,1] B[p+1,j])
                           + a[r,2] B[p+2,j]) + a[r,3] B[p+3,j]
          copy Cb back to C

Register tiling: per vector of 8 columns, 4 loads of B feed 6 rows and each
load/store of C carries 4 multiply-adds: 24 multiplies and 24 adds per 4 + 6
loads and 6 stores, against 1 + 1 loads and 1 store per multiply-add in ikj.
The inner j loop is what LLVM's loop vectorizer turns into AVX-512 code
(vmulpd/vaddpd on zmm registers on this host).  Numba leaves LLVM's SLP
vectorizer off, so the vector dimension must be a loop: a tile of scalar
accumulators stays scalar.

Floating-point order: every C[i, j] is summed over k in the plain order
p = 0, 1, ..., k-1 with one rounded multiply and one rounded add per term,
exactly as ``matmul_ikj`` does, so the result is bitwise equal to ikj.
Blocking changes where the partial sums live, not the arithmetic; it needs
neither FMA nor reassociation, so the strict-IEEE options apply unchanged.

Why it is written the way it is (each point measured at n = 1024 while
writing it):

* One function.  A separate ``@njit`` micro-kernel (even with
  ``inline="always"``) got run-time strides for the buffers and
  reference-count calls for its array arguments and views on every call:
  about 60 GFLOP/s against about 75-80 for this single function.
* Bp and Cb are created here with constant shapes, so their strides are
  compile-time constants; B rows are indexed ``Bp[pb + q, ...]`` and C rows
  ``Cb[r, ...]`` with constant r, which keeps the addresses affine and lets
  LLVM vectorize with a handful of run-time alias checks per tile.
* Rows are padded to LD = NC + 8 doubles and the tile width is rounded up to
  a multiple of 8 (the padding columns of Bp are zero and never copied back):
  the vector loop then needs no scalar remainder, whose copies of the 24
  scalars of A otherwise push the 24 broadcasts out of the 32 zmm registers.
* Numba allocates on 32-byte boundaries; a zmm access at a multiple of 32
  but not of 64 straddles two cache lines, so both buffers are used from a
  column offset (0 to 7 doubles) at which they start on 64 bytes.

What is left of the gap to the Cython build of the same loops (about 20%) is
per-tile set-up: before each vector loop LLVM emits run-time overlap checks
between the rows of Bp and Cb (two heap arrays it cannot prove distinct) and
the negative-index fix-ups of the 24 loads of A, about 250 instructions per
tile against about 60 in gcc's code, where Cb is a stack array.

Its options start from ``numba_options.JIT_OPTIONS``, like every numba module.
"""

from __future__ import annotations

import numpy as np

from kernels.backends.numba_options import JIT_OPTIONS, njit

#: Options of the blocked kernel: the strict-IEEE options of every numba kernel
#: (fastmath=False: no reassociation, no FMA contraction), unchanged.
BLOCKED_JIT_OPTIONS = dict(JIT_OPTIONS)

#: Tile and block sizes (the same in _cython_matmul.pyx).  The 6 x 4 block of
#: A takes 24 of the 32 zmm registers; 4 more hold the rows of B.
MR = 6  # rows of A and C per register tile
KU = 4  # steps of k per register tile
KC = 256  # rows of the packed B block
NC = 128  # columns of the packed B block and of the C tile
LD = NC + 8  # row length of Bp and Cb: NC rounded up to 8, plus room to align
VEC = 8  # doubles per zmm register (and per 64-byte cache line)

jit = njit(BLOCKED_JIT_OPTIONS)


@jit
def matmul_blocked(A, B):
    n, k = A.shape
    m = B.shape[1]
    C = np.zeros((n, m))
    Bp = np.empty((KC, LD))  # the packed B block
    Cb = np.zeros((MR, LD))  # the C tile
    # Column offsets at which Bp and Cb start on a 64-byte boundary.
    ob = np.int64((-(Bp.ctypes.data >> np.uint64(3))) & np.uint64(VEC - 1))
    oc = np.int64((-(Cb.ctypes.data >> np.uint64(3))) & np.uint64(VEC - 1))
    for jc in range(0, m, NC):
        nc = min(NC, m - jc)
        ncv = (nc + VEC - 1) // VEC * VEC  # the tile width, whole vectors
        for pc in range(0, k, KC):
            kc = min(KC, k - pc)
            for p in range(kc):
                for j in range(nc):
                    Bp[p, ob + j] = B[pc + p, jc + j]
                for j in range(nc, ncv):
                    Bp[p, ob + j] = 0.0
            for i in range(0, n, MR):
                rows = min(MR, n - i)
                for r in range(rows):
                    for j in range(nc):
                        Cb[r, oc + j] = C[i + r, jc + j]
                for pb in range(0, kc, KU):
                    p = pc + pb
                    if rows == MR and kc - pb >= KU:
                        # The micro-kernel: a 6 x 4 block of A in registers.
                        a00 = A[i, p]
                        a01 = A[i, p + 1]
                        a02 = A[i, p + 2]
                        a03 = A[i, p + 3]
                        a10 = A[i + 1, p]
                        a11 = A[i + 1, p + 1]
                        a12 = A[i + 1, p + 2]
                        a13 = A[i + 1, p + 3]
                        a20 = A[i + 2, p]
                        a21 = A[i + 2, p + 1]
                        a22 = A[i + 2, p + 2]
                        a23 = A[i + 2, p + 3]
                        a30 = A[i + 3, p]
                        a31 = A[i + 3, p + 1]
                        a32 = A[i + 3, p + 2]
                        a33 = A[i + 3, p + 3]
                        a40 = A[i + 4, p]
                        a41 = A[i + 4, p + 1]
                        a42 = A[i + 4, p + 2]
                        a43 = A[i + 4, p + 3]
                        a50 = A[i + 5, p]
                        a51 = A[i + 5, p + 1]
                        a52 = A[i + 5, p + 2]
                        a53 = A[i + 5, p + 3]
                        for j in range(ncv):
                            b0 = Bp[pb, ob + j]
                            b1 = Bp[pb + 1, ob + j]
                            b2 = Bp[pb + 2, ob + j]
                            b3 = Bp[pb + 3, ob + j]
                            c = Cb[0, oc + j]
                            c = c + a00 * b0
                            c = c + a01 * b1
                            c = c + a02 * b2
                            c = c + a03 * b3
                            Cb[0, oc + j] = c
                            c = Cb[1, oc + j]
                            c = c + a10 * b0
                            c = c + a11 * b1
                            c = c + a12 * b2
                            c = c + a13 * b3
                            Cb[1, oc + j] = c
                            c = Cb[2, oc + j]
                            c = c + a20 * b0
                            c = c + a21 * b1
                            c = c + a22 * b2
                            c = c + a23 * b3
                            Cb[2, oc + j] = c
                            c = Cb[3, oc + j]
                            c = c + a30 * b0
                            c = c + a31 * b1
                            c = c + a32 * b2
                            c = c + a33 * b3
                            Cb[3, oc + j] = c
                            c = Cb[4, oc + j]
                            c = c + a40 * b0
                            c = c + a41 * b1
                            c = c + a42 * b2
                            c = c + a43 * b3
                            Cb[4, oc + j] = c
                            c = Cb[5, oc + j]
                            c = c + a50 * b0
                            c = c + a51 * b1
                            c = c + a52 * b2
                            c = c + a53 * b3
                            Cb[5, oc + j] = c
                    else:
                        # Edges (fewer than 6 rows or 4 steps of k left): the
                        # same terms in the same order, one row and step at a time.
                        for r in range(rows):
                            for q in range(min(KU, kc - pb)):
                                a = A[i + r, p + q]
                                for j in range(ncv):
                                    Cb[r, oc + j] = Cb[r, oc + j] + a * Bp[pb + q, ob + j]
                for r in range(rows):
                    for j in range(nc):
                        C[i + r, jc + j] = Cb[r, oc + j]
    return C

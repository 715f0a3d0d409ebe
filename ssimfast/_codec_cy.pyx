"""Compiled kernels of the codec metrics: sums of squared differences (MSE,
PSNR) and FFmpeg's SSIM (x264's definition), of planes or of a frame pair read
from two files in row bands (FrameBands, for video_ssim). Kept apart from the SSIM kernels
(_kernels.pxi): they share no code, and this module builds in seconds.

The Python layer (_psnr.py, _ffmpeg.py) checks shapes, dtypes and sizes; each
entry point here still checks what a wrong call could crash on, then computes
with the GIL released. Results never depend on the number of threads: partial
sums are combined in a fixed order after the parallel loop.

Parallel loops run on ssimfast's thread pool (_pool.h, through _parallel.pxi),
as the SSIM kernels do. The pool's state is static to each compiled module, so
this module has its own pool beside the SSIM kernels' one: at most cores - 1
more sleeping helper threads, which is acceptable for not sharing a C symbol
across extension modules."""
import os

import numpy as np

from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc

ctypedef fused small_int_t:
    uint8_t
    int8_t
    uint16_t
    int16_t
    int32_t

ctypedef fused as_double_t:
    double
    int32_t
    uint32_t
    int64_t
    uint64_t

ctypedef fused plane_t:
    uint8_t
    uint16_t

include "_parallel.pxi"

cdef enum:
    # Elements of a squared-difference sum counted as one pixel by
    # _workers_for: a sum's element is far cheaper than an SSIM pixel (a
    # 3840x2160 uint8 pair sums in ~0.75 ms on one core, FFmpeg's SSIM of a
    # 1920x1080 plane takes ~0.55 ms), so sums share out only from half a
    # million elements (~50 us of uint8), well above the cost of a wake-up.
    SUM_PER_PIXEL = 16


# ---------------------------------------------------------------------------
# Sums of squared differences
# ---------------------------------------------------------------------------

# Elements per parallel piece of the integer sums: squares of differences of
# 16-bit values are < 2**34, so a piece's uint64 sum cannot wrap; small enough
# that pieces share out evenly between the pool's participants.
cdef Py_ssize_t INT_PIECE = 1 << 16


cdef struct _SumArgs:
    const char* x
    const char* y
    Py_ssize_t n
    void* out  # one result per piece (uint64 or double)
    const Py_ssize_t* starts
    const Py_ssize_t* sizes


cdef void _int_task(void* ctx, Py_ssize_t lo, Py_ssize_t hi, int slot,
                    const small_int_t* tag) noexcept nogil:
    """Pieces lo .. hi - 1 of sq_diff_sum_int."""
    cdef _SumArgs* a = <_SumArgs*> ctx
    cdef const small_int_t* x = <const small_int_t*> a.x
    cdef const small_int_t* y = <const small_int_t*> a.y
    cdef uint64_t* out = <uint64_t*> a.out
    cdef Py_ssize_t p, i, start, stop, j, block
    cdef uint64_t total
    cdef uint32_t small
    cdef int64_t d
    for p in range(lo, hi):
        start = p * INT_PIECE
        stop = min(a.n, start + INT_PIECE)
        total = 0
        if small_int_t is uint8_t or small_int_t is int8_t:
            # 8-bit squares are < 2**16: blocks of 2**15 sum in 32 bits,
            # which the compiler vectorises well.
            j = start
            while j < stop:
                block = min(stop, j + 32768)
                small = 0
                for i in range(j, block):
                    small = small + <uint32_t> ((<int32_t> x[i] - <int32_t> y[i])
                                                * (<int32_t> x[i] - <int32_t> y[i]))
                total = total + small
                j = block
        else:
            for i in range(start, stop):
                d = <int64_t> x[i] - <int64_t> y[i]
                total = total + <uint64_t> (d * d)
        out[p] = total


def sq_diff_sum_int(const small_int_t[::1] x, const small_int_t[::1] y, int n_threads):
    """Exact sum of (x - y)**2 as a Python int. x and y hold values of at most
    16 bits (int32 only for values converted from smaller types)."""
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"sq_diff_sum_int: x has {x.shape[0]} elements, y {y.shape[0]}")
    cdef Py_ssize_t n = x.shape[0]
    cdef Py_ssize_t n_pieces = (n + INT_PIECE - 1) // INT_PIECE
    if n == 0:
        return 0
    partial = np.zeros(n_pieces, dtype=np.uint64)
    cdef uint64_t[::1] out = partial
    cdef _SumArgs args
    args.x = <const char*> &x[0]
    args.y = <const char*> &y[0]
    args.n = n
    args.out = &out[0]
    cdef int workers = _workers_for(n_threads, <double> n / SUM_PER_PIXEL)
    with nogil:
        ssimfast_pool_run(<ssimfast_task> _int_task[small_int_t], &args, n_pieces,
                          _chunk(n_pieces, workers, 1), workers)
    return sum(partial.tolist())


# NumPy's pairwise summation (numpy/_core/src/umath/loops_utils.h.src): below 8
# elements a plain loop, up to 128 eight accumulators, else split in two halves
# (the first a multiple of 8). scikit-image sums the squared differences with
# np.mean, so the same tree gives the same rounding, bit for bit.
cdef double _pairwise(const as_double_t* x, const as_double_t* y, Py_ssize_t n) noexcept nogil:
    cdef double r0, r1, r2, r3, r4, r5, r6, r7, res, d
    cdef Py_ssize_t i, n2
    if n < 8:
        res = 0.0
        for i in range(n):
            d = <double> x[i] - <double> y[i]
            res = res + d * d
        return res
    if n <= 128:
        d = <double> x[0] - <double> y[0]; r0 = d * d
        d = <double> x[1] - <double> y[1]; r1 = d * d
        d = <double> x[2] - <double> y[2]; r2 = d * d
        d = <double> x[3] - <double> y[3]; r3 = d * d
        d = <double> x[4] - <double> y[4]; r4 = d * d
        d = <double> x[5] - <double> y[5]; r5 = d * d
        d = <double> x[6] - <double> y[6]; r6 = d * d
        d = <double> x[7] - <double> y[7]; r7 = d * d
        i = 8
        while i < n - (n % 8):
            d = <double> x[i] - <double> y[i]; r0 = r0 + d * d
            d = <double> x[i + 1] - <double> y[i + 1]; r1 = r1 + d * d
            d = <double> x[i + 2] - <double> y[i + 2]; r2 = r2 + d * d
            d = <double> x[i + 3] - <double> y[i + 3]; r3 = r3 + d * d
            d = <double> x[i + 4] - <double> y[i + 4]; r4 = r4 + d * d
            d = <double> x[i + 5] - <double> y[i + 5]; r5 = r5 + d * d
            d = <double> x[i + 6] - <double> y[i + 6]; r6 = r6 + d * d
            d = <double> x[i + 7] - <double> y[i + 7]; r7 = r7 + d * d
            i = i + 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            d = <double> x[i] - <double> y[i]
            res = res + d * d
            i = i + 1
        return res
    n2 = n // 2
    n2 = n2 - n2 % 8
    return _pairwise(x, y, n2) + _pairwise(x + n2, y + n2, n - n2)


# The same for float32 input: scikit-image squares in float32, and np.mean's
# cast to float64 goes through buffers of 8192 elements, each summed pairwise,
# the buffer sums added in order.
cdef double _pairwise_f32(const float* x, const float* y, Py_ssize_t n) noexcept nogil:
    cdef double res
    cdef float d
    cdef Py_ssize_t i, j, n2
    cdef double r[8]
    if n < 8:
        res = 0.0
        for i in range(n):
            d = x[i] - y[i]
            res = res + <double> (d * d)
        return res
    if n <= 128:
        for j in range(8):
            d = x[j] - y[j]
            r[j] = <double> (d * d)
        i = 8
        while i < n - (n % 8):
            for j in range(8):
                d = x[i + j] - y[i + j]
                r[j] = r[j] + <double> (d * d)
            i = i + 8
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
        while i < n:
            d = x[i] - y[i]
            res = res + <double> (d * d)
            i = i + 1
        return res
    n2 = n // 2
    n2 = n2 - n2 % 8
    return _pairwise_f32(x, y, n2) + _pairwise_f32(x + n2, y + n2, n - n2)


# The pairwise tree cut at this depth gives up to 2**6 subtrees, summed in
# parallel and then combined along the tree as NumPy would.
cdef enum:
    TREE_DEPTH = 6
    N_LEAVES = 64


cdef Py_ssize_t _leaves(Py_ssize_t start, Py_ssize_t n, int depth,
                        Py_ssize_t* starts, Py_ssize_t* sizes, Py_ssize_t k) noexcept nogil:
    cdef Py_ssize_t n2
    if depth == 0 or n <= 128:
        starts[k] = start
        sizes[k] = n
        return k + 1
    n2 = n // 2
    n2 = n2 - n2 % 8
    k = _leaves(start, n2, depth - 1, starts, sizes, k)
    return _leaves(start + n2, n - n2, depth - 1, starts, sizes, k)


cdef double _combine(Py_ssize_t n, int depth, const double* sums, Py_ssize_t* k) noexcept nogil:
    cdef Py_ssize_t n2
    cdef double left
    if depth == 0 or n <= 128:
        k[0] = k[0] + 1
        return sums[k[0] - 1]
    n2 = n // 2
    n2 = n2 - n2 % 8
    left = _combine(n2, depth - 1, sums, k)
    return left + _combine(n - n2, depth - 1, sums, k)


cdef void _f64_task(void* ctx, Py_ssize_t lo, Py_ssize_t hi, int slot,
                    const as_double_t* tag) noexcept nogil:
    """Leaves lo .. hi - 1 of sq_diff_sum_float64's pairwise tree."""
    cdef _SumArgs* a = <_SumArgs*> ctx
    cdef const as_double_t* x = <const as_double_t*> a.x
    cdef const as_double_t* y = <const as_double_t*> a.y
    cdef double* sums = <double*> a.out
    cdef Py_ssize_t leaf
    for leaf in range(lo, hi):
        sums[leaf] = _pairwise(x + a.starts[leaf], y + a.starts[leaf], a.sizes[leaf])


def sq_diff_sum_float64(const as_double_t[::1] x, const as_double_t[::1] y, int n_threads):
    """Sum of (float64(x) - float64(y))**2, in np.mean's (pairwise) order."""
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"sq_diff_sum_float64: x has {x.shape[0]} elements, y {y.shape[0]}")
    cdef Py_ssize_t n = x.shape[0]
    if n == 0:
        return 0.0
    cdef Py_ssize_t starts[N_LEAVES]
    cdef Py_ssize_t sizes[N_LEAVES]
    cdef double sums[N_LEAVES]
    cdef Py_ssize_t n_leaves, k = 0
    cdef double total
    cdef _SumArgs args
    args.x = <const char*> &x[0]
    args.y = <const char*> &y[0]
    args.n = n
    args.out = sums
    args.starts = starts
    args.sizes = sizes
    cdef int workers = _workers_for(n_threads, <double> n / SUM_PER_PIXEL)
    with nogil:
        n_leaves = _leaves(0, n, TREE_DEPTH, starts, sizes, 0)
        ssimfast_pool_run(<ssimfast_task> _f64_task[as_double_t], &args, n_leaves, 1, workers)
        total = _combine(n, TREE_DEPTH, sums, &k)
    return total


cdef Py_ssize_t F32_BUFFER = 8192


cdef void _f32_task(void* ctx, Py_ssize_t lo, Py_ssize_t hi, int slot,
                    const void* tag) noexcept nogil:
    """Buffers lo .. hi - 1 of sq_diff_sum_float32."""
    cdef _SumArgs* a = <_SumArgs*> ctx
    cdef const float* x = <const float*> a.x
    cdef const float* y = <const float*> a.y
    cdef double* out = <double*> a.out
    cdef Py_ssize_t b, start
    for b in range(lo, hi):
        start = b * F32_BUFFER
        out[b] = _pairwise_f32(x + start, y + start, min(F32_BUFFER, a.n - start))


def sq_diff_sum_float32(const float[::1] x, const float[::1] y, int n_threads):
    """Sum in float64 of float32 (x - y)**2, in np.mean's order for float32 input."""
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"sq_diff_sum_float32: x has {x.shape[0]} elements, y {y.shape[0]}")
    cdef Py_ssize_t n = x.shape[0]
    cdef Py_ssize_t n_buf = (n + F32_BUFFER - 1) // F32_BUFFER
    if n == 0:
        return 0.0
    partial = np.empty(n_buf, dtype=np.float64)
    cdef double[::1] out = partial
    cdef Py_ssize_t b
    cdef double total = 0.0
    cdef _SumArgs args
    args.x = <const char*> &x[0]
    args.y = <const char*> &y[0]
    args.n = n
    args.out = &out[0]
    cdef int workers = _workers_for(n_threads, <double> n / SUM_PER_PIXEL)
    with nogil:
        # A buffer is 8192 elements, a few microseconds: chunks of several.
        ssimfast_pool_run(_f32_task, &args, n_buf, _chunk(n_buf, workers, 8), workers)
        for b in range(n_buf):
            total = total + out[b]
    return total


# ---------------------------------------------------------------------------
# FFmpeg's SSIM (libavfilter/vf_ssim.c, from x264)
# ---------------------------------------------------------------------------
#
# Sums over 4x4 blocks; each window is 2x2 blocks (8x8 pixels) on a 4-pixel
# grid; the SSIM of a window comes from the four sums in integers and is
# rounded to float as FFmpeg does. 8-bit planes: int32 sums and constants
# 416 and 235963 (x86's ssim_end_line adds a row's window values in four
# double lanes, i % 4, then (l0 + l2) + (l1 + l3)); deeper planes: int64 sums,
# constants scaled by the bit depth, a row's values added in float. Rows are
# added in double, in order; the plane's value is that sum over the number of
# windows.

# Block sums of block row z (s1, s2, ss, s12 of each 4x4 block, as FFmpeg's
# ssim_4x4xn); returns the block row's sum of squared differences,
# sum(ss - 2 * s12), for PSNR. 8-bit: SSE2 (every x86-64 CPU) for four blocks
# at a time, as FFmpeg's own ssim_4x4_line does with SSSE3; the compiler's
# vectorisation of the scalar loops below shuffles bytes more than it adds.
cdef extern from *:
    """
    #include <stddef.h>
    #include <stdint.h>
    #if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
    #include <emmintrin.h>
    #define SSIMFAST_HAVE_SSE2 1
    /* Four blocks' sums from 4 rows of 16 pixels. */
    static int64_t ssimfast_block_sums_8(const uint8_t *a, ptrdiff_t sa,
                                         const uint8_t *b, ptrdiff_t sb,
                                         ptrdiff_t bw, int32_t *sums)
    {
        const __m128i zero = _mm_setzero_si128(), ones = _mm_set1_epi16(1);
        __m128i sse = _mm_setzero_si128();
        ptrdiff_t k = 0;
        int64_t total = 0;
        for (; k + 4 <= bw; k += 4) {
            __m128i s1lo = zero, s1hi = zero, s2lo = zero, s2hi = zero;
            __m128i sslo = zero, sshi = zero, s12lo = zero, s12hi = zero;
            for (int yy = 0; yy < 4; yy++) {
                __m128i va = _mm_loadu_si128((const __m128i *)(a + yy * sa + 4 * k));
                __m128i vb = _mm_loadu_si128((const __m128i *)(b + yy * sb + 4 * k));
                __m128i alo = _mm_unpacklo_epi8(va, zero), ahi = _mm_unpackhi_epi8(va, zero);
                __m128i blo = _mm_unpacklo_epi8(vb, zero), bhi = _mm_unpackhi_epi8(vb, zero);
                s1lo = _mm_add_epi16(s1lo, alo);
                s1hi = _mm_add_epi16(s1hi, ahi);
                s2lo = _mm_add_epi16(s2lo, blo);
                s2hi = _mm_add_epi16(s2hi, bhi);
                sslo = _mm_add_epi32(sslo, _mm_add_epi32(_mm_madd_epi16(alo, alo),
                                                         _mm_madd_epi16(blo, blo)));
                sshi = _mm_add_epi32(sshi, _mm_add_epi32(_mm_madd_epi16(ahi, ahi),
                                                         _mm_madd_epi16(bhi, bhi)));
                s12lo = _mm_add_epi32(s12lo, _mm_madd_epi16(alo, blo));
                s12hi = _mm_add_epi32(s12hi, _mm_madd_epi16(ahi, bhi));
            }
            /* Pairs of columns (lo: blocks k, k+1; hi: k+2, k+3) to blocks. */
            #define SSIMFAST_PAIRS_TO_BLOCKS(lo, hi) _mm_add_epi32(                          \
                _mm_castps_si128(_mm_shuffle_ps(_mm_castsi128_ps(lo), _mm_castsi128_ps(hi), \
                                                _MM_SHUFFLE(2, 0, 2, 0))),                  \
                _mm_castps_si128(_mm_shuffle_ps(_mm_castsi128_ps(lo), _mm_castsi128_ps(hi), \
                                                _MM_SHUFFLE(3, 1, 3, 1))))
            __m128 v1 = _mm_castsi128_ps(SSIMFAST_PAIRS_TO_BLOCKS(
                _mm_madd_epi16(s1lo, ones), _mm_madd_epi16(s1hi, ones)));
            __m128 v2 = _mm_castsi128_ps(SSIMFAST_PAIRS_TO_BLOCKS(
                _mm_madd_epi16(s2lo, ones), _mm_madd_epi16(s2hi, ones)));
            __m128i vss = SSIMFAST_PAIRS_TO_BLOCKS(sslo, sshi);
            __m128i v12 = SSIMFAST_PAIRS_TO_BLOCKS(s12lo, s12hi);
            #undef SSIMFAST_PAIRS_TO_BLOCKS
            /* Each block's SSE is below 2**20: widen to 64 bits before adding up. */
            __m128i d = _mm_sub_epi32(vss, _mm_add_epi32(v12, v12));
            sse = _mm_add_epi64(sse, _mm_add_epi64(_mm_unpacklo_epi32(d, zero),
                                                   _mm_unpackhi_epi32(d, zero)));
            __m128 v3 = _mm_castsi128_ps(vss), v4 = _mm_castsi128_ps(v12);
            _MM_TRANSPOSE4_PS(v1, v2, v3, v4);  /* to s1, s2, ss, s12 per block */
            _mm_storeu_si128((__m128i *)(sums + 4 * k), _mm_castps_si128(v1));
            _mm_storeu_si128((__m128i *)(sums + 4 * k + 4), _mm_castps_si128(v2));
            _mm_storeu_si128((__m128i *)(sums + 4 * k + 8), _mm_castps_si128(v3));
            _mm_storeu_si128((__m128i *)(sums + 4 * k + 12), _mm_castps_si128(v4));
        }
        {
            int64_t halves[2];
            _mm_storeu_si128((__m128i *)halves, sse);
            total = halves[0] + halves[1];
        }
    #else
    static int64_t ssimfast_block_sums_8(const uint8_t *a, ptrdiff_t sa,
                                         const uint8_t *b, ptrdiff_t sb,
                                         ptrdiff_t bw, int32_t *sums)
    {
        ptrdiff_t k = 0;
        int64_t total = 0;
    #endif
        for (; k < bw; k++) {  /* the blocks left over, one at a time */
            int32_t s1 = 0, s2 = 0, ss = 0, s12 = 0;
            for (int yy = 0; yy < 4; yy++) {
                for (int xx = 0; xx < 4; xx++) {
                    int32_t p = a[yy * sa + 4 * k + xx], q = b[yy * sb + 4 * k + xx];
                    s1 += p;
                    s2 += q;
                    ss += p * p + q * q;
                    s12 += p * q;
                }
            }
            sums[4 * k] = s1;
            sums[4 * k + 1] = s2;
            sums[4 * k + 2] = ss;
            sums[4 * k + 3] = s12;
            total += ss - 2 * s12;
        }
        return total;
    }
    """
    int64_t ssimfast_block_sums_8(const uint8_t* a, Py_ssize_t sa, const uint8_t* b,
                                  Py_ssize_t sb, Py_ssize_t bw, int32_t* sums) noexcept nogil


cdef inline int64_t _block_sums_16(const char* a, Py_ssize_t sa, const char* b, Py_ssize_t sb,
                                   Py_ssize_t z, Py_ssize_t bw, int64_t* sums) noexcept nogil:
    # a, b: the planes' first bytes; sa, sb: their row strides in bytes.
    cdef Py_ssize_t k, yy, xx, col
    cdef int64_t s1, s2, ss, s12, p, q
    cdef int64_t sse = 0
    cdef const uint16_t* ra
    cdef const uint16_t* rb
    for k in range(bw):
        s1 = 0; s2 = 0; ss = 0; s12 = 0
        for yy in range(4):
            ra = <const uint16_t*> (a + (4 * z + yy) * sa)
            rb = <const uint16_t*> (b + (4 * z + yy) * sb)
            for xx in range(4):
                col = 4 * k + xx
                p = ra[col]
                q = rb[col]
                s1 = s1 + p
                s2 = s2 + q
                ss = ss + p * p + q * q
                s12 = s12 + p * q
        sums[4 * k] = s1
        sums[4 * k + 1] = s2
        sums[4 * k + 2] = ss
        sums[4 * k + 3] = s12
        sse = sse + ss - 2 * s12
    return sse


cdef inline float _end1_16(int64_t s1, int64_t s2, int64_t ss, int64_t s12,
                           int64_t c1, int64_t c2) noexcept nogil:
    cdef int64_t vars = ss * 64 - s1 * s1 - s2 * s2
    cdef int64_t covar = s12 * 64 - s1 * s2
    cdef float num = <float> (2 * s1 * s2 + c1) * <float> (2 * covar + c2)
    cdef float den = <float> (s1 * s1 + s2 * s2 + c1) * <float> (vars + c2)
    return num / den


# A row of windows: window i is blocks i and i + 1 of the two block rows.
# (Storing the sums as four arrays and the window values in a buffer first,
# for the compiler to vectorise, was measured slower.)
# x86's ssim_end_line: four double lanes, window i in lane i % 4, then
# (l0 + l2) + (l1 + l3). SSE2 for four windows at a time, as FFmpeg's SSE4
# code: the sums fit in 16 bits (s1, s2 <= 64 * 255), so pmaddwd gives their
# exact 32-bit products; the four factors go to float, then mul, mul, div.
cdef extern from *:
    """
    static double ssimfast_end_row_8(const int32_t *t, const int32_t *u, ptrdiff_t n)
    {
        double lane[4] = {0.0, 0.0, 0.0, 0.0};
        ptrdiff_t i = 0;
    #ifdef SSIMFAST_HAVE_SSE2
        const __m128i c1 = _mm_set1_epi32(416), c2 = _mm_set1_epi32(235963);
        __m128d acc01 = _mm_setzero_pd(), acc23 = _mm_setzero_pd();
        for (; i + 4 <= n; i += 4) {
            __m128 w[4];
            for (int j = 0; j < 4; j++) {
                const int32_t *tp = t + 4 * (i + j), *up = u + 4 * (i + j);
                __m128i x = _mm_add_epi32(
                    _mm_add_epi32(_mm_loadu_si128((const __m128i *)tp),
                                  _mm_loadu_si128((const __m128i *)(tp + 4))),
                    _mm_add_epi32(_mm_loadu_si128((const __m128i *)up),
                                  _mm_loadu_si128((const __m128i *)(up + 4))));
                w[j] = _mm_castsi128_ps(x);
            }
            _MM_TRANSPOSE4_PS(w[0], w[1], w[2], w[3]);
            __m128i s1 = _mm_castps_si128(w[0]), s2 = _mm_castps_si128(w[1]);
            __m128i ss = _mm_castps_si128(w[2]), s12 = _mm_castps_si128(w[3]);
            __m128i s1s2 = _mm_madd_epi16(s1, s2);
            __m128i s1s1 = _mm_madd_epi16(s1, s1), s2s2 = _mm_madd_epi16(s2, s2);
            __m128i vars = _mm_sub_epi32(_mm_sub_epi32(_mm_slli_epi32(ss, 6), s1s1), s2s2);
            __m128i covar = _mm_sub_epi32(_mm_slli_epi32(s12, 6), s1s2);
            __m128 num = _mm_mul_ps(_mm_cvtepi32_ps(_mm_add_epi32(_mm_add_epi32(s1s2, s1s2), c1)),
                                    _mm_cvtepi32_ps(_mm_add_epi32(_mm_add_epi32(covar, covar), c2)));
            __m128 den = _mm_mul_ps(_mm_cvtepi32_ps(_mm_add_epi32(_mm_add_epi32(s1s1, s2s2), c1)),
                                    _mm_cvtepi32_ps(_mm_add_epi32(vars, c2)));
            __m128 v = _mm_div_ps(num, den);
            acc01 = _mm_add_pd(acc01, _mm_cvtps_pd(v));
            acc23 = _mm_add_pd(acc23, _mm_cvtps_pd(_mm_movehl_ps(v, v)));
        }
        _mm_storeu_pd(lane, acc01);
        _mm_storeu_pd(lane + 2, acc23);
    #endif
        for (; i < n; i++) {
            const int32_t *tp = t + 4 * i, *up = u + 4 * i;
            int32_t s1 = tp[0] + tp[4] + up[0] + up[4];
            int32_t s2 = tp[1] + tp[5] + up[1] + up[5];
            int32_t ss = tp[2] + tp[6] + up[2] + up[6];
            int32_t s12 = tp[3] + tp[7] + up[3] + up[7];
            int32_t vars = ss * 64 - s1 * s1 - s2 * s2;
            int32_t covar = s12 * 64 - s1 * s2;
            float num = (float)(2 * s1 * s2 + 416) * (float)(2 * covar + 235963);
            float den = (float)(s1 * s1 + s2 * s2 + 416) * (float)(vars + 235963);
            lane[i % 4] += (double)(num / den);
        }
        return (lane[0] + lane[2]) + (lane[1] + lane[3]);
    }
    """
    double ssimfast_end_row_8(const int32_t* t, const int32_t* u, Py_ssize_t n) noexcept nogil


cdef inline double _end_row_8(const int32_t* s0, const int32_t* s1, Py_ssize_t n) noexcept nogil:
    return ssimfast_end_row_8(s0, s1, n)


cdef double _end_row_16(const int64_t* s0, const int64_t* s1, Py_ssize_t n,
                        int64_t c1, int64_t c2) noexcept nogil:
    # vf_ssim.c's ssim_endn_16bit adds a row in float, in order.
    cdef float row = 0.0
    cdef Py_ssize_t i
    for i in range(n):
        row = row + _end1_16(
            s0[4 * i] + s0[4 * i + 4] + s1[4 * i] + s1[4 * i + 4],
            s0[4 * i + 1] + s0[4 * i + 5] + s1[4 * i + 1] + s1[4 * i + 5],
            s0[4 * i + 2] + s0[4 * i + 6] + s1[4 * i + 2] + s1[4 * i + 6],
            s0[4 * i + 3] + s0[4 * i + 7] + s1[4 * i + 3] + s1[4 * i + 7],
            c1, c2)
    return <double> row


# FFmpeg's constants (vf_ssim.c computes them in double and truncates, + .5),
# for window sums of 64 pixels.
cdef inline int64_t _ffmpeg_c1(int max_value) noexcept nogil:
    return <int64_t> (.01 * .01 * max_value * max_value * 64 + .5)


cdef inline int64_t _ffmpeg_c2(int max_value) noexcept nogil:
    return <int64_t> (.03 * .03 * max_value * max_value * 64 * 63 + .5)


# Window rows per parallel band: each band computes its first block row once
# more than a serial pass would (1 in 16).
cdef Py_ssize_t BAND = 16


cdef struct _PlaneArgs:
    const char* a
    const char* b
    Py_ssize_t sa, sb  # row strides in bytes
    Py_ssize_t bw, bh, n_win
    int64_t c1, c2
    char* scratch      # two rows of block sums per slot
    size_t slot_bytes
    double* rows
    int64_t* sse


cdef inline int64_t _block_sums(const _PlaneArgs* p, Py_ssize_t z, void* sums,
                                const plane_t* tag) noexcept nogil:
    if plane_t is uint8_t:
        return ssimfast_block_sums_8(<const uint8_t*> (p.a + 4 * z * p.sa), p.sa,
                                     <const uint8_t*> (p.b + 4 * z * p.sb), p.sb,
                                     p.bw, <int32_t*> sums)
    else:
        return _block_sums_16(p.a, p.sa, p.b, p.sb, z, p.bw, <int64_t*> sums)


cdef void _plane_task(void* ctx, Py_ssize_t lo, Py_ssize_t hi, int slot,
                      const plane_t* tag) noexcept nogil:
    """Bands lo .. hi - 1 of ffmpeg_ssim_plane, with scratch slot `slot`."""
    cdef _PlaneArgs* p = <_PlaneArgs*> ctx
    cdef char* scratch = p.scratch + slot * p.slot_bytes
    cdef void* buf0 = scratch
    cdef void* buf1 = scratch + p.slot_bytes // 2
    cdef void* tmp
    cdef Py_ssize_t band, y, y0, y1
    cdef int64_t band_sse
    for band in range(lo, hi):
        y0 = 1 + band * BAND
        y1 = min(p.bh, y0 + BAND)
        # buf1 holds block row y - 1, buf0 block row y; a band's first row is
        # the previous band's last: its SSE counted there.
        band_sse = _block_sums(p, y0 - 1, buf1, tag)
        if band > 0:
            band_sse = 0
        for y in range(y0, y1):
            band_sse = band_sse + _block_sums(p, y, buf0, tag)
            if plane_t is uint8_t:
                p.rows[y] = _end_row_8(<int32_t*> buf1, <int32_t*> buf0, p.n_win)
            else:
                p.rows[y] = _end_row_16(<int64_t*> buf1, <int64_t*> buf0, p.n_win, p.c1, p.c2)
            tmp = buf0
            buf0 = buf1
            buf1 = tmp
        p.sse[band] = band_sse


def ffmpeg_ssim_plane(const plane_t[:, ::1] a, const plane_t[:, ::1] b, int max_value,
                      int n_threads):
    """FFmpeg's SSIM of one plane pair (sum of window values / windows, as
    vf_ssim.c). uint8 planes use FFmpeg's 8-bit path, uint16 its >8-bit path
    with max_value = 2**bits - 1. Returns (ssim, sse): sse is the exact sum of
    squared differences over the 4-aligned part (4 * (h // 4), 4 * (w // 4))."""
    if a.shape[0] != b.shape[0] or a.shape[1] != b.shape[1]:
        raise ValueError("ffmpeg_ssim_plane: the planes differ in shape")
    if a.shape[0] < 8 or a.shape[1] < 8:
        raise ValueError("ffmpeg_ssim_plane: planes need at least 8x8 pixels")
    if not 1 <= max_value <= 65535:
        raise ValueError(f"ffmpeg_ssim_plane: max_value must be in [1, 65535], got {max_value}")
    if plane_t is uint8_t and max_value != 255:
        raise ValueError("ffmpeg_ssim_plane: uint8 planes are 8-bit (max_value 255)")
    cdef Py_ssize_t bw = a.shape[1] >> 2, bh = a.shape[0] >> 2
    cdef Py_ssize_t n_bands = (bh - 1 + BAND - 1) // BAND
    cdef int workers = _workers_for(n_threads, <double> a.shape[0] * a.shape[1])
    if workers > n_bands:
        workers = <int> n_bands
    cdef _PlaneArgs p
    p.a = <const char*> &a[0, 0]
    p.b = <const char*> &b[0, 0]
    p.sa = a.strides[0]
    p.sb = b.strides[0]
    p.bw = bw
    p.bh = bh
    p.n_win = bw - 1
    p.c1 = _ffmpeg_c1(max_value)
    p.c2 = _ffmpeg_c2(max_value)
    # Two rows of block sums, 4 per block, for each participant; then each
    # window row's value and each band's SSE (one malloc: no NumPy arrays,
    # whose creation and sum cost more than a small plane's SSIM).
    p.slot_bytes = 8 * bw * (sizeof(int32_t) if plane_t is uint8_t else sizeof(int64_t))
    cdef size_t scratch_bytes = workers * p.slot_bytes
    p.scratch = <char*> malloc(scratch_bytes + bh * sizeof(double) + n_bands * sizeof(int64_t))
    if p.scratch == NULL:
        raise MemoryError("ffmpeg_ssim_plane: out of memory for block sums")
    p.rows = <double*> (p.scratch + scratch_bytes)
    p.sse = <int64_t*> (p.rows + bh)
    cdef Py_ssize_t y
    cdef double total = 0.0
    cdef int64_t sse = 0
    with nogil:
        ssimfast_pool_run(<ssimfast_task> _plane_task[plane_t], &p, n_bands, 1, workers)
        for y in range(1, bh):
            total = total + p.rows[y]
        for y in range(n_bands):
            sse = sse + p.sse[y]
    free(p.scratch)
    return total / <double> ((bw - 1) * (bh - 1)), sse


# ---------------------------------------------------------------------------
# FFmpeg's SSIM of a frame read from two files in row bands
# ---------------------------------------------------------------------------
#
# The video path's per-frame call: each plane is read (pread) a band of rows at
# a time from both files into small buffers that stay in the L2 cache and
# scored at once, rather than a whole frame read into memory (6 MB at 1080p,
# 24 MiB at 4K: past the L3 cache) and read back. Same block sums, window rows
# and order of additions as ffmpeg_ssim_plane, so the same bits.

cdef extern from *:
    """
    #include <errno.h>
    #ifndef _WIN32
    #include <unistd.h>
    #endif
    /* n bytes at off into buf: 0, -1 if the file ends first, else an errno.
       EINTR is retried. */
    static int ssimfast_pread_full(int fd, char *buf, size_t n, int64_t off)
    {
    #ifdef _WIN32
        (void)fd; (void)buf; (void)n; (void)off;
        return ENOSYS;
    #else
        while (n > 0) {
            ssize_t got = pread(fd, buf, n, (off_t)off);
            if (got < 0) {
                if (errno == EINTR)
                    continue;
                return errno;
            }
            if (got == 0)
                return -1;
            buf += got;
            n -= (size_t)got;
            off += got;
        }
        return 0;
    #endif
    }
    """
    int ssimfast_pread_full(int fd, char* buf, size_t n, int64_t off) noexcept nogil


class ShortRead(Exception):
    """A file ended before the frame did (args: 0 for the first file, 1 for
    the second); the caller says which frame of which file."""


cdef enum:
    MAX_PLANES = 4


cdef struct _BandPlane:
    Py_ssize_t h, w, rows  # rows: per band, a multiple of 4
    int64_t start          # byte offset of the plane in a frame


cdef int64_t _sq_diff_row(const char* a, const char* b, Py_ssize_t x0, Py_ssize_t x1,
                          const plane_t* tag) noexcept nogil:
    # The pixels of a row past the last whole 4x4 block (PSNR's SSE).
    cdef const plane_t* p = <const plane_t*> a
    cdef const plane_t* q = <const plane_t*> b
    cdef int64_t total = 0, d
    cdef Py_ssize_t x
    for x in range(x0, x1):
        d = <int64_t> p[x] - <int64_t> q[x]
        total = total + d * d
    return total


cdef int _plane_bands(int fd_a, int64_t off_a, int fd_b, int64_t off_b, const _BandPlane* pl,
                      char* band_a, char* band_b, char* sums0, char* sums1,
                      int64_t c1, int64_t c2, double* ssim, int64_t* sse, int* side,
                      const plane_t* tag) noexcept nogil:
    """One plane of both files (their frames at off_a, off_b), band by band:
    0, or ssimfast_pread_full's error with *side the file (0 or 1)."""
    cdef Py_ssize_t row_bytes = pl.w * sizeof(plane_t)
    cdef Py_ssize_t bw = pl.w >> 2, bh = pl.h >> 2
    cdef Py_ssize_t r0 = 0, r1, z, y, x0
    cdef int64_t off, total_sse = 0
    cdef double total = 0.0
    cdef char* prev = sums1  # block row z - 1
    cdef char* cur = sums0   # block row z
    cdef char* tmp
    cdef const char* ra
    cdef const char* rb
    cdef int rc
    while r0 < pl.h:
        r1 = min(pl.h, r0 + pl.rows)
        off = pl.start + r0 * row_bytes
        rc = ssimfast_pread_full(fd_a, band_a, (r1 - r0) * row_bytes, off_a + off)
        if rc != 0:
            side[0] = 0
            return rc
        rc = ssimfast_pread_full(fd_b, band_b, (r1 - r0) * row_bytes, off_b + off)
        if rc != 0:
            side[0] = 1
            return rc
        # r0 is a multiple of 4: the band holds whole block rows, then maybe
        # the plane's last h % 4 rows, which no block covers.
        z = r0 >> 2
        while z < bh and 4 * z + 4 <= r1:
            ra = band_a + (4 * z - r0) * row_bytes
            rb = band_b + (4 * z - r0) * row_bytes
            if plane_t is uint8_t:
                total_sse = total_sse + ssimfast_block_sums_8(
                    <const uint8_t*> ra, row_bytes, <const uint8_t*> rb, row_bytes, bw,
                    <int32_t*> cur)
                if z > 0:
                    total = total + _end_row_8(<int32_t*> prev, <int32_t*> cur, bw - 1)
            else:
                total_sse = total_sse + _block_sums_16(ra, row_bytes, rb, row_bytes, 0, bw,
                                                       <int64_t*> cur)
                if z > 0:
                    total = total + _end_row_16(<int64_t*> prev, <int64_t*> cur, bw - 1,
                                                c1, c2)
            tmp = prev
            prev = cur
            cur = tmp
            z = z + 1
        if 4 * bw < pl.w or r1 > 4 * bh:
            for y in range(r0, r1):
                x0 = 0 if y >= 4 * bh else 4 * bw
                total_sse = total_sse + _sq_diff_row(band_a + (y - r0) * row_bytes,
                                                     band_b + (y - r0) * row_bytes, x0, pl.w, tag)
        r0 = r1
    ssim[0] = total / <double> ((bw - 1) * (bh - 1))
    sse[0] = total_sse
    return 0


cdef class FrameBands:
    """Scratch of one thread for ffmpeg_ssim_bands: a band of rows of each
    file and two rows of block sums, reused frame after frame.

    FrameBands(shapes, itemsize, max_value, band_bytes): shapes the planes'
    (height, width) in frame order (each at least 8x8), itemsize 1 (uint8)
    or 2 (uint16, native order), max_value as for ffmpeg_ssim_plane, and
    band_bytes the bytes of a band of one file (rounded to whole 4-row block
    rows, at least one)."""
    cdef _BandPlane planes[MAX_PLANES]
    cdef int n_planes, itemsize
    cdef int64_t c1, c2, frame_bytes
    cdef char* mem
    cdef char* band_a
    cdef char* band_b
    cdef char* sums0
    cdef char* sums1

    def __cinit__(self, shapes, int itemsize, int max_value, Py_ssize_t band_bytes):
        shapes = [(int(h), int(w)) for h, w in shapes]
        if not 1 <= len(shapes) <= MAX_PLANES:
            raise ValueError(f"FrameBands: 1 to {MAX_PLANES} planes, got {len(shapes)}")
        if itemsize not in (1, 2):
            raise ValueError(f"FrameBands: itemsize must be 1 or 2, got {itemsize}")
        if not 1 <= max_value <= 65535 or (itemsize == 1 and max_value != 255):
            raise ValueError(f"FrameBands: bad max_value {max_value} for itemsize {itemsize}")
        if band_bytes < 1:
            raise ValueError(f"FrameBands: band_bytes must be positive, got {band_bytes}")
        cdef Py_ssize_t band_max = 0, sums_max = 0, start = 0
        for k, (h, w) in enumerate(shapes):
            if h < 8 or w < 8:
                raise ValueError(f"FrameBands: planes need at least 8x8 pixels, got {w}x{h}")
            if h * w > (1 << 40):
                raise ValueError(f"FrameBands: plane of {w}x{h} pixels is too large")
            self.planes[k].h = h
            self.planes[k].w = w
            self.planes[k].rows = max(4, band_bytes // (w * itemsize) // 4 * 4)
            self.planes[k].start = start
            start += h * w * itemsize
            band_max = max(band_max, min(h, self.planes[k].rows) * w * itemsize)
            sums_max = max(sums_max, 4 * (w >> 2) * (4 if itemsize == 1 else 8))
        self.n_planes = len(shapes)
        self.itemsize = itemsize
        self.frame_bytes = start
        self.c1 = _ffmpeg_c1(max_value)
        self.c2 = _ffmpeg_c2(max_value)
        # 64-byte aligned pieces (cache lines).
        band_max = (band_max + 63) // 64 * 64
        sums_max = (sums_max + 63) // 64 * 64
        self.mem = <char*> malloc(2 * band_max + 2 * sums_max + 64)
        if self.mem == NULL:
            raise MemoryError("FrameBands: out of memory")
        self.band_a = <char*> ((<size_t> self.mem + 63) // 64 * 64)
        self.band_b = self.band_a + band_max
        self.sums0 = self.band_b + band_max
        self.sums1 = self.sums0 + sums_max

    def __dealloc__(self):
        free(self.mem)

    def score(self, int fd_a, int64_t off_a, int fd_b, int64_t off_b):
        """FFmpeg's SSIM of each plane of the frames at byte off_a of file
        descriptor fd_a and off_b of fd_b: (ssims, sses), tuples of floats and
        ints, each equal to ffmpeg_ssim_plane's on the planes read (the sse
        also counts the pixels past the last whole 4x4 block). Raises
        ShortRead(file) if a file ends first, OSError on a read error."""
        if fd_a < 0 or fd_b < 0:
            raise ValueError(f"FrameBands.score: bad file descriptors {fd_a}, {fd_b}")
        if off_a < 0 or off_b < 0 or max(off_a, off_b) > (1 << 62) - self.frame_bytes:
            raise ValueError(f"FrameBands.score: bad offsets {off_a}, {off_b}")
        cdef double ssim[MAX_PLANES]
        cdef int64_t sse[MAX_PLANES]
        cdef int k, rc = 0, side = 0
        with nogil:
            for k in range(self.n_planes):
                if self.itemsize == 1:
                    rc = _plane_bands[uint8_t](fd_a, off_a, fd_b, off_b, &self.planes[k],
                                               self.band_a, self.band_b, self.sums0, self.sums1,
                                               self.c1, self.c2, &ssim[k], &sse[k], &side, NULL)
                else:
                    rc = _plane_bands[uint16_t](fd_a, off_a, fd_b, off_b, &self.planes[k],
                                                self.band_a, self.band_b, self.sums0,
                                                self.sums1, self.c1, self.c2, &ssim[k], &sse[k],
                                                &side, NULL)
                if rc != 0:
                    break
        if rc == -1:
            raise ShortRead(side)
        if rc != 0:
            raise OSError(rc, os.strerror(rc))
        return (tuple([ssim[k] for k in range(self.n_planes)]),
                tuple([sse[k] for k in range(self.n_planes)]))

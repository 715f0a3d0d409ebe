# The compiled SSIM kernels. _ssim_cy.pyx (the baseline build), _ssim_avx2.pyx
# and _ssim_avx512.pyx (the same source compiled for those instruction sets, see
# setup.py) include this file; ssimfast._extension picks one at import by what
# the CPU supports.
#
# The Python layer (_ssim.py) checks shapes, dtypes and options, computes the
# filter taps and allocates the outputs; kernels do arithmetic, with the GIL
# released. Each entry point still checks that its arguments are consistent
# (O(1), see "Argument checks"): whatever it is given, a kernel raises rather
# than crashing the interpreter (.ci/fuzz calls them with fuzzed arguments).
#
# The four windowed statistics are the filtered x, y, x*x + y*y and x*y: the SSIM
# denominator needs only the sum of the two variances. Each axis is filtered in
# turn (separable), in scipy.ndimage's order for symmetric taps (see "Filtering"
# below), with 'reflect' boundaries as scipy.ndimage.
# All paths (2-D, 3-D, N-D) do the same operations in the same order, so their
# maps agree bit for bit; row sums are added in row order after the parallel
# loop, so the mean does not depend on the number of threads.

import numpy as np

from libc.stdint cimport uint8_t
from libc.stdlib cimport free, malloc
from libc.string cimport memset
from cpython.pyport cimport PY_SSIZE_T_MAX

from ssimfast._fused cimport pixel_t, double_rp, float_rp
from ssimfast._openmp cimport (
    SSIMFAST_NATIVE_BUILD,
    SSIMFAST_OPENMP_ENABLED,
    SSIMFAST_TARGET,
    ssimfast_cpu_has_avx2,
    ssimfast_cpu_has_avx512,
    omp_get_max_threads,
)


def openmp_enabled():
    """True if the kernels were compiled with OpenMP."""
    return bool(SSIMFAST_OPENMP_ENABLED)


def native_build():
    """True if the kernels were compiled for the building CPU (-march=native)."""
    return bool(SSIMFAST_NATIVE_BUILD)


def target():
    """What this module was compiled for: 'native', 'avx512', 'avx2' or 'baseline'."""
    return SSIMFAST_TARGET.decode()


def cpu_supports(target):
    """True if this CPU and OS run code compiled for `target` (a name as target() gives)."""
    if target == "avx2":
        return bool(ssimfast_cpu_has_avx2())
    if target == "avx512":
        return bool(ssimfast_cpu_has_avx512())
    return target == "baseline"


def max_threads():
    """OpenMP's default thread count (OMP_NUM_THREADS, threadpoolctl); 1 without OpenMP."""
    return omp_get_max_threads()


# ---------------------------------------------------------------------------
# Argument checks (with the GIL, before any work)
# ---------------------------------------------------------------------------

# Longest axis or filter a kernel takes. A zero-stride (broadcast) input can
# claim an axis of 2**62 pixels at no cost; beyond this, sizes of scratch in
# Py_ssize_t arithmetic could wrap around to a small allocation.
cdef Py_ssize_t MAX_EXTENT = (<Py_ssize_t> 1) << 48


cdef int _check(bint ok, str kernel, str what) except -1:
    if not ok:
        raise ValueError(f"{kernel}: {what}")
    return 0


cdef int _check_axis(Py_ssize_t n, Py_ssize_t ntaps, Py_ssize_t crop, str kernel,
                     int axis) except -1:
    """An axis of n >= 1 pixels, an odd filter, a border >= 0. A border of half
    the axis or more leaves nothing to sum (tiles of ssim_tiled can have such
    interiors); the kernels then sum over _inner(crop, n), which is empty."""
    if n > MAX_EXTENT or ntaps > MAX_EXTENT:
        raise MemoryError(f"{kernel}: axis {axis} of {n} pixels with {ntaps} taps is too "
                          "large for any machine's memory")
    # Messages are formatted only on failure: these checks run on every call.
    if n < 1:
        _check(False, kernel, f"axis {axis} is empty")
    if ntaps < 1 or ntaps % 2 == 0:
        _check(False, kernel,
               f"the filter of axis {axis} needs an odd number of taps, got {ntaps}")
    if crop < 0:
        _check(False, kernel, f"the border of axis {axis} is negative ({crop})")
    return 0


cdef inline Py_ssize_t _inner(Py_ssize_t crop, Py_ssize_t n, bint upper) noexcept:
    """The summed range [crop, n - crop) of an axis, kept within 0..n and not
    reversed (lower end if not upper, else upper end)."""
    cdef Py_ssize_t lo = min(crop, n)
    return max(lo, n - crop) if upper else lo


cdef Py_ssize_t _doubles(object n, str kernel) except -1:
    """n (a Python int: exact) as a count of doubles of scratch, or MemoryError
    if its size in bytes would not fit in a Py_ssize_t."""
    if n > (<object> PY_SSIZE_T_MAX) // 16:
        raise MemoryError(f"{kernel}: {n} doubles of scratch is more than any machine has")
    return n


# ---------------------------------------------------------------------------
# Row helpers (all nogil, no allocation)
# ---------------------------------------------------------------------------

cdef enum:
    STRIP = 512  # columns per strip in the 2-D kernel
    # Columns per panel of the 2-D ring path: a panel's ring (ntaps + 3 rows of
    # four statistics) stays in the L2 cache; a 4K row's (1.7 MB) does not.
    PANEL = 1024


cdef inline Py_ssize_t _round_up(Py_ssize_t n) noexcept nogil:
    """n rounded up to a multiple of 8 doubles (64 bytes), so buffers stay aligned."""
    return (n + 7) // 8 * 8


cdef extern from "Python.h":
    int PyTraceMalloc_Track(unsigned int domain, size_t ptr, size_t size) noexcept nogil
    int PyTraceMalloc_Untrack(unsigned int domain, size_t ptr) noexcept nogil

cdef enum:
    TRACE_DOMAIN = 0x5353494D  # tracemalloc domain of the kernels' scratch ("SSIM")


cdef inline void* _scratch(size_t size) noexcept nogil:
    """malloc that tracemalloc sees (as NumPy's own allocations), so that memory
    measurements count the kernels' scratch. NULL if out of memory."""
    cdef void* p = malloc(size)
    if p != NULL:
        PyTraceMalloc_Track(TRACE_DOMAIN, <size_t> p, size)
    return p


cdef inline void _free_scratch(void* p) noexcept nogil:
    PyTraceMalloc_Untrack(TRACE_DOMAIN, <size_t> p)
    free(p)


cdef inline double* _aligned(void* p) noexcept nogil:
    """p rounded up to 64 bytes (a cache line); allocate 8 doubles more for it."""
    return <double*> ((<size_t> p + 63) // 64 * 64)


cdef inline Py_ssize_t _reflect(Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    """Map index i into [0, n) as scipy.ndimage's 'reflect' mode: d c b a | a b c d | d c b a."""
    cdef Py_ssize_t period = 2 * n
    if 0 <= i < n:  # the common case, without a division
        return i
    # One reflection (every pad narrower than the axis), also without one: a
    # division per pad pixel cost a 64x64 call about a tenth of its kernel time.
    if -n <= i < 0:
        return -1 - i
    if n <= i < period:
        return period - 1 - i
    i = i % period
    if i < 0:
        i = i + period
    if i >= n:
        i = period - 1 - i
    return i


cdef inline void _copy_row(const char* base, Py_ssize_t step, Py_ssize_t n,
                           pixel_t* out) noexcept nogil:
    """Copy n pixels `step` bytes apart from `base` to contiguous `out`."""
    cdef Py_ssize_t j
    for j in range(n):
        out[j] = (<const pixel_t*> (base + j * step))[0]


# ---------------------------------------------------------------------------
# Filtering in scipy.ndimage's order for symmetric taps (correlate1d):
#
#     out = w[r] * c + w[0] * (s[-r] + s[+r]) + w[1] * (s[-r+1] + s[+r-1]) + ...
#           + w[r-1] * (s[-1] + s[+1])
#
# added left to right (the centre c first, then the pairs from the outermost
# in), r = ntaps // 2: one multiplication per pair instead of two. Every filter
# of every path (2-D, 3-D, N-D, the gradient) adds in this order, so their
# results agree bit for bit. The taps must be symmetric, which the Python layer
# guarantees (uniform, or a Gaussian of symmetric abscissae); only taps[:r + 1]
# are read.
# ---------------------------------------------------------------------------

cdef inline void _sym_centre(const double* c, double w, double_rp dst,
                             Py_ssize_t n) noexcept nogil:
    """dst = w * c: the first term of a symmetric filter."""
    cdef Py_ssize_t j
    for j in range(n):
        dst[j] = w * c[j]


cdef inline void _sym_pair(const double* a, const double* b, double w, double_rp dst,
                           Py_ssize_t n) noexcept nogil:
    """dst += w * (a + b): one pair of taps."""
    cdef Py_ssize_t j
    for j in range(n):
        dst[j] = dst[j] + w * (a[j] + b[j])


cdef inline void _sym_pairs2(const double* a0, const double* b0, const double* a1,
                             const double* b1, double w0, double w1, double_rp dst,
                             Py_ssize_t n) noexcept nogil:
    """_sym_pair for (a0, b0), then (a1, b1), with one load and store of dst."""
    cdef Py_ssize_t j
    for j in range(n):
        dst[j] = (dst[j] + w0 * (a0[j] + b0[j])) + w1 * (a1[j] + b1[j])


cdef inline void _sym7_rows(const double** p, const double* w, double_rp dst,
                            Py_ssize_t n) noexcept nogil:
    """The symmetric filter of 7 rows p[0..6] (p[3] the centre), in one expression."""
    cdef Py_ssize_t j
    cdef double w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3]
    cdef const double* p0 = p[0]
    cdef const double* p1 = p[1]
    cdef const double* p2 = p[2]
    cdef const double* p3 = p[3]
    cdef const double* p4 = p[4]
    cdef const double* p5 = p[5]
    cdef const double* p6 = p[6]
    for j in range(n):
        dst[j] = ((w3 * p3[j] + w0 * (p0[j] + p6[j])) + w1 * (p1[j] + p5[j])) \
            + w2 * (p2[j] + p4[j])


cdef inline void _sym11_rows(const double** p, const double* w, double_rp dst,
                             Py_ssize_t n) noexcept nogil:
    """The symmetric filter of 11 rows p[0..10] (p[5] the centre), in one expression."""
    cdef Py_ssize_t j
    cdef double w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5]
    cdef const double* p0 = p[0]
    cdef const double* p1 = p[1]
    cdef const double* p2 = p[2]
    cdef const double* p3 = p[3]
    cdef const double* p4 = p[4]
    cdef const double* p5 = p[5]
    cdef const double* p6 = p[6]
    cdef const double* p7 = p[7]
    cdef const double* p8 = p[8]
    cdef const double* p9 = p[9]
    cdef const double* p10 = p[10]
    for j in range(n):
        dst[j] = ((((w5 * p5[j] + w0 * (p0[j] + p10[j])) + w1 * (p1[j] + p9[j]))
                   + w2 * (p2[j] + p8[j])) + w3 * (p3[j] + p7[j])) + w4 * (p4[j] + p6[j])


cdef inline void _product_row(const pixel_t* x, const pixel_t* y,
                              double_rp o0, double_rp o1, double_rp o2, double_rp o3,
                              Py_ssize_t n) noexcept nogil:
    """The four per-pixel statistics x, y, x*x + y*y, x*y of n contiguous pixels."""
    cdef Py_ssize_t j
    cdef double a, b
    for j in range(n):
        a = <double> x[j]
        b = <double> y[j]
        o0[j] = a
        o1[j] = b
        o2[j] = a * a + b * b
        o3[j] = a * b


cdef inline void _product_row_strided(const pixel_t* x, Py_ssize_t xcol, const pixel_t* y,
                                      Py_ssize_t ycol, double_rp o0, double_rp o1,
                                      double_rp o2, double_rp o3,
                                      Py_ssize_t n) noexcept nogil:
    """_product_row for pixels xcol (ycol) bytes apart."""
    cdef Py_ssize_t j
    cdef double a, b
    for j in range(n):
        a = <double> (<const pixel_t*> (<const char*> x + j * xcol))[0]
        b = <double> (<const pixel_t*> (<const char*> y + j * ycol))[0]
        o0[j] = a
        o1[j] = b
        o2[j] = a * a + b * b
        o3[j] = a * b


cdef inline void _products_centre(const pixel_t* x, const pixel_t* y, double w,
                                  double_rp s0, double_rp s1, double_rp s2, double_rp s3,
                                  Py_ssize_t n) noexcept nogil:
    """s = w * (the four statistics of one row pair): _sym_centre on the fly."""
    cdef Py_ssize_t j
    cdef double a, b
    for j in range(n):
        a = <double> x[j]
        b = <double> y[j]
        s0[j] = w * a
        s1[j] = w * b
        s2[j] = w * (a * a + b * b)
        s3[j] = w * (a * b)


cdef inline void _products_pair(const pixel_t* xa, const pixel_t* ya,
                                const pixel_t* xb, const pixel_t* yb, double w,
                                double_rp s0, double_rp s1, double_rp s2, double_rp s3,
                                Py_ssize_t n) noexcept nogil:
    """_sym_pair of the statistics of row pairs a and b, computed on the fly
    (the same operations as _product_row, then _sym_pair)."""
    cdef Py_ssize_t j
    cdef double a, b, c, d
    for j in range(n):
        a = <double> xa[j]
        b = <double> ya[j]
        c = <double> xb[j]
        d = <double> yb[j]
        s0[j] = s0[j] + w * (a + c)
        s1[j] = s1[j] + w * (b + d)
        s2[j] = s2[j] + w * ((a * a + b * b) + (c * c + d * d))
        s3[j] = s3[j] + w * (a * b + c * d)


cdef inline void _rows_at(const char* xb, Py_ssize_t xstep, Py_ssize_t xcol,
                          const char* yb, Py_ssize_t ystep, Py_ssize_t ycol,
                          Py_ssize_t r, Py_ssize_t ntaps, Py_ssize_t t,
                          pixel_t* xscratch, pixel_t* yscratch, Py_ssize_t* tags,
                          Py_ssize_t W, Py_ssize_t c0, Py_ssize_t m,
                          const pixel_t** xr, const pixel_t** yr) noexcept nogil:
    """Pointers to columns [c0, c0 + m) of row r of x and y, contiguous: the rows
    themselves, or copies in the scratch (see _window_products for the cache)."""
    cdef bint xcopy = xcol != <Py_ssize_t> sizeof(pixel_t) and W > 1
    cdef bint ycopy = ycol != <Py_ssize_t> sizeof(pixel_t) and W > 1
    cdef Py_ssize_t slot, lo = 0 if tags != NULL else c0  # first column copied
    xr[0] = <const pixel_t*> (xb + r * xstep + c0 * xcol)
    yr[0] = <const pixel_t*> (yb + r * ystep + c0 * ycol)
    if not (xcopy or ycopy):
        return
    slot = r % (ntaps + 1) if tags != NULL else t
    if tags == NULL or tags[slot] != r:
        if xcopy:
            _copy_row(xb + r * xstep + lo * xcol, xcol, W - lo if tags != NULL else m,
                      xscratch + slot * W + lo)
        if ycopy:
            _copy_row(yb + r * ystep + lo * ycol, ycol, W - lo if tags != NULL else m,
                      yscratch + slot * W + lo)
        if tags != NULL:
            tags[slot] = r
    if xcopy:
        xr[0] = xscratch + slot * W + c0
    if ycopy:
        yr[0] = yscratch + slot * W + c0


cdef inline void _slide_products(const pixel_t* xn, const pixel_t* yn,
                                 const pixel_t* xo, const pixel_t* yo,
                                 double_rp s0, double_rp s1, double_rp s2, double_rp s3,
                                 Py_ssize_t n) noexcept nogil:
    """Slide window sums down one row: add the statistics of the new row pair
    (xn, yn) and take away those of the old one (xo, yo). Exact only when every
    sum is an integer below 2**53, which the Python layer checks."""
    cdef Py_ssize_t j
    cdef double a, b, c, d
    for j in range(n):
        a = <double> xn[j]
        b = <double> yn[j]
        c = <double> xo[j]
        d = <double> yo[j]
        s0[j] += a - c
        s1[j] += b - d
        s2[j] += (a * a + b * b) - (c * c + d * d)
        s3[j] += a * b - c * d


cdef void _window_products(const char* xb, Py_ssize_t xstep, Py_ssize_t xcol,
                           const char* yb, Py_ssize_t ystep, Py_ssize_t ycol,
                           Py_ssize_t n, Py_ssize_t centre, const double* taps, Py_ssize_t ntaps,
                           pixel_t* xscratch, pixel_t* yscratch, Py_ssize_t* tags,
                           double* v, Py_ssize_t vstride, Py_ssize_t W,
                           Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    """The four statistics of the input rows around `centre`, filtered along their
    axis (symmetric order, statistics computed on the fly), for columns [c0, c1)
    of rows W pixels long.

    Row r of x starts at xb + r * xstep, its pixels xcol bytes apart (likewise y);
    r runs over the window with 'reflect' boundaries at 0 and n. The result goes
    to (v + s * vstride)[c0:c1] for s = 0..3.

    Strided rows are copied to contiguous scratch rows first. With `tags` (one
    per slot, -1 when empty) the scratch is a cache of max(ntaps + 1, 4) rows:
    row r lives in slot r % (ntaps + 1), so moving to the next centre copies one
    new row, not ntaps, and the rows entering and leaving a sliding window never
    share a slot; cached rows are copied whole, so later column ranges find them.
    Without tags, 2 slots are refilled with the columns needed on every call.
    """
    cdef Py_ssize_t k, h = ntaps // 2, m = c1 - c0
    cdef const pixel_t* xa
    cdef const pixel_t* ya
    cdef const pixel_t* xz
    cdef const pixel_t* yz
    v = v + c0
    _rows_at(xb, xstep, xcol, yb, ystep, ycol, _reflect(centre, n), ntaps, 0,
             xscratch, yscratch, tags, W, c0, m, &xa, &ya)
    _products_centre(xa, ya, taps[h], v, v + vstride, v + 2 * vstride, v + 3 * vstride, m)
    for k in range(h):
        _rows_at(xb, xstep, xcol, yb, ystep, ycol, _reflect(centre + k - h, n), ntaps, 0,
                 xscratch, yscratch, tags, W, c0, m, &xa, &ya)
        _rows_at(xb, xstep, xcol, yb, ystep, ycol, _reflect(centre + h - k, n), ntaps, 1,
                 xscratch, yscratch, tags, W, c0, m, &xz, &yz)
        _products_pair(xa, ya, xz, yz, taps[k], v, v + vstride, v + 2 * vstride,
                       v + 3 * vstride, m)


cdef enum:
    ROWS = 4  # output rows per group in the 2-D kernel's ring path


cdef inline Py_ssize_t _ring_slots(Py_ssize_t ntaps) noexcept nogil:
    """Slots of _ring_fill's ring: the input rows of ROWS consecutive windows."""
    return ntaps + ROWS - 1


cdef inline Py_ssize_t _ring_plane(Py_ssize_t W) noexcept nogil:
    """Doubles from one statistic of a ring row to the next: W rounded up to
    8 (64 bytes), then to 8 more than a multiple of 128, so that the slots
    (4 planes apart) fall 256 bytes apart modulo 4 KiB. With a multiple of 4
    KiB between them, the rows a filter reads together would all map to the
    same sets of the L1 cache and evict each other."""
    cdef Py_ssize_t plane = _round_up(W)
    return plane + (136 - plane % 128) % 128


cdef inline void _ring_fill(const pixel_t* x, Py_ssize_t xstep, Py_ssize_t xcol,
                            const pixel_t* y, Py_ssize_t ystep, Py_ssize_t ycol,
                            Py_ssize_t n, Py_ssize_t i0, Py_ssize_t g, Py_ssize_t ntaps,
                            double* ring, Py_ssize_t plane, Py_ssize_t* tags,
                            Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    """Make `ring` hold the four statistics (_product_row, columns [c0, c1)) of
    every input row of the windows around centres i0 .. i0 + g - 1 (g <= ROWS;
    rows as _window_products).

    Row r lives in slot r % _ring_slots(ntaps), its statistics `plane` doubles
    apart, slots 4 * plane apart; tags[slot] says which row a slot holds (-1:
    none). The rows of ROWS consecutive windows lie within ntaps + ROWS - 1
    consecutive rows (also where they reflect), so they never share a slot, and
    each input row is computed once as the centres move down.
    """
    cdef Py_ssize_t k, r, slot, h = ntaps // 2, slots = _ring_slots(ntaps)
    cdef double* o
    cdef const char* xb = <const char*> x
    cdef const char* yb = <const char*> y
    for k in range(ntaps + g - 1):
        r = _reflect(i0 + k - h, n)
        slot = r % slots
        if tags[slot] == r:
            continue
        o = ring + slot * 4 * plane
        if xcol == <Py_ssize_t> sizeof(pixel_t) and ycol == <Py_ssize_t> sizeof(pixel_t):
            _product_row(<const pixel_t*> (xb + r * xstep) + c0,
                         <const pixel_t*> (yb + r * ystep) + c0,
                         o + c0, o + plane + c0, o + 2 * plane + c0, o + 3 * plane + c0,
                         c1 - c0)
        else:
            _product_row_strided(<const pixel_t*> (xb + r * xstep + c0 * xcol), xcol,
                                 <const pixel_t*> (yb + r * ystep + c0 * ycol), ycol,
                                 o + c0, o + plane + c0, o + 2 * plane + c0,
                                 o + 3 * plane + c0, c1 - c0)
        tags[slot] = r


cdef inline void _sym11_rows4(const double** p, const double* w, double_rp d0, double_rp d1,
                              double_rp d2, double_rp d3, Py_ssize_t n) noexcept nogil:
    """_sym11_rows for 4 consecutive centres (rows p[0..13]; d_t from p[t..t+10]):
    the rows shared by the windows are loaded once."""
    cdef Py_ssize_t j
    cdef double w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5]
    cdef double q0, q1, q2, q3, q4, q5, q6, q7, q8, q9, q10, q11, q12, q13
    cdef const double* p0 = p[0]
    cdef const double* p1 = p[1]
    cdef const double* p2 = p[2]
    cdef const double* p3 = p[3]
    cdef const double* p4 = p[4]
    cdef const double* p5 = p[5]
    cdef const double* p6 = p[6]
    cdef const double* p7 = p[7]
    cdef const double* p8 = p[8]
    cdef const double* p9 = p[9]
    cdef const double* p10 = p[10]
    cdef const double* p11 = p[11]
    cdef const double* p12 = p[12]
    cdef const double* p13 = p[13]
    for j in range(n):
        q0 = p0[j]
        q1 = p1[j]
        q2 = p2[j]
        q3 = p3[j]
        q4 = p4[j]
        q5 = p5[j]
        q6 = p6[j]
        q7 = p7[j]
        q8 = p8[j]
        q9 = p9[j]
        q10 = p10[j]
        q11 = p11[j]
        q12 = p12[j]
        q13 = p13[j]
        d0[j] = ((((w5 * q5 + w0 * (q0 + q10)) + w1 * (q1 + q9)) + w2 * (q2 + q8))
                 + w3 * (q3 + q7)) + w4 * (q4 + q6)
        d1[j] = ((((w5 * q6 + w0 * (q1 + q11)) + w1 * (q2 + q10)) + w2 * (q3 + q9))
                 + w3 * (q4 + q8)) + w4 * (q5 + q7)
        d2[j] = ((((w5 * q7 + w0 * (q2 + q12)) + w1 * (q3 + q11)) + w2 * (q4 + q10))
                 + w3 * (q5 + q9)) + w4 * (q6 + q8)
        d3[j] = ((((w5 * q8 + w0 * (q3 + q13)) + w1 * (q4 + q12)) + w2 * (q5 + q11))
                 + w3 * (q6 + q10)) + w4 * (q7 + q9)


cdef inline void _filter_ring(const double* ring, Py_ssize_t step, Py_ssize_t n,
                              Py_ssize_t i0, Py_ssize_t g, const double* taps,
                              Py_ssize_t ntaps, double* dst, Py_ssize_t dstep,
                              Py_ssize_t m) noexcept nogil:
    """_filter_rows of _ring_fill's ring for centres i0 .. i0 + g - 1, to
    dst + t * dstep (t = 0..g-1): the same bits as g calls."""
    cdef Py_ssize_t k, t, h = ntaps // 2, slots = _ring_slots(ntaps)
    cdef const double* p[14]
    if ntaps == 11 and g == 4:
        for k in range(14):
            p[k] = ring + (_reflect(i0 + k - h, n) % slots) * step
        _sym11_rows4(p, taps, dst, dst + dstep, dst + 2 * dstep, dst + 3 * dstep, m)
        return
    for t in range(g):
        _filter_rows(ring, step, slots, n, i0 + t, taps, ntaps, dst + t * dstep, m)


cdef void _filter_rows(const double* src, Py_ssize_t step, Py_ssize_t slots, Py_ssize_t n,
                       Py_ssize_t centre, const double* taps, Py_ssize_t ntaps,
                       double_rp dst, Py_ssize_t m) noexcept nogil:
    """dst[:m] = the symmetric filter of rows reflect(centre + k - ntaps // 2, n)
    of src (k = 0..ntaps-1); row q lives at src + (q % slots) * step (slots >= n
    for a plain array, the ring's size for _ring_fill's ring)."""
    cdef Py_ssize_t k, h = ntaps // 2
    cdef const double* p[11]
    if ntaps == 11 or ntaps == 7:
        for k in range(ntaps):
            p[k] = src + (_reflect(centre + k - h, n) % slots) * step
        if ntaps == 11:
            _sym11_rows(p, taps, dst, m)
        else:
            _sym7_rows(p, taps, dst, m)
        return
    _sym_centre(src + (_reflect(centre, n) % slots) * step, taps[h], dst, m)
    k = 0
    while k + 2 <= h:
        _sym_pairs2(src + (_reflect(centre + k - h, n) % slots) * step,
                    src + (_reflect(centre + h - k, n) % slots) * step,
                    src + (_reflect(centre + k + 1 - h, n) % slots) * step,
                    src + (_reflect(centre + h - k - 1, n) % slots) * step,
                    taps[k], taps[k + 1], dst, m)
        k += 2
    if k < h:
        _sym_pair(src + (_reflect(centre + k - h, n) % slots) * step,
                  src + (_reflect(centre + h - k, n) % slots) * step, taps[k], dst, m)


cdef inline void _pad_reflect(double* row, Py_ssize_t n, Py_ssize_t r,
                              bint left, bint right) noexcept nogil:
    """Fill row[-r:0] (if left) and row[n:n+r] (if right) from row[0:n] in
    'reflect' mode; the columns they mirror must be filled already."""
    cdef Py_ssize_t j
    for j in range(1, r + 1):
        if left:
            row[-j] = row[_reflect(-j, n)]
        if right:
            row[n - 1 + j] = row[_reflect(n - 1 + j, n)]


cdef inline void _sym7(const double* s, const double* w, double_rp dst,
                       Py_ssize_t n) noexcept nogil:
    """_correlate for 7 taps, all in one expression (one store per output)."""
    cdef Py_ssize_t j
    cdef double w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3]
    for j in range(n):
        dst[j] = ((w3 * s[j + 3] + w0 * (s[j] + s[j + 6])) + w1 * (s[j + 1] + s[j + 5])) \
            + w2 * (s[j + 2] + s[j + 4])


cdef inline void _box7(const double* s, double_rp dst, Py_ssize_t n) noexcept nogil:
    """_sym7 with unit taps, for exact integer window sums (any order gives the
    same bits): no multiplications."""
    cdef Py_ssize_t j
    for j in range(n):
        dst[j] = (((((0.0 + s[j]) + s[j + 1]) + s[j + 2]) + s[j + 3]) + s[j + 4]) + s[j + 5] \
            + s[j + 6]


cdef inline void _sym11(const double* s, const double* w, double_rp dst,
                        Py_ssize_t n) noexcept nogil:
    """_correlate for 11 taps (the Gaussian window of sigma 1.5), in one expression."""
    cdef Py_ssize_t j
    cdef double w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5]
    for j in range(n):
        dst[j] = ((((w5 * s[j + 5] + w0 * (s[j] + s[j + 10])) + w1 * (s[j + 1] + s[j + 9]))
                   + w2 * (s[j + 2] + s[j + 8])) + w3 * (s[j + 3] + s[j + 7])) \
            + w4 * (s[j + 4] + s[j + 6])


cdef inline void _correlate(const double* src, const double* taps, Py_ssize_t ntaps,
                            double_rp dst, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """dst[j] = the symmetric filter of src[j - r:j + r + 1] for j in [lo, hi),
    r = ntaps // 2, in the order of _filter_rows and the N-D path.

    `src` must be readable r elements beyond [lo, hi) on each side (padded).
    The common windows (7 and 11 taps) keep the whole sum in registers; others
    go through _filter_rows' helpers on shifted pointers, 2 pairs per pass.
    """
    cdef Py_ssize_t k, r = ntaps // 2, n = hi - lo
    cdef const double* s = src + lo - r
    cdef bint unit = True
    dst = dst + lo
    if ntaps == 7:
        for k in range(7):
            unit = unit and taps[k] == 1.0
        if unit:
            _box7(s, dst, n)
        else:
            _sym7(s, taps, dst, n)
        return
    if ntaps == 11:
        _sym11(s, taps, dst, n)
        return
    _sym_centre(s + r, taps[r], dst, n)
    k = 0
    while k + 2 <= r:
        _sym_pairs2(s + k, s + ntaps - 1 - k, s + k + 1, s + ntaps - 2 - k,
                    taps[k], taps[k + 1], dst, n)
        k += 2
    if k < r:
        _sym_pair(s + k, s + ntaps - 1 - k, taps[k], dst, n)


cdef inline double _ssim_terms(double mx, double my, double sxxyy, double sxy,
                               double c1, double c2, double cov_norm,
                               double* a1, double* a2, double* b1, double* b2) noexcept nogil:
    """SSIM from the filtered statistics at one pixel, and its four factors.

    Arranged so that x == y gives exactly 1.0 (A1 == B1 and A2 == B2 bit for
    bit); the build turns off FMA contraction to keep it so.
    """
    cdef double p = mx * my
    cdef double q = mx * mx + my * my
    a1[0] = 2.0 * p + c1
    a2[0] = cov_norm * (2.0 * (sxy - p)) + c2
    b1[0] = q + c1
    b2[0] = cov_norm * (sxxyy - q) + c2
    return (a1[0] * a2[0]) / (b1[0] * b2[0])


cdef inline void _ssim_row(const double* ux, const double* uy, const double* uxxyy,
                           const double* uxy, double scale, Py_ssize_t lo, Py_ssize_t hi,
                           double c1, double c2, double cov_norm,
                           double_rp s, double_rp t1, double_rp t2, double_rp t3) noexcept nogil:
    """SSIM from the filtered statistics (times `scale`) for j in [lo, hi), to s[j].

    `scale` is 1/N when the statistics are exact window sums (integer input,
    uniform window), else 1.0 (x * 1.0 == x, so that costs no bits).
    When t1 is not NULL, also the three terms of Avanaki's gradient that
    scikit-image filters afterwards: A1/D, -S/B2, (ux(A2-A1) - uy(B2-B1)S)/D.
    Two loops, so that the common one has no branch and vectorises.
    """
    cdef Py_ssize_t j
    cdef double a1, a2, b1, b2, d, v, mx, my
    if t1 == NULL:
        for j in range(lo, hi):
            s[j] = _ssim_terms(ux[j] * scale, uy[j] * scale, uxxyy[j] * scale,
                               uxy[j] * scale, c1, c2, cov_norm, &a1, &a2, &b1, &b2)
        return
    for j in range(lo, hi):
        mx = ux[j] * scale
        my = uy[j] * scale
        v = _ssim_terms(mx, my, uxxyy[j] * scale, uxy[j] * scale, c1, c2, cov_norm,
                        &a1, &a2, &b1, &b2)
        d = b1 * b2
        s[j] = v
        t1[j] = a1 / d
        t2[j] = -v / b2
        t3[j] = (mx * (a2 - a1) - my * (b2 - b1) * v) / d


cdef inline void _sum_more(const double* s, Py_ssize_t lo, Py_ssize_t hi,
                           double* t) noexcept nogil:
    """_sum's four partial sums t[0..3], continued over s[lo:hi]. A row summed in
    pieces whose lengths, all but the last, are multiples of 4 gets _sum's bits:
    (t[0] + t[1]) + (t[2] + t[3])."""
    cdef Py_ssize_t j = lo
    while j + 4 <= hi:
        t[0] += s[j]
        t[1] += s[j + 1]
        t[2] += s[j + 2]
        t[3] += s[j + 3]
        j += 4
    while j < hi:
        t[0] += s[j]
        j += 1


cdef inline double _sum(const double* s, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Sum of s[lo:hi] with four interleaved partial sums (fixed order, so deterministic)."""
    cdef double t0 = 0.0, t1 = 0.0, t2 = 0.0, t3 = 0.0
    cdef Py_ssize_t j = lo
    while j + 4 <= hi:
        t0 += s[j]
        t1 += s[j + 1]
        t2 += s[j + 2]
        t3 += s[j + 3]
        j += 4
    while j < hi:
        t0 += s[j]
        j += 1
    return (t0 + t1) + (t2 + t3)


cdef inline double _sym11_at(const double* s, double w0, double w1, double w2, double w3,
                             double w4, double w5) noexcept nogil:
    """_sym11's sum for the window s[0..10] (the same expression, the same bits)."""
    return ((((w5 * s[5] + w0 * (s[0] + s[10])) + w1 * (s[1] + s[9]))
             + w2 * (s[2] + s[8])) + w3 * (s[3] + s[7])) + w4 * (s[4] + s[6])


cdef inline void _sym11_ssim(const double* v0, const double* v1, const double* v2,
                             const double* v3, const double* w, double_rp srow,
                             Py_ssize_t lo, Py_ssize_t hi, double scale,
                             double c1, double c2, double cov_norm) noexcept nogil:
    """_correlate (11 taps) of the four padded statistics rows, then _ssim_row,
    in one loop: the filtered statistics stay in registers (the same bits)."""
    cdef Py_ssize_t j
    cdef double a1, a2, b1, b2
    cdef double w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4], w5 = w[5]
    for j in range(lo, hi):
        srow[j] = _ssim_terms(_sym11_at(v0 + j - 5, w0, w1, w2, w3, w4, w5) * scale,
                              _sym11_at(v1 + j - 5, w0, w1, w2, w3, w4, w5) * scale,
                              _sym11_at(v2 + j - 5, w0, w1, w2, w3, w4, w5) * scale,
                              _sym11_at(v3 + j - 5, w0, w1, w2, w3, w4, w5) * scale,
                              c1, c2, cov_norm, &a1, &a2, &b1, &b2)


cdef inline void _finish_row(double* v, Py_ssize_t vstride, Py_ssize_t W,
                             const double* taps, Py_ssize_t ntaps,
                             double* h, double* srow, Py_ssize_t lo, Py_ssize_t hi,
                             double scale, double c1, double c2, double cov_norm,
                             double* t1, double* t2, double* t3) noexcept nogil:
    """Last axis of columns [lo, hi) of one row: pad and filter the four
    statistics filtered along the other axes (v + s*vstride, each with room for
    ntaps//2 pad columns; columns [lo - r, hi + r) within [0, W) filled), then
    the SSIM formula into srow[lo:hi]."""
    cdef Py_ssize_t s, r = ntaps // 2
    if ntaps == 11 and t1 == NULL:
        for s in range(4):
            _pad_reflect(v + s * vstride, W, r, lo < r, hi + r > W)
        _sym11_ssim(v, v + vstride, v + 2 * vstride, v + 3 * vstride, taps, srow, lo, hi,
                    scale, c1, c2, cov_norm)
        return
    for s in range(4):
        _pad_reflect(v + s * vstride, W, r, lo < r, hi + r > W)
        _correlate(v + s * vstride, taps, ntaps, h + s * W, lo, hi)
    _ssim_row(h, h + W, h + 2 * W, h + 3 * W, scale, lo, hi, c1, c2, cov_norm,
              srow, t1, t2, t3)


cdef inline void _finish_cs_row(double* v, Py_ssize_t vstride, Py_ssize_t W,
                                const double* taps, Py_ssize_t ntaps, double* h,
                                double_rp srow, double_rp crow, Py_ssize_t lo, Py_ssize_t hi,
                                double c1, double c2, double cov_norm) noexcept nogil:
    """_finish_row (scale 1.0, no gradient) that also puts the contrast-structure
    term (2 sigma_xy + C2) / (sigma_x^2 + sigma_y^2 + C2) into crow[lo:hi]."""
    cdef Py_ssize_t j, s, r = ntaps // 2
    cdef double a1, a2, b1, b2
    for s in range(4):
        _pad_reflect(v + s * vstride, W, r, lo < r, hi + r > W)
        _correlate(v + s * vstride, taps, ntaps, h + s * W, lo, hi)
    for j in range(lo, hi):
        # (ssim_2d multiplies by scale = 1.0 here: the same values)
        srow[j] = _ssim_terms(h[j], h[W + j], h[2 * W + j], h[3 * W + j],
                              c1, c2, cov_norm, &a1, &a2, &b1, &b2)
        # A2 == B2 bit for bit for identical images, so cs is exactly 1.0
        crow[j] = a2 / b2


cdef inline void _store(const double* srow, Py_ssize_t lo, Py_ssize_t hi,
                        char* out, Py_ssize_t step) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(lo, hi):
        (<double*> (out + j * step))[0] = srow[j]


# ---------------------------------------------------------------------------
# Single-precision window sums for uint8 input with a uniform window
#
# Every window sum of x, y, x*x + y*y and x*y of uint8 pixels is an integer;
# below 2**24 (NP * 2 * 255**2 < 2**24: up to 129 pixels per window) float
# holds it and every partial sum exactly. Such sums are the same numbers as
# the double path's, converted to double before the SSIM formula, so the
# results are bit-identical; vectors hold twice as many of them.
# ---------------------------------------------------------------------------

cdef inline void _slide_sums_f(const uint8_t* xn, const uint8_t* yn,
                               const uint8_t* xo, const uint8_t* yo,
                               float_rp s0, float_rp s1, float_rp s2, float_rp s3,
                               Py_ssize_t n) noexcept nogil:
    """_slide_products on float sums."""
    cdef Py_ssize_t j
    cdef float a, b, c, d
    for j in range(n):
        a = <float> xn[j]
        b = <float> yn[j]
        c = <float> xo[j]
        d = <float> yo[j]
        s0[j] += a - c
        s1[j] += b - d
        s2[j] += (a * a + b * b) - (c * c + d * d)
        s3[j] += a * b - c * d


cdef inline void _add_sums_f(const uint8_t* x, const uint8_t* y,
                             float_rp s0, float_rp s1, float_rp s2, float_rp s3,
                             Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j
    cdef float a, b
    for j in range(n):
        a = <float> x[j]
        b = <float> y[j]
        s0[j] += a
        s1[j] += b
        s2[j] += a * a + b * b
        s3[j] += a * b


cdef void _window_sums_f(const char* xb, Py_ssize_t xstep, Py_ssize_t xcol,
                         const char* yb, Py_ssize_t ystep, Py_ssize_t ycol,
                         Py_ssize_t n, Py_ssize_t centre, Py_ssize_t ntaps,
                         uint8_t* xscratch, uint8_t* yscratch, Py_ssize_t* tags,
                         float* v, Py_ssize_t vstride, Py_ssize_t W,
                         Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    """_window_products with unit taps, on float sums (see _window_products)."""
    cdef Py_ssize_t k, t, h = ntaps // 2, m = c1 - c0
    cdef const uint8_t* xr
    cdef const uint8_t* yr
    v = v + c0
    for t in range(4):
        memset(v + t * vstride, 0, m * sizeof(float))
    for k in range(ntaps):
        _rows_at(xb, xstep, xcol, yb, ystep, ycol, _reflect(centre + k - h, n), ntaps, 0,
                 xscratch, yscratch, tags, W, c0, m, &xr, &yr)
        _add_sums_f(xr, yr, v, v + vstride, v + 2 * vstride, v + 3 * vstride, m)


cdef inline void _pad_reflect_f(float* row, Py_ssize_t n, Py_ssize_t r,
                                bint left, bint right) noexcept nogil:
    """_pad_reflect for a float row."""
    cdef Py_ssize_t j
    for j in range(1, r + 1):
        if left:
            row[-j] = row[_reflect(-j, n)]
        if right:
            row[n - 1 + j] = row[_reflect(n - 1 + j, n)]


cdef inline void _box_f(const float* s, Py_ssize_t ntaps, float_rp dst,
                        Py_ssize_t n) noexcept nogil:
    """dst[j] = s[j] + ... + s[j + ntaps - 1] for j < n (exact: any order)."""
    cdef Py_ssize_t j, k
    if ntaps == 7:
        for j in range(n):
            dst[j] = ((s[j] + s[j + 1]) + (s[j + 2] + s[j + 3])) + ((s[j + 4] + s[j + 5]) + s[j + 6])
        return
    memset(dst, 0, n * sizeof(float))
    for k in range(ntaps):
        for j in range(n):
            dst[j] += s[j + k]


cdef inline void _finish_row_f(float* v, Py_ssize_t vstride, Py_ssize_t W, Py_ssize_t ntaps,
                               float* h, double_rp srow, Py_ssize_t lo, Py_ssize_t hi,
                               double scale, double c1, double c2,
                               double cov_norm) noexcept nogil:
    """_finish_row on float window sums (no gradient terms)."""
    cdef Py_ssize_t s, j, r = ntaps // 2
    cdef double a1, a2, b1, b2
    for s in range(4):
        _pad_reflect_f(v + s * vstride, W, r, lo < r, hi + r > W)
        _box_f(v + s * vstride + lo - r, ntaps, h + s * W + lo, hi - lo)
    for j in range(lo, hi):
        srow[j] = _ssim_terms((<double> h[j]) * scale, (<double> h[W + j]) * scale,
                              (<double> h[2 * W + j]) * scale, (<double> h[3 * W + j]) * scale,
                              c1, c2, cov_norm, &a1, &a2, &b1, &b2)


cdef inline bint _float_sums_exact(Py_ssize_t n0, Py_ssize_t n1) noexcept nogil:
    """Every window sum of uint8 statistics is exact in float (see above)."""
    return n0 * n1 * 2 * 255 * 255 < (1 << 24)


# ---------------------------------------------------------------------------
# 2-D (and 1-D as 1 x n): one pass over rows
# ---------------------------------------------------------------------------

cdef inline Py_ssize_t _cache_len(Py_ssize_t W, Py_ssize_t n0, bint running) noexcept nogil:
    """Doubles of _ssim_row_2d's cache: strided rows (running) or the ring."""
    if running:
        return _round_up(2 * max(n0 + 1, 4) * W)
    return 4 * _ring_slots(n0) * _ring_plane(W)


cdef void _ssim_row_2d(const char* xb, const char* yb, Py_ssize_t xs0, Py_ssize_t xs1,
                       Py_ssize_t ys0, Py_ssize_t ys1, Py_ssize_t H, Py_ssize_t W,
                       Py_ssize_t i, pixel_t* xscratch, pixel_t* yscratch,
                       Py_ssize_t* tags, const double* taps0, Py_ssize_t n0,
                       const double* taps1, Py_ssize_t n1,
                       double* v, Py_ssize_t vstride, double* h, double* srow,
                       Py_ssize_t lo, Py_ssize_t hi, double scale,
                       double c1, double c2, double cov_norm,
                       double* t1, double* t2, double* t3, bint slide,
                       bint single) noexcept nogil:
    """SSIM of output row i into srow[lo:hi] for ssim_2d's `running` case
    (exact window sums; other filters go through _ssim_rows_ring): the window's
    input rows along axis 0, then _finish_row along axis 1.

    v keeps the window sums from row to row; with slide, v holds those of row
    i - 1 and moves down one row, else they are summed afresh (xscratch,
    yscratch: _window_products' cache of strided rows).
    single: (uint8, no gradient, _float_sums_exact) v and h hold float sums,
    in the same space.
    """
    cdef Py_ssize_t j0 = lo, j1, r0 = n0 // 2, r1 = n1 // 2
    cdef Py_ssize_t c0 = max(0, lo - r1), c1_ = min(W, hi + r1)
    # Strips of STRIP columns keep the working set in the L1 cache. A strip
    # computes exactly what the whole row would, plus r1 columns of overlap.
    cdef Py_ssize_t strip = STRIP if W > STRIP + 2 * r1 else W
    cdef const pixel_t* xn
    cdef const pixel_t* yn
    cdef const pixel_t* xo
    cdef const pixel_t* yo
    cdef float* vf = (<float*> (v - r1)) + r1  # float rows, same room for padding
    if pixel_t is uint8_t:
        if single:
            if slide:
                _rows_at(xb, xs0, xs1, yb, ys0, ys1, _reflect(i - r0 - 1, H), n0, 0,
                         xscratch, yscratch, tags, W, c0, c1_ - c0, &xo, &yo)
                _rows_at(xb, xs0, xs1, yb, ys0, ys1, _reflect(i + r0, H), n0, 1,
                         xscratch, yscratch, tags, W, c0, c1_ - c0, &xn, &yn)
                _slide_sums_f(xn, yn, xo, yo, vf + c0, vf + vstride + c0,
                              vf + 2 * vstride + c0, vf + 3 * vstride + c0, c1_ - c0)
            else:
                _window_sums_f(xb, xs0, xs1, yb, ys0, ys1, H, i, n0, xscratch, yscratch,
                               tags, vf, vstride, W, c0, c1_)
            while j0 < hi:
                j1 = min(hi, j0 + strip)
                _finish_row_f(vf, vstride, W, n1, <float*> h, srow, j0, j1, scale,
                              c1, c2, cov_norm)
                j0 = j1
            return
    if slide:
        _rows_at(xb, xs0, xs1, yb, ys0, ys1, _reflect(i - r0 - 1, H), n0, 0,
                 xscratch, yscratch, tags, W, c0, c1_ - c0, &xo, &yo)
        _rows_at(xb, xs0, xs1, yb, ys0, ys1, _reflect(i + r0, H), n0, 1,
                 xscratch, yscratch, tags, W, c0, c1_ - c0, &xn, &yn)
        _slide_products(xn, yn, xo, yo, v + c0, v + vstride + c0,
                        v + 2 * vstride + c0, v + 3 * vstride + c0, c1_ - c0)
    else:
        _window_products(xb, xs0, xs1, yb, ys0, ys1, H, i, taps0, n0,
                         xscratch, yscratch, tags, v, vstride, W, c0, c1_)
    while j0 < hi:
        j1 = min(hi, j0 + strip)
        _finish_row(v, vstride, W, taps1, n1, h, srow, j0, j1, scale, c1, c2, cov_norm,
                    t1, t2, t3)
        j0 = j1


cdef void _ssim_rows_ring(const pixel_t* x, const pixel_t* y, Py_ssize_t xs0, Py_ssize_t xs1,
                          Py_ssize_t ys0, Py_ssize_t ys1, Py_ssize_t H, Py_ssize_t W,
                          Py_ssize_t i0, Py_ssize_t g, double* ring, Py_ssize_t* tags,
                          const double* taps0, Py_ssize_t n0,
                          const double* taps1, Py_ssize_t n1,
                          double* v, Py_ssize_t vstride, double* h,
                          char* srow0, Py_ssize_t srow_step,
                          Py_ssize_t lo, Py_ssize_t hi, double scale,
                          double c1, double c2, double cov_norm,
                          double* t1, Py_ssize_t tstride, double* crow0) noexcept nogil:
    """SSIM of output rows i0 .. i0 + g - 1 (g <= ROWS), columns [lo, hi), into
    the rows srow0 + t * srow_step (bytes): the statistics of each input row
    once into `ring` (_ring_fill), filtered along axis 0 for the g rows at once
    (_filter_ring, into v + t * 4 * vstride), then _finish_row along axis 1.
    t1: gradient terms of row i0 (rows W, terms tstride doubles apart) or NULL.
    crow0: contrast-structure rows (W doubles apart; _finish_cs_row, with
    scale 1.0 and no gradient), or NULL.
    The same bits as _ssim_row_2d row by row.
    """
    cdef Py_ssize_t plane = _ring_plane(W)
    cdef Py_ssize_t j0, j1, s, t, a, b, r1 = n1 // 2
    cdef Py_ssize_t c0, c1_ = min(W, hi + r1)
    # Columns from a multiple of 8, so that the vertical pass loads and stores
    # whole cache lines (v, ring and h rows are 64-byte aligned at multiples of
    # 8); the few extra columns are computed as any other and not used.
    lo = lo - lo % 8
    j0 = lo
    c0 = max(0, lo - r1)
    c0 = c0 - c0 % 8
    cdef Py_ssize_t strip = STRIP if W > STRIP + 2 * r1 else W
    cdef double* tt
    _ring_fill(x, xs0, xs1, y, ys0, ys1, H, i0, g, n0, ring, plane, tags, c0, c1_)
    while j0 < hi:
        j1 = min(hi, j0 + strip)
        a = max(0, j0 - r1)
        a = a - a % 8
        b = min(W, j1 + r1)
        for s in range(4):
            _filter_ring(ring + s * plane + a, 4 * plane, H, i0, g, taps0, n0,
                         v + s * vstride + a, 4 * vstride, b - a)
        for t in range(g):
            if crow0 != NULL:
                _finish_cs_row(v + t * 4 * vstride, vstride, W, taps1, n1, h,
                               <double*> (srow0 + t * srow_step), crow0 + t * W, j0, j1,
                               c1, c2, cov_norm)
                continue
            tt = t1 + t * W if t1 != NULL else NULL
            _finish_row(v + t * 4 * vstride, vstride, W, taps1, n1, h,
                        <double*> (srow0 + t * srow_step), j0, j1, scale, c1, c2, cov_norm,
                        tt, tt + tstride if tt != NULL else NULL,
                        tt + 2 * tstride if tt != NULL else NULL)
        j0 = j1


cdef struct _Ssim2dArgs:
    const char* xb
    const char* yb
    Py_ssize_t xs0, xs1, ys0, ys1, H, W, ilo, ihi, G, row_lo, row_hi
    const double* taps0
    const double* taps1
    Py_ssize_t n0, n1, vpad, vstride, vlen, hlen, cache_rows, ntags, per_thread
    double* work
    double* partial
    Py_ssize_t* tags
    Py_ssize_t* last_row
    char* sb
    Py_ssize_t ss0, ss1
    bint direct, want_map, running, single
    double* tbase
    Py_ssize_t lo, hi, plo, phi, slo, shi
    double scale, c1, c2, cov_norm


cdef void _ssim_2d_groups(void* args, Py_ssize_t qlo, Py_ssize_t qhi, int tid,
                          const pixel_t* tag) noexcept nogil:
    """ssim_2d's row groups qlo .. qhi - 1 of one panel, with scratch slot tid."""
    cdef _Ssim2dArgs* a = <_Ssim2dArgs*> args
    cdef Py_ssize_t q, i, g, t
    cdef Py_ssize_t H = a.H, W = a.W, G = a.G
    cdef double* base = a.work + tid * a.per_thread
    cdef double* cache = base + a.vlen + a.hlen
    cdef double* srow
    cdef double* t1
    cdef Py_ssize_t* tags = a.tags + tid * a.ntags
    for q in range(qlo, qhi):
        i = a.ilo + q * G
        g = min(G, a.ihi - i)
        srow = base + a.vlen + 4 * W  # G rows
        t1 = a.tbase + i * W if a.tbase != NULL else NULL
        if a.running:
            # A map with contiguous rows gets the SSIM row directly, else a copy.
            _ssim_row_2d(a.xb, a.yb, a.xs0, a.xs1, a.ys0, a.ys1, H, W, i,
                         <pixel_t*> cache, <pixel_t*> (cache + a.cache_rows * W),
                         tags, a.taps0, a.n0, a.taps1, a.n1,
                         base + a.vpad, a.vstride, base + a.vlen,
                         <double*> (a.sb + i * a.ss0) if a.direct else srow, a.lo, a.hi,
                         a.scale, a.c1, a.c2, a.cov_norm,
                         t1, t1 + H * W if t1 != NULL else NULL,
                         t1 + 2 * H * W if t1 != NULL else NULL,
                         a.last_row[tid] == i - 1, a.single)
            a.last_row[tid] = i
        else:
            _ssim_rows_ring(<const pixel_t*> a.xb, <const pixel_t*> a.yb,
                            a.xs0, a.xs1, a.ys0, a.ys1,
                            H, W, i, g, cache, tags, a.taps0, a.n0,
                            a.taps1, a.n1, base + a.vpad, a.vstride, base + a.vlen,
                            (a.sb + i * a.ss0) if a.direct else <char*> srow,
                            a.ss0 if a.direct else W * <Py_ssize_t> sizeof(double), a.plo, a.phi,
                            a.scale, a.c1, a.c2, a.cov_norm, t1, H * W, NULL)
        for t in range(g):
            if a.direct:
                srow = <double*> (a.sb + (i + t) * a.ss0)
            elif t > 0:
                srow = srow + W
            if a.want_map and not a.direct:
                _store(srow, a.plo, a.phi, a.sb + (i + t) * a.ss0, a.ss1)
            if a.row_lo <= i + t < a.row_hi:
                _sum_more(srow, a.slo, a.shi, a.partial + 4 * (i + t))


def ssim_2d(const pixel_t[:, :] x, const pixel_t[:, :] y,
            const double[::1] taps0, const double[::1] taps1,
            Py_ssize_t row_lo, Py_ssize_t row_hi, Py_ssize_t crop1,
            double scale, double c1, double c2, double cov_norm,
            double[:, :] smap, double[:, :, ::1] tmaps, int n_threads, bint running,
            double[::1] rowsums_out):
    """Sum of the SSIM map of a 2-D image pair over rows [row_lo, row_hi) and
    its interior columns.

    x, y        IN   images of one shape (H, W), any strides
    taps0/1     IN   filter taps along axis 0 / 1, odd length, centred
    row_lo/hi   IN   rows summed (the interior: crop0, H - crop0); a band of
                     a larger image sums its own rows, its halo only read
    crop1       IN   border left out of the sum on axis 1
    scale       IN   factor from filtered sums to statistics (1/N or 1.0)
    c1, c2, cov_norm  IN  SSIM constants
    running     IN   taps0 are all 1 and every window sum is an exact integer:
                     slide the column sums from row to row (same bits as
                     summing afresh, at the cost of 2 rows instead of len(taps0))
    smap        OUT  the SSIM map (H, W), any strides; shape (0, 0) if not wanted
    tmaps       OUT  gradient terms (3, H, W); shape (0, 0, 0) if not wanted
    n_threads   IN   OpenMP threads (>= 1)
    rowsums_out OUT  the sum of each row of [row_lo, row_hi), shape (H,); or
                     shape (0,) if not wanted. The total is their sum in order.

    Returns the sum over rows row_lo..row_hi-1 and columns crop1..W-crop1-1.
    """
    cdef Py_ssize_t H = x.shape[0], W = x.shape[1]
    cdef Py_ssize_t n0 = taps0.shape[0], n1 = taps1.shape[0], r1 = n1 // 2
    _check(y.shape[0] == H and y.shape[1] == W, "ssim_2d", "x and y differ in shape")
    _check_axis(H, n0, 0, "ssim_2d", 0)
    _check_axis(W, n1, crop1, "ssim_2d", 1)
    # (An empty range sums nothing, wherever it is: a band's rows may lie in its halo.)
    if not (row_lo >= row_hi or (row_lo >= 0 and row_hi <= H)):
        _check(False, "ssim_2d", f"rows {row_lo}..{row_hi} are not in 0..{H}")
    _check(smap.shape[0] == 0 or (smap.shape[0] == H and smap.shape[1] == W),
           "ssim_2d", "smap must be (H, W) or empty")
    _check(tmaps.shape[0] == 0 or (tmaps.shape[0] == 3 and tmaps.shape[1] == H
                                   and tmaps.shape[2] == W),
           "ssim_2d", "tmaps must be (3, H, W) or empty")
    _check(rowsums_out.shape[0] in (0, H), "ssim_2d", "rowsums_out must be (H,) or empty")
    cdef bint want_map = smap.shape[0] > 0
    cdef bint want_grad = tmaps.shape[0] > 0
    cdef bint every_pixel = want_map or want_grad
    # Mean only: just the summed rows and interior columns are computed.
    cdef Py_ssize_t ilo = 0 if every_pixel else row_lo
    cdef Py_ssize_t ihi = H if every_pixel else row_hi
    # (From a multiple of 8, so that rows are processed in whole cache lines;
    # _inner keeps the summed columns within the row for any crop.)
    cdef Py_ssize_t clo = _inner(crop1, W, False), chi = _inner(crop1, W, True)
    cdef Py_ssize_t lo = 0 if every_pixel else clo // 8 * 8
    cdef Py_ssize_t hi = W if every_pixel else chi
    # Rows go in groups of G: one at a time with `running` (sliding sums), else
    # ROWS at a time (_ssim_rows_ring).
    cdef Py_ssize_t G = 1 if running else ROWS
    cdef Py_ssize_t ngroups = (ihi - ilo + G - 1) // G
    # Per-thread scratch: G x 4 padded vertical rows, 4 filtered rows, G SSIM
    # rows and a cache tagged with the input row each slot holds: with
    # `running`, max(n0 + 1, 4) rows of each image for strided input (a pixel is
    # at most one double), else the ring of statistics (_ring_fill). Sizes are
    # checked in Python integers (_doubles), so that no product overflows.
    cdef Py_ssize_t vpad = _round_up(r1)  # left room of each v row; keeps v aligned
    cdef Py_ssize_t vstride = _round_up(_doubles(W + 2 * <object> vpad, "ssim_2d"))
    cdef Py_ssize_t cache_rows = max(n0 + 1, 4)
    cdef Py_ssize_t cache_len = _cache_len(W, n0, running)
    cdef Py_ssize_t vlen = _doubles(G * 4 * <object> vstride, "ssim_2d")
    cdef Py_ssize_t hlen = _round_up(_doubles((4 + G) * <object> W, "ssim_2d"))
    cdef Py_ssize_t per_thread = _doubles(<object> vlen + hlen + cache_len + 16, "ssim_2d")
    n_threads = _workers_for(min(n_threads, ngroups), <double> (ihi - ilo) * (hi - lo))
    # The ring path goes down the image once per panel of PANEL columns, from
    # clo (so that every panel but the last sums a multiple of 4 columns, and
    # _sum_more gives _sum's bits); `running` keeps no ring and goes once.
    cdef Py_ssize_t npanels = 1
    if not running and hi - clo > PANEL + PANEL // 2:
        npanels = (hi - clo + PANEL - 1) // PANEL
    # One malloc (not four NumPy arrays: this matters for small images): per
    # thread scratch, cache tags and last row, then each row's partial sums.
    cdef Py_ssize_t i, q, g, t, p, ntags = max(n0 + 1, _ring_slots(n0))
    cdef Py_ssize_t plo, phi, slo, shi
    cdef void* block = _scratch(sizeof(double) * _doubles(
        n_threads * (<object> per_thread + ntags + 1) + 4 * <object> H + 8, "ssim_2d"))
    if block == NULL:
        raise MemoryError(f"ssim_2d: no memory for {n_threads} x {per_thread} doubles of scratch")
    cdef double* work = _aligned(block)
    cdef double* partial = work + n_threads * per_thread  # H x 4, for _sum_more
    cdef Py_ssize_t* tags = <Py_ssize_t*> (partial + 4 * H)
    cdef Py_ssize_t* last_row = tags + n_threads * ntags  # per thread
    memset(partial, 0, 4 * H * sizeof(double))
    for i in range(n_threads):
        last_row[i] = -2  # no row yet
    cdef const char* xb = <const char*> &x[0, 0]
    cdef const char* yb = <const char*> &y[0, 0]
    cdef Py_ssize_t xs0 = x.strides[0], xs1 = x.strides[1]
    cdef Py_ssize_t ys0 = y.strides[0], ys1 = y.strides[1]
    cdef char* sb = <char*> &smap[0, 0] if want_map else NULL
    cdef Py_ssize_t ss0 = smap.strides[0], ss1 = smap.strides[1]
    cdef bint direct = want_map and ss1 == sizeof(double)
    cdef bint single = running and not want_grad and _float_sums_exact(n0, n1)
    cdef double total = 0.0, row
    cdef _Ssim2dArgs a
    a.xb = xb
    a.yb = yb
    a.xs0 = xs0
    a.xs1 = xs1
    a.ys0 = ys0
    a.ys1 = ys1
    a.H = H
    a.W = W
    a.ilo = ilo
    a.ihi = ihi
    a.G = G
    a.row_lo = row_lo
    a.row_hi = row_hi
    a.taps0 = &taps0[0]
    a.n0 = n0
    a.taps1 = &taps1[0]
    a.n1 = n1
    a.vpad = vpad
    a.vstride = vstride
    a.vlen = vlen
    a.hlen = hlen
    a.cache_rows = cache_rows
    a.ntags = ntags
    a.per_thread = per_thread
    a.work = work
    a.partial = partial
    a.tags = tags
    a.last_row = last_row
    a.sb = sb
    a.ss0 = ss0
    a.ss1 = ss1
    a.direct = direct
    a.want_map = want_map
    a.tbase = &tmaps[0, 0, 0] if want_grad else NULL
    a.running = running
    a.single = single
    a.lo = lo
    a.hi = hi
    a.scale = scale
    a.c1 = c1
    a.c2 = c2
    a.cov_norm = cov_norm
    # A chunk is consecutive groups: with `running` a slot slides its sums
    # from one row to the next within it (and across chunks it happens to
    # take in a row); the ring path reuses its cached input rows the same way.
    cdef Py_ssize_t chunk = _chunk(ngroups, n_threads, 16 if running else 2)

    with nogil:
        for p in range(npanels):
            # Columns [plo, phi) computed, [slo, shi) summed.
            a.plo = lo if p == 0 else clo + p * PANEL
            a.phi = hi if p == npanels - 1 else clo + (p + 1) * PANEL
            a.slo = max(clo, a.plo)
            a.shi = min(chi, a.phi)
            for i in range(n_threads * ntags):
                tags[i] = -1  # empty cache slots (a slot holds one panel's columns)
            ssimfast_pool_run(<ssimfast_task> _ssim_2d_groups[pixel_t], &a, ngroups, chunk,
                              n_threads)

    for i in range(row_lo, row_hi):
        row = (partial[4 * i] + partial[4 * i + 1]) + (partial[4 * i + 2] + partial[4 * i + 3])
        total += row
        if rowsums_out.shape[0] > 0:
            rowsums_out[i] = row
    _free_scratch(block)
    return total


cdef struct _BatchArgs:
    const char* xb
    const char* yb
    Py_ssize_t xk, yk, xs0, xs1, ys0, ys1, H, W, crop0, G
    const double* taps0
    const double* taps1
    Py_ssize_t n0, n1, vpad, vstride, vlen, hlen, cache_len, cache_rows, ntags, per_thread
    double* work
    double* totals
    Py_ssize_t clo, chi
    double scale, c1, c2, cov_norm
    bint running, single


cdef void _ssim_2d_pairs(void* args, Py_ssize_t klo, Py_ssize_t khi, int tid,
                         const pixel_t* tag) noexcept nogil:
    """ssim_2d_batch's pairs klo .. khi - 1, each by this participant alone."""
    cdef _BatchArgs* a = <_BatchArgs*> args
    cdef Py_ssize_t k, i, t, g
    cdef Py_ssize_t H = a.H, W = a.W, crop0 = a.crop0
    cdef double* base = a.work + tid * a.per_thread
    cdef double* cache = base + a.vlen + a.hlen
    cdef double* rowsums = cache + a.cache_len + 16
    cdef Py_ssize_t* tags = <Py_ssize_t*> (rowsums + _round_up(H))
    cdef const char* xb
    cdef const char* yb
    cdef double total
    for k in range(klo, khi):
        for t in range(a.ntags):
            tags[t] = -1  # empty cache slots: a new pair
        xb = a.xb + k * a.xk
        yb = a.yb + k * a.yk
        i = crop0
        while i < H - crop0:
            g = min(a.G, H - crop0 - i)
            if a.running:
                _ssim_row_2d(xb, yb, a.xs0, a.xs1, a.ys0, a.ys1, H, W, i,
                             <pixel_t*> cache, <pixel_t*> (cache + a.cache_rows * W),
                             tags, a.taps0, a.n0, a.taps1, a.n1,
                             base + a.vpad, a.vstride, base + a.vlen, base + a.vlen + 4 * W,
                             a.clo, a.chi, a.scale, a.c1, a.c2, a.cov_norm, NULL, NULL, NULL,
                             i > crop0, a.single)
            else:
                _ssim_rows_ring(<const pixel_t*> xb, <const pixel_t*> yb,
                                a.xs0, a.xs1, a.ys0, a.ys1,
                                H, W, i, g, cache, tags, a.taps0, a.n0, a.taps1, a.n1,
                                base + a.vpad, a.vstride, base + a.vlen,
                                <char*> (base + a.vlen + 4 * W),
                                W * <Py_ssize_t> sizeof(double), a.clo, a.chi,
                                a.scale, a.c1, a.c2, a.cov_norm, NULL, 0, NULL)
            for t in range(g):
                rowsums[i + t] = _sum(base + a.vlen + (4 + t) * W, a.clo, a.chi)
            i = i + g
        total = 0.0
        for i in range(crop0, H - crop0):
            total = total + rowsums[i]
        a.totals[k] = total


def ssim_2d_batch(const pixel_t[:, :, :] x, const pixel_t[:, :, :] y,
                  const double[::1] taps0, const double[::1] taps1,
                  Py_ssize_t crop0, Py_ssize_t crop1,
                  double scale, double c1, double c2, double cov_norm,
                  double[::1] totals, int n_threads, bint running):
    """ssim_2d's mean-only sum for each pair of a stack: totals[k] for x[k], y[k].

    Pairs are spread over the threads, each pair computed by one thread with
    the same row function and the same order of additions as ssim_2d, so every
    total is bit-identical to ssim_2d's (whatever n_threads).
    """
    cdef Py_ssize_t N = x.shape[0], H = x.shape[1], W = x.shape[2]
    cdef Py_ssize_t n0 = taps0.shape[0], n1 = taps1.shape[0], r1 = n1 // 2
    _check(y.shape[0] == N and y.shape[1] == H and y.shape[2] == W,
           "ssim_2d_batch", "x and y differ in shape")
    _check(totals.shape[0] == N, "ssim_2d_batch", "totals must be (N,)")
    _check_axis(H, n0, crop0, "ssim_2d_batch", 1)
    _check_axis(W, n1, crop1, "ssim_2d_batch", 2)
    cdef Py_ssize_t vpad = _round_up(r1)  # left room of each v row; keeps v aligned
    cdef Py_ssize_t vstride = _round_up(_doubles(W + 2 * <object> vpad, "ssim_2d_batch"))
    cdef Py_ssize_t cache_rows = max(n0 + 1, 4)
    cdef Py_ssize_t ntags = max(n0 + 1, _ring_slots(n0))
    cdef Py_ssize_t G = 1 if running else ROWS  # rows per group, as ssim_2d
    cdef Py_ssize_t vlen = _doubles(G * 4 * <object> vstride, "ssim_2d_batch")
    cdef Py_ssize_t hlen = _round_up(_doubles((4 + G) * <object> W, "ssim_2d_batch"))
    cdef Py_ssize_t cache_len = _cache_len(W, n0, running)
    # Per thread: ssim_2d's scratch, then H row sums, then the cache tags
    # (as wide as doubles).
    cdef Py_ssize_t per_thread = _doubles(
        <object> vlen + hlen + cache_len + 16 + _round_up(H) + _round_up(ntags), "ssim_2d_batch")
    n_threads = _workers_for(min(n_threads, N), <double> N * H * W)
    if N == 0:
        return
    cdef void* block = _scratch(sizeof(double) * _doubles(
        n_threads * <object> per_thread + 8, "ssim_2d_batch"))
    if block == NULL:
        raise MemoryError(f"ssim_2d_batch: no memory for {n_threads} x {per_thread} doubles")
    cdef double* work = _aligned(block)
    cdef Py_ssize_t xs0 = x.strides[1], xs1 = x.strides[2]
    cdef Py_ssize_t ys0 = y.strides[1], ys1 = y.strides[2]
    cdef _BatchArgs a
    a.xb = <const char*> &x[0, 0, 0]
    a.yb = <const char*> &y[0, 0, 0]
    a.xk = x.strides[0]
    a.yk = y.strides[0]
    a.xs0 = x.strides[1]
    a.xs1 = x.strides[2]
    a.ys0 = y.strides[1]
    a.ys1 = y.strides[2]
    a.H = H
    a.W = W
    a.crop0 = crop0
    a.G = G
    a.taps0 = &taps0[0]
    a.n0 = n0
    a.taps1 = &taps1[0]
    a.n1 = n1
    a.vpad = vpad
    a.vstride = vstride
    a.vlen = vlen
    a.hlen = hlen
    a.cache_len = cache_len
    a.cache_rows = cache_rows
    a.ntags = ntags
    a.per_thread = per_thread
    a.work = work
    a.totals = &totals[0]
    a.clo = _inner(crop1, W, False)
    a.chi = _inner(crop1, W, True)
    a.scale = scale
    a.c1 = c1
    a.c2 = c2
    a.cov_norm = cov_norm
    a.running = running
    a.single = running and _float_sums_exact(n0, n1)
    with nogil:
        ssimfast_pool_run(<ssimfast_task> _ssim_2d_pairs[pixel_t], &a, N, 1, n_threads)
    _free_scratch(block)


# ---------------------------------------------------------------------------
# 3-D: one pass over planes (axis 0), then rows within the plane
# ---------------------------------------------------------------------------

cdef void _ssim_plane_3d(const char* xb, const char* yb, const Py_ssize_t* xs,
                         const Py_ssize_t* ys, const Py_ssize_t* shape, Py_ssize_t z,
                         pixel_t* xscratch, pixel_t* yscratch,
                         const double* taps0, Py_ssize_t n0,
                         const double* taps1, Py_ssize_t n1,
                         const double* taps2, Py_ssize_t n2,
                         double* zbuf, double* v, Py_ssize_t vstride, double* h, double* srow,
                         Py_ssize_t ilo, Py_ssize_t ihi, Py_ssize_t lo, Py_ssize_t hi,
                         Py_ssize_t crop1, Py_ssize_t crop2,
                         double scale, double c1, double c2, double cov_norm,
                         char* sb, const Py_ssize_t* ss, double* tplane, Py_ssize_t tstride,
                         double* rowsums, bint slide) noexcept nogil:
    """Output plane z: filter along axis 0 into zbuf (four H x W planes), then
    each output row i in [ilo, ihi) along axis 1 and 2.

    slide: zbuf holds the exact window sums of plane z - 1 (see ssim_3d's
    `running`) and moves one plane along axis 0 instead of summing afresh."""
    cdef Py_ssize_t D = shape[0], H = shape[1], W = shape[2], HW = H * W
    cdef Py_ssize_t i, s, r0 = n0 // 2
    cdef Py_ssize_t p_old = _reflect(z - r0 - 1, D), p_new = _reflect(z + r0, D)
    cdef double* t1 = NULL
    cdef const pixel_t* xn
    cdef const pixel_t* yn
    cdef const pixel_t* xo
    cdef const pixel_t* yo
    for i in range(H):
        if slide:
            _rows_at(xb + i * xs[1], xs[0], xs[2], yb + i * ys[1], ys[0], ys[2], p_old, n0, 0,
                     xscratch, yscratch, NULL, W, 0, W, &xo, &yo)
            _rows_at(xb + i * xs[1], xs[0], xs[2], yb + i * ys[1], ys[0], ys[2], p_new, n0, 1,
                     xscratch, yscratch, NULL, W, 0, W, &xn, &yn)
            _slide_products(xn, yn, xo, yo, zbuf + i * W, zbuf + HW + i * W,
                            zbuf + 2 * HW + i * W, zbuf + 3 * HW + i * W, W)
        else:
            _window_products(xb + i * xs[1], xs[0], xs[2], yb + i * ys[1], ys[0], ys[2],
                             D, z, taps0, n0, xscratch, yscratch, NULL, zbuf + i * W, HW, W, 0, W)
    for i in range(ilo, ihi):
        for s in range(4):
            _filter_rows(zbuf + s * HW, W, H, H, i, taps1, n1, v + s * vstride, W)
        if tplane != NULL:
            t1 = tplane + i * W
        _finish_row(v, vstride, W, taps2, n2, h, srow, lo, hi, scale, c1, c2, cov_norm,
                    t1, t1 + tstride if t1 != NULL else NULL,
                    t1 + 2 * tstride if t1 != NULL else NULL)
        if sb != NULL:
            _store(srow, 0, W, sb + z * ss[0] + i * ss[1], ss[2])
        if crop1 <= i < H - crop1:
            rowsums[i] = _sum(srow, crop2, W - crop2)


cdef struct _Ssim3dArgs:
    const char* xb
    const char* yb
    const Py_ssize_t* xs
    const Py_ssize_t* ys
    const Py_ssize_t* ss
    const Py_ssize_t* shape
    Py_ssize_t zlo
    const double* taps0
    const double* taps1
    const double* taps2
    Py_ssize_t n0, n1, n2, per_thread, zlen, vstride, r2, ilo, ihi, lo, hi, crop1, crop2
    double scale, c1, c2, cov_norm
    char* sb
    double* work
    double* tbase
    double* rowsums
    Py_ssize_t* last_plane
    bint running


cdef void _ssim_3d_planes(void* args, Py_ssize_t lo, Py_ssize_t hi, int tid,
                          const pixel_t* tag) noexcept nogil:
    """ssim_3d's planes zlo + lo .. zlo + hi - 1, with scratch slot tid."""
    cdef _Ssim3dArgs* a = <_Ssim3dArgs*> args
    cdef Py_ssize_t D = a.shape[0], H = a.shape[1], W = a.shape[2], z
    cdef double* base = a.work + tid * a.per_thread
    cdef double* srow = base + a.zlen + 4 * a.vstride + 4 * W
    for z in range(a.zlo + lo, a.zlo + hi):
        _ssim_plane_3d(a.xb, a.yb, a.xs, a.ys, a.shape, z,
                       <pixel_t*> (srow + W), <pixel_t*> (srow + 5 * W),
                       a.taps0, a.n0, a.taps1, a.n1, a.taps2, a.n2,
                       base, base + a.zlen + a.r2, a.vstride, base + a.zlen + 4 * a.vstride, srow,
                       a.ilo, a.ihi, a.lo, a.hi, a.crop1, a.crop2, a.scale, a.c1, a.c2,
                       a.cov_norm, a.sb, a.ss, a.tbase + z * H * W if a.tbase != NULL else NULL,
                       D * H * W, a.rowsums + z * H, a.running and a.last_plane[tid] == z - 1)
        a.last_plane[tid] = z


def ssim_3d(const pixel_t[:, :, :] x, const pixel_t[:, :, :] y,
            const double[::1] taps0, const double[::1] taps1, const double[::1] taps2,
            Py_ssize_t crop0, Py_ssize_t crop1, Py_ssize_t crop2,
            double scale, double c1, double c2, double cov_norm,
            double[:, :, :] smap, double[:, :, :, ::1] tmaps, int n_threads, bint running):
    """Sum of the SSIM map of a 3-D image pair over its interior.

    As ssim_2d, with one more axis: tmaps is (3, D, H, W). Each thread holds four
    H x W planes of statistics filtered along axis 0; with `running` (exact
    window sums) they slide from plane to plane.
    """
    cdef Py_ssize_t D = x.shape[0], H = x.shape[1], W = x.shape[2]
    cdef Py_ssize_t n0 = taps0.shape[0], n1 = taps1.shape[0], n2 = taps2.shape[0]
    cdef Py_ssize_t r2 = n2 // 2
    _check(y.shape[0] == D and y.shape[1] == H and y.shape[2] == W,
           "ssim_3d", "x and y differ in shape")
    _check_axis(D, n0, crop0, "ssim_3d", 0)
    _check_axis(H, n1, crop1, "ssim_3d", 1)
    _check_axis(W, n2, crop2, "ssim_3d", 2)
    _check(smap.shape[0] == 0 or (smap.shape[0] == D and smap.shape[1] == H
                                  and smap.shape[2] == W),
           "ssim_3d", "smap must be (D, H, W) or empty")
    _check(tmaps.shape[0] == 0 or (tmaps.shape[0] == 3 and tmaps.shape[1] == D
                                   and tmaps.shape[2] == H and tmaps.shape[3] == W),
           "ssim_3d", "tmaps must be (3, D, H, W) or empty")
    cdef bint want_map = smap.shape[0] > 0
    cdef bint want_grad = tmaps.shape[0] > 0
    cdef bint every_pixel = want_map or want_grad
    cdef Py_ssize_t zlo = 0 if every_pixel else crop0
    cdef Py_ssize_t zhi = D if every_pixel else D - crop0
    cdef Py_ssize_t ilo = 0 if every_pixel else crop1
    cdef Py_ssize_t ihi = H if every_pixel else H - crop1
    cdef Py_ssize_t lo = 0 if every_pixel else _inner(crop2, W, False)
    cdef Py_ssize_t hi = W if every_pixel else _inner(crop2, W, True)
    cdef Py_ssize_t vstride = _round_up(W + 2 * r2)
    cdef Py_ssize_t zlen = _round_up(_doubles(4 * (<object> H) * W, "ssim_3d"))
    # 4 scratch rows per image
    cdef Py_ssize_t per_thread = _doubles(zlen + 4 * vstride + 13 * (<object> W) + 16, "ssim_3d")
    n_threads = _workers_for(min(n_threads, zhi - zlo), <double> (zhi - zlo) * H * W)
    cdef double[:, ::1] work = np.empty((n_threads, per_thread), dtype=np.float64)
    cdef double[:, ::1] rowsums = np.zeros((D, H), dtype=np.float64)
    cdef Py_ssize_t[::1] last_plane = np.empty(n_threads, dtype=np.intp)  # per thread
    last_plane[:] = -2  # no plane yet
    cdef Py_ssize_t shape[3]
    cdef Py_ssize_t xs[3]
    cdef Py_ssize_t ys[3]
    cdef Py_ssize_t ss[3]
    cdef Py_ssize_t d
    for d in range(3):
        shape[d] = x.shape[d]
        xs[d] = x.strides[d]
        ys[d] = y.strides[d]
        ss[d] = smap.strides[d]
    cdef const char* xb = <const char*> &x[0, 0, 0]
    cdef const char* yb = <const char*> &y[0, 0, 0]
    cdef char* sb = <char*> &smap[0, 0, 0] if want_map else NULL
    cdef Py_ssize_t z, i
    cdef double total = 0.0
    cdef _Ssim3dArgs a
    a.xb = xb
    a.yb = yb
    a.xs = xs
    a.ys = ys
    a.ss = ss
    a.shape = shape
    a.zlo = zlo
    a.taps0 = &taps0[0]
    a.n0 = n0
    a.taps1 = &taps1[0]
    a.n1 = n1
    a.taps2 = &taps2[0]
    a.n2 = n2
    a.work = &work[0, 0]
    a.per_thread = per_thread
    a.zlen = zlen
    a.vstride = vstride
    a.r2 = r2
    a.ilo = ilo
    a.ihi = ihi
    a.lo = lo
    a.hi = hi
    a.crop1 = crop1
    a.crop2 = crop2
    a.scale = scale
    a.c1 = c1
    a.c2 = c2
    a.cov_norm = cov_norm
    a.sb = sb
    a.tbase = &tmaps[0, 0, 0, 0] if want_grad else NULL
    a.rowsums = &rowsums[0, 0]
    a.last_plane = &last_plane[0]
    a.running = running
    # Planes are costly (each filters a whole H x W plane along axis 0): one
    # or two per chunk; a slot slides along consecutive planes within a chunk.
    with nogil:
        ssimfast_pool_run(<ssimfast_task> _ssim_3d_planes[pixel_t], &a, zhi - zlo,
                          _chunk(zhi - zlo, n_threads, 1), n_threads)

    for z in range(crop0, D - crop0):
        for i in range(crop1, H - crop1):
            total += rowsums[z, i]
    return total


# ---------------------------------------------------------------------------
# Any number of dimensions: whole-array passes (also the gradient's filtering)
# ---------------------------------------------------------------------------

cdef struct _FilterArgs:
    const double* src
    double* dst
    Py_ssize_t n, post, ntaps, r, wstride
    const double* taps
    double* work


cdef void _filter_lines(void* args, Py_ssize_t lo, Py_ssize_t hi, int tid,
                        const void* tag) noexcept nogil:
    """filter_axis's lines lo .. hi - 1, with scratch slot tid."""
    cdef _FilterArgs* a = <_FilterArgs*> args
    cdef Py_ssize_t line, j, n = a.n, post = a.post, r = a.r
    cdef double* row = a.work + tid * a.wstride + r
    for line in range(lo, hi):
        if post > 1:
            # Rows of `post` contiguous elements: a weighted sum of whole rows.
            _filter_rows(a.src + (line // n) * n * post, post, n, n, line % n, a.taps, a.ntaps,
                         a.dst + line * post, post)
        else:
            # The last axis: copy the line into a padded buffer and correlate.
            for j in range(n):
                row[j] = a.src[line * n + j]
            _pad_reflect(row, n, r, True, True)
            _correlate(row, a.taps, a.ntaps, a.dst + line * n, 0, n)


def filter_axis(const double[:, :, ::1] src, double[:, :, ::1] dst,
                const double[::1] taps, int n_threads):
    """Filter the middle axis of a (pre, n, post) array with 'reflect' boundaries.

    src   IN   (pre, n, post), C-contiguous
    dst   OUT  same shape, must not overlap src
    taps  IN   odd number of taps, centred and symmetric

    dst[a, i, b] = sum_k taps[k] * src[a, reflect(i + k - r), b], added in
    scipy.ndimage's order for symmetric taps (see "Filtering"), exactly as the
    2-D and 3-D kernels do: bit for bit scipy.ndimage.correlate1d.
    """
    cdef Py_ssize_t pre = src.shape[0], n = src.shape[1], post = src.shape[2]
    cdef Py_ssize_t ntaps = taps.shape[0], r = ntaps // 2
    _check(dst.shape[0] == pre and dst.shape[1] == n and dst.shape[2] == post,
           "filter_axis", "src and dst differ in shape")
    if pre == 0 or n == 0 or post == 0:
        return  # nothing to filter (and an empty axis has nothing to reflect)
    _check_axis(n, ntaps, 0, "filter_axis", 1)
    cdef size_t nbytes = pre * n * post * sizeof(double)
    _check(<size_t> &src[0, 0, 0] + nbytes <= <size_t> &dst[0, 0, 0]
           or <size_t> &dst[0, 0, 0] + nbytes <= <size_t> &src[0, 0, 0],
           "filter_axis", "src and dst overlap")
    cdef Py_ssize_t lines = pre * n if post > 1 else pre
    n_threads = _workers_for(min(n_threads, lines), <double> pre * n * post)
    cdef double[:, ::1] work = np.empty((n_threads, n + 2 * r if post == 1 else 1))
    cdef _FilterArgs a
    a.src = &src[0, 0, 0]
    a.dst = &dst[0, 0, 0]
    a.n = n
    a.post = post
    a.taps = &taps[0]
    a.ntaps = ntaps
    a.r = r
    a.work = &work[0, 0]
    a.wstride = work.shape[1]
    with nogil:
        ssimfast_pool_run(<ssimfast_task> _filter_lines, &a, lines, _chunk(lines, n_threads, 1),
                          n_threads)


def ssim_map_nd(const double[::1] ux, const double[::1] uy, const double[::1] uxxyy,
                const double[::1] uxy, double scale, double c1, double c2, double cov_norm,
                double[::1] smap, double[:, ::1] tmaps):
    """The SSIM formula over flat arrays of filtered statistics.

    smap   OUT  SSIM values, same length as ux
    tmaps  OUT  (3, n) gradient terms, or shape (0, 0) when not wanted
    """
    cdef Py_ssize_t n = ux.shape[0]
    cdef bint want_grad = tmaps.shape[0] > 0
    _check(uy.shape[0] == n and uxxyy.shape[0] == n and uxy.shape[0] == n
           and smap.shape[0] == n, "ssim_map_nd", "the statistics and smap differ in length")
    _check(not want_grad or (tmaps.shape[0] == 3 and tmaps.shape[1] == n),
           "ssim_map_nd", "tmaps must be (3, n) or empty")
    if n == 0:
        return
    with nogil:
        _ssim_row(&ux[0], &uy[0], &uxxyy[0], &uxy[0], scale, 0, n, c1, c2, cov_norm, &smap[0],
                  &tmaps[0, 0] if want_grad else NULL,
                  &tmaps[1, 0] if want_grad else NULL,
                  &tmaps[2, 0] if want_grad else NULL)


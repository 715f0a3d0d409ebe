# Filtering (in scipy.ndimage's order), the SSIM formula over rows, and the
# integer window sums of uint8 input. Part of the kernel modules
# (see _module.pxi).

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
    (t[0] + t[1]) + (t[2] + t[3]).

    The sums stay in registers during the loop: through t, the compiler would
    store them at every step, as t might alias s (a quarter of the time of
    the loop, which waits on its four chains of additions anyway)."""
    cdef Py_ssize_t j = lo
    cdef double t0 = t[0], t1 = t[1], t2 = t[2], t3 = t[3]
    while j + 4 <= hi:
        t0 += s[j]
        t1 += s[j + 1]
        t2 += s[j + 2]
        t3 += s[j + 3]
        j += 4
    while j < hi:
        t0 += s[j]
        j += 1
    t[0] = t0
    t[1] = t1
    t[2] = t2
    t[3] = t3


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


cdef extern from *:
    """
    /* _sym11_ssim keeps four 11-tap sums and the formula in registers: with 32
       vector registers (AVX-512) they fit; with 16 (SSE2, AVX2) they spill to
       the stack, and the two passes (_correlate, then _ssim_row) took 26% less
       CPU time on a Zen 1 EPYC (1080p Gaussian, workers=1). */
    #if defined(__AVX512F__)
    #define SSIMFAST_FUSE_SYM11 1
    #else
    #define SSIMFAST_FUSE_SYM11 0
    #endif
    """
    const bint SSIMFAST_FUSE_SYM11


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
    if SSIMFAST_FUSE_SYM11 and ntaps == 11 and t1 == NULL:
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
# Integer window sums for uint8 input with a uniform window
#
# Every window sum of x, y, x*x + y*y and x*y of uint8 pixels is an integer.
# With at most 128 pixels per window (_int_sums_exact) those of x and y (and
# every partial sum) fit int16 (128 * 255 = 32640) and those of x*x + y*y and
# x*y int32 (below 2**24, so float holds them too). They are the same numbers
# as the double path's, converted to double before the SSIM formula, so the
# results are bit-identical; int16 vectors hold twice as many sums as float
# ones, and uint8 widens to them without a conversion.
# ---------------------------------------------------------------------------

ctypedef fused isum_t:
    int16_t
    int32_t


cdef extern from "_isums.h" nogil:
    # _slide_products on integer sums (SSE2 where there is, else this loop:
    # s0[j] += xn[j] - xo[j], ..., s3[j] += xn[j] * yn[j] - xo[j] * yo[j]).
    void _slide_sums_i "ssimfast_slide_sums_u8" (
        const uint8_t* xn, const uint8_t* yn, const uint8_t* xo, const uint8_t* yo,
        int16_t* s0, int16_t* s1, int32_t* s2, int32_t* s3, Py_ssize_t n) noexcept


cdef inline void _add_sums_i(const uint8_t* x, const uint8_t* y,
                             int16_rp s0, int16_rp s1, int32_rp s2, int32_rp s3,
                             Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j
    cdef int32_t a, b
    for j in range(n):
        a = x[j]
        b = y[j]
        s0[j] = <int16_t> (s0[j] + a)
        s1[j] = <int16_t> (s1[j] + b)
        s2[j] += a * a + b * b
        s3[j] += a * b


cdef inline int16_t* _sums16(int32_t* v, Py_ssize_t vstride, Py_ssize_t s) noexcept nogil:
    """Row s (0: x, 1: y) of the integer window sums: int16, at the start of
    int32 row s (rows 2 and 3, x*x + y*y and x*y, are int32)."""
    return <int16_t*> (v + s * vstride)


cdef void _window_sums_i(const char* xb, Py_ssize_t xstep, Py_ssize_t xcol,
                         const char* yb, Py_ssize_t ystep, Py_ssize_t ycol,
                         Py_ssize_t n, Py_ssize_t centre, Py_ssize_t ntaps,
                         uint8_t* xscratch, uint8_t* yscratch, Py_ssize_t* tags,
                         int32_t* v, Py_ssize_t vstride, Py_ssize_t W,
                         Py_ssize_t c0, Py_ssize_t c1) noexcept nogil:
    """_window_products with unit taps, on integer sums (see _window_products
    and _sums16 for the rows)."""
    cdef Py_ssize_t k, h = ntaps // 2, m = c1 - c0
    cdef const uint8_t* xr
    cdef const uint8_t* yr
    cdef int16_t* s0 = _sums16(v, vstride, 0) + c0
    cdef int16_t* s1 = _sums16(v, vstride, 1) + c0
    v = v + c0
    memset(s0, 0, m * sizeof(int16_t))
    memset(s1, 0, m * sizeof(int16_t))
    memset(v + 2 * vstride, 0, m * sizeof(int32_t))
    memset(v + 3 * vstride, 0, m * sizeof(int32_t))
    for k in range(ntaps):
        _rows_at(xb, xstep, xcol, yb, ystep, ycol, _reflect(centre + k - h, n), ntaps, 0,
                 xscratch, yscratch, tags, W, c0, m, &xr, &yr)
        _add_sums_i(xr, yr, s0, s1, v + 2 * vstride, v + 3 * vstride, m)


cdef inline void _pad_reflect_i(isum_t* row, Py_ssize_t n, Py_ssize_t r,
                                bint left, bint right) noexcept nogil:
    """_pad_reflect for an integer row."""
    cdef Py_ssize_t j
    for j in range(1, r + 1):
        if left:
            row[-j] = row[_reflect(-j, n)]
        if right:
            row[n - 1 + j] = row[_reflect(n - 1 + j, n)]


cdef inline void _box_i(const isum_t* s, Py_ssize_t ntaps, float_rp dst,
                        Py_ssize_t n) noexcept nogil:
    """dst[j] = s[j] + ... + s[j + ntaps - 1] for j < n, as float (exact: any
    order; the sums fit isum_t, so its lanes add them). Every square window of
    the integer path (3 .. 11 taps) in one pass: a pass per pair of taps cost
    a 3 x 3 window more than the whole 7 x 7 box."""
    cdef Py_ssize_t j, k
    if ntaps == 3:
        for j in range(n):
            dst[j] = <isum_t> ((s[j] + s[j + 1]) + s[j + 2])
    elif ntaps == 5:
        for j in range(n):
            dst[j] = <isum_t> (((s[j] + s[j + 1]) + (s[j + 2] + s[j + 3])) + s[j + 4])
    elif ntaps == 7:
        for j in range(n):
            dst[j] = <isum_t> (((s[j] + s[j + 1]) + (s[j + 2] + s[j + 3]))
                               + ((s[j + 4] + s[j + 5]) + s[j + 6]))
    elif ntaps == 9:
        for j in range(n):
            dst[j] = <isum_t> ((((s[j] + s[j + 1]) + (s[j + 2] + s[j + 3]))
                                + ((s[j + 4] + s[j + 5]) + (s[j + 6] + s[j + 7]))) + s[j + 8])
    elif ntaps == 11:
        for j in range(n):
            dst[j] = <isum_t> ((((s[j] + s[j + 1]) + (s[j + 2] + s[j + 3]))
                                + ((s[j + 4] + s[j + 5]) + (s[j + 6] + s[j + 7])))
                               + ((s[j + 8] + s[j + 9]) + s[j + 10]))
    else:  # (1-D windows, up to 127 taps; odd) two taps per pass over dst
        for j in range(n):
            dst[j] = s[j]
        k = 1
        while k + 2 <= ntaps:
            for j in range(n):
                dst[j] += <isum_t> (s[j + k] + s[j + k + 1])
            k += 2
        if k < ntaps:
            for j in range(n):
                dst[j] += s[j + k]


cdef inline void _finish_row_i(int32_t* v, Py_ssize_t vstride, Py_ssize_t W, Py_ssize_t ntaps,
                               float* h, double_rp srow, Py_ssize_t lo, Py_ssize_t hi,
                               double scale, double c1, double c2,
                               double cov_norm) noexcept nogil:
    """_finish_row on integer window sums (no gradient terms); the filtered sums
    go through h as float (exact)."""
    cdef Py_ssize_t s, j, r = ntaps // 2
    cdef double a1, a2, b1, b2
    for s in range(2):
        _pad_reflect_i(_sums16(v, vstride, s), W, r, lo < r, hi + r > W)
        _box_i(_sums16(v, vstride, s) + lo - r, ntaps, h + s * W + lo, hi - lo)
    for s in range(2, 4):
        _pad_reflect_i(v + s * vstride, W, r, lo < r, hi + r > W)
        _box_i(v + s * vstride + lo - r, ntaps, h + s * W + lo, hi - lo)
    for j in range(lo, hi):
        srow[j] = _ssim_terms((<double> h[j]) * scale, (<double> h[W + j]) * scale,
                              (<double> h[2 * W + j]) * scale, (<double> h[3 * W + j]) * scale,
                              c1, c2, cov_norm, &a1, &a2, &b1, &b2)


cdef inline bint _int_sums_exact(Py_ssize_t n0, Py_ssize_t n1) noexcept nogil:
    """Every window sum of uint8 statistics fits the integer rows (see above):
    at most 128 pixels per window."""
    return n0 * n1 <= 128

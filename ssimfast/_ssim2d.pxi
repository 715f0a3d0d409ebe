# The 2-D kernels: ssim_2d (one pass over rows, a ring of statistics or
# sliding sums) and ssim_2d_batch (a stack of pairs, one pair per chunk).
# Part of the kernel modules (see _module.pxi).

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
    n_threads   IN   most threads, the caller included (>= 1; _parallel.pxi)
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

# The 2-D kernels: ssim_2d (one pass over rows, a ring of statistics or
# sliding sums), ssim_2d_multi (several pairs in one job) and ssim_2d_batch (a
# stack of pairs, one pair per chunk).
# Part of the kernel modules (see _module.pxi).

from libc.stdint cimport uint16_t, int16_t, int32_t, int64_t
from libc.string cimport memcpy

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
    single: (uint8, no gradient, _int_sums_exact) v holds integer sums
    (_sums16) and h float ones, in the same space.
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
    cdef int32_t* vi = <int32_t*> v  # integer rows (_sums16), same room for padding
    if pixel_t is uint8_t:
        if single:
            if slide:
                _rows_at(xb, xs0, xs1, yb, ys0, ys1, _reflect(i - r0 - 1, H), n0, 0,
                         xscratch, yscratch, tags, W, c0, c1_ - c0, &xo, &yo)
                _rows_at(xb, xs0, xs1, yb, ys0, ys1, _reflect(i + r0, H), n0, 1,
                         xscratch, yscratch, tags, W, c0, c1_ - c0, &xn, &yn)
                _slide_sums_i(xn, yn, xo, yo, _sums16(vi, vstride, 0) + c0,
                              _sums16(vi, vstride, 1) + c0, vi + 2 * vstride + c0,
                              vi + 3 * vstride + c0, c1_ - c0)
            else:
                _window_sums_i(xb, xs0, xs1, yb, ys0, ys1, H, i, n0, xscratch, yscratch,
                               tags, vi, vstride, W, c0, c1_)
            while j0 < hi:
                j1 = min(hi, j0 + strip)
                _finish_row_i(vi, vstride, W, n1, <float*> h, srow, j0, j1, scale,
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
    bint deferred  # rows are summed by _ssim_2d_commit, not by _ssim_2d_groups
    double* tbase
    Py_ssize_t lo, hi, plo, phi, slo, shi
    Py_ssize_t clo, chi, ngroups, npanels
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
        if a.deferred:
            continue  # (_ssim_2d_commit sums the rows, left in the slot's scratch)
        for t in range(g):
            if a.direct:
                srow = <double*> (a.sb + (i + t) * a.ss0)
            elif t > 0:
                srow = srow + W
            if a.want_map and not a.direct:
                _store(srow, a.plo, a.phi, a.sb + (i + t) * a.ss0, a.ss1)
            if a.row_lo <= i + t < a.row_hi:
                _sum_more(srow, a.slo, a.shi, a.partial + 4 * (i + t))


cdef void _ssim_2d_commit(void* args, Py_ssize_t q, int tid) noexcept nogil:
    """Adds row group q's SSIM rows, which _ssim_2d_groups (with `deferred`)
    left in slot tid's scratch, to their rows' partial sums. Mean only."""
    cdef _Ssim2dArgs* a = <_Ssim2dArgs*> args
    cdef Py_ssize_t i = a.ilo + q * a.G, t
    cdef Py_ssize_t g = min(a.G, a.ihi - i)
    cdef double* srow = a.work + tid * a.per_thread + a.vlen + 4 * a.W
    for t in range(g):
        if a.row_lo <= i + t < a.row_hi:
            _sum_more(srow + t * a.W, a.slo, a.shi, a.partial + 4 * (i + t))


cdef int _ssim_2d_setup(_Ssim2dArgs* a, const pixel_t[:, :] x, const pixel_t[:, :] y,
                        const double[::1] taps0, const double[::1] taps1,
                        Py_ssize_t row_lo, Py_ssize_t row_hi, Py_ssize_t crop1,
                        double scale, double c1, double c2, double cov_norm,
                        double[:, :] smap, double[:, :, ::1] tmaps, bint running,
                        str kernel) except -1:
    """Checks one pair's arguments (as ssim_2d documents them) and fills `a`,
    all but its scratch (work, partial, tags, last_row: _ssim_2d_attach)."""
    cdef Py_ssize_t H = x.shape[0], W = x.shape[1]
    cdef Py_ssize_t n0 = taps0.shape[0], n1 = taps1.shape[0], r1 = n1 // 2
    _check(y.shape[0] == H and y.shape[1] == W, kernel, "x and y differ in shape")
    _check_axis(H, n0, 0, kernel, 0)
    _check_axis(W, n1, crop1, kernel, 1)
    # (An empty range sums nothing, wherever it is: a band's rows may lie in its halo.)
    if not (row_lo >= row_hi or (row_lo >= 0 and row_hi <= H)):
        _check(False, kernel, f"rows {row_lo}..{row_hi} are not in 0..{H}")
    _check(smap.shape[0] == 0 or (smap.shape[0] == H and smap.shape[1] == W),
           kernel, "smap must be (H, W) or empty")
    _check(tmaps.shape[0] == 0 or (tmaps.shape[0] == 3 and tmaps.shape[1] == H
                                   and tmaps.shape[2] == W),
           kernel, "tmaps must be (3, H, W) or empty")
    a.want_map = smap.shape[0] > 0
    cdef bint want_grad = tmaps.shape[0] > 0
    cdef bint every_pixel = a.want_map or want_grad
    # Mean only: just the summed rows and interior columns are computed.
    a.ilo = 0 if every_pixel else row_lo
    a.ihi = H if every_pixel else row_hi
    # (From a multiple of 8, so that rows are processed in whole cache lines;
    # _inner keeps the summed columns within the row for any crop.)
    a.clo = _inner(crop1, W, False)
    a.chi = _inner(crop1, W, True)
    a.lo = 0 if every_pixel else a.clo // 8 * 8
    a.hi = W if every_pixel else a.chi
    # Rows go in groups of G: one at a time with `running` (sliding sums), else
    # ROWS at a time (_ssim_rows_ring).
    a.G = 1 if running else ROWS
    # (None when a crop leaves no rows: ihi < ilo.)
    a.ngroups = max(0, (a.ihi - a.ilo + a.G - 1) // a.G)
    # Per-thread scratch: G x 4 padded vertical rows, 4 filtered rows, G SSIM
    # rows and a cache tagged with the input row each slot holds: with
    # `running`, max(n0 + 1, 4) rows of each image for strided input (a pixel is
    # at most one double), else the ring of statistics (_ring_fill). Sizes are
    # checked in Python integers (_doubles), so that no product overflows.
    a.vpad = _round_up(r1)  # left room of each v row; keeps v aligned
    a.vstride = _round_up(_doubles(W + 2 * <object> a.vpad, kernel))
    a.cache_rows = max(n0 + 1, 4)
    a.vlen = _doubles(a.G * 4 * <object> a.vstride, kernel)
    a.hlen = _round_up(_doubles((4 + a.G) * <object> W, kernel))
    a.per_thread = _doubles(<object> a.vlen + a.hlen + _cache_len(W, n0, running) + 16, kernel)
    a.ntags = max(n0 + 1, _ring_slots(n0))
    # The ring path goes down the image once per panel of PANEL columns, from
    # clo (so that every panel but the last sums a multiple of 4 columns, and
    # _sum_more gives _sum's bits); `running` keeps no ring and goes once.
    a.npanels = 1
    if not running and a.hi - a.clo > PANEL + PANEL // 2:
        a.npanels = (a.hi - a.clo + PANEL - 1) // PANEL
    a.xb = <const char*> &x[0, 0]
    a.yb = <const char*> &y[0, 0]
    a.xs0 = x.strides[0]
    a.xs1 = x.strides[1]
    a.ys0 = y.strides[0]
    a.ys1 = y.strides[1]
    a.H = H
    a.W = W
    a.row_lo = row_lo
    a.row_hi = row_hi
    a.taps0 = &taps0[0]
    a.n0 = n0
    a.taps1 = &taps1[0]
    a.n1 = n1
    a.sb = <char*> &smap[0, 0] if a.want_map else NULL
    a.ss0 = smap.strides[0]
    a.ss1 = smap.strides[1]
    a.direct = a.want_map and a.ss1 == sizeof(double)
    a.tbase = &tmaps[0, 0, 0] if want_grad else NULL
    a.running = running
    a.single = running and not want_grad and _int_sums_exact(n0, n1)
    a.scale = scale
    a.c1 = c1
    a.c2 = c2
    a.cov_norm = cov_norm
    a.deferred = False
    return 0


cdef inline void _ssim_2d_attach(_Ssim2dArgs* a, double* work, double* partial,
                                 Py_ssize_t* tags, Py_ssize_t* last_row) noexcept nogil:
    """Hands `a` its scratch: per-slot work (a.per_thread doubles each), its
    rows' partial sums (4 x H, zeroed here), per-slot cache tags and last rows."""
    a.work = work
    a.partial = partial
    a.tags = tags
    a.last_row = last_row
    memset(partial, 0, 4 * a.H * sizeof(double))


cdef inline bint _ssim_2d_panel(_Ssim2dArgs* a, Py_ssize_t p) noexcept nogil:
    """Sets panel p's columns: [plo, phi) computed, [slo, shi) summed. False if
    the pair has no panel p."""
    if p >= a.npanels:
        return False
    a.plo = a.lo if p == 0 else a.clo + p * PANEL
    a.phi = a.hi if p == a.npanels - 1 else a.clo + (p + 1) * PANEL
    a.slo = max(a.clo, a.plo)
    a.shi = min(a.chi, a.phi)
    return True


cdef inline void _empty_slots(Py_ssize_t* tags, Py_ssize_t* last_row, Py_ssize_t ntags,
                              int n_threads) noexcept nogil:
    """Empty cache slots and no last row, for every participant."""
    cdef Py_ssize_t i
    for i in range(n_threads * ntags):
        tags[i] = -1
    for i in range(n_threads):
        last_row[i] = -2


cdef double _ssim_2d_total(_Ssim2dArgs* a, double* rowsums) noexcept nogil:
    """The sum of rows [row_lo, row_hi), added in row order (so that it does not
    depend on who computed which row); each row's sum into rowsums if not NULL."""
    cdef double total = 0.0, row
    cdef double* partial = a.partial
    cdef Py_ssize_t i
    for i in range(a.row_lo, a.row_hi):
        row = (partial[4 * i] + partial[4 * i + 1]) + (partial[4 * i + 2] + partial[4 * i + 3])
        total += row
        if rowsums != NULL:
            rowsums[i] = row
    return total


cdef inline Py_ssize_t _groups_chunk(_Ssim2dArgs* a, Py_ssize_t ngroups, int n_threads) noexcept nogil:
    # A chunk is consecutive groups: with `running` a slot slides its sums
    # from one row to the next within it (and across chunks it happens to
    # take in a row); the ring path reuses its cached input rows the same way.
    return _chunk(ngroups, n_threads, 16 if a.running else 2)


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
    cdef _Ssim2dArgs a0
    _ssim_2d_setup(&a0, x, y, taps0, taps1, row_lo, row_hi, crop1, scale, c1, c2, cov_norm,
                   smap, tmaps, running, "ssim_2d")
    cdef Py_ssize_t H = a0.H, p
    _check(rowsums_out.shape[0] in (0, H), "ssim_2d", "rowsums_out must be (H,) or empty")
    _release_deferred()
    n_threads = _workers_for(min(n_threads, a0.ngroups), <double> (a0.ihi - a0.ilo) * (a0.hi - a0.lo))
    # One malloc (not four NumPy arrays: this matters for small images): a
    # _Keep and the arguments (see _parallel.pxi), per thread scratch, cache
    # tags and last row, then each row's partial sums.
    cdef Py_ssize_t head = (sizeof(_Keep) + sizeof(_Ssim2dArgs) + 7) // 8
    cdef void* block = _scratch(sizeof(double) * _doubles(
        head + n_threads * (<object> a0.per_thread + a0.ntags + 1) + 4 * <object> H + 8,
        "ssim_2d"))
    if block == NULL:
        raise MemoryError(f"ssim_2d: no memory for {n_threads} x {a0.per_thread} doubles of scratch")
    cdef _Keep* keep = <_Keep*> block
    cdef _Ssim2dArgs* a = <_Ssim2dArgs*> (keep + 1)
    a[0] = a0
    # Mean only, on several threads: the caller does not wait for a helper
    # still running a row group; that helper reads x, y and the taps after the
    # call, so their buffers are kept (released with the block). A map or
    # gradient is written by the helpers into the caller's arrays, which the
    # caller may free or read as soon as it returns: those calls wait.
    a.deferred = not a.want_map and a.tbase == NULL and n_threads > 1
    _keep(keep, block, _free_scratch, (<object> x, <object> y, <object> taps0, <object> taps1)
          if a.deferred else None)
    cdef double* work = _aligned(<double*> block + head)
    cdef double* partial = work + n_threads * a.per_thread  # H x 4, for _sum_more
    cdef Py_ssize_t* tags = <Py_ssize_t*> (partial + 4 * H)
    _ssim_2d_attach(a, work, partial, tags, tags + n_threads * a.ntags)
    cdef Py_ssize_t chunk = _groups_chunk(a, a.ngroups, n_threads)
    cdef double total
    cdef int mine = 1
    with nogil:
        for p in range(a.npanels):
            _ssim_2d_panel(a, p)
            # (A cache slot holds one panel's columns.)
            _empty_slots(a.tags, a.last_row, a.ntags, n_threads)
            if not a.deferred:
                ssimfast_pool_run_stealing(<ssimfast_task> _ssim_2d_groups[pixel_t], a,
                                           a.ngroups, chunk, n_threads)
            elif p < a.npanels - 1:
                # A later panel reuses the slots' scratch: wait for the helpers.
                ssimfast_pool_run_detached(<ssimfast_task> _ssim_2d_groups[pixel_t],
                                           _ssim_2d_commit, a, a.ngroups, chunk, n_threads,
                                           NULL, NULL)
            else:
                mine = ssimfast_pool_run_detached(
                    <ssimfast_task> _ssim_2d_groups[pixel_t], _ssim_2d_commit, a, a.ngroups,
                    chunk, n_threads, _release_later, keep)
        if not mine:
            ssimfast_pool_caller_pause()
        total = _ssim_2d_total(a, &rowsums_out[0] if rowsums_out.shape[0] > 0 else NULL)
    _release_when_done(keep, mine)  # (the block holds a: not before the total)
    return total


# ---------------------------------------------------------------------------
# Several 2-D pairs in one job (the channels of an image; planes of a frame)
# ---------------------------------------------------------------------------

cdef struct _MultiArgs:
    _Ssim2dArgs* pairs
    Py_ssize_t* first  # pair k's groups are items first[k] .. first[k + 1] - 1
    Py_ssize_t npairs, ntags
    Py_ssize_t* owner  # per slot: the pair its cache holds, or -1


cdef void _ssim_2d_multi_groups(void* args, Py_ssize_t lo, Py_ssize_t hi, int tid,
                                const pixel_t* tag) noexcept nogil:
    """Items lo .. hi - 1 of ssim_2d_multi's job: groups of rows of one pair or
    of consecutive pairs, with scratch slot tid."""
    cdef _MultiArgs* m = <_MultiArgs*> args
    cdef Py_ssize_t k = 0, e, t, top = m.npairs - 1, mid
    cdef _Ssim2dArgs* a
    while k < top:  # the last pair whose first item is at most lo
        mid = (k + top + 1) // 2
        if m.first[mid] <= lo:
            k = mid
        else:
            top = mid - 1
    while lo < hi:
        while m.first[k + 1] <= lo:
            k += 1
        e = min(hi, m.first[k + 1])
        a = &m.pairs[k]
        if m.owner[tid] != k:
            # The slot's cached rows and sliding sums belong to another pair.
            for t in range(m.ntags):
                a.tags[tid * m.ntags + t] = -1
            a.last_row[tid] = -2
            m.owner[tid] = k
        _ssim_2d_groups(a, lo - m.first[k], e - m.first[k], tid, tag)
        lo = e


cdef void _ssim_2d_multi_commit(void* args, Py_ssize_t q, int tid) noexcept nogil:
    """_ssim_2d_commit for item q of ssim_2d_multi's job."""
    cdef _MultiArgs* m = <_MultiArgs*> args
    cdef Py_ssize_t k = 0, top = m.npairs - 1, mid
    while k < top:  # as _ssim_2d_multi_groups: the pair of item q
        mid = (k + top + 1) // 2
        if m.first[mid] <= q:
            k = mid
        else:
            top = mid - 1
    while m.first[k + 1] <= q:
        k += 1
    _ssim_2d_commit(&m.pairs[k], q - m.first[k], tid)


cdef int _ssim_2d_multi(const pixel_t* tag, tuple args, _Ssim2dArgs* pairs0) except -1:
    """ssim_2d_multi for pixel type pixel_t (`tag` only selects it), with
    ssim_2d_multi's arguments in `args`."""
    cdef list xs = args[0], ys = args[1], smaps = args[10], tmaps = args[11]
    cdef const double[::1] taps0 = args[2]
    cdef const double[::1] taps1 = args[3]
    cdef Py_ssize_t crop0 = args[4], crop1 = args[5]
    cdef double scale = args[6], c1 = args[7], c2 = args[8], cov_norm = args[9]
    cdef int n_threads = args[12]
    cdef bint running = args[13]
    cdef double[::1] totals = args[14]
    cdef Py_ssize_t K = len(xs), k, p, per_thread = 0, rows = 0, items = 0, i
    cdef double pixels = 0.0
    cdef const pixel_t[:, :] xv
    cdef const pixel_t[:, :] yv
    cdef double[:, :] sv
    cdef double[:, :, ::1] tv
    cdef _Ssim2dArgs* pairs = pairs0
    views = []  # keeps every buffer acquired until the end
    for k in range(K):
        xv = xs[k]
        yv = ys[k]
        sv = smaps[k]
        tv = tmaps[k]
        _ssim_2d_setup(&pairs[k], xv, yv, taps0, taps1, crop0, xv.shape[0] - crop0, crop1,
                       scale, c1, c2, cov_norm, sv, tv, running, "ssim_2d_multi")
        views.append((xv, yv, sv, tv))
        per_thread = max(per_thread, pairs[k].per_thread)
        rows += pairs[k].H
        items += pairs[k].ngroups
        pixels += <double> pairs[k].ngroups * pairs[k].G * (pairs[k].hi - pairs[k].lo)
    _release_deferred()
    n_threads = _workers_for(min(n_threads, items), pixels)
    cdef Py_ssize_t ntags = pairs[0].ntags  # (the same taps for every pair)
    # One block: a _Keep, the job's arguments and the pairs' (see _parallel.pxi);
    # slots' scratch as large as the largest pair needs; then tags, last rows,
    # owners, each pair's first item and each pair's partial row sums.
    cdef Py_ssize_t head = (sizeof(_Keep) + sizeof(_MultiArgs) + K * sizeof(_Ssim2dArgs) + 7) // 8
    cdef void* block = _scratch(sizeof(double) * _doubles(
        head + n_threads * (<object> per_thread + ntags + 2) + K + 1 + 4 * <object> rows + 8,
        "ssim_2d_multi"))
    if block == NULL:
        raise MemoryError(f"ssim_2d_multi: no memory for {n_threads} x {per_thread} doubles")
    cdef _Keep* keep = <_Keep*> block
    cdef _MultiArgs* m = <_MultiArgs*> (keep + 1)
    pairs = <_Ssim2dArgs*> (m + 1)
    memcpy(pairs, pairs0, K * sizeof(_Ssim2dArgs))
    # Mean only, on several threads: the caller does not wait for a helper
    # still running a group of rows (as ssim_2d).
    cdef bint deferred = n_threads > 1
    for k in range(K):
        deferred = deferred and not pairs[k].want_map and pairs[k].tbase == NULL
    _keep(keep, block, _free_scratch, (tuple(views), <object> taps0, <object> taps1)
          if deferred else None)
    m.ntags = ntags
    cdef double* work = _aligned(<double*> block + head)
    cdef Py_ssize_t* tags = <Py_ssize_t*> (work + n_threads * per_thread)
    cdef Py_ssize_t* last_row = tags + n_threads * m.ntags
    m.owner = last_row + n_threads
    m.first = m.owner + n_threads
    cdef double* partial = <double*> (m.first + K + 1)
    m.pairs = pairs
    m.npairs = K
    cdef Py_ssize_t npanels = 0
    for k in range(K):
        pairs[k].per_thread = per_thread
        pairs[k].deferred = deferred
        _ssim_2d_attach(&pairs[k], work, partial, tags, last_row)
        partial += 4 * pairs[k].H
        npanels = max(npanels, pairs[k].npanels)
    cdef int mine = 1
    cdef Py_ssize_t chunk
    with nogil:
        # Panels one job after another (a row's panel sums are added in panel
        # order); within a panel, every pair's groups in one job.
        for p in range(npanels):
            m.first[0] = 0
            for k in range(K):
                m.first[k + 1] = m.first[k] + (pairs[k].ngroups if _ssim_2d_panel(&pairs[k], p)
                                               else 0)
            _empty_slots(tags, last_row, m.ntags, n_threads)
            for i in range(n_threads):
                m.owner[i] = -1
            chunk = _groups_chunk(&pairs[0], m.first[K], n_threads)
            if not deferred:
                ssimfast_pool_run_stealing(<ssimfast_task> _ssim_2d_multi_groups[pixel_t], m,
                                           m.first[K], chunk, n_threads)
            else:
                # (A later panel reuses the slots' scratch: its helpers are waited for.)
                mine = ssimfast_pool_run_detached(
                    <ssimfast_task> _ssim_2d_multi_groups[pixel_t], _ssim_2d_multi_commit, m,
                    m.first[K], chunk, n_threads,
                    _release_later if p == npanels - 1 else <ssimfast_release> NULL, keep)
        if not mine:
            ssimfast_pool_caller_pause()
        for k in range(K):
            totals[k] = _ssim_2d_total(&pairs[k], NULL)
    _release_when_done(keep, mine)  # (the block holds the pairs: not before the totals)
    return 0


def ssim_2d_multi(xs, ys, const double[::1] taps0, const double[::1] taps1,
                  Py_ssize_t crop0, Py_ssize_t crop1, double scale, double c1, double c2,
                  double cov_norm, smaps, tmaps, int n_threads, bint running,
                  double[::1] totals):
    """ssim_2d's sum for each of several 2-D pairs (the channels of an image,
    the planes of a frame), all in one job of the pool: its items are the
    pairs' groups of rows, so that helpers work on any pair and nobody waits
    between pairs. totals[k] is bit-identical to ssim_2d's for pair k.

    xs, ys      IN   sequences of K images; xs[k] and ys[k] of one shape
                     (H_k, W_k), any strides; all of one kernel dtype
    taps0/1, crop1, scale, c1, c2, cov_norm, running, n_threads  IN  as ssim_2d
    crop0       IN   border left out of the sum on axis 0 (rows crop0 .. H_k - crop0)
    smaps       OUT  K maps as ssim_2d's smap (shape (0, 0) if not wanted)
    tmaps       OUT  K gradient terms as ssim_2d's tmaps (shape (0, 0, 0) if not wanted)
    totals      OUT  (K,) the sums
    """
    xs, ys, smaps, tmaps = list(xs), list(ys), list(smaps), list(tmaps)
    cdef Py_ssize_t K = len(xs)
    _check(len(ys) == K and len(smaps) == K and len(tmaps) == K, "ssim_2d_multi",
           "xs, ys, smaps and tmaps must have the same length")
    _check(totals.shape[0] == K, "ssim_2d_multi", "totals must be (K,)")
    if K == 0:
        return
    kind = getattr(xs[0], "dtype", None)
    _check(kind in _MULTI_DTYPES, "ssim_2d_multi", f"no kernel for images of dtype {kind}")
    cdef _Ssim2dArgs* pairs = <_Ssim2dArgs*> malloc(K * sizeof(_Ssim2dArgs))
    if pairs == NULL:
        raise MemoryError(f"ssim_2d_multi: no memory for {K} pairs")
    args = (xs, ys, taps0, taps1, crop0, crop1, scale, c1, c2, cov_norm, smaps, tmaps,
            n_threads, running, totals)
    try:
        kind = _MULTI_DTYPES[kind]
        if kind == 0:
            _ssim_2d_multi(<const uint8_t*> NULL, args, pairs)
        elif kind == 1:
            _ssim_2d_multi(<const uint16_t*> NULL, args, pairs)
        elif kind == 2:
            _ssim_2d_multi(<const int16_t*> NULL, args, pairs)
        elif kind == 3:
            _ssim_2d_multi(<const int32_t*> NULL, args, pairs)
        elif kind == 4:
            _ssim_2d_multi(<const int64_t*> NULL, args, pairs)
        elif kind == 5:
            _ssim_2d_multi(<const float*> NULL, args, pairs)
        else:
            _ssim_2d_multi(<const double*> NULL, args, pairs)
    finally:
        free(pairs)


# pixel_t's types, in its order, as NumPy dtypes (native byte order).
_MULTI_DTYPES = {np.dtype(t): i for i, t in enumerate(
    (np.uint8, np.uint16, np.int16, np.int32, np.int64, np.float32, np.float64))}


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
    a.single = running and _int_sums_exact(n0, n1)
    with nogil:
        ssimfast_pool_run(<ssimfast_task> _ssim_2d_pairs[pixel_t], &a, N, 1, n_threads)
    _free_scratch(block)

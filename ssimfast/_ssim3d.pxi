# The 3-D kernel ssim_3d: one pass over planes. Part of the kernel modules
# (see _module.pxi).

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

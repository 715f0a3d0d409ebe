# Kernels for SSIM at several scales: MS-SSIM (ssimfast._msssim) and the
# reference presets (ssimfast._presets). Included after _ssim2d.pxi by the
# three .pyx files: it uses the 2-D row functions, so the SSIM sums here are
# the same operations, in the same order, as ssim_2d's.
#
# ssim_cs_2d   the interior sums of the SSIM map and of the contrast-structure
#              map (2 sigma_xy + C2) / (sigma_x^2 + sigma_y^2 + C2), one pass
# box_downsample_2d   the mean of F x F blocks of a pair of images, with
#              'symmetric' borders (the FxF box filter of MATLAB's imfilter, then
#              every F-th pixel)


cdef struct _CsArgs:
    const char* xb
    const char* yb
    Py_ssize_t xs0, xs1, ys0, ys1, H, W, ilo, ihi
    const double* taps0
    const double* taps1
    Py_ssize_t n0, n1, vpad, vstride, vlen, hlen, ntags, per_thread, plo, phi
    double* work
    double* partial
    Py_ssize_t* tags
    double c1, c2, cov_norm


cdef void _ssim_cs_groups(void* args, Py_ssize_t qlo, Py_ssize_t qhi, int tid,
                          const pixel_t* tag) noexcept nogil:
    """ssim_cs_2d's row groups qlo .. qhi - 1 of one panel, with scratch slot tid."""
    cdef _CsArgs* a = <_CsArgs*> args
    cdef Py_ssize_t q, i, g, t, H = a.H, W = a.W
    cdef double* base = a.work + tid * a.per_thread
    cdef double* srow = base + a.vlen + 4 * W  # ROWS SSIM rows, then ROWS cs rows
    for q in range(qlo, qhi):
        i = a.ilo + q * ROWS
        g = min(ROWS, a.ihi - i)
        _ssim_rows_ring(<const pixel_t*> a.xb, <const pixel_t*> a.yb, a.xs0, a.xs1, a.ys0, a.ys1,
                        H, W, i, g, base + a.vlen + a.hlen,
                        a.tags + tid * a.ntags, a.taps0, a.n0, a.taps1, a.n1,
                        base + a.vpad, a.vstride, base + a.vlen, <char*> srow,
                        W * <Py_ssize_t> sizeof(double), a.plo, a.phi,
                        1.0, a.c1, a.c2, a.cov_norm, NULL, 0, srow + ROWS * W)
        for t in range(g):
            _sum_more(srow + t * W, a.plo, a.phi, a.partial + 4 * (i + t))
            _sum_more(srow + (ROWS + t) * W, a.plo, a.phi, a.partial + 4 * (H + i + t))


def ssim_cs_2d(const pixel_t[:, :] x, const pixel_t[:, :] y,
               const double[::1] taps0, const double[::1] taps1,
               Py_ssize_t crop0, Py_ssize_t crop1,
               double c1, double c2, double cov_norm, int n_threads):
    """(sum of SSIM, sum of contrast-structure) over rows [crop0, H - crop0) and
    columns [crop1, W - crop1) of a 2-D image pair.

    x, y        IN   images of one shape (H, W), any strides
    taps0/1     IN   normalised filter taps along axis 0 / 1, odd length, centred
    crop0/1     IN   border left out on each axis (the taps' radius: 'valid')
    c1, c2, cov_norm  IN  SSIM constants
    n_threads   IN   most threads, the caller included (>= 1; _parallel.pxi)

    Filtering and the SSIM formula are ssim_2d's ring path (_ssim_rows_ring, in
    groups of ROWS rows and panels of PANEL columns), so the SSIM sum equals
    ssim_2d's total for the same arguments; row sums are added in row order,
    so neither sum depends on n_threads.
    """
    cdef Py_ssize_t H = x.shape[0], W = x.shape[1]
    cdef Py_ssize_t n0 = taps0.shape[0], n1 = taps1.shape[0], r1 = n1 // 2
    _check(y.shape[0] == H and y.shape[1] == W, "ssim_cs_2d", "x and y differ in shape")
    _check_axis(H, n0, crop0, "ssim_cs_2d", 0)
    _check_axis(W, n1, crop1, "ssim_cs_2d", 1)
    cdef Py_ssize_t ilo = _inner(crop0, H, False), ihi = _inner(crop0, H, True)
    cdef Py_ssize_t clo = _inner(crop1, W, False), chi = _inner(crop1, W, True)
    cdef Py_ssize_t ngroups = (ihi - ilo + ROWS - 1) // ROWS
    # Per thread, as ssim_2d's ring path: ROWS x 4 padded vertical rows, 4
    # filtered rows, ROWS SSIM rows and ROWS cs rows, the ring.
    cdef Py_ssize_t vpad = _round_up(r1)
    cdef Py_ssize_t vstride = _round_up(_doubles(W + 2 * <object> vpad, "ssim_cs_2d"))
    cdef Py_ssize_t vlen = _doubles(ROWS * 4 * <object> vstride, "ssim_cs_2d")
    cdef Py_ssize_t hlen = _round_up(_doubles((4 + 2 * ROWS) * <object> W, "ssim_cs_2d"))
    cdef Py_ssize_t ring_len = _cache_len(W, n0, False)
    cdef Py_ssize_t per_thread = _doubles(<object> vlen + hlen + ring_len + 16, "ssim_cs_2d")
    cdef Py_ssize_t ntags = _ring_slots(n0)
    n_threads = _workers_for(min(n_threads, ngroups), <double> (ihi - ilo) * (chi - clo))
    cdef Py_ssize_t npanels = 1
    if chi - clo > PANEL + PANEL // 2:
        npanels = (chi - clo + PANEL - 1) // PANEL
    # Per thread scratch, then _sum_more's partial sums of each row (SSIM, cs),
    # then the ring tags.
    cdef void* block = _scratch(sizeof(double) * _doubles(
        n_threads * (<object> per_thread + ntags) + 8 * <object> H + 8, "ssim_cs_2d"))
    if block == NULL:
        raise MemoryError(f"ssim_cs_2d: no memory for {n_threads} x {per_thread} doubles")
    cdef double* work = _aligned(block)
    cdef double* partial = work + n_threads * per_thread  # H x 4 (SSIM), then H x 4 (cs)
    cdef Py_ssize_t* tags = <Py_ssize_t*> (partial + 8 * H)
    memset(partial, 0, 8 * H * sizeof(double))
    cdef const pixel_t* xb = &x[0, 0]
    cdef const pixel_t* yb = &y[0, 0]
    cdef Py_ssize_t xs0 = x.strides[0], xs1 = x.strides[1]
    cdef Py_ssize_t ys0 = y.strides[0], ys1 = y.strides[1]
    cdef Py_ssize_t i, p
    cdef double ssim_total = 0.0, cs_total = 0.0
    cdef _CsArgs a
    a.xb = <const char*> xb
    a.yb = <const char*> yb
    a.xs0 = xs0
    a.xs1 = xs1
    a.ys0 = ys0
    a.ys1 = ys1
    a.H = H
    a.W = W
    a.ilo = ilo
    a.ihi = ihi
    a.taps0 = &taps0[0]
    a.n0 = n0
    a.taps1 = &taps1[0]
    a.n1 = n1
    a.vpad = vpad
    a.vstride = vstride
    a.vlen = vlen
    a.hlen = hlen
    a.ntags = ntags
    a.per_thread = per_thread
    a.work = work
    a.partial = partial
    a.tags = tags
    a.c1 = c1
    a.c2 = c2
    a.cov_norm = cov_norm
    cdef Py_ssize_t chunk = _chunk(ngroups, n_threads, 2)

    with nogil:
        for p in range(npanels):
            # Every panel but the last sums a multiple of 4 columns (see _sum_more).
            a.plo = clo + p * PANEL
            a.phi = chi if p == npanels - 1 else clo + (p + 1) * PANEL
            for i in range(n_threads * ntags):
                tags[i] = -1  # empty ring slots (a slot holds one panel's columns)
            ssimfast_pool_run(<ssimfast_task> _ssim_cs_groups[pixel_t], &a, ngroups, chunk,
                              n_threads)

    cdef double* t4
    for i in range(ilo, ihi):
        t4 = partial + 4 * i
        ssim_total += (t4[0] + t4[1]) + (t4[2] + t4[3])
        t4 = partial + 4 * (H + i)
        cs_total += (t4[0] + t4[1]) + (t4[2] + t4[3])
    _free_scratch(block)
    return ssim_total, cs_total


cdef inline void _add_pixels(const pixel_t* row, Py_ssize_t step, Py_ssize_t n,
                             double_rp acc) noexcept nogil:
    """acc[j] += pixel j of a row whose pixels are `step` bytes apart."""
    cdef Py_ssize_t j
    if step == <Py_ssize_t> sizeof(pixel_t):  # contiguous: a loop that vectorises
        for j in range(n):
            acc[j] += <double> row[j]
        return
    for j in range(n):
        acc[j] += <double> (<const pixel_t*> ((<const char*> row) + j * step))[0]


cdef void _downsample_row(const pixel_t* xb, Py_ssize_t xs0, Py_ssize_t xs1,
                          Py_ssize_t H, Py_ssize_t W, Py_ssize_t i, Py_ssize_t F,
                          Py_ssize_t jlo, Py_ssize_t jhi, Py_ssize_t w,
                          double* acc, char* orow, Py_ssize_t os1) noexcept nogil:
    """Output row i of box_downsample_2d for one image (acc: W + w doubles)."""
    cdef Py_ssize_t j, k, a = (F - 1) // 2
    cdef double area = <double> (F * F)
    # Dividing by a power of two is multiplying by its exact inverse (2x2: 0.25).
    cdef bint pow2 = (F * F) & (F * F - 1) == 0
    cdef double inv = 1.0 / area
    cdef double* sums = acc + W
    memset(acc, 0, W * sizeof(double))
    for k in range(F):
        _add_pixels(<const pixel_t*> ((<const char*> xb) + _reflect(i * F - a + k, H) * xs0),
                    xs1, W, acc)
    _block_sums(acc, W, F, a, jlo, jhi, w, sums)
    for j in range(w):
        (<double*> (orow + j * os1))[0] = sums[j] * inv if pow2 else sums[j] / area


cdef struct _DownArgs:
    const char* xb
    const char* yb
    Py_ssize_t xs0, xs1, ys0, ys1, H, W, F, jlo, jhi, w, stride, ox0, ox1, oy0, oy1
    double* work
    char* oxb
    char* oyb


cdef void _downsample_rows(void* args, Py_ssize_t lo, Py_ssize_t hi, int tid,
                           const pixel_t* tag) noexcept nogil:
    """box_downsample_2d's output rows lo .. hi - 1 of both images."""
    cdef _DownArgs* d = <_DownArgs*> args
    cdef double* acc = d.work + tid * d.stride
    cdef Py_ssize_t i
    for i in range(lo, hi):
        _downsample_row(<const pixel_t*> d.xb, d.xs0, d.xs1, d.H, d.W, i, d.F, d.jlo, d.jhi,
                        d.w, acc, d.oxb + i * d.ox0, d.ox1)
        _downsample_row(<const pixel_t*> d.yb, d.ys0, d.ys1, d.H, d.W, i, d.F, d.jlo, d.jhi,
                        d.w, acc, d.oyb + i * d.oy0, d.oy1)


def box_downsample_2d(const pixel_t[:, :] x, const pixel_t[:, :] y, Py_ssize_t F,
                      double[:, :] outx, double[:, :] outy, int n_threads):
    """Mean of F x F blocks, every F-th pixel, with 'symmetric' borders, of a
    pair of images (one parallel loop for both).

    x, y        IN   images (H, W), any strides, F <= H and F <= W
    F           IN   block size and step (>= 1)
    outx, outy  OUT  (ceil(H / F), ceil(W / F)), any strides

    out[i, j] is the mean of the image over rows iF - a .. iF - a + F - 1 and
    the same columns, a = (F - 1) // 2, indices mirrored at the edges
    (d c b a | a b c d): MATLAB's imfilter(x, ones(F) / F^2, 'symmetric',
    'same') (whose kernel centre is at floor((F + 1) / 2)) sampled at
    x(1:F:end, 1:F:end). For F = 2 this is the 2x2 average of MS-SSIM, the last
    row or column of an odd size averaged with itself. Block sums go down the
    rows, then along; integer pixels sum exactly, and the mean is the sum
    divided by F * F.
    """
    cdef Py_ssize_t H = x.shape[0], W = x.shape[1]
    _check(y.shape[0] == H and y.shape[1] == W, "box_downsample_2d", "x and y differ in shape")
    _check_axis(H, 1, 0, "box_downsample_2d", 0)
    _check_axis(W, 1, 0, "box_downsample_2d", 1)
    if not 1 <= F <= min(H, W):
        _check(False, "box_downsample_2d", f"F must be in 1..{min(H, W)}, got {F}")
    cdef Py_ssize_t h = (H + F - 1) // F, w = (W + F - 1) // F, a = (F - 1) // 2
    _check(outx.shape[0] == h and outx.shape[1] == w and outy.shape[0] == h
           and outy.shape[1] == w, "box_downsample_2d",
           f"outx and outy must be ({h}, {w}), got ({outx.shape[0]}, {outx.shape[1]}) "
           f"and ({outy.shape[0]}, {outy.shape[1]})")
    cdef Py_ssize_t stride = _round_up(W) + _round_up(W // F + 1)  # row sums, block sums
    n_threads = _workers_for(min(n_threads, h), <double> 2 * H * W)
    cdef void* block = _scratch((n_threads * stride + 8) * sizeof(double))
    if block == NULL:
        raise MemoryError(f"box_downsample_2d: no memory for {n_threads} x {W} doubles")
    cdef double* work = _aligned(block)
    cdef const pixel_t* xb = &x[0, 0]
    cdef const pixel_t* yb = &y[0, 0]
    cdef char* oxb = <char*> &outx[0, 0]
    cdef char* oyb = <char*> &outy[0, 0]
    # Output columns whose block lies inside the row: [jlo, jhi).
    cdef Py_ssize_t jlo = min(w, (a + F - 1) // F)
    cdef Py_ssize_t jhi = max(jlo, min(w, (W + a - F) // F + 1))
    cdef _DownArgs d
    d.xb = <const char*> xb
    d.yb = <const char*> yb
    d.xs0 = x.strides[0]
    d.xs1 = x.strides[1]
    d.ys0 = y.strides[0]
    d.ys1 = y.strides[1]
    d.H = H
    d.W = W
    d.F = F
    d.jlo = jlo
    d.jhi = jhi
    d.w = w
    d.work = work
    d.stride = stride
    d.oxb = oxb
    d.oyb = oyb
    d.ox0 = outx.strides[0]
    d.ox1 = outx.strides[1]
    d.oy0 = outy.strides[0]
    d.oy1 = outy.strides[1]
    with nogil:
        ssimfast_pool_run(<ssimfast_task> _downsample_rows[pixel_t], &d, h,
                          _chunk(h, n_threads, 1), n_threads)
    _free_scratch(block)


cdef inline double _mirrored_block(const double* acc, Py_ssize_t W, Py_ssize_t F,
                                   Py_ssize_t start) noexcept nogil:
    cdef Py_ssize_t k
    cdef double s = 0.0
    for k in range(F):
        s = s + acc[_reflect(start + k, W)]
    return s


cdef inline void _block_sums(const double* acc, Py_ssize_t W, Py_ssize_t F, Py_ssize_t a,
                             Py_ssize_t jlo, Py_ssize_t jhi, Py_ssize_t w,
                             double_rp out) noexcept nogil:
    """out[j] = acc[j*F - a] + ... + acc[j*F - a + F - 1], indices mirrored at
    the ends (only for j outside [jlo, jhi)), added from 0.0 in order."""
    cdef Py_ssize_t j, k
    cdef double s
    for j in range(jlo):
        out[j] = _mirrored_block(acc, W, F, j * F - a)
    if F == 2:  # MS-SSIM's 2x2: one expression, the same additions
        for j in range(jlo, jhi):
            out[j] = (0.0 + acc[2 * j - a]) + acc[2 * j - a + 1]
    else:
        for j in range(jlo, jhi):
            s = 0.0
            for k in range(F):
                s = s + acc[j * F - a + k]
            out[j] = s
    for j in range(jhi, w):
        out[j] = _mirrored_block(acc, W, F, j * F - a)

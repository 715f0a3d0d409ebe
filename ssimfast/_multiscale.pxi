# Kernels for SSIM at several scales: MS-SSIM (ssimfast._msssim) and the
# reference presets (ssimfast._presets). Included after _kernels.pxi by the
# three .pyx files: it uses that file's row helpers, so the SSIM sums here are
# the same operations, in the same order, as ssim_2d's.
#
# ssim_cs_2d   the interior sums of the SSIM map and of the contrast-structure
#              map (2 sigma_xy + C2) / (sigma_x^2 + sigma_y^2 + C2), one pass
# box_downsample_2d   the mean of F x F blocks of a pair of images, with
#              'symmetric' borders (the FxF box filter of MATLAB's imfilter, then
#              every F-th pixel)


cdef void _ssim_cs_row(const char* xb, const char* yb, Py_ssize_t xs0, Py_ssize_t xs1,
                       Py_ssize_t ys0, Py_ssize_t ys1, Py_ssize_t H, Py_ssize_t W,
                       Py_ssize_t i, pixel_t* xscratch, pixel_t* yscratch, Py_ssize_t* tags,
                       const double* taps0, Py_ssize_t n0,
                       const double* taps1, Py_ssize_t n1,
                       double* v, Py_ssize_t vstride, double* h,
                       double_rp srow, double_rp crow, Py_ssize_t lo, Py_ssize_t hi,
                       double c1, double c2, double cov_norm) noexcept nogil:
    """SSIM and contrast-structure of output row i, columns [lo, hi), into srow
    and crow: _ssim_row_2d's filtering (not running: Gaussian taps), in strips."""
    cdef Py_ssize_t j, j0 = lo, j1, s, r1 = n1 // 2
    cdef Py_ssize_t strip = STRIP if W > STRIP + 2 * r1 else W
    cdef double a1, a2, b1, b2
    while j0 < hi:
        j1 = min(hi, j0 + strip)
        _window_products(xb, xs0, xs1, yb, ys0, ys1, H, i, taps0, n0,
                         xscratch, yscratch, tags, v, vstride, W,
                         max(0, j0 - r1), min(W, j1 + r1))
        for s in range(4):
            _pad_reflect(v + s * vstride, W, r1, j0 < r1, j1 + r1 > W)
            _correlate(v + s * vstride, taps1, n1, h + s * W, j0, j1)
        for j in range(j0, j1):
            # (ssim_2d multiplies by scale = 1.0 here: the same values)
            srow[j] = _ssim_terms(h[j], h[W + j], h[2 * W + j], h[3 * W + j],
                                  c1, c2, cov_norm, &a1, &a2, &b1, &b2)
            # A2 == B2 bit for bit for identical images, so cs is exactly 1.0
            crow[j] = a2 / b2
        j0 = j1


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
    n_threads   IN   OpenMP threads (>= 1)

    Filtering and the SSIM formula are ssim_2d's, so the SSIM sum equals
    ssim_2d's total for the same arguments; row sums are added in row order,
    so neither sum depends on n_threads.
    """
    cdef Py_ssize_t H = x.shape[0], W = x.shape[1]
    cdef Py_ssize_t n0 = taps0.shape[0], n1 = taps1.shape[0], r1 = n1 // 2
    cdef Py_ssize_t lo = crop1, hi = W - crop1
    # Per thread: 4 padded vertical rows, 4 filtered rows, the SSIM and cs rows,
    # and ssim_2d's row cache for strided input.
    cdef Py_ssize_t vstride = _round_up(W + 2 * r1)
    cdef Py_ssize_t cache_rows = max(n0 + 1, 4)
    cdef Py_ssize_t per_thread = 4 * vstride + 6 * W + 2 * cache_rows * W + 16
    cdef Py_ssize_t i, ntags = n0 + 1
    n_threads = max(1, min(n_threads, H - 2 * crop0))
    cdef void* block = _scratch((n_threads * per_thread + 2 * H + 8) * sizeof(double)
                                + n_threads * ntags * sizeof(Py_ssize_t))
    if block == NULL:
        raise MemoryError(f"ssim_cs_2d: no memory for {n_threads} x {per_thread} doubles")
    cdef double* work = _aligned(block)
    cdef double* sums = work + n_threads * per_thread  # SSIM row sums, then cs row sums
    cdef Py_ssize_t* tags = <Py_ssize_t*> (sums + 2 * H)
    for i in range(n_threads * ntags):
        tags[i] = -1  # empty cache slots
    cdef const char* xb = <const char*> &x[0, 0]
    cdef const char* yb = <const char*> &y[0, 0]
    cdef Py_ssize_t xs0 = x.strides[0], xs1 = x.strides[1]
    cdef Py_ssize_t ys0 = y.strides[0], ys1 = y.strides[1]
    cdef Py_ssize_t tid
    cdef double* base
    cdef double* srow
    cdef double* cache
    cdef double ssim_total = 0.0, cs_total = 0.0

    for i in prange(crop0, H - crop0, nogil=True, num_threads=n_threads, schedule="static"):
        tid = _thread_id()
        base = work + tid * per_thread
        srow = base + 4 * vstride + 4 * W
        cache = srow + 2 * W
        _ssim_cs_row(xb, yb, xs0, xs1, ys0, ys1, H, W, i,
                     <pixel_t*> cache, <pixel_t*> (cache + cache_rows * W),
                     tags + tid * ntags, &taps0[0], n0, &taps1[0], n1,
                     base + r1, vstride, base + 4 * vstride, srow, srow + W, lo, hi,
                     c1, c2, cov_norm)
        sums[i] = _sum(srow, lo, hi)
        sums[H + i] = _sum(srow + W, lo, hi)

    for i in range(crop0, H - crop0):
        ssim_total += sums[i]
        cs_total += sums[H + i]
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
    cdef Py_ssize_t h = outx.shape[0], w = outx.shape[1], a = (F - 1) // 2
    cdef Py_ssize_t stride = _round_up(W) + _round_up(W // F + 1)  # row sums, block sums
    n_threads = max(1, min(n_threads, h))
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
    cdef Py_ssize_t i, tid
    cdef double* acc
    for i in prange(h, nogil=True, num_threads=n_threads, schedule="static"):
        tid = _thread_id()
        acc = work + tid * stride
        _downsample_row(xb, x.strides[0], x.strides[1], H, W, i, F, jlo, jhi, w, acc,
                        oxb + i * outx.strides[0], outx.strides[1])
        _downsample_row(yb, y.strides[0], y.strides[1], H, W, i, F, jlo, jhi, w, acc,
                        oyb + i * outy.strides[0], outy.strides[1])
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

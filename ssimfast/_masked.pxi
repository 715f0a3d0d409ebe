# SSIM over the valid pixels of a mask (normalised convolution), for 2-D images
# (1-D signals are passed as one row). Included by the kernel modules after
# _kernels.pxi, whose helpers it uses (_reflect, _correlate, _scratch, _aligned,
# _thread_id).
#
# The vertical sums are this file's own (_weighted_rows); the horizontal ones use
# _correlate, the same filter as the unmasked kernels.
#
# Each window's statistics are weighted means over its valid pixels: with the
# window taps w and the mask m, mu_x = sum(w m x) / sum(w m), and so on for y,
# x*x + y*y and x*y. sum(w m) is the window's valid fraction f (the taps sum to
# 1). A window with f below min_valid is left out of the mean (NaN in the map).
# Sample covariance uses n / (n - 1) with n = f * (pixels per window), so a full
# window gives scikit-image's factor; windows with n <= 1 are left out.

from libc.math cimport NAN

cdef enum:
    # A parallel task is a band of rows by a strip of columns, fixed sizes (so the
    # results do not depend on the threads); a strip's ring of statistics rows
    # (window rows x 5 x strip) stays in the L2 cache.
    _MASK_BAND = 64
    _MASK_STRIP = 512
    _MASK_STATS = 5  # m, m x, m y, m (x x + y y), m x y


cdef void _masked_row_stats(const pixel_t[:, :] x, const pixel_t[:, :] y,
                            const uint8_t[:, :] m, Py_ssize_t r, Py_ssize_t c0, Py_ssize_t c1,
                            double* out, Py_ssize_t stride) noexcept nogil:
    """The five per-pixel statistics of row r, columns [c0, c1), into
    out[s * stride + j - c0]; masked pixels give zeros (whatever their value, NaN
    included)."""
    cdef Py_ssize_t j, k
    cdef double a, b, v
    for j in range(c0, c1):
        k = j - c0
        v = 1.0 if m[r, j] else 0.0
        a = <double> x[r, j] if m[r, j] else 0.0
        b = <double> y[r, j] if m[r, j] else 0.0
        out[k] = v
        out[stride + k] = a
        out[2 * stride + k] = b
        out[3 * stride + k] = a * a + b * b
        out[4 * stride + k] = a * b


cdef void _weighted_rows(const double** rows, const double* taps, Py_ssize_t ntaps,
                         double_rp dst, Py_ssize_t W) noexcept nogil:
    """dst = sum_k taps[k] * rows[k], in tap order, four rows per pass."""
    cdef Py_ssize_t j, k = 0
    cdef double w0, w1, w2, w3
    cdef const double* r0
    cdef const double* r1
    cdef const double* r2
    cdef const double* r3
    memset(dst, 0, W * sizeof(double))
    while k + 4 <= ntaps:
        r0, r1, r2, r3 = rows[k], rows[k + 1], rows[k + 2], rows[k + 3]
        w0, w1, w2, w3 = taps[k], taps[k + 1], taps[k + 2], taps[k + 3]
        for j in range(W):
            dst[j] = (((dst[j] + w0 * r0[j]) + w1 * r1[j]) + w2 * r2[j]) + w3 * r3[j]
        k += 4
    while k < ntaps:
        r0, w0 = rows[k], taps[k]
        for j in range(W):
            dst[j] = dst[j] + w0 * r0[j]
        k += 1


cdef void _masked_formula(const double* filt, Py_ssize_t W, Py_ssize_t n,
                          double c1, double c2, double window_pixels, bint sample_covariance,
                          double min_valid, double_rp value, double* ok) noexcept nogil:
    """SSIM from a row of the five filtered statistics (filt[s * W + j], j < n)
    into value[j], and ok[j] = 1.0 where the window counts, else 0.0 (value NaN).
    Without branches, so that the compiler vectorises it (a window that does
    not count is computed anyway, and replaced)."""
    cdef Py_ssize_t j
    cdef double f, pixels, cov, inv, ux, uy, vsum, vxy, s
    cdef bint counts
    for j in range(n):
        f = filt[j]
        pixels = f * window_pixels
        cov = pixels / (pixels - 1.0) if sample_covariance else 1.0
        inv = 1.0 / f
        ux = filt[W + j] * inv
        uy = filt[2 * W + j] * inv
        vsum = cov * (filt[3 * W + j] * inv - (ux * ux + uy * uy))
        vxy = cov * (filt[4 * W + j] * inv - ux * uy)
        s = ((2.0 * ux * uy + c1) * (2.0 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vsum + c2))
        counts = (f >= min_valid) & (f > 0.0) & ((not sample_covariance) | (pixels > 1.0))
        value[j] = s if counts else NAN
        ok[j] = 1.0 if counts else 0.0


def ssim_masked_2d(const pixel_t[:, :] x, const pixel_t[:, :] y, const uint8_t[:, :] mask,
                   const double[::1] taps0, const double[::1] taps1,
                   Py_ssize_t crop0, Py_ssize_t crop1, double c1, double c2,
                   double window_pixels, bint sample_covariance, double min_valid,
                   double[:, :] smap, double[::1] rowsums, double[::1] rowcounts,
                   int n_threads):
    """Masked SSIM of a 2-D pair (see the comment at the top of _masked.pxi).

    x, y, mask     IN   (H, W), any strides; mask nonzero where valid
    taps0/1        IN   normalised filter taps along axis 0 / 1 (odd lengths)
    crop0/1        IN   border left out of the mean on each axis
    window_pixels  IN   pixels per full window (for the sample covariance)
    smap           OUT  the map (H, W), NaN where a window has too few valid
                        pixels; shape (0, 0) if not wanted
    rowsums/counts OUT  (H,): per row, the sum of the counted map values over
                        the interior columns, and how many were counted
    """
    cdef Py_ssize_t H = x.shape[0], W = x.shape[1]
    cdef Py_ssize_t n0 = taps0.shape[0], n1 = taps1.shape[0], h0 = n0 // 2, r1 = n1 // 2
    if (y.shape[0] != H or y.shape[1] != W or mask.shape[0] != H or mask.shape[1] != W
            or rowsums.shape[0] != H or rowcounts.shape[0] != H or n0 % 2 == 0 or n1 % 2 == 0
            or (smap.shape[0] > 0 and (smap.shape[0] != H or smap.shape[1] != W))):
        raise ValueError("ssim_masked_2d: inconsistent shapes")
    cdef bint want_map = smap.shape[0] > 0
    cdef Py_ssize_t ilo = 0 if want_map else crop0
    cdef Py_ssize_t ihi = H if want_map else H - crop0
    cdef Py_ssize_t lo = 0 if want_map else crop1
    cdef Py_ssize_t hi = W if want_map else W - crop1
    cdef Py_ssize_t nbands = (ihi - ilo + _MASK_BAND - 1) // _MASK_BAND
    # Strips are aligned to column 0 (not to lo), so that a row's partial sums
    # are the same with or without the map.
    cdef Py_ssize_t nstrips = (W + _MASK_STRIP - 1) // _MASK_STRIP
    cdef Py_ssize_t span = _MASK_STRIP + 2 * r1  # input columns of a strip, at most
    cdef Py_ssize_t vstride = _round_up(span)
    # Per thread: the ring (n0 rows x 5 statistics x span), the vertical sums
    # (5 x vstride), the filtered rows (5 x strip), the SSIM and count rows, and
    # n0 row pointers.
    cdef Py_ssize_t per_thread = _round_up(_doubles(
        n0 * _MASK_STATS * <object> span + _MASK_STATS * vstride
        + (_MASK_STATS + 2) * _MASK_STRIP + n0, "ssim_masked_2d"))
    cdef Py_ssize_t task, band, strip, i, j, k, s, v, slot, i_end, filled
    cdef Py_ssize_t s0, s1, a0, a1, width, left
    cdef double* work
    cdef double* ring
    cdef double* vert
    cdef double* filt
    cdef double* value_row
    cdef double* ok_row
    cdef double* row
    cdef const double** rows
    cdef double total, count
    rowsums[:] = 0.0
    rowcounts[:] = 0.0
    if nbands <= 0 or nstrips <= 0:
        return
    n_threads = max(1, min(n_threads, nbands * nstrips))
    # Scratch for the threads, then each row's partial sums and counts per strip
    # (added in strip order afterwards, whatever thread computed them).
    cdef void* block = _scratch(sizeof(double) * _doubles(
        n_threads * <object> per_thread + 2 * <object> H * nstrips + 8, "ssim_masked_2d"))
    if block == NULL:
        raise MemoryError(f"ssim_masked_2d: no memory for {n_threads} x {per_thread} doubles")
    cdef double* base = _aligned(block)
    cdef double* part_sums = base + n_threads * per_thread
    cdef double* part_counts = part_sums + H * nstrips
    memset(part_sums, 0, 2 * H * nstrips * sizeof(double))  # strips with no column stay 0
    for task in prange(nbands * nstrips, nogil=True, num_threads=n_threads, schedule="dynamic"):
        band = task // nstrips
        strip = task % nstrips
        work = base + _thread_id() * per_thread
        ring = work
        vert = ring + n0 * _MASK_STATS * span
        filt = vert + _MASK_STATS * vstride
        value_row = filt + _MASK_STATS * _MASK_STRIP
        ok_row = value_row + _MASK_STRIP
        rows = <const double**> (ok_row + _MASK_STRIP)
        s0 = max(lo, strip * _MASK_STRIP)  # output columns [s0, s1), maybe none
        s1 = min(hi, (strip + 1) * _MASK_STRIP)
        width = s1 - s0
        if width <= 0:
            continue
        a0 = max(0, s0 - r1)  # input columns [a0, a1); reflected beyond the image
        a1 = min(W, s1 + r1)
        left = a0 - (s0 - r1)  # vert[k] holds column s0 - r1 + k
        i_end = min(ihi, ilo + (band + 1) * _MASK_BAND)
        filled = ilo + band * _MASK_BAND - h0  # the next virtual row to put in the ring
        for i in range(ilo + band * _MASK_BAND, i_end):
            # The ring holds virtual rows i - h0 .. i + h0 (reflected at the borders).
            while filled <= i + h0:
                slot = ((filled % n0) + n0) % n0
                _masked_row_stats(x, y, mask, _reflect(filled, H), a0, a1,
                                  ring + slot * _MASK_STATS * span, span)
                filled = filled + 1
            for s in range(_MASK_STATS):
                for k in range(n0):
                    v = i + k - h0
                    slot = ((v % n0) + n0) % n0
                    rows[k] = ring + (slot * _MASK_STATS + s) * span
                row = vert + s * vstride
                _weighted_rows(rows, &taps0[0], n0, row + left, a1 - a0)
                for k in range(left):  # columns left of the image, mirrored
                    row[k] = row[_reflect(s0 - r1 + k, W) - (s0 - r1)]
                for k in range(a1 - (s0 - r1), width + 2 * r1):  # and right of it
                    row[k] = row[_reflect(s0 - r1 + k, W) - (s0 - r1)]
                _correlate(row + r1, &taps1[0], n1, filt + s * _MASK_STRIP, 0, width)
            _masked_formula(filt, _MASK_STRIP, width, c1, c2, window_pixels, sample_covariance,
                            min_valid, value_row, ok_row)
            if want_map:
                for j in range(width):
                    smap[i, s0 + j] = value_row[j]
            total = 0.0
            count = 0.0
            for j in range(max(s0, crop1), min(s1, W - crop1)):
                # A NaN in valid pixels propagates, as in the unmasked SSIM.
                total = total + (value_row[j - s0] if ok_row[j - s0] != 0.0 else 0.0)
                count = count + ok_row[j - s0]
            part_sums[i * nstrips + strip] = total
            part_counts[i * nstrips + strip] = count
    for i in range(crop0, H - crop0):
        total = 0.0
        count = 0.0
        for strip in range(nstrips):
            total = total + part_sums[i * nstrips + strip]
            count = count + part_counts[i * nstrips + strip]
        rowsums[i] = total
        rowcounts[i] = count
    _free_scratch(block)

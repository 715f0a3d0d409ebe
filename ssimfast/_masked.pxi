# SSIM over the valid pixels of a mask (normalised convolution), for 2-D images
# (1-D signals are passed as one row). Included by the kernel modules after
# _rows.pxi and _filters.pxi, whose helpers it uses (_reflect, _copy_row, _sym*_rows,
# _correlate, _scratch, _aligned) and _parallel.pxi's pool.
#
# Each window's statistics are weighted means over its valid pixels: with the
# window taps w and the mask m, mu_x = sum(w m x) / sum(w m), and so on for y,
# x*x + y*y and x*y. sum(w m) is the window's valid fraction f (the taps sum to
# 1). A window with f below min_valid is left out of the mean (NaN in the map).
# Sample covariance uses n / (n - 1) with n = f * (pixels per window), so a full
# window gives scikit-image's factor; windows with n <= 1 are left out.
#
# A uniform window (all taps equal, the default) is filtered with unit taps:
# plain window sums, no multiplications, scaled by the tap product afterwards;
# the mask's sums are then exact counts, so n and the min_valid test are exact.
# Results are within rounding (1e-12 in the tests) of normalised convolution
# with scipy.ndimage, not bit-identical to it.

import math

from libc.math cimport INFINITY, NAN

cdef enum:
    # A parallel task is a band of rows by a strip of columns, fixed sizes (so the
    # results do not depend on the threads); a strip's ring of statistics rows
    # (window rows x 5 x strip) stays in the L2 cache.
    _MASK_BAND = 64
    _MASK_STRIP = 512
    _MASK_STATS = 5  # m, m x, m y, m (x x + y y), m x y
    _MASK_GROUP = 4  # output rows filtered along axis 0 together (their input rows loaded once)


cdef struct _MaskConsts:
    double c1, c2
    double norm  # times the filtered sums gives the normalised ones (1.0, or the unit taps' scale)
    double n_scale  # times the first filtered sum gives n (the valid pixels of the window)
    double s0_min  # a window counts if its first filtered sum >= s0_min (f >= min_valid) ...
    double n_min  # ... and its n > n_min: 1 with sample covariance, else -inf
    bint sample


cdef inline void _masked_stats(const pixel_t* x, const pixel_t* y, bint omit_nan,
                               double_rp o0, double_rp o1, double_rp o2, double_rp o3,
                               double_rp o4, Py_ssize_t n) noexcept nogil:
    """The five per-pixel statistics of n contiguous pixels into o0..o4. On entry
    o0 holds the mask (1.0 valid, 0.0 not); with omit_nan a NaN in x or y makes
    a pixel invalid too. Invalid pixels give zeros, whatever their values (NaN
    included)."""
    cdef Py_ssize_t j
    cdef double a, b, keep
    # Loads and tests for every pixel, selects rather than branches: so gcc
    # vectorises the loops.
    if omit_nan:  # two loops, so that neither tests the flag per pixel
        for j in range(n):
            a = <double> x[j]
            b = <double> y[j]
            keep = o0[j] * (1.0 if a == a else 0.0) * (1.0 if b == b else 0.0)
            a = a if keep != 0.0 else 0.0
            b = b if keep != 0.0 else 0.0
            o0[j] = keep
            o1[j] = a
            o2[j] = b
            o3[j] = a * a + b * b
            o4[j] = a * b
        return
    for j in range(n):
        a = <double> x[j]
        b = <double> y[j]
        keep = o0[j]
        a = a if keep != 0.0 else 0.0
        b = b if keep != 0.0 else 0.0
        o1[j] = a
        o2[j] = b
        o3[j] = a * a + b * b
        o4[j] = a * b


cdef void _masked_row(const char* xb, Py_ssize_t xs0, Py_ssize_t xs1,
                      const char* yb, Py_ssize_t ys0, Py_ssize_t ys1,
                      const uint8_t* mb, Py_ssize_t ms0, Py_ssize_t ms1,
                      bint omit_nan, Py_ssize_t r, Py_ssize_t c0, Py_ssize_t c1,
                      double* out, Py_ssize_t stride, pixel_t* xcopy, pixel_t* ycopy) noexcept nogil:
    """_masked_stats of row r, columns [c0, c1), into out[s * stride + j - c0];
    mb NULL means every pixel is valid. Strided rows are copied to xcopy /
    ycopy first (the same arithmetic either way)."""
    cdef Py_ssize_t j, n = c1 - c0
    cdef const pixel_t* xr = <const pixel_t*> (xb + r * xs0 + c0 * xs1)
    cdef const pixel_t* yr = <const pixel_t*> (yb + r * ys0 + c0 * ys1)
    cdef const uint8_t* mr
    if mb == NULL:
        for j in range(n):
            out[j] = 1.0
    else:
        mr = mb + r * ms0 + c0 * ms1
        if ms1 == 1:
            for j in range(n):
                out[j] = 1.0 if mr[j] != 0 else 0.0
        else:
            for j in range(n):
                out[j] = 1.0 if mr[j * ms1] != 0 else 0.0
    if xs1 != <Py_ssize_t> sizeof(pixel_t):
        _copy_row(<const char*> xr, xs1, n, xcopy)
        xr = xcopy
    if ys1 != <Py_ssize_t> sizeof(pixel_t):
        _copy_row(<const char*> yr, ys1, n, ycopy)
        yr = ycopy
    _masked_stats(xr, yr, omit_nan, out, out + stride, out + 2 * stride, out + 3 * stride,
                  out + 4 * stride, n)


cdef inline void _box7_rows(const double** p, double_rp dst, Py_ssize_t n) noexcept nogil:
    """The sum of 7 rows p[0..6] (unit taps), as a tree for shorter dependencies."""
    cdef Py_ssize_t j
    cdef const double* p0 = p[0]
    cdef const double* p1 = p[1]
    cdef const double* p2 = p[2]
    cdef const double* p3 = p[3]
    cdef const double* p4 = p[4]
    cdef const double* p5 = p[5]
    cdef const double* p6 = p[6]
    for j in range(n):
        dst[j] = ((p0[j] + p6[j]) + (p1[j] + p5[j])) + ((p2[j] + p4[j]) + p3[j])


cdef void _masked_rows(const double** p, const double* taps, Py_ssize_t ntaps, bint unit,
                       double_rp dst, Py_ssize_t n) noexcept nogil:
    """dst = the symmetric filter of rows p[0..ntaps-1] (unit: taps all 1.0),
    one pass for the common windows."""
    cdef Py_ssize_t k, h = ntaps // 2
    if ntaps == 7:
        if unit:
            _box7_rows(p, dst, n)
        else:
            _sym7_rows(p, taps, dst, n)
        return
    if ntaps == 11:
        _sym11_rows(p, taps, dst, n)
        return
    _sym_centre(p[h], taps[h], dst, n)
    k = 0
    while k + 2 <= h:
        _sym_pairs2(p[k], p[ntaps - 1 - k], p[k + 1], p[ntaps - 2 - k], taps[k], taps[k + 1],
                    dst, n)
        k += 2
    if k < h:
        _sym_pair(p[k], p[ntaps - 1 - k], taps[k], dst, n)


cdef inline void _box7_rows4(const double** p, double_rp d0, double_rp d1, double_rp d2,
                             double_rp d3, Py_ssize_t n) noexcept nogil:
    """_box7_rows for 4 consecutive centres (rows p[0..9]; d_t from p[t..t+6]):
    the rows shared by the windows are loaded once (the same bits)."""
    cdef Py_ssize_t j
    cdef double q0, q1, q2, q3, q4, q5, q6, q7, q8, q9
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
        d0[j] = ((q0 + q6) + (q1 + q5)) + ((q2 + q4) + q3)
        d1[j] = ((q1 + q7) + (q2 + q6)) + ((q3 + q5) + q4)
        d2[j] = ((q2 + q8) + (q3 + q7)) + ((q4 + q6) + q5)
        d3[j] = ((q3 + q9) + (q4 + q8)) + ((q5 + q7) + q6)


cdef inline void _masked_rows_group(const double** p, const double* taps, Py_ssize_t ntaps,
                                    bint unit, Py_ssize_t g, double* dst, Py_ssize_t step,
                                    Py_ssize_t n) noexcept nogil:
    """_masked_rows for g consecutive centres (rows p[0 .. ntaps + g - 2]) into
    dst + t * step: 4 at once for the common windows (the same bits)."""
    cdef Py_ssize_t t
    if g == 4 and ntaps == 7 and unit:
        _box7_rows4(p, dst, dst + step, dst + 2 * step, dst + 3 * step, n)
    elif g == 4 and ntaps == 11:
        _sym11_rows4(p, taps, dst, dst + step, dst + 2 * step, dst + 3 * step, n)
    else:
        for t in range(g):
            _masked_rows(p + t, taps, ntaps, unit, dst + t * step, n)


cdef inline double _masked_ssim(double s0, double s1, double s2, double s3, double s4,
                                const _MaskConsts* k, double* ok) noexcept nogil:
    """SSIM of a window from its five filtered sums (times k.norm: the valid
    fraction f, then f times the means of x, y, x x + y y and x y), and *ok = 1.0
    if the window counts, else 0.0 (the result is then NaN).

    The usual formula with both of its fractions multiplied through by f**2 and
    the covariance factor n / (n - 1) by n - 1: one division per window instead
    of three. Identical valid pixels still give exactly 1.0 (the numerator and
    denominator are then the same operations on the same numbers).
    """
    cdef double f = s0 * k.norm
    cdef double mx = s1 * k.norm
    cdef double my = s2 * k.norm
    cdef double n = s0 * k.n_scale
    cdef double ff = f * f
    cdef double p = mx * my
    cdef double q = mx * mx + my * my
    cdef double cov = n if k.sample else 1.0
    cdef double c2ff = (k.c2 * ff) * (n - 1.0 if k.sample else 1.0)
    cdef double a1 = 2.0 * p + k.c1 * ff
    cdef double b1 = q + k.c1 * ff
    cdef double a2 = cov * (2.0 * ((s4 * k.norm) * f - p)) + c2ff
    cdef double b2 = cov * ((s3 * k.norm) * f - q) + c2ff
    # Computed for every window, and the tests in doubles, not bints: gcc
    # vectorises the loops only so.
    cdef double s = (a1 * a2) / (b1 * b2)
    cdef double counts = ((1.0 if s0 >= k.s0_min else 0.0) * (1.0 if f > 0.0 else 0.0)
                          * (1.0 if n > k.n_min else 0.0))
    ok[0] = 1.0 if counts != 0.0 else 0.0
    return s if counts != 0.0 else NAN


cdef inline double _box7_at(const double* s) noexcept nogil:
    return ((s[0] + s[6]) + (s[1] + s[5])) + ((s[2] + s[4]) + s[3])


cdef void _masked_finish(const double* v, Py_ssize_t vstride, const double* taps,
                         Py_ssize_t ntaps, bint unit, double* filt, Py_ssize_t width,
                         const _MaskConsts* k, double_rp value, double_rp ok,
                         double_rp kept) noexcept nogil:
    """Filter the five padded rows v + s * vstride along the row (output j from
    v[j : j + ntaps]) and apply _masked_ssim: value[j] (NaN if the window does
    not count), ok[j], and kept[j] (value, or 0.0 if it does not count). The
    7 x 7 box keeps its sums in registers; other windows go through filt (with
    more taps, the five sums in registers would spill, and that is slower)."""
    cdef Py_ssize_t j, s
    cdef double o, t
    cdef const double* v0 = v
    cdef const double* v1 = v + vstride
    cdef const double* v2 = v + 2 * vstride
    cdef const double* v3 = v + 3 * vstride
    cdef const double* v4 = v + 4 * vstride
    if ntaps == 7 and unit:
        for j in range(width):
            t = _masked_ssim(_box7_at(v0 + j), _box7_at(v1 + j), _box7_at(v2 + j),
                             _box7_at(v3 + j), _box7_at(v4 + j), k, &o)
            value[j] = t
            ok[j] = o
            kept[j] = t if o != 0.0 else 0.0
        return
    for s in range(_MASK_STATS):
        _correlate(v + s * vstride + ntaps // 2, taps, ntaps, filt + s * _MASK_STRIP, 0, width)
    for j in range(width):
        t = _masked_ssim(filt[j], filt[_MASK_STRIP + j], filt[2 * _MASK_STRIP + j],
                         filt[3 * _MASK_STRIP + j], filt[4 * _MASK_STRIP + j], k, &o)
        value[j] = t
        ok[j] = o
        kept[j] = t if o != 0.0 else 0.0


cdef inline double _sum8(const double* s, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Sum of s[lo:hi] in eight interleaved partial sums (a fixed order, so
    deterministic): gcc keeps them in one vector register."""
    cdef double t0 = 0.0, t1 = 0.0, t2 = 0.0, t3 = 0.0, t4 = 0.0, t5 = 0.0, t6 = 0.0, t7 = 0.0
    cdef Py_ssize_t j = lo
    while j + 8 <= hi:
        t0 += s[j]
        t1 += s[j + 1]
        t2 += s[j + 2]
        t3 += s[j + 3]
        t4 += s[j + 4]
        t5 += s[j + 5]
        t6 += s[j + 6]
        t7 += s[j + 7]
        j += 8
    while j < hi:
        t0 += s[j]
        j += 1
    return ((t0 + t1) + (t2 + t3)) + ((t4 + t5) + (t6 + t7))


cdef struct _MaskArgs:
    const char* xb
    const char* yb
    const uint8_t* mb
    char* sb
    Py_ssize_t xs0, xs1, ys0, ys1, ms0, ms1, ss0, ss1
    bint omit_nan, unit
    Py_ssize_t H, W, n0, n1, h0, r1, crop1, ilo, ihi, lo, hi, nstrips, plane, slots, per_thread
    double* base
    double* part_sums
    double* part_counts
    const double* t0
    const double* t1
    const _MaskConsts* consts


cdef void _masked_tasks(void* args, Py_ssize_t tlo, Py_ssize_t thi, int tid,
                        const pixel_t* tag) noexcept nogil:
    """ssim_masked_2d's tasks tlo .. thi - 1 (a band of rows by a strip of
    columns each), with scratch slot tid."""
    cdef _MaskArgs* a = <_MaskArgs*> args
    cdef Py_ssize_t H = a.H, W = a.W, n0 = a.n0, n1 = a.n1, h0 = a.h0, r1 = a.r1
    cdef Py_ssize_t crop1 = a.crop1, ilo = a.ilo, ihi = a.ihi, lo = a.lo, hi = a.hi
    cdef Py_ssize_t nstrips = a.nstrips, plane = a.plane, slots = a.slots
    cdef bint unit = a.unit
    cdef const double* t0 = a.t0
    cdef const double* t1 = a.t1
    cdef double* part_sums = a.part_sums
    cdef double* part_counts = a.part_counts
    cdef Py_ssize_t task, band, strip, i, j, k, s, t, g, v, slot, i_end, filled
    cdef Py_ssize_t s0, s1, a0, a1, width, left
    cdef double* work
    cdef double* ring
    cdef double* vert
    cdef double* filt
    cdef double* value_row
    cdef double* ok_row
    cdef double* kept_row
    cdef double* row
    cdef const double** rows
    for task in range(tlo, thi):
        band = task // nstrips
        strip = task % nstrips
        work = a.base + tid * a.per_thread
        ring = work
        vert = ring + slots * _MASK_STATS * plane
        filt = vert + _MASK_GROUP * _MASK_STATS * plane
        value_row = filt + _MASK_STATS * _MASK_STRIP
        ok_row = value_row + _MASK_STRIP
        kept_row = ok_row + _MASK_STRIP
        rows = <const double**> (kept_row + _MASK_STRIP + 2 * plane)
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
        i = ilo + band * _MASK_BAND
        while i < i_end:  # output rows i .. i + g - 1 at once
            g = min(_MASK_GROUP, i_end - i)
            # The ring holds virtual rows i - h0 .. i + g - 1 + h0 (reflected at
            # the borders), in slots by row modulo `slots`.
            while filled <= i + g - 1 + h0:
                slot = ((filled % slots) + slots) % slots
                _masked_row(a.xb, a.xs0, a.xs1, a.yb, a.ys0, a.ys1, a.mb, a.ms0, a.ms1,
                            a.omit_nan, _reflect(filled, H), a0, a1,
                            ring + slot * _MASK_STATS * plane, plane,
                            <pixel_t*> (kept_row + _MASK_STRIP),
                            <pixel_t*> (kept_row + _MASK_STRIP + plane))
                filled = filled + 1
            for k in range(n0 + g - 1):  # rows[s * slots + k]: statistic s of row i + k - h0
                v = i + k - h0
                slot = ((v % slots) + slots) % slots
                for s in range(_MASK_STATS):
                    rows[s * slots + k] = ring + (slot * _MASK_STATS + s) * plane
            for s in range(_MASK_STATS):
                _masked_rows_group(rows + s * slots, t0, n0, unit, g, vert + s * plane + left,
                                   _MASK_STATS * plane, a1 - a0)
                for t in range(g):
                    row = vert + (t * _MASK_STATS + s) * plane
                    for k in range(left):  # columns left of the image, mirrored
                        row[k] = row[_reflect(s0 - r1 + k, W) - (s0 - r1)]
                    for k in range(a1 - (s0 - r1), width + 2 * r1):  # and right of it
                        row[k] = row[_reflect(s0 - r1 + k, W) - (s0 - r1)]
            for t in range(g):
                _masked_finish(vert + t * _MASK_STATS * plane, plane, t1, n1, unit, filt, width,
                               a.consts, value_row, ok_row, kept_row)
                if a.sb != NULL:
                    for j in range(width):
                        (<double*> (a.sb + (i + t) * a.ss0 + (s0 + j) * a.ss1))[0] = value_row[j]
                # Interior columns only. A NaN in valid pixels propagates, as in
                # the unmasked SSIM.
                k = max(s0, crop1) - s0
                v = min(s1, W - crop1) - s0
                if k < v:
                    part_sums[(i + t) * nstrips + strip] = _sum8(kept_row, k, v)
                    part_counts[(i + t) * nstrips + strip] = _sum8(ok_row, k, v)
            i = i + g


cdef inline bint _all_equal(const double[::1] taps) noexcept nogil:
    cdef Py_ssize_t k
    for k in range(taps.shape[0]):
        if taps[k] != taps[0]:
            return False
    return True


def ssim_masked_2d(const pixel_t[:, :] x, const pixel_t[:, :] y, const uint8_t[:, :] mask,
                   bint omit_nan, const double[::1] taps0, const double[::1] taps1,
                   Py_ssize_t crop0, Py_ssize_t crop1, double c1, double c2,
                   double window_pixels, bint sample_covariance, double min_valid,
                   double[:, :] smap, double[::1] rowsums, double[::1] rowcounts,
                   int n_threads):
    """Masked SSIM of a 2-D pair (see the comment at the top of _masked.pxi).

    x, y, mask     IN   (H, W), any strides; mask nonzero where valid, or shape
                        (0, 0): every pixel valid
    omit_nan       IN   pixels where x or y is NaN are invalid too
    taps0/1        IN   normalised symmetric filter taps along axis 0 / 1 (odd lengths)
    crop0/1        IN   border left out of the mean on each axis
    window_pixels  IN   pixels per full window (for the sample covariance)
    smap           OUT  the map (H, W), NaN where a window has too few valid
                        pixels; shape (0, 0) if not wanted
    rowsums/counts OUT  (H,): per row, the sum of the counted map values over
                        the interior columns, and how many were counted
    """
    cdef Py_ssize_t H = x.shape[0], W = x.shape[1]
    cdef Py_ssize_t n0 = taps0.shape[0], n1 = taps1.shape[0], h0 = n0 // 2, r1 = n1 // 2
    if (y.shape[0] != H or y.shape[1] != W
            or not ((mask.shape[0] == H and mask.shape[1] == W)
                    or (mask.shape[0] == 0 and mask.shape[1] == 0))
            or rowsums.shape[0] != H or rowcounts.shape[0] != H or n0 % 2 == 0 or n1 % 2 == 0
            or (smap.shape[0] > 0 and (smap.shape[0] != H or smap.shape[1] != W))):
        raise ValueError("ssim_masked_2d: inconsistent shapes")
    _check_axis(H, n0, crop0, "ssim_masked_2d", 0)
    _check_axis(W, n1, crop1, "ssim_masked_2d", 1)
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
    cdef Py_ssize_t plane = _round_up(span)  # doubles from one statistics row to the next
    # Per thread: the ring (`slots` rows x 5 statistics), the vertical sums (5
    # rows per output row of a group), the filtered rows (5 x strip), the value,
    # ok and kept rows, two rows of copied pixels (at most a double each), and
    # 5 x slots row pointers.
    cdef Py_ssize_t slots = n0 + _MASK_GROUP - 1
    cdef Py_ssize_t per_thread = _round_up(_doubles(
        (slots + _MASK_GROUP) * _MASK_STATS * <object> plane
        + (_MASK_STATS + 3) * _MASK_STRIP + 2 * <object> plane + _MASK_STATS * <object> slots,
        "ssim_masked_2d"))
    cdef Py_ssize_t i, k, strip
    cdef double total, count
    cdef _MaskConsts consts
    cdef object pixels, least
    # A uniform window is filtered with unit taps (see the top of the file).
    cdef bint unit = _all_equal(taps0) and _all_equal(taps1)
    consts.c1 = c1
    consts.c2 = c2
    consts.norm = taps0[0] * taps1[0] if unit else 1.0
    consts.n_scale = window_pixels
    consts.s0_min = min_valid
    consts.sample = sample_covariance
    consts.n_min = 1.0 if sample_covariance else -INFINITY
    if unit:
        # The window sums of the mask are exact counts: n is the count, and f is
        # count / pixels rounded once (a full window gives exactly 1; with the
        # normalised taps, 49 * (1/7)**2 is 1 - 2**-53), so a window counts if
        # count >= the least k with k / pixels >= min_valid.
        consts.n_scale = 1.0
        if min_valid == min_valid:  # not NaN (nothing counts then)
            pixels = <object> n0 * n1
            least = math.ceil(min(max(min_valid, 0.0), 2.0) * pixels)
            while least > 0 and (least - 1) / pixels >= min_valid:
                least -= 1
            while least <= pixels and least / pixels < min_valid:
                least += 1
            consts.s0_min = least
    rowsums[:] = 0.0
    rowcounts[:] = 0.0
    if nbands <= 0 or nstrips <= 0:
        return
    n_threads = _workers_for(min(n_threads, nbands * nstrips), <double> (ihi - ilo) * (hi - lo))
    # Scratch for the threads, then each row's partial sums and counts per strip
    # (added in strip order afterwards, whatever thread computed them), then
    # the unit taps.
    cdef void* block = _scratch(sizeof(double) * _doubles(
        n_threads * <object> per_thread + 2 * <object> H * nstrips + n0 + n1 + 8,
        "ssim_masked_2d"))
    if block == NULL:
        raise MemoryError(f"ssim_masked_2d: no memory for {n_threads} x {per_thread} doubles")
    cdef double* base = _aligned(block)
    cdef double* part_sums = base + n_threads * per_thread
    cdef double* part_counts = part_sums + H * nstrips
    cdef double* ones = part_counts + H * nstrips
    cdef const double* t0 = &taps0[0]
    cdef const double* t1 = &taps1[0]
    memset(part_sums, 0, 2 * H * nstrips * sizeof(double))  # strips with no column stay 0
    if unit:
        for k in range(n0 + n1):
            ones[k] = 1.0
        t0 = ones
        t1 = ones + n0
    cdef _MaskArgs ma
    ma.xb = <const char*> &x[0, 0]
    ma.yb = <const char*> &y[0, 0]
    ma.xs0 = x.strides[0]
    ma.xs1 = x.strides[1]
    ma.ys0 = y.strides[0]
    ma.ys1 = y.strides[1]
    ma.mb = &mask[0, 0] if mask.shape[0] > 0 else NULL
    ma.ms0 = mask.strides[0]
    ma.ms1 = mask.strides[1]
    ma.sb = <char*> &smap[0, 0] if want_map else NULL
    ma.ss0 = smap.strides[0]
    ma.ss1 = smap.strides[1]
    ma.omit_nan = omit_nan
    ma.unit = unit
    ma.H = H
    ma.W = W
    ma.n0 = n0
    ma.n1 = n1
    ma.h0 = h0
    ma.r1 = r1
    ma.crop1 = crop1
    ma.ilo = ilo
    ma.ihi = ihi
    ma.lo = lo
    ma.hi = hi
    ma.nstrips = nstrips
    ma.plane = plane
    ma.slots = slots
    ma.per_thread = per_thread
    ma.base = base
    ma.part_sums = part_sums
    ma.part_counts = part_counts
    ma.t0 = t0
    ma.t1 = t1
    ma.consts = &consts
    with nogil:
        ssimfast_pool_run(<ssimfast_task> _masked_tasks[pixel_t], &ma, nbands * nstrips, 1,
                          n_threads)
    for i in range(crop0, H - crop0):
        total = 0.0
        count = 0.0
        for strip in range(nstrips):
            total = total + part_sums[i * nstrips + strip]
            count = count + part_counts[i * nstrips + strip]
        rowsums[i] = total
        rowcounts[i] = count
    _free_scratch(block)

# Any number of dimensions: filter_axis (a separable pass over a whole array,
# also the gradient's filtering) and ssim_map_nd. Part of the kernel modules
# (see _module.pxi).

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

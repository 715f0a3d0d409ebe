# Row helpers of the kernels: scratch memory, 'reflect' indices, row copies.
# Part of the kernel modules (see _module.pxi for the list of files).

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
    cdef const pixel_t* p = <const pixel_t*> base
    # A channel of interleaved RGB or RGBA: with the stride a constant, the
    # compiler vectorises the gather (a scalar loop cost an RGB call 17%).
    if step == 3 * <Py_ssize_t> sizeof(pixel_t):
        for j in range(n):
            out[j] = p[3 * j]
        return
    if step == 4 * <Py_ssize_t> sizeof(pixel_t):
        for j in range(n):
            out[j] = p[4 * j]
        return
    for j in range(n):
        out[j] = (<const pixel_t*> (base + j * step))[0]

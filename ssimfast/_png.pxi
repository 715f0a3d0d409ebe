# PNG row unfiltering for ssimfast's own PNG reader (_png.py), which decodes the
# common PNGs (8 and 16 bits, gray, gray+alpha, RGB, RGBA, not interlaced) with
# the GIL released, so that a directory of pairs decodes on every core.
# The Python side checks the header and the size of the inflated data.

from libc.stdlib cimport abs as c_abs


cdef inline int _paeth(int a, int b, int c) noexcept nogil:
    """The Paeth predictor, without branches: its choice is data-dependent and
    unpredictable, so branches would mispredict about half the time."""
    cdef int pa = c_abs(b - c), pb = c_abs(a - c), pc = c_abs(a + b - 2 * c)
    cdef int take_b = -(pb <= pc)                 # all ones or zero
    cdef int bc = (b & take_b) | (c & ~take_b)
    cdef int take_a = -((pa <= pb) & (pa <= pc))
    return (a & take_a) | (bc & ~take_a)


cdef void _paeth_two_rows(const uint8_t* s0, const uint8_t* s1, const uint8_t* above,
                          uint8_t* c0, uint8_t* c1, Py_ssize_t n) noexcept nogil:
    """Two consecutive Paeth rows of one byte per pixel (c0 under `above`, c1
    under c0), the second one byte behind the first: each row is a chain of
    dependent steps, and two independent chains keep the CPU twice as busy."""
    cdef Py_ssize_t j
    cdef int a0 = <uint8_t>(s0[0] + above[0])  # first byte: left = upper left = 0
    cdef int a1
    c0[0] = <uint8_t>a0
    if n == 1:
        c1[0] = <uint8_t>(s1[0] + c0[0])
        return
    a0 = <uint8_t>(s0[1] + _paeth(a0, above[1], above[0]))
    c0[1] = <uint8_t>a0
    a1 = <uint8_t>(s1[0] + c0[0])
    c1[0] = <uint8_t>a1
    for j in range(2, n):
        a0 = <uint8_t>(s0[j] + _paeth(a0, above[j], above[j - 1]))
        c0[j] = <uint8_t>a0
        a1 = <uint8_t>(s1[j - 1] + _paeth(a1, c0[j - 1], c0[j - 2]))
        c1[j - 1] = <uint8_t>a1
    c1[n - 1] = <uint8_t>(s1[n - 1] + _paeth(a1, c0[n - 1], c0[n - 2]))


def png_unfilter(const uint8_t[::1] raw, uint8_t[:, ::1] out, Py_ssize_t bpp):
    """Undo the per-row PNG filters of `raw` (rows of 1 + out.shape[1] bytes,
    each a filter type byte and the filtered bytes) into `out`; `bpp` is the
    bytes per complete pixel (at least 1). Returns the first row whose filter
    type is not 0-4, or -1."""
    cdef Py_ssize_t H = out.shape[0], n = out.shape[1], i, j
    cdef Py_ssize_t bad = -1
    cdef const uint8_t* src
    cdef uint8_t* cur
    cdef const uint8_t* prev
    cdef int a, t
    if raw.shape[0] < H * (n + 1) or bpp < 1 or bpp > n:
        raise ValueError("png_unfilter: raw holds fewer bytes than the rows need")
    # The row above the first is zeros, as the PNG specification says.
    cdef uint8_t[::1] zeros = np.zeros(n, np.uint8)
    with nogil:
        prev = &zeros[0]
        i = 0
        while i < H:
            src = &raw[i * (n + 1)] + 1
            cur = &out[i, 0]
            t = raw[i * (n + 1)]  # the row's filter type
            if t == 4 and bpp == 1 and i + 1 < H and raw[(i + 1) * (n + 1)] == 4:
                _paeth_two_rows(src, src + n + 1, prev, cur, &out[i + 1, 0], n)
                prev = &out[i + 1, 0]
                i += 2
                continue
            if t == 0:  # None
                for j in range(n):
                    cur[j] = src[j]
            elif t == 1:  # Sub: add the byte one pixel to the left
                for j in range(bpp):
                    cur[j] = src[j]
                for j in range(bpp, n):
                    cur[j] = <uint8_t>(src[j] + cur[j - bpp])
            elif t == 2:  # Up: add the byte above
                for j in range(n):
                    cur[j] = <uint8_t>(src[j] + prev[j])
            elif t == 3:  # Average of left and above
                for j in range(bpp):
                    cur[j] = <uint8_t>(src[j] + (prev[j] >> 1))
                for j in range(bpp, n):
                    cur[j] = <uint8_t>(src[j] + ((cur[j - bpp] + prev[j]) >> 1))
            elif t == 4:  # Paeth: the one of left, above, upper left nearest to left + above - upper left
                for j in range(bpp):
                    cur[j] = <uint8_t>(src[j] + prev[j])
                if bpp == 1:  # the left byte is the last result: keep it in a register
                    a = cur[0]
                    for j in range(1, n):
                        a = <uint8_t>(src[j] + _paeth(a, prev[j], prev[j - 1]))
                        cur[j] = <uint8_t>a
                else:
                    for j in range(bpp, n):
                        cur[j] = <uint8_t>(src[j] + _paeth(cur[j - bpp], prev[j], prev[j - bpp]))
            else:
                bad = i
                break
            prev = cur
            i += 1
    return bad

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


# Gray 8-bit images (one byte per pixel, the common case) are undone 32 rows
# at a time with AVX2 where the compiler has vector extensions: lane r works on
# row r one byte behind lane r - 1, so that a pixel's upper and upper-left
# neighbours are lane r - 1's last two results (a shift of the lanes), and all
# five filter types are computed together and selected per lane. Within a row,
# Sub, Average and Paeth are chains of dependent steps; across rows they run in
# parallel. Other builds unfilter row by row (SSE2 emulates the lane shifts slowly).
cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    #if defined(__AVX2__) && (defined(__GNUC__) || defined(__clang__))
    #include <immintrin.h>
    /* Two vectors of 16 lanes (32 rows) per step: more independent work
       between one step and the next, which depends on it (measured faster). */
    #define SSIMFAST_PNG_VECTORS 2
    #define SSIMFAST_PNG_LANES (16 * SSIMFAST_PNG_VECTORS)
    typedef int16_t ssimfast_lanes __attribute__((vector_size(32)));
    /* v's lanes one up, and w's last lane into lane 0 */
    #if defined(__clang__)
    #define SSIMFAST_SHIFT_IN(v, w) __builtin_shufflevector(v, w, 31, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14)
    #else
    #define SSIMFAST_SHIFT_IN(v, w) __builtin_shuffle(v, w, (ssimfast_lanes){31, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14})
    #endif

    typedef struct {
        /* per vector: the rows' filter types as masks, and the last two results */
        ssimfast_lanes sub[SSIMFAST_PNG_VECTORS], up[SSIMFAST_PNG_VECTORS];
        ssimfast_lanes average[SSIMFAST_PNG_VECTORS], paeth[SSIMFAST_PNG_VECTORS];
        ssimfast_lanes last[SSIMFAST_PNG_VECTORS], before_last[SSIMFAST_PNG_VECTORS];
    } ssimfast_png_state;

    static inline ssimfast_lanes ssimfast_lanes_abs(ssimfast_lanes x) {
        ssimfast_lanes sign = x >> 15;
        return (x ^ sign) - sign;
    }

    /* One step: lane r of vector g undoes the filter of its byte s[g][r];
       `above` and `above_left` are the bytes over the first lane's byte. */
    static inline void ssimfast_png_step(ssimfast_png_state *st, const ssimfast_lanes *s,
                                         ssimfast_lanes *result, int16_t above,
                                         int16_t above_left) {
        ssimfast_lanes over = {0}, over_left = {0};
        int g;
        over[15] = above;
        over_left[15] = above_left;
        for (g = 0; g < SSIMFAST_PNG_VECTORS; g++) {
            ssimfast_lanes a = st->last[g];  /* left: the lane's previous byte */
            ssimfast_lanes b = SSIMFAST_SHIFT_IN(st->last[g], over);
            ssimfast_lanes c = SSIMFAST_SHIFT_IN(st->before_last[g], over_left);
            ssimfast_lanes pa = ssimfast_lanes_abs(b - c), pb = ssimfast_lanes_abs(a - c);
            ssimfast_lanes pc = ssimfast_lanes_abs(a + b - 2 * c);
            ssimfast_lanes take_a = (pa <= pb) & (pa <= pc), take_b = pb <= pc;
            ssimfast_lanes paeth = (a & take_a) | (((b & take_b) | (c & ~take_b)) & ~take_a);
            result[g] = (s[g] + ((a & st->sub[g]) | (b & st->up[g])
                                 | (((a + b) >> 1) & st->average[g]) | (paeth & st->paeth[g]))) & 255;
            over = st->last[g];
            over_left = st->before_last[g];
            st->before_last[g] = st->last[g];
            st->last[g] = result[g];
        }
    }

    /* x[i] byte j <-> x[j] byte i: four rounds of interleaving pairs, after
       which register i holds the column with i's bits reversed. */
    static inline void ssimfast_transpose16(__m128i *x) {
        static const int reversed[16] = {0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15};
        __m128i y[16];
        int i;
        for (i = 0; i < 8; i++) {
            y[i] = _mm_unpacklo_epi8(x[2 * i], x[2 * i + 1]);
            y[i + 8] = _mm_unpackhi_epi8(x[2 * i], x[2 * i + 1]);
        }
        for (i = 0; i < 8; i++) {
            x[i] = _mm_unpacklo_epi16(y[2 * i], y[2 * i + 1]);
            x[i + 8] = _mm_unpackhi_epi16(y[2 * i], y[2 * i + 1]);
        }
        for (i = 0; i < 8; i++) {
            y[i] = _mm_unpacklo_epi32(x[2 * i], x[2 * i + 1]);
            y[i + 8] = _mm_unpackhi_epi32(x[2 * i], x[2 * i + 1]);
        }
        for (i = 0; i < 8; i++) {
            x[reversed[i]] = _mm_unpacklo_epi64(y[2 * i], y[2 * i + 1]);
            x[reversed[i + 8]] = _mm_unpackhi_epi64(y[2 * i], y[2 * i + 1]);
        }
    }

    /* Rows [0, SSIMFAST_PNG_LANES) of `raw` (rows of 1 + n bytes, filter types
       0-4) into `out` (rows of n bytes); `above` is the row above the first.
       Step t: lane r does byte t - r of its row; lanes before their first byte
       compute zeros (all of their inputs are zeros). */
    static void ssimfast_png_unfilter_lanes(const uint8_t *raw, uint8_t *out,
                                            const uint8_t *above, Py_ssize_t n) {
        enum { L = SSIMFAST_PNG_LANES, G = SSIMFAST_PNG_VECTORS };
        int16_t buf[L];
        __m128i block[L];  /* 16 bytes of each row; 16 steps of each vector */
        ssimfast_lanes types[G], s[G], result[G];
        ssimfast_png_state st;
        Py_ssize_t t, r, j, k;
        int g;
        for (r = 0; r < L; r++) buf[r] = raw[r * (n + 1)];
        memcpy(types, buf, sizeof types);
        for (g = 0; g < G; g++) {
            st.sub[g] = types[g] == 1; st.up[g] = types[g] == 2;
            st.average[g] = types[g] == 3; st.paeth[g] = types[g] == 4;
            st.last[g] = st.before_last[g] = (ssimfast_lanes){0};
        }
        t = 0;
        while (t < n + L - 1) {
            if (t >= L - 1 && t + 16 <= n) {
                /* 16 steps in which every lane is inside its row: 16 bytes of
                   each row, transposed into the steps' inputs, and back. */
                for (r = 0; r < L; r++)
                    block[r] = _mm_loadu_si128((const __m128i *)(raw + r * (n + 1) + 1 + t - r));
                for (g = 0; g < G; g++) ssimfast_transpose16(block + 16 * g);
                for (k = 0; k < 16; k++) {
                    for (g = 0; g < G; g++) s[g] = (ssimfast_lanes)_mm256_cvtepu8_epi16(block[16 * g + k]);
                    ssimfast_png_step(&st, s, result, above[t + k], above[t + k - 1]);
                    for (g = 0; g < G; g++)
                        block[16 * g + k] = _mm_packus_epi16(_mm256_castsi256_si128((__m256i)result[g]),
                                                             _mm256_extracti128_si256((__m256i)result[g], 1));
                }
                for (g = 0; g < G; g++) ssimfast_transpose16(block + 16 * g);
                for (r = 0; r < L; r++)
                    _mm_storeu_si128((__m128i *)(out + r * n + t - r), block[r]);
                t += 16;
                continue;
            }
            for (r = 0; r < L; r++) {
                j = t - r;
                buf[r] = (j >= 0 && j < n) ? raw[r * (n + 1) + 1 + j] : 0;
            }
            memcpy(s, buf, sizeof s);
            ssimfast_png_step(&st, s, result, t < n ? above[t] : 0,
                              t >= 1 && t <= n ? above[t - 1] : 0);
            memcpy(buf, result, sizeof result);
            for (r = 0; r < L; r++) {
                j = t - r;
                if (j >= 0 && j < n) out[r * n + j] = (uint8_t)buf[r];
            }
            t++;
        }
    }
    #else
    #define SSIMFAST_PNG_LANES 0
    static void ssimfast_png_unfilter_lanes(const uint8_t *raw, uint8_t *out,
                                            const uint8_t *above, Py_ssize_t n) {}
    #endif
    """
    const Py_ssize_t SSIMFAST_PNG_LANES
    void ssimfast_png_unfilter_lanes(const uint8_t* raw, uint8_t* out, const uint8_t* above,
                                     Py_ssize_t n) noexcept nogil


cdef bint _known_filters(const uint8_t* raw, Py_ssize_t stride, Py_ssize_t rows) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(rows):
        if raw[i * stride] > 4:
            return False
    return True


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
            if (SSIMFAST_PNG_LANES and bpp == 1 and i + SSIMFAST_PNG_LANES <= H
                    and _known_filters(src - 1, n + 1, SSIMFAST_PNG_LANES)):
                ssimfast_png_unfilter_lanes(src - 1, cur, prev, n)
                prev = &out[i + SSIMFAST_PNG_LANES - 1, 0]
                i += SSIMFAST_PNG_LANES
                continue
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

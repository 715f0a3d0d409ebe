"""The fast 2-D paths against the plain N-D one, bit for bit.

For integer input with a uniform window the 2-D kernel adds exact integer
window sums: in int16/int32 lanes where they fit (uint8, windows up to 128
pixels), else in double, sliding them from row to row. Otherwise it computes
each input row's statistics once into a ring and filters 7- and 11-tap windows
in one expression per output, others two pairs of taps per pass. The N-D path filters
every axis in double, whole arrays at a time. All add in scipy.ndimage's order
for symmetric taps and must give the same map, bit for bit.
"""
import numpy as np
import pytest
import scipy.ndimage as ndi
from hypothesis import given, settings
from hypothesis import strategies as st

import ssimfast
import ssimfast._plan as P
import ssimfast._ssim as S


def _maps(a, b, win, gaussian, sigma):
    """(2-D kernel map, N-D path map) for one 2-D pair."""
    data_range = 1 if a.dtype == bool else 255
    setup = P.setup(a.shape, a.dtype, b.shape, b.dtype, win, data_range, None, gaussian, 1,
                    {"sigma": sigma, "use_sample_covariance": False})
    p = setup.params
    x, y = S._kernel_inputs(a, b, setup.float_type)
    fast = np.empty(a.shape)
    S._ssim_sum(x, y, p, fast, None)
    n = p.taps.shape[0]
    taps = [S._unit_taps(n)] * 2 if p.exact else [p.taps] * 2
    plain = np.empty(a.shape)
    S._ssim_nd(x, y, taps, 1.0 / (n * n) if p.exact else 1.0, [p.crop] * 2, p, plain, S._NONE[3])
    return fast, plain


@settings(max_examples=150, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 70), win=st.sampled_from([1, 3, 5, 7, 9, 11, 13]),
       dtype=st.sampled_from(["uint8", "bool", "uint16", "int16", "float32", "float64"]),
       gaussian=st.booleans(), sigma=st.sampled_from([0.5, 1.0, 1.5, 2.0]),
       strided=st.booleans(), seed=st.integers(0, 2**16))
def test_kernel_map_equals_nd_path(h, w, win, dtype, gaussian, sigma, strided, seed):
    rng = np.random.default_rng(seed)
    if min(h, w) < win:
        return
    high = {"bool": 2, "uint16": 65536, "int16": 32768}.get(dtype, 256)
    a = rng.integers(0, high, (h, 2 * w)).astype(dtype)
    b = rng.integers(0, high, (h, 2 * w)).astype(dtype)
    a, b = (a[:, ::2], b[:, 1::2]) if strided else (a[:, :w], b[:, :w])
    fast, plain = _maps(a, b, win, gaussian, sigma)
    assert np.array_equal(fast, plain)


def test_saturated_uint8_sums_are_exact_in_integer_lanes():
    """The largest window sums the integer path holds: 255 everywhere against
    255/0 stripes (11 x 11: 30855 in an int16 lane). Beyond 128 pixels the sums
    go through double: 15 x 15 has odd sums of x*x + y*y above 2**24, which
    float would round."""
    a = np.full((40, 50), 255, np.uint8)
    b = a.copy()
    b[::2] = 0
    for win in (3, 7, 11, 13, 15):
        fast, plain = _maps(a, b, win, False, 1.5)
        assert np.array_equal(fast, plain)


@pytest.mark.parametrize("taps", [("gaussian", 0.5), ("gaussian", 1.5), ("gaussian", 3.0),
                                  ("uniform", 7), ("uniform", 11)], ids=str)
def test_filters_add_in_scipy_order(taps):
    """Every filter adds in scipy.ndimage.correlate1d's order for symmetric taps
    (centre, then pairs from the outside in), so a filtered axis is bit for bit
    scipy's: the kernels' statistics are those scikit-image filters."""
    kind, arg = taps
    w = S._gaussian_taps(arg, int(3.5 * arg + 0.5)) if kind == "gaussian" else S._uniform_taps(arg)
    rng = np.random.default_rng(1)
    for shape, axis in (((40, 57), 0), ((40, 57), 1), ((5, 9, 13), 1), ((6, 3), 0)):
        a = rng.random(shape) * 255
        pre, post = int(np.prod(shape[:axis])), int(np.prod(shape[axis + 1:]))
        out = np.empty_like(a)
        S.kernels.filter_axis(a.reshape(pre, shape[axis], post),
                              out.reshape(pre, shape[axis], post), w, 1)
        assert np.array_equal(out, ndi.correlate1d(a, w, axis=axis, mode="reflect")), (shape, axis)


@pytest.mark.parametrize("dtype, gaussian, win", [("float32", True, 11), ("float64", False, 7),
                                                  ("uint8", True, 11), ("int32", False, 9)])
@pytest.mark.parametrize("w, strided", [(1600, False), (3077, True)])
def test_wide_images_go_down_in_panels_with_the_same_bits(dtype, gaussian, win, w, strided):
    """Rows wider than 1.5 panels (1536 columns) go down the ring path in column
    panels: the map must equal the N-D path's, the mean the whole-row sums of
    ssim_batch (one pair per thread, no panels), whatever the thread count."""
    rng = np.random.default_rng(w)
    a = rng.integers(0, 256, (23, 2 * w)).astype(dtype)
    b = rng.integers(0, 256, (23, 2 * w)).astype(dtype)
    a, b = (a[:, ::2], b[:, 1::2]) if strided else (a[:, :w], b[:, :w])
    fast, plain = _maps(a, b, win, gaussian, 1.5)
    assert np.array_equal(fast, plain)
    options = dict(win_size=win, gaussian_weights=gaussian, data_range=255)
    whole_rows = ssimfast.ssim_batch([a], [b], **options)[0]
    for workers in (1, 2, 3):
        assert ssimfast.structural_similarity(a, b, workers=workers, **options) == whole_rows


@pytest.mark.parametrize("w", [70, 1600, 3077])
def test_ssim_cs_2d_sums_ssim_as_ssim_2d(w):
    """MS-SSIM's kernel filters and sums as ssim_2d's ring path (panels
    included): the same SSIM sum, bit for bit, whatever the thread count; the
    contrast-structure of identical images is exactly 1 everywhere."""
    rng = np.random.default_rng(w)
    a = rng.integers(0, 256, (37, w)).astype(np.float64)
    b = a + rng.normal(0, 20, a.shape)
    taps = S._gaussian_taps(1.5, 5)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    want = S.kernels.ssim_2d(a, b, taps, taps, 5, 32, 5, 1.0, c1, c2, 1.0, S._NONE[2],
                             S._NONE[3], 1, False, S._NONE[1])
    for threads in (1, 2, 3):
        got, _ = S.kernels.ssim_cs_2d(a, b, taps, taps, 5, 5, c1, c2, 1.0, threads)
        assert got == want
    assert S.kernels.ssim_cs_2d(a, a, taps, taps, 5, 5, c1, c2, 1.0, 2)[1] == 27 * (w - 10)

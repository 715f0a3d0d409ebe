"""mask= and nan_policy=: SSIM over valid pixels, against a brute-force reference
computed window by window and a vectorised SciPy reference (for the map)."""
import math

import numpy as np
import pytest
from scipy import ndimage as ndi

import ssimfast

from helpers import assert_identical, real_image

ssim = ssimfast.structural_similarity


def pair(shape=(40, 52), seed=0):
    rng = np.random.default_rng(seed)
    a = real_image("camera")[100 : 100 + shape[0], 200 : 200 + shape[1]].astype(np.float64)
    return a, np.clip(a + rng.normal(0, 12, a.shape), 0, 255)


def holes(shape, seed=0):
    """A mask with a few rectangular holes and scattered invalid pixels."""
    rng = np.random.default_rng(seed)
    valid = rng.random(shape) > 0.05
    valid[5:14, 8:20] = False
    valid[-9:, -6:] = False
    return valid


def settings(gaussian, win_size=None):
    if gaussian:  # scikit-image's window: sigma 1.5 truncated at 3.5 sigma, normalised
        t = np.exp(-np.arange(-5, 6) ** 2 / (2 * 1.5**2))
        return t / t.sum(), 11 if win_size is None else win_size
    win = 7 if win_size is None else win_size
    return np.full(win, 1.0 / win), win


def brute_mean(x, y, valid, gaussian=False, sample=True, min_valid=0.5, data_range=255.0,
               K1=0.01, K2=0.03):
    """Window by window over the interior: tap-weighted statistics of the valid pixels."""
    taps, win = settings(gaussian)
    h, crop = len(taps) // 2, (win - 1) // 2
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    weights = np.outer(taps, taps) if x.ndim == 2 else taps
    pixels = win ** x.ndim
    values = []
    for index in np.ndindex(*(n - 2 * crop for n in x.shape)):
        centre = tuple(i + crop for i in index)
        window = tuple(slice(c - h, c + h + 1) for c in centre)
        w = weights * valid[window]
        f = w.sum()
        if f < min_valid:
            continue
        xs, ys = np.where(valid[window], x[window], 0), np.where(valid[window], y[window], 0)
        ux, uy = (w * xs).sum() / f, (w * ys).sum() / f
        n = f * pixels
        if sample and n <= 1:
            continue
        cov = n / (n - 1) if sample else 1.0
        vx = cov * ((w * xs * xs).sum() / f - ux * ux)
        vy = cov * ((w * ys * ys).sum() / f - uy * uy)
        vxy = cov * ((w * xs * ys).sum() / f - ux * uy)
        values.append((2 * ux * uy + c1) * (2 * vxy + c2) / ((ux * ux + uy * uy + c1) * (vx + vy + c2)))
    return np.mean(values) if values else math.nan


def scipy_map(x, y, valid, gaussian=False, sample=True, min_valid=0.5, data_range=255.0):
    """The whole map by normalised convolution with scipy.ndimage (reflect borders)."""
    taps, win = settings(gaussian)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2

    def filt(a):
        for axis in range(a.ndim):
            a = ndi.correlate1d(a, taps, axis=axis, mode="reflect")
        return a

    m = valid.astype(np.float64)
    xs, ys = np.where(valid, x, 0.0), np.where(valid, y, 0.0)
    f = filt(m)
    with np.errstate(divide="ignore", invalid="ignore"):
        ux, uy = filt(xs) / f, filt(ys) / f
        n = f * win ** x.ndim
        cov = n / (n - 1) if sample else np.ones_like(f)
        vsum = cov * ((filt(xs * xs) + filt(ys * ys)) / f - (ux * ux + uy * uy))
        vxy = cov * (filt(xs * ys) / f - ux * uy)
        s = (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux * ux + uy * uy + c1) * (vsum + c2))
    bad = (f < min_valid) | (sample & (n <= 1)) if sample else f < min_valid
    return np.where(bad, np.nan, s)


@pytest.mark.parametrize("gaussian", [False, True])
@pytest.mark.parametrize("sample", [True, False])
@pytest.mark.parametrize("min_valid", [0.5, 0.9, 0.05])
def test_mean_equals_brute_force(gaussian, sample, min_valid):
    x, y = pair()
    valid = holes(x.shape)
    got = ssim(x, y, data_range=255, mask=valid, gaussian_weights=gaussian,
               use_sample_covariance=sample, min_valid=min_valid)
    want = brute_mean(x, y, valid, gaussian, sample, min_valid)
    assert abs(got - want) < 1e-12, (got, want)


@pytest.mark.parametrize("gaussian", [False, True])
def test_map_equals_normalised_convolution(gaussian):
    x, y = pair((33, 47), seed=2)
    valid = holes(x.shape, seed=3)
    _, smap = ssim(x, y, data_range=255, mask=valid, gaussian_weights=gaussian, full=True)
    want = scipy_map(x, y, valid, gaussian)
    np.testing.assert_array_equal(np.isnan(smap), np.isnan(want))
    np.testing.assert_allclose(smap[~np.isnan(want)], want[~np.isnan(want)], atol=1e-12)
    assert np.isnan(smap).any()


def test_all_true_mask_is_the_unmasked_result():
    x, y = pair()
    for options in ({}, {"gaussian_weights": True}, {"full": True}):
        want = ssim(x, y, data_range=255, **options)
        got = ssim(x, y, data_range=255, mask=np.ones(x.shape, bool), **options)
        assert_identical(got, want)
    # Nearly all True goes through the masked kernel: it agrees to rounding.
    valid = np.ones(x.shape, bool)
    valid[0, 0] = False  # a corner pixel, in no interior window's centre
    assert abs(ssim(x, y, data_range=255, mask=valid) - brute_mean(x, y, valid)) < 1e-12


def test_nan_policies():
    x, y = pair()
    holes_ = ~holes(x.shape, seed=4)
    xn = np.where(holes_, np.nan, x)
    assert math.isnan(ssim(xn, y, data_range=255))  # propagate, as scikit-image
    got = ssim(xn, y, data_range=255, nan_policy="omit")
    assert abs(got - brute_mean(x, y, ~holes_)) < 1e-12
    yn = np.where(holes_, np.nan, y)
    assert abs(ssim(x, yn, data_range=255, nan_policy="omit") - got) < 1e-12
    with pytest.raises(ValueError, match=r"im1 holds \d+ NaN values \(the first at"):
        ssim(xn, y, data_range=255, nan_policy="raise")
    assert ssim(x, y, data_range=255, nan_policy="raise") == ssim(x, y, data_range=255)
    assert ssim(x, y, data_range=255, nan_policy="omit") == ssim(x, y, data_range=255)
    # A NaN inside the valid pixels of a mask still propagates by default.
    valid = holes(x.shape)
    xv = x.copy()
    xv[np.argwhere(valid)[len(np.argwhere(valid)) // 2][0], :] = np.nan
    assert math.isnan(ssim(xv, y, data_range=255, mask=valid))


def test_one_dimensional_and_colour():
    x, y = pair()
    valid = holes(x.shape)
    got = ssim(x[7], y[7], data_range=255, mask=valid[7])
    assert abs(got - brute_mean(x[7], y[7], valid[7])) < 1e-12
    rgb1, rgb2 = np.dstack([x, x[::-1], x[:, ::-1]]), np.dstack([y, y[::-1], y[:, ::-1]])
    per_channel = [brute_mean(rgb1[..., c], rgb2[..., c], valid) for c in range(3)]
    got = ssim(rgb1, rgb2, data_range=255, channel_axis=-1, mask=valid)  # one mask for all
    assert abs(got - np.mean(per_channel)) < 1e-12
    full_mask = np.dstack([valid] * 3)
    assert ssim(rgb1, rgb2, data_range=255, channel_axis=-1, mask=full_mask) == got


def test_integer_inputs_threads_and_layouts():
    x, y = pair((64, 70))
    a, b = x.astype(np.uint8), y.astype(np.uint8)
    valid = holes(a.shape)
    want = ssim(a.astype(np.float64), b.astype(np.float64), data_range=255, mask=valid)
    assert abs(ssim(a, b, mask=valid) - want) < 1e-12
    one = ssim(a, b, mask=valid, workers=1, full=True)
    two = ssim(a, b, mask=valid, workers=2, full=True)
    assert one[0] == two[0] and np.array_equal(one[1], two[1], equal_nan=True)
    fortran = ssim(np.asfortranarray(a), np.asfortranarray(b), mask=np.asfortranarray(valid))
    assert fortran == one[0]
    strided = ssim(a[::2, ::-1], b[::2, ::-1], mask=valid[::2, ::-1])
    assert abs(strided - ssim(a[::2, ::-1].copy(), b[::2, ::-1].copy(),
                              mask=valid[::2, ::-1].copy())) == 0


def test_errors():
    x, y = pair()
    with pytest.raises(ValueError, match="mask selects no pixel"):
        ssim(x, y, data_range=255, mask=np.zeros(x.shape, bool))
    sparse = np.zeros(x.shape, bool)
    sparse[::5, ::5] = True
    with pytest.raises(ValueError, match="no window has at least min_valid=0.5"):
        ssim(x, y, data_range=255, mask=sparse)
    assert ssim(x, y, data_range=255, mask=sparse, min_valid=0.03) == pytest.approx(
        brute_mean(x, y, sparse, min_valid=0.03), abs=1e-12)
    with pytest.raises(TypeError, match="mask must be a boolean array"):
        ssim(x, y, data_range=255, mask=np.ones(x.shape, int))
    with pytest.raises(ValueError, match=r"mask has shape \(3, 3\)"):
        ssim(x, y, data_range=255, mask=np.ones((3, 3), bool))
    with pytest.raises(ValueError, match="1-D and 2-D images"):
        v = np.stack([x] * 9)
        ssim(v, v, data_range=255, mask=np.ones(v.shape, bool) & (np.arange(52) > 2))
    with pytest.raises(ValueError, match="gradient=True is not available"):
        ssim(x, y, data_range=255, mask=holes(x.shape), gradient=True)
    with pytest.raises(ValueError, match="nan_policy must be one of"):
        ssim(x, y, data_range=255, nan_policy="ignore")
    for bad in (0, 1.5, -0.1):
        with pytest.raises(ValueError, match=r"min_valid must be in \(0, 1\]"):
            ssim(x, y, data_range=255, min_valid=bad)
    with pytest.raises(TypeError, match="min_valid must be a number"):
        ssim(x, y, data_range=255, min_valid="0.5")


@pytest.mark.parametrize("gaussian", [False, True])
def test_large_image_in_bands_and_strips(gaussian):
    """Wider than a strip (512 columns) and taller than a band (64 rows): the
    kernel's tiles join without seams, and the mean does not depend on threads."""
    rng = np.random.default_rng(7)
    x = rng.normal(100, 30, (150, 1100))
    y = x + rng.normal(0, 10, x.shape)
    valid = rng.random(x.shape) > 0.1
    valid[40:90, 480:560] = False
    mean, smap = ssim(x, y, data_range=255, mask=valid, gaussian_weights=gaussian, full=True)
    want = scipy_map(x, y, valid, gaussian)
    np.testing.assert_array_equal(np.isnan(smap), np.isnan(want))
    np.testing.assert_allclose(smap[~np.isnan(want)], want[~np.isnan(want)], atol=1e-12)
    crop = 5 if gaussian else 3
    inner = want[crop:-crop, crop:-crop]
    assert abs(mean - np.nanmean(inner)) < 1e-12
    assert ssim(x, y, data_range=255, mask=valid, gaussian_weights=gaussian, workers=1) == \
        ssim(x, y, data_range=255, mask=valid, gaussian_weights=gaussian, workers=2) == mean


def test_masks_are_for_the_skimage_preset():
    x, y = pair()
    with pytest.raises(ValueError, match="work with preset='skimage' only, not preset='matlab'"):
        ssim(x, y, data_range=255, mask=holes(x.shape), preset="matlab")
    assert ssim(x, y, data_range=255, mask=holes(x.shape), preset="skimage") == ssim(
        x, y, data_range=255, mask=holes(x.shape))


@pytest.mark.parametrize("gaussian", [False, True])
def test_large_values_many_bands(gaussian):
    """Values up to 65535 (not integers) over many bands and strips: the map stays
    within rounding of normalised convolution everywhere, and the mean within
    1e-12 (a window sum that drifted from band to band, or a loss of precision
    in the formula, fails). At this scale the variances lose about 4 digits to
    cancellation in any float64 computation: scipy's map and ssimfast's are
    each about 1e-12 from a long double one, hence 3e-12 between them."""
    rng = np.random.default_rng(11)
    x = rng.uniform(0, 65535, (330, 1100))
    x[:, 600:] = 50000 + rng.normal(0, 300, (330, 500))  # large values, smaller variance
    y = np.clip(x + rng.normal(0, 50, x.shape), 0, 65535)
    valid = rng.random(x.shape) > 0.05
    valid[100:180, 300:700] = False
    mean, smap = ssim(x, y, data_range=65535, mask=valid, gaussian_weights=gaussian, full=True)
    want = scipy_map(x, y, valid, gaussian, data_range=65535.0)
    np.testing.assert_array_equal(np.isnan(smap), np.isnan(want))
    np.testing.assert_allclose(smap[~np.isnan(want)], want[~np.isnan(want)], rtol=0, atol=3e-12)
    crop = 5 if gaussian else 3
    assert abs(mean - np.nanmean(want[crop:-crop, crop:-crop])) < 1e-12
    assert ssim(x, y, data_range=65535, mask=valid, gaussian_weights=gaussian) == mean


def test_omit_with_a_mask_and_layouts():
    """nan_policy='omit' with a mask: both kinds of invalid pixels are left out,
    whatever the layout of the images and the mask, and with any thread count."""
    x, y = pair((70, 90), seed=5)
    valid = holes(x.shape, seed=6)
    nans = np.random.default_rng(8).random(x.shape) < 0.03
    xn, yn = np.where(nans, np.nan, x), np.where(nans[::-1], np.nan, y)
    both = valid & ~nans & ~nans[::-1]
    want = brute_mean(x, y, both)
    got = ssim(xn, yn, data_range=255, mask=valid, nan_policy="omit")
    assert abs(got - want) < 1e-12
    assert ssim(np.asfortranarray(xn), yn, data_range=255, mask=np.asfortranarray(valid),
                nan_policy="omit") == got
    assert ssim(xn, yn, data_range=255, mask=valid, nan_policy="omit", workers=1) == got
    strided = ssim(xn[::2, ::-1], yn[::2, ::-1], data_range=255, mask=valid[::2, ::-1],
                   nan_policy="omit")
    assert abs(strided - brute_mean(x[::2, ::-1], y[::2, ::-1], both[::2, ::-1])) < 1e-12
    # An all-True mask with NaN pixels: the NaN pixels alone are left out.
    all_true = np.ones(x.shape, bool)
    assert abs(ssim(xn, yn, data_range=255, mask=all_true, nan_policy="omit")
               - brute_mean(x, y, ~nans & ~nans[::-1])) < 1e-12
    # float32 images, NaN in one only; and identical images give exactly 1.
    x32 = xn.astype(np.float32)
    assert abs(ssim(x32, y.astype(np.float32), data_range=255, nan_policy="omit")
               - brute_mean(x.astype(np.float32).astype(np.float64),
                            y.astype(np.float32).astype(np.float64), ~nans)) < 1e-6
    assert ssim(xn, xn, data_range=255, mask=valid, nan_policy="omit") == 1.0


def test_uniform_window_counts_are_exact():
    """With a uniform window the valid pixels are counted exactly: min_valid=1
    keeps exactly the windows without an invalid pixel (with normalised taps,
    f of a full window rounds below 1), and a tie count == min_valid * pixels
    counts."""
    x, y = pair((40, 52), seed=9)
    valid = np.ones(x.shape, bool)
    valid[20, 20] = valid[5, 40] = False
    _, smap = ssim(x, y, data_range=255, mask=valid, min_valid=1.0, full=True)
    full = ndi.uniform_filter(valid.astype(np.float64), 7, mode="reflect") > 1 - 1e-9
    np.testing.assert_array_equal(~np.isnan(smap), full)
    inner = smap[3:-3, 3:-3]
    assert abs(np.nanmean(inner) - ssim(x, y, data_range=255, mask=valid, min_valid=1.0)) < 1e-15
    # 5 x 5 window, min_valid=0.2: windows of exactly 5 valid pixels count.
    sparse = np.random.default_rng(10).random(x.shape) < 0.2
    _, smap = ssim(x, y, data_range=255, mask=sparse, win_size=5, min_valid=0.2, full=True)
    counts = np.rint(ndi.uniform_filter(sparse.astype(np.float64), 5, mode="reflect") * 25)
    np.testing.assert_array_equal(~np.isnan(smap), counts >= 5)
    assert (counts == 5).any() and (counts < 5).any()

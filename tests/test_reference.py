"""Differential tests of ssimfast against scikit-image 0.26 on real images.

Covers: every dtype (native and converted, including wide-range integers that
would overflow naive integer accumulators), every option (uniform windows
3/7/11/15, Gaussian windows with sigma 0.5/1.5/2.5 and with an explicit
win_size, sample vs population covariance, K1/K2, explicit data_range), the
full map and the gradient, channel axes of either sign, 1-D to 5-D inputs,
tiny 5x5 images, full-size images, the known values from skimage's own tests
(IPOL, skimage 0.17), identical images giving exactly 1.0, return types, and
inputs skimage would not take directly (lists, PIL images).
"""

import warnings

import numpy as np
import pytest
import skimage
from PIL import Image

import ssimfast
from ssimfast import ssim, structural_similarity

from helpers import (
    ALL_DTYPES,
    add_noise,
    DTYPE_VARIANTS,
    assert_matches,
    check_against_reference,
    convert,
    crop_center,
    describe,
    real_image,
    run_both,
    ski_ssim,
)

def noisy(img, seed=3):
    """The seeded noisy version of ``img`` used as im2 throughout this module."""
    return add_noise(img, 25.0, seed)


OUTPUTS = [
    pytest.param(dict(), id="mean"),
    pytest.param(dict(full=True), id="full"),
    pytest.param(dict(gradient=True), id="grad"),
    pytest.param(dict(gradient=True, full=True), id="grad+full"),
]


def test_reference_is_pinned():
    assert skimage.__version__.startswith("0.26."), skimage.__version__


def test_public_names():
    assert ssim is structural_similarity
    assert ssimfast.ssim is ssimfast.structural_similarity
    assert isinstance(ssimfast.__version__, str) and ssimfast.__version__
    assert callable(ssimfast.show_config)


# --------------------------------------------------------------------------
# Real images x distortions (256x256 grayscale crops, 128x160 colour crops)
# --------------------------------------------------------------------------
REAL_OPTIONS = [
    pytest.param(dict(), id="default"),
    pytest.param(dict(gaussian_weights=True, full=True, gradient=True), id="gauss-full-grad"),
    pytest.param(dict(win_size=11, use_sample_covariance=False, full=True), id="win11-pop-full"),
]


@pytest.mark.parametrize("options", REAL_OPTIONS)
def test_gray_images_distorted(gray_crop, distortion, options):
    check_against_reference(structural_similarity, gray_crop, distortion(gray_crop), **options)


@pytest.mark.parametrize("options", REAL_OPTIONS)
def test_color_images_distorted(color_crop, distortion, options):
    check_against_reference(structural_similarity, color_crop, distortion(color_crop),
                            channel_axis=-1, **options)


# --------------------------------------------------------------------------
# dtypes x outputs x images x distortions
# --------------------------------------------------------------------------
@pytest.mark.parametrize("variant", list(DTYPE_VARIANTS))
@pytest.mark.parametrize("outputs", OUTPUTS)
@pytest.mark.parametrize("image", ["camera", "brick", "text"])
def test_dtypes_and_outputs(image, variant, outputs, distortion):
    ref_u8 = crop_center(real_image(image), 128, 160)
    dist_u8 = distortion(ref_u8)
    a, data_range = convert(ref_u8, variant)
    b, _ = convert(dist_u8, variant)
    check_against_reference(structural_similarity, a, b, data_range=data_range, **outputs)


@pytest.mark.parametrize("variant", list(DTYPE_VARIANTS))
def test_dtypes_gaussian_full_gradient(variant):
    ref_u8 = crop_center(real_image("grass"), 128, 128)
    a, data_range = convert(ref_u8, variant)
    b, _ = convert(noisy(ref_u8), variant)
    check_against_reference(structural_similarity, a, b, data_range=data_range,
                            gaussian_weights=True, gradient=True, full=True)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int8", "int16", "int32",
                                   "int64", "uint32", "uint64", "bool"])
def test_inferred_data_range(dtype):
    """data_range=None is inferred from im1's dtype, exactly as skimage does."""
    a_u8 = crop_center(real_image("moon"), 64, 80)
    b_u8 = noisy(a_u8)
    if dtype == "bool":
        a, b = a_u8 > 110, b_u8 > 110
    else:
        a, b = a_u8.astype(dtype), b_u8.astype(dtype)
    for outputs in (dict(), dict(full=True, gradient=True)):
        check_against_reference(structural_similarity, a, b, **outputs)


@pytest.mark.parametrize(
    "dt1, dt2",
    [("uint8", "float32"), ("uint8", "float64"), ("float32", "float64"),
     ("float64", "float32"), ("uint16", "uint8"), ("float16", "float64"),
     ("int32", "float32"), ("uint8", "bool")],
    ids=lambda d: d,
)
def test_mixed_dtypes_with_data_range(dt1, dt2):
    """Mixed dtypes: skimage computes in im1's float type; ssimfast must too."""
    a_u8 = crop_center(real_image("camera"), 96, 96)
    b_u8 = noisy(a_u8)

    def conv(x, dt):
        if dt == "bool":
            return x > 127
        return x.astype(dt) / 255 if dt.startswith("float") else x.astype(dt)

    a, b = conv(a_u8, dt1), conv(b_u8, dt2)
    data_range = 1.0 if dt1.startswith("float") else 255
    check_against_reference(structural_similarity, a, b, data_range=data_range,
                            full=True, gradient=True)


# --------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------
OPTIONS = [
    pytest.param(dict(win_size=3), id="win3"),
    pytest.param(dict(win_size=7), id="win7"),
    pytest.param(dict(win_size=11), id="win11"),
    pytest.param(dict(win_size=15), id="win15"),
    pytest.param(dict(win_size=1, use_sample_covariance=False), id="win1-pop"),
    pytest.param(dict(gaussian_weights=True, sigma=0.5), id="gauss-s0.5"),
    pytest.param(dict(gaussian_weights=True, sigma=1.5), id="gauss-s1.5"),
    pytest.param(dict(gaussian_weights=True, sigma=2.5), id="gauss-s2.5"),
    pytest.param(dict(gaussian_weights=True), id="gauss-default"),
    pytest.param(dict(gaussian_weights=True, win_size=7), id="gauss-s1.5-win7"),
    pytest.param(dict(gaussian_weights=True, win_size=3, sigma=2.5), id="gauss-s2.5-win3"),
    pytest.param(dict(gaussian_weights=True, win_size=15, sigma=0.5), id="gauss-s0.5-win15"),
    pytest.param(dict(gaussian_weights=True, win_size=11, sigma=1.5), id="gauss-s1.5-win11"),
    pytest.param(dict(use_sample_covariance=False), id="popcov"),
    pytest.param(dict(gaussian_weights=True, use_sample_covariance=False), id="gauss-popcov"),
    pytest.param(dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                      data_range=255), id="wang2004"),
    pytest.param(dict(K1=0.02, K2=0.05), id="K1-0.02-K2-0.05"),
    pytest.param(dict(K1=0.1, K2=0.2, win_size=5), id="K1-0.1-K2-0.2-win5"),
    pytest.param(dict(K1=0.0, K2=0.03), id="K1-0"),
    pytest.param(dict(data_range=200), id="dr200"),
    pytest.param(dict(data_range=1000.5), id="dr1000.5"),
]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("dtype", ["uint8", "float32", "float64"])
def test_options(options, dtype, distortion):
    a_u8 = crop_center(real_image("camera"), 128, 128)
    b_u8 = distortion(a_u8)
    options = dict(options)
    if dtype == "uint8":
        a, b = a_u8, b_u8
    else:
        a, b = a_u8.astype(dtype), b_u8.astype(dtype)
        options.setdefault("data_range", 255)
    check_against_reference(structural_similarity, a, b, gradient=True, full=True, **options)


@pytest.mark.parametrize("options", [
    pytest.param(dict(K1=1e-3, K2=3e-3), id="small-K"),
    pytest.param(dict(K1=0.0, K2=0.0), id="zero-K-textured"),
])
def test_small_constants_float64(options):
    """Small stabilising constants amplify differences; textured image, float64."""
    a = crop_center(real_image("brick"), 96, 96).astype(np.float64)  # min 63: no zero windows
    b = noisy(crop_center(real_image("brick"), 96, 96)).astype(np.float64) + 1.0
    check_against_reference(structural_similarity, a, b, data_range=255, full=True,
                            gradient=True, **options)


NUMPY_SCALAR_OPTIONS = [
    pytest.param(dict(win_size=np.int64(9)), id="win_size-int64"),
    pytest.param(dict(win_size=np.uint8(5)), id="win_size-uint8"),
    pytest.param(dict(data_range=np.float64(255)), id="data_range-float64"),
    pytest.param(dict(data_range=np.float32(255)), id="data_range-float32"),
    pytest.param(dict(data_range=np.uint8(255)), id="data_range-uint8"),
    pytest.param(dict(K1=np.float64(0.02), K2=np.float64(0.04)), id="K-float64"),
    pytest.param(dict(K1=np.float32(0.02), K2=np.float32(0.04)), id="K-float32"),
    pytest.param(dict(gaussian_weights=True, sigma=np.float64(1.2)), id="sigma-float64"),
    pytest.param(dict(channel_axis=np.int64(-1)), id="channel_axis-int64"),
]


@pytest.mark.parametrize("options", NUMPY_SCALAR_OPTIONS)
@pytest.mark.parametrize("dtype", ["uint8", "float16", "float32", "float64"])
def test_numpy_scalar_parameters(options, dtype):
    """NumPy scalars work as parameters and give skimage's values for the same call.

    Under NumPy 2 promotion rules (NEP 50) skimage returns float64 maps for
    float32 input when win_size or data_range is a NumPy integer/float64 scalar
    (``NP / (NP - 1)`` becomes an np.float64), an accident of its arithmetic;
    the contract's dtype rule (float32 results for float16/float32 input) holds
    for ssimfast regardless, so the reference arrays are compared after casting
    to the contract dtype.  (A np.float32 data_range makes skimage round C1 and
    C2 to float32; values are compared for the same call, so that shows too.)
    """
    a_u8 = crop_center(real_image("coffee"), 48, 56)
    b_u8 = noisy(a_u8, seed=5)
    if "channel_axis" not in options:
        a_u8, b_u8 = a_u8[..., 2].copy(), b_u8[..., 2].copy()
    a = a_u8.astype(dtype)
    b = b_u8.astype(dtype)
    options = dict(options)
    options.setdefault("data_range", 255)
    out = np.dtype(np.float32 if dtype in ("float16", "float32") else np.float64)
    fast = structural_similarity(a, b, full=True, gradient=True, **options)
    m, g, S = ski_ssim(a, b, full=True, gradient=True, **options)
    ref = (m, g.astype(out), S.astype(out))
    assert_matches(fast, ref, im1_dtype=a.dtype, full=True, gradient=True,
                   where=describe(a, b, **options))
    assert fast[1].dtype == out and fast[2].dtype == out


# --------------------------------------------------------------------------
# Channels
# --------------------------------------------------------------------------
@pytest.mark.parametrize("channel_axis", [0, 1, 2, -1, -2, -3])
@pytest.mark.parametrize("variant", ["uint8", "uint16_wide", "float32", "float64", "float16"])
@pytest.mark.parametrize("outputs", OUTPUTS)
def test_channel_axis(color_crop, channel_axis, variant, outputs):
    a_u8 = color_crop
    b_u8 = noisy(a_u8, seed=11)
    a, data_range = convert(a_u8, variant)
    b, _ = convert(b_u8, variant)
    a, b = (np.moveaxis(x, -1, channel_axis) for x in (a, b))
    check_against_reference(structural_similarity, a, b, data_range=data_range,
                            channel_axis=channel_axis, **outputs)


@pytest.mark.parametrize("channel_axis", [0, 1, 2, -1])
def test_channel_axis_replicated_equals_single_channel(channel_axis):
    """skimage's test: three copies of one channel score like the channel itself."""
    rng = np.random.default_rng(1234)
    X = (rng.random((100, 100)) * 255).astype(np.uint8)
    Y = (rng.random((100, 100)) * 255).astype(np.uint8)
    s1 = structural_similarity(X, Y, win_size=3)
    Xc, Yc = (np.moveaxis(np.tile(z[..., None], (1, 1, 3)), -1, channel_axis) for z in (X, Y))
    s2 = structural_similarity(Xc, Yc, channel_axis=channel_axis, win_size=3)
    np.testing.assert_allclose(s2, s1, rtol=0, atol=1e-12)
    m, grad, S = structural_similarity(Xc, Yc, channel_axis=channel_axis, full=True,
                                       gradient=True)
    assert grad.shape == Xc.shape and S.shape == Xc.shape
    check_against_reference(structural_similarity, Xc, Yc, channel_axis=channel_axis,
                            full=True, gradient=True)


def test_channel_mean_is_mean_of_channels():
    Xc = real_image("chelsea")
    Yc = noisy(Xc, seed=15)
    m = structural_similarity(Xc, Yc, channel_axis=-1)
    per = [structural_similarity(Xc[..., c], Yc[..., c]) for c in range(3)]
    np.testing.assert_allclose(m, np.mean(per), rtol=0, atol=1e-12)


def test_multichannel_legacy_equals_channel_axis_last():
    a = crop_center(real_image("coffee"), 64, 96)
    b = noisy(a, seed=4)
    with pytest.warns(FutureWarning, match="channel_axis"):
        legacy = structural_similarity(a, b, multichannel=True, full=True)
    assert_matches(legacy, ski_ssim(a, b, channel_axis=-1, full=True), im1_dtype=a.dtype,
                   full=True, where="multichannel=True")


# --------------------------------------------------------------------------
# Dimensions
# --------------------------------------------------------------------------
def _volume(shape, seed):
    """A smooth-ish uint8 volume built from the camera image (real texture)."""
    cam = real_image("camera")
    n = int(np.prod(shape))
    flat = cam.ravel()
    start = (seed * 7919) % (flat.size - n)
    return np.ascontiguousarray(flat[start:start + n].reshape(shape))


ND_CASES = [
    pytest.param((512,), dict(), id="1d-row-win7"),
    pytest.param((512,), dict(win_size=3), id="1d-row-win3"),
    pytest.param((512,), dict(gaussian_weights=True), id="1d-row-gauss"),
    pytest.param((9,), dict(win_size=9), id="1d-win-equals-length"),
    pytest.param((64, 48), dict(win_size=5), id="2d"),
    pytest.param((8, 64, 64), dict(), id="3d-stacked-crops"),
    pytest.param((8, 64, 64), dict(gaussian_weights=True, sigma=0.8), id="3d-gauss"),
    pytest.param((12, 20, 16), dict(win_size=3, use_sample_covariance=False), id="3d-popcov"),
    pytest.param((5, 6, 20, 20), dict(win_size=5), id="4d"),
    pytest.param((7, 8, 9, 10), dict(), id="4d-win7"),
    pytest.param((5, 6, 12, 11), dict(gaussian_weights=True, sigma=0.5), id="4d-gauss"),
    pytest.param((5, 5, 6, 7, 8), dict(win_size=3), id="5d"),
    pytest.param((5, 5, 6, 7, 8), dict(win_size=5, gaussian_weights=True), id="5d-gauss"),
]


@pytest.mark.parametrize("shape, options", ND_CASES)
@pytest.mark.parametrize("variant", ["uint8", "float32", "float64", "int16"])
def test_ndim(shape, options, variant):
    if len(shape) == 1:
        a_u8 = np.ascontiguousarray(real_image("camera")[200, :shape[0]])
    elif len(shape) == 3 and shape[1:] == (64, 64):
        cam = real_image("camera")
        a_u8 = np.stack([cam[32 * i:32 * i + 64, 40 * i:40 * i + 64] for i in range(shape[0])])
    else:
        a_u8 = _volume(shape, 1)
    b_u8 = noisy(a_u8, seed=len(shape))
    a, data_range = convert(a_u8, variant)
    b, _ = convert(b_u8, variant)
    check_against_reference(structural_similarity, a, b, data_range=data_range,
                            gradient=True, full=True, **options)


@pytest.mark.parametrize("shape, channel_axis", [
    ((8, 32, 32, 3), -1), ((3, 8, 32, 32), 0), ((8, 3, 32, 32), 1), ((8, 32, 3, 32), -2),
    ((2, 6, 7, 8, 5), 0), ((20, 2), -1), ((2, 30), 0),
])
def test_ndim_with_channels(shape, channel_axis):
    a = _volume(shape, 2)
    b = noisy(a, seed=9)
    win = 7 if min(s for i, s in enumerate(shape) if i != channel_axis % len(shape)) >= 7 else 3
    check_against_reference(structural_similarity, a, b, channel_axis=channel_axis,
                            win_size=win, gradient=True, full=True)


# --------------------------------------------------------------------------
# Small images (skimage's small-image test) and windows as big as the image
# --------------------------------------------------------------------------
@pytest.mark.parametrize("win_size", [3, 5])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_small_image_zeros(win_size, dtype):
    X = np.zeros((5, 5), dtype=dtype)
    assert structural_similarity(X, X, win_size=win_size, data_range=1.0) == 1.0


@pytest.mark.parametrize("win_size", [3, 5])
@pytest.mark.parametrize("gaussian", [False, True], ids=["uniform", "gauss"])
@pytest.mark.parametrize("variant", ["uint8", "float32", "float64", "int32"])
def test_small_image_5x5(win_size, gaussian, variant):
    rng = np.random.default_rng(win_size)
    a_u8 = rng.integers(0, 256, (5, 5), dtype=np.uint8)
    b_u8 = rng.integers(0, 256, (5, 5), dtype=np.uint8)
    a, dr = convert(a_u8, variant)
    b, _ = convert(b_u8, variant)
    check_against_reference(structural_similarity, a, b, win_size=win_size, data_range=dr,
                            gaussian_weights=gaussian, gradient=True, full=True)


def test_patch_range_window_equals_image():
    """skimage's patch-range test: a 51x51 window on a 51x51 image."""
    rng = np.random.default_rng(51)
    X = (rng.random((51, 51)) * 255).astype(np.uint8)
    Y = (rng.random((51, 51)) * 255).astype(np.uint8)
    fast = structural_similarity(X, Y, win_size=51)
    assert fast < 0.1
    assert structural_similarity(X, X, win_size=51) == 1.0
    check_against_reference(structural_similarity, X, Y, win_size=51, full=True, gradient=True)


def test_gaussian_filter_wider_than_image():
    """sigma=2.5 gives an 19-tap filter; with win_size=3 the image may be 4 px wide."""
    rng = np.random.default_rng(4)
    a = rng.random((4, 6))
    b = rng.random((4, 6))
    check_against_reference(structural_similarity, a, b, win_size=3, gaussian_weights=True,
                            sigma=2.5, data_range=1.0, full=True, gradient=True)


# --------------------------------------------------------------------------
# Full-size images
# --------------------------------------------------------------------------
@pytest.mark.parametrize("options", [
    pytest.param(dict(), id="default"),
    pytest.param(dict(gaussian_weights=True, full=True, gradient=True), id="gauss-full-grad"),
])
def test_full_size(full_image, options):
    """Every skimage.data image at full size (colour ones with channel_axis=-1)."""
    a = full_image
    b = noisy(a, seed=21)
    if a.ndim == 3:
        options = dict(options, channel_axis=-1)
    check_against_reference(structural_similarity, a, b, **options)


def test_full_size_float32_astronaut():
    a = real_image("astronaut").astype(np.float32) / 255
    b = noisy(real_image("astronaut"), seed=2).astype(np.float32) / 255
    check_against_reference(structural_similarity, a, b, channel_axis=-1, data_range=1.0,
                            full=True)


# --------------------------------------------------------------------------
# Known values from skimage's own test file
# --------------------------------------------------------------------------
def test_gaussian_vs_IPOL(camera, camera_noisy):
    mssim_IPOL = 0.357959091663361
    m = structural_similarity(camera, camera_noisy, gaussian_weights=True,
                              use_sample_covariance=False)
    np.testing.assert_almost_equal(m, mssim_IPOL, decimal=3)


@pytest.mark.parametrize("dtype", ["uint8", "int32", "float16", "float32", "float64"])
def test_mssim_vs_skimage_0_17(camera, camera_noisy, dtype):
    mssim_skimage_0pt17 = 0.3674518327910367
    m = structural_similarity(camera.astype(dtype), camera_noisy.astype(dtype), data_range=255)
    if dtype in ("float16", "float32"):
        np.testing.assert_allclose(m, mssim_skimage_0pt17, rtol=0, atol=2e-5)
    else:
        np.testing.assert_almost_equal(m, mssim_skimage_0pt17, decimal=7)


def test_mssim_default_inferred_uint8(camera, camera_noisy):
    m = structural_similarity(camera, camera_noisy)
    np.testing.assert_almost_equal(m, 0.3674518327910367, decimal=7)
    assert type(m) is np.float64


# --------------------------------------------------------------------------
# Identical images
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("channel_axis", [None, -1, 0])
@pytest.mark.parametrize("outputs", OUTPUTS)
def test_identical_images_exactly_one(dtype, channel_axis, outputs):
    a_u8 = crop_center(real_image("astronaut"), 48, 64)
    if channel_axis is None:
        a_u8 = a_u8[..., 1].copy()
    elif channel_axis == 0:
        a_u8 = np.ascontiguousarray(np.moveaxis(a_u8, -1, 0))
    a, dr = convert(a_u8, dtype)
    b = a.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = structural_similarity(a, b, data_range=dr, channel_axis=channel_axis, **outputs)
    m = res[0] if isinstance(res, tuple) else res
    assert m == 1.0, f"ssim(a, a) = {m!r} != 1.0; {describe(a, **outputs)}"
    # and the same object passed twice
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m2 = structural_similarity(a, a, data_range=dr, channel_axis=channel_axis)
    assert m2 == 1.0, f"ssim(a, a) (same object) = {m2!r}"


@pytest.mark.parametrize("options", [
    dict(), dict(gaussian_weights=True), dict(win_size=3), dict(use_sample_covariance=False),
    dict(gaussian_weights=True, sigma=2.5, win_size=5), dict(K1=0.05, K2=0.07),
])
def test_identical_real_images_exactly_one(full_image, options):
    ch = -1 if full_image.ndim == 3 else None
    assert structural_similarity(full_image, full_image.copy(), channel_axis=ch, **options) == 1.0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_non_finite_input_gives_nan_mean(bad, dtype):
    """NaN/inf pixels make the mean NaN, as in skimage (the map's NaN pattern
    depends on the filter's running sums and is not compared)."""
    a = crop_center(real_image("moon"), 40, 40).astype(dtype) / 255
    b = noisy(crop_center(real_image("moon"), 40, 40)).astype(dtype) / 255
    a[17, 23] = bad
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = ski_ssim(a, b, data_range=1.0)
        got = structural_similarity(a, b, data_range=1.0)
    assert np.isnan(ref)
    assert np.isnan(got), got
    assert type(got) is type(ref)


# --------------------------------------------------------------------------
# Return types
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ALL_DTYPES)
@pytest.mark.parametrize("channel_axis", [None, -1])
def test_return_types(dtype, channel_axis):
    a_u8 = crop_center(real_image("coffee"), 32, 40)
    if channel_axis is None:
        a_u8 = a_u8[..., 0].copy()
    b_u8 = noisy(a_u8)
    a, dr = convert(a_u8, dtype)
    b, _ = convert(b_u8, dtype)
    fast, ref = run_both(structural_similarity, a, b, data_range=dr, channel_axis=channel_axis)
    assert type(fast) is type(ref), (type(fast), type(ref))
    expected = np.float32 if (channel_axis is not None and dtype in ("float16", "float32")) \
        else np.float64
    assert type(fast) is expected
    m, g, S = structural_similarity(a, b, data_range=dr, channel_axis=channel_axis,
                                    gradient=True, full=True)
    out_dtype = np.float32 if dtype in ("float16", "float32") else np.float64
    assert g.dtype == out_dtype and S.dtype == out_dtype
    assert g.shape == a.shape and S.shape == a.shape
    assert type(m) is expected


def test_full_mean_equals_plain_mean():
    a = crop_center(real_image("grass"), 100, 100)
    b = noisy(a)
    m0, S = structural_similarity(a, b, full=True)
    m1 = structural_similarity(a, b)
    m2, g = structural_similarity(a, b, gradient=True)
    assert m0 == m1 == m2
    assert S.shape == a.shape


# --------------------------------------------------------------------------
# Inputs skimage does not take directly: lists and PIL images
# --------------------------------------------------------------------------
def test_list_inputs():
    a = crop_center(real_image("camera"), 20, 24)
    b = noisy(a)
    fast = structural_similarity(a.tolist(), b.tolist(), data_range=255, full=True)
    ref = ski_ssim(np.asarray(a.tolist()), np.asarray(b.tolist()), data_range=255, full=True)
    assert_matches(fast, ref, im1_dtype=np.asarray(a.tolist()).dtype, full=True, where="lists")
    fast_f = structural_similarity((a / 255).tolist(), (b / 255).tolist(), data_range=1.0)
    np.testing.assert_allclose(fast_f, ski_ssim(a / 255, b / 255, data_range=1.0),
                               rtol=0, atol=1e-9)


@pytest.mark.parametrize("mode", ["L", "RGB", "I;16", "F"])
def test_pil_inputs(mode):
    base = crop_center(real_image("astronaut"), 64, 72)
    dist = noisy(base, seed=8)
    if mode == "RGB":
        ia, ib = Image.fromarray(base), Image.fromarray(dist)
        kw = dict(channel_axis=-1)
    elif mode == "L":
        ia, ib = Image.fromarray(base[..., 0]), Image.fromarray(dist[..., 0])
        kw = dict()
    elif mode == "I;16":
        ia = Image.fromarray(base[..., 0].astype(np.uint16) * 257)
        ib = Image.fromarray(dist[..., 0].astype(np.uint16) * 257)
        kw = dict(data_range=65535)
    else:
        ia = Image.fromarray(base[..., 0].astype(np.float32) / 255)
        ib = Image.fromarray(dist[..., 0].astype(np.float32) / 255)
        kw = dict(data_range=1.0)
    fast = structural_similarity(ia, ib, full=True, **kw)
    ref = ski_ssim(np.asarray(ia), np.asarray(ib), full=True, **kw)
    assert_matches(fast, ref, im1_dtype=np.asarray(ia).dtype, full=True, where=f"PIL {mode}")


@pytest.mark.parametrize("ndim", [33, 40, 64])
def test_many_axes_of_length_one(ndim):
    """NumPy allows 64 axes; with a 1-pixel window every rank is a valid input."""
    a = np.ones((1,) * ndim)
    b = a * 0.5
    opts = dict(win_size=1, use_sample_covariance=False, data_range=1.0)
    fast = structural_similarity(a, b, full=True, **opts)
    ref = ski_ssim(a, b, full=True, **opts)
    assert fast[0] == pytest.approx(ref[0], abs=1e-12)
    assert fast[1].shape == a.shape and np.allclose(fast[1], ref[1], rtol=0, atol=1e-12)

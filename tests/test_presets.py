"""preset= of structural_similarity against independent NumPy/SciPy versions of
each reference (references.py) and pytorch-msssim where installed; how presets
meet explicit keywords; ssimfast.settings()."""
import warnings

import numpy as np
import pytest
import ssimfast
from scipy import ndimage as ndi

import references as R
from helpers import GRAY_IMAGES, assert_identical, distort, real_image

TOL = 1e-6  # issue 6's bar; they agree to about 1e-15
WANG = {"gaussian_weights": True, "use_sample_covariance": False, "data_range": 255}


def _gray(name):
    img = real_image(name)
    return img if img.ndim == 2 else np.ascontiguousarray(img[..., 1])


def _zoomed(shape):
    """The camera enlarged to at least `shape`, then cropped: for F > 2."""
    cam = real_image("camera").astype(np.float64)
    z = ndi.zoom(cam, max(shape) / 512 + 0.01, order=1)
    return np.clip(np.rint(z[:shape[0], :shape[1]]), 0, 255).astype(np.uint8)


IMAGES = {name: (lambda name=name: _gray(name)) for name in GRAY_IMAGES + ["coffee", "chelsea"]}
IMAGES["zoom 665x777 (F=3)"] = lambda: _zoomed((665, 777))
IMAGES["zoom 640x700 (F=3: a half rounds up)"] = lambda: _zoomed((640, 700))
IMAGES["zoom 1100x1300 (F=4)"] = lambda: _zoomed((1100, 1300))


@pytest.mark.parametrize("image", sorted(IMAGES))
@pytest.mark.parametrize("kind", ["noise", "jpeg30"])
def test_matlab_is_ssim_m(image, kind):
    a = IMAGES[image]()
    b = distort(a, kind)
    want, want_map = R.ssim_m(a, b)
    got, smap = ssimfast.structural_similarity(a, b, preset="matlab", full=True)
    assert type(got) is np.float64
    assert got == pytest.approx(want, abs=TOL)
    assert smap.shape == want_map.shape
    np.testing.assert_allclose(smap, want_map, rtol=0, atol=TOL)


@pytest.mark.parametrize("preset", ["matlab_index", "pytorch"])
@pytest.mark.parametrize("image", sorted(IMAGES)[:6])
def test_matlab_index_and_pytorch_are_ssim_index_m(preset, image):
    a = IMAGES[image]()
    b = distort(a, "blur")
    want, want_map = R.ssim_index_m(a, b)
    got, smap = ssimfast.structural_similarity(a, b, preset=preset, full=True)
    assert got == pytest.approx(want, abs=TOL)
    assert smap.shape == (a.shape[0] - 10, a.shape[1] - 10)
    np.testing.assert_allclose(smap, want_map, rtol=0, atol=TOL)


def test_the_factor_uses_matlab_rounding():
    for side, F in [(383, 1), (384, 2), (640, 3), (639, 2), (1152, 5), (896, 4)]:
        a = np.zeros((side, side + 5), dtype=np.uint8)
        assert R.matlab_factor(*a.shape) == F
        s = ssimfast.settings(a, a, preset="matlab")
        assert s["scored shape"] == (-(-side // F), -(-(side + 5) // F)), side


@pytest.mark.parametrize("preset", ["matlab", "matlab_index", "pytorch"])
def test_colour_is_the_mean_of_the_channels(preset):
    a = real_image("astronaut")
    b = distort(a, "noise")
    ref = R.ssim_m if preset == "matlab" else R.ssim_index_m
    want = np.mean([ref(a[..., c], b[..., c])[0] for c in range(3)])
    assert ssimfast.ssim(a, b, preset=preset, channel_axis=-1) == pytest.approx(want, abs=TOL)
    moved = ssimfast.ssim(np.moveaxis(a, -1, 0), np.moveaxis(b, -1, 0), preset=preset,
                          channel_axis=0)
    assert moved == pytest.approx(want, abs=1e-15)


@pytest.mark.parametrize("dtype, scale, data_range", [
    (np.float64, 1 / 255, 1.0), (np.float32, 1 / 255, 1.0), (np.uint16, 16, 4080)])
def test_other_dtypes(dtype, scale, data_range):
    a = _gray("camera")
    b = distort(a, "noise")
    a_, b_ = (a * scale).astype(dtype), (b * scale).astype(dtype)
    for preset, ref in (("matlab", R.ssim_m), ("matlab_index", R.ssim_index_m)):
        got = ssimfast.ssim(a_, b_, preset=preset, data_range=data_range)
        want = ref(a_, b_, L=data_range)[0]
        assert got == pytest.approx(want, abs=1e-5 if dtype == np.float32 else TOL)


def test_matlab_index_is_the_same_code_as_the_explicit_keywords():
    a = _gray("moon")
    b = distort(a, "jpeg30")
    assert_identical(ssimfast.ssim(a, b, preset="matlab_index"), ssimfast.ssim(a, b, **WANG))
    assert_identical(ssimfast.ssim(a, b, preset="skimage"), ssimfast.ssim(a, b))
    assert_identical(ssimfast.ssim(a, b, preset="skimage", full=True, gradient=True),
                     ssimfast.ssim(a, b, full=True, gradient=True))


@pytest.mark.parametrize("preset", ["matlab", "matlab_index", "pytorch"])
def test_identical_images_give_exactly_one(preset):
    a = _gray("coffee")
    assert ssimfast.ssim(a, a.copy(), preset=preset) == 1.0


def test_matches_pytorch_msssim_ssim():
    torch = pytest.importorskip("torch")
    pm = pytest.importorskip("pytorch_msssim")
    win = torch.from_numpy(R.gaussian_taps())[None, None, None]  # float64 taps (its own are float32)
    for name in ("camera", "astronaut"):
        a = real_image(name)
        b = distort(a, "noise")
        nchw = lambda v: torch.from_numpy(np.ascontiguousarray(  # noqa: E731
            np.moveaxis(np.atleast_3d(v), -1, 0), dtype=np.float64))[None]
        want = float(pm.ssim(nchw(a), nchw(b), data_range=255,
                             win=win.repeat(nchw(a).shape[1], 1, 1, 1)))
        options = {"channel_axis": -1} if a.ndim == 3 else {}
        assert ssimfast.ssim(a, b, preset="pytorch", **options) == pytest.approx(want, abs=TOL)


# --------------------------------------------------------------------------
# Presets and explicit keywords
# --------------------------------------------------------------------------

@pytest.mark.parametrize("preset", ["matlab", "matlab_index", "pytorch"])
@pytest.mark.parametrize("kwargs", [
    {"win_size": 7}, {"sigma": 2.0}, {"use_sample_covariance": True}])
def test_a_keyword_that_contradicts_the_preset_is_an_error(preset, kwargs):
    a = _gray("camera")
    key = next(iter(kwargs))
    with pytest.raises(ValueError, match=f"preset='{preset}' fixes {key}="):
        ssimfast.ssim(a, a, preset=preset, **kwargs)
    with pytest.raises(ValueError, match=f"preset='{preset}' fixes {key}="):
        ssimfast.settings(a, a, preset=preset, **kwargs)


@pytest.mark.parametrize("preset", ["matlab", "matlab_index"])
def test_a_keyword_with_the_presets_value_is_accepted(preset):
    a = _gray("camera")
    b = distort(a, "noise")
    plain = ssimfast.ssim(a, b, preset=preset)
    same = ssimfast.ssim(a, b, preset=preset, win_size=11, gaussian_weights=True, sigma=1.5,
                         use_sample_covariance=False)
    assert same == plain


def test_data_range_and_constants_stay_open():
    a = _gray("camera")
    b = distort(a, "noise")
    with pytest.warns(UserWarning, match="spread of 255, more than data_range=200"):
        got = ssimfast.ssim(a, b, preset="matlab", data_range=200, K1=0.02, K2=0.05)
    assert got == pytest.approx(R.ssim_m(a, b, K=(0.02, 0.05), L=200)[0], abs=TOL)


def test_preset_errors():
    a = _gray("camera")
    with pytest.raises(ValueError, match="unknown preset 'octave'.*'matlab_index'"):
        ssimfast.ssim(a, a, preset="octave")
    with pytest.raises(TypeError, match="preset must be a string"):
        ssimfast.ssim(a, a, preset=None)
    with pytest.raises(ValueError, match="gradient=True is defined for preset='skimage' only"):
        ssimfast.ssim(a, a, preset="pytorch", gradient=True)
    with pytest.raises(ValueError, match="2-D images"):
        ssimfast.ssim(np.zeros((20, 20, 20)), np.zeros((20, 20, 20)), preset="matlab")
    with pytest.raises(ValueError, match="same dimensions"):
        ssimfast.ssim(a, a[1:], preset="matlab")
    with pytest.raises(ValueError, match="win_size exceeds image extent"):
        ssimfast.ssim(a[:10], a[:10], preset="matlab")
    with pytest.raises(TypeError, match="unexpected keyword argument 'sigmaa'"):
        ssimfast.ssim(a, a, preset="matlab", sigmaa=1)


def test_a_3d_volume_with_matlab_index():
    v = np.random.default_rng(1).integers(0, 256, (20, 24, 28), dtype=np.uint8)
    w = np.clip(v + 10.0, 0, 255).astype(np.uint8)
    got = ssimfast.ssim(v, w, preset="matlab_index")
    want = ssimfast.ssim(v, w, **WANG)
    assert got == want


# --------------------------------------------------------------------------
# settings()
# --------------------------------------------------------------------------

def test_settings_of_each_preset():
    a = _gray("camera")
    s = ssimfast.settings(a, a)
    assert s["preset"] == "skimage" and s["window"] == "uniform, 7 pixels along each axis"
    assert s["data_range"] == 255 and s["data_range from"] == "inferred from im1.dtype"
    assert s["covariance factor"] == 49 / 48 and s["downsampling"] == "none"
    m = ssimfast.settings(a, a, preset="matlab")
    assert m["window"] == "Gaussian, 11 taps, sigma 1.5"
    assert m["use_sample_covariance"] is False and m["covariance factor"] == 1.0
    assert m["downsampling"].startswith("F = 2") and m["scored shape"] == (256, 256)
    assert m["data_range from"] == "preset 'matlab'"
    assert m["C1, C2"] == ((0.01 * 255) ** 2, (0.03 * 255) ** 2)
    i = ssimfast.settings(a, a, preset="matlab_index", data_range=100)
    assert i["downsampling"] == "none" and i["data_range"] == 100
    assert "valid" in i["full=True map"]
    text = str(ssimfast.settings(a, a, preset="pytorch"))
    assert "pytorch-msssim" in text and "Gaussian, 11 taps" in text
    b = ssimfast.settings(a.astype(np.uint16), a.astype(np.uint16), bits=12)
    assert b["data_range"] == 4095 and b["data_range from"] == "bits=12"
    assert set(ssimfast.PRESETS) == {"skimage", "matlab", "matlab_index", "pytorch", "ffmpeg"}


def test_settings_warn_as_the_call_does():
    a = _gray("camera").astype(np.uint16)
    with pytest.warns(UserWarning, match="data_range = 65535"):
        s = ssimfast.settings(a, a)
    assert s["data_range"] == 65535
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ssimfast.settings(a, a, data_range=255)  # no pixel is read: no range warning


@pytest.mark.parametrize("preset", ["matlab", "matlab_index"])
def test_threads_and_layouts_do_not_change_the_bits(preset):
    a = _zoomed((800, 1000))  # F = 3
    b = distort(a, "noise")
    one = ssimfast.ssim(a, b, preset=preset, workers=1, full=True)
    assert_identical(one, ssimfast.ssim(a, b, preset=preset, workers=2, full=True))
    fa, fb = np.asfortranarray(a), np.asfortranarray(b)
    assert_identical(one, ssimfast.ssim(fa, fb, preset=preset, workers=2, full=True))

"""ssimfast.ms_ssim against the independent NumPy/SciPy reference in
references.py (and pytorch-msssim where it is installed), on skimage.data images."""
import warnings

import numpy as np
import pytest
import ssimfast
from ssimfast._extension import kernels

import references as R
from helpers import GRAY_IMAGES, add_noise, assert_identical, crop_center, distort, real_image

TOL = 1e-6  # issue 6's bar; the two agree to about 1e-15


def _gray(name):
    img = real_image(name)
    return img if img.ndim == 2 else np.ascontiguousarray(img[..., 1])


@pytest.mark.parametrize("name", GRAY_IMAGES + ["coffee"])
@pytest.mark.parametrize("kind", ["noise", "blur", "jpeg30"])
def test_matches_the_reference_on_real_images(name, kind):
    a = _gray(name)
    if min(a.shape) < 161:  # text is 172 x 448: fine; keep the guard for others
        pytest.skip("too small for five scales")
    b = distort(a, kind)
    got = ssimfast.ms_ssim(a, b)
    assert type(got) is np.float64
    assert got == pytest.approx(R.ms_ssim(a, b), abs=TOL)


@pytest.mark.parametrize("shape", [(333, 501), (161, 161), (257, 390)])
def test_odd_sizes_average_a_last_row_with_itself(shape):
    a = crop_center(real_image("camera"), *shape)
    b = add_noise(a, 15, seed=3)
    assert ssimfast.ms_ssim(a, b) == pytest.approx(R.ms_ssim(a, b), abs=TOL)


@pytest.mark.parametrize("options, ref_options", [
    ({"weights": [0.2, 0.3, 0.5]}, {"weights": (0.2, 0.3, 0.5)}),
    ({"scales": 3}, {"weights": tuple(np.array(R.MSSSIM_WEIGHTS[:3]) / sum(R.MSSSIM_WEIGHTS[:3]))}),
    ({"weights": [1.0]}, {"weights": (1.0,)}),
    ({"win_size": 7, "sigma": 1.0}, {"taps": R.gaussian_taps(7, 1.0)}),
    ({"K1": 0.02, "K2": 0.05}, {"K": (0.02, 0.05)}),
])
def test_options_match_the_reference(options, ref_options):
    a = _gray("camera")
    b = distort(a, "jpeg30")
    assert ssimfast.ms_ssim(a, b, **options) == pytest.approx(R.ms_ssim(a, b, **ref_options), abs=TOL)


def test_one_scale_is_the_mean_ssim_of_the_gaussian_valid_window():
    a = _gray("moon")
    b = distort(a, "noise")
    single = ssimfast.ms_ssim(a, b, weights=[1.0])
    plain = ssimfast.structural_similarity(a, b, gaussian_weights=True,
                                           use_sample_covariance=False, data_range=255)
    assert single == pytest.approx(plain, rel=1e-14)


@pytest.mark.parametrize("axis", [0, -1])
def test_colour_is_the_mean_of_the_channels(axis):
    a = real_image("astronaut")
    b = distort(a, "noise")
    want = np.mean([R.ms_ssim(a[..., c], b[..., c]) for c in range(3)])
    a_, b_ = (np.moveaxis(a, -1, 0), np.moveaxis(b, -1, 0)) if axis == 0 else (a, b)
    assert ssimfast.ms_ssim(a_, b_, channel_axis=axis) == pytest.approx(want, abs=TOL)


def test_dtypes_and_data_range():
    a = _gray("camera")
    b = distort(a, "blur")
    u8 = ssimfast.ms_ssim(a, b)
    assert ssimfast.ms_ssim(a / 255, b / 255, data_range=1.0) == pytest.approx(u8, abs=1e-12)
    assert ssimfast.ms_ssim(a.astype(np.float32), b.astype(np.float32),
                            data_range=255) == pytest.approx(u8, abs=1e-12)
    a12, b12 = a.astype(np.uint16) * 16, b.astype(np.uint16) * 16
    assert ssimfast.ms_ssim(a12, b12, bits=12) == pytest.approx(
        R.ms_ssim(a12, b12, L=4095), abs=TOL)


@pytest.mark.parametrize("make", [
    lambda: _gray("camera"),
    lambda: crop_center(_gray("moon"), 333, 501),
    lambda: real_image("astronaut"),
    lambda: (_gray("brick") / 255).astype(np.float32),
])
def test_identical_images_give_exactly_one(make):
    a = make()
    options = {"channel_axis": -1} if a.ndim == 3 else {}
    if a.dtype.kind == "f":
        options["data_range"] = 1.0
    assert ssimfast.ms_ssim(a, a.copy(), **options) == 1.0


def test_a_negative_contrast_structure_term_gives_zero():
    a = _gray("camera")
    inverted = 255 - a  # negatively correlated at every scale
    assert R.ms_ssim(a, inverted) == 0.0
    assert ssimfast.ms_ssim(a, inverted) == 0.0


def test_threads_and_strides_do_not_change_the_bits():
    a = _gray("grass")
    b = distort(a, "noise")
    one = ssimfast.ms_ssim(a, b, workers=1)
    assert ssimfast.ms_ssim(a, b, workers=2) == one
    fa, fb = np.asfortranarray(a), np.asfortranarray(b)
    assert ssimfast.ms_ssim(fa, fb) == one
    wide = np.zeros((a.shape[0], 2 * a.shape[1]), dtype=a.dtype)
    wide[:, ::2] = a
    wb = np.zeros_like(wide)
    wb[:, ::2] = b
    assert ssimfast.ms_ssim(wide[:, ::2], wb[:, ::2]) == one


def test_the_downsampling_kernel_is_the_matlab_box_filter():
    a = crop_center(_gray("camera"), 101, 203).astype(np.float64)
    for F in (2, 3, 8):
        h, w = -(-a.shape[0] // F), -(-a.shape[1] // F)
        out = np.empty((h, w))
        out2 = np.empty((w, h)).T  # any strides
        kernels.box_downsample_2d(a, a[::-1], F, out, out2, 2)
        want = R.imfilter_box_symmetric(a, F)[::F, ::F]
        np.testing.assert_allclose(out, want, rtol=0, atol=1e-12)
        want2 = R.imfilter_box_symmetric(a[::-1], F)[::F, ::F]
        np.testing.assert_allclose(out2, want2, rtol=0, atol=1e-12)


def test_the_reference_box_filter_is_centred_as_matlab():
    x = np.arange(7 * 9, dtype=np.float64).reshape(7, 9) ** 1.3
    for F in (2, 3, 4, 8):
        a = (F - 1) // 2  # MATLAB: centre at floor((F + 1) / 2), 1-based
        p = np.pad(x, ((a, F), (a, F)), mode="symmetric")
        want = np.array([[p[i:i + F, j:j + F].mean() for j in range(9)] for i in range(7)])
        np.testing.assert_allclose(R.imfilter_box_symmetric(x, F), want, atol=1e-12)


def test_too_small_says_the_smallest_size():
    a = crop_center(_gray("camera"), 160, 300)
    with pytest.raises(ValueError, match=r"at least 161 pixels.*160 x 300.*scales=4"):
        ssimfast.ms_ssim(a, a)
    assert ssimfast.ms_ssim(a, a, scales=4) == 1.0
    with pytest.raises(ValueError, match="at least 81 pixels"):
        ssimfast.ms_ssim(a[:80], a[:80], weights=[0.25] * 4)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"weights": [0.5, -0.1]}, ValueError, "finite numbers >= 0"),
    ({"weights": []}, ValueError, "non-empty"),
    ({"weights": "abc"}, TypeError, "sequence of numbers"),
    ({"weights": [0.5, 0.5], "scales": 3}, ValueError, "scales=3 but 2 weights"),
    ({"scales": 6}, ValueError, "from 1 to 5"),
    ({"scales": 2.0}, TypeError, "scales must be an integer"),
    ({"win_size": 8}, ValueError, "odd"),
    ({"sigma": 0}, ValueError, "sigma"),
    ({"K2": -1}, ValueError, "K2"),
    ({"data_range": 0}, ValueError, "data_range"),
    ({"channel_axis": 0}, ValueError, "2-D images"),
])
def test_errors(kwargs, error, match):
    a = _gray("camera")
    with pytest.raises(error, match=match):
        ssimfast.ms_ssim(a, a, **kwargs)


def test_input_errors():
    a = _gray("camera")
    with pytest.raises(ValueError, match="same dimensions"):
        ssimfast.ms_ssim(a, a[:-1])
    with pytest.raises(ValueError, match="data_range"):
        ssimfast.ms_ssim(a / 255, a / 255)
    with pytest.raises(ValueError, match="2-D images"):
        ssimfast.ms_ssim(a[0], a[0])
    with pytest.raises(TypeError, match="complex"):
        ssimfast.ms_ssim(a + 0j, a + 0j)


# --------------------------------------------------------------------------
# pytorch-msssim (optional): float64 tensors and float64 window taps (its own
# taps are float32, which moves results by about 4e-6)
# --------------------------------------------------------------------------

def _torch():
    torch = pytest.importorskip("torch")
    pm = pytest.importorskip("pytorch_msssim")
    win = torch.from_numpy(R.gaussian_taps())[None, None, None]
    return torch, pm, win


@pytest.mark.parametrize("name", ["camera", "moon", "astronaut"])
def test_matches_pytorch_msssim(name):
    torch, pm, win = _torch()
    a = real_image(name)
    b = distort(a, "noise")
    nchw = lambda v: torch.from_numpy(np.ascontiguousarray(  # noqa: E731
        np.moveaxis(np.atleast_3d(v), -1, 0), dtype=np.float64))[None]
    options = {"channel_axis": -1} if a.ndim == 3 else {}
    for other in (b, 255 - a):  # 255 - a: clamped to 0 for the camera, not for the moon
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = float(pm.ms_ssim(nchw(a), nchw(other), data_range=255,
                                    win=win.repeat(nchw(a).shape[1], 1, 1, 1)))
        assert ssimfast.ms_ssim(a, other, **options) == pytest.approx(want, abs=TOL)


# --------------------------------------------------------------------------
# Kernel builds (baseline, AVX2, AVX-512): the same bits
# --------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32", "float64"])
def test_every_kernel_variant_gives_the_baseline_bits(monkeypatch, dtype):
    import ssimfast._msssim as msssim_module
    import ssimfast._presets as presets_module
    import ssimfast._ssim as ssim_module
    from ssimfast._extension import variants

    a = crop_center(_gray("camera"), 400, 397)
    b = distort(a, "noise")
    a, b = a.astype(dtype), b.astype(dtype)
    a_strided = np.asfortranarray(a)[:, ::-1]
    results = []
    for module in variants().values():
        for m in (msssim_module, presets_module, ssim_module):
            monkeypatch.setattr(m, "kernels", module)
        results.append((ssimfast.ms_ssim(a, b, data_range=255),
                        ssimfast.ms_ssim(a_strided, b[:, ::-1], data_range=255),
                        *ssimfast.ssim(a, b, preset="matlab", data_range=255, full=True)))
    for other in results[1:]:
        assert_identical(results[0], other, where=f"{dtype}")


@pytest.mark.parametrize("variant", ["uint8", "uint16_wide", "int16_wide", "int32", "int64_wide",
                                     "float32", "float64", "int8", "uint32", "float16", "bool"])
def test_every_dtype_matches_the_reference(variant):
    from helpers import convert

    ref = crop_center(_gray("camera"), 170, 203)  # odd width: mirrored last columns
    a, data_range = convert(ref, variant)
    b, _ = convert(distort(ref, "noise"), variant)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # data_range inferred for bool
        got = ssimfast.ms_ssim(a, b, data_range=data_range)
    L = 1 if data_range is None and variant == "bool" else (data_range or 255)
    want = R.ms_ssim(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), L=L)
    assert got == pytest.approx(want, abs=TOL, rel=1e-9), variant

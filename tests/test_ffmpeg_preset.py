"""preset="ffmpeg" in structural_similarity: FFmpeg's ssim filter on a plane,
equal to ssimfast._ffmpeg.ffmpeg_ssim and to what an FFmpeg binary prints."""
import numpy as np
import pytest

import ssimfast
from ssimfast._ffmpeg import ffmpeg_ssim, ffmpeg_ssim_map
from test_ffmpeg_ssim import ffmpeg_exe, run_ffmpeg_ssim, write_y4m


def pair(shape=(48, 70), dtype=np.uint8, peak=255, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, peak + 1, shape).astype(dtype)
    noise = rng.integers(-peak // 8, peak // 8 + 1, shape)
    return a, np.clip(a + noise, 0, peak).astype(dtype)


def test_equals_ffmpeg_ssim_and_its_map():
    a, b = pair()
    assert ssimfast.structural_similarity(a, b, preset="ffmpeg") == ffmpeg_ssim(a, b)
    mean, smap = ssimfast.structural_similarity(a, b, preset="ffmpeg", full=True)
    np.testing.assert_array_equal(smap, ffmpeg_ssim_map(a, b))
    assert smap.shape == (48 // 4 - 1, 70 // 4 - 1) and mean == ffmpeg_ssim(a, b)


def test_bits_sets_the_constants():
    a, b = pair(dtype=np.uint16, peak=1023)
    got = ssimfast.structural_similarity(a, b, preset="ffmpeg", bits=10)
    assert got == ffmpeg_ssim(a, b, bits=10)
    assert got != ffmpeg_ssim(a, b, bits=12)
    assert ssimfast.settings(a, b, preset="ffmpeg", bits=10)["data_range"] == 1023


def test_channels_are_averaged():
    a, b = pair((40, 36, 3))
    got = ssimfast.structural_similarity(a, b, preset="ffmpeg", channel_axis=-1)
    want = np.mean([ffmpeg_ssim(a[..., c], b[..., c]) for c in range(3)])
    assert got == pytest.approx(want, rel=1e-15)
    _, smap = ssimfast.structural_similarity(a, b, preset="ffmpeg", channel_axis=2, full=True)
    assert smap.shape == (9, 8, 3)


def test_settings_describe_the_definition():
    a, b = pair()
    s = ssimfast.settings(a, b, preset="ffmpeg")
    assert "vf_ssim.c" in s["reference"] and "4-pixel grid" in s["window"]
    assert s["C1, C2"][0].startswith("416 ") and s["C1, C2"][1].startswith("235963 ")


@pytest.mark.parametrize("options,exc,match", [
    (dict(gradient=True), ValueError, "no gradient"),
    (dict(win_size=7), ValueError, "fixes win_size=8"),
    (dict(gaussian_weights=True), ValueError, "fixes gaussian_weights"),
    (dict(K2=0.05), ValueError, "fixes K2"),
    (dict(sigma=1.5), ValueError, "has no sigma"),
    (dict(use_sample_covariance=False), ValueError, "has no use_sample_covariance"),
    (dict(data_range=1.0), ValueError, "contradicts"),
    (dict(bits=10), ValueError, "bits=8 with uint8"),
    (dict(mask=np.ones((48, 70), bool)), ValueError, "preset='skimage' only"),
    (dict(foo=1), TypeError, "unexpected keyword"),
])
def test_contradictions_are_refused(options, exc, match):
    a, b = pair()
    with pytest.raises(exc, match=match):
        ssimfast.structural_similarity(a, b, preset="ffmpeg", **options)


def test_dtypes_and_sizes_are_checked():
    a, b = pair()
    with pytest.raises(ValueError, match="needs bits="):
        ssimfast.structural_similarity(a.astype(np.uint16), b.astype(np.uint16), preset="ffmpeg")
    with pytest.raises(TypeError, match="uint8"):
        ssimfast.structural_similarity(a.astype(float), b.astype(float), preset="ffmpeg")
    with pytest.raises(ValueError, match="at least 8x8"):
        ssimfast.structural_similarity(a[:7], b[:7], preset="ffmpeg")
    with pytest.raises(ValueError, match="2-D planes"):
        ssimfast.structural_similarity(a[None], b[None], preset="ffmpeg")
    assert ssimfast.structural_similarity(a, a, preset="ffmpeg") == 1.0


def test_equals_what_ffmpeg_prints_on_a_gray_y4m_pair(tmp_path):
    exe = ffmpeg_exe()
    a, b = pair((33, 45), seed=3)
    write_y4m(tmp_path / "a.y4m", [[a]], 45, 33, "gray")
    write_y4m(tmp_path / "b.y4m", [[b]], 45, 33, "gray")
    _, per_frame = run_ffmpeg_ssim(exe, tmp_path / "a.y4m", tmp_path / "b.y4m",
                                   tmp_path / "stats.log")
    assert f"{ssimfast.structural_similarity(a, b, preset='ffmpeg'):f}" == per_frame[0]["Y"]

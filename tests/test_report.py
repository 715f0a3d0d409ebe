"""report(): the mean with its local picture, checked against brute force."""
import json
import re

import numpy as np
import pytest
import ssimfast
from PIL import Image
from ssimfast._heatmap import BOX, SCALE, compose
from ssimfast._report import band

from helpers import real_image

DEFECT = (slice(300, 340), slice(200, 240))


def _planted():
    """camera and a copy with one 40x40 block replaced by noise: the mean stays high."""
    ref = real_image("camera")
    dist = ref.copy()
    dist[DEFECT] = np.random.default_rng(0).integers(0, 256, (40, 40), dtype=np.uint8)
    return ref, dist


def test_planted_defect_is_found_though_the_mean_is_high():
    ref, dist = _planted()
    r = ssimfast.report(ref, dist, k=2, box=40)
    assert r.mean > 0.95 and r.band == "very high"
    assert all(s.start - 3 <= i < s.stop + 3 for i, s in zip(r.argmin, DEFECT))
    worst = r.worst[0]
    # The worst 40x40 box overlaps the defect by most of its area.
    overlap = np.prod([max(0, min(b, s.stop) - max(a, s.start))
                       for a, b, s in zip(worst.start, worst.stop, DEFECT)])
    assert overlap >= 0.6 * 40 * 40
    assert worst.mean < 0.5 < r.worst[1].mean
    assert 0 < r.fraction_below[0.5] < 0.01


@pytest.mark.parametrize("options", [{}, {"gaussian_weights": True, "sigma": 1.5},
                                     {"win_size": 11}])
def test_statistics_equal_brute_force(options):
    ref, dist = _planted()
    r = ssimfast.report(ref, dist, thresholds=(0.3, 0.9), percentiles=(1, 50), k=4, box=25,
                        **options)
    mean, smap = ssimfast.structural_similarity(ref, dist, full=True, **options)
    assert r.mean == mean and np.array_equal(r.ssim_map, smap)
    win = options.get("win_size", 11 if options else 7)
    c = (win - 1) // 2
    inner = smap[c:-c, c:-c]
    assert r.min == inner.min() and smap[r.argmin] == inner.min()
    assert r.percentiles == {1: np.percentile(inner, 1), 50: np.percentile(inner, 50)}
    assert r.fraction_below == {t: np.mean(inner < t) for t in (0.3, 0.9)}
    means = [w.mean for w in r.worst]
    assert len(r.worst) == 4 and means == sorted(means)
    for w in r.worst:
        block = smap[tuple(slice(a, b) for a, b in zip(w.start, w.stop))]
        assert block.shape == (25, 25) and w.mean == pytest.approx(block.mean(), abs=1e-9)
        assert all(a >= c and b <= n - c for a, b, n in zip(w.start, w.stop, smap.shape))
    for i, u in enumerate(r.worst):  # non-overlapping
        for v in r.worst[i + 1:]:
            assert any(u.stop[d] <= v.start[d] or v.stop[d] <= u.start[d] for d in range(2))
    # No 25x25 box inside the interior has a lower mean than the worst one.
    cs = np.pad(inner.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    box_means = (cs[25:, 25:] - cs[:-25, 25:] - cs[25:, :-25] + cs[:-25, :-25]) / 625
    assert r.worst[0].mean == pytest.approx(box_means.min(), abs=1e-9)


def test_colour_images_use_the_mean_of_the_channel_maps():
    ref = real_image("astronaut")
    dist = ref.copy()
    dist[100:140, 100:140] = 0
    r = ssimfast.report(ref, dist, channel_axis=-1, k=1, box=40)
    _, smap = ssimfast.structural_similarity(ref, dist, channel_axis=-1, full=True)
    assert np.array_equal(r.ssim_map, smap.mean(axis=-1))
    # The damage spreads by the window radius, so the worst box may start a few pixels early.
    assert all(97 <= s <= 100 for s in r.worst[0].start)


@pytest.mark.parametrize("score, name", [(1.0, "very high"), (0.9501, "very high"),
                                         (0.95, "good"), (0.8, "good"), (0.7999, "moderate"),
                                         (0.7, "moderate"), (0.6999, "low"), (-0.5, "low")])
def test_bands(score, name):
    assert band(score) == name


def test_text_and_json():
    ref, dist = _planted()
    r = ssimfast.report(ref, dist, k=1)
    text = str(r)
    assert f"mean SSIM:          {r.mean:.4f} (very high)" in text
    w = r.worst[0]
    assert (f"worst region 1:     rows {w.start[0]}:{w.stop[0]}, cols {w.start[1]}:{w.stop[1]}, "
            f"mean SSIM {w.mean:.4f}") in text and "compare methods" in text
    d = json.loads(json.dumps(r.to_dict()))
    assert d["mean"] == r.mean and d["band"] == "very high" and len(d["worst"]) == 1


def test_bad_arguments():
    ref, dist = _planted()
    with pytest.raises(TypeError, match="do not pass full="):
        ssimfast.report(ref, dist, full=True)
    with pytest.raises(ValueError, match="k must be a non-negative integer"):
        ssimfast.report(ref, dist, k=-1)
    with pytest.raises(ValueError, match="box must be a positive integer"):
        ssimfast.report(ref, dist, box=0)
    with pytest.raises(ValueError, match="same dimensions"):
        ssimfast.report(ref, dist[:10])


# ---------------------------------------------------------------- heatmap pictures

def _red(picture):
    return np.all(picture == BOX, axis=2)


def _panel(picture, where, title, shape):
    top, left, *_ = where[title]
    return picture[top : top + shape[0], left : left + shape[1]]


def test_heatmap_map_only_and_beside_colour_inputs():
    ref, dist = _planted()
    r = ssimfast.report(ref, dist, k=1, box=40)
    alone, where = compose(r)
    h, w = ref.shape
    assert alone.dtype == np.uint8 and alone.shape[0] > h and alone.shape[1] > w
    assert list(where) == ["SSIM MAP", "FIXED SCALE"]
    start, stop = r.worst[0].start, r.worst[0].stop
    assert _red(_panel(alone, where, "SSIM MAP", ref.shape))[stop[0] - 1, start[1] : stop[1]].all()
    rgb1, rgb2 = np.dstack([ref] * 3), np.dstack([dist] * 3)
    r3 = ssimfast.report(rgb1, rgb2, k=1, box=40, channel_axis=-1)
    beside, where = compose(r3, rgb1, rgb2)
    assert list(where) == ["REFERENCE", "DISTORTED", "SSIM MAP", "FIXED SCALE"]
    assert beside.shape[1] > 3 * w
    shown = _panel(beside, where, "REFERENCE", ref.shape)
    # The input as it is, but for the box and its number.
    outside = np.ones(ref.shape, bool)
    outside[tuple(slice(a, b) for a, b in zip(r3.worst[0].start, r3.worst[0].stop))] = False
    np.testing.assert_array_equal(shown[outside], rgb1[outside])
    with pytest.raises(ValueError, match="map's size"):
        r.heatmap(ref[:10], dist[:10])
    with pytest.raises(ValueError, match="max_side must be a positive integer"):
        r.heatmap(max_side=0)


def test_heatmap_reduces_large_images_keeping_the_defect_visible():
    ref, dist = _planted()
    r = ssimfast.report(ref, dist, k=0)  # no boxes over the defect
    small, where = compose(r, ref, dist, max_side=64)
    step = -(-max(ref.shape) // 64)
    assert where["SSIM MAP"][2] == step
    side = -(-ref.shape[0] // step)
    # Block minimum: the darkest map pixel is as dark as at full size.
    panel = _panel(small, where, "SSIM MAP", (side, side)).astype(int)
    full, at = compose(r)
    full = _panel(full, at, "SSIM MAP", ref.shape).astype(int)
    assert panel.sum(axis=2).min() == full.sum(axis=2).min()


def test_heatmap_of_a_volume_shows_the_plane_of_the_minimum():
    vol1 = np.stack([real_image("camera")[:64, :64]] * 9)
    vol2 = vol1.copy()
    vol2[6, 20:40, 20:40] = 128
    r = ssimfast.report(vol1, vol2, k=1, box=8)
    assert 3 <= r.argmin[0] <= 8  # within the window of the damaged plane
    picture, where = compose(r, vol1, vol2)
    zoom = where["SSIM MAP"][3]  # 64 pixels a side are shown enlarged
    assert zoom == 2 and _red(_panel(picture, where, "SSIM MAP", (128, 128))).any()


def test_positions_agree_in_text_json_and_picture():
    """One convention: (row, column), half-open. The defect is at rows 300:340,
    cols 200:240 (not square in position, so a swap of the axes shows)."""
    ref, dist = _planted()
    r = ssimfast.report(ref, dist, k=2, box=40)
    text = str(r)
    found = re.findall(r"worst region (\d):\s+rows (\d+):(\d+), cols (\d+):(\d+), mean SSIM", text)
    assert [int(n) for n, *_ in found] == [1, 2]
    d = json.loads(json.dumps(r.to_dict()))
    assert f"at row {r.argmin[0]}, col {r.argmin[1]}" in text and d["argmin"] == list(r.argmin)
    picture, where = compose(r, ref, dist)
    boxed = np.zeros(ref.shape, bool)
    for (n, r0, r1, c0, c1), region in zip(found, d["worst"]):
        r0, r1, c0, c1 = map(int, (r0, r1, c0, c1))
        assert region["start"] == [r0, c0] and region["stop"] == [r1, c1]
        boxed[r0:r1, c0:c1] = True
        for title in ("REFERENCE", "DISTORTED", "SSIM MAP"):
            red = _red(_panel(picture, where, title, ref.shape))
            # The outline runs along rows r0 and r1 - 1, cols c0 and c1 - 1.
            assert red[r0, c0:c1].all() and red[r1 - 1, c0:c1].all()
            assert red[r0:r1, c0].all() and red[r0:r1, c1 - 1].all()
    for title in ("REFERENCE", "DISTORTED", "SSIM MAP"):  # and no red outside the boxes
        assert not (_red(_panel(picture, where, title, ref.shape)) & ~boxed).any()
    worst = d["worst"][0]
    assert 295 <= worst["start"][0] <= 305 and 195 <= worst["start"][1] <= 205


def test_heatmap_has_a_white_margin_and_a_fixed_scale():
    ref, dist = _planted()
    for a, b in [(ref, dist), (ref[:16, :16], dist[:16, :16])]:
        r = ssimfast.report(a, b, k=1, box=min(8, a.shape[0] - 6))
        picture, where = compose(r, a, b)
        edge = np.concatenate([picture[:6].reshape(-1, 3), picture[-6:].reshape(-1, 3),
                               picture[:, :6].reshape(-1, 3), picture[:, -6:].reshape(-1, 3)])
        assert (edge == 255).all()  # nothing within 6 pixels of an edge
        top, left, *_ = where["FIXED SCALE"]
        bar = picture[top:, left]  # the bar's first column: 1 (yellow) at the top down to -1
        bar = bar[: np.argmax((bar == 255).all(axis=1))]
        assert tuple(bar[0]) == (253, 231, 37) and tuple(bar[-1]) == (68, 1, 84)
    # The tiny pair is shown 8 times enlarged, its box with it.
    top, left, step, zoom = where["SSIM MAP"]
    assert (step, zoom) == (1, 8)
    (r0, c0), (r1, c1) = r.worst[0].start, r.worst[0].stop
    red = _red(picture[top : top + 128, left : left + 128])
    assert red[8 * r0, 8 * c0 : 8 * c1].all() and red[8 * r1 - 1, 8 * c0 : 8 * c1].all()
    assert not red[8 * r1, 8 * c0 : 8 * c1].any()
    assert SCALE == (-1.0, 1.0)
    # The same local SSIM has the same colour whatever the image's range.
    grey = np.full((32, 32), 100, np.uint8)
    flat = ssimfast.report(grey, grey, k=0)
    picture, where = compose(flat)
    top, left, *_ = where["SSIM MAP"]
    assert tuple(picture[top + 16, left + 16]) == (253, 231, 37)


def test_save_heatmap_writes_a_png(tmp_path):
    ref, dist = _planted()
    r = ssimfast.report(ref, dist, k=1)
    r.save_heatmap(tmp_path / "h.png", ref, dist)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "h.png")), r.heatmap(ref, dist))

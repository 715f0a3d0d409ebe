"""report(): the mean with its local picture, checked against brute force."""
import json

import numpy as np
import pytest
import ssimfast
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
    assert "worst region 1:" in text and "compare methods" in text
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

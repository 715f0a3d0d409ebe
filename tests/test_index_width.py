"""Index width (issue 7, item 6): pairs of more than 2**31 elements score right,
so no 32-bit index overflows anywhere (2-D kernel, 3-D kernel, batch loop).

Each image repeats a small random tile (periodic), so the answer is known
without scoring the whole image: with the uniform 7x7 (7x7x7) window, an
interior pixel's local SSIM depends only on its position modulo the period, so
the mean is a weighted average of one period's map values, taken from a small
image of the same pattern. The tests also compare with ssim_tiled, which
scores bands or tiles of a few million pixels (bit-identical in 2-D).

About 4.3 GB of memory per test and a minute of CPU: behind the ``slow`` marker,
``python -m pytest -m slow tests/test_index_width.py``.
"""
import numpy as np
import pytest

import ssimfast

pytestmark = pytest.mark.slow

N2 = 46_341  # 46341**2 = 2_147_488_281 > 2**31
PERIOD = (5, 11, 3)  # coprime periods: every residue class meets every other


def _patterns(ndim, seed=31):
    rng = np.random.default_rng(seed)
    p1 = rng.integers(0, 256, PERIOD[:ndim], dtype=np.uint8)
    p2 = np.clip(p1 + rng.normal(0, 30, p1.shape), 0, 255).astype(np.uint8)
    return p1, p2


def _periodic(pattern, shape):
    """`pattern` repeated to `shape` (built plane by plane: no large temporary)."""
    out = np.empty(shape, dtype=pattern.dtype)
    reps = [-(-n // p) for n, p in zip(shape[1:], pattern.shape[1:])]
    planes = [np.tile(pattern[r], reps)[tuple(slice(0, n) for n in shape[1:])]
              for r in range(pattern.shape[0])]
    for i in range(shape[0]):
        out[i] = planes[i % pattern.shape[0]]
    return out


def _expected_mean(p1, p2, shape, win_size=7):
    """The mean SSIM of the periodic pair of `shape`, from a small periodic pair."""
    crop = (win_size - 1) // 2
    small_shape = tuple(2 * crop + 4 * p for p in p1.shape)
    _, smap = ssimfast.structural_similarity(_periodic(p1, small_shape),
                                             _periodic(p2, small_shape), full=True)
    # The local SSIM of each residue class, read at interior positions.
    period_map = smap[tuple(slice(crop, crop + p) for p in p1.shape)]
    # How many interior pixels of the large image fall in each residue class.
    weights = 1.0
    for axis, (n, p) in enumerate(zip(shape, p1.shape)):
        idx = np.arange(crop, n - crop)
        counts = np.bincount(idx % p, minlength=p).astype(np.float64)
        counts = np.roll(counts, -crop)  # class of interior offset k is (crop + k) % p
        weights = np.multiply.outer(weights, counts) if axis else counts
    total = float((weights * period_map).sum())
    return total / float(weights.sum())


def test_expected_mean_is_right_on_a_small_image():
    """The periodic shortcut agrees with scoring the whole image (so it can fail)."""
    p1, p2 = _patterns(2)
    shape = (503, 409)
    got = ssimfast.structural_similarity(_periodic(p1, shape), _periodic(p2, shape))
    assert abs(got - _expected_mean(p1, p2, shape)) < 1e-12


def test_2d_pair_over_2_31_elements():
    p1, p2 = _patterns(2)
    shape = (N2, N2)
    a, b = _periodic(p1, shape), _periodic(p2, shape)
    assert a.size > 2**31
    whole = ssimfast.structural_similarity(a, b)
    banded = ssimfast.ssim_tiled(a, b)
    expected = _expected_mean(p1, p2, shape)
    assert whole == banded, f"structural_similarity {whole!r} != ssim_tiled {banded!r}"
    assert abs(whole - expected) < 1e-9, f"{whole!r} vs the periodic value {expected!r}"


def test_3d_volume_over_2_31_elements():
    p1, p2 = _patterns(3)
    shape = (524_289, 64, 64)  # small planes: the 3-D kernel buffers four per thread
    a, b = _periodic(p1, shape), _periodic(p2, shape)
    assert a.size > 2**31
    whole = ssimfast.structural_similarity(a, b)
    expected = _expected_mean(p1, p2, shape)
    assert abs(whole - expected) < 1e-9, f"{whole!r} vs the periodic value {expected!r}"


def test_batch_stack_over_2_31_elements():
    """ssim_2d_batch walks a (128, 4096, 4097) stack; each pair differs (a shift
    of im2's pattern), and each score must be that pair's own, bit for bit."""
    p1, p2 = _patterns(2)
    n, shape = 128, (4096, 4097)
    x = np.empty((n,) + shape, np.uint8)
    y = np.empty((n,) + shape, np.uint8)
    for k in range(n):
        x[k] = _periodic(p1, shape)
        y[k] = _periodic(np.roll(p2, k, axis=1), shape)
    assert x.size > 2**31
    scores = ssimfast.ssim_batch(x, y)
    for k in (0, 1, n // 2, n - 2, n - 1):
        assert scores[k] == ssimfast.structural_similarity(x[k], y[k]), f"pair {k}"
    assert len(set(scores[:11].tolist())) == 11  # the pairs do differ

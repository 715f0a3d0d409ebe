"""Memory: the mean-only SSIM streams over the images instead of building
float64 copies and full-size statistic images.  Measured with ``tracemalloc``
(NumPy reports its data allocations to it): scoring two 8192x8192 images adds
less than 64 MiB at peak, while ``full=True`` visibly allocates its map (so the
measurement does see NumPy allocations and the first test can fail).
"""

import tracemalloc

import numpy as np
import pytest

from ssimfast import structural_similarity

N = 8192
MiB = 1 << 20
LIMIT = 64 * MiB


def _images(dtype):
    rng = np.random.default_rng(8192)
    a = rng.integers(0, 256, (N, N), dtype=np.uint8)
    b = a.copy()
    b[::3] = rng.integers(0, 256, (len(range(0, N, 3)), N), dtype=np.uint8)
    if dtype != "uint8":
        a = a.astype(dtype)
        b = b.astype(dtype)
    return a, b


def _peak_during(func):
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        result = func()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak - base


@pytest.fixture(scope="module")
def big_uint8():
    return _images("uint8")


@pytest.mark.parametrize("options", [
    pytest.param(dict(), id="uniform"),
    pytest.param(dict(gaussian_weights=True), id="gaussian"),
])
def test_mean_only_is_streaming_uint8(big_uint8, options):
    a, b = big_uint8
    m, peak = _peak_during(lambda: structural_similarity(a, b, **options))
    assert peak < LIMIT, f"mean-only SSIM of 2 x {N}x{N} uint8 traced {peak / MiB:.1f} MiB peak"
    assert 0.0 < m < 1.0


def test_mean_only_is_streaming_float32():
    a, b = _images("float32")
    m, peak = _peak_during(lambda: structural_similarity(a, b, data_range=255))
    assert peak < LIMIT, f"mean-only SSIM of 2 x {N}x{N} float32 traced {peak / MiB:.1f} MiB peak"
    assert 0.0 < m < 1.0


def test_full_map_is_traced(big_uint8):
    """Sanity check of the measurement: the float64 map must show up."""
    a, b = big_uint8
    (m, S), peak = _peak_during(lambda: structural_similarity(a, b, full=True))
    assert S.shape == (N, N) and S.dtype == np.float64
    assert peak >= S.nbytes, f"full=True traced only {peak / MiB:.1f} MiB peak"
    m_only = structural_similarity(a, b)
    np.testing.assert_allclose(m, m_only, rtol=0, atol=1e-12)

"""The fast paths against the plain one, bit for bit.

For integer input with a uniform window the 2-D kernel adds exact integer
window sums: in float where they fit (uint8, windows up to 129 pixels), else
in double, sliding them from row to row. The N-D path filters every axis in
double, in tap order. All give the same integers, hence the same map bits.
"""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import ssimfast._ssim as S


def _nd_map(a, b, win):
    """The SSIM map of the generic N-D path (double window sums, no sliding)."""
    setup = S._setup(a.shape, a.dtype, b.shape, b.dtype, win, 255 if a.dtype != bool else 1,
                     None, False, 1, {})
    p = setup.params
    x, y = S._kernel_inputs(a, b, setup.float_type)
    smap = np.empty(a.shape)
    n = p.taps.shape[0]
    taps = [S._unit_taps(n)] * 2 if p.exact else [p.taps] * 2
    S._ssim_nd(x, y, taps, 1.0 / (n * n) if p.exact else 1.0, [p.crop] * 2, p, smap, S._NONE[3])
    return smap


@settings(max_examples=60, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 70), win=st.sampled_from([1, 3, 5, 7, 9, 11, 13]),
       dtype=st.sampled_from(["uint8", "bool", "uint16"]), seed=st.integers(0, 2**16))
def test_kernel_map_equals_nd_path(h, w, win, dtype, seed):
    if min(h, w) < win:
        return
    rng = np.random.default_rng(seed)
    high = {"uint8": 256, "bool": 2, "uint16": 65536}[dtype]
    a = rng.integers(0, high, (h, w)).astype(dtype)
    b = rng.integers(0, high, (h, w)).astype(dtype)
    setup = S._setup(a.shape, a.dtype, b.shape, b.dtype, win, 255 if dtype != "bool" else 1,
                     None, False, 1, {"use_sample_covariance": win > 1})
    smap = np.empty((h, w))
    x, y = S._kernel_inputs(a, b, setup.float_type)
    S._ssim_sum(x, y, setup.params, smap, None)
    ref = _nd_map(a, b, win) if win > 1 else None
    if ref is not None:
        assert np.array_equal(smap, ref)
    # Saturated extremes: the largest sums the float path must hold exactly.
    if dtype == "uint8" and min(h, w) >= win:
        a[:] = 255
        b[:] = 255
        b[::2] = 0
        smap = np.empty((h, w))
        S._ssim_sum(a, b, setup.params, smap, None)
        if win > 1:
            assert np.array_equal(smap, _nd_map(a, b, win))

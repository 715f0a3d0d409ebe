"""Leaks (issue 7, item 4): 10,000 calls over the option combinations, errors
included, grow resident memory by less than 10 MiB after a warm-up.

Resident memory is read from /proc/self/statm (Linux), so that the kernels'
malloc'd scratch and OpenMP's thread stacks count as well as NumPy's arrays.
Behind the ``slow`` marker: ``python -m pytest -m slow tests/test_leaks.py``.
"""
import gc
import os
import warnings

import numpy as np
import pytest

import ssimfast

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc (Linux)"),
]

CALLS = 10_000
WARM_UP = 1_000
LIMIT = 10 << 20
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def _calls():
    """One closure per option combination (each call allocates and frees)."""
    rng = np.random.default_rng(4)
    a = rng.integers(0, 256, (48, 40), dtype=np.uint8)
    b = rng.integers(0, 256, (48, 40), dtype=np.uint8)
    rgb1 = rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)
    rgb2 = rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)
    f1, f2 = a.astype(np.float32) / 255, b.astype(np.float32) / 255
    vol1 = rng.integers(0, 256, (9, 12, 10), dtype=np.uint16)
    vol2 = rng.integers(0, 256, (9, 12, 10), dtype=np.uint16)
    nd1, nd2 = rng.random((7, 7, 8, 9)), rng.random((7, 7, 8, 9))
    stack1, stack2 = np.stack([a] * 4), np.stack([b] * 4)
    ssim = ssimfast.structural_similarity

    def refused(func, *args, **kw):
        try:
            func(*args, **kw)
        except (ValueError, TypeError):
            return
        raise AssertionError("expected a refusal")

    return [
        lambda: ssim(a, b),
        lambda: ssim(a, b, full=True),
        lambda: ssim(a, b, gradient=True, full=True),
        lambda: ssim(a, b, gaussian_weights=True, workers=2),
        lambda: ssim(a[::-1, ::2], b[:, ::-2], win_size=3, use_sample_covariance=False),
        lambda: ssim(rgb1, rgb2, channel_axis=-1, full=True),
        lambda: ssim(rgb1, rgb2, channel_axis=2, gradient=True),
        lambda: ssim(f1, f2, data_range=1.0),
        lambda: ssim(f1, f2, data_range=1.0, full=True, gradient=True, gaussian_weights=True),
        lambda: ssim(vol1, vol2, data_range=255, full=True),
        lambda: ssim(vol1, vol2, data_range=255, gradient=True),
        lambda: ssim(nd1, nd2, data_range=1.0, full=True, gradient=True),
        lambda: ssim(a[:, 0], b[:, 0], data_range=255),
        lambda: ssimfast.ssim_batch(stack1, stack2),
        lambda: ssimfast.ssim_batch([a, vol1], [b, vol2], data_range=255, full=True),
        lambda: ssimfast.ssim_tiled(a, b, tile=8),
        lambda: ssimfast.ssim_tiled(vol1, vol2, data_range=255, tile=4),
        lambda: ssimfast.report(a, b),
        lambda: refused(ssim, a, b[:-1]),
        lambda: refused(ssim, f1, f2),
        lambda: refused(ssim, a, b, win_size=4),
        lambda: refused(ssimfast.ssim_batch, stack1, stack2, data_range=-1),
    ]


def _run(calls, n):
    for i in range(n):
        calls[i % len(calls)]()


def test_rss_measure_sees_allocations():
    """The measurement can fail the test below: 32 MiB touched shows up."""
    before = rss()
    block = np.ones(32 << 20, dtype=np.uint8)
    grown = rss() - before
    del block
    assert grown >= 30 << 20, f"resident memory grew by {grown} bytes only"


def test_calls_do_not_leak():
    calls = _calls()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _run(calls, WARM_UP)
        gc.collect()
        before = rss()
        _run(calls, CALLS)
        gc.collect()
        grown = rss() - before
    assert grown < LIMIT, (
        f"{CALLS} calls over {len(calls)} option combinations grew resident memory "
        f"by {grown / (1 << 20):.1f} MiB (limit {LIMIT >> 20} MiB)")

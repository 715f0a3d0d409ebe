"""Threads: results do not depend on the number of OpenMP threads (``workers``
or threadpoolctl limits), bit for bit; ``workers`` validation; and several
Python threads calling at once get exactly the serial results.
"""

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import ssimfast
from ssimfast import structural_similarity

from helpers import add_noise, assert_identical, check_against_reference, convert, \
    crop_center, describe, real_image

CASES = [
    pytest.param("uint8", (512, 512), dict(), id="uint8-2d-uniform"),
    pytest.param("uint8", (512, 512), dict(gaussian_weights=True), id="uint8-2d-gauss"),
    pytest.param("uint16_wide", (300, 257), dict(win_size=11), id="uint16-2d-win11"),
    pytest.param("int64_wide", (200, 203), dict(win_size=3), id="int64-2d-win3"),
    pytest.param("float32", (333, 301), dict(), id="float32-2d"),
    pytest.param("float64", (333, 301), dict(gaussian_weights=True, sigma=2.5), id="float64-2d-gauss"),
    pytest.param("float16", (97, 131), dict(), id="float16-2d"),
    pytest.param("uint8", (16, 64, 64), dict(), id="uint8-3d"),
    pytest.param("float64", (9, 40, 50), dict(gaussian_weights=True, sigma=1.0), id="float64-3d-gauss"),
    pytest.param("float32", (4000,), dict(), id="float32-1d"),
    pytest.param("uint8", (200, 150, 3), dict(channel_axis=-1), id="uint8-rgb"),
]


def _make(variant, shape):
    cam = real_image("camera")
    n = int(np.prod(shape))
    flat = np.concatenate([cam.ravel()] * (1 + n // cam.size))[:n]
    base = flat.reshape(shape)
    a, dr = convert(base, variant)
    b, _ = convert(add_noise(base, 20.0, seed=n % 97), variant)
    return a, b, dr


@pytest.mark.parametrize("variant, shape, options", CASES)
def test_workers_bit_identical(variant, shape, options):
    a, b, dr = _make(variant, shape)
    kw = dict(data_range=dr, gradient=True, full=True, **options)
    serial = structural_similarity(a, b, workers=1, **kw)
    for workers in (2, 3, 4, 7, None, -1, -2):
        got = structural_similarity(a, b, workers=workers, **kw)
        assert_identical(got, serial, where=f"workers={workers}; {describe(a, b, **kw)}")
    # the mean-only path as well
    m1 = structural_similarity(a, b, workers=1, data_range=dr, **options)
    m2 = structural_similarity(a, b, workers=2, data_range=dr, **options)
    assert_identical(m1, m2, where=f"mean-only; {describe(a, b, **options)}")
    assert m1 == serial[0], "mean-only result differs from the full=True/gradient=True mean"


@pytest.mark.parametrize("variant, shape, options", CASES[:6])
def test_threadpool_limits_bit_identical(variant, shape, options):
    a, b, dr = _make(variant, shape)
    kw = dict(data_range=dr, gradient=True, full=True, **options)
    with threadpool_limits(limits=1, user_api="openmp"):
        one = structural_similarity(a, b, **kw)
    with threadpool_limits(limits=2, user_api="openmp"):
        two = structural_similarity(a, b, **kw)
    assert_identical(one, two, where=describe(a, b, **kw))
    assert_identical(one, structural_similarity(a, b, workers=2, **kw))
    check_against_reference(structural_similarity, a, b, **kw)


def test_many_workers_small_image():
    """More threads than rows: bands must not overlap or go missing."""
    rng = np.random.default_rng(7)
    a = rng.integers(0, 256, (9, 300), dtype=np.uint8)
    b = rng.integers(0, 256, (9, 300), dtype=np.uint8)
    ref = structural_similarity(a, b, workers=1, full=True, gradient=True, win_size=7)
    for workers in (2, 8, 9, 10, 64):
        assert_identical(structural_similarity(a, b, workers=workers, full=True, gradient=True,
                                               win_size=7), ref, where=f"workers={workers}")
    check_against_reference(structural_similarity, a, b, full=True, gradient=True, win_size=7,
                            workers=64)


def test_omp_num_threads_respected_and_result_unchanged():
    """OMP_NUM_THREADS=1 in a fresh process: one default thread, same numbers."""
    import ssimfast

    code = (
        "import numpy as np, ssimfast\n"
        "rng = np.random.default_rng(42)\n"
        "a = rng.integers(0, 256, (300, 310), dtype=np.uint8)\n"
        "b = rng.integers(0, 256, (300, 310), dtype=np.uint8)\n"
        "ssimfast.show_config()\n"
        "print('MEAN', repr(float(ssimfast.ssim(a, b, gaussian_weights=True))))\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(ssimfast.__file__)))
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=120, check=True).stdout
    thread_lines = [ln for ln in out.splitlines() if "thread" in ln.lower()]
    assert thread_lines and all("1" in ln for ln in thread_lines), out
    rng = np.random.default_rng(42)
    a = rng.integers(0, 256, (300, 310), dtype=np.uint8)
    b = rng.integers(0, 256, (300, 310), dtype=np.uint8)
    here = float(structural_similarity(a, b, gaussian_weights=True, workers=2))
    child = float(out.split("MEAN")[1].strip())
    assert child == here, (child, here)


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------
U8 = np.random.default_rng(1).integers(0, 256, (20, 20), dtype=np.uint8)


def test_workers_zero():
    with pytest.raises(ValueError, match="workers"):
        structural_similarity(U8, U8, workers=0)


@pytest.mark.parametrize("workers", [1.5, 2.0, "2", [2], 1j])
def test_workers_not_integer(workers):
    with pytest.raises(TypeError):
        structural_similarity(U8, U8, workers=workers)


@pytest.mark.parametrize("workers", [1, 2, os.cpu_count(), 3 * (os.cpu_count() or 1), -1, -2,
                                     np.int64(2)])
def test_workers_valid_values(workers):
    assert structural_similarity(U8, U8[::-1], workers=workers) == \
        structural_similarity(U8, U8[::-1], workers=1)


# --------------------------------------------------------------------------
# Concurrent Python threads
# --------------------------------------------------------------------------
def test_concurrent_python_threads_match_serial():
    inputs = []
    for k, name in enumerate(["camera", "moon", "brick", "grass"]):
        a = crop_center(real_image(name), 256, 256)
        if k % 2:
            a = a.astype(np.float32)
            b = add_noise(crop_center(real_image(name), 256, 256), 15.0, seed=k).astype(np.float32)
            kw = dict(data_range=255, gaussian_weights=True)
        else:
            b = add_noise(a, 15.0, seed=k)
            kw = dict()
        inputs.append((a, b, dict(kw, full=True, gradient=True)))
    serial = [structural_similarity(a, b, **kw) for a, b, kw in inputs]

    barrier = threading.Barrier(len(inputs))

    def work(i):
        a, b, kw = inputs[i]
        barrier.wait()
        out = []
        for _ in range(5):
            out.append(structural_similarity(a, b, workers=2, **kw))
        return out

    with ThreadPoolExecutor(max_workers=len(inputs)) as pool:
        results = list(pool.map(work, range(len(inputs))))
    for i, runs in enumerate(results):
        for r in runs:
            assert_identical(r, serial[i], where=f"thread {i}: {describe(*inputs[i][:2])}")


def test_concurrent_threads_same_input():
    """Many threads sharing one (read-only) input pair."""
    a = crop_center(real_image("text"), 160, 300)
    b = add_noise(a, 30.0, seed=2)
    a.flags.writeable = False
    b.flags.writeable = False
    want = structural_similarity(a, b, full=True)
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda _: structural_similarity(a, b, full=True), range(16)))
    for g in got:
        assert_identical(g, want)


def test_eight_threads_over_every_entry_point_match_serial():
    """Eight Python threads at once, each on its own input and entry point."""
    cam = crop_center(real_image("camera"), 192, 192)
    noisy = add_noise(cam, 12.0, seed=5)
    rgb1, rgb2 = np.dstack([cam, cam.T, cam[::-1]]), np.dstack([noisy, noisy.T, noisy[::-1]])
    vol1, vol2 = np.stack([cam[:40, :40]] * 12), np.stack([noisy[:40, :40]] * 12)
    f1, f2 = cam.astype(np.float64) / 255, noisy.astype(np.float32) / 255
    calls = [
        lambda: structural_similarity(cam, noisy, full=True),
        lambda: structural_similarity(f1, f2, data_range=1, gaussian_weights=True, gradient=True),
        lambda: structural_similarity(rgb1, rgb2, channel_axis=-1, full=True),
        lambda: structural_similarity(vol1, vol2, win_size=5),
        lambda: ssimfast.ssim_batch(np.stack([cam] * 6), np.stack([noisy] * 6)),
        lambda: ssimfast.ssim_tiled(cam, noisy, tile=17),
        lambda: ssimfast.report(cam, noisy, k=2).to_dict(),
        lambda: structural_similarity(cam[::2, ::-3], noisy[::2, ::-3], workers=1),
    ]
    serial = [call() for call in calls]
    barrier = threading.Barrier(len(calls))

    def work(i):
        barrier.wait()
        return [calls[i]() for _ in range(4)]

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        results = list(pool.map(work, range(len(calls))))
    for i, runs in enumerate(results):
        for r in runs:
            if isinstance(r, dict):
                assert r == serial[i]
            else:
                assert_identical(r, serial[i], where=f"call {i}")

"""The kernels' thread pool (ssimfast/_pool.h, _parallel.pxi): every parallel
entry point gives the same bits whatever the number of participants and
whichever of them takes which chunk; tiny calls wake nobody; several Python
threads share one pool of at most cores - 1 helpers; a fork child gets a
working pool of its own; and when no thread can be created the calling thread
does all the work.
"""
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import ssimfast
from ssimfast import structural_similarity
from ssimfast._extension import kernels

from helpers import add_noise, assert_identical, crop_center, real_image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(ssimfast.__file__)))


def _pair(shape, seed=0, dtype=np.uint8):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, shape).astype(dtype)
    b = np.clip(a + rng.normal(0, 25, shape), 0, 255).astype(dtype)
    return a, b


def _calls(workers):
    """One call per parallel kernel (and path), large enough to be shared."""
    a, b = _pair((300, 420))
    f1, f2 = a.astype(np.float64) / 255, b.astype(np.float32) / 255
    vol1, vol2 = _pair((24, 60, 70), seed=1)
    mask = np.ones(a.shape, bool)
    mask[40:90, 100:300] = False
    nd1, nd2 = _pair((7, 9, 30, 40), seed=2)
    return {
        "2d-running": lambda: structural_similarity(a, b, workers=workers),
        "2d-ring-full-grad": lambda: structural_similarity(
            a, b, gaussian_weights=True, full=True, gradient=True, workers=workers),
        "2d-float": lambda: structural_similarity(f1, f2, data_range=1, workers=workers),
        "2d-strided": lambda: structural_similarity(a[::2, ::-1], b[::2, ::-1], full=True,
                                                    workers=workers),
        "3d": lambda: structural_similarity(vol1, vol2, full=True, workers=workers),
        "3d-gauss-grad": lambda: structural_similarity(
            vol1, vol2, gaussian_weights=True, gradient=True, workers=workers),
        "nd": lambda: structural_similarity(nd1, nd2, full=True, gradient=True, workers=workers),
        "batch": lambda: ssimfast.ssim_batch(np.stack([a, b, a[::-1]] * 4),
                                             np.stack([b, a, b] * 4), workers=workers),
        "batch-gauss": lambda: ssimfast.ssim_batch(np.stack([a, b] * 3), np.stack([b, a] * 3),
                                                   gaussian_weights=True, workers=workers),
        "ms-ssim": lambda: ssimfast.ms_ssim(np.tile(a, (2, 2)), np.tile(b, (2, 2)),
                                            workers=workers),
        "masked": lambda: structural_similarity(a, b, mask=mask, full=True, workers=workers),
    }


def _run_all(workers):
    return {name: call() for name, call in _calls(workers).items()}


def test_bit_identical_for_any_worker_count_and_repetition():
    serial = _run_all(1)
    for rep in range(6):
        for workers in (2, 3, 4, None):
            got = _run_all(workers)
            for name in serial:
                assert_identical(got[name], serial[name],
                                 where=f"{name}, workers={workers}, repetition {rep}")


def test_filter_axis_and_downsample_bit_identical():
    rng = np.random.default_rng(3)
    src = rng.random((7, 90, 33))
    taps = np.array([0.1, 0.2, 0.4, 0.2, 0.1])
    want = np.empty_like(src)
    kernels.filter_axis(src, want, taps, 1)
    line = rng.random((50, 300, 1))
    want_line = np.empty_like(line)
    kernels.filter_axis(line, want_line, taps, 1)
    a, b = _pair((301, 299), seed=4)
    h, w = (301 + 1) // 2, (299 + 1) // 2
    want_x, want_y = np.empty((h, w)), np.empty((h, w))
    kernels.box_downsample_2d(a, b, 2, want_x, want_y, 1)
    for workers in (2, 3, 4) * 4:
        got = np.empty_like(src)
        kernels.filter_axis(src, got, taps, workers)
        assert_identical(got, want, where=f"filter_axis, workers={workers}")
        got = np.empty_like(line)
        kernels.filter_axis(line, got, taps, workers)
        assert_identical(got, want_line, where=f"filter_axis last axis, workers={workers}")
        gx, gy = np.empty((h, w)), np.empty((h, w))
        kernels.box_downsample_2d(a, b, 2, gx, gy, workers)
        assert_identical((gx, gy), (want_x, want_y), where=f"box_downsample_2d, {workers}")


def test_tiny_calls_wake_no_helper():
    """A 64x64 call is cheaper than waking a thread: it runs on the caller alone."""
    a, b = _pair((64, 64))
    structural_similarity(a, b, workers=2)
    before = kernels.pool_helper_chunks()
    for _ in range(200):
        structural_similarity(a, b, workers=2, gaussian_weights=True, full=True)
        structural_similarity(a, b, workers=2)
    assert kernels.pool_helper_chunks() == before


@pytest.mark.skipif(kernels.pool_cap() < 1 or not kernels.openmp_enabled(),
                    reason="one usable core: the pool starts no helper")
def test_helpers_take_part():
    """Helpers join large calls (how often depends on the machine's load, so
    only that they eventually do is checked)."""
    a, b = _pair((1024, 1024))
    before = kernels.pool_helper_chunks()
    for _ in range(300):
        structural_similarity(a, b, workers=2)
        if kernels.pool_helper_chunks() > before:
            break
    assert kernels.pool_helper_chunks() > before
    assert 1 <= kernels.pool_helpers() <= kernels.pool_cap()


def test_python_threads_share_one_pool():
    """Eight Python threads calling at once, each with the default workers:
    same bits as serial, and no more helpers than cores - 1 in all."""
    cases = []
    for k in range(8):
        a = crop_center(real_image(["camera", "moon", "brick", "grass"][k % 4]), 256, 256)
        b = add_noise(a, 10.0 + k, seed=k)
        kw = dict(gaussian_weights=bool(k % 2), full=k % 3 == 0)
        cases.append((a, b, kw))
    serial = [structural_similarity(a, b, workers=1, **kw) for a, b, kw in cases]
    barrier = threading.Barrier(len(cases))

    def work(i):
        a, b, kw = cases[i]
        barrier.wait()
        return [structural_similarity(a, b, **kw) for _ in range(10)]

    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        results = list(pool.map(work, range(len(cases))))
    for i, runs in enumerate(results):
        for r in runs:
            assert_identical(r, serial[i], where=f"thread {i}")
    assert kernels.pool_helpers() <= max(0, kernels.pool_cap())


def _child(code):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300, check=True).stdout


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() here")
def test_fork_child_uses_its_own_pool():
    """The parent's helpers do not survive fork(); the child starts its own
    and gets the parent's bits (a pool left locked or with the parent's jobs
    would hang or crash the child)."""
    out = _child(
        "import os, sys, warnings, numpy as np, ssimfast\n"
        "warnings.simplefilter('ignore')\n"
        "rng = np.random.default_rng(0)\n"
        "a = rng.integers(0, 256, (700, 900), dtype=np.uint8)\n"
        "b = rng.integers(0, 256, (700, 900), dtype=np.uint8)\n"
        "f = lambda: float(ssimfast.structural_similarity(a, b, gaussian_weights=True, workers=2))\n"
        "want = [f() for _ in range(5)][-1]\n"
        "r, w = os.pipe()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    got = [f() for _ in range(5)]\n"
        "    os.write(w, repr(got).encode())\n"
        "    os._exit(0)\n"
        "os.close(w)\n"
        "data = b''\n"
        "while True:\n"
        "    chunk = os.read(r, 65536)\n"
        "    if not chunk: break\n"
        "    data += chunk\n"
        "_, status = os.waitpid(pid, 0)\n"
        "print('STATUS', status)\n"
        "print('SAME', eval(data.decode()) == [want] * 5)\n"
    )
    assert "STATUS 0" in out and "SAME True" in out, out


def test_no_threads_available_caller_does_the_work():
    """When no helper thread can be created the call still completes, on the
    calling thread alone, with the same bits."""
    out = _child(
        "import numpy as np, ssimfast\n"
        "from ssimfast._extension import kernels\n"
        "kernels._pool_refuse_threads(True)\n"
        "rng = np.random.default_rng(0)\n"
        "a = rng.integers(0, 256, (600, 800), dtype=np.uint8)\n"
        "b = rng.integers(0, 256, (600, 800), dtype=np.uint8)\n"
        "kw = dict(gaussian_weights=True, full=True, gradient=True)\n"
        "two = ssimfast.structural_similarity(a, b, workers=2, **kw)\n"
        "one = ssimfast.structural_similarity(a, b, workers=1, **kw)\n"
        "same = all(np.array_equal(p, q) for p, q in zip(one, two))\n"
        "print('SAME', same, 'HELPERS', kernels.pool_helpers(), kernels.pool_helper_chunks())\n"
    )
    assert "SAME True HELPERS 0 0" in out, out

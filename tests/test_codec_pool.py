"""The codec kernels (ssimfast._codec_cy: sums of squared differences for
MSE/PSNR, FFmpeg's SSIM per plane) on ssimfast's thread pool: the same bits for
any number of participants, on repeated calls and from several Python threads;
small calls wake nobody; helpers do join large calls; and with no thread to be
had the calling thread does all the work. (_codec_cy has its own pool, apart
from the SSIM kernels' one.)"""
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import ssimfast
from ssimfast import _codec_cy
from ssimfast._ffmpeg import ffmpeg_ssim_sse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(ssimfast.__file__)))


def _pair(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        a = rng.random(shape).astype(dtype)
        return a, (a + rng.normal(0, 0.1, shape)).astype(dtype)
    info = np.iinfo(dtype)
    hi = min(int(info.max), 1023) if info.bits > 8 else int(info.max)
    a = rng.integers(max(int(info.min), -hi), hi + 1, shape).astype(dtype)
    b = np.clip(a.astype(np.int64) + rng.integers(-40, 41, shape), max(int(info.min), -hi), hi)
    return a, b.astype(dtype)


def _calls():
    """(name, function of n_threads): each parallel entry point, large enough
    (2.25 million elements, a 720p plane) for up to four participants."""
    calls = []
    for dtype in (np.uint8, np.int8, np.uint16, np.int16, np.int32):
        x, y = (v.ravel() for v in _pair((1500, 1500), dtype))
        calls.append((f"int-{np.dtype(dtype).name}",
                      lambda t, x=x, y=y: _codec_cy.sq_diff_sum_int(x, y, t)))
    for dtype in (np.float64, np.int64, np.uint32):
        x, y = (v.ravel() for v in _pair((1500, 1500), dtype, seed=1))
        calls.append((f"f64-{np.dtype(dtype).name}",
                      lambda t, x=x, y=y: _codec_cy.sq_diff_sum_float64(x, y, t)))
    x, y = (v.ravel() for v in _pair((1500, 1501), np.float32, seed=2))
    calls.append(("f32", lambda t, x=x, y=y: _codec_cy.sq_diff_sum_float32(x, y, t)))
    a, b = _pair((722, 1283), np.uint8, seed=3)
    calls.append(("plane8", lambda t, a=a, b=b: _codec_cy.ffmpeg_ssim_plane(a, b, 255, t)))
    a, b = _pair((722, 1283), np.uint16, seed=4)
    calls.append(("plane10", lambda t, a=a, b=b: _codec_cy.ffmpeg_ssim_plane(a, b, 1023, t)))
    return calls


CALLS = _calls()


@pytest.mark.parametrize("name,call", CALLS, ids=[c[0] for c in CALLS])
def test_bit_identical_for_workers_1_to_4_and_repeated_calls(name, call):
    want = call(1)
    got = [call(t) for t in (1, 2, 3, 4) for _ in range(3)]
    assert all(repr(g) == repr(want) for g in got), (name, want, set(map(repr, got)))


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, np.float64])
def test_sums_are_numpy_sums(dtype):
    """The pooled sums against NumPy: exact for integers, np.mean's pairwise
    rounding for floats (what _psnr relies on to match scikit-image)."""
    x, y = (v.ravel() for v in _pair((1100, 1300), dtype, seed=5))
    if np.dtype(dtype).kind == "f":
        want = float(np.mean(np.square(x - y), dtype=np.float64) * x.size)
        fn = _codec_cy.sq_diff_sum_float32 if dtype == np.float32 else _codec_cy.sq_diff_sum_float64
        # np.mean divides the pairwise sum by n: compare the means.
        assert fn(x, y, 4) / x.size == want / x.size
    else:
        d = x.astype(np.int64) - y.astype(np.int64)
        assert _codec_cy.sq_diff_sum_int(x, y, 4) == int(np.sum(d * d))


def test_public_functions_bit_identical_for_any_workers():
    a, b = _pair((1080, 1920), np.uint8, seed=6)
    psnr = {repr(ssimfast.peak_signal_noise_ratio(a, b, workers=w)) for w in (1, 2, 3, 4, None)}
    ff = {repr(ffmpeg_ssim_sse(a, b, workers=w)) for w in (1, 2, 3, 4, None)}
    assert len(psnr) == 1 and len(ff) == 1, (psnr, ff)


def test_python_threads_calling_at_once():
    """Eight Python threads share the module's pool: the same bits as serial."""
    want = {name: repr(call(1)) for name, call in CALLS}
    jobs = [(name, call) for name, call in CALLS] * 2
    with ThreadPoolExecutor(8) as ex:
        got = list(ex.map(lambda job: (job[0], repr(job[1](4))), jobs))
    assert all(want[name] == value for name, value in got)


def test_small_calls_wake_no_helper():
    """A 64x64 plane and a 100,000-element sum cost less than waking a thread."""
    a, b = _pair((64, 64), np.uint8)
    x, y = (v.ravel() for v in _pair((250, 400), np.uint8))
    _codec_cy.ffmpeg_ssim_plane(a, b, 255, 4)
    before = _codec_cy.pool_helper_chunks()
    for _ in range(200):
        _codec_cy.ffmpeg_ssim_plane(a, b, 255, 4)
        _codec_cy.sq_diff_sum_int(x, y, 4)
        _codec_cy.sq_diff_sum_float64(x.astype(np.float64), y.astype(np.float64), 4)
    assert _codec_cy.pool_helper_chunks() == before


@pytest.mark.skipif(_codec_cy.pool_cap() < 1, reason="one usable core: the pool starts no helper")
def test_helpers_take_part():
    """Helpers join large calls (how often depends on the load: only that they
    eventually do is checked)."""
    call = dict(CALLS)["plane8"]
    before = _codec_cy.pool_helper_chunks()
    for _ in range(300):
        call(2)
        if _codec_cy.pool_helper_chunks() > before:
            break
    assert _codec_cy.pool_helper_chunks() > before
    assert 1 <= _codec_cy.pool_helpers() <= _codec_cy.pool_cap()


def test_no_threads_available_caller_does_the_work():
    code = (
        "import numpy as np\n"
        "from ssimfast import _codec_cy\n"
        "_codec_cy._pool_refuse_threads(True)\n"
        "rng = np.random.default_rng(0)\n"
        "a = rng.integers(0, 256, (720, 1280), dtype=np.uint8)\n"
        "b = rng.integers(0, 256, (720, 1280), dtype=np.uint8)\n"
        "same = (_codec_cy.ffmpeg_ssim_plane(a, b, 255, 4) == _codec_cy.ffmpeg_ssim_plane(a, b, 255, 1)\n"
        "        and _codec_cy.sq_diff_sum_int(a.ravel(), b.ravel(), 4)\n"
        "        == _codec_cy.sq_diff_sum_int(a.ravel(), b.ravel(), 1))\n"
        "print('SAME', same, 'HELPERS', _codec_cy.pool_helpers(), _codec_cy.pool_helper_chunks())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "SAME True HELPERS 0 0" in out.stdout, out.stdout + out.stderr

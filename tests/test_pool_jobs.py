"""Jobs of the kernels' pool beyond one image (ssimfast/_pool.h, _ssim2d.pxi):
several 2-D pairs in one job (ssim_2d_multi: the channels of an image, the
planes of a 4:2:0 frame) give each pair's ssim_2d bits; calls from several
Python threads at once (a caller that finds the pool busy works alone) give
the serial bits and do not deadlock; a caller that takes the unstarted
items of a late helper's chunk (stealing) gives the same bits too; and a
mean-only call returns without waiting for a helper still running an item
(it computes that item itself), whose inputs stay alive until that helper is
done and are then released.
"""
import contextlib
import gc
import threading
import time
import tracemalloc
import weakref
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import ssimfast
from ssimfast import structural_similarity
from ssimfast._extension import kernels
from ssimfast._ssim import NONE, gaussian_taps, unit_taps, uniform_taps

from helpers import assert_identical

C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

# Planes of different shapes: a 4:2:0 frame (Y, U, V), one wider than a panel
# of the ring path (1024 columns), a narrow one and one with no interior.
SHAPES = [(96, 176), (48, 88), (48, 88), (40, 1700), (9, 12), (5, 5)]


def _pair(shape, seed, dtype=np.uint8):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, shape)
    b = np.clip(a + rng.normal(0, 25, shape), 0, 255)
    return a.astype(dtype), b.astype(dtype)


def _kernel_args(window, dtype):
    """(taps, scale, running, crop) as the Python layer passes them."""
    if window == "gaussian":
        return gaussian_taps(1.5, 5), 1.0, False, 5
    if dtype == np.uint8:  # exact window sums, sliding from row to row
        return unit_taps(7), 1.0 / 49, True, 3
    return uniform_taps(7), 1.0, False, 3


def _one_by_one(pairs, window, dtype, want_map, want_grad):
    taps, scale, running, crop = _kernel_args(window, dtype)
    out = []
    for x, y in pairs:
        smap = np.full(x.shape, np.nan) if want_map else NONE[2]
        tmaps = np.full((3,) + x.shape, np.nan) if want_grad else NONE[3]
        rows = np.zeros(x.shape[0])
        total = kernels.ssim_2d(x, y, taps, taps, crop, x.shape[0] - crop, crop, scale,
                                C1, C2, 1.0, smap, tmaps, 1, running, rows)
        out.append((np.float64(total), smap, tmaps))
    return out


def _all_at_once(pairs, window, dtype, want_map, want_grad, workers):
    taps, scale, running, crop = _kernel_args(window, dtype)
    smaps = [np.full(x.shape, np.nan) if want_map else NONE[2] for x, _ in pairs]
    tmaps = [np.full((3,) + x.shape, np.nan) if want_grad else NONE[3] for x, _ in pairs]
    totals = np.full(len(pairs), np.nan)
    kernels.ssim_2d_multi([x for x, _ in pairs], [y for _, y in pairs], taps, taps, crop, crop,
                          scale, C1, C2, 1.0, smaps, tmaps, workers, running, totals)
    return [(totals[k], smaps[k], tmaps[k]) for k in range(len(pairs))]


@pytest.mark.parametrize("workers", [1, 2, 3, 4])
@pytest.mark.parametrize("window", ["uniform", "gaussian"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_multi_gives_each_pairs_ssim_2d_bits(workers, window, dtype):
    pairs = [_pair(shape, seed=k, dtype=dtype) for k, shape in enumerate(SHAPES)]
    # One pair as a strided view (a channel of interleaved RGB).
    rgb = _pair((70, 130, 3), seed=9, dtype=dtype)
    pairs.append((rgb[0][..., 1], rgb[1][..., 1]))
    for want_map, want_grad in [(False, False), (True, False), (True, True)]:
        want = _one_by_one(pairs, window, dtype, want_map, want_grad)
        got = _all_at_once(pairs, window, dtype, want_map, want_grad, workers)
        where = f"{window} {np.dtype(dtype)} workers={workers} map={want_map} grad={want_grad}"
        for k, (w, g) in enumerate(zip(want, got)):
            assert_identical(g, w, where=f"pair {k} {SHAPES[k] if k < len(SHAPES) else 'rgb'}; "
                                         f"{where}")


def test_multi_checks_its_arguments():
    x, y = _pair((20, 20), 0)
    taps = unit_taps(7)
    args = dict(taps0=taps, taps1=taps, crop0=3, crop1=3, scale=1 / 49, c1=C1, c2=C2,
                cov_norm=1.0, n_threads=2, running=True)

    def call(xs, ys, smaps=None, tmaps=None, totals=None):
        n = len(xs)
        kernels.ssim_2d_multi(xs, ys, smaps=[NONE[2]] * n if smaps is None else smaps,
                              tmaps=[NONE[3]] * n if tmaps is None else tmaps,
                              totals=np.empty(n) if totals is None else totals, **args)

    with pytest.raises(ValueError, match="same length"):
        call([x, x], [y])
    with pytest.raises(ValueError, match=r"totals must be \(K,\)"):
        call([x], [y], totals=np.empty(2))
    with pytest.raises(ValueError, match="differ in shape"):
        call([x, x], [y, y[:10]])
    with pytest.raises(ValueError, match="smap must be"):
        call([x], [y], smaps=[np.empty((3, 3))])
    with pytest.raises(ValueError, match="no kernel for images of dtype"):
        call([x.astype(np.int8)], [y.astype(np.int8)])
    with pytest.raises(ValueError, match="dtype mismatch"):  # one dtype for all pairs
        call([x, x.astype(np.float64)], [y, y.astype(np.float64)])
    call([], [])  # nothing to do


@pytest.mark.parametrize("channel_axis", [0, -1])
@pytest.mark.parametrize("options", [
    {}, dict(full=True, gradient=True),
    dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, full=True)])
def test_channels_give_the_per_channel_bits(channel_axis, options):
    """A multichannel call equals its channels scored one by one (means stored
    in the float type and averaged, maps stacked), for any worker count."""
    a, b = _pair((3, 90, 140) if channel_axis == 0 else (90, 140, 4), seed=3)
    n = a.shape[channel_axis]
    per = [structural_similarity(np.take(a, c, channel_axis), np.take(b, c, channel_axis),
                                 workers=1, **options) for c in range(n)]
    per = [r if isinstance(r, tuple) else (r,) for r in per]
    mean = np.asarray([r[0] for r in per], dtype=np.float64).mean()
    want = (mean,) + tuple(np.stack([r[i] for r in per], axis=channel_axis)
                           for i in range(1, len(per[0])))
    for workers in (1, 2, 3, 4, None):
        got = structural_similarity(a, b, channel_axis=channel_axis, workers=workers, **options)
        assert_identical(got, want[0] if len(want) == 1 else want,
                         where=f"workers={workers} {options}")


def test_channels_of_1d_signals_and_batches():
    a, b = _pair((400, 3), seed=4)
    want = [structural_similarity(a[:, c], b[:, c], win_size=7, workers=1, full=True,
                                  gradient=True) for c in range(3)]
    got = structural_similarity(a, b, win_size=7, channel_axis=1, full=True, gradient=True,
                                workers=2)
    assert got[0] == np.asarray([w[0] for w in want]).mean()
    assert_identical(got[1], np.stack([w[1] for w in want], axis=1))
    assert_identical(got[2], np.stack([w[2] for w in want], axis=1))
    stack = [_pair((60, 80, 3), seed=s) for s in range(6)]
    batch = ssimfast.ssim_batch([p[0] for p in stack], [p[1] for p in stack], channel_axis=-1)
    one = [structural_similarity(x, y, channel_axis=-1, workers=1) for x, y in stack]
    assert_identical(batch, np.asarray(one, dtype=np.float64))


def test_python_threads_mixed_calls_same_bits_no_deadlock():
    """Eight Python threads at once with the default workers, on calls that
    share the pool (channels in one job, stealing jobs, other kernels) and
    calls that run alone: the serial bits every time, and every thread ends."""
    rgb = _pair((300, 260, 3), seed=5)
    big = _pair((420, 600), seed=6)
    vol = _pair((20, 64, 70), seed=7)
    cases = [
        lambda w: structural_similarity(*rgb, channel_axis=-1, workers=w),
        lambda w: structural_similarity(*big, gaussian_weights=True, full=True, workers=w),
        lambda w: structural_similarity(*big, workers=w),
        lambda w: structural_similarity(*vol, workers=w),
    ]
    serial = [case(1) for case in cases]
    barrier = threading.Barrier(8)

    def work(i):
        barrier.wait()
        return [cases[(i + r) % len(cases)](None) for r in range(12)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(work, i) for i in range(8)]
        results = [f.result(timeout=600) for f in futures]
    for i, runs in enumerate(results):
        for r, got in enumerate(runs):
            assert_identical(got, serial[(i + r) % len(cases)], where=f"thread {i} call {r}")
    assert kernels.pool_helpers() <= max(0, kernels.pool_cap())


@pytest.mark.skipif(kernels.pool_cap() < 1 or not kernels.openmp_enabled(),
                    reason="one usable core: the pool starts no helper")
@pytest.mark.parametrize("options", [dict(gaussian_weights=True), {},
                                     dict(channel_axis=-1, full=True)])
def test_caller_steals_from_a_late_helper(options):
    """A helper that sleeps after taking a chunk (as if preempted) has its
    unstarted items taken by the caller: the same bits as one thread."""
    a, b = _pair((480, 640, 3) if "channel_axis" in options else (480, 640), seed=8)
    want = structural_similarity(a, b, workers=1, **options)
    before = kernels.pool_stolen()
    kernels._pool_delay_helpers(20000)
    try:
        for _ in range(100):  # until a helper joins while the caller still works
            assert_identical(structural_similarity(a, b, workers=2, **options), want)
            if kernels.pool_stolen() > before:
                break
    finally:
        kernels._pool_delay_helpers(0)
    assert kernels.pool_stolen() > before


# ---------------------------------------------------------------------------
# A caller does not wait for a helper still running an item (mean-only ssim_2d:
# ssimfast_pool_run_detached); what that helper reads outlives the call.
# ---------------------------------------------------------------------------

needs_helpers = pytest.mark.skipif(kernels.pool_cap() < 1 or not kernels.openmp_enabled(),
                                   reason="one usable core: the pool starts no helper")


def _wait_for(condition, timeout=60.0):
    """Polls `condition` (running Python code, so that pending calls run)."""
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def _settle():
    """Waits until no abandoned job is left, and everything it kept is released."""
    _wait_for(lambda: kernels.pool_orphans() == 0)
    kernels._pool_release_deferred()
    _wait_for(lambda: kernels.pool_unreleased() == 0)


@contextlib.contextmanager
def _slow_items(microseconds, defer=False):
    kernels._pool_delay_items(microseconds)
    kernels._pool_defer_releases(defer)
    try:
        yield
    finally:
        kernels._pool_delay_items(0)
        kernels._pool_defer_releases(False)


def _abandoning_call(a, b, options, tries=200):
    """structural_similarity(workers=2) until a call leaves a helper behind
    (its item taken over by the caller); returns (result, seconds of that call)."""
    before = kernels.pool_taken_over()
    for _ in range(tries):
        start = time.perf_counter()
        got = structural_similarity(a, b, workers=2, **options)
        took = time.perf_counter() - start
        if kernels.pool_taken_over() > before:
            return got, took
    pytest.fail("no helper took an item in %d calls" % tries)


@needs_helpers
@pytest.mark.parametrize("options", [{}, dict(gaussian_weights=True),
                                     dict(gaussian_weights=True, data_range=255.0),
                                     dict(channel_axis=-1), dict(channel_axis=0)])
def test_caller_does_not_wait_for_a_running_helper(options):
    """A helper that sleeps 1.5 s inside an item (as if preempted while computing
    it): the caller computes that item itself and returns while the helper
    still sleeps (its job is an orphan then), with the bits of workers=1.
    (Channels: ssim_2d_multi's job, items of several pairs.)"""
    shape = {-1: (480, 640, 3), 0: (3, 480, 700)}.get(options.get("channel_axis"), (480, 640))
    a, b = _pair(shape, seed=11)
    if "data_range" in options:
        a, b = a.astype(np.float32), b.astype(np.float32)
    want = structural_similarity(a, b, workers=1, **options)
    _settle()
    with _slow_items(1_500_000):
        got, took = _abandoning_call(a, b, options)
        orphans = kernels.pool_orphans()
    assert_identical(got, want)
    assert orphans >= 1  # the call ended before the helper's item did
    assert took < 1.0, f"the call took {took:.3f} s: it waited for the helper"
    _settle()
    # The pool works on (its helper is back), with the same bits.
    for _ in range(5):
        assert_identical(structural_similarity(a, b, workers=2, **options), want)


@needs_helpers
@pytest.mark.parametrize("options", [{}, dict(channel_axis=-1)])
def test_a_caller_keeps_its_block_until_it_has_read_the_sums(options):
    """A caller that left a late helper behind still reads the row sums in its
    block. When that helper is done first (the caller pauses after leaving,
    by a test hook), the block is not released then, even if another thread
    releases what late helpers left: the caller releases it once it has the
    sums, with the bits of workers=1."""
    a, b = _pair((480, 640, 3) if options else (480, 640), seed=13)
    want = structural_similarity(a, b, workers=1, **options)
    _settle()
    returned, seen = threading.Event(), {}

    def drain_while_the_caller_pauses():
        try:
            _wait_for(lambda: kernels.pool_orphans() >= 1)  # the caller has left
            _wait_for(lambda: kernels.pool_orphans() == 0)  # its late helper is done
            kernels._pool_release_deferred()
            seen["unreleased"] = kernels.pool_unreleased()
            seen["caller back"] = returned.is_set()
        except BaseException as exc:  # (reported by the test's thread)
            seen["error"] = exc

    watcher = threading.Thread(target=drain_while_the_caller_pauses)
    kernels._pool_delay_callers(1_500_000)
    try:
        with _slow_items(200_000):
            watcher.start()
            got, _ = _abandoning_call(a, b, options)
            returned.set()
    finally:
        kernels._pool_delay_callers(0)
        returned.set()
        watcher.join()
    assert "error" not in seen, seen
    assert not seen["caller back"]  # the drain ran while the caller paused
    assert seen["unreleased"] >= 1  # and left the caller's block alone
    assert_identical(got, want)
    _settle()
    assert kernels.pool_unreleased() == 0  # the caller released it


@needs_helpers
@pytest.mark.parametrize("defer", [False, True])
@pytest.mark.parametrize("options", [{}, dict(channel_axis=-1)])
def test_a_late_helper_keeps_the_inputs_alive(defer, options):
    """The inputs of a call that left a helper behind stay alive (kept by the
    job) after the caller drops them, until the helper is done; then they are
    released: by a pending call, or (defer: as when Python's queue of pending
    calls is full) by the next kernel call."""
    a, b = _pair((480, 640, 3) if options else (480, 640), seed=12)
    want = structural_similarity(a, b, workers=1, **options)
    _settle()
    with _slow_items(300_000, defer=defer):
        x, y = a.copy(), b.copy()
        got, _ = _abandoning_call(x, y, options)
        assert kernels.pool_orphans() >= 1
        refs = [weakref.ref(x), weakref.ref(y)]
        del x, y, got
        gc.collect()
        assert all(r() is not None for r in refs)  # the late helper still reads them
        _wait_for(lambda: kernels.pool_orphans() == 0)
    if defer:
        time.sleep(0.05)
        assert kernels.pool_unreleased() >= 1 and all(r() is not None for r in refs)
        structural_similarity(a[:64, :64], b[:64, :64], **options)  # a kernel call releases them
    _wait_for(lambda: kernels.pool_unreleased() == 0)
    gc.collect()
    assert all(r() is None for r in refs)
    assert_identical(structural_similarity(a, b, workers=2, **options), want)


@needs_helpers
@pytest.mark.parametrize("defer", [False, True])
def test_late_helpers_from_many_threads_release_everything(defer):
    """Many calls from several Python threads, each on fresh arrays dropped at
    once, with helpers sleeping inside items: the serial bits, no crash, and
    every abandoned job's memory and references are released in the end
    (the scratch blocks are traced by tracemalloc: no growth)."""
    pairs = [_pair((256 + 16 * k, 384), seed=20 + k) for k in range(3)]
    pairs.append(_pair((200, 300, 3), seed=24))  # channels: one ssim_2d_multi job
    options = [{}] * 3 + [dict(channel_axis=-1)]
    want = [structural_similarity(a, b, workers=1, **o) for (a, b), o in zip(pairs, options)]
    _settle()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        taken = kernels.pool_taken_over()

        def work(i):
            out = []
            for r in range(25):
                a, b = pairs[(i + r) % len(pairs)]
                x, y = a.copy(), b.copy()
                out.append(structural_similarity(x, y, workers=2, **options[(i + r) % len(pairs)]))
                del x, y
                if r % 5 == 0:
                    gc.collect()
            return out

        with _slow_items(3_000, defer=defer):
            with ThreadPoolExecutor(max_workers=4) as pool:
                results = [f.result(timeout=600) for f in [pool.submit(work, i) for i in range(4)]]
        _settle()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    for i, runs in enumerate(results):
        for r, got in enumerate(runs):
            assert_identical(got, want[(i + r) % len(pairs)], where=f"thread {i} call {r}")
    assert kernels.pool_taken_over() >= taken
    assert kernels.pool_orphans() == 0 and kernels.pool_unreleased() == 0
    assert grown < 4 << 20, f"{grown} bytes still traced after the calls"


@needs_helpers
def test_maps_and_gradients_still_wait_for_helpers():
    """Calls that write a map or gradient (into the caller's arrays) wait for
    every helper: none is left behind, whatever the helpers' delays."""
    a, b = _pair((480, 640), seed=13)
    rgb = _pair((300, 400, 3), seed=14)
    cases = [lambda w: structural_similarity(a, b, workers=w, full=True, gradient=True),
             lambda w: structural_similarity(a, b, workers=w, full=True),
             lambda w: structural_similarity(*rgb, workers=w, channel_axis=-1, full=True)]
    want = [case(1) for case in cases]
    _settle()
    taken = kernels.pool_taken_over()
    with _slow_items(20_000):
        for _ in range(5):
            for case, w in zip(cases, want):
                assert_identical(case(2), w)
                assert kernels.pool_orphans() == 0
    assert kernels.pool_taken_over() == taken

"""ssim_batch: one score per pair, bit-identical to structural_similarity, in
parallel; errors name the pair."""
import threading

import numpy as np
import pytest
import ssimfast

from helpers import crop_center, distort, real_image


def _stack(n=6, size=64, seed=0):
    rng = np.random.default_rng(seed)
    ims1 = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
    noise = rng.normal(0, 25, ims1.shape)
    ims2 = np.clip(ims1 + noise * np.linspace(0, 1, n)[:, None, None], 0, 255).astype(np.uint8)
    return ims1, ims2


@pytest.mark.parametrize("workers", [1, 2, None])
@pytest.mark.parametrize("options", [{}, {"gaussian_weights": True, "sigma": 1.5},
                                     {"win_size": 3, "use_sample_covariance": False}])
def test_stacked_batch_equals_one_call_per_pair(workers, options):
    ims1, ims2 = _stack()
    scores = ssimfast.ssim_batch(ims1, ims2, workers=workers, **options)
    want = [ssimfast.structural_similarity(a, b, **options) for a, b in zip(ims1, ims2)]
    assert scores.dtype == np.float64 and scores.shape == (len(ims1),)
    assert scores.tolist() == [float(w) for w in want]
    assert scores[0] == 1.0 and np.all(np.diff(scores) < 0)  # more noise, lower score


def test_sequence_of_pairs_of_different_sizes_and_dtypes():
    cam, coffee = real_image("camera"), real_image("coffee")
    ims1 = [cam, crop_center(cam, 100, 120), coffee, cam.astype(np.float64) / 255]
    ims2 = [distort(cam, "noise"), crop_center(distort(cam, "blur"), 100, 120),
            distort(coffee, "noise"), distort(cam, "blur").astype(np.float64) / 255]
    options = [{}, {}, {"channel_axis": -1}, {"data_range": 1.0}]
    got = [ssimfast.ssim_batch([a], [b], **o)[0] for a, b, o in zip(ims1, ims2, options)]
    want = [float(ssimfast.structural_similarity(a, b, **o)) for a, b, o in zip(ims1, ims2, options)]
    assert got == want
    scores = ssimfast.ssim_batch(ims1[:2], ims2[:2])
    assert scores.tolist() == want[:2]


def test_full_and_gradient_return_per_pair_maps():
    ims1, ims2 = _stack(n=3, size=40)
    scores, grads, maps = ssimfast.ssim_batch(ims1, ims2, gradient=True, full=True)
    for i in range(3):
        s, g, m = ssimfast.structural_similarity(ims1[i], ims2[i], gradient=True, full=True)
        assert scores[i] == s
        assert np.array_equal(grads[i], g) and np.array_equal(maps[i], m)


def test_progress_callback_counts_every_pair_in_the_calling_thread():
    ims1, ims2 = _stack(n=9, size=32)
    calls, threads = [], set()

    def progress(done, total):
        calls.append((done, total))
        threads.add(threading.get_ident())

    ssimfast.ssim_batch(list(ims1), list(ims2), workers=2, progress=progress)  # pair by pair
    assert calls == [(i, 9) for i in range(1, 10)]
    assert threads == {threading.get_ident()}


def test_progress_of_a_large_stack_comes_in_groups():
    ims1, ims2 = _stack(n=150, size=16)
    calls = []
    scores = ssimfast.ssim_batch(ims1, ims2, win_size=3, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(64, 150), (128, 150), (150, 150)]
    assert scores.tolist() == [float(ssimfast.structural_similarity(a, b, win_size=3))
                               for a, b in zip(ims1, ims2)]


@pytest.mark.parametrize("layout", ["fortran", "strided", "float32", "bool"])
def test_stack_layouts_and_dtypes_bit_identical(layout):
    ims1, ims2 = _stack(n=5, size=40)
    options = {}
    if layout == "fortran":
        ims1, ims2 = np.asfortranarray(ims1), np.asfortranarray(ims2)
    elif layout == "strided":
        ims1, ims2 = ims1[::2, ::2, 1::3], ims2[::2, ::2, 1::3]
    elif layout == "float32":
        ims1, ims2 = ims1.astype(np.float32), ims2.astype(np.float32)
        options = {"data_range": 255, "gaussian_weights": True}
    else:
        ims1, ims2 = ims1 > 127, ims2 > 127
    scores = ssimfast.ssim_batch(ims1, ims2, **options)
    assert scores.tolist() == [float(ssimfast.structural_similarity(a, b, **options))
                               for a, b in zip(ims1, ims2)]


def test_a_stack_beside_a_list():
    ims1, ims2 = _stack(n=3, size=20)
    assert ssimfast.ssim_batch(ims1, list(ims2)).tolist() == ssimfast.ssim_batch(ims1, ims2).tolist()


def test_empty_batch():
    assert ssimfast.ssim_batch([], []).shape == (0,)


def test_mismatched_pair_is_named_before_any_scoring():
    cam = real_image("camera")
    calls = []
    with pytest.raises(ValueError, match=r"pair 2: .*ims1\[2\]\.shape=\(64, 64\) but ims2\[2\]\.shape=\(64, 63\)"):
        ssimfast.ssim_batch([cam, cam, cam[:64, :64]], [cam, cam, cam[:64, :63]],
                            progress=lambda d, t: calls.append(d))
    assert calls == []  # checked before the first pair was scored


@pytest.mark.parametrize("ims1, ims2, error, pattern", [
    (np.zeros((3, 8, 8)), np.zeros((2, 8, 8)), ValueError, r"ims1\.shape=\(3, 8, 8\)"),
    (np.zeros(8), np.zeros(8), ValueError, "leading batch axis"),
    ([np.zeros((8, 8))], [np.zeros((8, 8)), np.zeros((8, 8))], ValueError, "holds 1 images"),
    (5, 6, TypeError, "two sequences of images"),
    ([np.zeros((8, 8), complex)], [np.zeros((8, 8))], TypeError, "pair 0: im1 is complex"),
    ([np.zeros((8, 8))], [np.zeros((8, 8))], ValueError, "pair 0: .*data_range"),
])
def test_bad_batches(ims1, ims2, error, pattern):
    with pytest.raises(error, match=pattern):
        ssimfast.ssim_batch(ims1, ims2)


def test_bad_options_and_progress():
    ims1, ims2 = _stack(n=2, size=16)
    with pytest.raises(TypeError, match="unexpected keyword argument 'K3'"):
        ssimfast.ssim_batch(ims1, ims2, K3=1)
    with pytest.raises(ValueError, match="pair 0: win_size exceeds image extent"):
        ssimfast.ssim_batch(ims1, ims2, win_size=17)
    with pytest.raises(TypeError, match="progress must be callable"):
        ssimfast.ssim_batch(ims1, ims2, progress=3)
    with pytest.raises(ValueError, match="workers=0"):
        ssimfast.ssim_batch(ims1, ims2, workers=0)


def test_warnings_point_at_the_caller():
    ims1, ims2 = _stack(n=2, size=16)
    with pytest.warns(UserWarning, match="data_range based on im1.dtype") as record:
        ssimfast.ssim_batch(ims1.astype(np.uint16), ims2.astype(np.uint16))
    assert all(w.filename == __file__ for w in record)

"""ssimfast.dask: lazy SSIM of dask arrays, and file pairs scored on a cluster.

The dask results must equal in-memory ssimfast within 1e-12 for any chunking:
each block's map values are bit-identical, only the final sum is reordered.
Array tests compute with the synchronous scheduler (one thread, no cluster);
ssim_files runs on a real two-process LocalCluster.
"""
import functools
import os
import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import dask
from skimage import data

import ssimfast
import ssimfast.dask as sd

TOL = 1e-12
GAUSS = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}


def compute(x):
    return x.compute(scheduler="sync")


def _noisy(a, sigma, seed):
    rng = np.random.default_rng(seed)
    info = np.iinfo(a.dtype)
    return np.clip(a + rng.normal(0, sigma, a.shape), info.min, info.max).astype(a.dtype)


CAMERA = data.camera()  # 512 x 512 uint8
CAMERA_NOISY = _noisy(CAMERA, 20, 0)
SMALL, SMALL_NOISY = CAMERA[200:248, 220:260], CAMERA_NOISY[200:248, 220:260]  # 48 x 40
RGB = data.astronaut()[100:228, 150:310]  # 128 x 160 x 3
RGB_NOISY = _noisy(RGB, 25, 1)
_rng = np.random.default_rng(2)
VOLUME = _rng.integers(0, 256, (24, 25, 26), dtype=np.uint8)
VOLUME_NOISY = _noisy(VOLUME, 30, 3)


def check(a, b, chunks1, chunks2=None, **options):
    """The dask result for these chunkings equals in-memory ssimfast within 1e-12."""
    expected = ssimfast.structural_similarity(a, b, **options)
    lazy = sd.structural_similarity(da.from_array(a, chunks=chunks1),
                                    da.from_array(b, chunks=chunks2 or chunks1), **options)
    got = compute(lazy)
    assert np.ndim(got) == 0
    assert got.dtype == expected.dtype
    assert abs(float(got) - float(expected)) <= TOL, (chunks1, chunks2, options, got, expected)
    return got


# ---------------------------------------------------------------------------
# structural_similarity on dask arrays
# ---------------------------------------------------------------------------

def test_result_is_lazy():
    loads = []

    def load(a):
        loads.append(1)
        return a

    im1 = da.from_delayed(dask.delayed(load)(CAMERA), CAMERA.shape, CAMERA.dtype)
    im2 = da.from_delayed(dask.delayed(load)(CAMERA_NOISY), CAMERA.shape, CAMERA.dtype)
    result = sd.structural_similarity(im1.rechunk(100), im2.rechunk(100))
    assert isinstance(result, da.Array)
    assert result.shape == () and result.dtype == np.float64
    assert loads == []  # nothing read yet
    value = compute(result)
    assert len(loads) == 2
    assert abs(value - ssimfast.structural_similarity(CAMERA, CAMERA_NOISY)) <= TOL
    assert 0.2 < value < 0.6  # a noisy camera: neither identical nor unrelated


@pytest.mark.parametrize("options", [{}, GAUSS], ids=["uniform", "gaussian"])
@pytest.mark.parametrize("chunks", [
    (512, 512),
    (100, 100),
    (37, 61),
    ((200, 12, 300), (5, 250, 257)),  # uneven, with chunks shorter than the halo
])
def test_camera_chunkings(chunks, options):
    check(CAMERA, CAMERA_NOISY, chunks, **options)


@pytest.mark.parametrize("options", [{}, GAUSS], ids=["uniform", "gaussian"])
@pytest.mark.parametrize("chunks", [(3, 3), (5, 2), (1, 7), (2, 1)])
def test_chunks_smaller_than_window(chunks, options):
    check(SMALL, SMALL_NOISY, chunks, **options)


_TINY_OPTIONS = {
    "w7": {},
    "w3": {"win_size": 3},
    "gauss-w3": {"win_size": 3, **GAUSS},  # the filter (11 taps) is wider than the window
    "gauss-w15": {"win_size": 15, **GAUSS},  # the window is wider than the filter
    "w1": {"win_size": 1, "use_sample_covariance": False},  # no halo at all
}
_TINY = [pytest.param(shape, options, id=f"{name}-{shape[0]}x{shape[1]}")
         for name, options in _TINY_OPTIONS.items()
         for shape in [(7, 7), (8, 9), (12, 11), (16, 15), (17, 23)]
         if min(shape) >= options.get("win_size", 7)]


@pytest.mark.parametrize("chunks", [(1, 1), (2, 3), (4, 5)])
@pytest.mark.parametrize("shape, options", _TINY)
def test_tiny_images(shape, options, chunks):
    """Images just above the window size, cut into chunks of one pixel and up."""
    a = CAMERA[300:300 + shape[0], 100:100 + shape[1]]
    b = CAMERA_NOISY[300:300 + shape[0], 100:100 + shape[1]]
    check(a, b, chunks, **options)


@pytest.mark.parametrize("chunks", [(37, 61, 1), (20, 200, 3), (128, 160, 3)])
def test_rgb_channel_axis(chunks):
    check(RGB, RGB_NOISY, chunks, channel_axis=-1)
    check(RGB, RGB_NOISY, chunks, channel_axis=-1, **GAUSS)


def test_channel_axis_first():
    a, b = np.moveaxis(RGB, -1, 0), np.moveaxis(RGB_NOISY, -1, 0)
    check(a, b, (1, 50, 33), channel_axis=0)


@pytest.mark.parametrize("chunks", [(24, 25, 26), (7, 10, 9), (3, 3, 3)])
def test_volume(chunks):
    check(VOLUME, VOLUME_NOISY, chunks)
    check(VOLUME, VOLUME_NOISY, chunks, **GAUSS)


def test_1d_and_4d():
    check(CAMERA[256], CAMERA_NOISY[256], (30,))
    a = VOLUME[:8, :9, :10].reshape(8, 9, 2, 5).repeat(2, axis=2)  # 8 x 9 x 4 x 5
    b = VOLUME_NOISY[:8, :9, :10].reshape(8, 9, 2, 5).repeat(2, axis=2)
    check(a, b, (3, 4, 2, 5), win_size=3)


def test_float64_with_data_range():
    a = CAMERA[:150, :170] / 255.0
    b = CAMERA_NOISY[:150, :170] / 255.0
    check(a, b, (40, 33), data_range=1.0)
    check(a, b, (40, 33), data_range=1.0, **GAUSS)


def test_uint16_infers_data_range_with_the_same_warning():
    a = CAMERA[:100, :120].astype(np.uint16) * 257
    b = CAMERA_NOISY[:100, :120].astype(np.uint16) * 257
    with pytest.warns(UserWarning, match="data_range = 65535"):
        check(a, b, (30, 50))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check(a, b, (30, 50), data_range=65535)


def test_im1_and_im2_chunked_differently():
    same = check(CAMERA, CAMERA_NOISY, (100, 100))
    other = check(CAMERA, CAMERA_NOISY, (100, 100), (37, 512))
    assert abs(float(same) - float(other)) <= TOL
    check(RGB, RGB_NOISY, (50, 50, 3), (128, 7, 1), channel_axis=-1)


def test_numpy_inputs_are_accepted():
    result = sd.structural_similarity(SMALL, da.from_array(SMALL_NOISY, chunks=10))
    assert isinstance(result, da.Array)
    assert abs(compute(result) - ssimfast.structural_similarity(SMALL, SMALL_NOISY)) <= TOL


def test_identical_images_score_one():
    assert compute(sd.structural_similarity(da.from_array(CAMERA, chunks=77),
                                            da.from_array(CAMERA, chunks=77))) == 1.0


def test_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(48, 40\).*\(48, 39\)"):
        sd.structural_similarity(da.from_array(SMALL), da.from_array(SMALL[:, :-1]))


def test_float_without_data_range_is_the_same_error():
    a, b = SMALL / 255.0, SMALL_NOISY / 255.0
    with pytest.raises(ValueError) as in_memory:
        ssimfast.structural_similarity(a, b)
    with pytest.raises(ValueError) as lazy:
        sd.structural_similarity(da.from_array(a), da.from_array(b))
    assert "data_range" in str(lazy.value)
    assert str(lazy.value) == str(in_memory.value)


def test_unknown_option():
    with pytest.raises(TypeError, match="sigmaa"):
        sd.structural_similarity(da.from_array(SMALL), da.from_array(SMALL_NOISY), sigmaa=2)


@pytest.mark.parametrize("name", ["full", "gradient"])
def test_maps_are_refused(name):
    with pytest.raises(TypeError, match=name):
        sd.structural_similarity(da.from_array(SMALL), da.from_array(SMALL_NOISY),
                                 **{name: True})


def test_unknown_chunk_sizes():
    a = da.from_array(SMALL, chunks=10)
    unknown = a[a[:, 0] >= 0]  # boolean indexing: row count unknown until computed
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        sd.structural_similarity(unknown, unknown)


# ---------------------------------------------------------------------------
# ssim_files on a cluster
# ---------------------------------------------------------------------------

def _write(tmp_path):
    """Pairs of .npy and .png files, and their in-memory scores."""
    from PIL import Image

    pairs, expected = [], []
    for i, (top, left) in enumerate([(0, 0), (100, 200), (300, 50)]):
        a = CAMERA[top:top + 96, left:left + 112]
        b = CAMERA_NOISY[top:top + 96, left:left + 112]
        p1, p2 = tmp_path / f"a{i}.npy", tmp_path / f"b{i}.npy"
        np.save(p1, a)
        np.save(p2, b)
        q1, q2 = tmp_path / f"a{i}.png", tmp_path / f"b{i}.png"
        Image.fromarray(a).save(q1)
        Image.fromarray(b).save(q2)
        pairs += [(str(p1), str(p2)), (q1, q2)]  # str and pathlib paths
        expected += [ssimfast.structural_similarity(a, b)] * 2
    return pairs, np.array(expected)


def test_ssim_files_without_a_client(tmp_path):
    # The cluster fixture's client is never the default (set_as_default=False).
    with pytest.raises(ValueError, match="no global client|No global client"):
        distributed.get_client()
    with pytest.raises(ValueError, match="needs a dask.distributed Client"):
        sd.ssim_files([(tmp_path / "a.npy", tmp_path / "b.npy")])


def test_ssim_files_bad_options_checked_at_once():
    with pytest.raises(TypeError, match="full"):
        sd.ssim_files([], full=True)
    with pytest.raises(TypeError, match="sigmaa"):
        sd.ssim_files([], sigmaa=2.0)
    with pytest.raises(ValueError, match="pair 0"):
        sd.ssim_files(["ab"])


@pytest.fixture(scope="module")
def client():
    # set_as_default=False: the client is used only where a test passes it
    # (or makes it current), so other tests see no client.
    # Starting worker processes sets OMP_NUM_THREADS=1 (and more) in this
    # process's os.environ; put it back, or later tests see a thread count that
    # the already-started OpenMP runtime does not have.
    saved = dict(os.environ)
    with (distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   dashboard_address=None) as cluster,
          distributed.Client(cluster, set_as_default=False) as c):
        os.environ.clear()
        os.environ.update(saved)
        yield c


def test_array_graph_runs_on_the_cluster(client):
    """The lazy result pickles and computes on worker processes."""
    lazy = sd.structural_similarity(da.from_array(RGB, chunks=(50, 70, 1)),
                                    da.from_array(RGB_NOISY, chunks=(50, 70, 1)),
                                    channel_axis=-1)
    got = client.compute(lazy).result()
    assert abs(got - ssimfast.structural_similarity(RGB, RGB_NOISY, channel_axis=-1)) <= TOL


def test_ssim_files_match_in_memory(client, tmp_path):
    pairs, expected = _write(tmp_path)
    scores = sd.ssim_files(pairs, client=client)
    assert scores.dtype == np.float64 and scores.shape == (len(pairs),)
    np.testing.assert_array_equal(scores, expected)  # bit for bit, in input order
    assert len(set(scores.tolist())) == 3  # three different crops


def test_ssim_files_options_reader_and_current_client(client, tmp_path):
    a, b = RGB, RGB_NOISY
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    pairs = [(tmp_path / "a.npy", tmp_path / "b.npy")] * 2
    expected = ssimfast.structural_similarity(a, b, channel_axis=-1, **GAUSS)
    with client.as_current():  # client=None: the current client
        scores = sd.ssim_files(pairs, channel_axis=-1, **GAUSS)
    np.testing.assert_array_equal(scores, [expected, expected])
    # A custom reader runs on the workers: here it flips the images upside down.
    flipped = sd.ssim_files(pairs, client=client, reader=lambda p: np.load(p)[::-1],
                            channel_axis=-1)
    np.testing.assert_array_equal(
        flipped, [ssimfast.structural_similarity(a[::-1], b[::-1], channel_axis=-1)] * 2)
    assert sd.ssim_files([], client=client).shape == (0,)


def test_ssim_files_failure_names_the_pair(client, tmp_path):
    pairs, _ = _write(tmp_path)
    np.save(tmp_path / "small.npy", SMALL)
    bad = (pairs[1][0], tmp_path / "small.npy")
    with pytest.raises(ValueError) as info:
        sd.ssim_files(pairs[:2] + [bad] + pairs[2:], client=client)
    message = str(info.value)
    assert message.startswith(f"pair 2 ({bad[0]}, {bad[1]}): ")
    assert "same dimensions" in message
    missing = (tmp_path / "nope.npy", pairs[0][1])
    with pytest.raises(OSError, match=r"pair 1 \(.*nope\.npy, .*b0\.npy\)"):
        sd.ssim_files([pairs[0], missing], client=client)
    # The cluster is still usable afterwards.
    np.testing.assert_array_equal(sd.ssim_files(pairs[:1], client=client),
                                  sd.ssim_files(pairs[:1], client=client,
                                                reader=functools.partial(np.load)))


def test_ssim_files_on_video_pairs(client, tmp_path):
    """One task per video pair: the VideoScores video_ssim gives in this process."""
    rng = np.random.default_rng(5)
    paths = []
    for name in ("r", "d"):
        with open(tmp_path / f"{name}.y4m", "wb") as f:
            f.write(b"YUV4MPEG2 W32 H24 F25:1 Ip A1:1 Cmono\n")
            for _ in range(3):
                f.write(b"FRAME\n" + rng.integers(0, 256, (24, 32), dtype=np.uint8).tobytes())
        paths.append(str(tmp_path / f"{name}.y4m"))
    got = sd.ssim_files([tuple(paths), tuple(paths[::-1])], client=client, psnr=True)
    want = ssimfast.video_ssim(*paths, psnr=True)
    assert len(got) == 2 and list(got[0].rows()) == list(want.rows())
    np.testing.assert_array_equal(got[1].y, ssimfast.video_ssim(*paths[::-1]).y)
    with pytest.raises(ValueError, match="not a pair of video paths"):
        sd.ssim_files([tuple(paths), (paths[0], "x.png")], client=client)
    with pytest.raises(TypeError, match="unexpected keyword"):
        sd.ssim_files([tuple(paths)], client=client, tile=3)

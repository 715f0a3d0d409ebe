"""ssim_tiled: bounded-memory scoring of arrays read tile by tile (np.memmap,
any sliceable array-like). 2-D means are bit-identical to the in-memory
result; other ranks agree to 1e-12 (only the order of the final sum differs);
maps written tile by tile are bit-identical everywhere."""
import numpy as np
import pytest
import ssimfast
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import distort, real_image

GAUSS = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}


def _pair(name="camera", kind="noise"):
    ref = real_image(name)
    return ref, distort(ref, kind)


class Sliceable:
    """An array-like that only offers shape, dtype and slicing (as zarr or h5py)."""

    def __init__(self, a):
        self.shape, self.dtype, self._a = a.shape, a.dtype, a
        self.reads = 0

    def __getitem__(self, index):
        self.reads += 1
        return self._a[index].copy()


@pytest.mark.parametrize("tile", [1, 2, 6, 7, 31, 100, 505, None])
@pytest.mark.parametrize("options", [{}, GAUSS, {"win_size": 3}, {"win_size": 15, "K1": 0.02}])
def test_2d_mean_is_bit_identical_for_any_band_height(tile, options):
    im1, im2 = _pair()
    want = ssimfast.structural_similarity(im1, im2, **options)
    got = ssimfast.ssim_tiled(im1, im2, tile=tile, **options)
    assert type(got) is type(want) and got == want


@pytest.mark.parametrize("variant", ["uint16", "float32", "float64", "int16"])
def test_2d_dtypes_and_channels_bit_identical(variant):
    ref, dist = _pair("astronaut")
    scale = {"uint16": 257, "int16": 1}.get(variant, 1 / 255)
    im1, im2 = ((a.astype(np.float64) * scale).astype(variant) for a in (ref, dist))
    data_range = {"uint16": 65535, "int16": 255}.get(variant, 1.0)
    want = ssimfast.structural_similarity(im1, im2, channel_axis=-1, data_range=data_range)
    got = ssimfast.ssim_tiled(im1, im2, channel_axis=-1, data_range=data_range, tile=45)
    assert got.dtype == want.dtype and got == want


def test_memmap_files_and_map_out(tmp_path):
    im1, im2 = _pair("moon")
    paths = [tmp_path / "a.raw", tmp_path / "b.raw"]
    for p, a in zip(paths, (im1, im2)):
        a.tofile(p)
    m1, m2 = (ssimfast.open_memmap(p, im1.shape, np.uint8) for p in paths)
    out = np.memmap(tmp_path / "map.raw", dtype=np.float64, mode="w+", shape=im1.shape)
    got = ssimfast.ssim_tiled(m1, m2, tile=50, map_out=out)
    want, smap = ssimfast.structural_similarity(im1, im2, full=True)
    assert got == want
    out.flush()
    assert np.array_equal(np.fromfile(tmp_path / "map.raw").reshape(im1.shape), smap)


def test_sliceable_array_like_is_read_in_bands():
    im1, im2 = _pair("camera")
    a, b = Sliceable(im1), Sliceable(im2)
    assert ssimfast.ssim_tiled(a, b, tile=64) == ssimfast.structural_similarity(im1, im2)
    assert a.reads == b.reads == 512 // 64


@pytest.mark.parametrize("tile", [1, 4, 9, 23, None])
@pytest.mark.parametrize("options", [{}, GAUSS])
def test_3d_mean_within_1e12_and_map_bit_identical(tile, options):
    rng = np.random.default_rng(3)
    im1 = rng.integers(0, 256, (21, 30, 26), dtype=np.uint8)
    im2 = np.clip(im1 + rng.normal(0, 30, im1.shape), 0, 255).astype(np.uint8)
    want, smap = ssimfast.structural_similarity(im1, im2, full=True, **options)
    out = np.empty(im1.shape)
    got = ssimfast.ssim_tiled(im1, im2, tile=tile, map_out=out, **options)
    assert abs(got - want) <= 1e-12
    assert np.array_equal(out, smap)


def test_1d_and_4d():
    rng = np.random.default_rng(4)
    for shape in [(500,), (9, 10, 11, 12)]:
        im1 = rng.random(shape)
        im2 = im1 + 0.1 * rng.random(shape)
        want = ssimfast.structural_similarity(im1, im2, data_range=1.0)
        assert abs(ssimfast.ssim_tiled(im1, im2, data_range=1.0, tile=3) - want) <= 1e-12


@settings(max_examples=40, deadline=None)
@given(h=st.integers(7, 40), w=st.integers(7, 40), tile=st.integers(1, 45),
       win=st.sampled_from([3, 5, 7]), gaussian=st.booleans(), seed=st.integers(0, 2**16))
def test_property_bands_bit_identical(h, w, tile, win, gaussian, seed):
    rng = np.random.default_rng(seed)
    im1 = rng.integers(0, 256, (h, w), dtype=np.uint8)
    im2 = rng.integers(0, 256, (h, w), dtype=np.uint8)
    options = {"gaussian_weights": gaussian, "sigma": 0.8} if gaussian else {}
    if gaussian and min(h, w) < 7:
        return
    want, smap = ssimfast.structural_similarity(im1, im2, win_size=win, full=True, **options)
    out = np.empty((h, w))
    assert ssimfast.ssim_tiled(im1, im2, win_size=win, tile=tile, map_out=out, **options) == want
    assert np.array_equal(out, smap)


def test_bad_input():
    im1, im2 = _pair()
    with pytest.raises(ValueError, match=r"im1.shape=\(512, 512\) but im2.shape=\(511, 512\)"):
        ssimfast.ssim_tiled(im1, im2[:511])
    with pytest.raises(ValueError, match="map_out has shape"):
        ssimfast.ssim_tiled(im1, im2, map_out=np.empty((3, 3)))
    for tile in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="tile must be a positive integer"):
            ssimfast.ssim_tiled(im1, im2, tile=tile)
    with pytest.raises(TypeError, match="array-like with .shape, .dtype and slicing"):
        ssimfast.ssim_tiled([[1, 2]], im2)
    with pytest.raises(ValueError, match="data_range"):
        ssimfast.ssim_tiled(im1 / 255, im2 / 255)
    with pytest.raises(TypeError, match="unexpected keyword argument 'full'"):
        ssimfast.ssim_tiled(im1, im2, full=True)


def test_short_raw_file_is_a_clear_error(tmp_path):
    path = tmp_path / "short.raw"
    np.zeros(1000, np.uint8).tofile(path)
    with pytest.raises(ValueError, match=r"holds 1000 bytes after offset 0, but an image of shape "
                                         r"\(100, 100\) and dtype uint16 needs 20000"):
        ssimfast.open_memmap(path, (100, 100), np.uint16)
    assert ssimfast.open_memmap(path, (10, 50), np.uint16).shape == (10, 50)


def test_memory_holds_one_band_at_a_time(tmp_path):
    """Peak traced memory is one band of each image plus the kernels' per-thread
    scratch (a few dozen rows), not more bands and not the image."""
    import tracemalloc

    rng = np.random.default_rng(5)
    shape = (4096, 512)
    paths = []
    for name in ("a", "b"):
        paths.append(tmp_path / f"{name}.raw")
        rng.integers(0, 256, shape, dtype=np.uint8).tofile(paths[-1])
    m1, m2 = (ssimfast.open_memmap(p, shape, np.uint8) for p in paths)
    tracemalloc.start()
    try:
        ssimfast.ssim_tiled(m1, m2, tile=512, workers=2)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    band = (512 + 6) * shape[1]  # rows of one band with its halo, uint8
    scratch = 2 * 32 * shape[1] * 8  # 2 threads, about 32 rows of doubles each
    assert peak < 2 * band + scratch + (64 << 10), f"peak {peak} bytes for bands of {band}"

"""ssimfast's own PNG reader and writer (ssimfast._png), against arrays with known
pixels and against Pillow."""
import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from ssimfast import _png
from ssimfast._images import ImageReadError, read_image

COLOUR_TYPES = {1: 0, 3: 2, 2: 4, 4: 6}  # channels -> PNG colour type


def _filter_rows(raw, bpp, kinds):
    """PNG-filter the byte rows of `raw` (H, n) with the filter type kinds[i] for row i."""
    raw = raw.astype(np.int32)
    prev = np.vstack([np.zeros((1, raw.shape[1]), np.int32), raw[:-1]])
    left = np.hstack([np.zeros((raw.shape[0], bpp), np.int32), raw[:, :-bpp]])
    upleft = np.hstack([np.zeros((raw.shape[0], bpp), np.int32), prev[:, :-bpp]])
    p = left + prev - upleft
    pa, pb, pc = np.abs(p - left), np.abs(p - prev), np.abs(p - upleft)
    paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
    predictions = [np.zeros_like(raw), left, prev, (left + prev) // 2, paeth]
    out = np.empty((raw.shape[0], raw.shape[1] + 1), np.uint8)
    for i, kind in enumerate(kinds):
        out[i, 0] = kind
        out[i, 1:] = (raw[i] - predictions[kind][i]) % 256
    return out


def encode_test_png(array, kinds=None, idat_chunks=1):
    """A PNG of `array` (uint8 or uint16; (H, W) or (H, W, C)) with chosen row filters."""
    h, w = array.shape[:2]
    channels = 1 if array.ndim == 2 else array.shape[2]
    depth = array.dtype.itemsize * 8
    raw = array.astype(array.dtype.newbyteorder(">")).reshape(h, -1).view(np.uint8)
    bpp = channels * depth // 8
    kinds = [i % 5 for i in range(h)] if kinds is None else kinds
    body = zlib.compress(_filter_rows(raw, bpp, kinds).tobytes())
    parts = np.array_split(np.frombuffer(body, np.uint8), idat_chunks)
    header = struct.pack(">IIBBBBB", w, h, depth, COLOUR_TYPES[channels], 0, 0, 0)
    return b"".join([_png.SIGNATURE, _png._chunk(b"IHDR", header),
                     *(_png._chunk(b"IDAT", p.tobytes()) for p in parts),
                     _png._chunk(b"IEND", b"")])


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("kind", [0, 1, 2, 3, 4])
def test_every_filter_colour_type_and_depth(dtype, channels, kind):
    rng = np.random.default_rng(kind)
    shape = (9, 13) if channels == 1 else (9, 13, channels)
    array = rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
    got = _png.decode(encode_test_png(array, kinds=[kind] * 9, idat_chunks=3))
    assert got.dtype == dtype and got.shape == array.shape
    np.testing.assert_array_equal(got, array)


@given(h=st.integers(1, 12), w=st.integers(1, 12), channels=st.sampled_from([1, 2, 3, 4]),
       sixteen=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_random_images_with_mixed_filters(h, w, channels, sixteen, seed):
    rng = np.random.default_rng(seed)
    dtype = np.uint16 if sixteen else np.uint8
    shape = (h, w) if channels == 1 else (h, w, channels)
    array = rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
    kinds = list(rng.integers(0, 5, h))
    np.testing.assert_array_equal(_png.decode(encode_test_png(array, kinds)), array)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "LA", "I;16"])
def test_png_written_by_pillow(mode, camera_like):
    """Pillow chooses its own filters per row; both readers must agree."""
    base = camera_like
    array = {"L": base, "RGB": np.dstack([base, base[::-1], base.T]),
             "RGBA": np.dstack([base, base[::-1], base.T, base[:, ::-1]]),
             "LA": np.dstack([base, base.T]), "I;16": base.astype(np.uint16) * 257}[mode]
    buf = io.BytesIO()
    Image.fromarray(array, mode=mode if mode != "I;16" else None).save(buf, format="PNG")
    got = _png.decode(buf.getvalue())
    np.testing.assert_array_equal(got, np.asarray(Image.open(io.BytesIO(buf.getvalue()))))


@pytest.fixture
def camera_like():
    from skimage import data
    return np.ascontiguousarray(data.camera()[100:164, 200:264])


def _palette(gray):
    rgb = np.dstack([gray, gray[::-1], gray.T])
    return Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE)


def test_kinds_left_to_pillow_return_none(camera_like):
    buf = io.BytesIO()
    _palette(camera_like).save(buf, format="PNG")
    assert buf.getvalue()[25] == 3  # colour type: palette
    assert _png.decode(buf.getvalue()) is None
    header = struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 1)  # interlaced (Pillow cannot write it)
    interlaced = b"".join([_png.SIGNATURE, _png._chunk(b"IHDR", header),
                           _png._chunk(b"IDAT", zlib.compress(b"\0" * 100)), _png._chunk(b"IEND", b"")])
    assert _png.decode(interlaced) is None
    header = struct.pack(">IIBBBBB", 8, 8, 4, 0, 0, 0, 0)  # 4-bit gray
    assert _png.decode(b"".join([_png.SIGNATURE, _png._chunk(b"IHDR", header)])) is None


def test_read_image_falls_back_to_pillow_for_palettes(tmp_path, camera_like):
    _palette(camera_like).save(tmp_path / "p.png")
    got = read_image(tmp_path / "p.png")
    assert got.colour
    np.testing.assert_array_equal(got.array, np.asarray(Image.open(tmp_path / "p.png").convert("RGB")))


def test_damaged_files_raise_clear_errors():
    good = encode_test_png(np.arange(64, dtype=np.uint8).reshape(8, 8))
    with pytest.raises(ValueError, match="truncated"):
        _png.decode(good[:-20])
    flipped = bytearray(good)
    flipped[18] ^= 0xFF  # the IHDR's width: its CRC fails
    with pytest.raises(ValueError, match="IHDR.* fails its CRC"):
        _png.decode(bytes(flipped))
    idat_length, = struct.unpack(">I", good[33:37])  # the IDAT chunk follows the IHDR
    for at in range(41, 41 + idat_length):  # any byte of the compressed data: zlib's check fails
        flipped = bytearray(good)
        flipped[at] ^= 0x5A
        with pytest.raises(ValueError, match="damaged|truncated"):
            _png.decode(bytes(flipped))
    with pytest.raises(ValueError, match="signature"):
        _png.decode(b"GIF89a" + good[6:])
    raw = zlib.compress(bytes([0, 0, 0, 0, 0] * 2 + [7, 0, 0, 0, 0] + [0] * 5))
    header = struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 0)
    bad_filter = b"".join([_png.SIGNATURE, _png._chunk(b"IHDR", header),
                           _png._chunk(b"IDAT", raw), _png._chunk(b"IEND", b"")])
    with pytest.raises(ValueError, match="row 2 has an unknown filter type"):
        _png.decode(bad_filter)
    short = b"".join([_png.SIGNATURE, _png._chunk(b"IHDR", header),
                      _png._chunk(b"IDAT", zlib.compress(b"\0" * 7)), _png._chunk(b"IEND", b"")])
    with pytest.raises(ValueError, match="truncated"):
        _png.decode(short)


def test_read_image_names_the_file(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(encode_test_png(np.zeros((8, 8), np.uint8))[:-30])
    with pytest.raises(ImageReadError, match="cannot read .*broken.png: the PNG file is truncated"):
        read_image(path)


def test_encode_round_trips_through_pillow():
    rgb = np.random.default_rng(0).integers(0, 256, (17, 23, 3), dtype=np.uint8)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(_png.encode(rgb)))), rgb)
    np.testing.assert_array_equal(_png.decode(_png.encode(rgb)), rgb)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        _png.encode(rgb[..., 0])


@pytest.mark.parametrize("width", [1, 2, 3, 64])
@pytest.mark.parametrize("height", [1, 2, 5])
def test_runs_of_paeth_rows(width, height):
    """Consecutive Paeth rows of one byte per pixel are undone two at a time."""
    array = np.random.default_rng(width * height).integers(0, 256, (height, width), dtype=np.uint8)
    for kinds in ([4] * height, [4, 1] * height, [2, 4, 4] * height):
        np.testing.assert_array_equal(_png.decode(encode_test_png(array, kinds[:height])), array)


@pytest.mark.parametrize("width", [1, 2, 17, 46, 47, 48, 63, 100])
@pytest.mark.parametrize("height", [31, 32, 33, 64, 70])
def test_blocks_of_gray_rows_with_mixed_filters(width, height):
    """Gray 8-bit rows are undone 32 at a time where the build has AVX2 (16 bytes of
    each row at a time where it is wide enough): every filter type in any order,
    blocks cut by the image's height, and the rows after the blocks."""
    rng = np.random.default_rng(width * 100 + height)
    array = rng.integers(0, 256, (height, width), dtype=np.uint8)
    for kinds in (list(rng.integers(0, 5, height)), [4] * height, [3, 1] * height):
        np.testing.assert_array_equal(_png.decode(encode_test_png(array, kinds[:height])), array)


def test_unknown_filter_type_inside_a_block_of_rows():
    array = np.random.default_rng(5).integers(0, 256, (40, 30), dtype=np.uint8)
    raw = _filter_rows(array, 1, [4] * 40)
    raw[20, 0] = 5
    header = struct.pack(">IIBBBBB", 30, 40, 8, 0, 0, 0, 0)
    damaged = b"".join([_png.SIGNATURE, _png._chunk(b"IHDR", header),
                        _png._chunk(b"IDAT", zlib.compress(raw.tobytes())),
                        _png._chunk(b"IEND", b"")])
    with pytest.raises(ValueError, match="row 20 has an unknown filter type"):
        _png.decode(damaged)

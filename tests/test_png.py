"""PNG reading (imagecodecs, through ssimfast._images.read_image) against arrays
with known pixels, files of every kind giving the same array, the limits checked
before decoding, and ssimfast's own small PNG writer (ssimfast._png.encode)."""
import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from ssimfast import _png
from ssimfast._images import ImageReadError, Limits, read_image

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


# Adam7: (first row, first column, row step, column step) of the seven passes.
_ADAM7 = [(0, 0, 8, 8), (0, 4, 8, 8), (4, 0, 8, 4), (0, 2, 4, 4), (2, 0, 4, 2), (0, 1, 2, 2),
          (1, 0, 2, 1)]


def encode_test_png(array, kinds=None, idat_chunks=1, interlace=False, extra=b""):
    """A PNG of `array` (uint8 or uint16; (H, W) or (H, W, C)) with chosen row
    filters, interlaced (Adam7) or not; `extra`: bytes inflated after the rows."""
    h, w = array.shape[:2]
    channels = 1 if array.ndim == 2 else array.shape[2]
    depth = array.dtype.itemsize * 8
    bpp = channels * depth // 8
    big = array.astype(array.dtype.newbyteorder(">"))
    passes = [big[r::dr, c::dc] for r, c, dr, dc in _ADAM7] if interlace else [big]
    filtered = b""
    for part in passes:
        if part.size:
            raw = np.ascontiguousarray(part).reshape(part.shape[0], -1).view(np.uint8)
            rows = [i % 5 for i in range(raw.shape[0])] if kinds is None else kinds
            filtered += _filter_rows(raw, bpp, rows[: raw.shape[0]]).tobytes()
    body = zlib.compress(filtered + extra)
    parts = np.array_split(np.frombuffer(body, np.uint8), idat_chunks)
    header = struct.pack(">IIBBBBB", w, h, depth, COLOUR_TYPES[channels], 0, 0, int(interlace))
    return b"".join([_png.SIGNATURE, _png._chunk(b"IHDR", header),
                     *(_png._chunk(b"IDAT", p.tobytes()) for p in parts),
                     _png._chunk(b"IEND", b"")])



def decode(data, tmp_path, limits=Limits()):
    path = tmp_path / "x.png"
    path.write_bytes(data)
    loaded = read_image(path, limits=limits)
    return loaded.array


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("kind", [0, 1, 2, 3, 4])
def test_every_filter_colour_type_and_depth(dtype, channels, kind, tmp_path):
    rng = np.random.default_rng(kind)
    shape = (9, 13) if channels == 1 else (9, 13, channels)
    array = rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
    want = array[..., :-1] if channels in (2, 4) else array  # alpha is dropped
    if channels == 2:
        want = want[..., 0]
    for interlace in (False, True):
        got = decode(encode_test_png(array, kinds=[kind] * 9, idat_chunks=3,
                                     interlace=interlace), tmp_path)
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


@given(h=st.integers(1, 12), w=st.integers(1, 12), channels=st.sampled_from([1, 3]),
       sixteen=st.booleans(), interlace=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_random_images_with_mixed_filters(h, w, channels, sixteen, interlace, seed):
    rng = np.random.default_rng(seed)
    dtype = np.uint16 if sixteen else np.uint8
    shape = (h, w) if channels == 1 else (h, w, channels)
    array = rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
    kinds = list(rng.integers(0, 5, h))
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as tmp:
        got = decode(encode_test_png(array, kinds, interlace=interlace), Path(tmp))
    np.testing.assert_array_equal(got, array)


@pytest.fixture
def camera_like():
    from skimage import data
    return np.ascontiguousarray(data.camera()[100:164, 200:264])


def _palette(gray):
    rgb = np.dstack([gray, gray[::-1], gray.T])
    return Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE)


def test_same_file_same_array_whatever_its_kind(tmp_path, camera_like):
    """Issue 15: a 16-bit RGB PNG and the same pixels interlaced gave 16 and 8 bits
    (two readers); a palette, 1-bit gray and gray + alpha each have one meaning."""
    rgb16 = np.dstack([camera_like, camera_like[::-1], camera_like.T]).astype(np.uint16) * 257 + 3
    plain, interlaced = (decode(encode_test_png(rgb16, interlace=i), tmp_path) for i in (0, 1))
    assert plain.dtype == interlaced.dtype == np.uint16
    np.testing.assert_array_equal(plain, rgb16)
    np.testing.assert_array_equal(interlaced, rgb16)
    pal = _palette(camera_like)
    pal.save(tmp_path / "p.png")
    pal.convert("RGB").save(tmp_path / "rgb.png")
    got = read_image(tmp_path / "p.png")
    assert got.colour and got.array.dtype == np.uint8
    np.testing.assert_array_equal(got.array, read_image(tmp_path / "rgb.png").array)
    Image.fromarray(camera_like > 128).save(tmp_path / "one.png")
    np.testing.assert_array_equal(read_image(tmp_path / "one.png").array,
                                  np.where(camera_like > 128, 255, 0).astype(np.uint8))
    Image.fromarray(np.dstack([camera_like, camera_like.T]), "LA").save(tmp_path / "la.png")
    got = read_image(tmp_path / "la.png")
    assert not got.colour
    np.testing.assert_array_equal(got.array, camera_like)


def test_damaged_files_raise_clear_errors(tmp_path):
    good = encode_test_png(np.arange(64, dtype=np.uint8).reshape(8, 8))
    for bad in (good[:-20], good[:40], b"\x89PNG\r\n\x1a\n garbage"):
        with pytest.raises(ImageReadError, match="cannot read .*x.png: "):
            decode(bad, tmp_path)
    idat_length, = struct.unpack(">I", good[33:37])  # the IDAT chunk follows the IHDR
    for at in range(41, 41 + idat_length):  # any byte of the compressed data
        flipped = bytearray(good)
        flipped[at] ^= 0x5A
        with pytest.raises(ImageReadError, match="cannot read"):
            decode(bytes(flipped), tmp_path)
    raw = zlib.compress(bytes([0, 0, 0, 0, 0] * 2 + [7, 0, 0, 0, 0] + [0] * 5))
    header = struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 0)
    bad_filter = b"".join([_png.SIGNATURE, _png._chunk(b"IHDR", header),
                           _png._chunk(b"IDAT", raw), _png._chunk(b"IEND", b"")])
    with pytest.raises(ImageReadError, match="cannot read"):
        decode(bad_filter, tmp_path)


def _header_only_png(width, height):
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join([_png.SIGNATURE, _png._chunk(b"IHDR", header),
                     _png._chunk(b"IDAT", zlib.compress(b"\0" * 64)), _png._chunk(b"IEND", b"")])


def test_pixel_limit_is_checked_from_the_header(tmp_path):
    """Issue 15: the header's size is refused before any decoding (Pillow's
    default limit), and the message names the option."""
    with pytest.raises(ImageReadError, match=r"30000x30000 is 900,000,000 pixels, above the "
                                             r"limit of 89,478,485 .*--max-pixels N"):
        decode(_header_only_png(30000, 30000), tmp_path)
    small = encode_test_png(np.zeros((20, 30), np.uint8))
    with pytest.raises(ImageReadError, match="20x30|30x20"):
        decode(small, tmp_path, Limits(max_pixels=599))
    assert decode(small, tmp_path, Limits(max_pixels=600)).shape == (20, 30)
    assert decode(small, tmp_path, Limits(max_pixels=0)).shape == (20, 30)  # 0: no limit


def test_inflation_is_bounded_by_the_header(tmp_path):
    """Issue 15: image data that inflate far beyond the header's rows are not
    kept: the rows come back, the extra bytes are dropped as they are inflated
    (the old reader inflated them all into memory first)."""
    array = np.arange(256, dtype=np.uint8).reshape(16, 16)
    bomb = encode_test_png(array, kinds=[0] * 16, extra=bytes(64 << 20))
    assert len(bomb) < 100_000
    import tracemalloc
    tracemalloc.start()
    try:
        got = decode(bomb, tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(got, array)
    assert peak < 8 << 20, peak  # Python-side allocations: the file, not 64 MiB


def test_encode_round_trips_through_decoders(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (17, 23, 3), dtype=np.uint8)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(_png.encode(rgb)))), rgb)
    np.testing.assert_array_equal(decode(_png.encode(rgb), tmp_path), rgb)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        _png.encode(rgb[..., 0])

"""A small PNG reader and writer.

Reading: PNG is the common format of directories of images to score, and
Pillow decodes it with the GIL held, so a thread pool cannot decode two files at
once. This reader inflates with zlib (or python-isal's faster zlib, if
installed), both of which release the GIL, and undoes the row filters in a
compiled kernel with the GIL released. It handles 8- and 16-bit gray, gray +
alpha, RGB and RGBA without interlacing, which covers what image libraries
write by default; for other PNGs (palette, 1-4 bit, interlaced) `decode`
returns None and the caller uses Pillow. 16-bit RGB stays 16-bit (Pillow
reduces it to 8 bits).

Writing: the heatmap is written as an 8-bit RGB PNG with no dependency.
"""
import struct
import zlib

import numpy as np

try:  # python-isal: the same zlib format, inflated about 3x faster
    from isal import isal_zlib as _inflater
except ImportError:
    _inflater = zlib

from ssimfast._extension import kernels

__all__ = ["SIGNATURE", "decode", "encode"]

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# colour type: channels (gray, RGB, gray + alpha, RGBA; 3 is palette)
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


def decode(data):
    """The image in the PNG bytes `data` as an (H, W) or (H, W, C) uint8 or
    uint16 array, or None if this reader does not handle its kind (then use
    Pillow). Raises ValueError for a damaged file."""
    chunks = _chunks(data)
    kind, header = next(chunks, (None, None))
    if kind != b"IHDR" or len(header) != 13:
        raise ValueError("the file does not start with a PNG header (IHDR)")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", header)
    if width == 0 or height == 0 or compression != 0 or filtering != 0:
        raise ValueError(f"invalid PNG header: {width}x{height}, compression "
                         f"{compression}, filter method {filtering}")
    if colour not in _CHANNELS or depth not in (8, 16) or interlace != 0:
        return None
    compressed = []
    for kind, body in chunks:
        if kind == b"IDAT":
            compressed.append(body)
        elif kind == b"IEND":
            break
    if not compressed:
        raise ValueError("the PNG file holds no image data (IDAT)")
    channels = _CHANNELS[colour]
    bpp = channels * depth // 8
    row = width * bpp
    try:
        raw = _inflater.decompress(b"".join(compressed))
    except _inflater.error as exc:
        raise ValueError(f"the PNG image data is damaged ({exc})") from None
    if len(raw) < height * (row + 1):
        raise ValueError(f"the PNG image data is truncated: {len(raw)} bytes, "
                         f"{height * (row + 1)} needed for {width}x{height}")
    out = np.empty((height, row), np.uint8)
    bad = kernels.png_unfilter(np.frombuffer(raw, np.uint8), out, bpp)
    if bad >= 0:
        raise ValueError(f"the PNG image data is damaged (row {bad} has an "
                         "unknown filter type)")
    if depth == 16:
        out = out.view(">u2").astype(np.uint16)
    shape = (height, width) if channels == 1 else (height, width, channels)
    return out.reshape(shape)


def _chunks(data):
    """(type, body) of each chunk, checking lengths and CRCs. The image data
    (IDAT) skip the CRC: zlib's own checksum of the inflated data covers them."""
    if data[:8] != SIGNATURE:
        raise ValueError("not a PNG file (no PNG signature)")
    data = memoryview(data)  # slices without copies
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 8 + length
        if end + 4 > len(data):
            raise ValueError(f"the PNG file is truncated (chunk {kind!r} runs past "
                             "the end of the file)")
        body = data[pos + 8 : end]
        crc, = struct.unpack_from(">I", data, end)
        if kind != b"IDAT" and zlib.crc32(body, zlib.crc32(kind)) != crc:
            raise ValueError(f"the PNG file is damaged (chunk {kind!r} fails its CRC)")
        yield kind, body
        pos = end + 4


def encode(rgb, level=6):
    """PNG bytes of an (H, W, 3) uint8 array (filter type 0 on every row)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"encode takes (H, W, 3) RGB arrays, got shape {rgb.shape}")
    height, width = rgb.shape[:2]
    rows = np.zeros((height, 1 + 3 * width), np.uint8)  # a 0 filter byte per row
    rows[:, 1:] = rgb.reshape(height, -1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join([SIGNATURE, _chunk(b"IHDR", header),
                     _chunk(b"IDAT", zlib.compress(rows.tobytes(), level)),
                     _chunk(b"IEND", b"")])


def _chunk(kind, body):
    return (struct.pack(">I", len(body)) + kind + body
            + struct.pack(">I", zlib.crc32(body, zlib.crc32(kind))))

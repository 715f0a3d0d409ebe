"""A tiny PNG writer (the heatmap) with the standard library's zlib only.

`python -m ssimfast` writes the sample's heatmap after a plain install with
NumPy alone, so the writer cannot need an image library. Writing is small and
reads nothing from outside; reading PNG is left to a maintained decoder
(imagecodecs, in `_images`).
"""
import struct
import zlib

import numpy as np

__all__ = ["SIGNATURE", "encode"]

SIGNATURE = b"\x89PNG\r\n\x1a\n"


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

"""What every image reader shares: the error, the limits a file's header is
checked against before decoding, and the loaded array.

The pixel limit bounds memory only if it also counts the samples of a pixel
and the work of decoding it: a TIFF may give its pixels 200 samples, or tiles
far larger than the image. So a file is checked three ways, all from headers:
its pixels against `max_pixels`, its samples (pixels x samples per pixel, and
the samples its tiles or strips decode) against `max_pixels` x 4 (an RGBA
image at the pixel limit), and the bytes read whole against twice its raw size.
"""
from typing import NamedTuple

import numpy as np

__all__ = ["ImageReadError", "Limits", "Loaded", "MAX_PAGES", "MAX_PIXELS", "check_pixels",
           "check_samples", "check_file_size", "drop_alpha"]

# Pillow's Image.MAX_IMAGE_PIXELS: the usual convention for a decompression bomb.
MAX_PIXELS = 1024 * 1024 * 1024 // 4 // 3
MAX_PAGES = 1000
# Samples a pixel may hold within the pixel limit (RGBA, CMYK).
SAMPLES_PER_PIXEL = 4
# Metadata, chunk framing and incompressible data: a file holding its
# pixels is below twice their raw size plus this.
_FILE_SLACK = 16 << 20


class ImageReadError(Exception):
    """A file that cannot be read as an image; str() says which file and why."""


class Limits(NamedTuple):
    """What a file may claim before it is decoded; 0 means no limit."""

    max_pixels: int = MAX_PIXELS
    max_pages: int = MAX_PAGES


class Loaded(NamedTuple):
    """An image read from a file: its pixels, and whether the last axis holds colour."""

    array: np.ndarray
    colour: bool


_RAISE_IT = "pass --max-pixels N to raise it, or 0 for no limit"


def check_pixels(pixels, size, limits):
    if limits.max_pixels and pixels > limits.max_pixels:
        raise ImageReadError(
            f"{size} is {pixels:,} pixels, above the limit of {limits.max_pixels:,} pixels "
            f"(a decompression bomb?); {_RAISE_IT}")


def check_samples(samples, what, limits):
    """`what` decodes `samples` values: at most 4 per pixel of the limit."""
    top = limits.max_pixels * SAMPLES_PER_PIXEL
    if limits.max_pixels and samples > top:
        raise ImageReadError(
            f"{what} is {samples:,} samples, above the limit of {top:,} "
            f"({SAMPLES_PER_PIXEL} per pixel of --max-pixels; a decompression bomb?); {_RAISE_IT}")


def check_file_size(size, raw_bytes, what, subject="the file is"):
    """Refuse, before reading it, a file (or its data) far larger than the pixels
    its header declares (`raw_bytes` decoded) could need."""
    top = 2 * raw_bytes + _FILE_SLACK
    if size > top:
        raise ImageReadError(
            f"{subject} {size:,} bytes, more than {what} could need ({top:,} bytes at most): "
            "not read")


def drop_alpha(array, colour):
    """Gray + alpha to gray, RGBA to RGB."""
    if colour and array.shape[-1] in (2, 4):
        array = array[..., :-1]
        if array.shape[-1] == 1:
            return Loaded(array[..., 0], False)
    return Loaded(array, colour)

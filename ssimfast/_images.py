"""Reading image files for the command-line tool (the `cli` extra).

PNG: ssimfast's own reader for the common kinds (`_png`, decodes with the GIL
released), Pillow for the rest. TIFF: tifffile, which keeps 16-bit, float and
multi-page data (pages become the first axis of a volume). Everything else:
Pillow (JPEG, WebP, BMP, GIF, ...; the first frame of animations).

Alpha channels are dropped: SSIM compares the colour or gray values.
"""
import io
import os
from typing import NamedTuple

import numpy as np

from ssimfast import _png

__all__ = ["ImageReadError", "Loaded", "read_image", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = frozenset(
    ".png .jpg .jpeg .jpe .tif .tiff .webp .bmp .gif .pgm .ppm .pbm .pnm .jp2 .j2k".split())
_TIFF_SIGNATURES = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")
# ITU-R 601 luma weights, as Pillow's convert("L").
_LUMA = np.array([0.299, 0.587, 0.114])


class ImageReadError(Exception):
    """A file that cannot be read as an image; str() says which file and why."""


class Loaded(NamedTuple):
    """An image read from a file: its pixels, and whether the last axis holds colour."""

    array: np.ndarray
    colour: bool


def read_image(path, gray=False):
    """Read `path` as an array; `gray=True` turns colour into luma (rounded to
    the file's integer dtype). Raises ImageReadError with the reason."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise ImageReadError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        loaded = _decode(data)
    except ImageReadError as exc:
        raise ImageReadError(f"cannot read {path}: {exc}") from None
    except Exception as exc:  # any decoder failure on a damaged file is the file's fault
        raise ImageReadError(f"cannot read {path}: {_reason(exc)}") from None
    if gray and loaded.colour:
        return Loaded(to_gray(loaded.array), False)
    return loaded


def to_gray(rgb):
    """Luma of an (..., 3) array, in its dtype (integers rounded)."""
    luma = rgb[..., :3] @ _LUMA
    if np.issubdtype(rgb.dtype, np.integer):
        return np.round(luma).astype(rgb.dtype)
    return luma.astype(rgb.dtype)


def _reason(exc):
    text = str(exc).strip() or type(exc).__name__
    return text[0].lower() + text[1:] if text else text


def _decode(data):
    if data.startswith(_png.SIGNATURE):
        array = _png.decode(data)
        if array is not None:
            return _drop_alpha(array, colour=array.ndim == 3)
    if data[:4] in _TIFF_SIGNATURES:
        return _read_tiff(data)
    return _read_pillow(data)


def _drop_alpha(array, colour):
    """Gray + alpha to gray, RGBA to RGB."""
    if colour and array.shape[-1] in (2, 4):
        array = array[..., :-1]
        if array.shape[-1] == 1:
            return Loaded(array[..., 0], False)
    return Loaded(array, colour)


def _read_tiff(data):
    try:
        import tifffile
    except ImportError:
        return _read_pillow(data)  # Pillow reads single-page 8/16-bit TIFFs
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        series = tif.series[0]
        array = series.asarray()
        axes = series.axes
    # 'S' is tifffile's axis of samples per pixel (colour channels).
    colour = axes.endswith("S") and array.shape[-1] in (2, 3, 4)
    if array.dtype.byteorder not in "=|":
        array = array.astype(array.dtype.newbyteorder("="))
    return _drop_alpha(array, colour)


def _read_pillow(data):
    try:
        from PIL import Image
    except ImportError:
        raise ImageReadError(
            "reading this format needs Pillow: pip install 'ssimfast[cli]'") from None
    try:
        im = Image.open(io.BytesIO(data))
    except Image.UnidentifiedImageError:
        raise ImageReadError("not an image file in a format Pillow reads (unknown format, "
                             "or the file is damaged)") from None
    with im:
        im.load()
        mode = im.mode
        if mode in ("1", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "La", "RGBa", "RGBX"):
            im = im.convert("RGBA" if mode in ("PA", "La", "RGBa") or
                            "transparency" in im.info else ("L" if mode == "1" else "RGB"))
        array = np.asarray(im)
    if array.dtype.byteorder not in "=|":  # I;16B
        array = array.astype(array.dtype.newbyteorder("="))
    return _drop_alpha(array, colour=array.ndim == 3)


def is_image_file(name):
    """Whether a file name has a suffix the tool reads as an image."""
    return os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES

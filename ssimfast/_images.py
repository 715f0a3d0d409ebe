"""Reading image files for the command-line tool (the `cli` extra).

Each format has one reader, so a file gives the same array whatever it holds:

- PNG: imagecodecs (libpng), which decodes with the GIL released, so a thread
  pool decodes a directory on every core. Every kind of PNG goes through it:
  1-, 2- and 4-bit gray become uint8 (scaled to 0-255), 8-bit stays uint8, 16-bit
  stays uint16 (gray or colour, interlaced or not), palettes become RGB.
- TIFF: tifffile, which keeps 16-bit, float and multi-page data (pages become the
  first axis of a volume).
- Everything else: Pillow (JPEG, WebP, BMP, GIF, ...; the first frame of
  animations).

Alpha channels are dropped: SSIM compares the colour or gray values.

Limits are checked from the header, before any decoding: `Limits.max_pixels`
(Pillow's default, about 89.5 megapixels; for a volume, all its pages) and
`Limits.max_pages` for multi-page TIFF. libpng inflates into the rows the header
announces, so memory stays bounded by the header's size; compressed data beyond
the last row is inflated and dropped (time proportional to the file's size).
Special files (FIFOs, devices, sockets) are refused without being opened.
"""
import io
import os
import stat
import struct
from typing import NamedTuple

import numpy as np

__all__ = ["ImageReadError", "Limits", "Loaded", "read_image", "IMAGE_SUFFIXES",
           "special_file_kind"]

IMAGE_SUFFIXES = frozenset(
    ".png .jpg .jpeg .jpe .tif .tiff .webp .bmp .gif .pgm .ppm .pbm .pnm .jp2 .j2k".split())
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TIFF_SIGNATURES = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")
# ITU-R 601 luma weights, as Pillow's convert("L").
_LUMA = np.array([0.299, 0.587, 0.114])
# Pillow's Image.MAX_IMAGE_PIXELS: the usual convention for a decompression bomb.
MAX_PIXELS = 1024 * 1024 * 1024 // 4 // 3
MAX_PAGES = 1000


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


def special_file_kind(mode):
    """'a FIFO', 'a device', ... for a stat mode that is not a regular file, else None."""
    if stat.S_ISREG(mode):
        return None
    for test, name in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a directory")):
        if test(mode):
            return name
    return "not a regular file"


def read_image(path, gray=False, limits=Limits()):
    """Read `path` as an array; `gray=True` turns colour into luma (rounded to
    the file's integer dtype). Raises ImageReadError with the reason."""
    try:
        data = _read_bytes(path)
        loaded = _decode(data, limits)
    except ImageReadError as exc:
        raise ImageReadError(f"cannot read {path}: {exc}") from None
    except MemoryError:
        raise ImageReadError(f"cannot read {path}: out of memory while decoding it") from None
    except Exception as exc:  # any decoder failure on a damaged file is the file's fault
        raise ImageReadError(f"cannot read {path}: {_reason(exc)}") from None
    if gray and loaded.colour:
        return Loaded(to_gray(loaded.array), False)
    return loaded


def _read_bytes(path):
    """The file's bytes; a special file is refused from its stat, before opening it
    (opening a FIFO blocks until a writer comes)."""
    try:
        kind = special_file_kind(os.stat(path).st_mode)
        if kind:
            raise ImageReadError(f"{kind}, not a regular file: skipped without opening it")
        # O_NONBLOCK: should it have become a FIFO since the stat, open does not block.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(fd, "rb") as f:
            kind = special_file_kind(os.fstat(f.fileno()).st_mode)
            if kind:
                raise ImageReadError(f"{kind}, not a regular file")
            return f.read()
    except OSError as exc:
        raise ImageReadError(exc.strerror or str(exc)) from None


def to_gray(rgb):
    """Luma of an (..., 3) array, in its dtype (integers rounded)."""
    luma = rgb[..., :3] @ _LUMA
    if np.issubdtype(rgb.dtype, np.integer):
        return np.round(luma).astype(rgb.dtype)
    return luma.astype(rgb.dtype)


def _reason(exc):
    text = str(exc).strip() or type(exc).__name__
    return text[0].lower() + text[1:] if text else text


def _decode(data, limits):
    if data.startswith(PNG_SIGNATURE):
        return _read_png(data, limits)
    if data[:4] in _TIFF_SIGNATURES:
        return _read_tiff(data, limits)
    return _read_pillow(data, limits)


def _check_pixels(pixels, size, limits):
    if limits.max_pixels and pixels > limits.max_pixels:
        raise ImageReadError(
            f"{size} is {pixels:,} pixels, above the limit of {limits.max_pixels:,} pixels "
            "(a decompression bomb?); pass --max-pixels N to raise it, or 0 for no limit")


def _read_png(data, limits):
    # IHDR must come first (libpng refuses a file where it does not); a file too
    # short to hold it is left to libpng to refuse.
    if data[8:16] == b"\0\0\0\x0dIHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        _check_pixels(width * height, f"the PNG header's {width}x{height}", limits)
    try:
        import imagecodecs
    except ImportError:
        raise ImageReadError(
            "reading PNG needs imagecodecs: pip install 'ssimfast[cli]'") from None
    array = imagecodecs.png_decode(data)
    return _drop_alpha(array, colour=array.ndim == 3)


def _drop_alpha(array, colour):
    """Gray + alpha to gray, RGBA to RGB."""
    if colour and array.shape[-1] in (2, 4):
        array = array[..., :-1]
        if array.shape[-1] == 1:
            return Loaded(array[..., 0], False)
    return Loaded(array, colour)


def _read_tiff(data, limits):
    try:
        import tifffile
    except ImportError:
        raise ImageReadError(
            "reading TIFF needs tifffile: pip install 'ssimfast[cli]'") from None
    with tifffile.TiffFile(io.BytesIO(data)) as tif:
        # The page count reads the chain of page headers only (bounded by the
        # file's size), not the pixels.
        pages = len(tif.pages)
        if limits.max_pages and pages > limits.max_pages:
            raise ImageReadError(
                f"the TIFF file has {pages:,} pages, above the limit of {limits.max_pages:,}; "
                "pass --max-pages N to raise it, or 0 for no limit")
        series = tif.series[0]
        axes = series.axes
        # 'S' is tifffile's axis of samples per pixel (colour channels).
        spatial = [n for n, axis in zip(series.shape, axes) if axis != "S"]
        _check_pixels(int(np.prod(spatial, dtype=object)),
                      "the TIFF image" + (f" of {pages} pages" if pages > 1 else "")
                      + f" ({'x'.join(map(str, spatial))})", limits)
        array = series.asarray()
    colour = axes.endswith("S") and array.shape[-1] in (2, 3, 4)
    if array.dtype.byteorder not in "=|":
        array = array.astype(array.dtype.newbyteorder("="))
    return _drop_alpha(array, colour)


def _read_pillow(data, limits):
    try:
        from PIL import Image
    except ImportError:
        raise ImageReadError(
            "reading this format needs Pillow: pip install 'ssimfast[cli]'") from None
    # Our limit (from the same header, before decoding) replaces Pillow's own,
    # which would refuse what --max-pixels allows.
    Image.MAX_IMAGE_PIXELS = None
    try:
        im = Image.open(io.BytesIO(data))
    except Image.UnidentifiedImageError:
        raise ImageReadError("not an image file in a format Pillow reads (unknown format, "
                             "or the file is damaged)") from None
    with im:
        width, height = im.size
        _check_pixels(width * height, f"the image's {width}x{height}", limits)
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

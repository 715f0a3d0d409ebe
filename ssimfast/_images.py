"""Reading image files for the command-line tool (the `cli` extra).

The first 64 bytes choose the reader by the format's signature; a file with
none of the documented formats' is refused without reading further. Each
format has one reader, so a picture gives the same array whatever holds it:

- PNG: imagecodecs (libpng), which decodes with the GIL released, so a thread
  pool decodes a directory on every core. Every kind of PNG goes through it:
  1-, 2- and 4-bit gray become uint8 (scaled to 0-255), 8-bit stays uint8, 16-bit
  stays uint16 (gray or colour, interlaced or not), palettes become RGB.
- TIFF: tifffile (`_tiff_reader`), which keeps 16-bit, float and multi-page data
  (pages become the first axis of a volume), with the photometric
  interpretation applied.
- JPEG, JPEG 2000, WebP, BMP, GIF, PNM: Pillow (`_pillow_reader`), given only
  the plugin the signature names; the first frame of animations.

Alpha channels are dropped: SSIM compares the colour or gray values. Floats
with NaN or infinite values are refused (their SSIM is NaN).

Limits are checked from the headers, before any decoding (`_image_limits`):
pixels, samples and the samples tiles or strips decode, `Limits.max_pages`
page headers at most, and a PNG (read whole, for libpng) larger than its
header's pixels could need is refused before it is read. TIFF and Pillow read
the open file as they need it. Special files (FIFOs, devices, sockets) are
refused without being opened.
"""
import importlib
import os
import stat
import struct

import numpy as np

from ssimfast._image_limits import (MAX_PAGES, MAX_PIXELS, ImageReadError, Limits, Loaded,
                                    check_file_size, check_pixels, check_samples, drop_alpha)
from ssimfast._pillow_reader import read_pillow
from ssimfast._tiff_reader import read_tiff

__all__ = ["ImageReadError", "Limits", "Loaded", "read_image", "IMAGE_SUFFIXES",
           "special_file_kind", "MAX_PAGES", "MAX_PIXELS"]

IMAGE_SUFFIXES = frozenset(
    ".png .jpg .jpeg .jpe .tif .tiff .webp .bmp .gif .pgm .ppm .pbm .pnm .jp2 .j2k".split())
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TIFF_SIGNATURES = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")
# The formats the command documents, by signature: each file reaches only its
# own decoder (Pillow's plugins by name).
_PILLOW_SIGNATURES = (
    ((b"\xff\xd8\xff",), ["JPEG", "MPO"]),
    ((b"\0\0\0\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51"), ["JPEG2000"]),
    ((b"GIF87a", b"GIF89a"), ["GIF"]),
    ((b"BM",), ["BMP"]),
    (tuple(b"P%d" % n for n in range(1, 7)), ["PPM"]),
)
_FORMATS = "PNG, TIFF, JPEG, JPEG 2000, WebP, BMP, GIF or PNM"
_HEAD = 64  # enough for every signature and PNG's IHDR
# ITU-R 601 luma weights, as Pillow's convert("L").
_LUMA = np.array([0.299, 0.587, 0.114])
# PNG colour type: samples per pixel.
_PNG_SAMPLES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


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
        with _open_regular(path) as fh:
            loaded = _decode(fh, os.fstat(fh.fileno()).st_size, limits)
        if loaded.array.dtype.kind == "f" and not np.isfinite(loaded.array).all():
            raise ImageReadError("it contains NaN or infinite values (their SSIM is NaN)")
    except ImageReadError as exc:
        raise ImageReadError(f"cannot read {path}: {exc}") from None
    except MemoryError:
        raise ImageReadError(f"cannot read {path}: out of memory while decoding it") from None
    except OSError as exc:
        raise ImageReadError(f"cannot read {path}: {exc.strerror or _reason(exc)}") from None
    except Exception as exc:  # any decoder failure on a damaged file is the file's fault
        raise ImageReadError(f"cannot read {path}: {_reason(exc)}") from None
    if gray and loaded.colour:
        return Loaded(to_gray(loaded.array), False)
    return loaded


def _open_regular(path):
    """The open file; a special file is refused from its stat, before opening it
    (opening a FIFO blocks until a writer comes)."""
    kind = special_file_kind(os.stat(path).st_mode)
    if kind:
        raise ImageReadError(f"{kind}, not a regular file: skipped without opening it")
    # O_NONBLOCK: should it have become a FIFO since the stat, open does not block.
    fh = open(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb")
    kind = special_file_kind(os.fstat(fh.fileno()).st_mode)
    if kind:
        fh.close()
        raise ImageReadError(f"{kind}, not a regular file")
    return fh


def to_gray(rgb):
    """Luma of an (..., 3) array, in its dtype (integers rounded)."""
    luma = rgb[..., :3] @ _LUMA
    if np.issubdtype(rgb.dtype, np.integer):
        return np.round(luma).astype(rgb.dtype)
    return luma.astype(rgb.dtype)


def _reason(exc):
    """The exception's text, first word lowercased unless it is a name ("IDAT")."""
    text = str(exc).strip() or type(exc).__name__
    if text[1:2].islower():
        return text[0].lower() + text[1:]
    return text


def _decode(fh, size, limits):
    """By the signature in the file's first bytes: nothing more is read from a
    file that has none of the documented formats'."""
    head = fh.read(_HEAD)
    fh.seek(0)
    if head.startswith(PNG_SIGNATURE):
        return _read_png(fh, head, size, limits)
    if head[:4] in _TIFF_SIGNATURES:
        return read_tiff(_import("tifffile", "TIFF"), fh, limits)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        formats = ["WEBP"]
    else:
        formats = next((names for signatures, names in _PILLOW_SIGNATURES
                        if head.startswith(signatures)), None)
    if formats is None:
        raise ImageReadError(f"not an image file ({_FORMATS}; unknown format, or the file "
                             "is damaged)")
    return read_pillow(_import("PIL.Image", "this format"), fh, size, formats, limits)


def _import(name, what):
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ImageReadError(
            f"reading {what} needs {name.split('.')[0]}: pip install 'ssimfast[cli]'") from None


def _read_png(fh, head, size, limits):
    # IHDR must come first (libpng refuses a file where it does not); a file too
    # short to hold it is left to libpng to refuse.
    if head[8:16] == b"\0\0\0\x0dIHDR" and len(head) >= 26:
        width, height, bits, colour_type = struct.unpack(">IIBB", head[16:26])
        what = f"the PNG header's {width}x{height}"
        check_pixels(width * height, what, limits)
        samples = _PNG_SAMPLES.get(colour_type, 4)
        check_samples(width * height * samples, what, limits)
        row = (width * samples * max(bits, 1) + 7) // 8 + 1
        check_file_size(size, row * height, f"its {width}x{height} pixels")
    imagecodecs = _import("imagecodecs", "PNG")
    array = imagecodecs.png_decode(fh.read())
    return drop_alpha(array, colour=array.ndim == 3)


def is_image_file(name):
    """Whether a file name has a suffix the tool reads as an image."""
    return os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES

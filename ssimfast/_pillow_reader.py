"""JPEG, JPEG 2000, WebP, BMP, GIF and PNM files for the command-line tool, through Pillow.

Pillow is given only the plugin of the format the file's signature names: a
file cannot reach a plugin the command does not document (EPS runs
Ghostscript; ICO and PSD hold images whose size their header does not state).
The size and bands from the header are checked before decoding.
"""
import warnings

import numpy as np

from ssimfast._image_limits import (ImageReadError, Loaded, check_file_size, check_pixels,
                                    check_samples, drop_alpha)

__all__ = ["read_pillow"]

_ANIMATED = ("GIF", "WEBP")
_CONVERTED = frozenset(("1", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "La", "RGBa", "RGBX"))


def read_pillow(Image, fh, size, formats, limits):
    """The first frame of the open file `fh` (of `size` bytes), with only
    `formats`' plugins."""
    # Pillow's own bomb check at our limit (the same for every call of a run):
    # it refuses above twice the limit; ours below refuses what it only warns about.
    Image.MAX_IMAGE_PIXELS = limits.max_pixels or None
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    try:
        im = Image.open(fh, formats=formats)
    except Image.UnidentifiedImageError:
        raise ImageReadError(f"not a {formats[0]} file Pillow can read (the file is "
                             "damaged?)") from None
    except Image.DecompressionBombError:
        raise ImageReadError(
            f"the image's header declares more than {2 * limits.max_pixels:,} pixels, twice "
            f"the limit of {limits.max_pixels:,} (a decompression bomb?); pass --max-pixels N "
            "to raise it, or 0 for no limit") from None
    with im:
        width, height = im.size
        what = f"the image's {width}x{height}"
        check_pixels(width * height, what, limits)
        samples = width * height * len(im.getbands())
        check_samples(samples, what, limits)
        if formats[0] not in _ANIMATED:  # (other frames are not read)
            check_file_size(size, 2 * samples, f"its {width}x{height} pixels")
        ppm = _ppm_16bit_colour(im, fh)
        if ppm is not None:
            return Loaded(ppm, True)
        im.load()
        mode = im.mode
        if mode in _CONVERTED:
            im = im.convert("RGBA" if mode in ("PA", "La", "RGBa") or
                            "transparency" in im.info else ("L" if mode == "1" else "RGB"))
        array = np.asarray(im)
    if array.dtype.byteorder not in "=|":  # I;16B
        array = array.astype(array.dtype.newbyteorder("="))
    if mode == "I" and im.format == "PPM":
        # 16-bit PGM: Pillow widens it to int32; its values are those of uint16.
        array = array.astype(np.uint16)
    return drop_alpha(array, colour=array.ndim == 3)


def _ppm_16bit_colour(im, fh):
    """The uint16 RGB of a binary 16-bit PPM (Pillow reduces it to 8 bits);
    None for other files."""
    codec, _, offset, args = im.tile[0] if len(im.tile) == 1 else (None,) * 4
    if im.format != "PPM" or im.mode != "RGB" or codec != "ppm" or args[1] <= 255:
        return None
    if args[1] != 65535:
        raise ImageReadError(f"a colour PPM of maxval {args[1]}: only 8- and 16-bit (65535) "
                             "colour PPM are read; convert it to PNG or TIFF")
    width, height = im.size
    fh.seek(offset)
    data = fh.read(width * height * 6)
    if len(data) < width * height * 6:
        raise ImageReadError("the PPM file is truncated")
    return np.frombuffer(data, ">u2").reshape(height, width, 3).astype(np.uint16)

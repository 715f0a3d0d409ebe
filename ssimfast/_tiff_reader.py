"""TIFF files for the command-line tool, through tifffile, with limits from the
page headers and the photometric interpretation applied.

tifffile returns the stored samples; a picture must give the same array as in
a PNG, so: palette indices become the colormap's RGB (8-bit when the colormap
is 8-bit widened by 257 or 256, as most writers store it), MinIsWhite gray is
inverted to MinIsBlack, 1-, 2- and 4-bit gray become 0-255 as PNG's, planar
RGB becomes (..., 3). CMYK and other interpretations have no exact conversion
to RGB and are refused by name.
"""
import logging
import struct

import numpy as np

from ssimfast._image_limits import (ImageReadError, check_file_size, check_pixels, check_samples,
                                    drop_alpha)

__all__ = ["read_tiff"]

# tifffile logs damage it works around (a circular page chain...) to stderr
# through logging's last resort: the command prints only its own messages.
logging.getLogger("tifffile").addHandler(logging.NullHandler())

_MINISWHITE, _MINISBLACK, _RGB, _PALETTE, _SEPARATED, _YCBCR = 0, 1, 2, 3, 5, 6
_JPEG = (6, 7)  # old-style and new-style JPEG compression
_PHOTOMETRIC_NAMES = {4: "MASK", 5: "SEPARATED (CMYK)", 8: "CIELAB", 9: "ICCLAB", 10: "ITULAB",
                      32844: "LOGL", 32845: "LOGLUV", 32803: "CFA (raw sensor data)",
                      34892: "LINEAR_RAW"}


def read_tiff(tifffile, fh, limits):
    """The first series of the TIFF in the open file `fh` (read as needed, not whole)."""
    with tifffile.TiffFile(fh, name="image.tif") as tif:
        _check_pages(tif, limits)
        series = tif.series[0]
        page = series.keyframe
        _check_photometric(page)
        _check_size(series, page, limits)
        if page.compression == _JPEG[1]:
            _check_jpeg_chunks(tif.filehandle, series.pages, page.chunks)
        array = series.asarray()
    axes = series.axes
    if "S" in axes and not axes.endswith("S"):  # planar (separate) samples
        array = np.moveaxis(array, axes.index("S"), -1)
        axes = axes.replace("S", "") + "S"
    if array.dtype.byteorder not in "=|":
        array = array.astype(array.dtype.newbyteorder("="))
    if page.photometric == _PALETTE:
        return drop_alpha(_apply_colormap(array, page.colormap), True)
    array = _to_min_is_black(array, page)
    colour = axes.endswith("S") and array.shape[-1] in (2, 3, 4)
    return drop_alpha(array, colour)


def _check_pages(tif, limits):
    """Refuse more than --max-pages pages, reading the page headers up to the
    limit only (len(tif.pages) would follow the whole chain; tif.pages[i] past
    a circular chain returns a page at the wrong place). A chain that loops
    back is left to tifffile, which cuts it."""
    if not limits.max_pages:
        return
    seen = set()
    for index, page in enumerate(tif.pages):
        if index == limits.max_pages:
            break
        if page.offset in seen:
            return
        seen.add(page.offset)
    else:
        return
    raise ImageReadError(
        f"the TIFF file has more than {limits.max_pages:,} pages, above the limit of "
        f"{limits.max_pages:,}; pass --max-pages N to raise it, or 0 for no limit")


def _check_photometric(page):
    photometric = int(page.photometric)
    if photometric in (_MINISWHITE, _MINISBLACK, _RGB, _PALETTE):
        return
    if photometric == _YCBCR and page.compression in _JPEG:
        return  # the JPEG decoder gives RGB
    name = _PHOTOMETRIC_NAMES.get(photometric, "YCBCR" if photometric == _YCBCR
                                  else str(photometric))
    why = (": CMYK has no exact conversion to RGB (it depends on the inks' profile)"
           if photometric == _SEPARATED else "")
    raise ImageReadError(
        f"the TIFF's photometric interpretation {name} is not supported{why}; "
        "convert the file to RGB or gray first")


def _check_size(series, page, limits):
    """Pixels, samples and the samples its tiles or strips decode, from the headers."""
    pages = len(series.pages)
    spatial = [n for n, axis in zip(series.shape, series.axes) if axis != "S"]
    what = ("the TIFF image" + (f" of {pages} pages" if pages > 1 else "")
            + f" ({'x'.join(map(str, spatial))})")
    check_pixels(int(np.prod(spatial, dtype=object)), what, limits)
    samples = int(np.prod(series.shape, dtype=object))
    spp = page.samplesperpixel
    check_samples(samples, what + (f" with {spp} samples per pixel" if spp > 1 else ""), limits)
    chunks = int(np.prod(page.chunked, dtype=object)) * int(np.prod(page.chunks, dtype=object))
    check_samples(pages * chunks, f"decoding the TIFF's {'tiles' if page.is_tiled else 'strips'} "
                  f"of {'x'.join(map(str, page.chunks))}", limits)
    # The compressed data are read whole before decoding: no more than they could need.
    stored = sum(sum(frame.databytecounts) for frame in series.pages if frame is not None)
    check_file_size(stored, pages * chunks * max(1, page.bitspersample // 8),
                    f"its {'x'.join(map(str, spatial))} pixels", "the TIFF's pixel data are")


def _check_jpeg_chunks(fh, pages, chunks):
    """Refuse JPEG strips or tiles whose own header declares more pixels than
    the chunk they fill: the decoder allocates what the JPEG header says."""
    for page in filter(None, pages):
        for offset, count in zip(page.dataoffsets, page.databytecounts):
            size = _jpeg_size(fh, offset, count)
            if size and size[0] * size[1] > chunks[0] * chunks[1]:
                raise ImageReadError(
                    f"a JPEG strip or tile declares {size[1]}x{size[0]} pixels, more than "
                    f"the {chunks[1]}x{chunks[0]} it fills (a decompression bomb?)")


def _jpeg_size(fh, offset, count, markers=64):
    """(height, width) of a JPEG's frame header, walking the segments (at most
    `markers`) from its start; None when there is none to find."""
    end, pos = offset + count, offset + 2
    fh.seek(offset)
    if fh.read(2) != b"\xff\xd8":
        return None
    for _ in range(markers):
        fh.seek(pos)
        head = fh.read(9)
        if pos + 4 > end or len(head) < 4 or head[0] != 0xFF:
            return None
        marker, length = head[1], struct.unpack(">H", head[2:4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # SOFn
            return struct.unpack(">HH", head[5:9]) if len(head) == 9 else None
        pos += 2 + length
    return None


def _apply_colormap(indices, colormap):
    """RGB of palette indices, at the colormap's own depth: 8 bits when every
    entry is an 8-bit value times 257 or 256 (or below 256: old writers)."""
    colormap = np.asarray(colormap, dtype=np.uint16)
    for scale in (257, 256):
        if not (colormap % scale).any():
            colormap = (colormap // scale).astype(np.uint8)
            break
    else:
        if colormap.max() < 256:
            colormap = colormap.astype(np.uint8)
    if indices.dtype.kind not in "ub" or indices.max(initial=0) >= colormap.shape[1]:
        raise ImageReadError("palette indices beyond the TIFF's colormap")
    return np.ascontiguousarray(colormap.T)[indices.astype(np.intp)]


def _to_min_is_black(array, page):
    """MinIsWhite inverted; gray below 8 bits scaled to 0-255 (as PNG's)."""
    bits = page.bitspersample
    if array.dtype == bool:
        array = array.astype(np.uint8)
    if page.photometric == _MINISWHITE:
        if array.dtype.kind != "u":
            raise ImageReadError(f"MinIsWhite {array.dtype} TIFF: only unsigned integers have "
                                 "an inversion (white is their maximum)")
        top = (1 << bits) - 1 if bits < array.dtype.itemsize * 8 else np.iinfo(array.dtype).max
        array = (top - array).astype(array.dtype)
    if array.dtype == np.uint8 and bits in (1, 2, 4):
        array = array * np.uint8(255 // ((1 << bits) - 1))
    return array

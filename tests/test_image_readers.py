"""Hostile and awkward files for the image readers (issue 15): limits from the
headers before reading or decoding, only the documented formats, and the same
array for the same picture whatever the container."""
import io
import os

import numpy as np
import pytest
import tifffile
from PIL import Image
from test_cli import camera, run
from test_png import encode_test_png

from ssimfast._images import ImageReadError, Limits, read_image


def _png(tmp_path, name, array):
    Image.fromarray(array).save(tmp_path / name)
    return tmp_path / name


def test_a_file_far_larger_than_its_header_needs_is_not_read(tmp_path):
    path = _png(tmp_path, "x.png", camera(8))
    with open(path, "r+b") as f:
        f.truncate(64 << 20)  # sparse: cheap on disk
    with pytest.raises(ImageReadError, match=r"67,108,864 bytes, more than its 8x8 pixels "
                                             r"could need .*not read"):
        read_image(path)


def test_data_far_larger_than_the_header_needs_are_not_read(tmp_path):
    Image.fromarray(camera(8)).save(tmp_path / "x.jpg")
    tifffile.imwrite(tmp_path / "x.tif", camera(8))
    with tifffile.TiffFile(tmp_path / "x.tif") as tif:
        tag = tif.pages[0].tags["StripByteCounts"]
        assert tag.dtype == 4  # LONG, stored in the tag
        where = tag.valueoffset
    data = bytearray((tmp_path / "x.tif").read_bytes())
    data[where:where + 4] = (64 << 20).to_bytes(4, "little")  # a LONG strip byte count
    (tmp_path / "x.tif").write_bytes(bytes(data))
    for name, match in (("x.jpg", "the file is 67,108,864 bytes"),
                        ("x.tif", "pixel data are 67,108,864 bytes")):
        with open(tmp_path / name, "r+b") as f:
            f.truncate(64 << 20)
        with pytest.raises(ImageReadError, match=match + ", more than its 8x8 pixels"):
            read_image(tmp_path / name)


def test_pillow_gets_only_the_format_of_the_signature(tmp_path):
    # An ICO whose directory claims 16x16 but holds a 64x64 PNG; an EPS.
    buf = io.BytesIO()
    Image.fromarray(camera(64)).save(buf, format="ICO", sizes=[(64, 64)])
    ico = bytearray(buf.getvalue())
    ico[6:8] = bytes([16, 16])
    (tmp_path / "ico.png").write_bytes(bytes(ico))
    (tmp_path / "eps.png").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n")
    for name in ("ico.png", "eps.png"):
        with pytest.raises(ImageReadError, match="not an image file"):
            read_image(tmp_path / name, limits=Limits(max_pixels=1000))


def test_16_bit_pgm_and_ppm_are_uint16(tmp_path):
    rng = np.random.default_rng(0)
    values = rng.integers(0, 65536, (16, 16)).astype(">u2")
    (tmp_path / "x.pgm").write_bytes(b"P5\n16 16\n65535\n" + values.tobytes())
    got = read_image(tmp_path / "x.pgm").array
    assert got.dtype == np.uint16 and np.array_equal(got, values)
    rgb = rng.integers(0, 65536, (16, 8, 3)).astype(">u2")
    (tmp_path / "x.ppm").write_bytes(b"P6\n8 16\n65535\n" + rgb.tobytes())
    got = read_image(tmp_path / "x.ppm")
    assert got.colour and got.array.dtype == np.uint16 and np.array_equal(got.array, rgb)


def test_tiff_limits_count_samples_and_tiles(tmp_path):
    tifffile.imwrite(tmp_path / "extra.tif", np.zeros((30, 30, 200), np.uint8),
                     photometric="minisblack", planarconfig="contig")
    with pytest.raises(ImageReadError, match="200 samples per pixel is 180,000 samples"):
        read_image(tmp_path / "extra.tif", limits=Limits(max_pixels=2000))
    tifffile.imwrite(tmp_path / "tile.tif", np.zeros((16, 16), np.uint8), tile=(1024, 1024),
                     compression="zlib")
    with pytest.raises(ImageReadError, match="tiles of 1024x1024 is 1,048,576 samples"):
        read_image(tmp_path / "tile.tif", limits=Limits(max_pixels=10000))


def test_a_jpeg_strip_declaring_more_than_its_strip_is_refused(tmp_path):
    tifffile.imwrite(tmp_path / "j.tif", camera(16), compression="jpeg")
    data = bytearray((tmp_path / "j.tif").read_bytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = (2000).to_bytes(2, "big") * 2
    (tmp_path / "j.tif").write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match="declares 2000x2000 pixels, more than the 16x16"):
        read_image(tmp_path / "j.tif")


def test_libpng_messages_keep_the_chunk_names(tmp_path):
    data = bytearray(encode_test_png(camera(16)))
    data[data.index(b"IEND") - 5] ^= 1  # the last byte of the IDAT chunk's CRC
    (tmp_path / "crc.png").write_bytes(bytes(data))
    with pytest.raises(ImageReadError, match="IDAT: CRC error"):
        read_image(tmp_path / "crc.png")


def test_tiff_photometric_gives_the_png_array(tmp_path):
    gray, rgb = camera(32), np.stack([camera(32), camera(32)[::-1], camera(32).T], -1)
    tifffile.imwrite(tmp_path / "white.tif", 255 - gray, photometric="miniswhite")
    assert np.array_equal(read_image(tmp_path / "white.tif").array, gray)
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(rgb, -1, 0), photometric="rgb",
                     planarconfig="separate")
    loaded = read_image(tmp_path / "planar.tif")
    assert loaded.colour and np.array_equal(loaded.array, rgb)
    palette = Image.fromarray(rgb).quantize(16)
    palette.save(tmp_path / "pal.png")
    palette.save(tmp_path / "pal.tif")
    png, tif = read_image(tmp_path / "pal.png"), read_image(tmp_path / "pal.tif")
    assert tif.colour and tif.array.dtype == np.uint8 and np.array_equal(tif.array, png.array)
    tifffile.imwrite(tmp_path / "bits.tif", gray > 128)  # 1-bit, MinIsWhite
    assert set(np.unique(read_image(tmp_path / "bits.tif").array)) <= {0, 255}


def test_cmyk_tiff_is_refused_by_name(tmp_path):
    tifffile.imwrite(tmp_path / "cmyk.tif", np.zeros((8, 8, 4), np.uint8),
                     photometric="separated")
    with pytest.raises(ImageReadError, match=r"SEPARATED \(CMYK\) is not supported"):
        read_image(tmp_path / "cmyk.tif")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_a_fifo_in_file_mode_is_refused_without_opening_it(tmp_path):
    os.mkfifo(tmp_path / "fifo.png")
    _png(tmp_path, "b.png", camera(16))
    os.mkfifo(tmp_path / "fifo.y4m")
    for a, b in (("fifo.png", "b.png"), ("b.png", "fifo.png"), ("fifo.y4m", "fifo.y4m")):
        proc = run("compare", a, b, cwd=tmp_path, check_code=1, timeout=60)
        assert ": a FIFO (named pipe), not a regular file" in proc.stderr


def test_tifffile_log_lines_do_not_reach_stderr(tmp_path):
    # Pages whose chain loops back to the first: tifffile cuts it, and logs.
    tifffile.imwrite(tmp_path / "loop.tif", np.stack([camera(16)] * 3), photometric="minisblack")
    with tifffile.TiffFile(tmp_path / "loop.tif") as tif:
        first, *_, last = (page.offset for page in tif.pages)
    data = bytearray((tmp_path / "loop.tif").read_bytes())
    entries = int.from_bytes(data[last:last + 2], "little")
    data[last + 2 + 12 * entries:last + 6 + 12 * entries] = first.to_bytes(4, "little")
    (tmp_path / "loop.tif").write_bytes(bytes(data))
    proc = run("compare", "loop.tif", "loop.tif", "--win-size", 3, cwd=tmp_path, check_code=0)
    assert proc.stderr == ""

"""`--depth`: an 8-bit and a 16-bit rendering of one picture compared, after
round(v * (2**D - 1) / (2**N - 1)) in exact integers (ssimfast._depth)."""
import csv
import io
import json

import numpy as np
import pytest
import tifffile
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio as ski_psnr
from test_cli import camera, noisy, run
from test_png import encode_test_png

import ssimfast
from ssimfast._depth import convert_depth

# ---------------------------------------------------------------- the conversion


def test_hand_computed_levels():
    v16 = np.array([0, 128, 129, 257, 385, 386, 32767, 32768, 65406, 65407, 65535], np.uint16)
    # v / 257: 0, 0.498, 0.502, 1, 1.498, 1.502, 127.498, 127.502, 254.498, 254.502, 255
    want = np.array([0, 0, 1, 1, 1, 2, 127, 128, 254, 255, 255], np.uint8)
    got = convert_depth(v16, 8)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, want)
    v8 = np.arange(256, dtype=np.uint8)
    up = convert_depth(v8, 16)
    assert up.dtype == np.uint16
    np.testing.assert_array_equal(up, v8.astype(np.uint16) * 257)  # 65535 / 255 = 257 exactly
    np.testing.assert_array_equal(convert_depth(up, 8), v8)  # and back
    v32 = np.array([0, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1], np.uint32)
    np.testing.assert_array_equal(convert_depth(v32, 8), [0, 127, 128, 255])
    np.testing.assert_array_equal(convert_depth(v32, 16), [0, 32767, 32768, 65535])
    assert convert_depth(v8, 8) is v8


def test_every_16_bit_level_as_imagemagick_and_libpng_round_it():
    v = np.arange(65536, dtype=np.uint16)
    got = convert_depth(v, 8).astype(np.int64)
    q = v.astype(np.int64)
    # ImageMagick Q16's ScaleQuantumToChar and libpng's PNG_DIV257 (png_set_scale_16).
    np.testing.assert_array_equal(got, ((q + 128) - ((q + 128) >> 8)) >> 8)
    np.testing.assert_array_equal(got, (q * 255 + 32895) >> 16)
    # The exact rational rounding, in Python integers.
    assert all(int(g) == (2 * 255 * int(x) + 65535) // (2 * 65535)
               for g, x in zip(got[::97], v[::97]))


@pytest.mark.parametrize("dtype", [np.float32, np.int16, np.int8, np.uint64, np.bool_])
def test_types_without_a_depth_to_convert_are_refused(dtype):
    match = f"--depth converts unsigned integer images.*{np.dtype(dtype)}"
    with pytest.raises(ValueError, match=match):
        convert_depth(np.zeros((4, 4), dtype), 8)


# ---------------------------------------------------------------- the command


def _master_and_export(rgb=False):
    """A 16-bit master (with detail below the 8-bit levels) and its 8-bit export
    (the master rounded to 8 bits, then a little noise)."""
    rng = np.random.default_rng(1)
    base = camera(64) if not rgb else np.dstack([camera(64), camera(64, 2), camera(64, 5)])
    master = (base.astype(np.uint16) * 257 + rng.integers(0, 257, base.shape)).astype(np.uint16)
    export = np.round(master / 257).astype(np.uint8)  # computed apart from ssimfast._depth
    return master, noisy(export, 2)


def test_a_16_bit_master_against_its_8_bit_export(tmp_path):
    master, export = _master_and_export()
    (tmp_path / "master.png").write_bytes(encode_test_png(master))
    Image.fromarray(export).save(tmp_path / "export.png")
    proc = run("compare", "master.png", "export.png", cwd=tmp_path, check_code=1)
    assert "bit depths" in proc.stderr and "--depth 8" in proc.stderr
    proc = run("compare", "master.png", "export.png", "--depth", 8, "--psnr", "--json",
               cwd=tmp_path, check_code=0)
    got = json.loads(proc.stdout)
    pre = np.round(master.astype(np.float64) * 255 / 65535).astype(np.uint8)
    assert got["mean"] == ssimfast.structural_similarity(pre, export)
    assert got["psnr"] == pytest.approx(ski_psnr(pre, export), rel=1e-12)
    assert got["depth"] == 8 and "warning" not in proc.stderr
    proc = run("compare", "master.png", "export.png", "--depth", 8, cwd=tmp_path, check_code=0)
    assert "--depth 8 converted master.png from uint16" in proc.stdout.splitlines()[0]
    # --depth 16: the export at 16 bits (v * 257), the range 65535.
    got = json.loads(run("compare", "master.png", "export.png", "--depth", 16, "--json",
                         cwd=tmp_path, check_code=0).stdout)
    assert got["mean"] == ssimfast.structural_similarity(master, export.astype(np.uint16) * 257,
                                                         data_range=65535)


def test_depth_before_gray(tmp_path):
    master, export = _master_and_export(rgb=True)
    (tmp_path / "master.png").write_bytes(encode_test_png(master))
    Image.fromarray(export).save(tmp_path / "export.png")
    luma = np.array([0.299, 0.587, 0.114])
    pre = np.round(master.astype(np.float64) * 255 / 65535).astype(np.uint8)
    want = ssimfast.structural_similarity(np.round(pre @ luma).astype(np.uint8),
                                          np.round(export @ luma).astype(np.uint8))
    got = json.loads(run("compare", "master.png", "export.png", "--depth", 8, "--gray", "--json",
                         cwd=tmp_path, check_code=0).stdout)
    assert got["mean"] == want


def test_directory_rows_and_the_options_record(tmp_path):
    master, export = _master_and_export()
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
    (tmp_path / "a" / "x.png").write_bytes(encode_test_png(master))
    Image.fromarray(export).save(tmp_path / "b" / "x.png")
    tifffile.imwrite(tmp_path / "a" / "f.tif", master.astype(np.float32))
    tifffile.imwrite(tmp_path / "b" / "f.tif", export)
    proc = run("compare", "a", "b", "-o", "rows.csv", "--depth", 8, cwd=tmp_path, check_code=1)
    rows = {r["file"]: r for r in csv.DictReader(open(tmp_path / "rows.csv", newline=""))}
    pre = np.round(master.astype(np.float64) * 255 / 65535).astype(np.uint8)
    assert float(rows["x.png"]["ssim"]) == ssimfast.structural_similarity(pre, export)
    assert rows["f.tif"]["ssim"] == ""
    assert "f.tif: --depth converts unsigned integer images" in rows["f.tif"]["error"]
    assert "float32" in rows["f.tif"]["error"] and "Traceback" not in proc.stderr
    record = json.loads((tmp_path / "rows.csv.options.json").read_text())
    assert record["options"]["depth"] == 8
    proc = run("compare", "a", "b", "-o", "rows.csv", "--resume", cwd=tmp_path, check_code=2)
    assert "depth: 8 then, not given now" in proc.stderr
    proc = run("compare", "a", "b", "-o", "rows.csv", "--resume", "--depth", 16, cwd=tmp_path,
               check_code=2)
    assert "depth: 8 then, 16 now" in proc.stderr
    # Without --depth the row is an error naming the option.
    proc = run("compare", "a", "b", cwd=tmp_path, check_code=1)
    rows = {r["file"]: r for r in csv.DictReader(io.StringIO(proc.stdout))}
    assert "bit depths" in rows["x.png"]["error"] and "--depth 8" in rows["x.png"]["error"]


def test_depth_with_bits_converts_n_bit_data_and_warns_without(tmp_path):
    rng = np.random.default_rng(3)
    master = (camera(64).astype(np.uint16) * 16 + rng.integers(0, 16, (64, 64))).astype(np.uint16)
    export = np.round(master / 4095 * 255).astype(np.uint8)  # 12 bits to 8, apart from _depth
    (tmp_path / "m12.png").write_bytes(encode_test_png(master))
    Image.fromarray(export).save(tmp_path / "e8.png")
    proc = run("compare", "m12.png", "e8.png", "--depth", 8, "--bits", 12, "--json",
               cwd=tmp_path, check_code=0)
    assert json.loads(proc.stdout)["mean"] == 1.0 and "warning" not in proc.stderr
    proc = run("compare", "m12.png", "e8.png", "--depth", 8, "--json", cwd=tmp_path,
               check_code=0)
    assert "fit in 12 bits: if the data are 12-bit, pass --bits 12 too" in proc.stderr
    assert json.loads(proc.stdout)["mean"] < 0.9
    proc = run("compare", "m12.png", "e8.png", "--depth", 8, "--bits", 10, cwd=tmp_path,
               check_code=1)
    assert "--bits 10 says the values hold 10 bits, but they go up to" in proc.stderr


def test_where_depth_makes_no_sense(tmp_path):
    master, export = _master_and_export()
    (tmp_path / "master.png").write_bytes(encode_test_png(master))
    Image.fromarray(export).save(tmp_path / "export.png")
    proc = run("compare", "master.png", "export.png", "--depth", 12, cwd=tmp_path, check_code=2)
    assert "invalid choice: 12" in proc.stderr
    tifffile.imwrite(tmp_path / "signed.tif", master.astype(np.int32))
    tifffile.imwrite(tmp_path / "signed2.tif", master.astype(np.int32))
    proc = run("compare", "signed.tif", "signed2.tif", "--depth", 8, cwd=tmp_path, check_code=1)
    assert "signed.tif: --depth converts unsigned integer images" in proc.stderr
    assert "int32" in proc.stderr
    y4m = b"YUV4MPEG2 W16 H16 F25:1 Ip A1:1 C420jpeg\n" + b"FRAME\n" + bytes(16 * 16 * 3 // 2)
    (tmp_path / "v.y4m").write_bytes(y4m)
    proc = run("compare", "v.y4m", "v.y4m", "--depth", 8, cwd=tmp_path, check_code=2)
    assert "--depth is for images" in proc.stderr

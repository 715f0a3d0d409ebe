"""`ssimfast compare --psnr` on images: two files and the directory rows, with the
SSIM's data range; identical images have an infinite PSNR, written as FFmpeg and
scikit-image cannot write it in JSON: null (empty in CSV)."""
import csv
import io
import json

import numpy as np
import pytest
import tifffile
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio as ski_psnr
from test_cli import camera, noisy, run
from test_cli_hostile import strict_json

import ssimfast


def _dirs(tmp_path, pairs, suffix=".png"):
    """tmp_path/a and tmp_path/b holding each (name, a, b) of `pairs`."""
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
    for name, a, b in pairs:
        for side, im in (("a", a), ("b", b)):
            path = tmp_path / side / (name + suffix)
            if suffix == ".png":
                Image.fromarray(im).save(path)
            else:
                tifffile.imwrite(path, im)


def _pairs():
    a = camera(64)
    return [("same", a, a), ("noisy", a, noisy(a, 6)), ("noisier", a, noisy(a, 20, seed=1))]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_directory_rows_have_a_psnr_column(tmp_path, fmt):
    pairs = _pairs()
    _dirs(tmp_path, pairs)
    proc = run("compare", "a", "b", "--psnr", "--format", fmt, cwd=tmp_path, check_code=0)
    assert "warning" not in proc.stderr  # no divide-by-zero warning for the identical pair
    if fmt == "csv":
        assert proc.stdout.startswith("file,ssim,min_ssim,psnr,error\n")
        rows = {r["file"]: r for r in csv.DictReader(io.StringIO(proc.stdout))}
        psnr = {k: float(r["psnr"]) if r["psnr"] else None for k, r in rows.items()}
    else:
        rows = {r["file"]: r for r in map(strict_json, proc.stdout.splitlines())}
        assert all(list(r) == ["file", "ssim", "min_ssim", "psnr", "error"] for r in rows.values())
        psnr = {k: r["psnr"] for k, r in rows.items()}
    assert psnr.pop("same.png") is None  # infinite: empty in CSV, null in JSON
    for name, a, b in pairs[1:]:
        assert psnr[name + ".png"] == pytest.approx(ski_psnr(a, b, data_range=255), rel=1e-12)
    assert float(rows["same.png"]["ssim"]) == 1.0


def test_without_psnr_the_rows_keep_their_columns(tmp_path):
    _dirs(tmp_path, _pairs())
    proc = run("compare", "a", "b", cwd=tmp_path, check_code=0)
    assert proc.stdout.startswith("file,ssim,min_ssim,error\n")
    proc = run("compare", "a", "b", "--format", "jsonl", cwd=tmp_path, check_code=0)
    assert "psnr" not in proc.stdout


def test_psnr_takes_the_ssims_data_range(tmp_path):
    """int16 data: SSIM's range is the dtype's 65535, where scikit-image's PSNR
    alone would take 32767 for non-negative values. --bits 12: 4095."""
    rng = np.random.default_rng(5)
    a = (camera(64).astype(np.int16) * 16)
    b = np.clip(a + rng.normal(0, 30, a.shape), 0, 4095).astype(np.int16)
    _dirs(tmp_path, [("x", a, b)], suffix=".tif")
    for extra, data_range in (((), 65535), (("--bits", 12), 4095), (("--data-range", 5000), 5000)):
        want = ski_psnr(a, b, data_range=data_range)
        proc = run("compare", "a", "b", "--psnr", *extra, cwd=tmp_path, check_code=0)
        row, = csv.DictReader(io.StringIO(proc.stdout))
        assert float(row["psnr"]) == pytest.approx(want, rel=1e-12)
        got = json.loads(run("compare", "a/x.tif", "b/x.tif", "--psnr", "--json", *extra,
                             cwd=tmp_path, check_code=0).stdout)
        assert got["psnr"] == pytest.approx(want, rel=1e-12)
        assert got["mean"] == pytest.approx(ssimfast.structural_similarity(
            a, b, **({"bits": 12} if "--bits" in extra else
                     {"data_range": data_range})), abs=1e-12)
    assert ski_psnr(a, b) != pytest.approx(ski_psnr(a, b, data_range=65535))


def test_two_identical_files_psnr_is_infinite_without_a_warning(tmp_path):
    Image.fromarray(camera(64)).save(tmp_path / "a.png")
    proc = run("compare", "a.png", "a.png", "--psnr", cwd=tmp_path, check_code=0)
    assert "PSNR:               inf dB (identical images)" in proc.stdout
    assert "warning" not in proc.stderr
    proc = run("compare", "a.png", "a.png", "--psnr", "--json", cwd=tmp_path, check_code=0)
    assert strict_json(proc.stdout)["psnr"] is None and "warning" not in proc.stderr


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_resume_keeps_psnr_and_refuses_a_change(tmp_path, fmt):
    _dirs(tmp_path, _pairs())
    out = f"rows.{fmt}"
    run("compare", "a", "b", "--psnr", "-o", out, cwd=tmp_path, check_code=0)
    full = (tmp_path / out).read_bytes()
    record = json.loads((tmp_path / f"{out}.options.json").read_text())
    assert record["options"]["psnr"] is True
    proc = run("compare", "a", "b", "-o", out, "--resume", cwd=tmp_path, check_code=2)
    assert "psnr: True then, not given now" in proc.stderr
    assert (tmp_path / out).read_bytes() == full
    # Cut inside the last row, then resume with --psnr: the file is whole again.
    (tmp_path / out).write_bytes(full[:-10])
    proc = run("compare", "a", "b", "--psnr", "-o", out, "--resume", cwd=tmp_path, check_code=0)
    assert "(2 already in" in proc.stderr
    assert (tmp_path / out).read_bytes() == full
    # An output written without --psnr is not resumed with it.
    run("compare", "a", "b", "-o", f"plain.{fmt}", cwd=tmp_path, check_code=0)
    proc = run("compare", "a", "b", "-o", f"plain.{fmt}", "--resume", "--psnr", cwd=tmp_path,
               check_code=2)
    assert "psnr: not given then, True now" in proc.stderr


def test_error_rows_have_no_psnr(tmp_path):
    a = camera(64)
    _dirs(tmp_path, [("x", a, a[:32])])
    proc = run("compare", "a", "b", "--psnr", cwd=tmp_path, check_code=1)
    row, = csv.DictReader(io.StringIO(proc.stdout))
    assert row["ssim"] == row["psnr"] == "" and "same size" in row["error"]

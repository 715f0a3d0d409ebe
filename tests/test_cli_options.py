"""The options that images and videos share (ssimfast._cli_options): only the
SSIM options given reach structural_similarity, so that every preset works on
images; the directory rows record the preset; video options are refused for
directories too."""
import csv
import io
import json

import pytest
from PIL import Image
from test_cli import camera, noisy, run

import ssimfast


@pytest.mark.parametrize("preset", ["matlab", "matlab_index", "pytorch", "ffmpeg"])
def test_every_preset_on_two_images(tmp_path, preset):
    a = camera(96)
    b = noisy(a, 8)
    Image.fromarray(a).save(tmp_path / "a.png")
    Image.fromarray(b).save(tmp_path / "b.png")
    got = json.loads(run("compare", "a.png", "b.png", "--preset", preset, "--json",
                         cwd=tmp_path, check_code=0).stdout)
    assert got["mean"] == pytest.approx(ssimfast.ssim(a, b, preset=preset), abs=1e-12)
    for side, im in (("da", a), ("db", b)):
        (tmp_path / side).mkdir()
        Image.fromarray(im).save(tmp_path / side / "x.png")
    proc = run("compare", "da", "db", "--preset", preset, cwd=tmp_path, check_code=0)
    row, = csv.DictReader(io.StringIO(proc.stdout))
    assert float(row["ssim"]) == pytest.approx(ssimfast.ssim(a, b, preset=preset), abs=1e-12)


def test_the_preset_is_recorded_and_a_resume_with_another_is_refused(tmp_path):
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
        Image.fromarray(camera(64)).save(tmp_path / side / "x.png")
    run("compare", "a", "b", "-o", "rows.csv", "--preset", "matlab", cwd=tmp_path, check_code=0)
    record = json.loads((tmp_path / "rows.csv.options.json").read_text())
    assert record["options"]["preset"] == "matlab"
    proc = run("compare", "a", "b", "-o", "rows.csv", "--resume", cwd=tmp_path, check_code=2)
    assert "preset: 'matlab' then, not given now" in proc.stderr
    run("compare", "a", "b", "-o", "rows.csv", "--resume", "--preset", "matlab", cwd=tmp_path,
        check_code=0)


def test_video_options_are_refused_for_directories(tmp_path):
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
        Image.fromarray(camera(64)).save(tmp_path / side / "x.png")
    for option in (("--size", "64x64"), ("--pix-fmt", "yuv420p"), ("--frames", 2),
                   ("--offset", 1), ("--shortest",)):
        proc = run("compare", "a", "b", *option, cwd=tmp_path, check_code=2)
        assert f"{option[0]} is for comparing videos" in proc.stderr

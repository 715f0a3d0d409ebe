"""The `ssimfast` command, run as a subprocess on image files written here."""
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image
from skimage import data
from skimage.metrics import structural_similarity as ski_ssim

import ssimfast
from ssimfast._heatmap import BOX, compose
from ssimfast._sample import DAMAGE, sample_pair

# Run the package that the tests import (a checkout or an installed copy).
ENV = dict(os.environ, PYTHONPATH=str(Path(ssimfast.__file__).parent.parent))


def run(*args, cwd, check_code=None, timeout=120):
    proc = subprocess.run([sys.executable, "-m", "ssimfast", *map(str, args)], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr
    if check_code is not None:
        assert proc.returncode == check_code, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def camera(size=256, offset=0):
    return np.ascontiguousarray(data.camera()[offset : offset + size, offset : offset + size])


def noisy(im, sigma, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(np.rint(im + rng.normal(0, sigma, im.shape)), 0, 255).astype(im.dtype)


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------- no arguments: the sample

def test_no_arguments_scores_the_sample_and_writes_its_heatmap(tmp_path):
    proc = run(cwd=tmp_path, check_code=0)
    ref, dist = sample_pair()
    want, smap = ski_ssim(ref, dist, full=True)
    assert f"mean SSIM:          {want:.4f} (good)" in proc.stdout
    assert "note: These bands are a rough guide" in proc.stdout
    picture = np.asarray(Image.open(tmp_path / "ssimfast-sample.png").convert("RGB"))
    # Three 256-wide panels and the colour bar; the map panel boxes the damaged block.
    want_picture, where = compose(ssimfast.report(ref, dist, k=2, box=48), ref, dist)
    np.testing.assert_array_equal(picture, want_picture)
    assert picture.shape[0] > 256 and picture.shape[1] > 3 * 256
    assert f"worst region 1:     rows 96:144, cols 160:208, mean SSIM {smap[DAMAGE].mean():.4f}" in proc.stdout
    top, left, *_ = where["SSIM MAP"]
    red = np.all(picture[top : top + 256, left : left + 256] == BOX, axis=2)
    (r0, r1), (c0, c1) = ((s.start, s.stop - 1) for s in DAMAGE)
    assert red[r0, c0 : c1 + 1].all() and red[r1, c0 : c1 + 1].all()
    assert red[r0 : r1 + 1, c0].all() and red[r0 : r1 + 1, c1].all()
    # An outline, with its number in the top left corner.
    assert not red[r0 + 20 : r1 - 2, c0 + 3 : c1 - 2].any()
    assert not red[r0 + 3 : r1 - 2, c0 + 20 : c1 - 2].any()


def test_sample_json_and_heatmap_path(tmp_path):
    proc = run("sample", "--json", "--heatmap", tmp_path / "s.png", cwd=tmp_path, check_code=0)
    got = json.loads(proc.stdout)  # the heatmap line goes to stderr after JSON
    ref, dist = sample_pair()
    assert got["mean"] == ssimfast.structural_similarity(ref, dist)
    assert (tmp_path / "s.png").stat().st_size > 1000
    assert "heatmap:" in proc.stderr


# ---------------------------------------------------------------- two files

def test_two_pngs_report_equals_the_api(tmp_path):
    a, b = camera(), noisy(camera(), 8)
    Image.fromarray(a).save(tmp_path / "a.png")
    Image.fromarray(b).save(tmp_path / "b.png")
    proc = run("compare", "a.png", "b.png", "--json", cwd=tmp_path, check_code=0)
    got = json.loads(proc.stdout)
    want = ssimfast.report(a, b).to_dict()
    assert {k: got[k] for k in want} == want
    assert abs(got["mean"] - ski_ssim(a, b)) < 1e-9
    text = run("compare", "a.png", "b.png", cwd=tmp_path, check_code=0).stdout
    assert text.startswith("a.png vs b.png: 256 rows x 256 columns gray uint8\n")
    assert f"mean SSIM:          {got['mean']:.4f}" in text


def test_16_bit_tiff_and_multi_page_volume(tmp_path):
    rng = np.random.default_rng(3)
    a = (camera().astype(np.uint16) * 16 + rng.integers(0, 16, (256, 256))).astype(np.uint16)
    b = np.clip(a + rng.normal(0, 40, a.shape), 0, 4095).astype(np.uint16)
    tifffile.imwrite(tmp_path / "a.tif", a)
    tifffile.imwrite(tmp_path / "b.tif", b)
    proc = run("compare", "a.tif", "b.tif", "--json", "--data-range", 4095, cwd=tmp_path,
               check_code=0)
    got = json.loads(proc.stdout)
    assert got["mean"] == ssimfast.structural_similarity(a, b, data_range=4095)
    assert abs(got["mean"] - ski_ssim(a, b, data_range=4095)) < 1e-9
    # Without --data-range, uint16 means 65535: the command's own warning, which
    # names its options (issue 15; it replaced scikit-image's, which named data_range=).
    proc = run("compare", "a.tif", "b.tif", cwd=tmp_path, check_code=0)
    assert "the data range is taken from the uint16 dtype: 65535" in proc.stderr
    assert "pass --bits 12, or --data-range R" in proc.stderr
    # Pages are a volume: 3-D SSIM.
    va, vb = np.stack([a[:64, :64]] * 9), np.stack([b[:64, :64]] * 9)
    tifffile.imwrite(tmp_path / "va.tif", va)
    tifffile.imwrite(tmp_path / "vb.tif", vb)
    got = json.loads(run("compare", "va.tif", "vb.tif", "--json", "--data-range", 4095,
                         "--heatmap", "v.png", cwd=tmp_path, check_code=0).stdout)
    assert got["mean"] == ssimfast.structural_similarity(va, vb, data_range=4095)
    assert len(got["argmin"]) == 3
    # The plane through the minimum (test_report checks the picture of a volume).
    want = ssimfast.report(va, vb, data_range=4095).heatmap(va, vb)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "v.png")), want)


def test_rgb_jpeg_channels_and_gray(tmp_path):
    rgb = np.ascontiguousarray(data.astronaut()[:192, 100:292])
    Image.fromarray(rgb).save(tmp_path / "a.jpg", quality=95)
    Image.fromarray(rgb).save(tmp_path / "b.jpg", quality=20)
    a, b = (np.asarray(Image.open(tmp_path / n)) for n in ("a.jpg", "b.jpg"))
    got = json.loads(run("compare", "a.jpg", "b.jpg", "--json", cwd=tmp_path, check_code=0).stdout)
    assert got["mean"] == pytest.approx(ski_ssim(a, b, channel_axis=-1), abs=1e-9)
    luma = [np.round(x @ [0.299, 0.587, 0.114]).astype(np.uint8) for x in (a, b)]
    got = json.loads(run("compare", "a.jpg", "b.jpg", "--json", "--gray", cwd=tmp_path,
                         check_code=0).stdout)
    assert got["mean"] == pytest.approx(ski_ssim(*luma), abs=1e-9)
    assert abs(luma[0].astype(int) - np.asarray(Image.open(tmp_path / "a.jpg").convert("L"))).max() <= 1


def test_options_reach_structural_similarity(tmp_path):
    a, b = camera(128), noisy(camera(128), 12)
    Image.fromarray(a).save(tmp_path / "a.png")
    Image.fromarray(b).save(tmp_path / "b.png")
    got = json.loads(run("compare", "a.png", "b.png", "--json", "--gaussian", "--sigma", 2,
                         "--population-covariance", "--k1", 0.02, "--k2", 0.05, "--workers", 1,
                         "--data-range", 200, cwd=tmp_path, check_code=0).stdout)
    want = ski_ssim(a, b, gaussian_weights=True, sigma=2, use_sample_covariance=False, K1=0.02,
                    K2=0.05, data_range=200)
    assert got["mean"] == pytest.approx(want, abs=1e-9)
    got = json.loads(run("compare", "a.png", "b.png", "--json", "--win-size", 11, cwd=tmp_path,
                         check_code=0).stdout)
    assert got["mean"] == pytest.approx(ski_ssim(a, b, win_size=11), abs=1e-9)


def test_heatmap_boxes_a_planted_defect(tmp_path):
    a = camera()
    b = a.copy()
    defect = (slice(150, 174), slice(60, 84))
    b[defect] = b[defect].mean()  # flattened, as a codec might
    Image.fromarray(a).save(tmp_path / "a.png")
    Image.fromarray(b).save(tmp_path / "b.png")
    got = json.loads(run("compare", "a.png", "b.png", "--json", "--regions", 1, "--heatmap",
                         "h.png", cwd=tmp_path, check_code=0).stdout)
    assert got["mean"] > 0.95  # the mean hides the defect
    picture = np.asarray(Image.open(tmp_path / "h.png").convert("RGB"))
    _, where = compose(ssimfast.report(a, b, k=1), a, b)
    panels = {title: picture[top : top + 256, left : left + 256]
              for title, (top, left, *_) in where.items() if title != "FIXED SCALE"}
    assert list(panels) == ["REFERENCE", "DISTORTED", "SSIM MAP"]
    for title, panel in panels.items():  # the same box on each
        rows, cols = np.nonzero(np.all(panel == BOX, axis=2))
        assert rows.size > 0, f"no box in panel {title}"
        box = (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1)
        assert [list(box[:3:2]), list(box[1::2])] == [got["worst"][0]["start"],
                                                      got["worst"][0]["stop"]]
        # The box encloses the defect's centre and is not far from it.
        assert box[0] <= 162 < box[1] and box[2] <= 72 < box[3], box
        assert box[0] >= 150 - 64 and box[1] <= 174 + 64, box
    # Outside the box the map panel shows high SSIM (bright viridis), inside it low.
    smap = panels["SSIM MAP"].astype(int)
    assert smap[160, 70].sum() < smap[20, 20].sum()


# ---------------------------------------------------------------- bad input and usage

def test_exit_codes_and_messages(tmp_path):
    Image.fromarray(camera(64)).save(tmp_path / "a.png")
    Image.fromarray(camera(64)[:48]).save(tmp_path / "small.png")
    Image.fromarray(np.dstack([camera(64)] * 3)).save(tmp_path / "rgb.png")
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (tmp_path / "d").mkdir()
    proc = run("compare", "a.png", "missing.png", cwd=tmp_path, check_code=1)
    assert "missing.png: no such file or directory" in proc.stderr
    proc = run("compare", "a.png", "small.png", cwd=tmp_path, check_code=1)
    assert ("a.png is 64 rows x 64 columns gray uint8 but small.png is 48 rows x 64 columns "
            "gray uint8") in proc.stderr
    proc = run("compare", "a.png", "rgb.png", cwd=tmp_path, check_code=1)
    assert "use --gray" in proc.stderr
    run("compare", "a.png", "rgb.png", "--gray", cwd=tmp_path, check_code=0)
    proc = run("compare", "a.png", "bad.png", cwd=tmp_path, check_code=1)
    assert "cannot read bad.png" in proc.stderr
    proc = run("compare", "a.png", "d", cwd=tmp_path, check_code=2)
    assert "two files or two directories" in proc.stderr
    proc = run("compare", "a.png", "a.png", "--win-size", 4, cwd=tmp_path, check_code=2)
    assert "odd integer" in proc.stderr
    run("compare", "a.png", "a.png", "--data-range", -1, cwd=tmp_path, check_code=2)
    run("compare", "a.png", "a.png", "--no-such-option", cwd=tmp_path, check_code=2)
    proc = run("compare", "a.png", "a.png", "-o", "x.csv", cwd=tmp_path, check_code=2)
    assert "--output is for comparing directories" in proc.stderr
    proc = run("compare", "small.png", "small.png", "--win-size", 99, cwd=tmp_path, check_code=1)
    assert "win_size" in proc.stderr
    proc = run("compare", "d", "d", cwd=tmp_path, check_code=1)
    assert "no pairs" in proc.stderr
    proc = run("compare", "d", "d", "--resume", cwd=tmp_path, check_code=2)
    assert "--resume needs --output" in proc.stderr
    proc = run("compare", "d", "d", "--json", cwd=tmp_path, check_code=2)
    assert "--json is for comparing two files" in proc.stderr
    proc = run("compare", "a.png", "a.png", "--heatmap", "no/such/dir/h.png", cwd=tmp_path,
               check_code=2)
    assert "cannot write the heatmap to no/such/dir/h.png" in proc.stderr
    Image.fromarray(camera(64)).save(tmp_path / "d" / "x.png")
    proc = run("compare", "d", "d", "-o", "no/such/dir/rows.csv", cwd=tmp_path, check_code=2)
    assert "cannot write no/such/dir/rows.csv" in proc.stderr


def test_float_tiff_needs_data_range(tmp_path):
    a = camera(64).astype(np.float32) / 255
    tifffile.imwrite(tmp_path / "a.tif", a)
    tifffile.imwrite(tmp_path / "b.tif", a[::-1].copy())
    proc = run("compare", "a.tif", "b.tif", cwd=tmp_path, check_code=1)
    assert "data_range" in proc.stderr
    got = json.loads(run("compare", "a.tif", "b.tif", "--data-range", 1, "--json",
                         cwd=tmp_path, check_code=0).stdout)
    assert got["mean"] == ssimfast.structural_similarity(a, a[::-1], data_range=1)


# ---------------------------------------------------------------- two directories

def make_dirs(root, n, size=128, corrupt=None, seed=0):
    """n pairs under root/a and root/b (some in a subfolder); pair `corrupt` has a broken b file."""
    rng = np.random.default_rng(seed)
    base = data.camera()
    truth = {}
    for i in range(n):
        rel = f"{'sub/' if i % 4 == 0 else ''}p{i:03d}.png"
        r, c = rng.integers(0, 512 - size, 2)
        a = np.ascontiguousarray(base[r : r + size, c : c + size])
        b = noisy(a, 2 + i % 15, seed=i)
        for side, im in (("a", a), ("b", b)):
            path = root / side / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(im).save(path, compress_level=1)
        truth[rel] = (a, b)
    if corrupt is not None:
        rel = sorted(truth)[corrupt]
        (root / "b" / rel).write_bytes(b"this is not an image")
    return truth


def test_directories_rows_summary_and_partners(tmp_path):
    truth = make_dirs(tmp_path, 12, corrupt=5)
    Image.fromarray(camera(32)).save(tmp_path / "a" / "only_in_a.png")
    Image.fromarray(camera(32)).save(tmp_path / "b" / "sub" / "only_in_b.png")
    (tmp_path / "a" / "notes.txt").write_text("not an image, not listed")
    proc = run("compare", "a", "b", "-o", "rows.csv", "--local", cwd=tmp_path, check_code=1)
    rows = read_rows(tmp_path / "rows.csv")
    assert [r["file"] for r in rows] == sorted(truth)
    broken = sorted(truth)[5]
    for row in rows:
        if row["file"] == broken:
            assert row["ssim"] == "" and "cannot read b/" + broken in row["error"]
            continue
        a, b = truth[row["file"]]
        mean, smap = ssimfast.structural_similarity(a, b, full=True)
        assert float(row["ssim"]) == mean and row["error"] == ""
        assert float(row["min_ssim"]) == smap[3:-3, 3:-3].min()
    assert "scored 12 pairs" in proc.stderr
    assert "1 pair could not be scored" in proc.stderr
    assert "1 file in a without a partner in b: only_in_a.png" in proc.stderr
    assert "1 file in b without a partner in a: sub/only_in_b.png" in proc.stderr
    worst = min((r for r in rows if r["ssim"]), key=lambda r: float(r["ssim"]))
    assert f"{float(worst['ssim']):.4f}  {worst['file']}" in proc.stderr
    # JSON Lines, to stdout when no output file is given.
    proc = run("compare", "a", "b", "--format", "jsonl", cwd=tmp_path, check_code=1)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [x["file"] for x in lines] == sorted(truth)
    assert [x["ssim"] for x in lines] == [float(r["ssim"]) if r["ssim"] else None for r in rows]
    # An existing output is not overwritten by accident.
    proc = run("compare", "a", "b", "-o", "rows.csv", cwd=tmp_path, check_code=2)
    assert "--resume" in proc.stderr and "--overwrite" in proc.stderr


def test_sigint_stops_cleanly_and_resume_completes_each_pair_once(tmp_path):
    n = 120
    make_dirs(tmp_path, n, size=384, corrupt=60)
    options = ["--gaussian", "--local", "--workers", "1"]
    run("compare", "a", "b", "-o", "full.csv", *options, cwd=tmp_path, check_code=1)

    proc = subprocess.Popen([sys.executable, "-m", "ssimfast", "compare", "a", "b", "-o",
                             "part.csv", *options], cwd=tmp_path, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    part = tmp_path / "part.csv"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if part.exists() and part.read_text().count("\n") > 20:
            proc.send_signal(signal.SIGINT)
            break
        time.sleep(0.005)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted:" in err and "--resume" in err
    done = read_rows(part)
    assert 20 <= len(done) < n, "the run was not interrupted halfway"

    proc = run("compare", "a", "b", "-o", "part.csv", "--resume", *options, cwd=tmp_path,
               check_code=1)  # the corrupt pair is an error row
    assert f"({len(done)} already in part.csv)" in proc.stderr
    assert part.read_text() == (tmp_path / "full.csv").read_text()
    rows = read_rows(part)
    assert len({r["file"] for r in rows}) == len(rows) == n
    assert sum(1 for r in rows if r["error"]) == 1


def test_resume_drops_a_row_cut_short(tmp_path):
    make_dirs(tmp_path, 6)
    run("compare", "a", "b", "-o", "rows.jsonl", cwd=tmp_path, check_code=0)
    full = (tmp_path / "rows.jsonl").read_text()
    lines = full.splitlines(keepends=True)
    (tmp_path / "rows.jsonl").write_text("".join(lines[:3]) + lines[3][:10])  # a crash mid-row
    proc = run("compare", "a", "b", "-o", "rows.jsonl", "--resume", cwd=tmp_path, check_code=0)
    assert "(3 already in rows.jsonl)" in proc.stderr
    assert (tmp_path / "rows.jsonl").read_text() == full
    (tmp_path / "other.csv").write_text("name,score\nx,1\n")
    proc = run("compare", "a", "b", "-o", "other.csv", "--resume", cwd=tmp_path, check_code=2)
    assert "not a ssimfast CSV file" in proc.stderr


def test_console_script(tmp_path):
    script = Path(sys.executable).with_name("ssimfast")
    if not script.exists():
        pytest.skip("ssimfast is not installed in this environment (run from a checkout)")
    proc = subprocess.run([str(script), "--version"], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == f"ssimfast {ssimfast.__version__}"


def test_public_names_load_on_first_use():
    """ssimfast imports most of its API lazily, so that the command starts quickly."""
    code = ("import sys, ssimfast; assert 'ssimfast._report' not in sys.modules; "
            "assert set(ssimfast.__all__) <= set(dir(ssimfast)); "
            "from ssimfast import *; assert report is ssimfast.report is "
            "sys.modules['ssimfast._report'].report; print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True)
    assert proc.stdout.strip() == "ok", proc.stderr
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        ssimfast.nothing  # noqa: B018


def test_only_the_command_limits_openblas_threads(tmp_path):
    env = {k: v for k, v in ENV.items() if k != "OPENBLAS_NUM_THREADS"}
    script = tmp_path / "show.py"
    script.write_text("import os, ssimfast; print(os.environ.get('OPENBLAS_NUM_THREADS'))\n")
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True)
    assert proc.stdout.strip() == "None", proc.stderr
    # As `python -m ssimfast` imports the package (runpy sets argv[0] to "-m").
    code = "import sys; sys.argv[0] = '-m'; import os, ssimfast; print(os.environ['OPENBLAS_NUM_THREADS'])"
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.stdout.strip() == "1", proc.stderr
    proc = subprocess.run([sys.executable, "-c", code], env=dict(env, OPENBLAS_NUM_THREADS="3"),
                          capture_output=True, text=True)
    assert proc.stdout.strip() == "3", proc.stderr

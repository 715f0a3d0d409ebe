"""`ssimfast compare` on two videos (Y4M and raw YUV written here), as a subprocess."""
import csv
import importlib.util
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import ssimfast
from ssimfast._ffmpeg import ffmpeg_ssim
from test_cli import ENV, run
from test_ffmpeg_ssim import ffmpeg_exe, run_ffmpeg_ssim


def frames(n, w=48, h=32, seed=0, bad=None):
    """(ref, dist): n 4:2:0 uint8 frames; frame `bad` has a flattened block."""
    rng = np.random.default_rng(seed)
    base = (np.add.outer(np.arange(h), np.arange(w)) * 3 % 256).astype(np.uint8)
    ref, dist = [], []
    for i in range(n):
        y = (base + 5 * i).astype(np.uint8)
        u = np.full((h // 2, w // 2), 100 + i, np.uint8)
        v = rng.integers(90, 160, (h // 2, w // 2)).astype(np.uint8)
        d = np.clip(y.astype(int) + rng.integers(-8, 9, y.shape), 0, 255).astype(np.uint8)
        if i == bad:
            d[8:24, 12:36] = 128
        ref.append((y, u, v))
        dist.append((d, u, np.clip(v.astype(int) + rng.integers(-3, 4, v.shape), 0, 255).astype(np.uint8)))
    return ref, dist


def write_y4m(path, video, w=48, h=32, rate="25:1", tag="420jpeg"):
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{rate} Ip A1:1 C{tag}\n".encode())
        for planes in video:
            f.write(b"FRAME\n")
            for p in planes:
                f.write(p.tobytes())


def pair(tmp_path, n=4, bad=2, **kw):
    ref, dist = frames(n, bad=bad)
    write_y4m(tmp_path / "ref.y4m", ref, **kw)
    write_y4m(tmp_path / "dist.y4m", dist, **kw)
    return ref, dist


def test_rows_equal_structural_similarity_per_plane(tmp_path):
    ref, dist = pair(tmp_path)
    run("compare", "ref.y4m", "dist.y4m", "-o", "rows.csv", cwd=tmp_path, check_code=0)
    rows = list(csv.DictReader(open(tmp_path / "rows.csv", newline="")))
    assert list(rows[0]) == ["frame", "y", "u", "v", "all"]
    assert [int(r["frame"]) for r in rows] == [0, 1, 2, 3]
    for r, (a, b) in zip(rows, zip(ref, dist)):
        assert float(r["y"]) == float(ssimfast.structural_similarity(a[0], b[0]))
        assert float(r["v"]) == float(ssimfast.structural_similarity(a[2], b[2]))


def test_report_names_the_worst_frame_and_its_regions(tmp_path):
    pair(tmp_path, bad=2)
    proc = run("compare", "ref.y4m", "dist.y4m", "--heatmap", "worst.png", cwd=tmp_path,
               check_code=0)
    out = proc.stdout
    assert "4 frames, 48x32 yuv420p" in out and "All" in out
    lines = out.splitlines()
    first = lines.index("worst frames (by All):") + 1
    assert lines[first].split()[:2] == ["frame", "2"]
    assert "worst frame 2, Y plane:" in out and "lowest local SSIM" in out
    assert "worst region 1" in out
    assert (tmp_path / "worst.png").stat().st_size > 0


def test_json_object_and_psnr(tmp_path):
    ref, dist = pair(tmp_path)
    proc = run("compare", "ref.y4m", "dist.y4m", "--json", "--psnr", "--heatmap", "w.png",
               cwd=tmp_path, check_code=0)
    out = json.loads(proc.stdout)
    assert (tmp_path / "w.png").stat().st_size > 0 and "heatmap: w.png" in proc.stderr
    assert set(out) == {"frames", "mean", "settings"}
    assert len(out["frames"]) == 4
    row = out["frames"][0]
    assert list(row) == ["frame", "y", "u", "v", "all", "psnr_y", "psnr_u", "psnr_v", "psnr_all"]
    assert row["psnr_u"] is None  # equal U planes: infinite PSNR, null in JSON
    mse = np.mean((ref[0][0].astype(float) - dist[0][0]) ** 2)
    assert row["psnr_y"] == pytest.approx(10 * np.log10(255 ** 2 / mse), rel=1e-12)
    assert out["mean"]["y"] == pytest.approx(np.mean([f["y"] for f in out["frames"]]))


def test_jsonl_rows(tmp_path):
    pair(tmp_path)
    run("compare", "ref.y4m", "dist.y4m", "-o", "rows.jsonl", "--psnr", cwd=tmp_path,
        check_code=0)
    rows = [json.loads(line) for line in open(tmp_path / "rows.jsonl")]
    assert len(rows) == 4 and rows[0]["psnr_u"] is None


def test_preset_ffmpeg_on_videos_and_images(tmp_path):
    ref, dist = pair(tmp_path)
    proc = run("compare", "ref.y4m", "dist.y4m", "--preset", "ffmpeg", "--json", cwd=tmp_path,
               check_code=0)
    rows = json.loads(proc.stdout)["frames"]
    for r, (a, b) in zip(rows, zip(ref, dist)):
        assert r["y"] == ffmpeg_ssim(a[0], b[0]) and r["u"] == ffmpeg_ssim(a[1], b[1])
    from PIL import Image
    Image.fromarray(ref[0][0]).save(tmp_path / "a.png")
    Image.fromarray(dist[0][0]).save(tmp_path / "b.png")
    proc = run("compare", "a.png", "b.png", "--preset", "ffmpeg", "--json", cwd=tmp_path,
               check_code=0)
    assert json.loads(proc.stdout)["mean"] == ffmpeg_ssim(ref[0][0], dist[0][0])


def test_equals_ffmpeg_printed_values(tmp_path):
    exe = ffmpeg_exe()
    pair(tmp_path)
    _, per_frame = run_ffmpeg_ssim(exe, tmp_path / "ref.y4m", tmp_path / "dist.y4m",
                                   tmp_path / "stats.log")
    proc = run("compare", "ref.y4m", "dist.y4m", "--preset", "ffmpeg", "--json", cwd=tmp_path,
               check_code=0)
    for ours, theirs in zip(json.loads(proc.stdout)["frames"], per_frame):
        assert [f"{ours[k]:f}" for k in ("y", "u", "v", "all")] == \
               [theirs[k] for k in ("Y", "U", "V", "All")]


def test_raw_yuv_needs_and_takes_its_size(tmp_path):
    ref, dist = frames(3, bad=1)
    for name, video in (("ref.yuv", ref), ("dist.yuv", dist)):
        (tmp_path / name).write_bytes(b"".join(p.tobytes() for f in video for p in f))
    proc = run("compare", "ref.yuv", "dist.yuv", cwd=tmp_path, check_code=1)
    assert "size" in proc.stderr
    proc = run("compare", "ref.yuv", "dist.yuv", "--size", "48x32", "--pix-fmt", "yuv420p",
               "--json", cwd=tmp_path, check_code=0)
    assert len(json.loads(proc.stdout)["frames"]) == 3


@pytest.mark.parametrize("dist_kw,match", [
    (dict(w=40), "size"),
    (dict(rate="30:1"), "frame rate"),
    (dict(tag="444"), "pixel format"),
])
def test_mismatches_are_errors(tmp_path, dist_kw, match):
    ref, dist = frames(2)
    write_y4m(tmp_path / "ref.y4m", ref)
    w = dist_kw.get("w", 48)
    if "w" in dist_kw:
        dist = [tuple(p[:, : p.shape[1] * w // 48].copy() for p in f) for f in dist]
    if dist_kw.get("tag") == "444":
        dist = [(f[0], np.zeros((32, 48), np.uint8), np.zeros((32, 48), np.uint8)) for f in dist]
    write_y4m(tmp_path / "dist.y4m", dist, **dist_kw)
    proc = run("compare", "ref.y4m", "dist.y4m", cwd=tmp_path, check_code=1)
    assert match in proc.stderr and proc.stderr.startswith("ssimfast: error:")


def test_frame_counts_frames_shortest_offset(tmp_path):
    ref, dist = frames(5)
    write_y4m(tmp_path / "ref.y4m", ref[:4])
    write_y4m(tmp_path / "dist.y4m", dist)
    proc = run("compare", "ref.y4m", "dist.y4m", cwd=tmp_path, check_code=1)
    assert "frame count" in proc.stderr
    for extra, n in ((["--frames", "2"], 2), (["--shortest"], 4), (["--offset", "1"], 4)):
        proc = run("compare", "ref.y4m", "dist.y4m", "--json", *extra, cwd=tmp_path, check_code=0)
        assert len(json.loads(proc.stdout)["frames"]) == n
    proc = run("compare", "ref.y4m", "dist.y4m", "--json", "--offset", "1", cwd=tmp_path)
    got = json.loads(proc.stdout)["frames"][0]["y"]
    assert got == float(ssimfast.structural_similarity(ref[0][0], dist[1][0]))
    run("compare", "ref.y4m", "dist.y4m", "--frames", "2", "--shortest", cwd=tmp_path,
        check_code=2)


def test_missing_pyav_says_how_to_install(tmp_path):
    if importlib.util.find_spec("av") is not None:
        pytest.skip("PyAV is installed")
    (tmp_path / "a.mp4").write_bytes(b"\0" * 64)
    (tmp_path / "b.mp4").write_bytes(b"\0" * 64)
    proc = run("compare", "a.mp4", "b.mp4", cwd=tmp_path, check_code=1)
    assert 'pip install "ssimfast[video]"' in proc.stderr


def test_ctrl_c_leaves_complete_rows(tmp_path):
    ref, dist = frames(1)
    n = 400
    write_y4m(tmp_path / "ref.y4m", ref * n)
    write_y4m(tmp_path / "dist.y4m", dist * n)
    proc = subprocess.Popen([sys.executable, "-m", "ssimfast", "compare", "ref.y4m", "dist.y4m",
                             "-o", "rows.csv", "--workers", "1"], cwd=tmp_path, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    part = tmp_path / "rows.csv"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        # The rows go to a temporary file beside rows.csv until the run ends.
        written = list(tmp_path.glob(".rows.csv.*.tmp"))
        if written and written[0].read_text().count("\n") > 5:
            proc.send_signal(signal.SIGINT)
            break
        time.sleep(0.002)
    _, err = proc.communicate(timeout=60)
    assert "Traceback" not in err
    if proc.returncode == 0:
        pytest.skip("the run ended before the signal")
    assert proc.returncode == 130, err
    text = part.read_text()
    assert text.endswith("\n")
    rows = list(csv.DictReader(text.splitlines()))
    assert 5 <= len(rows) < n and all(len(r) == 5 and r["all"] for r in rows)


def test_psnr_for_two_images_and_video_options_refused(tmp_path):
    from PIL import Image
    from skimage.metrics import peak_signal_noise_ratio as ski_psnr

    ref, dist = frames(1)
    Image.fromarray(ref[0][0]).save(tmp_path / "a.png")
    Image.fromarray(dist[0][0]).save(tmp_path / "b.png")
    proc = run("compare", "a.png", "b.png", "--psnr", "--json", cwd=tmp_path, check_code=0)
    assert json.loads(proc.stdout)["psnr"] == pytest.approx(ski_psnr(ref[0][0], dist[0][0]),
                                                            rel=1e-12)
    proc = run("compare", "a.png", "b.png", "--psnr", cwd=tmp_path, check_code=0)
    assert "PSNR:" in proc.stdout and " dB" in proc.stdout
    proc = run("compare", "a.png", "b.png", "--offset", "2", cwd=tmp_path, check_code=2)
    assert "--offset is for comparing videos" in proc.stderr

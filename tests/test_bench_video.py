"""benchmarks/bench_video.py: its targets, tables and the per-stage profile."""
import importlib.util
import json
from pathlib import Path

import pytest

import ssimfast

CHECKOUT = Path(__file__).resolve().parent.parent
SCRIPT = CHECKOUT / "benchmarks" / "bench_video.py"

pytestmark = pytest.mark.skipif(
    Path(ssimfast.__file__).resolve().parent.parent != CHECKOUT,
    reason="the script benchmarks its checkout, and this ssimfast is installed elsewhere")


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_video", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _row(case, fps, cpu, extra=None):
    row = {"size": "64x48", "case": case, "fps": fps, "seconds": 1 / fps,
           "cpu_ms_per_frame": cpu, "peak_mib": 50.0, "runs": []}
    if extra is not None:
        row["extra_mib"] = extra
    return row


def test_targets_give_psnr_costs_in_wall_and_cpu_time(bench):
    results = [_row("ffmpeg ssim filter", 100, 5.0), _row("ffmpeg psnr filter", 120, 4.0),
               _row("ssimfast preset=ffmpeg", 200, 2.0, 10), _row("ssimfast preset=ffmpeg, psnr", 160, 2.1, 11),
               _row("ssimfast default (skimage)", 50, 10.0, 12), _row("ssimfast default, psnr", 40, 10.5, 12)]
    t = bench.targets(results)["64x48"]
    assert t["ffmpeg definition / FFmpeg ssim (>= 1.5)"] == pytest.approx(2.0)
    assert t["psnr cost, ffmpeg definition (< 10 %)"] == pytest.approx(25.0)
    assert t["psnr cost in CPU time, ffmpeg definition (%)"] == pytest.approx(5.0)
    assert t["psnr cost in CPU time, default definition (%)"] == pytest.approx(5.0)
    assert t["peak MiB beyond the interpreter (< 200)"] == 12
    info = {"date": "today", "ffmpeg": "ffmpeg", "ssimfast": "0", "threads": 2, "frames": 3,
            "repeat": 1, "load_average_start": (1, 1, 1), "load_average_end": (1, 1, 1),
            "cpu_count": 2}
    text = bench.format_table({"info": info, "results": results, "targets": {"64x48": t}})
    assert "| 64x48 | ssimfast default, psnr | 40 | 10.50 | 50 | 12 |" in text


def test_profile_runs_and_accounts_for_the_frame(bench, tmp_path):
    try:
        exe = bench.ffmpeg_exe()
    except SystemExit:
        pytest.skip("no FFmpeg (pip install imageio-ffmpeg)")
    out = tmp_path / "video.json"
    bench.main(["--profile", "--sizes", "64x48", "--frames", "3", "--repeat", "1",
                "--dir", str(tmp_path), "--json", str(out)])
    ms = json.loads((tmp_path / "video_profile.json").read_text())["profile"]["64x48"]
    assert exe
    assert all(v >= 0 for v in ms.values())
    # Every stage and end-to-end run is there, in CPU time; wall time with workers=2.
    for p in "yuv":
        assert f"default: plane {p}" in ms
    for name in ("video_ssim skimage, workers=1", "video_ssim ffmpeg, psnr, workers=2",
                 "video_ssim skimage, psnr, workers=2 (wall time)",
                 "read a frame pair (pread)", "floor: one float64 division per pixel (NumPy)",
                 "ffmpeg: read and score in bands (compiled, one call per frame)"):
        assert name in ms

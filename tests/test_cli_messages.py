"""`ssimfast compare`'s messages and exit codes agree with the table of
docs/guide/command-line.md and name the command's options (subprocesses)."""
import os
import subprocess
import sys

from PIL import Image

from test_cli import ENV, camera, noisy, run
from test_cli_video import frames, write_y4m


def test_unknown_preset_is_a_usage_error(tmp_path):
    Image.fromarray(camera(64)).save(tmp_path / "a.png")
    proc = run("compare", "a.png", "a.png", "--preset", "bogus", cwd=tmp_path, check_code=2)
    assert "no preset 'bogus'" in proc.stderr and "matlab" in proc.stderr


def test_api_words_become_option_names(tmp_path):
    ref, dist = frames(3)
    write_y4m(tmp_path / "r.y4m", ref)
    write_y4m(tmp_path / "d.y4m", dist[:2])
    proc = run("compare", "r.y4m", "d.y4m", cwd=tmp_path, check_code=1)
    assert "--frames N or --shortest" in proc.stderr and "frames=N" not in proc.stderr
    (tmp_path / "v.yuv").write_bytes(bytes(48 * 32 * 3 // 2))
    proc = run("compare", "v.yuv", "v.yuv", cwd=tmp_path, check_code=1)
    assert "--size WxH and --pix-fmt" in proc.stderr and "size=(" not in proc.stderr
    Image.fromarray(camera(64)).save(tmp_path / "a.png")
    proc = run("compare", "a.png", "a.png", "--k1", "1e200", cwd=tmp_path, check_code=1)
    assert "--k1/--k2 times the data range (255" in proc.stderr
    assert "data_range=" not in proc.stderr
    proc = run("compare", "a.png", "a.png", "--win-size", "1", cwd=tmp_path, check_code=1)
    assert "--population-covariance" in proc.stderr and "use_sample" not in proc.stderr


def test_warnings_come_before_the_report(tmp_path):
    Image.fromarray(camera(64)).save(tmp_path / "a.png")
    proc = subprocess.run([sys.executable, "-m", "ssimfast", "compare", "a.png", "a.png",
                           "--bits", "4"], cwd=tmp_path, env=ENV, text=True, timeout=120,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.returncode == 0, proc.stdout
    assert "not meaningful" in proc.stdout
    assert proc.stdout.index("not meaningful") < proc.stdout.index("mean SSIM")


def test_a_broken_pipe_is_a_quiet_exit_in_every_mode(tmp_path):
    names = [f"p{i:03}.png" for i in range(40)]
    for d in ("x", "y"):
        (tmp_path / d).mkdir()
        for i, name in enumerate(names):
            Image.fromarray(noisy(camera(32), 3, seed=i)).save(tmp_path / d / name)
    r, w = os.pipe()
    os.close(r)  # no reader: the first write fails with EPIPE
    with os.fdopen(w, "w") as closed:
        proc = subprocess.run([sys.executable, "-m", "ssimfast", "compare", "x", "y"],
                              cwd=tmp_path, env=ENV, stdout=closed, stderr=subprocess.PIPE,
                              text=True, timeout=120)
    assert proc.returncode == 0 and "error" not in proc.stderr, proc.stderr


def test_summary_names_cannot_forge_lines_and_errors_escape_once(tmp_path):
    forged = "n\n  0.9999  fake.png"
    for d in ("x", "y"):
        os.makedirs(os.path.join(os.fsencode(tmp_path), d.encode()))
    for d in ("x", "y"):
        Image.fromarray(camera(32)).save(tmp_path / d / forged)
        with open(os.path.join(os.fsencode(tmp_path), d.encode(), b"n\xff.png"), "wb") as f:
            f.write(b"not an image")
    proc = run("compare", "x", "y", cwd=tmp_path, check_code=1)
    assert "\n  0.9999  fake.png" not in proc.stderr
    assert "n\\x0a  0.9999  fake.png" in proc.stderr
    assert "n\\xff.png" in proc.stdout and "n\\\\xff.png" not in proc.stdout


def test_a_heatmap_name_that_is_not_utf8_is_printed_escaped(tmp_path):
    Image.fromarray(camera(64)).save(tmp_path / "a.png")
    env = dict(ENV, PYTHONIOENCODING="utf-8")
    proc = subprocess.run([sys.executable, "-m", "ssimfast", "compare", "a.png", "a.png",
                           "--heatmap", os.fsdecode(b"h\xff.png")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "heatmap: h\\xff.png" in proc.stdout
    assert os.path.exists(os.path.join(os.fsencode(tmp_path), b"h\xff.png"))

"""What `ssimfast compare` writes: never an input, never an existing file without
--overwrite, checked before any work, under the output's lock (subprocesses)."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from test_cli import ENV, camera, noisy, run
from test_cli_video import frames, write_y4m


@pytest.fixture
def videos(tmp_path):
    ref, dist = frames(3)
    write_y4m(tmp_path / "r1.y4m", ref)
    write_y4m(tmp_path / "r2.y4m", dist)
    return tmp_path


@pytest.fixture
def images(tmp_path):
    Image.fromarray(camera(64)).save(tmp_path / "a.png")
    Image.fromarray(noisy(camera(64), 10)).save(tmp_path / "b.png")
    (tmp_path / "notes.txt").write_text("keep me\n")
    return tmp_path


def _same_after(folder, names, *args, code, says):
    """Run compare; the files `names` must be byte for byte what they were."""
    before = {n: (folder / n).read_bytes() for n in names}
    proc = run("compare", *args, cwd=folder, check_code=code)
    for text in says:
        assert text in proc.stderr, proc.stderr
    assert {n: (folder / n).read_bytes() for n in names} == before
    return proc


def test_video_heatmap_over_an_input_is_refused(videos):
    os.symlink("r1.y4m", videos / "link.y4m")
    os.link(videos / "r2.y4m", videos / "hard.y4m")
    for target in ("r1.y4m", "link.y4m", "hard.y4m"):
        for extra in ((), ("--overwrite",)):
            _same_after(videos, ["r1.y4m", "r2.y4m"], "r1.y4m", "r2.y4m", "--heatmap", target,
                        *extra, code=2, says=[f"--heatmap {target} is one of the inputs"])


def test_video_rows_never_replace_an_input_or_a_file_unasked(videos):
    (videos / "notes.txt").write_text("keep me\n")
    _same_after(videos, ["r1.y4m"], "r1.y4m", "r2.y4m", "-o", "r1.y4m", "--overwrite",
                code=2, says=["r1.y4m is one of the inputs"])
    _same_after(videos, ["notes.txt"], "r1.y4m", "r2.y4m", "-o", "notes.txt", code=2,
                says=["notes.txt exists", "--overwrite"])
    run("compare", "r1.y4m", "r2.y4m", "-o", "notes.txt", "--overwrite", cwd=videos, check_code=0)
    assert (videos / "notes.txt").read_text().startswith("frame,y,u,v,all\n")
    assert sorted(p.name for p in videos.iterdir()) == ["notes.txt", "r1.y4m", "r2.y4m"]


def test_image_heatmap_over_an_input_or_a_file_is_refused(images):
    for extra in ((), ("--overwrite",)):
        _same_after(images, ["a.png", "b.png"], "a.png", "b.png", "--heatmap", "b.png", *extra,
                    code=2, says=["--heatmap b.png is one of the inputs"])
    _same_after(images, ["notes.txt"], "a.png", "b.png", "--heatmap", "notes.txt", code=2,
                says=["--heatmap notes.txt exists: pass --overwrite"])
    run("compare", "a.png", "b.png", "--heatmap", "notes.txt", "--overwrite", cwd=images,
        check_code=0)
    assert (images / "notes.txt").read_bytes().startswith(b"\x89PNG")


def test_directory_rows_never_replace_an_input_image(images):
    for d in ("x", "y"):
        (images / d).mkdir()
        Image.fromarray(camera(64)).save(images / d / "p.png")
    _same_after(images, ["x/p.png"], "x", "y", "-o", "x/p.png", "--overwrite", code=2,
                says=["x/p.png is an image in the input folder x"])
    _same_after(images, ["x/p.png"], "x", "y", "-o", "x/q.png", code=2,
                says=["x/q.png is an image in the input folder x"])


# The first run's folder walk starts a second run with the same -o, and
# records its exit code: the race of two runs that both find the output absent.
_RACE = """
import subprocess, sys
import ssimfast._cli as cli
walk, started = cli._image_files, []
def racing_walk(root, unreadable):
    if not started:
        started.append(1)
        code = subprocess.run([sys.executable, "-m", "ssimfast", "compare", "x", "y", "-o",
                               "rows.csv"], capture_output=True).returncode
        open("second.code", "w").write(str(code))
    return walk(root, unreadable)
cli._image_files = racing_walk
sys.exit(cli.main(["compare", "x", "y", "-o", "rows.csv"]))
"""


def test_two_runs_with_one_output_cannot_both_write_it(images):
    for d in ("x", "y"):
        (images / d).mkdir()
        Image.fromarray(camera(64)).save(images / d / "p.png")
    first = subprocess.run([sys.executable, "-c", _RACE], cwd=images, env=ENV,
                           capture_output=True, text=True, timeout=120)
    assert "Traceback" not in first.stderr, first.stderr
    codes = sorted([first.returncode, int((images / "second.code").read_text())])
    assert codes == [0, 2], (codes, first.stderr)  # one writes, the other is refused


def test_no_lock_file_is_left_behind(images, videos):
    for d in ("x", "y"):
        (images / d).mkdir()
        Image.fromarray(camera(64)).save(images / d / "p.png")
    run("compare", "x", "y", "-o", "rows.csv", cwd=images, check_code=0)
    run("compare", "x", "y", "-o", "rows.csv", "--resume", cwd=images, check_code=0)
    run("compare", "r1.y4m", "r2.y4m", "-o", "v.csv", cwd=videos, check_code=0)
    assert not [p.name for p in images.iterdir() if p.name.endswith(".lock")]


def test_output_exit_codes_and_messages(videos):
    (videos / "d").mkdir()
    proc = run("compare", "r1.y4m", "r2.y4m", "-o", "d", cwd=videos, check_code=2)
    assert "--output d is a directory" in proc.stderr
    proc = run("compare", "r1.y4m", "r2.y4m", "--heatmap", "d", cwd=videos, check_code=2)
    assert "--heatmap d is a directory" in proc.stderr
    proc = run("compare", "d", "d", "-o", "d", cwd=videos, check_code=2)
    assert "--output d is a directory" in proc.stderr and "--resume" not in proc.stderr
    if os.path.exists("/dev/full"):
        proc = run("compare", "r1.y4m", "r2.y4m", "-o", "/dev/full", cwd=videos, check_code=3)
        assert "cannot write /dev/full: No space left on device" in proc.stderr
    for name in ("x.jsonl", "x.ndjson", "x.JSONL"):
        run("compare", "r1.y4m", "r2.y4m", "-o", name, cwd=videos, check_code=0)
        assert json.loads((videos / name).read_text().splitlines()[0])["frame"] == 0
    run("compare", "r1.y4m", "r2.y4m", "-o", "x.json", cwd=videos, check_code=0)
    assert (videos / "x.json").read_text().startswith("frame,")  # as directory mode


def test_symlinked_output_and_its_mode_are_kept(videos):
    run("compare", "r1.y4m", "r2.y4m", "-o", "real.csv", cwd=videos, check_code=0)
    os.chmod(videos / "real.csv", 0o600)
    os.symlink("real.csv", videos / "link.csv")
    run("compare", "r1.y4m", "r2.y4m", "-o", "link.csv", "--overwrite", "--frames", "2",
        cwd=videos, check_code=0)
    assert os.path.islink(videos / "link.csv")
    assert (videos / "real.csv").read_text().count("\n") == 3
    assert oct(os.stat(videos / "real.csv").st_mode & 0o777) == oct(0o600)


def test_video_max_pixels_from_the_header(tmp_path):
    w = h = 20000
    with open(tmp_path / "big.y4m", "wb") as f:  # sparse: one frame, never read
        f.write(f"YUV4MPEG2 W{w} H{h} F25:1 Ip A1:1 C420jpeg\nFRAME\n".encode())
        f.truncate(f.tell() + w * h * 3 // 2)
    proc = run("compare", "big.y4m", "big.y4m", "--max-pixels", 1000, cwd=tmp_path, check_code=1)
    assert "above the limit of 1,000 pixels" in proc.stderr and "--max-pixels" in proc.stderr
    assert "400,000,000 pixels" in proc.stderr


# Cuts dist.y4m before its frame 2 once that frame was read, before it is
# scored: a video that shrinks while it is scored (another program rewriting
# it). A memory map of the frame would raise SIGBUS in the kernel.
_SHRINK = """
import os, sys
import ssimfast._cli as cli
import ssimfast._video as video
frame = video._MappedReader.frame
def shrinking(self, i):
    planes = frame(self, i)
    if i == 2 and self.path == "dist.y4m":
        os.truncate("dist.y4m", self._offsets[2])
    return planes
video._MappedReader.frame = shrinking
sys.exit(cli.main(["compare", "ref.y4m", "dist.y4m", "--workers", "1"]))
"""


def test_a_video_that_shrinks_during_the_run_is_a_message(tmp_path):
    ref, dist = frames(6, w=256, h=128)  # frames of several pages: the cut frees whole pages
    write_y4m(tmp_path / "ref.y4m", ref, w=256, h=128)
    write_y4m(tmp_path / "dist.y4m", dist, w=256, h=128)
    proc = subprocess.run([sys.executable, "-c", _SHRINK], cwd=tmp_path, env=ENV,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, (proc.returncode, proc.stderr)  # not -SIGBUS
    assert "dist.y4m shrank during the run" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_retry_errors_rewrites_through_a_symlink_and_keeps_the_mode(images):
    for i, d in enumerate(("x", "y")):
        (images / d).mkdir()
        for name in ("p.png", "q.png"):
            Image.fromarray(noisy(camera(64), 5 * i, seed=i)).save(images / d / name)
    good = (images / "y" / "q.png").read_bytes()
    (images / "y" / "q.png").write_bytes(b"not yet written")
    run("compare", "x", "y", "-o", "real.csv", cwd=images, check_code=1)
    os.chmod(images / "real.csv", 0o640)
    os.symlink("real.csv", images / "link.csv")
    os.symlink("real.csv.options.json", images / "link.csv.options.json")
    (images / "y" / "q.png").write_bytes(good)
    run("compare", "x", "y", "-o", "link.csv", "--resume", "--retry-errors", cwd=images,
        check_code=0)
    assert os.path.islink(images / "link.csv")
    assert oct(os.stat(images / "real.csv").st_mode & 0o777) == oct(0o640)
    text = (images / "real.csv").read_text()
    assert text.count("\n") == 3 and '"q.png"' in text and "not" not in text


# A directory run whose second pair never ends: a second Ctrl-C must end the
# process anyway, with the complete rows in place.
_STUCK = """
import pathlib, sys, threading
import ssimfast._cli as cli
score = cli._score_pair
def stuck(rel, args):
    if rel == "p1.png":
        pathlib.Path("started").touch()
        threading.Event().wait()
    return score(rel, args)
cli._score_pair = stuck
sys.exit(cli.main(["compare", "x", "y", "-o", "rows.csv", "--workers", "2"]))
"""


def test_a_second_ctrl_c_ends_the_run_with_the_pairs_in_flight(images):
    for d in ("x", "y"):
        (images / d).mkdir()
        for i in range(3):
            Image.fromarray(noisy(camera(32), 3, seed=i)).save(images / d / f"p{i}.png")
    proc = subprocess.Popen([sys.executable, "-c", _STUCK], cwd=images, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while not (images / "started").exists() and proc.poll() is None:
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        first = proc.stderr.readline()  # handled: the second is another signal, not merged
        assert "stopping" in first, first
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)  # main: waits for the stuck pair forever
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "aborted" in err
    text = (images / "rows.csv").read_text()
    assert text.startswith("file,ssim,min_ssim,error\n") and text.endswith("\n")
    assert not (images / "rows.csv.lock").exists()


def test_the_options_record_is_replaced_whole(tmp_path, monkeypatch):
    """A write of OUTPUT.options.json that fails half way leaves the previous
    record (which --resume needs) and no temporary file."""
    import ssimfast._rows as rows_module

    out = str(tmp_path / "rows.csv")
    rows_module.Rows(out, "csv", "new", {"win_size": 7}).close()
    before = (tmp_path / "rows.csv.options.json").read_text()

    def half_then_fail(record, f, **kwargs):
        f.write('{"ssimfast_rows": 1, "form')
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rows_module.json, "dump", half_then_fail)
    with pytest.raises(rows_module.OutputError, match="No space left"):
        rows_module.Rows(out, "csv", "overwrite", {"win_size": 9})
    assert (tmp_path / "rows.csv.options.json").read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rows.csv", "rows.csv.options.json"]

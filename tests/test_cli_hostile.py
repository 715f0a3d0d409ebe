"""The `ssimfast compare` command on hostile and awkward files (issue 15): limits
before decoding, one array per file, outputs that always parse, a --resume that
cannot harm, and a message with an exit code (never a traceback) for every
failure. Each test runs the command as a subprocess on files written here."""
import csv
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest
import tifffile
from PIL import Image
from test_cli import ENV, camera, noisy, run
from test_png import encode_test_png

import ssimfast
from ssimfast._rows import unescape_name


def strict_json(text):
    """json.loads that refuses NaN and Infinity, as parsers other than Python's do."""
    def refuse(name):
        raise ValueError(f"not JSON: {name}")
    return json.loads(text, parse_constant=refuse)


def pair_dirs(root, names, size=32):
    """root/a and root/b holding the same pairs under `names` (str or bytes)."""
    for i, name in enumerate(names):
        a = camera(size, offset=i)
        for side, im in (("a", a), ("b", noisy(a, 3, seed=i))):
            folder = os.path.join(os.fsencode(root), side.encode())
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, os.fsencode(name)), "wb") as f:
                Image.fromarray(im).save(f, format="PNG")


# ---------------------------------------------------------------- limits before work

def _header_bomb_png(width, height):
    """A PNG whose header claims width x height, with almost no data."""
    header = np.array([width, height], ">u4").tobytes() + bytes([8, 0, 0, 0, 0])
    chunk = (lambda kind, body: len(body).to_bytes(4, "big") + kind + body
             + zlib.crc32(body, zlib.crc32(kind)).to_bytes(4, "big"))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(bytes(1000))) + chunk(b"IEND", b""))


def test_pixel_limit_before_decoding_files_and_rows(tmp_path):
    (tmp_path / "bomb.png").write_bytes(_header_bomb_png(40000, 40000))
    Image.fromarray(camera(64)).save(tmp_path / "ok.png")
    proc = run("compare", "bomb.png", "ok.png", cwd=tmp_path, check_code=1)
    assert "40000x40000 is 1,600,000,000 pixels, above the limit of 89,478,485" in proc.stderr
    assert "--max-pixels" in proc.stderr
    # Pillow's formats: a BMP whose header claims 30000 x 30000.
    buf = io.BytesIO()
    Image.fromarray(camera(64)).save(buf, format="BMP")
    bmp = bytearray(buf.getvalue())
    bmp[18:26] = np.array([30000, 30000], "<i4").tobytes()
    (tmp_path / "bomb.bmp").write_bytes(bytes(bmp))
    proc = run("compare", "bomb.bmp", "bomb.bmp", cwd=tmp_path, check_code=1)
    # (Pillow refuses it first: above twice the limit.)
    assert "more than 178,956,970 pixels, twice the limit" in proc.stderr
    assert "--max-pixels" in proc.stderr
    # A smaller limit, and a directory: an error row naming the limit and the option.
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
        Image.fromarray(camera(64)).save(tmp_path / side / "x.png")
    proc = run("compare", "a", "b", "--max-pixels", 4095, cwd=tmp_path, check_code=1)
    row, = csv.DictReader(io.StringIO(proc.stdout))
    assert "64x64 is 4,096 pixels, above the limit of 4,095" in row["error"]
    run("compare", "a", "b", "--max-pixels", 4096, cwd=tmp_path, check_code=0)
    run("compare", "a", "b", "--max-pixels", 0, cwd=tmp_path, check_code=0)


@pytest.mark.skipif(sys.platform == "win32", reason="resource.getrusage")
def test_inflation_is_bounded(tmp_path):
    """A 16x16 PNG whose image data inflate to 384 MiB: the old reader inflated
    them all into memory (4 GiB took 4.2 GB); now the peak memory of the whole
    command stays that of a small run."""
    array = camera(16)
    stream = zlib.compressobj(9)
    rows = b"".join(b"\0" + row.tobytes() for row in array)
    compressed = stream.compress(rows) + b"".join(stream.compress(bytes(1 << 20))
                                                   for _ in range(384)) + stream.flush()
    good = encode_test_png(array, kinds=[0] * 16)
    bomb = good[:33] + _chunk(b"IDAT", compressed) + _chunk(b"IEND", b"")
    assert len(bomb) < 1 << 20
    (tmp_path / "bomb.png").write_bytes(bomb)
    (tmp_path / "ok.png").write_bytes(good)
    measure = textwrap.dedent("""
        import resource, subprocess, sys
        proc = subprocess.run([sys.executable, "-m", "ssimfast", "compare", "bomb.png", "ok.png",
                               "--json", "--win-size", "3"], capture_output=True, text=True)
        print(proc.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
        sys.stderr.write(proc.stderr)
        """)
    proc = subprocess.run([sys.executable, "-c", measure], cwd=tmp_path, env=ENV,
                          capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    code, peak_kb = map(int, proc.stdout.split())
    assert code == 0, proc.stderr
    assert peak_kb < 250 * 1024, f"peak memory {peak_kb // 1024} MB for a 16x16 image"


def _chunk(kind, body):
    return (len(body).to_bytes(4, "big") + kind + body
            + zlib.crc32(body, zlib.crc32(kind)).to_bytes(4, "big"))


def test_tiff_pages_and_volume_pixels_are_capped(tmp_path):
    tifffile.imwrite(tmp_path / "many.tif", np.zeros((1001, 8, 8), np.uint8))
    proc = run("compare", "many.tif", "many.tif", cwd=tmp_path, check_code=1)
    assert "more than 1,000 pages, above the limit of 1,000" in proc.stderr and "--max-pages" in proc.stderr
    run("compare", "many.tif", "many.tif", "--max-pages", 0, cwd=tmp_path, check_code=0)
    volume = np.stack([camera(64)] * 9)
    tifffile.imwrite(tmp_path / "vol.tif", volume)
    proc = run("compare", "vol.tif", "vol.tif", "--max-pixels", 30000, cwd=tmp_path,
               check_code=1)
    assert "of 9 pages (9x64x64) is 36,864 pixels, above the limit of 30,000" in proc.stderr


# ---------------------------------------------------------------- one array per file

def test_interlaced_16_bit_png_scores_one_against_the_same_pixels(tmp_path):
    rgb = np.dstack([camera(64), camera(64, 3), camera(64, 7)]).astype(np.uint16) * 257
    (tmp_path / "plain.png").write_bytes(encode_test_png(rgb))
    (tmp_path / "adam7.png").write_bytes(encode_test_png(rgb, interlace=True))
    got = json.loads(run("compare", "plain.png", "adam7.png", "--json", cwd=tmp_path,
                         check_code=0).stdout)
    assert got["mean"] == 1.0


def test_pairs_of_other_bit_depths_are_errors_not_scores(tmp_path):
    im = camera(64)
    Image.fromarray(im).save(tmp_path / "a8.png")
    tifffile.imwrite(tmp_path / "a16.tif", im.astype(np.uint16) * 257)
    proc = run("compare", "a8.png", "a16.tif", cwd=tmp_path, check_code=1)
    assert "64 columns gray uint8 but a16.tif is 64 rows x 64 columns gray uint16" in proc.stderr
    assert "bit depths" in proc.stderr
    for side, name, im_ in (("a", "x.png", im), ("b", "x.png", im.astype(np.uint16) * 257)):
        (tmp_path / side).mkdir()
        (tmp_path / side / name).write_bytes(encode_test_png(im_))
    proc = run("compare", "a", "b", cwd=tmp_path, check_code=1)
    row, = csv.DictReader(io.StringIO(proc.stdout))
    assert row["ssim"] == "" and "bit depths" in row["error"]


def test_bits_option_and_the_range_warning_before_the_report(tmp_path):
    rng = np.random.default_rng(3)
    a = (camera(128).astype(np.uint16) * 16 + rng.integers(0, 16, (128, 128))).astype(np.uint16)
    b = np.clip(a + rng.normal(0, 40, a.shape), 0, 4095).astype(np.uint16)
    tifffile.imwrite(tmp_path / "a.tif", a)
    tifffile.imwrite(tmp_path / "b.tif", b)
    got = json.loads(run("compare", "a.tif", "b.tif", "--bits", 12, "--json", cwd=tmp_path,
                         check_code=0).stdout)
    assert got["mean"] == ssimfast.structural_similarity(a, b, bits=12)
    proc = subprocess.run([sys.executable, "-m", "ssimfast", "compare", "a.tif", "b.tif"],
                          cwd=tmp_path, env=ENV, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=60)
    out = proc.stdout
    assert "Traceback" not in out and proc.returncode == 0
    warning = out.index("warning: the data range is taken from the uint16 dtype: 65535")
    assert warning < out.index("mean SSIM:")
    assert "--bits 12" in out and "--data-range" in out
    assert "data_range=" not in out and "im1.dtype" not in out
    run("compare", "a.tif", "b.tif", "--bits", 12, "--data-range", 4095, cwd=tmp_path,
        check_code=2)
    proc = run("compare", "a.tif", "b.tif", "--bits", 17, cwd=tmp_path, check_code=1)
    assert "bits must be from 1 to 16" in proc.stderr
    # A directory: one warning for all its pairs, before the summary.
    for side, im in (("a", a), ("b", b)):
        for name in ("x.tif", "y.tif", "z.tif"):
            (tmp_path / side).mkdir(exist_ok=True)
            tifffile.imwrite(tmp_path / side / name, im)
    proc = run("compare", "a", "b", cwd=tmp_path, check_code=0)
    assert proc.stderr.count("warning:") == 1, proc.stderr
    assert proc.stderr.index("pass --bits N") < proc.stderr.index("mean SSIM")
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    run_bits = list(csv.DictReader(io.StringIO(run("compare", "a", "b", "--bits", 12,
                                                   cwd=tmp_path, check_code=0).stdout)))
    assert [float(r["ssim"]) for r in run_bits] == [ssimfast.structural_similarity(a, b, bits=12)] * 3
    assert rows != run_bits


# ---------------------------------------------------------------- outputs that always parse

AWKWARD = ["cr\rname.png", "new\nline.png", 'quote".png', "comma,name.png", "back\\slash.png",
           "tab\tname.png"]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_awkward_and_non_utf8_names_round_trip(tmp_path, fmt):
    names = [n.encode() for n in AWKWARD] + [b"caf\xe9.png", b"ok.png"]
    pair_dirs(tmp_path, names)
    run("compare", "a", "b", "-o", f"rows.{fmt}", cwd=tmp_path, check_code=0)
    data = (tmp_path / f"rows.{fmt}").read_bytes()
    text = data.decode("utf-8")  # always UTF-8
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    else:
        rows = [strict_json(line) for line in text.split("\n")[:-1]]
    assert sorted(unescape_name(r["file"]) for r in rows) == sorted(names)
    assert all(float(r["ssim"]) > 0.5 for r in rows)
    assert "caf\\xe9.png" in {r["file"] for r in rows}
    assert "back\\\\slash.png" in {r["file"] for r in rows}
    # The file resumes (every row is read back as written) without a change.
    run("compare", "a", "b", "-o", f"rows.{fmt}", "--resume", cwd=tmp_path, check_code=0)
    assert (tmp_path / f"rows.{fmt}").read_bytes() == data


def test_nan_or_infinite_values_are_errors_not_scores(tmp_path):
    a = camera(64).astype(np.float32) / 255
    a[10, 10] = np.nan
    for side in ("a", "b"):
        (tmp_path / side).mkdir()
        tifffile.imwrite(tmp_path / side / "x.tif", a)
    proc = run("compare", "a/x.tif", "b/x.tif", "--json", "--data-range", 1, cwd=tmp_path,
               check_code=1)
    assert "contains NaN or infinite values" in proc.stderr and proc.stdout == ""
    proc = run("compare", "a", "b", "--data-range", 1, cwd=tmp_path, check_code=1)
    row, = csv.DictReader(io.StringIO(proc.stdout))
    assert row["ssim"] == "" and "contains NaN or infinite values" in row["error"]


# ---------------------------------------------------------------- --resume that cannot harm

def test_resume_changes_no_byte_of_a_file_it_does_not_recognise(tmp_path):
    pair_dirs(tmp_path, ["x.png"])
    for name, content in (("other.csv", b"name,score\nx,1\npartial"),
                          ("fake.csv", b"file,ssim,min_ssim,error\n\"x.png\",0.5,\"\",\"\"\ncut")):
        (tmp_path / name).write_bytes(content)
        proc = run("compare", "a", "b", "-o", name, "--resume", cwd=tmp_path, check_code=2)
        assert "not a ssimfast CSV file" in proc.stderr
        assert (tmp_path / name).read_bytes() == content


def test_resume_repairs_a_cut_inside_a_quoted_name(tmp_path):
    names = ["a.png", "b\nforged.png", "c.png"]
    pair_dirs(tmp_path, names)
    run("compare", "a", "b", "-o", "rows.csv", cwd=tmp_path, check_code=0)
    full = (tmp_path / "rows.csv").read_bytes()
    cut = full.index(b"b\nforged") + 2  # just after the newline inside the quoted name
    (tmp_path / "rows.csv").write_bytes(full[:cut])
    proc = run("compare", "a", "b", "-o", "rows.csv", "--resume", cwd=tmp_path, check_code=0)
    assert "(1 already in rows.csv)" in proc.stderr
    assert (tmp_path / "rows.csv").read_bytes() == full


def test_one_run_at_a_time_holds_an_output(tmp_path):
    from filelock import FileLock

    pair_dirs(tmp_path, ["x.png"])
    with FileLock(str(tmp_path / "rows.csv.lock")):
        proc = run("compare", "a", "b", "-o", "rows.csv", cwd=tmp_path, check_code=2)
    assert "another ssimfast run is writing rows.csv" in proc.stderr
    assert not (tmp_path / "rows.csv").exists()
    run("compare", "a", "b", "-o", "rows.csv", cwd=tmp_path, check_code=0)


def test_resume_with_other_options_is_refused(tmp_path):
    pair_dirs(tmp_path, ["x.png", "y.png"])
    run("compare", "a", "b", "-o", "rows.csv", "--gaussian", cwd=tmp_path, check_code=0)
    before = (tmp_path / "rows.csv").read_bytes()
    proc = run("compare", "a", "b", "-o", "rows.csv", "--resume", cwd=tmp_path, check_code=2)
    assert "written with other options (gaussian: True then, False now" in proc.stderr
    assert (tmp_path / "rows.csv").read_bytes() == before
    run("compare", "a", "b", "-o", "rows.csv", "--resume", "--gaussian", cwd=tmp_path,
        check_code=0)


def test_retry_errors_scores_the_error_rows_again(tmp_path):
    pair_dirs(tmp_path, ["x.png", "y.png", "z.png"])
    good = (tmp_path / "b" / "y.png").read_bytes()
    (tmp_path / "b" / "y.png").write_bytes(b"not yet written")
    run("compare", "a", "b", "-o", "rows.csv", cwd=tmp_path, check_code=1)
    (tmp_path / "b" / "y.png").write_bytes(good)
    proc = run("compare", "a", "b", "-o", "rows.csv", "--resume", cwd=tmp_path, check_code=1)
    assert "--retry-errors" in proc.stderr
    run("compare", "a", "b", "-o", "rows.csv", "--resume", "--retry-errors", cwd=tmp_path,
        check_code=0)
    rows = list(csv.DictReader(open(tmp_path / "rows.csv", newline="")))
    assert sorted(r["file"] for r in rows) == ["x.png", "y.png", "z.png"]
    assert all(r["ssim"] and not r["error"] for r in rows)


# ---------------------------------------------------------------- no traceback, ever

def _memory_limit():
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS")
def test_out_of_memory_while_reading_is_an_error_row_that_resume_retries(tmp_path):
    pair_dirs(tmp_path, ["x.png"])
    (tmp_path / "a" / "big.png").write_bytes(_header_bomb_png(60000, 60000))  # 3.6 GB
    (tmp_path / "b" / "big.png").write_bytes(_header_bomb_png(60000, 60000))
    command = [sys.executable, "-m", "ssimfast", "compare", "a", "b", "-o", "rows.csv",
               "--max-pixels", "0"]
    proc = subprocess.run(command, cwd=tmp_path, env=ENV, capture_output=True, text=True,
                          timeout=120, preexec_fn=_memory_limit)
    assert "Traceback" not in proc.stderr and proc.returncode == 1, proc.stderr
    rows = {r["file"]: r for r in csv.DictReader(open(tmp_path / "rows.csv", newline=""))}
    assert "out of memory" in rows["big.png"]["error"]
    # Memory is the machine's state, not the file's: --resume scores the pair again.
    proc = subprocess.run(command[:-2] + ["--resume", "--max-pixels", "0"], cwd=tmp_path,
                          env=ENV, capture_output=True, text=True, timeout=120,
                          preexec_fn=_memory_limit)
    assert "scored 1 pairs" in proc.stderr and "(1 already in rows.csv)" in proc.stderr
    rows = list(csv.DictReader(open(tmp_path / "rows.csv", newline="")))
    assert sorted(r["file"] for r in rows) == ["big.png", "x.png"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs")
def test_special_files_are_error_rows_without_opening_them(tmp_path):
    pair_dirs(tmp_path, ["x.png"])
    for side in ("a", "b"):
        os.mkfifo(tmp_path / side / "fifo.png")
        os.symlink("/dev/null", tmp_path / side / "dev.png")
    proc = run("compare", "a", "b", cwd=tmp_path, check_code=1, timeout=60)
    rows = {r["file"]: r for r in csv.DictReader(io.StringIO(proc.stdout))}
    assert "a FIFO (named pipe), not a regular file: skipped without opening it" in \
        rows["fifo.png"]["error"]
    assert "a character device" in rows["dev.png"]["error"]
    assert rows["x.png"]["ssim"]
    os.mkfifo(tmp_path / "out.csv")
    proc = run("compare", "a", "b", "-o", "out.csv", "--resume", cwd=tmp_path, check_code=2,
               timeout=60)
    assert "not a regular file" in proc.stderr


def _without_root_file_access():
    """Root reads any folder (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH): drop both
    from the capability bounding set, so that the command run next cannot."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            os._exit(99)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux permissions")
def test_unreadable_folder_and_output_are_reported(tmp_path):
    pair_dirs(tmp_path, ["x.png"])
    for side in ("a", "b"):
        (tmp_path / side / "sub").mkdir()
        Image.fromarray(camera(32)).save(tmp_path / side / "sub" / "y.png")
    os.chmod(tmp_path / "b" / "sub", 0)
    try:
        proc = subprocess.run([sys.executable, "-m", "ssimfast", "compare", "a", "b"],
                              cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=60,
                              preexec_fn=_without_root_file_access if os.geteuid() == 0 else None)
    finally:
        os.chmod(tmp_path / "b" / "sub", 0o755)
    if proc.returncode == 99:
        pytest.skip("cannot drop root's file access here")
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 1, proc.stderr
    assert "cannot read the folder b/sub: Permission denied (its files are not compared)" \
        in proc.stderr
    assert "1 file in a without a partner in b: sub/y.png" in proc.stderr
    # An output that cannot be read: --resume says so.
    run("compare", "a", "b", "-o", "rows.csv", cwd=tmp_path, check_code=0)
    os.chmod(tmp_path / "rows.csv", 0)
    proc = subprocess.run([sys.executable, "-m", "ssimfast", "compare", "a", "b", "-o", "rows.csv",
                           "--resume"], cwd=tmp_path, env=ENV, capture_output=True, text=True,
                          timeout=60,
                          preexec_fn=_without_root_file_access if os.geteuid() == 0 else None)
    assert "Traceback" not in proc.stderr and proc.returncode == 2, proc.stderr
    assert "cannot resume rows.csv" in proc.stderr and "Permission denied" in proc.stderr


def test_full_disk_is_a_message(tmp_path):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    pair_dirs(tmp_path, ["x.png"])
    proc = run("compare", "a", "b", "-o", "/dev/full", "--overwrite", cwd=tmp_path, check_code=3)
    assert "cannot write /dev/full: No space left on device" in proc.stderr
    proc = run("compare", "a/x.png", "b/x.png", "--heatmap", "/dev/full", cwd=tmp_path,
               check_code=3)
    assert "cannot write the heatmap to /dev/full: No space left on device" in proc.stderr
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "ssimfast", "compare", "a/x.png", "b/x.png"],
                              cwd=tmp_path, env=ENV, stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=60)
    assert "Traceback" not in proc.stderr and proc.returncode == 3, proc.stderr
    assert "No space left on device" in proc.stderr


def test_output_that_is_a_folder_or_not_utf8(tmp_path):
    pair_dirs(tmp_path, ["x.png", "y.png"])
    (tmp_path / "out").mkdir()
    proc = run("compare", "a", "b", "-o", "out", "--resume", cwd=tmp_path, check_code=2)
    assert "out is a directory: --output takes a file name" in proc.stderr
    run("compare", "a", "b", "-o", "rows.csv", cwd=tmp_path, check_code=0)
    rows = tmp_path / "rows.csv"
    rows.write_bytes(rows.read_bytes() + b'"\xff\xfe.png",0.5,"",""\n')
    before = rows.read_bytes()
    proc = run("compare", "a", "b", "-o", "rows.csv", "--resume", cwd=tmp_path, check_code=2)
    assert "it is not UTF-8 text" in proc.stderr
    assert rows.read_bytes() == before


def test_huge_sigma_is_a_message(tmp_path):
    Image.fromarray(camera(64)).save(tmp_path / "a.png")
    proc = run("compare", "a.png", "a.png", "--gaussian", "--sigma", "1e6", "--win-size", 7,
               cwd=tmp_path, check_code=1)
    assert "out of memory" in proc.stderr


def test_ctrl_c_during_start_up(tmp_path):
    """SIGINT while the package loads (here: when NumPy is imported) ends the
    command without a traceback."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(textwrap.dedent("""
        import os, signal, sys

        class InterruptOnNumpy:
            def find_spec(self, name, path=None, target=None):
                if name == "numpy":
                    sys.meta_path.remove(self)
                    os.kill(os.getpid(), signal.SIGINT)
                return None

        sys.meta_path.insert(0, InterruptOnNumpy())
        """))
    env = dict(ENV, PYTHONPATH=f"{hook}{os.pathsep}{ENV['PYTHONPATH']}")
    Image.fromarray(camera(64)).save(tmp_path / "a.png")
    proc = subprocess.run([sys.executable, "-m", "ssimfast", "compare", "a.png", "a.png"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert "Traceback" not in proc.stderr and "KeyboardInterrupt" not in proc.stderr
    assert proc.returncode in (-signal.SIGINT, 130), (proc.returncode, proc.stderr)
    assert proc.stdout == ""

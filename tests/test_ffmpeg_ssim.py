"""FFmpeg's SSIM (ssimfast._ffmpeg) against an FFmpeg binary: the digits its
ssim filter prints, per frame and per plane and All, for 8-bit 4:2:0, 4:4:4,
4:2:2, gray and 10/12-bit video. The binary comes from imageio-ffmpeg (the
test extra); without it those tests are skipped."""
import re
import subprocess

import numpy as np
import pytest
from scipy import ndimage as ndi

from ssimfast import _codec_cy
from ssimfast._ffmpeg import (ffmpeg_ssim, ffmpeg_ssim_frame, ffmpeg_ssim_map, ffmpeg_ssim_sse,
                              ffmpeg_weights)

# (Y4M colour space tag, chroma subsampling (x, y) or None for gray, bits)
FORMATS = {
    "yuv420p": ("420jpeg", (1, 1), 8),
    "yuv422p": ("422", (1, 0), 8),
    "yuv444p": ("444", (0, 0), 8),
    "gray": ("mono", None, 8),
    "yuv420p10le": ("420p10", (1, 1), 10),
    "yuv444p12le": ("444p12", (0, 0), 12),
    "gray16le": ("mono16", None, 16),
}


def ffmpeg_exe():
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:  # the package without its binary
        pytest.skip(f"no FFmpeg binary: {exc}")


def plane_shapes(width, height, pix_fmt):
    _, sub, _ = FORMATS[pix_fmt]
    if sub is None:
        return [(height, width)]
    cw, ch = -(-width >> sub[0]), -(-height >> sub[1])
    return [(height, width), (ch, cw), (ch, cw)]


def make_frames(width, height, pix_fmt, n_frames, seed):
    """Smooth random pictures (so SSIM is not near 0) and distorted copies."""
    bits = FORMATS[pix_fmt][2]
    peak = (1 << bits) - 1
    rng = np.random.default_rng(seed)
    dtype = np.uint8 if bits == 8 else np.uint16
    ref, dist = [], []
    for _ in range(n_frames):
        r, d = [], []
        for shape in plane_shapes(width, height, pix_fmt):
            base = ndi.gaussian_filter(rng.standard_normal(shape), 2.0)
            base = (base - base.min()) / max(np.ptp(base), 1e-9) * peak
            noise = rng.standard_normal(shape) * peak * rng.uniform(0.01, 0.2)
            r.append(np.clip(np.rint(base), 0, peak).astype(dtype))
            d.append(np.clip(np.rint(base + noise), 0, peak).astype(dtype))
        ref.append(r)
        dist.append(d)
    return ref, dist


def write_y4m(path, frames, width, height, pix_fmt):
    tag = FORMATS[pix_fmt][0]
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F25:1 Ip A1:1 C{tag}\n".encode())
        for planes in frames:
            f.write(b"FRAME\n")
            for p in planes:
                f.write(np.ascontiguousarray(p, dtype=p.dtype.newbyteorder("<")).tobytes())


def run_ffmpeg_ssim(exe, a, b, stats):
    out = subprocess.run(
        [exe, "-hide_banner", "-nostdin", "-i", str(a), "-i", str(b),
         "-lavfi", f"ssim=stats_file={stats}", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr
    summary = re.search(r"SSIM (.*All:\S+)", out)
    assert summary, out
    means = dict(re.findall(r"(\w+):(\S+)", summary.group(1)))
    per_frame = [dict(re.findall(r"(\w+):(\S+)", line)) for line in
                 open(stats).read().splitlines()]
    return means, per_frame


@pytest.mark.parametrize("pix_fmt,width,height", [
    ("yuv420p", 64, 48), ("yuv420p", 70, 46), ("yuv420p", 176, 144),
    ("yuv444p", 66, 40), ("yuv422p", 52, 36), ("gray", 45, 33),
    ("yuv420p10le", 72, 40), ("yuv444p12le", 40, 36), ("gray16le", 37, 29),
])
def test_equals_ffmpeg_printed_digits(tmp_path, pix_fmt, width, height):
    exe = ffmpeg_exe()
    bits = FORMATS[pix_fmt][2]
    ref, dist = make_frames(width, height, pix_fmt, 4, seed=width * height)
    write_y4m(tmp_path / "a.y4m", ref, width, height, pix_fmt)
    write_y4m(tmp_path / "b.y4m", dist, width, height, pix_fmt)
    means, per_frame = run_ffmpeg_ssim(exe, tmp_path / "a.y4m", tmp_path / "b.y4m",
                                       tmp_path / "stats.log")
    names = ["Y", "U", "V"][:len(ref[0])] + ["All"]
    ours = np.array([ffmpeg_ssim_frame(r, d, bits=bits) for r, d in zip(ref, dist)])
    assert len(per_frame) == len(ref)
    for i, row in enumerate(per_frame):
        for j, name in enumerate(names):
            assert f"{ours[i, j]:f}" == row[name], (i, name, ours[i, j], row[name])
    for j, name in enumerate(names):
        # FFmpeg's means: the per-frame values summed in double, over the count.
        total = 0.0
        for value in ours[:, j]:
            total += value
        assert f"{total / len(ref):f}" == means[name], (name, total / len(ref), means[name])


@pytest.mark.parametrize("bits,shape", [(8, (37, 53)), (8, (64, 64)), (8, (300, 203)),
                                        (10, (41, 39)), (16, (9, 8))])
def test_sse_from_the_block_sums_is_exact(bits, shape):
    rng = np.random.default_rng(shape[0])
    dtype = np.uint8 if bits == 8 else np.uint16
    a = rng.integers(0, 1 << bits, shape).astype(dtype)
    b = rng.integers(0, 1 << bits, shape).astype(dtype)
    ssim, sse = ffmpeg_ssim_sse(a, b, bits=bits, workers=2)
    assert ssim == ffmpeg_ssim(a, b, bits=bits)
    assert sse == int(((a.astype(np.int64) - b) ** 2).sum())


def test_identical_planes_give_one():
    p = np.arange(40 * 48, dtype=np.uint16).reshape(40, 48) % 1024
    assert ffmpeg_ssim(p, p, bits=10) == 1.0
    q = (p % 256).astype(np.uint8)
    assert ffmpeg_ssim(q, q) == 1.0


def _reference_plane(a, b, bits):
    """vf_ssim.c's C code, transcribed in NumPy (float32 where it uses float)."""
    peak = (1 << bits) - 1
    c1 = int(.01 * .01 * peak * peak * 64 + .5)
    c2 = int(.03 * .03 * peak * peak * 64 * 63 + .5)
    bh, bw = a.shape[0] >> 2, a.shape[1] >> 2
    a = a[:4 * bh, :4 * bw].astype(np.int64).reshape(bh, 4, bw, 4)
    b = b[:4 * bh, :4 * bw].astype(np.int64).reshape(bh, 4, bw, 4)
    sums = [x.sum(axis=(1, 3)) for x in (a, b, a * a + b * b, a * b)]
    win = [s[:-1, :-1] + s[1:, :-1] + s[:-1, 1:] + s[1:, 1:] for s in sums]
    s1, s2, ss, s12 = win
    var = ss * 64 - s1 * s1 - s2 * s2
    cov = s12 * 64 - s1 * s2
    f = np.float32
    vals = ((f(2 * s1 * s2 + c1) * f(2 * cov + c2))
            / (f(s1 * s1 + s2 * s2 + c1) * f(var + c2)))
    return vals.astype(np.float64).sum() / vals.size


@pytest.mark.parametrize("bits,shape", [(8, (37, 53)), (8, (200, 301)), (10, (64, 80)),
                                        (16, (41, 39))])
def test_against_a_numpy_transcription(bits, shape):
    rng = np.random.default_rng(bits)
    dtype = np.uint8 if bits == 8 else np.uint16
    a = rng.integers(0, 1 << bits, shape).astype(dtype)
    b = np.clip(a + rng.integers(-40, 40, shape), 0, (1 << bits) - 1).astype(dtype)
    assert ffmpeg_ssim(a, b, bits=bits) == pytest.approx(_reference_plane(a, b, bits), rel=1e-6)
    windows = ffmpeg_ssim_map(a, b, bits=bits)
    assert windows.dtype == np.float32
    assert windows.shape == (shape[0] // 4 - 1, shape[1] // 4 - 1)
    # Added up in FFmpeg's order, the map gives the kernel's value exactly.
    total = 0.0
    for row in windows.tolist():
        if bits == 8:  # four double lanes
            lanes = [0.0] * 4
            for i, v in enumerate(row):
                lanes[i % 4] += v
            total += (lanes[0] + lanes[2]) + (lanes[1] + lanes[3])
        else:  # a float sum per row
            acc = np.float32(0)
            for v in row:
                acc = np.float32(acc + np.float32(v))
            total += float(acc)
    assert ffmpeg_ssim(a, b, bits=bits) == total / windows.size


def test_workers_do_not_change_the_value():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (1080, 1920), dtype=np.uint8)
    b = rng.integers(0, 256, (1080, 1920), dtype=np.uint8)
    assert len({ffmpeg_ssim(a, b, workers=w) for w in (1, 2, 3)}) == 1


def test_strided_rows_and_views():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 256, (50, 60, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (50, 60, 3), dtype=np.uint8)
    got = ffmpeg_ssim(a[..., 1], b[..., 1])
    assert got == ffmpeg_ssim(a[..., 1].copy(), b[..., 1].copy())


def test_weights_are_pixel_counts():
    assert ffmpeg_weights([(1080, 1920), (540, 960), (540, 960)]) == [4 / 6, 1 / 6, 1 / 6]


@pytest.mark.parametrize("call,exc,match", [
    (lambda p: ffmpeg_ssim(p, p, bits=7), ValueError, "from 8 to 16"),
    (lambda p: ffmpeg_ssim(p, p, bits=True), TypeError, "integer"),
    (lambda p: ffmpeg_ssim(p, p, bits=10), TypeError, "uint16"),
    (lambda p: ffmpeg_ssim(p.astype(np.uint16), p.astype(np.uint16)), TypeError, "uint8"),
    (lambda p: ffmpeg_ssim(p[:7], p[:7]), ValueError, "at least 8x8"),
    (lambda p: ffmpeg_ssim(p, p[:, :12]), ValueError, "differ in shape"),
    (lambda p: ffmpeg_ssim(p[None], p[None]), ValueError, "2-D"),
    (lambda p: ffmpeg_ssim_frame([p], [p, p]), ValueError, "planes"),
])
def test_errors(call, exc, match):
    p = np.zeros((16, 16), np.uint8)
    with pytest.raises(exc, match=match):
        call(p)


def test_kernel_checks_its_arguments():
    p = np.zeros((16, 16), np.uint8)
    with pytest.raises(ValueError):
        _codec_cy.ffmpeg_ssim_plane(p, p[:12], 255, 1)
    with pytest.raises(ValueError):
        _codec_cy.ffmpeg_ssim_plane(p, p, 1023, 1)
    with pytest.raises(ValueError):
        _codec_cy.ffmpeg_ssim_plane(p[:4], p[:4], 255, 1)

"""FrameBands (_codec_cy): FFmpeg's SSIM of a frame read from two files in row
bands, and video_ssim(preset="ffmpeg") on Y4M/raw files, which scores with it.
The bits must be ffmpeg_ssim_plane's whatever the band size; the SSE, the
exact sum over the whole plane (ffmpeg_ssim_sse)."""
import errno
import os
import threading

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from ssimfast import _codec_cy
from ssimfast import _video_ssim as vs
from ssimfast._ffmpeg import ffmpeg_ssim_sse
from ssimfast._video import open_video, plane_shapes
from ssimfast._video_ssim import iter_video_ssim, video_ssim
from test_ffmpeg_ssim import FORMATS, make_frames, write_y4m


def _files(tmp, a_planes, b_planes, lead_a=7, lead_b=10):
    """Two files: some leading bytes, then the planes back to back; their fds."""
    paths = []
    for name, lead, planes in (("a", lead_a, a_planes), ("b", lead_b, b_planes)):
        path = os.path.join(tmp, name)
        with open(path, "wb") as f:
            f.write(b"x" * lead + b"".join(p.astype(p.dtype.newbyteorder("=")).tobytes()
                                           for p in planes))
        paths.append(path)
    return [os.open(p, os.O_RDONLY) for p in paths]


def _expected(a_planes, b_planes, bits):
    return tuple(zip(*(ffmpeg_ssim_sse(p, q, bits=bits, workers=1)
                       for p, q in zip(a_planes, b_planes))))


def _planes(rng, shapes, bits):
    peak = (1 << bits) - 1
    dtype = np.uint8 if bits == 8 else np.uint16
    a = [rng.integers(0, peak + 1, s).astype(dtype) for s in shapes]
    b = [np.clip(p.astype(np.int64) + rng.integers(-peak // 6, peak // 6 + 1, p.shape), 0,
                 peak).astype(dtype) for p in a]
    return a, b


@settings(max_examples=60, deadline=None)
@given(h=st.integers(8, 90), w=st.integers(8, 90), bits=st.sampled_from([8, 10, 12, 16]),
       chroma=st.booleans(), band_bytes=st.integers(1, 6000), seed=st.integers(0, 2**32 - 1))
def test_bands_equal_ffmpeg_ssim_plane_bit_for_bit(tmp_path_factory, h, w, bits, chroma,
                                                   band_bytes, seed):
    """Any plane size (4-aligned or not), any band (one block row to the whole
    plane): the same SSIM bits and the same SSE as ffmpeg_ssim_sse."""
    shapes = [(h, w)]
    if chroma and h >= 16 and w >= 16:
        shapes += [(-(-h // 2), -(-w // 2))] * 2
    a, b = _planes(np.random.default_rng(seed), shapes, bits)
    fa, fb = _files(tmp_path_factory.mktemp("bands"), a, b)
    try:
        bands = _codec_cy.FrameBands(shapes, a[0].itemsize, (1 << bits) - 1, band_bytes)
        ssims, sses = bands.score(fa, 7, fb, 10)
        assert (ssims, sses) == _expected(a, b, bits)
        assert all(type(s) is float for s in ssims) and all(type(e) is int for e in sses)
        assert bands.score(fa, 7, fb, 10) == (ssims, sses)  # scratch reused
    finally:
        os.close(fa)
        os.close(fb)


@pytest.mark.parametrize("h", [64, 65, 67, 68, 132, 135])
@pytest.mark.parametrize("rows", [4, 8, 32, 64, 128])
def test_band_boundaries(tmp_path, h, rows):
    """Bands of `rows` rows (band_bytes = rows * width): boundaries on and
    between the planes' block rows, a last band of one block row or of the
    h % 4 rows no block covers."""
    w = 40
    shapes = plane_shapes(w, h, "yuv420p")
    a, b = _planes(np.random.default_rng(h * rows), shapes, 8)
    fa, fb = _files(tmp_path, a, b, 0, 3)
    try:
        got = _codec_cy.FrameBands(shapes, 1, 255, rows * w).score(fa, 0, fb, 3)
        assert got == _expected(a, b, 8)
    finally:
        os.close(fa)
        os.close(fb)


def test_a_short_file_names_its_side_and_errors_are_oserrors(tmp_path):
    shapes = [(16, 16), (8, 8), (8, 8)]
    a, b = _planes(np.random.default_rng(0), shapes, 8)
    fa, fb = _files(tmp_path, a, b, 0, 0)
    bands = _codec_cy.FrameBands(shapes, 1, 255, 64)
    try:
        with pytest.raises(_codec_cy.ShortRead) as exc:
            bands.score(fa, 1, fb, 0)  # the frame ends a byte past the first file
        assert exc.value.args == (0,)
        with pytest.raises(_codec_cy.ShortRead) as exc:
            bands.score(fa, 0, fb, 2)
        assert exc.value.args == (1,)
        with pytest.raises(_codec_cy.ShortRead):
            bands.score(fa, 10_000, fb, 0)  # past the end
        for bad in ((-1, 0, fb, 0), (fa, -1, fb, 0), (fa, 0, fb, 1 << 62)):
            with pytest.raises(ValueError, match="bad"):
                bands.score(*bad)
        wd = os.open(tmp_path, os.O_RDONLY)  # a directory: read() fails with EISDIR
        try:
            with pytest.raises(OSError) as exc:
                bands.score(fa, 0, wd, 0)
            assert exc.value.errno == errno.EISDIR
        finally:
            os.close(wd)
    finally:
        os.close(fa)
        os.close(fb)
    with pytest.raises(OSError) as exc:
        bands.score(fa, 0, fb, 0)  # closed
    assert exc.value.errno == errno.EBADF


@pytest.mark.parametrize("args,match", [
    (([], 1, 255, 64), "1 to 4 planes"),
    (([(8, 8)] * 5, 1, 255, 64), "1 to 4 planes"),
    (([(8, 7)], 1, 255, 64), "at least 8x8"),
    (([(8, 8)], 3, 255, 64), "itemsize"),
    (([(8, 8)], 1, 1023, 64), "max_value"),
    (([(8, 8)], 2, 0, 64), "max_value"),
    (([(8, 8)], 2, 70000, 64), "max_value"),
    (([(8, 8)], 1, 255, 0), "band_bytes"),
])
def test_frame_bands_checks_its_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        _codec_cy.FrameBands(*args)


@pytest.fixture
def counted(monkeypatch):
    """FrameBands made and frames scored with it, per thread."""
    made, scored = [], []
    real = _codec_cy.FrameBands

    class Counted:
        def __init__(self, *args):
            self.bands = real(*args)
            made.append(args)

        def score(self, *args):
            scored.append(threading.get_ident())
            return self.bands.score(*args)

    monkeypatch.setattr(_codec_cy, "FrameBands", Counted)
    return made, scored


@pytest.mark.parametrize("pix_fmt,size", [("yuv420p", (72, 70)), ("yuv420p10le", (37, 29)),
                                          ("yuv422p", (50, 44)), ("yuv444p12le", (24, 20)),
                                          ("gray16le", (33, 19)), ("gray", (21, 17))])
def test_video_ssim_reads_in_bands_with_the_same_rows(tmp_path, monkeypatch, counted, pix_fmt,
                                                      size):
    """Files scored in bands (as small as one block row, so many bands) give
    the rows of the same frames given as arrays (whole planes), with psnr,
    offset, shortest and frames; 1, 2 or 3 threads; every frame after the
    first read in bands, at most one FrameBands per thread."""
    made, scored = counted
    monkeypatch.setattr(vs, "_BAND_BYTES", 1)
    bits = FORMATS[pix_fmt][2]
    ref, dist = make_frames(*size, pix_fmt, 7, seed=3)
    write_y4m(tmp_path / "a.y4m", ref, *size, pix_fmt)
    write_y4m(tmp_path / "b.y4m", dist, *size, pix_fmt)
    for psnr in (False, True):
        for kwargs, frames in (({}, 7), ({"offset": 2, "shortest": True}, 5),
                               ({"frames": 3}, 3)):
            skip = kwargs.get("offset", 0)
            arrays = video_ssim(ref[:frames], dist[skip:skip + frames], preset="ffmpeg",
                                psnr=psnr, workers=1, bits=bits)
            for workers in (1, 2, 3):
                made.clear()
                scored.clear()
                files = video_ssim(tmp_path / "a.y4m", tmp_path / "b.y4m", preset="ffmpeg",
                                   psnr=psnr, workers=workers, **kwargs)
                assert list(files.rows()) == list(arrays.rows()), (psnr, kwargs, workers)
                assert len(scored) == frames - 1
                assert 1 <= len(made) <= workers
                assert all(m == (plane_shapes(*size, pix_fmt), 1 if bits == 8 else 2,
                                 (1 << bits) - 1, 1) for m in made)


def test_raw_files_and_the_default_definition(tmp_path, counted):
    """Raw YUV files read in bands too; the default definition does not."""
    made, scored = counted
    ref, dist = make_frames(40, 32, "yuv420p", 4, seed=8)
    for name, frames in (("a.yuv", ref), ("b.yuv", dist)):
        with open(tmp_path / name, "wb") as f:
            for planes in frames:
                f.write(b"".join(p.tobytes() for p in planes))
    raw = video_ssim(tmp_path / "a.yuv", tmp_path / "b.yuv", preset="ffmpeg", psnr=True,
                     size=(40, 32), workers=2)
    assert len(scored) == 3
    assert list(raw.rows()) == list(video_ssim(ref, dist, preset="ffmpeg", psnr=True).rows())
    scored.clear()
    video_ssim(tmp_path / "a.yuv", tmp_path / "b.yuv", size=(40, 32), workers=2)
    assert scored == []


def test_the_first_file_shrinking_is_the_readers_message(tmp_path):
    """A frame that comes up short in bands: the reader's ValueError (which
    file, which frame, where it ends, the size now), the rows before it."""
    ref, dist = make_frames(40, 32, "yuv420p", 5, seed=2)
    write_y4m(tmp_path / "a.y4m", ref, 40, 32, "yuv420p")
    write_y4m(tmp_path / "b.y4m", dist, 40, 32, "yuv420p")
    with open_video(tmp_path / "a.y4m") as reader:
        cut = reader.frame_offset(3) + 100  # frame 3's Y plane cut short
        end = reader.frame_offset(3) + reader.frame_bytes
    rows = []
    it = iter_video_ssim(tmp_path / "a.y4m", tmp_path / "b.y4m", preset="ffmpeg", workers=1)
    rows.append(next(it))  # opened: now cut it
    os.truncate(tmp_path / "a.y4m", cut)
    with pytest.raises(ValueError) as exc:
        for row in it:
            rows.append(row)
    assert str(exc.value) == (f"{tmp_path / 'a.y4m'} shrank during the run: frame 3 ends at "
                              f"byte {end}, the file now at {cut}")
    assert [r["frame"] for r in rows] == [0, 1, 2]


def test_frames_in_bands_are_not_held_back_by_the_memory_bound(tmp_path, monkeypatch, counted):
    """Frames too large for two in flight (the 96 MiB bound: 8K) are still
    scored in parallel in bands, each thread with its own FrameBands."""
    import time
    made, scored = counted
    real = _codec_cy.FrameBands.score  # the fixture's counting FrameBands

    def slow(self, *args):  # both threads get frames even on a busy machine
        time.sleep(0.01)
        return real(self, *args)

    monkeypatch.setattr(_codec_cy.FrameBands, "score", slow)
    monkeypatch.setattr(vs, "_IN_FLIGHT_BYTES", 1)
    ref, dist = make_frames(40, 32, "yuv420p", 9, seed=9)
    write_y4m(tmp_path / "a.y4m", ref, 40, 32, "yuv420p")
    write_y4m(tmp_path / "b.y4m", dist, 40, 32, "yuv420p")
    two = video_ssim(tmp_path / "a.y4m", tmp_path / "b.y4m", preset="ffmpeg", workers=2)
    assert len(scored) == 8 and len(set(scored)) == 2 and len(made) == 2
    assert list(two.rows()) == list(video_ssim(ref, dist, preset="ffmpeg").rows())

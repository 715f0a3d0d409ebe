"""Reading videos (Y4M, raw YUV, PyAV) and video_ssim, against FFmpeg where one
is installed (imageio-ffmpeg) and against structural_similarity per plane."""
import re
import subprocess
import sys

import numpy as np
import pytest

import ssimfast
from ssimfast._ffmpeg import ffmpeg_ssim
from ssimfast._video import PIXEL_FORMATS, open_video, plane_shapes
from ssimfast import _video_ssim as vs
from ssimfast._video_ssim import iter_video_ssim, video_ssim
from test_ffmpeg_ssim import ffmpeg_exe, make_frames, write_y4m


def ffmpeg(*args):
    subprocess.run([ffmpeg_exe(), "-v", "error", "-nostdin", "-y", *map(str, args)], check=True)


def frames_of(reader):
    return [tuple(np.array(p) for p in f) for f in reader]


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 20-frame 4:2:0 clip (FFmpeg's testsrc) and an H.264 encode of it, as Y4M and MP4."""
    d = tmp_path_factory.mktemp("clip")
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=96x72:rate=25", "-frames", 20,
           "-pix_fmt", "yuv420p", d / "ref.y4m")
    ffmpeg("-i", d / "ref.y4m", "-c:v", "libx264", "-crf", 38, "-pix_fmt", "yuv420p",
           d / "dist.mp4")
    ffmpeg("-i", d / "dist.mp4", d / "dist.y4m")
    return d


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv422p", "yuv444p", "gray", "yuv420p10le",
                                     "yuv422p12le", "yuv444p16le", "gray10le", "gray16le",
                                     "yuv420p9le", "yuv444p14le"])
def test_y4m_and_raw_equal_ffmpeg_decoding(tmp_path, pix_fmt):
    y4m, raw = tmp_path / "a.y4m", tmp_path / "a.yuv"
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=70x46:rate=30000/1001", "-frames", 3,
           "-pix_fmt", pix_fmt, "-strict", -1, y4m)
    ffmpeg("-i", y4m, "-f", "rawvideo", "-pix_fmt", pix_fmt, raw)
    expected = raw.read_bytes()
    with open_video(y4m) as reader:
        assert (reader.width, reader.height, reader.pix_fmt) == (70, 46, pix_fmt)
        assert reader.frame_rate == ssimfast._video.Fraction(30000, 1001)
        assert reader.n_frames == 3
        frames = frames_of(reader)
    got = b"".join(p.astype(p.dtype.newbyteorder("<")).tobytes() for f in frames for p in f)
    assert got == expected
    assert [p.shape for p in frames[0]] == plane_shapes(70, 46, pix_fmt)
    assert frames[0][0].dtype == (np.uint8 if PIXEL_FORMATS[pix_fmt][1] == 8 else np.uint16)
    with open_video(raw, size=(70, 46), pix_fmt=pix_fmt) as reader:
        assert reader.n_frames == 3 and reader.frame_rate is None
        for f, g in zip(frames_of(reader), frames):
            for p, q in zip(f, g):
                np.testing.assert_array_equal(p, q)


def test_planes_are_read_only_views_of_a_buffer_reused_only_when_free(clip):
    with open_video(clip / "ref.y4m") as reader:
        y, u, v = reader.frame(3)
        assert not y.flags.writeable and not y.flags.owndata and y.base is u.base
        kept = y.copy()
        y2, _, _ = reader.frame(4)  # frame 3's planes are alive: another buffer
        assert y2.base is not y.base
        np.testing.assert_array_equal(y, kept)
        base = id(y.base)
        del y, u, v
        assert id(reader.frame(5)[0].base) == base  # free again: reused


def test_frame_headers_with_parameters(tmp_path):
    ref, _ = make_frames(16, 16, "yuv420p", 3, seed=1)
    path = tmp_path / "a.y4m"
    write_y4m(path, ref, 16, 16, "yuv420p")
    data = path.read_bytes().replace(b"FRAME\n", b"FRAME Ixyz\n", 1)
    path.write_bytes(data)
    with open_video(path) as reader:
        frames = frames_of(reader)
    assert len(frames) == 3
    for f, g in zip(frames, ref):
        for p, q in zip(f, g):
            np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("content,match", [
    (b"RIFF....", "not a Y4M file"),
    (b"YUV4MPEG2 H16 F25:1 C420jpeg\n", r"no W \(width\)"),
    (b"YUV4MPEG2 W0 H16\n", "not a positive integer"),
    (b"YUV4MPEG2 W16 H-4\n", "not a positive integer"),
    (b"YUV4MPEG2 W16 H16 C411\n", "C411 is not supported"),
    (b"YUV4MPEG2 W16 H16 F25\n", "frame rate F25"),
    (b"YUV4MPEG2 W16 H16 F25:0\n", "frame rate"),
    (b"YUV4MPEG2 W16 H16" + b" " * 5000, "no end of line"),
    (b"YUV4MPEG2 W16 H16\nFRAME\n" + bytes(100), "truncated: frame 0 has 100 of its 384"),
    (b"YUV4MPEG2 W16 H16\nFRAMX\n" + bytes(384), "bad Y4M frame header at byte 18"),
    (b"YUV4MPEG2 W16 H16\nFRAME\n" + bytes(384) + b"junk", "frame 1"),
])
def test_bad_y4m(tmp_path, content, match):
    path = tmp_path / "bad.y4m"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        open_video(path)


def test_raw_errors(tmp_path):
    path = tmp_path / "a.yuv"
    path.write_bytes(bytes(16 * 16 * 3 // 2 * 2 + 1))
    with pytest.raises(ValueError, match="not a whole number of 16x16 yuv420p frames"):
        open_video(path, size=(16, 16))
    with pytest.raises(ValueError, match="pass size="):
        open_video(path)
    with pytest.raises(ValueError, match="pixel format 'nv12' is not supported"):
        open_video(path, size=(16, 16), pix_fmt="nv12")
    with pytest.raises(TypeError, match="width, height"):
        open_video(path, size=16)
    with pytest.raises(FileNotFoundError):
        open_video(tmp_path / "missing.y4m")
    y4m = tmp_path / "a.y4m"
    write_y4m(y4m, make_frames(16, 16, "yuv420p", 1, 0)[0], 16, 16, "yuv420p")
    with pytest.raises(ValueError, match="for raw YUV"):
        open_video(y4m, pix_fmt="yuv420p")
    with open_video(tmp_path / "a.y4m") as reader, pytest.raises(IndexError):
        reader.frame(1)


def test_pyav_equals_ffmpeg_decoding(clip):
    pytest.importorskip("av")
    with open_video(clip / "dist.mp4") as a, open_video(clip / "dist.y4m") as b:
        assert (a.width, a.height, a.pix_fmt, a.frame_rate) == (b.width, b.height, b.pix_fmt,
                                                                b.frame_rate)
        fa, fb = frames_of(a), frames_of(b)
    assert len(fa) == len(fb) == 20
    for f, g in zip(fa, fb):
        for p, q in zip(f, g):
            np.testing.assert_array_equal(p, q)
    via_av = video_ssim(clip / "ref.y4m", clip / "dist.mp4", preset="ffmpeg", psnr=True)
    via_y4m = video_ssim(clip / "ref.y4m", clip / "dist.y4m", preset="ffmpeg", psnr=True)
    assert np.array_equal(via_av.all, via_y4m.all)
    assert np.array_equal(via_av.psnr_all, via_y4m.psnr_all)


def test_missing_pyav_message(clip, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)
    with pytest.raises(ImportError, match=re.escape('pip install "ssimfast[video]"')):
        open_video(clip / "dist.mp4")


def test_default_definition_is_structural_similarity_per_plane(clip):
    scores = video_ssim(clip / "ref.y4m", clip / "dist.y4m", workers=2)
    with open_video(clip / "ref.y4m") as a, open_video(clip / "dist.y4m") as b:
        for i, (f, g) in enumerate(zip(a, b)):
            ys = [ssimfast.structural_similarity(p, q) for p, q in zip(f, g)]
            assert [scores.y[i], scores.u[i], scores.v[i]] == ys
            assert scores.all[i] == 4 / 6 * ys[0] + 1 / 6 * ys[1] + 1 / 6 * ys[2]
    assert len(scores) == 20 and list(scores.frame) == list(range(20))
    assert scores.mean["y"] == pytest.approx(scores.y.mean(), abs=1e-15)
    assert scores.settings["definition"] == "skimage"
    assert scores.settings["pix_fmt"] == "yuv420p"
    rows = list(scores.rows())
    assert rows[0]["frame"] == 0 and set(rows[0]) == {"frame", "y", "u", "v", "all"}
    # Options go to structural_similarity.
    g = video_ssim(clip / "ref.y4m", clip / "dist.y4m", frames=2, gaussian_weights=True)
    with open_video(clip / "ref.y4m") as a, open_video(clip / "dist.y4m") as b:
        assert g.y[1] == ssimfast.structural_similarity(a.frame(1)[0], b.frame(1)[0],
                                                        gaussian_weights=True)


def _ffmpeg_stats(a, b, filt, tmp_path):
    stats = tmp_path / f"{filt}.log"
    out = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(a), "-i", str(b), "-lavfi",
         f"{filt}=stats_file={stats}", "-f", "null", "-"],
        capture_output=True, text=True, check=True).stderr
    line = re.search(rf"{filt.upper()} (.*)", out).group(1)
    summary = dict(re.findall(r"(\w+):(\S+)", line))
    rows = [dict(re.findall(r"(\w+):(\S+)", ln)) for ln in stats.read_text().splitlines()]
    return summary, rows


def test_ffmpeg_preset_and_psnr_equal_ffmpeg(clip, tmp_path):
    a, b = clip / "ref.y4m", clip / "dist.y4m"
    ssim_summary, ssim_rows = _ffmpeg_stats(a, b, "ssim", tmp_path)
    psnr_summary, psnr_rows = _ffmpeg_stats(a, b, "psnr", tmp_path)
    scores = video_ssim(a, b, preset="ffmpeg", psnr=True)
    for i in range(20):
        for name in ("Y", "U", "V", "All"):
            assert f"{getattr(scores, name.lower())[i]:f}" == ssim_rows[i][name]
        for name in ("y", "u", "v"):
            assert f"{getattr(scores, 'mse_' + name)[i]:0.2f}" == psnr_rows[i]["mse_" + name]
            assert f"{getattr(scores, 'psnr_' + name)[i]:0.2f}" == psnr_rows[i]["psnr_" + name]
        assert f"{scores.psnr_all[i]:0.2f}" == psnr_rows[i]["psnr_avg"]
    for name in ("Y", "U", "V", "All"):
        assert f"{scores.mean[name.lower()]:f}" == ssim_summary[name]
    for name in ("y", "u", "v"):
        assert f"{scores.mean['psnr_' + name]:f}" == psnr_summary[name]
    assert f"{scores.mean['psnr_all']:f}" == psnr_summary["average"]


def test_ten_bit_videos(tmp_path):
    ref, dist = make_frames(40, 32, "yuv420p10le", 3, seed=7)
    write_y4m(tmp_path / "a.y4m", ref, 40, 32, "yuv420p10le")
    write_y4m(tmp_path / "b.y4m", dist, 40, 32, "yuv420p10le")
    scores = video_ssim(tmp_path / "a.y4m", tmp_path / "b.y4m", psnr=True)
    assert scores.y[0] == ssimfast.structural_similarity(ref[0][0], dist[0][0], bits=10)
    assert scores.settings["bits"] == 10
    mse = np.mean((ref[0][0].astype(float) - dist[0][0]) ** 2)
    assert scores.psnr_y[0] == pytest.approx(10 * np.log10(1023 ** 2 / mse), rel=1e-12)


def _write_pair(tmp_path, fmt_a="yuv420p", fmt_b="yuv420p", size_a=(32, 24), size_b=(32, 24),
                n_a=4, n_b=4, rate_b="25:1"):
    a = make_frames(*size_a, fmt_a, n_a, seed=1)[0]
    b = make_frames(*size_b, fmt_b, n_b, seed=2)[0]
    write_y4m(tmp_path / "a.y4m", a, *size_a, fmt_a)
    write_y4m(tmp_path / "b.y4m", b, *size_b, fmt_b)
    if rate_b != "25:1":
        p = tmp_path / "b.y4m"
        p.write_bytes(p.read_bytes().replace(b"F25:1", f"F{rate_b}".encode(), 1))
    return tmp_path / "a.y4m", tmp_path / "b.y4m", a, b


@pytest.mark.parametrize("kwargs,match", [
    ({"size_b": (48, 24)}, "differ in size: .* is 32x24 but .* is 48x24"),
    ({"fmt_b": "yuv444p"}, "differ in pixel format: .* is yuv420p but .* is yuv444p"),
    ({"fmt_b": "yuv420p10le"}, "differ in bit depth: .* is 8-bit .* 10-bit"),
    ({"rate_b": "30000:1001"}, "differ in frame rate: .* 25 fps .* 30000/1001 fps"),
    ({"n_b": 3}, "differ in frame count: .* 4 frames but .* has 3; pass frames=N"),
])
def test_mismatches_are_errors(tmp_path, kwargs, match):
    a, b, _, _ = _write_pair(tmp_path, **kwargs)
    with pytest.raises(ValueError, match=match):
        video_ssim(a, b)


def test_frames_shortest_offset(tmp_path):
    a, b, fa, fb = _write_pair(tmp_path, n_a=5, n_b=4)
    assert len(video_ssim(a, b, shortest=True)) == 4
    assert len(video_ssim(a, b, frames=2)) == 2
    with pytest.raises(ValueError, match="frames=5 but .*b.y4m has 4 frames"):
        video_ssim(a, b, frames=5)
    s = video_ssim(a, b, offset=1, shortest=True)
    assert len(s) == 3
    assert s.y[0] == ssimfast.structural_similarity(fa[0][0], fb[1][0])
    with pytest.raises(ValueError, match="after skipping 2"):
        video_ssim(a, b, offset=2)
    with pytest.raises(ValueError, match="frames=N or shortest=True, not both"):
        video_ssim(a, b, frames=2, shortest=True)
    for bad, exc in ((-1, ValueError), (1.5, TypeError), (True, TypeError)):
        with pytest.raises(exc, match="offset"):
            video_ssim(a, b, offset=bad)
    with pytest.raises(ValueError, match="frames must be"):
        video_ssim(a, b, frames=0)
    with pytest.raises(ValueError, match="takes no SSIM options"):
        video_ssim(a, b, preset="ffmpeg", win_size=9)
    with pytest.raises(TypeError, match="progress must be callable"):
        video_ssim(a, b, progress=3)


def test_iterables_progress_and_workers(tmp_path):
    ref, dist = make_frames(40, 32, "yuv420p", 6, seed=3)
    calls = []
    one = video_ssim(ref, dist, workers=1, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(i, 6) for i in range(1, 7)]
    two = video_ssim(iter(ref), iter(dist), workers=2, psnr=True)
    assert np.array_equal(one.all, two.all)
    # Unknown lengths: a mismatch found when the shorter ends.
    with pytest.raises(ValueError, match="differ in frame count: dist ended after 5"):
        video_ssim(iter(ref), iter(dist[:5]), workers=2)
    assert len(video_ssim(iter(ref), iter(dist[:5]), shortest=True)) == 5
    # A stack of Y planes.
    ys = np.stack([f[0] for f in ref])
    yd = np.stack([f[0] for f in dist])
    stack = video_ssim(ys, yd)
    assert stack.u is None and np.array_equal(stack.y, one.y) and np.array_equal(stack.y, stack.all)
    with pytest.raises(ValueError, match="needs their bit depth"):
        video_ssim(ys.astype(np.uint16), yd.astype(np.uint16), preset="ffmpeg")
    assert video_ssim(ys.astype(np.uint16), yd.astype(np.uint16), preset="ffmpeg",
                      bits=10).y[0] == ffmpeg_ssim(ys[0].astype(np.uint16),
                                                   yd[0].astype(np.uint16), bits=10)
    with pytest.raises(ValueError, match="frame 0: plane y is"):
        video_ssim([ref[0][0]], [ref[0][0][:, :-1]])


@pytest.mark.parametrize("preset", [None, "ffmpeg"])
def test_first_and_last_frames_use_every_thread(monkeypatch, preset):
    """With frames scored in parallel, one thread each, the first frame (scored
    alone) and the last pool_size - 1 (the other threads have run out of
    frames) get all the threads; the scores do not change."""
    ref, dist = make_frames(40, 32, "yuv420p", 5, seed=4)
    name = "ffmpeg_ssim" if preset else "structural_similarity"
    seen = []
    real = getattr(vs, name)

    def spy(a, b, *, workers, **options):
        seen.append((a.shape, workers))
        return real(a, b, workers=workers, **options)

    one = video_ssim(ref, dist, workers=1, preset=preset)
    monkeypatch.setattr(vs, name, spy)
    two = video_ssim(ref, dist, workers=2, preset=preset)
    assert np.array_equal(one.all, two.all) and np.array_equal(one.y, two.y)
    # 5 frames x 3 planes: frames 0 and 4 on 2 threads, frames 1 to 3 on one each.
    assert sorted(w for _, w in seen) == [1] * 9 + [2] * 6
    seen.clear()
    video_ssim(iter(ref), iter(dist), workers=2, preset=preset)  # count unknown: no tail
    assert sorted(w for _, w in seen) == [1] * 12 + [2] * 3


def test_closing_the_iterator_early(clip):
    it = iter_video_ssim(clip / "ref.y4m", clip / "dist.y4m", workers=2)
    first = [next(it) for _ in range(3)]
    it.close()
    assert [r["frame"] for r in first] == [0, 1, 2]


def test_public_names():
    assert ssimfast.video_ssim is video_ssim
    assert ssimfast.open_video is open_video


def test_y4m_against_raw_with_raw_options(clip, tmp_path):
    raw = tmp_path / "dist.yuv"
    ffmpeg("-i", clip / "dist.y4m", "-f", "rawvideo", "-pix_fmt", "yuv420p", raw)
    a = video_ssim(clip / "ref.y4m", raw, size=(96, 72), pix_fmt="yuv420p", psnr=True)
    b = video_ssim(clip / "ref.y4m", clip / "dist.y4m", psnr=True)
    assert np.array_equal(a.all, b.all) and np.array_equal(a.psnr_all, b.psnr_all)
    with pytest.raises(ValueError, match="differ in size"):
        video_ssim(clip / "ref.y4m", raw, size=(48, 144))


def test_is_video_path(clip, tmp_path):
    from ssimfast._video import is_video_path
    assert is_video_path(clip / "dist.mp4") and is_video_path("x.Y4M")
    odd = tmp_path / "clip.bin"
    odd.write_bytes((clip / "ref.y4m").read_bytes())
    assert is_video_path(odd) and not is_video_path(tmp_path / "a.png")
    with open_video(odd) as reader:
        assert reader.n_frames == 20 and reader.exact_count


def test_fuzzed_y4m_headers_raise_value_errors(tmp_path):
    """Damaged headers: a ValueError with a message, or a reader whose frames read."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    good = b"YUV4MPEG2 W16 H16 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + bytes(384)

    @settings(max_examples=120, database=None)
    @given(st.integers(0, len(good) - 1), st.binary(min_size=0, max_size=6),
           st.integers(0, 8))
    def check(pos, insert, cut):
        path = tmp_path / "f.y4m"
        path.write_bytes(good[:pos] + insert + good[pos + cut:])
        try:
            reader = open_video(path)
        except ValueError as exc:
            assert str(path) in str(exc)
            return
        with reader:
            for frame in reader:
                assert all(p.size for p in frame)

    check()


def test_scores_pickle_and_to_dict(clip):
    import json
    import pickle
    scores = video_ssim(clip / "ref.y4m", clip / "dist.y4m", preset="ffmpeg", psnr=True,
                        frames=3)
    again = pickle.loads(pickle.dumps(scores))
    assert np.array_equal(again.all, scores.all) and again.mean == scores.mean
    d = json.loads(json.dumps(scores.to_dict()))
    assert [r["frame"] for r in d["frames"]] == [0, 1, 2]
    assert set(d["mean"]) >= {"y", "u", "v", "all", "psnr_y", "psnr_all"}
    assert d["settings"]["definition"] == "ffmpeg" and d["settings"]["width"] == 96


def test_threads_read_one_reader_into_their_own_buffers(clip):
    """read_frame from several threads at once (pread: no shared file
    position), each into its own buffer: every frame as read alone."""
    import threading
    with open_video(clip / "ref.y4m") as reader:
        expected = frames_of(reader)
        errors = []

        def read(start):
            buf = reader.new_buffer()
            for k in range(60):
                i = (start + 7 * k) % reader.n_frames
                planes = reader.read_frame(i, buf)
                assert all(p.base is buf for p in planes)
                if not all(np.array_equal(p, q) for p, q in zip(planes, expected[i])):
                    errors.append(i)

        threads = [threading.Thread(target=read, args=(s,)) for s in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert reader.concurrent_reads == hasattr(__import__("os"), "preadv")


def test_read_frame_checks_the_buffer_and_the_index(clip):
    with open_video(clip / "ref.y4m") as reader:
        buf = reader.new_buffer()
        assert buf.nbytes == reader.frame_bytes
        for bad in (buf[1:], buf.astype(np.uint16), np.empty(2 * buf.size, buf.dtype)):
            with pytest.raises(ValueError, match="must come from new_buffer"):
                reader.read_frame(0, bad)
        with pytest.raises(IndexError, match="frame 20 out of range"):
            reader.read_frame(20, buf)
        np.testing.assert_array_equal(reader.read_frame(-1, buf)[0], frames_of(reader)[-1][0])


@pytest.mark.parametrize("pix_fmt,size", [("yuv420p", (40, 32)), ("yuv420p10le", (37, 29)),
                                          ("yuv422p", (44, 24)), ("yuv444p12le", (24, 20)),
                                          ("gray", (33, 19))])
def test_rows_do_not_depend_on_the_threads(tmp_path, pix_fmt, size):
    """Files (each thread reads its frames into its own buffers) and the same
    frames as arrays (read in the calling thread): equal rows, 1 to 3 threads,
    with offset, shortest and frames."""
    ref, dist = make_frames(*size, pix_fmt, 9, seed=5)
    write_y4m(tmp_path / "a.y4m", ref, *size, pix_fmt)
    write_y4m(tmp_path / "b.y4m", dist, *size, pix_fmt)
    bits = ssimfast._video.PIXEL_FORMATS[pix_fmt][1]
    for preset in ("ffmpeg", None):
        for kwargs, frames in (({}, 9), ({"offset": 2, "shortest": True}, 7), ({"frames": 4}, 4)):
            skip = kwargs.get("offset", 0)
            arrays = video_ssim(ref[:frames], dist[skip:skip + frames], preset=preset,
                                psnr=True, workers=1, bits=bits)
            for workers in (1, 2, 3):
                calls = []
                files = video_ssim(tmp_path / "a.y4m", tmp_path / "b.y4m", preset=preset,
                                   psnr=True, workers=workers,
                                   progress=lambda d, t: calls.append((d, t)), **kwargs)
                assert list(files.rows()) == list(arrays.rows()), (preset, kwargs, workers)
                assert calls == [(i, frames) for i in range(1, frames + 1)]


def test_each_scoring_thread_owns_its_frames(clip, monkeypatch):
    """With readers that read by index, a frame is read and scored in one
    thread, into a buffer no other frame uses until it is scored; at most one
    buffer pair per thread; the first and last frames get every thread.
    (The default definition: FFmpeg's reads in bands, tests/test_video_bands.py.)"""
    import threading
    import time
    with open_video(clip / "ref.y4m") as a, open_video(clip / "dist.y4m") as b:
        expected = [(f, g) for f, g in zip(frames_of(a), frames_of(b))]
    real_read, real_score = ssimfast._video._MappedReader.read_plane, vs._Scorer.score_planes
    read_in, seen = {}, []

    def read_plane(self, i, k, buf):
        read_in[i, k, self.path] = threading.get_ident()
        return real_read(self, i, k, buf)

    def score(self, index, plane_pairs, workers=None):
        pairs = list(plane_pairs)
        time.sleep(0.002)  # another thread reading into these buffers would show
        ok = all(np.array_equal(p, q) for (r, d), f, g in zip(pairs, *expected[index])
                 for p, q in ((r, f), (d, g)))
        seen.append((index, threading.get_ident(), pairs[0][0].base, pairs[0][1].base,
                     workers, ok))
        return real_score(self, index, pairs, workers=workers)

    monkeypatch.setattr(ssimfast._video._MappedReader, "read_plane", read_plane)
    monkeypatch.setattr(vs._Scorer, "score_planes", score)
    scores = video_ssim(clip / "ref.y4m", clip / "dist.y4m", workers=2)
    assert len(scores) == 20 and sorted(i for i, *_ in seen) == list(range(20))
    assert all(ok for *_, ok in seen)
    # Frames 1 to 19: each plane read by the thread that scored the frame.
    assert len(read_in) == 19 * 3 * 2
    assert all(read_in[i, k, path] == thread for i, thread, *_ in seen if i
               for k in range(3) for path in (str(clip / "ref.y4m"), str(clip / "dist.y4m")))
    buffers = {id(r if r.base is None else r.base) for _, _, r, _, _, _ in seen}
    assert len(buffers) <= 2  # one (ref, dist) allocation per thread
    assert all(r.base is d.base for _, _, r, d, _, _ in seen)
    workers = {i: w for i, _, _, _, w, _ in seen}
    assert workers[0] == workers[19] == 2 and {workers[i] for i in range(1, 19)} == {None}


# Cuts dist.y4m after its frame 2 once a scoring thread has read that frame's
# last plane (default definition) or scored it (FFmpeg's, read in bands): with
# several threads, each reads its own frames; later frames come up short.
_SHRINK_THREADS = """
import os, sys
import ssimfast._video as video
import ssimfast._video_ssim as vs
preset = None if sys.argv[1] == "default" else sys.argv[1]
cut = video.open_video("dist.y4m").frame_offset(3)
read_plane, band_row = video._MappedReader.read_plane, vs._Scorer.band_row
def shrinking(self, i, k, buf):
    plane = read_plane(self, i, k, buf)
    if i == 2 and k == 2 and self.path == "dist.y4m":
        os.truncate("dist.y4m", cut)
    return plane
def shrinking_bands(self, i, *args):
    if i == 2:
        os.truncate("dist.y4m", cut)
    return band_row(self, i, *args)
video._MappedReader.read_plane = shrinking
vs._Scorer.band_row = shrinking_bands
rows = []
try:
    for row in vs.iter_video_ssim("ref.y4m", "dist.y4m", preset=preset, workers=2):
        rows.append(row["frame"])
except ValueError as exc:
    print(rows, exc)
"""


@pytest.mark.parametrize("preset", ["default", "ffmpeg"])
def test_a_video_that_shrinks_while_threads_read_it(tmp_path, preset):
    ref, dist = make_frames(256, 128, "yuv420p", 8, seed=6)
    write_y4m(tmp_path / "ref.y4m", ref, 256, 128, "yuv420p")
    write_y4m(tmp_path / "dist.y4m", dist, 256, 128, "yuv420p")
    with open_video(tmp_path / "dist.y4m") as reader:
        cut, frame_bytes = reader.frame_offset(3), reader.frame_bytes
    proc = subprocess.run([sys.executable, "-c", _SHRINK_THREADS, preset], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, (proc.returncode, proc.stderr)  # not -SIGBUS
    rows, message = proc.stdout.split("]", 1)
    assert rows.startswith("[0, 1, 2")  # complete rows in order, up to the cut
    # The first frame that comes up short: 3, or a later one read before the cut.
    m = re.fullmatch(r" dist.y4m shrank during the run: frame (\d+) ends at byte (\d+), "
                     r"the file now at (\d+)\n", message)
    assert m, message
    i = int(m.group(1))
    assert i >= 3 and rows.startswith(str(list(range(i)))[:-1])
    assert int(m.group(2)) == cut + (i - 3) * (frame_bytes + 6) + frame_bytes
    assert int(m.group(3)) == cut


@pytest.mark.parametrize("preset", [None, "ffmpeg"])
def test_ctrl_c_in_the_calling_thread_stops_the_helpers(clip, monkeypatch, preset):
    """Ctrl-C while the calling thread scores a frame: the rows yielded are
    complete and in order, the helper threads end with their frame."""
    import threading
    name = "band_row" if preset else "score_planes"  # FFmpeg's: read in bands
    real = getattr(vs._Scorer, name)
    caller = threading.get_ident()

    def score(self, index, *args, **kwargs):
        if index >= 8 and threading.get_ident() == caller:
            raise KeyboardInterrupt
        return real(self, index, *args, **kwargs)

    monkeypatch.setattr(vs._Scorer, name, score)
    before = threading.active_count()
    rows = []
    with pytest.raises(KeyboardInterrupt):
        for row in iter_video_ssim(clip / "ref.y4m", clip / "dist.y4m", preset=preset,
                                   workers=2):
            rows.append(row)
    assert [r["frame"] for r in rows] == list(range(len(rows))) and len(rows) < 20
    assert all(set(r) == {"frame", "y", "u", "v", "all"} for r in rows)
    assert threading.active_count() == before

"""Reading videos as planes: Y4M and raw YUV with pread, others through PyAV.

A video is read one frame at a time; each frame is a tuple of 2-D NumPy planes
(Y, U, V; or Y alone for gray) of uint8 (8-bit) or uint16 (9 to 16 bits, as
FFmpeg stores them: little-endian, low bits). Y4M and raw YUV frames are read
into a buffer of that frame alone, so memory stays bounded by the frames a
caller keeps, whatever the length of the file. Compressed videos (.mp4, .mkv,
.webm, ...) are decoded by PyAV, the optional extra ``ssimfast[video]``.
"""
import os
import re
import stat
import sys
from fractions import Fraction

import numpy as np

__all__ = ["open_video", "is_video_path", "PIXEL_FORMATS", "VIDEO_SUFFIXES", "VideoReader"]

# FFmpeg's name -> (chroma subsampling (log2 x, log2 y) or None for gray, bits)
PIXEL_FORMATS = {"gray": (None, 8)}
for _bits in (8, 9, 10, 12, 14, 16):
    _suffix = "p" if _bits == 8 else f"p{_bits}le"
    for _name, _sub in (("420", (1, 1)), ("422", (1, 0)), ("444", (0, 0))):
        PIXEL_FORMATS[f"yuv{_name}{_suffix}"] = (_sub, _bits)
    if _bits > 8:
        PIXEL_FORMATS[f"gray{_bits}le"] = (None, _bits)

# Y4M colour space tags (the C parameter) as FFmpeg's yuv4mpeg muxer and
# demuxer name them; no C parameter means 4:2:0 8-bit.
_Y4M_COLORSPACES = {"420jpeg": "yuv420p", "420mpeg2": "yuv420p", "420paldv": "yuv420p",
                    "420": "yuv420p", "422": "yuv422p", "444": "yuv444p", "mono": "gray"}
for _bits in (9, 10, 12, 14, 16):
    for _name in ("420", "422", "444"):
        _Y4M_COLORSPACES[f"{_name}p{_bits}"] = f"yuv{_name}p{_bits}le"
    _Y4M_COLORSPACES[f"mono{_bits}"] = f"gray{_bits}le"

# PyAV formats read as another of the same layout: yuvj* are yuv* with full range.
_AV_ALIASES = {"yuvj420p": "yuv420p", "yuvj422p": "yuv422p", "yuvj444p": "yuv444p",
               "gray8": "gray"}

# Names the command can take for videos (PyAV decodes many more).
VIDEO_SUFFIXES = (".y4m", ".yuv", ".raw", ".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v",
                  ".ts", ".mts", ".mpg", ".mpeg", ".ivf", ".h264", ".264", ".h265", ".265",
                  ".hevc", ".av1", ".obu", ".flv", ".ogv", ".nut")

_Y4M_MAGIC = b"YUV4MPEG2"
_PREADV = hasattr(os, "preadv")
_Y4M_HEADER_MAX = 4096  # longer stream or frame headers are not Y4M files
_RAW_SUFFIXES = (".yuv", ".raw")

_VIDEO_EXTRA = ('decoding {what} needs PyAV: pip install "ssimfast[video]" (or pip install av); '
                "Y4M (.y4m) and raw YUV (.yuv, with size= and pix_fmt=) need nothing")


def is_video_path(path):
    """True for names of videos (by suffix) and for Y4M files (by signature)."""
    path = os.fspath(path)
    if path.lower().endswith(VIDEO_SUFFIXES):
        return True
    return is_y4m(path)


def is_y4m(path):
    """True if the file starts with the Y4M signature (a special file is not
    opened: opening a FIFO blocks until a writer comes)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        with open(path, "rb") as f:
            return f.read(len(_Y4M_MAGIC)) == _Y4M_MAGIC
    except OSError:
        return False


def plane_shapes(width, height, pix_fmt):
    """(height, width) of each plane, chroma rounded up as FFmpeg does."""
    sub, _ = PIXEL_FORMATS[pix_fmt]
    if sub is None:
        return [(height, width)]
    ch, cw = -(-height >> sub[1]), -(-width >> sub[0])
    return [(height, width), (ch, cw), (ch, cw)]


def _check_pix_fmt(pix_fmt):
    if pix_fmt not in PIXEL_FORMATS:
        raise ValueError(
            f"pixel format {pix_fmt!r} is not supported; use one of FFmpeg's names: "
            + ", ".join(sorted(PIXEL_FORMATS))
        )
    return pix_fmt


class VideoReader:
    """Frames of one video, in order: iterate for tuples of planes.

    Attributes
    ----------
    path : str
    width, height : int
    pix_fmt : str
        FFmpeg's name of the pixel format (``yuv420p``, ``yuv420p10le``, ...).
    bits : int
        Bits per sample (8 to 16); planes are uint8 for 8, uint16 above.
    frame_rate : fractions.Fraction or None
        None where the file does not say (raw YUV).
    n_frames : int or None
        None where the container does not say (some compressed files).
    exact_count : bool
        True where n_frames is exact (Y4M, raw); a compressed file's count
        is what its container claims, checked only when the frames run out.
    plane_shapes : list of (height, width)
    """

    def __init__(self, path, width, height, pix_fmt, frame_rate, n_frames):
        self.path = os.fspath(path)
        self.width, self.height = width, height
        self.pix_fmt = pix_fmt
        self.bits = PIXEL_FORMATS[pix_fmt][1]
        self.dtype = np.dtype(np.uint8 if self.bits == 8 else "<u2")
        self.frame_rate = frame_rate
        self.n_frames = n_frames
        self.plane_shapes = plane_shapes(width, height, pix_fmt)
        self.frame_bytes = sum(h * w for h, w in self.plane_shapes) * self.dtype.itemsize
        self.exact_count = False

    def __repr__(self):
        rate = "unknown rate" if self.frame_rate is None else f"{self.frame_rate} fps"
        count = "?" if self.n_frames is None else self.n_frames
        return (f"<{type(self).__name__} {self.path!r} {self.width}x{self.height} "
                f"{self.pix_fmt} {rate} {count} frames>")

    def describe(self):
        """One line for messages: size, format and rate."""
        rate = "" if self.frame_rate is None else f" at {self.frame_rate} fps"
        return f"{self.width}x{self.height} {self.pix_fmt}{rate}"

    def __iter__(self):
        raise NotImplementedError

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _MappedReader(VideoReader):
    """Y4M or raw YUV: frame i at a known offset, read with pread into a buffer.

    Not a memory map: a file that shrinks while it is read (another program
    truncating it) would kill the process with SIGBUS on the first page past
    its new end, inside a kernel. A read that comes up short is a ValueError
    instead. frame(i) reuses a buffer once no plane of its frame is alive (the
    pool holds the only reference), so a run allocates about one buffer per
    frame in flight; read_frame(i, buf) reads into the caller's buffer (for
    threads that each own theirs). Reading costs one copy from the page cache
    (about 0.4 ms of CPU more than a map per 1080p 4:2:0 pair;
    benchmarks/bench_video.py)."""

    _POOL_MAX = 64  # buffers kept for reuse; more frames in flight get their own
    # Threads may read at once into their own buffers: pread has no shared
    # file position (the seek + read fallback does).
    concurrent_reads = _PREADV

    def __init__(self, path, width, height, pix_fmt, frame_rate, offsets):
        super().__init__(path, width, height, pix_fmt, frame_rate, len(offsets))
        self._offsets = offsets
        self._starts = [0]  # each plane's first element in a frame's buffer
        for h, w in self.plane_shapes:
            self._starts.append(self._starts[-1] + h * w)
        self._file = open(self.path, "rb")
        self._pool = []
        self.exact_count = True

    def frame(self, i):
        """Frame i as a tuple of read-only planes (views of one buffer)."""
        self._check_index(i)
        return self.read_frame(i, self._buffer())

    def new_buffer(self):
        """An empty buffer of one frame, for read_frame."""
        return np.empty(self.frame_bytes // self.dtype.itemsize, self.dtype)

    def read_frame(self, i, buf):
        """Frame i read into `buf` (from new_buffer()), as a tuple of read-only
        planes viewing it. The reader never hands `buf` to anyone else: the
        caller decides when it may be overwritten."""
        self._check(i, buf)
        self._read_into(memoryview(buf).cast("B"), self._offsets[i], i)
        return tuple(self._plane(buf, k) for k in range(len(self.plane_shapes)))

    def read_plane(self, i, k, buf):
        """Plane k of frame i read into its place in `buf` (as read_frame), read-only."""
        self._check(i, buf)
        start, stop = self._starts[k], self._starts[k + 1]
        self._read_into(memoryview(buf[start:stop]).cast("B"),
                        self._offsets[i] + start * self.dtype.itemsize, i)
        return self._plane(buf, k)

    def _plane(self, buf, k):
        plane = buf[self._starts[k]:self._starts[k + 1]].reshape(self.plane_shapes[k])
        plane.flags.writeable = False
        return plane

    def _check_index(self, i):
        if not -self.n_frames <= i < self.n_frames:
            raise IndexError(f"frame {i} out of range: {self.path} has {self.n_frames} frames")

    def _check(self, i, buf):
        self._check_index(i)
        if buf.dtype != self.dtype or buf.shape != (self._starts[-1],):
            raise ValueError(f"read_frame: the buffer must come from new_buffer() "
                             f"({self.frame_bytes} bytes of {self.dtype}), got {buf.nbytes} "
                             f"bytes of {buf.dtype}")

    def _buffer(self):
        """A buffer no live plane uses (only the pool and this call refer to it)."""
        for buf in self._pool:
            if sys.getrefcount(buf) <= 3:  # the pool, `buf`, getrefcount's argument
                return buf
        buf = self.new_buffer()
        if len(self._pool) < self._POOL_MAX:
            self._pool.append(buf)
        return buf

    def _read_into(self, view, offset, i):
        done = 0
        while done < len(view):
            if _PREADV:
                n = os.preadv(self._file.fileno(), [view[done:]], offset + done)
            else:  # (Windows: no pread) one reader per file object, in one thread
                self._file.seek(offset + done)
                n = self._file.readinto(view[done:])
            if not n:
                raise self.shrank(i)
            done += n

    def shrank(self, i):
        """The error for frame i coming up short: the file shrank since it was opened."""
        return ValueError(f"{self.path} shrank during the run: frame {i} ends at byte "
                          f"{self._offsets[i] + self.frame_bytes}, the file now at "
                          f"{os.fstat(self._file.fileno()).st_size}")

    def fileno(self):
        """The file's descriptor (for a compiled reader: see frame_offset)."""
        return self._file.fileno()

    def frame_offset(self, i):
        """Byte offset of frame i (0 <= i < n_frames) in the file: its planes
        back to back from there, as plane_shapes, each row after row."""
        return self._offsets[i]

    def __iter__(self):
        for i in range(self.n_frames):
            yield self.frame(i)

    def close(self):
        self._file.close()
        self._pool = []


def _parse_y4m_header(line, path):
    """(width, height, pix_fmt, frame_rate) from a Y4M stream header (no newline)."""
    fields = line.split(b" ")
    if fields[0] != _Y4M_MAGIC:
        raise ValueError(f"{path}: not a Y4M file (it does not start with 'YUV4MPEG2 ')")
    params = {}
    for field in fields[1:]:
        if not field:
            continue
        key, value = chr(field[0]), field[1:].decode("ascii", "replace")
        if key != "X":
            params[key] = value
    for key, what in (("W", "width"), ("H", "height")):
        if key not in params:
            raise ValueError(f"{path}: bad Y4M header: no {key} ({what}) parameter")
        if not re.fullmatch(r"[1-9][0-9]{0,5}", params[key]):
            raise ValueError(f"{path}: bad Y4M header: {what} {key}{params[key]} is not a "
                             "positive integer below 1000000")
    width, height = int(params["W"]), int(params["H"])
    colorspace = params.get("C", "420jpeg")
    if colorspace not in _Y4M_COLORSPACES:
        raise ValueError(f"{path}: Y4M colour space C{colorspace} is not supported; "
                         f"supported: {', '.join('C' + c for c in _Y4M_COLORSPACES)}")
    frame_rate = None
    if "F" in params:
        m = re.fullmatch(r"([0-9]+):([0-9]+)", params["F"])
        if not m or int(m.group(2)) == 0:
            raise ValueError(f"{path}: bad Y4M header: frame rate F{params['F']} is not "
                             "num:den with den > 0")
        if int(m.group(1)) > 0:
            frame_rate = Fraction(int(m.group(1)), int(m.group(2)))
    return width, height, _Y4M_COLORSPACES[colorspace], frame_rate


def _open_y4m(path):
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(_Y4M_HEADER_MAX)
        end = head.find(b"\n")
        if end < 0:
            if not head.startswith(_Y4M_MAGIC):
                raise ValueError(f"{path}: not a Y4M file (it does not start with 'YUV4MPEG2 ')")
            raise ValueError(f"{path}: bad Y4M header: no end of line in its first "
                             f"{_Y4M_HEADER_MAX} bytes")
        width, height, pix_fmt, rate = _parse_y4m_header(head[:end], path)
        frame_bytes = VideoReader(path, width, height, pix_fmt, rate, 0).frame_bytes
        # Frame headers ("FRAME" and optional parameters): one read each.
        offsets, pos = [], end + 1
        while pos < size:
            f.seek(pos)
            fh = f.read(_Y4M_HEADER_MAX)
            nl = fh.find(b"\n")
            if not fh.startswith(b"FRAME") or nl < 0 or fh[5:6] not in (b" ", b"\n"):
                raise ValueError(f"{path}: bad Y4M frame header at byte {pos} (frame "
                                 f"{len(offsets)}): expected 'FRAME' and a newline")
            data = pos + nl + 1
            if data + frame_bytes > size:
                raise ValueError(
                    f"{path}: truncated: frame {len(offsets)} has {size - data} of its "
                    f"{frame_bytes} bytes ({width}x{height} {pix_fmt})"
                )
            offsets.append(data)
            pos = data + frame_bytes
    return _MappedReader(path, width, height, pix_fmt, rate, offsets)


def _open_raw(path, size, pix_fmt, frame_rate):
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError):
        raise TypeError(f"size must be (width, height), got {size!r}") from None
    if width <= 0 or height <= 0:
        raise ValueError(f"size must be positive (width, height), got {size!r}")
    _check_pix_fmt(pix_fmt)
    reader_probe = VideoReader(path, width, height, pix_fmt, None, 0)
    file_size = os.path.getsize(path)
    if file_size % reader_probe.frame_bytes:
        raise ValueError(
            f"{path}: {file_size} bytes is not a whole number of {width}x{height} {pix_fmt} "
            f"frames ({reader_probe.frame_bytes} bytes each): check size and pix_fmt"
        )
    n = file_size // reader_probe.frame_bytes
    rate = None if frame_rate is None else Fraction(frame_rate)
    return _MappedReader(path, width, height, pix_fmt, rate,
                         [i * reader_probe.frame_bytes for i in range(n)])


class _AVReader(VideoReader):
    """A compressed video decoded by PyAV, frame after frame."""

    def __init__(self, path, av):
        self._av = av
        try:
            self._container = av.open(os.fspath(path))
        except av.error.FFmpegError as exc:
            raise ValueError(f"{path}: cannot open as a video: {exc}") from None
        if not self._container.streams.video:
            self._container.close()
            raise ValueError(f"{path}: no video stream")
        stream = self._container.streams.video[0]
        stream.thread_type = "AUTO"
        ctx = stream.codec_context
        fmt = ctx.pix_fmt or ""
        pix_fmt = _AV_ALIASES.get(fmt, fmt)
        if pix_fmt not in PIXEL_FORMATS:
            self._container.close()
            raise ValueError(f"{path}: pixel format {fmt!r} is not supported (planar YUV or "
                             f"gray: {', '.join(sorted(PIXEL_FORMATS))})")
        self._stream = stream
        rate = stream.average_rate or stream.guessed_rate
        super().__init__(path, ctx.width, ctx.height, pix_fmt,
                         Fraction(rate) if rate else None, stream.frames or None)

    def __iter__(self):
        for frame in self._container.decode(self._stream):
            yield self._planes(frame)

    def _planes(self, frame):
        fmt = _AV_ALIASES.get(frame.format.name, frame.format.name)
        if fmt != self.pix_fmt or frame.width != self.width or frame.height != self.height:
            raise ValueError(f"{self.path}: the stream changes format mid-way "
                             f"({frame.width}x{frame.height} {frame.format.name})")
        planes = []
        for plane, (h, w) in zip(frame.planes, self.plane_shapes):
            a = np.frombuffer(plane, dtype=self.dtype)
            planes.append(a.reshape(h, plane.line_size // self.dtype.itemsize)[:, :w])
        return tuple(planes)

    def close(self):
        self._container.close()


def open_video(path, *, size=None, pix_fmt=None, frame_rate=None):
    """Open a video for reading frames of planes.

    Parameters
    ----------
    path : str or os.PathLike
        A Y4M file (``.y4m``), a raw YUV file (``.yuv``/``.raw``, or any file
        with `size` and `pix_fmt` given) or a compressed video that PyAV
        decodes (``.mp4``, ``.mkv``, ``.webm``, ``.mov``, ...).
    size : (width, height), optional
        Raw YUV only: the frame size.
    pix_fmt : str, optional
        Raw YUV only: FFmpeg's name of the layout, ``yuv420p`` by default
        (see ``PIXEL_FORMATS``: yuv420p, yuv422p, yuv444p, gray and their
        ``p10le``/``p12le``/``p16le`` variants).
    frame_rate : number or fractions.Fraction, optional
        Raw YUV only: the frame rate, to compare with the other video's.

    Returns
    -------
    VideoReader
        Iterate it for frames: tuples of 2-D planes (Y, U, V or Y alone).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such video file: {path}")
    raw = size is not None or path.lower().endswith(_RAW_SUFFIXES)
    if raw:
        if size is None:
            raise ValueError(f"{path}: raw YUV has no header: pass size=(width, height) "
                             "and pix_fmt (yuv420p by default)")
        return _open_raw(path, size, pix_fmt or "yuv420p", frame_rate)
    if pix_fmt is not None or frame_rate is not None:
        raise ValueError(f"{path}: pix_fmt and frame_rate are for raw YUV (with size=); "
                         "other files say theirs")
    if is_y4m(path) or path.lower().endswith(".y4m"):
        return _open_y4m(path)
    try:
        import av
    except ImportError:
        raise ImportError(_VIDEO_EXTRA.format(what=os.path.basename(path))) from None
    return _AVReader(path, av)

"""video_ssim: per-frame, per-plane SSIM (and PSNR) of two videos, streamed.

Y4M and raw YUV: the calling thread and helper threads each claim the next
frame, read it (pread, the GIL released) into buffers that thread owns and
score it (the kernels release the GIL too), so a frame never crosses threads.
FFmpeg's SSIM there reads and scores a frame pair in one compiled call, a band
of rows at a time while it is in the cache (_codec_cy.FrameBands), after the
first frame (scored as any other source's, where bad input raises).
Other sources (PyAV, arrays): frames are read or decoded in the calling thread
and scored in a thread pool, so decoding overlaps scoring. Either way at most
two frames per thread, and 96 MiB of frames, are in flight, so memory does not
grow with the length of the videos.
"""
import collections
import concurrent.futures
import math
import operator
import os
import queue
import sys
import threading

import numpy as np

from ssimfast import _codec_cy
from ssimfast._ffmpeg import ffmpeg_ssim, ffmpeg_ssim_sse, ffmpeg_weights
from ssimfast._structural_similarity import structural_similarity
from ssimfast._threads import resolve_workers
from ssimfast._video import _PREADV, VideoReader, _MappedReader, is_y4m, open_video

__all__ = ["video_ssim", "iter_video_ssim", "VideoScores"]

_PLANE_NAMES = ("y", "u", "v")
# Frames queued per scoring thread: enough to keep threads busy while the next
# frame is read.
_IN_FLIGHT_PER_THREAD = 2
# At most this much frame data (both videos) in flight: frames are scored in
# parallel while it allows, then threads share each frame. A 3840x2160 4:2:0
# 8-bit pair is 24 MiB: 3 pairs in flight; 1920x1080: up to 16.
_IN_FLIGHT_BYTES = 96 << 20
# Bytes of each file read at a time by FrameBands: both files' bands (256 KiB)
# stay in a core's L2 cache (512 KiB on the EPYC measured; 64 KiB to 512 KiB
# were within 3 % there, 16 KiB 10 % slower: a pread per band).
_BAND_BYTES = 128 << 10


class _Source:
    """One side: a VideoReader, or an iterable of frames with what is known of it."""

    def __init__(self, obj, name, open_options):
        self.name = name
        self.reader = None
        if isinstance(obj, (str, os.PathLike)):
            # Raw YUV options apply to the raw side of a Y4M/raw pair only.
            self.reader = open_video(obj, **({} if is_y4m(obj) else open_options))
        elif isinstance(obj, VideoReader):
            self.reader = obj
        elif isinstance(obj, np.ndarray) and obj.ndim == 3:
            self.frames = obj  # a stack of Y planes (frames, height, width)
        else:
            try:
                iter(obj)
            except TypeError:
                raise TypeError(f"{name} must be a path, a VideoReader or an iterable of "
                                f"frames, got {type(obj).__name__}") from None
            self.frames = obj
        self.owned = isinstance(obj, (str, os.PathLike))
        r = self.reader
        self.label = r.path if r is not None else name
        if r is not None:
            self.n_frames = r.n_frames if r.exact_count else None
        else:
            self.n_frames = len(obj) if hasattr(obj, "__len__") else None

    def iterate(self, skip):
        if self.reader is not None:
            if hasattr(self.reader, "frame"):  # memory mapped: start at `skip`
                return (self.reader.frame(i) for i in range(skip, self.reader.n_frames))
            it = iter(self.reader)
        else:
            it = iter(self.frames)
        for _ in range(skip):
            if next(it, None) is None:
                break
        return (f if isinstance(f, (tuple, list)) else (f,) for f in it)

    def close(self):
        if self.owned:
            self.reader.close()


def _check_pair(ref, dist):
    """Sizes, formats, depths and rates of two opened videos must agree."""
    a, b = ref.reader, dist.reader
    if a is None or b is None:
        return
    if (a.width, a.height) != (b.width, b.height):
        raise ValueError(f"the videos differ in size: {a.path} is {a.width}x{a.height} "
                         f"but {b.path} is {b.width}x{b.height}")
    if a.bits != b.bits:
        raise ValueError(f"the videos differ in bit depth: {a.path} is {a.bits}-bit "
                         f"({a.pix_fmt}) but {b.path} is {b.bits}-bit ({b.pix_fmt})")
    if a.pix_fmt != b.pix_fmt:
        raise ValueError(f"the videos differ in pixel format: {a.path} is {a.pix_fmt} "
                         f"but {b.path} is {b.pix_fmt}")
    if a.frame_rate is not None and b.frame_rate is not None and a.frame_rate != b.frame_rate:
        raise ValueError(f"the videos differ in frame rate: {a.path} is {a.frame_rate} fps "
                         f"but {b.path} is {b.frame_rate} fps")


def _count(ref, dist, frames, shortest, offset):
    """Frames to score if both counts are known (else None, checked while reading)."""
    n_ref = ref.n_frames
    n_dist = None if dist.n_frames is None else max(0, dist.n_frames - offset)
    after = f" after skipping {offset}" if offset else ""
    if frames is not None:
        for n, src, extra in ((n_ref, ref, ""), (n_dist, dist, after)):
            if n is not None and n < frames:
                raise ValueError(f"frames={frames} but {src.label} has {n} frames{extra}")
        return frames
    if n_ref is None or n_dist is None:
        return None
    if n_ref != n_dist and not shortest:
        raise ValueError(
            f"the videos differ in frame count: {ref.label} has {n_ref} frames but "
            f"{dist.label} has {n_dist}{after}; pass frames=N or shortest=True to score "
            "the first frames only, or offset=K to skip K leading frames of dist"
        )
    return min(n_ref, n_dist)


def _bits_of(planes, bits):
    dtype = planes[0].dtype
    if dtype == np.uint8:
        if bits not in (None, 8):
            raise ValueError(f"bits={bits} but the planes are uint8 (8-bit)")
        return 8
    if dtype == np.uint16:
        return bits  # None: unknown depth, 16-bit range
    raise TypeError(f"video planes must be uint8 or uint16 (FFmpeg's planar formats), got {dtype}")


class _Scorer:
    """Scores one frame pair: each plane's SSIM, "all", optionally PSNR."""

    def __init__(self, preset, psnr, bits, ssim_options, per_frame_workers):
        self.ffmpeg = preset == "ffmpeg"
        self.psnr = psnr
        self.bits = bits
        self.workers = per_frame_workers
        self.options = dict(ssim_options)
        if not self.ffmpeg:
            if preset is not None:
                self.options["preset"] = preset
            if (bits is not None and bits > 8 and "data_range" not in self.options
                    and "bits" not in self.options):
                self.options["bits"] = bits

    def __call__(self, index, ref_planes, dist_planes, workers=None):
        if len(ref_planes) != len(dist_planes):
            raise ValueError(f"frame {index}: {len(ref_planes)} planes in ref but "
                             f"{len(dist_planes)} in dist")
        return self.score_planes(index, zip(ref_planes, dist_planes), workers)

    def score_planes(self, index, plane_pairs, workers=None):
        """The row of one frame from its (ref, dist) planes, taken one by one
        from the iterable `plane_pairs` (planes may be read as they are asked for)."""
        workers = self.workers if workers is None else workers
        shapes = []
        row = {"frame": index}
        dtype = None
        for name, (r, d) in zip(_PLANE_NAMES, plane_pairs):
            r, d = np.asarray(r), np.asarray(d)
            if not shapes:
                dtype = r.dtype
            if r.shape != d.shape or r.ndim != 2:
                raise ValueError(f"frame {index}: plane {name} is {r.shape} in ref but "
                                 f"{d.shape} in dist (planes are 2-D and equal in shape)")
            if r.dtype != d.dtype:
                raise ValueError(f"frame {index}: plane {name} is {r.dtype} in ref but "
                                 f"{d.dtype} in dist")
            shapes.append(r.shape)
            if self.ffmpeg:
                if self.bits is None:
                    raise ValueError("preset='ffmpeg' on uint16 planes needs their bit depth: "
                                     "pass bits= (9 to 16)")
                if self.psnr:  # the SSE from the SSIM's block sums, in the same pass
                    row[name], sse = ffmpeg_ssim_sse(r, d, bits=self.bits, workers=workers)
                    row["mse_" + name] = sse / float(r.size)
                else:
                    row[name] = ffmpeg_ssim(r, d, bits=self.bits, workers=workers)
                continue
            if self.psnr:  # first: it brings the planes into the cache for the SSIM
                row["mse_" + name] = _plane_mse(r, d)
            row[name] = float(structural_similarity(r, d, workers=workers, **self.options))
        return self._finish(row, ffmpeg_weights(shapes),
                            self.bits or (8 if dtype == np.uint8 else 16))

    def band_row(self, index, ssims, sses, sizes, weights):
        """The row of one frame from FrameBands.score's (ssims, sses) (preset
        "ffmpeg"), `sizes` the planes' pixel counts: as score_planes'."""
        row = {"frame": index}
        for name, ssim in zip(_PLANE_NAMES, ssims):
            row[name] = ssim
        if self.psnr:
            for name, sse, size in zip(_PLANE_NAMES, sses, sizes):
                row["mse_" + name] = sse / float(size)
        return self._finish(row, weights, self.bits)

    def _finish(self, row, weights, bits):
        """"all" (and PSNR) added to a row of the planes' values (and MSE)."""
        total = 0.0
        for w, name in zip(weights, _PLANE_NAMES):
            total += w * row[name]
        row["all"] = total
        if not self.psnr:
            return row
        _add_psnr(row, weights, bits)
        names = [n for n in _PLANE_NAMES + ("all",) if n in row]
        return {"frame": row["frame"], **{n: row[n] for n in names},
                **{"psnr_" + n: row["psnr_" + n] for n in names},
                **{"mse_" + n: row["mse_" + n] for n in names}}


def _plane_mse(r, d):
    """Exact sum of squared differences over the pixel count, as vf_psnr.c."""
    x = np.ascontiguousarray(r).reshape(-1)
    y = np.ascontiguousarray(d).reshape(-1)
    return _codec_cy.sq_diff_sum_int(x, y, 1) / float(x.size)


def _psnr(mse, peak):
    return math.inf if mse == 0 else 10.0 * math.log10(float(peak * peak) / mse)


def _add_psnr(row, weights, bits):
    """FFmpeg's psnr filter: each plane's PSNR, and "all" from the planes' MSE
    weighted by pixel counts (average peak: the same bits in every plane)."""
    peak = (1 << bits) - 1
    mse = 0.0
    for w, name in zip(weights, _PLANE_NAMES):
        mse += row["mse_" + name] * w
        row["psnr_" + name] = _psnr(row["mse_" + name], peak)
    row["mse_all"] = mse
    row["psnr_all"] = _psnr(mse, peak)


def _check_options(preset, psnr, frames, shortest, offset, progress, bits, ssim_options):
    if preset not in (None, "ffmpeg") and not isinstance(preset, str):
        raise TypeError(f"preset must be None, 'ffmpeg' or a structural_similarity preset, "
                        f"got {preset!r}")
    if preset == "ffmpeg" and ssim_options:
        raise ValueError("preset='ffmpeg' is FFmpeg's fixed definition; it takes no SSIM "
                         f"options (got {', '.join(sorted(ssim_options))})")
    for name, value in (("psnr", psnr), ("shortest", shortest)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, got {value!r}")
    if frames is not None:
        if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or frames < 1:
            raise ValueError(f"frames must be a positive number of frames or None, got {frames!r}")
        if shortest:
            raise ValueError("pass frames=N or shortest=True, not both")
    if isinstance(offset, bool):
        raise TypeError(f"offset must be a non-negative integer, got {offset!r}")
    try:
        offset = operator.index(offset)
    except TypeError:
        raise TypeError(f"offset must be a non-negative integer, got {offset!r}") from None
    if offset < 0:
        raise ValueError(f"offset must be >= 0 (frames of dist to skip), got {offset}")
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable as progress(done, total), got {progress!r}")
    if bits is not None and (isinstance(bits, bool) or not isinstance(bits, (int, np.integer))
                             or not 8 <= bits <= 16):
        raise ValueError(f"bits must be from 8 to 16, got {bits!r}")
    return offset


def iter_video_ssim(ref, dist, *, preset=None, psnr=False, frames=None, shortest=False,
                    offset=0, workers=None, progress=None, bits=None, size=None,
                    pix_fmt=None, frame_rate=None, **ssim_options):
    """Rows of :func:`video_ssim`, one dict per frame, in frame order, as they
    are scored. Closing the generator early (or Ctrl-C) stops the reading and
    the scoring; the rows already yielded are complete."""
    return _iter_rows({}, ref, dist, preset, psnr, frames, shortest, offset, workers, progress,
                      bits, size, pix_fmt, frame_rate, ssim_options)


def _iter_rows(state, ref, dist, preset, psnr, frames, shortest, offset, workers, progress,
               bits, size, pix_fmt, frame_rate, ssim_options, on_open=None):
    """The rows; `state` receives what was read ("video": the ref's format, "bits").
    `on_open(reader)`, if given, sees the ref's reader before any frame is read
    (the command's --max-pixels)."""
    offset = _check_options(preset, psnr, frames, shortest, offset, progress, bits, ssim_options)
    open_options = {"size": size, "pix_fmt": pix_fmt, "frame_rate": frame_rate}
    if size is None:
        open_options = {k: v for k, v in open_options.items() if v is not None}
    sources = []
    try:
        ref_src = _Source(ref, "ref", open_options)
        sources.append(ref_src)
        dist_src = _Source(dist, "dist", open_options)
        sources.append(dist_src)
        _check_pair(ref_src, dist_src)
        r = ref_src.reader
        if r is not None and on_open is not None:
            on_open(r)
        if r is not None:
            bits = r.bits if bits is None else bits
            state["video"] = {"width": r.width, "height": r.height, "pix_fmt": r.pix_fmt,
                              "bits": r.bits, "frame_rate": None if r.frame_rate is None
                              else str(r.frame_rate)}
        state["offset"] = offset
        total = _count(ref_src, dist_src, frames, shortest, offset)
        yield from _score_stream(state, ref_src, dist_src, total, frames, shortest, offset,
                                 preset, psnr, bits, workers, progress, ssim_options)
    finally:
        for src in sources:
            src.close()


class _Pairs:
    """The frame pairs of ref and dist in order, with the frame-count checks:
    next() gives (index, ref planes, dist planes), or None at the end."""

    def __init__(self, ref_src, dist_src, total, frames, shortest, offset):
        self.ref_src, self.dist_src = ref_src, dist_src
        self.ref_it, self.dist_it = ref_src.iterate(0), dist_src.iterate(offset)
        self.frames, self.shortest = frames, shortest
        self.limit = frames if frames is not None else (total if shortest else None)
        self.i = 0

    def next(self):
        i = self.i
        if self.limit is not None and i >= self.limit:
            return None
        r = next(self.ref_it, None)
        d = next(self.dist_it, None)
        if r is None or d is None:
            if r is None and d is None:
                return None
            if self.limit is None and not self.shortest:
                longer, shorter = ((self.ref_src, self.dist_src) if d is None
                                   else (self.dist_src, self.ref_src))
                raise ValueError(
                    f"the videos differ in frame count: {shorter.label} ended after {i} "
                    f"frames but {longer.label} has more; pass frames=N or shortest=True, "
                    "or offset=K to skip leading frames of dist")
            if self.frames is not None:
                src = self.ref_src if r is None else self.dist_src
                raise ValueError(f"frames={self.frames} but {src.label} has {i} frames")
            return None
        self.i = i + 1
        return i, r, d


class _Slots:
    """Frame buffers owned by the scoring threads, for two readers that read
    frame i into a given buffer (read_frame). A task takes a free slot (a ref
    and a dist buffer), reads its pair into it, scores it and gives the slot
    back: no plane outlives its task, so a slot is overwritten only once its
    frame is scored, and frames never cross threads. Slots are allocated on
    first use, at most one per thread: memory is bounded by the threads, and a
    thread reads its frame on its own core, where it is scored (in cache)."""

    def __init__(self, ref, dist, offset, n_slots):
        self.ref, self.dist, self.offset = ref, dist, offset
        self.n_slots = n_slots
        self.band_args = None  # FrameBands' arguments once use_bands is called
        self._empty_slots()

    def _empty_slots(self):
        """n_slots free slots, none allocated yet (take() allocates them)."""
        self._free = queue.SimpleQueue()
        for _ in range(self.n_slots):
            self._free.put(None)

    def use_bands(self, bits):
        """From now on, score() reads and scores each frame pair in one
        compiled call (FFmpeg's SSIM, _codec_cy.FrameBands): the slots become
        one FrameBands each, a band of rows of each file, and the frame
        buffers are let go. Call with every slot free."""
        shapes = self.ref.plane_shapes
        self.band_args = (shapes, self.ref.dtype.itemsize, (1 << bits) - 1)
        self.sizes = [h * w for h, w in shapes]
        self.weights = ffmpeg_weights(shapes)
        self._empty_slots()

    def take(self):
        slot = self._free.get_nowait()  # never empty: no more tasks than slots run at once
        if slot is None and self.band_args is not None:
            slot = _codec_cy.FrameBands(*self.band_args, _BAND_BYTES)
        elif slot is None:
            # One allocation for both frames (one layout: _check_pair): from
            # 4 MiB (a 1080p 4:2:0 pair) NumPy asks for huge pages, so a new
            # slot costs a few page faults rather than one per 4 KiB.
            n = self.ref.frame_bytes // self.ref.dtype.itemsize
            pair = np.empty(n + self.dist.frame_bytes // self.dist.dtype.itemsize, self.ref.dtype)
            slot = pair[:n], pair[n:]
        return slot

    def give(self, slot):
        self._free.put(slot)

    def read(self, i, slot):
        """(i, ref planes, dist planes): frame pair i, viewing `slot`."""
        return (i, self.ref.read_frame(i, slot[0]),
                self.dist.read_frame(i + self.offset, slot[1]))

    def score(self, scorer, i, workers):
        """Frame pair i read into a free slot and scored: its row. A plane at a
        time, each scored right after its read while it is in the cache (a
        3840x2160 4:2:0 pair is 24 MiB, three times the 8 MiB L3 cache of the
        2-core EPYC measured; there one thread took about 10 % less CPU time
        per 4K frame than reading whole frames, a few % at 1080p)."""
        if self.band_args is not None:
            return self._score_bands(scorer, i)
        slot = self.take()
        j = i + self.offset
        try:
            row = scorer.score_planes(i, ((self.ref.read_plane(i, k, slot[0]),
                                           self.dist.read_plane(j, k, slot[1]))
                                          for k in range(len(self.ref.plane_shapes))), workers)
        except BaseException:
            self.give(None)  # the traceback may hold its planes: a new slot instead
            raise
        self.give(slot)
        return row

    def _score_bands(self, scorer, i):
        bands = self.take()
        j = i + self.offset
        try:
            ssims, sses = bands.score(self.ref.fileno(), self.ref.frame_offset(i),
                                      self.dist.fileno(), self.dist.frame_offset(j))
        except _codec_cy.ShortRead as exc:
            raise (self.ref.shrank(i) if exc.args[0] == 0 else self.dist.shrank(j)) from None
        finally:
            self.give(bands)
        return scorer.band_row(i, ssims, sses, self.sizes, self.weights)


def _bands_apply(preset, bits, ref_src, dist_src):
    """True if FrameBands can score frames of these files: FFmpeg's SSIM of Y4M
    or raw YUV files read with pread, samples in the machine's byte order."""
    return (preset == "ffmpeg" and bits is not None and _PREADV
            and (sys.byteorder == "little" or bits == 8)
            and all(isinstance(src.reader, _MappedReader) for src in (ref_src, dist_src)))


def _indexed(ref_src, dist_src):
    """Both sides read frame i into a caller's buffer, from any thread."""
    return all(getattr(src.reader, "concurrent_reads", False) for src in (ref_src, dist_src))


def _score_stream(state, ref_src, dist_src, total, frames, shortest, offset, preset, psnr, bits,
                  workers, progress, ssim_options):
    n_threads = resolve_workers(workers)
    # Readers that read by index (Y4M, raw YUV): each scoring thread reads its
    # frames into its own buffers (_Slots); the frame count is known. One
    # thread too for FFmpeg's SSIM, which then reads and scores in bands.
    slots = None
    if ((n_threads > 1 or preset == "ffmpeg") and total is not None and total > 1
            and _indexed(ref_src, dist_src)):
        slots = _Slots(ref_src.reader, dist_src.reader, offset, n_threads)
        slot = slots.take()
        first = slots.read(0, slot)
    else:
        pairs = _Pairs(ref_src, dist_src, total, frames, shortest, offset)
        first = pairs.next()
    if first is None:
        raise ValueError("no frames to score: "
                         + ("dist has no frames after the offset" if offset else "empty videos"))
    _, ref0, dist0 = first
    frame_bits = _bits_of(ref0, bits)
    bands = slots is not None and _bands_apply(preset, frame_bits, ref_src, dist_src)
    # Frames in parallel, one thread each, as memory allows; the threads left
    # over work inside each frame. In bands a frame in flight holds no planes.
    pair_bytes = sum(np.asarray(p).nbytes for p in ref0 + dist0)
    max_in_flight = (n_threads * _IN_FLIGHT_PER_THREAD if bands
                     else max(1, _IN_FLIGHT_BYTES // max(1, pair_bytes)))
    pool_size = 1 if (total is not None and total <= 1) else min(n_threads, max_in_flight)
    in_flight = max(pool_size, min(pool_size * _IN_FLIGHT_PER_THREAD, max_in_flight))
    scorer = _Scorer(preset, psnr, frame_bits, ssim_options, max(1, n_threads // pool_size))
    state["bits"] = scorer.bits or (8 if ref0[0].dtype == np.uint8 else 16)
    # The first frame in the calling thread: bad options raise here, before any
    # other frame is read, with warnings pointing at the caller. With all the
    # threads: none other has work yet.
    row = scorer(*first, workers=n_threads)
    del first, ref0, dist0
    if progress is not None:
        progress(1, total)
    yield row

    def workers_for(i):
        # The last pool_size - 1 frames (count known) may use all n_threads:
        # the threads that ran out of frames help them (the kernels' helpers
        # join as cores come free).
        return n_threads if total is not None and i >= total - (pool_size - 1) else None

    if slots is not None:
        slots.give(slot)
        del slot  # in bands, the first frame's buffers go
        if bands:
            slots.use_bands(scorer.bits)
        yield from _slot_rows(slots, scorer, total, pool_size, in_flight, progress, workers_for)
    elif pool_size == 1:
        yield from _serial_rows(scorer, pairs, progress, total)
    else:
        def submit(pool):  # reads in this thread: frames cross to the scoring threads
            pair = pairs.next()
            if pair is None:
                return None
            return pool.submit(scorer, *pair, workers=workers_for(pair[0]))
        yield from _pooled_rows(submit, pool_size, in_flight, progress, total)


def _slot_rows(slots, scorer, total, pool_size, in_flight, progress, workers_for):
    """Rows 1 .. total - 1 in order, scored by this thread and pool_size - 1
    helper threads: each claims the next frame, reads it into its slot and
    scores it. Two threads on two cores, no frame handed from one to another,
    no task queue. Frame i is claimed only while i < (the next row to yield) +
    in_flight, so few rows wait; this thread waits only when that row is a
    helper's and nothing is left to claim. A frame's error is raised here, in
    frame order; Ctrl-C in this thread stops the helpers after their frame."""
    cond = threading.Condition()
    done = {}  # frame -> its row, or the exception a helper's frame raised
    claimed, emit, stop = 1, 1, False

    def claim():  # under cond: the next frame, or None
        nonlocal claimed
        if claimed >= total or claimed >= emit + in_flight:
            return None
        claimed += 1
        return claimed - 1

    def helper():
        while True:
            with cond:
                while (i := claim()) is None and not stop and claimed < total:
                    cond.wait()
                if i is None or stop:
                    return
            try:
                row = slots.score(scorer, i, workers_for(i))
            except BaseException as exc:  # raised by the calling thread, in frame order
                row = exc
            with cond:
                done[i] = row
                cond.notify_all()

    helpers = [threading.Thread(target=helper, name=f"ssimfast-video-{k}", daemon=True)
               for k in range(1, pool_size)]
    for t in helpers:
        t.start()
    try:
        while emit < total:
            with cond:
                row = done.pop(emit, None)
                if row is None:
                    i = claim()
                    if i is None:  # the next row is a helper's
                        cond.wait()
                        continue
                else:
                    emit += 1
                    cond.notify_all()  # the window moved: helpers may claim
            if row is None:
                try:
                    row = slots.score(scorer, i, workers_for(i))
                except Exception as exc:  # raised in frame order (Ctrl-C at once)
                    row = exc
                with cond:
                    done[i] = row
                continue
            if isinstance(row, BaseException):
                raise row
            if progress is not None:
                progress(emit, total)
            yield row
    finally:
        with cond:
            stop = True
            cond.notify_all()
        for t in helpers:
            t.join()


def _serial_rows(scorer, pairs, progress, total):
    """The rows after the first, one frame at a time in this thread."""
    while (pair := pairs.next()) is not None:
        row = scorer(*pair)
        if progress is not None:
            progress(pair[0] + 1, total)
        del pair
        yield row


def _pooled_rows(submit, pool_size, in_flight, progress, total):
    """The rows after the first, in order, with up to `in_flight` frames
    submitted to `pool_size` threads: submit(pool) gives the next frame's
    future, or None after the last."""
    pending = collections.deque()
    done = 1
    with concurrent.futures.ThreadPoolExecutor(max_workers=pool_size) as pool:
        try:
            exhausted = False
            while True:
                while not exhausted and len(pending) < in_flight:
                    future = submit(pool)
                    if future is None:
                        exhausted = True
                        break
                    pending.append(future)
                if not pending:
                    break
                row = pending.popleft().result()
                done += 1
                if progress is not None:
                    progress(done, total)
                yield row
        finally:
            for future in pending:
                future.cancel()


class VideoScores:
    """Per-frame scores of two videos (from :func:`video_ssim`).

    Attributes
    ----------
    frame : ndarray of int
        Frame numbers (0-based, in ref; dist's are ``frame + offset``).
    y, u, v, all : ndarray of float64
        SSIM of each plane per frame, and "all": the planes weighted by their
        pixel counts (FFmpeg's weighting). ``u`` and ``v`` are None for gray.
    psnr_y, psnr_u, psnr_v, psnr_all, mse_y, mse_u, mse_v, mse_all : ndarray
        With ``psnr=True``: FFmpeg's psnr filter per frame (inf for equal planes).
    mean : dict
        Means over frames: of each SSIM column; PSNR columns as FFmpeg's
        summary line (the PSNR of the mean MSE).
    settings : dict
        What was compared and how.
    """

    def __init__(self, rows, settings):
        self.settings = settings
        self.columns = list(rows[0]) if rows else ["frame", "y", "all"]
        self.frame = np.array([r["frame"] for r in rows], dtype=np.int64)
        for name in ("y", "u", "v", "all", "psnr_y", "psnr_u", "psnr_v", "psnr_all",
                     "mse_y", "mse_u", "mse_v", "mse_all"):
            value = (np.array([r[name] for r in rows], dtype=np.float64)
                     if rows and name in rows[0] else None)
            setattr(self, name, value)
        self.mean = {}
        for name in self.columns:
            if name in ("y", "u", "v", "all") or name.startswith("mse_"):
                self.mean[name] = _mean(getattr(self, name))
        if self.psnr_y is not None:
            peak = (1 << settings["bits"]) - 1
            for name in ("y", "u", "v", "all"):
                if getattr(self, "mse_" + name) is not None:
                    self.mean["psnr_" + name] = _psnr(self.mean["mse_" + name], peak)

    def __len__(self):
        return len(self.frame)

    def rows(self):
        """One dict per frame (the columns of the command's CSV/JSON output)."""
        for i in range(len(self.frame)):
            yield {name: (int(self.frame[i]) if name == "frame" else float(getattr(self, name)[i]))
                   for name in self.columns}

    def to_dict(self):
        return {"frames": list(self.rows()), "mean": dict(self.mean), "settings": dict(self.settings)}

    def __repr__(self):
        means = " ".join(f"{k}={v:.6f}" for k, v in self.mean.items() if not k.startswith("mse"))
        return f"<VideoScores {len(self)} frames {means}>"


def _mean(values):
    # In frame order, as FFmpeg's running sums.
    total = 0.0
    for v in values:
        total += float(v)
    return total / len(values) if len(values) else math.nan


def video_ssim(ref, dist, *, preset=None, psnr=False, frames=None, shortest=False, offset=0,
               workers=None, progress=None, bits=None, size=None, pix_fmt=None,
               frame_rate=None, **ssim_options):
    """SSIM of two videos, per frame and per plane (and PSNR with ``psnr=True``).

    Parameters
    ----------
    ref, dist : path, VideoReader or iterable of frames
        Paths of Y4M, raw YUV (with `size`) or compressed videos (PyAV:
        ``pip install "ssimfast[video]"``), readers from
        :func:`ssimfast.open_video`, or iterables of frames: each frame a tuple
        of 2-D planes (Y, U, V) or one 2-D array (Y alone).
    preset : None, "ffmpeg" or a structural_similarity preset
        None: scikit-image's SSIM, each plane exactly
        ``structural_similarity(ref_plane, dist_plane, **ssim_options)`` (with
        ``bits=`` the videos' depth above 8 bits). "ffmpeg": FFmpeg's ``ssim``
        filter (equal to its printed digits). Other strings go to
        structural_similarity's `preset`.
    psnr : bool
        Also FFmpeg's ``psnr`` filter per plane and overall.
    frames : int, optional
        Score the first `frames` frames (both videos must have them).
    shortest : bool
        Score as many frames as the shorter video has. Without `frames` or
        `shortest`, different frame counts are a ValueError.
    offset : int
        Skip this many leading frames of `dist` (frames dropped or added by a codec).
    workers : int or None
        Threads in all. Frames are scored in parallel, one thread each, while
        the frames in flight stay under 96 MiB (both videos); threads left
        over share each frame. The scores do not depend on it.
    progress : callable, optional
        ``progress(done, total)`` in the calling thread after each frame;
        `total` is None where the frame count is unknown until the end.
    bits : int, optional
        Bit depth of uint16 frames given as arrays (files say theirs).
    size, pix_fmt, frame_rate
        For raw YUV files (see :func:`ssimfast.open_video`).
    **ssim_options
        For structural_similarity (win_size, gaussian_weights, data_range, ...).

    Returns
    -------
    VideoScores
        Per-frame arrays (``.y``, ``.u``, ``.v``, ``.all``, ``.psnr_*``), their
        means (``.mean``), ``.rows()`` and ``.to_dict()``.

    Raises
    ------
    ValueError
        Before any frame is scored, for videos of different sizes, pixel
        formats, bit depths, frame rates or (unless `frames`, `shortest`)
        frame counts; where a count is unknown in advance, when the shorter ends.
    """
    state = {}
    rows = list(_iter_rows(state, ref, dist, preset, psnr, frames, shortest, offset, workers,
                           progress, bits, size, pix_fmt, frame_rate, ssim_options))
    settings = {"definition": "ffmpeg" if preset == "ffmpeg" else (preset or "skimage"),
                "psnr": bool(psnr), "frames": len(rows), "offset": state["offset"],
                "bits": state["bits"], "options": dict(ssim_options)}
    for side, obj in (("ref", ref), ("dist", dist)):
        if isinstance(obj, (str, os.PathLike, VideoReader)):
            settings[side] = obj.path if isinstance(obj, VideoReader) else os.fspath(obj)
    settings.update(state.get("video", {}))
    return VideoScores(rows, settings)


"""`ssimfast compare REF DIST` on two videos: a row per frame, the means, the
worst frames and where the worst one is bad.

Rows go to -o as CSV or JSON Lines (numbers only: a NaN or infinite value is an
empty CSV field and `null` in JSON, as the directory rows), each written and
flushed as its frame is scored, so that Ctrl-C leaves complete rows.
"""
import contextlib
import fractions
import json
import math
import os
import sys

import numpy as np

from ssimfast._cli_options import api_to_options, frame_size, non_negative_int, positive_int, \
    ssim_keywords
from ssimfast._report import report
from ssimfast._outputs import Replacement, check_output, replacing
from ssimfast._rows import OutputError, OutputLock, RowsError, escape_name, finite, row_format
from ssimfast._video import is_video_path, open_video
from ssimfast._video_ssim import VideoScores, _iter_rows

__all__ = ["add_video_arguments", "is_video_pair", "run_videos", "VideoInputError"]

# Options of the directory mode that mean nothing for two videos.
_DIRECTORY_ONLY = ("resume", "local", "retry_errors")


class VideoInputError(Exception):
    """Bad input (exit code 1)."""


# The options of two videos, each declared once: add_video_arguments makes the
# parser's group of them, and check_image_usage refuses them for images.
_VIDEO_OPTIONS = (
    ("--size", dict(metavar="WxH", type=frame_size, help="raw YUV: the frame size (both files)")),
    ("--pix-fmt", dict(metavar="NAME",
                       help="raw YUV: FFmpeg's pixel format name (default yuv420p)")),
    ("--frame-rate", dict(metavar="FPS",
                          help="raw YUV: the frame rate (e.g. 25 or 30000/1001)")),
    ("--frames", dict(type=positive_int, metavar="N", help="score the first N frames only")),
    ("--shortest", dict(action="store_true",
                        help="score as many frames as the shorter video has")),
    ("--offset", dict(type=non_negative_int, metavar="K", default=0,
                      help="skip the first K frames of DIST (frames a codec dropped or added)")),
)


def add_video_arguments(compare):
    """The video options of `compare`."""
    video = compare.add_argument_group("two videos (Y4M, raw YUV; .mp4/.mkv/... with PyAV)")
    for flag, keywords in _VIDEO_OPTIONS:
        video.add_argument(flag, **keywords)


def is_video_pair(args):
    """Whether compare's two paths are videos (either, by its name or a Y4M
    header; or --size given, which only raw YUV takes)."""
    return args.size is not None or is_video_path(args.a) or is_video_path(args.b)


def _check_usage(args):
    for name in _DIRECTORY_ONLY:
        if getattr(args, name):
            raise ValueError(f"--{name.replace('_', '-')} is for comparing directories")
    if args.worst is not None and args.worst < 1:
        raise ValueError("--worst takes 1 or more frames")
    if args.frames is not None and args.shortest:
        raise ValueError("pass --frames N or --shortest, not both")
    if args.gray:
        raise ValueError("--gray is for images; videos are scored per plane (y, u, v, all)")
    if args.depth:
        raise ValueError("--depth is for images; videos of different bit depths cannot be "
                         "compared")
    if args.size is None and (args.pix_fmt or args.frame_rate):
        raise ValueError("--pix-fmt and --frame-rate are for raw YUV files, with --size WxH")


def _frame_rate(text):
    if text is None:
        return None
    try:
        rate = fractions.Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise VideoInputError(f"--frame-rate: not a rate: {text!r}") from None
    if rate <= 0:
        raise VideoInputError(f"--frame-rate must be above 0, got {text}")
    return rate


class _RowWriter:
    """CSV or JSON Lines rows on a file, one flushed line per frame. OutputError
    when a row cannot be written (a full disk)."""

    def __init__(self, path, shown, fmt, columns):
        self.fmt, self.columns, self.shown = fmt, columns, shown
        try:
            self.file = open(path, "w", encoding="utf-8", newline="")
        except OSError as exc:
            raise OutputError(f"cannot write {shown}: {exc.strerror or exc}") from None
        if fmt == "csv":
            self._put(",".join(columns) + "\n")

    def _put(self, text):
        try:
            self.file.write(text)
            self.file.flush()
        except OSError as exc:
            with contextlib.suppress(Exception):  # drop the buffer: no second attempt at exit
                self.file.buffer.raw.close()
            raise OutputError(f"cannot write {self.shown}: {exc.strerror or exc}") from None

    def write(self, row):
        values = {k: (row[k] if k == "frame" else _number(row[k])) for k in self.columns}
        if self.fmt == "csv":
            self._put(",".join("" if v is None else repr(v) for v in values.values()) + "\n")
        else:
            self._put(json.dumps(values, allow_nan=False) + "\n")

    def close(self):
        try:
            self.file.close()
        except OSError as exc:
            raise OutputError(f"cannot write {self.shown}: {exc.strerror or exc}") from None


def _number(value):
    return None if value is None or not math.isfinite(value) else float(value)


def _columns(row):
    """The output columns of a row: frame, the SSIM columns, the PSNR columns."""
    return [k for k in row if not k.startswith("mse_")]


def run_videos(args, progress_bar, stop_flag):
    """Score two videos for `ssimfast compare`; returns the exit code.
    ValueError: a usage error; VideoInputError: bad input; OutputError: an
    output not written. `progress_bar(total, enabled)` and `stop_flag()` are
    the directory mode's (_cli._Progress, _StopFlag)."""
    _check_usage(args)
    options = ssim_keywords(args)
    if args.preset == "ffmpeg" and options:
        raise ValueError("--preset ffmpeg is FFmpeg's fixed definition; drop "
                         + ", ".join(f"--{k.lower().replace('_', '-')}" for k in options))
    lock = _check_outputs(args)
    try:
        rows, state, interrupted = _score(args, progress_bar, stop_flag, options, lock)
        return _show(args, rows, state, args.preset, options, args.bits, interrupted)
    finally:
        if lock is not None:
            lock.release()


def _check_outputs(args):
    """Before any work: -o and --heatmap may be written (ValueError if not);
    returns the lock of -o (one run at a time writes it), or None."""
    inputs = (args.a, args.b)
    if args.heatmap:
        check_output("--heatmap", args.heatmap, inputs, args.overwrite, label="the heatmap to")
    if not args.output:
        return None
    check_output("--output", args.output, inputs, args.overwrite, label="")
    if os.path.lexists(args.output) and not os.path.isfile(args.output):
        return None  # /dev/null, a FIFO: nothing to lock or replace
    try:
        lock = OutputLock(args.output)
    except RowsError as exc:
        raise ValueError(str(exc)) from None
    try:  # again under the lock: another run may have written it since
        check_output("--output", args.output, inputs, args.overwrite, label="")
    except BaseException:
        lock.release()
        raise
    return lock


def _score(args, progress_bar, stop_flag, options, lock):
    """The rows (written to -o as they come), the readers' state and whether
    Ctrl-C stopped the run."""
    fmt = row_format(args.format, args.output)
    out, writer, state, rows = _replacement(args.output), None, {}, []
    bar = progress_bar(None, args.progress)
    interrupted = False
    try:
        with stop_flag().installed() as stop:
            stop.on_abort = lambda: _keep_rows(out, writer, lock)  # a second Ctrl-C

            def progress(done, n):
                bar.total = n if n is not None else done + 1
                bar.update(done)

            rows_iter = _iter_rows(state, args.a, args.b, args.preset, args.psnr, args.frames,
                                   args.shortest, args.offset, args.workers, progress, args.bits,
                                   args.size, args.pix_fmt, _frame_rate(args.frame_rate), options,
                                   on_open=lambda reader: _check_pixels(reader, args.max_pixels))
            try:
                for row in rows_iter:
                    if writer is None and out is not None:
                        writer = _RowWriter(out.tmp, escape_name(args.output), fmt, _columns(row))
                    if writer is not None:
                        writer.write(row)
                    rows.append(row)
                    if stop.stopped:
                        interrupted = True
                        break
            finally:
                rows_iter.close()
    except (ImportError, FileNotFoundError) as exc:  # PyAV for a compressed file
        raise VideoInputError(api_to_options(str(exc))) from None
    except (ValueError, TypeError) as exc:
        raise VideoInputError(f"{escape_name(args.a)}, {escape_name(args.b)}: "
                              f"{api_to_options(str(exc))}") from None
    finally:
        bar.close()
        _finish(out, writer, args.output)
    return rows, state, interrupted


def _replacement(path):
    """Where the rows go until the run ends (None without -o)."""
    if not path:
        return None
    try:
        return Replacement(path)
    except OSError as exc:
        raise ValueError(f"cannot write {escape_name(path)}: {exc.strerror or exc}") from None


def _finish(out, writer, path):
    """Close the rows and put them in place: every row is a complete line (each
    is written whole and flushed), so the rows of a run stopped by an error or
    Ctrl-C are kept; a file that could not be written replaces nothing."""
    if out is None:
        return
    try:
        if writer is not None:
            writer.close()
    except BaseException:
        out.discard()
        raise
    if writer is None:
        out.discard()
        return
    try:
        out.commit()
    except OSError as exc:
        raise OutputError(f"cannot write {escape_name(path)}: {exc.strerror or exc}") from None


def _keep_rows(out, writer, lock):
    """Put the rows written so far in place, the process about to end."""
    try:
        if out is not None and writer is not None:
            writer.file.flush()
            out.commit()
        elif out is not None:
            out.discard()
    finally:
        if lock is not None:
            lock.release()


def _check_pixels(reader, max_pixels):
    """--max-pixels, per frame, from the header (as for images)."""
    pixels = reader.width * reader.height
    if max_pixels and pixels > max_pixels:
        raise VideoInputError(
            f"{escape_name(str(reader.path))}: a {reader.width}x{reader.height} frame is "
            f"{pixels:,} pixels, above the limit of {max_pixels:,} pixels (a decompression "
            "bomb?); pass --max-pixels N to raise it, or 0 for no limit")


def _show(args, rows, state, preset, options, bits, interrupted):
    """The report (or JSON) of the scored rows; returns the exit code."""
    if not rows:
        raise VideoInputError(f"{escape_name(args.a)}, {escape_name(args.b)}: no frame to compare")
    settings = {"definition": preset or "skimage", "psnr": bool(args.psnr), "frames": len(rows),
                "offset": state.get("offset", args.offset), "bits": state.get("bits"),
                "options": dict(options), "ref": escape_name(args.a), "dist": escape_name(args.b)}
    settings.update(state.get("video", {}))
    scores = VideoScores(rows, settings)
    if args.json:
        out = scores.to_dict()
        out["frames"] = [{k: r[k] for k in _columns(r)} for r in out["frames"]]
        out["mean"] = {k: v for k, v in out["mean"].items() if not k.startswith("mse_")}
        print(json.dumps(finite(_jsonable(out)), indent=2, allow_nan=False))
        if args.heatmap:  # stdout stays JSON only
            _worst_frame(args, int(scores.frame[np.argmin(scores.all)]), preset, options, bits,
                         quiet=True)
    else:
        _print_report(args, scores, preset, options, bits)
    if args.output:
        print(f"rows: {escape_name(args.output)}", file=sys.stderr)
    if interrupted:
        print(f"interrupted: {len(rows)} complete frame rows", file=sys.stderr)
        return 130
    return 0


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _print_report(args, scores, preset, options, bits):
    s = scores.settings
    desc = {k: s[k] for k in ("width", "height", "pix_fmt", "frame_rate") if k in s}
    what = (f"{desc.get('width')}x{desc.get('height')} {desc.get('pix_fmt', '')}".strip()
            if desc else "")
    print(f"{escape_name(args.a)} vs {escape_name(args.b)}: {len(scores)} frames"
          + (f", {what}" if what else "")
          + (f", dist from frame {args.offset}" if args.offset else ""))
    definition = ("FFmpeg's ssim filter" if preset == "ffmpeg"
                  else f"preset {preset}" if preset else "scikit-image's SSIM")
    print(f"SSIM ({definition}), mean over frames:")
    planes = [p for p in ("y", "u", "v", "all") if p in scores.mean]
    print("  " + "  ".join(f"{p.upper() if p != 'all' else 'All'} {scores.mean[p]:.6f}"
                           for p in planes))
    if "psnr_y" in scores.mean:
        print("PSNR (dB, FFmpeg's psnr filter: of the mean MSE):")
        print("  " + "  ".join(f"{p.upper() if p != 'all' else 'All'} "
                               f"{scores.mean['psnr_' + p]:.2f}" for p in planes))
    order = np.argsort(scores.all, kind="stable")
    k = 5 if args.worst is None else args.worst
    print("worst frames (by All):")
    for i in order[:k]:
        print(f"  frame {int(scores.frame[i]):>6}  All {scores.all[i]:.6f}  Y {scores.y[i]:.6f}")
    worst = int(scores.frame[order[0]])
    _worst_frame(args, worst, preset, options, bits)


def _worst_frame(args, index, preset, options, bits, quiet=False):
    """The local picture of the worst frame's Y plane (re-read where the reader
    has random access), and its heatmap."""
    open_options = {}
    if args.size is not None:
        open_options = {"size": args.size, "pix_fmt": args.pix_fmt or "yuv420p"}
    with open_video(args.a, **open_options) as ra, open_video(args.b, **open_options) as rb:
        if not (hasattr(ra, "frame") and hasattr(rb, "frame")):
            print(f"(frame {index}: no random access in compressed videos; its local map is "
                  "not shown)", file=sys.stderr if quiet else sys.stdout)
            return
        y1, y2 = np.asarray(ra.frame(index)[0]), np.asarray(rb.frame(index + args.offset)[0])
    # The local map is scikit-image's (with the given options): FFmpeg's
    # definition has one value per 8x8 window on a 4-pixel grid, not per pixel.
    local = dict(options)
    if preset not in (None, "ffmpeg"):
        local["preset"] = preset
    if y1.dtype == np.uint16 and "data_range" not in local:
        local["bits"] = bits or ra.bits
    result = report(y1, y2, k=3 if args.regions is None else args.regions, **local)
    note = " (scikit-image's map)" if preset == "ffmpeg" else ""
    if not quiet:
        print(f"worst frame {index}, Y plane{note}:")
        print("\n".join("  " + line for line in str(result).splitlines()))
    if args.heatmap:
        try:
            with replacing(args.heatmap) as tmp:
                result.save_heatmap(tmp, y1, y2)
        except OSError as exc:
            raise OutputError(f"cannot write the heatmap to {escape_name(args.heatmap)}: "
                              f"{exc.strerror or exc}") from None
        print(f"heatmap: {escape_name(args.heatmap)} (frame {index}'s Y planes and SSIM map)",
              file=sys.stderr if quiet else sys.stdout)


# ---------------------------------------------------------------- images

def check_image_usage(args):
    """ValueError for the video options given with images."""
    for flag, _ in _VIDEO_OPTIONS:
        if getattr(args, flag[2:].replace("-", "_")):
            raise ValueError(f"{flag} is for comparing videos; {escape_name(args.a)} and "
                             f"{escape_name(args.b)} are not videos")

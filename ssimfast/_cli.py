"""The `ssimfast` command (also `python -m ssimfast`).

    ssimfast                        score the built-in sample pair, write its heatmap
    ssimfast compare A B            two image files: the report (--json, --heatmap)
    ssimfast compare DIR_A DIR_B    every file pair with the same relative path:
                                    one row per pair (CSV or JSON Lines), a summary

Exit codes: 0 success; 1 bad input (a file that cannot be read or is over a
limit, images of different sizes, channels or bit depths, no pairs, an
unreadable folder, any error row); 2 usage errors (options, an output that
exists, is another run's or cannot be resumed); 3 the output could not be
written (full disk, I/O error); 70 an internal error (a bug); 130 interrupted
(Ctrl-C stops a directory run cleanly: the rows written so far are complete, and
--resume continues). Messages go to stderr, without tracebacks.
"""
import argparse
import collections
import concurrent.futures
import contextlib
import json
import math
import os
import signal
import sys
import time
import warnings

import numpy as np

from ssimfast import __version__
from ssimfast._images import MAX_PAGES, MAX_PIXELS, ImageReadError, Limits, is_image_file, read_image
from ssimfast._rows import OutputError, Rows, RowsError, escape_name, finite
from ssimfast._structural_similarity import structural_similarity
from ssimfast._threads import _usable_cpus
from ssimfast._video_cli import VideoInputError, add_video_arguments, check_image_usage, image_psnr, \
    is_video_pair, run_videos

__all__ = ["main"]

SAMPLE_HEATMAP = "ssimfast-sample.png"
EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_OUTPUT, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 70, 130
# The API's warning for a range taken from the dtype: the command says it itself,
# before the report, naming its own options.
_DTYPE_RANGE_WARNING = "Setting data_range based on im1.dtype."


class InputError(Exception):
    """Bad input: exit code 1."""


class UsageError(Exception):
    """A wrong command line: exit code 2."""


def main(argv=None):
    """Run the command with `argv` (default sys.argv[1:]); return the exit code."""
    with contextlib.suppress(ValueError):  # (not in the main thread: leave it)
        # Ctrl-C: a KeyboardInterrupt from here on (the package set the default
        # action while it loaded: Ctrl-C during start-up ends without a traceback).
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                code = args.run(args)
                sys.stdout.flush()
                return code
            finally:
                for message in dict.fromkeys(str(w.message) for w in caught):
                    if not message.startswith(_DTYPE_RANGE_WARNING):
                        _err(f"warning: {message}")
    except UsageError as exc:
        _err(f"error: {exc}")
        return EXIT_USAGE
    except InputError as exc:
        _err(f"error: {exc}")
        return EXIT_INPUT
    except OutputError as exc:
        _err(f"error: {exc}")
        return EXIT_OUTPUT
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `ssimfast compare ... | head`
        _close_stdout_quietly()
        return EXIT_OK
    except MemoryError as exc:
        _err(f"error: out of memory{': ' + str(exc) if str(exc) else ''}")
        return EXIT_INPUT
    except OSError as exc:  # writing the report to stdout: a full disk, an I/O error
        _close_stdout_quietly()
        _err(f"error: cannot write the output: {exc.strerror or exc}")
        return EXIT_OUTPUT
    except Exception as exc:  # noqa: BLE001 - a bug: still a message, not a traceback
        _err(f"internal error (please report it): {type(exc).__name__}: {exc}")
        return EXIT_INTERNAL


def _close_stdout_quietly():
    """Drop what stdout still buffers (it cannot be written), so that Python's exit
    does not try again and print a traceback."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _err(text):
    with contextlib.suppress(OSError, ValueError):
        print(f"ssimfast: {text}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the parser

def _parser():
    parser = argparse.ArgumentParser(
        prog="ssimfast",
        description="Structural similarity (SSIM) of images: the mean, and where they differ. "
                    "Without a command: score a built-in sample pair and write its heatmap.",
        epilog="exit codes: 0 success, 1 bad input, 2 usage error, 3 output not written, "
               "70 internal error, 130 interrupted")
    parser.add_argument("--version", action="version", version=f"ssimfast {__version__}")
    parser.set_defaults(run=_run_sample, heatmap=SAMPLE_HEATMAP, json=False)
    commands = parser.add_subparsers(title="commands", metavar="{compare,sample}")

    sample = commands.add_parser(
        "sample", help="score the built-in sample pair and write its heatmap (the default)")
    sample.add_argument("--heatmap", metavar="PNG", default=SAMPLE_HEATMAP,
                        help=f"where to write the heatmap (default: {SAMPLE_HEATMAP})")
    sample.add_argument("--json", action="store_true", help="print the report as JSON")
    sample.set_defaults(run=_run_sample)

    compare = commands.add_parser(
        "compare", help="compare two image files, or two directories pair by pair",
        description="Compare two image files (PNG, JPEG, TIFF incl. 16-bit and multi-page, "
                    "WebP, BMP, ...) or two directories, whose files are paired by relative "
                    "path. Colour images are compared channel by channel (the mean of the "
                    "channels' SSIM) unless --gray; alpha channels are ignored.")
    compare.add_argument("a", help="image file or directory (the reference)")
    compare.add_argument("b", help="image file or directory (the distorted)")
    files = compare.add_argument_group("two files")
    files.add_argument("--json", action="store_true", help="print the report as JSON")
    files.add_argument("--heatmap", metavar="PNG",
                       help="write the inputs, the SSIM map and its worst regions to PNG")
    files.add_argument("--regions", type=_non_negative_int, metavar="K",
                       help="worst regions to report (default 3)")
    _add_directory_options(compare)
    add_video_arguments(compare)
    _add_ssim_options(compare)
    _add_limits(compare)
    compare.set_defaults(run=_run_compare)
    return parser


def _add_directory_options(compare):
    dirs = compare.add_argument_group("two directories")
    dirs.add_argument("-o", "--output", metavar="FILE",
                      help="write rows to FILE (.csv or .jsonl); default: CSV on stdout")
    dirs.add_argument("--format", choices=("csv", "jsonl"),
                      help="row format (default: from the output's suffix, else csv)")
    dirs.add_argument("--resume", action="store_true",
                      help="append to --output, skipping the pairs it already holds")
    dirs.add_argument("--retry-errors", action="store_true",
                      help="with --resume: score the pairs of the error rows again")
    dirs.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    dirs.add_argument("--local", action="store_true",
                      help="add each pair's lowest local SSIM (min_ssim; computes the map)")
    dirs.add_argument("--worst", type=_non_negative_int, metavar="N",
                      help="worst pairs to list in the summary (default 5)")
    dirs.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                      help="show a progress bar on stderr (default: when stderr is a terminal)")


def _add_ssim_options(compare):
    ssim = compare.add_argument_group("SSIM options (as structural_similarity)")
    ssim.add_argument("--win-size", type=_odd_int, metavar="N",
                      help="odd side of the window (default 7; 11 with --gaussian)")
    ssim.add_argument("--gaussian", action="store_true",
                      help="Gaussian window (gaussian_weights=True)")
    ssim.add_argument("--sigma", type=_positive_float, default=1.5,
                      help="Gaussian sigma (default 1.5)")
    ranges = ssim.add_mutually_exclusive_group()
    ranges.add_argument("--data-range", type=_positive_float, metavar="R",
                        help="value range (default: from the dtype, e.g. 255 for 8-bit, 65535 "
                             "for 16-bit; required for floating point images)")
    ranges.add_argument("--bits", type=_positive_int, metavar="N",
                        help="the data's bit depth, e.g. 12 for 12-bit data in 16-bit files: "
                             "data range 2**N - 1 (bits= of the API)")
    ssim.add_argument("--population-covariance", action="store_true",
                      help="use_sample_covariance=False (as Wang et al. and most peers)")
    ssim.add_argument("--k1", type=_positive_float, default=0.01, help="K1 (default 0.01)")
    ssim.add_argument("--k2", type=_positive_float, default=0.03, help="K2 (default 0.03)")
    ssim.add_argument("--gray", action="store_true",
                      help="turn colour images into luma (ITU-R 601) before comparing")
    ssim.add_argument("--workers", type=_workers, metavar="N",
                      help="threads (default: all cores)")


def _add_limits(compare):
    limits = compare.add_argument_group(
        "limits (checked from each file's header, before decoding it)")
    limits.add_argument("--max-pixels", type=_non_negative_int, metavar="N", default=MAX_PIXELS,
                        help=f"refuse images of more pixels (all pages of a volume; default "
                             f"{MAX_PIXELS:,}, as Pillow; 0: no limit)")
    limits.add_argument("--max-pages", type=_non_negative_int, metavar="N", default=MAX_PAGES,
                        help=f"refuse TIFF files of more pages (default {MAX_PAGES}; 0: no limit)")


def _odd_int(text):
    value = _int(text)
    if value < 1 or value % 2 == 0:
        raise argparse.ArgumentTypeError(f"must be an odd integer of at least 1, got {text}")
    return value


def _non_negative_int(text):
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def _positive_int(text):
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {text}")
    return value


def _workers(text):
    value = _int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be a positive number of threads or -1 for all")
    return value


def _int(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return value


def _options(args):
    """structural_similarity keywords from the command line."""
    options = dict(gaussian_weights=args.gaussian, use_sample_covariance=not args.population_covariance,
                   K1=args.k1, K2=args.k2)
    if args.gaussian:
        options["sigma"] = args.sigma
    if args.win_size is not None:
        options["win_size"] = args.win_size
    if args.data_range is not None:
        options["data_range"] = args.data_range
    if args.bits is not None:
        options["bits"] = args.bits
    if args.preset is not None:
        options["preset"] = args.preset
        if args.preset == "ffmpeg":  # FFmpeg's fixed definition: none of the above
            options = {k: v for k, v in options.items() if k in ("bits", "data_range", "preset")
                       or _DEFAULT_OPTIONS.get(k, v) != v}
    return options


_DEFAULT_OPTIONS = {"gaussian_weights": False, "use_sample_covariance": True, "K1": 0.01,
                    "K2": 0.03}


def _range_note(args, a, b, pair=True):
    """The warning for a data range taken from a dtype wider than 8 bits, or None.
    `pair`: name the bits this pair's values fit in (a directory run gives one
    note for all its pairs instead)."""
    dtype = a.array.dtype
    if args.data_range is not None or args.bits is not None or dtype.kind not in "iu" or \
            dtype == np.uint8:
        return None
    info = np.iinfo(dtype)
    note = (f"the data range is taken from the {dtype} dtype: {info.max - info.min}")
    high = max(int(a.array.max(initial=0)), int(b.array.max(initial=0))) if pair else 0
    held = max(high, 1).bit_length()
    if pair and dtype.kind == "u" and held < info.bits:
        note += (f", but the values go up to {high} only (they fit in {held} bits): if the data "
                 f"are {held}-bit, pass --bits {held}")
    else:
        note += ": if the data hold fewer bits (such as 10 or 12), pass --bits N"
    return note + ", or --data-range R (SSIM's constants scale with the range)"


# ---------------------------------------------------------------- sample and two files

def _run_sample(args):
    from ssimfast._report import report
    from ssimfast._sample import sample_pair

    reference, distorted = sample_pair()
    result = report(reference, distorted, k=2, box=48)
    if args.json:
        print(json.dumps(finite({"sample": True, **result.to_dict()}), indent=2,
                         allow_nan=False))
    else:
        print(f"ssimfast {__version__}: built-in sample pair, {reference.shape[0]}x"
              f"{reference.shape[1]} uint8 (noise everywhere, one flattened block)")
        print(result)
    _save_heatmap(result, args.heatmap, reference, distorted, args.json)
    return EXIT_OK


def _save_heatmap(result, path, im1, im2, quiet):
    try:
        with open(path, "wb"):  # a path that cannot be opened: a usage error
            pass
    except OSError as exc:
        raise UsageError(f"cannot write the heatmap to {escape_name(path)}: "
                         f"{exc.strerror or exc}") from None
    try:
        result.save_heatmap(path, im1, im2)
    except OSError as exc:  # a full disk, an I/O error
        raise OutputError(f"cannot write the heatmap to {escape_name(path)}: "
                          f"{exc.strerror or exc}") from None
    # After JSON, stdout stays JSON only.
    print(f"heatmap: {path} (the inputs, the SSIM map with the worst regions boxed, a colour bar)",
          file=sys.stderr if quiet else sys.stdout)


def _run_compare(args):
    a_dir, b_dir = os.path.isdir(args.a), os.path.isdir(args.b)
    for path in (args.a, args.b):
        if not os.path.exists(path):
            raise InputError(f"{path}: no such file or directory")
    if a_dir != b_dir:
        raise UsageError(f"compare takes two files or two directories; {args.a} is a "
                         f"{'directory' if a_dir else 'file'} but {args.b} is a "
                         f"{'directory' if b_dir else 'file'}")
    if not (a_dir or b_dir) and is_video_pair(args):
        return _run_video_pair(args)
    if a_dir:
        try:
            check_image_usage(args, directories=True)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        return _run_directories(args)
    for name in ("output", "resume", "format", "local", "overwrite", "worst"):
        if getattr(args, name) not in (None, False):
            raise UsageError(f"--{name} is for comparing directories; {args.a} and {args.b} "
                             "are files")
    return _run_files(args)


def _run_video_pair(args):
    try:
        return run_videos(args, _Progress, _StopFlag)
    except VideoInputError as exc:
        raise InputError(str(exc)) from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _limits(args):
    return Limits(max_pixels=args.max_pixels, max_pages=args.max_pages)


def _load_pair(path_a, path_b, gray, limits):
    """Both images, checked to be comparable; InputError names both files."""
    try:
        a, b = read_image(path_a, gray, limits), read_image(path_b, gray, limits)
    except ImageReadError as exc:
        raise InputError(escape_name(str(exc))) from None
    shown = f"{escape_name(path_a)} is {_describe(a)} but {escape_name(path_b)} is {_describe(b)}"
    if a.array.shape != b.array.shape or a.colour != b.colour:
        hint = " (use --gray to compare a colour image with a gray one)" if (
            a.colour != b.colour and not gray) else ""
        raise InputError(f"{shown}: SSIM compares images of the same size{hint}")
    if a.array.dtype != b.array.dtype:
        raise InputError(f"{shown}: their bit depths (or sample types) differ, so no one data "
                         "range fits both; convert one of them to the other's depth first")
    return a, b


def _describe(loaded):
    """'256 rows x 512 columns RGB uint8': sizes in the report's (row, column) order."""
    from ssimfast._positions import size as _size

    shape = loaded.array.shape
    spatial = shape[:-1] if loaded.colour else shape
    kind = {1: "gray", 3: "RGB"}.get(shape[-1], f"{shape[-1]}-channel") if loaded.colour else "gray"
    size = _size(spatial[-2:]) if len(spatial) >= 2 else str(shape)
    pages = f"{'x'.join(str(n) for n in spatial[:-2])} pages of " if len(spatial) > 2 else ""
    return f"{pages}{size} {kind} {loaded.array.dtype}"


def _score_options(args, loaded, workers):
    options = _options(args)
    if loaded.colour:
        options["channel_axis"] = -1
    options["workers"] = workers
    return options


def _run_files(args):
    from ssimfast._report import report

    try:
        check_image_usage(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    a, b = _load_pair(args.a, args.b, args.gray, _limits(args))
    options = _score_options(args, a, args.workers)
    note = _range_note(args, a, b)
    if note:
        _err(f"warning: {note}")
    try:
        result = report(a.array, b.array, k=3 if args.regions is None else args.regions,
                        **options)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{args.a}, {args.b}: {exc}") from None
    except MemoryError as exc:
        raise InputError(f"{args.a}, {args.b}: out of memory while scoring ({exc})") from None
    extra = image_psnr(args, a.array, b.array)
    if args.json:
        print(json.dumps(finite({"file1": escape_name(args.a), "file2": escape_name(args.b),
                                  **result.to_dict(), **extra}), indent=2, allow_nan=False))
    else:
        print(f"{escape_name(args.a)} vs {escape_name(args.b)}: {_describe(a)}")
        print(result)
        if extra:
            print(f"PSNR:               {extra['psnr']:.2f} dB")
    if args.heatmap:
        _save_heatmap(result, args.heatmap, a.array, b.array, args.json)
    return EXIT_OK


# ---------------------------------------------------------------- two directories

def _image_files(root, unreadable):
    """Relative paths of the image files under `root`, '/'-separated; the folders
    that cannot be listed are appended to `unreadable` (path, reason)."""
    found = set()

    def failed(exc):
        unreadable.append((exc.filename or root, exc.strerror or str(exc)))

    for folder, dirs, names in os.walk(root, onerror=failed):
        dirs.sort()
        rel = os.path.relpath(folder, root)
        for name in names:
            if is_image_file(name) and not name.startswith("."):
                found.add(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/"))
    return found


def _run_directories(args):
    fmt = args.format or ("jsonl" if (args.output or "").lower().endswith((".jsonl", ".ndjson"))
                          else "csv")
    for name in ("json", "heatmap", "regions"):
        if getattr(args, name) not in (None, False):
            raise UsageError(f"--{name} is for comparing two files; {args.a} and {args.b} are "
                             "directories (each row holds a pair's scores)")
    if args.resume and not args.output:
        raise UsageError("--resume needs --output: the file whose rows are kept")
    if args.retry_errors and not args.resume:
        raise UsageError("--retry-errors goes with --resume: it scores the error rows of "
                         "--output again")
    if args.resume and args.overwrite:
        raise UsageError("pass --resume or --overwrite, not both")
    if args.output and os.path.exists(args.output) and not (args.resume or args.overwrite):
        raise UsageError(f"{args.output} exists: pass --resume to continue it or --overwrite "
                         "to replace it")
    unreadable = []
    in_a, in_b = _image_files(args.a, unreadable), _image_files(args.b, unreadable)
    for folder, reason in unreadable:
        _err(f"cannot read the folder {escape_name(folder)}: {reason} (its files are not "
             "compared)")
    pairs = sorted(in_a & in_b)
    only_a, only_b = sorted(in_a - in_b), sorted(in_b - in_a)
    if not pairs:
        raise InputError(f"no pairs: none of the {len(in_a)} image files in {args.a} has a "
                         f"partner with the same relative path among the {len(in_b)} in {args.b}")
    mode = "resume" if args.resume else "overwrite" if args.overwrite else "new"
    try:
        rows = Rows(args.output, fmt, mode, _recorded_options(args, fmt), args.retry_errors)
    except RowsError as exc:
        raise UsageError(str(exc)) from None
    todo = [p for p in pairs if escape_name(p) not in rows.done]
    _keep_freed_memory()
    workers = min(len(todo) or 1, _pool_size(args.workers))
    stop = _StopFlag()
    progress = _Progress(len(todo), args.progress)
    started = time.perf_counter()
    scored = 0
    notes = set()
    try:
        with stop.installed(), concurrent.futures.ThreadPoolExecutor(workers) as pool:
            for row in _ordered(pool, lambda rel: _score_pair(rel, args), todo, 2 * workers + 2,
                                stop):
                note = row.pop("note")
                if note and note not in notes:
                    notes.add(note)
                    progress.clear()
                    _err(f"warning: {note}")
                rows.write(row)
                scored += 1
                progress.update(scored)
    finally:
        progress.close()
        rows.close()
    _summary(args, rows, scored, len(todo), len(pairs), only_a, only_b,
             time.perf_counter() - started, stop.stopped)
    if stop.stopped:
        return EXIT_INTERRUPTED
    return EXIT_INPUT if rows.errors or unreadable else EXIT_OK


def _recorded_options(args, fmt):
    """What the rows' scores depend on: recorded with the output, and a resume
    with other values is refused."""
    return {"format": fmt, "local": args.local, "gray": args.gray, "win_size": args.win_size,
            "gaussian": args.gaussian, "sigma": args.sigma if args.gaussian else None,
            "data_range": args.data_range, "bits": args.bits,
            "population_covariance": args.population_covariance, "k1": args.k1, "k2": args.k2}


def _keep_freed_memory():
    """Each pair allocates and frees a few MB (file bytes, decoded images, the
    kernel's buffers). glibc returns such blocks to the system at once (mmap,
    heap trimming), so every pair took page faults for them again: about 15% of
    the CPU time of a directory of 512x512 PNGs. Keep up to 64 MB of freed
    memory instead, unless the user tuned malloc."""
    if not sys.platform.startswith("linux") or "glibc.malloc" in os.environ.get(
            "GLIBC_TUNABLES", "") or any(k.startswith("MALLOC_") for k in os.environ):
        return
    import ctypes  # already imported by NumPy

    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(-1, 64 << 20)  # M_TRIM_THRESHOLD: free memory kept before trimming
        mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: smaller blocks come from the heap


def _pool_size(workers):
    cpus = _usable_cpus()
    if workers is None:
        return cpus
    return max(1, cpus + workers + 1) if workers < 0 else workers


def _ordered(pool, fn, items, ahead, stop):
    """fn(item) for each item in `pool`, yielded in order, at most `ahead` in flight;
    stops submitting once `stop` is set and drops the results not yet yielded."""
    pending = collections.deque()
    items = iter(items)
    try:
        while True:
            while len(pending) < ahead and not stop.stopped:
                item = next(items, None)
                if item is None:
                    break
                pending.append(pool.submit(fn, item))
            if not pending or stop.stopped:
                return
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()


def _score_pair(rel, args):
    """One row: the pair's scores, or the reason it could not be scored."""
    row = {"file": escape_name(rel), "ssim": None, "min_ssim": None, "error": None,
           "note": None}
    try:
        a, b = _load_pair(os.path.join(args.a, rel), os.path.join(args.b, rel), args.gray,
                          _limits(args))
        row["note"] = _range_note(args, a, b, pair=False)
        options = _score_options(args, a, 1)  # parallel over pairs, one thread each
        if args.local:
            from ssimfast._report import report

            result = report(a.array, b.array, k=0, percentiles=(), thresholds=(), **options)
            row["ssim"], row["min_ssim"] = result.mean, result.min
        else:
            row["ssim"] = float(structural_similarity(a.array, b.array, **options))
    except (InputError, ValueError, TypeError) as exc:
        row["error"] = escape_name(str(exc))
    except MemoryError as exc:
        row["error"] = escape_name(f"out of memory while scoring{': ' + str(exc) if str(exc) else ''}")
    except Exception as exc:  # noqa: BLE001 - a bug: an error row, the run goes on
        row["error"] = escape_name(f"internal error (please report it): {type(exc).__name__}: {exc}")
    return row


class _StopFlag:
    """Ctrl-C sets `stopped`, so that the run stops between two rows, never in
    the middle of writing one. A second Ctrl-C interrupts at once."""

    stopped = False

    def _handle(self, signum, frame):
        if self.stopped:
            raise KeyboardInterrupt
        self.stopped = True
        _err("stopping: dropping the pairs in progress (Ctrl-C again to abort)")

    @contextlib.contextmanager
    def installed(self):
        previous = signal.signal(signal.SIGINT, self._handle)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


class _Progress:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    def __init__(self, total, enabled):
        self.total = total
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.start = self.last = time.perf_counter()
        self.drawn = False

    def update(self, done):
        now = time.perf_counter()
        if not self.enabled or (now - self.last < 0.1 and done < self.total):
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        eta = (self.total - done) / rate if rate > 0 else 0
        width = 30
        filled = int(width * done / max(self.total, 1))
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} pairs "
                         f"{rate:.0f}/s, {eta:.0f} s left ")
        sys.stderr.flush()
        self.drawn = True

    def clear(self):
        """Leave the bar's line, so that a message starts on a line of its own."""
        if self.drawn:
            sys.stderr.write("\n")
            self.drawn = False

    def close(self):
        self.clear()
        sys.stderr.flush()


def _summary(args, rows, scored, todo, total, only_a, only_b, seconds, interrupted):
    out = sys.stderr
    resumed = total - todo
    line = f"scored {scored} pairs in {seconds:.1f} s"
    if resumed:
        line += f" ({resumed} already in {args.output})"
    print(line, file=out)
    if rows.scores:
        values = np.fromiter(rows.scores.values(), float)
        print(f"mean SSIM {values.mean():.4f} over {len(values)} pairs "
              f"(min {values.min():.4f}, median {np.median(values):.4f})", file=out)
        worst = sorted(rows.scores.items(), key=lambda kv: kv[1])[: 5 if args.worst is None
                                                                   else args.worst]
        if worst:
            print("lowest:", file=out)
            for rel, value in worst:
                print(f"  {value:.4f}  {rel}", file=out)
    if rows.errors:
        n = len(rows.errors)
        print(f"{n} pair{'s' * (n > 1)} could not be scored:", file=out)
        for rel, error in list(rows.errors.items())[:10]:
            print(f"  {rel}: {error}", file=out)
    if rows.errors and args.output and not args.retry_errors:
        print("(--resume --retry-errors scores the pairs of the error rows again)", file=out)
    for n, names, here, there in ((len(only_a), only_a, args.a, args.b),
                                  (len(only_b), only_b, args.b, args.a)):
        if n:
            shown = ", ".join(escape_name(name) for name in names[:10]) + (f", ... ({n - 10} more)" if n > 10 else "")
            print(f"{n} file{'s' * (n > 1)} in {here} without a partner in {there}: {shown}",
                  file=out)
    if args.output:
        print(f"rows: {args.output}", file=out)
    if interrupted:
        left = total - len(rows.done)
        again = ("run again with --resume to score the other" if args.output else
                 "write the rows to a file with --output to be able to resume; not scored:")
        print(f"interrupted: {len(rows.done)} of {total} pairs are in the output; {again} "
              f"{left}", file=out)

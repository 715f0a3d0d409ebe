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
import errno
import json
import math
import os
import signal
import sys
import time
import warnings

import numpy as np

from ssimfast import __version__
from ssimfast._cli_options import add_limit_arguments, add_metric_arguments, add_ssim_arguments, \
    api_to_options, non_negative_int, ssim_keywords
from ssimfast._depth import convert_depth
from ssimfast._images import (ImageReadError, Limits, Loaded, is_image_file, read_image,
                              special_file_kind, to_gray)
from ssimfast._outputs import OutputRefused, check_output, replacing
from ssimfast._psnr import peak_signal_noise_ratio
from ssimfast._rows import FIELDS, PSNR_FIELDS, OutputError, OutputLock, Rows, RowsError, \
    escape_name, finite, row_format
from ssimfast._structural_similarity import settings, structural_similarity
from ssimfast._threads import _usable_cpus
from ssimfast._video_cli import VideoInputError, add_video_arguments, check_image_usage, \
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
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.showwarning = _warning_printer()
            code = args.run(args)
            sys.stdout.flush()
            return code
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
        if exc.errno == errno.ENOMEM:  # mmap or a read of a large file: not the output
            _err(f"error: out of memory: {exc.strerror or exc}")
            return EXIT_INPUT
        _close_stdout_quietly()
        _err(f"error: cannot write the output: {exc.strerror or exc}")
        return EXIT_OUTPUT
    except Exception as exc:  # noqa: BLE001 - a bug: still a message, not a traceback
        _err(f"internal error (please report it): {type(exc).__name__}: {exc}")
        return EXIT_INTERNAL


def _warning_printer():
    """warnings.showwarning for the command: each message once, on stderr as it
    comes (before the report it concerns), in the command's option names."""
    seen = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = str(message)
        if text not in seen and not text.startswith(_DTYPE_RANGE_WARNING):
            seen.add(text)
            _err(f"warning: {api_to_options(text)}")
    return show


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
    parser.set_defaults(run=_run_sample, heatmap=SAMPLE_HEATMAP, json=False, overwrite=False)
    commands = parser.add_subparsers(title="commands", metavar="{compare,sample}")

    sample = commands.add_parser(
        "sample", help="score the built-in sample pair and write its heatmap (the default)")
    sample.add_argument("--heatmap", metavar="PNG", default=SAMPLE_HEATMAP,
                        help=f"where to write the heatmap (default: {SAMPLE_HEATMAP})")
    sample.add_argument("--json", action="store_true", help="print the report as JSON")
    sample.add_argument("--overwrite", action="store_true",
                        help="replace an existing --heatmap file (other than the default)")
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
    files.add_argument("--regions", type=non_negative_int, metavar="K",
                       help="worst regions to report (default 3)")
    _add_directory_options(compare)
    add_video_arguments(compare)
    add_metric_arguments(compare)
    add_ssim_arguments(compare)
    add_limit_arguments(compare)
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
    dirs.add_argument("--overwrite", action="store_true",
                      help="replace an existing --output or --heatmap (never an input)")
    dirs.add_argument("--local", action="store_true",
                      help="add each pair's lowest local SSIM (min_ssim; computes the map)")
    dirs.add_argument("--worst", type=non_negative_int, metavar="N",
                      help="worst pairs to list in the summary (default 5)")
    dirs.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                      help="show a progress bar on stderr (default: when stderr is a terminal)")


def _options(args):
    """structural_similarity keywords from the command line: those given."""
    options = ssim_keywords(args)
    if args.bits is not None and not args.depth:  # (with --depth: the values' bits)
        options["bits"] = args.bits
    if args.preset is not None:
        options["preset"] = args.preset
    return options


def _range_note(args, a, b, pair=True):
    """The warning for a data range taken from a dtype wider than 8 bits, or None.
    `pair`: name the bits this pair's values fit in (a directory run gives one
    note for all its pairs instead)."""
    dtype = a.array.dtype
    if args.data_range is not None or args.bits is not None or args.depth or \
            dtype.kind not in "iu" or dtype == np.uint8:
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

    if args.heatmap != SAMPLE_HEATMAP:  # the default: the sample's own picture, replaced
        _check_heatmap(args.heatmap, (), args.overwrite)
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


def _check_heatmap(path, inputs, overwrite):
    """Before any work: a heatmap path that may be written (UsageError if not)."""
    try:
        check_output("--heatmap", path, inputs, overwrite, label="the heatmap to")
    except OutputRefused as exc:
        raise UsageError(str(exc)) from None


def _save_heatmap(result, path, im1, im2, quiet):
    try:
        with replacing(path) as tmp:
            result.save_heatmap(tmp, im1, im2)
    except OSError as exc:  # a full disk, an I/O error
        raise OutputError(f"cannot write the heatmap to {escape_name(path)}: "
                          f"{exc.strerror or exc}") from None
    # After JSON, stdout stays JSON only.
    print(f"heatmap: {escape_name(path)} (the inputs, the SSIM map with the worst regions boxed, "
          "a colour bar)",
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
    kind = None
    for path in () if a_dir else (args.a, args.b):  # before anything opens them
        with contextlib.suppress(OSError):  # (the reader says why it cannot)
            kind = special_file_kind(os.stat(path).st_mode)
        if kind:
            raise InputError(f"cannot read {path}: {kind}, not a regular file: skipped "
                             "without opening it")
    if not (a_dir or b_dir) and is_video_pair(args):
        return _run_video_pair(args)
    if not a_dir:
        for name in ("output", "resume", "format", "local", "worst"):
            if getattr(args, name) not in (None, False):
                raise UsageError(f"--{name} is for comparing directories; {args.a} and "
                                 f"{args.b} are files")
    try:
        check_image_usage(args)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return _run_directories(args) if a_dir else _run_files(args)


def _run_video_pair(args):
    try:
        return run_videos(args, _Progress, _StopFlag)
    except VideoInputError as exc:
        raise InputError(str(exc)) from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _limits(args):
    return Limits(max_pixels=args.max_pixels, max_pages=args.max_pages)


def _load_pair(path_a, path_b, args):
    """Both images, checked to be comparable, and what --depth converted (a
    note for the report, or None); InputError names the files."""
    a, b = (_load(path, args) for path in (path_a, path_b))
    converted = []
    if args.depth:
        converted = [f"{escape_name(path)} from {im.array.dtype}" + (
                     f" ({_source_bits(im, args)}-bit values)" if _source_bits(im, args) <
                     im.array.dtype.itemsize * 8 else "") for path, im in ((path_a, a), (path_b, b))
                     if _source_bits(im, args) != args.depth]
        a, b = (_to_depth(path, im, args) for path, im in ((path_a, a), (path_b, b)))
    if args.gray:  # after --depth: both files' luma rounded at the same depth
        a, b = (Loaded(to_gray(im.array), False) if im.colour else im for im in (a, b))
    shown = f"{escape_name(path_a)} is {_describe(a)} but {escape_name(path_b)} is {_describe(b)}"
    if a.array.shape != b.array.shape or a.colour != b.colour:
        hint = " (use --gray to compare a colour image with a gray one)" if (
            a.colour != b.colour and not args.gray) else ""
        raise InputError(f"{shown}: SSIM compares images of the same size{hint}")
    if a.array.dtype != b.array.dtype:
        fix = ("pass --depth 8 to compare both as 8-bit images (or --depth 16)"
               if a.array.dtype.kind == b.array.dtype.kind == "u" else
               "convert one of them to the other's depth first")
        raise InputError(f"{shown}: their bit depths (or sample types) differ, so no one data "
                         f"range fits both; {fix}")
    note = f"--depth {args.depth} converted {' and '.join(converted)}" if converted else None
    return a, b, note


def _load(path, args):
    try:
        return read_image(path, False, _limits(args))
    except ImageReadError as exc:
        raise InputError(escape_name(str(exc))) from None


def _source_bits(loaded, args):
    width = loaded.array.dtype.itemsize * 8
    return min(args.bits, width) if args.bits else width


def _to_depth(path, loaded, args):
    array = loaded.array
    if args.bits is None and array.dtype.kind == "u" and array.dtype.itemsize > 1:
        held = max(int(array.max(initial=0)), 1).bit_length()
        if held < array.dtype.itemsize * 8:  # (warnings: one line per distinct text)
            warnings.warn(f"--depth {args.depth} converts {array.dtype} images as "
                          f"{array.dtype.itemsize * 8}-bit data, but values of some fit in "
                          f"{held} bits: if the data are {held}-bit, pass --bits {held} too")
    try:
        return loaded._replace(array=convert_depth(array, args.depth, args.bits))
    except ValueError as exc:
        raise InputError(f"{escape_name(path)}: {exc}") from None


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


def _psnr(im1, im2, options):
    """PSNR with the SSIM's data range (--data-range, --bits, a preset's or the
    dtype's: what settings() says the SSIM used); inf for identical images, as
    scikit-image and FFmpeg give, without NumPy's divide-by-zero warning."""
    data_range = settings(im1, im2, **options)["data_range"]
    with np.errstate(divide="ignore"):
        return float(peak_signal_noise_ratio(im1, im2, data_range=data_range,
                                             workers=options.get("workers")))


def _run_files(args):
    from ssimfast._report import report

    if args.heatmap:
        _check_heatmap(args.heatmap, (args.a, args.b), args.overwrite)
    a, b, converted = _load_pair(args.a, args.b, args)
    options = _score_options(args, a, args.workers)
    note = _range_note(args, a, b)
    if note:
        _err(f"warning: {note}")
    extra = {"depth": args.depth} if args.depth else {}
    try:
        result = report(a.array, b.array, k=3 if args.regions is None else args.regions,
                        **options)
        if args.psnr:
            extra["psnr"] = _psnr(a.array, b.array, options)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{escape_name(args.a)}, {escape_name(args.b)}: "
                         f"{api_to_options(str(exc))}") from None
    except MemoryError as exc:
        raise InputError(f"{args.a}, {args.b}: out of memory while scoring ({exc})") from None
    if args.json:
        print(json.dumps(finite({"file1": escape_name(args.a), "file2": escape_name(args.b),
                                  **result.to_dict(), **extra}), indent=2, allow_nan=False))
    else:
        print(f"{escape_name(args.a)} vs {escape_name(args.b)}: {_describe(a)}"
              + (f"; {converted}" if converted else ""))
        print(result)
        if args.psnr:
            print(f"PSNR:               {extra['psnr']:.2f} dB"
                  + (" (identical images)" if extra["psnr"] == math.inf else ""))
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
    fmt = row_format(args.format, args.output)
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
    lock = _lock_output(args)
    try:
        pairs, only_a, only_b, unreadable = _pairs(args)
        mode = "resume" if args.resume else "overwrite" if args.overwrite else "new"
        rows = Rows(args.output, fmt, mode, _recorded_options(args, fmt), args.retry_errors,
                    PSNR_FIELDS if args.psnr else FIELDS, lock=lock)
    except BaseException as exc:
        if lock is not None:
            lock.release()
        if isinstance(exc, RowsError):
            raise UsageError(str(exc)) from None
        raise
    todo = [p for p in pairs if escape_name(p) not in rows.done]
    _keep_freed_memory()
    workers = min(len(todo) or 1, _pool_size(args.workers))
    stop = _StopFlag()
    progress = _Progress(len(todo), args.progress)
    started = time.perf_counter()
    scored = 0
    notes = set()
    stop.on_abort = rows.abort
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


def _lock_output(args):
    """The output's lock (None without --output, or for a device), taken before
    the output is checked, so that two runs cannot both find it absent."""
    if not args.output:
        return None
    try:
        check_output("--output", args.output, (args.a, args.b), args.overwrite, appending=True,
                     label="")
    except OutputRefused as exc:
        raise UsageError(str(exc)) from None
    if os.path.lexists(args.output) and not os.path.isfile(args.output):
        return None  # /dev/null, a FIFO: nothing to lock
    try:
        lock = OutputLock(args.output)
    except RowsError as exc:
        raise UsageError(str(exc)) from None
    if os.path.exists(args.output) and not (args.resume or args.overwrite):
        lock.release()
        raise UsageError(f"{escape_name(args.output)} exists: pass --resume to continue it or "
                         "--overwrite to replace it")
    return lock


def _pairs(args):
    """The relative paths of the pairs, those in one folder only, and the
    folders that cannot be read (reported here)."""
    unreadable = []
    in_a, in_b = _image_files(args.a, unreadable), _image_files(args.b, unreadable)
    for folder, reason in unreadable:
        _err(f"cannot read the folder {escape_name(folder)}: {reason} (its files are not "
             "compared)")
    pairs = sorted(in_a & in_b)
    if not pairs:
        raise InputError(f"no pairs: none of the {len(in_a)} image files in {args.a} has a "
                         f"partner with the same relative path among the {len(in_b)} in {args.b}")
    return pairs, sorted(in_a - in_b), sorted(in_b - in_a), unreadable


def _recorded_options(args, fmt):
    """What the rows' scores depend on: recorded with the output, and a resume
    with other values is refused."""
    return {"format": fmt, "local": args.local, "gray": args.gray, "win_size": args.win_size,
            "gaussian": args.gaussian, "sigma": args.sigma if args.gaussian else None,
            "data_range": args.data_range, "bits": args.bits,
            "population_covariance": args.population_covariance, "k1": args.k1, "k2": args.k2,
            # Recorded only when given, so that the outputs of earlier versions,
            # whose records lack them, resume without them.
            **({"psnr": True} if args.psnr else {}),
            **({"depth": args.depth} if args.depth else {}),
            **({"preset": args.preset} if args.preset is not None else {})}


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
    row = {"file": escape_name(rel), "ssim": None, "min_ssim": None, "psnr": None,
           "error": None, "note": None}
    try:
        a, b, _ = _load_pair(os.path.join(args.a, rel), os.path.join(args.b, rel), args)
        row["note"] = _range_note(args, a, b, pair=False)
        options = _score_options(args, a, 1)  # parallel over pairs, one thread each
        if args.local:
            from ssimfast._report import report

            result = report(a.array, b.array, k=0, percentiles=(), thresholds=(), **options)
            row["ssim"], row["min_ssim"] = result.mean, result.min
        else:
            row["ssim"] = float(structural_similarity(a.array, b.array, **options))
        if args.psnr:
            row["psnr"] = _psnr(a.array, b.array, options)
    except InputError as exc:  # its message escapes the names already
        row["error"] = str(exc)
    except (ValueError, TypeError) as exc:
        row["error"] = escape_name(api_to_options(str(exc)))
    except MemoryError as exc:
        row["error"] = escape_name(f"out of memory while scoring{': ' + str(exc) if str(exc) else ''}")
    except Exception as exc:  # noqa: BLE001 - a bug: an error row, the run goes on
        row["error"] = escape_name(f"internal error (please report it): {type(exc).__name__}: {exc}")
    return row


class _StopFlag:
    """Ctrl-C sets `stopped`, so that the run stops between two rows, never in
    the middle of writing one. A second Ctrl-C ends the process at once (exit
    130), without waiting for the pairs in flight: `on_abort()` first puts the
    complete rows in place (the handler runs between two bytecodes of the main
    thread, which writes each row whole)."""

    stopped = False
    on_abort = None

    def _handle(self, signum, frame):
        if self.stopped:
            with contextlib.suppress(Exception):
                if self.on_abort is not None:
                    self.on_abort()
                sys.stdout.flush()
            _err("aborted")
            os._exit(EXIT_INTERRUPTED)
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


def _one_line(text):
    """`text` with its control characters as \\xNN: a file name in the summary
    cannot start a line of its own (and forge a score)."""
    return "".join(f"\\x{ord(c):02x}" if ord(c) < 0x20 or ord(c) == 0x7f else c for c in text)


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
                print(f"  {value:.4f}  {_one_line(rel)}", file=out)
    if rows.errors:
        n = len(rows.errors)
        print(f"{n} pair{'s' * (n > 1)} could not be scored:", file=out)
        for rel, error in list(rows.errors.items())[:10]:
            print(f"  {_one_line(rel)}: {_one_line(error)}", file=out)
    if rows.errors and args.output and not args.retry_errors:
        print("(--resume --retry-errors scores the pairs of the error rows again)", file=out)
    for n, names, here, there in ((len(only_a), only_a, args.a, args.b),
                                  (len(only_b), only_b, args.b, args.a)):
        if n:
            shown = ", ".join(_one_line(escape_name(name)) for name in names[:10]) + (f", ... ({n - 10} more)" if n > 10 else "")
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

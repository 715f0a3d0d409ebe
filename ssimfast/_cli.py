"""The `ssimfast` command (also `python -m ssimfast`).

    ssimfast                        score the built-in sample pair, write its heatmap
    ssimfast compare A B            two image files: the report (--json, --heatmap)
    ssimfast compare DIR_A DIR_B    every file pair with the same relative path:
                                    one row per pair (CSV or JSON Lines), a summary

Exit codes: 0 success; 1 bad input (a file that cannot be read, images of
different sizes, no pairs, any error row); 2 usage errors; 130 interrupted
(Ctrl-C stops a directory run cleanly: the rows written so far are complete,
and --resume continues). Messages go to stderr, without tracebacks.
"""
import argparse
import collections
import concurrent.futures
import contextlib
import csv
import io
import json
import math
import os
import signal
import sys
import time
import warnings

import numpy as np

from ssimfast import __version__
from ssimfast._images import ImageReadError, is_image_file, read_image
from ssimfast._structural_similarity import structural_similarity
from ssimfast._threads import _usable_cpus

__all__ = ["main"]

SAMPLE_HEATMAP = "ssimfast-sample.png"
FIELDS = ("file", "ssim", "min_ssim", "error")
EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class InputError(Exception):
    """Bad input: exit code 1."""


class UsageError(Exception):
    """A wrong command line: exit code 2."""


def main(argv=None):
    """Run the command with `argv` (default sys.argv[1:]); return the exit code."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                return args.run(args)
            finally:
                for message in dict.fromkeys(str(w.message) for w in caught):
                    _err(f"warning: {message}")
    except UsageError as exc:
        _err(f"error: {exc}")
        return EXIT_USAGE
    except InputError as exc:
        _err(f"error: {exc}")
        return EXIT_INPUT
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `ssimfast compare ... | head`
        sys.stderr.close()
        return EXIT_OK


def _err(text):
    print(f"ssimfast: {text}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the parser

def _parser():
    parser = argparse.ArgumentParser(
        prog="ssimfast",
        description="Structural similarity (SSIM) of images: the mean, and where they differ. "
                    "Without a command: score a built-in sample pair and write its heatmap.",
        epilog="exit codes: 0 success, 1 bad input, 2 usage error, 130 interrupted")
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
    dirs = compare.add_argument_group("two directories")
    dirs.add_argument("-o", "--output", metavar="FILE",
                      help="write rows to FILE (.csv or .jsonl); default: CSV on stdout")
    dirs.add_argument("--format", choices=("csv", "jsonl"),
                      help="row format (default: from the output's suffix, else csv)")
    dirs.add_argument("--resume", action="store_true",
                      help="append to --output, skipping the pairs it already holds")
    dirs.add_argument("--overwrite", action="store_true", help="replace an existing --output")
    dirs.add_argument("--local", action="store_true",
                      help="add each pair's lowest local SSIM (min_ssim; computes the map)")
    dirs.add_argument("--worst", type=_non_negative_int, metavar="N",
                      help="worst pairs to list in the summary (default 5)")
    dirs.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                      help="show a progress bar on stderr (default: when stderr is a terminal)")
    ssim = compare.add_argument_group("SSIM options (as structural_similarity)")
    ssim.add_argument("--win-size", type=_odd_int, metavar="N",
                      help="odd side of the window (default 7; 11 with --gaussian)")
    ssim.add_argument("--gaussian", action="store_true",
                      help="Gaussian window (gaussian_weights=True)")
    ssim.add_argument("--sigma", type=_positive_float, default=1.5,
                      help="Gaussian sigma (default 1.5)")
    ssim.add_argument("--data-range", type=_positive_float, metavar="R",
                      help="value range (default: from the dtype, e.g. 255 for 8-bit, 65535 for "
                           "16-bit; required for floating point images)")
    ssim.add_argument("--population-covariance", action="store_true",
                      help="use_sample_covariance=False (as Wang et al. and most peers)")
    ssim.add_argument("--k1", type=_positive_float, default=0.01, help="K1 (default 0.01)")
    ssim.add_argument("--k2", type=_positive_float, default=0.03, help="K2 (default 0.03)")
    ssim.add_argument("--gray", action="store_true",
                      help="turn colour images into luma (ITU-R 601) before comparing")
    ssim.add_argument("--workers", type=_workers, metavar="N",
                      help="threads (default: all cores)")
    compare.set_defaults(run=_run_compare)
    return parser


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
    return options


# ---------------------------------------------------------------- sample and two files

def _run_sample(args):
    from ssimfast._report import report
    from ssimfast._sample import sample_pair

    reference, distorted = sample_pair()
    result = report(reference, distorted, k=2, box=48)
    if args.json:
        print(json.dumps({"sample": True, **result.to_dict()}, indent=2))
    else:
        print(f"ssimfast {__version__}: built-in sample pair, {reference.shape[0]}x"
              f"{reference.shape[1]} uint8 (noise everywhere, one flattened block)")
        print(result)
    _save_heatmap(result, args.heatmap, reference, distorted, args.json)
    return EXIT_OK


def _save_heatmap(result, path, im1, im2, quiet):
    try:
        result.save_heatmap(path, im1, im2)
    except OSError as exc:
        raise UsageError(f"cannot write the heatmap to {path}: {exc.strerror or exc}") from None
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
    if a_dir:
        return _run_directories(args)
    for name in ("output", "resume", "format", "local", "overwrite", "worst"):
        if getattr(args, name) not in (None, False):
            raise UsageError(f"--{name} is for comparing directories; {args.a} and {args.b} "
                             "are files")
    return _run_files(args)


def _load_pair(path_a, path_b, gray):
    """Both images, checked to be comparable; InputError names both files."""
    try:
        a, b = read_image(path_a, gray), read_image(path_b, gray)
    except ImageReadError as exc:
        raise InputError(str(exc)) from None
    if a.array.shape != b.array.shape or a.colour != b.colour:
        hint = " (use --gray to compare a colour image with a gray one)" if (
            a.colour != b.colour and not gray) else ""
        raise InputError(f"{path_a} is {_describe(a)} but {path_b} is {_describe(b)}: SSIM "
                         f"compares images of the same size{hint}")
    return a, b


def _describe(loaded):
    shape = loaded.array.shape
    spatial = shape[:-1] if loaded.colour else shape
    kind = {1: "gray", 3: "RGB"}.get(shape[-1], f"{shape[-1]}-channel") if loaded.colour else "gray"
    size = "x".join(str(n) for n in (spatial[-1], spatial[-2])) if len(spatial) >= 2 else str(shape)
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

    a, b = _load_pair(args.a, args.b, args.gray)
    options = _score_options(args, a, args.workers)
    try:
        result = report(a.array, b.array, k=3 if args.regions is None else args.regions,
                        **options)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{args.a}, {args.b}: {exc}") from None
    if args.json:
        print(json.dumps({"file1": args.a, "file2": args.b, **result.to_dict()}, indent=2))
    else:
        print(f"{args.a} vs {args.b}: {_describe(a)}")
        print(result)
    if args.heatmap:
        _save_heatmap(result, args.heatmap, a.array, b.array, args.json)
    return EXIT_OK


# ---------------------------------------------------------------- two directories

def _image_files(root):
    """Relative paths of the image files under `root`, '/'-separated."""
    found = set()
    for folder, dirs, names in os.walk(root):
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
    if args.output and os.path.exists(args.output) and not (args.resume or args.overwrite):
        raise UsageError(f"{args.output} exists: pass --resume to continue it or --overwrite "
                         "to replace it")
    in_a, in_b = _image_files(args.a), _image_files(args.b)
    pairs = sorted(in_a & in_b)
    only_a, only_b = sorted(in_a - in_b), sorted(in_b - in_a)
    if not pairs:
        raise InputError(f"no pairs: none of the {len(in_a)} image files in {args.a} has a "
                         f"partner with the same relative path among the {len(in_b)} in {args.b}")
    rows = Rows(args.output, fmt, resume=args.resume)
    todo = [p for p in pairs if p not in rows.done]
    _keep_freed_memory()
    workers = min(len(todo) or 1, _pool_size(args.workers))
    stop = _StopFlag()
    progress = _Progress(len(todo), args.progress)
    started = time.perf_counter()
    scored = 0
    try:
        with stop.installed(), concurrent.futures.ThreadPoolExecutor(workers) as pool:
            for row in _ordered(pool, lambda rel: _score_pair(rel, args), todo, 2 * workers + 2,
                                stop):
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
    return EXIT_INPUT if rows.errors else EXIT_OK


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
    row = {"file": rel, "ssim": None, "min_ssim": None, "error": None}
    try:
        a, b = _load_pair(os.path.join(args.a, rel), os.path.join(args.b, rel), args.gray)
        options = _score_options(args, a, 1)  # parallel over pairs, one thread each
        if args.local:
            from ssimfast._report import report

            result = report(a.array, b.array, k=0, percentiles=(), thresholds=(), **options)
            row["ssim"], row["min_ssim"] = result.mean, result.min
        else:
            row["ssim"] = float(structural_similarity(a.array, b.array, **options))
    except (InputError, ValueError, TypeError, MemoryError) as exc:
        row["error"] = str(exc)
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


class Rows:
    """The output rows: CSV or JSON Lines, flushed row by row. With `resume`, the
    rows already in the file are read (a last line cut short is dropped) and new
    rows are appended."""

    def __init__(self, path, fmt, resume):
        self.fmt, self.path = fmt, path
        self.scores, self.errors = {}, {}
        self.done = set()
        if path is None:
            self.file = sys.stdout
        else:
            existing = self._read_existing(path) if resume and os.path.exists(path) else None
            try:
                self.file = open(path, "a" if existing is not None else "w", newline="",
                                 encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
        if fmt == "csv":
            self.csv = csv.DictWriter(self.file, FIELDS, lineterminator="\n")
            if path is None or self.file.tell() == 0:
                self.csv.writeheader()
                self.file.flush()

    def _read_existing(self, path):
        with open(path, "rb") as f:
            data = f.read()
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) != len(data):  # a row cut short by a crash: drop it
            with open(path, "r+b") as f:
                f.truncate(len(complete))
        text = complete.decode("utf-8")
        try:
            if self.fmt == "csv":
                reader = csv.DictReader(io.StringIO(text))
                if text and tuple(reader.fieldnames or ()) != FIELDS:
                    raise UsageError(f"{path} is not a ssimfast CSV file (columns "
                                     f"{reader.fieldnames}, expected {list(FIELDS)})")
                rows = list(reader)
            else:
                rows = [json.loads(line) for line in text.splitlines() if line.strip()]
            for row in rows:
                self._count(row["file"], row.get("ssim"), row.get("error"))
        except (ValueError, KeyError, TypeError):
            raise UsageError(f"cannot resume {path}: it is not a {self.fmt} file of "
                             "ssimfast rows (check --format)") from None
        return rows

    def _count(self, rel, ssim, error):
        self.done.add(rel)
        if error:
            self.errors[rel] = error
        elif ssim not in (None, ""):
            self.scores[rel] = float(ssim)

    def write(self, row):
        if self.fmt == "csv":
            self.csv.writerow({k: ("" if v is None else repr(v) if isinstance(v, float) else v)
                               for k, v in row.items()})
        else:
            self.file.write(json.dumps(row) + "\n")
        self.file.flush()
        self._count(row["file"], row["ssim"], row["error"])

    def close(self):
        if self.file is not sys.stdout:
            self.file.close()


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

    def close(self):
        if self.drawn:
            sys.stderr.write("\n")
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
    for n, names, here, there in ((len(only_a), only_a, args.a, args.b),
                                  (len(only_b), only_b, args.b, args.a)):
        if n:
            shown = ", ".join(names[:10]) + (f", ... ({n - 10} more)" if n > 10 else "")
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

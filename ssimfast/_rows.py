"""The rows of a directory run (CSV or JSON Lines), written so that they always
parse, and continued by --resume without harming a file.

- The columns: `file,ssim,min_ssim,error`; with --psnr, `file,ssim,min_ssim,psnr,error`.
- Text fields are always quoted in CSV (a `\\r`, a newline, a quote or a comma in
  a file name cannot break a row or forge one); a score that is not a finite
  number (NaN; the infinite PSNR of identical images) is written as an empty
  field in CSV and `null` in JSON.
- File names are text: a name's UTF-8 is written as is, a backslash as `\\\\` and
  each byte that is not UTF-8 as `\\xNN` (`unescape_name` gives the bytes back).
- `--resume` reads the file under a lock (`OUTPUT.lock`: one run at a time
  writes an output), checks that it is ssimfast's (the header, every row, and
  the options record `OUTPUT.options.json` written beside it) before changing a
  byte, refuses other options than the file was written with, and drops a last
  row cut short by a crash (also when the cut falls inside a quoted field).
  Error rows stay done unless `--retry-errors`; rows that failed for lack of
  memory (the machine's state, not the pair's) are always scored again.
"""
import contextlib
import csv
import json
import math
import os
import re
import sys

from ssimfast._atomic import replacing

__all__ = ["FIELDS", "PSNR_FIELDS", "Rows", "RowsError", "OutputError", "OutputLock",
           "escape_name", "finite", "row_format", "unescape_name"]

FIELDS = ("file", "ssim", "min_ssim", "error")
PSNR_FIELDS = ("file", "ssim", "min_ssim", "psnr", "error")  # with --psnr
OPTIONS_SUFFIX = ".options.json"
LOCK_SUFFIX = ".lock"
OUT_OF_MEMORY = "out of memory"  # in an error row: scored again by --resume


class RowsError(Exception):
    """The output cannot be used as asked (a usage error: exit code 2)."""


class OutputError(Exception):
    """Writing the output failed (full disk, I/O error): exit code 3."""


def escape_name(name):
    """`name` (a str from os.fsdecode, which holds bytes that are not UTF-8 as
    lone surrogates) as text that always encodes: see the module docstring."""
    if "\\" not in name:
        try:
            name.encode("utf-8")
            return name
        except UnicodeEncodeError:
            pass
    out = []
    for ch in name:
        if ch == "\\":
            out.append("\\\\")
        elif "\udc80" <= ch <= "\udcff":
            out.append(f"\\x{ord(ch) - 0xdc00:02x}")
        else:
            out.append(ch)
    return "".join(out)


def unescape_name(text):
    """The bytes of the file name that `escape_name` wrote as `text`."""
    return re.sub(rb"\\(\\|x[0-9a-f]{2})",
                  lambda m: b"\\" if m[1] == b"\\" else bytes([int(m[1][1:], 16)]),
                  text.encode("utf-8"))


def row_format(fmt, output):
    """--format, else from the output's suffix (any case): JSON Lines for
    .jsonl and .ndjson, CSV otherwise (also on stdout)."""
    return fmt or ("jsonl" if (output or "").lower().endswith((".jsonl", ".ndjson")) else "csv")


def _number(value):
    """A score for the output: a float, or None when there is none or it is NaN."""
    return None if value is None or not math.isfinite(value) else float(value)


def finite(value):
    """`value` (a report's dict) with NaN and infinities as None: JSON has no NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def _numbers(fields):
    """The score columns: every field but the file name and the error."""
    return [k for k in fields if k not in ("file", "error")]


def _json_row(row, fields):
    return json.dumps({k: (row[k] if k in ("file", "error") else _number(row[k]))
                       for k in fields}, allow_nan=False)


class Rows:
    """The output rows: CSV or JSON Lines on `path` (None: stdout), flushed row
    by row. `mode`: "new", "overwrite" or "resume". `options`: what the scores
    depend on, recorded beside the file and compared on resume. With
    `retry_errors`, a resume drops the error rows and scores those pairs again.
    `fields`: the columns (FIELDS, or PSNR_FIELDS with --psnr)."""

    def __init__(self, path, fmt, mode, options, retry_errors=False, fields=FIELDS, lock=None):
        self.fmt, self.path, self.options, self.fields = fmt, path, options, tuple(fields)
        self.header = ",".join(self.fields) + "\n"
        self.scores, self.errors = {}, {}
        self.done = set()
        self.lock = lock  # an OutputLock the caller took (released by close), or None
        if path is None:
            self.file = sys.stdout
            self._start_csv(new=True)
            return
        if os.path.isdir(path):
            raise RowsError(f"{path} is a directory: --output takes a file name")
        if mode == "resume" and not os.path.exists(path):
            mode = "new"
        folder = os.path.dirname(path) or "."
        if not os.path.isdir(folder):
            raise RowsError(f"cannot write {path}: no such directory: {folder}")
        regular = not os.path.exists(path) or os.path.isfile(path)
        if regular and self.lock is None:
            self.lock = OutputLock(path)
        try:
            if mode == "resume":
                if not regular:
                    raise RowsError(f"cannot resume {path}: not a regular file")
                self._resume(path, retry_errors)
                self.file = self._open(path, "a")
            else:
                self.file = self._open(path, "w")
                if regular:
                    self._write_options(path)
            self._start_csv(new=mode != "resume")
        except BaseException:
            self._unlock()
            raise

    # ------------------------------------------------------------ opening

    def _unlock(self):
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def _open(self, path, mode):
        try:
            return open(path, mode, newline="", encoding="utf-8")
        except OSError as exc:
            raise RowsError(f"cannot write {path}: {exc.strerror or exc}") from None

    def _start_csv(self, new):
        if self.fmt == "csv":
            self.csv = csv.writer(self.file, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")
            if new:
                self._put(self.header)

    def _write_options(self, path):
        record = {"ssimfast_rows": 1, "format": self.fmt, "options": self.options}
        try:
            # Replaced whole: a crash never leaves a record that --resume cannot read.
            with replacing(path + OPTIONS_SUFFIX) as tmp, open(tmp, "w", encoding="utf-8") as f:
                json.dump(record, f, indent=1, sort_keys=True)
                f.write("\n")
        except OSError as exc:
            raise OutputError(f"cannot write {path}{OPTIONS_SUFFIX}: "
                              f"{exc.strerror or exc}") from None

    # ------------------------------------------------------------ resuming

    def _resume(self, path, retry_errors):
        """Check that `path` is ours and was written with these options, then
        drop a row cut short (and with `retry_errors`, the error rows)."""
        kind = "CSV" if self.fmt == "csv" else "JSON Lines"
        not_ours = (f"cannot resume {path}: it is not a ssimfast {kind} file with its options "
                    "record (check --format; or pass --overwrite to replace it)")
        try:
            with open(path + OPTIONS_SUFFIX, encoding="utf-8") as f:
                record = json.load(f)
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise RowsError(f"{not_ours}: {path}{OPTIONS_SUFFIX} is missing") from None
        except (OSError, ValueError) as exc:
            raise RowsError(f"{not_ours}: {getattr(exc, 'strerror', None) or exc}") from None
        if not isinstance(record, dict) or record.get("ssimfast_rows") != 1 or \
                record.get("format") != self.fmt:
            raise RowsError(not_ours)
        if record.get("options") != self.options:
            raise RowsError(f"cannot resume {path}: it was written with other options "
                            f"({_differences(record.get('options'), self.options)}); resume "
                            "with the same options, or pass --overwrite to start again")
        try:
            rows, end = (_csv_rows if self.fmt == "csv" else _jsonl_rows)(data, self.fields)
        except ValueError as exc:
            raise RowsError(f"{not_ours}: {exc}") from None
        # Out of memory is the machine's state, not the pair's: always scored again.
        keep = [r for r in rows if not r["error"] or not (
            retry_errors or OUT_OF_MEMORY in r["error"])]
        if len(keep) != len(rows):  # rewrite without the error rows, atomically
            self._rewrite(path, keep)
        elif end != len(data):  # a last row cut short by a crash: drop it
            try:
                with open(path, "r+b") as f:
                    f.truncate(end)
            except OSError as exc:
                raise RowsError(f"cannot resume {path}: {exc.strerror or exc}") from None
        for row in keep:
            self._count(row["file"], row["ssim"], row["error"])

    def _rewrite(self, path, rows):
        # Through a symlink to its target, keeping the file's mode.
        target = os.path.realpath(path)
        tmp = f"{target}.tmp{os.getpid()}"
        try:
            mode = os.stat(target).st_mode & 0o7777
            with open(tmp, "w", newline="", encoding="utf-8") as f:
                self.file = f
                self._start_csv(new=True)
                for row in rows:
                    self._write(row)
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise OutputError(f"cannot rewrite {path}: {exc.strerror or exc}") from None

    # ------------------------------------------------------------ writing

    def write(self, row):
        self._write(row)
        try:
            self.file.flush()
        except OSError as exc:
            raise self._failed(exc) from None
        self._count(row["file"], row["ssim"], row["error"])

    def _write(self, row):
        try:
            if self.fmt == "csv":
                self.csv.writerow([row["file"], *(_number(row[k]) for k in _numbers(self.fields)),
                                   row["error"]])
            else:
                self.file.write(_json_row(row, self.fields) + "\n")
        except OSError as exc:
            raise self._failed(exc) from None

    def _put(self, text):
        try:
            self.file.write(text)
            self.file.flush()
        except OSError as exc:
            raise self._failed(exc) from None

    def _failed(self, exc):
        if isinstance(exc, BrokenPipeError) and self.path is None:
            return exc  # `| head`: the reader has what it wanted (a quiet exit)
        file = getattr(self, "file", None)
        if file is not None and file is not sys.stdout:
            # The output is dead (a full disk): close its descriptor without
            # flushing, so that nothing tries to flush the buffer again when the
            # file object is collected (Python 3.13 reports that as a traceback).
            with contextlib.suppress(Exception):
                file.buffer.raw.close()
        where = self.path or "standard output"
        again = (" (the rows written so far are kept: run again with --resume)"
                 if self.path else "")
        return OutputError(f"cannot write {where}: {exc.strerror or exc}{again}")

    def _count(self, rel, ssim, error):
        self.done.add(rel)
        if error:
            self.errors[rel] = error
        elif ssim not in (None, "") and math.isfinite(float(ssim)):
            self.scores[rel] = float(ssim)

    def abort(self):
        """Write what is buffered and release the lock: the process ends now (a
        second Ctrl-C)."""
        try:
            self.file.flush()
        finally:
            self._unlock()

    def close(self):
        """Close the output; an OutputError if what was buffered cannot be written."""
        try:
            if self.file is not sys.stdout:
                try:
                    self.file.close()
                except OSError as exc:
                    raise self._failed(exc) from None
        finally:
            self._unlock()


class OutputLock:
    """`PATH.lock`, held from before the output is checked until its last row:
    one run at a time writes an output. RowsError if another run holds it.

    The lock file is removed on release when this run created it, while the
    lock is still held. That is safe because every run checks, once it holds
    the lock, that the file it locked still has that name (a run that opened
    the file just before another removed it takes a new one instead of
    sharing); without filelock's descriptor to check, the file stays."""

    def __init__(self, path):
        try:
            from filelock import FileLock, Timeout
        except ImportError:
            raise RowsError("writing --output needs filelock (one run at a time writes a "
                            "file): pip install 'ssimfast[cli]'") from None
        self.path = path + LOCK_SUFFIX
        self.created = not os.path.lexists(self.path)
        for _ in range(100):  # another run removed the file we locked: lock the new one
            self.lock = FileLock(self.path, timeout=0)
            try:
                self.lock.acquire()
            except Timeout:
                raise RowsError(f"another ssimfast run is writing {path} (it holds "
                                f"{self.path}); wait for it to finish") from None
            except OSError as exc:
                raise RowsError(f"cannot lock {self.path}: {exc.strerror or exc}") from None
            if self._named() is not False:
                return
            self.lock.release()
        raise RowsError(f"cannot lock {self.path}: it keeps being replaced")

    def _named(self):
        """Whether the locked file is still `self.path` (None: cannot tell)."""
        fd = getattr(getattr(self.lock, "_context", None), "lock_file_fd", None)
        if not isinstance(fd, int):
            return None
        try:
            return os.path.samestat(os.fstat(fd), os.stat(self.path))
        except OSError:
            return False

    def release(self):
        if self.created and self._named():
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        self.lock.release()


def _differences(old, new):
    if not isinstance(old, dict):
        return "no options recorded"
    keys = sorted(set(old) | set(new))
    shown = lambda d, k: repr(d[k]) if k in d else "not given"  # noqa: E731
    return ", ".join(f"{k}: {shown(old, k)} then, {shown(new, k)} now"
                     for k in keys if old.get(k) != new.get(k))


def _check_row(row, fields):
    if not isinstance(row.get("file"), str) or not isinstance(row.get("error"), (str, type(None))):
        raise ValueError(f"a row without a file name: {row!r}")
    for key in _numbers(fields):
        value = row.get(key)
        if value in ("", None):
            row[key] = None
        elif isinstance(value, str):
            row[key] = float(value)
        elif not isinstance(value, (int, float)) or isinstance(value, bool):
            raise ValueError(f"a row whose {key} is not a number: {row!r}")
    row["error"] = row["error"] or None
    return row


def _csv_rows(data, fields):
    """The complete rows of a ssimfast CSV file of these columns and the byte
    offset where they end (a last row cut short, even inside a quoted field,
    lies beyond it). ValueError if the file is not ssimfast's."""
    header = ",".join(fields) + "\n"
    if not data.startswith(header.encode()):
        raise ValueError(f"its first line is not {header.strip()!r}")
    text = data.decode("utf-8", "surrogateescape")
    lines = text[len(header):].split("\n")
    lines = [line + "\n" for line in lines[:-1]]  # the last piece has no newline: cut
    consumed = len(header)
    complete = consumed

    def feed():
        nonlocal consumed
        for line in lines:
            consumed += len(line)
            yield line

    rows = []
    reader = csv.reader(feed(), strict=True)
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            if consumed == len(header) + sum(map(len, lines)):
                break  # the end of the file inside a quoted field: a cut row
            raise ValueError(f"a malformed row ({exc})") from None
        if len(record) != len(fields):
            raise ValueError(f"a row of {len(record)} fields: {record!r}")
        rows.append(_check_row(dict(zip(fields, record)), fields))
        complete = consumed
    end = len(text[:complete].encode("utf-8", "surrogateescape"))
    try:
        data[:end].decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("it is not UTF-8 text") from None
    return rows, end


def _jsonl_rows(data, fields):
    """As _csv_rows for JSON Lines (a string holds no raw newline)."""
    end = data.rfind(b"\n") + 1
    try:
        text = data[:end].decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("it is not UTF-8 text") from None
    rows = []
    for line in text.split("\n")[:-1]:
        row = json.loads(line)
        if not isinstance(row, dict) or set(row) != set(fields):
            raise ValueError(f"a line that is not a row of {list(fields)}")
        rows.append(_check_row(row, fields))
    return rows, end

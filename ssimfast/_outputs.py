"""Where `ssimfast compare` writes: each output path checked before any work,
and files written through a temporary file in the same folder.

- An output that is one of the inputs (the same file: through a symlink or a
  hard link too) is always refused, even with --overwrite: the readers map the
  inputs, and truncating a mapped file kills the process (SIGBUS) and loses it.
- An existing regular file is refused without --overwrite. Devices and FIFOs
  (/dev/null, /dev/stdout, a pipe) are written in place: there is no file to lose.
- Files are written through `replacing(path)` (see _atomic): a temporary file
  beside `path`, renamed over it at the end.
"""
import os
import stat

from ssimfast._atomic import Replacement, replacing, stat_or_none
from ssimfast._images import is_image_file
from ssimfast._rows import escape_name

__all__ = ["OutputRefused", "Replacement", "check_output", "replacing"]


class OutputRefused(ValueError):
    """An output that must not be written (a usage error: exit code 2)."""


def _inside(path, folder):
    """Whether `path` (resolved) lies in `folder` (resolved)."""
    real, root = os.path.realpath(path), os.path.realpath(folder)
    return os.path.commonpath([real, root]) == root


def check_output(option, path, inputs, overwrite, appending=False, label=None):
    """OutputRefused if `path` (the value of `option`) is one of `inputs` (files,
    or folders of image files), a directory, in no folder, or an existing file
    without `overwrite` (or `appending`, for --resume). `label`: how a message
    names the output (default: the option)."""
    shown = f"{option} {escape_name(path)}"
    found = stat_or_none(path)
    folder = os.path.dirname(path) or "."
    if found is None and not os.path.isdir(folder):
        named = option if label is None else label
        raise OutputRefused(f"cannot write {named + ' ' if named else ''}{escape_name(path)}: "
                            f"no such directory: {escape_name(folder)}")
    if found is not None and stat.S_ISDIR(found.st_mode):
        raise OutputRefused(f"{shown} is a directory: {option} takes a file name")
    for given in inputs:
        given_stat = stat_or_none(given)
        if found is not None and given_stat is not None and os.path.samestat(found, given_stat):
            raise OutputRefused(f"{shown} is one of the inputs ({escape_name(given)}): "
                                "refusing to write over it, even with --overwrite")
        if given_stat is not None and stat.S_ISDIR(given_stat.st_mode) and \
                is_image_file(os.path.basename(path)) and _inside(path, given):
            raise OutputRefused(f"{shown} is an image in the input folder {escape_name(given)}: "
                                "refusing to write it, even with --overwrite")
    if found is not None and stat.S_ISREG(found.st_mode) and not (overwrite or appending):
        raise OutputRefused(f"{shown} exists: pass --overwrite to replace it")

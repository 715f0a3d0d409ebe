"""Files written through a temporary file in the same folder, renamed over
the real name at the end: a crash leaves the old file or the new one, never
half of one (the command's outputs, heatmaps, rows and options records)."""
import contextlib
import os
import stat
import tempfile

__all__ = ["Replacement", "replacing", "stat_or_none"]


def stat_or_none(path):
    """os.stat(path), or None where there is nothing to stat."""
    with contextlib.suppress(OSError, ValueError):
        return os.stat(path)
    return None


def _regular_or_new(path):
    found = stat_or_none(path)
    return found is None or stat.S_ISREG(found.st_mode)


class Replacement:
    """A temporary file (`tmp`) in the folder of `path`, with its suffix, to be
    renamed over `path` by commit() or removed by discard(). A symlink is
    replaced through its target, whose mode the new file keeps. For a device
    or a FIFO, `tmp` is `path` itself. OSError if the folder is not writable."""

    def __init__(self, path):
        self.path = path
        self.target = None
        if not _regular_or_new(path):
            self.tmp = path
            return
        self.target = os.path.realpath(path)
        folder, name = os.path.split(self.target)
        fd, self.tmp = tempfile.mkstemp(prefix=f".{name}.", dir=folder,
                                        suffix=os.path.splitext(name)[1] + ".tmp")
        os.close(fd)

    def commit(self):
        if self.target is None:
            return
        try:
            old = stat_or_none(self.target)
            os.chmod(self.tmp, stat.S_IMODE(old.st_mode) if old is not None
                     else 0o666 & ~_umask())
            os.replace(self.tmp, self.target)
        except BaseException:
            self.discard()
            raise
        self.target = None

    def discard(self):
        if self.target is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.tmp)
            self.target = None


@contextlib.contextmanager
def replacing(path):
    """Yield the path to write instead of `path` (a Replacement's): renamed over
    `path` when the block ends without an exception, removed otherwise."""
    replacement = Replacement(path)
    try:
        yield replacement.tmp
    except BaseException:
        replacement.discard()
        raise
    replacement.commit()


def _umask():
    mask = os.umask(0o022)
    os.umask(mask)
    return mask

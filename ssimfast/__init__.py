"""ssimfast: a fast, exact, compiled drop-in for skimage.metrics.structural_similarity."""
import importlib
import os
import sys

# `python -m ssimfast` (runpy sets argv[0] to "-m" while it imports the package):
# the command does no linear algebra, and the threads OpenBLAS starts when NumPy
# loads spin for about 0.1 s on the cores the command's workers need. One
# thread, unless the user chose.
if sys.argv[:1] == ["-m"]:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# The command (`python -m ssimfast`, the `ssimfast` script): Ctrl-C while it loads
# ends it at once, without a traceback; its main() takes Ctrl-C over once it runs.
if os.path.basename(sys.argv[0]) == "ssimfast" or " -m ssimfast " in " ".join(
        getattr(sys, "orig_argv", [])[:6]) + " ":
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)

from ssimfast._extension import kernels as _kernels  # noqa: F401  (fails loudly if not built)
from ssimfast._structural_similarity import structural_similarity
from ssimfast._version import __version__

ssim = structural_similarity

# The rest is imported on first use (PEP 562): the command line, which starts a
# new Python for every run, needs none of it to score a directory.
_LAZY = {"show_config": "_config", "bench": "_bench", "ssim_batch": "_batch",
         "ms_ssim": "_msssim", "PRESETS": "_presets", "settings": "_structural_similarity",
         "open_memmap": "_tiles", "ssim_tiled": "_tiles", "SSIMReport": "_report",
         "report": "_report", "mean_squared_error": "_psnr",
         "peak_signal_noise_ratio": "_psnr", "video_ssim": "_video_ssim",
         "open_video": "_video"}

__all__ = ["structural_similarity", "ssim", "ms_ssim", "settings", "PRESETS", "ssim_batch", "ssim_tiled", "open_memmap", "report", "SSIMReport", "show_config", "bench",
           "mean_squared_error", "peak_signal_noise_ratio", "video_ssim", "open_video",
           "__version__"]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'ssimfast' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ssimfast.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

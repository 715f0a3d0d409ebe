"""show_config(): what this build of ssimfast is and how it will run."""
import platform
import sys

import numpy as np

from ssimfast._extension import kernels, variants
from ssimfast._version import __version__


def show_config(file=None):
    """Print the version, the build's OpenMP and CPU tuning, the kernels in use and the default thread count.

    Parameters
    ----------
    file : file-like, optional
        Where to print; standard output by default.
    """
    lines = [
        f"ssimfast {__version__}",
        f"  compiled extension: {kernels.__file__}",
        f"  built with OpenMP: {'yes' if kernels.openmp_enabled() else 'no (serial kernels)'}",
        "  built for this CPU (-march=native): "
        + ("yes" if kernels.native_build() else "no (portable build)"),
        f"  kernels in use: {kernels.target()} (runnable here: {', '.join(variants())})",
        f"  default threads (workers=None): {max(1, kernels.max_threads())}",
        f"  numpy {np.__version__}, Python {platform.python_version()} on {sys.platform}",
    ]
    print("\n".join(lines), file=file)

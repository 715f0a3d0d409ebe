"""Load the compiled kernels, or fail with a message that says how to build them."""
import importlib
import os

try:
    kernels = importlib.import_module("ssimfast._ssim_cy")
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test
    folder = os.path.dirname(os.path.abspath(__file__))
    raise ImportError(
        f"ssimfast's compiled extension (ssimfast._ssim_cy) is not built or cannot be "
        f"loaded from {folder}: {exc}.\n"
        "From a source checkout, build it with `python -m pip install -e .` "
        "(or `python setup.py build_ext --inplace`). If you installed ssimfast with "
        "`pip install .`, start Python outside the source folder, so that the "
        "installed copy is imported instead of the unbuilt sources."
    ) from exc

__all__ = ["kernels"]

"""Load the compiled kernels, or fail with a message that says how to build them.

A portable x86-64 build holds the kernels three times: ``_ssim_cy`` for any
CPU, ``_ssim_avx2`` and ``_ssim_avx512``. All compute the same bits (FMA
contraction is off in each); the wider ones are faster. The environment
variable ``SSIMFAST_KERNELS`` picks one by name ('baseline', 'avx2', 'avx512');
by default ssimfast takes the fastest that this CPU runs. A native build
(``SSIMFAST_NATIVE=1 pip install .``, -march=native) holds only ``_ssim_cy``.
"""
import importlib
import importlib.util
import os

__all__ = ["kernels", "variants"]

_FOLDER = os.path.dirname(os.path.abspath(__file__))

try:
    _baseline = importlib.import_module("ssimfast._ssim_cy")
except ImportError as exc:  # pragma: no cover - exercised by a subprocess test
    raise ImportError(
        f"ssimfast's compiled extension (ssimfast._ssim_cy) is not built or cannot be "
        f"loaded from {_FOLDER}: {exc}.\n"
        "From a source checkout, build it with `python -m pip install -e .` "
        "(or `python setup.py build_ext --inplace`). If you installed ssimfast with "
        "`pip install .`, start Python outside the source folder, so that the "
        "installed copy is imported instead of the unbuilt sources."
    ) from exc


# Slowest first.
_X86_VARIANTS = ("avx2", "avx512")


def variants():
    """{target name: kernel module}, slowest first, for every kernel build that runs here."""
    found = {_baseline.target(): _baseline}
    if _baseline.native_build():
        return found
    for name in _X86_VARIANTS:
        if not _baseline.cpu_supports(name):
            continue
        if importlib.util.find_spec(f"ssimfast._ssim_{name}") is None:
            continue  # not built: not x86-64, or the compiler lacks the flags
        # Built and supported: a failure to load is a broken install, so it raises.
        found[name] = importlib.import_module(f"ssimfast._ssim_{name}")
    return found


def _choose():
    found = variants()
    wanted = os.environ.get("SSIMFAST_KERNELS", "").strip().lower()
    if not wanted or wanted == "auto":
        return list(found.values())[-1]
    if wanted not in found:
        raise ImportError(
            f"SSIMFAST_KERNELS={wanted!r}, but this build and CPU offer only "
            f"{sorted(found)}; unset it to let ssimfast choose."
        )
    return found[wanted]


kernels = _choose()

"""ssimfast: a fast, exact, compiled drop-in for skimage.metrics.structural_similarity."""
from ssimfast._extension import kernels as _kernels  # noqa: F401  (fails loudly if not built)
from ssimfast._config import show_config
from ssimfast._bench import bench
from ssimfast._ssim import structural_similarity
from ssimfast._batch import ssim_batch
from ssimfast._msssim import ms_ssim
from ssimfast._presets import PRESETS, settings
from ssimfast._tiles import open_memmap, ssim_tiled
from ssimfast._report import SSIMReport, report
from ssimfast._version import __version__

ssim = structural_similarity

__all__ = ["structural_similarity", "ssim", "ms_ssim", "settings", "PRESETS", "ssim_batch", "ssim_tiled", "open_memmap", "report", "SSIMReport", "show_config", "bench",
           "__version__"]

# Types of ssimfast's public API. The functions live in private modules and are
# partly imported on first use (see __init__.py), so the types are declared here,
# in one place. tests/test_stubs.py checks that every signature below matches
# the function it describes (names, kinds and defaults), so the two cannot drift;
# tests/typed/usage.py is checked with mypy --strict.
#
# The mean is a NumPy scalar: numpy.float64, or numpy.float32 with channel_axis
# and float16/float32 input (as scikit-image), hence np.floating. `full` and
# `gradient` decide the shape of the result, hence the overloads.
import os
from collections.abc import Callable, Mapping, Sequence
from typing import IO, Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

__version__: str

_Mean = np.floating[Any]
_Map = NDArray[np.floating[Any]]
_NanPolicy = Literal["propagate", "omit", "raise"]
_Preset = Literal["skimage", "matlab", "matlab_index", "pytorch", "ffmpeg"]

@overload
def structural_similarity(
    im1: ArrayLike, im2: ArrayLike, *, win_size: int | None = None,
    gradient: Literal[False] = False, data_range: float | None = None,
    channel_axis: int | None = None, gaussian_weights: bool = False,
    full: Literal[False] = False, workers: int | None = None, preset: _Preset = "skimage",
    bits: int | None = None, mask: ArrayLike | None = None,
    nan_policy: _NanPolicy = "propagate", min_valid: float = 0.5, **kwargs: Any,
) -> _Mean: ...
@overload
def structural_similarity(
    im1: ArrayLike, im2: ArrayLike, *, win_size: int | None = None,
    gradient: Literal[False] = False, data_range: float | None = None,
    channel_axis: int | None = None, gaussian_weights: bool = False,
    full: Literal[True], workers: int | None = None, preset: _Preset = "skimage",
    bits: int | None = None, mask: ArrayLike | None = None,
    nan_policy: _NanPolicy = "propagate", min_valid: float = 0.5, **kwargs: Any,
) -> tuple[_Mean, _Map]: ...
@overload
def structural_similarity(
    im1: ArrayLike, im2: ArrayLike, *, win_size: int | None = None,
    gradient: Literal[True], data_range: float | None = None,
    channel_axis: int | None = None, gaussian_weights: bool = False,
    full: Literal[False] = False, workers: int | None = None, preset: _Preset = "skimage",
    bits: int | None = None, mask: ArrayLike | None = None,
    nan_policy: _NanPolicy = "propagate", min_valid: float = 0.5, **kwargs: Any,
) -> tuple[_Mean, _Map]: ...
@overload
def structural_similarity(
    im1: ArrayLike, im2: ArrayLike, *, win_size: int | None = None,
    gradient: Literal[True], data_range: float | None = None,
    channel_axis: int | None = None, gaussian_weights: bool = False,
    full: Literal[True], workers: int | None = None, preset: _Preset = "skimage",
    bits: int | None = None, mask: ArrayLike | None = None,
    nan_policy: _NanPolicy = "propagate", min_valid: float = 0.5, **kwargs: Any,
) -> tuple[_Mean, _Map, _Map]: ...
@overload
def structural_similarity(
    im1: ArrayLike, im2: ArrayLike, *, win_size: int | None = None,
    gradient: bool = False, data_range: float | None = None,
    channel_axis: int | None = None, gaussian_weights: bool = False,
    full: bool = False, workers: int | None = None, preset: _Preset = "skimage",
    bits: int | None = None, mask: ArrayLike | None = None,
    nan_policy: _NanPolicy = "propagate", min_valid: float = 0.5, **kwargs: Any,
) -> _Mean | tuple[_Mean, _Map] | tuple[_Mean, _Map, _Map]: ...

ssim = structural_similarity

def ms_ssim(
    im1: ArrayLike, im2: ArrayLike, *, data_range: float | None = None, bits: int | None = None,
    weights: Sequence[float] | None = None, scales: int | None = None,
    channel_axis: int | None = None, win_size: int = 11, sigma: float = 1.5,
    K1: float = 0.01, K2: float = 0.03, workers: int | None = None,
) -> np.float64: ...
def settings(
    im1: ArrayLike, im2: ArrayLike, *, win_size: int | None = None, gradient: bool = False,
    data_range: float | None = None, channel_axis: int | None = None,
    gaussian_weights: bool = False, full: bool = False, workers: int | None = None,
    preset: _Preset = "skimage", bits: int | None = None, mask: ArrayLike | None = None,
    nan_policy: _NanPolicy = "propagate", min_valid: float = 0.5, **kwargs: Any,
) -> dict[str, Any]: ...

PRESETS: Mapping[str, Any]

_Images = NDArray[Any] | Sequence[ArrayLike]
_Scores = NDArray[np.float64]

@overload
def ssim_batch(
    ims1: _Images, ims2: _Images, *, win_size: int | None = None,
    data_range: float | None = None, channel_axis: int | None = None,
    gaussian_weights: bool = False, full: Literal[False] = False,
    gradient: Literal[False] = False, workers: int | None = None,
    progress: Callable[[int, int], object] | None = None, **kwargs: Any,
) -> _Scores: ...
@overload
def ssim_batch(
    ims1: _Images, ims2: _Images, *, win_size: int | None = None,
    data_range: float | None = None, channel_axis: int | None = None,
    gaussian_weights: bool = False, full: Literal[True],
    gradient: Literal[False] = False, workers: int | None = None,
    progress: Callable[[int, int], object] | None = None, **kwargs: Any,
) -> tuple[_Scores, list[_Map]]: ...
@overload
def ssim_batch(
    ims1: _Images, ims2: _Images, *, win_size: int | None = None,
    data_range: float | None = None, channel_axis: int | None = None,
    gaussian_weights: bool = False, full: Literal[False] = False,
    gradient: Literal[True], workers: int | None = None,
    progress: Callable[[int, int], object] | None = None, **kwargs: Any,
) -> tuple[_Scores, list[_Map]]: ...
@overload
def ssim_batch(
    ims1: _Images, ims2: _Images, *, win_size: int | None = None,
    data_range: float | None = None, channel_axis: int | None = None,
    gaussian_weights: bool = False, full: Literal[True],
    gradient: Literal[True], workers: int | None = None,
    progress: Callable[[int, int], object] | None = None, **kwargs: Any,
) -> tuple[_Scores, list[_Map], list[_Map]]: ...
@overload
def ssim_batch(
    ims1: _Images, ims2: _Images, *, win_size: int | None = None,
    data_range: float | None = None, channel_axis: int | None = None,
    gaussian_weights: bool = False, full: bool = False,
    gradient: bool = False, workers: int | None = None,
    progress: Callable[[int, int], object] | None = None, **kwargs: Any,
) -> _Scores | tuple[_Scores, list[_Map]] | tuple[_Scores, list[_Map], list[_Map]]: ...

def ssim_tiled(
    im1: Any, im2: Any, *, win_size: int | None = None, data_range: float | None = None,
    channel_axis: int | None = None, gaussian_weights: bool = False,
    workers: int | None = None, tile: int | None = None, map_out: Any = None, **kwargs: Any,
) -> _Mean: ...
def open_memmap(
    path: str | os.PathLike[str], shape: int | Sequence[int], dtype: DTypeLike, *,
    offset: int = 0, mode: Literal["r", "r+", "c"] = "r",
) -> np.memmap[Any, np.dtype[Any]]: ...

class _Region:
    # ssimfast._report.Region at runtime (not exported): the items of SSIMReport.worst.

    start: tuple[int, ...]
    stop: tuple[int, ...]
    mean: float
    def __init__(self, start: tuple[int, ...], stop: tuple[int, ...], mean: float) -> None: ...

class SSIMReport:
    mean: float
    min: float
    argmin: tuple[int, ...]
    percentiles: dict[float, float]
    fraction_below: dict[float, float]
    worst: list[_Region]
    band: str
    caveat: str
    ssim_map: NDArray[np.floating[Any]]
    def __init__(
        self, mean: float, min: float, argmin: tuple[int, ...], percentiles: dict[float, float],
        fraction_below: dict[float, float], worst: list[_Region], band: str, caveat: str,
        ssim_map: NDArray[np.floating[Any]],
    ) -> None: ...
    def to_dict(self) -> dict[str, Any]: ...
    def heatmap(self, im1: ArrayLike | None = None, im2: ArrayLike | None = None,
                max_side: int = 1024) -> NDArray[np.uint8]: ...
    def save_heatmap(self, path: str | os.PathLike[str], im1: ArrayLike | None = None,
                     im2: ArrayLike | None = None, max_side: int = 1024) -> None: ...

def report(
    im1: ArrayLike, im2: ArrayLike, *, thresholds: Sequence[float] = (0.5, 0.7, 0.9),
    percentiles: Sequence[float] = (1, 5, 50), k: int = 3, box: int | None = None,
    **options: Any,
) -> SSIMReport: ...
def show_config(file: IO[str] | None = None) -> None: ...
def bench(
    sizes: Sequence[tuple[int, int]] = ((512, 512), (2160, 3840)), repeat: int = 5,
    file: IO[str] | None = None,
) -> list[dict[str, Any]]: ...
def mean_squared_error(
    image0: ArrayLike, image1: ArrayLike, *, workers: int | None = None,
) -> np.float64: ...
def peak_signal_noise_ratio(
    image_true: ArrayLike, image_test: ArrayLike, *, data_range: float | None = None,
    workers: int | None = None,
) -> np.float64: ...
# The video reader and the per-video scores are classes of private modules
# (ssimfast._video.VideoReader, ssimfast._video_ssim.VideoScores), not exported.
def open_video(
    path: str | os.PathLike[str], *, size: tuple[int, int] | None = None,
    pix_fmt: str | None = None, frame_rate: float | None = None,
) -> Any: ...
def video_ssim(
    ref: Any, dist: Any, *, preset: _Preset | None = None, psnr: bool = False,
    frames: int | None = None, shortest: bool = False, offset: int = 0,
    workers: int | None = None, progress: Callable[..., Any] | None = None,
    bits: int | None = None, size: tuple[int, int] | None = None, pix_fmt: str | None = None,
    frame_rate: float | None = None, **ssim_options: Any,
) -> Any: ...

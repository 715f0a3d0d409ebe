"""Reference presets of structural_similarity (``preset=``): rows of data.

A preset names a reference implementation and fixes the settings that make it
that reference: the window, the covariance normalisation and (``"matlab"``)
the downsampling. The resolver (ssimfast._plan) applies a row; there is no
other code path per preset. Adding a preset is adding a row here and its
reference test. Keywords that set one of the fixed settings may be passed only
with the preset's value, since any other value would no longer reproduce the
reference; the references' own parameters (data_range, K1, K2) stay open.

The one step a row can name, ssim.m's F x F box downsampling, runs here on
the kernels (``box_downsample``), for the executor.
"""
import types
import typing

import numpy as np

from ssimfast._checks import slice_at_axis
from ssimfast._extension import kernels

__all__ = ["PRESETS", "Preset", "lookup", "box_downsample"]


class Preset(typing.NamedTuple):
    """What a preset reproduces and the settings it fixes."""

    reference: str
    fixed: typing.Mapping  # keyword -> value the preset needs
    defaults: typing.Mapping  # keyword -> value used when the caller does not pass it
    downsample: bool  # ssim.m's automatic F x F box downsampling
    map_region: str  # what full=True returns
    valid_map: bool = False  # full=True returns the windows inside the image only
    extras: bool = False  # gradient=, mask=, nan_policy= and min_valid= are defined
    definition: str = "gaussian-or-uniform"  # "ffmpeg": x264's block-sum SSIM (ssimfast._ffmpeg)


_WANG = types.MappingProxyType(
    {"win_size": 11, "gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False})
_WANG_DEFAULTS = types.MappingProxyType({"data_range": 255, "K1": 0.01, "K2": 0.03})
_NONE = types.MappingProxyType({})

# Read-only: {name: Preset}.
PRESETS = types.MappingProxyType({
    "skimage": Preset(
        "scikit-image 0.26 skimage.metrics.structural_similarity", _NONE, _NONE, False,
        "every pixel ('reflect' borders)", valid_map=False, extras=True),
    "matlab": Preset(
        "Zhou Wang's ssim.m (2009, automatic downsampling)", _WANG, _WANG_DEFAULTS, True,
        "windows inside the downsampled image ('valid')", valid_map=True),
    "matlab_index": Preset(
        "Zhou Wang's ssim_index.m (2003)", _WANG, _WANG_DEFAULTS, False,
        "windows inside the image ('valid')", valid_map=True),
    "pytorch": Preset(
        "pytorch-msssim ssim() and tf.image.ssim", _WANG, _WANG_DEFAULTS, False,
        "windows inside the image ('valid')", valid_map=True),
    # Not a window setting of the kernels: its own definition, resolved by
    # ssimfast._plan.resolve_ffmpeg and run by ssimfast._ffmpeg.
    "ffmpeg": Preset(
        "FFmpeg's ssim filter (libavfilter/vf_ssim.c, x264's SSIM)",
        types.MappingProxyType({"win_size": 8, "gaussian_weights": False, "K1": 0.01, "K2": 0.03}),
        _NONE, False, "float32, one value per 8x8 window on the 4-pixel grid: (H // 4 - 1, W // 4 - 1)",
        valid_map=True, definition="ffmpeg"),
})


def lookup(preset):
    """The row of a preset name (TypeError, ValueError for anything else)."""
    if not isinstance(preset, str):
        raise TypeError(f"preset must be a string, one of {sorted(PRESETS)}; got {preset!r}")
    try:
        return PRESETS[preset]
    except KeyError:
        raise ValueError(f"unknown preset {preset!r}; the presets are {sorted(PRESETS)}") from None


def box_downsample(im1, im2, F, channel_axis, n_threads, min_pixels_per_thread):
    """ssim.m's box downsampling of each channel of both images, as float64."""
    spatial = [n for ax, n in enumerate(im1.shape) if ax != channel_axis]
    h, w = (-(-spatial[0] // F), -(-spatial[1] // F))
    if im1.size < min_pixels_per_thread:
        n_threads = 1
    if channel_axis is None:
        out = np.empty((2, h, w))
        kernels.box_downsample_2d(im1, im2, F, out[0], out[1], n_threads)
        return out[0], out[1]
    channels = im1.shape[channel_axis]
    out = np.empty((2, channels, h, w))  # each channel contiguous, then moved back
    for ch in range(channels):
        at = slice_at_axis(ch, channel_axis)
        kernels.box_downsample_2d(im1[at], im2[at], F, out[0, ch], out[1, ch], n_threads)
    return np.moveaxis(out[0], 0, channel_axis), np.moveaxis(out[1], 0, channel_axis)

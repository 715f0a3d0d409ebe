"""Reference presets of structural_similarity (``preset=``) and settings(),
which says what a call computes.

A preset names a reference implementation and fixes the settings that make it
that reference: the window, the covariance normalisation and (``"matlab"``)
the downsampling. Keywords that set one of those may be passed only with the
preset's value, since any other value would no longer reproduce the
reference; the references' own parameters (data_range, K1, K2) stay open.
"""
import types
import typing
import warnings

import numpy as np

from ssimfast._extension import kernels
from ssimfast._ranges import bits_range, check_range
from ssimfast._ssim import (
    _MIN_PIXELS_PER_THREAD,
    _data_range,
    _score,
    _setup,
    _slice_at_axis,
)

__all__ = ["PRESETS", "Preset", "preset_ssim", "settings"]


class Preset(typing.NamedTuple):
    """What a preset reproduces and the settings it fixes."""

    reference: str
    fixed: typing.Mapping  # keyword -> value the preset needs
    defaults: typing.Mapping  # keyword -> value used when the caller does not pass it
    downsample: bool  # ssim.m's automatic F x F box downsampling
    map_region: str  # what full=True returns


_WANG = types.MappingProxyType(
    {"win_size": 11, "gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False})
_WANG_DEFAULTS = types.MappingProxyType({"data_range": 255, "K1": 0.01, "K2": 0.03})
_NONE = types.MappingProxyType({})

# Read-only: {name: Preset}.
PRESETS = types.MappingProxyType({
    "skimage": Preset(
        "scikit-image 0.26 skimage.metrics.structural_similarity", _NONE, _NONE, False,
        "every pixel ('reflect' borders)"),
    "matlab": Preset(
        "Zhou Wang's ssim.m (2009, automatic downsampling)", _WANG, _WANG_DEFAULTS, True,
        "windows inside the downsampled image ('valid')"),
    "matlab_index": Preset(
        "Zhou Wang's ssim_index.m (2003)", _WANG, _WANG_DEFAULTS, False,
        "windows inside the image ('valid')"),
    "pytorch": Preset(
        "pytorch-msssim ssim() and tf.image.ssim", _WANG, _WANG_DEFAULTS, False,
        "windows inside the image ('valid')"),
})

# The skimage defaults of the keywords a preset may fix: a keyword at its
# default counts as not given (gaussian_weights=False cannot be told apart).
_SIGNATURE_DEFAULTS = {"win_size": None, "gaussian_weights": False}


def _lookup(preset):
    if not isinstance(preset, str):
        raise TypeError(f"preset must be a string, one of {sorted(PRESETS)}; got {preset!r}")
    try:
        return PRESETS[preset]
    except KeyError:
        raise ValueError(f"unknown preset {preset!r}; the presets are {sorted(PRESETS)}") from None


def _apply(name, p, win_size, gaussian_weights, kwargs):
    """(win_size, gaussian_weights, kwargs for _setup) with the preset applied.
    ValueError for a keyword that contradicts it; kwargs is not modified."""
    given = {"win_size": win_size, "gaussian_weights": gaussian_weights}
    kwargs = dict(kwargs)
    for key, value in p.fixed.items():
        if key in given:
            current = given[key]
            passed = current is not None and current is not _SIGNATURE_DEFAULTS[key]
            given[key] = value
        else:
            current = kwargs.get(key)
            passed = key in kwargs
            kwargs[key] = value
        if passed and not _equal(current, value):
            raise ValueError(
                f"preset={name!r} fixes {key}={value!r} ({p.reference}), but {key}={current!r} "
                f"was passed; drop {key}, or use preset='skimage' to choose it freely"
            )
    for key, value in p.defaults.items():
        if key != "data_range":
            kwargs.setdefault(key, value)
    return given["win_size"], given["gaussian_weights"], kwargs


def _equal(a, b):
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # e.g. an array
        return False


def _factor(name, p, shape, channel_axis):
    """ssim.m's downsampling factor F = max(1, round(min(H, W) / 256)), with
    MATLAB's rounding (halves away from zero, not to even)."""
    if not p.downsample:
        return 1
    spatial = [n for ax, n in enumerate(shape) if ax != channel_axis]
    if len(spatial) != 2:
        raise ValueError(
            f"preset={name!r} (ssim.m) scores 2-D images; these have shape {shape} "
            f"with channel_axis={channel_axis}. Use preset='matlab_index' for other ranks."
        )
    return max(1, (min(spatial) + 128) // 256)


def _downsample(im1, im2, F, channel_axis, n_threads):
    """ssim.m's box downsampling of each channel of both images, as float64."""
    spatial = [n for ax, n in enumerate(im1.shape) if ax != channel_axis]
    h, w = (-(-spatial[0] // F), -(-spatial[1] // F))
    if im1.size < _MIN_PIXELS_PER_THREAD:
        n_threads = 1
    if channel_axis is None:
        out = np.empty((2, h, w))
        kernels.box_downsample_2d(im1, im2, F, out[0], out[1], n_threads)
        return out[0], out[1]
    channels = im1.shape[channel_axis]
    out = np.empty((2, channels, h, w))  # each channel contiguous, then moved back
    for ch in range(channels):
        at = _slice_at_axis(ch, channel_axis)
        kernels.box_downsample_2d(im1[at], im2[at], F, out[0, ch], out[1, ch], n_threads)
    return np.moveaxis(out[0], 0, channel_axis), np.moveaxis(out[1], 0, channel_axis)


class _Resolved(typing.NamedTuple):
    preset: Preset
    setup: typing.Any  # _ssim._Setup
    data_range: typing.Any
    range_source: str
    factor: int
    kwargs: dict


def _resolve(im1, im2, name, win_size, data_range, channel_axis, gaussian_weights,
             workers, bits, kwargs):
    """Every check and setting of a preset call, before any pixel is read."""
    p = _lookup(name)
    win_size, gaussian_weights, opts = _apply(name, p, win_size, gaussian_weights, kwargs)
    if bits is not None:
        data_range, source = bits_range(bits, data_range, im1.dtype, im2.dtype), f"bits={bits}"
    elif data_range is not None:
        source = "data_range"
    else:
        data_range, source = p.defaults["data_range"], f"preset {name!r}"
    # Validates shapes, options and the channel axis on the images as given.
    setup = _setup(im1.shape, im1.dtype, im2.shape, im2.dtype, win_size, data_range,
                   channel_axis, gaussian_weights, workers, dict(opts))
    # F > 1 only from min(H, W) = 384 on, so the downsampled images (192 or more
    # pixels a side) always hold the window.
    factor = _factor(name, p, im1.shape, setup.channel_axis)
    return _Resolved(p, setup, data_range, source, factor, opts)


def preset_ssim(im1, im2, name, *, win_size, gradient, data_range, channel_axis,
                gaussian_weights, full, workers, bits, kwargs):
    """structural_similarity with preset != 'skimage' (see its docstring)."""
    explicit = data_range is not None or bits is not None
    r = _resolve(im1, im2, name, win_size, data_range, channel_axis, gaussian_weights,
                 workers, bits, kwargs)
    if gradient:
        raise ValueError(
            f"gradient=True is defined for preset='skimage' only (the gradient of "
            f"scikit-image's mean); preset={name!r} has none"
        )
    if explicit:
        check_range(im1, im2, r.data_range, bits)
    setup = r.setup
    if r.factor > 1:
        n_threads = setup.params.n_threads
        im1, im2 = _downsample(im1, im2, r.factor, setup.channel_axis, n_threads)
    result = _score(im1, im2, setup, full, False)
    if not full:
        return result
    mean, smap = result
    crop = setup.params.crop
    valid = tuple(slice(None) if ax == setup.channel_axis else slice(crop, n - crop)
                  for ax, n in enumerate(smap.shape))
    return mean, np.ascontiguousarray(smap[valid])


class Settings(dict):
    """The effective settings of a call (a dict); str() gives one per line."""

    def __str__(self):
        width = max(map(len, self))
        return "\n".join(f"{key.ljust(width)}  {value}" for key, value in self.items())


def settings(im1, im2, *, win_size=None, gradient=False, data_range=None, channel_axis=None,
             gaussian_weights=False, full=False, workers=None, preset="skimage", bits=None,
             **kwargs):
    """The settings ``structural_similarity(im1, im2, **options)`` computes with.

    Takes the same arguments and raises the same errors and warnings as that
    call, reads only the shapes and dtypes (no pixel is scored), and returns a
    dict; ``print(ssimfast.settings(a, b, preset="matlab"))`` lists it, one
    setting per line: the reference reproduced, window, covariance, data_range
    and where it comes from, C1 and C2, downsampling, the pixels the mean
    covers and what ``full=True`` returns.

    >>> import numpy as np, ssimfast
    >>> a = np.zeros((512, 768), dtype=np.uint8)
    >>> s = ssimfast.settings(a, a, preset="matlab")
    >>> s["downsampling"], s["scored shape"], s["window"]
    ('F = 2: 2x2 box filter (symmetric borders), every 2nd pixel', (256, 384), 'Gaussian, 11 taps, sigma 1.5')
    """
    from ssimfast._ssim import _as_image

    im1 = _as_image(im1, "im1")
    im2 = _as_image(im2, "im2")
    if preset == "skimage":
        p, factor, opts = PRESETS["skimage"], 1, dict(kwargs)
        if bits is not None:
            data_range, source = bits_range(bits, data_range, im1.dtype, im2.dtype), f"bits={bits}"
        elif data_range is not None:
            source = "data_range"
        else:
            source = "inferred from im1.dtype"
        setup = _setup(im1.shape, im1.dtype, im2.shape, im2.dtype, win_size, data_range,
                       channel_axis, gaussian_weights, workers, dict(opts))
        if data_range is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # _setup has warned, as the call would
                data_range = _data_range(None, im1.dtype, im2.dtype)
        for key, value in (("K1", 0.01), ("K2", 0.03), ("sigma", 1.5),
                           ("use_sample_covariance", True)):
            opts.setdefault(key, value)
    else:
        r = _resolve(im1, im2, preset, win_size, data_range, channel_axis, gaussian_weights,
                     workers, bits, kwargs)
        p, setup, data_range, source, factor = r.preset, r.setup, r.data_range, r.range_source, r.factor
        opts, gaussian_weights = r.kwargs, True
    params = setup.params
    ntaps = params.taps.shape[0]
    if gaussian_weights:
        window = f"Gaussian, {ntaps} taps, sigma {opts['sigma']}"
    else:
        window = f"uniform, {ntaps} pixels along each axis"
    shape = tuple(n if ax == setup.channel_axis else -(-n // factor) for ax, n in enumerate(im1.shape))
    crop = params.crop
    out = Settings()
    out["preset"] = preset
    out["reference"] = p.reference
    out["window"] = window
    out["use_sample_covariance"] = bool(opts["use_sample_covariance"])
    out["covariance factor"] = params.cov_norm
    out["data_range"] = data_range
    out["data_range from"] = source
    out["K1, K2"] = (opts["K1"], opts["K2"])
    out["C1, C2"] = (params.c1, params.c2)
    out["downsampling"] = ("none" if factor == 1 else
                           f"F = {factor}: {factor}x{factor} box filter (symmetric borders), "
                           f"every {_ordinal(factor)} pixel")
    out["scored shape"] = shape
    out["channel_axis"] = setup.channel_axis
    out["mean over"] = (f"each spatial axis without a {crop}-pixel border"
                        + (" (windows inside the image)" if crop == ntaps // 2 else ""))
    out["full=True map"] = p.map_region
    out["result dtype"] = np.dtype(setup.float_type).name
    out["threads"] = params.n_threads
    return out


def _ordinal(n):
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"

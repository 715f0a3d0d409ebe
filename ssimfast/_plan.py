"""The resolver: a call's options, once, into an immutable Plan.

Every entry point goes resolve -> run: ``resolve(im1, im2, **options)`` makes
every check and inference of a structural_similarity call, in scikit-image's
order, before any kernel runs (the images' shapes and dtypes, unknown
keywords, the preset's row, the channel axis, K1/K2/sigma, the window and its
taps, data_range and where it came from, C1 and C2, the thread count, the
preset's downsampling, the mask and NaN policy, and the checks that read
pixels: the range warning, nan_policy='raise', the mask), and returns a Plan
that ``ssimfast._ssim.run`` executes. ``describe(plan)`` is what settings()
prints. ssim_batch, ssim_tiled and ssimfast.dask take the shape-and-dtype
part, ``setup(...)``, per pair, tile or graph.
"""
import functools
import math
import numbers
import operator
import typing

import numpy as np

from ssimfast import _masked
from ssimfast._checks import as_image, check_image, has_own_dtype, share_file_bytes, integer_limits, non_negative, \
    normalize_axis, real, warn
from ssimfast._presets import PRESETS, Preset, lookup
from ssimfast._ranges import bits_range, check_range
from ssimfast._ssim import Params, gaussian_taps, kernel_dtype, sums_are_exact, uniform_taps
from ssimfast._threads import resolve_workers

__all__ = ["Plan", "Setup", "Options", "resolve", "setup", "setup_of_arrays", "check_map_out", "describe",
           "Settings", "OPTIONS", "NAMED", "DEFAULTS", "unknown_option", "split_options", "supported_float_type",
           "cached_plan", "MSPlan", "MS_WEIGHTS", "resolve_ms"]

DEFAULTS = {"K1": 0.01, "K2": 0.03, "sigma": 1.5, "use_sample_covariance": True}
# Truncation of the Gaussian window: 11 taps at sigma 1.5, as Wang et al. 2004.
TRUNCATE = 3.5
_SKIMAGE = PRESETS["skimage"]

_CONSTANTS = ("K1", "K2", "sigma", "use_sample_covariance", "multichannel")
# resolve()'s named keywords (the others go in its kwargs).
NAMED = ("win_size", "gradient", "data_range", "channel_axis", "gaussian_weights", "full",
         "workers", "preset", "bits", "mask", "nan_policy", "min_valid")
# Every keyword of each entry point, for the unknown-keyword TypeError.
OPTIONS = {
    "structural_similarity": NAMED + _CONSTANTS,
    "ssim_batch": ("win_size", "data_range", "channel_axis", "gaussian_weights", "full",
                   "gradient", "workers", "progress") + _CONSTANTS,
    "ssim_tiled": ("win_size", "data_range", "channel_axis", "gaussian_weights", "workers",
                   "tile", "map_out") + _CONSTANTS,
    "ssimfast.dask.structural_similarity": ("win_size", "data_range", "channel_axis",
                                            "gaussian_weights", "workers") + _CONSTANTS,
}


class Options(typing.NamedTuple):
    """The window and constants as resolved (the caller's objects: a NumPy
    scalar keeps its precision in C1 and C2, as scikit-image computes)."""

    win_size: int
    gaussian_weights: typing.Any
    sigma: typing.Any
    K1: typing.Any
    K2: typing.Any
    use_sample_covariance: bool


class Setup(typing.NamedTuple):
    """The shape-and-dtype part of a call: the channel axis (normalised, or
    None), the float type of the results, the kernel parameters, the data
    range C1 and C2 come from, and the resolved options."""

    channel_axis: typing.Optional[int]
    float_type: np.dtype
    params: Params
    data_range: typing.Any
    options: Options


class Plan(typing.NamedTuple):
    """Everything a structural_similarity call does, decided (immutable)."""

    setup: Setup
    full: bool
    gradient: bool
    preset: str
    row: Preset
    range_source: str  # where data_range came from
    range_check: typing.Optional[tuple]  # (data_range, bits) the pixels were checked against
    factor: int  # the preset's box downsampling (1: none)
    masking: typing.Optional[tuple]  # (valid mask or None, omit NaN, min_valid) for the masked kernel
    policy: typing.Optional[str]  # the mask and NaN options, in words (None: not used)
    shape: tuple
    simple: bool  # no masked kernel, no downsampling, the map as computed


# ---------------------------------------------------------------------------
# resolve: the whole call
# ---------------------------------------------------------------------------

# Option types whose plan is cached: plain Python values (hashable; a NumPy
# scalar would hash like a float but compute C1 and C2 in its own precision).
_PLAIN = frozenset((type(None), int, float))
_SILENT_DTYPES = frozenset((np.dtype(np.uint8), np.dtype(np.bool_)))
_MIN_VALID = _masked.MIN_VALID


def resolve(im1, im2, win_size=None, gradient=False, data_range=None, channel_axis=None,
            gaussian_weights=False, full=False, workers=None, preset="skimage", bits=None,
            mask=None, nan_policy="propagate", min_valid=_masked.MIN_VALID, kwargs=None,
            pixels=True):
    """(plan, im1, im2 as NumPy arrays) for structural_similarity(im1, im2, **options),
    whose arguments these are, in its order; kwargs holds its other keywords
    (K1, K2, sigma, ...). With pixels=False no pixel is read (settings()): the
    range warning and the mask and NaN checks are left out."""
    raw1, raw2 = im1, im2
    im1, im2 = as_image(im1, "im1"), as_image(im2, "im2")
    # The common call's plan comes from a cache: one that can neither warn (a
    # warning must come on every call) nor depend on anything but its arguments.
    if (not kwargs and bits is None and mask is None and nan_policy == "propagate"
            and min_valid == _MIN_VALID and type(preset) is str and preset == "skimage"
            and type(full) is bool and type(gradient) is bool
            and type(win_size) in _PLAIN and type(data_range) in _PLAIN
            and type(channel_axis) in _PLAIN and type(gaussian_weights) is bool
            and (workers is None or (type(workers) is int and workers != 0))
            and (data_range is not None or (im1.dtype == im2.dtype and im1.dtype in _SILENT_DTYPES
                                            and _inferable(im1, im2, raw1, raw2)))):
        plan = cached_plan(im1.shape, im1.dtype, im2.shape, im2.dtype, win_size, data_range,
                           channel_axis, gaussian_weights, workers, full, gradient)
        # The thread count follows OMP_NUM_THREADS / threadpoolctl limits,
        # which may change between calls.
        n_threads = resolve_workers(workers)
        if plan.setup.params.n_threads != n_threads:
            params = plan.setup.params._replace(n_threads=n_threads)
            plan = plan._replace(setup=plan.setup._replace(params=params))
        if pixels and plan.range_check is not None:
            check_range(im1, im2, *plan.range_check)
        return plan, im1, im2
    kwargs = {} if kwargs is None else kwargs
    masking = mask is not None or nan_policy != "propagate" or min_valid != _MIN_VALID
    inferable = data_range is not None or bits is not None or _inferable(im1, im2, raw1, raw2)
    plan = _resolve(im1, im2, win_size, gradient, data_range, channel_axis, gaussian_weights,
                    full, workers, preset, bits, (mask, nan_policy, min_valid, masking),
                    kwargs, inferable, pixels)
    return plan, im1, im2


def _inferable(im1, im2, raw1, raw2):
    """Whether data_range may come from the dtype: not for Python lists, whose
    dtype NumPy picked (im1 is raw1: the input was an ndarray already)."""
    return (im1 is raw1 or has_own_dtype(raw1)) and (im2 is raw2 or has_own_dtype(raw2))


def split_options(options):
    """(named, kwargs): a call's keywords as resolve() takes them."""
    named = {key: value for key, value in options.items() if key in NAMED}
    return named, {key: value for key, value in options.items() if key not in NAMED}


@functools.lru_cache(maxsize=128, typed=True)
def cached_plan(shape1, dtype1, shape2, dtype2, win_size, data_range, channel_axis,
                gaussian_weights, workers, full, gradient):
    """The plan of a plain call (see resolve): about 10 us to resolve, a third
    of a 64x64 call, so it is kept."""
    s = setup(shape1, dtype1, shape2, dtype2, win_size, data_range, channel_axis,
              gaussian_weights, workers, {})
    explicit = data_range is not None
    return Plan(s, full, gradient, "skimage", _SKIMAGE,
                "data_range" if explicit else "inferred from im1.dtype",
                (data_range, None) if explicit else None, 1, None, None, shape1, True)


def _resolve(im1, im2, win_size, gradient, data_range, channel_axis, gaussian_weights, full,
             workers, preset, bits, masks, kwargs, inferable, pixels):
    """resolve() for any call, in the order the checks have always come."""
    mask, nan_policy, min_valid, masking = masks
    row = PRESETS.get(preset) if isinstance(preset, str) else None
    if masking and not (row is not None and row.extras):
        raise ValueError(f"mask=, nan_policy= and min_valid= work with preset='skimage' "
                         f"only, not preset={preset!r}")
    row = lookup(preset)
    if row.definition == "ffmpeg":
        return _resolve_ffmpeg(im1, im2, row, win_size, gradient, data_range, channel_axis,
                               gaussian_weights, full, workers, bits, kwargs, pixels)
    win_size, gaussian_weights, kwargs = _apply(preset, row, win_size, gaussian_weights, kwargs)
    explicit = bits is not None or data_range is not None
    if bits is not None:
        data_range, source = bits_range(bits, data_range, im1.dtype, im2.dtype), f"bits={bits}"
    elif data_range is not None:
        source = "data_range"
    elif "data_range" in row.defaults:
        data_range, source = row.defaults["data_range"], f"preset {preset!r}"
    else:
        source = "inferred from im1.dtype"
    s = setup(im1.shape, im1.dtype, im2.shape, im2.dtype, win_size, data_range, channel_axis,
              gaussian_weights, workers, kwargs, inferable=inferable)
    # F > 1 only from min(H, W) = 384 on, so the downsampled images (192 or more
    # pixels a side) always hold the window.
    factor = _factor(preset, row, im1.shape, s.channel_axis)
    if gradient and not row.extras:
        raise ValueError(
            f"gradient=True is defined for preset='skimage' only (the gradient of "
            f"scikit-image's mean); preset={preset!r} has none"
        )
    range_check = (s.data_range, bits) if explicit else None
    if pixels and explicit:
        check_range(im1, im2, *range_check)
    valid = policy = None
    if masking:
        _masked.check_options(mask, nan_policy, min_valid, gradient)
        policy = (f"mask {'given' if mask is not None else 'none'}, nan_policy={nan_policy!r}, "
                  f"min_valid={min_valid}")
        if pixels:
            valid = _masked.valid_pixels(im1, im2, mask, nan_policy, s.channel_axis)
        elif mask is not None:  # settings(): the mask's shape, not the images' NaNs
            _masked.check_mask(mask, im1.shape, s.channel_axis)
    masked = None if valid is None else (*valid, min_valid)
    simple = masked is None and factor == 1 and not (full and row.valid_map)
    return Plan(s, full, gradient, preset, row, source, range_check, factor, masked, policy,
                im1.shape, simple)


def _resolve_ffmpeg(im1, im2, row, win_size, gradient, data_range, channel_axis, gaussian_weights,
                    full, workers, bits, kwargs, pixels):
    """The plan of preset='ffmpeg': FFmpeg's ssim filter on each 2-D plane
    (channel). Its window, constants and normalisation are fixed; the bit depth
    (8 for uint8; bits= for uint16) sets its maximum value 2**bits - 1."""
    if gradient:
        raise ValueError("gradient=True is defined for preset='skimage' only; FFmpeg's ssim "
                         "filter (preset='ffmpeg') has no gradient")
    given = dict(kwargs)
    opts = _pop_options(dict(kwargs), "structural_similarity")
    for key, value in (("win_size", win_size), ("gaussian_weights", gaussian_weights),
                       ("K1", given.get("K1")), ("K2", given.get("K2"))):
        passed = value is not None and not (key == "gaussian_weights" and value is False)
        if passed and not _equal(value, row.fixed[key]):
            raise ValueError(
                f"preset='ffmpeg' fixes {key}={row.fixed[key]!r} ({row.reference}), but "
                f"{key}={value!r} was passed; drop {key}, or use preset='skimage' to choose it")
    for key in ("sigma", "use_sample_covariance"):
        if key in given:
            raise ValueError(f"preset='ffmpeg' has no {key} (FFmpeg's ssim filter sums 8x8 "
                             f"windows with fixed normalisation); drop {key}")
    if im1.shape != im2.shape:
        raise ValueError("Input images must have the same dimensions: "
                         f"im1.shape={im1.shape} but im2.shape={im2.shape}.")
    axis = _channel_axis(channel_axis, opts["multichannel"], im1.ndim)
    spatial = tuple(n for ax, n in enumerate(im1.shape) if ax != axis)
    if len(spatial) != 2:
        raise ValueError(f"preset='ffmpeg' (FFmpeg's ssim filter) scores 2-D planes; these images "
                         f"have shape {im1.shape} with channel_axis={channel_axis}")
    if min(spatial) < 8:
        raise ValueError(f"preset='ffmpeg' needs planes of at least 8x8 pixels (two 4x4 blocks "
                         f"each way); these are {spatial[1]}x{spatial[0]}")
    if im1.dtype != im2.dtype or im1.dtype not in (np.dtype(np.uint8), np.dtype(np.uint16)):
        raise TypeError(f"preset='ffmpeg' scores uint8 (8-bit) or uint16 (9- to 16-bit) planes, "
                        f"as FFmpeg stores them; got {im1.dtype} and {im2.dtype}")
    if bits is None:
        if im1.dtype != np.uint8:
            raise ValueError("preset='ffmpeg' on uint16 planes needs bits= (10 for yuv420p10le, "
                             "12, 16, ...): FFmpeg's constants depend on the bit depth")
        bits, source = 8, "uint8: 8 bits"
    else:
        if isinstance(bits, (bool, np.bool_)) or not isinstance(bits, numbers.Integral):
            raise TypeError(f"bits must be an integer from 8 to 16, got {bits!r}")
        bits = int(bits)
        if not 8 <= bits <= 16 or (bits == 8) != (im1.dtype == np.uint8):
            raise ValueError(f"preset='ffmpeg' takes bits=8 with uint8 planes and bits=9 to 16 "
                             f"with uint16 planes; got bits={bits} with {im1.dtype}")
        source = f"bits={bits}"
    peak = (1 << bits) - 1
    if data_range is not None and not _equal(data_range, peak):
        raise ValueError(f"preset='ffmpeg' uses the maximum value 2**bits - 1 = {peak} of its "
                         f"bit depth; data_range={data_range!r} contradicts it: drop data_range "
                         "or pass bits=")
    n_threads = resolve_workers(workers)
    if pixels and bits not in (8, 16):
        check_range(im1, im2, peak, bits)
    # The constants as vf_ssim.c computes them (in double, rounded to integers);
    # they stand for 64 * C1 and 64 * 63 * C2 of the window sums.
    c1 = int(.01 * .01 * peak * peak * 64 + .5)
    c2 = int(.03 * .03 * peak * peak * 64 * 63 + .5)
    params = Params(uniform_taps(8), True, 0, c1, c2, 1.0, n_threads)
    options = Options(8, False, None, 0.01, 0.03, False)
    s = Setup(axis, np.dtype(np.float64), params, peak, options)
    return Plan(s, full, False, "ffmpeg", row, source, None, 1, None, None, im1.shape, False)


# The skimage defaults of the keywords a preset may fix: a keyword at its
# default counts as not given (gaussian_weights=False cannot be told apart).
_SIGNATURE_DEFAULTS = {"win_size": None, "gaussian_weights": False}


def _apply(name, row, win_size, gaussian_weights, kwargs):
    """(win_size, gaussian_weights, kwargs for setup) with a preset's row applied.
    ValueError for a keyword that contradicts it; kwargs is not modified."""
    if not row.fixed and not row.defaults:
        return win_size, gaussian_weights, kwargs
    given = {"win_size": win_size, "gaussian_weights": gaussian_weights}
    kwargs = dict(kwargs)
    for key, value in row.fixed.items():
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
                f"preset={name!r} fixes {key}={value!r} ({row.reference}), but {key}={current!r} "
                f"was passed; drop {key}, or use preset='skimage' to choose it freely"
            )
    for key, value in row.defaults.items():
        if key != "data_range":
            kwargs.setdefault(key, value)
    return given["win_size"], given["gaussian_weights"], kwargs


def _equal(a, b):
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # e.g. an array
        return False


def _factor(name, row, shape, channel_axis):
    """ssim.m's downsampling factor F = max(1, round(min(H, W) / 256)), with
    MATLAB's rounding (halves away from zero, not to even)."""
    if not row.downsample:
        return 1
    spatial = [n for ax, n in enumerate(shape) if ax != channel_axis]
    if len(spatial) != 2:
        raise ValueError(
            f"preset={name!r} (ssim.m) scores 2-D images; these have shape {shape} "
            f"with channel_axis={channel_axis}. Use preset='matlab_index' for other ranks."
        )
    return max(1, (min(spatial) + 128) // 256)


# ---------------------------------------------------------------------------
# setup: what needs only the shapes and dtypes
# ---------------------------------------------------------------------------

def setup(shape1, dtype1, shape2, dtype2, win_size, data_range, channel_axis,
          gaussian_weights, workers, kwargs, *, entry="structural_similarity", inferable=True):
    """Every check and inference of a call that needs only the shapes and dtypes
    (not the pixels), in scikit-image's order. Pops kwargs. `entry` names the
    function for an unknown keyword; inferable=False: data_range may not be
    inferred from the dtype (the input had none of its own)."""
    if shape1 != shape2:
        raise ValueError(
            "Input images must have the same dimensions: "
            f"im1.shape={shape1} but im2.shape={shape2}."
        )
    ndim = len(shape1)
    opts = _pop_options(kwargs, entry)
    channel_axis = _channel_axis(channel_axis, opts.pop("multichannel"), ndim)
    float_type = supported_float_type(dtype1)
    spatial = tuple(n for ax, n in enumerate(shape1) if ax != channel_axis)
    if not spatial:
        raise ValueError(
            f"the images have shape {shape1}: with channel_axis={channel_axis} "
            "no spatial axis is left; pass channel_axis=None for single-channel data"
        )
    K1 = non_negative(opts["K1"], "K1")
    K2 = non_negative(opts["K2"], "K2")
    sigma = non_negative(opts["sigma"], "sigma")
    use_sample_covariance = bool(opts["use_sample_covariance"])
    win_size, taps = _window(win_size, gaussian_weights, sigma, spatial)
    NP = win_size ** len(spatial)
    if use_sample_covariance and NP == 1:
        raise ValueError(
            "use_sample_covariance=True needs more than one pixel per window (it "
            "divides by N-1); pass a larger win_size or use_sample_covariance=False"
        )
    data_range = _data_range(data_range, dtype1, dtype2, inferable)
    n_threads = resolve_workers(workers)
    if dtype1.newbyteorder("=") != dtype2.newbyteorder("="):
        dtype = float_type  # kernel_inputs casts both
    else:
        dtype = kernel_dtype(dtype1)
    c1, c2 = _stabilisers(K1, K2, data_range)
    params = Params(
        taps=taps,
        exact=not gaussian_weights and sums_are_exact(dtype, NP),
        crop=(win_size - 1) // 2,
        c1=c1,
        c2=c2,
        cov_norm=NP / (NP - 1) if use_sample_covariance else 1.0,
        n_threads=n_threads,
    )
    options = Options(win_size, gaussian_weights, sigma, K1, K2, use_sample_covariance)
    return Setup(channel_axis, float_type, params, data_range, options)


def setup_of_arrays(im1, im2, win_size, data_range, channel_axis, gaussian_weights, workers,
                    kwargs, entry):
    """setup() for array-likes read piece by piece (np.memmap, zarr, h5py, dask):
    they need .shape, .dtype and slicing; no pixel is read."""
    for a, name in ((im1, "im1"), (im2, "im2")):
        if not (hasattr(a, "shape") and hasattr(a, "dtype") and hasattr(a, "__getitem__")):
            raise TypeError(
                f"{name} must be an array-like with .shape, .dtype and slicing (a NumPy "
                f"array, np.memmap, zarr or h5py dataset), got {type(a).__name__}"
            )
        check_image(tuple(a.shape), np.dtype(a.dtype), name)
    return setup(tuple(im1.shape), np.dtype(im1.dtype), tuple(im2.shape), np.dtype(im2.dtype),
                 win_size, data_range, channel_axis, gaussian_weights, workers, kwargs,
                 entry=entry)


def check_map_out(map_out, shape, im1, im2):
    """ssim_tiled's map_out: the images' shape, floating-point, and no byte of it
    on an input's memory or file (the map would overwrite pixels not read yet)."""
    if tuple(map_out.shape) != shape:
        raise ValueError(f"map_out has shape {tuple(map_out.shape)}; it must be the images' "
                         f"shape {shape}")
    if np.dtype(map_out.dtype).kind != "f":
        raise TypeError(f"map_out has dtype {np.dtype(map_out.dtype)}; the SSIM map needs a "
                        "floating-point array (float32 or float64), as full=True gives it")
    for name, im in (("im1", im1), ("im2", im2)):
        if (isinstance(map_out, np.ndarray) and isinstance(im, np.ndarray)
                and np.may_share_memory(map_out, im)):
            raise ValueError(f"map_out shares memory with {name}: the map would overwrite "
                             "pixels before they are read; pass a separate array")
        if share_file_bytes(map_out, im):
            raise ValueError(
                f"map_out is a memory map of the same bytes of {im.filename!r} as {name}: "
                "the map would overwrite pixels before they are read; write the map to "
                "another file"
            )


def _pop_options(kwargs, entry):
    if not kwargs:
        return dict(DEFAULTS, multichannel=None)
    opts = {name: kwargs.pop(name, default) for name, default in DEFAULTS.items()}
    opts["multichannel"] = kwargs.pop("multichannel", None)
    if kwargs:
        raise unknown_option(entry, next(iter(kwargs)))
    return opts


def unknown_option(entry, name):
    """The TypeError for an unknown keyword of `entry`: every option it takes,
    and the closest to `name` (a typo's likely intent)."""
    import difflib  # only on this error path: not at every start of the command

    options = OPTIONS[entry]
    close = difflib.get_close_matches(str(name), options, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    ignored = (" (scikit-image would silently ignore it)"
               if entry == "structural_similarity" else "")
    return TypeError(f"{entry}() got an unexpected keyword argument {name!r}{hint}{ignored}; "
                     f"its options are {', '.join(options)}")


def _channel_axis(channel_axis, multichannel, ndim):
    if multichannel is not None:
        implied = -1 if multichannel else None
        warn(
            "`multichannel` is deprecated (removed from scikit-image): use "
            f"channel_axis={implied} instead",
            FutureWarning,
        )
        if channel_axis is None:
            channel_axis = implied
        elif implied is None or normalize_axis(channel_axis, ndim) != ndim - 1:
            raise ValueError(
                f"multichannel={multichannel!r} contradicts channel_axis={channel_axis!r}; "
                "pass only channel_axis"
            )
    if channel_axis is None:
        return None
    return normalize_axis(channel_axis, ndim)


def _window(win_size, gaussian_weights, sigma, spatial):
    """(win_size, 1-D taps) as scikit-image: uniform win_size, or Gaussian of sigma."""
    if gaussian_weights:
        radius = int(TRUNCATE * sigma + 0.5)  # as scipy.ndimage
        if type(sigma) is float:
            taps = gaussian_taps(sigma, radius)
        else:  # a NumPy scalar: keep its arithmetic (float32 rounds), don't cache
            taps = gaussian_taps.__wrapped__(sigma, radius)
    if win_size is None:
        win_size = 2 * radius + 1 if gaussian_weights else 7
    elif isinstance(win_size, (bool, np.bool_)) or not isinstance(win_size, numbers.Integral):
        raise TypeError(f"win_size must be an odd integer, got {win_size!r}")
    win_size = int(win_size)
    if win_size < 1:
        raise ValueError(f"win_size must be a positive odd integer, got {win_size}")
    if min(spatial) < win_size:
        raise ValueError(
            "win_size exceeds image extent. Either ensure that your images are at "
            f"least {win_size} pixels along every axis (their shape, without the "
            f"channel axis, is {spatial}), or pass win_size explicitly with an odd "
            "value less than or equal to the smallest side. If your images are "
            "multichannel (with color channels), set channel_axis to the axis "
            "number corresponding to the channels."
        )
    if win_size % 2 != 1:
        raise ValueError(f"Window size must be odd; got win_size={win_size}.")
    if not gaussian_weights:
        return win_size, uniform_taps(win_size)
    return win_size, taps


def _data_range(data_range, dtype1, dtype2, inferable=True):
    if data_range is not None:
        checked = real(data_range, "data_range")
        if not (math.isfinite(checked) and checked > 0):
            raise ValueError(
                f"data_range must be a finite number greater than 0, got {data_range}: "
                "it is the difference between the largest and smallest possible values"
            )
        return data_range
    if dtype1.kind == "f" or dtype2.kind == "f":
        raise ValueError(
            "Since image dtype is floating point, you must specify the data_range "
            "parameter. Please read the documentation carefully (including the "
            "note). It is recommended that you always specify the data_range anyway."
        )
    if not inferable:
        raise ValueError(
            "the images were not NumPy arrays (a list, say): NumPy made them "
            f"{dtype1}, whose range says nothing about the data, so you must specify "
            "the data_range parameter (for example 255 for 8-bit values), or bits=, "
            "or pass arrays of the data's own dtype (such as uint8)"
        )
    if dtype1 != dtype2:
        warn("Inputs have mismatched dtypes. Setting data_range based on im1.dtype.")
    if dtype1.kind == "b":
        return 1
    lowest, highest = integer_limits(dtype1)
    data_range = highest - lowest
    if dtype1 != np.uint8:
        warn(
            "Setting data_range based on im1.dtype. "
            f"data_range = {data_range:.0f}. "
            "Please specify data_range explicitly to avoid mistakes."
        )
    return data_range


def _stabilisers(K1, K2, data_range):
    """C1 = (K1 * data_range)**2 and C2, as Python floats; a ValueError when they
    overflow (Python floats raise OverflowError, NumPy ones give inf)."""
    try:
        with np.errstate(over="ignore"):
            c1, c2 = float((K1 * data_range) ** 2), float((K2 * data_range) ** 2)
    except OverflowError:
        c1 = c2 = math.inf
    if not (math.isfinite(c1) and math.isfinite(c2)):
        raise ValueError(
            f"data_range={data_range!r} is too large: (K * data_range)**2 overflows double "
            "precision; SSIM needs data_range (and the squared pixel values) below about 1e150"
        )
    return c1, c2


def supported_float_type(dtype):
    """scikit-image's float type of results: float32 for float16/32, else float64."""
    return np.dtype(np.float32) if dtype.char in "ef" else np.dtype(np.float64)


# ---------------------------------------------------------------------------
# describe: the plan in words (settings())
# ---------------------------------------------------------------------------

class Settings(dict):
    """The effective settings of a call (a dict); str() gives one per line."""

    def __str__(self):
        width = max(map(len, self))
        return "\n".join(f"{key.ljust(width)}  {value}" for key, value in self.items())


def describe(plan):
    """A plan as the Settings that settings() returns, one line per decision."""
    s, row = plan.setup, plan.row
    if row.definition == "ffmpeg":
        return _describe_ffmpeg(plan)
    params, o = s.params, s.options
    ntaps = params.taps.shape[0]
    factor, crop = plan.factor, params.crop
    out = Settings()
    out["preset"] = plan.preset
    out["reference"] = row.reference
    out["window"] = (f"Gaussian, {ntaps} taps, sigma {o.sigma}" if o.gaussian_weights
                     else f"uniform, {ntaps} pixels along each axis")
    out["use_sample_covariance"] = o.use_sample_covariance
    out["covariance factor"] = params.cov_norm
    out["data_range"] = s.data_range
    out["data_range from"] = plan.range_source
    out["K1, K2"] = (o.K1, o.K2)
    out["C1, C2"] = (params.c1, params.c2)
    out["downsampling"] = ("none" if factor == 1 else
                           f"F = {factor}: {factor}x{factor} box filter (symmetric borders), "
                           f"every {_ordinal(factor)} pixel")
    out["scored shape"] = tuple(n if ax == s.channel_axis else -(-n // factor)
                                for ax, n in enumerate(plan.shape))
    out["channel_axis"] = s.channel_axis
    out["mean over"] = (f"each spatial axis without a {crop}-pixel border"
                        + (" (windows inside the image)" if crop == ntaps // 2 else ""))
    out["full=True map"] = row.map_region
    if plan.policy is not None:
        out["mask and NaN"] = plan.policy
    out["outputs"] = ", ".join(["mean"] + ["gradient"] * bool(plan.gradient)
                               + ["map"] * bool(plan.full))
    out["result dtype"] = np.dtype(s.float_type).name
    out["threads"] = params.n_threads
    return out


def _describe_ffmpeg(plan):
    s, row = plan.setup, plan.row
    out = Settings()
    out["preset"] = plan.preset
    out["reference"] = row.reference
    out["window"] = ("uniform 8x8 windows on a 4-pixel grid (overlapping by 4), "
                     "from sums over 4x4 blocks")
    out["covariance"] = "x264's: 64 * sum(xy) - sum(x) * sum(y) over each window, in integers"
    out["data_range"] = s.data_range
    out["data_range from"] = plan.range_source
    out["K1, K2"] = (0.01, 0.03)
    out["C1, C2"] = (f"{s.params.c1} = round(0.01**2 * {s.data_range}**2 * 64)",
                     f"{s.params.c2} = round(0.03**2 * {s.data_range}**2 * 64 * 63)")
    out["downsampling"] = "none"
    out["scored shape"] = plan.shape
    out["channel_axis"] = s.channel_axis
    out["mean over"] = ("every 8x8 window inside the plane (a remainder past a multiple of 4 "
                        "is ignored)" + ("; channels: the mean of their means, FFmpeg's "
                                         "'All' for planes of one size" if s.channel_axis is not None
                                         else ""))
    out["full=True map"] = row.map_region
    out["outputs"] = ", ".join(["mean"] + ["map"] * bool(plan.full))
    out["result dtype"] = "float64"
    out["threads"] = s.params.n_threads
    return out


def _ordinal(n):
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# ---------------------------------------------------------------------------
# ms_ssim's plan
# ---------------------------------------------------------------------------

# Wang, Simoncelli and Bovik (2003), finest scale first.
MS_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


class MSPlan(typing.NamedTuple):
    """Everything an ms_ssim call does, decided (immutable)."""

    channel_axis: typing.Optional[int]
    float_type: np.dtype
    weights: tuple  # per scale, finest first
    taps: np.ndarray  # the Gaussian window, along both axes
    c1: float
    c2: float
    n_threads: int


def resolve_ms(im1, im2, *, data_range=None, bits=None, weights=None, scales=None,
               channel_axis=None, win_size=11, sigma=1.5, K1=0.01, K2=0.03, workers=None):
    """(MSPlan, im1, im2 as NumPy arrays) for ms_ssim(im1, im2, **options)."""
    inferable = data_range is not None or bits is not None or (
        has_own_dtype(im1) and has_own_dtype(im2))
    im1, im2 = as_image(im1, "im1"), as_image(im2, "im2")
    if im1.shape != im2.shape:
        raise ValueError(
            "Input images must have the same dimensions: "
            f"im1.shape={im1.shape} but im2.shape={im2.shape}."
        )
    axis = None if channel_axis is None else normalize_axis(channel_axis, im1.ndim)
    spatial = tuple(n for ax, n in enumerate(im1.shape) if ax != axis)
    if len(spatial) != 2:
        raise ValueError(
            f"ms_ssim scores 2-D images (3-D with channel_axis for colour); the images "
            f"have shape {im1.shape} and channel_axis={channel_axis}"
        )
    weights = _weights(weights, scales)
    win_size = _win_size(win_size)
    sigma = real(sigma, "sigma")
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a finite number greater than 0, got {sigma}")
    K1 = real(non_negative(K1, "K1"), "K1")
    K2 = real(non_negative(K2, "K2"), "K2")
    _check_ms_size(spatial, weights, win_size)
    explicit = data_range is not None or bits is not None
    if bits is not None:
        data_range = bits_range(bits, data_range, im1.dtype, im2.dtype)
    L = real(_data_range(data_range, im1.dtype, im2.dtype, inferable), "data_range")
    n_threads = resolve_workers(workers)
    if explicit:
        check_range(im1, im2, L, bits)
    plan = MSPlan(axis, supported_float_type(im1.dtype), weights, _ms_taps(win_size, sigma),
                  (K1 * L) ** 2, (K2 * L) ** 2, n_threads)
    return plan, im1, im2


def _check_ms_size(spatial, weights, win_size):
    smallest = (win_size - 1) * 2 ** (len(weights) - 1) + 1
    if min(spatial) < smallest:
        fits = _scales_that_fit(min(spatial), win_size)
        raise ValueError(
            f"ms_ssim with {len(weights)} scales and a {win_size}-tap window needs images "
            f"of at least {smallest} pixels along each spatial axis (the coarsest scale, "
            f"1/{2 ** (len(weights) - 1)} of the size, must hold one window); these are "
            f"{' x '.join(map(str, spatial))}. "
            + (f"Pass scales={fits} (or fewer weights) or a smaller win_size."
               if fits else "Pass a smaller win_size.")
        )


def _weights(weights, scales):
    if scales is not None:
        if isinstance(scales, (bool, np.bool_)) or not isinstance(scales, numbers.Integral):
            raise TypeError(f"scales must be an integer, got {scales!r}")
        scales = operator.index(scales)
    if weights is None:
        if scales is None:
            return MS_WEIGHTS
        if not 1 <= scales <= len(MS_WEIGHTS):
            raise ValueError(
                f"scales must be from 1 to {len(MS_WEIGHTS)} with the default weights, "
                f"got {scales}; pass weights= for other numbers of scales"
            )
        head = MS_WEIGHTS[:scales]
        total = math.fsum(head)
        return tuple(w / total for w in head)
    try:
        checked = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"weights must be a sequence of numbers, got {weights!r}") from None
    if checked.ndim != 1 or checked.size == 0:
        raise ValueError(f"weights must be a non-empty 1-D sequence of numbers, got {weights!r}")
    if not np.all(np.isfinite(checked) & (checked >= 0)):
        raise ValueError(f"weights must be finite numbers >= 0, got {weights!r}")
    checked = tuple(checked.tolist())
    if scales is not None and scales != len(checked):
        raise ValueError(f"scales={scales} but {len(checked)} weights were given; pass one of them")
    return checked


@functools.lru_cache(maxsize=16)
def _ms_taps(win_size, sigma):
    """`win_size` normalised Gaussian taps of `sigma` (read-only, shared)."""
    x = np.arange(win_size) - win_size // 2
    taps = np.exp(-(x * x) / (2.0 * sigma * sigma))
    taps = taps / taps.sum()
    taps.flags.writeable = False
    return taps


def _win_size(win_size):
    if isinstance(win_size, (bool, np.bool_)) or not isinstance(win_size, numbers.Integral):
        raise TypeError(f"win_size must be an odd integer, got {win_size!r}")
    win_size = int(win_size)
    if win_size < 1 or win_size % 2 != 1:
        raise ValueError(f"win_size must be a positive odd integer, got {win_size}")
    return win_size


def _scales_that_fit(side, win_size):
    """The most scales (up to 5) whose coarsest image of `side` still holds a window."""
    fits = 0
    while fits < len(MS_WEIGHTS) and side >= (win_size - 1) * 2 ** fits + 1:
        fits += 1
    return fits

"""structural_similarity: the Python layer.

Every decision about the inputs is made here, before any kernel runs: shapes,
dtypes, options, data_range, the filter taps, channel splitting and outputs.
The kernels in _ssim_cy.pyx only do arithmetic on what this module hands them.
"""
import functools
import math
import numbers
import operator
import os
import sys
import typing
import warnings

import numpy as np

from ssimfast import _masked
from ssimfast._extension import kernels
from ssimfast._ranges import bits_range, check_range
from ssimfast._threads import resolve_workers

__all__ = ["structural_similarity"]

# Dtypes the kernels read directly (native byte order).
_KERNEL_DTYPES = frozenset(
    np.dtype(t) for t in (np.uint8, np.uint16, np.int16, np.int32, np.int64, np.float32, np.float64)
)
# Other accepted dtypes, and the kernel dtype that holds each exactly (or, for
# uint64 and long double, as scikit-image holds them: as float64).
_CONVERTED = {
    np.dtype(np.int8): np.dtype(np.int16),
    np.dtype(np.uint32): np.dtype(np.int64),
    np.dtype(np.uint64): np.dtype(np.float64),
    np.dtype(np.float16): np.dtype(np.float32),
    np.dtype(np.longdouble): np.dtype(np.float64),
}
_DEFAULTS = {"K1": 0.01, "K2": 0.03, "sigma": 1.5, "use_sample_covariance": True}
# Truncation of the Gaussian window: 11 taps at sigma 1.5, as Wang et al. 2004.
_TRUNCATE = 3.5


def structural_similarity(
    im1,
    im2,
    *,
    win_size=None,
    gradient=False,
    data_range=None,
    channel_axis=None,
    gaussian_weights=False,
    full=False,
    workers=None,
    preset="skimage",
    bits=None,
    mask=None,
    nan_policy="propagate",
    min_valid=_masked.MIN_VALID,
    **kwargs,
):
    """
    Compute the mean structural similarity index between two images.

    A compiled drop-in for ``skimage.metrics.structural_similarity``
    (scikit-image 0.26): same arguments, same results, same errors and warnings.
    Please pay attention to the `data_range` parameter with floating-point images.

    Parameters
    ----------
    im1, im2 : array_like
        Images of the same shape, any number of dimensions. Anything
        ``np.asarray`` accepts (lists, PIL images) is converted.
    win_size : int or None, optional
        The side-length of the sliding window used in comparison. Must be an
        odd value. If `gaussian_weights` is True, the filter is set by `sigma`
        instead and `win_size`, if given, only sets the border left out of the
        mean and the covariance normalisation (as in scikit-image).
    gradient : bool, optional
        If True, also return the gradient with respect to im2.
    data_range : float, optional
        The data range of the input image (difference between maximum and
        minimum possible values). By default, this is estimated from the image
        data type: 255 for uint8, 1 for bool, the full range for other integer
        types (with a warning). Floating-point images require it. It must be a
        finite number greater than 0.
    channel_axis : int or None, optional
        If None, the image is assumed to be a grayscale (single channel) image.
        Otherwise, this parameter indicates which axis of the array corresponds
        to channels; the result is the mean of the per-channel means.
    gaussian_weights : bool, optional
        If True, each patch has its mean and variance spatially weighted by a
        normalized Gaussian kernel of width `sigma` (truncated at 3.5 sigma).
    full : bool, optional
        If True, also return the full structural similarity image.
    workers : int or None, optional
        Number of threads. None (default) uses OpenMP's default: all cores,
        or ``OMP_NUM_THREADS``, or a ``threadpoolctl`` limit. Negative values
        count back from it (-1 is all). The result does not depend on it.
    preset : str, optional
        Which reference to reproduce (``ssimfast.PRESETS`` describes each):
        ``"skimage"`` (default; scikit-image 0.26, everything above),
        ``"matlab"`` (Zhou Wang's ssim.m: Gaussian window of 11 taps and sigma
        1.5, population covariance, data range 255, downsampling by
        F = max(1, round(min(H, W) / 256)) with an F x F box filter, mean
        over windows inside the image), ``"matlab_index"`` (ssim_index.m: the
        same without downsampling) or ``"pytorch"`` (pytorch-msssim's and
        tf.image.ssim's ssim: the same settings as ``"matlab_index"``). A
        preset fixes `win_size`, `gaussian_weights`, `sigma` and
        `use_sample_covariance`: passing one of them with another value is a
        ValueError. `data_range` (default 255), `K1` and `K2` are parameters
        of those references and may be passed. With a preset, the map of
        ``full=True`` covers the windows inside the (downsampled) image only,
        as those references return it; `gradient` is for ``"skimage"`` only.
        ``ssimfast.settings(im1, im2, **options)`` shows what a call uses.
    bits : int, optional
        Bit depth of integer data stored in a wider dtype, such as 10- or
        12-bit data in uint16: sets `data_range` to ``2**bits - 1``. Pass
        `bits` or `data_range`, not both. With either, integer images whose
        values exceed the range give a UserWarning (one pass over each image
        whose dtype could exceed it: about 1-3 % of a call; float images are
        not checked).
    mask : array_like of bool or None, optional
        True where pixels are valid (the images' shape, or their shape without
        the channel axis). Each window's statistics are then computed over its
        valid pixels only (normalised convolution): tap-weighted means over the
        valid pixels, the sample-covariance factor n / (n - 1) with n the
        window's valid pixels. Windows whose valid fraction (the sum of their
        taps over valid pixels) is below `min_valid` are left out of the mean
        and are NaN in the map. 1-D and 2-D images (per channel) only; not
        with `gradient`. A mask of all True gives the unmasked result.
    nan_policy : {'propagate', 'omit', 'raise'}, optional
        'propagate' (default, as scikit-image): NaN pixels make the windows
        around them NaN, and the mean NaN. 'omit': NaN pixels (in either
        image) are treated as masked. 'raise': a ValueError if either image
        holds a NaN.
    min_valid : float, optional
        The valid fraction a window needs to count, in (0, 1]; default 0.5.

    Other Parameters
    ----------------
    use_sample_covariance : bool
        If True (default), normalize covariances by N-1 rather than N, where N is
        the number of pixels within the sliding window.
    K1 : float
        Algorithm parameter, K1 (small constant, see [1]_), default 0.01.
    K2 : float
        Algorithm parameter, K2 (small constant, see [1]_), default 0.03.
    sigma : float
        Standard deviation for the Gaussian when `gaussian_weights` is True,
        default 1.5.
    multichannel : bool
        Deprecated spelling of ``channel_axis=-1``; emits a FutureWarning.

    Returns
    -------
    mssim : numpy.float64 or numpy.float32
        The mean structural similarity index over the image (float64, or, with
        `channel_axis` and float16/float32 input, float32, as scikit-image).
    grad : ndarray
        The gradient of the structural similarity between im1 and im2 [2]_.
        This is only returned if `gradient` is set to True.
    S : ndarray
        The full SSIM image. This is only returned if `full` is set to True.
        Near the edges, its windows are mirrored ('reflect' mode); the mean
        leaves out a border of ``(win_size - 1) // 2`` pixels on every axis.

    Raises
    ------
    TypeError
        For inputs that are not real numbers (complex, object, strings, dates),
        an unknown keyword argument, or options of the wrong type.
    ValueError
        For images of different shapes, a floating-point image without
        `data_range`, or an invalid option value (the message says which).

    Notes
    -----
    To match the implementation of Wang et al. [1]_, set `gaussian_weights`
    to True, `sigma` to 1.5, `use_sample_covariance` to False, and
    specify the `data_range` argument.

    Statistics are computed in double precision whatever the input dtype;
    float32 results therefore differ from scikit-image's float32 arithmetic in
    the last few digits.

    References
    ----------
    .. [1] Wang, Z., Bovik, A. C., Sheikh, H. R., & Simoncelli, E. P.
       (2004). Image quality assessment: From error visibility to
       structural similarity. IEEE Transactions on Image Processing,
       13, 600-612. :DOI:`10.1109/TIP.2003.819861`
    .. [2] Avanaki, A. N. (2009). Exact global histogram specification
       optimized for structural similarity. Optical Review, 16, 613-621.
       :DOI:`10.1007/s10043-009-0119-z`

    Examples
    --------
    >>> import numpy as np
    >>> from ssimfast import structural_similarity
    >>> rng = np.random.default_rng(0)
    >>> a = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    >>> float(structural_similarity(a, a))
    1.0
    """
    im1 = _as_image(im1, "im1")
    im2 = _as_image(im2, "im2")
    masking = mask is not None or nan_policy != "propagate" or min_valid != _masked.MIN_VALID
    if type(preset) is not str or preset != "skimage":
        if masking:
            raise ValueError(f"mask=, nan_policy= and min_valid= work with preset='skimage' "
                             f"only, not preset={preset!r}")
        from ssimfast._presets import preset_ssim

        return preset_ssim(im1, im2, preset, win_size=win_size, gradient=gradient,
                           data_range=data_range, channel_axis=channel_axis,
                           gaussian_weights=gaussian_weights, full=full, workers=workers,
                           bits=bits, kwargs=kwargs)
    if bits is not None:
        data_range = bits_range(bits, data_range, im1.dtype, im2.dtype)
    setup = _checked_setup(im1.shape, im1.dtype, im2.shape, im2.dtype, win_size, data_range,
                           channel_axis, gaussian_weights, workers, kwargs)
    if data_range is not None:
        check_range(im1, im2, data_range, bits)
    if masking:
        _masked.check_options(mask, nan_policy, min_valid, gradient)
        valid = _masked.valid_pixels(im1, im2, mask, nan_policy, setup.channel_axis)
        if valid is not None:
            x, y = _kernel_inputs(im1, im2, setup.float_type)
            return _masked.score(x, y, valid, setup, full, min_valid)
    return _score(im1, im2, setup, full, gradient)


def _score(im1, im2, setup, full, gradient):
    """structural_similarity's result for validated NumPy images (no warnings)."""
    channel_axis, float_type, params = setup
    x, y = _kernel_inputs(im1, im2, float_type)
    S = np.empty(im1.shape, dtype=np.float64) if full else None
    G = np.empty(im1.shape, dtype=np.float64) if gradient else None
    if channel_axis is None:
        mssim = np.float64(_ssim_single(x, y, params, S, G))
    else:
        at = functools.partial(_slice_at_axis, axis=channel_axis)
        means = [
            _ssim_single(
                x[at(ch)],
                y[at(ch)],
                params,
                None if S is None else S[at(ch)],
                None if G is None else G[at(ch)],
            )
            for ch in range(im1.shape[channel_axis])
        ]
        # As scikit-image: per-channel means stored in the float type, then averaged.
        mssim = np.asarray(means, dtype=float_type).mean()

    out = (mssim,)
    if gradient:
        out += (G.astype(float_type, copy=False),)
    if full:
        out += (S.astype(float_type, copy=False),)
    return out[0] if len(out) == 1 else out


class _Params(typing.NamedTuple):
    """What the kernels need besides the images: taps, constants, threads."""

    taps: np.ndarray
    exact: bool
    crop: int
    c1: float
    c2: float
    cov_norm: float
    n_threads: int


_IDENTITY = np.ones(1, dtype=np.float64)
_IDENTITY.flags.writeable = False
_MIN_PIXELS_PER_THREAD = 1 << 14
# "Not wanted" outputs for the kernels, by number of dimensions (shape 0 on every axis).
_NONE = {ndim: np.empty((0,) * ndim) for ndim in range(1, 65)}  # NumPy allows 64 axes


@functools.lru_cache(maxsize=64)
def _unit_taps(n):
    """n taps of 1.0 (read-only, shared between calls)."""
    taps = np.ones(n, dtype=np.float64)
    taps.flags.writeable = False
    return taps


@functools.lru_cache(maxsize=64)
def _uniform_taps(win_size):
    taps = np.full(win_size, 1.0 / win_size)
    taps.flags.writeable = False
    return taps


class _Setup(typing.NamedTuple):
    """A validated call: the channel axis (normalised, or None), the float type
    of the results, and the kernel parameters."""

    channel_axis: typing.Optional[int]
    float_type: np.dtype
    params: _Params


def _setup(shape1, dtype1, shape2, dtype2, win_size, data_range, channel_axis,
           gaussian_weights, workers, kwargs):
    """Every check and inference of structural_similarity that needs only the
    shapes and dtypes (not the pixels), in scikit-image's order. Pops kwargs."""
    if shape1 != shape2:
        raise ValueError(
            "Input images must have the same dimensions: "
            f"im1.shape={shape1} but im2.shape={shape2}."
        )
    ndim = len(shape1)
    opts = _pop_options(kwargs)
    channel_axis = _resolve_channel_axis(channel_axis, opts.pop("multichannel"), ndim)
    float_type = _supported_float_type(dtype1)
    spatial = tuple(n for ax, n in enumerate(shape1) if ax != channel_axis)
    if not spatial:
        raise ValueError(
            f"the images have shape {shape1}: with channel_axis={channel_axis} "
            "no spatial axis is left; pass channel_axis=None for single-channel data"
        )

    K1 = _non_negative(opts["K1"], "K1")
    K2 = _non_negative(opts["K2"], "K2")
    sigma = _non_negative(opts["sigma"], "sigma")
    use_sample_covariance = bool(opts["use_sample_covariance"])
    win_size, taps = _window(win_size, gaussian_weights, sigma, spatial)
    NP = win_size ** len(spatial)
    if use_sample_covariance and NP == 1:
        raise ValueError(
            "use_sample_covariance=True needs more than one pixel per window (it "
            "divides by N-1); pass a larger win_size or use_sample_covariance=False"
        )
    cov_norm = NP / (NP - 1) if use_sample_covariance else 1.0
    data_range = _data_range(data_range, dtype1, dtype2)
    n_threads = resolve_workers(workers)
    if dtype1.newbyteorder("=") != dtype2.newbyteorder("="):
        kernel_dtype = float_type  # _kernel_inputs casts both
    else:
        kernel_dtype = _kernel_dtype(dtype1)
    c1, c2 = _stabilisers(K1, K2, data_range)
    params = _Params(
        taps=taps,
        exact=not gaussian_weights and _sums_are_exact(kernel_dtype, NP),
        crop=(win_size - 1) // 2,
        c1=c1,
        c2=c2,
        cov_norm=cov_norm,
        n_threads=n_threads,
    )
    return _Setup(channel_axis, float_type, params)


# Option types whose _setup is cached: plain Python values (hashable; a NumPy
# scalar would hash like a float but compute C1 and C2 in its own precision).
_PLAIN = frozenset((type(None), int, float))
_SILENT_DTYPES = frozenset((np.dtype(np.uint8), np.dtype(np.bool_)))


def _checked_setup(shape1, dtype1, shape2, dtype2, win_size, data_range, channel_axis,
                   gaussian_weights, workers, kwargs):
    """_setup, from a cache for the common call: it costs about 10 us, a third
    of a 64x64 call. Cached only where _setup can neither warn (a warning must
    come on every call) nor depend on anything but its arguments: no keyword
    options, plain-Python values, and a data_range given or implied silently."""
    if (not kwargs and type(win_size) in _PLAIN and type(data_range) in _PLAIN
            and type(channel_axis) in _PLAIN and type(gaussian_weights) is bool
            and (workers is None or (type(workers) is int and workers != 0))
            and (data_range is not None or (dtype1 == dtype2 and dtype1 in _SILENT_DTYPES))):
        setup = _cached_setup(shape1, dtype1, shape2, dtype2, win_size, data_range,
                              channel_axis, gaussian_weights, workers)
        # The thread count follows OMP_NUM_THREADS / threadpoolctl limits,
        # which may change between calls.
        n_threads = resolve_workers(workers)
        if setup.params.n_threads != n_threads:
            setup = setup._replace(params=setup.params._replace(n_threads=n_threads))
        return setup
    return _setup(shape1, dtype1, shape2, dtype2, win_size, data_range, channel_axis,
                  gaussian_weights, workers, kwargs)


@functools.lru_cache(maxsize=128, typed=True)
def _cached_setup(shape1, dtype1, shape2, dtype2, win_size, data_range, channel_axis,
                  gaussian_weights, workers):
    return _setup(shape1, dtype1, shape2, dtype2, win_size, data_range, channel_axis,
                  gaussian_weights, workers, {})


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


def _kernel_taps(taps, exact):
    """(taps per axis, scale) for the kernels. Exact mode filters with unit taps
    (window sums, exact integers) and scales by 1/N once; otherwise the
    normalised taps, as scipy.ndimage does, and a scale of 1.0."""
    if not exact:
        return taps, 1.0
    return _unit_kernel_taps(tuple([t.shape[0] for t in taps]))


@functools.lru_cache(maxsize=64)
def _unit_kernel_taps(lengths):
    return tuple([_unit_taps(n) for n in lengths]), 1.0 / math.prod(lengths)


def _ssim_single(x, y, p, S, G):
    """Mean SSIM of one channel; fills S (the map) and G (the gradient) if given."""
    total, count = _ssim_sum(x, y, p, S, G)
    return total / count


def _ssim_sum(x, y, p, S, G):
    """(sum of the SSIM map over the interior, number of interior pixels) of one
    channel; fills S and G if given. The interior may be empty (a tile)."""
    spatial = x.ndim
    if spatial == 1:  # a 1-D signal is a 1 x n image with no filtering along axis 0
        x, y = x[np.newaxis], y[np.newaxis]
        S = None if S is None else S[np.newaxis]
        G = None if G is None else G[np.newaxis]
        taps = [_IDENTITY, p.taps]
        crops = [0, p.crop]
    else:
        taps = [p.taps] * spatial
        crops = [p.crop] * spatial
    stat_taps, scale = _kernel_taps(taps, p.exact)
    shape = x.shape
    ndim = len(shape)
    # (The N-D path only checks tmaps.shape[0], so any rank will do past 63 axes.)
    tmaps = _NONE.get(ndim + 1, _NONE[1]) if G is None else np.empty((3,) + shape)
    smap = _NONE[ndim] if S is None else S

    # Below this size, starting threads costs more than it saves (same result).
    n_threads = p.n_threads if x.size >= _MIN_PIXELS_PER_THREAD else 1
    if ndim == 2:
        total = kernels.ssim_2d(x, y, stat_taps[0], stat_taps[1],
                                crops[0], shape[0] - crops[0], crops[1],
                                scale, p.c1, p.c2, p.cov_norm, smap, tmaps, n_threads,
                                p.exact, _NONE[1])
    elif ndim == 3:
        total = kernels.ssim_3d(x, y, *stat_taps, *crops,
                                scale, p.c1, p.c2, p.cov_norm, smap, tmaps, n_threads,
                                p.exact)
    else:
        total = _ssim_nd(x, y, stat_taps, scale, crops, p, S, tmaps)

    if G is not None:
        _gradient(x, y, tmaps, taps, p.n_threads, out=G)
    if ndim == 2:
        return total, max(0, shape[0] - 2 * crops[0]) * max(0, shape[1] - 2 * crops[1])
    return total, math.prod([max(0, n - 2 * c) for n, c in zip(shape, crops)])


def _ssim_nd(x, y, taps, scale, crops, p, S, tmaps):
    """Any number of dimensions: whole-array separable passes (full-size temporaries)."""
    # C order throughout: _filter_nd reshapes, and a reshape of other layouts copies.
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    stats = [x.copy(), y.copy(), x * x + y * y, x * y]
    tmp = np.empty(x.shape)
    for s in range(4):
        stats[s], tmp = _filter_nd(stats[s], taps, p.n_threads, tmp)
    smap = np.empty(x.size)
    flat_t = tmaps.reshape(3, -1) if tmaps.shape[0] else _NONE[2]
    kernels.ssim_map_nd(*(s.ravel() for s in stats), scale, p.c1, p.c2, p.cov_norm,
                        smap, flat_t)
    smap = smap.reshape(x.shape)
    if S is not None:
        S[...] = smap
    interior = tuple(slice(c, n - c) for c, n in zip(crops, x.shape))
    return smap[interior].sum(dtype=np.float64)


def _filter_nd(a, taps, n_threads, tmp):
    """Filter C-contiguous float64 `a` along every axis; returns (result, spare buffer)."""
    if not (a.flags.c_contiguous and tmp.flags.c_contiguous):
        raise RuntimeError("internal error: _filter_nd needs C-contiguous buffers")
    shape = a.shape
    for axis, t in enumerate(taps):
        if t.shape[0] == 1 and t[0] == 1.0:
            continue  # identity: 0 + 1.0 * v == v exactly
        pre = math.prod(shape[:axis])
        post = math.prod(shape[axis + 1:])
        kernels.filter_axis(a.reshape(pre, shape[axis], post),
                            tmp.reshape(pre, shape[axis], post), t, n_threads)
        a, tmp = tmp, a
    return a, tmp


def _gradient(x, y, tmaps, taps, n_threads, out):
    """Avanaki's gradient, in scikit-image's order of operations (Eqs. 7-8)."""
    tmp = np.empty(x.shape)
    f = []
    for t in range(3):
        filtered, tmp = _filter_nd(tmaps[t], taps, n_threads, tmp)
        f.append(filtered)  # the spare may be tmaps[t]: it is no longer needed
    f1, f2, f3 = f
    np.multiply(f1, x, out=f1)
    np.multiply(f2, y, out=f2)
    f1 += f2
    f1 += f3
    f1 *= 2 / x.size
    out[...] = f1


# ---------------------------------------------------------------------------
# Validation and inference
# ---------------------------------------------------------------------------

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _warn(message, category=UserWarning):
    """warnings.warn pointing at the first caller outside ssimfast, however deep
    inside the package (structural_similarity, ssim_batch, ...) it is raised."""
    level, frame = 2, sys._getframe(1)  # stacklevel 2 is _warn's caller
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)


def _as_image(a, name):
    try:
        a = np.asarray(a)
    except ValueError as exc:  # ragged nested sequences
        raise ValueError(f"{name} cannot be made into an array ({exc}); pass a NumPy "
                         "array, or nested sequences of equal lengths") from None
    _check_image(a.shape, a.dtype, name)
    return a


def _check_image(shape, dtype, name):
    kind = dtype.kind
    if kind == "c":
        raise TypeError(
            f"{name} is complex ({dtype}); SSIM is defined for real images: "
            "pass its magnitude (np.abs) or real part"
        )
    if kind not in "biuf":
        raise TypeError(
            f"{name} has dtype {dtype}, which SSIM cannot score: pass an array of "
            "bool, integer or floating-point values"
        )
    if len(shape) == 0:
        raise ValueError(f"{name} is a 0-d array (a scalar); SSIM needs an image or signal")


def _pop_options(kwargs):
    if not kwargs:
        return dict(_DEFAULTS, multichannel=None)
    opts = {name: kwargs.pop(name, default) for name, default in _DEFAULTS.items()}
    opts["multichannel"] = kwargs.pop("multichannel", None)
    if kwargs:
        name = next(iter(kwargs))
        raise TypeError(
            f"structural_similarity() got an unexpected keyword argument {name!r} "
            "(scikit-image would silently ignore it); the options are "
            "use_sample_covariance, K1, K2 and sigma"
        )
    return opts


def _resolve_channel_axis(channel_axis, multichannel, ndim):
    if multichannel is not None:
        implied = -1 if multichannel else None
        _warn(
            "`multichannel` is deprecated (removed from scikit-image): use "
            f"channel_axis={implied} instead",
            FutureWarning,
        )
        if channel_axis is None:
            channel_axis = implied
        elif implied is None or _normalize_axis(channel_axis, ndim) != ndim - 1:
            raise ValueError(
                f"multichannel={multichannel!r} contradicts channel_axis={channel_axis!r}; "
                "pass only channel_axis"
            )
    if channel_axis is None:
        return None
    return _normalize_axis(channel_axis, ndim)


def _normalize_axis(axis, ndim):
    if isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"channel_axis must be an integer or None, got {axis!r}")
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"channel_axis must be an integer or None, got {axis!r}") from None
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(
            f"channel_axis={axis} is out of range for images with {ndim} dimension(s)"
        )
    return axis % ndim


def _real(value, name):
    """`value` as a float, for checks; TypeError unless it is a real number
    (a Python or NumPy scalar, or a 0-d array of one)."""
    if type(value) is float:  # the common case, checked first
        return value
    scalar = value.item() if isinstance(value, np.ndarray) and value.ndim == 0 else value
    if type(scalar) is not int and (isinstance(scalar, (bool, np.bool_))
                                    or not isinstance(scalar, numbers.Real)):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    try:
        return float(scalar)
    except OverflowError:  # an int beyond the float range: infinite, for the checks
        return math.inf if scalar > 0 else -math.inf


def _non_negative(value, name):
    """Check K1, K2 or sigma, and return it unchanged: scikit-image computes with
    the caller's object, and a np.float32 rounds C1 and C2 to float32 there."""
    checked = _real(value, name)
    if math.isnan(checked) or math.isinf(checked):
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    if checked < 0:
        raise ValueError(f"{name} must be positive (>= 0), got {value}")
    return value


def _window(win_size, gaussian_weights, sigma, spatial):
    """(win_size, 1-D taps) as scikit-image: uniform win_size, or Gaussian of sigma."""
    if gaussian_weights:
        radius = int(_TRUNCATE * sigma + 0.5)  # as scipy.ndimage
        if type(sigma) is float:
            taps = _gaussian_taps(sigma, radius)
        else:  # a NumPy scalar: keep its arithmetic (float32 rounds), don't cache
            taps = _gaussian_taps.__wrapped__(sigma, radius)
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
        return win_size, _uniform_taps(win_size)
    return win_size, taps


@functools.lru_cache(maxsize=64)
def _gaussian_taps(sigma, radius):
    """scikit-image's and scipy.ndimage's expressions, with the caller's sigma."""
    if float(sigma) <= 1e-15:  # scipy.ndimage skips the filter below this
        return _IDENTITY
    x = np.arange(-radius, radius + 1)
    sigma2 = sigma * sigma
    taps = np.exp(-0.5 / sigma2 * x**2)
    taps = np.ascontiguousarray(taps / taps.sum(), dtype=np.float64)
    taps.flags.writeable = False
    return taps


@functools.lru_cache(maxsize=64)
def _integer_limits(dtype):
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def _data_range(data_range, dtype1, dtype2):
    if data_range is not None:
        checked = _real(data_range, "data_range")
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
    if dtype1 != dtype2:
        _warn(
            "Inputs have mismatched dtypes. Setting data_range based on im1.dtype."
        )
    if dtype1.kind == "b":
        return 1
    lowest, highest = _integer_limits(dtype1)
    data_range = highest - lowest
    if dtype1 != np.uint8:
        _warn(
            "Setting data_range based on im1.dtype. "
            f"data_range = {data_range:.0f}. "
            "Please specify data_range explicitly to avoid mistakes."
        )
    return data_range


@functools.lru_cache(maxsize=256)
def _sums_are_exact(dtype, n_window):
    """True if every window sum of x, y, x*x + y*y and x*y is an integer below
    2**53 for this kernel dtype, so that double arithmetic computes it exactly."""
    if dtype.char not in "BHh":  # uint8, uint16, int16
        return False
    lowest, highest = _integer_limits(dtype)
    largest = max(-lowest, highest)
    return n_window * 2 * largest * largest < 2**53


def _supported_float_type(dtype):
    """scikit-image's float type of results: float32 for float16/32, else float64."""
    return np.dtype(np.float32) if dtype.char in "ef" else np.dtype(np.float64)


def _kernel_dtype(dtype):
    dtype = dtype.newbyteorder("=")
    if dtype in _KERNEL_DTYPES:
        return dtype
    if dtype.kind == "b":
        return np.dtype(np.uint8)
    if dtype in _CONVERTED:
        return _CONVERTED[dtype]
    return np.dtype(np.float64)


def _kernel_inputs(im1, im2, float_type):
    """The two images in a dtype the kernels read, as views where possible.

    Mismatched dtypes are both cast to the float type, as scikit-image does
    (im2 as well: a float64 im2 beside a float32 im1 is rounded to float32).
    """
    if im1.dtype is im2.dtype and im1.dtype in _KERNEL_DTYPES:  # common: nothing to do
        return _aligned(im1), _aligned(im2)
    if im1.dtype.newbyteorder("=") != im2.dtype.newbyteorder("="):
        return im1.astype(float_type), im2.astype(float_type)
    return _aligned(_to_kernel_dtype(im1)), _aligned(_to_kernel_dtype(im2))


def _aligned(a):
    """`a`, or an aligned copy if it is not (a view at an odd byte offset): the
    kernels read pixels through typed pointers, and an unaligned load is
    undefined behaviour in C (UBSan reports it; vectorised code may fault)."""
    return a if a.flags.aligned else a.copy()


def _to_kernel_dtype(a):
    if a.dtype.kind == "b":
        return a.view(np.uint8)  # same bytes, 0 and 1: no copy
    target = _kernel_dtype(a.dtype)
    return a if a.dtype == target and a.dtype.isnative else a.astype(target)


def _slice_at_axis(index, axis):
    return (slice(None),) * axis + (index,)

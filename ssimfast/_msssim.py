"""ms_ssim: multi-scale SSIM (Wang, Simoncelli and Bovik, 2003) on the
compiled kernels (ssim_cs_2d, box_downsample_2d in _multiscale.pxi)."""
import functools
import math
import numbers
import operator

import numpy as np

from ssimfast._extension import kernels
from ssimfast._ranges import bits_range, check_range
from ssimfast._ssim import (
    _MIN_PIXELS_PER_THREAD,
    _as_image,
    _data_range,
    _kernel_inputs,
    _non_negative,
    _normalize_axis,
    _real,
    _slice_at_axis,
    _supported_float_type,
)
from ssimfast._threads import resolve_workers

__all__ = ["ms_ssim", "DEFAULT_WEIGHTS"]

# Wang, Simoncelli and Bovik (2003), finest scale first.
DEFAULT_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ms_ssim(im1, im2, *, data_range=None, bits=None, weights=None, scales=None,
            channel_axis=None, win_size=11, sigma=1.5, K1=0.01, K2=0.03, workers=None):
    """
    Multi-scale structural similarity (MS-SSIM) of two 2-D images.

    At each scale j = 1..M the images are compared with a Gaussian window
    (`win_size` taps of `sigma`, population covariance) over the windows that
    lie inside the image ('valid'), and then halved by 2x2 averaging.
    The result is ``prod_{j<M} max(cs_j, 0)**w_j * max(ssim_M, 0)**w_M``:
    cs_j is the mean contrast-structure term (2 sigma_xy + C2) /
    (sigma_x^2 + sigma_y^2 + C2) at scale j, ssim_M the mean SSIM (luminance
    times contrast-structure) at the coarsest scale. This is the MS-SSIM of
    pytorch-msssim and tf.image.ssim_multiscale, and of Wang's msssim.m where
    that is defined.

    Parameters
    ----------
    im1, im2 : array_like
        Images of the same shape: 2-D, or 3-D with `channel_axis`.
    data_range : float, optional
        As in structural_similarity: inferred from integer dtypes (255 for
        uint8), required for floating-point images.
    bits : int, optional
        Bit depth of integer data (10, 12 in uint16): data_range = 2**bits - 1.
    weights : sequence of float, optional
        The exponent of each scale, finest first; their number is the number
        of scales. Default: Wang et al.'s five, (0.0448, 0.2856, 0.3001,
        0.2363, 0.1333).
    scales : int, optional
        With `weights` unset, use the first `scales` (1 to 5) default weights
        divided by their sum (so that they still sum to 1). With `weights`,
        it must equal ``len(weights)``.
    channel_axis : int, optional
        Axis of colour channels: the result is the mean of the channels'
        MS-SSIM (as pytorch-msssim and TensorFlow).
    win_size : int, optional
        Taps of the Gaussian window (odd), default 11.
    sigma : float, optional
        Standard deviation of the Gaussian window, default 1.5.
    K1, K2 : float, optional
        SSIM constants, default 0.01 and 0.03.
    workers : int, optional
        Threads, as in structural_similarity; the result does not depend on it.

    Returns
    -------
    numpy.float64
        MS-SSIM, in [0, 1]; exactly 1.0 for identical images.

    Notes
    -----
    Negative terms: a scale whose mean contrast-structure (or, at the coarsest
    scale, mean SSIM) is negative contributes 0, so the result is 0, as
    pytorch-msssim and TensorFlow clamp with relu. The alternative, a signed
    power, would make two negative scales multiply to a positive score, and
    Wang's MATLAB code gives a complex number there.

    Downsampling: each 2x2 block is averaged; a last row or column of an odd
    size is averaged with itself (the image is mirrored), as msssim.m's
    ``imfilter(.., ones(2)/4, 'symmetric')`` and TensorFlow do. pytorch-msssim
    pads odd sizes with zeros instead, so compare with it on sizes that stay
    even. The coarsest scale must still hold one window: images need at
    least ``(win_size - 1) * 2**(M - 1) + 1`` pixels a side (161 for five
    scales and 11 taps).

    References
    ----------
    Wang, Z., Simoncelli, E. P., & Bovik, A. C. (2003). Multiscale structural
    similarity for image quality assessment. The Thirty-Seventh Asilomar
    Conference on Signals, Systems & Computers, 2, 1398-1402.
    :DOI:`10.1109/ACSSC.2003.1292216`
    """
    im1 = _as_image(im1, "im1")
    im2 = _as_image(im2, "im2")
    if im1.shape != im2.shape:
        raise ValueError(
            "Input images must have the same dimensions: "
            f"im1.shape={im1.shape} but im2.shape={im2.shape}."
        )
    axis = None if channel_axis is None else _normalize_axis(channel_axis, im1.ndim)
    spatial = tuple(n for ax, n in enumerate(im1.shape) if ax != axis)
    if len(spatial) != 2:
        raise ValueError(
            f"ms_ssim scores 2-D images (3-D with channel_axis for colour); the images "
            f"have shape {im1.shape} and channel_axis={channel_axis}"
        )
    weights = _weights(weights, scales)
    win_size = _win_size(win_size)
    sigma = _real(sigma, "sigma")
    if not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a finite number greater than 0, got {sigma}")
    K1 = _real(_non_negative(K1, "K1"), "K1")
    K2 = _real(_non_negative(K2, "K2"), "K2")
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
    explicit = data_range is not None or bits is not None
    if bits is not None:
        data_range = bits_range(bits, data_range, im1.dtype, im2.dtype)
    L = _real(_data_range(data_range, im1.dtype, im2.dtype), "data_range")
    n_threads = resolve_workers(workers)
    if explicit:
        check_range(im1, im2, L, bits)

    taps = _gaussian(win_size, sigma)
    c1, c2 = (K1 * L) ** 2, (K2 * L) ** 2
    x, y = _kernel_inputs(im1, im2, _supported_float_type(im1.dtype))
    if axis is None:
        return np.float64(_ms_ssim_2d(x, y, taps, c1, c2, weights, n_threads))
    values = [_ms_ssim_2d(x[_slice_at_axis(ch, axis)], y[_slice_at_axis(ch, axis)],
                          taps, c1, c2, weights, n_threads)
              for ch in range(im1.shape[axis])]
    return np.float64(math.fsum(values) / len(values))


def _ms_ssim_2d(x, y, taps, c1, c2, weights, n_threads):
    """MS-SSIM of one 2-D channel (any kernel dtype and strides)."""
    r = taps.shape[0] // 2
    value = 1.0
    last = len(weights) - 1
    for level, w in enumerate(weights):
        H, W = x.shape
        threads = n_threads if x.size >= _MIN_PIXELS_PER_THREAD else 1
        ssim_sum, cs_sum = kernels.ssim_cs_2d(x, y, taps, taps, r, r, c1, c2, 1.0, threads)
        term = (ssim_sum if level == last else cs_sum) / ((H - 2 * r) * (W - 2 * r))
        value *= max(term, 0.0) ** w
        if level < last:
            x, y = _halve(x, y, threads)
    return value


def _halve(x, y, n_threads):
    H, W = x.shape
    out = np.empty((2, (H + 1) // 2, (W + 1) // 2))
    kernels.box_downsample_2d(x, y, 2, out[0], out[1], n_threads)
    return out[0], out[1]


def _weights(weights, scales):
    if scales is not None:
        if isinstance(scales, (bool, np.bool_)) or not isinstance(scales, numbers.Integral):
            raise TypeError(f"scales must be an integer, got {scales!r}")
        scales = operator.index(scales)
    if weights is None:
        if scales is None:
            return DEFAULT_WEIGHTS
        if not 1 <= scales <= len(DEFAULT_WEIGHTS):
            raise ValueError(
                f"scales must be from 1 to {len(DEFAULT_WEIGHTS)} with the default weights, "
                f"got {scales}; pass weights= for other numbers of scales"
            )
        head = DEFAULT_WEIGHTS[:scales]
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
def _gaussian(win_size, sigma):
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
    while fits < len(DEFAULT_WEIGHTS) and side >= (win_size - 1) * 2 ** fits + 1:
        fits += 1
    return fits

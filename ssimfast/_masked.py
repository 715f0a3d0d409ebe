"""SSIM over the valid pixels only: `mask=` and `nan_policy=`.

For images with borders, padding, or invalid regions (clouds over satellite
data, dead pixels), each window's statistics are computed over its valid
pixels alone (normalised convolution, the kernel in _masked.pxi):

* the window's valid fraction f is the sum of its taps over valid pixels (1 for
  a window of valid pixels only);
* its means, variances and covariance are the tap-weighted means over the
  valid pixels; with sample covariance the factor is n / (n - 1), n = f times
  the pixels of a full window (scikit-image's factor when f = 1); for a
  uniform window n is the exact count of valid pixels and f = n / pixels;
* windows with f < min_valid (default 0.5) are left out of the mean and are
  NaN in the map; so are windows with n <= 1 under sample covariance.

nan_policy: 'propagate' (default, scikit-image's behaviour: a NaN makes the
windows around it NaN), 'omit' (NaN pixels are masked), 'raise' (a ValueError
if either image holds a NaN).

Supported for 1-D and 2-D images, with channel_axis for colour (one mask for
every channel, or one per channel). Without a mask, and without a NaN to omit,
the call is the ordinary one, so its result is identical to structural_similarity's.
"""
import functools
import math

import numpy as np

from ssimfast._checks import slice_at_axis
from ssimfast._extension import kernels

__all__ = ["NAN_POLICIES", "MIN_VALID", "check_options", "check_mask", "valid_pixels", "score"]

NAN_POLICIES = ("propagate", "omit", "raise")
MIN_VALID = 0.5


def check_options(mask, nan_policy, min_valid, gradient):
    """Validate the masking options (before any image is looked at)."""
    if nan_policy not in NAN_POLICIES:
        raise ValueError(f"nan_policy must be one of {NAN_POLICIES}, got {nan_policy!r}")
    if isinstance(min_valid, bool) or not isinstance(min_valid, (int, float, np.floating,
                                                                 np.integer)):
        raise TypeError(f"min_valid must be a number in (0, 1], got {min_valid!r}")
    if not 0 < min_valid <= 1:
        raise ValueError(f"min_valid must be in (0, 1] (the valid fraction of a window "
                         f"needed to count it), got {min_valid!r}")
    if gradient and (mask is not None or nan_policy == "omit"):
        raise ValueError("gradient=True is not available with mask= or nan_policy='omit'")


def valid_pixels(im1, im2, mask, nan_policy, channel_axis):
    """(mask, omit_nan) for the masked kernel, or None when every pixel counts and
    the ordinary computation applies. mask is the boolean mask of valid pixels
    (image shape), or None for all of them; omit_nan says that pixels where
    either image is NaN are invalid too (the kernel tests them as it reads them,
    rather than building a mask of them here: a pass over both images less)."""
    if nan_policy == "raise":
        for name, im in (("im1", im1), ("im2", im2)):
            if im.dtype.kind == "f":
                nans = np.isnan(im)
                if nans.any():
                    where = tuple(int(i) for i in np.argwhere(nans)[0])
                    raise ValueError(
                        f"{name} holds {int(nans.sum())} NaN values (the first at {where}); "
                        "pass nan_policy='omit' to leave them out, or 'propagate'")
    if mask is not None:
        mask = check_mask(mask, im1.shape, channel_axis)
        if mask.all():
            mask = None
    omit = nan_policy == "omit" and (im1.dtype.kind == "f" or im2.dtype.kind == "f")
    if omit and mask is None:
        omit = _has_nan(im1) or _has_nan(im2)
    if mask is None and not omit:
        return None
    return mask, omit


def _has_nan(im, chunk=1 << 16):
    """True if `im` holds a NaN; stops at the first chunk that has one."""
    if im.dtype.kind != "f":
        return False
    flat = im.ravel(order="K")  # a view unless `im` is not contiguous
    return any(np.isnan(flat[i : i + chunk]).any() for i in range(0, flat.size, chunk))


def check_mask(mask, shape, channel_axis):
    """The mask as a boolean array of the images' shape (a view), checked."""
    mask = np.asarray(mask)
    if mask.dtype != np.bool_:
        raise TypeError(f"mask must be a boolean array (True where pixels are valid), got "
                        f"dtype {mask.dtype}")
    if channel_axis is not None and mask.shape == _without(shape, channel_axis):
        mask = np.expand_dims(mask, channel_axis)  # one mask for every channel
    if mask.shape != shape and not (channel_axis is not None and mask.ndim == len(shape)
                                    and mask.shape[channel_axis] == 1
                                    and _without(mask.shape, channel_axis)
                                    == _without(shape, channel_axis)):
        raise ValueError(f"mask has shape {mask.shape}; it must be the images' shape {shape}"
                         + (f" or their shape without the channel axis "
                            f"{_without(shape, channel_axis)}" if channel_axis is not None else ""))
    mask = np.broadcast_to(mask, shape)
    if not mask.any():
        raise ValueError("mask selects no pixel: pass True where pixels are valid")
    return mask


def _without(shape, axis):
    return tuple(n for i, n in enumerate(shape) if i != axis)


def score(x, y, valid, setup, full, min_valid):
    """structural_similarity's result for validated kernel inputs and the valid
    pixels as valid_pixels gives them (see the module docstring)."""
    valid, omit = valid
    channel_axis, float_type, params = setup.channel_axis, setup.float_type, setup.params
    spatial = x.ndim - (channel_axis is not None)
    if spatial not in (1, 2):
        raise ValueError(f"mask= and nan_policy='omit' support 1-D and 2-D images (with "
                         f"channel_axis for colour); these have {spatial} spatial axes")
    S = np.empty(x.shape, dtype=np.float64) if full else None
    if channel_axis is None:
        sums = [_masked_sums(x, y, valid, omit, params, S, min_valid)]
    else:
        at = functools.partial(slice_at_axis, axis=channel_axis)
        sums = [_masked_sums(x[at(c)], y[at(c)], None if valid is None else valid[at(c)],
                             omit, params, None if S is None else S[at(c)], min_valid)
                for c in range(x.shape[channel_axis])]
    for total, count in sums:
        if count == 0:
            raise ValueError(
                f"no window has at least min_valid={min_valid} of its weight on valid pixels "
                "(away from the border the mean leaves out): mark more pixels valid, or lower "
                "min_valid")
    means = [total / count for total, count in sums]
    mssim = np.float64(means[0]) if channel_axis is None else np.asarray(
        means, dtype=float_type).mean()
    if full:
        return mssim, S.astype(float_type, copy=False)
    return mssim


def _masked_sums(x, y, valid, omit, p, S, min_valid):
    """(sum, count) of the counted map values of one channel; fills S if given.
    valid None: every pixel is valid (but NaN ones, with omit)."""
    taps = np.ascontiguousarray(p.taps, dtype=np.float64)
    mask = np.empty((0, 0), np.uint8) if valid is None else valid.view(np.uint8)
    if x.ndim == 1:  # a 1-D signal is one row, not filtered along axis 0
        x, y = x[np.newaxis], y[np.newaxis]
        mask = mask if valid is None else mask[np.newaxis]
        S = None if S is None else S[np.newaxis]
        taps0, crop0 = np.ones(1), 0
    else:
        taps0, crop0 = taps, p.crop
    sample = p.cov_norm != 1.0
    window_pixels = p.cov_norm / (p.cov_norm - 1.0) if sample else math.inf
    H = x.shape[0]
    rowsums, rowcounts = np.empty(H), np.empty(H)
    smap = S if S is not None else np.empty((0, 0))
    kernels.ssim_masked_2d(x, y, mask, omit, taps0, taps, crop0, p.crop, p.c1, p.c2,
                           window_pixels, sample, float(min_valid), smap, rowsums, rowcounts,
                           p.n_threads)
    return float(np.sum(rowsums)), int(np.sum(rowcounts))

"""mean_squared_error and peak_signal_noise_ratio: scikit-image's, compiled.

scikit-image converts both images to floats and takes np.mean of the squared
differences. Here the squared differences are summed in one compiled pass with
the GIL released: exactly, in integers, for images of at most 16 bits; for
other inputs in the order np.mean adds them (its pairwise tree), so the result
is the same float64, bit for bit.
"""
import warnings

import numpy as np

from ssimfast import _codec_cy
from ssimfast._threads import resolve_workers

__all__ = ["mean_squared_error", "peak_signal_noise_ratio"]

# scikit-image's skimage.util.dtype.dtype_range, by dtype.type.
_DTYPE_RANGE = {
    np.bool_: (False, True),
    np.float16: (-1, 1),
    np.float32: (-1, 1),
    np.float64: (-1, 1),
}
for _t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
           np.longlong, np.ulonglong):
    _DTYPE_RANGE[_t] = (np.iinfo(_t).min, np.iinfo(_t).max)

# Integer types whose squared differences sum exactly in the kernel's 64 bits.
_SMALL_INTS = {"b1", "u1", "i1", "u2", "i2"}
# Types the float64 kernel reads without a converted copy.
_DIRECT_F64 = {np.dtype(np.float64), np.dtype(np.int32), np.dtype(np.uint32),
               np.dtype(np.int64), np.dtype(np.uint64)}


def _check_shape_equality(image0, image1):
    # scikit-image's check, message included (no conversion: lists fail as there).
    if not image0.shape == image1.shape:
        raise ValueError("Input images must have the same dimensions.")


def _float_type(dtype0, dtype1):
    """scikit-image's _supported_float_type for the pair."""
    def one(dtype):
        if dtype.kind == "c":
            raise ValueError("complex valued input is not supported")
        return {"f": np.float32, "d": np.float64, "e": np.float32}.get(dtype.char, np.float64)
    return np.result_type(one(np.dtype(dtype0)), one(np.dtype(dtype1)))


def _flat_pair(a, b):
    """a and b as 1-D arrays in the order NumPy iterates (a - b) ** 2 (order 'K'):
    memory order when both share a layout, C order otherwise. Views where possible."""
    if a.flags.c_contiguous and b.flags.c_contiguous:
        return a.reshape(-1), b.reshape(-1)
    if a.flags.f_contiguous and b.flags.f_contiguous:
        return a.T.reshape(-1), b.T.reshape(-1)
    perm_a = sorted(range(a.ndim), key=lambda ax: -abs(a.strides[ax]) if a.shape[ax] > 1 else 0)
    perm_b = sorted(range(b.ndim), key=lambda ax: -abs(b.strides[ax]) if b.shape[ax] > 1 else 0)
    if perm_a == perm_b and all(s >= 0 for s in a.strides + b.strides):
        a, b = a.transpose(perm_a), b.transpose(perm_b)
    return np.ascontiguousarray(a).reshape(-1), np.ascontiguousarray(b).reshape(-1)


def _sum_squared_differences(image0, image1, float_type, n_threads):
    """(sum of squared differences, exact) as scikit-image computes them."""
    kinds = {image0.dtype.str[1:], image1.dtype.str[1:]}
    if kinds <= _SMALL_INTS and image0.dtype.isnative and image1.dtype.isnative:
        if image0.dtype == image1.dtype:
            if image0.dtype == np.bool_:
                image0, image1 = image0.view(np.uint8), image1.view(np.uint8)
        else:  # mixed small types: both hold exactly in int32
            image0, image1 = image0.astype(np.int32), image1.astype(np.int32)
        x, y = _flat_pair(image0, image1)
        return _codec_cy.sq_diff_sum_int(x, y, n_threads), True
    if float_type == np.float32:
        x, y = _flat_pair(np.asarray(image0, dtype=np.float32), np.asarray(image1, dtype=np.float32))
        return _codec_cy.sq_diff_sum_float32(x, y, n_threads), False
    if not (image0.dtype == image1.dtype and image0.dtype in _DIRECT_F64):
        image0 = np.asarray(image0, dtype=np.float64)
        image1 = np.asarray(image1, dtype=np.float64)
    x, y = _flat_pair(image0, image1)
    return _codec_cy.sq_diff_sum_float64(x, y, n_threads), False


def _mse(image0, image1, workers):
    float_type = _float_type(image0.dtype, image1.dtype)
    n_threads = resolve_workers(workers)
    n = image0.size
    if n == 0:
        return _numpy_mse(image0, image1, float_type)
    # The kernels' pool never waits for a helper that has not started, so the
    # kernel itself decides how many of n_threads small sums are worth waking.
    total, exact = _sum_squared_differences(image0, image1, float_type, n_threads)
    # An exact integer sum divided once, correctly rounded: np.mean's value
    # whenever its float sum is exact (below 2**53), and closer otherwise.
    if exact:
        return np.float64(total / n)
    if not np.isfinite(total):
        # An inf or NaN came from an overflow or inf - inf, which NumPy warns
        # about: recompute as scikit-image does for its warnings (same value).
        return _numpy_mse(image0, image1, float_type)
    return np.float64(total) / np.float64(n)


def _numpy_mse(image0, image1, float_type):
    """scikit-image's computation itself: for empty images (NaN and NumPy's
    warnings) and non-finite results (NumPy's overflow/invalid warnings)."""
    return np.mean((np.asarray(image0, dtype=float_type)
                    - np.asarray(image1, dtype=float_type)) ** 2, dtype=np.float64)


def mean_squared_error(image0, image1, *, workers=None):
    """Compute the mean-squared error between two images.

    A drop-in for ``skimage.metrics.mean_squared_error``: the same value (bit
    for bit; exact for integer images of up to 16 bits) and the same errors.

    Parameters
    ----------
    image0, image1 : ndarray
        Images.  Any dimensionality, must have same shape.
    workers : int or None, optional
        Threads (as for :func:`ssimfast.structural_similarity`); the result
        does not depend on it.

    Returns
    -------
    mse : numpy.float64
        The mean-squared error (MSE) metric.
    """
    _check_shape_equality(image0, image1)
    return _mse(image0, image1, workers)


def peak_signal_noise_ratio(image_true, image_test, *, data_range=None, workers=None):
    """Compute the peak signal to noise ratio (PSNR) for an image.

    A drop-in for ``skimage.metrics.peak_signal_noise_ratio``: the same value,
    warnings and errors.

    Parameters
    ----------
    image_true : ndarray
        Ground-truth image, same shape as im_test.
    image_test : ndarray
        Test image.
    data_range : int, optional
        The data range of the input image (distance between minimum and
        maximum possible values).  By default, this is estimated from the image
        data-type.
    workers : int or None, optional
        Threads; the result does not depend on it.

    Returns
    -------
    psnr : numpy.float64
        The PSNR metric: ``10 * log10(data_range**2 / mse)``; inf for equal images.
    """
    _check_shape_equality(image_true, image_test)
    if data_range is None:
        if image_true.dtype != image_test.dtype:
            warnings.warn("Inputs have mismatched dtype.  Setting data_range based on "
                          "image_true.", stacklevel=2)
        dmin, dmax = _DTYPE_RANGE[image_true.dtype.type]
        true_min, true_max = np.min(image_true), np.max(image_true)
        if true_max > dmax or true_min < dmin:
            raise ValueError(
                "image_true has intensity values outside the range expected "
                "for its data type. Please manually specify the data_range."
            )
        data_range = dmax if true_min >= 0 else dmax - dmin
    err = _mse(image_true, image_test, workers)
    data_range = float(data_range)  # as scikit-image: no overflow for small integer types
    return 10 * np.log10((data_range ** 2) / err)

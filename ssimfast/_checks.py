"""Checks of single values and the one warning helper: the bottom of the Python
layer, imported by the plan (resolver) and the entry points, importing none of
them (no kernels either)."""
import math
import mmap
import numbers
import operator
import os
import sys
import warnings

import numpy as np

__all__ = ["warn", "as_image", "check_image", "has_own_dtype", "real", "non_negative",
           "normalize_axis", "slice_at_axis", "integer_limits", "share_file_bytes"]

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message, category=UserWarning):
    """warnings.warn pointing at the first caller outside ssimfast, however deep
    inside the package (structural_similarity, ssim_batch, ...) it is raised."""
    level, frame = 2, sys._getframe(1)  # stacklevel 2 is warn's caller
    while frame is not None and frame.f_code.co_filename.startswith(PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)


def has_own_dtype(a):
    """True for input that carries its dtype (an ndarray, or an object NumPy
    reads through the array protocols, such as a PIL image); False for Python
    lists and scalars, whose dtype NumPy picks (int64 for integers)."""
    return (isinstance(a, np.ndarray) or hasattr(a, "__array_interface__")
            or hasattr(a, "__array__") or hasattr(a, "__array_struct__"))


def as_image(a, name):
    """`a` as a NumPy array that SSIM can score (TypeError or ValueError if not)."""
    if type(a) is np.ndarray and a.ndim and a.dtype.kind in "biuf":  # the common case
        return a
    try:
        a = np.asarray(a)
    except ValueError as exc:  # ragged nested sequences
        raise ValueError(f"{name} cannot be made into an array ({exc}); pass a NumPy "
                         "array, or nested sequences of equal lengths") from None
    check_image(a.shape, a.dtype, name)
    return a


def check_image(shape, dtype, name):
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


def normalize_axis(axis, ndim):
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


def real(value, name):
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


def non_negative(value, name):
    """Check K1, K2 or sigma, and return it unchanged: scikit-image computes with
    the caller's object, and a np.float32 rounds C1 and C2 to float32 there."""
    checked = real(value, name)
    if math.isnan(checked) or math.isinf(checked):
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    if checked < 0:
        raise ValueError(f"{name} must be positive (>= 0), got {value}")
    return value


def slice_at_axis(index, axis):
    return (slice(None),) * axis + (index,)


_LIMITS = {}


def integer_limits(dtype):
    """(min, max) of an integer dtype as Python ints (cached)."""
    try:
        return _LIMITS[dtype]
    except KeyError:
        info = np.iinfo(dtype)
        _LIMITS[dtype] = limits = (int(info.min), int(info.max))
        return limits


def share_file_bytes(a, b):
    """True if np.memmap arrays `a` and `b`, mapped separately (so NumPy cannot
    see it), hold some of the same bytes of one file."""
    if not (isinstance(a, np.memmap) and isinstance(b, np.memmap)):
        return False
    if not (a.filename and b.filename and os.path.exists(a.filename)
            and os.path.exists(b.filename) and os.path.samefile(a.filename, b.filename)):
        return False
    ra, rb = _file_bytes(a), _file_bytes(b)
    if ra is None or rb is None:
        return True  # same file, extent unknown: assume the worst
    return ra[0] < rb[1] and rb[0] < ra[1]


def _file_bytes(a):
    """[first, last + 1) bytes of the file that memmap `a` (or a view of one) covers,
    or None if that cannot be told."""
    mapped = getattr(a, "_mmap", None)
    if mapped is None or a.size == 0:
        return None
    start = np.frombuffer(mapped, dtype=np.uint8).__array_interface__["data"][0]
    low, high = _byte_bounds(a)
    mapped_from = a.offset - a.offset % mmap.ALLOCATIONGRANULARITY  # np.memmap maps from here
    return mapped_from + (low - start), mapped_from + (high - start)


def _byte_bounds(a):
    bounds = getattr(getattr(np.lib, "array_utils", None), "byte_bounds", None) \
        or np.byte_bounds  # NumPy 2 moved it
    return bounds(a)

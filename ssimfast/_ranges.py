"""data_range from a bit depth (``bits=``), and the warning when integer data
exceed the range they were given.

Why integers only: on a 2160x3840 image the check costs about 0.6 ms per
uint16 image (one ``max``; signed types add a ``min``), 1-3 % of a mean SSIM
call, and nothing at all when the dtype cannot exceed the range (uint8 with
data_range=255). For float64 the same check is a min and a max at about 5 ms
per image, 10-20 % of a call, and float data have no natural range to compare
with, so they are not checked.
"""
import math
import operator

import numpy as np

from ssimfast._checks import integer_limits, warn

__all__ = ["bits_range", "check_range"]


def bits_range(bits, data_range, dtype1, dtype2):
    """data_range = 2**bits - 1 for integer images holding `bits`-bit data."""
    if isinstance(bits, (bool, np.bool_)):
        raise TypeError(f"bits must be an integer, got {bits!r}")
    try:
        bits = operator.index(bits)
    except TypeError:
        raise TypeError(f"bits must be an integer, got {bits!r}") from None
    if data_range is not None:
        raise ValueError(
            f"pass bits or data_range, not both (bits={bits} means "
            f"data_range={2 ** bits - 1 if bits > 0 else '?'})"
        )
    for name, dtype in (("im1", dtype1), ("im2", dtype2)):
        if dtype.kind not in "iu":
            raise ValueError(
                f"bits is for integer images (such as 10- or 12-bit data in uint16); "
                f"{name} is {dtype}: pass data_range instead"
            )
        held = np.iinfo(dtype).bits - (dtype.kind == "i")  # value bits, without the sign
        if not 1 <= bits <= held:
            raise ValueError(f"bits must be from 1 to {held} for {name} of dtype {dtype}, got {bits}")
    return 2 ** bits - 1


def check_range(im1, im2, data_range, bits=None):
    """Warn (UserWarning) when integer data exceed the range they were given:
    with `bits`, a value outside 0 .. 2**bits - 1; else a spread (max - min)
    larger than `data_range`. Float images are not checked (see the module)."""
    limit = float(data_range)
    for name, im in (("im1", im1), ("im2", im2)):
        if im.dtype.kind not in "iu":
            continue
        lowest, highest = integer_limits(im.dtype)
        signed = lowest < 0
        if bits is not None:
            if not signed and highest <= limit:
                continue  # nothing this dtype holds can exceed it: no pass
            high = int(im.max())
            low = int(im.min()) if signed else 0
            if high > limit or low < 0:
                warn(
                    f"{name} has values from {low} to {high}, outside the {bits}-bit range "
                    f"0 to {2 ** bits - 1}: SSIM's constants C1 and C2 scale with the "
                    "range, so the result is not meaningful; pass the data's bit depth"
                )
                return
            continue
        if float(highest) - float(lowest) <= limit:
            continue  # the dtype's own range fits: no pass
        high = int(im.max())
        if not signed and high <= limit:
            continue  # the spread is at most the maximum
        low = int(im.min())
        if high - low > limit:
            warn(
                f"{name} has values from {low} to {high}, a spread of {high - low}, more "
                f"than data_range={_fmt(data_range)}: SSIM's constants C1 and C2 scale "
                "with data_range, so the result is not meaningful; pass the range the "
                "data can take (or bits= for 10- or 12-bit data)"
            )
            return


def _fmt(value):
    value = float(value)
    return str(int(value)) if value.is_integer() and math.isfinite(value) else repr(value)

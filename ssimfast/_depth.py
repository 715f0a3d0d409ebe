"""`--depth`: images of two bit depths brought to one, so that a 16-bit master
and its 8-bit export can be compared.

An N-bit value v becomes round(v * (2**D - 1) / (2**N - 1)) at depth D, in exact
integer arithmetic: the nearest D-bit level, with 0 and the maximum kept. No value
lies halfway between two levels (2 * v * (2**D - 1) is even, (2k + 1) * (2**N - 1)
is odd), so no tie rule is needed. From 16 to 8 bits this is round(v / 257):
ImageMagick's ScaleQuantumToChar and libpng's png_set_scale_16, and it gives back
exactly the 8-bit values that the usual expansion to 16 bits (v * 257) started
from. Tools that truncate instead (v >> 8: libvips' cast with shift, libpng's
png_set_strip_16, Pillow on 16-bit colour PNG) give levels up to 1 lower.

N is the width of the array's dtype (uint8: 8, uint16: 16, uint32: 32): a file
holds no more reliable statement of its depth. The caller may say that the
values hold fewer bits (`--bits 12 --depth 8`: 12-bit data in 16-bit files).
"""
import functools

import numpy as np

__all__ = ["DEPTHS", "convert_depth"]

DEPTHS = (8, 16)
_DTYPES = {8: np.dtype(np.uint8), 16: np.dtype(np.uint16)}


def convert_depth(array, depth, bits=None):
    """`array` as `depth`-bit values (uint8 or uint16): itself when its dtype has
    that depth already. `bits`: the values' bits, when fewer than the dtype's
    (a dtype narrower than `bits` holds its own width). ValueError for dtypes that
    have no bit depth to convert from (floats, signed or wider than 32-bit
    integers), and for values that do not fit in `bits`."""
    dtype = array.dtype
    if dtype.kind != "u" or dtype.itemsize > 4:
        why = ("floating-point values have no bit depth (compare them with --data-range R)"
               if dtype.kind == "f" else "it has no agreed scaling to other depths")
        raise ValueError(f"--depth converts unsigned integer images (8, 16 or 32 bits), but "
                         f"this one is {dtype}: {why}")
    width = dtype.itemsize * 8
    source = min(bits, width) if bits else width
    if source < width:
        high = int(array.max(initial=0))
        if high >> source:
            raise ValueError(f"--bits {bits} says the values hold {bits} bits, but they go up "
                             f"to {high}")
    if source == depth:
        return array.astype(_DTYPES[depth], copy=False)
    if source <= 16:
        return _table(source, depth)[array]
    return _scale(array.astype(np.uint64), source, depth)  # uint32: below 2**50, exact


@functools.lru_cache(maxsize=None)
def _table(bits, depth):
    """The converted value of every `bits`-bit level (65,536 entries at most)."""
    return _scale(np.arange(1 << bits, dtype=np.uint64), bits, depth)


def _scale(values, bits, depth):
    top, new_top = (1 << bits) - 1, (1 << depth) - 1
    # round(v * new_top / top) = floor((2 * v * new_top + top) / (2 * top)).
    return ((values * (2 * new_top) + top) // (2 * top)).astype(_DTYPES[depth])

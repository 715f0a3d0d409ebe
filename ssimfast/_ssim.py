"""The executor: runs a Plan (ssimfast._plan) on the compiled kernels.

It decides nothing about the inputs: every check and inference was made by
the resolver. What it does: hand the images to the kernels in a dtype they
read (views where possible), split the channels, pick the 2-D, 3-D or N-D
path, run the preset's downsampling step or the masked kernel when the plan
says so, and put the results in scikit-image's dtypes.

Besides ``run(plan, im1, im2)``, the pieces ssim_batch, ssim_tiled and
ssimfast.dask run themselves: ``score`` (a Setup on two arrays),
``ssim_sum`` (one channel's map sum), ``kernel_inputs``, ``kernel_taps``,
``NONE`` (the "not wanted" outputs) and the taps the resolver builds Params
from.
"""
import functools
import math
import typing

import numpy as np

from ssimfast import _masked
from ssimfast._checks import slice_at_axis
from ssimfast._extension import kernels
from ssimfast._ffmpeg import ffmpeg_ssim, ffmpeg_ssim_map
from ssimfast._presets import box_downsample

__all__ = ["run", "score", "Params", "ssim_sum", "ssim_sums_2d", "kernel_inputs", "kernel_dtype", "kernel_taps",
           "sums_are_exact", "unit_taps", "uniform_taps", "gaussian_taps", "IDENTITY", "NONE",
           "MIN_PIXELS_PER_THREAD"]

# Dtypes the kernels read directly (native byte order).
KERNEL_DTYPES = frozenset(
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


def run(plan, im1, im2):
    """structural_similarity's result for a resolved plan and its two NumPy images."""
    setup = plan.setup
    if plan.row.definition == "ffmpeg":
        return _run_ffmpeg(plan, im1, im2)
    if plan.simple:
        return score(im1, im2, setup, plan.full, plan.gradient)
    if plan.masking is not None:
        valid, omit, min_valid = plan.masking
        x, y = kernel_inputs(im1, im2, setup.float_type)
        return _masked.score(x, y, (valid, omit), setup, plan.full, min_valid)
    if plan.factor > 1:
        im1, im2 = box_downsample(im1, im2, plan.factor, setup.channel_axis,
                                  setup.params.n_threads, MIN_PIXELS_PER_THREAD)
    result = score(im1, im2, setup, plan.full, plan.gradient)
    if not (plan.full and plan.row.valid_map):
        return result
    mean, smap = result
    crop = setup.params.crop
    valid = tuple(slice(None) if ax == setup.channel_axis else slice(crop, n - crop)
                  for ax, n in enumerate(smap.shape))
    return mean, np.ascontiguousarray(smap[valid])


def _run_ffmpeg(plan, im1, im2):
    """preset='ffmpeg': FFmpeg's SSIM of each plane; channels averaged."""
    axis, bits = plan.setup.channel_axis, plan.setup.data_range.bit_length()
    workers = plan.setup.params.n_threads
    pairs = ([(im1, im2)] if axis is None else
             [(im1[slice_at_axis(ch, axis)], im2[slice_at_axis(ch, axis)])
              for ch in range(im1.shape[axis])])
    mean = np.float64(np.mean([ffmpeg_ssim(a, b, bits=bits, workers=workers) for a, b in pairs]))
    if not plan.full:
        return mean
    maps = [ffmpeg_ssim_map(a, b, bits=bits) for a, b in pairs]
    return mean, maps[0] if axis is None else np.stack(maps, axis=axis)


def score(im1, im2, setup, full, gradient):
    """The mean (and map, gradient) of two validated NumPy images for a Setup."""
    channel_axis, float_type, params, _, _ = setup
    x, y = kernel_inputs(im1, im2, float_type)
    S = np.empty(im1.shape, dtype=np.float64) if full else None
    G = np.empty(im1.shape, dtype=np.float64) if gradient else None
    if channel_axis is None:
        mssim = np.float64(_ssim_single(x, y, params, S, G))
    else:
        at = functools.partial(slice_at_axis, axis=channel_axis)
        channels = [(x[at(ch)], y[at(ch)], None if S is None else S[at(ch)],
                     None if G is None else G[at(ch)]) for ch in range(im1.shape[channel_axis])]
        if x.ndim <= 3:  # channels of 1-D or 2-D: one kernel call for all
            means = [total / count for total, count in ssim_sums_2d(channels, params)]
        else:
            means = [_ssim_single(a, b, params, s, g) for a, b, s, g in channels]
        # As scikit-image: per-channel means stored in the float type, then averaged.
        mssim = np.asarray(means, dtype=float_type).mean()

    out = (mssim,)
    if gradient:
        out += (G.astype(float_type, copy=False),)
    if full:
        out += (S.astype(float_type, copy=False),)
    return out[0] if len(out) == 1 else out


class Params(typing.NamedTuple):
    """What the kernels need besides the images: taps, constants, threads."""

    taps: np.ndarray
    exact: bool
    crop: int
    c1: float
    c2: float
    cov_norm: float
    n_threads: int


IDENTITY = np.ones(1, dtype=np.float64)
IDENTITY.flags.writeable = False
# Below this size, starting threads costs more than it saves (same result).
MIN_PIXELS_PER_THREAD = 1 << 14


def _empties():
    """"Not wanted" outputs for the kernels, by number of dimensions (shape 0
    on every axis), for every rank this NumPy allows."""
    out = {}
    for ndim in range(1, 65):
        try:
            out[ndim] = np.empty((0,) * ndim)
        except ValueError:  # NumPy 1.x allows 32 axes, 2.x 64
            break
    return out


NONE = _empties()


@functools.lru_cache(maxsize=64)
def unit_taps(n):
    """n taps of 1.0 (read-only, shared between calls)."""
    taps = np.ones(n, dtype=np.float64)
    taps.flags.writeable = False
    return taps


@functools.lru_cache(maxsize=64)
def uniform_taps(win_size):
    taps = np.full(win_size, 1.0 / win_size)
    taps.flags.writeable = False
    return taps


def kernel_taps(taps, exact):
    """(taps per axis, scale) for the kernels. Exact mode filters with unit taps
    (window sums, exact integers) and scales by 1/N once; otherwise the
    normalised taps, as scipy.ndimage does, and a scale of 1.0."""
    if not exact:
        return taps, 1.0
    return _unit_kernel_taps(tuple([t.shape[0] for t in taps]))


@functools.lru_cache(maxsize=64)
def _unit_kernel_taps_of(spatial, n):
    """kernel_taps of exact mode for `spatial` axes of n taps (1-D: 1 x n)."""
    return _unit_kernel_taps((1, n) if spatial == 1 else (n,) * spatial)


@functools.lru_cache(maxsize=64)
def _unit_kernel_taps(lengths):
    return tuple([unit_taps(n) for n in lengths]), 1.0 / math.prod(lengths)


def _ssim_single(x, y, p, S, G):
    """Mean SSIM of one channel; fills S (the map) and G (the gradient) if given."""
    total, count = ssim_sum(x, y, p, S, G)
    return total / count


def _as_2d(x, y, S, G, p):
    """ssim_sum's 2-D case: (x, y, S, G, taps per axis, crops per axis), a 1-D
    signal as a 1 x n image with no filtering along axis 0."""
    if x.ndim == 1:
        return (x[np.newaxis], y[np.newaxis], None if S is None else S[np.newaxis],
                None if G is None else G[np.newaxis], [IDENTITY, p.taps], [0, p.crop])
    return x, y, S, G, [p.taps] * 2, [p.crop] * 2


def ssim_sums_2d(pairs, p):
    """ssim_sum of several 1-D or 2-D pairs (x, y, S, G) of one kernel dtype,
    in one kernel call (kernels.ssim_2d_multi: one job of the thread pool for
    all): [(sum, count)], each bit-identical to ssim_sum's."""
    if not pairs:
        return []
    spatial = pairs[0][0].ndim
    pairs = [_as_2d(*pair, p) for pair in pairs]
    taps, crops = pairs[0][4], pairs[0][5]
    if p.exact:
        stat_taps, scale = _unit_kernel_taps_of(spatial, p.taps.shape[0])
    else:
        stat_taps, scale = taps, 1.0
    tmaps = [NONE[3] if G is None else np.empty((3,) + x.shape) for x, _, _, G, _, _ in pairs]
    totals = np.empty(len(pairs))
    pixels = sum(x.size for x, *_ in pairs)
    kernels.ssim_2d_multi([x for x, *_ in pairs], [y for _, y, *_ in pairs],
                          stat_taps[0], stat_taps[1], crops[0], crops[1], scale,
                          p.c1, p.c2, p.cov_norm,
                          [NONE[2] if S is None else S for _, _, S, *_ in pairs], tmaps,
                          p.n_threads if pixels >= MIN_PIXELS_PER_THREAD else 1, p.exact, totals)
    out = []
    for (x, y, _, G, _, _), t, total in zip(pairs, tmaps, totals):
        if G is not None:
            _gradient(x, y, t, taps, p.n_threads, out=G)
        out.append((float(total), max(0, x.shape[0] - 2 * crops[0]) *
                    max(0, x.shape[1] - 2 * crops[1])))
    return out


def ssim_sum(x, y, p, S, G):
    """(sum of the SSIM map over the interior, number of interior pixels) of one
    channel; fills S and G if given. The interior may be empty (a tile)."""
    spatial = x.ndim
    if spatial == 1:  # a 1-D signal is a 1 x n image with no filtering along axis 0
        x, y = x[np.newaxis], y[np.newaxis]
        S = None if S is None else S[np.newaxis]
        G = None if G is None else G[np.newaxis]
        taps = [IDENTITY, p.taps]
        crops = [0, p.crop]
    else:
        taps = [p.taps] * spatial
        crops = [p.crop] * spatial
    if p.exact:  # (kernel_taps, without building its key from the taps)
        stat_taps, scale = _unit_kernel_taps_of(spatial, p.taps.shape[0])
    else:
        stat_taps, scale = taps, 1.0
    shape = x.shape
    ndim = len(shape)
    # (The N-D path only checks tmaps.shape[0], so any rank will do past the
    # largest NumPy allows.)
    tmaps = NONE.get(ndim + 1, NONE[1]) if G is None else np.empty((3,) + shape)
    smap = NONE[ndim] if S is None else S

    n_threads = p.n_threads if x.size >= MIN_PIXELS_PER_THREAD else 1
    if ndim == 2:
        total = kernels.ssim_2d(x, y, stat_taps[0], stat_taps[1],
                                crops[0], shape[0] - crops[0], crops[1],
                                scale, p.c1, p.c2, p.cov_norm, smap, tmaps, n_threads,
                                p.exact, NONE[1])
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
    flat_t = tmaps.reshape(3, -1) if tmaps.shape[0] else NONE[2]
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


@functools.lru_cache(maxsize=64)
def gaussian_taps(sigma, radius):
    """scikit-image's and scipy.ndimage's expressions, with the caller's sigma."""
    if float(sigma) <= 1e-15:  # scipy.ndimage skips the filter below this
        return IDENTITY
    x = np.arange(-radius, radius + 1)
    sigma2 = sigma * sigma
    taps = np.exp(-0.5 / sigma2 * x**2)
    taps = np.ascontiguousarray(taps / taps.sum(), dtype=np.float64)
    taps.flags.writeable = False
    return taps


@functools.lru_cache(maxsize=256)
def sums_are_exact(dtype, n_window):
    """True if every window sum of x, y, x*x + y*y and x*y is an integer below
    2**53 for this kernel dtype, so that double arithmetic computes it exactly."""
    if dtype.char not in "BHh":  # uint8, uint16, int16
        return False
    info = np.iinfo(dtype)
    lowest, highest = int(info.min), int(info.max)
    largest = max(-lowest, highest)
    return n_window * 2 * largest * largest < 2**53


def kernel_dtype(dtype):
    dtype = dtype.newbyteorder("=")
    if dtype in KERNEL_DTYPES:
        return dtype
    if dtype.kind == "b":
        return np.dtype(np.uint8)
    if dtype in _CONVERTED:
        return _CONVERTED[dtype]
    return np.dtype(np.float64)


def kernel_inputs(im1, im2, float_type):
    """The two images in a dtype the kernels read, as views where possible.

    Mismatched dtypes are both cast to the float type, as scikit-image does
    (im2 as well: a float64 im2 beside a float32 im1 is rounded to float32).
    """
    if im1.dtype is im2.dtype and im1.dtype in KERNEL_DTYPES:  # common: nothing to do
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
    target = kernel_dtype(a.dtype)
    return a if a.dtype == target and a.dtype.isnative else a.astype(target)


# The names the test suite reaches into (tests/test_exact_paths.py,
# test_kernel_args.py): the same objects under their former names.
_kernel_inputs, _ssim_sum, _unit_taps, _uniform_taps, _gaussian_taps, _NONE = (
    kernel_inputs, ssim_sum, unit_taps, uniform_taps, gaussian_taps, NONE)

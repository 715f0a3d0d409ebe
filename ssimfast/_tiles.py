"""Mean SSIM in tiles: images larger than memory (np.memmap, zarr, h5py, any
array-like that slices to NumPy arrays), with bounded memory.

Each tile is read with a halo of the filter radius, so every SSIM map value
of its core is computed from the same pixels, in the same order, as for the
whole image in memory: the map values are bit-identical. Only the sum differs:

* 2-D images (with or without a channel axis) are read in bands of whole rows,
  and the kernel's own row sums are added in row order, as in memory: the mean
  is bit-identical to ``structural_similarity``.
* Other ranks are cut into tiles along every spatial axis; each tile's map is
  summed with NumPy and the tile sums added up, so the mean agrees to rounding
  (about 1e-15 relative; tests require 1e-12).

The same per-tile sum serves ssimfast.dask.
"""
import math
import os

import numpy as np

from ssimfast._checks import slice_at_axis
from ssimfast._extension import kernels
from ssimfast._plan import check_map_out, setup_of_arrays
from ssimfast._ssim import NONE, kernel_inputs, kernel_taps, ssim_sum

__all__ = ["ssim_tiled", "open_memmap", "halo", "tile_sums"]

# Bytes of input read per band or tile, by default (two images).
_DEFAULT_BUDGET = 64 << 20


def halo(params):
    """Pixels of context a tile needs on each side: the filter's radius."""
    return params.taps.shape[0] // 2


def tile_sums(x, y, setup, core, smap=None):
    """Per-channel sums of the float64 SSIM map of a tile over `core`.

    x, y   the tile with its halo (NumPy arrays, same shape and dtypes as the
           whole images); where the tile meets an image border there is no
           halo, so the kernels' 'reflect' border is the image's own.
    core   one slice per axis of x (slice(None) on the channel axis), in tile
           coordinates: the pixels to sum, already cut to the image interior.
    smap   where to put the tile's whole map (float64, x's shape), if wanted.
    Returns an array of one sum per channel (one element without channels).
    """
    channel_axis, params = setup.channel_axis, setup.params
    x, y = kernel_inputs(x, y, setup.float_type)
    if smap is None:
        smap = np.empty(x.shape)
    if channel_axis is None:
        at = [()]
        spatial_core = core
    else:
        at = [slice_at_axis(c, channel_axis) for c in range(x.shape[channel_axis])]
        spatial_core = core[:channel_axis] + core[channel_axis + 1:]
    sums = np.zeros(len(at))
    for c, index in enumerate(at):
        part = smap[index]
        ssim_sum(x[index], y[index], params, part, None)
        if all(s.start < s.stop for s in spatial_core):
            sums[c] = part[spatial_core].sum(dtype=np.float64)
    return sums


def open_memmap(path, shape, dtype, *, offset=0, mode="r"):
    """A read-only np.memmap of a raw image file, checked against the file's size.

    np.memmap itself fails on a short file with "mmap length is greater than
    file size"; this says which file, how many bytes it holds and how many the
    shape and dtype need.
    """

    dtype = np.dtype(dtype)
    shape = tuple(int(n) for n in np.atleast_1d(shape))
    need = math.prod(shape) * dtype.itemsize
    have = os.path.getsize(path) - offset
    if have < need:
        raise ValueError(
            f"{os.fspath(path)!r} holds {have} bytes after offset {offset}, but an image of "
            f"shape {shape} and dtype {dtype} needs {need}: check the shape, dtype and offset"
        )
    return np.memmap(path, dtype=dtype, mode=mode, shape=shape, offset=offset)


def _read(a, index):
    """A copy of a[index] as a NumPy array (a memmap view would keep file pages mapped)."""
    return np.array(a[index])


def ssim_tiled(im1, im2, *, win_size=None, data_range=None, channel_axis=None,
               gaussian_weights=False, workers=None, tile=None, map_out=None, **kwargs):
    """Mean SSIM of two images read piece by piece, in bounded memory.

    The same arguments and result as :func:`ssimfast.structural_similarity`
    (except `gradient` and `full`), for inputs that need not fit in memory:
    ``np.memmap`` arrays, or any array-like with ``shape``, ``dtype`` and
    NumPy slicing (zarr, h5py).

    Parameters
    ----------
    tile : int or None
        Rows per band for 2-D images, else the side of the tiles. By default,
        as many as fit in about 64 MiB of input.
    map_out : array-like or None
        Where to write the SSIM map (e.g. an ``np.memmap`` opened with mode
        'w+'), of the images' shape. Written tile by tile, in the result's
        float type as ``full=True`` gives it.

    Returns
    -------
    mssim : numpy.float64 (or float32, as structural_similarity)
        For 2-D images bit-identical to ``structural_similarity(im1, im2)``;
        otherwise equal up to the order of the final sum (about 1e-15).
    """
    setup = setup_of_arrays(im1, im2, win_size, data_range, channel_axis, gaussian_weights,
                            workers, kwargs, "ssim_tiled")
    channel_axis, float_type, params = setup.channel_axis, setup.float_type, setup.params
    shape = tuple(im1.shape)
    if map_out is not None:
        check_map_out(map_out, shape, im1, im2)
    if tile is not None and (isinstance(tile, bool) or not isinstance(tile, (int, np.integer))
                             or tile < 1):
        raise ValueError(f"tile must be a positive integer, got {tile!r}")
    if channel_axis is not None and shape[channel_axis] == 0:
        # No channels: the mean of no means is NaN, as structural_similarity gives
        # (and the band and tile sizes below would divide by zero bytes).
        return np.asarray([], dtype=float_type).mean()
    axes = [ax for ax in range(len(shape)) if ax != channel_axis]
    spatial = [shape[ax] for ax in axes]
    counts = math.prod(n - 2 * params.crop for n in spatial)
    if len(axes) == 2:
        sums = _band_sums(im1, im2, setup, axes, tile, map_out)
    else:
        sums = _tile_sums_nd(im1, im2, setup, axes, tile, map_out)
    means = sums / counts
    if channel_axis is None:
        return np.float64(means[0])
    return np.asarray(means, dtype=float_type).mean()


def _itemsize(a):
    return max(1, np.dtype(a.dtype).itemsize)


def _band_sums(im1, im2, setup, axes, tile, map_out):
    """2-D: bands of whole rows; the kernel's row sums, added in row order."""
    channel_axis, float_type, params = setup.channel_axis, setup.float_type, setup.params
    shape = tuple(im1.shape)
    H, W = shape[axes[0]], shape[axes[1]]
    h, crop = halo(params), params.crop
    channels = 1 if channel_axis is None else shape[channel_axis]
    if tile is None:
        row_bytes = W * channels * (_itemsize(im1) + _itemsize(im2))
        tile = max(1, _DEFAULT_BUDGET // row_bytes)
    if tile + 2 * h >= H:
        tile = H  # one band: the whole image
    stat_taps, scale = kernel_taps([params.taps] * 2, params.exact)
    rowsums = np.zeros((channels, H))
    for b0 in range(0, H, tile):
        b1 = min(H, b0 + tile)
        r0, r1 = max(0, b0 - h), min(H, b1 + h)
        index = [slice(None)] * len(shape)
        index[axes[0]] = slice(r0, r1)
        x, y = kernel_inputs(_read(im1, tuple(index)), _read(im2, tuple(index)), float_type)
        smap = None if map_out is None else np.empty(x.shape)
        for c in range(channels):
            at = (lambda a: a) if channel_axis is None else \
                (lambda a, c=c: a[slice_at_axis(c, channel_axis)])
            xc, yc = at(x), at(y)
            # Rows of this band that the in-memory mean sums, in band coordinates.
            lo, hi = max(b0, crop) - r0, min(b1, H - crop) - r0
            out = np.zeros(r1 - r0)
            kernels.ssim_2d(xc, yc, stat_taps[0], stat_taps[1], lo, max(lo, hi), crop,
                            scale, params.c1, params.c2, params.cov_norm,
                            NONE[2] if smap is None else at(smap), NONE[3],
                            params.n_threads, params.exact, out)
            rowsums[c, r0 + lo:r0 + max(lo, hi)] = out[lo:max(lo, hi)]
        if map_out is not None:
            keep = [slice(None)] * len(shape)
            keep[axes[0]] = slice(b0 - r0, b1 - r0)
            index[axes[0]] = slice(b0, b1)
            map_out[tuple(index)] = smap[tuple(keep)].astype(float_type, copy=False)
        del x, y, xc, yc, smap  # before the next band is read: one band in memory at a time
    # In row order from 0.0, as ssim_2d adds them (accumulate is sequential).
    inner = rowsums[:, crop:H - crop]
    return np.add.accumulate(inner, axis=1)[:, -1] if inner.shape[1] else np.zeros(channels)


def _tile_sums_nd(im1, im2, setup, axes, tile, map_out):
    """Any rank: tiles along every spatial axis, each summed with NumPy."""
    channel_axis, float_type, params = setup.channel_axis, setup.float_type, setup.params
    shape = tuple(im1.shape)
    h, crop = halo(params), params.crop
    channels = 1 if channel_axis is None else shape[channel_axis]
    if tile is None:
        pixel_bytes = channels * (_itemsize(im1) + _itemsize(im2) + 8)  # and the float64 map
        tile = max(1, int((_DEFAULT_BUDGET // pixel_bytes) ** (1 / len(axes))) - 2 * h)
    # Axes no longer than a tile and its halos are read whole: the 'reflect'
    # border must see the same pixels as in memory.
    steps = {ax: (shape[ax] if tile + 2 * h >= shape[ax] else tile) for ax in axes}
    sums = np.zeros(channels)
    starts = np.stack(np.meshgrid(*[np.arange(0, shape[ax], steps[ax]) for ax in axes],
                                  indexing="ij"), axis=-1).reshape(-1, len(axes))
    for start in starts:
        index = [slice(None)] * len(shape)
        core = [slice(None)] * len(shape)
        write_src = [slice(None)] * len(shape)
        write_dst = [slice(None)] * len(shape)
        for ax, a in zip(axes, start):
            n = shape[ax]
            b = min(n, a + steps[ax])
            r0, r1 = max(0, a - h), min(n, b + h)
            index[ax] = slice(r0, r1)
            core[ax] = slice(max(a, crop) - r0, max(max(a, crop), min(b, n - crop)) - r0)
            write_src[ax] = slice(a - r0, b - r0)
            write_dst[ax] = slice(a, b)
        x, y = _read(im1, tuple(index)), _read(im2, tuple(index))
        smap = np.empty(x.shape)
        sums += tile_sums(x, y, setup, tuple(core), smap)
        if map_out is not None:
            map_out[tuple(write_dst)] = smap[tuple(write_src)].astype(float_type, copy=False)
        del x, y, smap  # before the next tile is read
    return sums

"""SSIM with dask: mean SSIM of dask arrays, and many file pairs on a cluster.

* :func:`structural_similarity` scores two dask arrays of any size and chunking
  as a lazy graph: each block is read with a halo of the filter radius, so its
  SSIM map values are bit-identical to the in-memory map; each block returns
  its per-channel sums, which are added up. The mean agrees with
  ``ssimfast.structural_similarity`` to rounding of the final sum (~1e-15).
* :func:`ssim_files` scores a list of image-file pairs on a
  ``distributed.Client``, one task per pair, read and scored on the workers.

Needs ``pip install "ssimfast[dask]"`` (dask[array] and distributed).
"""
import math
import os

import numpy as np

try:
    import dask
    import dask.array as da
except ImportError as exc:  # pragma: no cover - exercised only without dask
    raise ImportError(
        'ssimfast.dask needs dask: pip install "ssimfast[dask]" '
        '(or pip install "dask[array]" distributed)'
    ) from exc

from ssimfast._plan import setup_of_arrays
from ssimfast._structural_similarity import structural_similarity as _ssim_in_memory
from ssimfast._tiles import halo, tile_sums
from ssimfast._video import VIDEO_SUFFIXES
from ssimfast._video_ssim import video_ssim

__all__ = ["ssim_files", "structural_similarity"]


def structural_similarity(im1, im2, *, win_size=None, data_range=None, channel_axis=None,
                          gaussian_weights=False, workers=1, **kwargs):
    """Mean SSIM of two dask arrays, as a lazy 0-d dask array.

    The arguments and result of :func:`ssimfast.structural_similarity`, for
    arrays of any size and chunking (chunks smaller than the window too).
    Nothing is read or computed until ``.compute()`` (or ``dask.compute``);
    the options are checked at once, from shapes and dtypes only.

    Parameters
    ----------
    im1, im2 : dask.array.Array or array_like
        Images of one shape. Other arrays (NumPy, np.memmap, zarr, h5py) are
        wrapped with ``dask.array.from_array``. If im2 is chunked differently,
        it is rechunked to im1's chunks.
    workers : int or None, optional
        Kernel threads per block. Default 1: dask supplies the parallelism,
        one block per dask thread or worker.
    win_size, data_range, channel_axis, gaussian_weights, **kwargs
        As :func:`ssimfast.structural_similarity` (K1, K2, sigma,
        use_sample_covariance).

    Returns
    -------
    mssim : dask.array.Array, 0-d
        Computes to the mean SSIM: float64 (float32 with `channel_axis` and
        float16/float32 input, as structural_similarity). Equal to the in-memory
        result up to the order of the final sum (about 1e-15; with float32
        results, to float32 rounding).

    Raises
    ------
    TypeError
        For ``full=True`` or ``gradient=True``: the full map and gradient are
        not provided here (use :func:`ssimfast.ssim_tiled` with ``map_out`` for a
        map larger than memory). Otherwise as structural_similarity.
    ValueError
        As structural_similarity (shapes, data_range, options), or for arrays
        of unknown chunk sizes.

    Notes
    -----
    Chunking: each chunk is read with ``r`` more pixels on every side that
    borders another chunk (the filter radius; none at image borders, where
    the kernels mirror the image as in memory). Along a split axis, chunks
    shorter than ``r`` are merged with their neighbours first, so that the
    halo comes from the adjacent chunk; the channel axis is made one chunk.
    Chunks of a few hundred pixels per side or more keep the halo's
    overhead small.
    """
    for name in ("full", "gradient"):
        if kwargs.pop(name, False):
            raise TypeError(
                f"ssimfast.dask.structural_similarity does not support {name}=True: it "
                "returns the mean only. For the SSIM map of images larger than memory, "
                "use ssimfast.ssim_tiled(im1, im2, map_out=...)"
            )
    im1, im2 = _as_dask(im1, "im1"), _as_dask(im2, "im2")
    # Every check of structural_similarity, from .shape and .dtype alone.
    setup = setup_of_arrays(im1, im2, win_size, data_range, channel_axis, gaussian_weights,
                            workers, kwargs, "ssimfast.dask.structural_similarity")
    channel_axis, float_type, params = setup.channel_axis, setup.float_type, setup.params
    ndim = im1.ndim
    shape = tuple(im1.shape)
    spatial = tuple(ax for ax in range(ndim) if ax != channel_axis)
    h = halo(params)

    chunks = _chunks_for_halo(im1.chunks, h, channel_axis)
    im1 = im1.rechunk(chunks)
    im2 = im2.rechunk(chunks)
    # Halo only along axes that are split (a whole axis needs none, and dask
    # refuses a depth larger than a one-chunk axis).
    depth = {ax: (h if ax != channel_axis and len(chunks[ax]) > 1 else 0)
             for ax in range(ndim)}
    ov1 = da.overlap.overlap(im1, depth=depth, boundary="none")
    ov2 = da.overlap.overlap(im2, depth=depth, boundary="none")

    channels = 1 if channel_axis is None else shape[channel_axis]
    # One small block of sums per input block: size 1 along spatial axes,
    # the channels along the channel axis.
    out_chunks = tuple((channels,) if ax == channel_axis else (1,) * len(chunks[ax])
                       for ax in range(ndim))
    bounds = tuple(tuple(int(b) for b in np.cumsum((0,) + c)) for c in chunks)
    partial = da.map_blocks(
        _block_sums, ov1, ov2, setup=setup, bounds=bounds, depth=depth, shape=shape,
        chunks=out_chunks, dtype=np.float64, meta=np.empty((0,) * ndim, np.float64),
        name="ssim-block-sums-" + dask.base.tokenize(ov1, ov2, setup, bounds),
    )
    sums = partial.sum(axis=spatial)  # shape (C,) with channels, else ()
    count = math.prod(shape[ax] - 2 * params.crop for ax in spatial)
    if channel_axis is None:
        return sums / count  # as np.float64(means[0]) in memory
    return da.map_blocks(_channel_mean, sums, count=count, float_type=float_type,
                         drop_axis=0, dtype=float_type, meta=np.empty((), float_type))


def _as_dask(a, name):
    if isinstance(a, da.Array):
        pass
    elif hasattr(a, "shape") and hasattr(a, "dtype") and hasattr(a, "__getitem__"):
        a = da.from_array(a)  # keeps np.memmap, zarr and h5py lazy
    else:
        a = da.from_array(np.asarray(a))
    if any(math.isnan(n) for n in a.shape):
        raise ValueError(
            f"{name} has unknown chunk sizes (shape {a.shape}); call "
            f"{name}.compute_chunk_sizes() first"
        )
    return a


def _chunks_for_halo(chunks, minimum, channel_axis):
    """Chunks where the channel axis is whole and every chunk of a split axis
    is at least `minimum` long (adjacent chunks merged), so that dask's overlap
    takes the full halo from the adjacent chunk: it only looks at immediate
    neighbours. An axis shorter than `minimum` becomes one chunk."""
    out = []
    for ax, c in enumerate(chunks):
        if ax == channel_axis:
            out.append((sum(c),))
            continue
        merged, acc = [], 0
        for size in c:
            acc += size
            if acc >= max(minimum, 1):  # max: also drops empty chunks
                merged.append(acc)
                acc = 0
        if acc:  # a short remainder joins the last chunk (or is the axis)
            if merged:
                merged[-1] += acc
            else:
                merged.append(acc)
        out.append(tuple(merged))
    return tuple(out)


def _block_sums(x, y, setup, bounds, depth, shape, block_id=None):
    """Per-channel SSIM-map sums of one block (given with its halo), shaped
    as a block of the partial-sums array: 1 along spatial axes, C along the
    channel axis."""
    channel_axis = setup.channel_axis
    crop = setup.params.crop
    core = []
    for ax, i in enumerate(block_id):
        if ax == channel_axis:
            core.append(slice(None))
            continue
        a, b = bounds[ax][i], bounds[ax][i + 1]
        left = depth[ax] if i > 0 else 0  # boundary='none': no halo at the image border
        right = depth[ax] if i < len(bounds[ax]) - 2 else 0
        if x.shape[ax] != b - a + left + right:  # never silently score the wrong pixels
            raise RuntimeError(
                f"internal error: block {block_id} has {x.shape[ax]} pixels along axis "
                f"{ax}; expected {b - a} and a halo of {left} + {right}"
            )
        # This block's pixels inside the interior that the mean sums, in block
        # coordinates (empty if the block lies in the border left out).
        lo = max(a, crop)
        hi = max(lo, min(b, shape[ax] - crop))
        core.append(slice(lo - a + left, hi - a + left))
    sums = tile_sums(np.asarray(x), np.asarray(y), setup, tuple(core))
    out_shape = [1] * len(shape)
    if channel_axis is not None:
        out_shape[channel_axis] = sums.shape[0]
    return sums.reshape(out_shape)


def _channel_mean(sums, count, float_type):
    """As structural_similarity: per-channel means stored in the float type, then averaged."""
    return np.asarray(sums / count, dtype=float_type).mean()


# ---------------------------------------------------------------------------
# Many file pairs on a cluster
# ---------------------------------------------------------------------------

# structural_similarity's keyword arguments that ssim_files passes on.
_OPTIONS = frozenset({"win_size", "data_range", "channel_axis", "gaussian_weights", "workers",
                      "K1", "K2", "sigma", "use_sample_covariance", "multichannel"})


def ssim_files(pairs, *, client=None, reader=None, **options):
    """Mean SSIM of many image-file pairs, spread over a dask.distributed cluster.

    One task per pair: the worker reads both files and calls
    :func:`ssimfast.structural_similarity`, so only the scores travel back.

    Parameters
    ----------
    pairs : sequence of (path1, path2)
        The files to compare; the paths must be readable from the workers.
    client : distributed.Client or None, optional
        The cluster to use; by default the current one
        (``distributed.get_client()``).
    reader : callable or None, optional
        ``reader(path) -> array``, run on the workers (so it must be
        picklable). By default ``.npy`` files are read with ``np.load`` and
        other files with Pillow (``np.asarray(Image.open(path))``).
    **options
        Arguments of :func:`ssimfast.structural_similarity` (win_size,
        data_range, channel_axis, gaussian_weights, K1, K2, sigma,
        use_sample_covariance). ``workers`` (threads per pair) defaults to 1
        here: the cluster's worker threads already run pairs in parallel.

    Returns
    -------
    scores : ndarray of float64, shape (len(pairs),)
        In the order of `pairs`; each bit for bit the in-memory score of the
        arrays `reader` returns.

        Video pairs (paths named ``.y4m``, ``.yuv``, ``.mp4``, ...; all pairs
        then): one task per pair runs :func:`ssimfast.video_ssim` with
        ``workers=1`` and `options` (its own: preset, psnr, frames, shortest,
        offset, bits, size, pix_fmt, frame_rate, and the SSIM options), and
        the result is a list of VideoScores in the order of `pairs`.

    Raises
    ------
    ValueError
        If there is no client. If a pair fails (unreadable file, different
        shapes, ...), its error is raised with the pair's index and paths,
        ``"pair 3 (a.png, b.png): ..."``, as a TypeError, ValueError or
        OSError (FileNotFoundError) if it was one, else as RuntimeError; the
        other pairs are cancelled.
    TypeError
        For an unknown option, or ``full``/``gradient`` (scores only).
    """
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - exercised only without distributed
        raise ImportError(
            'ssimfast.dask.ssim_files needs distributed: pip install "ssimfast[dask]"'
        ) from exc
    pairs = list(pairs)
    if any(_is_video_pair(pair) for pair in pairs):
        return _video_files(pairs, client, reader, options, distributed)
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        extra = " (scores only: no maps or gradients)" if set(unknown) & {"full", "gradient"} \
            else ""
        raise TypeError(f"ssim_files() got unexpected keyword argument(s) {unknown}{extra}; "
                        f"the options are {sorted(_OPTIONS)}")
    if reader is not None and not callable(reader):
        raise TypeError(f"reader must be callable as reader(path) -> array, got {reader!r}")
    options.setdefault("workers", 1)
    pairs = list(pairs)
    for i, pair in enumerate(pairs):
        if isinstance(pair, (str, bytes)) or not hasattr(pair, "__len__") or len(pair) != 2:
            raise ValueError(f"pair {i} must be a (path1, path2) pair, got {pair!r}")
    if client is None:
        try:
            client = distributed.get_client()
        except ValueError:
            raise ValueError(
                "ssim_files needs a dask.distributed Client: pass client=..., or create "
                "one first (e.g. distributed.Client() for a local cluster)"
            ) from None
    if not pairs:
        return np.empty(0, dtype=np.float64)

    futures = client.map(_score_pair, [p for p, _ in pairs], [q for _, q in pairs],
                         reader=reader, options=options, pure=False)
    index = {f.key: i for i, f in enumerate(futures)}
    scores = np.empty(len(pairs), dtype=np.float64)
    try:
        # In completion order, so that the first failure is reported at once.
        for future in distributed.as_completed(futures, loop=client.loop):
            i = index[future.key]
            try:
                scores[i] = future.result()
            except Exception as exc:
                raise _pair_error(exc, i, *pairs[i]) from exc
    except BaseException:
        client.cancel(futures)  # don't leave the other pairs running
        raise
    return scores


# video_ssim's keyword arguments that ssim_files passes on for video pairs.
_VIDEO_OPTIONS = _OPTIONS | {"preset", "psnr", "frames", "shortest", "offset", "bits", "size",
                             "pix_fmt", "frame_rate"}


def _is_video_pair(pair):
    """A pair of video paths, by their names (the files may be readable from the
    workers only)."""
    return (not isinstance(pair, (str, bytes)) and hasattr(pair, "__len__") and len(pair) == 2
            and all(isinstance(p, (str, os.PathLike))
                    and os.fspath(p).lower().endswith(VIDEO_SUFFIXES) for p in pair))


def _video_files(pairs, client, reader, options, distributed):
    """ssim_files on video pairs: one task per pair, ``video_ssim(ref, dist,
    workers=1, **options)``; a list of VideoScores in the order of `pairs`."""
    for i, pair in enumerate(pairs):
        if not _is_video_pair(pair):
            raise ValueError(f"pair {i} is not a pair of video paths ({pair!r}); ssim_files "
                             "takes image pairs or video pairs (.y4m, .yuv, .mp4, ...), not both")
    if reader is not None:
        raise TypeError("reader= is for image files; videos are read by ssimfast.open_video")
    unknown = sorted(set(options) - _VIDEO_OPTIONS)
    if unknown:
        raise TypeError(f"ssim_files() got unexpected keyword argument(s) {unknown} for video "
                        f"pairs; the options are {sorted(_VIDEO_OPTIONS)}")
    options.setdefault("workers", 1)
    if client is None:
        try:
            client = distributed.get_client()
        except ValueError:
            raise ValueError("ssim_files needs a dask.distributed Client: pass client=..., or "
                             "create one first") from None
    futures = client.map(_score_video_pair, [p for p, _ in pairs], [q for _, q in pairs],
                         options=options, pure=False)
    index = {f.key: i for i, f in enumerate(futures)}
    results = [None] * len(pairs)
    try:
        for future in distributed.as_completed(futures, loop=client.loop):
            i = index[future.key]
            try:
                results[i] = future.result()
            except Exception as exc:
                raise _pair_error(exc, i, *pairs[i]) from exc
    except BaseException:
        client.cancel(futures)
        raise
    return results


def _score_video_pair(ref, dist, options):
    """Worker side: one video pair (module level, so it pickles by name)."""
    return video_ssim(ref, dist, **options)


def _score_pair(path1, path2, reader, options):
    """Worker side: read one pair and score it (module level, so it pickles by name)."""
    read = _read_image if reader is None else reader
    return float(_ssim_in_memory(read(path1), read(path2), **options))


def _read_image(path):
    """The default reader: .npy with np.load, anything else with Pillow."""
    if os.fspath(path).lower().endswith(".npy"):
        return np.load(path)
    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError(
            f"reading {os.fspath(path)!r} needs Pillow (pip install pillow), or pass "
            "reader=... to ssim_files"
        ) from exc
    with Image.open(path) as im:
        return np.asarray(im)


def _pair_error(exc, i, path1, path2):
    """exc, with the pair's index and paths in front of its message, as the
    closest of a few built-in types (whose constructors take one message)."""
    message = f"pair {i} ({os.fspath(path1)}, {os.fspath(path2)}): {exc}"
    for cls in (FileNotFoundError, TypeError, ValueError, OSError):
        if isinstance(exc, cls):
            return cls(message)
    return RuntimeError(message)

"""ssim_batch: many pairs at once, in parallel threads (the kernels release the GIL)."""
import concurrent.futures
import math

import numpy as np

from ssimfast._checks import as_image, has_own_dtype
from ssimfast._extension import kernels
from ssimfast._plan import setup as resolve_setup
from ssimfast._ssim import kernel_inputs, kernel_taps, score as run_pair
from ssimfast._threads import resolve_workers

# Pairs per kernel call for stacks: progress is reported between calls.
_GROUP = 64

__all__ = ["ssim_batch"]


def _pairs(ims1, ims2):
    """The pairs as a list of (im1, im2, inferable) NumPy arrays, shapes checked, before
    any scoring; inferable: both had a dtype of their own (they were not lists)."""
    stacked = isinstance(ims1, np.ndarray) and isinstance(ims2, np.ndarray)
    if stacked:
        if ims1.ndim < 2 or ims1.shape != ims2.shape:
            raise ValueError(
                "stacked batches must have the same shape (N, ...) with a leading batch "
                f"axis and at least one image axis; got ims1.shape={ims1.shape} and "
                f"ims2.shape={ims2.shape}"
            )
        return [(ims1[i], ims2[i], True) for i in range(ims1.shape[0])]
    try:
        n1, n2 = len(ims1), len(ims2)
    except TypeError:
        raise TypeError(
            "ssim_batch takes two arrays with a leading batch axis (N, ...) or two "
            f"sequences of images; got {type(ims1).__name__} and {type(ims2).__name__}"
        ) from None
    if n1 != n2:
        raise ValueError(f"ims1 holds {n1} images but ims2 holds {n2}; pass one im2 per im1")
    pairs = []
    for i, (a, b) in enumerate(zip(ims1, ims2)):
        inferable = has_own_dtype(a) and has_own_dtype(b)
        try:
            a, b = as_image(a, "im1"), as_image(b, "im2")
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"pair {i}: {exc}") from exc
        if a.shape != b.shape:
            raise ValueError(
                f"pair {i}: the images differ in shape: ims1[{i}].shape={a.shape} "
                f"but ims2[{i}].shape={b.shape}"
            )
        pairs.append((a, b, inferable))
    return pairs


def ssim_batch(ims1, ims2, *, win_size=None, data_range=None, channel_axis=None,
               gaussian_weights=False, full=False, gradient=False, workers=None,
               progress=None, **kwargs):
    """Mean SSIM of many image pairs, pairs scored in parallel.

    Parameters
    ----------
    ims1, ims2 : ndarray or sequence of array_like
        Either two arrays of one shape with a leading batch axis, (N, ...),
        pair i being ``ims1[i], ims2[i]``; or two sequences of N images, pair i
        of one shape, pairs of any sizes (and dtypes).
    workers : int or None, optional
        Threads in all (as for structural_similarity). Pairs are spread over
        them; if there are fewer pairs than threads, each pair gets several.
        The scores do not depend on it.
    progress : callable or None, optional
        Called as ``progress(done, total)`` in the calling thread as pairs
        finish: after each pair, or each group of up to 64 pairs of a stack.
    full, gradient : bool, optional
        Also return the per-pair SSIM maps and/or gradients, as lists.
    win_size, data_range, channel_axis, gaussian_weights, **kwargs
        As for :func:`ssimfast.structural_similarity` (K1, K2, sigma,
        use_sample_covariance), the same for every pair.

    Returns
    -------
    scores : ndarray of float64, shape (N,)
        ``structural_similarity(ims1[i], ims2[i], **options)`` for each i,
        bit for bit.
    grads : list of ndarray
        Only with `gradient`.
    maps : list of ndarray
        Only with `full`.

    Raises
    ------
    ValueError, TypeError
        As structural_similarity, with the index of the pair at fault
        ("pair 3: ..."). Every pair's shapes, dtypes and options are checked
        before any pair is scored, in the calling thread (where warnings,
        such as an inferred data_range, point at the caller).
    """
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable as progress(done, total), got {progress!r}")
    pairs = _pairs(ims1, ims2)
    total = len(pairs)
    n_threads = resolve_workers(workers)
    pair_threads = max(1, min(n_threads, total))
    per_call = max(1, n_threads // pair_threads)

    checked = {}  # pairs of one shape and dtypes share a setup (and warn once)

    def setup(i, a, b, inferable):
        key = (a.shape, a.dtype, b.shape, b.dtype, inferable)
        if key not in checked:
            try:
                checked[key] = resolve_setup(*key[:4], win_size, data_range, channel_axis,
                                             gaussian_weights, per_call, dict(kwargs),
                                             entry="ssim_batch", inferable=inferable)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"pair {i}: {exc}") from exc
        return checked[key]

    setups = [setup(i, *pair) for i, pair in enumerate(pairs)]
    stacked = isinstance(ims1, np.ndarray) and isinstance(ims2, np.ndarray)
    if (stacked and ims1.ndim == 3 and total and setups[0].channel_axis is None
            and not (full or gradient)):
        return _stack_scores(ims1, ims2, setups[0], n_threads, progress)

    def score(i):
        a, b, _ = pairs[i]
        return run_pair(a, b, setups[i], full, gradient)

    results = [None] * total
    with concurrent.futures.ThreadPoolExecutor(max_workers=pair_threads) as pool:
        futures = {pool.submit(score, i): i for i in range(total)}
        try:
            for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
                results[futures[future]] = future.result()
                if progress is not None:
                    progress(done, total)
        except BaseException:
            for future in futures:
                future.cancel()
            raise

    if not (full or gradient):
        return np.array([float(r) for r in results], dtype=np.float64)
    scores = np.array([float(r[0]) for r in results], dtype=np.float64)
    out = (scores,)
    if gradient:
        out += ([r[1] for r in results],)
    if full:
        out += ([r[-1] for r in results],)
    return out


def _stack_scores(ims1, ims2, setup, n_threads, progress):
    """Scores of a stack of 2-D pairs (N, H, W), pairs spread over the threads
    inside one compiled loop (no Python per pair). Each score is bit-identical
    to structural_similarity's: the same kernels, in the same order."""
    p = setup.params
    x, y = kernel_inputs(ims1, ims2, setup.float_type)
    (taps, _), scale = kernel_taps([p.taps] * 2, p.exact)
    count = math.prod([m - 2 * p.crop for m in x.shape[1:]])
    totals = np.empty(x.shape[0])
    for start in range(0, x.shape[0], _GROUP):
        stop = min(x.shape[0], start + _GROUP)
        kernels.ssim_2d_batch(x[start:stop], y[start:stop], taps, taps, p.crop, p.crop, scale,
                              p.c1, p.c2, p.cov_norm, totals[start:stop], n_threads, p.exact)
        if progress is not None:
            progress(stop, x.shape[0])
    return totals / count

"""FFmpeg's SSIM (the `ssim` filter, libavfilter/vf_ssim.c, x264's definition).

Not scikit-image's SSIM: sums over 4x4 blocks, 8x8 windows on a 4-pixel grid
(overlapping by 4), constants (0.01 * max)**2 * 64 and (0.03 * max)**2 * 64 * 63
rounded to integers, window values in float from integer sums, a plane's value
the mean over windows, and a frame's "All" the planes weighted by their pixel
counts. Values equal what FFmpeg prints (6 digits) on the same frames.
"""
import operator

import numpy as np

from ssimfast import _codec_cy
from ssimfast._threads import resolve_workers

__all__ = ["ffmpeg_ssim", "ffmpeg_ssim_sse", "ffmpeg_ssim_frame", "ffmpeg_ssim_map",
           "ffmpeg_weights"]


def _check_bits(bits):
    if isinstance(bits, bool):
        raise TypeError(f"bits must be an integer from 8 to 16, got {bits!r}")
    try:
        bits = operator.index(bits)
    except TypeError:
        raise TypeError(f"bits must be an integer from 8 to 16, got {bits!r}") from None
    if not 8 <= bits <= 16:
        raise ValueError(f"bits must be from 8 to 16 (FFmpeg's ssim filter formats), got {bits}")
    return bits


def _plane(p, name, bits):
    p = np.asarray(p)
    if p.ndim != 2:
        raise ValueError(f"{name} must be one 2-D plane (height, width), got shape {p.shape}")
    want = np.uint8 if bits == 8 else np.uint16
    if p.dtype != want:
        raise TypeError(
            f"{name} has dtype {p.dtype}, but {bits}-bit planes are {np.dtype(want)} "
            f"(FFmpeg's {'8-bit' if bits == 8 else 'high bit depth'} path)"
        )
    if p.shape[0] < 8 or p.shape[1] < 8:
        raise ValueError(
            f"{name} is {p.shape[1]}x{p.shape[0]} pixels; FFmpeg's SSIM needs planes of at "
            "least 8x8 (two 4x4 blocks each way)"
        )
    if not p.flags.c_contiguous:  # e.g. decoded frames with padded rows
        p = np.ascontiguousarray(p)
    return p


def ffmpeg_ssim(plane1, plane2, *, bits=8, workers=None):
    """FFmpeg's SSIM of one plane, as its ``ssim`` filter computes it.

    Parameters
    ----------
    plane1, plane2 : 2-D ndarray
        One plane of each frame (Y, U or V), uint8 for ``bits=8``, uint16
        holding ``bits``-bit values otherwise (as FFmpeg's ``yuv420p10le``
        and the like store them). At least 8x8 pixels; a remainder of the
        width or height past a multiple of 4 is ignored, as FFmpeg does.
    bits : int
        Bit depth of the samples, 8 to 16: sets the maximum value
        ``2**bits - 1`` in the constants and the 8-bit or high-depth path.
    workers : int or None
        Threads; the value does not depend on it.

    Returns
    -------
    float
        The plane's value, as FFmpeg's per-frame ``Y:``/``U:``/``V:`` fields.
    """
    return _ssim_and_sse(plane1, plane2, bits, workers)[0]


def ffmpeg_ssim_sse(plane1, plane2, *, bits=8, workers=None):
    """(FFmpeg's SSIM, the exact sum of squared differences) of one plane, in
    one pass: the SSE (for PSNR) comes from the SSIM's block sums."""
    ssim, sse, a, b = _ssim_and_sse(plane1, plane2, bits, workers)
    h4, w4 = 4 * (a.shape[0] // 4), 4 * (a.shape[1] // 4)
    # The pixels past the last whole 4x4 block, which FFmpeg's SSIM ignores.
    for x, y in ((a[h4:], b[h4:]), (a[:h4, w4:], b[:h4, w4:])):
        if x.size:
            sse += _codec_cy.sq_diff_sum_int(np.ascontiguousarray(x).reshape(-1),
                                             np.ascontiguousarray(y).reshape(-1), 1)
    return ssim, sse


def _ssim_and_sse(plane1, plane2, bits, workers):
    bits = _check_bits(bits)
    a, b = _plane(plane1, "plane1", bits), _plane(plane2, "plane2", bits)
    if a.shape != b.shape:
        raise ValueError(f"the planes differ in shape: {a.shape} and {b.shape}")
    # The kernel's pool never waits for a helper that has not started; the
    # kernel keeps small planes on the calling thread (_workers_for).
    n_threads = resolve_workers(workers)
    ssim, sse = _codec_cy.ffmpeg_ssim_plane(a, b, (1 << bits) - 1, n_threads)
    return ssim, sse, a, b


def ffmpeg_ssim_map(plane1, plane2, *, bits=8):
    """FFmpeg's SSIM of each 8x8 window (on its 4-pixel grid), as float32, shape
    ``(h // 4 - 1, w // 4 - 1)``: window (i, j) covers pixels ``[4i, 4i + 8) x
    [4j, 4j + 8)``. Its mean (added up in FFmpeg's order) is ``ffmpeg_ssim``.
    NumPy, not compiled: for looking into one frame (the worst regions)."""
    bits = _check_bits(bits)
    a, b = _plane(plane1, "plane1", bits), _plane(plane2, "plane2", bits)
    if a.shape != b.shape:
        raise ValueError(f"the planes differ in shape: {a.shape} and {b.shape}")
    peak = (1 << bits) - 1
    # The constants as vf_ssim.c computes them: in double, then truncated.
    c1 = int(.01 * .01 * peak * peak * 64 + .5)
    c2 = int(.03 * .03 * peak * peak * 64 * 63 + .5)
    bh, bw = a.shape[0] >> 2, a.shape[1] >> 2
    a = a[:4 * bh, :4 * bw].astype(np.int64).reshape(bh, 4, bw, 4)
    b = b[:4 * bh, :4 * bw].astype(np.int64).reshape(bh, 4, bw, 4)
    blocks = [x.sum(axis=(1, 3)) for x in (a, b, a * a + b * b, a * b)]
    s1, s2, ss, s12 = (x[:-1, :-1] + x[1:, :-1] + x[:-1, 1:] + x[1:, 1:] for x in blocks)
    var = ss * 64 - s1 * s1 - s2 * s2
    cov = s12 * 64 - s1 * s2
    f = np.float32  # each factor rounded to float, products and quotient in float
    return ((f(2 * s1 * s2 + c1) * f(2 * cov + c2))
            / (f(s1 * s1 + s2 * s2 + c1) * f(var + c2)))


def ffmpeg_weights(shapes):
    """FFmpeg's weight of each plane in "All": its pixel count over the total."""
    counts = [int(h) * int(w) for h, w in shapes]
    total = sum(counts)
    return [c / total for c in counts]


def ffmpeg_ssim_frame(planes1, planes2, *, bits=8, workers=None):
    """FFmpeg's SSIM of one frame: a list with each plane's value, then "All".

    `planes1` and `planes2` are sequences of 2-D planes (Y, U, V; or Y alone).
    """
    if len(planes1) != len(planes2):
        raise ValueError(f"the frames have {len(planes1)} and {len(planes2)} planes")
    values = [ffmpeg_ssim(p, q, bits=bits, workers=workers) for p, q in zip(planes1, planes2)]
    total = 0.0
    for weight, value in zip(ffmpeg_weights([np.shape(p) for p in planes1]), values):
        total += weight * value
    return values + [total]

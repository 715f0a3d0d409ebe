"""ms_ssim: multi-scale SSIM (Wang, Simoncelli and Bovik, 2003): the entry
point (resolve -> run) and the run of its plan on the compiled kernels
(ssim_cs_2d, box_downsample_2d in _multiscale.pxi)."""
import math

import numpy as np

from ssimfast._checks import slice_at_axis
from ssimfast._extension import kernels
from ssimfast._plan import MS_WEIGHTS, resolve_ms
from ssimfast._ssim import MIN_PIXELS_PER_THREAD, kernel_inputs

__all__ = ["ms_ssim", "run", "DEFAULT_WEIGHTS"]

# Wang, Simoncelli and Bovik (2003), finest scale first.
DEFAULT_WEIGHTS = MS_WEIGHTS


def ms_ssim(im1, im2, *, data_range=None, bits=None, weights=None, scales=None,
            channel_axis=None, win_size=11, sigma=1.5, K1=0.01, K2=0.03, workers=None):
    """
    Multi-scale structural similarity (MS-SSIM) of two 2-D images.

    At each scale j = 1..M the images are compared with a Gaussian window
    (`win_size` taps of `sigma`, population covariance) over the windows that
    lie inside the image ('valid'), and then halved by 2x2 averaging.
    The result is ``prod_{j<M} max(cs_j, 0)**w_j * max(ssim_M, 0)**w_M``:
    cs_j is the mean contrast-structure term (2 sigma_xy + C2) /
    (sigma_x^2 + sigma_y^2 + C2) at scale j, ssim_M the mean SSIM (luminance
    times contrast-structure) at the coarsest scale. This is the MS-SSIM of
    pytorch-msssim and tf.image.ssim_multiscale, and of Wang's msssim.m where
    that is defined.

    Parameters
    ----------
    im1, im2 : array_like
        Images of the same shape: 2-D, or 3-D with `channel_axis`.
    data_range : float, optional
        As in structural_similarity: inferred from integer dtypes (255 for
        uint8), required for floating-point images.
    bits : int, optional
        Bit depth of integer data (10, 12 in uint16): data_range = 2**bits - 1.
    weights : sequence of float, optional
        The exponent of each scale, finest first; their number is the number
        of scales. Default: Wang et al.'s five, (0.0448, 0.2856, 0.3001,
        0.2363, 0.1333).
    scales : int, optional
        With `weights` unset, use the first `scales` (1 to 5) default weights
        divided by their sum (so that they still sum to 1). With `weights`,
        it must equal ``len(weights)``.
    channel_axis : int, optional
        Axis of colour channels: the result is the mean of the channels'
        MS-SSIM (as pytorch-msssim and TensorFlow).
    win_size : int, optional
        Taps of the Gaussian window (odd), default 11.
    sigma : float, optional
        Standard deviation of the Gaussian window, default 1.5.
    K1, K2 : float, optional
        SSIM constants, default 0.01 and 0.03.
    workers : int, optional
        Threads, as in structural_similarity; the result does not depend on it.

    Returns
    -------
    numpy.float64
        MS-SSIM, in [0, 1]; exactly 1.0 for identical images.

    Notes
    -----
    Negative terms: a scale whose mean contrast-structure (or, at the coarsest
    scale, mean SSIM) is negative contributes 0, so the result is 0, as
    pytorch-msssim and TensorFlow clamp with relu. The alternative, a signed
    power, would make two negative scales multiply to a positive score, and
    Wang's MATLAB code gives a complex number there.

    Downsampling: each 2x2 block is averaged; a last row or column of an odd
    size is averaged with itself (the image is mirrored), as msssim.m's
    ``imfilter(.., ones(2)/4, 'symmetric')`` and TensorFlow do. pytorch-msssim
    pads odd sizes with zeros instead, so compare with it on sizes that stay
    even. The coarsest scale must still hold one window: images need at
    least ``(win_size - 1) * 2**(M - 1) + 1`` pixels a side (161 for five
    scales and 11 taps).

    References
    ----------
    Wang, Z., Simoncelli, E. P., & Bovik, A. C. (2003). Multiscale structural
    similarity for image quality assessment. The Thirty-Seventh Asilomar
    Conference on Signals, Systems & Computers, 2, 1398-1402.
    :DOI:`10.1109/ACSSC.2003.1292216`
    """
    plan, im1, im2 = resolve_ms(im1, im2, data_range=data_range, bits=bits, weights=weights,
                                scales=scales, channel_axis=channel_axis, win_size=win_size,
                                sigma=sigma, K1=K1, K2=K2, workers=workers)
    return run(plan, im1, im2)


def run(plan, im1, im2):
    """MS-SSIM of two NumPy images for a resolved MSPlan."""
    x, y = kernel_inputs(im1, im2, plan.float_type)
    args = (plan.taps, plan.c1, plan.c2, plan.weights, plan.n_threads)
    axis = plan.channel_axis
    if axis is None:
        return np.float64(_ms_ssim_2d(x, y, *args))
    values = [_ms_ssim_2d(x[slice_at_axis(ch, axis)], y[slice_at_axis(ch, axis)], *args)
              for ch in range(im1.shape[axis])]
    return np.float64(math.fsum(values) / len(values))


def _ms_ssim_2d(x, y, taps, c1, c2, weights, n_threads):
    """MS-SSIM of one 2-D channel (any kernel dtype and strides)."""
    r = taps.shape[0] // 2
    value = 1.0
    last = len(weights) - 1
    for level, w in enumerate(weights):
        H, W = x.shape
        threads = n_threads if x.size >= MIN_PIXELS_PER_THREAD else 1
        ssim_sum, cs_sum = kernels.ssim_cs_2d(x, y, taps, taps, r, r, c1, c2, 1.0, threads)
        term = (ssim_sum if level == last else cs_sum) / ((H - 2 * r) * (W - 2 * r))
        value *= max(term, 0.0) ** w
        if level < last:
            x, y = _halve(x, y, threads)
    return value


def _halve(x, y, n_threads):
    H, W = x.shape
    out = np.empty((2, (H + 1) // 2, (W + 1) // 2))
    kernels.box_downsample_2d(x, y, 2, out[0], out[1], n_threads)
    return out[0], out[1]

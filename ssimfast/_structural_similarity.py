"""structural_similarity and settings(): the entry point of one call, and what it would do.

Both go resolve -> (run): ssimfast._plan.resolve decides everything, before
any kernel runs; ssimfast._ssim.run executes the plan; settings() prints it.
"""
from ssimfast._masked import MIN_VALID
from ssimfast._plan import describe, resolve
from ssimfast._ssim import run

__all__ = ["structural_similarity", "settings"]


def structural_similarity(
    im1,
    im2,
    *,
    win_size=None,
    gradient=False,
    data_range=None,
    channel_axis=None,
    gaussian_weights=False,
    full=False,
    workers=None,
    preset="skimage",
    bits=None,
    mask=None,
    nan_policy="propagate",
    min_valid=MIN_VALID,
    **kwargs,
):
    """
    Compute the mean structural similarity index between two images.

    A compiled drop-in for ``skimage.metrics.structural_similarity``
    (scikit-image 0.26): same arguments, same results, same errors and warnings.
    Please pay attention to the `data_range` parameter with floating-point images.

    Parameters
    ----------
    im1, im2 : array_like
        Images of the same shape, any number of dimensions. Anything
        ``np.asarray`` accepts (lists, PIL images) is converted.
    win_size : int or None, optional
        The side-length of the sliding window used in comparison. Must be an
        odd value. If `gaussian_weights` is True, the filter is set by `sigma`
        instead and `win_size`, if given, only sets the border left out of the
        mean and the covariance normalisation (as in scikit-image).
    gradient : bool, optional
        If True, also return the gradient with respect to im2.
    data_range : float, optional
        The data range of the input image (difference between maximum and
        minimum possible values). By default, this is estimated from the image
        data type: 255 for uint8, 1 for bool, the full range for other integer
        types (with a warning). Floating-point images require it, and so do
        images that were not arrays (Python lists: NumPy makes their integers
        int64, whose range says nothing about the data). It must be a finite
        number greater than 0.
    channel_axis : int or None, optional
        If None, the image is assumed to be a grayscale (single channel) image.
        Otherwise, this parameter indicates which axis of the array corresponds
        to channels; the result is the mean of the per-channel means.
    gaussian_weights : bool, optional
        If True, each patch has its mean and variance spatially weighted by a
        normalized Gaussian kernel of width `sigma` (truncated at 3.5 sigma).
    full : bool, optional
        If True, also return the full structural similarity image.
    workers : int or None, optional
        Number of threads. None (default) uses OpenMP's default: all cores,
        or ``OMP_NUM_THREADS``, or a ``threadpoolctl`` limit. Negative values
        count back from it (-1 is all). The result does not depend on it.
    preset : str, optional
        Which reference to reproduce (``ssimfast.PRESETS`` describes each):
        ``"skimage"`` (default; scikit-image 0.26, everything above),
        ``"matlab"`` (Zhou Wang's ssim.m: Gaussian window of 11 taps and sigma
        1.5, population covariance, data range 255, downsampling by
        F = max(1, round(min(H, W) / 256)) with an F x F box filter, mean
        over windows inside the image), ``"matlab_index"`` (ssim_index.m: the
        same without downsampling) or ``"pytorch"`` (pytorch-msssim's and
        tf.image.ssim's ssim: the same settings as ``"matlab_index"``). A
        preset fixes `win_size`, `gaussian_weights`, `sigma` and
        `use_sample_covariance`: passing one of them with another value is a
        ValueError. `data_range` (default 255), `K1` and `K2` are parameters
        of those references and may be passed. With a preset, the map of
        ``full=True`` covers the windows inside the (downsampled) image only,
        as those references return it; `gradient` is for ``"skimage"`` only.
        ``ssimfast.settings(im1, im2, **options)`` shows what a call uses.
    bits : int, optional
        Bit depth of integer data stored in a wider dtype, such as 10- or
        12-bit data in uint16: sets `data_range` to ``2**bits - 1``. Pass
        `bits` or `data_range`, not both. With either, integer images whose
        values exceed the range give a UserWarning (one pass over each image
        whose dtype could exceed it: about 1-3 % of a call; float images are
        not checked).
    mask : array_like of bool or None, optional
        True where pixels are valid (the images' shape, or their shape without
        the channel axis). Each window's statistics are then computed over its
        valid pixels only (normalised convolution): tap-weighted means over the
        valid pixels, the sample-covariance factor n / (n - 1) with n the
        window's valid pixels. Windows whose valid fraction (the sum of their
        taps over valid pixels) is below `min_valid` are left out of the mean
        and are NaN in the map. 1-D and 2-D images (per channel) only; not
        with `gradient`. A mask of all True gives the unmasked result.
    nan_policy : {'propagate', 'omit', 'raise'}, optional
        'propagate' (default, as scikit-image): NaN pixels make the windows
        around them NaN, and the mean NaN. 'omit': NaN pixels (in either
        image) are treated as masked. 'raise': a ValueError if either image
        holds a NaN.
    min_valid : float, optional
        The valid fraction a window needs to count, in (0, 1]; default 0.5.

    Other Parameters
    ----------------
    use_sample_covariance : bool
        If True (default), normalize covariances by N-1 rather than N, where N is
        the number of pixels within the sliding window.
    K1 : float
        Algorithm parameter, K1 (small constant, see [1]_), default 0.01.
    K2 : float
        Algorithm parameter, K2 (small constant, see [1]_), default 0.03.
    sigma : float
        Standard deviation for the Gaussian when `gaussian_weights` is True,
        default 1.5.
    multichannel : bool
        Deprecated spelling of ``channel_axis=-1``; emits a FutureWarning.

    Returns
    -------
    mssim : numpy.float64 or numpy.float32
        The mean structural similarity index over the image (float64, or, with
        `channel_axis` and float16/float32 input, float32, as scikit-image).
    grad : ndarray
        The gradient of the structural similarity between im1 and im2 [2]_.
        This is only returned if `gradient` is set to True.
    S : ndarray
        The full SSIM image. This is only returned if `full` is set to True.
        Near the edges, its windows are mirrored ('reflect' mode); the mean
        leaves out a border of ``(win_size - 1) // 2`` pixels on every axis.

    Raises
    ------
    TypeError
        For inputs that are not real numbers (complex, object, strings, dates),
        an unknown keyword argument, or options of the wrong type.
    ValueError
        For images of different shapes, a floating-point image without
        `data_range` (or images given as Python lists, whose dtype NumPy
        picks), or an invalid option value (the message says which).

    Notes
    -----
    To match the implementation of Wang et al. [1]_, set `gaussian_weights`
    to True, `sigma` to 1.5, `use_sample_covariance` to False, and
    specify the `data_range` argument.

    Statistics are computed in double precision whatever the input dtype;
    float32 results therefore differ from scikit-image's float32 arithmetic in
    the last few digits.

    References
    ----------
    .. [1] Wang, Z., Bovik, A. C., Sheikh, H. R., & Simoncelli, E. P.
       (2004). Image quality assessment: From error visibility to
       structural similarity. IEEE Transactions on Image Processing,
       13, 600-612. :DOI:`10.1109/TIP.2003.819861`
    .. [2] Avanaki, A. N. (2009). Exact global histogram specification
       optimized for structural similarity. Optical Review, 16, 613-621.
       :DOI:`10.1007/s10043-009-0119-z`

    Examples
    --------
    >>> import numpy as np
    >>> from ssimfast import structural_similarity
    >>> rng = np.random.default_rng(0)
    >>> a = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    >>> float(structural_similarity(a, a))
    1.0
    """
    # (Positional: a 64x64 call takes about 20 us, and keywords cost some.)
    plan, im1, im2 = resolve(im1, im2, win_size, gradient, data_range, channel_axis,
                             gaussian_weights, full, workers, preset, bits, mask, nan_policy,
                             min_valid, kwargs)
    return run(plan, im1, im2)


def settings(im1, im2, *, win_size=None, gradient=False, data_range=None, channel_axis=None,
             gaussian_weights=False, full=False, workers=None, preset="skimage", bits=None,
             mask=None, nan_policy="propagate", min_valid=MIN_VALID, **kwargs):
    """The settings ``structural_similarity(im1, im2, **options)`` computes with.

    Takes the same arguments and raises the same errors and warnings as that
    call, reads only the shapes and dtypes (no pixel is scored), and returns a
    dict; ``print(ssimfast.settings(a, b, preset="matlab"))`` lists it, one
    setting per line: the reference reproduced, window, covariance, data_range
    and where it comes from, C1 and C2, downsampling, the pixels the mean
    covers, what ``full=True`` returns, the mask and NaN options if given, the
    outputs, the result dtype and the threads. It is the call's plan
    (ssimfast._plan.Plan) in words.

    >>> import numpy as np, ssimfast
    >>> a = np.zeros((512, 768), dtype=np.uint8)
    >>> s = ssimfast.settings(a, a, preset="matlab")
    >>> s["downsampling"], s["scored shape"], s["window"]
    ('F = 2: 2x2 box filter (symmetric borders), every 2nd pixel', (256, 384), 'Gaussian, 11 taps, sigma 1.5')
    """
    plan, _, _ = resolve(im1, im2, win_size=win_size, gradient=gradient, data_range=data_range,
                         channel_axis=channel_axis, gaussian_weights=gaussian_weights,
                         full=full, workers=workers, preset=preset, bits=bits, mask=mask,
                         nan_policy=nan_policy, min_valid=min_valid, kwargs=kwargs,
                         pixels=False)
    return describe(plan)

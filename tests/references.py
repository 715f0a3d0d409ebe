"""Independent NumPy/SciPy reimplementations of the references that ssimfast's
presets and ms_ssim reproduce, written from the original code's steps (not from
ssimfast's): Zhou Wang's ssim_index.m (2003) and ssim.m (2009, automatic
downsampling), and multi-scale SSIM as msssim.m, pytorch-msssim and TensorFlow
compute it (relu on each scale's term). Used by the tests and by
benchmarks/bench_variants.py.

MATLAB's filter2(window, img, 'valid') with the 11x11 Gaussian window is done
here as two 1-D scipy.ndimage.correlate1d passes (the window is the outer
product of the 1-D taps) followed by cropping the border the 'valid' region
leaves out; imfilter(img, ones(F)/F^2, 'symmetric', 'same') likewise, with
scipy's 'reflect' mode (MATLAB's 'symmetric': d c b a | a b c d) and the
kernel centre where MATLAB puts it, floor((F + 1) / 2).
"""
import numpy as np
from scipy import ndimage as ndi

MSSSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def gaussian_taps(size=11, sigma=1.5):
    """1-D taps of MATLAB's fspecial('gaussian', size, sigma) (its rows and
    columns are these, up to rounding)."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x * x) / (2 * sigma * sigma))
    return g / g.sum()


def filter2_valid(img, taps):
    """filter2(taps' * taps, img, 'valid') for a separable window."""
    r = len(taps) // 2
    out = ndi.correlate1d(img, taps, axis=0, mode="reflect")
    out = ndi.correlate1d(out, taps, axis=1, mode="reflect")
    return out[r:out.shape[0] - r, r:out.shape[1] - r]


def imfilter_box_symmetric(img, F):
    """imfilter(img, ones(F, F) / F^2, 'symmetric', 'same'): output i averages
    rows i - (F-1)//2 .. i + F//2 (MATLAB centres an even kernel at F/2, 1-based)."""
    w = np.full(F, 1.0 / F)
    origin = (F - 1) // 2 - F // 2  # scipy centres at F // 2; shift to MATLAB's centre
    out = ndi.correlate1d(img, w, axis=0, mode="reflect", origin=origin)
    return ndi.correlate1d(out, w, axis=1, mode="reflect", origin=origin)


def ssim_maps(img1, img2, K=(0.01, 0.03), L=255, taps=None):
    """(ssim_map, cs_map) on the 'valid' region, ssim_index.m's formulas."""
    taps = gaussian_taps() if taps is None else taps
    img1 = np.asarray(img1, dtype=np.float64)
    img2 = np.asarray(img2, dtype=np.float64)
    C1, C2 = (K[0] * L) ** 2, (K[1] * L) ** 2
    mu1, mu2 = filter2_valid(img1, taps), filter2_valid(img2, taps)
    mu1_sq, mu2_sq, mu1_mu2 = mu1 * mu1, mu2 * mu2, mu1 * mu2
    sigma1_sq = filter2_valid(img1 * img1, taps) - mu1_sq
    sigma2_sq = filter2_valid(img2 * img2, taps) - mu2_sq
    sigma12 = filter2_valid(img1 * img2, taps) - mu1_mu2
    cs_map = (2 * sigma12 + C2) / (sigma1_sq + sigma2_sq + C2)
    ssim_map = ((2 * mu1_mu2 + C1) * (2 * sigma12 + C2)) / (
        (mu1_sq + mu2_sq + C1) * (sigma1_sq + sigma2_sq + C2))
    return ssim_map, cs_map


def ssim_index_m(img1, img2, K=(0.01, 0.03), L=255):
    """[mssim, ssim_map] = ssim_index(img1, img2, K, window, L)."""
    ssim_map, _ = ssim_maps(img1, img2, K, L)
    return ssim_map.mean(), ssim_map


def matlab_factor(M, N):
    """f = max(1, round(min(M, N) / 256)), MATLAB rounding (halves up)."""
    return max(1, int(np.floor(min(M, N) / 256 + 0.5)))


def ssim_m(img1, img2, K=(0.01, 0.03), L=255):
    """[mssim, ssim_map] = ssim(img1, img2, K, window, L) of ssim.m (2009)."""
    img1 = np.asarray(img1, dtype=np.float64)
    img2 = np.asarray(img2, dtype=np.float64)
    f = matlab_factor(*img1.shape)
    if f > 1:
        img1 = imfilter_box_symmetric(img1, f)[::f, ::f]
        img2 = imfilter_box_symmetric(img2, f)[::f, ::f]
    return ssim_index_m(img1, img2, K, L)


def ms_ssim(img1, img2, weights=MSSSIM_WEIGHTS, L=255, K=(0.01, 0.03), taps=None):
    """MS-SSIM: mean cs at each scale but the last, mean SSIM at the last, each
    clamped at 0 (relu), raised to its weight; 2x2 averaging between scales
    (msssim.m's imfilter(ones(2)/4, 'symmetric') then every 2nd pixel)."""
    x = np.asarray(img1, dtype=np.float64)
    y = np.asarray(img2, dtype=np.float64)
    terms = []
    for level in range(len(weights)):
        ssim_map, cs_map = ssim_maps(x, y, K, L, taps)
        if level < len(weights) - 1:
            terms.append(max(cs_map.mean(), 0.0))
            x = imfilter_box_symmetric(x, 2)[::2, ::2]
            y = imfilter_box_symmetric(y, 2)[::2, ::2]
    terms.append(max(ssim_map.mean(), 0.0))
    return float(np.prod(np.asarray(terms) ** np.asarray(weights)))

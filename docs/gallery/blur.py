"""A blurred region

A 5x5 box blur over the right half of the image (a codec that smooths one
region more than another). SSIM falls where the blur removes texture and
edges, and stays near 1 on the untouched half and on flat areas.
"""
import numpy as np
from skimage import data


def box_blur(a, k):
    """k x k moving average, edges repeated."""
    p = k // 2
    padded = np.pad(a.astype(np.float64), p, mode="edge")
    c = padded.cumsum(0).cumsum(1)
    c = np.pad(c, ((1, 0), (1, 0)))
    s = c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]
    return s / (k * k)


def pair():
    ref = data.camera()[64:448, 64:448]
    out = ref.copy()
    half = ref.shape[1] // 2
    out[:, half:] = np.round(box_blur(ref, 5)[:, half:]).astype(np.uint8)
    return ref, out, {"gaussian_weights": True}

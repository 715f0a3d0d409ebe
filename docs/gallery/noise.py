"""The same noise costs more on flat areas

Gaussian noise of one strength (sigma 10 grey levels) over the whole image.
SSIM compares local structure: the noise barely changes the textured grass
and the coat, but it dominates the flat sky, where the map is darkest.
"""
import numpy as np
from skimage import data


def pair():
    ref = data.camera()[::2, ::2]
    rng = np.random.default_rng(1)
    noisy = ref + rng.normal(0, 10, ref.shape)
    return ref, np.clip(np.round(noisy), 0, 255).astype(np.uint8), {}

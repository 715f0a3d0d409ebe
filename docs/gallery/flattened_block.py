"""A flattened block: the mean hides it, the map does not

A 24x24 block of the camera image is replaced by its mean, as an over-eager
codec might. The mean SSIM stays very high; the lowest local SSIM and the worst
region say where the image is broken.
"""
from skimage import data


def pair():
    ref = data.camera()[128:384, 128:384]
    out = ref.copy()
    block = out[140:164, 50:74]
    block[...] = block.mean()
    return ref, out, {}

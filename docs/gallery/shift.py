"""One pixel out of alignment

The same image shifted by one pixel to the right. Every edge now
disagrees with itself: SSIM compares pixels at the same positions, so check
alignment before blaming a codec.
"""
import numpy as np
from skimage import data


def pair():
    ref = data.camera()[::2, ::2]
    shifted = np.roll(ref, 1, axis=1)
    return ref[:, 1:], shifted[:, 1:], {}

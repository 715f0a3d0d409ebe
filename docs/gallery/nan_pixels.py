"""Invalid pixels left out

Clouds over a satellite scene, dead pixels: here a band of NaN values in a
float image with mild noise. With ``nan_policy="omit"`` the windows are scored
over their valid pixels; windows with less than half of them valid are NaN in
the map (drawn as the lowest colour) and left out of the mean.
"""
import numpy as np
from skimage import data


def pair():
    ref = data.camera()[::2, ::2] / 255.0
    rng = np.random.default_rng(2)
    out = ref + rng.normal(0, 0.02, ref.shape)
    out[100:130, :] = np.nan
    return ref, out, {"data_range": 1.0, "nan_policy": "omit"}

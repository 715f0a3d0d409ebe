"""A built-in sample pair, made on the fly (no data files, no downloads)."""
import numpy as np

SHAPE = (256, 256)
# A damaged region: the kind of local defect a high mean SSIM can hide.
DAMAGE = (slice(96, 144), slice(160, 208))


def sample_pair(seed=0):
    """Return (reference, distorted): two 256x256 uint8 images.

    The reference is a synthetic scene (smooth shading, a disc, stripes and a
    checkerboard). The distorted copy adds mild Gaussian noise everywhere and
    flattens one 48x48 block (`DAMAGE`) to its mean, as a codec might.
    """
    rows, cols = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]].astype(np.float64)
    scene = 60 + 0.4 * rows + 0.3 * cols
    scene += 70 * ((rows - 90) ** 2 + (cols - 80) ** 2 < 45**2)
    scene += 40 * np.sin(cols / 3.0) * (rows > 170)
    scene += 50 * (((rows // 8) + (cols // 8)) % 2) * (cols > 150) * (rows < 150)
    reference = np.clip(scene, 0, 255).astype(np.uint8)

    rng = np.random.default_rng(seed)
    distorted = scene + rng.normal(0.0, 4.0, SHAPE)
    distorted[DAMAGE] = distorted[DAMAGE].mean()
    distorted = np.clip(np.round(distorted), 0, 255).astype(np.uint8)
    return reference, distorted

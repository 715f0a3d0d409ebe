"""Calls that mypy --strict must reject (.ci/run expects an error on each line
marked E): the stub's overloads are precise enough to catch them."""

import numpy as np

import ssimfast

a = np.zeros((16, 16), dtype=np.uint8)
score: float = ssimfast.structural_similarity(a, a, full=True)  # E: a tuple, not a float
pair: tuple[float, float] = ssimfast.structural_similarity(a, a)  # E: a scalar, not a tuple
ssimfast.structural_similarity(a, a, nan_policy="ignore")  # E: not a nan_policy
ssimfast.ssim_batch([a], [a], progress=len)  # E: progress takes (done, total)

"""Typed use of ssimfast's public API, checked with ``mypy --strict`` (in .ci/run):
the stub's overloads give a plain call a scalar and ``full=True`` a tuple, so
none of these lines needs a cast or an ignore. Also run by tests/test_typing.py
so that what mypy accepts also runs."""

import io

import numpy as np
from numpy.typing import NDArray

import ssimfast
import ssimfast.dask


def scores() -> list[float]:
    rng = np.random.default_rng(0)
    a: NDArray[np.uint8] = rng.integers(0, 256, (64, 64), dtype=np.uint8)
    b: NDArray[np.uint8] = np.clip(a.astype(np.int16) + 8, 0, 255).astype(np.uint8)

    mean: np.floating = ssimfast.structural_similarity(a, b)
    mean_map, smap = ssimfast.structural_similarity(a, b, full=True)
    grad_mean, grad = ssimfast.structural_similarity(a, b, gradient=True)
    _, grad2, smap2 = ssimfast.structural_similarity(a, b, gradient=True, full=True)
    assert smap.shape == grad.shape == grad2.shape == smap2.shape == a.shape
    alias: np.floating = ssimfast.ssim(a / 255.0, b / 255.0, data_range=1.0, gaussian_weights=True)
    preset = ssimfast.structural_similarity(a, b, preset="matlab_index")

    big = rng.integers(0, 256, (192, 192), dtype=np.uint8)
    ms: np.float64 = ssimfast.ms_ssim(big, big, scales=3)

    batch: NDArray[np.float64] = ssimfast.ssim_batch(np.stack([a, a]), np.stack([b, a]))
    batch_scores, maps = ssimfast.ssim_batch([a, a], [b, a], full=True)
    assert len(maps) == batch_scores.shape[0] == 2

    tiled = ssimfast.ssim_tiled(a, b, tile=16)
    r = ssimfast.report(a, b, k=1)
    worst_mean: float = r.worst[0].mean
    picture: NDArray[np.uint8] = r.heatmap(a, b)
    assert picture.ndim == 3 and r.to_dict()["mean"] == r.mean
    print(ssimfast.settings(a, b, preset="pytorch")["preset"], file=io.StringIO())
    ssimfast.show_config(file=io.StringIO())
    lazy = ssimfast.dask.structural_similarity(a, b)  # a 0-d dask array
    from_dask = float(lazy.compute())
    psnr: np.float64 = ssimfast.peak_signal_noise_ratio(a, b)
    mse: np.float64 = ssimfast.mean_squared_error(a, b)
    codec = ssimfast.structural_similarity(big, big, preset="ffmpeg")
    assert psnr > 0 and mse > 0

    return [float(x) for x in (mean, mean_map, grad_mean, alias, preset, ms, batch[0],
                               tiled, worst_mean, from_dask, codec)]


if __name__ == "__main__":
    print(scores())

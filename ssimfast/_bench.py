"""ssimfast.bench() and `python -m ssimfast.bench`: a quick speedup table against
scikit-image on this machine.

    python -m ssimfast.bench            # 512x512 and 2160x3840, uint8, mean SSIM
    python -m ssimfast.bench --quick    # 512x512 only

In the spirit of bottleneck's bn.bench(): both functions run in this process
on the same images, alternately, and each column is the median of the runs.
"""
import argparse
import platform
import statistics
import sys
import time

import numpy as np

from ssimfast._structural_similarity import structural_similarity
from ssimfast._version import __version__
from ssimfast._extension import kernels
from ssimfast._sample import sample_pair
from ssimfast._threads import resolve_workers

CASES = (("uniform 7x7", {}), ("gaussian 1.5", {"gaussian_weights": True}))


def _images(shape):
    """The built-in sample pair, mirror-tiled to `shape` (uint8)."""
    ref, dist = sample_pair()
    reps = [-(-n // m) for n, m in zip(shape, ref.shape)]
    tile = lambda a: np.tile(np.concatenate([a, a[::-1]], 0), reps)[: shape[0], : shape[1]]
    return np.ascontiguousarray(tile(ref)), np.ascontiguousarray(tile(dist))


def _medians(f, g, repeat):
    """Median times of f and g, called alternately `repeat` times after a warm-up."""
    f(), g()
    tf, tg = [], []
    for _ in range(repeat):
        for func, times in ((f, tf), (g, tg)):
            t0 = time.perf_counter()
            func()
            times.append(time.perf_counter() - t0)
    return statistics.median(tf), statistics.median(tg)


def bench(sizes=((512, 512), (2160, 3840)), repeat=5, file=None):
    """Print how much faster ssimfast is than scikit-image here, and return the rows.

    Parameters
    ----------
    sizes : sequence of (rows, columns)
        Image sizes to time (uint8 grayscale, mean SSIM).
    repeat : int
        Timed runs of each function per case (medians are reported).
    file : file-like, optional
        Where to print; standard output by default.

    Returns
    -------
    list of dict
        One per case: size, window, skimage_s, ssimfast_s, speedup.
    """
    try:
        import skimage
        from skimage.metrics import structural_similarity as reference
    except ImportError:
        raise ImportError(
            "ssimfast.bench compares with scikit-image: pip install 'scikit-image==0.26.*'"
        ) from None
    out = file or sys.stdout
    print(f"ssimfast {__version__}, scikit-image {skimage.__version__}, numpy {np.__version__}, "
          f"Python {platform.python_version()}", file=out)
    print(f"OpenMP: {'yes' if kernels.openmp_enabled() else 'no'}, "
          f"{'native' if kernels.native_build() else 'portable'} build "
          f"(kernels: {kernels.target()}), "
          f"{resolve_workers(None)} threads", file=out)
    print(f"speed = scikit-image time / ssimfast time (medians of {repeat} interleaved runs)\n",
          file=out)
    print(f"{'size':>11}  {'window':<13} {'skimage ms':>11} {'ssimfast ms':>12} {'speed':>7}",
          file=out)
    rows = []
    for shape in sizes:
        a, b = _images(shape)
        for window, options in CASES:
            t_ref, t_fast = _medians(lambda: reference(a, b, **options),
                                     lambda: structural_similarity(a, b, **options), repeat)
            rows.append(dict(size=tuple(shape), window=window, skimage_s=t_ref,
                             ssimfast_s=t_fast, speedup=t_ref / t_fast))
            print(f"{shape[0]:>5}x{shape[1]:<5}  {window:<13} {t_ref * 1e3:>11.1f} "
                  f"{t_fast * 1e3:>12.2f} {t_ref / t_fast:>6.1f}x", file=out, flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m ssimfast.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="512x512 only")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per case (default 5)")
    args = parser.parse_args(argv)
    sizes = ((512, 512),) if args.quick else ((512, 512), (2160, 3840))
    try:
        bench(sizes, repeat=args.repeat)
    except ImportError as exc:
        parser.exit(1, f"{exc}\n")


if __name__ == "__main__":
    main()

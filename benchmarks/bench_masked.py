"""mask= and nan_policy='omit' against a vectorised NumPy/SciPy reference.

    python benchmarks/bench_masked.py              # 2160x3840 float64, medians of 5
    python benchmarks/bench_masked.py --json out.json

The reference is normalised convolution with scipy.ndimage.correlate1d (the
five masked statistics, 'reflect' borders) and the SSIM formula in NumPy, the
same definition as ssimfast's (tests/test_masked.py checks both against a
window-by-window computation). Times are medians of interleaved runs; ratio =
reference time / ssimfast time (issue 6's target: at least 20x). The means are
checked to agree (1e-9).
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_scale import interleaved  # noqa: E402
from bench_ssim import header_info, make_pair  # noqa: E402

import ssimfast  # noqa: E402


def reference_mean(x, y, valid, taps, win, data_range=255.0, min_valid=0.5):
    """Masked SSIM (sample covariance) by normalised convolution in SciPy."""
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2

    def filt(a):
        return ndi.correlate1d(ndi.correlate1d(a, taps, axis=0, mode="reflect"), taps, axis=1,
                               mode="reflect")

    xs, ys = np.where(valid, x, 0.0), np.where(valid, y, 0.0)
    f = filt(valid.astype(np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        ux, uy = filt(xs) / f, filt(ys) / f
        n = f * win * win
        cov = n / (n - 1)
        vsum = cov * ((filt(xs * xs) + filt(ys * ys)) / f - (ux * ux + uy * uy))
        vxy = cov * (filt(xs * ys) / f - ux * uy)
        s = (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux * ux + uy * uy + c1) * (vsum + c2))
    crop = (win - 1) // 2
    inner = (slice(crop, -crop), slice(crop, -crop))
    counted = ((f >= min_valid) & (n > 1))[inner]
    return s[inner][counted].mean()


def gaussian_taps(sigma=1.5):
    t = np.exp(-np.arange(-5, 6) ** 2 / (2 * sigma**2))
    return t / t.sum()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per side (default 5)")
    parser.add_argument("--json", metavar="FILE", default=str(HERE / "results" / "masked.json"),
                        help="where to write the results (default: benchmarks/results/masked.json)")
    args = parser.parse_args(argv)
    ref, noisy = make_pair((2160, 3840))
    x, y = ref.astype(np.float64), noisy.astype(np.float64)
    rng = np.random.default_rng(0)
    valid = rng.random(x.shape) > 0.02  # dead pixels
    valid[300:700, 1000:1600] = False   # and a cloud
    x_nan = np.where(valid, x, np.nan)
    cases = [
        ("uniform 7x7, mask=", lambda: reference_mean(x, y, valid, np.full(7, 1 / 7), 7),
         lambda: ssimfast.structural_similarity(x, y, data_range=255, mask=valid)),
        ("Gaussian sigma 1.5, mask=", lambda: reference_mean(x, y, valid, gaussian_taps(), 11),
         lambda: ssimfast.structural_similarity(x, y, data_range=255, mask=valid,
                                                gaussian_weights=True)),
        ("uniform 7x7, NaN pixels, nan_policy='omit'",
         lambda: reference_mean(x, y, valid, np.full(7, 1 / 7), 7),
         lambda: ssimfast.structural_similarity(x_nan, y, data_range=255, nan_policy="omit")),
    ]
    rows = []
    info = header_info(False, args.repeat)
    print(f"{info['date']}  {info['cpu']}, ssimfast {info['ssimfast']} ({info['kernels']} kernels, "
          f"{info['threads']} threads); 2160x3840 float64, {100 * (1 - valid.mean()):.1f}% invalid")
    for name, reference, fast in cases:
        want, got = reference(), fast()
        assert abs(got - want) < 1e-9, f"{name}: ssimfast {got} but the reference {want}"
        t_ref, t_fast = interleaved([reference, fast], args.repeat)
        rows.append({"row": f"4K float64 {name}: x NumPy/SciPy reference", "reference_s": t_ref,
                     "ssimfast_s": t_fast, "ratio": t_ref / t_fast, "target": 20,
                     "abs_diff": abs(got - want)})
        print(f"{rows[-1]['row']}: {t_ref * 1e3:.0f} ms / {t_fast * 1e3:.1f} ms = "
              f"{rows[-1]['ratio']:.1f}x (target 20x; means differ by {abs(got - want):.1e})")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"info": info, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()

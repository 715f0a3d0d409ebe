"""Issue 3's speed targets, each measured side by side with its reference.

    python benchmarks/bench_targets.py            # all rows (about 3 minutes)
    python benchmarks/bench_targets.py --big      # adds the 8192x8192 rows (skimage: ~15 s a call)

Every row times ssimfast and its reference in this one process, interleaved,
and reports the ratio of the medians (these machines are shared; absolute
times drift, ratios much less). Images are bench_ssim.make_pair's natural
image and noisy copy. A row says PASS when the ratio meets the target.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
from skimage.metrics import structural_similarity as sk_ssim

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_ssim import header_info, make_pair, time_pair  # noqa: E402

import ssimfast  # noqa: E402  (bench_ssim put the checkout on sys.path)

GAUSS = {"gaussian_weights": True}
K4 = (2160, 3840)


def opencv_recipe():
    """The common OpenCV recipe (float32, five GaussianBlur 11x11 sigma 1.5), or None."""
    try:
        import cv2
    except ImportError:
        return None
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def mean(a, b):
        x, y = a.astype(np.float32), b.astype(np.float32)
        blur = lambda v: cv2.GaussianBlur(v, (11, 11), 1.5)
        mx, my = blur(x), blur(y)
        sxx, syy, sxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
        s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
        return float(s.mean())

    return mean


def batched(f, n):
    """f called n times: small images are timed n calls at a time, reported per call."""
    return lambda: [f() for _ in range(n)][-1]


def rows(big):
    """(name, target ratio, reference callable, ssimfast callable, calls per timing)."""
    a, b = make_pair(K4)
    yield "4K uint8 uniform 7x7, mean: x scikit-image", 60, \
        lambda: sk_ssim(a, b), lambda: ssimfast.ssim(a, b), 1
    yield "4K uint8 Gaussian, mean: x scikit-image", 30, \
        lambda: sk_ssim(a, b, **GAUSS), lambda: ssimfast.ssim(a, b, **GAUSS), 1
    cv = opencv_recipe()
    if cv is not None:
        yield "4K uint8 Gaussian, mean: x OpenCV recipe", 4, \
            lambda: cv(a, b), lambda: ssimfast.ssim(a, b, **GAUSS), 1
    yield "4K uint8 uniform: mean time / full=True time (>= 1/1.5)", 1 / 1.5, \
        lambda: ssimfast.ssim(a, b), lambda: ssimfast.ssim(a, b, full=True), 1
    yield "4K uint8 Gaussian: mean time / full=True time (>= 1/1.5)", 1 / 1.5, \
        lambda: ssimfast.ssim(a, b, **GAUSS), lambda: ssimfast.ssim(a, b, full=True, **GAUSS), 1
    yield "4K uint8 uniform, gradient=True: x scikit-image", 10, \
        lambda: sk_ssim(a, b, gradient=True), lambda: ssimfast.ssim(a, b, gradient=True), 1
    for dt in (np.float32, np.float64):
        fa, fb = a.astype(dt), b.astype(dt)
        yield f"4K {np.dtype(dt).name} Gaussian, mean: x scikit-image", 30, \
            (lambda fa=fa, fb=fb: sk_ssim(fa, fb, data_range=255, **GAUSS)), \
            (lambda fa=fa, fb=fb: ssimfast.ssim(fa, fb, data_range=255, **GAUSS)), 1
    yield "4K uint8 uniform: workers=1 time / workers=2 time", 1.8, \
        lambda: ssimfast.ssim(a, b, workers=1), lambda: ssimfast.ssim(a, b, workers=2), 1
    va, vb = make_pair((256, 256 * 256))
    va, vb = va.reshape(256, 256, 256), vb.reshape(256, 256, 256)
    yield "256^3 uint8 volume, uniform 7, mean: x scikit-image", 30, \
        lambda: sk_ssim(va, vb), lambda: ssimfast.ssim(va, vb), 1
    for n, calls in ((64, 200), (256, 20)):
        sa, sb = make_pair((n, n))
        yield f"{n}x{n} uint8 uniform, per call: x scikit-image", 10, \
            batched(lambda sa=sa, sb=sb: sk_ssim(sa, sb), calls), \
            batched(lambda sa=sa, sb=sb: ssimfast.ssim(sa, sb), calls), calls
    if big:
        ba, bb = make_pair((8192, 8192))
        yield "8192^2 uint8 uniform 7x7, mean: x scikit-image", 60, \
            lambda: sk_ssim(ba, bb), lambda: ssimfast.ssim(ba, bb), 1
        yield "8192^2 uint8 Gaussian, mean: x scikit-image", 30, \
            lambda: sk_ssim(ba, bb, **GAUSS), lambda: ssimfast.ssim(ba, bb, **GAUSS), 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--big", action="store_true", help="add the 8192x8192 rows")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", default=str(HERE / "results" / "targets.json"))
    args = parser.parse_args(argv)
    info = header_info(not args.big, args.repeat)
    print(f"ssimfast {info['ssimfast']}, scikit-image {info['scikit-image']}; "
          f"OpenMP: {'yes' if info['openmp'] else 'no'}; {info['build']} build; "
          f"{info['threads']} threads; {info['cpu']}; medians of {args.repeat} interleaved "
          f"runs; ratio = reference time / ssimfast time\n")
    print("| target row | reference ms | ssimfast ms | ratio | target | |")
    print("|---|--:|--:|--:|--:|---|")
    results = []
    for name, target, ref, fast, calls in rows(args.big):
        r = time_pair(ref, fast, args.repeat, slow_repeat=3)
        ratio = r["ref_ms"] / r["fast_ms"]
        ok = "PASS" if ratio >= target else "miss"
        print(f"| {name} | {r['ref_ms'] / calls:.3g} | {r['fast_ms'] / calls:.3g} | "
              f"{ratio:.2f} | {target:.2f} | {ok} |", flush=True)
        results.append(dict(name=name, target=target, ratio=ratio, passed=ratio >= target,
                            ref_ms=r["ref_ms"] / calls, fast_ms=r["fast_ms"] / calls))
    Path(args.json).parent.mkdir(exist_ok=True)
    Path(args.json).write_text(json.dumps(dict(info=info, rows=results), indent=1, default=str))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()

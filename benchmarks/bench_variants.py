"""Issue 6's speed target: MS-SSIM, each reference preset and bits= at least
20x faster than their NumPy/SciPy references on a 2160x3840 image.

    python benchmarks/bench_variants.py              # about 2 minutes
    python benchmarks/bench_variants.py --repeat 7
    python benchmarks/bench_variants.py --workers 1   # one thread against one thread

The references are tests/references.py (NumPy/SciPy versions of ssim.m,
ssim_index.m and MS-SSIM written from the originals' steps: scipy.ndimage
correlate1d for every filter, the whole image filtered before every F-th pixel
is kept, as ssim.m does) and scikit-image for bits=. Every row times ssimfast and
its reference in this one process, interleaved, and reports the ratio of the
medians. Where pytorch-msssim is installed, its own ssim()/ms_ssim() on CPU
float32 tensors are timed as extra rows (peers, not the target's reference).

The references run on one core. On a shared machine whose other core is busy,
ssimfast's two threads lose more than the reference does; --workers 1 compares
one core with one core, a ratio that load affects much less.
"""
import argparse
import json
import sys
from pathlib import Path

import numpy as np
from skimage.metrics import structural_similarity as sk_ssim

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent / "tests"))
from bench_ssim import header_info, make_pair, time_pair  # noqa: E402

import references as R  # noqa: E402  (tests/references.py)
import ssimfast  # noqa: E402  (bench_ssim put the checkout on sys.path)

SHAPE = (2160, 3840)
TARGET = 20.0


def rows(workers):
    """(name, reference callable, ssimfast callable, is a target row)."""
    a, b = make_pair(SHAPE)
    w = {"workers": workers}
    yield "ms_ssim (5 scales): x NumPy/SciPy MS-SSIM", \
        lambda: R.ms_ssim(a, b), lambda: ssimfast.ms_ssim(a, b, **w), True
    yield "preset='matlab' (F=8): x NumPy/SciPy ssim.m", \
        lambda: R.ssim_m(a, b)[0], lambda: ssimfast.ssim(a, b, preset="matlab", **w), True
    yield "preset='matlab_index': x NumPy/SciPy ssim_index.m", \
        lambda: R.ssim_index_m(a, b)[0], \
        lambda: ssimfast.ssim(a, b, preset="matlab_index", **w), True
    yield "preset='pytorch': x NumPy/SciPy (pytorch-msssim's steps)", \
        lambda: R.ssim_index_m(a, b)[0], lambda: ssimfast.ssim(a, b, preset="pytorch", **w), True
    a12, b12 = a.astype(np.uint16) * 16, b.astype(np.uint16) * 16
    yield "bits=12 uint16 (uniform 7x7, range check): x scikit-image data_range=4095", \
        lambda: sk_ssim(a12, b12, data_range=4095), \
        lambda: ssimfast.ssim(a12, b12, bits=12, **w), True
    yield "bits=12: ssimfast data_range=4095 time / bits=12 time (the range check's cost)", \
        lambda: ssimfast.ssim(a12, b12, data_range=4095, **w), \
        lambda: ssimfast.ssim(a12, b12, bits=12, **w), False
    try:
        import torch
        from pytorch_msssim import ms_ssim as pm_ms_ssim, ssim as pm_ssim
    except ImportError:
        return
    t = lambda v: torch.from_numpy(v.astype(np.float32))[None, None]  # noqa: E731

    def peer(f):
        def run():
            with torch.no_grad():
                return float(f(t(a), t(b), data_range=255))
        return run

    yield "peer: pytorch-msssim ms_ssim (CPU float32) / ssimfast.ms_ssim", \
        peer(pm_ms_ssim), lambda: ssimfast.ms_ssim(a, b, **w), False
    yield "peer: pytorch-msssim ssim (CPU float32) / preset='pytorch'", \
        peer(pm_ssim), lambda: ssimfast.ssim(a, b, preset="pytorch", **w), False


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=None,
                        help="ssimfast's threads (default: all); torch gets the same")
    parser.add_argument("--json", default=None,
                        help="default: results/variants.json, or variants-<n>thread.json")
    args = parser.parse_args(argv)
    if args.json is None:
        suffix = "" if args.workers is None else f"-{args.workers}thread"
        args.json = str(HERE / "results" / f"variants{suffix}.json")
    info = header_info(True, args.repeat)
    if args.workers is not None:
        info["threads"] = args.workers
    try:
        import torch
        torch.set_num_threads(info["threads"])
        info["torch"] = torch.__version__
    except ImportError:
        pass
    print(f"ssimfast {info['ssimfast']}; OpenMP: {'yes' if info['openmp'] else 'no'}; "
          f"{info['build']} build, {info['kernels']} kernels; {info['threads']} threads; "
          f"{info['cpu']}; load average at start {info['load_average'][0]:.2f}; "
          f"{SHAPE[0]}x{SHAPE[1]} uint8 pair; medians of {args.repeat} interleaved runs; "
          "ratio = reference time / ssimfast time\n")
    print("| row | reference ms | ssimfast ms | ratio | target | |max Δ| |")
    print("|---|--:|--:|--:|--:|--:|")
    results = []
    for name, ref, fast, target_row in rows(args.workers):
        r = time_pair(ref, fast, args.repeat)
        ratio = r["ref_ms"] / r["fast_ms"]
        verdict = ("PASS" if ratio >= TARGET else "miss") if target_row else "—"
        print(f"| {name} | {r['ref_ms']:.1f} | {r['fast_ms']:.1f} | {ratio:.1f} | "
              f"{verdict} | {r['max_abs_diff_mean']:.1e} |", flush=True)
        results.append(dict(name=name, ratio=ratio, target=TARGET if target_row else None,
                            passed=ratio >= TARGET if target_row else None,
                            ref_ms=r["ref_ms"], fast_ms=r["fast_ms"],
                            ref_times_s=r["ref_times_s"], fast_times_s=r["fast_times_s"],
                            max_abs_diff_mean=r["max_abs_diff_mean"]))
    Path(args.json).parent.mkdir(exist_ok=True)
    Path(args.json).write_text(json.dumps(dict(info=info, rows=results), indent=1, default=str))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()

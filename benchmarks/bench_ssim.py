"""Time ssimfast against scikit-image's structural_similarity, side by side.

Run from the repository root (the ssimfast extension must be built in place):

    python benchmarks/bench_ssim.py                   # all cases, 5 runs each (several minutes)
    python benchmarks/bench_ssim.py --quick           # no 8192x8192, 3 runs each
    python benchmarks/bench_ssim.py --repeat 9 --json out.json

What the numbers mean:

* Both functions run in this one process on the same inputs: a natural image
  (``skimage.data.camera()``, or ``astronaut()`` for RGB, zoomed 2x for the
  large sizes and mirror-tiled to the size) and a copy with seeded Gaussian
  noise (sigma 10), as uint8.
* Each pair is warmed up once. Then the two are called alternately (the one
  that goes first swaps every round), so machine noise hits both, and each
  column is the median of the runs. At 8192x8192, skimage calls that take
  over 10 s are run 3 times only (marked with a dagger in the table).
* speedup = scikit-image time / ssimfast time. ssimfast MP/s counts image
  pixels (height x width, not channels) per second.
* max |Δ mean| and max |Δ map| are the largest absolute differences from
  scikit-image's result (the map is the full=True SSIM map or, for
  gradient=True, the gradient).
* The threads row times ssimfast with workers=1 (in the "skimage" column)
  against workers=2: its speedup is thread scaling, its Δ should be 0.
* Extra peak memory: what ``tracemalloc`` (which sees NumPy's allocations)
  records during the warm-up call, beyond the inputs already in memory. For
  full=True it includes the returned float64 map.

All numbers, with every run's time and the header, are also written as JSON
(``benchmarks/results/latest.json`` unless ``--json PATH``).
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import scipy.ndimage as ndi
import skimage
from skimage import data
from skimage.metrics import structural_similarity as sk_ssim

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # benchmark the checkout this script lives in
import ssimfast  # noqa: E402
from ssimfast._extension import kernels  # noqa: E402

MiB = 1 << 20
SLOW_CALL_S = 10.0  # skimage calls slower than this are repeated 3 times only
WINDOWS = {"uniform 7x7": {}, "gaussian σ=1.5": {"gaussian_weights": True, "sigma": 1.5}}
OUTPUTS = {"mean": {}, "full map": {"full": True}}
SPEEDUP_LINE = "speedup = scikit-image time / ssimfast time (medians, same process, interleaved)"


def make_pair(shape, seed=0):
    """A natural-looking uint8 image of `shape` (HxW or HxWx3) and a noisy copy."""
    base = data.astronaut() if len(shape) == 3 else data.camera()  # 512x512(x3)
    if shape[0] > base.shape[0]:
        base = ndi.zoom(base, (2, 2, 1)[: base.ndim], order=1)
    pad = [(0, max(0, n - m)) for n, m in zip(shape, base.shape)]
    ref = np.pad(base, pad, mode="symmetric")[tuple(slice(n) for n in shape)]
    ref = np.ascontiguousarray(ref)
    noise = np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)
    noisy = np.clip(np.rint(ref + 10 * noise), 0, 255).astype(np.uint8)
    return ref, noisy


def _traced_call(func):
    """Call func once; return (result, seconds, extra peak MiB seen by tracemalloc)."""
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        t0 = time.perf_counter()
        result = func()
        seconds = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, seconds, (peak - base) / MiB


def _split(result):
    """(mean, [maps...]) from a structural_similarity result."""
    mean, *maps = result if isinstance(result, tuple) else (result,)
    return float(mean), maps


def time_pair(ref, fast, repeat, slow_repeat=None):
    """Warm up both once, then time them interleaved; return a dict of results.

    If slow_repeat is given and the reference's warm-up took over SLOW_CALL_S,
    the reference is timed only min(repeat, slow_repeat) times.
    """
    (r_out, r_warm, r_mib) = _traced_call(ref)
    (f_out, _, f_mib) = _traced_call(fast)
    (r_mean, r_maps), (f_mean, f_maps) = _split(r_out), _split(f_out)
    d_mean = abs(r_mean - f_mean)
    d_map = max((float(np.max(np.abs(a - b))) for a, b in zip(r_maps, f_maps)), default=None)
    del r_out, f_out, r_maps, f_maps

    n_ref = min(repeat, slow_repeat) if slow_repeat and r_warm > SLOW_CALL_S else repeat
    r_times, f_times = [], []
    for i in range(repeat):
        order = ([(ref, r_times)] if i < n_ref else []) + [(fast, f_times)]
        for func, times in order if i % 2 == 0 else reversed(order):  # swap who goes first
            t0 = time.perf_counter()
            func()
            times.append(time.perf_counter() - t0)
    return {
        "ref_times_s": r_times, "fast_times_s": f_times,
        "ref_ms": 1e3 * statistics.median(r_times), "fast_ms": 1e3 * statistics.median(f_times),
        "ref_runs_reduced": n_ref < repeat,
        "max_abs_diff_mean": d_mean, "max_abs_diff_map": d_map,
        "ref_peak_mib": r_mib, "fast_peak_mib": f_mib,
    }


def cases(quick):
    """(case, shape, window, output, kwargs) of every row but the threads row."""
    shapes = [("gray", (512, 512)), ("gray", (2160, 3840)), ("gray", (8192, 8192)),
              ("RGB", (2160, 3840, 3))]
    for kind, shape in shapes:
        if quick and shape[0] == 8192:
            continue
        channels = {"channel_axis": -1} if kind == "RGB" else {}
        for window, wkw in WINDOWS.items():
            for output, okw in OUTPUTS.items():
                yield kind, shape, window, output, {**channels, **wkw, **okw}
    yield "gray", (2160, 3840), "uniform 7x7", "gradient", {"gradient": True}


def run(quick, repeat):
    rows, inputs = [], {}
    for kind, shape, window, output, kw in cases(quick):
        if shape not in inputs:
            inputs.clear()  # keep one pair of inputs in memory at a time
            inputs[shape] = make_pair(shape)
        a, b = inputs[shape]
        print(f"  {kind} {shape} {window} {output} ...", file=sys.stderr, flush=True)
        res = time_pair(lambda: sk_ssim(a, b, **kw),
                        lambda: ssimfast.structural_similarity(a, b, **kw), repeat,
                        slow_repeat=3 if shape[0] >= 8192 else None)
        rows.append({"case": kind, "shape": list(shape), "window": window, "output": output,
                     "kwargs": kw, "reference": "skimage", **res})
    # Thread scaling: ssimfast workers=1 as the reference, workers=2 as the candidate.
    a, b = make_pair((2160, 3840))
    print("  threads workers=1 vs 2 ...", file=sys.stderr, flush=True)
    res = time_pair(lambda: ssimfast.structural_similarity(a, b, workers=1),
                    lambda: ssimfast.structural_similarity(a, b, workers=2), repeat)
    rows.append({"case": "threads ‡", "shape": [2160, 3840], "window": "uniform 7x7",
                 "output": "mean", "kwargs": {"workers": [1, 2]},
                 "reference": "ssimfast workers=1", **res})
    for r in rows:
        r["fast_mp_per_s"] = r["shape"][0] * r["shape"][1] / (r["fast_ms"] * 1e3)
        r["speedup"] = r["ref_ms"] / r["fast_ms"]
    return rows


def header_info(quick, repeat):
    cpu = platform.processor() or platform.machine()
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), cpu)
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": platform.python_version(), "numpy": np.__version__,
        "scikit-image": skimage.__version__, "ssimfast": ssimfast.__version__,
        "openmp": bool(kernels.openmp_enabled()),
        "build": "native (-march=native)" if kernels.native_build() else "portable",
        "kernels": kernels.target(),
        "threads": max(1, kernels.max_threads()), "cpu": cpu, "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "quick": quick, "repeat": repeat,
    }


def _fmt(x, digits=1):
    return "—" if x is None else "0" if x == 0 else f"{x:.1e}" if x < 1e-3 else f"{x:.{digits}f}"


def format_report(info, rows):
    """Header, the timing table, footnotes and the memory table, as markdown."""
    load = info["load_average"]
    out = [
        f"# ssimfast vs scikit-image, {info['date']}",
        "",
        f"Python {info['python']}, numpy {info['numpy']}, scikit-image {info['scikit-image']}, "
        f"ssimfast {info['ssimfast']}  ",
        f"OpenMP: {'yes' if info['openmp'] else 'no'}, {info['build']} build, "
        f"{info['threads']} threads (workers=None)  ",
        f"CPU: {info['cpu']} ({info['cpu_count']} logical cores)"
        + (f", load average at start {load[0]:.2f}" if load else "") + "  ",
        f"uint8 inputs; timed runs per side: {info['repeat']}, after one warm-up  ",
        SPEEDUP_LINE,
        "",
        "| case | size | window | output | skimage ms | ssimfast ms | ssimfast MP/s "
        "| speedup | max \\|Δ mean\\| | max \\|Δ map\\| |",
        "|---|---|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        ref = _fmt(r["ref_ms"]) + (" †" if r["ref_runs_reduced"] else "")
        out.append(
            f"| {r['case']} | {'x'.join(map(str, r['shape']))} | {r['window']} | {r['output']} "
            f"| {ref} | {_fmt(r['fast_ms'])} | {r['fast_mp_per_s']:.0f} | {r['speedup']:.1f}x "
            f"| {_fmt(r['max_abs_diff_mean'])} | {_fmt(r['max_abs_diff_map'])} |"
        )
    out.append("")
    if any(r["ref_runs_reduced"] for r in rows):
        out.append(f"† skimage timed 3 times only (one call takes over {SLOW_CALL_S:.0f} s).  ")
    out += [
        "‡ threads: the skimage column is ssimfast with workers=1, ssimfast is workers=2; "
        "speedup is the thread scaling and the Δ columns compare the two.",
        "",
    ]
    # Memory: the largest grayscale size benchmarked, uniform window.
    big = max((r for r in rows if r["reference"] == "skimage" and r["case"] == "gray"),
              key=lambda r: r["shape"][0] * r["shape"][1])["shape"]
    mem = [r for r in rows if r["reference"] == "skimage" and r["case"] == "gray"
           and r["shape"] == big and r["window"] == "uniform 7x7" and r["output"] != "gradient"]
    size = "x".join(map(str, big))
    out += [
        f"Extra peak memory, MiB (one call on {size} uint8, beyond its inputs; tracemalloc). "
        f"The float64 map alone is {big[0] * big[1] * 8 / MiB:.0f} MiB.",
        "",
        "| size | window | output | skimage MiB | ssimfast MiB |",
        "|---|---|---|--:|--:|",
    ]
    for r in mem:
        out.append(f"| {size} | {r['window']} | {r['output']} "
                   f"| {r['ref_peak_mib']:.1f} | {r['fast_peak_mib']:.1f} |")
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="skip 8192x8192 and time 3 runs per side")
    parser.add_argument("--repeat", type=int, default=None,
                        help="timed runs per side (default 5, or 3 with --quick)")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "latest.json",
                        help="where to write all numbers (default: %(default)s)")
    args = parser.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 5)
    if repeat < 1:
        parser.error("--repeat must be at least 1")

    info = header_info(args.quick, repeat)
    rows = run(args.quick, repeat)
    print(format_report(info, rows))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"header": info, "speedup": SPEEDUP_LINE, "rows": rows},
                                    indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()

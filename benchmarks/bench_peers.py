"""Time ssimfast against other SSIM implementations on the CPU, side by side.

Peers: scikit-image (always), the common OpenCV recipe, and pytorch-msssim,
kornia, piq and torchmetrics. Every peer but scikit-image is optional: one that
is not installed is skipped with a printed note. None of them is a dependency of
ssimfast; install them by hand (torch must be a CPU-only build, a plain
``pip install torch`` can pull several GB of CUDA wheels; take the CPU wheel from
PyTorch's CPU index, or from a local file, as on this project's machines):

    pip install torch==2.13.0                              # CPU build
    pip install --no-deps pytorch-msssim kornia kornia-rs piq torchmetrics lightning-utilities
    pip install opencv-python-headless matplotlib

(``--no-deps`` so that nothing replaces the CPU torch. piq's package imports
torchvision, which is not needed here: this script loads ``piq.ssim`` without
running ``piq/__init__.py``.)

Run from the repository root (the ssimfast extension must be built in place):

    python benchmarks/bench_peers.py                          # 64x64 to 8192x8192, 5 runs (long)
    python benchmarks/bench_peers.py --max-size 2160x3840     # stop at 4K UHD
    python benchmarks/bench_peers.py --quick                  # up to 2160x3840, 3 runs
    python benchmarks/bench_peers.py --quick --max-size 512   # a quick look

What is compared:

* One definition for all: an 11-tap Gaussian window (sigma 1.5), population
  covariance, data range 255, K1 = 0.01, K2 = 0.03, and the mean over the
  pixels whose window lies inside the image (the map cropped by 5 pixels, the
  'valid' region). ssimfast and scikit-image are called with
  ``gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
  data_range=255``: their mean is already the mean of the full map cropped by
  ``(win_size - 1) // 2 = 5``, so it equals the 'valid' convention.
* pytorch-msssim (valid convolution), kornia (``padding='valid'``) and piq
  (``downsample=False``) compute this definition in float32. The OpenCV recipe
  and torchmetrics average their whole H x W map, whose 5-pixel border is
  computed on padded images (OpenCV's default BORDER_REFLECT_101; torch's
  'reflect', the same edge-excluding mirror), so their means differ by
  definition; their maps cropped by 5 pixels are compared as well.
* Agreement: |Δ mean| is each peer's mean minus ssimfast's, as called; for
  peers that return a map, |Δ valid mean| and |Δ valid map| compare the
  cropped map with ssimfast's cropped full map; |Δ valid mean| float64 runs
  the peer's own code once more on float64 input (untimed, sizes up to
  512x512), which separates float32 rounding from differences of definition.
  The largest over all sizes is reported.

How it is timed:

* Inputs as in bench_ssim.py: ``skimage.data.camera()`` mirror-tiled (zoomed
  2x for sizes above 512) and a copy with seeded Gaussian noise (sigma 10),
  grayscale uint8.
* Each timed call starts from the two numpy uint8 arrays and ends with a Python
  float: the conversion to float32 (``torch.from_numpy(a).to(torch.float32)``,
  ``a.astype(np.float32)``) is part of each peer's time. torch runs under
  ``torch.no_grad()`` on the CPU with ``torch.set_num_threads(threads)`` and
  OpenCV with ``cv2.setNumThreads(threads)``, threads being ssimfast's thread
  count (``--threads``, default all usable cores). scikit-image is
  single-threaded.
* All implementations run in this one process and are called in turn, the
  order rotating and reversing every round, so machine noise hits all of them.
  Each is warmed up first. A run repeats the call until it takes at least
  0.05 s (small images) and counts the time per call; each number is the
  median of ``--repeat`` runs (5; 3 with ``--quick``). An implementation whose
  call takes over 10 s is run 3 times only (marked †).
* speedup = peer time / ssimfast time. MP/s = image pixels (H x W) per second.

Everything, with every run's time, is written as JSON
(``benchmarks/results/peers.json`` unless ``--json PATH``) and the throughput
is plotted against image size (``benchmarks/results/peers.png`` unless
``--plot PATH``; needs matplotlib).
"""
import argparse
import importlib
import importlib.metadata
import importlib.util
import json
import math
import os
import statistics
import sys
import time
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
from skimage.metrics import structural_similarity as sk_ssim

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
# bench_ssim puts this checkout first on sys.path, so ssimfast is the one built here.
from bench_ssim import SLOW_CALL_S, _fmt, header_info, make_pair  # noqa: E402
import ssimfast  # noqa: E402

SIZES = [(64, 64), (256, 256), (512, 512), (1024, 1024), (2160, 3840), (4096, 4096), (8192, 8192)]
QUICK_MAX = (2160, 3840)
RADIUS = 5  # 11-tap Gaussian: int(3.5 * 1.5 + 0.5); the border left out of the mean
SSIM_KW = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False,
           "data_range": 255}
C1, C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
MIN_RUN_S = 0.05  # a timed run repeats the call until it takes this long
MAX_NUMBER = 2000
SLOW_REPEAT = 3
QUIET_BELOW = 0.10  # other processes' share of the CPUs below which the machine counts as quiet
# torch convolves float64 by unfolding (11x11 taps: 121 float64 copies of each image), so the
# float64 check stops at this size.
CHECK64_MAX_PIXELS = 512 * 512
SPEEDUP_LINE = "speedup = peer time / ssimfast time (medians, same process, interleaved)"


@dataclass
class Impl:
    name: str
    version: str
    mean: Callable  # (a, b) uint8 arrays -> float; the timed call
    valid_map: Optional[Callable]  # (a, b) -> float64 map over the valid region, or None
    check64: Optional[Callable]  # (a, b) -> the valid-region mean by the same code on float64 input
    same_definition: bool
    called_as: str
    reason: str = ""  # why the definition differs, or what a default would change


def _version(dist):
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _crop(m):
    return m[RADIUS:-RADIUS, RADIUS:-RADIUS]


# --- the implementations ---------------------------------------------------------------------

def load_ssimfast(threads):
    kw = {**SSIM_KW, "workers": threads}
    return Impl(
        "ssimfast", ssimfast.__version__,
        lambda a, b: float(ssimfast.structural_similarity(a, b, **kw)),
        lambda a, b: _crop(ssimfast.structural_similarity(a, b, full=True, **kw)[1]), None,
        True, f"structural_similarity(a, b, {_kwargs(kw)})")


def load_skimage(threads):
    import skimage
    return Impl(
        "scikit-image", skimage.__version__,
        lambda a, b: float(sk_ssim(a, b, **SSIM_KW)), None, None,
        True, f"structural_similarity(a, b, {_kwargs(SSIM_KW)})")


def load_opencv(threads):
    import cv2
    cv2.setNumThreads(threads)

    def ssim_map(a, b, dtype=np.float32):  # the OpenCV tutorial's getMSSIM, in Python
        x, y = a.astype(dtype), b.astype(dtype)
        mu1, mu2 = cv2.GaussianBlur(x, (11, 11), 1.5), cv2.GaussianBlur(y, (11, 11), 1.5)
        mu1_sq, mu2_sq, mu1_mu2 = mu1 * mu1, mu2 * mu2, mu1 * mu2
        s1 = cv2.GaussianBlur(x * x, (11, 11), 1.5) - mu1_sq
        s2 = cv2.GaussianBlur(y * y, (11, 11), 1.5) - mu2_sq
        s12 = cv2.GaussianBlur(x * y, (11, 11), 1.5) - mu1_mu2
        return ((2 * mu1_mu2 + C1) * (2 * s12 + C2)) / ((mu1_sq + mu2_sq + C1) * (s1 + s2 + C2))

    return Impl(
        "OpenCV recipe", cv2.__version__,
        lambda a, b: float(cv2.mean(ssim_map(a, b))[0]),
        lambda a, b: _crop(ssim_map(a, b)).astype(np.float64),
        lambda a, b: float(_crop(ssim_map(a, b, np.float64)).mean()),
        False, "float32, 5x GaussianBlur((11, 11), 1.5), cv2.mean(map)",
        "averages the whole map, 5-px border included, padded with BORDER_REFLECT_101, OpenCV's "
        "default; scikit-image pads with 'reflect', edge pixel repeated, and leaves the border out")


def _torch(threads):
    import torch
    torch.set_num_threads(threads)
    return torch


def _tensors(torch, a, b, dtype):
    """numpy HxW arrays -> (1, 1, H, W) tensors; part of every timed torch call."""
    return torch.from_numpy(a).to(dtype)[None, None], torch.from_numpy(b).to(dtype)[None, None]


def load_pytorch_msssim(threads):
    torch = _torch(threads)
    from pytorch_msssim import ssim

    def mean(a, b, dtype=torch.float32, **kw):
        with torch.no_grad():
            x, y = _tensors(torch, a, b, dtype)
            return ssim(x, y, data_range=255, size_average=True, **kw).item()

    # Its default window is built in float32 whatever the input; the float64 check passes
    # the same window (11 taps, sigma 1.5, normalised) built in float64.
    taps = torch.arange(11, dtype=torch.float64) - 5
    win64 = torch.exp(-(taps ** 2) / (2 * 1.5 ** 2))
    win64 = (win64 / win64.sum()).reshape(1, 1, 1, 11)
    return Impl("pytorch-msssim", _version("pytorch-msssim"), mean, None,
                lambda a, b: mean(a, b, torch.float64, win=win64),
                True, "ssim(x, y, data_range=255)")


def load_kornia(threads):
    torch = _torch(threads)
    import kornia

    def smap(a, b, dtype=torch.float32):
        with torch.no_grad():
            return kornia.metrics.ssim(*_tensors(torch, a, b, dtype), 11, max_val=255.0,
                                       padding="valid")

    return Impl("kornia", kornia.__version__, lambda a, b: smap(a, b).mean().item(),
                lambda a, b: smap(a, b)[0, 0].double().numpy(),
                lambda a, b: smap(a, b, torch.float64).mean().item(),
                True, "metrics.ssim(x, y, 11, max_val=255.0, padding='valid').mean()",
                "default padding='same' would average the whole map (reflect-101 border); "
                "eps=1e-12 in the denominator")


def _import_piq_ssim():
    """piq.ssim without running piq/__init__.py (which imports torchvision)."""
    if "piq" in sys.modules:
        return importlib.import_module("piq.ssim").ssim
    spec = importlib.util.find_spec("piq")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("No module named 'piq'")
    pkg = types.ModuleType("piq")  # an empty package: submodules load from piq's folder
    pkg.__path__ = list(spec.submodule_search_locations)
    pkg.__spec__ = spec
    sys.modules["piq"] = pkg
    try:
        return importlib.import_module("piq.ssim").ssim
    except Exception:
        for name in [n for n in sys.modules if n == "piq" or n.startswith("piq.")]:
            del sys.modules[name]
        raise


def load_piq(threads):
    torch = _torch(threads)
    ssim = _import_piq_ssim()

    def mean(a, b, dtype=torch.float32):
        with torch.no_grad():
            return ssim(*_tensors(torch, a, b, dtype), data_range=255.0, downsample=False).item()

    return Impl("piq", _version("piq"), mean, None, lambda a, b: mean(a, b, torch.float64),
                True, "ssim(x, y, data_range=255.0, downsample=False)",
                "default downsample=True average-pools by round(min(H, W) / 256) first; "
                "2-D 11x11 convolution")


def load_torchmetrics(threads):
    torch = _torch(threads)
    import torchmetrics
    from torchmetrics.functional.image import structural_similarity_index_measure as ssim

    def call(a, b, dtype=torch.float32, **kw):
        with torch.no_grad():
            return ssim(*_tensors(torch, a, b, dtype), data_range=255.0, **kw)

    def valid_map(a, b, dtype=torch.float32):
        return _crop(call(a, b, dtype, return_full_image=True)[1][0, 0]).double().numpy()

    return Impl("torchmetrics", torchmetrics.__version__, lambda a, b: call(a, b).item(),
                valid_map, lambda a, b: float(valid_map(a, b, torch.float64).mean()),
                False, "functional.structural_similarity_index_measure(x, y, data_range=255.0)",
                "averages the whole map, 5-px border included, padded with torch's 'reflect' "
                "(= reflect-101, edge not repeated); variances clamped at 0")


LOADERS = {
    "ssimfast": (load_ssimfast, ""),
    "scikit-image": (load_skimage, ""),
    "OpenCV recipe": (load_opencv, "pip install opencv-python-headless"),
    "pytorch-msssim": (load_pytorch_msssim, "pip install torch==2.13.0 (CPU build), "
                                            "pip install --no-deps pytorch-msssim"),
    "kornia": (load_kornia, "pip install --no-deps kornia kornia-rs (after a CPU torch)"),
    "piq": (load_piq, "pip install --no-deps piq (after a CPU torch)"),
    "torchmetrics": (load_torchmetrics, "pip install --no-deps torchmetrics lightning-utilities "
                                        "(after a CPU torch)"),
}


def _kwargs(kw):
    return ", ".join(f"{k}={v!r}" for k, v in kw.items())


def load_all(threads, skip):
    impls, skipped = [], {}
    for name, (loader, how) in LOADERS.items():
        if name in skip:
            skipped[name] = "skipped (--skip)"
            continue
        try:
            impls.append(loader(threads))
        except Exception as exc:  # ImportError, or a broken install raising something else
            if name in ("ssimfast", "scikit-image"):
                raise
            skipped[name] = f"not available ({type(exc).__name__}: {exc}); to install: {how}"
    return impls, skipped


# --- timing and agreement --------------------------------------------------------------------

def _clock(func, a, b, number=1):
    t0 = time.perf_counter()
    for _ in range(number):
        func(a, b)
    return (time.perf_counter() - t0) / number


def time_size(impls, a, b, repeat):
    """Warm up, then time every implementation interleaved; return {name: result dict}."""
    res = {}
    for impl in impls:
        t0 = time.perf_counter()
        value = impl.mean(a, b)  # first call: the value for the agreement check
        warm = time.perf_counter() - t0
        if warm < 1.0:  # a second warm-up, which sizes the run (first calls can be slow)
            warm = _clock(impl.mean, a, b)
        number = 1 if warm >= MIN_RUN_S else min(MAX_NUMBER, math.ceil(MIN_RUN_S / max(warm, 1e-7)))
        runs = min(repeat, SLOW_REPEAT) if warm > SLOW_CALL_S else repeat
        res[impl.name] = {"value": value, "number": number, "runs": runs, "times_s": []}
    for i in range(repeat):
        k = i % len(impls)
        order = impls[k:] + impls[:k]
        for impl in (order if i % 2 == 0 else order[::-1]):
            r = res[impl.name]
            if len(r["times_s"]) < r["runs"]:
                r["times_s"].append(_clock(impl.mean, a, b, r["number"]))
    for r in res.values():
        r["median_ms"] = 1e3 * statistics.median(r["times_s"])
        r["mp_per_s"] = a.size / (r["median_ms"] * 1e3)
        r["runs_reduced"] = r["runs"] < repeat
    return res


def agreement(impls, a, b, res):
    """Add |Δ| against ssimfast to res (untimed calls for the maps)."""
    ref = res["ssimfast"]["value"]
    ref_map = impls[0].valid_map(a, b)
    res["ssimfast"]["valid_mean_minus_mean"] = float(ref_map.mean()) - ref
    for impl in impls[1:]:
        r = res[impl.name]
        r["abs_diff_mean"] = abs(r["value"] - ref)
        if impl.valid_map is not None:
            m = impl.valid_map(a, b)
            r["valid_mean"] = float(m.mean())
            r["abs_diff_valid_mean"] = abs(r["valid_mean"] - ref)
            r["abs_diff_valid_map"] = float(np.max(np.abs(m - ref_map)))
            del m
        if impl.check64 is not None and a.size <= CHECK64_MAX_PIXELS:
            r["valid_mean_float64"] = impl.check64(a, b)
            r["abs_diff_valid_mean_float64"] = abs(r["valid_mean_float64"] - ref)


class OtherLoad:
    """CPU time used by other processes, as a fraction of the machine (Linux /proc/stat).

    The machine's busy time minus this process's own (all threads, spinning OpenMP
    workers included), over the wall time times the number of CPUs.
    """

    def __init__(self):
        self.available = os.path.exists("/proc/stat")
        self.start()

    @staticmethod
    def _busy_s():
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:9]]  # user .. steal
        return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # less idle, iowait

    def start(self):
        if self.available:
            t = os.times()
            self._t0 = (time.perf_counter(), self._busy_s(), t.user + t.system)

    def fraction(self):
        if not self.available:
            return None
        t = os.times()
        wall, busy, own = (b - a for a, b in zip(self._t0, (
            time.perf_counter(), self._busy_s(), t.user + t.system)))
        return max(0.0, (busy - own) / (max(wall, 1e-9) * (os.cpu_count() or 1)))


def wait_quiet(max_wait_s, threshold=QUIET_BELOW):
    """Sleep (up to max_wait_s) until other processes use under `threshold` of the CPUs."""
    meter, waited = OtherLoad(), 0.0
    while meter.available and waited < max_wait_s:
        meter.start()
        time.sleep(1.0)
        waited += 1.0
        busy = meter.fraction()
        if busy < threshold:
            return busy, waited
        if waited == 1.0:
            print(f"    other processes use {busy:.0%} of the CPUs; waiting up to "
                  f"{max_wait_s:.0f} s for them to finish", file=sys.stderr, flush=True)
    return (meter.fraction() if meter.available else None), waited


def parse_size(text):
    parts = [int(p) for p in text.lower().replace("×", "x").split("x")]
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"expected N or HxW, got {text!r}")
    return tuple(parts)


def run(impls, sizes, repeat, max_wait_s):
    rows = []
    for shape in sizes:
        a, b = make_pair(shape)
        print(f"  {shape[0]}x{shape[1]} ...", file=sys.stderr, flush=True)
        before, waited = wait_quiet(max_wait_s) if max_wait_s > 0 else (None, 0.0)
        meter = OtherLoad()
        res = time_size(impls, a, b, repeat)
        others = meter.fraction()
        agreement(impls, a, b, res)
        fast_ms = res["ssimfast"]["median_ms"]
        for impl in impls:
            r = res[impl.name]
            rows.append({"size": list(shape), "pixels": a.size, "implementation": impl.name,
                         "other_cpu_before": before, "waited_for_quiet_s": waited,
                         "other_cpu_during": others,
                         "speedup_of_ssimfast": r["median_ms"] / fast_ms, **r})
        del a, b
    return rows


# --- report ----------------------------------------------------------------------------------

def _size(shape):
    return "x".join(map(str, shape))


def _diff(x):
    return "—" if x is None else "0" if x == 0 else f"{x:.1e}"


def _speed(x):
    return f"{x:.0f}x" if x >= 100 else f"{x:.1f}x" if x >= 1 else f"{x:.2f}x"


def format_report(info, impls, skipped, rows):
    load = info["load_average"]
    names = [i.name for i in impls]
    by = {(tuple(r["size"]), r["implementation"]): r for r in rows}
    sizes = list(dict.fromkeys(tuple(r["size"]) for r in rows))
    out = [
        f"# ssimfast vs peer SSIM implementations (CPU), {info['date']}",
        "",
        f"Python {info['python']}, numpy {info['numpy']}; "
        + ", ".join(f"{i.name} {i.version}" for i in impls) + "  ",
        f"OpenMP: {'yes' if info['openmp'] else 'no'}, {info['build']} build; "
        f"{info['threads']} threads for "
        + ", ".join(["ssimfast"] + (["torch"] if info.get("torch") else [])
                    + (["OpenCV"] if "OpenCV recipe" in names else []))
        + (f" (torch {info['torch']}, set_num_threads)" if info.get("torch") else "")
        + "; scikit-image is single-threaded  ",
        f"CPU: {info['cpu']} ({info['cpu_count']} logical cores)"
        + (f", load average at start {load[0]:.2f}" if load else "") + "  ",
        f"grayscale uint8 inputs, conversion to float32 included in each peer's time; "
        f"median of {info['repeat']} runs after warm-up  ",
        "Definition for all: Gaussian 11 taps σ=1.5, population covariance, data range 255, "
        "mean over the valid region (map cropped by 5 px) — except where noted below",
        "",
    ]
    for name, why in skipped.items():
        out.append(f"- {name}: {why}")
    if skipped:
        out.append("")

    out += ["Median time per call, ms:", "",
            "| size | " + " | ".join(names) + " | ssimfast MP/s | other load |",
            "|---|" + "--:|" * (len(names) + 2)]
    for s in sizes:
        cells = [_fmt(by[s, n]["median_ms"], 2 if by[s, n]["median_ms"] < 10 else 1)
                 + (" †" if by[s, n]["runs_reduced"] else "") for n in names]
        others = by[s, "ssimfast"]["other_cpu_during"]
        out.append(f"| {_size(s)} | " + " | ".join(cells)
                   + f" | {by[s, 'ssimfast']['mp_per_s']:.0f} | "
                   + ("—" if others is None else f"{others:.0%}") + " |")
    out += ["", "other load: CPU time used by other processes while this size was timed, "
            "as a share of the machine's CPUs."]
    busy = [_size(s) for s in sizes if (by[s, "ssimfast"]["other_cpu_during"] or 0) >= QUIET_BELOW]
    if busy:
        out.append(f"**Warning**: other processes used {QUIET_BELOW:.0%} or more of the CPUs while "
                   f"{', '.join(busy)} ran; multi-threaded timings (OpenMP barriers) can be "
                   "many times slower then. Rerun on a quiet machine.")

    peers = names[1:]
    out += ["", SPEEDUP_LINE + ":", "",
            "| size | " + " | ".join(peers) + " |",
            "|---|" + "--:|" * len(peers)]
    for s in sizes:
        out.append(f"| {_size(s)} | "
                   + " | ".join(_speed(by[s, n]["speedup_of_ssimfast"]) for n in peers) + " |")
    if any(r["runs_reduced"] for r in rows):
        out += ["", f"† timed {SLOW_REPEAT} times only "
                f"(one call takes over {SLOW_CALL_S:.0f} s)."]

    diff_keys = ("abs_diff_mean", "abs_diff_valid_mean", "abs_diff_valid_map",
                 "abs_diff_valid_mean_float64")
    out += ["", "Agreement with ssimfast, largest |Δ| over the sizes above. 'valid' = the "
            "peer's map cropped by 5 px against ssimfast's full map cropped the same way; "
            "'float64' = the peer's own code run once more (untimed) on float64 input, "
            f"valid region, sizes up to {math.isqrt(CHECK64_MAX_PIXELS)}x"
            f"{math.isqrt(CHECK64_MAX_PIXELS)}:", "",
            "| peer | same definition? | \\|Δ mean\\| as called | \\|Δ valid mean\\| "
            "| \\|Δ valid map\\| | \\|Δ valid mean\\| float64 |",
            "|---|---|--:|--:|--:|--:|"]
    for impl in impls[1:]:
        rs = [r for r in rows if r["implementation"] == impl.name]
        worst = [max((r[k] for r in rs if k in r), default=None) for k in diff_keys]
        same = "yes" if impl.same_definition else "no"
        if impl.reason:
            same += f" ({impl.reason})" if not impl.same_definition else f"; {impl.reason}"
        out.append(f"| {impl.name} | {same} | " + " | ".join(map(_diff, worst)) + " |")
    self_check = max(abs(r["valid_mean_minus_mean"]) for r in rows if "valid_mean_minus_mean" in r)
    out += ["", f"ssimfast's mean equals the mean of its full map cropped by 5 px (largest "
            f"difference {_diff(self_check)}): the 'valid' convention. The float32 peers lose "
            "precision in E[x²] − μ² (values up to 65025 for 8-bit data); "
            "on float64 input the same code agrees to rounding.", "", "Calls:", ""]
    out += [f"- {i.name}: `{i.called_as}`" for i in impls]
    return "\n".join(out)


def plot(rows, impls, info, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from matplotlib.ticker import LogLocator, NullLocator, ScalarFormatter

    fig, ax = plt.subplots(figsize=(9.5, 5.5), dpi=110)
    for impl in impls:
        rs = sorted((r for r in rows if r["implementation"] == impl.name),
                    key=lambda r: r["pixels"])
        ax.plot([r["pixels"] for r in rs], [r["mp_per_s"] for r in rs], marker="o",
                color=f"C{list(LOADERS).index(impl.name)}",
                linewidth=2.5 if impl.name == "ssimfast" else 1.5, label=impl.name)
    sizes = sorted({(r["pixels"], _size(r["size"])) for r in rows})
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks([p for p, _ in sizes], [f"{s}\n{p / 1e6:.2g} MP" for p, s in sizes], fontsize=8)
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_xlabel("image size (pixels, log scale)")
    ax.set_ylabel("throughput (megapixels/s, log scale)")
    ax.set_title(f"SSIM on the CPU, grayscale uint8, Gaussian 11x11 σ=1.5\n"
                 f"{info['cpu']}, {info['threads']} threads; median of {info['repeat']} runs",
                 fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=9, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"sizes up to {_size(QUICK_MAX)} and 3 runs per implementation")
    parser.add_argument("--max-size", type=parse_size, default=None, metavar="N|HxW",
                        help="largest size to time, by pixel count (e.g. 1024 or 2160x3840)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="timed runs per implementation (default 5, or 3 with --quick)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for ssimfast (workers), torch and OpenCV "
                             "(default: ssimfast's default, all usable cores)")
    parser.add_argument("--skip", default="", metavar="NAMES",
                        help="comma-separated implementations to leave out, e.g. piq,kornia")
    parser.add_argument("--wait-quiet", type=float, default=30.0, metavar="SECONDS",
                        help="before each size, wait up to this long for other processes to use "
                             f"under {QUIET_BELOW * 100:.0f}%% of the CPUs "
                             "(default %(default)s; 0: don't)")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "peers.json",
                        help="where to write all numbers (default: %(default)s)")
    parser.add_argument("--plot", type=Path, default=HERE / "results" / "peers.png",
                        help="where to draw the throughput plot (default: %(default)s)")
    args = parser.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 5)
    if repeat < 1:
        parser.error("--repeat must be at least 1")
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if skip - set(LOADERS) or skip & {"ssimfast"}:
        parser.error(f"--skip takes some of: {', '.join(list(LOADERS)[1:])}")
    limit = math.prod(args.max_size) if args.max_size else math.inf
    if args.quick:
        limit = min(limit, math.prod(QUICK_MAX))
    sizes = [s for s in SIZES if math.prod(s) <= limit]
    if not sizes:
        parser.error("--max-size is below the smallest size (64x64)")

    info = header_info(args.quick, repeat)
    if args.threads is not None:
        if args.threads < 1:
            parser.error("--threads must be at least 1")
        info["threads"] = args.threads
    impls, skipped = load_all(info["threads"], skip)
    for name, why in skipped.items():
        print(f"note: {name} {why}", file=sys.stderr)
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "get_num_threads"):
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    info["sizes"] = [list(s) for s in sizes]
    if os.path.exists("/proc/self/maps"):  # which OpenMP runtime(s) ssimfast and torch share
        with open("/proc/self/maps") as f:
            info["openmp_runtimes"] = sorted({
                line.split()[-1] for line in f
                if any(k in line for k in ("libgomp", "libiomp", "libomp"))})

    rows = run(impls, sizes, repeat, args.wait_quiet)
    print(format_report(info, impls, skipped, rows))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "header": info, "speedup": SPEEDUP_LINE,
        "implementations": [{"name": i.name, "version": i.version, "called_as": i.called_as,
                             "same_definition": i.same_definition, "note": i.reason}
                            for i in impls],
        "skipped": skipped, "rows": rows,
    }
    args.json.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.json}", file=sys.stderr)
    try:
        plot(rows, impls, info, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    except ImportError as exc:
        print(f"note: no plot ({exc}); pip install matplotlib", file=sys.stderr)


if __name__ == "__main__":
    main()

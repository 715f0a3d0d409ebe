"""Issue 4's targets: batches of pairs, and images larger than memory.

    python benchmarks/bench_scale.py              # batch rows + memmap 32768x32768 (~3 min, 2 GiB of disk)
    python benchmarks/bench_scale.py --quick      # 200 pairs, memmap 8192x8192
    python benchmarks/bench_scale.py --json out.json

Rows:
* 1,000 pairs of 256x256 uint8: ssim_batch against a Python loop over
  scikit-image, and ssim_batch with workers=2 against workers=1; medians of
  interleaved runs, as ratios.
* Two 32768x32768 uint8 images as np.memmap files (written to a temporary
  folder): ssim_tiled's mean, time and extra peak memory, counted two ways:
  tracemalloc (every NumPy allocation) and the peak of the process's anonymous
  resident memory (RssAnon, sampled every 5 ms; file pages read through the
  page cache are not the process's memory and are left out). Also checked: on
  a size that fits in memory (8192x8192), ssim_tiled from memmaps equals
  structural_similarity bit for bit.
"""
import argparse
import functools
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from skimage.metrics import structural_similarity as sk_ssim

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_ssim import _traced_call, header_info, make_pair  # noqa: E402

import ssimfast  # noqa: E402  (bench_ssim put the checkout on sys.path)

MiB = 1 << 20


def batch_pairs(n, size=256):
    """n natural-looking pairs: crops of a large noisy image pair."""
    ref, noisy = make_pair((2048, 2048))
    rng = np.random.default_rng(1)
    corners = rng.integers(0, 2048 - size, (n, 2))
    ims1 = np.stack([ref[i:i + size, j:j + size] for i, j in corners])
    ims2 = np.stack([noisy[i:i + size, j:j + size] for i, j in corners])
    return ims1, ims2


def interleaved(funcs, repeat):
    """Median seconds of each function, run in turn `repeat` times (order alternating)."""
    times = [[] for _ in funcs]
    for r in range(repeat):
        order = list(enumerate(funcs))
        for k, f in order if r % 2 == 0 else reversed(order):
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def batch_rows(n, repeat):
    ims1, ims2 = batch_pairs(n)
    loop = lambda: [sk_ssim(a, b) for a, b in zip(ims1, ims2)]
    one = lambda: ssimfast.ssim_batch(ims1, ims2, workers=1)
    two = lambda: ssimfast.ssim_batch(ims1, ims2, workers=2)
    want = np.array(loop())
    got = two()
    assert np.max(np.abs(got - want)) < 1e-9, "ssim_batch disagrees with scikit-image"
    t_loop, t_one, t_two = interleaved([loop, one, two], repeat)
    return [
        {"row": f"{n} pairs 256x256 uint8: ssim_batch (2 workers) x Python loop over scikit-image",
         "reference_s": t_loop, "ssimfast_s": t_two, "ratio": t_loop / t_two, "target": 50},
        {"row": f"{n} pairs 256x256 uint8: ssim_batch workers=1 time / workers=2 time",
         "reference_s": t_one, "ssimfast_s": t_two, "ratio": t_one / t_two, "target": 1.8},
    ]


def rss_anon():
    """The process's anonymous resident memory in bytes (Linux), else None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def measured(func):
    """(result, seconds, tracemalloc peak MiB, RssAnon peak above the start in MiB)."""
    start = rss_anon()
    peak = [start or 0]
    done = threading.Event()

    def sample():
        while not done.wait(0.005):
            peak[0] = max(peak[0], rss_anon() or 0)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        result, seconds, traced = _traced_call(func)
    finally:
        done.set()
        sampler.join()
    anon = None if start is None else (peak[0] - start) / MiB
    return result, seconds, traced, anon


def write_pair(folder, side):
    """Two side x side uint8 raw files, written in bands (never whole in memory)."""
    ref, noisy = make_pair((2048, 2048))
    paths = [Path(folder) / f"{name}_{side}.raw" for name in ("a", "b")]
    for path, tile in zip(paths, (ref, noisy)):
        out = np.memmap(path, dtype=np.uint8, mode="w+", shape=(side, side))
        for i in range(0, side, 2048):
            for j in range(0, side, 2048):
                h, w = min(2048, side - i), min(2048, side - j)
                out[i:i + h, j:j + w] = tile[:h, :w]
        out.flush()
        del out
    return paths


def memmap_rows(folder, side, check_side):
    rows = []
    # Equality on a size that fits in memory.
    p1, p2 = write_pair(folder, check_side)
    m1, m2 = (ssimfast.open_memmap(p, (check_side, check_side), np.uint8) for p in (p1, p2))
    tiled = ssimfast.ssim_tiled(m1, m2)
    in_memory = ssimfast.structural_similarity(np.array(m1), np.array(m2))
    rows.append({"row": f"{check_side}x{check_side} memmap: ssim_tiled == in-memory mean",
                 "tiled": float(tiled), "in_memory": float(in_memory),
                 "bit_identical": bool(tiled == in_memory)})
    del m1, m2
    os.remove(p1), os.remove(p2)

    p1, p2 = write_pair(folder, side)
    m1, m2 = (ssimfast.open_memmap(p, (side, side), np.uint8) for p in (p1, p2))
    mean, seconds, traced, anon = measured(functools.partial(ssimfast.ssim_tiled, m1, m2))
    rows.append({"row": f"{side}x{side} uint8 memmap pair: ssim_tiled mean, extra peak memory",
                 "mean": float(mean), "seconds": seconds, "tracemalloc_peak_mib": traced,
                 "rss_anon_peak_mib": anon, "target_mib": 256,
                 "pass": traced < 256 and (anon is None or anon < 256)})
    del m1, m2
    os.remove(p1), os.remove(p2)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 pairs; memmap 8192x8192")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, default=HERE / "results" / "scale.json")
    args = parser.parse_args(argv)

    info = header_info(args.quick, args.repeat)
    print(f"ssimfast {info['ssimfast']} ({info['build']}, kernels {info['kernels']}), "
          f"scikit-image {info['scikit-image']}; {info['threads']} threads; {info['cpu']}; "
          f"medians of {args.repeat} interleaved runs")
    rows = batch_rows(200 if args.quick else 1000, args.repeat)
    print("\n| batch row | reference s | ssimfast s | ratio | target | |\n|---|--:|--:|--:|--:|---|")
    for r in rows:
        ok = "PASS" if r["ratio"] >= r["target"] else "miss"
        print(f"| {r['row']} | {r['reference_s']:.3f} | {r['ssimfast_s']:.3f} | "
              f"{r['ratio']:.2f} | {r['target']} | {ok} |")

    with tempfile.TemporaryDirectory(dir=os.environ.get("SSIMFAST_BENCH_TMP")) as folder:
        mrows = memmap_rows(folder, 8192 if args.quick else 32768, 4096 if args.quick else 8192)
    check, big = mrows
    print(f"\n{check['row']}: {'yes' if check['bit_identical'] else 'NO'} "
          f"({check['tiled']!r} vs {check['in_memory']!r})")
    anon = "n/a" if big["rss_anon_peak_mib"] is None else f"{big['rss_anon_peak_mib']:.1f} MiB"
    print(f"{big['row']}: mean {big['mean']:.6f} in {big['seconds']:.1f} s; extra peak "
          f"{big['tracemalloc_peak_mib']:.1f} MiB (tracemalloc), {anon} (RssAnon); "
          f"target < 256 MiB: {'PASS' if big['pass'] else 'miss'}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"header": info, "batch": rows, "memmap": mrows},
                                    indent=1))
    print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()

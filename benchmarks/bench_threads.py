"""Do Python threads scale? The kernels release the GIL, so Python threads that
each call structural_similarity(workers=1) should run on all cores at once.

    python benchmarks/bench_threads.py            # 200 pairs of 512x512 uint8, medians of 5
    python benchmarks/bench_threads.py --json out.json

Times the same pairs scored by one Python thread and by a pool of as many
threads as usable CPUs (each call workers=1, so OpenMP adds nothing), and the
same for scikit-image for context (NumPy and SciPy release the GIL only in
parts). Reports ratios: one-thread time / pool time. The results of the pool
are checked to be bit-identical to the serial ones.
"""
import argparse
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from skimage.metrics import structural_similarity as sk_ssim

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_scale import batch_pairs, interleaved  # noqa: E402
from bench_ssim import header_info  # noqa: E402

import ssimfast  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=200, help="pairs (default 200)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs (default 5)")
    parser.add_argument("--json", metavar="FILE", default=str(HERE / "results" / "threads.json"),
                        help="where to write the results (default: benchmarks/results/threads.json)")
    args = parser.parse_args(argv)
    ims1, ims2 = batch_pairs(args.pairs, size=512)
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    pool = ThreadPoolExecutor(threads)

    def fast(a, b):
        return ssimfast.structural_similarity(a, b, workers=1)

    runs = {
        "ssimfast, 1 thread": lambda: [fast(a, b) for a, b in zip(ims1, ims2)],
        f"ssimfast, {threads} threads": lambda: list(pool.map(fast, ims1, ims2)),
        "scikit-image, 1 thread": lambda: [sk_ssim(a, b) for a, b in zip(ims1[:40], ims2[:40])],
        f"scikit-image, {threads} threads": lambda: list(pool.map(sk_ssim, ims1[:40], ims2[:40])),
    }
    serial, pooled = runs["ssimfast, 1 thread"](), runs[f"ssimfast, {threads} threads"]()
    assert serial == pooled, "threads changed a result"
    times = dict(zip(runs, interleaved(list(runs.values()), args.repeat)))
    rows = [
        {"row": f"{args.pairs} pairs 512x512 uint8, ssimfast workers=1: 1 thread / {threads} "
                "threads", "one_thread_s": times["ssimfast, 1 thread"],
         "threads_s": times[f"ssimfast, {threads} threads"]},
        {"row": f"40 pairs 512x512 uint8, scikit-image: 1 thread / {threads} threads",
         "one_thread_s": times["scikit-image, 1 thread"],
         "threads_s": times[f"scikit-image, {threads} threads"]},
    ]
    info = header_info(False, args.repeat)
    print(f"{info['date']}  {info['cpu']} ({threads} usable CPUs), ssimfast {info['ssimfast']}")
    for row in rows:
        row["ratio"] = row["one_thread_s"] / row["threads_s"]
        print(f"{row['row']}: {row['one_thread_s']:.3f} s / {row['threads_s']:.3f} s = "
              f"{row['ratio']:.2f}x")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"info": info, "rows": rows}, f, indent=2)
    pool.shutdown()


if __name__ == "__main__":
    main()

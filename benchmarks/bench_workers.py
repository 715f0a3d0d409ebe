"""Thread scaling of a 4K uniform mean, measured per CPU (Linux only).

    python benchmarks/bench_workers.py              # 2 threads, 9 rounds
    python benchmarks/bench_workers.py --rounds 15

Why not simply workers=1 time / workers=2 time (bench_targets.py's threads row)?
On a shared virtual machine each virtual CPU runs at its own speed, which
changes every few seconds (the host's other work): a one-thread call that lands
on a fast CPU while the other is slow makes any two-thread call look poor. Here
each round times workers=1 pinned to each CPU in turn, then workers=2 on all of
them, back to back, and reports, per round:

* speedup: the mean one-thread time over the CPUs / the two-thread time;
* efficiency: the time perfect scaling would give at those CPUs' speeds,
  1 / sum(1 / t_cpu), over the two-thread time (1.0 is perfect; 0.9 is what a
  1.8x speedup needs on equal CPUs).

Medians over the rounds; every time in the JSON (benchmarks/results/workers.json).
"""
import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_ssim import header_info, make_pair  # noqa: E402

import ssimfast  # noqa: E402  (bench_ssim put the checkout on sys.path)


def median_ms(f, n):
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=9, help="rounds (default 9)")
    parser.add_argument("--calls", type=int, default=5, help="calls per timing, median taken (default 5)")
    parser.add_argument("--json", metavar="FILE", default=str(HERE / "results" / "workers.json"),
                        help="where to write the results (default: benchmarks/results/workers.json)")
    args = parser.parse_args(argv)
    if not hasattr(os, "sched_setaffinity"):
        sys.exit("bench_workers.py pins threads to CPUs: Linux only")
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        sys.exit(f"bench_workers.py needs at least 2 usable CPUs; this process has {len(cpus)}")
    cpus = cpus[:2]
    a, b = make_pair((2160, 3840))
    ssimfast.ssim(a, b, workers=2)  # warm-up: threads started, pages touched

    rounds = []
    try:
        for _ in range(args.rounds):
            one = {}
            for c in cpus:
                os.sched_setaffinity(0, {c})
                one[c] = median_ms(lambda: ssimfast.ssim(a, b, workers=1), args.calls)
            os.sched_setaffinity(0, set(cpus))
            two = median_ms(lambda: ssimfast.ssim(a, b, workers=2), args.calls)
            ideal = 1 / sum(1 / t for t in one.values())
            rounds.append(dict(one_thread_ms=one, two_threads_ms=two,
                               speedup=statistics.mean(one.values()) / two, efficiency=ideal / two))
    finally:
        os.sched_setaffinity(0, set(cpus))

    info = header_info(True, args.calls)
    print(f"# ssimfast thread scaling, 4K uint8 uniform 7x7 mean, CPUs {cpus}, "
          f"load average at start {info['load_average'][0]:.2f}\n")
    print(f"| round | 1 thread on CPU {cpus[0]} ms | 1 thread on CPU {cpus[1]} ms | 2 threads ms | "
          "speedup | efficiency |")
    print("|--:|--:|--:|--:|--:|--:|")
    for k, r in enumerate(rounds):
        t = r["one_thread_ms"]
        print(f"| {k} | {t[cpus[0]]:.1f} | {t[cpus[1]]:.1f} | {r['two_threads_ms']:.1f} | "
              f"{r['speedup']:.2f} | {r['efficiency']:.2f} |")
    speedup = statistics.median(r["speedup"] for r in rounds)
    efficiency = statistics.median(r["efficiency"] for r in rounds)
    print(f"\nmedian speedup {speedup:.2f} (target 1.8), median efficiency {efficiency:.2f}")
    Path(args.json).parent.mkdir(exist_ok=True)
    Path(args.json).write_text(json.dumps(dict(info=info, rounds=rounds, speedup=speedup,
                                               efficiency=efficiency), indent=1))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()

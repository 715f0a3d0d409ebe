"""The default thread count on a busy machine: workers=None against workers=1.

    python benchmarks/bench_contention.py            # idle, cores and 2 x cores busy processes
    python benchmarks/bench_contention.py --quick    # fewer rounds, smaller cases
    python benchmarks/bench_contention.py --cases RGB,threads --loads 0,2   # some rows only

For each load (none; N busy processes `python -c "while True: pass"` for
N = cores and 2 x cores, started and stopped here, also on Ctrl-C or an error)
it times, interleaved round by round, ssimfast with workers=None and
workers=1 (called alternately, call by call: None / 1 is the median of the
ratios of those pairs of calls), scikit-image, and fast-ssim if it is installed
(optional), on:
64x64, 512x512, 1024x1024, 1920x1080 Gaussian, 2160x3840 uniform and Gaussian,
512x512 RGB, a 256^3 volume, ssim_batch of 300 256x256 pairs, and a pool of 4
Python threads each scoring 512x512 pairs. Medians of the rounds; the load
average with each load; JSON in benchmarks/results/contention.json and a
markdown table on stdout (and in benchmarks/results/contention.md).

Targets (issue 14): with busy processes, workers=None / workers=1 <= 1.1 in
every row.
"""
import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_ssim import header_info, make_pair  # noqa: E402

import numpy as np  # noqa: E402
import ssimfast  # noqa: E402  (bench_ssim put the checkout on sys.path)
from skimage.metrics import structural_similarity as skimage_ssim  # noqa: E402

try:  # optional peer: computes the default definition in float32
    import fast_ssim  # noqa: E402
except ImportError:
    fast_ssim = None


def _version(dist):
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(dist)
    except PackageNotFoundError:
        return "installed"


def _cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


# A process that spins on a core, and stops if this script dies without
# stopping it (its parent changes).
BUSY = ("import os\nparent = os.getppid()\nwhile os.getppid() == parent:\n"
        "    for _ in range(100000):\n        pass\n")


@contextlib.contextmanager
def busy_processes(n):
    """n processes spinning on a core each, stopped on leaving (also on Ctrl-C)."""
    procs = []
    try:
        for _ in range(n):
            procs.append(subprocess.Popen([sys.executable, "-c", BUSY]))
        time.sleep(1.0 if n else 0.0)  # let them reach the run queue
        yield
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def _pairs(quick):
    """{name: (kind, im1, im2, options)}."""
    big = (1080, 1920) if quick else (2160, 3840)
    # (--quick times the large cases at 1920x1080: named apart from the row above.)
    large = f"{big[1]}x{big[0]}" + (" (large case)" if quick else "")
    cases = {
        "64x64": ("2d", *make_pair((64, 64)), {}),
        "512x512": ("2d", *make_pair((512, 512)), {}),
        "1024x1024": ("2d", *make_pair((1024, 1024)), {}),
        "1920x1080 Gaussian": ("2d", *make_pair((1080, 1920)), dict(gaussian_weights=True)),
        f"{large} uniform": ("2d", *make_pair(big), {}),
        f"{large} Gaussian": ("2d", *make_pair(big), dict(gaussian_weights=True)),
        "512x512 RGB": ("2d", *make_pair((512, 512, 3)), dict(channel_axis=-1)),
    }
    side = 96 if quick else 256
    a, b = make_pair((side, side))
    rng = np.random.default_rng(1)
    vol_a = np.stack([np.roll(a, k, axis=1) for k in range(side)])
    vol_b = np.clip(vol_a + rng.integers(-8, 9, vol_a.shape), 0, 255).astype(np.uint8)
    cases[f"{side}^3 volume"] = ("3d", vol_a, vol_b, {})
    n = 60 if quick else 300
    a, b = make_pair((256, 256))
    stack_a = np.stack([np.roll(a, k, axis=0) for k in range(n)])
    stack_b = np.stack([np.roll(b, k, axis=0) for k in range(n)])
    cases[f"ssim_batch {n} x 256x256"] = ("batch", stack_a, stack_b, {})
    cases["4 Python threads x 512x512"] = ("threads", *make_pair((512, 512)), {})
    return cases


def _callers(kind, a, b, options, executor):
    """{method: function of no arguments}."""
    calls = {}
    if kind == "batch":
        calls["None"] = lambda: ssimfast.ssim_batch(a, b, workers=None)
        calls["1"] = lambda: ssimfast.ssim_batch(a, b, workers=1)
        calls["scikit-image"] = lambda: [skimage_ssim(x, y, data_range=255) for x, y in zip(a, b)]
        if fast_ssim is not None:
            calls["fast-ssim"] = lambda: [fast_ssim.ssim(x, y, data_range=255) for x, y in zip(a, b)]
        return calls
    if kind == "threads":
        def pooled(f):
            return lambda: list(executor.map(lambda _: [f() for _ in range(8)], range(4)))
        calls["None"] = pooled(lambda: ssimfast.ssim(a, b, workers=None))
        calls["1"] = pooled(lambda: ssimfast.ssim(a, b, workers=1))
        calls["scikit-image"] = pooled(lambda: skimage_ssim(a, b, data_range=255))
        if fast_ssim is not None:
            calls["fast-ssim"] = pooled(lambda: fast_ssim.ssim(a, b, data_range=255))
        return calls
    calls["None"] = lambda: ssimfast.structural_similarity(a, b, workers=None, **options)
    calls["1"] = lambda: ssimfast.structural_similarity(a, b, workers=1, **options)
    calls["scikit-image"] = lambda: skimage_ssim(a, b, data_range=255, **options)
    if fast_ssim is not None and kind == "2d" and options in ({}, dict(channel_axis=-1)):
        calls["fast-ssim"] = lambda: fast_ssim.ssim(a, b, data_range=255)
    return calls


def _time(f, budget):
    """Median seconds per call of f over about `budget` seconds (at least 1 call)."""
    t0 = time.perf_counter()
    f()
    first = time.perf_counter() - t0
    if first >= budget:  # slow (scikit-image on a volume): that call is the measurement
        return first
    n = max(1, min(200, int(budget / max(first, 1e-6))))
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _time_pair(fa, fb, budget):
    """Seconds per call of fa and of fb, called alternately (a b, b a, a b, ...)
    for about 2 x `budget` seconds, and the ratio a / b of each pair: both
    calls of a pair see about the same load, which moves from one moment to
    the next on a busy machine (timing a then b, each for a budget, put up to
    20 % of noise into the 4-Python-threads row)."""
    t0 = time.perf_counter()
    fa()
    fb()
    first = (time.perf_counter() - t0) / 2
    n = max(1, min(200, int(budget / max(first, 1e-6))))
    ta, tb, ratios = [], [], []
    for k in range(n):
        t = {}
        for key, f in (("a", fa), ("b", fb)) if k % 2 == 0 else (("b", fb), ("a", fa)):
            t0 = time.perf_counter()
            f()
            t[key] = time.perf_counter() - t0
        ta.append(t["a"])
        tb.append(t["b"])
        ratios.append(t["a"] / t["b"])
    return ta, tb, ratios


def run_load(n_busy, cases, rounds, budget, executor):
    out = {"busy_processes": n_busy, "cases": {}}
    with busy_processes(n_busy):
        out["load_before"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        calls = {name: _callers(*case, executor) for name, case in cases.items()}
        times = {name: {m: [] for m in c} for name, c in calls.items()}
        ratios = {name: [] for name in calls}  # None / 1, pair by pair
        for r in range(rounds):
            for name, methods in calls.items():
                # workers=None and workers=1 as one unit, called alternately.
                order = ["pair"] + [m for m in methods if m not in ("None", "1")]
                order = order[r % len(order):] + order[:r % len(order)]  # rotate: interleaved
                for m in order:
                    if m == "pair":
                        ta, tb, rs = _time_pair(methods["None"], methods["1"], budget)
                        times[name]["None"].append(statistics.median(ta))
                        times[name]["1"].append(statistics.median(tb))
                        ratios[name].extend(rs)
                    else:  # scikit-image is 10-100x slower: a smaller budget per round.
                        times[name][m].append(_time(methods[m], budget / 4))
        out["load_after"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    for name, per in times.items():
        med = {m: 1e3 * statistics.median(v) for m, v in per.items()}
        row = {"ms": med, "all_ms": {m: [1e3 * t for t in v] for m, v in per.items()},
               "none_over_1": statistics.median(ratios[name]),
               "none_over_1_of_medians": med["None"] / med["1"],
               "pairs": len(ratios[name]),
               "skimage_over_none": med["scikit-image"] / med["None"]}
        if "fast-ssim" in med:
            row["fast_ssim_over_none"] = med["fast-ssim"] / med["None"]
        out["cases"][name] = row
    return out


def format_table(results):
    lines = ["| load | case | `workers=None` ms | `workers=1` ms | None / 1 | scikit-image ms "
             "| x scikit-image | fast-ssim ms |",
             "|---|---|--:|--:|--:|--:|--:|--:|"]
    for res in results:
        n = res["busy_processes"]
        load = (f"{n} busy, load {res['load_before']:.1f}-{res['load_after']:.1f}"
                if res["load_before"] is not None else f"{n} busy")
        for name, row in res["cases"].items():
            ms = row["ms"]
            fs = f"{ms['fast-ssim']:.3g}" if "fast-ssim" in ms else "—"
            lines.append(f"| {load} | {name} | {ms['None']:.3g} | {ms['1']:.3g} | "
                         f"{row['none_over_1']:.2f} | {ms['scikit-image']:.3g} | "
                         f"{row['skimage_over_none']:.1f} | {fs} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="2 rounds, 1080p instead of 4K, a 96^3 volume, 60 pairs")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per load (default 3; 2 with --quick)")
    parser.add_argument("--loads", default=None,
                        help="comma-separated busy-process counts (default: 0,cores,2*cores)")
    parser.add_argument("--cases", default=None,
                        help="comma-separated words: time only the cases whose name holds one "
                             "(e.g. RGB,threads,Gaussian)")
    parser.add_argument("--json", metavar="FILE", default=str(HERE / "results" / "contention.json"),
                        help="where to write the results (default: benchmarks/results/contention.json)")
    parser.add_argument("--md", metavar="FILE", default=str(HERE / "results" / "contention.md"),
                        help="where to write the table (default: benchmarks/results/contention.md)")
    args = parser.parse_args(argv)
    cores = _cores()
    loads = ([int(x) for x in args.loads.split(",")] if args.loads
             else [0, cores, 2 * cores])
    rounds = args.rounds or (2 if args.quick else 3)
    budget = 0.05 if args.quick else 0.15
    cases = _pairs(args.quick)
    if args.cases:
        words = [w.strip().lower() for w in args.cases.split(",") if w.strip()]
        cases = {k: v for k, v in cases.items() if any(w in k.lower() for w in words)}
        if not cases:
            parser.error(f"no case matches --cases {args.cases!r}")
    info = header_info(args.quick, rounds)
    info.update(cores=cores, fast_ssim=_version("fast-ssim") if fast_ssim is not None else None,
                command=" ".join([Path(sys.executable).name] + sys.argv))
    # SIGTERM (a timeout, a job scheduler) ends the run through the `finally`
    # that stops the busy processes, as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench_contention.py: terminated"))
    results = []
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=4) as executor:
        for n in loads:
            print(f"timing with {n} busy processes ...", file=sys.stderr, flush=True)
            results.append(run_load(n, cases, rounds, budget, executor))
            table = format_table(results)
            # Written after each load, so that a run cut short keeps what it measured.
            with open(args.json, "w") as f:
                json.dump({"info": info, "results": results}, f, indent=1)
            with open(args.md, "w") as f:
                f.write(f"`{info['command']}` on {info['cpu']} ({cores} usable cores), "
                        f"{info['date']}, kernels {info['kernels']}.\n\n{table}\n")
    print(table)
    print(f"wrote {args.json} and {args.md}", file=sys.stderr)


if __name__ == "__main__":
    main()

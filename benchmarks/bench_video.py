"""ssimfast.video_ssim against FFmpeg's ssim and psnr filters, on the same Y4M files.

    python benchmarks/bench_video.py                 # 1920x1080 and 3840x2160, 300 frames
    python benchmarks/bench_video.py --quick         # 30 frames each: under 2 minutes
    python benchmarks/bench_video.py --frames 60 --sizes 1920x1080
    python benchmarks/bench_video.py --quick --profile  # where a frame's time goes

The files: FFmpeg's testsrc2 (4:2:0, 8-bit) as the reference and an H.264
encode of it (x264 ultrafast, CRF 32) decoded back as the distorted video, both
Y4M, in --dir (a temporary directory unless given; kept with --keep). Both are
read once before timing, so every run reads them from the page cache.

Every run is end to end in its own process (reading, scoring, the means), at
--threads threads (2): FFmpeg with -threads/-filter_threads/-filter_complex_threads,
ssimfast with workers=. Times: FFmpeg's own -benchmark real time (its run
without process start-up), ssimfast's from opening the files to the result
(without the interpreter's start-up and the import of ssimfast's video
modules, which the JSON also gives); CPU time per
frame beside it (the fastest run; FFmpeg's utime + stime, ssimfast's
process_time around the call): on a busy machine the wall times move with the
other processes, the CPU times much less, so the PSNR costs are also given in
CPU time. Memory: the
child's peak RSS (wait4); for ssimfast also beyond the interpreter (peak minus
the RSS after importing ssimfast). Median of --repeat runs.

Targets (issue 17): ssimfast's FFmpeg definition >= 1.5x FFmpeg's ssim fps;
the default (scikit-image) definition >= FFmpeg's ssim fps; psnr=True adds
under 10 %; 3840x2160 under 200 MiB beyond the interpreter; and
ssimfast.peak_signal_noise_ratio at least 20x scikit-image's on a 2160x3840
uint8 image pair (timed in this process, the two called alternately).
Results: benchmarks/results/video.json (with the load average) and a markdown table.

--profile measures instead where ssimfast's time goes, in this process, in
CPU time on one thread (robust on a busy machine: other processes' use of the
cores does not count; every stage is the fastest of --repeat rounds, the
stages of a round run back to back): reading a frame pair
(pread into buffers), each plane's kernel call on read
planes, the same call's fixed cost (on a 16x16 plane), PSNR's extra work, one
float64 division per pixel (the least an exact per-pixel formula costs),
FFmpeg's definition read and scored in bands (the compiled call per frame of
video_ssim(preset="ffmpeg") on Y4M files, reading included), and video_ssim
end to end; the rest of the end-to-end time is the per-frame Python work
around the calls. Also video_ssim at --threads against one thread.
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import ssimfast
def status(key):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(key + ":")) * 1024
base = status("VmRSS")
a, b, preset, psnr, workers = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1", int(sys.argv[5])
# ssimfast imports its video modules on first use (~25 ms of CPU on the 2-core
# machine, a quarter of the CPU time of a 30-frame 1920x1080 preset="ffmpeg"
# run): start-up, as FFmpeg's loading of its libraries, which -benchmark's
# rtime leaves out too.
video_ssim = ssimfast.video_ssim
t1, c1 = time.perf_counter(), time.process_time()
s = video_ssim(a, b, preset=None if preset == "skimage" else preset, psnr=psnr,
                        workers=workers)
t2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({"seconds": t2 - t1, "cpu_seconds": c2 - c1, "startup": t1 - t0, "frames": len(s),
                  "base_rss": base, "peak_rss": status("VmHWM"),
                  "mean": {k: v for k, v in s.mean.items() if not k.startswith("mse")}}))
"""


# (label, tool, what: filter or definition, psnr)
CASES = [("ffmpeg ssim filter", "ffmpeg", "ssim", None),
         ("ffmpeg psnr filter", "ffmpeg", "psnr", None),
         ("ssimfast preset=ffmpeg", "ssimfast", "ffmpeg", False),
         ("ssimfast preset=ffmpeg, psnr", "ssimfast", "ffmpeg", True),
         ("ssimfast default (skimage)", "ssimfast", "skimage", False),
         ("ssimfast default, psnr", "ssimfast", "skimage", True)]


def cpu_name():
    """The CPU's model name (the host of a virtual machine can change between runs)."""
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def ffmpeg_exe():
    try:
        import imageio_ffmpeg
        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        exe = shutil.which("ffmpeg")
        if exe is None:
            sys.exit("bench_video needs FFmpeg: pip install imageio-ffmpeg (or put ffmpeg on PATH)")
        return exe


def run(cmd):
    """(stdout, stderr, peak RSS in bytes, wall seconds) of a child process."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(map(str, cmd))}\n{stderr[-2000:]}")
    return stdout, stderr, usage.ru_maxrss * 1024, wall


def make_files(exe, width, height, frames, directory):
    ref = directory / f"ref_{width}x{height}_{frames}.y4m"
    dist = directory / f"dist_{width}x{height}_{frames}.y4m"
    if not (ref.exists() and dist.exists()):
        base = [exe, "-v", "error", "-nostdin", "-y"]
        subprocess.run(base + ["-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=30",
                               "-frames", str(frames), "-pix_fmt", "yuv420p", str(ref)], check=True)
        mp4 = directory / f"dist_{width}x{height}_{frames}.mp4"
        subprocess.run(base + ["-i", str(ref), "-c:v", "libx264", "-preset", "ultrafast",
                               "-crf", "32", str(mp4)], check=True)
        subprocess.run(base + ["-i", str(mp4), "-pix_fmt", "yuv420p", str(dist)], check=True)
        mp4.unlink()
    for path in (ref, dist):  # into the page cache
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass
    return ref, dist


def time_ffmpeg(exe, ref, dist, filt, threads):
    out, err, peak, wall = run(
        [exe, "-hide_banner", "-nostdin", "-benchmark", "-threads", str(threads),
         "-filter_threads", str(threads), "-filter_complex_threads", str(threads),
         "-i", str(ref), "-i", str(dist), "-lavfi", filt, "-f", "null", "-"])
    rtime = float(re.search(r"rtime=([0-9.]+)s", err).group(1))
    cpu = sum(float(re.search(rf"{k}=([0-9.]+)s", err).group(1)) for k in ("utime", "stime"))
    line = re.search(rf"({filt.upper()} .*)", err).group(1)
    return {"seconds": rtime, "cpu_seconds": cpu, "wall": wall, "peak_rss": peak, "summary": line}


def time_ssimfast(ref, dist, preset, psnr, threads):
    out, err, peak, wall = run([sys.executable, "-c", CHILD, str(ref), str(dist), preset,
                                "1" if psnr else "0", str(threads)])
    result = json.loads(out)
    result["wall"] = wall
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=None, help="frames per video (default 300)")
    parser.add_argument("--quick", action="store_true", help="30 frames, 2 runs each")
    parser.add_argument("--sizes", default="1920x1080,3840x2160", help="WxH,WxH,...")
    parser.add_argument("--threads", type=int, default=2, help="threads for both (default 2)")
    parser.add_argument("--repeat", type=int, default=None, help="runs per case, median (default 3)")
    parser.add_argument("--dir", default=None, help="where the Y4M files go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the Y4M files")
    parser.add_argument("--profile", action="store_true",
                        help="where ssimfast's time goes per frame (stages, one thread)")
    parser.add_argument("--json", default=str(HERE / "results" / "video.json"))
    args = parser.parse_args(argv)
    frames = args.frames or (30 if args.quick else 300)
    repeat = args.repeat or (2 if args.quick else 3)
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    exe = ffmpeg_exe()
    sys.path.insert(0, str(ROOT))
    import ssimfast
    from ssimfast._extension import kernels

    directory = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench_video_"))
    directory.mkdir(parents=True, exist_ok=True)
    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": platform.python_version(), "ssimfast": ssimfast.__version__,
        "ffmpeg": subprocess.run([exe, "-version"], capture_output=True, text=True)
        .stdout.splitlines()[0],
        "cpu": cpu_name(), "kernels": kernels.target(),
        "build": "native (-march=native)" if kernels.native_build() else "portable",
        "cpu_count": os.cpu_count(), "threads": args.threads, "frames": frames,
        "repeat": repeat, "load_average_start": os.getloadavg(),
    }
    if args.profile:
        return profile_main(args, exe, sizes, frames, repeat, directory, info)
    results = []
    try:
        for width, height in sizes:
            print(f"{width}x{height}: making {frames} frames ...", file=sys.stderr)
            ref, dist = make_files(exe, width, height, frames, directory)
            for label, tool, what, psnr in CASES:
                runs = []
                for _ in range(repeat):
                    if tool == "ffmpeg":
                        runs.append(time_ffmpeg(exe, ref, dist, what, args.threads))
                    else:
                        runs.append(time_ssimfast(ref, dist, what, psnr, args.threads))
                seconds = statistics.median(r["seconds"] for r in runs)
                cpu = min(r["cpu_seconds"] for r in runs)
                row = {"size": f"{width}x{height}", "case": label, "fps": frames / seconds,
                       "seconds": seconds, "cpu_ms_per_frame": 1e3 * cpu / frames, "runs": runs}
                if tool == "ssimfast":
                    row["extra_mib"] = max(r["peak_rss"] - r["base_rss"] for r in runs) / 2**20
                row["peak_mib"] = max(r["peak_rss"] for r in runs) / 2**20
                results.append(row)
                print(f"  {label}: {row['fps']:.0f} fps", file=sys.stderr)
    finally:
        if not (args.keep or args.dir):
            shutil.rmtree(directory, ignore_errors=True)
    psnr_image = time_psnr_image(args.threads)
    info["load_average_end"] = os.getloadavg()
    report = {"info": info, "results": results, "targets": targets(results),
              "psnr_image": psnr_image}
    report["targets"]["3840x2160 image"] = {
        "PSNR, scikit-image time / ssimfast time (>= 20)": psnr_image["skimage_over_ssimfast"]}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(report, f, indent=1)
    print(format_table(report))


def time_psnr_image(threads, pairs=15):
    """PSNR of one 2160x3840 uint8 image pair (the issue's third target):
    scikit-image's peak_signal_noise_ratio against ssimfast's (workers=threads),
    called alternately (bench_ssim's pair and timing); the median of the
    pairs' time ratios."""
    sys.path.insert(0, str(HERE))
    from bench_ssim import make_pair, time_pair  # (scikit-image: not for --profile)
    from skimage.metrics import peak_signal_noise_ratio as skimage_psnr
    import ssimfast
    a, b = make_pair((2160, 3840))
    t = time_pair(lambda: skimage_psnr(a, b),
                  lambda: ssimfast.peak_signal_noise_ratio(a, b, workers=threads), pairs)
    assert t["max_abs_diff_mean"] == 0  # the same number (exact for uint8)
    ratios = [s / f for s, f in zip(t["ref_times_s"], t["fast_times_s"])]
    return {"ms": {"skimage": t["ref_ms"], "ssimfast": t["fast_ms"]},
            "skimage_over_ssimfast": statistics.median(ratios), "pairs": pairs}


def _fastest(fn, repeat, clock=time.perf_counter):
    """The fastest of `repeat` timed calls of fn(), in seconds of `clock`."""
    best = math.inf
    for _ in range(repeat):
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
    return best


def profile_stages(ref, dist, frames, repeat, threads):
    """Milliseconds per frame of each stage of ssimfast's video path (see --profile)."""
    import ssimfast
    from ssimfast._ffmpeg import ffmpeg_ssim, ffmpeg_ssim_sse
    from ssimfast import _codec_cy
    from ssimfast._video_ssim import _BAND_BYTES, _plane_mse

    r, d = ssimfast.open_video(ref), ssimfast.open_video(dist)
    pairs = [(r.frame(i), d.frame(i)) for i in range(frames)]  # mapped once, kept
    tiny = np.zeros((16, 16), np.uint8)
    stages = {
        "read a frame pair (pread)": lambda: [(r.frame(i), d.frame(i))
                                                         for i in range(frames)],
        "fixed cost of 3 calls (16x16 planes)": lambda: [
            ssimfast.structural_similarity(tiny, tiny, workers=1) for _ in range(3 * frames)],
    }
    for k, name in enumerate("yuv"):
        stages[f"default: plane {name}"] = lambda k=k: [
            ssimfast.structural_similarity(a[k], b[k], workers=1) for a, b in pairs]
    stages["default: psnr's extra pass (3 planes)"] = lambda: [
        [_plane_mse(x, y) for x, y in zip(a, b)] for a, b in pairs]
    # The floor of any exact per-pixel formula (the default definition ends in
    # one float64 division per pixel; FFmpeg's, one per 4x4 block): NumPy
    # dividing blocks that stay in the cache, as many pixels as a frame has.
    px = sum(x.size for x in pairs[0][0])
    num, den = np.linspace(1, 2, 1 << 16), np.linspace(3, 4, 1 << 16)
    quotient = np.empty_like(num)
    blocks = [(0, num.size)] * (px // num.size) + [(0, px % num.size)]
    stages["floor: one float64 division per pixel (NumPy)"] = lambda: [
        [np.divide(num[a:b], den[a:b], out=quotient[a:b]) for a, b in blocks]
        for _ in range(frames)]
    stages["ffmpeg: 3 planes"] = lambda: [
        [ffmpeg_ssim(x, y, workers=1) for x, y in zip(a, b)] for a, b in pairs]
    stages["ffmpeg: 3 planes with the sse"] = lambda: [
        [ffmpeg_ssim_sse(x, y, workers=1) for x, y in zip(a, b)] for a, b in pairs]
    # What video_ssim(preset="ffmpeg") does per frame after the first: both
    # files read with pread in bands of rows and scored while in the cache.
    bands = _codec_cy.FrameBands(r.plane_shapes, r.dtype.itemsize, (1 << r.bits) - 1,
                                 _BAND_BYTES)
    stages["ffmpeg: read and score in bands (compiled, one call per frame)"] = lambda: [
        bands.score(r.fileno(), r.frame_offset(i), d.fileno(), d.frame_offset(i))
        for i in range(frames)]
    for preset in ("skimage", "ffmpeg"):
        for psnr in (False, True):
            for w in sorted({1, threads}):
                stages[f"video_ssim {preset}{', psnr' if psnr else ''}, workers={w}"] = (
                    lambda p=None if preset == "skimage" else preset, psnr=psnr, w=w:
                    ssimfast.video_ssim(ref, dist, preset=p, psnr=psnr, workers=w))
    # CPU time of this process: on a busy machine, wall time counts the time
    # other processes hold the cores, CPU time does not. With workers > 1 the
    # wall time too (their ratio: cores kept busy).
    clocks = {"cpu": time.process_time, "wall": time.perf_counter}
    best = {(name, c): math.inf for name in stages for c in clocks}
    for _ in range(repeat):  # rounds: every stage once per round, interleaved
        for name, fn in stages.items():
            for c, clock in clocks.items():
                if c == "cpu" or "workers=" in name and not name.endswith("workers=1"):
                    best[name, c] = min(best[name, c], _fastest(fn, 1, clock))
    r.close()
    d.close()
    return {f"{name} ({c} time)" if c == "wall" else name: 1e3 * t / frames
            for (name, c), t in best.items() if t < math.inf}


def profile_main(args, exe, sizes, frames, repeat, directory, info):
    repeat = max(repeat, 5)
    out = {"info": info, "profile": {}}
    try:
        for width, height in sizes:
            print(f"{width}x{height}: making {frames} frames ...", file=sys.stderr)
            ref, dist = make_files(exe, width, height, frames, directory)
            ms = profile_stages(ref, dist, frames, repeat, args.threads)
            out["profile"][f"{width}x{height}"] = ms
    finally:
        if not (args.keep or args.dir):
            shutil.rmtree(directory, ignore_errors=True)
    info["load_average_end"] = os.getloadavg()
    info["repeat"] = repeat
    path = Path(args.json).with_name(Path(args.json).stem + "_profile.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print(format_profile(out))


def format_profile(out):
    info = out["info"]
    lines = [f"# bench_video --profile, {info['date']}, {info['cpu']}, ssimfast "
             f"{info['ssimfast']} ({info['kernels']} kernels, {info['build']} build)", "",
             f"ms of CPU time per frame, fastest of {info['repeat']} interleaved rounds, one "
             f"thread unless said; load average {' '.join(f'{x:.1f}' for x in info['load_average_start'])} at "
             f"the start, {' '.join(f'{x:.1f}' for x in info['load_average_end'])} at the end "
             f"(CPU time is robust to other processes; wall time is not)", ""]
    for size, ms in out["profile"].items():
        e2e = ms["video_ssim skimage, workers=1"]
        kernel = sum(ms[f"default: plane {p}"] for p in "yuv")
        lines += [f"## {size}", "", "| stage | ms/frame | % of default end to end |", "|---|---:|---:|"]
        for name, v in ms.items():
            lines.append(f"| {name} | {v:.3f} | {100 * v / e2e:.1f} |")
        rest = e2e - kernel - ms["read a frame pair (pread)"]
        lines.append(f"| default: the rest (Python per frame, threads) | {rest:.3f} | "
                     f"{100 * rest / e2e:.1f} |")
        bands = ms.get("ffmpeg: read and score in bands (compiled, one call per frame)")
        if bands is not None:  # (the first frame, read whole, is in the rest too)
            rest = ms["video_ssim ffmpeg, workers=1"] - bands
            lines.append(f"| ffmpeg: the rest (Python per frame, threads) | {rest:.3f} | "
                         f"{100 * rest / e2e:.1f} |")
        lines.append("")
    return "\n".join(lines)


def targets(results):
    """The issue's targets, per size, from the medians."""
    out = {}
    for size in sorted({r["size"] for r in results}):
        fps = {r["case"]: r["fps"] for r in results if r["size"] == size}
        extra = {r["case"]: r.get("extra_mib") for r in results if r["size"] == size}
        cpu = {r["case"]: r["cpu_ms_per_frame"] for r in results if r["size"] == size}
        ff = fps["ffmpeg ssim filter"]
        out[size] = {
            "ffmpeg definition / FFmpeg ssim (>= 1.5)": fps["ssimfast preset=ffmpeg"] / ff,
            "default definition / FFmpeg ssim (>= 1.0)": fps["ssimfast default (skimage)"] / ff,
            "psnr cost, ffmpeg definition (< 10 %)":
                100 * (fps["ssimfast preset=ffmpeg"] / fps["ssimfast preset=ffmpeg, psnr"] - 1),
            "psnr cost, default definition (< 10 %)":
                100 * (fps["ssimfast default (skimage)"] / fps["ssimfast default, psnr"] - 1),
            "peak MiB beyond the interpreter (< 200)": max(v for v in extra.values() if v is not None),
            # CPU time (fastest run): other processes on the machine do not count.
            "psnr cost in CPU time, ffmpeg definition (%)":
                100 * (cpu["ssimfast preset=ffmpeg, psnr"] / cpu["ssimfast preset=ffmpeg"] - 1),
            "psnr cost in CPU time, default definition (%)":
                100 * (cpu["ssimfast default, psnr"] / cpu["ssimfast default (skimage)"] - 1),
        }
    return out


def format_table(report):
    info = report["info"]
    lines = [f"# bench_video, {info['date']}", "",
             f"{info['ffmpeg']}; ssimfast {info['ssimfast']} ({info.get('kernels')} kernels, "
             f"{info.get('build')} build) on {info.get('cpu')}; {info['threads']} threads each; "
             f"{info['frames']} frames 4:2:0 8-bit Y4M; median of {info['repeat']} runs; "
             f"load average {' '.join(f'{x:.1f}' for x in info['load_average_start'])} at the start, "
             f"{' '.join(f'{x:.1f}' for x in info['load_average_end'])} at the end "
             f"({info['cpu_count']} CPUs)", "",
             "| size | run | fps | CPU ms/frame | peak RSS MiB | beyond interpreter MiB |",
             "|---|---|---:|---:|---:|---:|"]
    for r in report["results"]:
        extra = f"{r['extra_mib']:.0f}" if "extra_mib" in r else ""
        lines.append(f"| {r['size']} | {r['case']} | {r['fps']:.0f} | {r['cpu_ms_per_frame']:.2f} "
                     f"| {r['peak_mib']:.0f} | {extra} |")
    lines += ["", "| size | target | value |", "|---|---|---:|"]
    for size, t in report["targets"].items():
        for name, value in t.items():
            lines.append(f"| {size} | {name} | {value:.2f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()

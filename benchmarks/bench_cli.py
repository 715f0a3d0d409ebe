"""The command-line tool's directory mode against a Python loop over scikit-image.

    python benchmarks/bench_cli.py                 # 500 pairs of 512x512 PNGs, 3 runs (~2.5 min)
    python benchmarks/bench_cli.py --pairs 100 --repeat 3 --json out.json

Writes `pairs` PNG pairs to a temporary folder: 512x512 gray crops of the
images that ship with scikit-image, each with one distortion (noise, blur or
JPEG at quality 30; saved as PNG), the kind of pairs a codec or restoration
study scores. Then times, interleaved, medians of `repeat` runs:

* reference: a Python loop that reads each pair with Pillow (np.asarray of
  Image.open, the fastest common reader) and scores it with
  skimage.metrics.structural_similarity;
* ssimfast: `ssimfast compare A B -o rows.csv`, run as a subprocess, so the
  time includes starting Python, importing, pairing the files, decoding and
  writing the rows;
* decode only: the same files read with the command's own call
  (`ssimfast._images.read_image`: the file's bytes, then imagecodecs' libpng)
  on a thread pool of as many threads as the command uses, in this process.
  Nothing is scored: loop time / decode-only time is the ceiling that any
  command decoding with this library can reach on this machine, printed next
  to the command's ratio.

Decoding is included on both sides. The ratio is reference time / ssimfast
time (target: at least 20x). The scores in the CSV are checked against the
loop's (to 1e-9).
"""
import argparse
import concurrent.futures
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage as ndi
from skimage import color, data
from skimage.metrics import structural_similarity as sk_ssim

from ssimfast._images import read_image
from ssimfast._threads import _usable_cpus

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_scale import interleaved  # noqa: E402
from bench_ssim import header_info  # noqa: E402

SIZE = 512


def sources():
    """The 512x512 (or larger) gray images that ship with scikit-image."""
    images = [data.camera(), color.rgb2gray(data.astronaut()), data.brick(), data.grass(),
              data.gravel(), data.moon()]
    return [np.round(255 * im).astype(np.uint8) if im.dtype != np.uint8 else im for im in images]


def write_pairs(folder, n, seed=0):
    rng = np.random.default_rng(seed)
    images = sources()
    a_dir, b_dir = Path(folder, "reference"), Path(folder, "distorted")
    a_dir.mkdir()
    b_dir.mkdir()
    for i in range(n):
        base = images[i % len(images)]
        # A different view of the source for each pair: roll and flip.
        ref = np.roll(base, tuple(rng.integers(0, 512, 2)), axis=(0, 1))[:SIZE, :SIZE]
        ref = ref[:, ::-1] if rng.random() < 0.5 else ref
        kind = i % 3
        if kind == 0:
            dist = np.clip(np.rint(ref + rng.normal(0, rng.uniform(2, 10), ref.shape)), 0, 255)
        elif kind == 1:
            dist = np.rint(ndi.gaussian_filter(ref.astype(float), rng.uniform(0.5, 2.0)))
        else:
            path = Path(folder, "tmp.jpg")
            Image.fromarray(ref).save(path, quality=30)
            dist = np.asarray(Image.open(path))
        name = f"{i:04d}.png"
        Image.fromarray(np.ascontiguousarray(ref)).save(a_dir / name)
        Image.fromarray(dist.astype(np.uint8)).save(b_dir / name)
    return a_dir, b_dir


def python_loop(a_dir, b_dir):
    scores = {}
    for name in sorted(os.listdir(a_dir)):
        a = np.asarray(Image.open(a_dir / name))
        b = np.asarray(Image.open(b_dir / name))
        scores[name] = sk_ssim(a, b)
    return scores


def decode_only(paths, workers):
    """Every file decoded as the command decodes it, on `workers` threads (the
    command's pool size), nothing scored."""
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(read_image, paths):
            pass


def run_cli(a_dir, b_dir, out):
    if out.exists():
        out.unlink()
    subprocess.run([sys.executable, "-m", "ssimfast", "compare", str(a_dir), str(b_dir),
                    "-o", str(out)], check=True, cwd=ROOT, stderr=subprocess.DEVNULL)
    with open(out, newline="") as f:
        return {row["file"]: float(row["ssim"]) for row in csv.DictReader(f)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=500, help="PNG pairs (default 500)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per side (default 3)")
    parser.add_argument("--json", metavar="FILE", default=str(HERE / "results" / "cli.json"),
                        help="where to write the results (default: benchmarks/results/cli.json)")
    args = parser.parse_args(argv)
    workers = _usable_cpus()  # the command's pool size without --workers
    with tempfile.TemporaryDirectory() as tmp:
        a_dir, b_dir = write_pairs(tmp, args.pairs)
        paths = sorted(Path(tmp).rglob("*.png"))
        out = Path(tmp, "rows.csv")
        want = python_loop(a_dir, b_dir)
        got = run_cli(a_dir, b_dir, out)
        assert got.keys() == want.keys(), "the CLI scored other pairs than the loop"
        worst = max(abs(got[k] - want[k]) for k in want)
        assert worst < 1e-9, f"the CLI's scores differ from scikit-image's by {worst}"
        t_loop, t_cli, t_decode = interleaved([lambda: python_loop(a_dir, b_dir),
                                               lambda: run_cli(a_dir, b_dir, out),
                                               lambda: decode_only(paths, workers)], args.repeat)
        png_bytes = sum(p.stat().st_size for p in paths)
    rows = _rows(args.pairs, t_loop, t_cli, t_decode, workers, worst, png_bytes)
    info = header_info(False, args.repeat)
    _print(info, rows, args.repeat, worst)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"info": info, "rows": rows}, f, indent=2)


def _rows(pairs, t_loop, t_cli, t_decode, workers, worst, png_bytes):
    import imagecodecs

    what = f"{pairs} pairs of {SIZE}x{SIZE} PNG"
    ceiling = t_loop / t_decode
    decoder = f"imagecodecs {imagecodecs.__version__} (libpng)"
    return [
        {"row": f"{what}: `ssimfast compare DIR_A DIR_B` x Python loop (Pillow + scikit-image)",
         "reference_s": t_loop, "ssimfast_s": t_cli, "ratio": t_loop / t_cli, "target": 20,
         "ceiling_ratio": ceiling, "max_abs_diff": worst, "png_megabytes": png_bytes / 1e6,
         "png_decoder": decoder},
        {"row": f"{what}: decode only (the command's read_image, {workers} threads, nothing "
                "scored) x the same loop: the ceiling of a command using this decoder",
         "reference_s": t_loop, "ssimfast_s": t_decode, "ratio": ceiling, "target": None,
         "threads": workers, "png_decoder": decoder},
    ]


def _print(info, rows, repeat, worst):
    command, decode = rows
    load = info["load_average"]
    print(f"{info['date']}  {info['cpu']}, ssimfast {info['ssimfast']} ({info['kernels']} "
          f"kernels), PNG decoder: {command['png_decoder']}, load average "
          + (f"{load[0]:.2f}" if load else "unknown"))
    print("| row | loop s | ssimfast s | ratio | target |")
    print("|---|--:|--:|--:|--:|")
    for row in rows:
        target = "-" if row["target"] is None else f"{row['target']}"
        print(f"| {row['row']} | {row['reference_s']:.2f} | {row['ssimfast_s']:.2f} | "
              f"{row['ratio']:.1f} | {target} |")
    print(f"the command: {command['ratio']:.1f}x the loop; decoding alone: {decode['ratio']:.1f}x "
          f"(the ceiling), so the command is at {100 * command['ratio'] / decode['ratio']:.0f}% "
          f"of it; medians of {repeat}, interleaved; scores agree with scikit-image to "
          f"{worst:.1e}")

if __name__ == "__main__":
    main()

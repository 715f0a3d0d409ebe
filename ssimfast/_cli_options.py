"""Options of `ssimfast compare` that images and videos share, each declared once:
the value types argparse checks, the SSIM and limit groups, --psnr and --preset,
and the structural_similarity keywords the options give."""
import argparse
import math
import re

from ssimfast._depth import DEPTHS
from ssimfast._images import MAX_PAGES, MAX_PIXELS
from ssimfast._presets import PRESETS

__all__ = ["api_to_options", "add_limit_arguments", "add_metric_arguments", "add_ssim_arguments", "frame_size",
           "non_negative_int", "positive_int", "ssim_keywords"]


def add_metric_arguments(compare):
    """--psnr and --preset: for images and videos alike."""
    compare.add_argument("--psnr", action="store_true",
                         help="also PSNR (per plane and overall, as FFmpeg's psnr filter for videos)")
    compare.add_argument("--preset", metavar="NAME", type=preset_name,
                         help="the SSIM definition: skimage (default), ffmpeg (FFmpeg's ssim "
                              "filter), matlab, matlab_index, pytorch")


def add_ssim_arguments(compare):
    ssim = compare.add_argument_group("SSIM options (as structural_similarity)")
    ssim.add_argument("--win-size", type=odd_int, metavar="N",
                      help="odd side of the window (default 7; 11 with --gaussian)")
    ssim.add_argument("--gaussian", action="store_true",
                      help="Gaussian window (gaussian_weights=True)")
    ssim.add_argument("--sigma", type=positive_float, default=1.5,
                      help="Gaussian sigma (default 1.5)")
    ranges = ssim.add_mutually_exclusive_group()
    ranges.add_argument("--data-range", type=positive_float, metavar="R",
                        help="value range (default: from the dtype, e.g. 255 for 8-bit, 65535 "
                             "for 16-bit; required for floating point images)")
    ranges.add_argument("--bits", type=positive_int, metavar="N",
                        help="the data's bit depth, e.g. 12 for 12-bit data in 16-bit files: "
                             "data range 2**N - 1 (bits= of the API)")
    ssim.add_argument("--population-covariance", action="store_true",
                      help="use_sample_covariance=False (as Wang et al. and most peers)")
    ssim.add_argument("--k1", type=positive_float, default=0.01, help="K1 (default 0.01)")
    ssim.add_argument("--k2", type=positive_float, default=0.03, help="K2 (default 0.03)")
    ssim.add_argument("--gray", action="store_true",
                      help="turn colour images into luma (ITU-R 601) before comparing")
    ssim.add_argument("--depth", type=int, choices=DEPTHS, metavar="BITS",
                      help="first convert images of other bit depths to BITS (8 or 16), e.g. "
                           "a 16-bit master against its 8-bit export: round(v * 255 / 65535)")
    ssim.add_argument("--workers", type=workers, metavar="N",
                      help="threads (default: all cores)")


def add_limit_arguments(compare):
    limits = compare.add_argument_group(
        "limits (checked from each file's header, before decoding it)")
    limits.add_argument("--max-pixels", type=non_negative_int, metavar="N", default=MAX_PIXELS,
                        help=f"refuse images of more pixels (all pages of a volume; default "
                             f"{MAX_PIXELS:,}, as Pillow; 0: no limit)")
    limits.add_argument("--max-pages", type=non_negative_int, metavar="N", default=MAX_PAGES,
                        help=f"refuse TIFF files of more pages (default {MAX_PAGES}; 0: no limit)")


def ssim_keywords(args):
    """The structural_similarity keywords of the SSIM options given, and only
    those: a preset fixes some of them, and refuses them even at their
    defaults. (--bits, --preset and --workers are the caller's.)"""
    options = {}
    if args.gaussian:
        options.update(gaussian_weights=True, sigma=args.sigma)
    if args.win_size is not None:
        options["win_size"] = args.win_size
    if args.population_covariance:
        options["use_sample_covariance"] = False
    if args.k1 != 0.01:
        options["K1"] = args.k1
    if args.k2 != 0.03:
        options["K2"] = args.k2
    if args.data_range is not None:
        options["data_range"] = args.data_range
    return options


# The API's words in its messages, and the command's options that say the same.
_API_WORDS = (
    (r"pass frames=N or shortest=True", "pass --frames N or --shortest"),
    (r"offset=K", "--offset K"),
    (r"\bframes=(\d+)", r"--frames \1"),
    (r"pass size=\(width, height\) and pix_fmt", "pass --size WxH and --pix-fmt"),
    (r"specify the data_range parameter \(for example 255 for 8-bit values\), or bits=",
     "pass --data-range R (for example 255 for 8-bit values), or --bits N"),
    (r" If your images are multichannel \(with color channels\), set channel_axis to the axis "
     r"number corresponding to the channels\.", ""),
    (r"pass win_size explicitly", "pass --win-size"),
    (r"a larger win_size or use_sample_covariance=False",
     "a larger --win-size or --population-covariance"),
    (r"use_sample_covariance=True", "the sample covariance (the default)"),
    (r"data_range=([^ ]+) is too large: \(K \* data_range\)\*\*2 overflows double precision; "
     r"SSIM needs data_range \(and the squared pixel values\) below about 1e150",
     r"--k1/--k2 times the data range (\1) is too large: its square overflows double "
     r"precision; SSIM needs K * R (and the squared pixel values) below about 1e150"),
)


def api_to_options(message):
    """A message of the API, with the keywords it names as the command's options."""
    for pattern, replacement in _API_WORDS:
        message = re.sub(pattern, replacement, message)
    return message


# ---------------------------------------------------------------- value types

def odd_int(text):
    value = _int(text)
    if value < 1 or value % 2 == 0:
        raise argparse.ArgumentTypeError(f"must be an odd integer of at least 1, got {text}")
    return value


def non_negative_int(text):
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def positive_int(text):
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {text}")
    return value


def workers(text):
    value = _int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be a positive number of threads or -1 for all")
    return value


def _int(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None


def positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return value


def preset_name(text):
    """A name of PRESETS (a usage error otherwise, before any file is read)."""
    if text not in PRESETS:
        raise argparse.ArgumentTypeError(f"no preset {text!r}; the presets are "
                                         + ", ".join(PRESETS))
    return text


def frame_size(text):
    """'1920x1080' -> (1920, 1080)."""
    try:
        w, h = (int(n) for n in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1920x1080, got {text!r}") from None
    if w < 1 or h < 1:
        raise argparse.ArgumentTypeError(f"the size must be positive, got {text!r}")
    return (w, h)

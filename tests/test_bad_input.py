"""Every class of wrong input and its outcome: a clear error naming the argument,
or a defined result. The "Bad input" table of docs/guide/errors.md lists the same cases (a test
below keeps the two in step)."""
import math
import re
from pathlib import Path

import numpy as np
import pytest
from skimage.metrics import structural_similarity as ski_ssim

import ssimfast

RNG = np.random.default_rng(0)
A = RNG.integers(0, 256, (16, 16), dtype=np.uint8)
B = A[::-1].copy()
F, G = A / 255.0, B / 255.0
ssim = ssimfast.structural_similarity


def raises(kind, pattern):
    def check(call):
        with pytest.raises(kind, match=pattern):
            call()
    return check


def equals(reference):
    """The result equals reference() (scikit-image on equivalent input) to 1e-9, or both are NaN."""
    def check(call):
        got, want = call(), reference()
        assert (math.isnan(got) and math.isnan(want)) or abs(got - want) < 1e-9, (got, want)
    return check


def warns_then(kind, pattern, reference):
    def check(call):
        with pytest.warns(kind, match=pattern):
            got = call()
        with pytest.warns(kind, match=pattern):  # scikit-image warns the same
            want = reference()
        assert abs(got - want) < 1e-9, (got, want)
    return check


def _overlapping_map_out():
    im = F.copy()
    return ssimfast.ssim_tiled(im, G, data_range=1, map_out=im)


# (label in the guide's table, the call, the check of its outcome)
CASES = [
    ("not an array (None, a string, a dict)", lambda: ssim(None, None),
     raises(TypeError, "im1 has dtype object, which SSIM cannot score")),
    ("string array", lambda: ssim(A.astype(str), B.astype(str)),
     raises(TypeError, "im1 has dtype <U3, which SSIM cannot score")),
    ("list of lists", lambda: ssim(A.tolist(), B.tolist(), data_range=255),
     equals(lambda: ski_ssim(A.astype(np.int64), B.astype(np.int64), data_range=255))),
    ("ragged nested lists", lambda: ssim([[1, 2], [3]], [[1, 2], [3]]),
     raises(ValueError, "im1 cannot be made into an array .* nested sequences of equal lengths")),
    ("0-d array", lambda: ssim(np.uint8(3), np.uint8(4)),
     raises(ValueError, "im1 is a 0-d array")),
    ("empty array", lambda: ssim(np.zeros((0, 16)), np.zeros((0, 16)), data_range=1),
     raises(ValueError, "win_size exceeds image extent")),
    ("shapes differ", lambda: ssim(A, B[:, :15]),
     raises(ValueError, r"im1.shape=\(16, 16\) but im2.shape=\(16, 15\)")),
    ("dtypes differ", lambda: ssim(A, B.astype(np.int16)),
     warns_then(UserWarning, "Inputs have mismatched dtypes",
                lambda: ski_ssim(A, B.astype(np.int16)))),
    ("complex", lambda: ssim(A + 0j, B + 0j, data_range=255),
     raises(TypeError, "im1 is complex .* pass its magnitude")),
    ("object dtype", lambda: ssim(A.astype(object), B.astype(object)),
     raises(TypeError, "im1 has dtype object")),
    ("datetime64", lambda: ssim(A.astype("datetime64[s]"), B.astype("datetime64[s]")),
     raises(TypeError, r"im1 has dtype datetime64\[s\]")),
    ("bool", lambda: ssim(A > 100, B > 100), equals(lambda: ski_ssim(A > 100, B > 100))),
    ("NaN values", lambda: ssim(np.where(A > 250, np.nan, F), G, data_range=1),
     equals(lambda: math.nan)),
    ("Inf values", lambda: ssim(np.where(A > 250, np.inf, F), G, data_range=1),
     equals(lambda: math.nan)),
    ("data_range 0 or negative", lambda: ssim(F, G, data_range=0),
     raises(ValueError, "data_range must be a finite number greater than 0, got 0")),
    ("data_range NaN or infinite", lambda: ssim(F, G, data_range=np.inf),
     raises(ValueError, "data_range must be a finite number greater than 0, got inf")),
    ("data_range too large to square", lambda: ssim(F, G, data_range=1e308),
     raises(ValueError, r"data_range=1e\+308 is too large")),
    ("data_range not a number", lambda: ssim(F, G, data_range="1"),
     raises(TypeError, "data_range must be a real number")),
    ("data_range missing for floats", lambda: ssim(F, G),
     raises(ValueError, "you must specify the data_range")),
    ("even win_size", lambda: ssim(A, B, win_size=4), raises(ValueError, "Window size must be odd")),
    ("win_size 0 or negative", lambda: ssim(A, B, win_size=0),
     raises(ValueError, "win_size must be")),
    ("huge win_size", lambda: ssim(A, B, win_size=10**9 + 1),
     raises(ValueError, "win_size exceeds image extent")),
    ("win_size not an integer", lambda: ssim(A, B, win_size=7.5),
     raises(TypeError, "win_size must be an odd integer")),
    ("sigma 0 (sample covariance)", lambda: ssim(A, B, gaussian_weights=True, sigma=0),
     raises(ValueError, "needs more than one pixel per window")),
    ("sigma 0 (population covariance)",
     lambda: ssim(A, B, gaussian_weights=True, sigma=0, use_sample_covariance=False),
     equals(lambda: ski_ssim(A, B, gaussian_weights=True, sigma=0, use_sample_covariance=False))),
    ("NaN sigma, K1 or K2", lambda: ssim(A, B, K1=np.nan),
     raises(ValueError, "K1 must be a finite number >= 0, got nan")),
    ("channel_axis out of range", lambda: ssim(np.dstack([A] * 3), np.dstack([B] * 3),
                                               channel_axis=3),
     raises(np.exceptions.AxisError, "channel_axis")),
    ("smaller than the window on one axis", lambda: ssim(A[:5], B[:5]),
     raises(ValueError, "win_size exceeds image extent")),
    ("non-native byte order", lambda: ssim(A.astype(">u2"), B.astype(">u2"), data_range=255),
     equals(lambda: ski_ssim(A.astype(np.uint16), B.astype(np.uint16), data_range=255))),
    ("workers 0", lambda: ssim(A, B, workers=0), raises(ValueError, "workers=0 is invalid")),
    ("workers not an integer", lambda: ssim(A, B, workers=1.5),
     raises(TypeError, "workers must be an integer or None")),
    ("workers far above the CPU count", lambda: ssim(A, B, workers=10**6),
     equals(lambda: ski_ssim(A, B))),
    ("unknown keyword", lambda: ssim(A, B, data_rang=255), raises(TypeError, "data_rang")),
    ("ssim_tiled map_out overlapping an input", _overlapping_map_out,
     raises(ValueError, "map_out shares memory with im1")),
]


@pytest.mark.parametrize("label, call, check", CASES, ids=[c[0] for c in CASES])
def test_outcome(label, call, check):
    check(call)


def test_guide_lists_every_case():
    page = Path(__file__).resolve().parent.parent / "docs" / "guide" / "errors.md"
    if not page.exists():
        pytest.skip("the documentation is not beside the tests (installed package)")
    section = page.read_text().split("# Bad input", 1)[1].split("\n# ", 1)[0]
    labels = re.findall(r"^\| (.+?) \|", section, flags=re.M)[1:]  # rows after the header
    assert labels == [c[0] for c in CASES]

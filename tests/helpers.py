"""Shared helpers for the ssimfast tests: the reference call, result comparison
with the contract's tolerances, bit-identity checks, and the image sources
(crops of ``skimage.data`` images and their distortions).

scikit-image 0.26 is the reference; it is only ever imported from ``tests/``.
"""

import functools
import io
import warnings

import numpy as np
import skimage.data
from PIL import Image
from scipy import ndimage as ndi
from skimage.metrics import structural_similarity as _ski_ssim

# --------------------------------------------------------------------------
# Tolerances (DESIGN.md "numerical contract"), keyed by the compute dtype,
# which follows im1 exactly as skimage's ``_supported_float_type(im1.dtype)``.
# --------------------------------------------------------------------------
TOL = {
    np.dtype(np.float64): {"mean": 1e-9, "map": 1e-7, "grad": 1e-6},
    np.dtype(np.float32): {"mean": 2e-5, "map": 2e-4, "grad": 1e-3},
}

ALL_DTYPES = [
    "uint8", "uint16", "int16", "int32", "int64", "float32", "float64",  # native
    "int8", "uint32", "uint64", "float16", "bool",  # converted
]


def compute_dtype(dtype):
    """The float type skimage computes in for im1 of ``dtype``."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f" and dtype.itemsize <= 4:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def ski_ssim(im1, im2, **kwargs):
    """skimage's structural_similarity, minus the ssimfast-only options.

    ``workers`` is dropped; ``multichannel=True`` is translated to
    ``channel_axis=-1`` (skimage 0.26 silently ignores ``multichannel``).
    Lists / PIL images are passed through ``np.asarray`` (skimage needs .shape).
    """
    kwargs = dict(kwargs)
    kwargs.pop("workers", None)
    if kwargs.pop("multichannel", False):
        kwargs.setdefault("channel_axis", -1)
    return _ski_ssim(np.asarray(im1), np.asarray(im2), **kwargs)


def as_tuple(result):
    return result if isinstance(result, tuple) else (result,)


def unpack(result, *, gradient=False, full=False):
    """Split a result into (mean, grad, S), checking the tuple structure."""
    n = 1 + bool(gradient) + bool(full)
    if n == 1:
        assert not isinstance(result, tuple), f"expected a bare scalar, got {type(result)}"
        return result, None, None
    assert isinstance(result, tuple), f"expected a tuple, got {type(result)}"
    assert len(result) == n, f"expected a {n}-tuple, got {len(result)} items"
    mean = result[0]
    grad = result[1] if gradient else None
    smap = result[-1] if full else None
    return mean, grad, smap


def describe(a, b=None, **options):
    """One line naming the inputs (dtype, shape, strides, order) and options."""

    def one(x):
        x = np.asarray(x)
        order = "C" if x.flags.c_contiguous else "F" if x.flags.f_contiguous else "N"
        return (f"dtype={x.dtype.str} shape={x.shape} strides={x.strides} "
                f"order={order} writeable={x.flags.writeable} aligned={x.flags.aligned}")

    s = "im1: " + one(a)
    if b is not None:
        s += " | im2: " + one(b)
    return s + " | options: " + repr(options)


def grad_atol(g_ref, rel):
    """atol for gradients: ``rel`` of the largest reference gradient magnitude."""
    return rel * float(np.max(np.abs(g_ref))) if g_ref.size else 0.0


def _assert_close(got, want, atol, what, where, alt=None):
    """|got - want| <= atol elementwise (NaN matches NaN); with ``alt``, each
    element may instead be within atol of ``alt`` (see assert_matches)."""
    got = np.asarray(got, dtype=np.float64)
    ok = np.isclose(got, np.asarray(want, dtype=np.float64), rtol=0, atol=atol, equal_nan=True)
    if alt is not None:
        ok |= np.isclose(got, np.asarray(alt, dtype=np.float64), rtol=0, atol=atol,
                         equal_nan=True)
    if not np.all(ok):
        bad = np.argwhere(~ok) if got.ndim else [()]
        i = tuple(bad[0])
        msg = (f"{what} differs at {i} ({len(bad)} of {max(got.size, 1)} elements): "
               f"ssimfast {got[i]!r} vs skimage {np.asarray(want)[i]!r}")
        if alt is not None:
            msg += f" / float64 value {np.asarray(alt)[i]!r}"
        raise AssertionError(f"{msg}; atol={atol!r}; {where}")


def assert_matches(fast, ref, *, im1_dtype, gradient=False, full=False, where="",
                   grad_floor=0.0, alt=None):
    """Assert that an ssimfast result agrees with skimage's result.

    Same structure, same types/dtypes/shapes, values within the contract's
    tolerances for the compute dtype of im1.

    ``grad_floor`` is an absolute tolerance floor for the gradient, for inputs
    where the true gradient is (nearly) zero and both implementations return
    rounding noise (see ``test_properties.grad_noise_floor``).  ``alt`` is an
    optional second reference result (skimage on the same values in float64):
    a value may match either.  Both are for synthetic worst cases in the
    property tests; the real-image tests use neither.
    """
    tol = TOL[compute_dtype(im1_dtype)]
    m_f, g_f, s_f = unpack(fast, gradient=gradient, full=full)
    m_r, g_r, s_r = unpack(ref, gradient=gradient, full=full)
    m_a, g_a, s_a = unpack(alt, gradient=gradient, full=full) if alt is not None else (None,) * 3

    assert type(m_f) is type(m_r), (
        f"mean type {type(m_f).__name__} != skimage's {type(m_r).__name__}; {where}")
    assert np.ndim(m_f) == 0, f"mean is not a scalar: {m_f!r}; {where}"
    _assert_close(m_f, m_r, tol["mean"], "mean", where, alt=m_a)
    if full:
        assert isinstance(s_f, np.ndarray), f"S is {type(s_f)}; {where}"
        assert s_f.dtype == s_r.dtype, f"S dtype {s_f.dtype} != {s_r.dtype}; {where}"
        assert s_f.shape == s_r.shape, f"S shape {s_f.shape} != {s_r.shape}; {where}"
        _assert_close(s_f, s_r, tol["map"], "SSIM map", where, alt=s_a)
    if gradient:
        assert isinstance(g_f, np.ndarray), f"grad is {type(g_f)}; {where}"
        assert g_f.dtype == g_r.dtype, f"grad dtype {g_f.dtype} != {g_r.dtype}; {where}"
        assert g_f.shape == g_r.shape, f"grad shape {g_f.shape} != {g_r.shape}; {where}"
        atol = max(grad_atol(g_r, tol["grad"]), grad_floor)
        _assert_close(g_f, g_r, atol, "gradient", where, alt=g_a)


def assert_identical(r1, r2, where=""):
    """Bit-identical results: same structure, types, dtypes, shapes and values."""
    t1, t2 = as_tuple(r1), as_tuple(r2)
    assert len(t1) == len(t2), f"result lengths differ; {where}"
    for i, (x, y) in enumerate(zip(t1, t2)):
        assert type(x) is type(y), f"item {i}: {type(x)} vs {type(y)}; {where}"
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype, f"item {i}: dtype {x.dtype} vs {y.dtype}; {where}"
            assert x.shape == y.shape, f"item {i}: shape {x.shape} vs {y.shape}; {where}"
            if not np.array_equal(x, y, equal_nan=True):
                diff = np.abs(x.astype(np.float64) - y.astype(np.float64))
                raise AssertionError(
                    f"item {i}: arrays not bit-identical, max |diff| = "
                    f"{np.nanmax(diff)!r} at {np.unravel_index(np.nanargmax(diff), diff.shape)}; {where}")
        else:
            assert x == y or (np.isnan(x) and np.isnan(y)), (
                f"item {i}: {x!r} != {y!r} (diff {float(x) - float(y)!r}); {where}")


def run_both(fast_func, im1, im2, **kwargs):
    """Call ssimfast and skimage with the same arguments, warnings ignored."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = fast_func(im1, im2, **kwargs)
        ref = ski_ssim(im1, im2, **kwargs)
    return fast, ref


def check_against_reference(fast_func, im1, im2, **kwargs):
    """Run both implementations, compare, and check the inputs are unchanged."""
    a0, b0 = np.array(im1, copy=True), np.array(im2, copy=True)
    fast, ref = run_both(fast_func, im1, im2, **kwargs)
    where = describe(im1, im2, **kwargs)
    assert_matches(fast, ref, im1_dtype=np.asarray(im1).dtype,
                   gradient=kwargs.get("gradient", False),
                   full=kwargs.get("full", False), where=where)
    assert np.array_equal(np.asarray(im1), a0, equal_nan=True), f"im1 was modified; {where}"
    assert np.array_equal(np.asarray(im2), b0, equal_nan=True), f"im2 was modified; {where}"
    return fast, ref


# --------------------------------------------------------------------------
# Images and distortions
# --------------------------------------------------------------------------
REAL_IMAGES = ["camera", "moon", "astronaut", "coffee", "chelsea", "brick", "grass", "text"]
GRAY_IMAGES = ["camera", "moon", "brick", "grass", "text"]
COLOR_IMAGES = ["astronaut", "coffee", "chelsea"]


@functools.lru_cache(maxsize=None)
def real_image(name):
    """A read-only ``skimage.data`` image (ships with scikit-image, no download)."""
    img = np.ascontiguousarray(getattr(skimage.data, name)())
    img.flags.writeable = False
    return img


def crop_center(img, h=256, w=256):
    """Central crop of at most h x w pixels (channels kept)."""
    H, W = img.shape[:2]
    h, w = min(h, H), min(w, W)
    top, left = (H - h) // 2, (W - w) // 2
    return np.ascontiguousarray(img[top:top + h, left:left + w])


def _to_uint8(x):
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def add_noise(img, sigma=20.0, seed=0):
    """Seeded additive Gaussian noise, clipped back to uint8."""
    rng = np.random.default_rng(seed)
    return _to_uint8(img.astype(np.float64) + sigma * rng.standard_normal(img.shape))


def blur(img, sigma=1.5):
    """Gaussian blur over the two spatial axes only (channels untouched)."""
    sig = [sigma, sigma] + [0] * (img.ndim - 2)
    return _to_uint8(ndi.gaussian_filter(img.astype(np.float64), sig, mode="reflect"))


def jpeg(img, quality=30):
    """JPEG round trip through Pillow, in memory."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    out = np.asarray(Image.open(buf).convert("L" if img.ndim == 2 else "RGB"))
    return np.ascontiguousarray(out)


DISTORTIONS = {
    "noise": add_noise,
    "blur": blur,
    "jpeg30": jpeg,
}


def distort(img, kind):
    return DISTORTIONS[kind](img)


# Value transforms from uint8 pixel values to each dtype, with the data_range
# that keeps the SSIM meaningful.  "Wide" integer variants use (nearly) the
# full dtype range so that overflow in integer accumulators shows up.
DTYPE_VARIANTS = {
    "uint8": (lambda a: a.astype(np.uint8), None),
    "uint16": (lambda a: a.astype(np.uint16), 255),
    "uint16_wide": (lambda a: a.astype(np.uint16) * 257, 65535),
    "int16": (lambda a: a.astype(np.int16), 255),
    "int16_wide": (lambda a: (a.astype(np.int16) - 128) * 256, 65280),
    "int32": (lambda a: a.astype(np.int32), 255),
    "int32_wide": (lambda a: a.astype(np.int32) * (1 << 23) - (1 << 30), 255 * (1 << 23)),
    "int64": (lambda a: a.astype(np.int64), 255),
    "int64_wide": (lambda a: a.astype(np.int64) * (1 << 52) - (1 << 59), 255 * (1 << 52)),
    "float32": (lambda a: a.astype(np.float32) / 255, 1.0),
    "float64": (lambda a: a.astype(np.float64) / 255, 1.0),
    "int8": (lambda a: (a.astype(np.int16) - 128).astype(np.int8), 255),
    "uint32": (lambda a: a.astype(np.uint32), 255),
    "uint32_wide": (lambda a: a.astype(np.uint32) * (1 << 24), 255 * (1 << 24)),
    "uint64": (lambda a: a.astype(np.uint64), 255),
    "uint64_wide": (lambda a: a.astype(np.uint64) * np.uint64(1 << 56), 255 * (1 << 56)),
    "float16": (lambda a: (a.astype(np.float32) / 255).astype(np.float16), 1.0),
    "bool": (lambda a: a > 127, None),
}


def convert(img_u8, variant):
    """(array, data_range) for a uint8 image converted to ``variant``."""
    func, data_range = DTYPE_VARIANTS[variant]
    return np.ascontiguousarray(func(img_u8)), data_range

"""Fuzzing the public API (issue 7, item 2): hypothesis over shapes (1-D to 4-D,
length-1 and empty axes), every real NumPy dtype in both byte orders, strides
(steps, reversed axes, Fortran order, zero strides), channel_axis, and every
option including invalid values (even, zero and huge win_size, sigma 0, NaN or
infinite data_range, K1, K2, workers 0 ...); NaN and Inf pixels; then the same
case through ssim_batch, ssim_tiled and report. And the kernel that scores
several 2-D pairs in one job (kernels.ssim_2d_multi, what channels and video
planes go through) on fuzzed lists of pairs: each pair's ssim_2d bits, or a
ValueError or TypeError.

The property: each call either returns what scikit-image 0.26 returns, within
DESIGN.md's tolerances (with test_properties.py's documented allowances for
synthetic worst cases), or raises ValueError or TypeError with a message; where
scikit-image computes a value and ssimfast refuses, the refusal must be one the
guide documents (docs/guide/hardening.md) (see `documented_refusal`). Never another exception type.

`python -m pytest tests/test_fuzz.py` runs the short profile (HYPOTHESIS_PROFILE,
60 examples by default); `python -m pytest -m slow tests/test_fuzz.py` adds the
long one (10,000 examples, several minutes).
"""
import math
import warnings

import numpy as np
import pytest
from hypothesis import event, given, note, settings
from hypothesis import strategies as st

import ssimfast
from ssimfast._extension import kernels
from ssimfast._ssim import NONE, gaussian_taps, uniform_taps, unit_taps
from helpers import assert_identical, assert_matches, compute_dtype, describe, ski_ssim
from test_properties import grad_noise_floor, values_exceed_data_range

LONG_EXAMPLES = 10_000
MAX_ELEMENTS = 6_000

# Every real dtype NumPy has (bool, 8- to 64-bit integers, half to long double),
# in native and swapped byte order.
REAL_DTYPES = [np.dtype(c) for c in "?bBhHiIlLqQefdg"]
REAL_DTYPES += [d.newbyteorder("S") for d in REAL_DTYPES if d.itemsize > 1]
# Option values (None: not passed). A case takes valid values for all options
# but at most one, which takes one of INVALID's (or "shape": an axis shorter
# than the window, or "channel_axis": one out of range).
VALID = {
    "win_size": [None, None, None, 1, 1, 3, 3, 5, 7, 11, np.int64(5)],
    "sigma": [None, None, 1.5, 0.5, 2.5, 0.0, 1e-20, np.float32(1.0)],
    "K1": [None, None, None, 0.05, 0.0],
    "K2": [None, None, None, 0.05, 0.0],
    "workers": [None, 1, 2, -1, 64, -64],
    "data_range": ["span", "span", "span2", None, 1e-300, np.float32(255), 10**30],
}
INVALID = {
    "win_size": [2, 4, 0, -1, 10**6, 3.0, True],
    "sigma": [-1.0, math.nan, math.inf, 10**400],
    "K1": [-0.01, math.nan, math.inf, 10**400],
    "K2": [-0.01, math.nan, -math.inf],
    "workers": [0, 2.0, "2"],
    "data_range": [0, -1.0, math.nan, math.inf, -math.inf, 10**400, True, "255"],
    "shape": [],
    "channel_axis": [],
}
NUMERIC_OPTIONS = ("win_size", "data_range", "K1", "K2", "sigma")
REFUSALS = (ValueError, TypeError)


# --------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------
def pixel_values(rng, shape, dtype, mode):
    """Values of a native `dtype`: small (0..255 / [0, 1]), the dtype's full
    range, one flat value, or two values (flat regions and edges)."""
    n = math.prod(shape)
    if dtype.kind == "b":
        v = rng.random(n) < 0.5
    elif dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo, hi = (max(int(info.min), 0), min(int(info.max), 255)) if mode == "small" \
            else (int(info.min), int(info.max))
        v = rng.integers(lo, hi, size=n, dtype=dtype, endpoint=True)
    else:
        v = rng.random(n) if mode == "small" else rng.uniform(-1000, 1000, n)
    if mode == "flat":
        v[:] = v[0] if n else 0
    elif mode == "two":
        v = np.where(rng.random(n) < 0.5, v[0], v[-1]) if n else v
    return v.astype(dtype).reshape(shape)


@st.composite
def images(draw, shape, dtype):
    """An array of `shape` and `dtype` as a view: steps, reversed axes, C or F
    base, or (one time in 12) a zero-stride broadcast of one value."""
    native = dtype.newbyteorder("=")
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mode = draw(st.sampled_from(["small", "small", "full", "flat", "two"]))
    if draw(st.integers(0, 11)) == 0:
        return np.broadcast_to(pixel_values(rng, (1,), native, mode)[0].astype(dtype), shape)
    steps = [draw(st.sampled_from([1, 1, 1, 2, 3])) for _ in shape]
    if math.prod(n * s for n, s in zip(shape, steps)) > 4 * MAX_ELEMENTS:
        steps = [1] * len(shape)
    base = pixel_values(rng, tuple(n * s for n, s in zip(shape, steps)), native, mode)
    if native.kind == "f" and base.size and draw(st.integers(0, 7)) == 0:
        special = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
        base.flat[draw(st.integers(0, base.size - 1))] = special
    if draw(st.booleans()):
        base = np.asfortranarray(base)
    base = base.astype(dtype, order="K")
    flips = [draw(st.booleans()) for _ in shape]
    view = base[tuple(slice(None, None, -s if f else s) for s, f in zip(steps, flips))]
    return view[tuple(slice(0, n) for n in shape)]


def extent(options):
    """The window side skimage uses for these options (valid ones)."""
    win = options.get("win_size")
    if isinstance(win, (int, np.integer)) and not isinstance(win, bool) and 1 <= win < 100:
        return int(win)
    if options.get("gaussian_weights"):
        sigma = options.get("sigma", 1.5)
        if isinstance(sigma, (float, np.floating)) and 0 <= sigma < 10:
            return 2 * int(3.5 * sigma + 0.5) + 1
    return 7


@st.composite
def fuzz_cases(draw):
    """(im1, im2, options): valid calls, or calls invalid on one count."""
    bad = draw(st.sampled_from([None] * 6 + sorted(INVALID)))
    options = {}
    for name in VALID:
        value = draw(st.sampled_from(INVALID[name] if name == bad else VALID[name]))
        if value is not None:
            options[name] = value
    for name in ("gaussian_weights", "use_sample_covariance", "full", "gradient"):
        if draw(st.booleans()):
            options[name] = draw(st.booleans())
    ext = extent(options)
    if ext == 1 and bad is None and draw(st.integers(0, 3)):
        options["use_sample_covariance"] = False  # else a documented ValueError
    # As many axes (1-D to 4-D) as keep a window-sized image small.
    ndim = draw(st.integers(1, max(1, min(4, int(math.log(MAX_ELEMENTS) / math.log(ext + 1))))))
    max_len = max(ext + 2, int(MAX_ELEMENTS ** (1 / ndim)))
    channel_axis = None
    if ndim >= 2 and draw(st.booleans()) or bad == "channel_axis":
        channel_axis = (draw(st.sampled_from([-ndim - 1, ndim])) if bad == "channel_axis"
                        else draw(st.integers(-ndim, ndim - 1)))
        options["channel_axis"] = channel_axis
    shape = []
    for ax in range(ndim):
        if channel_axis is not None and ax == channel_axis % ndim and bad != "channel_axis":
            shape.append(draw(st.integers(1, 3)))
        else:
            shape.append(draw(st.integers(ext, max_len)))
    if bad == "shape":
        shape[draw(st.integers(0, ndim - 1))] = draw(st.integers(0, max(0, ext - 1)))
    shape = tuple(shape)

    dtype1 = draw(st.sampled_from(REAL_DTYPES))
    dtype2 = dtype1 if draw(st.integers(0, 5)) else draw(st.sampled_from(REAL_DTYPES))
    if dtype2 != dtype1 and compute_dtype(dtype1) == np.float32:
        # skimage squares int64 values in float32 there (overflow): small dtypes only
        dtype2 = draw(st.sampled_from([np.dtype(c) for c in "?bBhefd"]))
    a = draw(images(shape, dtype1))
    b = draw(images(shape, dtype2))

    data_range = options.pop("data_range", None)
    if data_range is None and bad != "data_range" and "f" in (dtype1.kind, dtype2.kind):
        data_range = "span"
    span = max(_span(a), _span(b), 1.0)
    if data_range == "span":
        options["data_range"] = span
    elif data_range == "span2":
        options["data_range"] = 2.5 * span
    elif data_range is not None:
        options["data_range"] = data_range
    return a, b, options


def _span(x):
    """The largest value minus the smallest the dtype of `x` is drawn with."""
    dtype = x.dtype
    if dtype.kind == "b":
        return 1
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return int(info.max) - int(info.min)
    return 2000.0


# --------------------------------------------------------------------------
# The property
# --------------------------------------------------------------------------
def call(func, *args, **kwargs):
    """(result, exception) of one call, warnings silenced."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return func(*args, **kwargs), None
        except Exception as exc:  # noqa: BLE001 - the property sorts exceptions
            return None, exc


def assert_refusal(exc, where):
    """A refusal is a ValueError or TypeError with a message."""
    if not isinstance(exc, REFUSALS):
        raise AssertionError(f"{type(exc).__name__}({exc}) is not a ValueError or "
                             f"TypeError; {where}") from exc
    assert str(exc).strip(), f"{type(exc).__name__} without a message; {where}"


def documented_refusal(exc, options):
    """True if the guide documents that ssimfast refuses these options where
    scikit-image computes a result (the parameter table)."""
    workers = options.get("workers")  # ssimfast's own option: an int, not 0, or None
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers == 0):
        return True
    win = options.get("win_size")
    if isinstance(exc, TypeError):
        # Options of the wrong type (the docstring): a bool or str for a number,
        # a non-integer win_size (skimage takes 3.0 and True).
        if any(isinstance(options.get(k), (bool, str)) for k in NUMERIC_OPTIONS):
            return True
        return win is not None and not isinstance(win, (int, np.integer))
    if win is not None and win < 1:
        return True  # win_size below 1
    if extent(options) == 1 and options.get("use_sample_covariance", True):
        return True  # a 1-pixel window with sample covariance (skimage divides by zero,
        # unless there is no channel to score)
    data_range = options.get("data_range")
    if data_range is not None and not (_finite(data_range) and float(data_range) > 0):
        return True  # data_range must be finite and greater than 0
    if any(not _finite(options.get(k, 0.01)) for k in ("K1", "K2", "sigma")):
        return True  # NaN or infinite K1, K2, sigma
    return False


def _finite(value):
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int beyond float range
        return False


def ill_conditioned(a, b, options):
    """Inputs where scikit-image itself is imprecise or 0/0: pixel values beyond
    data_range (test_properties.py), a zero K1 or K2 (flat windows are 0/0),
    or a data_range so small that C1 and C2 underflow to 0 (or so large that
    they overflow in float32), NaN or Inf pixels. Only the structure
    of the result (types, dtypes, shapes) is compared for them."""
    if options.get("K1", 0.01) == 0 or options.get("K2", 0.03) == 0 or a.size == 0:
        return True  # (no pixels: no channels, the mean is NaN)
    # (skimage's float32 arithmetic overflows (K2 * data_range)**2 from ~6e20)
    largest = 1e15 if compute_dtype(a.dtype) == np.float32 else 1e150
    if not 1e-150 < float(options.get("data_range", 1.0)) < largest:
        return True
    if any(x.dtype.kind == "f" and not np.all(np.isfinite(x)) for x in (a, b)):
        return True  # NaN and Inf spread differently through running sums
    return values_exceed_data_range(a, b, options)


def assert_same_structure(got, ref, where):
    got = got if isinstance(got, tuple) else (got,)
    ref = ref if isinstance(ref, tuple) else (ref,)
    assert len(got) == len(ref), where
    for x, y in zip(got, ref):
        assert type(x) is type(y), f"{type(x)} vs {type(y)}; {where}"
        if isinstance(y, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape, where


def check_structural_similarity(a, b, options, where):
    """The property for structural_similarity; returns (result, exception)."""
    a0, b0 = a.copy(), b.copy()
    got, exc = call(ssimfast.structural_similarity, a, b, **options)
    assert np.array_equal(a, a0, equal_nan=True) and np.array_equal(b, b0, equal_nan=True), \
        f"input modified; {where}"
    if exc is not None:
        assert_refusal(exc, where)
    if isinstance(options.get("data_range"), int) and options["data_range"] > 10**300:
        return got, exc  # skimage cannot square it either (OverflowError)
    ref, ref_exc = call(ski_ssim, a, b, **options)
    if ref_exc is not None:
        event(f"both raise ({type(ref_exc).__name__}: {str(ref_exc)[:40]})")
        assert exc is not None, f"skimage raised {ref_exc!r}, ssimfast returned; {where}"
        return got, exc
    if exc is not None:
        event(f"documented refusal: {type(exc).__name__}")
        assert documented_refusal(exc, options), (
            f"ssimfast raised {exc!r} where skimage computed a result; {where}")
        return got, exc
    gradient, full = options.get("gradient", False), options.get("full", False)
    if isinstance(ref, tuple) and compute_dtype(a.dtype) == np.float32 and any(
            isinstance(v, np.generic) and v.dtype.itemsize == 8 for v in options.values()):
        # A 64-bit NumPy scalar option (np.int64 win_size) promotes skimage's float32
        # arrays to float64 (NumPy 2 promotion); ssimfast keeps float32.
        event("NumPy scalar option: skimage's arrays cast to float32")
        ref = tuple(r.astype(np.float32) if isinstance(r, np.ndarray) else r for r in ref)
    if ill_conditioned(a, b, options):
        event("computed: ill-conditioned, structure only")
        assert_same_structure(got, ref, where)
        return got, exc
    event("computed: compared with skimage")
    alt = None
    if compute_dtype(a.dtype) == np.float32:  # as test_properties: float64 on the same values
        alt, _ = call(ski_ssim, a.astype(np.float32).astype(np.float64),
                      b.astype(np.float32).astype(np.float64), **options)
    assert_matches(got, ref, im1_dtype=a.dtype, gradient=gradient, full=full, where=where,
                   grad_floor=grad_noise_floor(a, b, options) if gradient else 0.0, alt=alt)
    return got, exc


def check_batch(a, b, options, single, where):
    """ssim_batch of [a, a reversed] and [b, b reversed]: each score bit for bit
    structural_similarity's, or a refusal where it refused."""
    pairs1, pairs2 = [a, a[::-1]], [b, b[::-1]]
    stacked = a.dtype == b.dtype and a.ndim == 2  # (2, H, W): the compiled batch loop
    if stacked:
        pairs1, pairs2 = np.stack(pairs1), np.stack(pairs2)
    got, exc = call(ssimfast.ssim_batch, pairs1, pairs2, **options)
    single_exc = single[1]
    if exc is not None or single_exc is not None:
        assert exc is not None and single_exc is not None, (
            f"ssim_batch: {exc!r}, structural_similarity: {single_exc!r}; {where}")
        assert_refusal(exc, where)
        return
    want = [single[0], call(ssimfast.structural_similarity, a[::-1], b[::-1], **options)[0]]
    scores = got[0] if isinstance(got, tuple) else got
    for i, w in enumerate(want):
        m = w[0] if isinstance(w, tuple) else w
        assert scores[i] == float(m) or (np.isnan(scores[i]) and np.isnan(m)), (
            f"ssim_batch pair {i}: {scores[i]!r} != {m!r}; {where}")


def check_tiled(a, b, options, tile, where):
    options = {k: v for k, v in options.items() if k not in ("full", "gradient")}
    got, exc = call(ssimfast.ssim_tiled, a, b, tile=tile, **options)
    want, want_exc = call(ssimfast.structural_similarity, a, b, **options)
    if want_exc is not None or exc is not None:
        assert exc is not None, f"ssim_tiled returned where structural_similarity raised; {where}"
        assert_refusal(exc, where)
        assert want_exc is not None or tile == 0, f"ssim_tiled raised {exc!r}; {where}"
        return
    assert type(got) is type(want), f"ssim_tiled type {type(got)}; {where}"
    spatial = a.ndim - (options.get("channel_axis") is not None)
    if spatial == 2:  # bands of rows: bit-identical
        assert got == want or (np.isnan(got) and np.isnan(want)), f"{got!r} != {want!r}; {where}"
    else:
        assert np.isclose(got, want, rtol=1e-12, atol=1e-12, equal_nan=True), (
            f"ssim_tiled {got!r} vs {want!r}; {where}")


def check_report(a, b, options, where):
    options = {k: v for k, v in options.items() if k not in ("full", "gradient")}
    r, exc = call(ssimfast.report, a, b, **options)
    want, want_exc = call(ssimfast.structural_similarity, a, b, full=True, **options)
    if want_exc is not None or exc is not None:
        assert exc is not None and want_exc is not None, f"report: {exc!r}; {where}"
        assert_refusal(exc, where)
        return
    assert r.mean == float(want[0]) or (math.isnan(r.mean) and np.isnan(want[0])), where
    spatial = [n for ax, n in enumerate(a.shape)
               if options.get("channel_axis") is None or ax != options["channel_axis"] % a.ndim]
    assert len(r.argmin) == len(spatial) and all(0 <= i < n for i, n in zip(r.argmin, spatial)), \
        f"argmin {r.argmin} outside {spatial}; {where}"
    assert all(0 <= f <= 1 for f in r.fraction_below.values()), where
    assert r.to_dict()["band"] == r.band


@st.composite
def full_cases(draw):
    a, b, options = draw(fuzz_cases())
    return a, b, options, draw(st.sampled_from([None, None, 1, 2, 5, 0]))


def check_case(case):
    a, b, options, tile = case
    where = describe(a, b, **options) + f" | tile={tile}"
    note(where)
    single = check_structural_similarity(a, b, options, where)
    check_batch(a, b, options, single, where)
    check_tiled(a, b, options, tile, where)
    check_report(a, b, options, where)


@given(case=full_cases())
def test_fuzz(case):
    check_case(case)


@pytest.mark.slow
@settings(max_examples=LONG_EXAMPLES)
@given(case=full_cases())
def test_fuzz_long(case):
    check_case(case)


# --------------------------------------------------------------------------
# kernels.ssim_2d_multi: several 2-D pairs in one job of the pool
# --------------------------------------------------------------------------
MULTI_DTYPES = [np.dtype(c) for c in "BHhiqfd"]  # the kernels' pixel types


@st.composite
def multi_cases(draw):
    """(xs, ys, taps, crop, scale, running, want_map, want_grad, n_threads, bad):
    1 to 5 pairs of one kernel dtype, each of its own shape (some smaller than
    the window, some with no interior) and strides (images' views); a Gaussian,
    uniform or (integers) exact running window; maps and gradients wanted or
    not; any worker count. bad: one argument made invalid, or None."""
    dtype = draw(st.sampled_from(MULTI_DTYPES))
    window = draw(st.sampled_from(["gaussian", "uniform", "running"]))
    if window == "running" and dtype.kind == "f":
        window = "uniform"
    win = draw(st.sampled_from([1, 3, 7, 11]))
    if window == "gaussian":
        taps, scale, running = gaussian_taps(draw(st.sampled_from([0.5, 1.5])), win // 2), 1.0, False
    elif window == "uniform":
        taps, scale, running = uniform_taps(win), 1.0, False
    else:
        taps, scale, running = unit_taps(win), 1.0 / (win * win), True
    crop = draw(st.sampled_from([0, win // 2, win // 2, win]))
    k = draw(st.integers(1, 5))
    most = max(2, int(math.sqrt(MAX_ELEMENTS / k)))
    xs, ys = [], []
    for _ in range(k):
        shape = (draw(st.integers(1, most)), draw(st.integers(1, most)))
        xs.append(draw(images(shape, dtype)))
        ys.append(draw(images(shape, dtype)))
    bad = draw(st.sampled_from([None] * 8 + ["shape", "length", "totals", "dtype", "map"]))
    return (xs, ys, taps, crop, scale, running, draw(st.booleans()), draw(st.booleans()),
            draw(st.sampled_from([1, 2, 3, 8])), bad)


def check_multi(case):
    """ssim_2d_multi gives each pair's ssim_2d (total, map, gradient terms) bit
    for bit, whatever the worker count; an invalid argument raises a ValueError
    or TypeError with a message."""
    xs, ys, taps, crop, scale, running, want_map, want_grad, n_threads, bad = case
    if running and any(x.dtype.itemsize > 2 or x.dtype == np.int16 for x in xs):
        running = False  # (window sums must be exact integers: small unsigned values)
        taps, scale = uniform_taps(taps.shape[0]), 1.0
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    where = (f"{len(xs)} pairs {[x.shape for x in xs]} {xs[0].dtype}, {taps.shape[0]} taps, "
             f"crop={crop}, running={running}, map={want_map}, grad={want_grad}, "
             f"workers={n_threads}, bad={bad}")
    note(where)
    want = []
    for x, y in zip(xs, ys):
        smap = np.full(x.shape, np.nan) if want_map else NONE[2]
        tmaps = np.full((3,) + x.shape, np.nan) if want_grad else NONE[3]
        total, exc = call(kernels.ssim_2d, x, y, taps, taps, crop, x.shape[0] - crop, crop,
                          scale, c1, c2, 1.0, smap, tmaps, 1, running, np.empty(0))
        if exc is not None:  # (a crop beyond the rows: refused alike by both)
            assert_refusal(exc, where)
            return
        want.append((np.float64(total), smap, tmaps))
    smaps = [np.full(x.shape, np.nan) if want_map else NONE[2] for x in xs]
    tmaps = [np.full((3,) + x.shape, np.nan) if want_grad else NONE[3] for x in xs]
    totals = np.full(len(xs), np.nan)
    if bad == "shape":
        ys = ys[:-1] + [ys[-1][:, :-1] if ys[-1].shape[1] > 1 else ys[-1][:0]]
    elif bad == "length":
        ys = ys[:-1]
    elif bad == "totals":
        totals = np.full(len(xs) + 1, np.nan)
    elif bad == "dtype":
        xs = xs[:-1] + [np.zeros(xs[-1].shape, np.int8)]
    elif bad == "map":
        smaps[-1] = np.empty((xs[-1].shape[0] + 1, xs[-1].shape[1]))
    _, exc = call(kernels.ssim_2d_multi, xs, ys, taps, taps, crop, crop, scale, c1, c2, 1.0,
                  smaps, tmaps, n_threads, running, totals)
    if bad is not None:
        assert exc is not None, f"ssim_2d_multi took an invalid argument; {where}"
        assert_refusal(exc, where)
        return
    assert exc is None, f"ssim_2d_multi raised {exc!r}; {where}"
    for k, w in enumerate(want):
        assert_identical((totals[k], smaps[k], tmaps[k]), w, where=f"pair {k}; {where}")


@given(case=multi_cases())
def test_fuzz_ssim_2d_multi(case):
    check_multi(case)


@pytest.mark.slow
@settings(max_examples=LONG_EXAMPLES)
@given(case=multi_cases())
def test_fuzz_ssim_2d_multi_long(case):
    check_multi(case)

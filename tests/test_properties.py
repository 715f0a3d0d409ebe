"""Property-based tests (hypothesis) against scikit-image 0.26.

Inputs vary in number of dimensions (1-D to 4-D), axis lengths (0 to ~40,
including length-1 axes), dtype and byte order, memory layout (slicing steps,
reversed axes, Fortran order), channel axis and options.  For each drawn case:

- ssimfast agrees with skimage (values within the contract's tolerances, same
  types and dtypes, same UserWarnings); where skimage raises, ssimfast raises
  the same exception class ("both raised" counts as agreement; skimage's
  ZeroDivisionError for a 1-pixel window with sample covariance is a ValueError
  in ssimfast);
- the result does not depend on the layout (bit-identical to a C copy);
- ssim(a, a) == 1.0 exactly; ssim(a, b) == ssim(b, a) up to rounding;
- the mean and the map lie in [-1, 1] up to rounding.

Two documented allowances for synthetic worst cases, where the reference itself
is imprecise (in the spirit of fast-histogram's ``assume()``): float16/float32
values may match skimage run in float64 on the same values instead of its
float32 pipeline, and when pixel values exceed the data_range (mixed dtypes with
data_range inferred from a narrower im1) only types, dtypes and shapes are
compared.  The gradient gets a rounding-noise floor for inputs whose true
gradient is ~0 (``grad_noise_floor``).  Real images (test_reference.py) are
held to the plain tolerances.
"""

import math
import warnings

import numpy as np
from hypothesis import assume, event, given, note
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ssimfast import structural_similarity

from helpers import TOL, assert_identical, assert_matches, compute_dtype, describe, ski_ssim

MAX_ELEMENTS = 12_000

DTYPE_CODES = ["u1", "u2", "i2", "i4", "i8", "f4", "f8", "i1", "u4", "u8", "f2", "b1"]
WARNING_KEYS = ("mismatched dtypes", "Setting data_range based on im1.dtype")


# --------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------
def value_strategy(dtype, mode):
    """Elements for ``dtype``; mode "small" keeps to 0..255 / [0, 1]."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return st.booleans()
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if mode == "small":
            return st.integers(max(info.min, 0), min(info.max, 255))
        return st.integers(int(info.min), int(info.max))
    width = 8 * dtype.itemsize
    if mode == "small":
        return st.floats(0.0, 1.0, width=width)
    return st.floats(-1000.0, 1000.0, width=width)


def value_span(dtype, mode):
    """An upper bound of max - min for values drawn with ``value_strategy``."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return 1
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if mode == "small":
            return min(int(info.max), 255) - max(int(info.min), 0)
        return int(info.max) - int(info.min)
    return 1.0 if mode == "small" else 2000.0


@st.composite
def layouts(draw, shape):
    """Per axis: (step, reversed), and C or F order of the base buffer.

    Steps > 1 only while the base buffer stays below MAX_ELEMENTS.
    """
    size = max(math.prod(shape), 1)
    steps = []
    for n in shape:
        step = draw(st.sampled_from([1, 1, 1, 2, 3]))
        if size * step > MAX_ELEMENTS:
            step = 1
        size *= step
        steps.append(step)
    flips = tuple(draw(st.booleans()) for _ in shape)
    order = draw(st.sampled_from("CF"))
    return tuple(steps), flips, order


def _value_bounds(dtype, mode):
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if mode == "small":
            return max(int(info.min), 0), min(int(info.max), 255)
        return int(info.min), int(info.max)
    return (0.0, 1.0) if mode == "small" else (-1000.0, 1000.0)


@st.composite
def image(draw, shape, dtype, mode, layout):
    """An array of logical ``shape`` drawn as a view into a larger base.

    The values come either from hypothesis (few distinct values: flat regions,
    extremes) or from a seeded NumPy generator (texture everywhere).
    """
    steps, flips, order = layout
    base_shape = tuple(max(n, 1) * s if n else 0 for n, s in zip(shape, steps))
    native = dtype.newbyteorder("=")
    if draw(st.booleans()):
        base = draw(hnp.arrays(native, base_shape, elements=value_strategy(native, mode)))
    else:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        if native.kind == "b":
            base = rng.random(base_shape) < 0.5
        elif native.kind in "iu":
            lo, hi = _value_bounds(native, mode)
            base = rng.integers(lo, hi, size=base_shape, dtype=native, endpoint=True)
        else:
            lo, hi = _value_bounds(native, mode)
            base = rng.uniform(lo, hi, size=base_shape).astype(native)
    if order == "F":
        base = np.asfortranarray(base)
    base = base.astype(dtype, order="K")  # byte order, keeping the memory order
    index = tuple(slice(None, None, -s if f else s) for s, f in zip(steps, flips))
    view = base[index]
    view = view[tuple(slice(0, n) for n in shape)]
    assert view.shape == shape
    return view


def gaussian_extent(sigma):
    """skimage's window for gaussian_weights without win_size: 2 * radius + 1."""
    return 2 * int(3.5 * sigma + 0.5) + 1


@st.composite
def ssim_cases(draw, *, allow_mixed=True):
    """(im1, im2, options).

    Nine cases in ten are built to be valid (the window fits every spatial
    axis, a float image gets a data_range); one in ten is "wild" (any sizes,
    including 0, and any window) to check that both implementations raise
    together.
    """
    ndim = draw(st.integers(1, 4))
    channel_axis = None
    if ndim >= 2 and draw(st.booleans()):
        channel_axis = draw(st.integers(-ndim, ndim - 1))
    max_len = {1: 40, 2: 40, 3: 16, 4: 8}[ndim]
    wild = draw(st.integers(0, 9)) == 0

    options = {}
    gaussian = draw(st.booleans())
    sigma = 1.5
    if gaussian:
        options["gaussian_weights"] = True
        sigma = draw(st.sampled_from([0.3, 0.5, 1.0, 1.5, 2.5]))
        if sigma != 1.5 or draw(st.booleans()):
            options["sigma"] = sigma
    if wild:
        win = draw(st.sampled_from([None, 1, 3, 5, 7, 9, 11, 4]))
    else:
        win = draw(st.sampled_from([None, None, 1, 3, 3, 5, 5, 7, 9, 11]))
        default = gaussian_extent(sigma) if gaussian else 7
        if (default if win is None else win) > max_len:
            win = draw(st.sampled_from([w for w in (1, 3, 5, 7) if w <= max_len]))
    if win is not None:
        options["win_size"] = win
    extent = win if win is not None else (gaussian_extent(sigma) if gaussian else 7)

    shape = []
    for ax in range(ndim):
        if channel_axis is not None and ax == channel_axis % ndim:
            shape.append(draw(st.integers(1, 4)))
        elif wild:
            shape.append(draw(st.one_of(st.integers(0, max_len), st.sampled_from([0, 1, 2, 3]))))
        else:
            shape.append(draw(st.integers(extent, max(extent, max_len))))
    shape = tuple(shape)

    if extent == 1 and not wild:
        options["use_sample_covariance"] = False  # skimage divides by zero otherwise
    elif draw(st.booleans()):
        options["use_sample_covariance"] = draw(st.booleans())
    if draw(st.integers(0, 3)) == 0:
        options["K1"] = draw(st.sampled_from([0.005, 0.01, 0.05, 0.1]))
        options["K2"] = draw(st.sampled_from([0.01, 0.03, 0.06, 0.2]))

    order1 = draw(st.sampled_from("<>"))
    code1 = draw(st.sampled_from(DTYPE_CODES))
    dtype1 = np.dtype(order1 + code1)
    if allow_mixed and draw(st.integers(0, 9)) == 0:
        dtype2 = np.dtype(draw(st.sampled_from("<>")) + draw(st.sampled_from(DTYPE_CODES)))
    elif draw(st.integers(0, 4)) == 0:  # same type, maybe the other byte order
        dtype2 = np.dtype(draw(st.sampled_from("<>")) + code1)
    else:
        dtype2 = dtype1
    mode = draw(st.sampled_from(["small", "full"]))
    if dtype2 != dtype1 and compute_dtype(dtype1) == np.float32:
        # skimage would square full-range int64 values in float32 (overflow)
        mode = "small"

    a = draw(image(shape, dtype1, mode, draw(layouts(shape))))
    b = draw(image(shape, dtype2, mode, draw(layouts(shape))))

    span = max(value_span(dtype1, mode), value_span(dtype2, mode))
    has_float = "f" in (dtype1.kind, dtype2.kind)
    dr_choice = draw(st.sampled_from(["none", "span", "span2"]))
    if dr_choice == "none" and has_float and not wild:
        dr_choice = "span"
    if dr_choice == "span":
        options["data_range"] = span
    elif dr_choice == "span2":
        options["data_range"] = 2.5 * span
    if channel_axis is not None:
        options["channel_axis"] = channel_axis
    if draw(st.booleans()):
        options["workers"] = draw(st.sampled_from([1, 2, -1]))
    return a, b, options


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------
def _call(func, a, b, options):
    """(result, exception, warning keys) of one call."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        try:
            res, exc = func(a, b, **options), None
        except Exception as e:  # noqa: BLE001 - we compare exception classes
            res, exc = None, e
    keys = sorted({k for w in record if issubclass(w.category, UserWarning)
                   and not issubclass(w.category, (FutureWarning, DeprecationWarning))
                   for k in WARNING_KEYS if k in str(w.message)})
    return res, exc, keys


def _c_copy(x):
    return np.ascontiguousarray(x).astype(x.dtype.newbyteorder("="))


# Rounding-noise floor of the gradient, relative to its natural scale (below).
GRAD_FLOOR = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-6}


def grad_noise_floor(a, b, options):
    """Absolute gradient tolerance floor for degenerate (e.g. flat) inputs.

    Every term of skimage's gradient (Avanaki's Eqs. 7-8) is bounded by
    ``2/N * max|x| * (1/C1 + 1/C2)``; where the terms cancel (the true gradient
    is ~0, e.g. identical flat images) both implementations return rounding
    noise of ``eps * scale`` and ``1e-6 * max|g_ref|`` would compare noise with
    noise.  The floor is a tiny multiple of that scale.
    """
    R = effective_data_range(a, options)
    C1 = (options.get("K1", 0.01) * R) ** 2
    C2 = (options.get("K2", 0.03) * R) ** 2
    ch = options.get("channel_axis")
    n = a.size // (a.shape[ch] if ch is not None else 1)
    mag = max(float(np.max(np.abs(a.astype(np.float64)))) if a.size else 0.0,
              float(np.max(np.abs(b.astype(np.float64)))) if b.size else 0.0)
    scale = 2.0 / max(n, 1) * mag * (1 / C1 + 1 / C2)
    return GRAD_FLOOR[compute_dtype(a.dtype)] * scale


def effective_data_range(a, options):
    """data_range as given, or as skimage infers it from im1's dtype."""
    R = options.get("data_range")
    if R is None:
        R = 1 if a.dtype.kind == "b" else int(np.iinfo(a.dtype).max) - int(np.iinfo(a.dtype).min)
    return R


def values_exceed_data_range(a, b, options):
    """True when a pixel's magnitude exceeds the data range (ill-conditioned reference)."""
    m = max(float(np.max(np.abs(x.astype(np.float64)))) if x.size else 0.0 for x in (a, b))
    return m > effective_data_range(a, options)


def _mean(res):
    return res[0] if isinstance(res, tuple) else res


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------
@given(case=ssim_cases(), gradient=st.booleans(), full=st.booleans())
def test_agrees_with_skimage(case, gradient, full):
    a, b, options = case
    options = dict(options, gradient=gradient, full=full)
    where = describe(a, b, **options)
    note(where)
    a0, b0 = a.copy(), b.copy()

    ref, ref_exc, ref_warn = _call(ski_ssim, a, b, options)
    got, got_exc, got_warn = _call(structural_similarity, a, b, options)

    assert np.array_equal(a, a0) and np.array_equal(b, b0), f"input modified; {where}"
    if ref_exc is not None:
        event(f"both raise {type(ref_exc).__name__}")
        expected = ValueError if isinstance(ref_exc, ZeroDivisionError) else type(ref_exc)
        assert got_exc is not None, (
            f"skimage raised {ref_exc!r} but ssimfast returned {got!r}; {where}")
        assert isinstance(got_exc, expected), (
            f"skimage raised {type(ref_exc).__name__}({ref_exc}), ssimfast raised "
            f"{type(got_exc).__name__}({got_exc}); {where}")
        return
    if got_exc is not None:
        raise AssertionError(f"ssimfast raised {got_exc!r} where skimage did not; {where}") \
            from got_exc
    event("computed")
    assert got_warn == ref_warn, f"warnings {got_warn} != skimage's {ref_warn}; {where}"
    if values_exceed_data_range(a, b, options):
        # Mixed dtypes with data_range inferred from the narrower im1 (e.g. uint8 im1,
        # full-range int32 im2): skimage's float64 statistics then lose digits to
        # cancellation (variance ~ M**2 * eps against C2 ~ (K2 * 255)**2), so only
        # the result's structure is compared (cf. fast-histogram's assume() for
        # inputs where the reference is known to be imprecise).
        event("values exceed data_range: structure only")
        m_f, m_r = _mean(got), _mean(ref)
        assert type(m_f) is type(m_r), f"{type(m_f)} vs {type(m_r)}; {where}"
        for x, y in zip(got if isinstance(got, tuple) else (got,),
                        ref if isinstance(ref, tuple) else (ref,)):
            if isinstance(y, np.ndarray):
                assert x.dtype == y.dtype and x.shape == y.shape, where
        return
    alt = None
    if compute_dtype(a.dtype) == np.float32:
        # skimage computes float16/float32 input in float32, and on flat regions
        # of values near data_range its variances lose digits to cancellation
        # (eps32 * mean**2 against C2): up to ~1e-4 on the mean and ~1e-3 on the
        # map for synthetic inputs, beyond the contract's float32 tolerances,
        # while real images stay well inside them (test_reference.py).  A value
        # may therefore also match skimage run on the same float32 values in
        # float64, with the same tolerances.
        alt = _call(ski_ssim, a.astype(np.float32).astype(np.float64),
                    b.astype(np.float32).astype(np.float64), options)[0]
    assert_matches(got, ref, im1_dtype=a.dtype, gradient=gradient, full=full, where=where,
                   grad_floor=grad_noise_floor(a, b, options) if gradient else 0.0, alt=alt)


@given(case=ssim_cases())
def test_layout_independent(case):
    a, b, options = case
    options = dict(options, full=True, gradient=True)
    where = describe(a, b, **options)
    note(where)
    got, exc, _ = _call(structural_similarity, a, b, options)
    want, exc_c, _ = _call(structural_similarity, _c_copy(a), _c_copy(b), options)
    if exc is not None or exc_c is not None:
        assert type(exc) is type(exc_c), f"{exc!r} vs {exc_c!r} for the C copy; {where}"
        return
    assert_identical(got, want, where=where)


@given(case=ssim_cases(allow_mixed=False), full=st.booleans())
def test_identical_inputs_give_exactly_one(case, full):
    a, _, options = case
    options = dict(options, full=full)
    # K1 = K2 = 0 would make flat windows 0/0; the strategy never draws them.
    res, exc, _ = _call(structural_similarity, a, a.copy(), options)
    ref, ref_exc, _ = _call(ski_ssim, a, a.copy(), options)
    assume(exc is None and ref_exc is None)
    where = describe(a, **options)
    assert _mean(res) == 1.0, f"ssim(a, a) = {_mean(res)!r}; {where}"
    assert _mean(ref) == 1.0  # the reference agrees


@given(case=ssim_cases(allow_mixed=False))
def test_symmetric(case):
    a, b, options = case
    b = b.astype(a.dtype)
    options = dict(options)
    r_ab, e_ab, _ = _call(structural_similarity, a, b, options)
    r_ba, e_ba, _ = _call(structural_similarity, b, a, options)
    where = describe(a, b, **options)
    assert type(e_ab) is type(e_ba), f"{e_ab!r} vs {e_ba!r}; {where}"
    if e_ab is not None:
        return
    ct = compute_dtype(a.dtype)
    uniform = not options.get("gaussian_weights", False)
    atol = 1e-12 if (ct == np.float64 and uniform) else TOL[ct]["mean"]
    np.testing.assert_allclose(r_ab, r_ba, rtol=0, atol=atol, err_msg=where)


@given(case=ssim_cases())
def test_bounded(case):
    a, b, options = case
    res, exc, _ = _call(structural_similarity, a, b, dict(options, full=True))
    assume(exc is None)
    m, S = res
    where = describe(a, b, **options)
    slack = 1e-6 if compute_dtype(a.dtype) == np.float64 else 2e-3
    assert -1 - slack <= m <= 1 + slack, f"mean {m!r} outside [-1, 1]; {where}"
    finite = S[np.isfinite(S)]
    if finite.size:
        assert finite.min() >= -1 - slack and finite.max() <= 1 + slack, (
            f"map in [{finite.min()!r}, {finite.max()!r}]; {where}")


@given(data=st.data())
def test_channels_equal_mean_of_single_channels(data):
    """channel_axis=k gives the mean of the per-channel results (float64 input)."""
    ndim = data.draw(st.integers(2, 4))
    k = data.draw(st.integers(-ndim, ndim - 1))
    shape = tuple(data.draw(st.integers(3, 9 if ndim == 4 else 16)) for _ in range(ndim))
    a = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(0, 1)))
    b = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(0, 1)))
    kw = dict(win_size=3, data_range=1.0)
    m = structural_similarity(a, b, channel_axis=k, **kw)
    per = [structural_similarity(np.take(a, i, axis=k), np.take(b, i, axis=k), **kw)
           for i in range(shape[k])]
    np.testing.assert_allclose(m, np.mean(per), rtol=0, atol=1e-12,
                               err_msg=describe(a, b, channel_axis=k, **kw))

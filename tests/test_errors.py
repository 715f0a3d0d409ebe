"""Errors and warnings: every invalid input raises the documented exception
class with a message naming the problem, before any computation; warnings
match scikit-image's and point at the caller's line; ``show_config`` output.
"""

import os
import re
import warnings

import numpy as np
import pytest

import ssimfast
from ssimfast import show_config, structural_similarity

from helpers import ski_ssim

RNG = np.random.default_rng(0)
U8A = RNG.integers(0, 256, (32, 34), dtype=np.uint8)
U8B = RNG.integers(0, 256, (32, 34), dtype=np.uint8)
F64A = U8A / 255.0
F64B = U8B / 255.0


def _warnings_from_here(record, category, pattern):
    hits = [w for w in record if issubclass(w.category, category)
            and re.search(pattern, str(w.message))]
    assert hits, f"no {category.__name__} matching {pattern!r}: {[str(w.message) for w in record]}"
    for w in hits:
        assert w.filename == __file__, (
            f"warning {str(w.message)!r} points at {w.filename}:{w.lineno}, not at the caller "
            f"{__file__}")
    return hits


# --------------------------------------------------------------------------
# Shapes
# --------------------------------------------------------------------------
def test_shape_mismatch_names_both_shapes():
    a = np.zeros((5, 6), np.uint8)
    b = np.zeros((6, 5), np.uint8)
    with pytest.raises(ValueError, match="Input images must have the same dimensions") as exc:
        structural_similarity(a, b)
    assert "(5, 6)" in str(exc.value) and "(6, 5)" in str(exc.value), str(exc.value)
    with pytest.raises(ValueError):  # the reference agrees
        ski_ssim(a, b)


@pytest.mark.parametrize("shapes", [((9, 9), (8, 8)), ((10,), (10, 1)), ((7, 7, 3), (7, 7))])
def test_shape_mismatch_other(shapes):
    a = np.zeros(shapes[0], np.float64)
    b = np.zeros(shapes[1], np.float64)
    with pytest.raises(ValueError, match="Input images must have the same dimensions"):
        structural_similarity(a, b, data_range=1.0)


def test_shape_checked_before_data_range():
    """skimage checks the shapes first; so must ssimfast (float without data_range)."""
    with pytest.raises(ValueError, match="same dimensions"):
        structural_similarity(np.zeros((8, 8)), np.zeros((9, 9)))


def test_zero_dim_inputs():
    with pytest.raises(ValueError):
        structural_similarity(np.uint8(3), np.uint8(4))
    with pytest.raises(ValueError):
        structural_similarity(np.zeros(()), np.zeros(()), data_range=1.0)
    with pytest.raises(ValueError):
        structural_similarity(3.0, 4.0, data_range=1.0)


@pytest.mark.parametrize("shape", [(0,), (0, 10), (10, 0), (8, 8, 0)])
def test_empty_inputs(shape):
    a = np.zeros(shape, np.float64)
    with pytest.raises(ValueError):
        ski_ssim(a, a, data_range=1.0, win_size=3)
    with pytest.raises(ValueError):
        structural_similarity(a, a, data_range=1.0, win_size=3)


# --------------------------------------------------------------------------
# data_range
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_float_requires_data_range(dtype):
    a = F64A.astype(dtype)
    with pytest.raises(ValueError, match="data_range"):
        structural_similarity(a, a)
    with pytest.raises(ValueError, match="you must specify the data_range"):
        structural_similarity(a, a)


def test_float_im2_requires_data_range():
    with pytest.raises(ValueError, match="data_range"):
        structural_similarity(U8A, F64B.astype(np.float32))


@pytest.mark.parametrize("data_range", [0, 0.0, -1, -255.0, np.nan, np.inf, -np.inf,
                                        np.float32(np.nan)],
                         ids=["0", "0.0", "-1", "-255.0", "nan", "inf", "-inf", "nan32"])
def test_bad_data_range(data_range):
    with pytest.raises(ValueError, match="data_range"):
        structural_similarity(U8A, U8B, data_range=data_range)
    with pytest.raises(ValueError, match="data_range"):
        structural_similarity(F64A, F64B, data_range=data_range, channel_axis=-1)


# --------------------------------------------------------------------------
# Warnings (as skimage's, pointing at the caller)
# --------------------------------------------------------------------------
def test_mismatched_dtypes_warns_at_caller():
    with pytest.warns(UserWarning, match="mismatched dtypes") as record:
        structural_similarity(U8A, U8B.astype(np.int16))
    _warnings_from_here(record, UserWarning, "mismatched dtypes")


def test_mismatched_dtypes_and_data_range_warnings():
    """im1 int16, im2 uint8: skimage gives both warnings."""
    with pytest.warns(UserWarning) as record:
        m = structural_similarity(U8A.astype(np.int16), U8B)
    _warnings_from_here(record, UserWarning, "mismatched dtypes")
    _warnings_from_here(record, UserWarning, "Setting data_range based on im1.dtype")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(m, ski_ssim(U8A.astype(np.int16), U8B), rtol=0, atol=1e-9)


@pytest.mark.parametrize("dtype", ["uint16", "int16", "int32", "int64", "int8", "uint32",
                                   "uint64"])
def test_inferred_data_range_warns_at_caller(dtype):
    a, b = U8A.astype(dtype), U8B.astype(dtype)
    with pytest.warns(UserWarning, match="Setting data_range based on im1.dtype") as record:
        structural_similarity(a, b)
    _warnings_from_here(record, UserWarning, "Setting data_range based on im1.dtype")
    # the same text as skimage: it states the inferred data_range
    with pytest.warns(UserWarning) as ref_record:
        ski_ssim(a, b)
    want = [str(w.message) for w in ref_record if "Setting data_range" in str(w.message)][0]
    got = [str(w.message) for w in record if "Setting data_range" in str(w.message)][0]
    expected_range = re.search(r"data_range = (\d+)", want).group(1)
    assert expected_range in got, (got, want)


@pytest.mark.parametrize("channel_axis", [0, -1])
def test_warnings_with_channel_axis_point_at_caller(channel_axis):
    """Per-channel scoring must not move the warning into the library's frames."""
    a = np.stack([U8A, U8B], axis=channel_axis).astype(np.uint16)
    b = np.stack([U8B, U8A], axis=channel_axis).astype(np.int32)
    with pytest.warns(UserWarning) as record:
        structural_similarity(a, b, channel_axis=channel_axis)
    _warnings_from_here(record, UserWarning, "mismatched dtypes")
    _warnings_from_here(record, UserWarning, "Setting data_range based on im1.dtype")


@pytest.mark.parametrize("kwargs", [
    pytest.param(dict(), id="uint8-inferred"),
    pytest.param(dict(data_range=255), id="uint8-explicit"),
], )
def test_no_warning_for_uint8_or_explicit(kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        structural_similarity(U8A, U8B, **kwargs)
        structural_similarity(U8A.astype(np.int32), U8B.astype(np.int32), data_range=255)
        structural_similarity(U8A, U8B.astype(np.float32), data_range=255)
        structural_similarity(U8A > 100, U8B > 100)  # bool: data_range 1, no warning


def test_bool_scored_with_data_range_one():
    a, b = U8A > 100, U8B > 120
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = structural_similarity(a, b, full=True)
    ref = ski_ssim(a, b, full=True)
    np.testing.assert_allclose(got[0], ref[0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(got[1], ref[1], rtol=0, atol=1e-7)
    np.testing.assert_allclose(got[0], structural_similarity(a.astype(np.uint8),
                                                             b.astype(np.uint8), data_range=1),
                               rtol=0, atol=1e-12)


def test_warnings_raised_before_errors_are_not_required_but_errors_win():
    """A float image without data_range errors even when dtypes mismatch."""
    with pytest.raises(ValueError, match="data_range"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structural_similarity(F64A, U8B)


# --------------------------------------------------------------------------
# win_size
# --------------------------------------------------------------------------
@pytest.mark.parametrize("win_size", [2, 4, 6, 8])
def test_even_win_size(win_size):
    with pytest.raises(ValueError, match="odd"):
        structural_similarity(U8A, U8B, win_size=win_size)


@pytest.mark.parametrize("shape, win_size, channel_axis", [
    ((9, 9), 11, None), ((5, 5), None, None), ((100, 6), 7, None), ((7, 7, 3), 7, None),
    ((6, 50, 3), 7, -1), ((40,), 41, None), ((8, 8, 8), 9, None),
])
def test_win_size_exceeds_extent(shape, win_size, channel_axis):
    a = np.zeros(shape, np.uint8)
    with pytest.raises(ValueError, match="win_size exceeds image extent"):
        structural_similarity(a, a, win_size=win_size, channel_axis=channel_axis)


def test_gaussian_default_window_exceeds_extent():
    """gaussian_weights with sigma 1.5 means an 11-px window: a 10x10 image is too small."""
    a = np.zeros((10, 10), np.uint8)
    with pytest.raises(ValueError, match="win_size exceeds image extent"):
        structural_similarity(a, a, gaussian_weights=True)
    assert structural_similarity(a, a, gaussian_weights=True, win_size=9) == 1.0


@pytest.mark.parametrize("win_size", [7.5, "7", 7 + 0j, [7]])
def test_win_size_not_integer(win_size):
    with pytest.raises(TypeError):
        structural_similarity(U8A, U8B, win_size=win_size)


@pytest.mark.parametrize("win_size", [0, -1, -3, -7])
def test_win_size_below_one(win_size):
    with pytest.raises(ValueError):
        structural_similarity(U8A, U8B, win_size=win_size)


@pytest.mark.parametrize("gaussian", [False, True])
def test_one_pixel_window_with_sample_covariance(gaussian):
    with pytest.raises(ZeroDivisionError):  # what skimage does
        ski_ssim(U8A, U8B, win_size=1, gaussian_weights=gaussian)
    with pytest.raises(ValueError):
        structural_similarity(U8A, U8B, win_size=1, gaussian_weights=gaussian)


def test_gaussian_sigma_zero_window_with_sample_covariance():
    """sigma=0 gives a 1-pixel window (radius int(0.5) = 0)."""
    with pytest.raises(ValueError):
        structural_similarity(U8A, U8B, gaussian_weights=True, sigma=0.0)


# --------------------------------------------------------------------------
# K1, K2, sigma
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["K1", "K2", "sigma"])
@pytest.mark.parametrize("value", [-0.1, -1e-12, -1])
def test_negative_constants(name, value):
    with pytest.raises(ValueError, match=f"{name} must be positive"):
        structural_similarity(U8A, U8B, **{name: value})
    with pytest.raises(ValueError, match=f"{name} must be positive"):
        structural_similarity(U8A, U8B, gaussian_weights=True, **{name: value})


@pytest.mark.parametrize("name", ["K1", "K2", "sigma"])
@pytest.mark.parametrize("value", [np.nan, float("nan"), np.float32(np.nan), -np.inf],
                         ids=["np.nan", "float-nan", "float32-nan", "-inf"])
def test_nan_constants(name, value):
    with pytest.raises(ValueError, match=name):
        structural_similarity(U8A, U8B, gaussian_weights=True, **{name: value})
    with pytest.raises(ValueError, match=name):
        structural_similarity(U8A, U8B, **{name: value})


# --------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    pytest.param(lambda a: a.astype(np.complex128), id="complex128"),
    pytest.param(lambda a: a.astype(np.complex64), id="complex64"),
    pytest.param(lambda a: a.astype(object), id="object"),
    pytest.param(lambda a: a.astype("U3"), id="unicode"),
    pytest.param(lambda a: a.astype("S3"), id="bytes"),
    pytest.param(lambda a: a.astype("datetime64[s]"), id="datetime64"),
    pytest.param(lambda a: a.astype("timedelta64[s]"), id="timedelta64"),
])
def test_unsupported_dtypes(make):
    bad = make(U8A)
    with pytest.raises(TypeError):
        structural_similarity(bad, bad, data_range=255)
    with pytest.raises(TypeError):
        structural_similarity(U8A, make(U8B), data_range=255)
    with pytest.raises(TypeError):
        structural_similarity(make(U8B), U8A, data_range=255)


# --------------------------------------------------------------------------
# channel_axis and multichannel
# --------------------------------------------------------------------------
@pytest.mark.parametrize("channel_axis", [2, 3, -3, -4, 100])
def test_channel_axis_out_of_range(channel_axis):
    a = np.zeros((16, 16), np.uint8)
    with pytest.raises(ValueError):
        structural_similarity(a, a, channel_axis=channel_axis)


@pytest.mark.parametrize("channel_axis", [1.0, 1.5, "1", [1], (1,)])
def test_channel_axis_not_integer(channel_axis):
    a = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(TypeError):
        structural_similarity(a, a, channel_axis=channel_axis)


def test_multichannel_future_warning_at_caller():
    a = np.stack([U8A, U8B, U8A], axis=-1)
    b = np.stack([U8B, U8A, U8A], axis=-1)
    with pytest.warns(FutureWarning, match="channel_axis") as record:
        m = structural_similarity(a, b, multichannel=True)
    _warnings_from_here(record, FutureWarning, "channel_axis")
    np.testing.assert_allclose(m, ski_ssim(a, b, channel_axis=-1), rtol=0, atol=1e-9)
    assert m == structural_similarity(a, b, channel_axis=-1)


def test_multichannel_false_is_single_channel():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        m = structural_similarity(U8A, U8B, multichannel=False)
    assert m == structural_similarity(U8A, U8B)


@pytest.mark.parametrize("multichannel, channel_axis", [(True, 0), (True, 1), (False, -1),
                                                        (False, 0)])
def test_multichannel_conflicts_with_channel_axis(multichannel, channel_axis):
    a = np.stack([U8A, U8B, U8A], axis=-1)
    with pytest.raises(ValueError), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        structural_similarity(a, a, multichannel=multichannel, channel_axis=channel_axis)


# --------------------------------------------------------------------------
# Keywords
# --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["foo", "data_rang", "gaussian", "n_threads", "num_threads"])
def test_unknown_keyword(name):
    with pytest.raises(TypeError, match=name):
        structural_similarity(U8A, U8B, **{name: 1})


def test_positional_options_rejected():
    with pytest.raises(TypeError):
        structural_similarity(U8A, U8B, 7)


@pytest.mark.parametrize("kwargs", [
    pytest.param(dict(workers=0), id="workers-0"),
    pytest.param(dict(data_range=0), id="data_range-0"),
    pytest.param(dict(win_size=8), id="win-even"),
    pytest.param(dict(K1=-1.0), id="K1-neg"),
])
def test_errors_before_computation_on_huge_input(kwargs):
    """Validation happens first: invalid options on a big image fail fast."""
    import time
    big = np.zeros((4000, 4000), np.uint8)
    t0 = time.perf_counter()
    with pytest.raises(ValueError):
        structural_similarity(big, big, **kwargs)
    assert time.perf_counter() - t0 < 0.5


# --------------------------------------------------------------------------
# show_config
# --------------------------------------------------------------------------
def test_show_config(capsys):
    show_config()
    out = capsys.readouterr().out
    assert ssimfast.__version__ in out
    assert "OpenMP" in out
    thread_lines = [ln for ln in out.splitlines() if "thread" in ln.lower()]
    assert thread_lines, out
    numbers = [int(n) for ln in thread_lines for n in re.findall(r"\b(\d+)\b", ln)]
    omp = os.environ.get("OMP_NUM_THREADS")
    expected = int(omp) if omp and omp.isdigit() else os.cpu_count()
    assert expected in numbers, f"default thread count {expected} not in:\n{out}"


def test_show_config_follows_threadpool_limits(capsys):
    from threadpoolctl import threadpool_limits
    with threadpool_limits(limits=1, user_api="openmp"):
        show_config()
    out = capsys.readouterr().out
    thread_lines = [ln for ln in out.splitlines() if "thread" in ln.lower()]
    numbers = [int(n) for ln in thread_lines for n in re.findall(r"\b(\d+)\b", ln)]
    assert 1 in numbers, out

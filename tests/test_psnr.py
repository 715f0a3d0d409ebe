"""ssimfast.mean_squared_error and peak_signal_noise_ratio against scikit-image's:
the same values (bit for bit), warnings and errors."""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from skimage.metrics import mean_squared_error as ski_mse
from skimage.metrics import peak_signal_noise_ratio as ski_psnr

import helpers
import ssimfast
from ssimfast import _codec_cy

INT_DTYPES = [np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.int32, np.uint32,
              np.int64, np.uint64]
FLOAT_DTYPES = [np.float16, np.float32, np.float64]


def _both(f_fast, f_ref, *args, **kwargs):
    """(fast, ref) results or exception types, and the warnings of each."""
    out = []
    for f in (f_fast, f_ref):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            try:
                r = f(*args, **kwargs)
            except Exception as exc:  # compared below
                r = (type(exc), str(exc))
        out.append((r, sorted((type(x.message), str(x.message)) for x in w)))
    return out


def assert_same(f_fast, f_ref, *args, **kwargs):
    (fast, fast_w), (ref, ref_w) = _both(f_fast, f_ref, *args, **kwargs)
    assert fast_w == ref_w
    if isinstance(ref, tuple):
        assert fast == ref
        return
    assert type(fast) is type(ref), (type(fast), type(ref))
    assert fast == ref or (np.isnan(fast) and np.isnan(ref)), (fast, ref)


def _random(rng, dtype, shape, lo=None, hi=None):
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) > 0.5
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    lo = info.min if lo is None else lo
    hi = info.max if hi is None else hi
    return rng.integers(lo, hi, shape, endpoint=True, dtype=dtype)


@pytest.mark.parametrize("dtype", INT_DTYPES + FLOAT_DTYPES)
@pytest.mark.parametrize("shape", [(1,), (7,), (129,), (37, 41), (300, 333), (3, 70, 90)])
def test_random_images_equal_skimage(dtype, shape):
    rng = np.random.default_rng(len(shape) * 1000 + shape[-1])
    a, b = _random(rng, dtype, shape), _random(rng, dtype, shape)
    assert_same(ssimfast.mean_squared_error, ski_mse, a, b)
    assert_same(ssimfast.peak_signal_noise_ratio, ski_psnr, a, b)
    assert_same(ssimfast.peak_signal_noise_ratio, ski_psnr, a, b, data_range=7)


def test_real_images_and_distortions(full_image, distortion):
    dist = distortion(full_image)
    assert_same(ssimfast.mean_squared_error, ski_mse, full_image, dist)
    assert_same(ssimfast.peak_signal_noise_ratio, ski_psnr, full_image, dist)
    f, g = full_image / 255.0, dist / 255.0
    assert_same(ssimfast.peak_signal_noise_ratio, ski_psnr, f, g)
    assert_same(ssimfast.peak_signal_noise_ratio, ski_psnr, f.astype(np.float32),
                g.astype(np.float32))


def test_large_uint8_is_exact():
    # 2**22 pixels: np.mean's pairwise float sum is exact here, so is ours.
    rng = np.random.default_rng(3)
    a, b = _random(rng, np.uint8, (2048, 2048)), _random(rng, np.uint8, (2048, 2048))
    exact = int(((a.astype(np.int64) - b) ** 2).sum())
    assert ssimfast.mean_squared_error(a, b) == np.float64(exact / a.size)
    assert_same(ssimfast.peak_signal_noise_ratio, ski_psnr, a, b)


def test_workers_do_not_change_the_result():
    rng = np.random.default_rng(4)
    for dtype in (np.uint8, np.float32, np.float64):
        a = _random(rng, dtype, (3000, 3001))
        b = _random(rng, dtype, (3000, 3001))
        results = {ssimfast.mean_squared_error(a, b, workers=w) for w in (1, 2, -1)}
        assert len(results) == 1


@pytest.mark.parametrize("pair", ["fortran", "transposed", "strided", "reversed", "mixed",
                                  "permuted3d", "byteswapped"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_layouts(pair, dtype):
    rng = np.random.default_rng(5)
    a, b = _random(rng, dtype, (60, 70, 3)), _random(rng, dtype, (60, 70, 3))
    if pair == "fortran":
        a, b = np.asfortranarray(a), np.asfortranarray(b)
    elif pair == "transposed":
        a, b = a.T, b.T
    elif pair == "strided":
        a, b = a[::2, 1::3], b[::2, 1::3]
    elif pair == "reversed":
        a, b = a[::-1], b[::-1]
    elif pair == "mixed":
        b = np.asfortranarray(b)
    elif pair == "permuted3d":
        a, b = a.transpose(2, 0, 1), b.transpose(2, 0, 1)
    else:
        a, b = a.astype(a.dtype.newbyteorder()), b.astype(b.dtype.newbyteorder())
    assert_same(ssimfast.mean_squared_error, ski_mse, a, b)
    assert_same(ssimfast.peak_signal_noise_ratio, ski_psnr, a, b, data_range=2)


@pytest.mark.parametrize("d0,d1", [(np.uint8, np.int16), (np.uint8, np.float32),
                                   (np.float16, np.float32), (np.bool_, np.uint8),
                                   (np.int64, np.uint64), (np.uint16, np.float64)])
def test_mixed_dtypes(d0, d1):
    rng = np.random.default_rng(6)
    a = _random(rng, d0, (50, 60), 0, 100) if np.dtype(d0).kind in "iu" else _random(rng, d0, (50, 60))
    b = _random(rng, d1, (50, 60), 0, 100) if np.dtype(d1).kind in "iu" else _random(rng, d1, (50, 60))
    assert_same(ssimfast.mean_squared_error, ski_mse, a, b)
    # The mismatched-dtype warning, and the data range from image_true.
    assert_same(ssimfast.peak_signal_noise_ratio, ski_psnr, a, b)


@st.composite
def _pairs(draw):
    dtype = draw(st.sampled_from(INT_DTYPES + FLOAT_DTYPES))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=40))
    if np.dtype(dtype).kind == "f":
        elements = st.floats(-2, 2, width=np.dtype(dtype).itemsize * 8)
    else:
        elements = None
    a = draw(hnp.arrays(dtype, shape, elements=elements))
    b = draw(hnp.arrays(dtype, shape, elements=elements))
    return a, b


@given(_pairs())
def test_hypothesis_equal_skimage(pair):
    a, b = pair
    assert_same(ssimfast.mean_squared_error, ski_mse, a, b)
    assert_same(ssimfast.peak_signal_noise_ratio, ski_psnr, a, b, data_range=4)
    assert_same(ssimfast.peak_signal_noise_ratio, ski_psnr, a, b)


@given(hnp.arrays(np.float64, st.integers(1, 3000), elements=st.floats(-1e6, 1e6)),
       hnp.arrays(np.float64, st.integers(1, 3000), elements=st.floats(-1e6, 1e6)))
def test_hypothesis_float64_sum_order(a, b):
    # Lengths across the pairwise tree's cut points (8, 128, the 64 leaves).
    n = min(a.size, b.size)
    a, b = a[:n], b[:n]
    assert ssimfast.mean_squared_error(a, b) == ski_mse(a, b)


def test_special_values():
    a = np.array([0.0, np.inf, 1.0, np.nan])
    b = np.array([0.0, np.inf, 2.0, 1.0])
    for x, y in [(a, b), (a[:3], b[:3]), (a[:2], b[:2]), (a[:1], b[:1])]:
        assert_same(ssimfast.mean_squared_error, ski_mse, x, y)
        assert_same(ssimfast.peak_signal_noise_ratio, ski_psnr, x, y, data_range=1)
    img = helpers.real_image("camera")
    # Identical images: division by zero, inf, with NumPy's warning.
    assert_same(ssimfast.peak_signal_noise_ratio, ski_psnr, img, img)


@pytest.mark.parametrize("case", [
    "shape", "out_of_range", "negative_out_of_range", "complex", "complex_range", "empty",
    "empty_range", "lists", "strings", "zero_d",
])
def test_errors_and_warnings_match(case):
    a = np.zeros((4, 5), np.uint8)
    args, kwargs = (a, a), {}
    if case == "shape":
        args = (a, np.zeros((5, 4), np.uint8))
    elif case == "out_of_range":
        args = (np.full((3, 3), 2.0), np.zeros((3, 3)))
    elif case == "negative_out_of_range":
        args = (np.full((3, 3), -2.0), np.zeros((3, 3)))
    elif case == "complex":
        z = np.zeros((3, 3), np.complex128)
        args, kwargs = (z, z), {"data_range": 1}
    elif case == "complex_range":
        z = np.zeros((3, 3), np.complex128)
        args = (z, z)
    elif case == "empty":
        e = np.zeros((0, 3))
        args, kwargs = (e, e), {"data_range": 1}
    elif case == "empty_range":
        e = np.zeros((0, 3), np.uint8)
        args = (e, e)
    elif case == "lists":
        args = ([[1, 2]], [[1, 3]])
    elif case == "strings":
        s = np.array(["a", "b"])
        args, kwargs = (s, s), {"data_range": 1}
    elif case == "zero_d":
        args = (np.float64(0.5), np.float64(0.25))
    assert_same(ssimfast.peak_signal_noise_ratio, ski_psnr, *args, **kwargs)
    if "data_range" not in kwargs:
        assert_same(ssimfast.mean_squared_error, ski_mse, *args)


def test_warning_points_at_the_caller():
    with pytest.warns(UserWarning, match="mismatched dtype") as record:
        ssimfast.peak_signal_noise_ratio(np.zeros(4, np.uint8), np.zeros(4, np.float64) + 0.5)
    assert record[0].filename == __file__


def test_kernels_check_their_arguments():
    x = np.zeros(10, np.uint8)
    with pytest.raises(ValueError, match="elements"):
        _codec_cy.sq_diff_sum_int(x, x[:5], 1)
    with pytest.raises(ValueError, match="elements"):
        _codec_cy.sq_diff_sum_float64(x.astype(float), x[:5].astype(float), 1)
    with pytest.raises(ValueError, match="elements"):
        _codec_cy.sq_diff_sum_float32(x.astype(np.float32), x[:5].astype(np.float32), 1)


def test_int_sum_is_exact_beyond_float_precision():
    # 16-bit extremes: each square is 2**32 - 2**17 + 1, the sum past 2**53.
    n = 1 << 22
    a = np.full(n, 65535, np.uint16)
    b = np.zeros(n, np.uint16)
    assert _codec_cy.sq_diff_sum_int(a, b, 2) == n * 65535 ** 2

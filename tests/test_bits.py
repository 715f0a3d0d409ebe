"""bits= (data_range = 2**bits - 1 for 10- and 12-bit data in uint16) and the
warning when integer data exceed the range they were given."""
import warnings

import numpy as np
import pytest
import ssimfast

from helpers import assert_identical, distort, real_image


@pytest.fixture(scope="module")
def pair12():
    a = real_image("camera")
    b = distort(a, "noise")
    return a.astype(np.uint16) * 16, b.astype(np.uint16) * 16  # 0 .. 4080


@pytest.mark.parametrize("options", [{}, {"gaussian_weights": True}, {"full": True},
                                     {"preset": "matlab"}])
def test_bits_is_data_range_two_to_the_bits_minus_one(pair12, options):
    a, b = pair12
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # in range: no warning
        got = ssimfast.ssim(a, b, bits=12, **options)
    assert_identical(got, ssimfast.ssim(a, b, data_range=4095, **options))


def test_ms_ssim_takes_bits(pair12):
    a, b = pair12
    assert ssimfast.ms_ssim(a, b, bits=12) == ssimfast.ms_ssim(a, b, data_range=4095)
    with pytest.warns(UserWarning, match="outside the 10-bit range 0 to 1023"):
        ssimfast.ms_ssim(a, b, bits=10)


def test_data_beyond_bits_warn_at_the_callers_line(pair12):
    a, b = pair12
    with pytest.warns(UserWarning, match=r"im1 has values from 0 to 4080, outside the 10-bit") as rec:
        ssimfast.ssim(a, b, bits=10)
    assert rec[0].filename == __file__
    signed = a.astype(np.int16) - 2048  # negative values are outside 0 .. 2**bits - 1
    with pytest.warns(UserWarning, match="from -2048 to 2032, outside the 12-bit"):
        ssimfast.ssim(signed, signed, bits=12)


def test_data_beyond_an_explicit_data_range_warn(pair12):
    a, b = pair12
    with pytest.warns(UserWarning, match="im1 has values from 0 to 4080, a spread of 4080, "
                                         "more than data_range=1023"):
        ssimfast.ssim(a, b, data_range=1023)
    low = a.astype(np.int32) + 10_000  # a large offset with a small spread is fine
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ssimfast.ssim(low, low, data_range=4095)
    with pytest.warns(UserWarning, match="im2 has values"):
        ssimfast.ssim(a // 16, b, data_range=255)


def test_no_warning_where_nothing_can_exceed_or_for_floats():
    a = real_image("camera")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ssimfast.ssim(a, a, data_range=255)  # uint8 holds nothing beyond 255
        ssimfast.ssim(a, a, bits=8)
        f = a.astype(np.float64)  # float data are not checked (see ssimfast._ranges)
        ssimfast.ssim(f, f, data_range=1.0)


@pytest.mark.parametrize("kwargs, dtype, error, match", [
    ({"bits": 12, "data_range": 4095}, np.uint16, ValueError, "bits or data_range, not both"),
    ({"bits": 12}, np.float32, ValueError, "bits is for integer images"),
    ({"bits": 0}, np.uint16, ValueError, "from 1 to 16"),
    ({"bits": 17}, np.uint16, ValueError, "from 1 to 16"),
    ({"bits": 16}, np.int16, ValueError, "from 1 to 15"),
    ({"bits": 9}, np.uint8, ValueError, "from 1 to 8"),
    ({"bits": 12.0}, np.uint16, TypeError, "bits must be an integer"),
    ({"bits": True}, np.uint16, TypeError, "bits must be an integer"),
])
def test_bits_errors(kwargs, dtype, error, match):
    a = np.zeros((16, 16), dtype=dtype)
    with pytest.raises(error, match=match):
        ssimfast.ssim(a, a, **kwargs)
    with pytest.raises(error, match=match):
        ssimfast.ssim(a, a, preset="matlab_index", **kwargs)

"""Memory layouts: every way the same values can sit in memory gives the same
result as a native-byte-order C-contiguous copy, bit for bit, and matches
scikit-image.

Covers non-contiguous slices, negative strides, Fortran order, transposed
views, big-endian and unaligned data, read-only and zero-stride (broadcast)
arrays, pairs whose two images have different layouts, interleaved vs planar
colour images, 1-D signals and 3-D to 5-D volumes in any axis order; and that
the inputs are never modified.
"""

import warnings

import numpy as np
import pytest

from ssimfast import structural_similarity

from helpers import (
    add_noise,
    assert_identical,
    check_against_reference,
    convert,
    crop_center,
    describe,
    real_image,
)

DTYPES = ["uint8", "uint16", "int16", "int32", "int64", "float32", "float64",
          "int8", "uint32", "uint64", "float16", "bool"]

OPTIONS = [
    pytest.param(dict(), id="mean"),
    pytest.param(dict(gaussian_weights=True, full=True, gradient=True), id="gauss-full-grad"),
    pytest.param(dict(win_size=5, full=True, gradient=True, use_sample_covariance=False),
                 id="win5-full-grad"),
]


def native_c_copy(x):
    """The reference layout: C-contiguous, native byte order, writeable."""
    x = np.asarray(x)
    return np.ascontiguousarray(x).astype(x.dtype.newbyteorder("="), copy=True)


def big_endian(x):
    return x.astype(x.dtype.newbyteorder(">"))


def little_endian(x):
    return x.astype(x.dtype.newbyteorder("<"))


def read_only(x):
    y = x.copy()
    y.flags.writeable = False
    return y


def unaligned(x):
    """Same values, stored at an odd byte offset (misaligned for itemsize > 1)."""
    buf = np.zeros(x.nbytes + 1, dtype=np.uint8)
    y = buf[1:].view(x.dtype).reshape(x.shape)
    y[...] = x
    return y


LAYOUTS_2D = {
    "C": lambda x: x,
    "strided": lambda x: x[::2, ::3],
    "strided-rows": lambda x: x[::3, :],
    "strided-cols": lambda x: x[:, ::2],
    "offset-window": lambda x: x[5:-7, 3:-4],
    "reversed": lambda x: x[::-1, ::-1],
    "reversed-rows": lambda x: x[::-1],
    "reversed-cols": lambda x: x[:, ::-1],
    "strided-reversed": lambda x: x[::-2, ::-3],
    "fortran": np.asfortranarray,
    "transposed": lambda x: x.T,
    "fortran-reversed": lambda x: np.asfortranarray(x)[::-1, ::-1],
    "big-endian": big_endian,
    "little-endian": little_endian,
    "big-endian-strided": lambda x: big_endian(x)[::2, ::-2],
    "big-endian-fortran": lambda x: np.asfortranarray(big_endian(x)),
    "read-only": read_only,
    "read-only-strided": lambda x: read_only(x)[1::2, ::-1],
    "unaligned": unaligned,
    "unaligned-big-endian": lambda x: unaligned(big_endian(x)),
    "broadcast-rows": lambda x: np.broadcast_to(x[:1], x.shape),
    "channel-of-rgb": lambda x: np.stack([x, x[::-1], x[:, ::-1]], axis=-1)[..., 1],
}


def _pair(dtype, h=72, w=90, image="camera"):
    base = crop_center(real_image(image), h, w)
    a, dr = convert(base, dtype)
    b, _ = convert(add_noise(base, 18.0, seed=5), dtype)
    return a, b, dr


def _assert_unmodified(before, after, where):
    for x0, x in zip(before, after):
        assert x.dtype == x0.dtype and x.shape == x0.shape, where
        assert np.array_equal(x, x0, equal_nan=True), f"input modified; {where}"


def check_layout(a, b, **options):
    """a, b in some layout: equal to the native C copy bit-for-bit, and to skimage."""
    where = describe(a, b, **options)
    before = (a.copy(), b.copy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = structural_similarity(a, b, **options)
        want = structural_similarity(native_c_copy(a), native_c_copy(b), **options)
    assert_identical(got, want, where=where)
    _assert_unmodified(before, (a, b), where)
    check_against_reference(structural_similarity, a, b, **options)


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", list(LAYOUTS_2D))
def test_layout_2d(layout, dtype, options):
    a, b, dr = _pair(dtype)
    make = LAYOUTS_2D[layout]
    check_layout(make(a), make(b), data_range=dr, **options)


def embedded_strided(x):
    """Same values, stored every 2nd row / 3rd column of a larger buffer."""
    big = np.zeros((2 * x.shape[0], 3 * x.shape[1]), dtype=x.dtype)
    big[::2, ::3] = x
    return big[::2, ::3]


def negative_strides(x):
    """Same values, both strides negative."""
    return np.ascontiguousarray(x[::-1, ::-1])[::-1, ::-1]


# Layouts that keep the logical content: usable for either image of a pair.
SAME_CONTENT = {
    "C": lambda x: x,
    "fortran": np.asfortranarray,
    "negative-strides": negative_strides,
    "embedded-strided": embedded_strided,
    "big-endian": big_endian,
    "read-only": read_only,
    "unaligned": unaligned,
    "transposed-copy-T": lambda x: np.ascontiguousarray(x.T).T,
}

MIXED = [
    ("C", "fortran"), ("fortran", "negative-strides"), ("embedded-strided", "big-endian"),
    ("read-only", "unaligned"), ("transposed-copy-T", "C"), ("big-endian", "fortran"),
    ("negative-strides", "embedded-strided"),
]


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int32", "float32", "float64"])
@pytest.mark.parametrize("layout1, layout2", MIXED, ids=["+".join(m) for m in MIXED])
def test_mixed_layout_pair(layout1, layout2, dtype):
    """The two images of a pair may each have their own layout."""
    a, b, dr = _pair(dtype, 80, 84)
    a1, b2 = SAME_CONTENT[layout1](a), SAME_CONTENT[layout2](b)
    assert np.array_equal(a1, a) and np.array_equal(b2, b)
    for options in (dict(), dict(full=True, gradient=True, gaussian_weights=True)):
        check_layout(a1, b2, data_range=dr, **options)
        # and bit-identical to the plain C pair
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert_identical(structural_similarity(a1, b2, data_range=dr, **options),
                             structural_similarity(a, b, data_range=dr, **options),
                             where=describe(a1, b2, **options))


# --------------------------------------------------------------------------
# Colour images
# --------------------------------------------------------------------------
COLOR_DTYPES = ["uint8", "uint16_wide", "float32", "float64", "float16", "int64_wide"]


def _rgb_pair(variant):
    base = crop_center(real_image("astronaut"), 64, 88)
    a, dr = convert(base, variant)
    b, _ = convert(add_noise(base, 15.0, seed=6), variant)
    return a, b, dr


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("variant", COLOR_DTYPES)
def test_interleaved_equals_planar(variant, options):
    """(H, W, 3) with channel_axis=-1 and (3, H, W) with channel_axis=0: same numbers."""
    a, b, dr = _rgb_pair(variant)
    inter = structural_similarity(a, b, data_range=dr, channel_axis=-1, **options)
    pa, pb = (np.ascontiguousarray(np.moveaxis(x, -1, 0)) for x in (a, b))
    planar = structural_similarity(pa, pb, data_range=dr, channel_axis=0, **options)
    planar = tuple(np.moveaxis(x, 0, -1) if isinstance(x, np.ndarray) else x
                   for x in (planar if isinstance(planar, tuple) else (planar,)))
    inter = inter if isinstance(inter, tuple) else (inter,)
    assert_identical(inter, planar, where=describe(a, b, data_range=dr, **options))
    check_against_reference(structural_similarity, a, b, data_range=dr, channel_axis=-1,
                            **options)
    check_against_reference(structural_similarity, pa, pb, data_range=dr, channel_axis=0,
                            **options)


COLOR_LAYOUTS = {
    "interleaved": (lambda x: x, -1),
    "planar-view": (lambda x: np.moveaxis(x, -1, 0), 0),
    "planar-copy": (lambda x: np.ascontiguousarray(np.moveaxis(x, -1, 0)), 0),
    "channel-middle": (lambda x: np.ascontiguousarray(np.moveaxis(x, -1, 1)), 1),
    "channel-middle-neg": (lambda x: np.ascontiguousarray(np.moveaxis(x, -1, 1)), -2),
    "fortran": (np.asfortranarray, -1),
    "fortran-planar": (lambda x: np.asfortranarray(np.moveaxis(x, -1, 0)), 0),
    "bgr-reversed": (lambda x: x[..., ::-1], -1),
    "flipped": (lambda x: x[::-1, ::-1], -1),
    "strided": (lambda x: x[::2, 1::2], 2),
    "big-endian": (big_endian, -1),
    "read-only": (read_only, -1),
    "unaligned": (unaligned, -1),
    "rgba-drop-alpha": (lambda x: np.concatenate([x, x[..., :1]], axis=-1)[..., :3], -1),
}


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("variant", ["uint8", "float32", "float64"])
@pytest.mark.parametrize("layout", list(COLOR_LAYOUTS))
def test_color_layouts(layout, variant, options):
    a, b, dr = _rgb_pair(variant)
    make, channel_axis = COLOR_LAYOUTS[layout]
    check_layout(make(a), make(b), data_range=dr, channel_axis=channel_axis, **options)


# --------------------------------------------------------------------------
# 1-D and 3-D
# --------------------------------------------------------------------------
LAYOUTS_1D = {
    "strided": lambda x: x[::3],
    "reversed": lambda x: x[::-1],
    "big-endian": big_endian,
    "read-only": read_only,
    "unaligned": unaligned,
    "column": lambda x: np.stack([x, x], axis=1)[:, 1],
}


@pytest.mark.parametrize("dtype", ["uint8", "int32", "float32", "float64"])
@pytest.mark.parametrize("layout", list(LAYOUTS_1D))
def test_layout_1d(layout, dtype):
    row = np.ascontiguousarray(real_image("camera")[300])
    a, dr = convert(row, dtype)
    b, _ = convert(add_noise(row, 20.0, seed=1), dtype)
    make = LAYOUTS_1D[layout]
    for options in (dict(), dict(gaussian_weights=True, full=True, gradient=True)):
        check_layout(make(a), make(b), data_range=dr, **options)


LAYOUTS_3D = {
    "fortran": np.asfortranarray,
    "transposed": lambda x: x.transpose(2, 0, 1),
    "reversed-0": lambda x: x[::-1],
    "strided-mixed": lambda x: x[::2, :, ::-2],
    "big-endian-strided": lambda x: big_endian(x)[:, ::2],
    "broadcast-plane": lambda x: np.broadcast_to(x[:1], x.shape),
}


@pytest.mark.parametrize("channel_axis", [None, 0])
@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32", "float64"])
@pytest.mark.parametrize("layout", list(LAYOUTS_3D))
def test_layout_3d(layout, dtype, channel_axis):
    cam = real_image("camera")
    vol = np.stack([cam[100 + 8 * i:100 + 8 * i + 24, 60 + 5 * i:60 + 5 * i + 26]
                    for i in range(14)])
    a, dr = convert(vol, dtype)
    b, _ = convert(add_noise(vol, 20.0, seed=3), dtype)
    make = LAYOUTS_3D[layout]
    for options in (dict(win_size=5), dict(gaussian_weights=True, sigma=1.0, win_size=5,
                                           full=True, gradient=True)):
        check_layout(make(a), make(b), data_range=dr, channel_axis=channel_axis, **options)


LAYOUTS_ND = {
    "fortran": np.asfortranarray,
    "transposed": lambda x: x.T,
    "swap-first-two": lambda x: np.swapaxes(x, 0, 1),
    "swap-middle": lambda x: np.swapaxes(x, 1, 2),
    "swap-last-two": lambda x: np.swapaxes(x, -1, -2),
    "roll-axes": lambda x: np.moveaxis(x, 0, -1),
    "reversed-all": lambda x: x[(slice(None, None, -1),) * x.ndim],
    "strided-first": lambda x: x[::2],
    "strided-last-reversed": lambda x: x[..., ::-2],
    "big-endian-fortran": lambda x: np.asfortranarray(big_endian(x)),
}


@pytest.mark.parametrize("shape", [(10, 7, 8, 9), (10, 6, 5, 7, 12)], ids=["4d", "5d"])
@pytest.mark.parametrize("dtype", ["uint8", "float32", "float64"])
@pytest.mark.parametrize("layout", list(LAYOUTS_ND))
def test_layout_nd(layout, dtype, shape):
    """4-D and 5-D arrays in any axis order / stride pattern."""
    cam = real_image("camera")
    n = int(np.prod(shape))
    base = np.ascontiguousarray(cam[150:, 100:].ravel()[:n].reshape(shape))
    a, dr = convert(base, dtype)
    b, _ = convert(add_noise(base, 20.0, seed=4), dtype)
    make = LAYOUTS_ND[layout]
    for options in (dict(win_size=3), dict(win_size=5, full=True, gradient=True),
                    dict(gaussian_weights=True, sigma=0.5, full=True)):
        check_layout(make(a), make(b), data_range=dr, **options)


@pytest.mark.parametrize("channel_axis", [0, -1, 2])
@pytest.mark.parametrize("layout", ["fortran", "transposed", "swap-middle", "reversed-all"])
def test_layout_nd_with_channels(layout, channel_axis):
    cam = real_image("camera")
    shape = (3, 7, 8, 3)
    base = np.ascontiguousarray(cam[200:, 50:].ravel()[:int(np.prod(shape))].reshape(shape))
    b = add_noise(base, 20.0, seed=8)
    make = LAYOUTS_ND[layout]
    a1, b1 = make(base), make(b)
    if min(n for i, n in enumerate(a1.shape) if i != channel_axis % a1.ndim) < 3:
        raise AssertionError("test setup: window does not fit")
    check_layout(a1, b1, channel_axis=channel_axis, win_size=3, full=True, gradient=True)


def test_inputs_unchanged_list_and_views():
    """Inputs that share memory (a view of the other image) are left alone."""
    base = crop_center(real_image("moon"), 64, 64).astype(np.float64) / 255
    a = base[:, :60]
    b = base[:, 4:]
    before = base.copy()
    res = structural_similarity(a, b, data_range=1.0, full=True, gradient=True)
    assert np.array_equal(base, before)
    check_against_reference(structural_similarity, a, b, data_range=1.0, full=True,
                            gradient=True)
    assert isinstance(res, tuple) and len(res) == 3

"""The compiled kernels refuse inconsistent arguments instead of crashing
(issue 7: a kernel never takes the interpreter down), and regressions for the
crashes and wrong exception types that fuzzing found.

The kernels are private: the Python layer always passes consistent arguments.
These calls are what .ci/fuzz's atheris harness does at random; the last test
replays a few thousand of its inputs here, so that .ci/sanitize runs them
under ASan and UBSan too.
"""
import subprocess
import sys
import warnings

import numpy as np
import pytest

import ssimfast
from ssimfast._extension import kernels

E2 = np.empty((0, 0))
E3 = np.empty((0, 0, 0))
E4 = np.empty((0, 0, 0, 0))
T3 = np.full(3, 1 / 3)


def _u8(*shape):
    return np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)


def ssim_2d(x, y, taps0=T3, taps1=T3, row_lo=1, row_hi=None, crop1=1, smap=E2, tmaps=E3,
            rowsums=np.empty(0)):
    row_hi = x.shape[0] - 1 if row_hi is None else row_hi
    return kernels.ssim_2d(x, y, taps0, taps1, row_lo, row_hi, crop1, 1.0, 1.0, 1.0, 1.0,
                           smap, tmaps, 2, False, rowsums)


def test_ssim_2d_consistent_arguments_work():
    assert np.isfinite(ssim_2d(_u8(9, 10), _u8(9, 10)))


@pytest.mark.parametrize("args, message", [
    (dict(x=_u8(9, 10), y=_u8(9, 9)), "differ in shape"),
    (dict(x=_u8(0, 10), y=_u8(0, 10), row_lo=0, row_hi=0), "axis 0 is empty"),
    (dict(x=_u8(9, 0), y=_u8(9, 0), crop1=0), "axis 1 is empty"),
    (dict(x=_u8(9, 10), y=_u8(9, 10), taps1=np.ones(4)), "odd number of taps"),
    (dict(x=_u8(9, 10), y=_u8(9, 10), taps0=np.ones(0)), "odd number of taps"),
    (dict(x=_u8(9, 10), y=_u8(9, 10), crop1=-1), "negative"),
    (dict(x=_u8(9, 10), y=_u8(9, 10), row_lo=-1), "rows"),
    (dict(x=_u8(9, 10), y=_u8(9, 10), row_hi=10), "rows"),
    (dict(x=_u8(9, 10), y=_u8(9, 10), smap=np.zeros((9, 9))), "smap"),
    (dict(x=_u8(9, 10), y=_u8(9, 10), tmaps=np.zeros((2, 9, 10))), "tmaps"),
    (dict(x=_u8(9, 10), y=_u8(9, 10), rowsums=np.zeros(8)), "rowsums_out"),
])
def test_ssim_2d_refuses(args, message):
    with pytest.raises(ValueError, match=message):
        ssim_2d(**args)


def test_ssim_2d_border_beyond_the_axis_sums_nothing():
    """A tile's interior may be empty: the sum is 0, nothing is read or written out of range."""
    x = _u8(9, 10)
    assert ssim_2d(x, x, crop1=7) == 0.0
    assert ssim_2d(x, x, row_lo=12, row_hi=12) == 0.0


def test_ssim_2d_batch_refuses():
    x = _u8(2, 9, 10)
    totals = np.zeros(2)
    args = (T3, T3, 1, 1, 1.0, 1.0, 1.0, 1.0)
    kernels.ssim_2d_batch(x, x, *args, totals, 2, False)
    assert np.allclose(totals, 7 * 8)  # sums of the interior map of identical images
    with pytest.raises(ValueError, match="totals"):
        kernels.ssim_2d_batch(x, x, *args, np.zeros(3), 2, False)
    with pytest.raises(ValueError, match="differ in shape"):
        kernels.ssim_2d_batch(x, x[:, :-1], *args, totals, 2, False)


def test_ssim_cs_2d_refuses():
    x = _u8(9, 10)
    assert kernels.ssim_cs_2d(x, x, T3, T3, 1, 1, 1.0, 1.0, 1.0, 2) == (7 * 8, 7 * 8)
    assert kernels.ssim_cs_2d(x, x, T3, T3, 5, 1, 1.0, 1.0, 1.0, 2) == (0.0, 0.0)
    for y, taps, crop, message in [(x[:, :-1], T3, 1, "differ in shape"),
                                   (x, np.ones(4), 1, "odd number of taps"),
                                   (x, T3, -1, "negative")]:
        with pytest.raises(ValueError, match=message):
            kernels.ssim_cs_2d(x, y, taps, taps, crop, crop, 1.0, 1.0, 1.0, 2)


def test_ssim_3d_refuses():
    x = _u8(5, 6, 7)
    args = (T3, T3, T3, 1, 1, 1, 1.0, 1.0, 1.0, 1.0)
    assert np.isfinite(kernels.ssim_3d(x, x, *args, E3, E4, 2, False))
    with pytest.raises(ValueError, match="smap"):
        kernels.ssim_3d(x, x, *args, np.zeros((5, 6, 6)), E4, 2, False)
    with pytest.raises(ValueError, match="tmaps"):
        kernels.ssim_3d(x, x, *args, E3, np.zeros((3, 5, 6, 6)), 2, False)
    with pytest.raises(ValueError, match="axis 2 is empty"):
        kernels.ssim_3d(x[:, :, :0], x[:, :, :0], *args, E3, E4, 2, False)


def test_filter_axis_refuses():
    src = np.random.default_rng(1).random((2, 5, 3))
    dst = np.empty_like(src)
    kernels.filter_axis(src, dst, T3, 2)
    with pytest.raises(ValueError, match="overlap"):
        kernels.filter_axis(src, src, T3, 2)
    with pytest.raises(ValueError, match="differ in shape"):
        kernels.filter_axis(src, np.empty((2, 5, 2)), T3, 2)
    # An empty axis: nothing to filter (it used to divide by zero reflecting into it).
    kernels.filter_axis(np.empty((2, 0, 1)), np.empty((2, 0, 1)), T3, 2)
    kernels.filter_axis(np.empty((2, 3, 0)), np.empty((2, 3, 0)), T3, 2)


def test_ssim_map_nd_refuses():
    u = np.ones(6)
    kernels.ssim_map_nd(u, u, 2 * u, u, 1.0, 1.0, 1.0, 1.0, np.empty(6), E2)
    with pytest.raises(ValueError, match="length"):
        kernels.ssim_map_nd(u, u, 2 * u, u, 1.0, 1.0, 1.0, 1.0, np.empty(5), E2)
    with pytest.raises(ValueError, match="tmaps"):
        kernels.ssim_map_nd(u, u, 2 * u, u, 1.0, 1.0, 1.0, 1.0, np.empty(6), np.empty((3, 5)))


def _downsample(x, y, F, outx, outy):
    kernels.box_downsample_2d(x, y, F, outx, outy, 2)
    return outx, outy


def test_box_downsample_2d_refuses():
    """F=0 divided by zero (SIGFPE); outputs smaller than the result were written
    out of bounds. Run in a subprocess, so that a regression shows as a crash."""
    x = _u8(9, 10)
    ox, oy = _downsample(x, x, 2, np.empty((5, 5)), np.empty((5, 5)))
    assert np.array_equal(ox, oy)
    code = (
        "import numpy as np\n"
        "from ssimfast._extension import kernels\n"
        "x = np.zeros((9, 10), np.uint8)\n"
        "cases = [(x, x, 0, (5, 5), (5, 5)), (x, x, -1, (5, 5), (5, 5)),\n"
        "         (x, x, 11, (1, 1), (1, 1)), (x, x, 2, (2, 2), (5, 5)),\n"
        "         (x, x, 2, (5, 5), (5, 4)), (x, x, 2, (6, 5), (6, 5)),\n"
        "         (x, x[:, :9], 2, (5, 5), (5, 5)), (x[:0], x[:0], 1, (0, 10), (0, 10))]\n"
        "for a, b, F, sx, sy in cases:\n"
        "    try:\n"
        "        kernels.box_downsample_2d(a, b, F, np.empty(sx), np.empty(sy), 2)\n"
        "        print('ACCEPTED', F, sx, sy)\n"
        "    except ValueError as e:\n"
        "        print('REFUSED', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, f"exit code {out.returncode}: {out.stderr[-2000:]}"
    lines = out.stdout.splitlines()
    assert len(lines) == 8 and all(ln.startswith("REFUSED box_downsample_2d") for ln in lines), \
        out.stdout


def _masked(x, y, mask=E2, taps0=T3, taps1=T3, crop0=1, crop1=1, smap=E2, rows=None):
    rows = x.shape[0] if rows is None else rows
    sums, counts = np.zeros(rows), np.zeros(rows)
    kernels.ssim_masked_2d(x, y, mask.astype(np.uint8), False, taps0, taps1, crop0, crop1,
                           1.0, 1.0, 9.0, False, 0.5, smap, sums, counts, 2)
    return sums, counts


def test_ssim_masked_2d_refuses():
    """A negative border wrote outside the row sums (a double free at exit);
    the masked kernel checks its arguments as the others do. Run in a
    subprocess, so that a regression shows as a crash."""
    x = _u8(9, 10)
    sums, counts = _masked(x, x)
    assert np.array_equal(counts[1:-1], np.full(7, 8.0)) and np.allclose(sums[1:-1], 8.0)
    code = (
        "import numpy as np\n"
        "from ssimfast._extension import kernels\n"
        "x = np.zeros((9, 10), np.uint8)\n"
        "T3, E2 = np.full(3, 1 / 3), np.empty((0, 0))\n"
        "def call(x, y, crop0=1, crop1=1, taps0=T3, taps1=T3, rows=9, smap=E2):\n"
        "    kernels.ssim_masked_2d(x, y, np.empty((0, 0), np.uint8), False, taps0, taps1,\n"
        "                           crop0, crop1, 1.0, 1.0, 9.0, False, 0.5, smap,\n"
        "                           np.zeros(rows), np.zeros(rows), 2)\n"
        "cases = [dict(crop0=-3), dict(crop1=-2), dict(taps0=np.ones(0)), dict(taps1=np.ones(4)),\n"
        "         dict(rows=8), dict(smap=np.empty((9, 9))), dict(x=x[:0], y=x[:0], rows=0),\n"
        "         dict(y=x[:, :9])]\n"
        "for kw in cases:\n"
        "    kw = dict(dict(x=x, y=x), **kw)\n"
        "    try:\n"
        "        call(**kw)\n"
        "        print('ACCEPTED', kw)\n"
        "    except ValueError as e:\n"
        "        print('REFUSED', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, f"exit code {out.returncode}: {out.stderr[-2000:]}"
    lines = out.stdout.splitlines()
    assert len(lines) == 8 and all(ln.startswith("REFUSED ssim_masked_2d") for ln in lines), \
        out.stdout


@pytest.mark.parametrize("shape", [(7, 737_869_762_948_382_065), (7, 2**40)])
def test_broadcast_giant_axis_is_a_memory_error_not_a_crash(shape):
    """A zero-stride image with an axis of 2**59 pixels made the 2-D kernel's
    scratch size wrap around to a small allocation and segfault (found by
    fuzzing). Run in a subprocess, so that a regression shows as a crash."""
    code = (f"import numpy as np, ssimfast\n"
            f"a = np.broadcast_to(np.uint8(1), {shape})\n"
            f"try:\n    ssimfast.structural_similarity(a, a)\n"
            f"except MemoryError as e:\n    print('MemoryError', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, f"exit code {out.returncode}: {out.stderr[-2000:]}"
    assert out.stdout.startswith("MemoryError"), out.stdout


@pytest.mark.parametrize("option", ["data_range", "K1", "K2", "sigma"])
def test_huge_int_option_is_a_value_error(option):
    """10**400 (beyond float) raised OverflowError; it is a ValueError like inf."""
    a = _u8(12, 12)
    with pytest.raises(ValueError, match=option):
        ssimfast.structural_similarity(a, a, gaussian_weights=True, **{option: 10**400})


def test_tiled_with_no_channels_is_nan_like_structural_similarity():
    """ssim_tiled divided by zero bytes per row for a zero-length channel axis."""
    a = np.zeros((9, 9, 0), np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the mean of no channels
        want = ssimfast.structural_similarity(a, a, channel_axis=-1)
        got = ssimfast.ssim_tiled(a, a, channel_axis=-1)
    assert np.isnan(want) and np.isnan(got) and type(got) is type(want)


def test_atheris_harness_inputs_in_process():
    """Replay random inputs through the atheris targets (if atheris is installed):
    each call returns or refuses within its contract, or the test fails."""
    fuzz = pytest.importorskip("fuzz_atheris")
    rng = np.random.default_rng(7)
    seeds = fuzz.png_seeds()
    for i in range(1500):
        fuzz.fuzz_kernels(rng.bytes(int(rng.integers(0, 4000))))
        png = bytearray(seeds[i % len(seeds)])
        for _ in range(int(rng.integers(1, 4))):  # a few random byte changes
            png[int(rng.integers(0, len(png)))] = int(rng.integers(0, 256))
        fuzz.fuzz_png(bytes(png))


def test_unaligned_images_reach_the_kernels_aligned():
    """A uint16 view at an odd byte offset was read through misaligned pointers
    (undefined behaviour: UBSan under .ci/sanitize stopped test_layouts there)."""
    from ssimfast._ssim import _kernel_inputs

    buf = np.zeros(2 * 81 + 1, np.uint8)
    a = buf[1:].view(np.uint16).reshape(9, 9)
    assert not a.flags.aligned
    x, y = _kernel_inputs(a, a, np.dtype(np.float64))
    assert x.flags.aligned and y.flags.aligned
    assert ssimfast.structural_similarity(a, a + 1, data_range=255) == \
        ssimfast.structural_similarity(a.copy(), a + 1, data_range=255)

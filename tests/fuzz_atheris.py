"""atheris (libFuzzer) harness for ssimfast's compiled entry points; .ci/fuzz runs it.

    python tests/fuzz_atheris.py TARGET [libFuzzer options] [corpus folders]
    python tests/fuzz_atheris.py seed FOLDER     # write the PNG seed corpus

Targets:
  png       the command's PNG reading (ssimfast._images: the header's pixel limit,
            then imagecodecs) on fuzzed bytes, seeded with valid PNGs of every
            kind: it returns an image of the header's shape (the same pixels as
            Pillow's, where Pillow reads the file as 8-bit gray or colour too),
            or raises ImageReadError with a message.
  kernels   ssim_2d, ssim_2d_batch, ssim_3d, filter_axis and ssim_map_nd with
            fuzzed arrays (dtypes, shapes, strides, zero-stride giants) and
            arguments, mostly consistent ones so that the loops run.

A kernel may refuse its arguments with ValueError, TypeError, MemoryError or
OverflowError (a Python int too large for a C int). A crash, or any other
exception, is a finding: libFuzzer saves the input as crash-<hash> and exits
non-zero. (The C code is not coverage-instrumented: gcc has no libFuzzer
instrumentation, so guidance comes from the Python code that atheris
instruments; .ci/sanitize runs the kernels under ASan and UBSan instead.)
"""
import io
import sys
import warnings
import zlib

import atheris

with atheris.instrument_imports(include=["ssimfast"]):
    import numpy as np

    from ssimfast import _images, _png
    from ssimfast._extension import kernels

KERNEL_DTYPES = ["u1", "u2", "i2", "i4", "i8", "f4", "f8"]
# What the kernels must refuse (a TypeError from the fused-type dispatch).
OTHER_DTYPES = ["i1", "f2", "c8", "b1", ">u2", ">f8", "u8"]
REFUSALS = (ValueError, TypeError, MemoryError, OverflowError)


# --------------------------------------------------------------------------
# png
# --------------------------------------------------------------------------
def png_seeds():
    """Small valid PNGs of each kind the reader handles, and a few it passes on."""
    from PIL import Image

    rng = np.random.default_rng(0)
    seeds = [_png.encode(rng.integers(0, 256, (3, 4, 3), dtype=np.uint8))]
    for mode, channels, dtype in [("L", 0, np.uint8), ("LA", 2, np.uint8), ("RGB", 3, np.uint8),
                                  ("RGBA", 4, np.uint8), ("I;16", 0, np.uint16), ("P", 0, np.uint8),
                                  ("1", 0, bool)]:
        for h, w in [(1, 1), (2, 5), (7, 3)]:
            shape = (h, w, channels) if channels else (h, w)
            if dtype is bool:
                pixels = rng.random(shape) < 0.5
            else:
                pixels = rng.integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)
            im = Image.fromarray(pixels) if mode != "P" else Image.fromarray(pixels).convert("P")
            buf = io.BytesIO()
            im.save(buf, format="PNG")
            seeds.append(buf.getvalue())
    return seeds


def pillow_pixels(data):
    """Pillow's pixels for 8-bit PNGs (its 16-bit colour is reduced), else None."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.mode not in ("L", "LA", "RGB", "RGBA"):
                return None
            return np.asarray(im)
    except Exception:  # noqa: BLE001 - Pillow refusing the file is not our finding
        return None


def with_crcs_repaired(data):
    """`data` with every chunk's CRC recomputed: libFuzzer cannot fix up a CRC
    after a mutation, and without this nearly every input stops at the CRC check."""
    out, pos = bytearray(data[:8]), 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        end = min(len(data), pos + 8 + length)
        out += data[pos:end] + zlib.crc32(data[pos + 4:end]).to_bytes(4, "big")
        pos = end + 4
    return bytes(out + data[pos:])


def fuzz_png(data):
    check_png(data)
    check_png(with_crcs_repaired(data))


FUZZ_LIMITS = _images.Limits(max_pixels=1 << 20)  # headers of any size are the test


def check_png(data):
    try:
        loaded = _images._decode(data, FUZZ_LIMITS)
    except _images.ImageReadError as exc:
        assert str(exc), "ImageReadError without a message"
        return
    except Exception as exc:  # noqa: BLE001 - read_image turns these into messages
        assert str(exc) or type(exc).__name__, "an exception without a message"
        return
    if not data.startswith(_png.SIGNATURE):
        return
    image = loaded.array
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert image.shape[:2] == (height, width), (image.shape, width, height)
    assert image.dtype in (np.uint8, np.uint16), image.dtype
    theirs = pillow_pixels(data)
    if theirs is not None and image.dtype == np.uint8 and theirs.shape == image.shape:
        assert np.array_equal(image, theirs), "pixels differ from Pillow's"


# --------------------------------------------------------------------------
# kernels
# --------------------------------------------------------------------------
def array(fdp, shape, dtype):
    """An array of `shape` as a view: C or F base, steps, reversed axes; or, one
    time in 16, a zero-stride broadcast with a giant axis (2**40 or more:
    small enough ones would only run for hours)."""
    dtype = np.dtype(dtype)
    if fdp.ConsumeIntInRange(0, 15) == 15 and shape:
        giant = list(shape)
        giant[fdp.ConsumeIntInRange(0, len(shape) - 1)] = 1 << fdp.ConsumeIntInRange(40, 62)
        try:
            return np.broadcast_to(np.zeros((), dtype), tuple(giant))
        except ValueError:  # larger than NumPy allows
            pass
    steps = [fdp.PickValueInList([1, 1, 2, 3]) for _ in shape]
    base_shape = [n * s for n, s in zip(shape, steps)]
    count = int(np.prod(base_shape))
    raw = fdp.ConsumeBytes(count * dtype.itemsize).ljust(count * dtype.itemsize, b"\x00")
    base = np.frombuffer(raw, dtype).reshape(base_shape)
    if fdp.ConsumeBool():
        base = np.asfortranarray(base)
    index = tuple(slice(None, None, -s if fdp.ConsumeBool() else s) for s in steps)
    return base[index]


def taps(fdp, ones=False):
    n = fdp.PickValueInList([1, 3, 3, 5, 7, 7, 11, 0, 2, 21])
    if ones:
        return np.ones(n)
    return np.array(fdp.ConsumeFloatList(n) + [0.25] * n)[:n].astype(np.float64)


def out(fdp, shape, wanted):
    """An output of `shape` if wanted (one time in 8 of a wrong shape), else empty.

    (Here and above, the consistent choice is the one an exhausted input gives:
    FuzzedDataProvider returns the smallest value then.)"""
    if not wanted:
        return np.empty((0,) * len(shape))
    if fdp.ConsumeIntInRange(0, 7) == 7:
        shape = tuple(max(0, n + fdp.ConsumeIntInRange(-1, 1)) for n in shape)
    return np.zeros(shape)


def fuzz_kernels(data):
    fdp = atheris.FuzzedDataProvider(data)
    which = fdp.ConsumeIntInRange(0, 4)
    code = fdp.PickValueInList(KERNEL_DTYPES * 4 + OTHER_DTYPES)
    code2 = code if fdp.ConsumeIntInRange(0, 7) < 7 else fdp.PickValueInList(KERNEL_DTYPES)
    exact = code in ("u1", "u2", "i2") and fdp.ConsumeBool()
    c1, c2 = fdp.ConsumeRegularFloat(), fdp.ConsumeRegularFloat()
    cov, scale = fdp.ConsumeRegularFloat(), fdp.ConsumeRegularFloat()
    n_threads = fdp.PickValueInList([1, 2, 3, 0, -1, 64, 1 << 40])
    try:
        if which == 0:
            H, W = fdp.ConsumeIntInRange(0, 12), fdp.ConsumeIntInRange(0, 40)
            x, y = array(fdp, (H, W), code), array(fdp, (H, W), code2)
            t0, t1 = taps(fdp, exact), taps(fdp, exact)
            c0, cr = t0.shape[0] // 2, t1.shape[0] // 2
            lo, hi = (c0, H - c0) if not fdp.ConsumeBool() else (
                fdp.ConsumeIntInRange(-2, H + 2), fdp.ConsumeIntInRange(-2, H + 2))
            crop = cr if not fdp.ConsumeBool() else fdp.ConsumeIntInRange(-2, W + 2)
            want_map, want_grad = fdp.ConsumeBool(), fdp.ConsumeBool()
            smap = out(fdp, (H, W), want_map)
            if want_map and fdp.ConsumeBool():  # strided map
                smap = np.zeros((H, 2 * W))[::-1, ::2]
            kernels.ssim_2d(x, y, t0, t1, lo, hi, crop, scale, c1, c2, cov, smap,
                            out(fdp, (3, H, W), want_grad), n_threads, exact,
                            out(fdp, (H,), fdp.ConsumeBool()))
        elif which == 1:
            N, H, W = (fdp.ConsumeIntInRange(0, 4), fdp.ConsumeIntInRange(0, 12),
                       fdp.ConsumeIntInRange(0, 20))
            x, y = array(fdp, (N, H, W), code), array(fdp, (N, H, W), code2)
            t0, t1 = taps(fdp, exact), taps(fdp, exact)
            crop = t1.shape[0] // 2 if not fdp.ConsumeBool() else fdp.ConsumeIntInRange(-1, 12)
            kernels.ssim_2d_batch(x, y, t0, t1, t0.shape[0] // 2, crop,
                                  scale, c1, c2, cov, out(fdp, (N,), True), n_threads, exact)
        elif which == 2:
            shape = tuple(fdp.ConsumeIntInRange(0, 9) for _ in range(3))
            x, y = array(fdp, shape, code), array(fdp, shape, code2)
            t = [taps(fdp, exact) for _ in range(3)]
            crops = [tt.shape[0] // 2 if not fdp.ConsumeBool() else fdp.ConsumeIntInRange(-1, 10)
                     for tt in t]
            kernels.ssim_3d(x, y, *t, *crops, scale, c1, c2, cov,
                            out(fdp, shape, fdp.ConsumeBool()),
                            out(fdp, (3,) + shape, fdp.ConsumeBool()), n_threads, exact)
        elif which == 3:
            shape = tuple(fdp.ConsumeIntInRange(0, 9) for _ in range(3))
            src = np.ascontiguousarray(array(fdp, shape, "f8"))
            dst = np.zeros(shape) if fdp.ConsumeIntInRange(0, 7) < 7 else src  # overlap: refused
            kernels.filter_axis(src, dst, taps(fdp), n_threads)
        else:
            n = fdp.ConsumeIntInRange(0, 64)
            stats = [np.ascontiguousarray(array(fdp, (n,), "f8")) for _ in range(4)]
            kernels.ssim_map_nd(*stats, scale, c1, c2, cov, out(fdp, (n,), True),
                                out(fdp, (3, n), fdp.ConsumeBool()))
    except REFUSALS as exc:
        assert str(exc), f"{type(exc).__name__} without a message"


TARGETS = {"png": fuzz_png, "kernels": fuzz_kernels}


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "seed":  # write the PNG seeds to a folder
        for i, seed in enumerate(png_seeds()):
            with open(f"{sys.argv[2]}/seed-{i}.png", "wb") as f:
                f.write(seed)
        return
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [libFuzzer options] [corpus]\n"
                 f"       {sys.argv[0]} seed FOLDER")
    target = sys.argv.pop(1)
    warnings.simplefilter("ignore")
    atheris.Setup(sys.argv, TARGETS[target])
    atheris.Fuzz()


if __name__ == "__main__":
    main()

"""PNG decoders for the command line: time per image, and whether the GIL is free.

    python benchmarks/bench_png_decoders.py [--repeat 3]

Decodes 512x512 PNGs (8-bit gray written by imagecodecs and, column `cli`, by
Pillow as bench_cli.py writes them: noise, mostly Paeth-filtered rows; 8-bit RGB,
16-bit gray and RGB) with each decoder that is installed: imagecodecs (libpng; the
one the command uses), imagecodecs' libspng, Pillow, OpenCV (cv2.imdecode), pyspng
(libspng), kornia-rs (Rust png), pywuffs. Then the inflation alone of the `cli`
file's image data with zlib (what libpng calls), python-isal and libdeflate: the
share of a decode that the inflater takes. Prints the median time per image, one thread, and the GIL
check: a Python thread counts while one long decode (4096x4096 gray) runs; the
count during the call over the count during as long a sleep is about 0 for a
decoder that holds the GIL (then a thread pool decodes on one core only) and
clearly above 0 for one that releases it (1 on an idle machine).
"""
import argparse
import io
import statistics
import struct
import sys
import threading
import time

import numpy as np


def decoders():
    found = {}
    try:
        import imagecodecs
        found["imagecodecs"] = imagecodecs.png_decode
        if imagecodecs.SPNG.available:
            found["imagecodecs-spng"] = imagecodecs.spng_decode
    except ImportError:
        pass
    try:
        from PIL import Image
        found["pillow"] = lambda b: np.asarray(Image.open(io.BytesIO(b)))
    except ImportError:
        pass
    try:
        import cv2
        cv2.setNumThreads(1)
        found["opencv"] = lambda b: cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_UNCHANGED)
    except ImportError:
        pass
    try:
        import pyspng
        found["pyspng"] = pyspng.load
    except ImportError:
        pass
    try:
        import kornia_rs.io as kio

        def kornia(b):
            width, height, depth, colour = struct.unpack(">IIBB", b[16:26])
            mode = {0: "mono", 2: "rgb", 6: "rgba"}[colour]
            read = kio.decode_image_png_u16 if depth == 16 else kio.decode_image_png_u8
            return read(b, (height, width), mode)
        found["kornia-rs"] = kornia
    except ImportError:
        pass
    try:
        import pywuffs
        from pywuffs import aux

        def wuffs(b):
            config = aux.ImageDecoderConfig()
            config.enabled_decoders = [pywuffs.ImageDecoderType.PNG]
            config.pixel_format = pywuffs.PixelFormat.Y  # 8-bit gray only
            result = aux.ImageDecoder(config).decode(b)
            if result.error_message:
                raise ValueError(result.error_message)
            return result.pixbuf
        found["pywuffs"] = wuffs
    except ImportError:
        pass
    return found


def inflaters():
    import zlib
    found = {"zlib": zlib.decompress}
    try:
        from isal import isal_zlib
        found["isal"] = isal_zlib.decompress
    except ImportError:
        pass
    try:
        import imagecodecs
        if imagecodecs.DEFLATE.available:
            found["libdeflate"] = lambda b: imagecodecs.deflate_decode(b, out=1 << 20)
    except ImportError:
        pass
    return found


def image_data(png):
    """The concatenated IDAT chunks of a PNG: its zlib stream."""
    parts, at = [], 8
    while at < len(png):
        length, kind = struct.unpack(">I4s", png[at:at + 8])
        if kind == b"IDAT":
            parts.append(png[at + 8:at + 8 + length])
        at += 12 + length
    return b"".join(parts)


def median_time(fn, blob, repeat):
    fn(blob)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        for _ in range(10):
            fn(blob)
        times.append((time.perf_counter() - t) / 10)
    return statistics.median(times)


def images():
    from skimage import data

    rng = np.random.default_rng(0)
    gray = data.camera()
    rgb = data.astronaut()
    noisy = np.clip(gray + rng.normal(0, 5, gray.shape), 0, 255).astype(np.uint8)
    return {"gray8": noisy, "cli": noisy, "rgb8": rgb, "gray16": noisy.astype(np.uint16) * 257 + 3,
            "rgb16": rgb.astype(np.uint16) * 257 + 3}


def encode(array, pillow=False):
    if pillow:  # as bench_cli.py saves its pairs: Pillow's defaults
        from PIL import Image
        out = io.BytesIO()
        Image.fromarray(array).save(out, format="PNG")
        return out.getvalue()
    import imagecodecs
    return imagecodecs.png_encode(array)


def holds_gil(decode, blob):
    """Python work done during one decode / during as long a sleep."""
    sys.setswitchinterval(0.0005)
    count, stop = [0], [False]

    def counter():
        while not stop[0]:
            count[0] += 1

    thread = threading.Thread(target=counter)
    thread.start()
    time.sleep(0.05)
    n0, t0 = count[0], time.perf_counter()
    decode(blob)
    took = time.perf_counter() - t0
    n1 = count[0]
    time.sleep(took)
    n2 = count[0]
    stop[0] = True
    thread.join()
    return (n1 - n0) / max(n2 - n1, 1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    found = decoders()
    blobs = {name: encode(im, pillow=name == "cli") for name, im in images().items()}
    print(f"{'decoder':16s} " + " ".join(f"{k:>9s}" for k in blobs) + "   GIL free")
    rng = np.random.default_rng(1)
    big = rng.normal(size=(4096, 4096)).cumsum(0).cumsum(1)
    big = encode(((big - big.min()) / np.ptp(big) * 255).astype(np.uint8))
    for name, decode in found.items():
        cells = []
        for blob in blobs.values():
            try:
                decode(blob)
            except Exception:  # noqa: BLE001 - a kind this decoder does not read
                cells.append(f"{'-':>9s}")
                continue
            cells.append(f"{median_time(decode, blob, args.repeat) * 1e3:7.2f}ms")
        print(f"{name:16s} " + " ".join(cells) + f"   {holds_gil(decode, big):.2f}")
    stream = image_data(blobs["cli"])
    print(f"inflating the `cli` file's image data alone ({len(stream):,} bytes):")
    for name, inflate in inflaters().items():
        print(f"  {name:14s} {median_time(inflate, stream, args.repeat) * 1e3:7.2f}ms")


if __name__ == "__main__":
    main()

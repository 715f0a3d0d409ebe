"""Determinism (issue 7, item 7): the same inputs give bit-identical results in
separate processes, whatever the thread count of each (OMP_NUM_THREADS) and the
hash seed. Worker counts within one process are covered by test_threads.py,
kernel variants by test_dispatch.py.

Each process computes a fixed set of results from seeded inputs and prints a
SHA-256 of each result's bytes; all processes must print the same digests.
"""
import json
import os
import subprocess
import sys

import pytest

import ssimfast

# The folder holding the ssimfast that the tests import (a checkout built in
# place, or site-packages): the subprocesses must import the same one.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(ssimfast.__file__)))

SCRIPT = r"""
import hashlib, json, sys, warnings
import numpy as np
import ssimfast

warnings.simplefilter("ignore")
rng = np.random.default_rng(2024)
a = rng.integers(0, 256, (301, 257), dtype=np.uint8)
b = np.clip(a + rng.normal(0, 20, a.shape), 0, 255).astype(np.uint8)
f1, f2 = a.astype(np.float32) / 255, b.astype(np.float32) / 255
rgb1 = rng.integers(0, 256, (120, 90, 3), dtype=np.uint8)
rgb2 = np.clip(rgb1 + rng.normal(0, 20, rgb1.shape), 0, 255).astype(np.uint8)
vol1 = rng.random((20, 40, 30))
vol2 = vol1 + rng.normal(0, 0.1, vol1.shape)
nd1 = rng.random((7, 8, 9, 10))
nd2 = nd1 + rng.normal(0, 0.1, nd1.shape)
ssim = ssimfast.structural_similarity
cases = {
    "uint8": lambda: ssim(a, b),
    "uint8 full gradient": lambda: ssim(a, b, full=True, gradient=True),
    "uint8 gaussian full": lambda: ssim(a, b, gaussian_weights=True, full=True),
    "uint8 strided": lambda: ssim(a[::-1, ::2], b[::-1, ::2], win_size=5),
    "float32 full": lambda: ssim(f1, f2, data_range=1.0, full=True),
    "rgb channel_axis": lambda: ssim(rgb1, rgb2, channel_axis=-1, full=True),
    "3-D gradient": lambda: ssim(vol1, vol2, data_range=1.0, gradient=True, full=True),
    "4-D": lambda: ssim(nd1, nd2, data_range=1.0, full=True),
    "batch": lambda: ssimfast.ssim_batch(np.stack([a, b, a]), np.stack([b, a, a])),
    "tiled": lambda: ssimfast.ssim_tiled(a, b, tile=16),
    "tiled 3-D": lambda: ssimfast.ssim_tiled(vol1, vol2, data_range=1.0, tile=8),
    "report": lambda: ssimfast.report(a, b).mean,
}

def digest(result):
    items = result if isinstance(result, tuple) else (result,)
    h = hashlib.sha256()
    for item in items:
        h.update(np.asarray(item).tobytes())
    return h.hexdigest()

print(json.dumps({name: digest(f()) for name, f in cases.items()}))
"""

ENVIRONMENTS = [
    {"OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "1"},
    {"OMP_NUM_THREADS": "2", "PYTHONHASHSEED": "2"},
    {"OMP_NUM_THREADS": "3", "PYTHONHASHSEED": "3"},
]


def _digests(extra_env):
    env = dict(os.environ, **extra_env)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_bit_identical_across_processes_and_thread_counts():
    runs = [_digests(env) for env in ENVIRONMENTS]
    first = runs[0]
    # (Bands and report() give structural_similarity's mean bit for bit, as documented.)
    assert first["tiled"] == first["uint8"] == first["report"]
    for env, run in zip(ENVIRONMENTS[1:], runs[1:]):
        differ = sorted(name for name in first if run[name] != first[name])
        assert not differ, f"results differ under {env} from {ENVIRONMENTS[0]}: {differ}"


@pytest.mark.parametrize("kernels", ["baseline"])
def test_bit_identical_with_other_kernels_in_another_process(kernels):
    """A process forced onto the baseline kernels gives the same bits as the
    default choice (portable builds; a native build has only one variant)."""
    default = _digests({"OMP_NUM_THREADS": "2"})
    env = {"OMP_NUM_THREADS": "2", "SSIMFAST_KERNELS": kernels}
    probe = subprocess.run([sys.executable, "-c", "import ssimfast"], capture_output=True,
                           env=dict(os.environ, **env, PYTHONPATH=ROOT), cwd=ROOT)
    if probe.returncode != 0:
        pytest.skip(f"no {kernels} kernels in this build")
    assert _digests(env) == default

"""Runtime dispatch between kernel builds (baseline, AVX2, AVX-512).

A portable x86-64 build holds the same kernels compiled for several instruction
sets; every one this CPU runs must give the same bits as the baseline build,
for every dtype, option and code path (2-D, 3-D, N-D, gradient, full map).
On a native build there is one variant and these tests check the selection.
"""
import os
import subprocess
import sys

import numpy as np
import pytest
import ssimfast
import ssimfast._ssim as ssim_module
from ssimfast._extension import kernels, variants

from helpers import DTYPE_VARIANTS, assert_identical, convert, crop_center, distort, real_image

VARIANTS = variants()
NAMES = list(VARIANTS)

OPTIONS = [
    {},
    {"gaussian_weights": True, "use_sample_covariance": False},
    {"win_size": 11, "full": True},
    {"gradient": True, "full": True},
    {"gaussian_weights": True, "gradient": True, "sigma": 0.8},
]


def _score_with(monkeypatch, name, im1, im2, **options):
    monkeypatch.setattr(ssim_module, "kernels", VARIANTS[name])
    return ssimfast.structural_similarity(im1, im2, **options)


def test_the_fastest_runnable_variant_is_chosen():
    assert kernels is list(VARIANTS.values())[-1]
    assert kernels.target() == NAMES[-1]
    for name, module in VARIANTS.items():
        assert module.target() == name
        assert module.cpu_supports(name) or name == "native"
    if kernels.native_build():
        assert NAMES == ["native"]


@pytest.mark.parametrize("variant", sorted(DTYPE_VARIANTS))
@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "default")
def test_every_variant_gives_the_baseline_bits_2d(monkeypatch, variant, options):
    ref = crop_center(real_image("camera"), 96, 130)
    im1, data_range = convert(ref, variant)
    im2, _ = convert(distort(ref, "noise"), variant)
    results = [_score_with(monkeypatch, name, im1, im2, data_range=data_range, **options)
               for name in NAMES]
    for name, result in zip(NAMES[1:], results[1:]):
        assert_identical(results[0], result, where=f"{NAMES[0]} vs {name}, {variant}, {options}")


@pytest.mark.parametrize("shape", [(12, 20, 31), (11, 12, 13, 14), (300,)])
@pytest.mark.parametrize("options", OPTIONS[:2] + OPTIONS[3:4], ids=lambda o: ",".join(o) or "default")
def test_every_variant_gives_the_baseline_bits_nd(monkeypatch, shape, options):
    rng = np.random.default_rng(len(shape))
    im1 = rng.integers(0, 256, shape, dtype=np.uint8)
    im2 = np.clip(im1 + rng.normal(0, 20, shape), 0, 255).astype(np.uint8)
    options = dict(options, win_size=7) if not options.get("gaussian_weights") else options
    results = [_score_with(monkeypatch, name, im1, im2, **options) for name in NAMES]
    for name, result in zip(NAMES[1:], results[1:]):
        assert_identical(results[0], result, where=f"{NAMES[0]} vs {name}, {shape}, {options}")


def _import_in_subprocess(env_value):
    code = "import ssimfast._extension as e; print(e.kernels.target())"
    env = dict(os.environ, SSIMFAST_KERNELS=env_value)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)


@pytest.mark.parametrize("name", NAMES)
def test_ssimfast_kernels_environment_variable_picks_a_variant(name):
    proc = _import_in_subprocess(name)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == name


def test_ssimfast_kernels_names_an_unavailable_variant():
    proc = _import_in_subprocess("sse9")
    assert proc.returncode != 0
    assert "SSIMFAST_KERNELS='sse9'" in proc.stderr
    assert "offer only" in proc.stderr and NAMES[0] in proc.stderr


def test_show_config_names_the_kernels_in_use(capsys):
    ssimfast.show_config()
    out = capsys.readouterr().out
    assert f"kernels in use: {kernels.target()} (runnable here: {', '.join(NAMES)})" in out

"""The package around the kernels: a missing extension fails loudly, the
command-line sample job runs and agrees with scikit-image, show_config reports
the build."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import ssimfast
from ssimfast._extension import kernels
from ssimfast._sample import DAMAGE, sample_pair


def test_unbuilt_source_tree_raises_helpful_import_error(tmp_path):
    """A copy of the package without its compiled module says how to build it."""
    src = Path(ssimfast.__file__).parent
    dst = tmp_path / "ssimfast"
    dst.mkdir()
    for f in src.glob("*.py"):
        shutil.copy(f, dst / f.name)
    # -S: no site-packages, whose editable-install finder would find the built copy.
    code = f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import ssimfast"
    proc = subprocess.run([sys.executable, "-S", "-c", code], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert "ImportError" in proc.stderr
    assert "compiled extension (ssimfast._ssim_cy) is not built" in proc.stderr
    assert "pip install -e ." in proc.stderr
    assert "circular import" not in proc.stderr


def test_sample_pair_shows_a_local_defect_the_mean_hides():
    ref, dist = sample_pair()
    mean, smap = ssimfast.structural_similarity(ref, dist, full=True)
    assert mean > 0.8
    assert smap[DAMAGE].mean() < 0.5
    worst = np.unravel_index(np.argmin(smap), smap.shape)
    assert all(s.start - 3 <= w < s.stop + 3 for w, s in zip(worst, DAMAGE))


def test_show_config_matches_the_build(capsys):
    ssimfast.show_config()
    out = capsys.readouterr().out
    assert out.startswith(f"ssimfast {ssimfast.__version__}")
    assert ("built with OpenMP: yes" in out) == kernels.openmp_enabled()
    assert ("-march=native): yes" in out) == kernels.native_build()
    assert f"default threads (workers=None): {max(1, kernels.max_threads())}" in out


def test_bench_prints_and_returns_speedups():
    import io
    out = io.StringIO()
    rows = ssimfast.bench(sizes=((40, 48),), repeat=1, file=out)
    text = out.getvalue()
    assert "speed = scikit-image time / ssimfast time" in text
    assert [r["window"] for r in rows] == ["uniform 7x7", "gaussian 1.5"]
    for r in rows:
        assert r["size"] == (40, 48)
        assert r["speedup"] == r["skimage_s"] / r["ssimfast_s"] > 0
        assert f"{r['speedup']:.1f}x" in text


def test_python_m_ssimfast_bench_runs():
    proc = subprocess.run([sys.executable, "-W", "error::RuntimeWarning", "-m", "ssimfast.bench",
                           "--quick", "--repeat", "1"], capture_output=True, text=True, check=True,
                          cwd=Path(ssimfast.__file__).parent.parent)
    assert "512x512" in proc.stdout and "gaussian 1.5" in proc.stdout


CHECKOUT = Path(__file__).resolve().parent.parent
BENCHMARKS = sorted((CHECKOUT / "benchmarks").glob("bench_*.py"))


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.name)
def test_benchmark_scripts_show_their_help(script):
    """Each benchmark script parses its options (without the optional peers installed)."""
    if Path(ssimfast.__file__).resolve().parent.parent != CHECKOUT:
        pytest.skip("the scripts benchmark their checkout, and this ssimfast is installed elsewhere")
    proc = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "usage:" in proc.stdout

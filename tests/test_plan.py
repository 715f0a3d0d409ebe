"""The resolver (ssimfast._plan): one immutable plan per call, the decisions it
makes better than before (lists ask for data_range; unknown keywords list every
option and suggest the closest), ssim_tiled's map_out checks, and layering."""
import ast
import pathlib
import warnings

import numpy as np
import pytest

import ssimfast
from ssimfast._plan import OPTIONS, Plan, resolve

PACKAGE = pathlib.Path(ssimfast.__file__).parent


def _pair(shape=(32, 40), dtype=np.uint8, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, shape).astype(dtype)
    return a, np.clip(a + rng.normal(0, 20, shape), 0, 255).astype(dtype)


# --------------------------------------------------------------------------
# Input that was not an array has no inferred data range
# --------------------------------------------------------------------------

@pytest.mark.parametrize("convert", [lambda a: a.tolist(), lambda a: [list(r) for r in a]],
                         ids=["tolist", "lists of numpy ints"])
def test_lists_of_integers_ask_for_data_range(convert):
    a, b = _pair()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ValueError, not the int64-range warning
        with pytest.raises(ValueError, match="were not NumPy arrays.*data_range"):
            ssimfast.structural_similarity(convert(a), convert(b))
        with pytest.raises(ValueError, match="were not NumPy arrays"):
            ssimfast.structural_similarity(a, convert(b))
        with pytest.raises(ValueError, match="were not NumPy arrays"):
            ssimfast.ms_ssim(convert(_pair((200, 200))[0]), convert(_pair((200, 200))[1]))
        with pytest.raises(ValueError, match="pair 0: .*were not NumPy arrays"):
            ssimfast.ssim_batch([convert(a)], [convert(b)])
    want = ssimfast.structural_similarity(a, b, data_range=255)
    assert ssimfast.structural_similarity(convert(a), convert(b), data_range=255) == want
    got = ssimfast.structural_similarity(convert(a.astype(np.uint16)), convert(b), bits=8)
    assert got == want
    # Arrays keep their dtype's range, as scikit-image infers it.
    assert ssimfast.structural_similarity(a, b) == want


def test_float_lists_keep_the_float_message():
    a, b = _pair()
    with pytest.raises(ValueError, match="Since image dtype is floating point"):
        ssimfast.structural_similarity((a / 255).tolist(), (b / 255).tolist())


# --------------------------------------------------------------------------
# Unknown keywords
# --------------------------------------------------------------------------

def test_an_unknown_keyword_lists_every_option_and_suggests_the_closest():
    a, b = _pair()
    with pytest.raises(TypeError) as info:
        ssimfast.structural_similarity(a, b, win_siz=7)
    message = str(info.value)
    assert "unexpected keyword argument 'win_siz'; did you mean 'win_size'?" in message
    for option in OPTIONS["structural_similarity"]:
        assert option in message
    assert "win_size" in message.split("options are")[1]
    with pytest.raises(TypeError, match="did you mean 'gaussian_weights'"):
        ssimfast.structural_similarity(a, b, gausian_weights=True)
    with pytest.raises(TypeError, match=r"'zzz' \(scikit-image would silently ignore it\); its"):
        ssimfast.structural_similarity(a, b, zzz=1)
    with pytest.raises(TypeError, match="ssim_batch.*did you mean 'progress'"):
        ssimfast.ssim_batch([a], [b], progres=print)
    with pytest.raises(TypeError, match="ssim_tiled.*did you mean 'map_out'"):
        ssimfast.ssim_tiled(a, b, map_ou=None)


# --------------------------------------------------------------------------
# The plan
# --------------------------------------------------------------------------

def test_a_plan_is_immutable_and_settings_describe_it():
    a, b = _pair()
    plan, x, y = resolve(a, b, full=True, kwargs={"K1": 0.02})
    assert isinstance(plan, Plan) and x is a and y is b
    with pytest.raises(AttributeError):
        plan.full = False
    assert not plan.setup.params.taps.flags.writeable
    s = ssimfast.settings(a, b, full=True, gradient=True, K1=0.02)
    assert s["outputs"] == "mean, gradient, map" and s["K1, K2"] == (0.02, 0.03)
    m = ssimfast.settings(a, b, mask=np.ones(a.shape, bool), nan_policy="omit")
    assert m["mask and NaN"] == "mask given, nan_policy='omit', min_valid=0.5"
    with pytest.raises(ValueError, match="mask has shape"):  # the call's errors
        ssimfast.settings(a, b, mask=np.ones((3, 3), bool))


def test_report_uses_the_plan_for_a_preset_map():
    """A preset's map holds the inner windows only: report() leaves no second border out."""
    a, b = _pair((64, 72))
    r = ssimfast.report(a, b, preset="matlab_index", k=1)
    mean, smap = ssimfast.structural_similarity(a, b, preset="matlab_index", full=True)
    assert r.mean == mean and r.min == smap.min()
    assert r.argmin == tuple(int(i) for i in np.unravel_index(np.argmin(smap), smap.shape))


# --------------------------------------------------------------------------
# ssim_tiled's map_out
# --------------------------------------------------------------------------

def test_tiled_refuses_a_map_out_on_an_inputs_file(tmp_path):
    a, b = _pair((48, 60), np.float64)
    path = tmp_path / "a.raw"
    a.tofile(path)
    im1 = np.memmap(path, dtype=np.float64, mode="r", shape=a.shape)
    for map_out in (np.memmap(path, dtype=np.float64, mode="r+", shape=a.shape),
                    np.memmap(path, dtype=np.float32, mode="r+", shape=a.shape)):
        with pytest.raises(ValueError, match="same bytes of .* as im1"):
            ssimfast.ssim_tiled(im1, b, data_range=255, map_out=map_out)
    assert np.array_equal(np.fromfile(path), a.ravel())  # nothing was written


def test_tiled_allows_a_map_out_elsewhere_in_the_same_file(tmp_path):
    a, b = _pair((48, 60), np.float64)
    path = tmp_path / "both.raw"
    np.zeros(2 * a.size).tofile(path)
    both = np.memmap(path, dtype=np.float64, mode="r+", shape=(2,) + a.shape)
    both[0] = a
    both.flush()
    im1 = np.memmap(path, dtype=np.float64, mode="r", shape=a.shape)
    map_out = np.memmap(path, dtype=np.float64, mode="r+", shape=a.shape, offset=a.nbytes)
    mean, smap = ssimfast.structural_similarity(a, b, data_range=255, full=True)
    assert ssimfast.ssim_tiled(im1, b, data_range=255, map_out=map_out) == mean
    assert np.array_equal(np.asarray(map_out), smap)
    overlapping = np.memmap(path, dtype=np.float64, mode="r+", shape=(2,) + a.shape)[0]
    with pytest.raises(ValueError, match="same bytes"):  # a view over im1's bytes
        ssimfast.ssim_tiled(im1, b, data_range=255, map_out=overlapping)


@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.bool_])
def test_tiled_refuses_a_map_out_that_is_not_float(dtype):
    a, b = _pair()
    with pytest.raises(TypeError, match="map_out has dtype .*floating-point"):
        ssimfast.ssim_tiled(a, b, map_out=np.zeros(a.shape, dtype))


# --------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------

def test_no_package_module_is_imported_inside_a_function():
    """ssimfast's modules import each other at the top, downwards: no import
    inside a function to dodge a circle (optional third-party dependencies,
    such as dask's distributed or Pillow, may load on first use)."""
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name in ("_cli.py", "__init__.py"):
            continue  # the command and the package's face load pieces on demand
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for inner in ast.walk(node):
                names = ([inner.module or ""] if isinstance(inner, ast.ImportFrom) and not inner.level
                         else ["."] if isinstance(inner, ast.ImportFrom)
                         else [a.name for a in inner.names] if isinstance(inner, ast.Import)
                         else [])
                for name in names:
                    assert not (name == "." or name.split(".")[0] == "ssimfast"), \
                        (path.name, node.name, name)

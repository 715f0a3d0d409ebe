"""structural_similarity caches the plan of a call (ssimfast._plan.cached_plan)
for plain-Python options: the cached plan's setup must be the one setup()
computes, the thread count must follow limits set between calls, and warnings
must come on every call, not only the first."""
import warnings

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import ssimfast
import ssimfast._plan as P
from ssimfast._extension import kernels
from ssimfast._ssim import Params

U8 = np.dtype(np.uint8)


def _same(a, b):
    assert a.channel_axis == b.channel_axis and a.float_type == b.float_type
    for name in Params._fields:
        x, y = getattr(a.params, name), getattr(b.params, name)
        assert np.array_equal(x, y) if name == "taps" else x == y, name


@pytest.mark.parametrize("dtype", [np.uint8, np.bool_, np.float32, np.uint16])
@pytest.mark.parametrize("options", [
    dict(win_size=None, data_range=255, channel_axis=None, gaussian_weights=False),
    dict(win_size=5, data_range=1.0, channel_axis=-1, gaussian_weights=True),
    dict(win_size=None, data_range=None, channel_axis=None, gaussian_weights=False),
])
def test_cached_setup_is_setup(dtype, options):
    dtype = np.dtype(dtype)
    if options["data_range"] is None and dtype.kind == "f":
        return  # an error, never cached
    shape = (20, 30, 9)
    for _ in range(2):  # the second call comes from the cache where it can
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = P.resolve(np.zeros(shape, dtype), np.zeros(shape, dtype), workers=2,
                            **options)[0].setup
            want = P.setup(shape, dtype, shape, dtype, workers=2, kwargs={}, **options)
        _same(got, want)


def test_int_and_float_data_range_are_cached_apart():
    a = np.random.default_rng(0).integers(0, 256, (32, 32), dtype=np.uint8)
    P.cached_plan.cache_clear()
    ssimfast.structural_similarity(a, a, data_range=255)
    ssimfast.structural_similarity(a, a, data_range=255.0)
    assert P.cached_plan.cache_info().currsize == 2


def test_thread_limits_set_between_calls_are_followed():
    shape = (64, 64)
    with threadpool_limits(limits=1, user_api="openmp"):
        one = P.resolve(np.zeros(shape, U8), np.zeros(shape, U8))[0].setup
    with threadpool_limits(limits=2, user_api="openmp"):
        two = P.resolve(np.zeros(shape, U8), np.zeros(shape, U8))[0].setup
        openmp_two = kernels.max_threads()  # 1 in a build without OpenMP
    assert (one.params.n_threads, two.params.n_threads) == (1, openmp_two)


@pytest.mark.parametrize("a, b", [
    (np.zeros((16, 16), np.uint16), np.zeros((16, 16), np.uint16)),  # range from the dtype
    (np.zeros((16, 16), np.uint8), np.zeros((16, 16), np.int16)),  # mismatched dtypes
])
def test_warnings_come_on_every_call(a, b):
    for _ in range(3):
        with pytest.warns(UserWarning):
            ssimfast.structural_similarity(a, b)

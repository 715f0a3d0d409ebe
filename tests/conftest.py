"""pytest configuration for the ssimfast tests.

- Pins the reference: scikit-image must be 0.26.x, otherwise the run stops with
  a message (the next major version changes this function's defaults).
- Hypothesis profiles "ci" (default, ~60 examples), "dev" (quick) and "long"
  (2000 examples), chosen with the environment variable HYPOTHESIS_PROFILE.
- Fixtures: real images from ``skimage.data`` (cropped to keep the suite fast)
  and distorted versions of them (seeded noise, Gaussian blur, JPEG q=30).
"""

import os
import sys

import numpy as np
import pytest
import skimage
from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))

import helpers  # noqa: E402

REFERENCE_SERIES = "0.26."


def pytest_configure(config):
    if not skimage.__version__.startswith(REFERENCE_SERIES):
        raise pytest.UsageError(
            f"ssimfast's tests compare against scikit-image {REFERENCE_SERIES}x, "
            f"but scikit-image {skimage.__version__} is installed "
            f"({os.path.dirname(skimage.__file__)}). Install the pinned reference: "
            f"pip install 'scikit-image=={REFERENCE_SERIES}*'"
        )


# --------------------------------------------------------------------------
# Hypothesis profiles
# --------------------------------------------------------------------------
_common = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
# "ci" keeps no example database so a run leaves nothing behind in the checkout.
settings.register_profile("ci", max_examples=60, database=None, **_common)
settings.register_profile("dev", max_examples=15, **_common)
settings.register_profile("long", max_examples=2000, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# --------------------------------------------------------------------------
# Image fixtures
# --------------------------------------------------------------------------
@pytest.fixture(scope="session", params=helpers.REAL_IMAGES)
def full_image(request):
    """Each full-size ``skimage.data`` image (read-only)."""
    return helpers.real_image(request.param)


@pytest.fixture(scope="session")
def camera():
    return helpers.real_image("camera")


@pytest.fixture(scope="session")
def camera_noisy():
    """The camera with skimage's test noise: ``np.random.seed(5)``, sigma 20.

    Reproduces ``cam_noisy`` of skimage's own test module, so that the IPOL
    and skimage-0.17 known values apply.
    """
    cam = helpers.real_image("camera")
    rs = np.random.RandomState(5)
    noisy = np.clip(cam + 20.0 * rs.randn(*cam.shape), 0, 255).astype(cam.dtype)
    noisy.flags.writeable = False
    return noisy


@pytest.fixture(scope="session", params=helpers.GRAY_IMAGES)
def gray_crop(request):
    """256x256 (or smaller) central crops of the grayscale images."""
    return helpers.crop_center(helpers.real_image(request.param))


@pytest.fixture(scope="session", params=helpers.COLOR_IMAGES)
def color_crop(request):
    """128x160x3 central crops of the colour images (RGB interleaved)."""
    return helpers.crop_center(helpers.real_image(request.param), 128, 160)


@pytest.fixture(params=sorted(helpers.DISTORTIONS))
def distortion(request):
    """A function mapping a uint8 image to a distorted uint8 image."""
    return helpers.DISTORTIONS[request.param]

"""The requirement lists agree with pyproject.toml's extras: requirements/test.txt
installs the test extra's tools (and requirements/docs.txt the docs extra's)
into an environment that already has ssimfast, without building it again."""

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _requirements(path):
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


@pytest.mark.parametrize("extra", ["test", "docs"])
def test_requirements_file_lists_the_extra(extra):
    pyproject = ROOT / "pyproject.toml"
    if not pyproject.exists():
        pytest.skip("not a source tree or sdist")
    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    listed = _requirements(ROOT / "requirements" / f"{extra}.txt")
    assert listed == extras[extra], (
        f"requirements/{extra}.txt and the {extra!r} extra in pyproject.toml differ; "
        f"make them the same list")

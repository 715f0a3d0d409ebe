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


def _readme_commands():
    text = (ROOT / "README.md").read_text()
    return [line.split("#")[0].strip() for line in text.splitlines()
            if line.startswith("python -m pip install")]


def test_ci_runs_the_readme_commands_verbatim():
    ci = ROOT / ".ci" / "run"
    if not ci.exists():
        pytest.skip("not a source tree")
    commands = _readme_commands()
    assert len(commands) == 2, commands
    assert "-r requirements/test.txt" in commands[1], "the test command must not rebuild ssimfast"
    ci_lines = [line.strip() for line in ci.read_text().splitlines()]
    for command in commands:
        assert command in ci_lines, f".ci/run does not run the README's command {command!r}"


def test_readme_is_a_landing_page():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 300
    assert not [line for line in lines if "issue " in line.lower()]

"""The typed usage example (tests/typed/usage.py, which .ci/run checks with
mypy --strict) runs and computes what it claims."""

import importlib.util
from pathlib import Path

TYPED = Path(__file__).parent / "typed"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"typing_{name}", TYPED / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_typed_usage_example_runs():
    values = _load("usage").scores()
    assert len(values) == 11 and all(0 < v <= 1 for v in values)

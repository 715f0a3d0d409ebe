"""The typed usage example (tests/typing/usage.py, which .ci/run checks with
mypy --strict) runs and computes what it claims."""

import importlib.util
from pathlib import Path

TYPING = Path(__file__).parent / "typing"


def _load(name):
    spec = importlib.util.spec_from_file_location(f"typing_{name}", TYPING / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_typed_usage_example_runs():
    values = _load("usage").scores()
    assert len(values) == 10 and all(0 < v <= 1 for v in values)

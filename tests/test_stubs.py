"""The type stub (ssimfast/__init__.pyi) describes the functions that run: every
public name has a declaration, and every declared signature has the runtime
signature's parameter names, kinds and defaults. A change to either side that
is not made to the other fails here.

(The types themselves are checked by mypy --strict on tests/typed/usage.py in
.ci/run.)"""

import ast
import dataclasses
import inspect
from pathlib import Path

import pytest
import ssimfast
from ssimfast import _report, _video, _video_ssim

STUB = Path(ssimfast.__file__).with_name("__init__.pyi")
DASK_STUB = STUB.with_name("dask.pyi")
# Stub-only names for runtime objects that are not exported from ssimfast.
PRIVATE = {"_Region": _report.Region, "_VideoReader": _video.VideoReader,
           "_VideoScores": _video_ssim.VideoScores}


def _stub_tree():
    assert STUB.exists(), f"{STUB} is not installed with the package"
    return ast.parse(STUB.read_text())


def _declarations(body):
    """{name: [FunctionDef, ...]} (overloads in order), {name: ClassDef}, {other names}."""
    functions, classes, names = {}, {}, set()
    for node in body:
        if isinstance(node, ast.FunctionDef):
            functions.setdefault(node.name, []).append(node)
        elif isinstance(node, ast.ClassDef):
            classes[node.name] = node
        elif isinstance(node, ast.AnnAssign):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets)
    return functions, classes, names


def _is_overload(node):
    return any(isinstance(d, ast.Name) and d.id == "overload" for d in node.decorator_list)


def _stub_parameters(node, drop_self=False):
    """[(name, kind, default or inspect.Parameter.empty)] of a stub's def."""
    args = node.args
    positional = args.posonlyargs + args.args
    defaults = [inspect.Parameter.empty] * (len(positional) - len(args.defaults)) + [
        ast.literal_eval(d) for d in args.defaults]
    out = []
    for i, (a, d) in enumerate(zip(positional, defaults)):
        kind = (inspect.Parameter.POSITIONAL_ONLY if i < len(args.posonlyargs)
                else inspect.Parameter.POSITIONAL_OR_KEYWORD)
        out.append((a.arg, kind, d))
    if args.vararg:
        out.append((args.vararg.arg, inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.empty))
    for a, d in zip(args.kwonlyargs, args.kw_defaults):
        out.append((a.arg, inspect.Parameter.KEYWORD_ONLY,
                    inspect.Parameter.empty if d is None else ast.literal_eval(d)))
    if args.kwarg:
        out.append((args.kwarg.arg, inspect.Parameter.VAR_KEYWORD, inspect.Parameter.empty))
    return out[1:] if drop_self else out


def _runtime_parameters(func, drop_self=False):
    params = list(inspect.signature(func).parameters.values())
    out = [(p.name, p.kind, p.default) for p in params]
    return out[1:] if drop_self else out


def _check_function(name, defs, runtime, drop_self=False):
    expected = _runtime_parameters(runtime, drop_self)
    names_kinds = [(n, k) for n, k, _ in expected]
    for node in defs:
        got = _stub_parameters(node, drop_self)
        assert [(n, k) for n, k, _ in got] == names_kinds, (
            f"{name} (stub line {node.lineno}): parameters differ from the runtime's "
            f"{inspect.signature(runtime)}")
    # Overloads narrow some defaults to required Literal parameters; the last
    # declaration (the only one, or the catch-all overload) carries them all.
    last = defs[-1]
    if len(defs) > 1:
        assert all(_is_overload(d) for d in defs), f"{name}: several defs without @overload"
    assert _stub_parameters(last, drop_self) == expected, (
        f"{name} (stub line {last.lineno}): defaults differ from the runtime's "
        f"{inspect.signature(runtime)}")


def test_every_public_name_is_declared():
    functions, classes, names = _declarations(_stub_tree().body)
    declared = set(functions) | set(classes) | names
    missing = sorted(set(ssimfast.__all__) - declared)
    assert not missing, f"ssimfast.__all__ names without a type in {STUB.name}: {missing}"
    public = {n for n in declared if not n.startswith("_")} | {"__version__"}
    assert public == set(ssimfast.__all__), (
        f"the stub declares names that ssimfast does not export: "
        f"{sorted(public - set(ssimfast.__all__))}")


FUNCTIONS, CLASSES, _ = _declarations(_stub_tree().body)


@pytest.mark.parametrize("name", sorted(n for n in FUNCTIONS if not n.startswith("_")))
def test_function_signature_matches_runtime(name):
    _check_function(name, FUNCTIONS[name], getattr(ssimfast, name))


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_class_matches_runtime(name):
    runtime = PRIVATE[name] if name in PRIVATE else getattr(ssimfast, name)
    node = CLASSES[name]
    methods, _, fields = _declarations(node.body)
    if dataclasses.is_dataclass(runtime):
        stub_fields = [n.target.id for n in node.body if isinstance(n, ast.AnnAssign)]
        assert stub_fields == [f.name for f in dataclasses.fields(runtime)], name
    for method, defs in methods.items():
        _check_function(f"{name}.{method}", defs, getattr(runtime, method), drop_self=True)
    public = {m for m in vars(runtime) if not m.startswith("_") and callable(vars(runtime)[m])}
    assert public <= set(methods), f"{name}: methods without a type: {sorted(public - set(methods))}"


def test_dask_module_matches_its_stub():
    dask = pytest.importorskip("ssimfast.dask")
    functions, _, _ = _declarations(ast.parse(DASK_STUB.read_text()).body)
    assert set(functions) == set(dask.__all__)
    for name, defs in functions.items():
        _check_function(f"dask.{name}", defs, getattr(dask, name))


def test_the_check_fails_on_a_drifted_stub():
    """The comparison above can fail: a stub def with a renamed or re-defaulted
    parameter is caught."""
    runtime = ssimfast.show_config
    renamed = ast.parse("def show_config(out: object = None) -> None: ...").body
    with pytest.raises(AssertionError, match="parameters differ"):
        _check_function("show_config", renamed, runtime)
    redefaulted = ast.parse("def show_config(file: object = 1) -> None: ...").body
    with pytest.raises(AssertionError, match="defaults differ"):
        _check_function("show_config", redefaulted, runtime)

"""The plugin API's public surface: only what plugin authors use, each member documented.

Every name in `__all__` has a docstring; every public function and method documents each
of its parameters (Google style, `name:` under `Args:`), and every dataclass each field
(under `Args:`, or as a docstring after the field), as Litestar's and Backstage's public
APIs do.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import backstage_backend_plugin_api as api

PACKAGE = Path(api.__file__).parent

WIRING_INTERNALS = {
    "Dependency",
    "ExtensionPointRegistration",
    "InitRegistration",
    "ServiceInitialization",
    "read_dependencies",
    "validate_feature_id",
}


def _definitions() -> dict[str, tuple[ast.AST, str | None]]:
    """Each top-level name of the package's modules: its node and its docstring."""
    found: dict[str, tuple[ast.AST, str | None]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        body = ast.parse(path.read_text(), str(path)).body
        for index, node in enumerate(body):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                found[node.name] = (node, ast.get_docstring(node))
                continue
            target = None
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                target = node.targets[0].id
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                target = node.target.id
            if target is not None:
                found[target] = (node, _string_after(body, index))
    return found


def _string_after(body: list[ast.stmt], index: int) -> str | None:
    following = body[index + 1] if index + 1 < len(body) else None
    if (
        isinstance(following, ast.Expr)
        and isinstance(following.value, ast.Constant)
        and isinstance(following.value.value, str)
    ):
        return following.value.value
    return None


def _parameters(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    arguments = function.args
    every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    if arguments.vararg is not None:
        every.append(arguments.vararg)
    names = [argument.arg for argument in every]
    return [name for name in names if name not in ("self", "cls")]


def _undocumented_parameters(
    function: ast.FunctionDef | ast.AsyncFunctionDef, owner: str
) -> list[str]:
    docstring = ast.get_docstring(function)
    if docstring is None:
        return [f"{owner}: no docstring"]
    missing = [name for name in _parameters(function) if f"{name}:" not in docstring]
    return [f"{owner}: parameter '{name}' not documented" for name in missing]


def _is_overload(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    return any(
        isinstance(decorator, ast.Name) and decorator.id == "overload"
        for decorator in function.decorator_list
    )


def _class_problems(node: ast.ClassDef) -> list[str]:
    problems: list[str] = []
    docstring = ast.get_docstring(node) or ""
    overloads: set[str] = set()
    for index, member in enumerate(node.body):
        if isinstance(member, ast.AnnAssign) and isinstance(member.target, ast.Name):
            field = member.target.id
            if f"{field}:" not in docstring and _string_after(node.body, index) is None:
                problems.append(f"{node.name}.{field}: field not documented")
        if not isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if member.name.startswith("_"):
            continue
        owner = f"{node.name}.{member.name}"
        if _is_overload(member):
            overloads.update(_parameters(member))
            continue
        if member.args.kwarg is not None:
            # `**task` stands for its overloads' parameters: those must be documented
            text = ast.get_docstring(member) or ""
            problems.extend(
                f"{owner}: parameter '{name}' not documented"
                for name in sorted(overloads)
                if f"{name}:" not in text
            )
            continue
        problems.extend(_undocumented_parameters(member, owner))
    return problems


def test_wiring_internals_are_not_public() -> None:
    assert not WIRING_INTERNALS & set(api.__all__)
    for name in WIRING_INTERNALS:
        assert not hasattr(api, name), name


def test_backend_feature_is_defined_once() -> None:
    definitions = [
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "BackendFeature: TypeAlias =" in path.read_text()
        or "\nBackendFeature =" in path.read_text()
    ]
    assert definitions == ["_features.py"]


def test_every_public_member_is_documented_with_its_parameters() -> None:
    definitions = _definitions()
    problems: list[str] = []
    for name in api.__all__:
        value = getattr(api, name)
        if inspect.ismodule(value):
            if not value.__doc__:
                problems.append(f"{name}: no module docstring")
            continue
        node, docstring = definitions[name]
        if docstring is None:
            problems.append(f"{name}: no docstring")
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            problems.extend(_undocumented_parameters(node, name))
        elif isinstance(node, ast.ClassDef):
            problems.extend(_class_problems(node))
    assert problems == []

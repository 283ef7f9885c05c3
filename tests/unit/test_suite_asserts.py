"""Every test asserts something (issue 14: "no test without an assertion on behaviour").

A test function passes this check when its body has an ``assert``, a ``pytest.raises``/``warns``/
``fail``, or calls a helper that does: a function of the same module, or one imported from another
module of ``tests/`` (``from policy_builders import ...``), followed through helpers calling helpers.
A helper is looked up in the module that defines or imports it, never by its bare name alone: two
modules' ``_run`` helpers are different functions.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
_CHECKS = {"raises", "warns", "fail"}


@cache
def _module(path: Path) -> tuple[dict[str, ast.FunctionDef | ast.AsyncFunctionDef], dict[str, Path]]:
    """A module's functions (every level: methods and nested helpers included) and its imports from tests/."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    functions = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    imported: dict[str, Path] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            stem = node.module.rsplit(".", 1)[-1]
            source = next((p for p in TESTS.rglob(f"{stem}.py")), None)
            if source is not None:
                for alias in node.names:
                    imported[alias.asname or alias.name] = source
    return functions, imported


def _called(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _asserts(path: Path, name: str, seen: frozenset[tuple[Path, str]] = frozenset()) -> bool:
    functions, imported = _module(path)
    if name not in functions:
        return name in imported and _asserts(imported[name], name, seen)
    if (path, name) in seen:
        return False
    seen = seen | {(path, name)}
    for node in ast.walk(functions[name]):
        if isinstance(node, ast.Assert | ast.Raise):
            return True
        if isinstance(node, ast.Call):
            called = _called(node.func)
            if called in _CHECKS or called.startswith("assert"):
                return True
            if called != name and (called in functions or called in imported) and _asserts(path, called, seen):
                return True
    return False


def _tests() -> list[tuple[Path, str]]:
    return [(path, name) for path in sorted(TESTS.rglob("test_*.py"))
            for name in _module(path)[0] if name.startswith("test_")]


def test_every_test_function_asserts_on_behaviour() -> None:
    tests = _tests()
    assert len(tests) > 500  # the walk found the suite
    silent = [f"{path.relative_to(TESTS)}::{name}" for path, name in tests if not _asserts(path, name)]
    assert silent == []


def test_the_check_finds_a_silent_test(tmp_path: Path) -> None:
    helper = tmp_path / "test_example.py"
    helper.write_text(
        "def _run(x):\n    return x + 1\n\n"
        "def _check(x):\n    assert _run(x) == 2\n\n"
        "def test_silent():\n    _run(1)\n\n"
        "def test_through_a_helper():\n    _check(1)\n"
    )
    assert not _asserts(helper, "test_silent")
    assert _asserts(helper, "test_through_a_helper")

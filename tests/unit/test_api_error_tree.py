"""The API error tree has one home (issue 14): every ``ApiError`` subclass is defined in
``vpcflow.core.api_errors``, and one AWS code has one class (a narrower meaning is a subclass)."""

from __future__ import annotations

import importlib
import pkgutil

import vpcflow
from vpcflow.core.errors import ApiError


def _all_api_errors() -> list[type[ApiError]]:
    for info in pkgutil.walk_packages(vpcflow.__path__, "vpcflow."):
        if info.name != "vpcflow._native":
            importlib.import_module(info.name)
    found: list[type[ApiError]] = []
    todo = list(ApiError.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return found


def test_every_api_error_class_lives_in_core_api_errors() -> None:
    elsewhere = sorted(f"{c.__module__}.{c.__qualname__}" for c in _all_api_errors()
                       if c.__module__ != "vpcflow.core.api_errors")
    assert elsewhere == []


def test_one_class_per_aws_code_unless_a_subclass_narrows_it() -> None:
    by_code: dict[tuple[str, int], list[type[ApiError]]] = {}
    for cls in _all_api_errors():
        by_code.setdefault((cls.code, cls.http_status), []).append(cls)
    for code, classes in by_code.items():
        roots = [c for c in classes if not any(issubclass(c, other) and c is not other for other in classes)]
        assert len(roots) == 1, f"{code}: {sorted(c.__name__ for c in classes)}"


def test_the_tree_drawn_in_the_docstring_names_every_class() -> None:
    from vpcflow.core import api_errors

    doc = api_errors.__doc__ or ""
    missing = [c.__name__ for c in _all_api_errors() if c.__name__ not in doc]
    assert missing == []

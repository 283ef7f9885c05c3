"""docs/api-reference.md is generated from the public API's docstrings (tools/api_reference.py);
this fails in CI when the checked-in page and the code disagree (issue 11, item 5)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("api_reference", ROOT / "tools" / "api_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_checked_in_api_reference_is_current() -> None:
    page = (ROOT / "docs" / "api-reference.md").read_text(encoding="utf-8")
    assert page == _generator().render(), "docs/api-reference.md is stale: run `python tools/api_reference.py`"


def test_every_public_name_has_a_section_and_a_docstring() -> None:
    import vpcflow

    page = _generator().render()
    for name in vpcflow.__all__:
        assert f"## `{name}" in page, name
        if name != "__version__":
            assert (getattr(vpcflow, name).__doc__ or "").strip(), f"{name} has no docstring"

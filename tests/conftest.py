"""Suite-wide rules.

CI runs with ``VPCFLOW_STRICT_SKIPS=1`` (set by ``.ci/run``): there every tool is installed, the
shared spec sits beside the checkout and the run is root, so a test that skips is a test CI needed
and did not run. Strict mode turns each skip into a failure that names the reason, instead of
leaving CI green with fewer tests. At the end it lists the privileged and spec-tied tests that ran,
so the log shows they did.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest

STRICT = os.environ.get("VPCFLOW_STRICT_SKIPS") == "1"

#: Markers whose tests CI must show as run (listed at the end of every run).
_LISTED = ("privileged", "spec_tied")
_ran: dict[str, list[str]] = {name: [] for name in _LISTED}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if report.skipped and STRICT and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped under VPCFLOW_STRICT_SKIPS=1 (CI must run it): {reason}"
    if report.when == "call" and report.passed:
        for name in _LISTED:
            if item.get_closest_marker(name) is not None:
                _ran[name].append(item.nodeid)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for name in _LISTED:
        tests = _ran[name]
        terminalreporter.write_line(f"{name} tests run and passed: {len(tests)}")
        for nodeid in tests:
            terminalreporter.write_line(f"  {nodeid}")

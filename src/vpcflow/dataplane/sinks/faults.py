"""Fault injection for the delivery guarantees' kill-and-rerun tests.

``VPCFLOW_FAULT_POINT=name:count`` makes the process die (``os._exit(137)``, like SIGKILL: no
cleanup, no flush of Python buffers) the ``count``-th time execution reaches ``fault_point(name)``.
Several points can be given, separated by commas. The variable is read at each call (never at
import) so tests can set it per subprocess. Named points in the sinks:

``s3.before_upload``, ``s3.after_upload``, ``cwl.before_batch``, ``cwl.after_batch``,
``cwl.after_put_before_checkpoint``, ``spool.after_write``, ``spool.after_redeliver``,
``status.before_callback``.

``VPCFLOW_FAULT_HOLD=name:count:DIR`` pauses instead of dying (tests of concurrent runs): the
``count``-th time ``name`` is reached the process writes ``DIR/held`` (its pid) and waits until
``DIR/release`` exists (at most ``HOLD_LIMIT_S``, then it goes on).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ENV_VAR = "VPCFLOW_FAULT_POINT"
HOLD_VAR = "VPCFLOW_FAULT_HOLD"
EXIT_CODE = 137
HOLD_LIMIT_S = 300.0

_hits: dict[str, int] = {}


def fault_point(name: str) -> None:
    """Die here if ``VPCFLOW_FAULT_POINT`` names this point and its count is reached."""
    _hold(name)
    spec = os.environ.get(ENV_VAR)
    if not spec:
        return
    for item in spec.split(","):
        point, _, count = item.strip().partition(":")
        if point != name:
            continue
        _hits[name] = _hits.get(name, 0) + 1
        if _hits[name] >= int(count or "1"):
            os._exit(EXIT_CODE)


def _hold(name: str) -> None:
    spec = os.environ.get(HOLD_VAR)
    if not spec:
        return
    point, count, folder = [*spec.split(":", 2), "", ""][:3]
    if point != name or not folder:
        return
    key = f"hold:{name}"
    _hits[key] = _hits.get(key, 0) + 1
    if _hits[key] != int(count or "1"):
        return
    where = Path(folder)
    (where / "held").write_text(str(os.getpid()))
    deadline = time.monotonic() + HOLD_LIMIT_S
    while not (where / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def reset() -> None:
    """Forget the hit counts (tests running several deliveries in one process)."""
    _hits.clear()

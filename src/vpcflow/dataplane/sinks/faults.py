"""Fault injection for the delivery guarantees' kill-and-rerun tests.

``VPCFLOW_FAULT_POINT=name:count`` makes the process die (``os._exit(137)``, like SIGKILL: no
cleanup, no flush of Python buffers) the ``count``-th time execution reaches ``fault_point(name)``.
Several points can be given, separated by commas. The variable is read at each call (never at
import) so tests can set it per subprocess. Named points in the sinks:

``s3.before_upload``, ``s3.after_upload``, ``cwl.before_batch``, ``cwl.after_batch``,
``cwl.after_put_before_checkpoint``, ``spool.after_write``, ``spool.after_redeliver``,
``status.before_callback``.
"""

from __future__ import annotations

import os

ENV_VAR = "VPCFLOW_FAULT_POINT"
EXIT_CODE = 137

_hits: dict[str, int] = {}


def fault_point(name: str) -> None:
    """Die here if ``VPCFLOW_FAULT_POINT`` names this point and its count is reached."""
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


def reset() -> None:
    """Forget the hit counts (tests running several deliveries in one process)."""
    _hits.clear()

"""Fault injection for the delivery guarantees' kill-, interrupt- and error-and-rerun tests.

``VPCFLOW_FAULT_POINT=name:count[:action]`` acts the ``count``-th time execution reaches
``fault_point(name)``. Several points can be given, separated by commas. The variable is read at
each call (never at import) so tests can set it per subprocess. Actions:

* ``kill`` (the default): the process dies (``os._exit(137)``, like SIGKILL: no cleanup, no flush
  of Python buffers);
* ``SIGINT`` / ``SIGTERM``: the process sends itself that signal (as Ctrl-C or ``kill`` would)
  and carries on; what the signal does is up to the handlers installed (``runtime/interrupt.py``);
* ``error``: raises :class:`InjectedFault` here, as an unexpected error in that stage would;
* ``wait``: creates the file ``VPCFLOW_FAULT_MARKER`` names and waits here until it is removed (at most
  five minutes), so a test can act from outside - send a real signal - at that exact moment.

They place an interruption by progress (the N-th object, batch or flush), never by wall-clock time.
Named points: in the sinks ``s3.before_upload``, ``s3.after_upload``, ``cwl.before_batch``,
``cwl.after_batch``, ``cwl.after_put_before_checkpoint``, ``spool.after_write``,
``spool.after_redeliver``, ``status.before_callback``; in the pipeline ``pipeline.after_batch`` (a
batch of packets evaluated) and ``pipeline.after_flush`` (closed windows handed to every sink).

``VPCFLOW_FAULT_HOLD=name:count:DIR`` pauses instead of dying (tests of concurrent runs): the
``count``-th time ``name`` is reached the process writes ``DIR/held`` (its pid) and waits until
``DIR/release`` exists (at most ``HOLD_LIMIT_S``, then it goes on).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

ENV_VAR = "VPCFLOW_FAULT_POINT"
MARKER_VAR = "VPCFLOW_FAULT_MARKER"
HOLD_VAR = "VPCFLOW_FAULT_HOLD"
EXIT_CODE = 137
#: The longest a paused run waits for its test (``wait`` and ``VPCFLOW_FAULT_HOLD``), then it goes on.
HOLD_LIMIT_S = 300.0

_hits: dict[str, int] = {}


class InjectedFault(RuntimeError):
    """The error a fault point with the ``error`` action raises (a stand-in for any unexpected error)."""


def _act(name: str, action: str) -> None:
    if action in ("", "kill"):
        os._exit(EXIT_CODE)
    if action in ("SIGINT", "SIGTERM"):
        os.kill(os.getpid(), getattr(signal, action))
        return
    if action == "error":
        raise InjectedFault(f"fault injected at {name}")
    if action == "wait":
        marker = Path(os.environ[MARKER_VAR])
        marker.write_text(f"{os.getpid()} {name}\n")
        _pause_until(lambda: not marker.exists())
        return
    raise ValueError(f"{ENV_VAR}: unknown action {action!r} for {name} (kill, SIGINT, SIGTERM, error or wait)")


def fault_point(name: str) -> None:
    """Act here if ``VPCFLOW_FAULT_POINT`` names this point and its count is reached (exactly then)."""
    _hold(name)
    spec = os.environ.get(ENV_VAR)
    if not spec:
        return
    for item in spec.split(","):
        point, _, rest = item.strip().partition(":")
        if point != name:
            continue
        count, _, action = rest.partition(":")
        _hits[name] = _hits.get(name, 0) + 1
        n = int(count or "1")
        if action in ("", "kill") and _hits[name] >= n:
            os._exit(EXIT_CODE)
        if _hits[name] == n:
            # Signals and errors act once: the run then stops (or the test's handler decides).
            _act(name, action)


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
    _pause_until((where / "release").exists)


def _pause_until(released: Callable[[], bool]) -> None:
    """Wait here until ``released()`` (a test's signal to go on), at most ``HOLD_LIMIT_S``."""
    deadline = time.monotonic() + HOLD_LIMIT_S
    while not released() and time.monotonic() < deadline:
        time.sleep(0.005)


def reset() -> None:
    """Forget the hit counts (tests running several deliveries in one process)."""
    _hits.clear()

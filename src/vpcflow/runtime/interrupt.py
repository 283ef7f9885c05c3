"""Ctrl-C and SIGTERM during a run: ask the pipeline to stop at a safe point, never mid-delivery.

``stop_on_signals()`` installs handlers for SIGINT and SIGTERM for the duration of a ``with``
block and yields a ``StopRequest``, the pipeline's ``stop`` check. The first signal only records
itself: the pipeline notices it after the batch in hand, lets aggregation deliver what the
watermark closed, abandons the groups that could still grow, and the run ends with
``RunInterrupted`` (the CLI prints what was delivered and what is pending, exit 128 + signal). A
second signal while that happens stops the process at once, as SIGKILL would (``os._exit``): the
delivery guarantees already hold for a kill at any moment, so nothing is lost or doubled, it only
skips the summary.

Handlers can only be installed from the main thread; elsewhere the block installs none and the
request never turns true (the caller's own signal handling applies).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequest:
    """Whether (and why) the run was asked to stop: call it for the reason (``"SIGINT"``) or None."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.signum: int | None = None

    def __call__(self) -> str | None:
        return self.reason

    def request(self, signum: int) -> None:
        self.signum = signum
        self.reason = signal.Signals(signum).name

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number."""
        return 128 + (self.signum or signal.SIGINT)


def _say(text: str) -> None:
    # os.write, not sys.stderr: a handler runs between two bytecodes of the main thread, possibly
    # inside a buffered write to stderr, and buffered streams refuse such re-entrant calls.
    with suppress(OSError):
        os.write(2, f"\n{text}\n".encode())


@contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """Install the handlers (see the module docstring) for the block; restore the previous ones after."""
    req = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield req
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if req.reason is not None:
            name = signal.Signals(signum).name
            _say(f"{name} again: stopping now; nothing delivered is lost and the next run completes the delivery")
            os._exit(128 + signum)
        req.request(signum)
        _say(f"{req.reason}: stopping after the batch in hand ({req.reason} again to stop at once)")

    previous = {s: signal.getsignal(s) for s in SIGNALS}
    for s in SIGNALS:
        signal.signal(s, handler)
    try:
        yield req
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def route_stop(sources: list[Any], stop: Callable[[], str | None] | None) -> Callable[[], str | None] | None:
    """Where a stop request goes: to the live sources when there are any (for a live capture a signal
    is the normal end: the capture ends cleanly and the run completes, every window delivered; it could
    not be replayed anyway), else to the pipeline (the run stops, open groups are left to a re-run)."""
    live = [s for s in sources if hasattr(s, "stop_requested")]
    if stop is None or not live:
        return stop
    for s in live:
        s.stop_requested = stop
    return None

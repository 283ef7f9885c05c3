"""Where a Ctrl-C / SIGTERM goes in a run (runtime/interrupt.py: ``route_stop``, ``stop_on_signals``).

Files and scenarios can be replayed: the pipeline stops and leaves the open groups to the re-run.
A live capture cannot: the signal ends the capture cleanly (every window closed and delivered), as
Ctrl-C did before `vpcflow run` handled signals itself.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest

from vpcflow.dataplane.sources.live import LiveConfig, LiveSource
from vpcflow.runtime.interrupt import StopRequest, route_stop, stop_on_signals


class FileLike:
    def batches(self) -> list[object]:
        return []


def test_stop_goes_to_the_pipeline_without_live_sources() -> None:
    stop = StopRequest()
    assert route_stop([FileLike()], stop) is stop
    assert route_stop([FileLike()], None) is None


def test_stop_goes_to_the_live_sources_when_there_are_any() -> None:
    stop = StopRequest()
    live = LiveSource(LiveConfig("lo", duration_s=1))
    assert route_stop([FileLike(), live], stop) is None
    assert live.stop_requested is stop


def test_first_signal_is_recorded_and_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals() as stop:
        assert stop() is None
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop() == "SIGTERM" and stop.exit_code == 143
    assert signal.getsignal(signal.SIGTERM) is before


def test_outside_the_main_thread_no_handler_is_installed() -> None:
    seen: list[object] = []

    def work() -> None:
        with stop_on_signals() as stop:
            seen.append(signal.getsignal(signal.SIGINT))
            seen.append(stop())

    before = signal.getsignal(signal.SIGINT)
    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == [before, None]


@pytest.mark.skipif(os.geteuid() != 0, reason="reading a live interface needs root (AF_PACKET)")
def test_live_capture_ends_when_stop_is_requested() -> None:
    asked: list[int] = []

    def stop() -> str | None:
        asked.append(1)
        return "SIGINT" if len(asked) >= 3 else None

    src = LiveSource(LiveConfig("lo", duration_s=5))
    src.stop_requested = stop
    list(src.batches())
    assert len(asked) == 3  # ended at the request, not at duration_s

"""Packet sources (nouns): each yields PacketBatches in non-decreasing time order (a live source also
yields ``packets.Heartbeat``s between them: the promise that no later packet is earlier than a second).

``SOURCES`` maps a source name to ``"module:Class"``; nothing is imported until ``load_source`` asks
(no import-time side effects: the native core loads only when a source that uses it is made). Each class takes
its frozen config dataclass (``CONFIGS``) and offers ``batches()`` and ``stats``.
"""

from __future__ import annotations

import importlib
from typing import Any

SOURCES: dict[str, str] = {
    "capture": "vpcflow.dataplane.sources.capture:CaptureSource",
    "live": "vpcflow.dataplane.sources.live:LiveSource",
    "pcap": "vpcflow.dataplane.sources.pcap:PcapSource",
    "pcapng": "vpcflow.dataplane.sources.pcapng:PcapngSource",
    "synthetic": "vpcflow.dataplane.sources.synthetic:SyntheticSource",
}

CONFIGS: dict[str, str] = {
    "capture": "vpcflow.dataplane.sources._stream:CaptureConfig",
    "live": "vpcflow.dataplane.sources.live:LiveConfig",
    "pcap": "vpcflow.dataplane.sources._stream:CaptureConfig",
    "pcapng": "vpcflow.dataplane.sources._stream:CaptureConfig",
    "synthetic": "vpcflow.dataplane.sources.synthetic:SyntheticConfig",
}


def _resolve(target: str) -> Any:
    module, attr = target.split(":")
    return getattr(importlib.import_module(module), attr)


def load_source(name: str) -> tuple[type, type]:
    """(source class, config class) registered under ``name``; KeyError names the known ones."""
    if name not in SOURCES:
        raise KeyError(f"unknown source {name!r}; known: {', '.join(sorted(SOURCES))}")
    return _resolve(SOURCES[name]), _resolve(CONFIGS[name])


def make_source(name: str, **options: Any) -> Any:
    """Build a source by name from its config options, e.g. ``make_source("pcap", path="x.pcap")``."""
    cls, config = load_source(name)
    return cls(config(**options))

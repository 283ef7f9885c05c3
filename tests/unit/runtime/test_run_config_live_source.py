"""`live:` sources in a run config, and the live source's clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vpcflow.core.errors import ConfigError, SourceError
from vpcflow.dataplane.sources.live import LiveConfig, LiveSource
from vpcflow.runtime.run_config import load_run_config


def _cfg(tmp_path: Path, source: str) -> Path:
    p = tmp_path / "run.yaml"
    p.write_text(f"sources:\n  - {source}\n")
    return p


def test_live_source_spec(tmp_path: Path) -> None:
    cfg = load_run_config(_cfg(tmp_path, "{live: eth0, interface: eni-0a1b2c3d4e5f60011, duration_s: 5, "
                                          "max_packets: 100, snaplen: 128}"))
    spec = cfg.sources[0]
    assert (spec.kind, str(spec.path), spec.interface, spec.duration_s, spec.max_packets, spec.snaplen) == (
        "live", "eth0", "eni-0a1b2c3d4e5f60011", 5.0, 100, 128)


@pytest.mark.parametrize(("source", "message"), [
    ("{live: 7}", "a Linux network device name"),
    ("{live: eth0, max_packets: 0}", "max_packets"),
    ("{scenario: x.yaml, snaplen: 100}", "snaplen"),
])
def test_bad_live_options_name_the_key(tmp_path: Path, source: str, message: str) -> None:
    (tmp_path / "x.yaml").write_text("{}")
    with pytest.raises(ConfigError, match=message):
        load_run_config(_cfg(tmp_path, source))


def test_live_source_errors_are_source_errors() -> None:
    with pytest.raises(SourceError, match="snaplen"):
        LiveSource(LiveConfig("eth0", snaplen=10))
    src = LiveSource(LiveConfig("vpcflow-no-such-device", duration_s=0.1))
    expected = "no such network device" if os.geteuid() == 0 else "root or CAP_NET_RAW"
    with pytest.raises(SourceError, match=expected):
        list(src.batches())

"""``vpcflow run`` says what a capture held that became no packet: malformed frames per source with the
first offset (issue 10 item 5: a capture of broken IP headers printed "packets 0" and nothing else),
repaired timestamps, in the summary and in ``--json``."""

from __future__ import annotations

import json
import struct
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import test_cli_run as base
from test_cli_run import _invoke


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """test_cli_run's setup: a topology, a six-packet capture, a run config with one S3 flow log."""
    return base.setup.__wrapped__(tmp_path)  # type: ignore[attr-defined, no-any-return]


BROKEN_IHL = (
    b"\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00"  # Ethernet, IPv4
    + bytes([0x44, 0, 0, 40, 0, 7, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2])  # IHL 4: broken
    + b"\0" * 20
)


def _append_broken(cap: Path, count: int, frac: int = 0) -> int:
    """Append ``count`` records with a broken IP header; returns the offset of the first."""
    data = cap.read_bytes()
    recs = b"".join(struct.pack("<IIII", 1418530100, frac, len(BROKEN_IHL), len(BROKEN_IHL)) + BROKEN_IHL
                    for _ in range(count))
    cap.write_bytes(data + recs)
    return len(data)


def test_summary_counts_malformed_frames_with_the_first_offset(run_dir: Path, capsys: pytest.CaptureFixture[str]):
    first = _append_broken(run_dir / "capture.pcap", 3)
    code, _out, err = _invoke(["run", str(run_dir / "run.yaml"), "--data-dir", str(run_dir / "data")], capsys)
    assert code == 0, err
    assert f"source 0: malformed frames (first at byte {first:,})" in err
    line = next(ln for ln in err.splitlines() if "malformed frames" in ln)
    assert line.rstrip(" │|").split()[-1] == "3"


def test_a_capture_of_only_broken_frames_says_so(run_dir: Path, capsys: pytest.CaptureFixture[str]):
    cap = run_dir / "capture.pcap"
    cap.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    _append_broken(cap, 2)
    code, out, err = _invoke(["run", str(run_dir / "run.yaml"), "--data-dir", str(run_dir / "d"), "--json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["packets"] == 0
    assert doc["sources"][0]["malformed"] == 2 and doc["sources"][0]["first_malformed_offset"] == 24
    assert "malformed frames (first at byte 24)" in err


def test_json_reports_repaired_timestamps(run_dir: Path, capsys: pytest.CaptureFixture[str]):
    cap = run_dir / "capture.pcap"
    data = cap.read_bytes()
    # the capture's writer uses nanoseconds: a fraction of exactly one second is 10^9
    last = len(data) - (16 + 14 + 60)
    sec, _frac = struct.unpack_from("<II", data, last)
    cap.write_bytes(data[:last] + struct.pack("<II", sec - 1, 1_000_000_000) + data[last + 8:])
    code, out, err = _invoke(["run", str(run_dir / "run.yaml"), "--data-dir", str(run_dir / "data"), "--json", "-q"],
                             capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["sources"][0]["repaired_timestamps"] == 1 and doc["packets"] == 6
    assert sum(fl["records"] for fl in doc["flow_logs"].values()) == 2

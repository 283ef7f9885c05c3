"""The capture half of the native core at its boundary with Python (issue 10 item 7): no panic crosses
into Python (a panic is a ``SourceError`` naming the file and offset), the core fuzzes clean over real
captures, and arbitrary bytes and positions handed straight to the scans give results or the project's
errors, never a crash."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vpcflow._native as native
from vpcflow.core.errors import SourceError
from vpcflow.dataplane.packets import PACKET_DTYPES
from vpcflow.dataplane.sources import _native_capture as N

BASTION = Path(__file__).parents[4] / "src" / "vpcflow" / "examples" / "run" / "captures" / "bastion.pcap"
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("detached", [False, True])
def test_a_panic_becomes_a_source_error_naming_file_and_offset(detached: bool) -> None:
    with pytest.raises(SourceError) as info:
        native._panic_for_test("captures/x.pcap", 4242, detached)
    assert info.value.path == "captures/x.pcap" and info.value.offset == 4242
    assert "internal error in the native core" in str(info.value)


def test_the_core_fuzzes_clean_over_the_shipped_capture() -> None:
    data = BASTION.read_bytes()
    seeds = [data[:4096], data[:24] + data[50_000:54_000]]
    report = native.fuzz_capture(seeds, 3_000, 7)
    assert report["panics"] == 0, report
    assert report["cases"] == 3_000 and report["rows"] > 0 and report["bad_records"] > 0


def test_mapped_files_are_read_only_views() -> None:
    view = N.map_file(str(BASTION))
    assert view.shape[0] == BASTION.stat().st_size and not view.flags.writeable
    assert bytes(view[:4]) == BASTION.read_bytes()[:4]


@SETTINGS
@given(st.binary(max_size=600), st.integers(0, 700), st.integers(0, 700), st.booleans(), st.booleans(),
       st.sampled_from([0, 1, 101, 108, 113, 228, 229, 276, 147]))
def test_pcap_scan_of_arbitrary_bytes_and_positions(data: bytes, pos: int, end: int, big: bool, ns: bool,
                                                    lt: int) -> None:
    buf = np.frombuffer(data, dtype=np.uint8)
    stats = N.new_stats()
    end = min(end, len(data))
    cols, nxt, code = N.pcap_scan(buf, pos, end, big, ns, lt, 262144, 5, 100, -1, stats, "fuzz.pcap")
    n = cols["ts_ns"].shape[0]
    assert set(cols) == set(PACKET_DTYPES) and n <= 5
    assert all(cols[k].dtype == PACKET_DTYPES[k] and cols[k].shape == (n,) for k in PACKET_DTYPES)
    assert code in (N.NEED_MORE, N.FULL, N.BAD)
    assert nxt >= pos and (nxt <= end or nxt == pos)
    assert stats[N.ST_FRAMES] >= n and set(cols["ip_version"].tolist()) <= {4, 6}
    status, at = N.pcap_resync(buf, pos, end, True, big, ns, 262144, 3, "fuzz.pcap", 0)
    assert status in (0, -1) and (status == -1 or pos <= at <= end)


@SETTINGS
@given(st.binary(max_size=600), st.integers(0, 64), st.booleans(), st.integers(1, 3))
def test_pcapng_scan_of_arbitrary_bytes(data: bytes, pos: int, big: bool, n_if: int) -> None:
    buf = np.frombuffer(data, dtype=np.uint8)
    interfaces = (
        np.array([1, 113, 101][:n_if], np.int64),
        np.array([0, 1, 2][:n_if], np.int64),
        np.array([1000, 1000, 20][:n_if], np.int64),
        np.zeros(n_if, np.int64),
        np.array([0, 64, 0][:n_if], np.int64),
        np.array([0, -1, 1][:n_if], np.int16),
    )
    stats = N.new_stats()
    cols, nxt, code, _last = N.pcapng_scan(buf, pos, len(data), big, 1 << 24, interfaces, 0, 7, 0, stats, "f")
    assert cols["iface"].shape[0] <= 7 and code in (N.NEED_MORE, N.FULL, N.BAD, N.PYTHON)
    assert nxt >= pos
    status, _at = N.pcapng_resync(buf, pos, len(data), True, big, 1 << 24, "f", 0)
    assert status in (0, -1)


def test_mismatched_interface_arrays_are_an_error_not_a_crash() -> None:
    one, none = np.zeros(1, np.int64), np.zeros(0, np.int64)
    with pytest.raises(ValueError, match="interface arrays"):
        N.pcapng_scan(np.zeros(64, np.uint8), 0, 64, False, 1 << 24, (one, one, one, one, none, np.zeros(1, np.int16)),
                      0, 7, 0, N.new_stats(), "f")


def test_end_beyond_the_buffer_is_an_error_not_a_read() -> None:
    with pytest.raises(ValueError, match="beyond a buffer"):
        N.pcap_scan(np.zeros(10, np.uint8), 0, 11, False, False, 1, 262144, 5, 0, -1, N.new_stats(), "f")

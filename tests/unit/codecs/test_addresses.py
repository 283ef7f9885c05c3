"""Vectorised address formatting: dotted IPv4, RFC 5952 IPv6, and the inverse."""

from __future__ import annotations

import ipaddress

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vpcflow.codecs.addresses import address_to_pair, addresses_to_strings, strings_to_addresses

MAPPED = 0xFFFF_0000_0000


def pairs(values: list[int]) -> tuple[np.ndarray, np.ndarray]:
    hi = np.array([v >> 64 for v in values], dtype=np.uint64)
    lo = np.array([v & (2**64 - 1) for v in values], dtype=np.uint64)
    return hi, lo


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (MAPPED | 0x0A00003E, "10.0.0.62"),
        (MAPPED | 0, "0.0.0.0"),
        (MAPPED | 0xFFFFFFFF, "255.255.255.255"),
        (int(ipaddress.IPv6Address("2001:db8:1234:a100:8d6e:3477:df66:f105")), "2001:db8:1234:a100:8d6e:3477:df66:f105"),
        # RFC 5952: lower case, no leading zeros, longest zero run compressed, leftmost on a tie,
        # a single zero group not compressed.
        (int(ipaddress.IPv6Address("2001:0DB8:0000:0000:0001:0000:0000:0001")), "2001:db8::1:0:0:1"),
        (int(ipaddress.IPv6Address("2001:db8:0:1:1:1:1:1")), "2001:db8:0:1:1:1:1:1"),
        (int(ipaddress.IPv6Address("2001:db8:0:0:1:0:0:0")), "2001:db8:0:0:1::"),
        (0, "::"),
        (1, "::1"),
        (int(ipaddress.IPv6Address("fe80::1")), "fe80::1"),
    ],
)
def test_format(value: int, text: str) -> None:
    hi, lo = pairs([value])
    assert addresses_to_strings(hi, lo).to_pylist() == [text]
    h, low, valid = strings_to_addresses([text])
    assert (int(h[0]) << 64 | int(low[0])) == value and valid.all()
    assert address_to_pair(text) == (value >> 64, value & (2**64 - 1))


def test_mixed_with_nulls_and_repeats() -> None:
    values = [MAPPED | 1, 1, MAPPED | 1, 2**127, MAPPED | 0x7F000001]
    hi, lo = pairs(values)
    out = addresses_to_strings(hi, lo, valid=[True, True, False, True, True])
    assert out.to_pylist() == ["0.0.0.1", "::1", None, "8000::", "127.0.0.1"]
    h, low, valid = strings_to_addresses(out)
    assert valid.tolist() == [True, True, False, True, True]
    assert int(h[2]) == 0 and int(low[2]) == 0


def test_empty_and_errors() -> None:
    e = np.zeros(0, dtype=np.uint64)
    assert addresses_to_strings(e, e).to_pylist() == []
    with pytest.raises(ValueError):
        addresses_to_strings(np.zeros(2, np.uint64), np.zeros(3, np.uint64))
    with pytest.raises(ValueError, match=r"not an IP address: '10\.0\.0\.256'"):
        strings_to_addresses(["10.0.0.1", "10.0.0.256"])
    with pytest.raises(ValueError):
        strings_to_addresses(["010.0.0.1"])  # leading zeros are not an address AWS writes


def test_a_large_batch_formats_every_row() -> None:
    rng = np.random.default_rng(1)
    v4 = rng.integers(0, 2**32, 200_000, dtype=np.uint64) | np.uint64(MAPPED)
    out = addresses_to_strings(np.zeros_like(v4), v4)
    sample = rng.integers(0, len(v4), 50)
    for i in sample:
        assert out[int(i)].as_py() == str(ipaddress.IPv4Address(int(v4[i]) & 0xFFFFFFFF))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)), max_size=20))
def test_round_trip_matches_python(addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> None:
    values = [MAPPED | int(a) if a.version == 4 else int(a) for a in addresses]
    # IPv4-mapped IPv6 addresses are IPv4 by the data plane's convention.
    expected = [
        str(a) if a.version == 4 or (int(a) >> 32) != 0xFFFF else str(ipaddress.IPv4Address(int(a) & 0xFFFFFFFF))
        for a in addresses
    ]
    hi, lo = pairs(values)
    out = addresses_to_strings(hi, lo)
    assert out.to_pylist() == expected
    h, low, _ = strings_to_addresses(out)
    assert [int(a) << 64 | int(b) for a, b in zip(h, low, strict=True)] == values

"""Vectorised IP address formatting and parsing for record columns.

The data plane holds addresses as 128-bit pairs of uint64 (``hi``, ``lo``) with IPv4 mapped into
``::ffff:0:0/96`` (see ``dataplane/packets.py``). Flow records show IPv4 dotted (``10.0.0.62``)
and IPv6 in RFC 5952 form: lower case, leading zeros dropped, the longest run (leftmost on a tie)
of two or more zero groups compressed to ``::`` (spec 1.1, golden 7.4).

Formatting is the native core's (``native/src/aggregate/records/addr.rs``, the same code that writes
the records' address columns); parsing is vectorised numpy/Arrow.
"""

from __future__ import annotations

import ipaddress

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vpcflow.codecs.native_columns import arrow_array

_V4_MAPPED = 0xFFFF_0000_0000

U64 = npt.NDArray[np.uint64]
Bool = npt.NDArray[np.bool_]


def addresses_to_strings(hi: npt.ArrayLike, lo: npt.ArrayLike, valid: npt.ArrayLike | None = None) -> pa.StringArray:
    """Format 128-bit address pairs as flow-record strings.

    ``hi``/``lo``: uint64 arrays of equal length, IPv4 mapped into ``::ffff:0:0/96``.
    ``valid``: optional bool array; False rows become null (written ``-``).
    """
    hi_a = np.ascontiguousarray(hi, dtype=np.uint64)
    lo_a = np.ascontiguousarray(lo, dtype=np.uint64)
    if hi_a.shape != lo_a.shape or hi_a.ndim != 1:
        raise ValueError(f"hi and lo must be 1-d arrays of one length, got {hi_a.shape} and {lo_a.shape}")
    from vpcflow import _native  # the parsing half (``vpcflow read``, Insights) does not load the core

    ok = None if valid is None else np.ascontiguousarray(valid, dtype=bool)
    out = arrow_array(_native.format_addresses(hi_a, lo_a, ok), len(hi_a))
    assert isinstance(out, pa.StringArray)
    return out


def _parse_one(text: str) -> int:
    """128-bit value of one address string (IPv4 mapped); ValueError when not an address."""
    if ":" in text:
        return int(ipaddress.IPv6Address(text))
    return _V4_MAPPED | int(ipaddress.IPv4Address(text))


def strings_to_addresses(values: pa.Array | pa.ChunkedArray | list[str | None]) -> tuple[U64, U64, Bool]:
    """Parse address strings (nulls allowed) into ``(hi, lo, valid)`` uint64/bool arrays.

    The inverse of ``addresses_to_strings``. Raises ``ValueError`` naming the first string that is
    not an IPv4 or IPv6 address. Only distinct strings are parsed.
    """
    arr = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values, type=pa.string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    encoded = pc.dictionary_encode(arr)
    dictionary = encoded.dictionary.to_pylist()
    dhi = np.zeros(len(dictionary), dtype=np.uint64)
    dlo = np.zeros(len(dictionary), dtype=np.uint64)
    for i, text in enumerate(dictionary):
        try:
            v = _parse_one(text)
        except ValueError as e:
            raise ValueError(f"not an IP address: {text!r}") from e
        dhi[i] = v >> 64
        dlo[i] = v & 0xFFFF_FFFF_FFFF_FFFF
    idx_arr = encoded.indices
    valid = ~np.asarray(idx_arr.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    idx = idx_arr.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    if len(dictionary) == 0:
        zeros = np.zeros(len(arr), dtype=np.uint64)
        return zeros, zeros.copy(), valid
    zero = np.uint64(0)
    return np.where(valid, dhi[idx], zero), np.where(valid, dlo[idx], zero), valid


def address_to_pair(text: str) -> tuple[int, int]:
    """``(hi, lo)`` of one address string (IPv4 mapped)."""
    v = _parse_one(text)
    return v >> 64, v & 0xFFFF_FFFF_FFFF_FFFF


__all__ = ["address_to_pair", "addresses_to_strings", "strings_to_addresses"]

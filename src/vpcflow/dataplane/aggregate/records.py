"""Record tables of closed windows: partial records (plus NODATA/SKIPDATA rows) -> Arrow tables.

``RecordTableBuilder`` is mixed into ``aggregate.FlowLogAggregator``: it turns the folded partial
records of closed windows (``Closed``) and the NODATA (ENI, window) pairs into the flow log's record
table (format columns in format order, ``codecs.records``), the REJECT side-channel table, the
steering columns sinks use and the counts. One native call (``_native.build_records``,
``native/src/aggregate/records/``) does the SKIPDATA cut, the final order and every column decoded
from the keys and aggregates, addresses included, without the GIL; its buffers become Arrow arrays
here without a copy. The columns read from small tables (the ENI table, tags, next hop, AWS service
names, rules) are takes in Python over the native order. Fill rules are described in ``aggregate``
and ``aggregate_fields``; the numpy implementation is the tests' oracle
(``tests/unit/dataplane/records_oracle.py``). ``KeySpec`` says which packed key columns a format
needs and where they sit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from vpcflow import _native
from vpcflow.codecs.native_columns import arrow_array
from vpcflow.codecs.records import record_table
from vpcflow.dataplane.aggregate.fields import NEXT_HOP_FIELDS, TAG_FIELDS, EniTable
from vpcflow.dataplane.aggregate.groupby import Partials
from vpcflow.model.flowlog import FlowLog

# The packed key's layout (the same names in native/src/aggregate/key.rs, which packs it).
ENI_SHIFT = np.uint64(34)  # key 0 = eni << 34 | window start (seconds < 2**34: until year 2514)
WS_MASK = np.uint64((1 << 34) - 1)
# key 1 ("meta"): direction (bit 0) | action | protocol | srcport | dstport | IPv6 | traffic-path + 1
META_DIR_MASK = np.uint64(1)
META_ACTION_SHIFT = np.uint64(1)
META_PROTO_SHIFT = np.uint64(2)
META_SPORT_SHIFT = np.uint64(10)
META_DPORT_SHIFT = np.uint64(26)
META_V6_SHIFT = np.uint64(42)
META_PATH_SHIFT = np.uint64(43)
_U8, _U16, _BIT, _PATH = np.uint64(0xFF), np.uint64(0xFFFF), np.uint64(1), np.uint64(0xF)


def meta_field(meta: npt.NDArray[np.uint64], shift: np.uint64, mask: np.uint64) -> npt.NDArray[np.int32]:
    """One field of key 1, as int32."""
    return ((meta >> shift) & mask).astype(np.int32)


@dataclass(slots=True)
class KeySpec:
    """Which optional key columns a flow log's format needs, and where each key column sits."""

    pkt_src: bool
    pkt_dst: bool
    path: bool
    peer: bool
    svc_src: bool
    svc_dst: bool
    pos: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = ["eniwin", "meta", "src_hi", "src_lo", "dst_hi", "dst_lo"]
        if self.pkt_src:
            names += ["psrc_hi", "psrc_lo"]
        if self.pkt_dst:
            names += ["pdst_hi", "pdst_lo"]
        if self.peer:
            names.append("peer")
        if self.svc_src:
            names.append("svc_src")
        if self.svc_dst:
            names.append("svc_dst")
        self.pos = {n: i for i, n in enumerate(names)}

    @property
    def nkeys(self) -> int:
        return len(self.pos)


# Format fields read from the ENI table; the address fields and their first key column; the fields
# the native call decodes from key word 1, the aggregates and the row (``records/columns.rs``).
_ENI_FIELDS = ("account-id", "interface-id", "vpc-id", "subnet-id", "instance-id", "region", "az-id",
               "interface-type")
_ADDR_WORD = {"srcaddr": "src_hi", "dstaddr": "dst_hi", "pkt-srcaddr": "psrc_hi", "pkt-dstaddr": "pdst_hi"}
_NATIVE_FIELDS = frozenset({"srcport", "dstport", "protocol", "action", "type", "flow-direction", "traffic-path",
                            "packets", "bytes", "start", "end", "log-status", "tcp-flags"})
_SVC_WORD = {"pkt-src-aws-service": "svc_src", "pkt-dst-aws-service": "svc_dst"}


@dataclass(slots=True)
class Closed:
    """The partial records of closed windows as ``FoldState.close`` hands them: ``keys`` is (rows, words)."""

    keys: npt.NDArray[np.uint64]
    packets: npt.NDArray[np.int64]
    bytes: npt.NDArray[np.int64]
    first_s: npt.NDArray[np.int64]
    last_s: npt.NDArray[np.int64]
    flags: npt.NDArray[np.uint8]
    rule: npt.NDArray[np.int32]

    def __len__(self) -> int:
        return int(self.packets.shape[0])

    @classmethod
    def from_partials(cls, p: Partials) -> Closed:
        keys = np.ascontiguousarray(np.stack(p.keys, axis=1) if p.keys else np.zeros((len(p), 0), np.uint64))
        return cls(keys.astype(np.uint64, copy=False), p.packets, p.bytes, p.first_s, p.last_s, p.flags, p.rule)

    def partials(self) -> Partials:
        """The same rows as ``Partials`` (one array per key column)."""
        return Partials(keys=[np.ascontiguousarray(self.keys[:, i]) for i in range(self.keys.shape[1])],
                        packets=self.packets, bytes=self.bytes, first_s=self.first_s, last_s=self.last_s,
                        flags=self.flags, rule=self.rule)


@dataclass(slots=True)
class BuiltRecords:
    """One ``_build``: the tables and the counts ``AggregateOutput`` reports."""

    table: pa.Table
    rejects: pa.Table
    steering: dict[str, pa.Array]
    counts: dict[str, int]


_COUNTS = ("ok", "accept", "reject", "nodata", "skipdata", "skipped_records", "skipped_packets")


class RecordTableBuilder:
    """Builds record tables; mixed into ``FlowLogAggregator`` (which sets these attributes)."""

    flow_log: FlowLog
    names: tuple[str, ...]
    version: int
    enis: EniTable
    spec: KeySpec
    rules: list[str]
    services: list[str]
    skipdata_capacity: int
    _interval: npt.NDArray[np.int64]

    def _build(self, c: Closed, nd_eni: npt.NDArray[np.int64], nd_ws: npt.NDArray[np.int64]) -> BuiltRecords:
        """The record table (OK records, NODATA and SKIPDATA rows, ordered by window, ENI, start, end,
        status, key), the side channel, the steering columns and the counts, in one native call."""
        closed: dict[str, npt.NDArray[Any]] = {"keys": c.keys, "packets": c.packets, "bytes": c.bytes,
                                                "first": c.first_s, "last": c.last_s, "flags": c.flags, "rule": c.rule}
        request = {
            "nodata_eni": np.ascontiguousarray(nd_eni, np.int64), "nodata_ws": np.ascontiguousarray(nd_ws, np.int64),
            "interval": self._interval, "capacity": self.skipdata_capacity,
            "fields": [n for n in self.names if n in _NATIVE_FIELDS],
            "addresses": [(n, self.spec.pos[_ADDR_WORD[n]]) for n in self.names if n in _ADDR_WORD],
        }
        out = _native.build_records(closed, request)
        n = len(out["src"])
        native = {name: arrow_array(col, n) for name, col in out["columns"].items()}
        eni_o, src = out["eni"], out["src"]
        cols = {name: native[name] if name in native else self._column(name, c, src, eni_o) for name in self.names}
        table = record_table(self.names, cols, length=n)
        steering = {
            "start": native["start"] if "start" in native else arrow_array(("i64", out["start"], None, 0), n),
            "end": native["end"] if "end" in native else arrow_array(("i64", out["end"], None, 0), n),
            "interface_id": table.column("interface_id").chunk(0) if "interface-id" in cols and n
            else self.enis.column("interface-id", eni_o),
        }
        return BuiltRecords(table, self._rejects(out["rejects"]), steering, {k: int(out[k]) for k in _COUNTS})

    def _column(self, name: str, c: Closed, src: npt.NDArray[np.int64], eni_o: npt.NDArray[np.int64]) -> object:
        """A format field read from a small table, in final order (``None``: `-` in every row)."""
        if name == "version":
            return self.version
        if name in _ENI_FIELDS:
            return self.enis.column(name, eni_o)
        if name in NEXT_HOP_FIELDS:
            return self.enis.column(NEXT_HOP_FIELDS[name], self._key_index(c, src, "peer"))
        if name in _SVC_WORD:
            code = self._key_index(c, src, _SVC_WORD[name])
            names_arr = pa.array([*self.services, None], type=pa.string())
            return names_arr.take(pa.array(np.where(code >= 0, code, len(self.services))))
        if name in TAG_FIELDS:
            return self.enis.tag_column(self.flow_log, name, eni_o)
        # sublocation-*, ecs-*, reject-reason, resource-id, encryption-status:
        # not modelled, `-` (see aggregate_fields docstring).
        return None

    def _key_index(self, c: Closed, src: npt.NDArray[np.int64], word: str) -> npt.NDArray[np.int64]:
        """A key column stored as index + 1 (0: none), as the index in final order; -1 for none and
        for NODATA/SKIPDATA rows."""
        if len(c) == 0:  # NODATA/SKIPDATA rows only
            return np.full(len(src), -1, np.int64)
        ok = src >= 0
        stored = c.keys[np.where(ok, src, 0), self.spec.pos[word]].astype(np.int64)
        return np.where(ok, stored - 1, -1)

    def _rejects(self, rej: dict[str, Any]) -> pa.Table:
        """Side channel: for every REJECT record, the record's identity and the rule that decided."""
        n = len(rej["record_index"])
        cols = {name: arrow_array(col, n) for name, col in rej["columns"].items()}
        rule_idx = rej["rule"]
        rules = pa.array([*self.rules, None], type=pa.string()).take(
            pa.array(np.where(rule_idx >= 0, rule_idx, len(self.rules))))
        return pa.table({
            "record_index": pa.array(rej["record_index"], type=pa.int64()),
            "interface_id": self.enis.column("interface-id", rej["eni"]),
            "flow_direction": cols["flow-direction"],
            "srcaddr": cols["srcaddr"],
            "dstaddr": cols["dstaddr"],
            "srcport": cols["srcport"],
            "dstport": cols["dstport"],
            "protocol": cols["protocol"],
            "start": cols["start"],
            "end": cols["end"],
            "packets": cols["packets"],
            "rule": rules,
        })

"""Record tables of closed windows: partial records (plus NODATA/SKIPDATA rows) -> Arrow tables.

``RecordTableBuilder`` is mixed into ``aggregate.FlowLogAggregator``: it turns the folded partial
records of closed windows, the NODATA (ENI, window) pairs and the SKIPDATA ones into the flow log's
record table (format columns in format order, ``codecs.records``), the REJECT side-channel table and
the steering columns sinks use. Fill rules are described in ``aggregate`` and ``aggregate_fields``.
``KeySpec`` says which packed key columns a format needs and where they sit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from vpcflow.codecs.addresses import addresses_to_strings
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



# Format fields read from the ENI table, and the address fields (``RecordTableBuilder._addr``).
_ENI_FIELDS = ("account-id", "interface-id", "vpc-id", "subnet-id", "instance-id", "region", "az-id",
               "interface-type")
_ADDR_FIELDS = ("srcaddr", "dstaddr", "pkt-srcaddr", "pkt-dstaddr")
# Format fields decoded from key 1 (``_meta_column``) and the others of one window's rows (``_row_column``).
_META_FIELDS = ("srcport", "dstport", "protocol", "action", "type", "flow-direction", "traffic-path")
_ROW_FIELDS = ("packets", "bytes", "start", "end", "log-status", "tcp-flags")


def _pad_in_order(arr: npt.NDArray[Any], pad: int, order: npt.NDArray[np.intp], fill: int = 0) -> npt.NDArray[Any]:
    """``arr`` followed by ``pad`` rows of ``fill``, taken in ``order``."""
    full = np.concatenate([arr, np.full(pad, fill, dtype=arr.dtype)])
    return full[order]


@dataclass(slots=True)
class _Rows:
    """The rows of one record table: OK records, then NODATA and SKIPDATA, and their final order."""

    p: Partials
    n: int
    n_ok: int
    start: npt.NDArray[np.int64]
    end: npt.NDArray[np.int64]
    status: npt.NDArray[np.int8]
    order: npt.NDArray[np.intp]
    ok: npt.NDArray[np.bool_]  # in final order
    meta_o: npt.NDArray[np.uint64]  # key 1 in final order (0 for non-OK rows)
    eni_o: npt.NDArray[np.int64]  # in final order

    def okcol(self, arr: npt.NDArray[Any], fill: int = 0) -> npt.NDArray[Any]:
        """A column of the OK records, padded with ``fill`` for the other rows, in final order."""
        return _pad_in_order(arr, self.n - self.n_ok, self.order, fill)

    def masked(self, arr: npt.NDArray[Any]) -> np.ma.MaskedArray:
        """``arr`` (already in final order and full length) with non-OK rows `-`."""
        return np.ma.MaskedArray(arr, mask=~self.ok)


def _ordered_rows(p: Partials, eni: npt.NDArray[np.int64], ws: npt.NDArray[np.int64],
                  nd_eni: npt.NDArray[np.int64], nd_ws: npt.NDArray[np.int64],
                  sk_eni: npt.NDArray[np.int64], sk_ws: npt.NDArray[np.int64],
                  interval: npt.NDArray[np.int64]) -> _Rows:
    """All rows with their start, end and status, and the final order: window, ENI, start, end, key."""
    n_ok, n_nd, n_sk = len(p), len(nd_eni), len(sk_eni)
    n = n_ok + n_nd + n_sk
    all_eni = np.concatenate([eni, nd_eni, sk_eni])
    all_ws = np.concatenate([ws, nd_ws, sk_ws])
    itv = interval[all_eni] if n else np.zeros(0, np.int64)
    start = np.concatenate([p.first_s, nd_ws, sk_ws])
    end = np.concatenate([p.last_s, all_ws[n_ok:] + itv[n_ok:] - 2])
    status = np.concatenate([np.zeros(n_ok, np.int8), np.ones(n_nd, np.int8), np.full(n_sk, 2, np.int8)])
    # Final order: window, ENI (table order), start, end, then the key (deterministic).
    pad = np.zeros(n - n_ok, dtype=np.uint64)
    meta = np.concatenate([p.keys[1], pad])
    order = np.lexsort((meta, status, end, start, all_eni, all_ws))
    ok = np.zeros(n, dtype=bool)
    ok[:n_ok] = True
    ok = ok[order]
    return _Rows(p, n, n_ok, start, end, status, order, ok, meta_o=_pad_in_order(p.keys[1], n - n_ok, order),
                 eni_o=all_eni[order])


def _meta_column(name: str, r: _Rows) -> object:
    """A field decoded from key 1 (``_META_FIELDS``); `-` for NODATA/SKIPDATA rows."""
    meta_o, ok = r.meta_o, r.ok
    if name == "srcport":
        return r.masked(meta_field(meta_o, META_SPORT_SHIFT, _U16))
    if name == "dstport":
        return r.masked(meta_field(meta_o, META_DPORT_SHIFT, _U16))
    if name == "protocol":
        return r.masked(meta_field(meta_o, META_PROTO_SHIFT, _U8))
    if name == "action":
        act = np.where(meta_field(meta_o, META_ACTION_SHIFT, _BIT), "REJECT", "ACCEPT")
        return pa.array(act, mask=~ok, type=pa.string())
    if name == "type":
        v6 = meta_field(meta_o, META_V6_SHIFT, _BIT).astype(bool)
        return pa.array(np.where(v6, "IPv6", "IPv4"), mask=~ok, type=pa.string())
    if name == "flow-direction":
        eg = (meta_o & META_DIR_MASK).astype(bool)
        return pa.array(np.where(eg, "egress", "ingress"), mask=~ok, type=pa.string())
    tp = meta_field(meta_o, META_PATH_SHIFT, _PATH) - 1  # traffic-path
    return np.ma.MaskedArray(tp, mask=~ok | (tp < 0))


def _row_column(name: str, r: _Rows) -> object:
    """Counts, times, status and TCP flags (``_ROW_FIELDS``)."""
    if name == "packets":
        return r.masked(r.okcol(r.p.packets))
    if name == "bytes":
        return r.masked(r.okcol(r.p.bytes))
    if name == "start":
        return r.start[r.order]
    if name == "end":
        return r.end[r.order]
    if name == "log-status":
        return pa.array(np.array(["OK", "NODATA", "SKIPDATA"])[r.status[r.order]], type=pa.string())
    fl = r.okcol(r.p.flags)  # tcp-flags
    return np.ma.MaskedArray((fl & 0x17).astype(np.int32), mask=~r.ok | ((fl & 0x80) != 0))


class RecordTableBuilder:
    """Builds record tables; mixed into ``FlowLogAggregator`` (which sets these attributes)."""

    flow_log: FlowLog
    names: tuple[str, ...]
    version: int
    enis: EniTable
    spec: KeySpec
    rules: list[str]
    services: list[str]
    _interval: npt.NDArray[np.int64]

    def _build(self, p: Partials, eni: npt.NDArray[np.int64], ws: npt.NDArray[np.int64],
               nd_eni: npt.NDArray[np.int64], nd_ws: npt.NDArray[np.int64],
               sk_eni: npt.NDArray[np.int64], sk_ws: npt.NDArray[np.int64]
               ) -> tuple[pa.Table, pa.Table, dict[str, pa.Array]]:
        """The record table: OK records, then NODATA and SKIPDATA, ordered by window, ENI, start."""
        r = _ordered_rows(p, eni, ws, nd_eni, nd_ws, sk_eni, sk_ws, self._interval)
        order, start, end = r.order, r.start, r.end
        ns = set(self.names)
        cols: dict[str, object] = {}
        for name in self.names:
            cols[name] = self._column(name, r)
        table = record_table(self.names, cols, length=r.n)
        rejects = self._rejects(p, eni, order, r.ok, start[order], end[order], ns)
        steering = {"start": pa.array(start[order], type=pa.int64()), "end": pa.array(end[order], type=pa.int64()),
                    "interface_id": self.enis.column("interface-id", r.eni_o)}
        return table, rejects, steering

    def _column(self, name: str, r: _Rows) -> object:
        """One format field's column in final order (``None``: `-` in every row)."""
        if name == "version":
            return self.version
        if name in _ENI_FIELDS:
            return self.enis.column(name, r.eni_o)
        if name in _ADDR_FIELDS:
            return self._addr(r.p, name, r.okcol, r.ok)
        if name in _META_FIELDS:
            return _meta_column(name, r)
        if name in _ROW_FIELDS:
            return _row_column(name, r)
        if name in NEXT_HOP_FIELDS:
            peer = r.okcol(r.p.keys[self.spec.pos["peer"]]).astype(np.int64) - 1
            peer = np.where(r.ok, peer, -1)
            return self.enis.column(NEXT_HOP_FIELDS[name], peer)
        if name in ("pkt-src-aws-service", "pkt-dst-aws-service"):
            code = r.okcol(r.p.keys[self.spec.pos["svc_src" if name == "pkt-src-aws-service" else "svc_dst"]])
            code = np.where(r.ok, code.astype(np.int64) - 1, -1)
            names_arr = pa.array([*self.services, None], type=pa.string())
            return names_arr.take(pa.array(np.where(code >= 0, code, len(self.services))))
        if name in TAG_FIELDS:
            return self.enis.tag_column(self.flow_log, name, r.eni_o)
        # sublocation-*, pkt-*-aws-service, ecs-*, reject-reason, resource-id, encryption-status:
        # not modelled, `-` (see aggregate_fields docstring).
        return None

    def _addr(self, p: Partials, name: str, okcol: object, ok: npt.NDArray[np.bool_]) -> pa.Array:
        idx = self.spec.pos[{"srcaddr": "src_hi", "dstaddr": "dst_hi", "pkt-srcaddr": "psrc_hi",
                             "pkt-dstaddr": "pdst_hi"}[name]]
        assert callable(okcol)
        return addresses_to_strings(okcol(p.keys[idx]), okcol(p.keys[idx + 1]), valid=ok)

    def _rejects(self, p: Partials, eni: npt.NDArray[np.int64], order: npt.NDArray[np.intp],
                 ok: npt.NDArray[np.bool_], start: npt.NDArray[np.int64], end: npt.NDArray[np.int64],
                 names: set[str]) -> pa.Table:
        """Side channel: for every REJECT record, the record's identity and the rule that decided."""
        n_ok = len(p)
        pos = np.flatnonzero(ok)  # positions of OK records in final order
        src_rows = order[pos]  # their row in p
        meta = p.keys[1][src_rows]
        rej = meta_field(meta, META_ACTION_SHIFT, _BIT).astype(bool)
        rows = src_rows[rej]
        del n_ok
        meta = meta[rej]
        rule_idx = p.rule[rows]
        rules = pa.array([*self.rules, None], type=pa.string()).take(
            pa.array(np.where(rule_idx >= 0, rule_idx, len(self.rules))))
        return pa.table({
            "record_index": pa.array(pos[rej], type=pa.int64()),
            "interface_id": self.enis.column("interface-id", eni[rows]),
            "flow_direction": pa.array(np.where(meta & META_DIR_MASK, "egress", "ingress"), type=pa.string()),
            "srcaddr": addresses_to_strings(p.keys[2][rows], p.keys[3][rows]),
            "dstaddr": addresses_to_strings(p.keys[4][rows], p.keys[5][rows]),
            "srcport": meta_field(meta, META_SPORT_SHIFT, _U16),
            "dstport": meta_field(meta, META_DPORT_SHIFT, _U16),
            "protocol": meta_field(meta, META_PROTO_SHIFT, _U8),
            "start": start[pos[rej]],
            "end": end[pos[rej]],
            "packets": p.packets[rows],
            "rule": rules,
        })

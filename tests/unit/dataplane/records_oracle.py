"""The oracle of record tables: the numpy implementation the native core replaced, tests only.

``oracle_records(agg, p, nd_eni, nd_ws)`` builds a flow log's ``AggregateOutput`` from the partial
records of closed windows with numpy and pyarrow only, exactly as ``FlowLogAggregator`` did before
``native/src/aggregate/records``: the SKIPDATA ranking and cut, the final order (window, ENI, start,
end, status, key word 1, arrival), every column, the REJECT side channel and the counts. Addresses
are formatted with ``ipaddress`` (RFC 5952), independently of the native formatter. Property tests
hold the native tables equal to these, table for table.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from vpcflow.codecs.records import record_table
from vpcflow.dataplane.aggregate.aggregator import AggregateOutput, FlowLogAggregator
from vpcflow.dataplane.aggregate.fields import NEXT_HOP_FIELDS, TAG_FIELDS
from vpcflow.dataplane.aggregate.groupby import Partials
from vpcflow.dataplane.aggregate.records import (
    ENI_SHIFT,
    META_ACTION_SHIFT,
    META_DIR_MASK,
    META_DPORT_SHIFT,
    META_PATH_SHIFT,
    META_PROTO_SHIFT,
    META_SPORT_SHIFT,
    META_V6_SHIFT,
    WS_MASK,
    meta_field,
)

_U8, _U16, _BIT, _PATH = np.uint64(0xFF), np.uint64(0xFFFF), np.uint64(1), np.uint64(0xF)
_ENI_FIELDS = ("account-id", "interface-id", "vpc-id", "subnet-id", "instance-id", "region", "az-id",
               "interface-type")
_ADDR_WORD = {"srcaddr": "src_hi", "dstaddr": "dst_hi", "pkt-srcaddr": "psrc_hi", "pkt-dstaddr": "pdst_hi"}
_META_FIELDS = ("srcport", "dstport", "protocol", "action", "type", "flow-direction", "traffic-path")
_ROW_FIELDS = ("packets", "bytes", "start", "end", "log-status", "tcp-flags")


def oracle_addresses(hi: npt.ArrayLike, lo: npt.ArrayLike, valid: npt.ArrayLike | None = None) -> pa.Array:
    """Address text with ``ipaddress``: IPv4 mapped into ``::ffff:0:0/96`` dotted, others RFC 5952."""
    out: list[str | None] = []
    ok = np.ones(len(np.asarray(hi)), bool) if valid is None else np.asarray(valid, bool)
    for h, low, v in zip(np.asarray(hi).tolist(), np.asarray(lo).tolist(), ok.tolist(), strict=True):
        value = (int(h) << 64) | int(low)
        if not v:
            out.append(None)
        elif value >> 32 == 0xFFFF:
            out.append(str(ipaddress.IPv4Address(value & 0xFFFF_FFFF)))
        else:
            out.append(str(ipaddress.IPv6Address(value)))
    return pa.array(out, type=pa.string())


def _pad_in_order(arr: npt.NDArray[Any], pad: int, order: npt.NDArray[np.intp], fill: int = 0) -> npt.NDArray[Any]:
    full = np.concatenate([arr, np.full(pad, fill, dtype=arr.dtype)])
    return full[order]


@dataclass(slots=True)
class _Rows:
    p: Partials
    n: int
    n_ok: int
    start: npt.NDArray[np.int64]
    end: npt.NDArray[np.int64]
    status: npt.NDArray[np.int8]
    order: npt.NDArray[np.intp]
    ok: npt.NDArray[np.bool_]
    meta_o: npt.NDArray[np.uint64]
    eni_o: npt.NDArray[np.int64]

    def okcol(self, arr: npt.NDArray[Any], fill: int = 0) -> npt.NDArray[Any]:
        return _pad_in_order(arr, self.n - self.n_ok, self.order, fill)

    def masked(self, arr: npt.NDArray[Any]) -> np.ma.MaskedArray:
        return np.ma.MaskedArray(arr, mask=~self.ok)


def _ordered_rows(p: Partials, eni: npt.NDArray[np.int64], ws: npt.NDArray[np.int64],
                  nd_eni: npt.NDArray[np.int64], nd_ws: npt.NDArray[np.int64],
                  sk_eni: npt.NDArray[np.int64], sk_ws: npt.NDArray[np.int64],
                  interval: npt.NDArray[np.int64]) -> _Rows:
    n_ok, n_nd, n_sk = len(p), len(nd_eni), len(sk_eni)
    n = n_ok + n_nd + n_sk
    all_eni = np.concatenate([eni, nd_eni, sk_eni])
    all_ws = np.concatenate([ws, nd_ws, sk_ws])
    itv = interval[all_eni] if n else np.zeros(0, np.int64)
    start = np.concatenate([p.first_s, nd_ws, sk_ws])
    end = np.concatenate([p.last_s, all_ws[n_ok:] + itv[n_ok:] - 2])
    status = np.concatenate([np.zeros(n_ok, np.int8), np.ones(n_nd, np.int8), np.full(n_sk, 2, np.int8)])
    meta = np.concatenate([p.keys[1], np.zeros(n - n_ok, dtype=np.uint64)])
    order = np.lexsort((meta, status, end, start, all_eni, all_ws))
    ok = np.zeros(n, dtype=bool)
    ok[:n_ok] = True
    ok = ok[order]
    return _Rows(p, n, n_ok, start, end, status, order, ok, meta_o=_pad_in_order(p.keys[1], n - n_ok, order),
                 eni_o=all_eni[order])


def _meta_column(name: str, r: _Rows) -> object:
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
    tp = meta_field(meta_o, META_PATH_SHIFT, _PATH) - 1
    return np.ma.MaskedArray(tp, mask=~ok | (tp < 0))


def _row_column(name: str, r: _Rows) -> object:
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
    fl = r.okcol(r.p.flags)
    return np.ma.MaskedArray((fl & 0x17).astype(np.int32), mask=~r.ok | ((fl & 0x80) != 0))


def _column(agg: FlowLogAggregator, name: str, r: _Rows) -> object:
    if name == "version":
        return agg.version
    if name in _ENI_FIELDS:
        return agg.enis.column(name, r.eni_o)
    if name in _ADDR_WORD:
        idx = agg.spec.pos[_ADDR_WORD[name]]
        return oracle_addresses(r.okcol(r.p.keys[idx]), r.okcol(r.p.keys[idx + 1]), valid=r.ok)
    if name in _META_FIELDS:
        return _meta_column(name, r)
    if name in _ROW_FIELDS:
        return _row_column(name, r)
    if name in NEXT_HOP_FIELDS:
        peer = np.where(r.ok, r.okcol(r.p.keys[agg.spec.pos["peer"]]).astype(np.int64) - 1, -1)
        return agg.enis.column(NEXT_HOP_FIELDS[name], peer)
    if name in ("pkt-src-aws-service", "pkt-dst-aws-service"):
        code = r.okcol(r.p.keys[agg.spec.pos["svc_src" if name == "pkt-src-aws-service" else "svc_dst"]])
        code = np.where(r.ok, code.astype(np.int64) - 1, -1)
        names_arr = pa.array([*agg.services, None], type=pa.string())
        return names_arr.take(pa.array(np.where(code >= 0, code, len(agg.services))))
    if name in TAG_FIELDS:
        return agg.enis.tag_column(agg.flow_log, name, r.eni_o)
    return None


def _rejects(agg: FlowLogAggregator, p: Partials, eni: npt.NDArray[np.int64], r: _Rows) -> pa.Table:
    start, end = r.start[r.order], r.end[r.order]
    pos = np.flatnonzero(r.ok)
    src_rows = r.order[pos]
    meta = p.keys[1][src_rows]
    rej = meta_field(meta, META_ACTION_SHIFT, _BIT).astype(bool)
    rows = src_rows[rej]
    meta = meta[rej]
    rule_idx = p.rule[rows]
    rules = pa.array([*agg.rules, None], type=pa.string()).take(
        pa.array(np.where(rule_idx >= 0, rule_idx, len(agg.rules))))
    return pa.table({
        "record_index": pa.array(pos[rej], type=pa.int64()),
        "interface_id": agg.enis.column("interface-id", eni[rows]),
        "flow_direction": pa.array(np.where(meta & META_DIR_MASK, "egress", "ingress"), type=pa.string()),
        "srcaddr": oracle_addresses(p.keys[2][rows], p.keys[3][rows]),
        "dstaddr": oracle_addresses(p.keys[4][rows], p.keys[5][rows]),
        "srcport": meta_field(meta, META_SPORT_SHIFT, _U16),
        "dstport": meta_field(meta, META_DPORT_SHIFT, _U16),
        "protocol": meta_field(meta, META_PROTO_SHIFT, _U8),
        "start": start[pos[rej]],
        "end": end[pos[rej]],
        "packets": p.packets[rows],
        "rule": rules,
    })


def oracle_records(agg: FlowLogAggregator, p: Partials, nd_eni: npt.NDArray[np.int64],
                   nd_ws: npt.NDArray[np.int64]) -> AggregateOutput:
    """The records of closed partials ``p`` plus NODATA pairs, as the numpy implementation built them."""
    k0 = p.keys[0]
    eni = (k0 >> ENI_SHIFT).astype(np.int64)
    ws = (k0 & WS_MASK).astype(np.int64)
    cap = agg.options.skipdata_capacity
    order = np.lexsort((p.keys[1], p.last_s, p.first_s, eni, ws))
    p = p.take(order)
    eni, ws, k0 = eni[order], ws[order], k0[order]
    n = len(p)
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = k0[1:] != k0[:-1]
    gstart = np.flatnonzero(new_group)
    rank = np.arange(n) - np.repeat(gstart, np.diff(np.append(gstart, n)))
    over = rank >= cap
    skip_eni = skip_ws = np.zeros(0, np.int64)
    skipped_records = skipped_packets = 0
    if over.any():
        skipped_records = int(over.sum())
        skipped_packets = int(p.packets[over].sum())
        sk = np.unique(k0[over])
        skip_eni = (sk >> ENI_SHIFT).astype(np.int64)
        skip_ws = (sk & WS_MASK).astype(np.int64)
        keep = np.flatnonzero(~over)
        p, eni, ws = p.take(keep), eni[keep], ws[keep]
    r = _ordered_rows(p, eni, ws, nd_eni, nd_ws, skip_eni, skip_ws, agg._interval)
    table = record_table(agg.names, {name: _column(agg, name, r) for name in agg.names}, length=r.n)
    steering = {"start": pa.array(r.start[r.order], type=pa.int64()), "end": pa.array(r.end[r.order], type=pa.int64()),
                "interface_id": agg.enis.column("interface-id", r.eni_o)}
    action = (p.keys[1] >> META_ACTION_SHIFT) & np.uint64(1)
    return AggregateOutput(
        flow_log=agg.flow_log, table=table, rejects=_rejects(agg, p, eni, r), ok=len(p),
        accept=int((action == 0).sum()), reject=int((action == 1).sum()), nodata=len(nd_eni),
        skipdata=len(skip_eni), skipped_records=skipped_records, skipped_packets=skipped_packets, steering=steering)

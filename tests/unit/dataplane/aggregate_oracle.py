"""The oracle of aggregation: a numpy-only fold and tcp-flags mapping (spec 1.4), tests only.

``ReferenceAggregator`` is an ``Aggregator`` whose flow logs fold observation batches with numpy
operations only (``fold_numpy``: hash sort, then VERIFIED groups with an exact lexsort fallback on a
collision), where production runs the native one-pass fold (``native/src/aggregate``), and build
their record tables with the numpy oracle of ``records_oracle``; property tests hold the two equal. ``map_tcp_flags`` is the per-packet mapping of spec 1.4, written again.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from records_oracle import oracle_records

from vpcflow.dataplane.aggregate.aggregator import AggregateOutput, Aggregator, FlowLogAggregator
from vpcflow.dataplane.aggregate.groupby import Partials
from vpcflow.dataplane.aggregate.records import (
    ENI_SHIFT,
    META_ACTION_SHIFT,
    META_DPORT_SHIFT,
    META_PATH_SHIFT,
    META_PROTO_SHIFT,
    META_SPORT_SHIFT,
    META_V6_SHIFT,
    Closed,
)
from vpcflow.dataplane.packets import ACCEPT, REJECT, ObservationBatch

U64 = npt.NDArray[np.uint64]
_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_S29 = np.uint64(29)
_S32 = np.uint64(32)

_FIN_SYN_RST = np.uint8(0x07)
_SYN_ACK = np.uint8(0x12)
_SYN_ACK_BIT = np.uint8(0x10)
_INVALID_BIT = np.uint8(0x80)  # internal: a packet with an impossible flag combination seen
_TCP = 6


def map_tcp_flags(raw: npt.NDArray[np.uint8], protocol: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Per-packet flags as flow logs count them (spec 1.4).

    FIN 1, SYN 2, RST 4 are kept; a SYN|ACK packet counts as 18 (SYN-ACK); ACK, PSH, URG, ECE, CWR
    alone are not reported (0). A packet with SYN and FIN, or SYN and RST, together is an
    impossible combination: the record's tcp-flags becomes ``-`` ("cannot be calculated").
    Non-TCP packets count 0 (the catalogue's choice for the UNCONFIRMED non-TCP case).
    """
    f = raw & _FIN_SYN_RST
    f |= np.where((raw & _SYN_ACK) == _SYN_ACK, _SYN_ACK_BIT, np.uint8(0))
    invalid = ((raw & 0x03) == 0x03) | ((raw & 0x06) == 0x06)
    f |= np.where(invalid, _INVALID_BIT, np.uint8(0))
    return np.where(protocol == _TCP, f, np.uint8(0)).astype(np.uint8)


def _run_rules(rule: npt.NDArray[np.int32], rule_map: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    """Batch rule indexes -> run rule indexes; -1 (no rule) stays -1."""
    if len(rule_map) == 0:
        return np.full(rule.shape[0], -1, np.int32)
    return np.where(rule >= 0, rule_map[np.maximum(rule, 0)], np.int32(-1)).astype(np.int32)


def _service_key(codes: npt.NDArray[np.int16] | None, svc_map: npt.NDArray[np.int64] | None,
                 rows: npt.NDArray[np.generic] | slice, n: int) -> npt.NDArray[np.uint64]:
    """Key column of a pkt-*-aws-service field: global service index + 1, 0 for `-`."""
    if codes is None or svc_map is None or len(svc_map) == 0:
        sel = np.zeros(n, dtype=np.uint64)[rows]
        return np.ascontiguousarray(sel)
    c = codes[rows].astype(np.int64)
    return np.where(c >= 0, svc_map[np.maximum(c, 0)] + 1, 0).astype(np.uint64)


class ReferenceFlowLogAggregator(FlowLogAggregator):
    """A flow log's windows, folded by numpy operations only."""

    def add(self, obs: ObservationBatch, eni_map: npt.NDArray[np.int64], rule_map: npt.NDArray[np.int32],
            svc_map: npt.NDArray[np.int64]) -> None:
        self._sync_enis()
        if len(obs) == 0:
            return
        pk = obs.packets
        ts_s = pk.ts_ns[obs.packet] // 1_000_000_000
        flags = map_tcp_flags(pk.tcp_flags[obs.packet], pk.protocol[obs.packet])
        self._add_numpy(obs, eni_map, rule_map, ts_s, flags, svc_map)

    def _push(self, part: Partials) -> None:
        # The open partials as numpy columns, folded with the oracle's fold, not the core's state.
        opened = getattr(self, "_ref_open", None)
        self._ref_open = fold_numpy(Partials.concat([opened, part]) if opened is not None else part)

    def _records(self, closed: Closed, watermark_s: int | None) -> AggregateOutput:
        return oracle_records(self, closed.partials(), *self._nodata(watermark_s))

    def _close(self, watermark_s: int | None) -> Closed:
        p = getattr(self, "_ref_open", None)
        if p is None:
            return Closed.from_partials(Partials.empty(self.spec.nkeys))
        eni = (p.keys[0] >> ENI_SHIFT).astype(np.int64)
        ws = (p.keys[0] & np.uint64((1 << int(ENI_SHIFT)) - 1)).astype(np.int64)
        closed = np.ones(len(p), bool) if watermark_s is None else ws + self._interval[eni] <= watermark_s
        self._ref_open = p.take(np.flatnonzero(~closed))
        return Closed.from_partials(p.take(np.flatnonzero(closed)))

    def _add_numpy(self, obs: ObservationBatch, eni_map: npt.NDArray[np.int64], rule_map: npt.NDArray[np.int32],
                   ts_s: npt.NDArray[np.int64], flags: npt.NDArray[np.uint8],
                   svc_map: npt.NDArray[np.int64] | None = None) -> None:
        eni = eni_map[obs.eni]
        keep = self._covered[eni]
        if not keep.any():
            return
        ws = ts_s - ts_s % self._interval[eni]
        k0 = (eni.astype(np.uint64) << ENI_SHIFT) | ws.astype(np.uint64)
        tt = self.flow_log.traffic_type
        if tt != "ALL":
            # Activity (for NODATA) counts traffic before the TrafficType filter drops rows.
            self._active.update(np.unique(k0[keep]).tolist())
        if tt == "ACCEPT":
            keep &= obs.action == ACCEPT
        elif tt == "REJECT":
            keep &= obs.action == REJECT
        if not keep.all():
            idx = np.flatnonzero(keep)
            obs_rows: npt.NDArray[np.generic] | slice = idx
        else:
            obs_rows = slice(None)
        pk = obs.packets
        prow = obs.packet[obs_rows]
        proto = pk.protocol[prow].astype(np.uint64)
        meta = (
            obs.direction[obs_rows].astype(np.uint64)
            | (obs.action[obs_rows].astype(np.uint64) << META_ACTION_SHIFT)
            | (proto << META_PROTO_SHIFT)
            | (pk.src_port[prow].astype(np.uint64) << META_SPORT_SHIFT)
            | (pk.dst_port[prow].astype(np.uint64) << META_DPORT_SHIFT)
            | ((pk.ip_version[prow].astype(np.uint64) == 6).astype(np.uint64) << META_V6_SHIFT)
        )
        if self.spec.path:
            meta |= (obs.traffic_path[obs_rows].astype(np.int64) + 1).astype(np.uint64) << META_PATH_SHIFT
        keys = [k0[obs_rows], meta, obs.src_hi[obs_rows], obs.src_lo[obs_rows], obs.dst_hi[obs_rows],
                obs.dst_lo[obs_rows]]
        if self.spec.pkt_src:
            keys += [obs.pkt_src_hi[obs_rows], obs.pkt_src_lo[obs_rows]]
        if self.spec.pkt_dst:
            keys += [obs.pkt_dst_hi[obs_rows], obs.pkt_dst_lo[obs_rows]]
        if self.spec.peer:
            peer = obs.peer_eni[obs_rows]
            gpeer = np.where(peer >= 0, eni_map[np.maximum(peer, 0)], -1)
            keys.append((gpeer + 1).astype(np.uint64))
        for flag, col in ((self.spec.svc_src, "pkt_src_service"), (self.spec.svc_dst, "pkt_dst_service")):
            if flag:
                keys.append(_service_key(getattr(obs, col, None), svc_map, obs_rows, len(obs)))
        t = ts_s[obs_rows]
        part = Partials(
            keys=[np.ascontiguousarray(k, dtype=np.uint64) for k in keys],
            packets=np.ones(t.shape[0], dtype=np.int64),
            bytes=pk.ip_len[prow].astype(np.int64),
            first_s=t,
            last_s=t,
            flags=flags[obs_rows],
            rule=_run_rules(obs.rule[obs_rows], rule_map),
        )
        part = fold_numpy(part)
        if tt == "ALL":
            self._active.update(np.unique(part.keys[0]).tolist())  # folded: far fewer rows to scan
        self._push(part)


class ReferenceAggregator(Aggregator):
    """``Aggregator`` whose flow logs fold with the oracle."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.per_flow_log = [ReferenceFlowLogAggregator(fl, self.enis, self.options, self.rules, self.services)
                             for fl in self.flow_logs]


def hash_keys(keys: list[U64]) -> U64:
    """A 64-bit mix of the key columns (splitmix-style); equal keys give equal hashes."""
    with np.errstate(over="ignore"):
        h = keys[0] * _M1
        h ^= h >> _S29
        for col in keys[1:]:
            h = (h ^ col) * _M2
            h ^= h >> _S32
    return h


def _group_order(keys: list[U64]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """(row order that makes groups contiguous, start offset of each group in that order)."""
    n = keys[0].shape[0]
    h = hash_keys(keys)
    order = np.argsort(h, kind="quicksort")
    hs = h[order]
    same = hs[1:] == hs[:-1]
    collision = False
    for col in keys:
        cs = col[order]
        if np.any((cs[1:] != cs[:-1]) & same):
            collision = True
            break
    if collision:
        # Exact fallback: lexsort on every key column (rare: a 64-bit hash collision in one fold).
        order = np.lexsort(tuple(reversed(keys)))
        diff = np.zeros(max(n - 1, 0), dtype=bool)
        for col in keys:
            cs = col[order]
            diff |= cs[1:] != cs[:-1]
    else:
        diff = ~same
    starts = np.concatenate(([0], np.flatnonzero(diff) + 1)).astype(np.intp)
    return order, starts



def fold_numpy(p: Partials) -> Partials:
    """Merge rows with equal keys: sums, min/max seconds, OR of flags, the earliest row's rule.

    The pure-numpy reference of ``fold`` (hash sort + verified groups); groups in hash order.
    """
    n = len(p)
    if n <= 1:
        return p
    order, starts = _group_order(p.keys)
    first_sorted = p.first_s[order]
    first = np.minimum.reduceat(first_sorted, starts)
    # Rule of the earliest packet: among rows at the group's first second, the highest rule index
    # (deterministic whatever the sort order; rows of one second are indistinguishable in records).
    counts = np.diff(np.append(starts, n))
    at_first = first_sorted == np.repeat(first, counts)
    rule = np.maximum.reduceat(np.where(at_first, p.rule[order], np.int32(-1)), starts).astype(np.int32)
    return Partials(
        keys=[k[order][starts] for k in p.keys],
        packets=np.add.reduceat(p.packets[order], starts),
        bytes=np.add.reduceat(p.bytes[order], starts),
        first_s=first,
        last_s=np.maximum.reduceat(p.last_s[order], starts),
        flags=np.bitwise_or.reduceat(p.flags[order], starts),
        rule=rule,
    )

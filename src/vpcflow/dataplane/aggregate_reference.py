"""The numpy reference of aggregation's compiled path, and the tcp-flags mapping of spec 1.4.

``NumpyReferenceAdd._add_numpy`` folds an observation batch with numpy operations only, exactly as
``aggregate_kernels.observe_fold`` does in one compiled pass; a property test holds the two equal
(``aggregate.USE_KERNEL = False`` runs it). ``map_tcp_flags`` is the per-packet mapping both use.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from vpcflow.dataplane.aggregate_groupby import Partials, fold
from vpcflow.dataplane.aggregate_records import ENI_SHIFT as _ENI_SHIFT
from vpcflow.dataplane.aggregate_records import KeySpec
from vpcflow.dataplane.packets import ACCEPT, REJECT, ObservationBatch
from vpcflow.model.flowlog import FlowLog

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


class NumpyReferenceAdd:
    """``_add_numpy``; mixed into ``FlowLogAggregator`` (which sets these attributes)."""

    flow_log: FlowLog
    spec: KeySpec
    _covered: npt.NDArray[np.bool_]
    _interval: npt.NDArray[np.int64]
    _active: set[int]

    def _push(self, part: Partials) -> None:
        raise NotImplementedError

    def _add_numpy(self, obs: ObservationBatch, eni_map: npt.NDArray[np.int64], rule_map: npt.NDArray[np.int32],
                   ts_s: npt.NDArray[np.int64], flags: npt.NDArray[np.uint8],
                   svc_map: npt.NDArray[np.int64] | None = None) -> None:
        """The numpy reference of ``add`` (``ts_s``/``flags`` are per observation row); tests compare them."""
        eni = eni_map[obs.eni]
        keep = self._covered[eni]
        if not keep.any():
            return
        ws = ts_s - ts_s % self._interval[eni]
        k0 = (eni.astype(np.uint64) << _ENI_SHIFT) | ws.astype(np.uint64)
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
            | (obs.action[obs_rows].astype(np.uint64) << np.uint64(1))
            | (proto << np.uint64(2))
            | (pk.src_port[prow].astype(np.uint64) << np.uint64(10))
            | (pk.dst_port[prow].astype(np.uint64) << np.uint64(26))
            | ((pk.ip_version[prow].astype(np.uint64) == 6).astype(np.uint64) << np.uint64(42))
        )
        if self.spec.path:
            meta |= (obs.traffic_path[obs_rows].astype(np.int64) + 1).astype(np.uint64) << np.uint64(43)
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
        part = fold(part)
        if tt == "ALL":
            self._active.update(np.unique(part.keys[0]).tolist())  # folded: far fewer rows to scan
        self._push(part)

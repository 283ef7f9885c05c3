# numba kernels: njit is an untyped decorator and numpy scalars do not type as int.
# mypy: disable-error-code="untyped-decorator,no-any-return"
"""Compiled group-by of partial records: one pass with an open-addressing hash table.

``fold_rows`` merges rows with equal key rows (every key column compared, so hash collisions only
cost a probe, never a wrong merge) and aggregates them like ``aggregate_groupby.fold``: sums of
packets and bytes, min first second, max last second, OR of flags, and the rule of the earliest
row (highest rule index on a tie, the numpy path's rule). Groups come out in order of first
appearance, so the result is deterministic. Linear time, no sort: this is the hot loop of
aggregation. ``aggregate_groupby.fold_numpy`` is the tested reference it must agree with.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)


@njit(cache=True, nogil=True)
def fold_rows(keys, packets, nbytes, first, last, flags, rule):  # type: ignore[no-untyped-def]
    n, k = keys.shape
    cap = 16
    while cap < 2 * n:
        cap <<= 1
    mask = np.uint64(cap - 1)
    table = np.full(cap, -1, np.int64)
    rep = np.empty(n, np.int64)
    o_packets = np.empty(n, np.int64)
    o_bytes = np.empty(n, np.int64)
    o_first = np.empty(n, np.int64)
    o_last = np.empty(n, np.int64)
    o_flags = np.empty(n, np.uint8)
    o_rule = np.empty(n, np.int32)
    g = 0
    for i in range(n):
        h = keys[i, 0] * _M1
        h ^= h >> np.uint64(29)
        for c in range(1, k):
            h = (h ^ keys[i, c]) * _M2
            h ^= h >> np.uint64(32)
        slot = h & mask
        while True:
            j = table[slot]
            if j == -1:
                table[slot] = g
                rep[g] = i
                o_packets[g] = packets[i]
                o_bytes[g] = nbytes[i]
                o_first[g] = first[i]
                o_last[g] = last[i]
                o_flags[g] = flags[i]
                o_rule[g] = rule[i]
                g += 1
                break
            r = rep[j]
            same = True
            for c in range(k):
                if keys[r, c] != keys[i, c]:
                    same = False
                    break
            if same:
                o_packets[j] += packets[i]
                o_bytes[j] += nbytes[i]
                if first[i] < o_first[j]:
                    o_first[j] = first[i]
                    o_rule[j] = rule[i]
                elif first[i] == o_first[j] and rule[i] > o_rule[j]:
                    o_rule[j] = rule[i]
                if last[i] > o_last[j]:
                    o_last[j] = last[i]
                o_flags[j] |= flags[i]
                break
            slot = (slot + np.uint64(1)) & mask
    return g, rep[:g], o_packets[:g], o_bytes[:g], o_first[:g], o_last[:g], o_flags[:g], o_rule[:g]


@njit(cache=True, nogil=True)
def _mix(keys, i, k):  # type: ignore[no-untyped-def]
    h = keys[i, 0] * _M1
    h ^= h >> np.uint64(29)
    for c in range(1, k):
        h = (h ^ keys[i, c]) * _M2
        h ^= h >> np.uint64(32)
    return h


@njit(cache=True, nogil=True)
def observe_fold(  # type: ignore[no-untyped-def]
    # observation columns
    o_packet, o_eni, o_dir, o_action, o_src_hi, o_src_lo, o_dst_hi, o_dst_lo,
    o_psrc_hi, o_psrc_lo, o_pdst_hi, o_pdst_lo, o_path, o_peer, o_ssvc, o_dsvc, o_rule,
    # packet columns
    p_ts_ns, p_proto, p_sport, p_dport, p_ver, p_len, p_flags,
    # lookups: local ENI -> global, rule -> global, service -> global; per global ENI: covered, interval
    eni_map, rule_map, svc_map, covered, interval,
    # which optional key columns the format needs; traffic filter 0 ALL, 1 ACCEPT, 2 REJECT
    use_psrc, use_pdst, use_path, use_peer, use_ssvc, use_dsvc, traffic_filter, k,
):
    """Observation rows -> folded partial records in ONE pass (no per-column temporaries).

    Builds each row's packed key exactly like ``FlowLogAggregator._add_numpy`` (key 0 = ENI << 34 |
    window start; key 1 = direction | action << 1 | protocol << 2 | srcport << 10 | dstport << 26 |
    IPv6 << 42 | (traffic-path + 1) << 43; then addresses and the optional columns), maps TCP flags
    as spec 1.4 says, and folds into a hash table. With a TrafficType filter (ACCEPT/REJECT) it also
    returns the distinct key-0 values of covered rows before the filter (ENI windows with traffic:
    the NODATA test); with ALL that list is empty and the caller uses the folded keys' key 0.
    """
    n = o_packet.shape[0]
    cap = 16
    while cap < 2 * n:
        cap <<= 1
    mask = np.uint64(cap - 1)
    table = np.full(cap, -1, np.int32)  # int32: half the cache footprint of the probe table
    acap = cap if traffic_filter != 0 else 1
    akeys = np.full(acap, np.uint64(0xFFFFFFFFFFFFFFFF), np.uint64)
    active = np.empty(n if traffic_filter != 0 else 0, np.uint64)
    n_active = 0
    keys = np.empty((n, k), np.uint64)
    o_packets = np.empty(n, np.int64)
    o_bytes = np.empty(n, np.int64)
    o_first = np.empty(n, np.int64)
    o_last = np.empty(n, np.int64)
    o_fl = np.empty(n, np.uint8)
    o_rl = np.empty(n, np.int32)
    g = 0
    row = np.empty((1, k), np.uint64)
    for i in range(n):
        e = eni_map[o_eni[i]]
        if not covered[e]:
            continue
        p = o_packet[i]
        ts_s = p_ts_ns[p] // 1_000_000_000
        itv = interval[e]
        ws = ts_s - ts_s % itv
        k0 = (np.uint64(e) << np.uint64(34)) | np.uint64(ws)
        if traffic_filter != 0:
            # Activity before the TrafficType filter (NODATA test). With ALL every covered row is kept,
            # so the caller takes the activity from the folded keys instead (one probe less per row).
            s = (k0 * _M1) & mask
            while True:
                a = akeys[s]
                if a == k0:
                    break
                if a == np.uint64(0xFFFFFFFFFFFFFFFF):
                    akeys[s] = k0
                    active[n_active] = k0
                    n_active += 1
                    break
                s = (s + np.uint64(1)) & mask
        act = o_action[i]
        if traffic_filter == 1 and act != 0:
            continue
        if traffic_filter == 2 and act != 1:
            continue
        proto = p_proto[p]
        meta = (np.uint64(o_dir[i]) | (np.uint64(act) << np.uint64(1)) | (np.uint64(proto) << np.uint64(2))
                | (np.uint64(p_sport[p]) << np.uint64(10)) | (np.uint64(p_dport[p]) << np.uint64(26)))
        if p_ver[p] == 6:
            meta |= np.uint64(1) << np.uint64(42)
        if use_path:
            meta |= np.uint64(np.int64(o_path[i]) + 1) << np.uint64(43)
        row[0, 0] = k0
        row[0, 1] = meta
        row[0, 2] = o_src_hi[i]
        row[0, 3] = o_src_lo[i]
        row[0, 4] = o_dst_hi[i]
        row[0, 5] = o_dst_lo[i]
        c = 6
        if use_psrc:
            row[0, c] = o_psrc_hi[i]
            row[0, c + 1] = o_psrc_lo[i]
            c += 2
        if use_pdst:
            row[0, c] = o_pdst_hi[i]
            row[0, c + 1] = o_pdst_lo[i]
            c += 2
        if use_peer:
            pe = o_peer[i]
            row[0, c] = np.uint64(eni_map[pe] + 1) if pe >= 0 else np.uint64(0)
            c += 1
        if use_ssvc:
            sv = o_ssvc[i]
            row[0, c] = np.uint64(svc_map[sv] + 1) if sv >= 0 and svc_map.shape[0] > 0 else np.uint64(0)
            c += 1
        if use_dsvc:
            sv = o_dsvc[i]
            row[0, c] = np.uint64(svc_map[sv] + 1) if sv >= 0 and svc_map.shape[0] > 0 else np.uint64(0)
            c += 1
        raw = p_flags[p]
        f = np.uint8(0)
        if proto == 6:
            f = raw & np.uint8(0x07)
            if (raw & np.uint8(0x12)) == np.uint8(0x12):
                f |= np.uint8(0x10)
            if (raw & np.uint8(0x03)) == np.uint8(0x03) or (raw & np.uint8(0x06)) == np.uint8(0x06):
                f |= np.uint8(0x80)
        rl = o_rule[i]
        rule = rule_map[rl] if rl >= 0 and rule_map.shape[0] > 0 else np.int32(-1)
        nb = np.int64(p_len[p])
        h = _mix(row, 0, k)
        slot = h & mask
        while True:
            j = table[slot]
            if j == -1:
                table[slot] = g
                for cc in range(k):
                    keys[g, cc] = row[0, cc]
                o_packets[g] = 1
                o_bytes[g] = nb
                o_first[g] = ts_s
                o_last[g] = ts_s
                o_fl[g] = f
                o_rl[g] = rule
                g += 1
                break
            same = True
            for cc in range(k):
                if keys[j, cc] != row[0, cc]:
                    same = False
                    break
            if same:
                o_packets[j] += 1
                o_bytes[j] += nb
                if ts_s < o_first[j]:
                    o_first[j] = ts_s
                    o_rl[j] = rule
                elif ts_s == o_first[j] and rule > o_rl[j]:
                    o_rl[j] = rule
                if ts_s > o_last[j]:
                    o_last[j] = ts_s
                o_fl[j] |= f
                break
            slot = (slot + np.uint64(1)) & mask
    return (keys[:g], o_packets[:g], o_bytes[:g], o_first[:g], o_last[:g], o_fl[:g], o_rl[:g],
            active[:n_active])

# numba kernels: numpy scalar arithmetic does not type as ``int`` and njit is an untyped decorator.
# mypy: disable-error-code="untyped-decorator,return-value,no-any-return"
"""Connection tracking (the stateful half of security groups) and the per-packet decision kernel.

Everything that can be decided per distinct flow (rule matches, NACLs) is computed before this
kernel; what remains is sequential: a packet's fate depends on the connections earlier packets
opened or closed. The kernel walks packets in time order and, for each observation point of the
packet's attribution plan, combines:

* egress:  sender security group (connection tracking, then rules) -> source subnet NACL outbound
* ingress: destination subnet NACL inbound -> receiver security group (tracking, then rules)

and stops at the first REJECT (a packet rejected at the sender never reaches the receiver).

Tracking (per ENI, key = protocol, local/remote address and port; ICMP and other protocols: the
addresses only, as AWS documents for "other protocols"):

* a packet allowed by a rule opens an entry unless the flow is UNTRACKED: TCP/UDP allowed by a
  ``0.0.0.0/0``/``::/0`` rule when the other direction has a ``/0`` rule on all ports, and the ENI is
  not of an automatically tracked type (NAT gateway, NLB, GWLB, TGW, Lambda, endpoint). ICMP and
  other protocols are always tracked;
* while an entry lives, packets of the connection in EITHER direction are allowed (responses need
  no rule);
* idle timeouts (AWS defaults): TCP established 432000 s, UDP 30 s, UDP "stream" (more than one
  request-response transaction) 180 s, other protocols 600 s; ICMP 30 s (AWS is silent; decided);
* a TCP connection closes on RST, or on the first non-FIN packet after FINs were seen from both
  sides (the last ACK). For ``closed_linger_s`` (120 s, decided) any further non-SYN packet of that
  connection is REJECT "after the connection was closed" (spec 2.3) whatever the rules say; a new
  SYN starts a new connection, judged by the rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

FIN, SYN, RST, ACK = 1, 2, 4, 16
ST_FIN_ORIG, ST_FIN_REPLY, ST_CLOSED, ST_REPLIED, ST_STREAM = 1, 2, 4, 8, 16
KEY_WIDTH = 5


@dataclass(frozen=True, slots=True)
class ConntrackTimeouts:
    """Idle timeouts in seconds (AWS's defaults; ENI-level overrides are a topology concern)."""

    tcp_established_s: int = 432000
    udp_s: int = 30
    udp_stream_s: int = 180
    icmp_s: int = 30
    other_s: int = 600
    closed_linger_s: int = 120

    def as_array(self) -> npt.NDArray[np.int64]:
        ns = 1_000_000_000
        return np.array(
            [self.tcp_established_s * ns, self.udp_s * ns, self.udp_stream_s * ns, self.icmp_s * ns,
             self.other_s * ns, self.closed_linger_s * ns],
            np.int64,
        )


# Packed slot layout (one 64-byte cache line per connection): words 0-4 the key, 5 last packet
# time (ns), 6 meta (bit 0 used, bits 8-15 state, bit 16 original direction, bit 24 last direction,
# bits 32-39 direction changes), 7 the rule that opened it.
W_LAST, W_META, W_RULE = 5, 6, 7


class ConntrackTable:
    """Open-addressing table of tracked connections, kept across batches."""

    def __init__(self, capacity: int = 4096) -> None:
        self.count = 0
        self.slots = np.zeros((capacity, 8), np.uint64)
        self.generation = 0  # bumped on every rehash: cached slot numbers become invalid

    def reserve(self, extra: int, now_ns: int, timeouts: npt.NDArray[np.int64]) -> None:
        """Make room for ``extra`` new entries (load <= 1/2), dropping expired ones when rehashing."""
        cap = self.slots.shape[0]
        if 2 * (self.count + extra) <= cap:
            return
        live = _live_mask(self.slots, now_ns, timeouts)
        old = self.slots[live]
        while cap < 2 * (old.shape[0] + extra):
            cap *= 2
        self.slots = np.zeros((cap, 8), np.uint64)
        _reinsert(self.slots, old)
        self.count = int(old.shape[0])
        self.generation += 1


@njit(cache=True, inline="always")
def _timeout(slots: npt.NDArray[np.uint64], s: int, timeouts: npt.NDArray[np.int64]) -> np.int64:
    st = (slots[s, W_META] >> np.uint64(8)) & np.uint64(0xFF)
    if st & np.uint64(ST_CLOSED):
        return timeouts[5]
    proto = (slots[s, 0] >> np.uint64(32)) & np.uint64(0xFF)
    if proto == 6:
        return timeouts[0]
    if proto == 17:
        return timeouts[2] if st & np.uint64(ST_STREAM) else timeouts[1]
    if proto == 1 or proto == 58:
        return timeouts[3]
    return timeouts[4]


@njit(cache=True)
def _live_mask(slots: npt.NDArray[np.uint64], now: int, timeouts: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    out = np.zeros(slots.shape[0], np.bool_)
    for s in range(slots.shape[0]):
        if slots[s, W_META] & np.uint64(1) and now - np.int64(slots[s, W_LAST]) <= _timeout(slots, s, timeouts):
            out[s] = True
    return out


@njit(cache=True, inline="always")
def _slot(slots: npt.NDArray[np.uint64], k0: np.uint64, k1: np.uint64, k2: np.uint64, k3: np.uint64,
          k4: np.uint64) -> tuple[int, bool]:
    """(slot, found): the key's slot, or the empty slot where it would go."""
    cap = slots.shape[0]
    h = np.uint64(0x9E3779B97F4A7C15)
    for w in (k0, k1, k2, k3, k4):
        h ^= w
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(31)
    mask = np.int64(cap - 1)
    pos = np.int64(h & np.uint64(cap - 1))
    while True:
        if not slots[pos, W_META] & np.uint64(1):
            return pos, False
        if slots[pos, 0] == k0 and slots[pos, 1] == k1 and slots[pos, 2] == k2 and slots[pos, 3] == k3 \
                and slots[pos, 4] == k4:
            return pos, True
        pos = (pos + np.int64(1)) & mask


@njit(cache=True)
def _reinsert(slots: npt.NDArray[np.uint64], old: npt.NDArray[np.uint64]) -> None:
    for i in range(old.shape[0]):
        s, _ = _slot(slots, old[i, 0], old[i, 1], old[i, 2], old[i, 3], old[i, 4])
        for w in range(8):
            slots[s, w] = old[i, w]


# Per (flow, point) input row of the kernel, one cache line: word 0 = ENI | direction << 32 |
# untracked << 33 | nacl_ok << 34 | has_sg << 35; word 1 = (sg_rule + 1) | (nacl_rule + 1) << 32
# (0 = none); word 2 = packed ports; words 3-6 local hi/lo, remote hi/lo; word 7 the cached
# conntrack slot (all ones = unknown).
NO_SLOT = np.uint64(0xFFFF_FFFF_FFFF_FFFF)


def pack_points(eni: npt.NDArray, direction: npt.NDArray, untracked: npt.NDArray, nacl_ok: npt.NDArray,
                has_sg: npt.NDArray, sg_rule: npt.NDArray, nacl_rule: npt.NDArray, ports: npt.NDArray,
                l_hi: npt.NDArray, l_lo: npt.NDArray, r_hi: npt.NDArray, r_lo: npt.NDArray) -> npt.NDArray[np.uint64]:
    out = np.empty((eni.shape[0], 8), np.uint64)
    out[:, 0] = eni.astype(np.int64).astype(np.uint64) & np.uint64(0xFFFF_FFFF) \
        | direction.astype(np.uint64) << np.uint64(32) | untracked.astype(np.uint64) << np.uint64(33) \
        | nacl_ok.astype(np.uint64) << np.uint64(34) | has_sg.astype(np.uint64) << np.uint64(35)
    out[:, 1] = (sg_rule.astype(np.int64) + 1).astype(np.uint64) \
        | (nacl_rule.astype(np.int64) + 1).astype(np.uint64) << np.uint64(32)
    out[:, 2] = ports
    out[:, 3] = l_hi
    out[:, 4] = l_lo
    out[:, 5] = r_hi
    out[:, 6] = r_lo
    out[:, 7] = NO_SLOT
    return out


EMPTY_POINT = pack_points(*(np.array([v]) for v in (-1, 0, False, True, False, -1, -1, 0, 0, 0, 0, 0)))[0]


@njit(cache=True)
def decide_packets(  # type: ignore[no-untyped-def]
    ts_ns, tcp_flags, proto, fid, points,
    default_deny, no_sg, tracked_rule, closed_rule,
    slots, timeouts, start, limit,
    out_pkt, out_slot, out_act, out_rule, out_sg, out_nacl, rows,
):
    """Decide packets ``start``.. in order, appending observation rows at ``rows``.

    Stops early (returns the next packet to do) when the conntrack table reaches ``limit`` entries,
    so the caller can grow it and resume. Returns (next_packet, rows, new_entries).
    """
    n = ts_ns.shape[0]
    created = 0
    p = start
    while p < n:
        if created >= limit:
            break
        f = fid[p]
        if f < 0:
            p += 1
            continue
        now = ts_ns[p]
        flags = tcp_flags[p]
        pr = proto[p]
        for j in range(4):
            q = f * 4 + j
            w0 = points[q, 0]
            e = np.int64(w0 & np.uint64(0xFFFF_FFFF))
            if e == 0xFFFF_FFFF:
                break
            d = np.uint8((w0 >> np.uint64(32)) & np.uint64(1))
            untracked = (w0 >> np.uint64(33)) & np.uint64(1)
            nacl_ok = (w0 >> np.uint64(34)) & np.uint64(1)
            has_sg = (w0 >> np.uint64(35)) & np.uint64(1)
            w1 = points[q, 1]
            sg_static = np.int32(np.int64(w1 & np.uint64(0xFFFF_FFFF)) - 1)
            nacl_r = np.int32(np.int64(w1 >> np.uint64(32)) - 1)
            ed = e * 2 + d
            nacl_pass = nacl_r < 0 or nacl_ok != 0
            sg_ok = True
            sg_r = np.int32(-1)
            if d == 0 and not nacl_pass:
                sg_r = np.int32(-1)  # ingress: the NACL drops it before the security group sees it
            elif has_sg == 0:
                sg_r = no_sg[ed]
            else:
                k0 = (np.uint64(e) << np.uint64(40)) | (np.uint64(pr) << np.uint64(32)) | points[q, 2]
                k1, k2, k3, k4 = points[q, 3], points[q, 4], points[q, 5], points[q, 6]
                cached = points[q, 7]
                found = False
                s = np.int64(0)
                if cached != NO_SLOT:
                    s = np.int64(cached)
                    if slots[s, W_META] & np.uint64(1) and slots[s, 0] == k0 and slots[s, 1] == k1 \
                            and slots[s, 2] == k2 and slots[s, 3] == k3 and slots[s, 4] == k4:
                        found = True
                if not found:
                    s, found = _slot(slots, k0, k1, k2, k3, k4)
                    if found:
                        points[q, 7] = np.uint64(s)
                decided = False
                if found and now - np.int64(slots[s, W_LAST]) <= _timeout(slots, s, timeouts):
                    meta = slots[s, W_META]
                    st = (meta >> np.uint64(8)) & np.uint64(0xFF)
                    orig = np.uint8((meta >> np.uint64(16)) & np.uint64(1))
                    if st & np.uint64(ST_CLOSED):
                        if not (pr == 6 and (flags & SYN) and not (flags & ACK)):
                            sg_ok = False
                            sg_r = closed_rule[ed]
                            decided = True
                    else:
                        sg_r = np.int32(slots[s, W_RULE]) if d == orig else tracked_rule[ed]
                        decided = True
                        slots[s, W_LAST] = np.uint64(now)
                        last_dir = np.uint8((meta >> np.uint64(24)) & np.uint64(1))
                        changes = (meta >> np.uint64(32)) & np.uint64(0xFF)
                        if d != last_dir:
                            if changes < 255:
                                changes += np.uint64(1)
                            last_dir = d
                        if d != orig:
                            st |= np.uint64(ST_REPLIED)
                        if pr == 17 and changes >= 3:
                            st |= np.uint64(ST_STREAM)
                        if pr == 6:
                            if flags & RST:
                                st |= np.uint64(ST_CLOSED)
                            elif flags & FIN:
                                st |= np.uint64(ST_FIN_ORIG) if d == orig else np.uint64(ST_FIN_REPLY)
                            elif (st & np.uint64(ST_FIN_ORIG)) and (st & np.uint64(ST_FIN_REPLY)):
                                st |= np.uint64(ST_CLOSED)  # the last ACK after both FINs
                        slots[s, W_META] = np.uint64(1) | (st << np.uint64(8)) | (np.uint64(orig) << np.uint64(16)) \
                            | (np.uint64(last_dir) << np.uint64(24)) | (changes << np.uint64(32))
                if not decided:
                    if sg_static >= 0:
                        sg_r = sg_static
                        if untracked == 0:
                            if not found:
                                created += 1
                            slots[s, 0] = k0
                            slots[s, 1] = k1
                            slots[s, 2] = k2
                            slots[s, 3] = k3
                            slots[s, 4] = k4
                            slots[s, W_LAST] = np.uint64(now)
                            st0 = np.uint64(ST_CLOSED) if (pr == 6 and (flags & RST)) else np.uint64(0)
                            slots[s, W_META] = np.uint64(1) | (st0 << np.uint64(8)) | (np.uint64(d) << np.uint64(16)) \
                                | (np.uint64(d) << np.uint64(24))
                            slots[s, W_RULE] = np.uint64(sg_static)
                            points[q, 7] = np.uint64(s)
                    else:
                        sg_ok = False
                        sg_r = default_deny[ed]
            if d == 0:
                ok = nacl_pass and sg_ok
                decisive = nacl_r if not nacl_pass else sg_r
            else:
                ok = sg_ok and nacl_pass
                if not sg_ok:
                    decisive = sg_r
                    nacl_r = np.int32(-1)  # never reached the subnet boundary
                elif not nacl_pass:
                    decisive = nacl_r
                else:
                    decisive = sg_r
            if ok and has_sg == 0 and nacl_r >= 0:
                decisive = nacl_r
            out_pkt[rows] = p
            out_slot[rows] = q
            out_act[rows] = 0 if ok else 1
            out_rule[rows] = decisive
            out_sg[rows] = sg_r
            out_nacl[rows] = nacl_r
            rows += 1
            if not ok:
                break
        p += 1
    return p, rows, created

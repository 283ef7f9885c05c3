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


class ConntrackTable:
    """Open-addressing table of tracked connections, kept across batches."""

    def __init__(self, capacity: int = 4096) -> None:
        self.count = 0
        self._alloc(capacity)

    def _alloc(self, cap: int) -> None:
        self.keys = np.zeros((cap, KEY_WIDTH), np.uint64)
        self.used = np.zeros(cap, np.uint8)
        self.last_ns = np.zeros(cap, np.int64)
        self.state = np.zeros(cap, np.uint8)
        self.orig_dir = np.zeros(cap, np.uint8)
        self.last_dir = np.zeros(cap, np.uint8)
        self.changes = np.zeros(cap, np.uint8)
        self.rule = np.zeros(cap, np.int32)

    def arrays(self) -> tuple:
        return (self.keys, self.used, self.last_ns, self.state, self.orig_dir, self.last_dir, self.changes,
                self.rule)

    def reserve(self, extra: int, now_ns: int, timeouts: npt.NDArray[np.int64]) -> None:
        """Make room for ``extra`` new entries (load <= 1/2), dropping expired ones when rehashing."""
        cap = self.keys.shape[0]
        if 2 * (self.count + extra) <= cap:
            return
        old = self.arrays()
        live = _live_mask(old[0], old[1], old[2], old[3], now_ns, timeouts)
        n_live = int(live.sum())
        while cap < 2 * (n_live + extra):
            cap *= 2
        idx = np.nonzero(live)[0]
        self._alloc(cap)
        _reinsert(self.keys, self.used, self.last_ns, self.state, self.orig_dir, self.last_dir, self.changes,
                  self.rule, old[0][idx], old[2][idx], old[3][idx], old[4][idx], old[5][idx], old[6][idx],
                  old[7][idx])
        self.count = n_live


@njit(cache=True, inline="always")
def _timeout(keys: npt.NDArray[np.uint64], state: npt.NDArray[np.uint8], s: int,
             timeouts: npt.NDArray[np.int64]) -> np.int64:
    st = state[s]
    if st & ST_CLOSED:
        return timeouts[5]
    proto = (keys[s, 0] >> np.uint64(32)) & np.uint64(0xFF)
    if proto == 6:
        return timeouts[0]
    if proto == 17:
        return timeouts[2] if st & ST_STREAM else timeouts[1]
    if proto == 1 or proto == 58:
        return timeouts[3]
    return timeouts[4]


@njit(cache=True)
def _live_mask(keys: npt.NDArray[np.uint64], used: npt.NDArray[np.uint8], last_ns: npt.NDArray[np.int64],
               state: npt.NDArray[np.uint8], now: int, timeouts: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    out = np.zeros(used.shape[0], np.bool_)
    for s in range(used.shape[0]):
        if used[s] and now - last_ns[s] <= _timeout(keys, state, s, timeouts):
            out[s] = True
    return out


@njit(cache=True, inline="always")
def _slot(keys: npt.NDArray[np.uint64], used: npt.NDArray[np.uint8], k0: np.uint64, k1: np.uint64,
          k2: np.uint64, k3: np.uint64, k4: np.uint64) -> tuple[int, bool]:
    """(slot, found): the key's slot, or the empty slot where it would go."""
    cap = keys.shape[0]
    h = np.uint64(0x9E3779B97F4A7C15)
    for w in (k0, k1, k2, k3, k4):
        h ^= w
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(31)
    mask = np.int64(cap - 1)
    pos = np.int64(h & np.uint64(cap - 1))
    while True:
        if not used[pos]:
            return pos, False
        if keys[pos, 0] == k0 and keys[pos, 1] == k1 and keys[pos, 2] == k2 and keys[pos, 3] == k3 \
                and keys[pos, 4] == k4:
            return pos, True
        pos = (pos + np.int64(1)) & mask


@njit(cache=True)
def _reinsert(keys, used, last_ns, state, orig_dir, last_dir, changes, rule,  # type: ignore[no-untyped-def]
              okeys, olast, ostate, oorig, olastdir, ochanges, orule):
    for i in range(okeys.shape[0]):
        s, _ = _slot(keys, used, okeys[i, 0], okeys[i, 1], okeys[i, 2], okeys[i, 3], okeys[i, 4])
        for w in range(KEY_WIDTH):
            keys[s, w] = okeys[i, w]
        used[s] = 1
        last_ns[s] = olast[i]
        state[s] = ostate[i]
        orig_dir[s] = oorig[i]
        last_dir[s] = olastdir[i]
        changes[s] = ochanges[i]
        rule[s] = orule[i]


@njit(cache=True)
def decide_packets(  # type: ignore[no-untyped-def]
    ts_ns, tcp_flags, proto, inv,
    # per (flow*4 + j); obs_eni < 0 ends the plan
    obs_eni, obs_dir, sg_slot, sg_rule, sg_untracked, nacl_rule, nacl_ok,
    l_hi, l_lo, r_hi, r_lo, ports,
    # per (eni*2 + dir)
    default_deny, no_sg, tracked_rule, closed_rule,
    # conntrack state
    keys, used, last_ns, state, orig_dir, last_dir, changes, rule, timeouts,
):
    """Returns (row_packet, row_slot, action, rule, sg_rule_used, nacl_rule_used, new_entries)."""
    n = ts_ns.shape[0]
    out_pkt = np.empty(4 * n, np.int64)
    out_slot = np.empty(4 * n, np.int64)
    out_act = np.empty(4 * n, np.uint8)
    out_rule = np.empty(4 * n, np.int32)
    out_sg = np.empty(4 * n, np.int32)
    out_nacl = np.empty(4 * n, np.int32)
    rows = 0
    created = 0
    for p in range(n):
        f = inv[p]
        now = ts_ns[p]
        flags = tcp_flags[p]
        pr = proto[p]
        for j in range(4):
            q = f * 4 + j
            e = obs_eni[q]
            if e < 0:
                break
            d = obs_dir[q]
            ed = e * 2 + d
            nacl_r = nacl_rule[q]
            nacl_pass = nacl_r < 0 or nacl_ok[q]
            sg_ok = True
            sg_r = np.int32(-1)
            if d == 0 and not nacl_pass:
                sg_r = np.int32(-1)  # ingress: the NACL drops it before the security group sees it
            elif sg_slot[q] < 0:
                sg_r = no_sg[ed]
            else:
                k0 = (np.uint64(e) << np.uint64(40)) | (np.uint64(pr) << np.uint64(32)) | np.uint64(ports[q])
                s, found = _slot(keys, used, k0, l_hi[q], l_lo[q], r_hi[q], r_lo[q])
                decided = False
                if found and now - last_ns[s] <= _timeout(keys, state, s, timeouts):
                    st = state[s]
                    if st & ST_CLOSED:
                        if not (pr == 6 and (flags & SYN) and not (flags & ACK)):
                            sg_ok = False
                            sg_r = closed_rule[ed]
                            decided = True
                    else:
                        sg_r = rule[s] if d == orig_dir[s] else tracked_rule[ed]
                        decided = True
                        last_ns[s] = now
                        if d != last_dir[s]:
                            if changes[s] < 255:
                                changes[s] += 1
                            last_dir[s] = d
                        if d != orig_dir[s]:
                            st |= ST_REPLIED
                        if pr == 17 and changes[s] >= 3:
                            st |= ST_STREAM
                        if pr == 6:
                            if flags & RST:
                                st |= ST_CLOSED
                            elif flags & FIN:
                                st |= ST_FIN_ORIG if d == orig_dir[s] else ST_FIN_REPLY
                            elif (st & ST_FIN_ORIG) and (st & ST_FIN_REPLY):
                                st |= ST_CLOSED  # the last ACK after both FINs
                        state[s] = st
                if not decided:
                    r = sg_rule[q]
                    if r >= 0:
                        sg_r = r
                        if not sg_untracked[q]:
                            if not found:
                                created += 1
                            keys[s, 0] = k0
                            keys[s, 1] = l_hi[q]
                            keys[s, 2] = l_lo[q]
                            keys[s, 3] = r_hi[q]
                            keys[s, 4] = r_lo[q]
                            used[s] = 1
                            last_ns[s] = now
                            orig_dir[s] = d
                            last_dir[s] = d
                            changes[s] = 0
                            rule[s] = r
                            state[s] = ST_CLOSED if (pr == 6 and (flags & RST)) else 0
                    else:
                        sg_ok = False
                        sg_r = default_deny[ed]
            if d == 0:
                ok = nacl_pass and sg_ok
                if not nacl_pass:
                    decisive = nacl_r
                else:
                    decisive = sg_r
            else:
                ok = sg_ok and nacl_pass
                if not sg_ok:
                    decisive = sg_r
                    nacl_r = np.int32(-1)  # never reached the subnet boundary
                elif not nacl_pass:
                    decisive = nacl_r
                else:
                    decisive = sg_r
            if ok and sg_slot[q] < 0 and nacl_r >= 0:
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
    return (out_pkt[:rows], out_slot[:rows], out_act[:rows], out_rule[:rows], out_sg[:rows], out_nacl[:rows],
            created)

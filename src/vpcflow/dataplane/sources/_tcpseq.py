"""Plausible TCP sequence and acknowledgment numbers for the capture writers.

PacketBatches carry no sequence numbers (flow logs never use them), but a written capture should look
like real TCP to tcpdump and Wireshark: each direction of a connection starts at an initial sequence
number derived from its addresses and ports (deterministic), advances by every segment's payload plus one
for SYN and FIN, and acknowledges everything the other side sent earlier in time order. Computed per batch
with columnar group-bys; the per-connection totals carry over to the next batch in a dict (one entry per
open connection, dropped at RST or at the second FIN).
"""

from __future__ import annotations

import numpy as np

from vpcflow.dataplane.packets import PacketBatch


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a well-mixed 64-bit hash of each element."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        out: np.ndarray = z ^ (z >> np.uint64(31))
    return out


SYN, FIN, RST, ACK = 2, 1, 4, 16


def tcp_header_lengths(batch: PacketBatch) -> np.ndarray:
    """The TCP header length the writer emits per row (its option rules), 0 for non-TCP rows."""
    ip = np.where(batch.ip_version == 6, 40, 20) + np.where((batch.ip_version == 6) & (batch.fragment > 0), 8, 0)
    l4 = batch.ip_len.astype(np.int64) - ip
    f = batch.tcp_flags
    syn, ack, rst = (f & SYN) != 0, (f & ACK) != 0, (f & RST) != 0
    hl = np.where(
        syn & (l4 >= 40), 40, np.where(syn & (l4 >= 24), 24, np.where(ack & ~rst & ~syn & (l4 >= 32), 32, 20))
    )
    out: np.ndarray = np.where((batch.protocol == 6) & (batch.fragment != 2), hl, 0)
    return out


def _group_exclusive_cumsum(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """For rows sorted by ``group``: the sum of ``values`` of the earlier rows of the same group."""
    cs = np.cumsum(values) - values
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    first = np.repeat(cs[starts], np.diff(np.r_[starts, group.shape[0]]))
    out: np.ndarray = cs - first
    return out


def _advance(b: PacketBatch) -> tuple[np.ndarray, np.ndarray]:
    """(TCP flags, sequence space used) per row: the payload, plus one for SYN and one for FIN."""
    hl = tcp_header_lengths(b)
    ip = np.where(b.ip_version == 6, 40, 20) + np.where((b.ip_version == 6) & (b.fragment > 0), 8, 0)
    payload = np.maximum(b.ip_len.astype(np.int64) - ip - hl, 0)
    f = b.tcp_flags.astype(np.int64)
    adv = payload + ((f & SYN) != 0) + ((f & FIN) != 0)
    return f, adv


def _connections(b: PacketBatch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row sent by side a, sorted connection hashes, connection index per row); side a of a connection
    is its smaller (address, port) endpoint."""
    s_first = (b.src_hi < b.dst_hi) | (
        (b.src_hi == b.dst_hi) & ((b.src_lo < b.dst_lo) | ((b.src_lo == b.dst_lo) & (b.src_port <= b.dst_port)))
    )
    a_hi = np.where(s_first, b.src_hi, b.dst_hi)
    a_lo = np.where(s_first, b.src_lo, b.dst_lo)
    a_port = np.where(s_first, b.src_port, b.dst_port).astype(np.uint64)
    b_hi = np.where(s_first, b.dst_hi, b.src_hi)
    b_lo = np.where(s_first, b.dst_lo, b.src_lo)
    b_port = np.where(s_first, b.dst_port, b.src_port).astype(np.uint64)
    # a 64-bit hash names the connection (sorting uint64 is far faster than sorting structured rows;
    # a collision would only merge two connections' sequence spaces, a cosmetic effect)
    h = _mix(a_hi) ^ _mix(a_lo + np.uint64(1)) ^ _mix(b_hi + np.uint64(2)) ^ _mix(b_lo + np.uint64(3))
    h ^= _mix((a_port << np.uint64(16)) | b_port | np.uint64(1 << 40))
    uniq, conn = np.unique(h, return_inverse=True)
    return s_first, uniq, conn.ravel()


def _sent_before(conn: np.ndarray, side_b: np.ndarray, adv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sent by side a, sent by side b) earlier in this batch on each row's connection."""
    order = np.argsort(conn, kind="stable")  # by connection, time order kept inside
    c_sorted = conn[order]
    sent_a = np.empty(conn.shape[0], np.int64)
    sent_b = np.empty(conn.shape[0], np.int64)
    sent_a[order] = _group_exclusive_cumsum(np.where(side_b, 0, adv)[order], c_sorted)
    sent_b[order] = _group_exclusive_cumsum(np.where(side_b, adv, 0)[order], c_sorted)
    return sent_a, sent_b


class TcpSequencer:
    def __init__(self) -> None:
        # connection hash -> [sent by side a, sent by side b, FINs seen]
        self.state: dict[int, list[int]] = {}

    def numbers(self, batch: PacketBatch) -> tuple[np.ndarray, np.ndarray]:
        """(sequence, acknowledgment) per row as int64 in 0..2^32-1; zeros for non-TCP rows."""
        n = len(batch)
        seq = np.zeros(n, np.int64)
        ack = np.zeros(n, np.int64)
        rows = np.flatnonzero((batch.protocol == 6) & (batch.fragment != 2))
        if rows.size == 0:
            return seq, ack
        b = batch.take(rows)
        f, adv = _advance(b)
        s_first, uniq, conn = _connections(b)
        side_b = ~s_first
        keys = uniq.tolist()
        base = self._carried(keys)
        # deterministic initial sequence numbers per connection side
        isn = np.stack([(uniq >> np.uint64(32)), uniq & np.uint64(0xFFFFFFFF)], axis=1).astype(np.int64)
        sent_a, sent_b = _sent_before(conn, side_b, adv)
        sent_a += base[conn, 0]
        sent_b += base[conn, 1]
        own = np.where(side_b, isn[conn, 1] + sent_b, isn[conn, 0] + sent_a)
        other = np.where(side_b, isn[conn, 0] + sent_a, isn[conn, 1] + sent_b)
        seq[rows] = own & 0xFFFFFFFF
        ack[rows] = np.where((f & ACK) != 0, other & 0xFFFFFFFF, 0)
        self._carry(keys, base, conn, side_b, adv, f)
        return seq, ack

    def _carried(self, keys: list[int]) -> np.ndarray:
        """Totals sent by each side of the open connections among ``keys`` (one dict lookup per
        connection, not per packet); zeros for new ones."""
        base = np.zeros((len(keys), 2), np.int64)
        for k, kb in enumerate(keys):
            st = self.state.get(kb)
            if st is not None:
                base[k, 0], base[k, 1] = st[0], st[1]
        return base

    def _carry(
        self, keys: list[int], base: np.ndarray, conn: np.ndarray, side_b: np.ndarray, adv: np.ndarray, f: np.ndarray
    ) -> None:
        """Carry the totals to the next batch; forget connections that ended (RST, or a FIN each way)."""
        m = len(keys)
        tot_a = base[:, 0] + np.bincount(conn, weights=np.where(side_b, 0, adv), minlength=m).astype(np.int64)
        tot_b = base[:, 1] + np.bincount(conn, weights=np.where(side_b, adv, 0), minlength=m).astype(np.int64)
        fins = np.bincount(conn, weights=(f & FIN) != 0, minlength=m).astype(np.int64)
        rsts = np.bincount(conn, weights=(f & RST) != 0, minlength=m).astype(np.int64)
        for k, kb in enumerate(keys):
            prev = self.state.get(kb)
            fin_total = int(fins[k]) + (prev[2] if prev is not None else 0)
            if rsts[k] or fin_total >= 2:
                self.state.pop(kb, None)
            else:
                self.state[kb] = [int(tot_a[k]), int(tot_b[k]), fin_total]

"""Connection tracking (the stateful half of security groups): timeouts, and the native tracker.

Everything that can be decided per distinct flow (rule matches, NACLs) is computed before the
sequential pass; what remains depends on the connections earlier packets opened or closed. That
pass runs in the native core (``native/src/policy/conntrack.rs``, ``_native.ConnectionTracker``):
for each observation point of a packet it combines

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
* a TCP connection closes on RST, or once FINs were seen from both sides and a final ACK follows.
  The final ACKs of a close belong to the connection: each side may still send its own pure ACK
  (in a simultaneous close both FINs cross and both final ACKs follow). For ``closed_linger_s``
  (120 s, decided) any further non-SYN packet of that connection is REJECT "after the connection
  was closed" (spec 2.3) whatever the rules say; a new SYN starts a new connection, judged by the
  rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vpcflow import _native

FIN, SYN, RST, ACK = 1, 2, 4, 16


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


def connection_tracker(timeouts: ConntrackTimeouts) -> _native.ConnectionTracker:
    """A new, empty table of tracked connections (kept across batches by the engine)."""
    return _native.ConnectionTracker(timeouts.as_array())

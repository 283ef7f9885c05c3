"""Write ``captures/bastion.pcap``, the capture of ``pcap-run.yaml`` (deterministic; re-run to rebuild).

Ten minutes on the bastion host of ``examples/topology/three-tier.yaml`` (eni-0d141998882628620,
10.0.0.20, public IP 3.91.5.17), as tcpdump on the instance would see it:

* an administrator's SSH session from the office network (198.51.100.0/24): allowed by bastion-sg;
* a ping from the office: allowed (bastion-sg allows echo requests from the office);
* an SSH brute force from 203.0.113.66 on the internet: the public NACL lets port 22 in only from the
  office, so every attempt is REJECTed;
* the bastion's own DNS lookups to the Amazon DNS server (10.0.0.2) and instance-metadata requests:
  not captured by flow logs (spec 2.7).

    python examples/run/make_bastion_capture.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vpcflow.dataplane.packets import PacketBatch, ip_to_pair
from vpcflow.dataplane.sources.pcap_writer import write_pcap

T0 = 1_795_694_400  # 2026-11-26T12:00:00Z, the demo scenario's start
BASTION = "10.0.0.20"


def main() -> None:
    rng = np.random.default_rng(2026)
    rows: list[tuple[float, str, str, int, int, int, int, int, int]] = []
    # SSH session from the office: handshake, interactive traffic for 7 minutes, teardown.
    office, port = "198.51.100.23", 51514
    t = T0 + 12.0
    rows += [(t, office, BASTION, 6, port, 22, 60, 0x02, -1), (t + 0.03, BASTION, office, 6, 22, port, 60, 0x12, -1),
             (t + 0.06, office, BASTION, 6, port, 22, 52, 0x10, -1)]
    for k in range(400):
        t += float(rng.exponential(1.0))
        n = int(rng.integers(52, 400))
        rows += [(t, office, BASTION, 6, port, 22, n, 0x18, -1),
                 (t + 0.03, BASTION, office, 6, 22, port, int(rng.integers(52, 1400)), 0x18, -1)]
        if k == 399:
            rows += [(t + 0.1, office, BASTION, 6, port, 22, 52, 0x11, -1),
                     (t + 0.13, BASTION, office, 6, 22, port, 52, 0x11, -1),
                     (t + 0.16, office, BASTION, 6, port, 22, 52, 0x10, -1)]
    # Ping from the office: 4 echo requests and replies.
    for k in range(4):
        rows += [(T0 + 30 + k, office, BASTION, 1, 0, 0, 84, 0, 8),
                 (T0 + 30.001 + k, BASTION, office, 1, 0, 0, 84, 0, 0)]
    # SSH brute force: a new connection attempt every 2 s from one internet host, each SYN dropped.
    for k in range(200):
        rows.append((T0 + 100 + 2 * k, "203.0.113.66", BASTION, 6, 40000 + k, 22, 60, 0x02, -1))
    # DNS lookups and metadata requests (not captured).
    for k in range(20):
        rows += [(T0 + 5 + 25 * k, BASTION, "10.0.0.2", 17, 33000 + k, 53, 70, 0, -1),
                 (T0 + 5.001 + 25 * k, "10.0.0.2", BASTION, 17, 53, 33000 + k, 140, 0, -1),
                 (T0 + 7 + 25 * k, BASTION, "169.254.169.254", 6, 45000 + k, 80, 60, 0x02, -1)]
    rows.sort()
    src = [ip_to_pair(r[1]) for r in rows]
    dst = [ip_to_pair(r[2]) for r in rows]
    n = len(rows)
    batch = PacketBatch(
        ts_ns=np.array([round(r[0] * 1e9) for r in rows], np.int64), ip_version=np.full(n, 4, np.uint8),
        src_hi=np.array([s[0] for s in src], np.uint64), src_lo=np.array([s[1] for s in src], np.uint64),
        dst_hi=np.array([d[0] for d in dst], np.uint64), dst_lo=np.array([d[1] for d in dst], np.uint64),
        protocol=np.array([r[3] for r in rows], np.uint8), src_port=np.array([r[4] for r in rows], np.uint16),
        dst_port=np.array([r[5] for r in rows], np.uint16), icmp_type=np.array([r[8] for r in rows], np.int16),
        icmp_code=np.array([0 if r[8] >= 0 else -1 for r in rows], np.int16),
        ip_len=np.array([r[6] for r in rows], np.uint32), tcp_flags=np.array([r[7] for r in rows], np.uint8),
        fragment=np.zeros(n, np.uint8), iface=np.full(n, -1, np.int16),
    )
    out = Path(__file__).parent / "captures" / "bastion.pcap"
    write_pcap(out, batch, snaplen=128)
    print(f"wrote {out} ({n} packets)")


if __name__ == "__main__":
    main()

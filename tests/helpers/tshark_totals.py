"""tshark as the independent judge of captures: per-5-tuple packets and IP bytes from its own dissectors."""

from __future__ import annotations

import subprocess
from pathlib import Path


def tshark_totals(path: Path) -> dict[tuple[str, str, int, int, int], tuple[int, int]]:
    """Per-5-tuple packets and IP bytes as tshark's own dissectors see them."""
    fields = [
        "ip.src",
        "ip.dst",
        "ipv6.src",
        "ipv6.dst",
        "ip.proto",
        "ipv6.nxt",
        "tcp.srcport",
        "tcp.dstport",
        "udp.srcport",
        "udp.dstport",
        "ip.len",
        "ipv6.plen",
    ]
    cmd = [
        "tshark",
        "-n",
        "-r",
        str(path),
        "-o",
        "ip.defragment:FALSE",
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-E",
        "occurrence=f",
    ]
    for f in fields:
        cmd += ["-e", f]
    text = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120).stdout
    out: dict[tuple[str, str, int, int, int], tuple[int, int]] = {}
    for line in text.splitlines():
        v = line.split("|")
        if v[0]:
            src, dst, proto, length = v[0], v[1], int(v[4]), int(v[10])
        elif v[2]:
            src, dst, proto, length = v[2], v[3], int(v[5]), 40 + int(v[11])
        else:
            continue
        sport = int(v[6] or v[8] or 0)
        dport = int(v[7] or v[9] or 0)
        key = (src, dst, proto, sport, dport)
        p, b = out.get(key, (0, 0))
        out[key] = (p + 1, b + length)
    return out

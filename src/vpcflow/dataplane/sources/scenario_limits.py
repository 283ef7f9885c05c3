"""The ranges a scenario's numbers must fall in, checked before the generator allocates anything.

The generator draws each workload's flows for a time slice at once and expands them into packet
arrays, so a rate of 1e8 flows per second or a response of 1e12 bytes asks numpy for gigabytes (or
terabytes) before a single packet exists. These maxima are vpcflow's (AWS has no scenarios); they are
far above what the bundled scenarios use and are documented in docs/scenarios.md:

* ``seed``: an integer from 0 to 2**63 - 1;
* times: a scenario starts at or after 1970-01-01T00:00:00Z and ends before 2100-01-01T00:00:00Z;
  a duration (scenario, workload, or a ``duration_s`` override) is at most :data:`MAX_DURATION_S`;
* per workload: ``rate`` at most :data:`MAX_RATE` flows per second; ``request_bytes`` and
  ``response_bytes`` at most :data:`MAX_MESSAGE_BYTES`; ``exchanges`` and ``requests`` at most
  :data:`MAX_PER_FLOW`; ``rtt_ms``, ``think_ms`` and ``idle_ms`` at most :data:`MAX_MS`;
* together: at most :data:`MAX_PACKETS_PER_S` packets per second of traffic, estimated from the top
  of every range (and the diurnal peak), so one generation slice stays within a few hundred MB.

Every number must be finite: NaN and infinity are refused wherever a number is read.
"""

from __future__ import annotations

from datetime import UTC, datetime

MAX_SEED = 2**63 - 1
MAX_DURATION_S = 366 * 86400.0
MAX_RATE = 100_000.0
MAX_MESSAGE_BYTES = 100_000_000.0
MAX_PER_FLOW = 10_000.0
MAX_MS = 3_600_000.0
MAX_PACKETS_PER_S = 2_000_000.0
EARLIEST_START = datetime(1970, 1, 1, tzinfo=UTC)
END_OF_TIME = datetime(2100, 1, 1, tzinfo=UTC)
#: MSS of an IPv6 segment (the smaller one): bytes per data segment in the estimate.
_MIN_MSS = 1428


def packets_per_flow(request_hi: float, response_hi: float, exchanges_hi: float, requests_hi: float) -> float:
    """An upper estimate of one flow's packets: every exchange's segments (both ways, with an ACK for
    every second segment), every UDP/ICMP request and reply, plus handshake and teardown."""
    segments = (request_hi + response_hi) / _MIN_MSS + 2
    return exchanges_hi * requests_hi * segments * 1.5 + 8


def packet_rate_problem(rate: float, per_flow: float, amplitude: float) -> str | None:
    """Why a workload would generate too many packets per second, or None."""
    peak = rate * (1 + amplitude) * per_flow
    if peak <= MAX_PACKETS_PER_S:
        return None
    return (f"would generate about {peak:,.0f} packets per second at its peak (rate x packets per flow; "
            f"the limit is {MAX_PACKETS_PER_S:,.0f}): lower the rate or the sizes")

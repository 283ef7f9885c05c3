"""Named reports over the ``flows`` view (``query.selection``: the chosen flow logs, overlapping
coverage counted once, each record's direction known).

The first group mirrors the named queries the VPC console's Athena integration creates (spec 8.1:
VpcFlowLogsAcceptedTraffic ... VpcFlowLogsTrafficToDstAddr); the SQL here is vpcflow's own. The second
group is what AWS lacks: log-status health per flow log and ENI, port-scan, distributed-scan and
brute-force candidates (docs/reports.md explains the detection logic and measures it). (Which rule
rejected each flow comes from the policy engine's side channel, see ``query.decisions``.)

A report names the fields it needs; running it over logs whose formats lack one gives a clear error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vpcflow.core.errors import ConfigError
from vpcflow.query.selection import FLOWS, SELECTED

ADMIN_PORTS = (22, 23, 3389, 5985, 5986, 5900)
#: What a record-listing report shows (those present): enough to read a flow, narrow enough to fit a page.
RECORD_COLUMNS = ("start", "srcaddr", "srcport", "dstaddr", "dstport", "protocol", "action", "packets", "bytes",
                  "direction", "interface_id", "flow_log_id", "end")


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    description: str
    sql: str  # may contain {limit}, {addr}, {min_ports}, {min_attempts}, {ok}, {records}
    needs: tuple[str, ...]  # underscored columns that must be present (not all-NULL is not required)
    params: tuple[str, ...] = field(default_factory=tuple)  # parameters the user must give (addr)
    aws_name: str = ""  # the console's named query it mirrors
    decisions: bool = False  # reads the side channel (vpc_flow_log_rejections), not only the AWS records


def _r(name: str, aws: str, title: str, desc: str, sql: str, needs: tuple[str, ...], *params: str) -> Report:
    return Report(name=name, title=title, description=desc, sql=sql.strip(), needs=needs, params=params, aws_name=aws)


_OK = "{ok}"
_PORTS = ", ".join(str(p) for p in ADMIN_PORTS)
#: Inbound TCP/UDP flows, each marked answered when the interface sent the reverse 5-tuple (accepted),
#: and a probe when it was rejected or unanswered. A scanner's probes are rejected or never answered;
#: the replies a client receives on its many ephemeral ports answer its own requests.
_PROBES = (
    f"WITH inbound AS (SELECT * FROM {FLOWS} WHERE {{ok}} AND direction = 'ingress' AND protocol IN (6, 17)), "
    f"outbound AS (SELECT DISTINCT interface_id, srcaddr, dstaddr, srcport, dstport, protocol FROM {FLOWS} "
    "WHERE {ok} AND direction = 'egress' AND action = 'ACCEPT'), "
    "probes AS (SELECT i.*, o.interface_id IS NOT NULL AS answered, "
    "(i.action = 'REJECT' OR o.interface_id IS NULL) AS probe FROM inbound i LEFT JOIN outbound o ON "
    "o.interface_id = i.interface_id AND o.srcaddr = i.dstaddr AND o.dstaddr = i.srcaddr AND "
    "o.srcport = i.dstport AND o.dstport = i.srcport AND o.protocol = i.protocol) "
)

REPORTS: dict[str, Report] = {
    r.name: r
    for r in (
        _r("accepted", "VpcFlowLogsAcceptedTraffic", "Accepted traffic", "Records whose action is ACCEPT.",
           "SELECT {records} FROM flows WHERE action = 'ACCEPT' ORDER BY start LIMIT {limit}", ("action",)),
        _r("admin-port", "VpcFlowLogsAdminPortTraffic", "Traffic to administrative ports",
           f"Records to ports {_PORTS} (SSH, Telnet, RDP, WinRM, VNC).",
           f"SELECT dstport, action, srcaddr, dstaddr, SUM(packets) AS packets, SUM(bytes) AS bytes, "
           f"COUNT(*) AS records FROM flows WHERE {_OK} AND dstport IN ({_PORTS}) "
           "GROUP BY ALL ORDER BY records DESC, bytes DESC LIMIT {limit}", ("dstport", "action")),
        _r("ipv4", "VpcFlowLogsIPv4Traffic", "IPv4 traffic", "Records of IPv4 flows.",
           f"SELECT {{records}} FROM flows WHERE {_OK} AND strpos(srcaddr, ':') = 0 ORDER BY start LIMIT {{limit}}",
           ("srcaddr",)),
        _r("ipv6", "VpcFlowLogsIPv6Traffic", "IPv6 traffic", "Records of IPv6 flows.",
           f"SELECT {{records}} FROM flows WHERE {_OK} AND strpos(srcaddr, ':') > 0 ORDER BY start LIMIT {{limit}}",
           ("srcaddr",)),
        _r("rejected", "VpcFlowLogsRejectedTraffic", "Rejected traffic", "Records whose action is REJECT.",
           "SELECT {records} FROM flows WHERE action = 'REJECT' ORDER BY start LIMIT {limit}", ("action",)),
        _r("rejected-tcp", "VpcFlowLogsRejectedTCPTraffic", "Rejected TCP traffic",
           "REJECT records of protocol 6, by source and destination port.",
           "SELECT srcaddr, dstaddr, dstport, SUM(packets) AS packets, COUNT(*) AS records FROM flows "
           "WHERE action = 'REJECT' AND protocol = 6 GROUP BY ALL ORDER BY records DESC LIMIT {limit}",
           ("action", "protocol")),
        _r("ssh-rdp", "VpcFlowLogsSshRdpTraffic", "SSH and RDP traffic", "Records to port 22 or 3389.",
           "SELECT srcaddr, dstaddr, dstport, action, SUM(packets) AS packets, SUM(bytes) AS bytes, "
           f"COUNT(*) AS records FROM flows WHERE {_OK} AND dstport IN (22, 3389) "
           "GROUP BY ALL ORDER BY records DESC LIMIT {limit}", ("dstport",)),
        _r("top-talkers", "VpcFlowLogsTopTalkers", "Top talkers", "Source/destination pairs by bytes.",
           "SELECT srcaddr, dstaddr, SUM(bytes) AS bytes, SUM(packets) AS packets FROM flows "
           f"WHERE {_OK} GROUP BY ALL ORDER BY bytes DESC LIMIT {{limit}}", ("srcaddr", "bytes")),
        _r("top-talkers-packet-level", "VpcFlowLogsTopTalkersPacketLevel", "Top talkers (packet level)",
           "pkt-srcaddr/pkt-dstaddr pairs by bytes (the original addresses behind NAT and load balancers).",
           "SELECT pkt_srcaddr, pkt_dstaddr, SUM(bytes) AS bytes, SUM(packets) AS packets FROM flows "
           f"WHERE {_OK} AND pkt_srcaddr IS NOT NULL GROUP BY ALL ORDER BY bytes DESC LIMIT {{limit}}",
           ("pkt_srcaddr", "pkt_dstaddr")),
        _r("top-talking-instances", "VpcFlowLogsTopTalkingInstances", "Top talking instances",
           "Instances by bytes.",
           "SELECT instance_id, SUM(bytes) AS bytes, SUM(packets) AS packets FROM flows "
           f"WHERE {_OK} AND instance_id IS NOT NULL GROUP BY ALL ORDER BY bytes DESC LIMIT {{limit}}",
           ("instance_id",)),
        _r("top-talking-subnets", "VpcFlowLogsTopTalkingSubnets", "Top talking subnets", "Subnets by bytes.",
           "SELECT subnet_id, SUM(bytes) AS bytes, SUM(packets) AS packets FROM flows "
           f"WHERE {_OK} AND subnet_id IS NOT NULL GROUP BY ALL ORDER BY bytes DESC LIMIT {{limit}}",
           ("subnet_id",)),
        _r("top-tcp", "VpcFlowLogsTopTCPTraffic", "Top TCP traffic", "TCP flows by bytes.",
           "SELECT srcaddr, dstaddr, srcport, dstport, SUM(bytes) AS bytes, SUM(packets) AS packets "
           f"FROM flows WHERE {_OK} AND protocol = 6 GROUP BY ALL ORDER BY bytes DESC LIMIT {{limit}}",
           ("protocol",)),
        _r("bytes-transferred", "VpcFlowLogsTotalBytesTransferred", "Bytes transferred",
           "Total bytes and packets per source/destination pair.",
           "SELECT srcaddr, dstaddr, SUM(bytes) AS bytes, SUM(packets) AS packets, MIN(start) AS first_start, "
           f"MAX(\"end\") AS last_end FROM flows WHERE {_OK} GROUP BY ALL ORDER BY bytes DESC LIMIT {{limit}}",
           ("bytes",)),
        _r("bytes-transferred-packet-level", "VpcFlowLogsTotalBytesTransferredPacketLevel",
           "Bytes transferred (packet level)", "Total bytes per pkt-srcaddr/pkt-dstaddr pair.",
           "SELECT pkt_srcaddr, pkt_dstaddr, SUM(bytes) AS bytes, SUM(packets) AS packets FROM flows "
           f"WHERE {_OK} AND pkt_srcaddr IS NOT NULL GROUP BY ALL ORDER BY bytes DESC LIMIT {{limit}}",
           ("pkt_srcaddr", "bytes")),
        _r("traffic-from", "VpcFlowLogsTrafficFrmSrcAddr", "Traffic from an address",
           "Records whose srcaddr is the given address.",
           "SELECT {records} FROM flows WHERE srcaddr = {addr} ORDER BY start LIMIT {limit}", ("srcaddr",),
           "addr"),
        _r("traffic-to", "VpcFlowLogsTrafficToDstAddr", "Traffic to an address",
           "Records whose dstaddr is the given address.",
           "SELECT {records} FROM flows WHERE dstaddr = {addr} ORDER BY start LIMIT {limit}", ("dstaddr",),
           "addr"),
        # What AWS lacks.
        _r("log-status-health", "", "Log-status health per flow log and ENI",
           "Records per flow log, interface and log status: NODATA means an idle window, SKIPDATA lost records.",
           "SELECT flow_log_id, interface_id, COUNT(*) FILTER (WHERE log_status = 'OK') AS ok, "
           "COUNT(*) FILTER (WHERE log_status = 'NODATA') AS nodata, "
           "COUNT(*) FILTER (WHERE log_status = 'SKIPDATA') AS skipdata, MIN(start) AS first_start, "
           f"MAX(\"end\") AS last_end FROM {SELECTED} GROUP BY flow_log_id, interface_id "
           "ORDER BY skipdata DESC, nodata DESC, flow_log_id, interface_id LIMIT {limit}",
           ("interface_id", "log_status")),
        _r("port-scan", "", "Port-scan candidates",
           "Sources that probed at least {min_ports} distinct destination ports with rejected or unanswered "
           "inbound flows (a reply to a client's many ephemeral ports is answered traffic, not a probe).",
           _PROBES + "SELECT srcaddr, COUNT(DISTINCT dstport) FILTER (WHERE probe) AS distinct_ports, "
           "COUNT(DISTINCT dstaddr) FILTER (WHERE probe) AS targets, "
           "mode(dstaddr) FILTER (WHERE probe) AS main_target, "
           "COUNT(*) FILTER (WHERE action = 'REJECT') AS rejected_records, "
           "COUNT(*) FILTER (WHERE NOT answered) AS unanswered_records, SUM(packets) AS packets, "
           "MIN(start) AS first_start, MAX(\"end\") AS last_end FROM probes GROUP BY srcaddr "
           "HAVING COUNT(DISTINCT dstport) FILTER (WHERE probe) >= {min_ports} "
           "ORDER BY distinct_ports DESC, srcaddr LIMIT {limit}",
           ("srcaddr", "dstaddr", "srcport", "dstport", "protocol", "action")),
        _r("distributed-scan", "", "Distributed-scan candidates",
           "Addresses probed on at least {min_ports} distinct ports, by several sources none of which probed "
           "{min_ports} ports itself (rejected or unanswered inbound flows).",
           _PROBES + "SELECT dstaddr, COUNT(DISTINCT dstport) AS distinct_ports, COUNT(DISTINCT srcaddr) AS sources, "
           "string_agg(DISTINCT srcaddr, ' ' ORDER BY srcaddr) AS source_list, COUNT(*) AS records, "
           "MIN(start) AS first_start, MAX(\"end\") AS last_end FROM probes p WHERE probe AND srcaddr IN ("
           "SELECT srcaddr FROM probes WHERE probe GROUP BY srcaddr HAVING COUNT(DISTINCT dstport) < {min_ports}) "
           "GROUP BY dstaddr HAVING COUNT(DISTINCT dstport) >= {min_ports} AND COUNT(DISTINCT srcaddr) > 1 "
           "ORDER BY distinct_ports DESC, dstaddr LIMIT {limit}",
           ("srcaddr", "dstaddr", "srcport", "dstport", "protocol", "action")),
        _r("brute-force", "", "Brute-force candidates",
           "Sources with at least {min_attempts} inbound connections (distinct source ports) to one "
           f"administrative port ({_PORTS}).",
           "SELECT srcaddr, dstport, COUNT(DISTINCT srcport) AS attempts, COUNT(DISTINCT dstaddr) AS targets, "
           "COUNT(*) FILTER (WHERE action = 'REJECT') AS rejected_records, SUM(packets) AS packets, "
           f"MIN(start) AS first_start, MAX(\"end\") AS last_end FROM {FLOWS} WHERE {{ok}} AND protocol = 6 "
           f"AND dstport IN ({_PORTS}) AND direction = 'ingress' GROUP BY srcaddr, dstport "
           "HAVING COUNT(DISTINCT srcport) >= {min_attempts} ORDER BY attempts DESC, srcaddr LIMIT {limit}",
           ("srcaddr", "dstport", "srcport", "protocol")),
        Report("rejected-by-rule", "Rules that rejected traffic",
               "Which security-group or network-ACL rule (or default deny) decided each REJECT record, from "
               "the policy engine's side channel.",
               "SELECT rule, COUNT(*) AS records, SUM(packets) AS packets, COUNT(DISTINCT srcaddr) AS sources, "
               "COUNT(DISTINCT interface_id) AS interfaces, MIN(start) AS first_start, MAX(\"end\") AS last_end "
               "FROM rejections GROUP BY rule ORDER BY records DESC LIMIT {limit}", (), decisions=True),
        Report("rejected-flows", "Rejected flows and their rules",
               "Every REJECT record with the rule that decided it (side channel).",
               "SELECT srcaddr, dstaddr, dstport, rule, start, protocol, packets, srcport, interface_id, "
               "flow_direction, \"end\", flow_log_id FROM rejections ORDER BY start, interface_id "
               "LIMIT {limit}", (), decisions=True),
    )
}


def probes_sql(columns: set[str]) -> str:
    """The ``WITH ... probes AS (...)`` part of the scan reports, for charts that reuse it."""
    ok = "log_status = 'OK'" if "log_status" in columns else "true"
    return _PROBES.format(ok=ok).rstrip()


def render_sql(report: Report, columns: set[str], *, limit: int = 20, addr: str | None = None,
               min_ports: int = 20, min_attempts: int = 20, has_decisions: bool = True) -> str:
    """The report's SQL for a view with ``columns``; raises ConfigError when a needed field is absent."""
    if report.decisions and not has_decisions:
        raise ConfigError(
            f"report {report.name!r} reads the policy engine's decisions, which `vpcflow run` writes next to "
            "the records in a data directory (<data-dir>/rejects/*.rejects.jsonl); none were found"
        )
    missing = [c for c in report.needs if c not in columns]
    if missing:
        raise ConfigError(
            f"report {report.name!r} needs the field(s) {', '.join(c.replace('_', '-') for c in missing)}, "
            "which none of the logs' formats include"
        )
    if "addr" in report.params and not addr:
        raise ConfigError(f"report {report.name!r} needs --addr ADDRESS")
    ok = "log_status = 'OK'" if "log_status" in columns else "true"  # no log-status: every record is OK
    records = ", ".join(f'"{c}"' for c in RECORD_COLUMNS if c in columns) or "*"
    quoted_addr = "'" + (addr or "").replace("'", "''") + "'"
    return report.sql.format(limit=int(limit), addr=quoted_addr, min_ports=int(min_ports),
                             min_attempts=int(min_attempts), ok=ok, records=records)

"""Named reports over the ``vpc_flow_logs`` view.

The first group mirrors the named queries the VPC console's Athena integration creates (spec 8.1:
VpcFlowLogsAcceptedTraffic ... VpcFlowLogsTrafficToDstAddr); the SQL here is vpcflow's own. The second
group is what AWS lacks: log-status health per ENI, port-scan and brute-force candidates. (Which rule
rejected each flow comes from the policy engine's side channel, see ``query.decisions``.)

A report names the fields it needs; running it over logs whose formats lack one gives a clear error.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vpcflow.core.errors import ConfigError

ADMIN_PORTS = (22, 23, 3389, 5985, 5986, 5900)


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    description: str
    sql: str  # may contain {limit}, {addr}, {min_ports}, {min_attempts}
    needs: tuple[str, ...]  # underscored columns that must be present (not all-NULL is not required)
    params: tuple[str, ...] = field(default_factory=tuple)  # parameters the user must give (addr)
    aws_name: str = ""  # the console's named query it mirrors
    decisions: bool = False  # reads the side channel (vpc_flow_log_rejections), not only the AWS records


def _r(name: str, aws: str, title: str, desc: str, sql: str, needs: tuple[str, ...], *params: str) -> Report:
    return Report(name=name, title=title, description=desc, sql=sql.strip(), needs=needs, params=params, aws_name=aws)


_OK = "log_status = 'OK'"
_PORTS = ", ".join(str(p) for p in ADMIN_PORTS)

REPORTS: dict[str, Report] = {
    r.name: r
    for r in (
        _r("accepted", "VpcFlowLogsAcceptedTraffic", "Accepted traffic", "Records whose action is ACCEPT.",
           "SELECT * FROM vpc_flow_logs WHERE action = 'ACCEPT' ORDER BY start LIMIT {limit}", ("action",)),
        _r("admin-port", "VpcFlowLogsAdminPortTraffic", "Traffic to administrative ports",
           f"Records to ports {_PORTS} (SSH, Telnet, RDP, WinRM, VNC).",
           f"SELECT dstport, action, srcaddr, dstaddr, SUM(packets) AS packets, SUM(bytes) AS bytes, "
           f"COUNT(*) AS records FROM vpc_flow_logs WHERE {_OK} AND dstport IN ({_PORTS}) "
           "GROUP BY ALL ORDER BY records DESC, bytes DESC LIMIT {limit}", ("dstport", "action")),
        _r("ipv4", "VpcFlowLogsIPv4Traffic", "IPv4 traffic", "Records of IPv4 flows.",
           f"SELECT * FROM vpc_flow_logs WHERE {_OK} AND strpos(srcaddr, ':') = 0 ORDER BY start LIMIT {{limit}}",
           ("srcaddr",)),
        _r("ipv6", "VpcFlowLogsIPv6Traffic", "IPv6 traffic", "Records of IPv6 flows.",
           f"SELECT * FROM vpc_flow_logs WHERE {_OK} AND strpos(srcaddr, ':') > 0 ORDER BY start LIMIT {{limit}}",
           ("srcaddr",)),
        _r("rejected", "VpcFlowLogsRejectedTraffic", "Rejected traffic", "Records whose action is REJECT.",
           "SELECT * FROM vpc_flow_logs WHERE action = 'REJECT' ORDER BY start LIMIT {limit}", ("action",)),
        _r("rejected-tcp", "VpcFlowLogsRejectedTCPTraffic", "Rejected TCP traffic",
           "REJECT records of protocol 6, by source and destination port.",
           "SELECT srcaddr, dstaddr, dstport, SUM(packets) AS packets, COUNT(*) AS records FROM vpc_flow_logs "
           "WHERE action = 'REJECT' AND protocol = 6 GROUP BY ALL ORDER BY records DESC LIMIT {limit}",
           ("action", "protocol")),
        _r("ssh-rdp", "VpcFlowLogsSshRdpTraffic", "SSH and RDP traffic", "Records to port 22 or 3389.",
           "SELECT srcaddr, dstaddr, dstport, action, SUM(packets) AS packets, SUM(bytes) AS bytes, "
           f"COUNT(*) AS records FROM vpc_flow_logs WHERE {_OK} AND dstport IN (22, 3389) "
           "GROUP BY ALL ORDER BY records DESC LIMIT {limit}", ("dstport",)),
        _r("top-talkers", "VpcFlowLogsTopTalkers", "Top talkers", "Source/destination pairs by bytes.",
           "SELECT srcaddr, dstaddr, SUM(bytes) AS bytes, SUM(packets) AS packets FROM vpc_flow_logs "
           f"WHERE {_OK} GROUP BY ALL ORDER BY bytes DESC LIMIT {{limit}}", ("srcaddr", "bytes")),
        _r("top-talkers-packet-level", "VpcFlowLogsTopTalkersPacketLevel", "Top talkers (packet level)",
           "pkt-srcaddr/pkt-dstaddr pairs by bytes (the original addresses behind NAT and load balancers).",
           "SELECT pkt_srcaddr, pkt_dstaddr, SUM(bytes) AS bytes, SUM(packets) AS packets FROM vpc_flow_logs "
           f"WHERE {_OK} GROUP BY ALL ORDER BY bytes DESC LIMIT {{limit}}", ("pkt_srcaddr", "pkt_dstaddr")),
        _r("top-talking-instances", "VpcFlowLogsTopTalkingInstances", "Top talking instances",
           "Instances by bytes.",
           "SELECT instance_id, SUM(bytes) AS bytes, SUM(packets) AS packets FROM vpc_flow_logs "
           f"WHERE {_OK} AND instance_id IS NOT NULL GROUP BY ALL ORDER BY bytes DESC LIMIT {{limit}}",
           ("instance_id",)),
        _r("top-talking-subnets", "VpcFlowLogsTopTalkingSubnets", "Top talking subnets", "Subnets by bytes.",
           "SELECT subnet_id, SUM(bytes) AS bytes, SUM(packets) AS packets FROM vpc_flow_logs "
           f"WHERE {_OK} AND subnet_id IS NOT NULL GROUP BY ALL ORDER BY bytes DESC LIMIT {{limit}}",
           ("subnet_id",)),
        _r("top-tcp", "VpcFlowLogsTopTCPTraffic", "Top TCP traffic", "TCP flows by bytes.",
           "SELECT srcaddr, dstaddr, srcport, dstport, SUM(bytes) AS bytes, SUM(packets) AS packets "
           f"FROM vpc_flow_logs WHERE {_OK} AND protocol = 6 GROUP BY ALL ORDER BY bytes DESC LIMIT {{limit}}",
           ("protocol",)),
        _r("bytes-transferred", "VpcFlowLogsTotalBytesTransferred", "Bytes transferred",
           "Total bytes and packets per source/destination pair.",
           "SELECT srcaddr, dstaddr, SUM(bytes) AS bytes, SUM(packets) AS packets, MIN(start) AS first_start, "
           f"MAX(\"end\") AS last_end FROM vpc_flow_logs WHERE {_OK} GROUP BY ALL ORDER BY bytes DESC LIMIT {{limit}}",
           ("bytes",)),
        _r("bytes-transferred-packet-level", "VpcFlowLogsTotalBytesTransferredPacketLevel",
           "Bytes transferred (packet level)", "Total bytes per pkt-srcaddr/pkt-dstaddr pair.",
           "SELECT pkt_srcaddr, pkt_dstaddr, SUM(bytes) AS bytes, SUM(packets) AS packets FROM vpc_flow_logs "
           f"WHERE {_OK} GROUP BY ALL ORDER BY bytes DESC LIMIT {{limit}}", ("pkt_srcaddr", "bytes")),
        _r("traffic-from", "VpcFlowLogsTrafficFrmSrcAddr", "Traffic from an address",
           "Records whose srcaddr is the given address.",
           "SELECT * FROM vpc_flow_logs WHERE srcaddr = {addr} ORDER BY start LIMIT {limit}", ("srcaddr",),
           "addr"),
        _r("traffic-to", "VpcFlowLogsTrafficToDstAddr", "Traffic to an address",
           "Records whose dstaddr is the given address.",
           "SELECT * FROM vpc_flow_logs WHERE dstaddr = {addr} ORDER BY start LIMIT {limit}", ("dstaddr",),
           "addr"),
        # What AWS lacks.
        _r("log-status-health", "", "Log-status health per ENI",
           "Records per interface and log status: NODATA means an idle window, SKIPDATA lost records.",
           "SELECT interface_id, COUNT(*) FILTER (WHERE log_status = 'OK') AS ok, "
           "COUNT(*) FILTER (WHERE log_status = 'NODATA') AS nodata, "
           "COUNT(*) FILTER (WHERE log_status = 'SKIPDATA') AS skipdata, MIN(start) AS first_start, "
           "MAX(\"end\") AS last_end FROM vpc_flow_logs GROUP BY interface_id "
           "ORDER BY skipdata DESC, nodata DESC, interface_id LIMIT {limit}", ("interface_id", "log_status")),
        _r("port-scan", "", "Port-scan candidates",
           "Sources that touched at least {min_ports} distinct destination ports of one address.",
           "SELECT srcaddr, dstaddr, COUNT(DISTINCT dstport) AS distinct_ports, "
           "COUNT(*) FILTER (WHERE action = 'REJECT') AS rejected_records, SUM(packets) AS packets, "
           "MIN(start) AS first_start, MAX(\"end\") AS last_end FROM vpc_flow_logs WHERE " + _OK + " "
           "AND flow_direction_or_ingress GROUP BY srcaddr, dstaddr HAVING COUNT(DISTINCT dstport) >= {min_ports} "
           "ORDER BY distinct_ports DESC LIMIT {limit}", ("srcaddr", "dstport", "action")),
        _r("brute-force", "", "Brute-force candidates",
           "Sources with at least {min_attempts} connection records to SSH or RDP.",
           "SELECT srcaddr, dstport, COUNT(*) AS attempts, COUNT(DISTINCT srcport) AS source_ports, "
           "COUNT(*) FILTER (WHERE action = 'REJECT') AS rejected, SUM(packets) AS packets, "
           "MIN(start) AS first_start, MAX(\"end\") AS last_end FROM vpc_flow_logs WHERE " + _OK + " "
           "AND dstport IN (22, 3389) AND flow_direction_or_ingress GROUP BY srcaddr, dstport "
           "HAVING COUNT(DISTINCT srcport) >= {min_attempts} ORDER BY attempts DESC LIMIT {limit}",
           ("srcaddr", "dstport", "srcport")),
        Report("rejected-by-rule", "Rules that rejected traffic",
               "Which security-group or network-ACL rule (or default deny) decided each REJECT record, from "
               "the policy engine's side channel.",
               "SELECT rule, COUNT(*) AS records, SUM(packets) AS packets, COUNT(DISTINCT srcaddr) AS sources, "
               "COUNT(DISTINCT interface_id) AS interfaces, MIN(start) AS first_start, MAX(\"end\") AS last_end "
               "FROM vpc_flow_log_rejections GROUP BY rule ORDER BY records DESC LIMIT {limit}", (), decisions=True),
        Report("rejected-flows", "Rejected flows and their rules",
               "Every REJECT record with the rule that decided it (side channel).",
               "SELECT flow_log_id, interface_id, flow_direction, srcaddr, dstaddr, srcport, dstport, protocol, "
               "packets, start, \"end\", rule FROM vpc_flow_log_rejections ORDER BY start, interface_id "
               "LIMIT {limit}", (), decisions=True),
    )
}


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
    # Scans and brute force are counted once per flow: on the ingress side when the format says so,
    # else every record (a default-format log has no flow-direction).
    direction = "(flow_direction = 'ingress')" if "flow_direction" in columns else "true"
    sql = report.sql.replace("flow_direction_or_ingress", direction)
    quoted_addr = "'" + (addr or "").replace("'", "''") + "'"
    return sql.format(limit=int(limit), addr=quoted_addr, min_ports=int(min_ports), min_attempts=int(min_attempts))

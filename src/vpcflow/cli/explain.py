"""``vpcflow explain``: where a request and its reply are observed, every check, and the deciding rule."""

from __future__ import annotations

import json

import click

from vpcflow.dataplane.explain import Explanation, Leg, explain, parse_protocol


def _print_leg(title: str, leg: Leg) -> None:
    ports = f" {leg.sport} -> {leg.dport}" if leg.protocol in (6, 17) else ""
    icmp = f" type {leg.icmp_type} code {leg.icmp_code}" if leg.icmp_type is not None else ""
    click.secho(f"{title}: {leg.src} -> {leg.dst} protocol {leg.protocol}{ports}{icmp}", bold=True)
    if leg.observations:
        click.echo("  path: " + " -> ".join(f"{o.interface_id} ({o.direction})" for o in leg.observations))
    for n, o in enumerate(leg.observations, 1):
        path = "-" if o.traffic_path is None else str(o.traffic_path)
        colour = {"ACCEPT": "green", "REJECT": "red"}.get(o.action, "yellow")
        click.echo(f"  {n}. {o.interface_id} {o.direction} ", nl=False)
        click.secho(o.action, fg=colour, bold=True, nl=False)
        click.echo(f"  srcaddr {o.srcaddr} dstaddr {o.dstaddr}  pkt {o.pkt_srcaddr} -> {o.pkt_dstaddr}"
                   f"  traffic-path {path}")
        for c in o.checks:
            click.echo(f"       {c['check']}: {c['action']}: {c['text']}")
        click.echo(f"       decided by: {o.decided_by}")
    if leg.note:
        click.echo(f"  {leg.note}")


def _print(ex: Explanation) -> None:
    _print_leg("request", ex.request)
    if ex.reply is not None:
        _print_leg("reply", ex.reply)
    elif ex.reply_note:
        click.echo(ex.reply_note)


@click.command(name="explain")
@click.option("--topology", "topology_path", required=True, type=click.Path(dir_okay=False),
              help="Topology file (YAML or JSON).")
@click.option("--src", required=True, help="Source IP address of the request.")
@click.option("--dst", required=True, help="Destination IP address of the request.")
@click.option("--protocol", required=True, help="tcp, udp, icmp, icmpv6 or a protocol number.")
@click.option("--sport", type=int, default=49152, show_default=True, help="Source port (TCP/UDP).")
@click.option("--dport", type=int, default=0, show_default=True, help="Destination port (TCP/UDP).")
@click.option("--icmp-type", type=int, default=None, help="ICMP type (default: echo request).")
@click.option("--icmp-code", type=int, default=None, help="ICMP code (default 0).")
@click.option("--ip-ranges", type=click.Path(dir_okay=False), default=None,
              help="AWS ip-ranges.json for pkt-*-aws-service.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def command(topology_path: str, src: str, dst: str, protocol: str, sport: int, dport: int, icmp_type: int | None,
            icmp_code: int | None, ip_ranges: str | None, as_json: bool) -> None:
    """Explain how security groups and network ACLs treat a request and its reply, and what each
    network interface's flow log records (ACCEPT / REJECT / NOT_CAPTURED, and the deciding rule)."""
    from vpcflow.dataplane.attribute.engine import load_ip_ranges
    from vpcflow.model.topology.loader import load_topology

    proto = parse_protocol(protocol)
    topo = load_topology(topology_path)
    ranges = load_ip_ranges(ip_ranges) if ip_ranges else None
    ex = explain(topo, src, dst, proto, sport=sport, dport=dport, icmp_type=icmp_type, icmp_code=icmp_code,
                 ip_ranges=ranges)
    if as_json:
        click.echo(json.dumps(ex.as_dict(), indent=2))
    else:
        _print(ex)

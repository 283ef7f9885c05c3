"""``vpcflow topology``: validate, show and import topology files.

    vpcflow topology validate FILE            counts per kind, or every problem with file:line (exit 2)
    vpcflow topology show FILE [--json]       tables of the loaded network; --json: the normal-form document
    vpcflow topology import FILES... -o OUT   a topology file from `aws ec2 describe-*` JSON (files or folders)

Other modules add subcommands by adding a line to ``SUBCOMMANDS`` (name -> "module:attribute"); they are
imported only when used, so ``validate`` never pays for the runtime layer.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from vpcflow.core.errors import ConfigError
from vpcflow.model.topology.aws_import import import_aws_with_notes
from vpcflow.model.topology.document import topology_to_document
from vpcflow.model.topology.loader import (
    dump_topology_document,
    load_topology,
    load_topology_document,
    loads_topology,
)
from vpcflow.model.topology.model import Topology
from vpcflow.model.topology.problems import Problem, TopologyError

#: Subcommands defined in other modules: name -> "module:attribute".
SUBCOMMANDS: dict[str, str] = {
    "load": "vpcflow.cli.topology_load:command",
}


class _TopologyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *SUBCOMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None or cmd_name not in SUBCOMMANDS:
            return command
        module_name, attr = SUBCOMMANDS[cmd_name].split(":")
        found = getattr(importlib.import_module(module_name), attr)
        assert isinstance(found, click.Command)
        return found


@click.group("topology", cls=_TopologyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def group() -> None:
    """Topology files: the modelled network (VPCs, subnets, ENIs, security groups, NACLs, routes) and IAM."""


def _counts(t: Topology) -> list[tuple[str, int]]:
    rules = sum(len(g.ingress) + len(g.egress) for g in t.security_groups)
    entries = sum(len(a.entries) for a in t.network_acls)
    return [
        ("accounts", len(t.accounts)),
        ("regions", len(t.regions)),
        ("vpcs", len(t.vpcs)),
        ("subnets", len(t.subnets)),
        ("network interfaces", len(t.network_interfaces)),
        ("security groups", len(t.security_groups)),
        ("security group rules", rules),
        ("network acls", len(t.network_acls)),
        ("network acl entries", entries),
        ("route tables", len(t.route_tables)),
        ("routes", sum(len(r.routes) for r in t.route_tables)),
        ("internet gateways", len(t.internet_gateways)),
        ("nat gateways", len(t.nat_gateways)),
        ("vpc endpoints", len(t.vpc_endpoints)),
        ("vpc peering connections", len(t.vpc_peering_connections)),
        ("prefix lists", len(t.prefix_lists)),
        ("s3 buckets", len(t.s3_buckets)),
        ("log groups", len(t.log_groups)),
        ("iam users", len(t.iam.get("users") or [])),
        ("iam roles", len(t.iam.get("roles") or [])),
    ]


def _report_problems(err: TopologyError) -> None:
    for problem in err.problems:
        click.echo(str(problem), err=True)
    count = len(err.problems)
    click.echo(f"{count} problem{'s' if count != 1 else ''} in {err.problems[0].location.rsplit(':', 1)[0]}", err=True)
    click.get_current_context().exit(2)


def _load_checked(file: Path) -> Topology:
    """The topology of ``file``, with its ``iam`` section checked as `run` and `topology load` check it
    (trust policies, policy documents), so `validate` accepts exactly the files they accept."""
    from vpcflow.iam.world import IamWorld

    loaded = load_topology_document(file)
    try:
        IamWorld.from_section(loaded.topology.iam, account_id=loaded.topology.account_id, source=str(file),
                              locate=loaded.locate)
    except ConfigError as e:
        problem = Problem(e.location or str(file), e.key_path or "iam", e.message)
        raise TopologyError([problem], str(file)) from None
    return loaded.topology


@group.command("validate")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the counts (or the problems) as JSON.")
def validate(file: Path, as_json: bool) -> None:
    """Check FILE (YAML or JSON); print what it holds, or every problem with file:line and key path."""
    try:
        t = _load_checked(file)
    except TopologyError as err:
        if as_json:
            problems = [{"location": p.location, "key_path": p.key_path, "message": p.message} for p in err.problems]
            click.echo(json.dumps({"valid": False, "problems": problems}, indent=2))
            click.get_current_context().exit(2)
        _report_problems(err)
        return
    counts = _counts(t)
    if as_json:
        click.echo(json.dumps({"valid": True, "counts": dict(counts)}, indent=2))
        return
    table = Table(title=f"{file}: valid (account {t.account_id}, {t.region})")
    table.add_column("kind")
    table.add_column("count", justify="right")
    for kind, n in counts:
        table.add_row(kind, str(n))
    Console().print(table)


def _name(tags: tuple[tuple[str, str], ...]) -> str:
    return dict(tags).get("Name", "")


_PROTOCOL_NAMES = {-1: "all", 1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6"}


def _protocol(number: int) -> str:
    return _PROTOCOL_NAMES.get(number, str(number))


def _rule_ports(protocol: int, lo: int, hi: int) -> str:
    if protocol in (1, 58):
        return "all" if lo == -1 else f"type {lo} code {'all' if hi == -1 else hi}"
    if protocol in (6, 17):
        return str(lo) if lo == hi else f"{lo}-{hi}"
    return "all"


def _show_tables(t: Topology) -> None:
    console = Console(width=max(Console().width, 140))
    for table in (_vpc_table(t), _eni_table(t), _security_group_table(t), _network_acl_table(t), _routes_table(t)):
        console.print(table)


def _vpc_table(t: Topology) -> Table:
    vpcs = Table(title="VPCs and subnets")
    for col in ("id", "name", "cidr", "zone", "owner", "nacl", "route table"):
        vpcs.add_column(col)
    for v in t.vpcs:
        vpcs.add_row(
            v.vpc_id,
            _name(v.tags),
            ", ".join(map(str, (*v.cidr_blocks, *v.ipv6_cidr_blocks))),
            v.region,
            v.owner_id,
            "",
            "",
        )
        for s in (s for s in t.subnets if s.vpc_id == v.vpc_id):
            acl = t.network_acl_for_subnet(s.subnet_id)
            rtb = t.route_table_for_subnet(s.subnet_id)
            cidr = ", ".join(str(c) for c in (s.cidr_block, s.ipv6_cidr_block) if c is not None)
            if s.cidr_block is None:
                cidr += " (IPv6-only)"
            vpcs.add_row(
                "  " + s.subnet_id, _name(s.tags), cidr, f"{s.availability_zone} ({s.availability_zone_id})",
                s.owner_id,
                acl.network_acl_id if acl else "", rtb.route_table_id if rtb else "",
            )  # fmt: skip
    return vpcs


def _eni_table(t: Topology) -> Table:
    enis = Table(title="network interfaces")
    for col in ("id", "name", "type", "subnet", "private", "public", "groups"):
        enis.add_column(col, overflow="fold")
    for e in t.network_interfaces:
        kind = e.interface_type + (" (requester-managed)" if e.requester_managed else "")
        private = ", ".join(map(str, (*e.private_ips, *e.ipv6_addresses)))
        enis.add_row(
            e.network_interface_id,
            _name(e.tags),
            kind,
            e.subnet_id,
            private,
            ", ".join(map(str, e.public_ips)),
            ", ".join(e.groups),
        )
    return enis


def _security_group_table(t: Topology) -> Table:
    sgs = Table(title="security groups")
    for col in ("id", "name", "vpc", "direction", "protocol", "ports", "peer"):
        sgs.add_column(col, overflow="fold")
    for g in t.security_groups:
        first = True
        for r in (*g.ingress, *g.egress):
            peer = r.cidr_ipv4 or r.cidr_ipv6 or r.referenced_group_id or r.prefix_list_id
            ports = _rule_ports(r.ip_protocol, r.from_port, r.to_port)
            sgs.add_row(g.group_id if first else "", g.group_name if first else "", g.vpc_id if first else "",
                        "egress" if r.is_egress else "ingress", _protocol(r.ip_protocol), ports, str(peer))  # fmt: skip
            first = False
        if first:
            sgs.add_row(g.group_id, g.group_name, g.vpc_id, "", "", "", "(no rules)")
    return sgs


def _network_acl_table(t: Topology) -> Table:
    acls = Table(title="network ACLs")
    for col in ("id", "name", "direction", "rule", "protocol", "ports/icmp", "cidr", "action"):
        acls.add_column(col, overflow="fold")
    for a in t.network_acls:
        label = a.network_acl_id + (" (default)" if a.is_default else "")
        for i, entry in enumerate(a.entries):
            number = "*" if entry.rule_number == 32767 else str(entry.rule_number)
            if entry.port_from is not None:
                detail = f"{entry.port_from}-{entry.port_to}"
            elif entry.icmp_type is not None:
                detail = f"type {entry.icmp_type} code {entry.icmp_code}"
            else:
                detail = "all"
            direction = "egress" if entry.egress else "ingress"
            acls.add_row(label if i == 0 else "", _name(a.tags) if i == 0 else "", direction,
                         number, _protocol(entry.protocol), detail, str(entry.cidr_block or entry.ipv6_cidr_block),
                         entry.rule_action)  # fmt: skip
    return acls


def _routes_table(t: Topology) -> Table:
    rts = Table(title="route tables")
    for col in ("id", "name", "main", "destination", "target"):
        rts.add_column(col, overflow="fold")
    for rt in t.route_tables:
        for i, route in enumerate(rt.routes):
            dest = route.destination_cidr_block or route.destination_ipv6_cidr_block or route.destination_prefix_list_id
            rts.add_row(rt.route_table_id if i == 0 else "", _name(rt.tags) if i == 0 else "",
                        ("yes" if rt.main else "") if i == 0 else "", str(dest),
                        f"{route.target_id} ({route.target_kind})")  # fmt: skip
    return rts


@group.command("show")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the loaded topology as a JSON document with every id and default spelled out.",
)
def show(file: Path, as_json: bool) -> None:
    """Show the network FILE describes, after loading (generated ids, defaults AWS creates)."""
    try:
        t = load_topology(file)
    except TopologyError as err:
        _report_problems(err)
        return
    if as_json:
        click.echo(json.dumps(topology_to_document(t), indent=2))
        return
    _show_tables(t)


@group.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Topology file to write (.yaml, or .json); default: YAML on stdout.")  # fmt: skip
@click.option("--region", default=None, help="Region of the network when no subnet tells it (default: from subnets).")
def import_(files: tuple[Path, ...], output: Path | None, region: str | None) -> None:
    """Build a topology file from `aws ec2 describe-*` JSON output (FILES are files or folders).

    Reads describe-vpcs, -subnets, -network-interfaces, -security-groups, -network-acls, -route-tables,
    -vpc-peering-connections and, when present, -prefix-lists, -internet-gateways, -nat-gateways,
    -vpc-endpoints; each file's kind is detected from its top-level key.
    """
    doc, notes = import_aws_with_notes(list(files), region=region)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    if output is not None and output.suffix.lower() == ".json":
        text = json.dumps(doc, indent=2) + "\n"
        output.write_text(text, encoding="utf-8")
        fmt = "json"
    else:
        text = dump_topology_document(doc, output)
        fmt = "yaml"
        if output is None:
            sys.stdout.write(text)
    try:
        t = loads_topology(text, source=str(output) if output else "<imported>", fmt=fmt)
    except TopologyError as err:
        click.echo("the imported topology does not validate:", err=True)
        _report_problems(err)
        return
    if output is not None:
        summary: dict[str, Any] = dict(_counts(t)[2:6])
        click.echo(f"wrote {output}: " + ", ".join(f"{n} {k}" for k, n in summary.items()), err=True)

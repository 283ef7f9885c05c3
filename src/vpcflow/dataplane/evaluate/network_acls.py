"""Network ACLs: stateless, numbered rules, first match wins, only at a subnet boundary.

Each (NACL, direction) is a slice of entries sorted by rule number. The first entry whose protocol,
ports/ICMP type-code and CIDR match decides allow or deny; when nothing matches, the ``*`` entry
denies (the loader adds ``*`` as rule 32767; if a hand-built topology lacks it the engine still
denies with an implicit ``*`` rule). Port ranges apply to the packet's DESTINATION port in both
directions (responses therefore need "ephemeral port" rules, e.g. outbound 1024-65535). Inbound
rules match the packet's source address, outbound rules its destination. The engine calls these
checks only when a packet crosses the subnet boundary (traffic inside one subnet skips NACLs).
The matching itself runs in the native core (``native/src/policy/network_acls.rs``), with the
protocol/port/ICMP test it shares with security groups (``matcher.rs``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from vpcflow import _native
from vpcflow.dataplane.evaluate.rules import RuleRef, RuleTable, describe_ports, net_to_words, rule_columns
from vpcflow.model.topology.model import NetworkAcl, NetworkAclEntry

NACL_DIRS = ("inbound", "outbound")  # index = packets.INGRESS / packets.EGRESS


@dataclass
class CompiledNetworkAcls:
    proto: npt.NDArray[np.int16]
    port_lo: npt.NDArray[np.int32]
    port_hi: npt.NDArray[np.int32]
    icmp_type: npt.NDArray[np.int16]
    icmp_code: npt.NDArray[np.int16]
    family: npt.NDArray[np.uint8]
    net_hi: npt.NDArray[np.uint64]
    net_lo: npt.NDArray[np.uint64]
    mask_hi: npt.NDArray[np.uint64]
    mask_lo: npt.NDArray[np.uint64]
    allow: npt.NDArray[np.bool_]
    rule_id: npt.NDArray[np.int32]
    start: npt.NDArray[np.int64]  # [nacl*2 + dir]
    end: npt.NDArray[np.int64]
    default_deny: npt.NDArray[np.int32]  # [nacl*2 + dir]

    def native(self) -> _native.NetworkAclRules:
        """The entries as the native core holds them (``native/src/policy/network_acls.rs``)."""
        columns: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        return _native.NetworkAclRules(columns)


def _entry_text(acl: NetworkAcl, e: NetworkAclEntry) -> str:
    number = "*" if e.rule_number == 32767 else str(e.rule_number)
    cidr = e.cidr_block or e.ipv6_cidr_block
    lo = e.port_from if e.protocol in (6, 17) else e.icmp_type
    hi = e.port_to if e.protocol in (6, 17) else e.icmp_code
    what = describe_ports(e.protocol, lo, hi)
    way = "outbound" if e.egress else "inbound"
    return f"{acl.network_acl_id} {way} rule {number}: {e.rule_action} {what} {'to' if e.egress else 'from'} {cidr}"


def compile_network_acls(acls: tuple[NetworkAcl, ...], table: RuleTable) -> CompiledNetworkAcls:
    rows: list[tuple] = []
    n = len(acls)
    start = np.zeros(2 * n, np.int64)
    end = np.zeros(2 * n, np.int64)
    default_deny = np.zeros(2 * n, np.int32)
    for a, acl in enumerate(acls):
        for d in (0, 1):
            k = 2 * a + d
            start[k] = len(rows)
            entries = sorted((e for e in acl.entries if e.egress == bool(d)), key=lambda e: e.rule_number)
            for e in entries:
                rid = table.add(
                    RuleRef("network_acl_entry", acl.network_acl_id, NACL_DIRS[d],
                            "*" if e.rule_number == 32767 else str(e.rule_number), e.rule_action,
                            _entry_text(acl, e))
                )
                for cidr in (e.cidr_block, e.ipv6_cidr_block):
                    if cidr is None:
                        continue
                    if e.protocol in (6, 17) and e.port_from is not None:
                        plo, phi = e.port_from, e.port_to if e.port_to is not None else e.port_from
                    else:
                        plo, phi = 0, 65535
                    it = -1 if e.icmp_type is None else e.icmp_type
                    ic = -1 if e.icmp_code is None else e.icmp_code
                    rows.append((e.protocol, plo, phi, it, ic, cidr.version, *net_to_words(cidr),
                                 e.rule_action == "allow", rid))
            end[k] = len(rows)
            default_deny[k] = table.add(
                RuleRef("network_acl_default_deny", acl.network_acl_id, NACL_DIRS[d], "*", "deny",
                        f"{acl.network_acl_id} {NACL_DIRS[d]} rule *: deny all traffic")
            )
    return CompiledNetworkAcls(
        **rule_columns(rows, (("allow", np.bool_), ("rule_id", np.int32))),
        start=start,
        end=end,
        default_deny=default_deny,
    )

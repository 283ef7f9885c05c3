# numba kernels: numpy scalar arithmetic does not type as ``int`` and njit is an untyped decorator.
# mypy: disable-error-code="untyped-decorator,return-value,no-any-return"
"""Network ACLs: stateless, numbered rules, first match wins, only at a subnet boundary.

Each (NACL, direction) is a slice of entries sorted by rule number. The first entry whose protocol,
ports/ICMP type-code and CIDR match decides allow or deny; when nothing matches, the ``*`` entry
denies (the loader adds ``*`` as rule 32767; if a hand-built topology lacks it the engine still
denies with an implicit ``*`` rule). Port ranges apply to the packet's DESTINATION port in both
directions (responses therefore need "ephemeral port" rules, e.g. outbound 1024-65535). Inbound
rules match the packet's source address, outbound rules its destination. The engine calls these
checks only when a packet crosses the subnet boundary (traffic inside one subnet skips NACLs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

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


@njit(cache=True)
def nacl_match(
    proto: npt.NDArray[np.int16], port_lo: npt.NDArray[np.int32], port_hi: npt.NDArray[np.int32],
    icmp_type: npt.NDArray[np.int16], icmp_code: npt.NDArray[np.int16], family: npt.NDArray[np.uint8],
    net_hi: npt.NDArray[np.uint64], net_lo: npt.NDArray[np.uint64], mask_hi: npt.NDArray[np.uint64],
    mask_lo: npt.NDArray[np.uint64], allow: npt.NDArray[np.bool_], rule_id: npt.NDArray[np.int32],
    start: npt.NDArray[np.int64], end: npt.NDArray[np.int64], default_deny: npt.NDArray[np.int32],
    q_slot: npt.NDArray[np.int64], q_version: npt.NDArray[np.uint8], q_proto: npt.NDArray[np.int16],
    q_dport: npt.NDArray[np.int32], q_itype: npt.NDArray[np.int16], q_icode: npt.NDArray[np.int16],
    q_frag2: npt.NDArray[np.bool_], q_hi: npt.NDArray[np.uint64], q_lo: npt.NDArray[np.uint64],
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.bool_]]:
    """For each query: the deciding rule id and whether it allows (first match by rule number)."""
    m = q_slot.shape[0]
    out = np.empty(m, np.int32)
    ok = np.zeros(m, np.bool_)
    for i in range(m):
        k = q_slot[i]
        fam = np.uint8(4) if q_version[i] == 4 else np.uint8(6)
        p = q_proto[i]
        out[i] = default_deny[k]
        for r in range(start[k], end[k]):
            if family[r] != fam:
                continue
            rp = proto[r]
            if rp != -1:
                if rp != p:
                    continue
                if p == 6 or p == 17:
                    if not q_frag2[i] and (q_dport[i] < port_lo[r] or q_dport[i] > port_hi[r]):
                        continue
                elif (p == 1 or p == 58) and not q_frag2[i]:
                    if icmp_type[r] != -1 and icmp_type[r] != q_itype[i]:
                        continue
                    if icmp_code[r] != -1 and icmp_code[r] != q_icode[i]:
                        continue
            if (q_hi[i] & mask_hi[r]) != net_hi[r] or (q_lo[i] & mask_lo[r]) != net_lo[r]:
                continue
            out[i] = rule_id[r]
            ok[i] = allow[r]
            break
    return out, ok

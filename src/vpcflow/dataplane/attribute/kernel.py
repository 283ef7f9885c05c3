"""The attribution planner compiled: ``attribute_plan.Planner`` as arrays for the native core.

``Planner`` (plain Python, per address pair) is the readable definition, used by ``explain`` and by
the test reference; ``native/src/policy/attribute.rs`` computes the SAME plans for thousands of new
flows at once from the tables built here, so a capture with many distinct peers (an
internet-facing server) costs microseconds per new flow, not a Python call. The hypothesis
equivalence test checks the engine against the reference (the Python planner) on random topologies.

Tables: an address map (address -> ENI*4 + kind; kind 0 private/IPv6, 2 public/Elastic/NAT public),
a special-address map (address -> not-captured category), per-ENI, per-subnet and per-VPC columns,
and every route table flattened in route order (longest prefix wins; on equal prefixes the first).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from vpcflow import _native
from vpcflow.dataplane.attribute.plan import NOT_CAPTURED_CATEGORIES, Planner
from vpcflow.dataplane.evaluate.rules import net_to_words
from vpcflow.dataplane.packets import ip_to_pair
from vpcflow.model.topology.model import IPNet

# route kinds in the compiled table (the same values as native/src/policy/attribute.rs)
R_LOCAL, R_IGW, R_GWE, R_FIXED, R_NAT = 0, 1, 2, 3, 4
T_OTHER, T_NLB, T_ENDPOINT, T_NAT = 0, 1, 2, 3
NLB_ENDPOINT = NOT_CAPTURED_CATEGORIES.index("nlb_endpoint") + 1
WINDOWS_ACTIVATION = NOT_CAPTURED_CATEGORIES.index("windows_activation") + 1
MIRRORED = NOT_CAPTURED_CATEGORIES.index("mirrored") + 1
DHCP = NOT_CAPTURED_CATEGORIES.index("dhcp") + 1

_FIXED_PATH = {"virtual_private_gateway": 3, "local_gateway": 6, "transit_gateway": 1, "network_interface": 1}

# Point columns of a plan (int64 view; addresses as uint64 bit patterns).
P_ENI, P_DIR, P_RS_HI, P_RS_LO, P_RD_HI, P_RD_LO, P_PS_HI, P_PS_LO, P_PD_HI, P_PD_LO, P_TPATH, P_PEER, P_REMOTE, \
    P_NACL = range(14)
N_COLS = 14


def _words(addr: object) -> tuple[int, int]:
    return ip_to_pair(addr)  # type: ignore[arg-type]


def _address_map(addrs: dict[Any, int]) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.int32]]:
    keys = np.array([_words(a) for a in addrs], np.uint64).reshape(-1, 2)
    return keys, np.array(list(addrs.values()), np.int32)


def _eni_columns(planner: Planner) -> dict[str, Any]:
    topo, enis = planner.topo, planner.enis
    sn_index = {s.subnet_id: i for i, s in enumerate(topo.subnets)}
    vpc_index = {v.vpc_id: i for i, v in enumerate(topo.vpcs)}
    types = {"network_load_balancer": T_NLB, "vpc_endpoint": T_ENDPOINT, "gateway_load_balancer_endpoint": T_ENDPOINT,
             "nat_gateway": T_NAT}
    eni_prim = np.zeros((len(enis), 2), np.uint64)
    eni_v6 = np.zeros((len(enis), 2), np.uint64)
    for i, e in enumerate(enis):
        eni_prim[i] = _words(e.primary_address)  # IPv6-only: its primary IPv6 stands in (docs/topology.md)
        if e.ipv6_addresses:
            eni_v6[i] = _words(e.ipv6_addresses[0])
    return {
        "eni_subnet": np.array([sn_index.get(e.subnet_id, -1) for e in enis], np.int32),
        "eni_vpc": np.array([vpc_index.get(e.vpc_id, -1) for e in enis], np.int32),
        "eni_prim": eni_prim, "eni_v6": eni_v6,
        "eni_has_v6": np.array([bool(e.ipv6_addresses) for e in enis], np.bool_),
        "eni_type": np.array([types.get(e.interface_type, T_OTHER) for e in enis], np.int8),
        "eni_nitro": np.array([e.nitro for e in enis], np.bool_),
        "eni_windows": np.array([e.platform == "windows" for e in enis], np.bool_),
        "eni_source_dest_check": np.array([e.source_dest_check for e in enis], np.bool_),
    }


def _network_columns(planner: Planner) -> dict[str, Any]:
    """Subnets (CIDRs, NACL, route table) and VPC CIDRs."""
    topo = planner.topo
    rt_index = {r.route_table_id: i for i, r in enumerate(topo.route_tables)}
    vpc_index = {v.vpc_id: i for i, v in enumerate(topo.vpcs)}
    s = len(topo.subnets)
    sn_net = np.zeros((s, 8), np.uint64)
    sn_rt = np.full(s, -1, np.int32)
    for i, sn in enumerate(topo.subnets):
        if sn.cidr_block is not None:
            sn_net[i, :4] = net_to_words(sn.cidr_block)
        else:  # IPv6-only: a net no IPv4-mapped address is in (zero words would be a /0 matching all)
            sn_net[i, :4] = np.uint64(0xFFFF_FFFF_FFFF_FFFF)
        if sn.ipv6_cidr_block is not None:
            sn_net[i, 4:] = net_to_words(sn.ipv6_cidr_block)
        rt = topo.route_table_for_subnet(sn.subnet_id)
        if rt is not None:
            sn_rt[i] = rt_index[rt.route_table_id]
    cidrs: list[tuple[int, IPNet]] = []
    for v in topo.vpcs:
        vnets: tuple[IPNet, ...] = (*v.cidr_blocks, *v.ipv6_cidr_blocks)
        cidrs.extend((vpc_index[v.vpc_id], c) for c in vnets)
    return {
        "sn_net": sn_net, "sn_has_v6": np.array([sn.ipv6_cidr_block is not None for sn in topo.subnets], np.bool_),
        "sn_acl": np.array([planner._subnet_acl.get(sn.subnet_id, -1) for sn in topo.subnets], np.int64),
        "sn_rt": sn_rt,
        "vpc_cidr": np.array([net_to_words(c) for _, c in cidrs], np.uint64).reshape(-1, 4),
        "vpc_cidr_vpc": np.array([v for v, _ in cidrs], np.int32),
        "vpc_cidr_fam": np.array([c.version for _, c in cidrs], np.uint8),
    }


def _route_kind(planner: Planner, target_kind: str, target_id: str) -> tuple[int, int]:
    """(route kind, target): NAT gateway ENI index, or the traffic-path value of a fixed target."""
    if target_kind == "local":
        return R_LOCAL, 1
    if target_kind in ("internet_gateway", "egress_only_internet_gateway"):
        return R_IGW, 0
    if target_kind == "gateway_endpoint":
        return R_GWE, 0
    if target_kind == "nat_gateway":
        return R_NAT, planner.nat_eni.get(target_id, -1)
    if target_kind == "vpc_peering_connection":
        pcx = planner.topo.peerings_by_id.get(target_id)
        return R_FIXED, 4 if pcx is None or pcx.requester_region == pcx.accepter_region else 5
    return R_FIXED, _FIXED_PATH.get(target_kind, -1)


def _route_columns(planner: Planner) -> dict[str, Any]:
    """Every route table flattened in route order, one row per destination CIDR."""
    topo = planner.topo
    rows: list[tuple[int, ...]] = []
    rt_start = np.zeros(len(topo.route_tables), np.int64)
    rt_end = np.zeros(len(topo.route_tables), np.int64)
    for i, rt in enumerate(topo.route_tables):
        rt_start[i] = len(rows)
        for r in rt.routes:
            nets: list[IPNet] = [c for c in (r.destination_cidr_block, r.destination_ipv6_cidr_block) if c is not None]
            if r.destination_prefix_list_id is not None:
                pl = topo.prefix_lists_by_id.get(r.destination_prefix_list_id)
                nets.extend(pl.cidrs if pl else ())
            kind, target = _route_kind(planner, r.target_kind, r.target_id)
            # Python's planner orders candidates per route: the IPv4/IPv6 CIDR, then prefix-list CIDRs.
            for c in nets:
                rows.append((*net_to_words(c), c.version, c.prefixlen, kind, target))
        rt_end[i] = len(rows)
    return {
        "rt_start": rt_start, "rt_end": rt_end,
        "r_net": np.array([r[:4] for r in rows], np.uint64).reshape(-1, 4),
        "r_fam": np.array([r[4] for r in rows], np.uint8),
        "r_plen": np.array([r[5] for r in rows], np.int16),
        "r_kind": np.array([r[6] for r in rows], np.int8),
        "r_target": np.array([r[7] for r in rows], np.int32),
    }


def compile_topology(planner: Planner) -> _native.AttributionTables:
    """The planner's tables, handed to the native core once per engine."""
    combined: dict[Any, int] = {a: e * 4 + 2 for a, e in planner.public.items()}
    combined.update({a: e * 4 for a, e in planner.private.items()})
    cat_code = {c: i + 1 for i, c in enumerate(NOT_CAPTURED_CATEGORIES)}
    owner_keys, owner_vals = _address_map(combined)
    special_keys, special_vals = _address_map({a: cat_code[c] for a, c in planner.special.items()})
    columns = {
        "owner_keys": owner_keys, "owner_vals": owner_vals,
        "special_keys": special_keys, "special_vals": special_vals,
        **_eni_columns(planner), **_network_columns(planner), **_route_columns(planner),
    }
    categories = {"dhcp": DHCP, "nlb_endpoint": NLB_ENDPOINT, "windows_activation": WINDOWS_ACTIVATION,
                  "mirrored": MIRRORED}
    return _native.AttributionTables(columns, categories)

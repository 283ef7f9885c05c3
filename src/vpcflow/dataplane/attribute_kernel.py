# numba kernels: numpy scalar arithmetic does not type as ``int`` and njit is an untyped decorator.
# mypy: disable-error-code="untyped-decorator,return-value,no-any-return"
"""The attribution planner compiled: ``attribute_plan.Planner`` as arrays and a numba kernel.

``Planner`` (plain Python, per address pair) is the readable definition, used by ``explain`` and by
the test reference; this module computes the SAME plans for thousands of new flows at once, so a
capture with many distinct peers (an internet-facing server) costs microseconds per new flow,
not a Python call. The hypothesis equivalence test checks the engine (this kernel) against the
reference (the Python planner) on random topologies.

Tables: an address map (address -> ENI*4 + kind; kind 0 private/IPv6, 2 public/Elastic/NAT public),
a special-address map (address -> not-captured category), per-ENI, per-subnet and per-VPC columns,
and every route table flattened in route order (longest prefix wins; on equal prefixes the first).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numba import njit

from vpcflow.dataplane.attribute_plan import NOT_CAPTURED_CATEGORIES, Planner
from vpcflow.dataplane.evaluate.hashing import PersistentMap, map_get2
from vpcflow.dataplane.evaluate.rules import net_to_words
from vpcflow.dataplane.packets import ip_to_pair
from vpcflow.model.topology.model import IPNet

# route kinds in the compiled table
R_LOCAL, R_IGW, R_GWE, R_FIXED, R_NAT = 0, 1, 2, 3, 4
T_OTHER, T_NLB, T_ENDPOINT, T_NAT = 0, 1, 2, 3
NLB_ENDPOINT = NOT_CAPTURED_CATEGORIES.index("nlb_endpoint") + 1

_FIXED_PATH = {"virtual_private_gateway": 3, "local_gateway": 6, "transit_gateway": 1, "network_interface": 1}


def _words(addr: object) -> tuple[int, int]:
    return ip_to_pair(addr)  # type: ignore[arg-type]


@dataclass
class CompiledTopology:
    owner: PersistentMap
    special: PersistentMap
    eni_subnet: npt.NDArray[np.int32]
    eni_vpc: npt.NDArray[np.int32]
    eni_prim: npt.NDArray[np.uint64]  # (n, 2)
    eni_v6: npt.NDArray[np.uint64]  # (n, 2)
    eni_has_v6: npt.NDArray[np.bool_]
    eni_type: npt.NDArray[np.int8]
    eni_nitro: npt.NDArray[np.bool_]
    sn_net: npt.NDArray[np.uint64]  # (s, 8): v4 net hi/lo mask hi/lo, v6 net hi/lo mask hi/lo
    sn_has_v6: npt.NDArray[np.bool_]
    sn_acl: npt.NDArray[np.int64]
    sn_rt: npt.NDArray[np.int32]
    vpc_cidr: npt.NDArray[np.uint64]  # (c, 4)
    vpc_cidr_vpc: npt.NDArray[np.int32]
    vpc_cidr_fam: npt.NDArray[np.uint8]
    rt_start: npt.NDArray[np.int64]
    rt_end: npt.NDArray[np.int64]
    r_net: npt.NDArray[np.uint64]  # (r, 4)
    r_fam: npt.NDArray[np.uint8]
    r_plen: npt.NDArray[np.int16]
    r_kind: npt.NDArray[np.int8]
    r_target: npt.NDArray[np.int32]  # NAT: ENI index; fixed: traffic-path value


def compile_topology(planner: Planner) -> CompiledTopology:
    topo = planner.topo
    enis = planner.enis
    combined: dict[object, int] = {a: e * 4 + 2 for a, e in planner.public.items()}
    combined.update({a: e * 4 for a, e in planner.private.items()})
    owner = PersistentMap(2, 2 * len(combined) + 16)
    if combined:
        owner.insert(np.array([_words(a) for a in combined], np.uint64).reshape(-1, 2),
                     np.array(list(combined.values()), np.int32))
    cat_code = {c: i + 1 for i, c in enumerate(NOT_CAPTURED_CATEGORIES)}
    special = PersistentMap(2, 2 * len(planner.special) + 16)
    special.insert(np.array([_words(a) for a in planner.special], np.uint64).reshape(-1, 2),
                   np.array([cat_code[c] for c in planner.special.values()], np.int32))
    sn_index = {s.subnet_id: i for i, s in enumerate(topo.subnets)}
    vpc_index = {v.vpc_id: i for i, v in enumerate(topo.vpcs)}
    rt_index = {r.route_table_id: i for i, r in enumerate(topo.route_tables)}
    n = len(enis)
    types = {"network_load_balancer": T_NLB, "vpc_endpoint": T_ENDPOINT, "gateway_load_balancer_endpoint": T_ENDPOINT,
             "nat_gateway": T_NAT}
    eni_prim = np.zeros((n, 2), np.uint64)
    eni_v6 = np.zeros((n, 2), np.uint64)
    for i, e in enumerate(enis):
        eni_prim[i] = _words(e.private_ip_address)
        if e.ipv6_addresses:
            eni_v6[i] = _words(e.ipv6_addresses[0])
    s = len(topo.subnets)
    sn_net = np.zeros((s, 8), np.uint64)
    sn_rt = np.full(s, -1, np.int32)
    for i, sn in enumerate(topo.subnets):
        sn_net[i, :4] = net_to_words(sn.cidr_block)
        if sn.ipv6_cidr_block is not None:
            sn_net[i, 4:] = net_to_words(sn.ipv6_cidr_block)
        rt = topo.route_table_for_subnet(sn.subnet_id)
        if rt is not None:
            sn_rt[i] = rt_index[rt.route_table_id]
    cidrs: list[tuple[int, IPNet]] = []
    for v in topo.vpcs:
        vnets: tuple[IPNet, ...] = (*v.cidr_blocks, *v.ipv6_cidr_blocks)
        cidrs.extend((vpc_index[v.vpc_id], c) for c in vnets)
    rows: list[tuple] = []
    rt_start = np.zeros(len(topo.route_tables), np.int64)
    rt_end = np.zeros(len(topo.route_tables), np.int64)
    for i, rt in enumerate(topo.route_tables):
        rt_start[i] = len(rows)
        for r in rt.routes:
            nets: list = [c for c in (r.destination_cidr_block, r.destination_ipv6_cidr_block) if c is not None]
            if r.destination_prefix_list_id is not None:
                pl = topo.prefix_lists_by_id.get(r.destination_prefix_list_id)
                nets.extend(pl.cidrs if pl else ())
            if r.target_kind == "local":
                kind, target = R_LOCAL, 1
            elif r.target_kind in ("internet_gateway", "egress_only_internet_gateway"):
                kind, target = R_IGW, 0
            elif r.target_kind == "gateway_endpoint":
                kind, target = R_GWE, 0
            elif r.target_kind == "nat_gateway":
                kind, target = R_NAT, planner.nat_eni.get(r.target_id, -1)
            elif r.target_kind == "vpc_peering_connection":
                pcx = topo.peerings_by_id.get(r.target_id)
                kind, target = R_FIXED, 4 if pcx is None or pcx.requester_region == pcx.accepter_region else 5
            else:
                kind, target = R_FIXED, _FIXED_PATH.get(r.target_kind, -1)
            # Python's planner orders candidates per route: the IPv4/IPv6 CIDR, then prefix-list CIDRs.
            for c in nets:
                rows.append((*net_to_words(c), c.version, c.prefixlen, kind, target))
        rt_end[i] = len(rows)
    return CompiledTopology(
        owner=owner, special=special,
        eni_subnet=np.array([sn_index.get(e.subnet_id, -1) for e in enis], np.int32),
        eni_vpc=np.array([vpc_index.get(e.vpc_id, -1) for e in enis], np.int32),
        eni_prim=eni_prim, eni_v6=eni_v6,
        eni_has_v6=np.array([bool(e.ipv6_addresses) for e in enis], np.bool_),
        eni_type=np.array([types.get(e.interface_type, T_OTHER) for e in enis], np.int8),
        eni_nitro=np.array([e.nitro for e in enis], np.bool_),
        sn_net=sn_net, sn_has_v6=np.array([sn.ipv6_cidr_block is not None for sn in topo.subnets], np.bool_),
        sn_acl=np.array([planner._subnet_acl.get(sn.subnet_id, -1) for sn in topo.subnets], np.int64),
        sn_rt=sn_rt,
        vpc_cidr=np.array([net_to_words(c) for _, c in cidrs], np.uint64).reshape(-1, 4),
        vpc_cidr_vpc=np.array([v for v, _ in cidrs], np.int32),
        vpc_cidr_fam=np.array([c.version for _, c in cidrs], np.uint8),
        rt_start=rt_start, rt_end=rt_end,
        r_net=np.array([r[:4] for r in rows], np.uint64).reshape(-1, 4),
        r_fam=np.array([r[4] for r in rows], np.uint8),
        r_plen=np.array([r[5] for r in rows], np.int16),
        r_kind=np.array([r[6] for r in rows], np.int8),
        r_target=np.array([r[7] for r in rows], np.int32),
    )


def plan_flows(ct: CompiledTopology, label: npt.NDArray[np.int32], ver: npt.NDArray[np.uint8],
               s_hi: npt.NDArray[np.uint64], s_lo: npt.NDArray[np.uint64], d_hi: npt.NDArray[np.uint64],
               d_lo: npt.NDArray[np.uint64]) -> tuple:
    """(category[u], points[u, 4, 14] int64 columns) - see ``_plan_kernel`` for the column order."""
    return _plan_kernel(  # type: ignore[no-any-return]
        label, ver, s_hi, s_lo, d_hi, d_lo, ct.owner.table, ct.owner.vals, ct.special.table, ct.special.vals,
        ct.eni_subnet, ct.eni_vpc, ct.eni_prim, ct.eni_v6, ct.eni_has_v6, ct.eni_type, ct.eni_nitro, ct.sn_net,
        ct.sn_has_v6, ct.sn_acl, ct.sn_rt, ct.vpc_cidr, ct.vpc_cidr_vpc, ct.vpc_cidr_fam, ct.rt_start, ct.rt_end,
        ct.r_net, ct.r_fam, ct.r_plen, ct.r_kind, ct.r_target,
    )


# Point columns (int64 view; addresses as uint64 bit patterns).
P_ENI, P_DIR, P_RS_HI, P_RS_LO, P_RD_HI, P_RD_LO, P_PS_HI, P_PS_LO, P_PD_HI, P_PD_LO, P_TPATH, P_PEER, P_REMOTE, \
    P_NACL = range(14)
N_COLS = 14


@njit(cache=True, inline="always")
def _in_net(hi: np.uint64, lo: np.uint64, net: npt.NDArray[np.uint64], off: int) -> bool:
    return (hi & net[off + 2]) == net[off] and (lo & net[off + 3]) == net[off + 1]


@njit(cache=True)
def _plan_kernel(label, ver, s_hi, s_lo, d_hi, d_lo, otab, ovals, stab, svals,  # type: ignore[no-untyped-def]
                 eni_subnet, eni_vpc, eni_prim, eni_v6, eni_has_v6, eni_type, eni_nitro, sn_net, sn_has_v6,
                 sn_acl, sn_rt, vpc_cidr, vpc_cidr_vpc, vpc_cidr_fam, rt_start, rt_end, r_net, r_fam, r_plen,
                 r_kind, r_target):
    u = label.shape[0]
    cat = np.zeros(u, np.int16)
    pts = np.full((u, 4, N_COLS), -1, np.int64)
    tmp = np.empty((5, N_COLS), np.int64)
    for f in range(u):
        v6 = ver[f] == 6
        sh, sl, dh, dl = s_hi[f], s_lo[f], d_hi[f], d_lo[f]
        c = map_get2(stab, svals, sh, sl)
        if c < 0:
            c = map_get2(stab, svals, dh, dl)
        category = c if c > 0 else 0
        so = map_get2(otab, ovals, sh, sl)
        do = map_get2(otab, ovals, dh, dl)
        s_e = so // 4 if so >= 0 else -1
        d_e = -1
        d_pub = -1
        if do >= 0:
            if do % 4 == 0:
                d_e = do // 4
            else:
                d_pub = do // 4
        if d_pub >= 0 and not v6:
            dah, dal = eni_prim[d_pub, 0], eni_prim[d_pub, 1]
        else:
            dah, dal = dh, dl
        if d_pub >= 0:
            d_e = d_pub
        if s_e >= 0 and so % 4 == 2:
            sah, sal = eni_prim[s_e, 0], eni_prim[s_e, 1]
        else:
            sah, sal = sh, sl
        n = 0
        if s_e >= 0:
            nat = -1
            if d_e < 0 or eni_vpc[d_e] != eni_vpc[s_e]:
                nat = _nat_via(s_e, dh, dl, v6, eni_subnet, eni_vpc, sn_rt, vpc_cidr, vpc_cidr_vpc, vpc_cidr_fam,
                               rt_start, rt_end, r_net, r_fam, r_plen, r_kind, r_target)
            if nat >= 0:
                nh, nl = eni_prim[nat, 0], eni_prim[nat, 1]
                _point(tmp, n, True, s_e, sah, sal, dh, dl, nat, v6, otab, ovals, eni_subnet, eni_vpc, eni_prim,
                       eni_v6, eni_has_v6, eni_nitro, sn_net, sn_has_v6, sn_acl, sn_rt, vpc_cidr, vpc_cidr_vpc,
                       vpc_cidr_fam, rt_start, rt_end, r_net, r_fam, r_plen, r_kind, r_target)
                _point(tmp, n + 1, False, nat, sah, sal, dh, dl, s_e, v6, otab, ovals, eni_subnet, eni_vpc,
                       eni_prim, eni_v6, eni_has_v6, eni_nitro, sn_net, sn_has_v6, sn_acl, sn_rt, vpc_cidr,
                       vpc_cidr_vpc, vpc_cidr_fam, rt_start, rt_end, r_net, r_fam, r_plen, r_kind, r_target)
                _point(tmp, n + 2, True, nat, nh, nl, dah, dal, d_e, v6, otab, ovals, eni_subnet, eni_vpc, eni_prim,
                       eni_v6, eni_has_v6, eni_nitro, sn_net, sn_has_v6, sn_acl, sn_rt, vpc_cidr, vpc_cidr_vpc,
                       vpc_cidr_fam, rt_start, rt_end, r_net, r_fam, r_plen, r_kind, r_target)
                n = 3
                if d_e >= 0:
                    _point(tmp, n, False, d_e, nh, nl, dah, dal, nat, v6, otab, ovals, eni_subnet, eni_vpc,
                           eni_prim, eni_v6, eni_has_v6, eni_nitro, sn_net, sn_has_v6, sn_acl, sn_rt, vpc_cidr,
                           vpc_cidr_vpc, vpc_cidr_fam, rt_start, rt_end, r_net, r_fam, r_plen, r_kind, r_target)
                    n = 4
            else:
                _point(tmp, 0, True, s_e, sah, sal, dah, dal, d_e, v6, otab, ovals, eni_subnet, eni_vpc, eni_prim,
                       eni_v6, eni_has_v6, eni_nitro, sn_net, sn_has_v6, sn_acl, sn_rt, vpc_cidr, vpc_cidr_vpc,
                       vpc_cidr_fam, rt_start, rt_end, r_net, r_fam, r_plen, r_kind, r_target)
                n = 1
                if d_e >= 0 and d_e != s_e:
                    _point(tmp, 1, False, d_e, sah, sal, dah, dal, s_e, v6, otab, ovals, eni_subnet, eni_vpc,
                           eni_prim, eni_v6, eni_has_v6, eni_nitro, sn_net, sn_has_v6, sn_acl, sn_rt, vpc_cidr,
                           vpc_cidr_vpc, vpc_cidr_fam, rt_start, rt_end, r_net, r_fam, r_plen, r_kind, r_target)
                    n = 2
        elif d_e >= 0:
            nat = -1
            if d_pub < 0:
                nat = _nat_via(d_e, sh, sl, v6, eni_subnet, eni_vpc, sn_rt, vpc_cidr, vpc_cidr_vpc, vpc_cidr_fam,
                               rt_start, rt_end, r_net, r_fam, r_plen, r_kind, r_target)
            if nat >= 0 and eni_type[d_e] != T_NAT:
                nh, nl = eni_prim[nat, 0], eni_prim[nat, 1]
                _point(tmp, 0, False, nat, sh, sl, nh, nl, -1, v6, otab, ovals, eni_subnet, eni_vpc, eni_prim,
                       eni_v6, eni_has_v6, eni_nitro, sn_net, sn_has_v6, sn_acl, sn_rt, vpc_cidr, vpc_cidr_vpc,
                       vpc_cidr_fam, rt_start, rt_end, r_net, r_fam, r_plen, r_kind, r_target)
                _point(tmp, 1, True, nat, sh, sl, dah, dal, d_e, v6, otab, ovals, eni_subnet, eni_vpc, eni_prim,
                       eni_v6, eni_has_v6, eni_nitro, sn_net, sn_has_v6, sn_acl, sn_rt, vpc_cidr, vpc_cidr_vpc,
                       vpc_cidr_fam, rt_start, rt_end, r_net, r_fam, r_plen, r_kind, r_target)
                _point(tmp, 2, False, d_e, sh, sl, dah, dal, nat, v6, otab, ovals, eni_subnet, eni_vpc, eni_prim,
                       eni_v6, eni_has_v6, eni_nitro, sn_net, sn_has_v6, sn_acl, sn_rt, vpc_cidr, vpc_cidr_vpc,
                       vpc_cidr_fam, rt_start, rt_end, r_net, r_fam, r_plen, r_kind, r_target)
                n = 3
            else:
                _point(tmp, 0, False, d_e, sh, sl, dah, dal, -1, v6, otab, ovals, eni_subnet, eni_vpc, eni_prim,
                       eni_v6, eni_has_v6, eni_nitro, sn_net, sn_has_v6, sn_acl, sn_rt, vpc_cidr, vpc_cidr_vpc,
                       vpc_cidr_fam, rt_start, rt_end, r_net, r_fam, r_plen, r_kind, r_target)
                n = 1
        lab = label[f]
        m = 0
        if lab >= 0:
            for k in range(n):
                if tmp[k, P_ENI] == lab:
                    pts[f, m, :] = tmp[k, :]
                    m += 1
            if m == 0:
                # A packet on the labelled ENI that is neither from nor to it (forwarding appliance).
                if (so >= 0 and so % 4 == 0) or _in_vpc(eni_vpc[lab], sh, sl, v6, vpc_cidr, vpc_cidr_vpc,
                                                        vpc_cidr_fam):
                    snd = so // 4 if so >= 0 and so % 4 == 0 else -1
                    _point(tmp, 4, False, lab, sh, sl, dh, dl, snd, v6, otab, ovals, eni_subnet, eni_vpc,
                           eni_prim, eni_v6, eni_has_v6, eni_nitro, sn_net, sn_has_v6, sn_acl, sn_rt, vpc_cidr,
                           vpc_cidr_vpc, vpc_cidr_fam, rt_start, rt_end, r_net, r_fam, r_plen, r_kind, r_target)
                else:
                    rcv = do // 4 if do >= 0 and do % 4 == 0 else -1
                    _point(tmp, 4, True, lab, sh, sl, dh, dl, rcv, v6, otab, ovals, eni_subnet, eni_vpc,
                           eni_prim, eni_v6, eni_has_v6, eni_nitro, sn_net, sn_has_v6, sn_acl, sn_rt, vpc_cidr,
                           vpc_cidr_vpc, vpc_cidr_fam, rt_start, rt_end, r_net, r_fam, r_plen, r_kind, r_target)
                pts[f, 0, :] = tmp[4, :]
                m = 1
        else:
            for k in range(n):
                pts[f, k, :] = tmp[k, :]
            m = n
        if category == 0:
            for k in range(m):
                peer = pts[f, k, P_PEER]
                if peer >= 0:
                    a, b = eni_type[pts[f, k, P_ENI]], eni_type[peer]
                    if (a == T_NLB and b == T_ENDPOINT) or (b == T_NLB and a == T_ENDPOINT):
                        category = NLB_ENDPOINT
        if category == 0 and m == 0:
            category = -1
        cat[f] = category
    return cat, pts


@njit(cache=True)
def _in_vpc(vpc, hi, lo, v6, vpc_cidr, vpc_cidr_vpc, vpc_cidr_fam):  # type: ignore[no-untyped-def]
    fam = 6 if v6 else 4
    for i in range(vpc_cidr.shape[0]):
        if vpc_cidr_vpc[i] == vpc and vpc_cidr_fam[i] == fam and (hi & vpc_cidr[i, 2]) == vpc_cidr[i, 0] \
                and (lo & vpc_cidr[i, 3]) == vpc_cidr[i, 1]:
            return True
    return False


@njit(cache=True)
def _route(e, hi, lo, v6, eni_subnet, eni_vpc, sn_rt, vpc_cidr, vpc_cidr_vpc, vpc_cidr_fam,  # type: ignore[no-untyped-def]
           rt_start, rt_end, r_net, r_fam, r_plen, r_kind, r_target):
    """Index of the longest matching route, -2 for the implicit local route, -1 for none."""
    sn = eni_subnet[e]
    rt = sn_rt[sn] if sn >= 0 else -1
    best = -1
    if rt >= 0:
        fam = 6 if v6 else 4
        best_len = -1
        for r in range(rt_start[rt], rt_end[rt]):
            if r_fam[r] != fam:
                continue
            if (hi & r_net[r, 2]) == r_net[r, 0] and (lo & r_net[r, 3]) == r_net[r, 1] and r_plen[r] > best_len:
                best = r
                best_len = r_plen[r]
    if best < 0 and _in_vpc(eni_vpc[e], hi, lo, v6, vpc_cidr, vpc_cidr_vpc, vpc_cidr_fam):
        return -2
    return best


@njit(cache=True)
def _nat_via(e, hi, lo, v6, eni_subnet, eni_vpc, sn_rt, vpc_cidr, vpc_cidr_vpc, vpc_cidr_fam,  # type: ignore[no-untyped-def]
             rt_start, rt_end, r_net, r_fam, r_plen, r_kind, r_target):
    r = _route(e, hi, lo, v6, eni_subnet, eni_vpc, sn_rt, vpc_cidr, vpc_cidr_vpc, vpc_cidr_fam, rt_start, rt_end,
               r_net, r_fam, r_plen, r_kind, r_target)
    if r < 0 or r_kind[r] != R_NAT:
        return -1
    nat = r_target[r]
    return -1 if nat == e else nat


@njit(cache=True)
def _point(tmp, k, egress, e, s_hi, s_lo, d_hi, d_lo, other, v6, otab, ovals,  # type: ignore[no-untyped-def]
           eni_subnet, eni_vpc, eni_prim, eni_v6, eni_has_v6, eni_nitro, sn_net, sn_has_v6, sn_acl, sn_rt,
           vpc_cidr, vpc_cidr_vpc, vpc_cidr_fam, rt_start, rt_end, r_net, r_fam, r_plen, r_kind, r_target):
    """Fill observation ``k`` (mirrors Planner._egress / Planner._ingress)."""
    tmp[k, P_ENI] = e
    tmp[k, P_DIR] = 1 if egress else 0
    tmp[k, P_PS_HI] = np.int64(s_hi)
    tmp[k, P_PS_LO] = np.int64(s_lo)
    tmp[k, P_PD_HI] = np.int64(d_hi)
    tmp[k, P_PD_LO] = np.int64(d_lo)
    tmp[k, P_PEER] = other
    # remote address: the destination for egress, the source for ingress
    rh, rl = (d_hi, d_lo) if egress else (s_hi, s_lo)
    own = map_get2(otab, ovals, rh, rl)
    tmp[k, P_REMOTE] = own // 4 if own >= 0 and own % 4 == 0 else -1
    # the ENI-side address (spec 2.6): primary private IPv4, or the ENI's own IPv6 address
    ah, al = (s_hi, s_lo) if egress else (d_hi, d_lo)
    if not v6:
        ph, pl = eni_prim[e, 0], eni_prim[e, 1]
    else:
        mine = map_get2(otab, ovals, ah, al)
        if (mine >= 0 and mine % 4 == 0 and mine // 4 == e) or not eni_has_v6[e]:
            ph, pl = ah, al
        else:
            ph, pl = eni_v6[e, 0], eni_v6[e, 1]
    if egress:
        tmp[k, P_RS_HI], tmp[k, P_RS_LO] = np.int64(ph), np.int64(pl)
        tmp[k, P_RD_HI], tmp[k, P_RD_LO] = np.int64(d_hi), np.int64(d_lo)
    else:
        tmp[k, P_RS_HI], tmp[k, P_RS_LO] = np.int64(s_hi), np.int64(s_lo)
        tmp[k, P_RD_HI], tmp[k, P_RD_LO] = np.int64(ph), np.int64(pl)
    # NACL at the subnet boundary
    sn = eni_subnet[e]
    if other >= 0:
        crossing = eni_subnet[other] != sn
    elif sn < 0:
        crossing = True
    elif not v6:
        crossing = not _in_net(rh, rl, sn_net[sn], 0)
    else:
        crossing = not (sn_has_v6[sn] and _in_net(rh, rl, sn_net[sn], 4))
    tmp[k, P_NACL] = (sn_acl[sn] if sn >= 0 else -1) if crossing else -1
    # traffic-path (egress only)
    path = -1
    if egress:
        if other >= 0 and eni_vpc[other] == eni_vpc[e]:
            path = 1
        else:
            r = _route(e, d_hi, d_lo, v6, eni_subnet, eni_vpc, sn_rt, vpc_cidr, vpc_cidr_vpc, vpc_cidr_fam, rt_start,
                       rt_end, r_net, r_fam, r_plen, r_kind, r_target)
            if r == -2:
                path = 1
            elif r >= 0:
                kind = r_kind[r]
                if kind == R_LOCAL:
                    path = 1
                elif kind == R_IGW:
                    path = 8 if eni_nitro[e] else 2
                elif kind == R_GWE:
                    path = 7 if eni_nitro[e] else 2
                elif kind == R_NAT:
                    path = 1
                else:
                    path = r_target[r]
    tmp[k, P_TPATH] = path

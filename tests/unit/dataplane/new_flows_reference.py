"""The oracle of the engine's native new-flow step (``FlowTable.add_flows``): the numpy glue that
did it before (``dataplane/attribute/new_flows.py`` and ``PolicyEngine._add_flows``), kept as it was.

From the native plan of a batch's new flows: the not-captured category (ports, spec 2.7), the
observation points kept (one row per flow and point, ``FlowPoints``), their security-group first
allow and untracked status, their network-ACL first match, packed for the connection tracker.
``reference_new_flows`` runs it for one batch's new flows and returns what the old engine stored
(four rows per flow) in the compact form the flow table keeps (each flow's points, in order).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from vpcflow import _native
from vpcflow.dataplane.attribute.kernel import (
    P_DIR,
    P_ENI,
    P_NACL,
    P_PD_HI,
    P_PD_LO,
    P_PEER,
    P_PS_HI,
    P_PS_LO,
    P_RD_HI,
    P_RD_LO,
    P_REMOTE,
    P_RS_HI,
    P_RS_LO,
    P_TPATH,
)
from vpcflow.dataplane.evaluate.security_groups import CompiledSecurityGroups
from vpcflow.dataplane.packets import PacketBatch, pair_to_ip

MAX_POINTS = 4

Arr = npt.NDArray[Any]


def columns(**arrays: Arr) -> dict[str, Arr]:
    """Named columns for the native core, each contiguous (a no-op for most)."""
    return {k: np.ascontiguousarray(v) for k, v in arrays.items()}


class FlowPoints(NamedTuple):
    """The observation points of new flows, one row per (flow, point), and what the checks need."""

    fi: Arr  # the flow (index among the new flows)
    q: Arr  # the row in the engine's flow-point columns
    pt: Arr  # the plan's point row, (m, N_COLS)
    u64: Arr  # the same, viewed as uint64 (addresses)
    eni: Arr
    dir: Arr  # 1: egress
    egress: Arr
    ps_hi: Arr
    ps_lo: Arr
    pd_hi: Arr
    pd_lo: Arr
    r_hi: Arr  # the remote address: the destination of an egress point, the source otherwise
    r_lo: Arr
    remote_eni: Arr
    ver: Arr
    proto: Arr
    sport: Arr
    dport: Arr
    itype: Arr
    icode: Arr
    frag2: Arr


def port_categories(category: Arr, proto: Arr, sport: Arr, dport: Arr) -> npt.NDArray[np.int16]:
    """The plan's categories with the port-defined ones, which take precedence (spec 2.7): DHCP, mirrored."""
    udp = proto == 17
    dhcp = udp & (((sport == 68) & (dport == 67)) | ((sport == 67) & (dport == 68))
                  | ((sport == 546) & (dport == 547)) | ((sport == 547) & (dport == 546)))
    mirrored = udp & (dport == 4789)
    category = np.where(mirrored, 2, category)
    return np.where(dhcp, 1, category).astype(np.int16)


def select_points(base: int, pts: Arr, category: Arr, ver: Arr, proto: Arr, sport: Arr, dport: Arr,
                  itype: Arr, icode: Arr, frag2: Arr) -> FlowPoints:
    """The planned points at a modelled ENI of the captured new flows (ids from ``base``), as rows."""
    eni = pts[:, :, P_ENI].astype(np.int32)
    eni[category != 0] = -1
    fi, jj = np.nonzero(eni >= 0)
    pt = pts[fi, jj]  # (m, N_COLS)
    d_q = pt[:, P_DIR].astype(np.uint8)
    egress = d_q == 1
    u64 = pt.view(np.uint64)
    ps_hi, ps_lo, pd_hi, pd_lo = u64[:, P_PS_HI], u64[:, P_PS_LO], u64[:, P_PD_HI], u64[:, P_PD_LO]
    return FlowPoints(
        fi=fi, q=(base + fi) * MAX_POINTS + jj, pt=pt, u64=u64, eni=eni[fi, jj], dir=d_q, egress=egress,
        ps_hi=ps_hi, ps_lo=ps_lo, pd_hi=pd_hi, pd_lo=pd_lo,
        r_hi=np.where(egress, pd_hi, ps_hi), r_lo=np.where(egress, pd_lo, ps_lo),
        remote_eni=pt[:, P_REMOTE].astype(np.int32), ver=ver[fi], proto=proto[fi], sport=sport[fi],
        dport=dport[fi], itype=itype[fi], icode=icode[fi], frag2=frag2[fi])


def security_group_checks(sg: CompiledSecurityGroups, rules: _native.SecurityGroupRules,
                          p: FlowPoints) -> tuple[Arr, Arr]:
    """Each point's first allowing security-group rule, and whether its flow is untracked."""
    e_q, d_q, ver, proto = p.eni, p.dir, p.ver, p.proto
    slot = e_q.astype(np.int64) * 2 + d_q
    # Untracked flows (AWS "untracked connections"): TCP/UDP allowed by a /0 rule in one direction
    # while the other direction allows /0 on all ports. Both the initiating packet (A) and the
    # responses of such a flow (B: the reversed packet would match a /0 rule the other way) are
    # untracked, unless the ENI or its peer is of an automatically tracked type.
    fam = (ver == 6).astype(np.int64)
    pidx = np.where(proto == 17, 1, 0)
    rslot = e_q.astype(np.int64) * 2 + (1 - d_q)
    remote_eni = p.remote_eni
    remote_auto = np.where(remote_eni >= 0, sg.auto_tracked[np.maximum(remote_eni, 0)], False)
    may_untrack = ((proto == 6) | (proto == 17)) & ~sg.auto_tracked[e_q] & ~remote_auto
    open_other = sg.open_all[rslot, fam, pidx] & may_untrack
    open_this = sg.open_all[slot, fam, pidx] & may_untrack
    sg_rule, any0 = rules.first_allow(
        columns(slot=slot, version=ver, proto=proto, dport=p.dport, itype=p.itype, icode=p.icode, frag2=p.frag2,
                hi=p.r_hi, lo=p.r_lo),
        np.ascontiguousarray(remote_eni), np.ascontiguousarray(open_other))
    rev_any0 = np.zeros(p.fi.shape[0], np.bool_)
    sub = np.nonzero(open_this)[0]
    if sub.size:
        _, rev_any0[sub] = rules.first_allow(
            columns(slot=rslot[sub], version=ver[sub], proto=proto[sub], dport=p.sport[sub], itype=p.itype[sub],
                    icode=p.icode[sub], frag2=p.frag2[sub], hi=p.r_hi[sub], lo=p.r_lo[sub]),
            remote_eni[sub], open_this[sub])
    untracked = (any0 & open_other) | (rev_any0 & open_this)
    return sg_rule, untracked


def network_acl_checks(rules: _native.NetworkAclRules, p: FlowPoints) -> tuple[Arr, Arr]:
    """Each point's first matching network-ACL rule (-1: none) and whether it allows."""
    # NACLs: inbound rules match the source, outbound rules the destination: the remote address.
    nacl_idx = p.pt[:, P_NACL]
    has = nacl_idx >= 0
    n_rule, n_ok = rules.decide(columns(
        slot=(nacl_idx * 2 + p.dir)[has], version=p.ver[has], proto=p.proto[has], dport=p.dport[has],
        itype=p.itype[has], icode=p.icode[has], frag2=p.frag2[has], hi=p.r_hi[has], lo=p.r_lo[has]))
    nacl_rule = np.full(p.fi.shape[0], -1, np.int32)
    nacl_rule[has] = n_rule
    nacl_ok = np.ones(p.fi.shape[0], np.bool_)
    nacl_ok[has] = n_ok
    return nacl_rule, nacl_ok


def pack_checked_points(sg: CompiledSecurityGroups, p: FlowPoints, sg_rule: Arr, untracked: Arr,
                        nacl_rule: Arr, nacl_ok: Arr) -> Arr:
    """The points with their checks, packed for the connection tracker (ports only for TCP/UDP)."""
    egress, sport, dport = p.egress, p.sport, p.dport
    l_hi, l_lo = np.where(egress, p.ps_hi, p.pd_hi), np.where(egress, p.ps_lo, p.pd_lo)
    tcp_udp = (p.proto == 6) | (p.proto == 17)
    lport = np.where(egress, sport, dport).astype(np.int64)
    rport = np.where(egress, dport, sport).astype(np.int64)
    packed: Arr = _native.pack_points(columns(
        eni=p.eni, egress=egress, untracked=untracked, nacl_ok=nacl_ok, has_sg=sg.has_sg[p.eni], sg_rule=sg_rule,
        nacl_rule=nacl_rule, local_port=np.where(tcp_udp, lport, 0).astype(np.uint16),
        remote_port=np.where(tcp_udp, rport, 0).astype(np.uint16), l_hi=l_hi, l_lo=l_lo, r_hi=p.r_hi, r_lo=p.r_lo))
    return packed


class ReferenceNewFlows(NamedTuple):
    """What the old engine stored for a batch's new flows, its rows compacted (flow-major)."""

    category: Arr  # per new flow
    count: Arr  # points per new flow
    points: Arr  # (m, 8) packed rows
    fields: dict[str, Arr]  # the record fields per row (FLOW_POINT_COLUMNS but the service codes)
    src_service: list[str | None]  # the AWS service of each row's packet source / destination
    dst_service: list[str | None]


def reference_new_flows(engine: Any, batch: PacketBatch, first: Arr) -> ReferenceNewFlows:
    """The old ``_add_flows`` of ``engine``'s tables over new flows whose first packets are ``first``."""
    label = engine._labels(batch)
    frag2 = batch.fragment == 2
    proto = batch.protocol
    icmp = (proto == 1) | (proto == 58)
    itype = np.where(icmp, batch.icmp_type, np.int16(-1)).astype(np.int16)
    icode = np.where(icmp, batch.icmp_code, np.int16(-1)).astype(np.int16)
    f_ver = batch.ip_version[first]
    f_proto = batch.protocol[first].astype(np.int16)
    f_sport = batch.src_port[first].astype(np.int32)
    f_dport = batch.dst_port[first].astype(np.int32)
    category, pts = engine.compiled.plan(label[first], f_ver, batch.src_hi[first], batch.src_lo[first],
                                         batch.dst_hi[first], batch.dst_lo[first])
    category = port_categories(category, f_proto, f_sport, f_dport)
    p = select_points(0, pts, category, f_ver, f_proto, f_sport, f_dport, itype[first].astype(np.int16),
                      icode[first].astype(np.int16), frag2[first])
    sg_rule, untracked = security_group_checks(engine.sg, engine._sg_rules, p)
    nacl_rule, nacl_ok = network_acl_checks(engine._nacl_rules, p)
    packed = pack_checked_points(engine.sg, p, sg_rule, untracked, nacl_rule, nacl_ok)
    u64, pt = p.u64, p.pt
    fields = {
        "eni": p.eni, "dir": p.dir,
        "rs_hi": u64[:, P_RS_HI], "rs_lo": u64[:, P_RS_LO], "rd_hi": u64[:, P_RD_HI], "rd_lo": u64[:, P_RD_LO],
        "ps_hi": p.ps_hi, "ps_lo": p.ps_lo, "pd_hi": p.pd_hi, "pd_lo": p.pd_lo,
        "tpath": pt[:, P_TPATH].astype(np.int8), "peer": pt[:, P_PEER].astype(np.int32),
    }
    svc = engine.planner.service if engine.planner.services is not None else (lambda _a: None)
    return ReferenceNewFlows(
        category=category, count=np.bincount(p.fi, minlength=first.shape[0]), points=packed, fields=fields,
        src_service=[svc(pair_to_ip(int(h), int(lo))) for h, lo in zip(p.ps_hi, p.ps_lo, strict=True)],
        dst_service=[svc(pair_to_ip(int(h), int(lo))) for h, lo in zip(p.pd_hi, p.pd_lo, strict=True)],
    )

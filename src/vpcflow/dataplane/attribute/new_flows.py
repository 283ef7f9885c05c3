"""The stateless checks of newly seen flows, step 2 of ``engine`` (``PolicyEngine._add_flows``).

From the native plan of a batch's new flows: the not-captured category (ports, spec 2.7), the
observation points kept (one row per flow and point, ``FlowPoints``), their security-group first
allow and untracked status, their network-ACL first match, packed for the connection tracker.
All columnar, once per distinct flow, never per packet.
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
    P_PS_HI,
    P_PS_LO,
    P_REMOTE,
)
from vpcflow.dataplane.evaluate.security_groups import CompiledSecurityGroups

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

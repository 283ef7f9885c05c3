//! The stateless checks of one newly seen flow: what `PolicyEngine` did per batch in numpy
//! (`dataplane/attribute/new_flows.py` before the step moved here), now per flow in one pass.
//!
//! For a flow: the plan's not-captured category with the port-defined ones over it (spec 2.7:
//! DHCP, then mirrored VXLAN), and for each planned point of a captured flow the security-group
//! first allow, the untracked-connection test and the network-ACL first match, packed into the
//! point row the connection tracker reads (`layout::Point`). The semantics are those of the numpy
//! glue, kept in the tests as the oracle (tests/unit/dataplane/new_flows_reference.py).

use super::attribute::{Addr, Categories, Row, P_DIR, P_ENI, P_NACL, P_PD, P_PS, P_REMOTE};
use super::layout::Point;
use super::matcher::Query;
use super::network_acls::NetworkAclRules;
use super::security_groups::SecurityGroupRules;

const TCP: u8 = 6;
const UDP: u8 = 17;
/// VXLAN: the port traffic-mirroring sessions deliver copies to.
const VXLAN_PORT: u16 = 4789;

/// The packet fields of a new flow's first packet that its checks read.
#[derive(Clone, Copy, Debug, Default)]
pub struct FlowIn {
    pub version: u8,
    pub proto: u8,
    pub frag2: bool,
    pub sport: u16,
    pub dport: u16,
    /// ICMP type and code, -1 unless ICMP / ICMPv6.
    pub itype: i16,
    pub icode: i16,
}

/// The plan's category with the port-defined categories, which take precedence (spec 2.7): a
/// DHCP exchange (v4 68<->67, v6 546<->547) over a mirrored copy (UDP to 4789) over the plan's.
pub fn port_category(c: &Categories, plan_category: i16, f: &FlowIn) -> i16 {
    if f.proto != UDP {
        return plan_category;
    }
    let dhcp = matches!(
        (f.sport, f.dport),
        (68, 67) | (67, 68) | (546, 547) | (547, 546)
    );
    if dhcp {
        c.dhcp
    } else if f.dport == VXLAN_PORT {
        c.mirrored
    } else {
        plan_category
    }
}

#[inline]
fn addr(row: &Row, col: usize) -> Addr {
    (row[col] as u64, row[col + 1] as u64)
}

/// Whether the flow is untracked at this point (AWS "untracked connections"): TCP/UDP allowed by
/// a /0 rule in one direction while the other direction allows /0 on all ports. Both the
/// initiating packet (the forward scan found a /0 rule and the other direction is open) and the
/// responses of such a flow (the reversed packet would match a /0 rule the other way) are
/// untracked, unless the ENI or its peer is of an automatically tracked type.
#[allow(clippy::too_many_arguments)]
fn untracked(
    sg: &SecurityGroupRules,
    f: &FlowIn,
    q: &Query,
    e: usize,
    egress: bool,
    remote_eni: i32,
    forward_slash0: bool,
    open_other: bool,
) -> bool {
    if forward_slash0 && open_other {
        return true;
    }
    let slot = e * 2 + egress as usize;
    if !may_untrack(sg, f, e, remote_eni) || !sg.open_all(slot, f.version == 6, f.proto == UDP) {
        return false;
    }
    let reverse = Query {
        dport: f.sport as i32,
        ..*q
    };
    let rslot = e * 2 + 1 - egress as usize;
    sg.first_allow(rslot, &reverse, remote_eni, true).any_slash0
}

#[inline]
fn may_untrack(sg: &SecurityGroupRules, f: &FlowIn, e: usize, remote_eni: i32) -> bool {
    let remote_auto = remote_eni >= 0 && sg.auto_tracked[remote_eni as usize];
    (f.proto == TCP || f.proto == UDP) && !sg.auto_tracked[e] && !remote_auto
}

/// One planned point of a captured flow with its stateless checks, packed for the tracker.
pub fn check_point(
    sg: &SecurityGroupRules,
    nacl: &NetworkAclRules,
    f: &FlowIn,
    row: &Row,
) -> Point {
    let e = row[P_ENI] as usize;
    let egress = row[P_DIR] == 1;
    let (ps, pd) = (addr(row, P_PS), addr(row, P_PD));
    // Rules see the remote address: the destination of an egress point, the source otherwise.
    let (local, remote) = if egress { (ps, pd) } else { (pd, ps) };
    let remote_eni = row[P_REMOTE] as i32;
    let q = Query {
        family: if f.version == 4 { 4 } else { 6 },
        proto: f.proto as i16,
        dport: f.dport as i32,
        itype: f.itype,
        icode: f.icode,
        frag2: f.frag2,
        hi: remote.0,
        lo: remote.1,
    };
    let rslot = e * 2 + 1 - egress as usize;
    let open_other =
        may_untrack(sg, f, e, remote_eni) && sg.open_all(rslot, f.version == 6, f.proto == UDP);
    let m = sg.first_allow(e * 2 + egress as usize, &q, remote_eni, open_other);
    let untracked = untracked(sg, f, &q, e, egress, remote_eni, m.any_slash0, open_other);
    let nacl_idx = row[P_NACL];
    let (nacl_rule, nacl_ok) = if nacl_idx >= 0 {
        nacl.decide((nacl_idx * 2 + egress as i64) as usize, &q)
    } else {
        (-1, true)
    };
    let tcp_udp = f.proto == TCP || f.proto == UDP;
    let (lport, rport) = match (tcp_udp, egress) {
        (false, _) => (0, 0),
        (true, true) => (f.sport, f.dport),
        (true, false) => (f.dport, f.sport),
    };
    Point {
        eni: e as i32,
        egress,
        untracked,
        nacl_ok,
        has_sg: sg.has_sg[e],
        sg_rule: m.rule,
        nacl_rule,
        local_port: lport,
        remote_port: rport,
        local,
        remote,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATS: Categories = Categories {
        dhcp: 1,
        nlb_endpoint: 9,
        windows_activation: 8,
        mirrored: 2,
    };

    fn udp(sport: u16, dport: u16) -> FlowIn {
        FlowIn {
            version: 4,
            proto: UDP,
            sport,
            dport,
            itype: -1,
            icode: -1,
            ..Default::default()
        }
    }

    #[test]
    fn dhcp_wins_over_mirrored_which_wins_over_the_plan() {
        assert_eq!(port_category(&CATS, 0, &udp(68, 67)), 1);
        assert_eq!(port_category(&CATS, 5, &udp(547, 546)), 1);
        assert_eq!(port_category(&CATS, 5, &udp(40000, 4789)), 2);
        assert_eq!(port_category(&CATS, 5, &udp(68, 68)), 5);
        assert_eq!(port_category(&CATS, -1, &udp(4789, 53)), -1);
        let tcp = FlowIn {
            proto: TCP,
            ..udp(68, 67)
        };
        assert_eq!(port_category(&CATS, 0, &tcp), 0);
    }
}

//! The engine's flow table: per flow its not-captured category and its observation points, the
//! points stored compactly (each flow's rows follow the previous flow's: `start[f]..start[f + 1]`)
//! rather than four fixed rows per flow, since most flows have one or two points.
//!
//! Per point: the packed row the connection tracker reads and updates (`layout::Point`, its slot
//! cache included) and the record fields the observation rows carry (`PointFields`). Flows are
//! added a batch at a time, in flow-id order, by `add` (plan -> categories -> checks, per flow);
//! a flow-cache reset (`clear`) empties the table but keeps its capacity, and keeps the AWS-service
//! code of every address resolved so far (those never change).

use std::ops::Range;

use super::attribute::{
    Addr, PlanTables, Row, P_DIR, P_ENI, P_PD, P_PEER, P_PS, P_RD, P_RS, P_TPATH,
};
use super::hashing::KeyMap;
use super::layout::{FlowFields, POINT_WIDTH};
use super::network_acls::NetworkAclRules;
use super::new_flows::{check_point, port_category, FlowIn};
use super::security_groups::SecurityGroupRules;

/// The same call on every per-point field column (they differ in type, so no loop over them all).
macro_rules! each_point_column {
    ($f:expr, $op:ident($n:expr)) => {{
        let f = &mut $f;
        f.eni.$op($n);
        f.dir.$op($n);
        for c in f.u64_columns() {
            c.$op($n);
        }
        f.tpath.$op($n);
        f.peer.$op($n);
        f.ssvc.$op($n);
        f.dsvc.$op($n);
    }};
}

/// An AWS-service code not known yet: Python resolves the address (`FlowTable::resolve_services`).
pub const SERVICE_PENDING: i16 = i16::MIN;

/// The record fields of each point (the engine's former `FLOW_POINT_COLUMNS`), one entry per point.
#[derive(Clone, Debug, Default)]
pub struct PointFields {
    pub eni: Vec<i32>,
    pub dir: Vec<u8>,
    pub rs_hi: Vec<u64>,
    pub rs_lo: Vec<u64>,
    pub rd_hi: Vec<u64>,
    pub rd_lo: Vec<u64>,
    pub ps_hi: Vec<u64>,
    pub ps_lo: Vec<u64>,
    pub pd_hi: Vec<u64>,
    pub pd_lo: Vec<u64>,
    pub tpath: Vec<i8>,
    pub peer: Vec<i32>,
    pub ssvc: Vec<i16>,
    pub dsvc: Vec<i16>,
}

impl PointFields {
    fn clear(&mut self) {
        self.eni.clear();
        self.dir.clear();
        for c in self.u64_columns() {
            c.clear();
        }
        self.tpath.clear();
        self.peer.clear();
        self.ssvc.clear();
        self.dsvc.clear();
    }

    fn u64_columns(&mut self) -> [&mut Vec<u64>; 8] {
        [
            &mut self.rs_hi,
            &mut self.rs_lo,
            &mut self.rd_hi,
            &mut self.rd_lo,
            &mut self.ps_hi,
            &mut self.ps_lo,
            &mut self.pd_hi,
            &mut self.pd_lo,
        ]
    }

    fn push(&mut self, row: &Row) {
        self.eni.push(row[P_ENI] as i32);
        self.dir.push(row[P_DIR] as u8);
        for (c, col) in [
            P_RS,
            P_RS + 1,
            P_RD,
            P_RD + 1,
            P_PS,
            P_PS + 1,
            P_PD,
            P_PD + 1,
        ]
        .into_iter()
        .zip(self.u64_columns())
        {
            col.push(row[c] as u64);
        }
        self.tpath.push(row[P_TPATH] as i8);
        self.peer.push(row[P_PEER] as i32);
    }

    /// Bytes held (capacity, what the process pays for).
    fn bytes(&self) -> usize {
        self.eni.capacity() * 4
            + self.dir.capacity()
            + (self.rs_hi.capacity()
                + self.rs_lo.capacity()
                + self.rd_hi.capacity()
                + self.rd_lo.capacity()
                + self.ps_hi.capacity()
                + self.ps_lo.capacity()
                + self.pd_hi.capacity()
                + self.pd_lo.capacity())
                * 8
            + self.tpath.capacity()
            + self.peer.capacity() * 4
            + (self.ssvc.capacity() + self.dsvc.capacity()) * 2
    }
}

/// Why a batch's new flows could not be added (the Python boundary makes it a `ValueError`).
#[derive(Debug, PartialEq, Eq)]
pub struct TableError(pub String);

/// The tables one batch's new flows are planned and checked against.
pub struct Checks<'a> {
    pub plan: &'a PlanTables,
    pub sg: &'a SecurityGroupRules,
    pub nacl: &'a NetworkAclRules,
}

/// The flow table (see the module documentation).
#[derive(Clone, Debug)]
pub struct FlowTable {
    /// Flow f's points are rows `start[f]..start[f + 1]`; `flows() + 1` entries.
    pub start: Vec<u32>,
    pub category: Vec<i16>,
    /// Packed point rows, `POINT_WIDTH` words each.
    pub points: Vec<u64>,
    pub fields: PointFields,
    /// Address -> AWS-service code + 1 (0: none), across resets.
    services: KeyMap,
    /// The first point row whose service codes may still be `SERVICE_PENDING`.
    pending_from: usize,
}

impl Default for FlowTable {
    fn default() -> Self {
        FlowTable {
            start: vec![0],
            category: Vec::new(),
            points: Vec::new(),
            fields: PointFields::default(),
            services: KeyMap::new(2, 1024),
            pending_from: 0,
        }
    }
}

impl FlowTable {
    pub fn flows(&self) -> usize {
        self.category.len()
    }

    pub fn point_count(&self) -> usize {
        self.points.len() / POINT_WIDTH
    }

    /// Flow `f`'s point rows.
    #[inline]
    pub fn rows_of(&self, f: usize) -> Range<usize> {
        self.start[f] as usize..self.start[f + 1] as usize
    }

    /// Forget every flow (a flow-cache reset), keeping capacity and the service codes.
    pub fn clear(&mut self) {
        self.start.clear();
        self.start.push(0);
        self.category.clear();
        self.points.clear();
        self.fields.clear();
        self.pending_from = 0;
    }

    /// Bytes held by the per-flow and per-point tables (capacity; the service cache aside).
    pub fn bytes(&self) -> usize {
        self.start.capacity() * 4
            + self.category.capacity() * 2
            + self.points.capacity() * 8
            + self.fields.bytes()
    }

    /// Plan and check new flows whose first packets are rows `first` of `flows` (they get the
    /// next flow ids, in order). With `services`, returns the addresses whose AWS-service code is
    /// not known yet, sources before destinations, each once in first-seen order: their points
    /// wait for `resolve_services`. Without, every point's service codes are -1.
    pub fn add(
        &mut self,
        checks: &Checks<'_>,
        flows: &FlowFields<'_>,
        version: &[u8],
        first: &[i64],
        services: bool,
    ) -> Result<Vec<Addr>, TableError> {
        let n_eni = checks.plan.eni_count();
        if checks.sg.has_sg.len() != n_eni {
            return Err(TableError(
                "new flows: the security-group rules are for another topology".into(),
            ));
        }
        if version.len() != flows.len() {
            return Err(TableError(
                "new flows: input columns differ in length".into(),
            ));
        }
        let bad_row = |&r: &i64| r < 0 || r as usize >= flows.len();
        if first.iter().any(bad_row) {
            return Err(TableError("new flows: a first row is out of range".into()));
        }
        if first
            .iter()
            .any(|&r| flows.label[r as usize] >= n_eni as i32)
        {
            return Err(TableError(
                "new flows: a capture label is not an ENI index".into(),
            ));
        }
        let r0 = self.point_count();
        // Room for at least one point per new flow (most have one or two) without over-reserving
        // for the four a flow may have.
        self.reserve(first.len());
        let f0 = self.flows();
        for &r in first {
            if let Err(e) = self.add_flow(checks, flows, version, r as usize) {
                self.truncate(f0, r0); // all of the batch's new flows or none
                return Err(e);
            }
        }
        Ok(self.service_codes(r0, services))
    }

    /// Keep the first `flows` flows and `points` point rows.
    fn truncate(&mut self, flows: usize, points: usize) {
        self.start.truncate(flows + 1);
        self.category.truncate(flows);
        self.points.truncate(points * POINT_WIDTH);
        each_point_column!(self.fields, truncate(points));
    }

    fn reserve(&mut self, flows: usize) {
        self.start.reserve(flows);
        self.category.reserve(flows);
        self.points.reserve(flows * POINT_WIDTH);
        each_point_column!(self.fields, reserve(flows));
    }

    fn add_flow(
        &mut self,
        checks: &Checks<'_>,
        flows: &FlowFields<'_>,
        version: &[u8],
        r: usize,
    ) -> Result<(), TableError> {
        let f = FlowIn {
            version: version[r],
            proto: flows.proto[r],
            frag2: flows.frag2[r],
            sport: flows.sport[r],
            dport: flows.dport[r],
            itype: flows.itype[r],
            icode: flows.icode[r],
        };
        let src = (flows.s_hi[r], flows.s_lo[r]);
        let dst = (flows.d_hi[r], flows.d_lo[r]);
        let plan = checks.plan.plan(flows.label[r], f.version == 6, src, dst);
        let category = port_category(&checks.plan.categories(), plan.category, &f);
        self.category.push(category);
        if category == 0 {
            // A captured flow's planned points are the first rows with an ENI.
            for row in plan.points.iter().take_while(|row| row[P_ENI] >= 0) {
                let point = check_point(checks.sg, checks.nacl, &f, row);
                self.points.extend_from_slice(&point.pack());
                self.fields.push(row);
            }
        }
        let end = u32::try_from(self.point_count())
            .map_err(|_| TableError("flow table: more than 2^32 points; lower max_flows".into()))?;
        self.start.push(end);
        Ok(())
    }

    /// Service codes of the points from row `r0` on: known ones at once, the others pending.
    fn service_codes(&mut self, r0: usize, services: bool) -> Vec<Addr> {
        let n = self.point_count();
        let fields = &mut self.fields;
        if !services {
            fields.ssvc.resize(n, -1);
            fields.dsvc.resize(n, -1);
            return Vec::new();
        }
        self.pending_from = r0;
        let mut unknown = Vec::new();
        let mut seen = KeyMap::new(2, 64);
        for src in [true, false] {
            let (hi, lo) = if src {
                (&fields.ps_hi, &fields.ps_lo)
            } else {
                (&fields.pd_hi, &fields.pd_lo)
            };
            let codes = if src {
                &mut fields.ssvc
            } else {
                &mut fields.dsvc
            };
            for q in r0..n {
                let key = [hi[q], lo[q]];
                let known = self.services.get(&key);
                codes.push(if known >= 0 {
                    known as i16 - 1
                } else {
                    SERVICE_PENDING
                });
                if known < 0 && seen.get(&key) < 0 {
                    seen.insert(&key, 0);
                    unknown.push((key[0], key[1]));
                }
            }
        }
        unknown
    }

    /// Remember the codes (-1: no AWS service) of addresses `add` returned and fill in the points
    /// waiting for them.
    pub fn resolve_services(&mut self, addrs: &[Addr], codes: &[i16]) -> Result<(), TableError> {
        if addrs.len() != codes.len() {
            return Err(TableError(
                "service codes: addresses and codes differ in length".into(),
            ));
        }
        for (a, &c) in addrs.iter().zip(codes) {
            self.services.insert(&[a.0, a.1], c as i32 + 1);
        }
        let n = self.point_count();
        let f = &mut self.fields;
        for q in self.pending_from..n {
            for (code, hi, lo) in [
                (&mut f.ssvc[q], f.ps_hi[q], f.ps_lo[q]),
                (&mut f.dsvc[q], f.pd_hi[q], f.pd_lo[q]),
            ] {
                if *code == SERVICE_PENDING {
                    let known = self.services.get(&[hi, lo]);
                    if known < 0 {
                        return Err(TableError(
                            "service codes: an address was left unresolved".into(),
                        ));
                    }
                    *code = known as i16 - 1;
                }
            }
        }
        self.pending_from = n;
        Ok(())
    }

    /// Packets per not-captured category code (index = code, 1..=`categories`) and packets of
    /// unattributed flows (category -1), over the flow ids of a batch's packets.
    pub fn category_counts(
        &self,
        flow: &[i32],
        categories: usize,
    ) -> Result<(Vec<i64>, i64), TableError> {
        let mut counts = vec![0i64; categories + 1];
        let mut unattributed = 0i64;
        for &f in flow {
            let c = *usize::try_from(f)
                .ok()
                .and_then(|f| self.category.get(f))
                .ok_or_else(|| {
                    TableError("category counts: a flow id is not in the table".into())
                })?;
            if c < 0 {
                unattributed += 1;
            } else if c > 0 {
                let slot = counts.get_mut(c as usize).ok_or_else(|| {
                    TableError("category counts: a category code out of range".into())
                })?;
                *slot += 1;
            }
        }
        Ok((counts, unattributed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::attribute::Categories;
    use crate::policy::layout::Point;

    const V4: u64 = 0xFFFF_0000_0000;
    const ENI: u64 = V4 | 0x0A00_010A; // 10.0.1.10
    const GOOGLE: u64 = V4 | 0x0808_0808;
    const OTHER: u64 = V4 | 0x0909_0909;
    const DNS: u64 = V4 | 0xA9FE_A9FD; // 169.254.169.253
    const CATS: Categories = Categories {
        dhcp: 1,
        mirrored: 2,
        windows_activation: 6,
        nlb_endpoint: 9,
    };

    /// Packets as (proto, src, sport, dst, dport); IPv4, unlabelled, ICMP echo for protocol 1.
    struct Pkts {
        label: Vec<i32>,
        proto: Vec<u8>,
        frag2: Vec<bool>,
        sport: Vec<u16>,
        dport: Vec<u16>,
        itype: Vec<i16>,
        icode: Vec<i16>,
        zero: Vec<u64>,
        src: Vec<u64>,
        dst: Vec<u64>,
        version: Vec<u8>,
    }

    impl Pkts {
        fn new(p: &[(u8, u64, u16, u64, u16)]) -> Self {
            let icmp = |proto: u8, v: i16| if proto == 1 { v } else { -1 };
            Pkts {
                label: vec![-1; p.len()],
                proto: p.iter().map(|x| x.0).collect(),
                frag2: vec![false; p.len()],
                sport: p.iter().map(|x| x.2).collect(),
                dport: p.iter().map(|x| x.4).collect(),
                itype: p.iter().map(|x| icmp(x.0, 8)).collect(),
                icode: p.iter().map(|x| icmp(x.0, 0)).collect(),
                zero: vec![0; p.len()],
                src: p.iter().map(|x| x.1).collect(),
                dst: p.iter().map(|x| x.3).collect(),
                version: vec![4; p.len()],
            }
        }

        fn fields(&self) -> FlowFields<'_> {
            FlowFields {
                label: &self.label,
                proto: &self.proto,
                frag2: &self.frag2,
                sport: &self.sport,
                dport: &self.dport,
                itype: &self.itype,
                icode: &self.icode,
                s_hi: &self.zero,
                s_lo: &self.src,
                d_hi: &self.zero,
                d_lo: &self.dst,
            }
        }
    }

    struct World {
        plan: PlanTables,
        sg: SecurityGroupRules,
        nacl: NetworkAclRules,
    }

    impl World {
        fn new() -> Self {
            World {
                plan: PlanTables::one_eni_for_tests(CATS),
                sg: SecurityGroupRules::one_eni_open_for_tests(),
                nacl: NetworkAclRules::default(),
            }
        }

        fn checks(&self) -> Checks<'_> {
            Checks {
                plan: &self.plan,
                sg: &self.sg,
                nacl: &self.nacl,
            }
        }
    }

    fn mixed() -> Pkts {
        Pkts::new(&[
            (6, GOOGLE, 999, ENI, 80), // ingress, untracked (both directions /0-open)
            (17, ENI, 68, OTHER, 67),  // DHCP: not captured
            (6, GOOGLE, 1, OTHER, 2),  // no modelled ENI: unattributed
            (17, ENI, 5000, DNS, 53),  // Amazon DNS: not captured
            (1, GOOGLE, 0, ENI, 0),    // ICMP ingress: tracked
            (6, ENI, 40000, GOOGLE, 443), // egress, untracked
            (6, GOOGLE, 999, ENI, 80), // the first flow's second packet (not a first row)
        ])
    }

    fn point(t: &FlowTable, q: usize) -> Point {
        Point::unpack(&t.points[q * POINT_WIDTH..(q + 1) * POINT_WIDTH]).unwrap()
    }

    #[test]
    fn flows_get_only_their_points_in_order() {
        let w = World::new();
        let p = mixed();
        let mut t = FlowTable::default();
        let unknown = t
            .add(
                &w.checks(),
                &p.fields(),
                &p.version,
                &[0, 1, 2, 3, 4, 5],
                false,
            )
            .unwrap();
        assert!(unknown.is_empty());
        assert_eq!(t.category, vec![0, 1, -1, 3, 0, 0]);
        assert_eq!(t.start, vec![0, 1, 1, 1, 1, 2, 3]);
        assert_eq!(t.rows_of(4), 1..2);
        let (a, icmp, b) = (point(&t, 0), point(&t, 1), point(&t, 2));
        assert!(!a.egress && a.untracked && a.sg_rule == 7 && a.nacl_rule == -1);
        assert_eq!(
            (a.local_port, a.remote_port, a.local, a.remote),
            (80, 999, (0, ENI), (0, GOOGLE))
        );
        assert!(!icmp.untracked && icmp.sg_rule == 7 && icmp.local_port == 0);
        assert!(b.egress && b.untracked && b.sg_rule == 8);
        assert_eq!((b.local_port, b.remote_port), (40000, 443));
        assert_eq!(t.fields.dir, vec![0, 0, 1]);
        assert_eq!(t.fields.ps_lo, vec![GOOGLE, GOOGLE, ENI]);
        assert_eq!(t.fields.ssvc, vec![-1, -1, -1]);
    }

    #[test]
    fn a_reset_empties_the_table_but_keeps_service_codes() {
        let w = World::new();
        let p = mixed();
        let mut t = FlowTable::default();
        let first = [0, 4, 5];
        let unknown = t
            .add(&w.checks(), &p.fields(), &p.version, &first, true)
            .unwrap();
        // sources first, then destinations, each address once
        assert_eq!(unknown, vec![(0, GOOGLE), (0, ENI)]);
        assert_eq!(t.fields.ssvc[0], SERVICE_PENDING);
        assert!(t.resolve_services(&unknown, &[3]).is_err());
        t.resolve_services(&unknown, &[3, -1]).unwrap();
        assert_eq!(t.fields.ssvc, vec![3, 3, -1]);
        assert_eq!(t.fields.dsvc, vec![-1, -1, 3]);
        let bytes = t.bytes();
        t.clear();
        assert_eq!(
            (t.flows(), t.point_count(), t.start.clone()),
            (0, 0, vec![0])
        );
        assert_eq!(t.bytes(), bytes);
        let again = t
            .add(&w.checks(), &p.fields(), &p.version, &first, true)
            .unwrap();
        assert!(again.is_empty());
        assert_eq!(t.fields.ssvc, vec![3, 3, -1]);
    }

    #[test]
    fn packets_are_counted_by_their_flows_category() {
        let w = World::new();
        let p = mixed();
        let mut t = FlowTable::default();
        t.add(&w.checks(), &p.fields(), &p.version, &[0, 1, 2, 3], false)
            .unwrap();
        let (counts, unattributed) = t.category_counts(&[0, 1, 1, 2, 3, 0], 6).unwrap();
        assert_eq!(counts, vec![0, 2, 0, 1, 0, 0, 0]);
        assert_eq!(unattributed, 1);
        assert!(t.category_counts(&[4], 6).is_err());
        assert!(t.category_counts(&[-1], 6).is_err());
        assert!(t.category_counts(&[3], 2).is_err());
    }

    #[test]
    fn the_tracker_walks_each_flows_own_rows() {
        use crate::policy::conntrack::{ConnTable, PacketCols, Timeouts};
        let sg = SecurityGroupRules::decisions_only(vec![1; 4], vec![2; 4], vec![3; 4], vec![4; 4]);
        let pt = |eni: i32, egress: bool| Point {
            eni,
            egress,
            untracked: false,
            nacl_ok: true,
            has_sg: true,
            sg_rule: 5 + eni,
            nacl_rule: -1,
            local_port: 80,
            remote_port: 999,
            local: (0, ENI),
            remote: (0, GOOGLE),
        };
        // flow 0: egress at ENI 0, then ingress at ENI 1; flow 1: ingress at ENI 1 only
        let mut points: Vec<u64> = [pt(0, true), pt(1, false), pt(1, false)]
            .iter()
            .flat_map(|p| p.pack())
            .collect();
        let pk = PacketCols {
            ts_ns: &[0, 1, 2],
            tcp_flags: &[2, 2, 2],
            proto: &[6, 6, 6],
            flow: &[1, 0, -1],
        };
        let mut conns = ConnTable::new(Timeouts([1 << 50; 6]), 16);
        let d = conns.decide(&sg, &pk, &mut points, &[0, 2, 3]);
        assert_eq!(d.packet, vec![0, 1, 1]);
        assert_eq!(d.point, vec![2, 0, 1]);
        assert_eq!(d.rule, vec![6, 5, 6]);
    }

    #[test]
    fn bad_rows_and_labels_are_errors_not_panics() {
        let w = World::new();
        let mut p = mixed();
        let mut t = FlowTable::default();
        assert!(t
            .add(&w.checks(), &p.fields(), &p.version, &[7], false)
            .is_err());
        assert!(t
            .add(&w.checks(), &p.fields(), &p.version, &[-1], false)
            .is_err());
        p.label[0] = 1; // the topology has one ENI
        assert!(t
            .add(&w.checks(), &p.fields(), &p.version, &[0], false)
            .is_err());
        assert!(t
            .add(&w.checks(), &p.fields(), &p.version[..2], &[1], false)
            .is_err());
        assert_eq!(t.flows(), 0);
    }
}

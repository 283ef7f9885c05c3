//! Attribution plans: which ENIs observe a packet, in which direction, with which record addresses.
//!
//! The compiled form of `attribute_plan.Planner` (plain Python, per address pair, kept as the
//! readable definition and the tests' oracle): an address map (address -> ENI*4 + kind; kind 0
//! private/IPv6, 2 public/Elastic/NAT public), a special-address map (address -> not-captured
//! category, spec 2.7), per-ENI, per-subnet and per-VPC columns, and every route table flattened
//! in route order (longest prefix wins; on equal prefixes the first).

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::columns::{vec1, vec2};
use super::hashing::KeyMap;

// Route kinds of the compiled route table (attribute_kernel.R_* in Python).
const R_LOCAL: i8 = 0;
const R_IGW: i8 = 1;
const R_GWE: i8 = 2;
const R_NAT: i8 = 4;
// ENI kinds (attribute_kernel.T_*).
const T_NLB: i8 = 1;
const T_ENDPOINT: i8 = 2;
const T_NAT: i8 = 3;
const KIND_PUBLIC: i32 = 2;

/// Columns of a point (attribute_kernel.P_* in Python).
pub const N_COLS: usize = 14;
pub(crate) const P_ENI: usize = 0;
pub(crate) const P_DIR: usize = 1;
pub(crate) const P_RS: usize = 2; // hi, lo
pub(crate) const P_RD: usize = 4;
pub(crate) const P_PS: usize = 6;
pub(crate) const P_PD: usize = 8;
pub(crate) const P_TPATH: usize = 10;
pub(crate) const P_PEER: usize = 11;
pub(crate) const P_REMOTE: usize = 12;
pub(crate) const P_NACL: usize = 13;
pub const MAX_POINTS: usize = 4;

pub type Row = [i64; N_COLS];
pub(crate) type Addr = (u64, u64);

/// Codes of the not-captured categories the plan decides (index + 1 in Python's list).
#[derive(Clone, Copy, Debug, FromPyObject)]
#[pyo3(from_item_all)]
pub struct Categories {
    pub dhcp: i16,
    pub nlb_endpoint: i16,
    pub windows_activation: i16,
    pub mirrored: i16,
}

/// A flow's plan: its not-captured category (0 observed, -1 unattributed) and its points.
pub struct FlowPlan {
    pub category: i16,
    pub points: [Row; MAX_POINTS],
}

#[derive(Clone, Debug)]
pub struct PlanTables {
    owner: KeyMap,
    special: KeyMap,
    categories: Categories,
    eni_windows: Vec<bool>,
    eni_source_dest_check: Vec<bool>,
    eni_subnet: Vec<i32>,
    eni_vpc: Vec<i32>,
    eni_prim: Vec<u64>,
    eni_v6: Vec<u64>,
    eni_has_v6: Vec<bool>,
    eni_type: Vec<i8>,
    eni_nitro: Vec<bool>,
    sn_net: Vec<u64>,
    sn_has_v6: Vec<bool>,
    sn_acl: Vec<i64>,
    sn_rt: Vec<i32>,
    vpc_cidr: Vec<u64>,
    vpc_cidr_vpc: Vec<i32>,
    vpc_cidr_fam: Vec<u8>,
    rt_start: Vec<i64>,
    rt_end: Vec<i64>,
    r_net: Vec<u64>,
    r_fam: Vec<u8>,
    r_plen: Vec<i16>,
    r_kind: Vec<i8>,
    r_target: Vec<i32>,
}

fn key_map(columns: &Bound<'_, PyDict>, keys: &str, vals: &str) -> PyResult<KeyMap> {
    let (k, _) = vec2::<u64>(columns, keys)?;
    let v = vec1::<i32>(columns, vals)?;
    let mut map = KeyMap::new(2, 2 * v.len() + 16);
    for (row, &val) in k.chunks_exact(2).zip(&v) {
        map.insert(row, val);
    }
    Ok(map)
}

/// IPv4 addresses are stored mapped into ::ffff:0:0/96.
#[inline]
fn v4_of(a: Addr) -> Option<u32> {
    (a.0 == 0 && a.1 >> 32 == 0xFFFF).then_some(a.1 as u32)
}

/// ff00::/8, or IPv4 224.0.0.0/4.
#[inline]
fn is_multicast(a: Addr) -> bool {
    match v4_of(a) {
        Some(v4) => v4 >> 28 == 0xE,
        None => a.0 >> 56 == 0xFF,
    }
}

/// fe80::/10, or IPv4 169.254.0.0/16.
#[inline]
fn is_link_local(a: Addr) -> bool {
    match v4_of(a) {
        Some(v4) => v4 >> 16 == 0xA9FE,
        None => a.0 >> 54 == 0x3FA,
    }
}

#[inline]
fn in_net(a: Addr, net: &[u64]) -> bool {
    a.0 & net[2] == net[0] && a.1 & net[3] == net[1]
}

impl PlanTables {
    pub fn from_dict(columns: &Bound<'_, PyDict>, categories: Categories) -> PyResult<Self> {
        Ok(PlanTables {
            owner: key_map(columns, "owner_keys", "owner_vals")?,
            special: key_map(columns, "special_keys", "special_vals")?,
            categories,
            eni_windows: vec1(columns, "eni_windows")?,
            eni_source_dest_check: vec1(columns, "eni_source_dest_check")?,
            eni_subnet: vec1(columns, "eni_subnet")?,
            eni_vpc: vec1(columns, "eni_vpc")?,
            eni_prim: vec2(columns, "eni_prim")?.0,
            eni_v6: vec2(columns, "eni_v6")?.0,
            eni_has_v6: vec1(columns, "eni_has_v6")?,
            eni_type: vec1(columns, "eni_type")?,
            eni_nitro: vec1(columns, "eni_nitro")?,
            sn_net: vec2(columns, "sn_net")?.0,
            sn_has_v6: vec1(columns, "sn_has_v6")?,
            sn_acl: vec1(columns, "sn_acl")?,
            sn_rt: vec1(columns, "sn_rt")?,
            vpc_cidr: vec2(columns, "vpc_cidr")?.0,
            vpc_cidr_vpc: vec1(columns, "vpc_cidr_vpc")?,
            vpc_cidr_fam: vec1(columns, "vpc_cidr_fam")?,
            rt_start: vec1(columns, "rt_start")?,
            rt_end: vec1(columns, "rt_end")?,
            r_net: vec2(columns, "r_net")?.0,
            r_fam: vec1(columns, "r_fam")?,
            r_plen: vec1(columns, "r_plen")?,
            r_kind: vec1(columns, "r_kind")?,
            r_target: vec1(columns, "r_target")?,
        })
    }

    /// One ENI (index 0, 10.0.1.10, Linux, no IPv6) in subnet 0 (10.0.1.0/24, no network ACL) of
    /// VPC 0 (10.0.0.0/16), no route table; 169.254.169.253 is Amazon DNS (category 3). Tests only.
    #[cfg(test)]
    pub(crate) fn one_eni_for_tests(categories: Categories) -> Self {
        const V4: u64 = 0xFFFF_0000_0000;
        let mut owner = KeyMap::new(2, 16);
        owner.insert(&[0, V4 | 0x0A00_010A], 0);
        let mut special = KeyMap::new(2, 16);
        special.insert(&[0, V4 | 0xA9FE_A9FD], 3);
        let net = |addr: u64, plen: u32| [0, V4 | addr, u64::MAX, u64::MAX << (32 - plen)];
        let mut sn_net = net(0x0A00_0100, 24).to_vec();
        sn_net.extend([0u64; 4]);
        PlanTables {
            owner,
            special,
            categories,
            eni_windows: vec![false],
            eni_source_dest_check: vec![true],
            eni_subnet: vec![0],
            eni_vpc: vec![0],
            eni_prim: vec![0, V4 | 0x0A00_010A],
            eni_v6: vec![0, 0],
            eni_has_v6: vec![false],
            eni_type: vec![0],
            eni_nitro: vec![true],
            sn_net,
            sn_has_v6: vec![false],
            sn_acl: vec![-1],
            sn_rt: vec![-1],
            vpc_cidr: net(0x0A00_0000, 16).to_vec(),
            vpc_cidr_vpc: vec![0],
            vpc_cidr_fam: vec![4],
            rt_start: vec![],
            rt_end: vec![],
            r_net: vec![],
            r_fam: vec![],
            r_plen: vec![],
            r_kind: vec![],
            r_target: vec![],
        }
    }

    pub fn categories(&self) -> Categories {
        self.categories
    }

    pub fn eni_count(&self) -> usize {
        self.eni_subnet.len()
    }

    fn owner_of(&self, a: Addr) -> i32 {
        self.owner.get(&[a.0, a.1])
    }

    fn prim(&self, e: usize) -> Addr {
        (self.eni_prim[2 * e], self.eni_prim[2 * e + 1])
    }

    fn in_vpc(&self, vpc: i32, a: Addr, v6: bool) -> bool {
        let fam = if v6 { 6 } else { 4 };
        (0..self.vpc_cidr_vpc.len()).any(|i| {
            self.vpc_cidr_vpc[i] == vpc
                && self.vpc_cidr_fam[i] == fam
                && in_net(a, &self.vpc_cidr[4 * i..4 * i + 4])
        })
    }

    /// Index of the longest matching route of the ENI's subnet, -2 for the implicit local route, -1 none.
    fn route(&self, e: usize, a: Addr, v6: bool) -> i64 {
        let sn = self.eni_subnet[e];
        let rt = if sn >= 0 { self.sn_rt[sn as usize] } else { -1 };
        let mut best: i64 = -1;
        if rt >= 0 {
            let fam = if v6 { 6 } else { 4 };
            let mut best_len = -1i16;
            let rt = rt as usize;
            for r in self.rt_start[rt] as usize..self.rt_end[rt] as usize {
                if self.r_fam[r] == fam
                    && in_net(a, &self.r_net[4 * r..4 * r + 4])
                    && self.r_plen[r] > best_len
                {
                    best = r as i64;
                    best_len = self.r_plen[r];
                }
            }
        }
        if best < 0 && self.in_vpc(self.eni_vpc[e], a, v6) {
            return -2;
        }
        best
    }

    /// The NAT gateway ENI the ENI's route for `a` goes through, or -1.
    fn nat_via(&self, e: usize, a: Addr, v6: bool) -> i64 {
        let r = self.route(e, a, v6);
        if r < 0 || self.r_kind[r as usize] != R_NAT {
            return -1;
        }
        let nat = self.r_target[r as usize] as i64;
        if nat == e as i64 {
            -1
        } else {
            nat
        }
    }

    /// traffic-path of an egress observation (spec 1.5).
    fn traffic_path(&self, e: usize, d: Addr, other: i64, v6: bool) -> i64 {
        if other >= 0 && self.eni_vpc[other as usize] == self.eni_vpc[e] {
            return 1;
        }
        let r = self.route(e, d, v6);
        if r == -2 {
            return 1;
        }
        if r < 0 {
            return -1;
        }
        let r = r as usize;
        match self.r_kind[r] {
            R_LOCAL | R_NAT => 1,
            R_IGW if self.eni_nitro[e] => 8,
            R_GWE if self.eni_nitro[e] => 7,
            R_IGW | R_GWE => 2,
            _ => self.r_target[r] as i64,
        }
    }

    /// One observation (Planner._egress / Planner._ingress).
    fn point(&self, egress: bool, e: usize, s: Addr, d: Addr, other: i64, v6: bool) -> Row {
        let mut row = [-1i64; N_COLS];
        row[P_ENI] = e as i64;
        row[P_DIR] = egress as i64;
        row[P_PS] = s.0 as i64;
        row[P_PS + 1] = s.1 as i64;
        row[P_PD] = d.0 as i64;
        row[P_PD + 1] = d.1 as i64;
        row[P_PEER] = other;
        let remote = if egress { d } else { s };
        let own = self.owner_of(remote);
        row[P_REMOTE] = if own >= 0 && own % 4 == 0 {
            (own / 4) as i64
        } else {
            -1
        };
        // The ENI-side address (spec 2.6): primary private IPv4, or the ENI's own IPv6 address.
        let mine = if egress { s } else { d };
        let shown = if !v6 {
            self.prim(e)
        } else {
            let o = self.owner_of(mine);
            if (o >= 0 && o % 4 == 0 && (o / 4) as usize == e) || !self.eni_has_v6[e] {
                mine
            } else {
                (self.eni_v6[2 * e], self.eni_v6[2 * e + 1])
            }
        };
        let (rs, rd) = if egress { (shown, d) } else { (s, shown) };
        row[P_RS] = rs.0 as i64;
        row[P_RS + 1] = rs.1 as i64;
        row[P_RD] = rd.0 as i64;
        row[P_RD + 1] = rd.1 as i64;
        // The NACL of the ENI's subnet, when the hop crosses the subnet boundary.
        let sn = self.eni_subnet[e];
        let crossing = if other >= 0 {
            self.eni_subnet[other as usize] != sn
        } else if is_link_local(remote) || is_multicast(remote) {
            false // link-scope traffic never leaves the subnet
        } else if sn < 0 {
            true
        } else {
            let net = &self.sn_net[8 * sn as usize..8 * sn as usize + 8];
            if !v6 {
                !in_net(remote, &net[..4])
            } else {
                !(self.sn_has_v6[sn as usize] && in_net(remote, &net[4..]))
            }
        };
        row[P_NACL] = if crossing && sn >= 0 {
            self.sn_acl[sn as usize]
        } else {
            -1
        };
        row[P_TPATH] = if egress {
            self.traffic_path(e, d, other, v6)
        } else {
            -1
        };
        row
    }

    /// The hops of a packet between modelled ENIs (Planner.hops), in path order.
    fn hops(&self, s: Addr, d: Addr, v6: bool, tmp: &mut [Row; MAX_POINTS]) -> usize {
        let so = self.owner_of(s);
        let dw = self.owner_of(d);
        let s_e: i64 = if so >= 0 { (so / 4) as i64 } else { -1 };
        let d_pub: i64 = if dw >= 0 && dw % 4 != 0 {
            (dw / 4) as i64
        } else {
            -1
        };
        let d_e: i64 = if dw >= 0 { (dw / 4) as i64 } else { -1 };
        // A public/Elastic IP is translated to the private IP before the packet reaches the ENI.
        let da = if d_pub >= 0 && !v6 {
            self.prim(d_pub as usize)
        } else {
            d
        };
        let sa = if s_e >= 0 && so % 4 == KIND_PUBLIC {
            self.prim(s_e as usize)
        } else {
            s
        };
        if s_e >= 0 {
            let se = s_e as usize;
            let nat = if d_e < 0 || self.eni_vpc[d_e as usize] != self.eni_vpc[se] {
                self.nat_via(se, d, v6)
            } else {
                -1
            };
            if nat >= 0 {
                let ne = nat as usize;
                let nh = self.prim(ne);
                tmp[0] = self.point(true, se, sa, d, nat, v6);
                tmp[1] = self.point(false, ne, sa, d, s_e, v6);
                tmp[2] = self.point(true, ne, nh, da, d_e, v6);
                if d_e >= 0 {
                    tmp[3] = self.point(false, d_e as usize, nh, da, nat, v6);
                    return 4;
                }
                return 3;
            }
            tmp[0] = self.point(true, se, sa, da, d_e, v6);
            if d_e >= 0 && d_e != s_e {
                tmp[1] = self.point(false, d_e as usize, sa, da, s_e, v6);
                return 2;
            }
            return 1;
        }
        if d_e < 0 {
            return 0;
        }
        let de = d_e as usize;
        let nat = if d_pub < 0 {
            self.nat_via(de, s, v6)
        } else {
            -1
        };
        if nat >= 0 && self.eni_type[de] != T_NAT {
            let ne = nat as usize;
            let nh = self.prim(ne);
            tmp[0] = self.point(false, ne, s, nh, -1, v6);
            tmp[1] = self.point(true, ne, s, da, d_e, v6);
            tmp[2] = self.point(false, de, s, da, nat, v6);
            return 3;
        }
        tmp[0] = self.point(false, de, s, da, -1, v6);
        1
    }

    /// A packet neither from nor to an interface whose source/destination check is on can only be a
    /// traffic-mirroring copy decapsulated at a mirror target (spec 2.7: not captured); link-scope
    /// packets are the interface's own (Planner._mirror_copy).
    fn is_mirror_copy(&self, label: usize, s: Addr, d: Addr) -> bool {
        let link_scope = is_multicast(d) || is_link_local(s) || is_link_local(d);
        self.eni_source_dest_check[label] && !link_scope
    }

    /// A packet captured on an ENI although neither address is the ENI's (Planner._foreign):
    /// link-scope traffic (multicast destination, link-local peer) was received, never sent.
    fn foreign(&self, label: usize, s: Addr, d: Addr, v6: bool) -> Row {
        let so = self.owner_of(s);
        let dw = self.owner_of(d);
        let link_scope = is_multicast(d) || is_link_local(s) || is_link_local(d);
        if link_scope || (so >= 0 && so % 4 == 0) || self.in_vpc(self.eni_vpc[label], s, v6) {
            let snd = if so >= 0 && so % 4 == 0 {
                (so / 4) as i64
            } else {
                -1
            };
            self.point(false, label, s, d, snd, v6)
        } else {
            let rcv = if dw >= 0 && dw % 4 == 0 {
                (dw / 4) as i64
            } else {
                -1
            };
            self.point(true, label, s, d, rcv, v6)
        }
    }

    fn is_nlb_endpoint(&self, a: i64, b: i64) -> bool {
        let (a, b) = (self.eni_type[a as usize], self.eni_type[b as usize]);
        (a == T_NLB && b == T_ENDPOINT) || (b == T_NLB && a == T_ENDPOINT)
    }

    /// Whether `a` (the non-KMS side of a packet) is a Windows instance's (else the capture ENI's).
    fn windows_side(&self, label: i32, a: Addr) -> bool {
        let o = self.owner_of(a);
        let e = if o >= 0 { o / 4 } else { label };
        e >= 0 && self.eni_windows[e as usize]
    }

    /// The plan of one flow (Planner.plan); `label` is the capture ENI or -1.
    pub fn plan(&self, label: i32, v6: bool, s: Addr, d: Addr) -> FlowPlan {
        let (mut c, other) = match self.special.get(&[s.0, s.1]) {
            c if c >= 0 => (c, d),
            _ => (self.special.get(&[d.0, d.1]), s),
        };
        // Windows license activation is left out only for Windows instances (spec 2.7).
        if c == self.categories.windows_activation as i32 && !self.windows_side(label, other) {
            c = -1;
        }
        let mut category = c.max(0) as i16;
        let mut tmp = [[-1i64; N_COLS]; MAX_POINTS];
        let n = self.hops(s, d, v6, &mut tmp);
        let mut points = [[-1i64; N_COLS]; MAX_POINTS];
        let mut m = 0;
        if label >= 0 {
            for row in tmp.iter().take(n) {
                if row[P_ENI] == label as i64 {
                    points[m] = *row;
                    m += 1;
                }
            }
            if m == 0 && self.is_mirror_copy(label as usize, s, d) {
                let category = if category != 0 {
                    category
                } else {
                    self.categories.mirrored
                };
                return FlowPlan { category, points };
            }
            if m == 0 {
                points[0] = self.foreign(label as usize, s, d, v6);
                m = 1;
            }
        } else {
            points[..n].copy_from_slice(&tmp[..n]);
            m = n;
        }
        if category == 0
            && points[..m]
                .iter()
                .any(|r| r[P_PEER] >= 0 && self.is_nlb_endpoint(r[P_ENI], r[P_PEER]))
        {
            category = self.categories.nlb_endpoint;
        }
        if category == 0 && m == 0 {
            category = -1;
        }
        FlowPlan { category, points }
    }
}

//! Observation rows -> folded partial records of one flow log, in one pass.
//!
//! Per row: the ENI's coverage and window (aggregation interval per ENI, spec 2.1), the TrafficType
//! filter (spec 2.3), the packed key (`key.rs`; optional words only for fields the format shows),
//! the spec 1.4 flag mapping, then the fold (`groups.rs`). With an ACCEPT or REJECT filter it also
//! collects the (ENI, window) pairs with any traffic BEFORE the filter: the NODATA test counts
//! filtered-out traffic as traffic.

use super::groups::{Aggregates, Groups};
use super::key::{eni_window, map_tcp_flags, meta};

/// Traffic filters (FlowLog.traffic_type).
pub const FILTER_ALL: u8 = 0;
pub const FILTER_ACCEPT: u8 = 1;
pub const FILTER_REJECT: u8 = 2;

/// The observation batch columns (optional ones may be empty when the format does not use them).
///
/// `packet`, `action` and `rule` have one entry per row. The point's fields (`eni` to `dst_service`)
/// have one entry per row too when `point` is empty (numpy observation batches); otherwise row `i`'s
/// are at `point[i]` (the streaming pass gathers each point a batch reaches once, `stream::ObsRows`),
/// and the fold then recognises a row of a (point, action, window) it has already keyed.
pub struct ObsCols<'a> {
    pub packet: &'a [i64],
    pub point: &'a [u32],
    pub eni: &'a [i32],
    pub direction: &'a [u8],
    pub action: &'a [u8],
    pub src_hi: &'a [u64],
    pub src_lo: &'a [u64],
    pub dst_hi: &'a [u64],
    pub dst_lo: &'a [u64],
    pub pkt_src_hi: &'a [u64],
    pub pkt_src_lo: &'a [u64],
    pub pkt_dst_hi: &'a [u64],
    pub pkt_dst_lo: &'a [u64],
    pub traffic_path: &'a [i8],
    pub peer_eni: &'a [i32],
    pub src_service: &'a [i16],
    pub dst_service: &'a [i16],
    pub rule: &'a [i32],
}

/// The packet columns the records need.
pub struct PacketCols<'a> {
    pub ts_ns: &'a [i64],
    pub protocol: &'a [u8],
    pub src_port: &'a [u16],
    pub dst_port: &'a [u16],
    pub ip_version: &'a [u8],
    pub ip_len: &'a [u32],
    pub tcp_flags: &'a [u8],
}

/// Batch-to-run index maps and per-ENI settings of the flow log.
pub struct RunMaps<'a> {
    pub eni: &'a [i64],
    pub rule: &'a [i32],
    pub service: &'a [i64],
    pub covered: &'a [bool],
    pub interval: &'a [i64],
}

/// Which optional key words the format needs, and the TrafficType filter.
#[derive(Clone, Copy, Debug)]
pub struct KeyOptions {
    pub pkt_src: bool,
    pub pkt_dst: bool,
    pub path: bool,
    pub peer: bool,
    pub src_service: bool,
    pub dst_service: bool,
    pub filter: u8,
}

impl KeyOptions {
    pub fn width(&self) -> usize {
        6 + 2 * self.pkt_src as usize
            + 2 * self.pkt_dst as usize
            + self.peer as usize
            + self.src_service as usize
            + self.dst_service as usize
    }
}

/// Folded partial records plus the (ENI, window) words with traffic before the filter.
pub struct Folded {
    pub groups: Groups,
    pub active: Vec<u64>,
}

fn service_word(code: i16, map: &[i64]) -> u64 {
    if code >= 0 && !map.is_empty() {
        (map[code as usize] + 1) as u64
    } else {
        0
    }
}

/// An insert-only set of (ENI, window) words, in first-seen order. A batch names few of them (its
/// ENIs times a window or two), so the table starts small and doubles when half full.
///
/// A word's slot is the top bits of its product with an odd constant: the low bits of the product
/// depend only on the low bits of the word, which are the window start's (the ENI is in the high
/// bits), so every ENI of a window probed from one slot: a run of 100 ENIs made each row's insert
/// walk up to 100 slots (the fold's hottest loop on a VPC flow log).
struct ActiveSet {
    slots: Vec<u64>,
    bits: u32,
    order: Vec<u64>,
}

impl ActiveSet {
    const FIRST_BITS: u32 = 6;

    fn new() -> Self {
        ActiveSet {
            slots: vec![u64::MAX; 1 << Self::FIRST_BITS],
            bits: Self::FIRST_BITS,
            order: Vec::new(),
        }
    }

    #[inline]
    fn slot(k: u64, bits: u32) -> usize {
        (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
    }

    #[inline]
    fn insert(&mut self, k: u64) {
        let mask = self.slots.len() - 1;
        let mut s = Self::slot(k, self.bits);
        loop {
            if self.slots[s] == k {
                return;
            }
            if self.slots[s] == u64::MAX {
                self.slots[s] = k;
                self.order.push(k);
                if 2 * self.order.len() > self.slots.len() {
                    self.grow();
                }
                return;
            }
            s = (s + 1) & mask;
        }
    }

    fn grow(&mut self) {
        self.bits += 1;
        let mask = (1usize << self.bits) - 1;
        self.slots = vec![u64::MAX; mask + 1];
        for &k in &self.order {
            let mut s = Self::slot(k, self.bits);
            while self.slots[s] != u64::MAX {
                s = (s + 1) & mask;
            }
            self.slots[s] = k;
        }
    }
}

impl ObsCols<'_> {
    /// Where row `i`'s point fields are.
    #[inline]
    pub fn at(&self, i: usize) -> usize {
        if self.point.is_empty() {
            i
        } else {
            self.point[i] as usize
        }
    }

    /// Rows of point fields (rows when `point` is empty).
    pub fn points(&self) -> usize {
        self.eni.len()
    }
}

/// The meta word of row `i` (point fields at `q`, packet `p`): direction, action, protocol, ports,
/// IP version and (when the format shows it) the traffic path.
#[inline]
fn meta_word(
    o: &ObsCols<'_>,
    pk: &PacketCols<'_>,
    opt: &KeyOptions,
    i: usize,
    q: usize,
    p: usize,
) -> u64 {
    let path = if opt.path {
        Some(o.traffic_path[q])
    } else {
        None
    };
    meta(
        o.direction[q],
        o.action[i],
        pk.protocol[p],
        pk.src_port[p],
        pk.dst_port[p],
        pk.ip_version[p] == 6,
        path,
    )
}

/// The key row of a row whose point fields are at `i`, with window word `k0` and meta word `m`.
fn key_row(
    o: &ObsCols<'_>,
    maps: &RunMaps<'_>,
    opt: &KeyOptions,
    i: usize,
    k0: u64,
    m: u64,
    row: &mut Vec<u64>,
) {
    row.clear();
    row.push(k0);
    row.push(m);
    row.extend_from_slice(&[o.src_hi[i], o.src_lo[i], o.dst_hi[i], o.dst_lo[i]]);
    if opt.pkt_src {
        row.extend_from_slice(&[o.pkt_src_hi[i], o.pkt_src_lo[i]]);
    }
    if opt.pkt_dst {
        row.extend_from_slice(&[o.pkt_dst_hi[i], o.pkt_dst_lo[i]]);
    }
    if opt.peer {
        let pe = o.peer_eni[i];
        row.push(if pe >= 0 {
            (maps.eni[pe as usize] + 1) as u64
        } else {
            0
        });
    }
    if opt.src_service {
        row.push(service_word(o.src_service[i], maps.service));
    }
    if opt.dst_service {
        row.push(service_word(o.dst_service[i], maps.service));
    }
}

/// The groups already keyed for each (point, action) of the batch, with the window and meta words
/// they were keyed with: a row that matches folds without building and hashing its key again (a
/// point determines every key word but the window's and the packet's meta word, both compared).
struct PointCache {
    slots: Vec<(u64, u64, u32)>,
}

impl PointCache {
    const EMPTY: u32 = u32::MAX;

    fn new(points: usize) -> Self {
        PointCache {
            slots: vec![(0, 0, Self::EMPTY); 2 * points],
        }
    }

    #[inline]
    fn get(&self, q: usize, action: u8, k0: u64, m: u64) -> Option<usize> {
        let (w, mm, g) = self.slots[2 * q + (action & 1) as usize];
        (g != Self::EMPTY && w == k0 && mm == m).then_some(g as usize)
    }

    #[inline]
    fn set(&mut self, q: usize, action: u8, k0: u64, m: u64, g: usize) {
        self.slots[2 * q + (action & 1) as usize] = (k0, m, g as u32);
    }
}

/// Fold an observation batch into partial records of one flow log.
pub fn observe_fold(
    o: &ObsCols<'_>,
    pk: &PacketCols<'_>,
    maps: &RunMaps<'_>,
    opt: &KeyOptions,
) -> Folded {
    let mut groups = Groups::with_rows(opt.width(), o.packet.len());
    let active = fold_into(&mut groups, o, pk, maps, opt, opt.filter != FILTER_ALL);
    Folded { groups, active }
}

/// Fold an observation batch into `groups`: a table of the batch's own (`observe_fold`) or the open
/// groups a flow log keeps across batches (`state.rs`), which grow as needed. Returns the (ENI,
/// window) words with traffic before the TrafficType filter when `want_active` (empty otherwise).
///
/// Folding a batch straight into the open groups gives them the same groups, aggregates and order
/// as folding it into a table of its own and absorbing that: `Groups::merge` does not depend on
/// the order rows arrive in, and groups are appended in order of first appearance either way.
pub fn fold_into(
    groups: &mut Groups,
    o: &ObsCols<'_>,
    pk: &PacketCols<'_>,
    maps: &RunMaps<'_>,
    opt: &KeyOptions,
    want_active: bool,
) -> Vec<u64> {
    let n = o.packet.len();
    let mut active = ActiveSet::new();
    let mut row = Vec::with_capacity(opt.width());
    let mut cache = (!o.point.is_empty()).then(|| PointCache::new(o.points()));
    for i in 0..n {
        let q = o.at(i);
        let e = maps.eni[o.eni[q] as usize];
        if !maps.covered[e as usize] {
            continue;
        }
        let p = o.packet[i] as usize;
        let ts_s = pk.ts_ns[p].div_euclid(1_000_000_000);
        let k0 = eni_window(e, ts_s - ts_s.rem_euclid(maps.interval[e as usize]));
        if want_active {
            active.insert(k0);
        }
        let act = o.action[i];
        if (opt.filter == FILTER_ACCEPT && act != 0) || (opt.filter == FILTER_REJECT && act != 1) {
            continue;
        }
        let m = meta_word(o, pk, opt, i, q, p);
        let rl = o.rule[i];
        let a = Aggregates {
            packets: 1,
            bytes: pk.ip_len[p] as i64,
            first: ts_s,
            last: ts_s,
            flags: map_tcp_flags(pk.tcp_flags[p], pk.protocol[p]),
            rule: if rl >= 0 && !maps.rule.is_empty() {
                maps.rule[rl as usize]
            } else {
                -1
            },
        };
        if let Some(c) = cache.as_mut() {
            if let Some(g) = c.get(q, act, k0, m) {
                groups.merge(g, a);
                continue;
            }
            key_row(o, maps, opt, q, k0, m, &mut row);
            let g = groups.absorb_row(i, &row, a);
            c.set(q, act, k0, m, g);
        } else {
            key_row(o, maps, opt, q, k0, m, &mut row);
            groups.absorb_row(i, &row, a);
        }
    }
    active.order
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The (ENI, window) words of 300 ENIs over 3 windows each go in once, in first-seen order, and
    /// spread over the table (the words of one window differ only in their high bits).
    #[test]
    fn active_set_keeps_first_seen_order_and_spreads_one_windows_enis() {
        let mut a = ActiveSet::new();
        let words: Vec<u64> = (0..3)
            .flat_map(|w| (0..300).map(move |e| eni_window(e, 1_700_000_040 + 60 * w)))
            .collect();
        for _ in 0..2 {
            for &k in &words {
                a.insert(k);
            }
        }
        assert_eq!(a.order, words);
        // no word sits far from its own slot
        let mask = a.slots.len() - 1;
        let longest = words
            .iter()
            .map(|&k| {
                let home = ActiveSet::slot(k, a.bits);
                let at = a.slots.iter().position(|&s| s == k).unwrap();
                (at + a.slots.len() - home) & mask
            })
            .max()
            .unwrap();
        assert!(longest < 32, "a probe of {longest} slots");
    }

    /// Rows naming points (the streaming pass) fold exactly as the same rows with every point field
    /// spread per row (numpy observation batches): same groups, order, aggregates and rules, also
    /// when a point's rows change window, action or packet meta (port) between rows.
    #[test]
    fn point_rows_fold_as_per_row_columns() {
        // 3 points; rows: (point, packet, action, rule)
        let rows: [(u32, i64, u8, i32); 9] = [
            (0, 0, 0, 1),
            (1, 1, 0, 2),
            (0, 2, 0, 0),
            (2, 3, 1, 3),
            (0, 4, 1, 1), // same point, REJECT: another group
            (1, 5, 0, 2), // next window (packet 5 is at 70 s)
            (0, 6, 0, 0), // another source port: another meta word
            (2, 7, 1, 3),
            (0, 8, 0, 1),
        ];
        let ts: Vec<i64> = [1, 2, 3, 4, 5, 70, 6, 7, 8]
            .iter()
            .map(|s| s * 1_000_000_000)
            .collect();
        let sport: Vec<u16> = vec![1000, 2000, 1000, 3000, 1000, 2000, 1001, 3000, 1000];
        let n = rows.len();
        let pk = PacketCols {
            ts_ns: &ts,
            protocol: &[6; 9],
            src_port: &sport,
            dst_port: &[80; 9],
            ip_version: &[4; 9],
            ip_len: &[100, 200, 300, 400, 500, 600, 700, 800, 900],
            tcp_flags: &[2, 16, 16, 2, 4, 16, 1, 2, 16],
        };
        let eni = [0i32, 1, 1];
        let dir = [1u8, 0, 1];
        let (hi, lo) = ([10u64, 20, 30], [11u64, 21, 31]);
        let path = [1i8, -1, 2];
        let peer = [-1i32, 0, -1];
        let svc = [-1i16, 0, -1];
        let packet: Vec<i64> = rows.iter().map(|r| r.1).collect();
        let action: Vec<u8> = rows.iter().map(|r| r.2).collect();
        let rule: Vec<i32> = rows.iter().map(|r| r.3).collect();
        let point: Vec<u32> = rows.iter().map(|r| r.0).collect();
        let spread = |col: &[u64]| point.iter().map(|&q| col[q as usize]).collect::<Vec<u64>>();
        let (shi, slo) = (spread(&hi), spread(&lo));
        let s_eni: Vec<i32> = point.iter().map(|&q| eni[q as usize]).collect();
        let s_dir: Vec<u8> = point.iter().map(|&q| dir[q as usize]).collect();
        let s_path: Vec<i8> = point.iter().map(|&q| path[q as usize]).collect();
        let s_peer: Vec<i32> = point.iter().map(|&q| peer[q as usize]).collect();
        let s_svc: Vec<i16> = point.iter().map(|&q| svc[q as usize]).collect();
        let by_point = ObsCols {
            packet: &packet,
            point: &point,
            eni: &eni,
            direction: &dir,
            action: &action,
            src_hi: &hi,
            src_lo: &lo,
            dst_hi: &lo,
            dst_lo: &hi,
            pkt_src_hi: &hi,
            pkt_src_lo: &lo,
            pkt_dst_hi: &lo,
            pkt_dst_lo: &hi,
            traffic_path: &path,
            peer_eni: &peer,
            src_service: &svc,
            dst_service: &svc,
            rule: &rule,
        };
        let per_row = ObsCols {
            packet: &packet,
            point: &[],
            eni: &s_eni,
            direction: &s_dir,
            action: &action,
            src_hi: &shi,
            src_lo: &slo,
            dst_hi: &slo,
            dst_lo: &shi,
            pkt_src_hi: &shi,
            pkt_src_lo: &slo,
            pkt_dst_hi: &slo,
            pkt_dst_lo: &shi,
            traffic_path: &s_path,
            peer_eni: &s_peer,
            src_service: &s_svc,
            dst_service: &s_svc,
            rule: &rule,
        };
        let maps = RunMaps {
            eni: &[0, 1],
            rule: &[5, 6, 7, 8],
            service: &[3],
            covered: &[true, true],
            interval: &[60, 60],
        };
        let opt = KeyOptions {
            pkt_src: true,
            pkt_dst: true,
            path: true,
            peer: true,
            src_service: true,
            dst_service: true,
            filter: FILTER_ALL,
        };
        let a = observe_fold(&by_point, &pk, &maps, &opt).groups;
        let b = observe_fold(&per_row, &pk, &maps, &opt).groups;
        assert_eq!(a.len(), 6, "groups: {:?}", a.packets);
        assert_eq!(a.keys, b.keys);
        assert_eq!(a.rep, b.rep);
        assert_eq!(
            (&a.packets, &a.bytes, &a.first, &a.last),
            (&b.packets, &b.bytes, &b.first, &b.last)
        );
        assert_eq!((&a.flags, &a.rule), (&b.flags, &b.rule));
        assert_eq!(a.packets.iter().sum::<i64>(), n as i64);
        // point 0's ACCEPT rows at port 1000 in window 0 are one group: packets 0, 2 and 8
        assert_eq!((a.packets[0], a.bytes[0]), (3, 100 + 300 + 900));
    }
}

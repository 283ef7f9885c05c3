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
pub struct ObsCols<'a> {
    pub packet: &'a [i64],
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

/// An insert-only set of (ENI, window) words, in first-seen order.
struct ActiveSet {
    slots: Vec<u64>,
    order: Vec<u64>,
}

impl ActiveSet {
    fn new(rows: usize) -> Self {
        ActiveSet {
            slots: vec![u64::MAX; (2 * rows).max(16).next_power_of_two()],
            order: Vec::new(),
        }
    }

    fn insert(&mut self, k: u64) {
        let mask = self.slots.len() - 1;
        let mut s = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) as usize & mask;
        loop {
            if self.slots[s] == k {
                return;
            }
            if self.slots[s] == u64::MAX {
                self.slots[s] = k;
                self.order.push(k);
                return;
            }
            s = (s + 1) & mask;
        }
    }
}

/// The key row of observation `i` (packet `p`, window word `k0`) into `row`.
fn key_row(
    o: &ObsCols<'_>,
    pk: &PacketCols<'_>,
    maps: &RunMaps<'_>,
    opt: &KeyOptions,
    i: usize,
    k0: u64,
    row: &mut Vec<u64>,
) {
    let p = o.packet[i] as usize;
    row.clear();
    let path = if opt.path {
        Some(o.traffic_path[i])
    } else {
        None
    };
    row.push(k0);
    row.push(meta(
        o.direction[i],
        o.action[i],
        pk.protocol[p],
        pk.src_port[p],
        pk.dst_port[p],
        pk.ip_version[p] == 6,
        path,
    ));
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

/// Fold an observation batch into partial records of one flow log.
pub fn observe_fold(
    o: &ObsCols<'_>,
    pk: &PacketCols<'_>,
    maps: &RunMaps<'_>,
    opt: &KeyOptions,
) -> Folded {
    let n = o.packet.len();
    let mut groups = Groups::with_rows(opt.width(), n);
    let mut active = ActiveSet::new(if opt.filter == FILTER_ALL { 0 } else { n });
    let mut row = Vec::with_capacity(opt.width());
    for i in 0..n {
        let e = maps.eni[o.eni[i] as usize];
        if !maps.covered[e as usize] {
            continue;
        }
        let p = o.packet[i] as usize;
        let ts_s = pk.ts_ns[p].div_euclid(1_000_000_000);
        let k0 = eni_window(e, ts_s - ts_s.rem_euclid(maps.interval[e as usize]));
        if opt.filter != FILTER_ALL {
            active.insert(k0);
        }
        let act = o.action[i];
        if (opt.filter == FILTER_ACCEPT && act != 0) || (opt.filter == FILTER_REJECT && act != 1) {
            continue;
        }
        key_row(o, pk, maps, opt, i, k0, &mut row);
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
        groups.add(i, &row, a);
    }
    Folded {
        groups,
        active: active.order,
    }
}

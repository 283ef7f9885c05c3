//! The output of a scan: packet columns (one `Vec` per `PacketBatch` column, handed to numpy
//! without a copy) and the per-source counters the Python readers keep across calls.

use super::frame::{Frame, FLAG_TRUNCATED_L4, FLAG_VXLAN, FR_MALFORMED, FR_NON_IP, FR_OK};

// Indexes of the counters array (mirrored in sources/_native_capture.py).
pub const ST_FRAMES: usize = 0;
pub const ST_NON_IP: usize = 1;
pub const ST_MALFORMED: usize = 2;
pub const ST_UNSUPPORTED_LINK: usize = 3;
pub const ST_TRUNCATED_L4: usize = 4;
pub const ST_VXLAN: usize = 5;
/// pcapng simple packet blocks (no timestamp of their own)
pub const ST_UNTIMED: usize = 6;
/// pcapng blocks of types that carry no packets
pub const ST_SKIPPED_BLOCKS: usize = 7;
/// pcap records whose fraction field was exactly one second, carried into the next second
pub const ST_REPAIRED_TS: usize = 8;
/// file offset of the first malformed frame's record, -1 while there is none
pub const ST_FIRST_MALFORMED: usize = 9;
pub const N_STATS: usize = 10;

/// Packet columns of one scan call.
#[derive(Default)]
pub struct Rows {
    pub ts: Vec<i64>,
    pub iface: Vec<i16>,
    pub version: Vec<u8>,
    pub src_hi: Vec<u64>,
    pub src_lo: Vec<u64>,
    pub dst_hi: Vec<u64>,
    pub dst_lo: Vec<u64>,
    pub protocol: Vec<u8>,
    pub src_port: Vec<u16>,
    pub dst_port: Vec<u16>,
    pub icmp_type: Vec<i16>,
    pub icmp_code: Vec<i16>,
    pub ip_len: Vec<u32>,
    pub tcp_flags: Vec<u8>,
    pub fragment: Vec<u8>,
}

impl Rows {
    pub fn with_capacity(n: usize) -> Rows {
        Rows {
            ts: Vec::with_capacity(n),
            iface: Vec::with_capacity(n),
            version: Vec::with_capacity(n),
            src_hi: Vec::with_capacity(n),
            src_lo: Vec::with_capacity(n),
            dst_hi: Vec::with_capacity(n),
            dst_lo: Vec::with_capacity(n),
            protocol: Vec::with_capacity(n),
            src_port: Vec::with_capacity(n),
            dst_port: Vec::with_capacity(n),
            icmp_type: Vec::with_capacity(n),
            icmp_code: Vec::with_capacity(n),
            ip_len: Vec::with_capacity(n),
            tcp_flags: Vec::with_capacity(n),
            fragment: Vec::with_capacity(n),
        }
    }

    pub fn len(&self) -> usize {
        self.ts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ts.is_empty()
    }

    pub fn push(&mut self, ts: i64, iface: i16, r: &Frame) {
        self.ts.push(ts);
        self.iface.push(iface);
        self.version.push(r.version);
        self.src_hi.push(r.src_hi);
        self.src_lo.push(r.src_lo);
        self.dst_hi.push(r.dst_hi);
        self.dst_lo.push(r.dst_lo);
        self.protocol.push(r.protocol);
        self.src_port.push(r.src_port);
        self.dst_port.push(r.dst_port);
        self.icmp_type.push(r.icmp_type);
        self.icmp_code.push(r.icmp_code);
        self.ip_len.push(r.ip_len);
        self.tcp_flags.push(r.tcp_flags);
        self.fragment.push(r.fragment);
    }
}

/// Count a frame's outcome; true when it becomes a row. `offset` is the file offset of its record.
pub fn count(r: &Frame, offset: u64, stats: &mut [i64; N_STATS]) -> bool {
    stats[ST_FRAMES] += 1;
    if r.status & FLAG_VXLAN != 0 {
        stats[ST_VXLAN] += 1;
    }
    match r.code() {
        FR_OK => {
            if r.status & FLAG_TRUNCATED_L4 != 0 {
                stats[ST_TRUNCATED_L4] += 1;
            }
            return true;
        }
        FR_NON_IP => stats[ST_NON_IP] += 1,
        FR_MALFORMED => {
            stats[ST_MALFORMED] += 1;
            if stats[ST_FIRST_MALFORMED] < 0 {
                stats[ST_FIRST_MALFORMED] = i64::try_from(offset).unwrap_or(i64::MAX);
            }
        }
        _ => stats[ST_UNSUPPORTED_LINK] += 1,
    }
    false
}

/// Fresh counters (the first-malformed offset starts at -1).
pub fn new_stats() -> [i64; N_STATS] {
    let mut s = [0i64; N_STATS];
    s[ST_FIRST_MALFORMED] = -1;
    s
}

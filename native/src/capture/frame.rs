//! One link-layer frame decoded down to the transport header: the per-packet heart of every
//! capture reader (pcap, pcapng, live).
//!
//! Link layers: Ethernet, Linux cooked capture (SLL, SLL2), raw IP, BSD NULL/LOOP; any number of
//! 802.1Q/802.1ad tags. Network: IPv4 (options, TSO's zero total length), IPv6 with every extension
//! header (bounded by the captured bytes only, never by a count). VXLAN mirror copies are unwrapped
//! (at most two levels) and the inner packet replaces the outer one.
//!
//! A frame is read from its own slice, so no index can reach the next record: an index error here
//! would be a bug, caught at the boundary (`errors::guard`), never a read of foreign bytes.

use super::bytes::{be16, be32, be64, le32};

// Link types (tcpdump.org/linktypes.html).
pub const LT_NULL: i64 = 0;
pub const LT_ETHERNET: i64 = 1;
pub const LT_RAW: i64 = 101;
pub const LT_LOOP: i64 = 108;
pub const LT_SLL: i64 = 113;
pub const LT_IPV4: i64 = 228;
pub const LT_IPV6: i64 = 229;
pub const LT_SLL2: i64 = 276;

// Frame status (low byte) and flags.
pub const FR_OK: u32 = 0;
pub const FR_NON_IP: u32 = 1;
pub const FR_MALFORMED: u32 = 2;
pub const FR_UNSUPPORTED_LINK: u32 = 3;
pub const FLAG_TRUNCATED_L4: u32 = 0x100;
pub const FLAG_VXLAN: u32 = 0x200;

pub const VXLAN_PORT: u16 = 4789;
const MAX_VXLAN_DEPTH: u32 = 2;
const V4_MAPPED: u64 = 0x0000_FFFF_0000_0000;

const ET_IPV4: u32 = 0x0800;
const ET_IPV6: u32 = 0x86DD;

/// One decoded frame: the row of a `PacketBatch` (`packets.py`) plus its status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    pub status: u32,
    pub version: u8,
    pub src_hi: u64,
    pub src_lo: u64,
    pub dst_hi: u64,
    pub dst_lo: u64,
    pub protocol: u8,
    pub src_port: u16,
    pub dst_port: u16,
    pub icmp_type: i16,
    pub icmp_code: i16,
    pub ip_len: u32,
    pub tcp_flags: u8,
    /// 0 not a fragment, 1 first fragment, 2 later fragment (no transport header).
    pub fragment: u8,
}

impl Frame {
    fn fail(status: u32) -> Frame {
        Frame {
            status,
            icmp_type: -1,
            icmp_code: -1,
            ..Frame::default()
        }
    }

    pub fn code(&self) -> u32 {
        self.status & 0xFF
    }
}

/// The network layer's result before the transport header is read.
struct Net {
    version: u8,
    src: (u64, u64),
    dst: (u64, u64),
    protocol: u8,
    l4: usize,
    ip_len: u32,
    fragment: u8,
    truncated: bool,
}

/// Link layer: (ethertype, offset of the network header) or a failure status.
fn link(f: &[u8], lt: i64) -> Result<(u32, usize), u32> {
    let n = f.len();
    let (mut et, mut q) = match lt {
        LT_ETHERNET if n >= 14 => (be16(f, 12), 14),
        LT_SLL if n >= 16 => (be16(f, 14), 16),
        LT_SLL2 if n >= 20 => (be16(f, 0), 20),
        LT_ETHERNET | LT_SLL | LT_SLL2 => return Err(FR_MALFORMED),
        LT_RAW => match f.first().map(|v| v >> 4) {
            None => return Err(FR_MALFORMED),
            Some(4) => (ET_IPV4, 0),
            Some(6) => (ET_IPV6, 0),
            Some(_) => return Err(FR_NON_IP),
        },
        LT_IPV4 => (ET_IPV4, 0),
        LT_IPV6 => (ET_IPV6, 0),
        LT_NULL | LT_LOOP => {
            // the address family, in the capturing host's byte order (NULL) or big-endian (LOOP)
            if n < 4 {
                return Err(FR_MALFORMED);
            }
            let (fb, fl) = (be32(f, 0), le32(f, 0));
            let et = if fb == 2 || fl == 2 {
                ET_IPV4
            } else if [24, 28, 30].contains(&fb) || [24, 28, 30].contains(&fl) {
                ET_IPV6
            } else {
                return Err(FR_NON_IP);
            };
            (et, 4)
        }
        _ => return Err(FR_UNSUPPORTED_LINK),
    };
    // 802.1Q / 802.1ad / QinQ tags, any depth
    while et == 0x8100 || et == 0x88A8 || et == 0x9100 {
        if q + 4 > n {
            return Err(FR_MALFORMED);
        }
        et = be16(f, q + 2);
        q += 4;
    }
    Ok((et, q))
}

fn ipv4(f: &[u8], q: usize, orig_len: usize) -> Result<Net, u32> {
    let n = f.len();
    if q + 20 > n || f[q] >> 4 != 4 {
        return Err(FR_MALFORMED);
    }
    let ihl = usize::from(f[q] & 15) * 4;
    if ihl < 20 {
        return Err(FR_MALFORMED);
    }
    let mut tot = be16(f, q + 2) as usize;
    if tot == 0 {
        // TSO/GSO offloaded segments are captured with total length 0: the wire length decides
        tot = orig_len.saturating_sub(q).max(ihl);
    } else if tot < ihl {
        return Err(FR_MALFORMED);
    }
    let fo = be16(f, q + 6);
    let fragment = if fo & 0x1FFF != 0 {
        2
    } else if fo & 0x2000 != 0 {
        1
    } else {
        0
    };
    Ok(Net {
        version: 4,
        src: (0, V4_MAPPED | u64::from(be32(f, q + 12))),
        dst: (0, V4_MAPPED | u64::from(be32(f, q + 16))),
        protocol: f[q + 9],
        l4: q + ihl,
        ip_len: u32::try_from(tot).unwrap_or(u32::MAX),
        fragment,
        truncated: q + ihl > n,
    })
}

/// IPv6 extension headers with the generic layout (RFC 6564): next header, length in 8-octet units
/// beyond the first 8. Hop-by-hop, routing, destination options, mobility, HIP, shim6.
fn generic_extension(nh: u8) -> bool {
    matches!(nh, 0 | 43 | 60 | 135 | 139 | 140)
}

fn ipv6(f: &[u8], q: usize, orig_len: usize) -> Result<Net, u32> {
    let n = f.len();
    if q + 40 > n || f[q] >> 4 != 6 {
        return Err(FR_MALFORMED);
    }
    let mut plen = be16(f, q + 4) as usize;
    if plen == 0 {
        // jumbogram or offloaded segment: take the wire length
        plen = orig_len.saturating_sub(q + 40);
    }
    let mut net = Net {
        version: 6,
        src: (be64(f, q + 8), be64(f, q + 16)),
        dst: (be64(f, q + 24), be64(f, q + 32)),
        protocol: f[q + 6],
        l4: q + 40,
        ip_len: u32::try_from(40 + plen).unwrap_or(u32::MAX),
        fragment: 0,
        truncated: false,
    };
    // Every extension header is walked (issue 13 item 11): each step advances at least 8 bytes,
    // so the captured length bounds the walk.
    loop {
        let (nh, l4) = (net.protocol, net.l4);
        if generic_extension(nh) || nh == 51 {
            if l4 + 2 > n {
                net.truncated = true;
                break;
            }
            net.protocol = f[l4];
            net.l4 += if nh == 51 {
                (usize::from(f[l4 + 1]) + 2) * 4 // authentication header: 4-octet units minus 2
            } else {
                (usize::from(f[l4 + 1]) + 1) * 8
            };
        } else if nh == 44 {
            if l4 + 8 > n {
                net.truncated = true;
                break;
            }
            let fo = be16(f, l4 + 2);
            net.protocol = f[l4];
            net.l4 += 8;
            if fo >> 3 != 0 {
                net.fragment = 2;
                break; // a later fragment: what follows is payload, not headers
            }
            if fo & 1 != 0 {
                net.fragment = 1;
            }
        } else {
            break;
        }
    }
    Ok(net)
}

/// Transport fields into `out`; returns whether the capture cut the header.
fn transport(f: &[u8], net: &Net, out: &mut Frame) -> bool {
    let (l4, pr, n) = (net.l4, net.protocol, f.len());
    if net.fragment == 2 || net.truncated {
        return net.truncated;
    }
    let ports = matches!(pr, 6 | 17 | 132 | 33 | 136); // TCP, UDP, SCTP, DCCP, UDP-Lite: ports first
    let icmp = (pr == 1 && net.version == 4) || (pr == 58 && net.version == 6);
    if ports {
        if l4 + 4 > n {
            return true;
        }
        out.src_port = be16(f, l4) as u16;
        out.dst_port = be16(f, l4 + 2) as u16;
        if pr == 6 {
            // a snaplen that cuts TCP after the ports keeps them; only the flags are unknown
            // (issue 13 item 11)
            if l4 + 14 > n {
                return true;
            }
            out.tcp_flags = f[l4 + 13];
        }
    } else if icmp {
        if l4 + 2 > n {
            return true;
        }
        out.icmp_type = i16::from(f[l4]);
        out.icmp_code = i16::from(f[l4 + 1]);
    }
    false
}

/// Decode the frame `f` (its captured bytes) of link type `lt` and wire length `orig_len`.
pub fn parse_frame(f: &[u8], orig_len: usize, lt: i64) -> Frame {
    let (mut f, mut orig_len, mut lt) = (f, orig_len, lt);
    let mut extra = 0u32;
    let mut depth = 0u32;
    loop {
        let (et, q) = match link(f, lt) {
            Ok(v) => v,
            Err(status) => return Frame::fail(status | extra),
        };
        let net = match et {
            ET_IPV4 => ipv4(f, q, orig_len),
            ET_IPV6 => ipv6(f, q, orig_len),
            _ => Err(FR_NON_IP),
        };
        let net = match net {
            Ok(v) => v,
            Err(status) => return Frame::fail(status | extra),
        };
        let mut out = Frame {
            status: 0,
            version: net.version,
            src_hi: net.src.0,
            src_lo: net.src.1,
            dst_hi: net.dst.0,
            dst_lo: net.dst.1,
            protocol: net.protocol,
            icmp_type: -1,
            icmp_code: -1,
            ip_len: net.ip_len,
            fragment: net.fragment,
            ..Frame::default()
        };
        let truncated = transport(f, &net, &mut out);
        // VXLAN (traffic mirroring): the inner frame replaces the outer packet
        let l4 = net.l4;
        let vxlan = net.protocol == 17
            && out.dst_port == VXLAN_PORT
            && net.fragment == 0
            && depth < MAX_VXLAN_DEPTH
            && l4 + 16 + 14 <= f.len()
            && f[l4 + 8] & 0x08 != 0;
        if vxlan {
            f = &f[l4 + 16..];
            lt = LT_ETHERNET;
            orig_len = f.len();
            depth += 1;
            extra |= FLAG_VXLAN;
            continue;
        }
        if truncated {
            extra |= FLAG_TRUNCATED_L4;
        }
        out.status = FR_OK | extra;
        return out;
    }
}

//! Packet rows -> capture records: an Ethernet (or raw IP) frame with real IPv4/IPv6 headers
//! (lengths, IPv4 checksum, DF), real TCP/UDP/ICMP headers with verifying checksums (the payload is
//! zeros, so it adds nothing to them), cut at the record's captured length.
//!
//! The layout rules (options Linux sends, fragment encodings, identification numbers) are the ones
//! `sources/pcap_writer.py` documents; Python checks the rows, this module only encodes.

/// One packet row (the columns of a `PacketBatch` at one index).
#[derive(Clone, Copy, Debug, Default)]
pub struct Row {
    pub ts: i64,
    pub version: u8,
    pub src: (u64, u64),
    pub dst: (u64, u64),
    pub protocol: u8,
    pub src_port: u16,
    pub dst_port: u16,
    pub icmp_type: i16,
    pub icmp_code: i16,
    pub ip_len: u32,
    pub tcp_flags: u8,
    pub fragment: u8,
    pub seq: i64,
    pub ack: i64,
    /// the packet's number in the file (IPv4 identification, IPv6 fragment id)
    pub number: i64,
}

/// How records are written.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub ethernet: bool,
    pub nanos: bool,
    /// pcapng enhanced packet blocks instead of pcap records
    pub pcapng: bool,
}

const HDR: usize = 160;

fn put16(h: &mut [u8], p: usize, v: i64) {
    h[p..p + 2].copy_from_slice(&((v & 0xFFFF) as u16).to_be_bytes());
}

fn put32(h: &mut [u8], p: usize, v: i64) {
    h[p..p + 4].copy_from_slice(&((v & 0xFFFF_FFFF) as u32).to_be_bytes());
}

fn put32le(h: &mut [u8], p: usize, v: i64) {
    h[p..p + 4].copy_from_slice(&((v & 0xFFFF_FFFF) as u32).to_le_bytes());
}

fn put64(h: &mut [u8], p: usize, v: u64) {
    h[p..p + 8].copy_from_slice(&v.to_be_bytes());
}

fn csum_add(mut s: i64, b: &[u8], p: usize, n: usize) -> i64 {
    for k in (0..n.saturating_sub(1)).step_by(2) {
        s += (i64::from(b[p + k]) << 8) | i64::from(b[p + k + 1]);
    }
    if n & 1 == 1 {
        s += i64::from(b[p + n - 1]) << 8;
    }
    s
}

fn csum_fold(mut s: i64) -> i64 {
    while s >> 16 != 0 {
        s = (s & 0xFFFF) + (s >> 16);
    }
    !s & 0xFFFF
}

/// The IP header at `q`; returns (transport offset, transport length).
fn ip_header(h: &mut [u8], q: usize, r: &Row) -> (usize, i64) {
    let total = i64::from(r.ip_len);
    if r.version == 4 {
        h[q] = 0x45;
        put16(h, q + 2, total);
        put16(h, q + 4, r.number);
        let flags = match r.fragment {
            1 => 0x2000,
            2 => 185,
            _ => 0x4000, // DF
        };
        put16(h, q + 6, flags);
        h[q + 8] = 64;
        h[q + 9] = r.protocol;
        put32(h, q + 12, (r.src.1 & 0xFFFF_FFFF) as i64);
        put32(h, q + 16, (r.dst.1 & 0xFFFF_FFFF) as i64);
        let c = csum_fold(csum_add(0, h, q, 20));
        put16(h, q + 10, c);
        return (q + 20, total - 20);
    }
    h[q] = 0x60;
    put16(h, q + 4, total - 40);
    h[q + 6] = if r.fragment > 0 { 44 } else { r.protocol };
    h[q + 7] = 64;
    put64(h, q + 8, r.src.0);
    put64(h, q + 16, r.src.1);
    put64(h, q + 24, r.dst.0);
    put64(h, q + 32, r.dst.1);
    let (mut l4, mut l4len) = (q + 40, total - 40);
    if r.fragment > 0 {
        h[l4] = r.protocol;
        put16(h, l4 + 2, if r.fragment == 2 { 185 << 3 } else { 1 });
        put32(h, l4 + 4, r.number);
        l4 += 8;
        l4len -= 8;
    }
    (l4, l4len)
}

/// TCP header with the options Linux sends when the IP length has room: SYNs carry MSS,
/// SACK-permitted, timestamps and window scale; other segments carry timestamps. Returns its length.
fn tcp_header(h: &mut [u8], l4: usize, l4len: i64, r: &Row) -> usize {
    put16(h, l4, i64::from(r.src_port));
    put16(h, l4 + 2, i64::from(r.dst_port));
    put32(h, l4 + 4, r.seq);
    let fl = r.tcp_flags;
    let tsval = (r.ts / 1_000_000) & 0xFFFF_FFFF; // TSval: a millisecond clock
    let o = l4 + 20;
    let hl = if fl & 2 != 0 && l4len >= 40 {
        h[o..o + 8].copy_from_slice(&[2, 4, 0x05, 0xB4, 4, 2, 8, 10]); // MSS 1460, SACK-ok, TS
        put32(h, o + 8, tsval);
        h[o + 16..o + 20].copy_from_slice(&[1, 3, 3, 7]);
        40
    } else if fl & 2 != 0 && l4len >= 24 {
        h[o..o + 4].copy_from_slice(&[2, 4, 0x05, 0xB4]);
        24
    } else if fl & 16 != 0 && fl & 4 == 0 && l4len >= 32 {
        h[o..o + 4].copy_from_slice(&[1, 1, 8, 10]);
        put32(h, o + 4, tsval);
        32
    } else {
        20
    };
    put32(h, l4 + 8, r.ack);
    h[l4 + 12] = ((hl / 4) << 4) as u8;
    h[l4 + 13] = fl;
    put16(h, l4 + 14, 65535);
    hl
}

/// The transport header at `l4`; returns its length.
fn transport(h: &mut [u8], ip: usize, l4: usize, l4len: i64, r: &Row) -> usize {
    if r.fragment == 2 {
        return 0;
    }
    let pr = r.protocol;
    let (hl, ck) = match pr {
        6 => (tcp_header(h, l4, l4len, r), Some(16)),
        17 | 132 | 33 | 136 => {
            put16(h, l4, i64::from(r.src_port));
            put16(h, l4 + 2, i64::from(r.dst_port));
            let udp_like = pr == 17 || pr == 136;
            if udp_like {
                put16(h, l4 + 4, l4len);
            }
            (8, udp_like.then_some(6))
        }
        1 if r.version == 4 => (icmp(h, l4, r), Some(2)),
        58 if r.version == 6 => (icmp(h, l4, r), Some(2)),
        _ => (0, None),
    };
    if let (Some(ck), 0) = (ck, r.fragment) {
        let mut s = 0;
        if !(pr == 1 && r.version == 4) {
            // pseudo-header: addresses, upper-layer length, protocol
            s = if r.version == 4 {
                csum_add(s, h, ip + 12, 8)
            } else {
                csum_add(s, h, ip + 8, 32)
            };
            s += (l4len >> 16) + (l4len & 0xFFFF) + i64::from(pr);
        }
        let mut c = csum_fold(csum_add(s, h, l4, hl));
        if c == 0 && pr == 17 {
            c = 0xFFFF;
        }
        put16(h, l4 + ck, c);
    }
    hl
}

fn icmp(h: &mut [u8], l4: usize, r: &Row) -> usize {
    h[l4] = r.icmp_type.max(0) as u8;
    h[l4 + 1] = r.icmp_code.max(0) as u8;
    8
}

/// Bytes one record takes in the file.
pub fn record_size(caplen: usize, layout: &Layout) -> usize {
    if layout.pcapng {
        32 + ((caplen + 3) & !3)
    } else {
        caplen + 16
    }
}

/// Encode `r` as one record at the start of `out` (`record_size` bytes, zero-filled by the caller).
pub fn encode(out: &mut [u8], r: &Row, caplen: usize, ifid: i64, layout: &Layout) {
    let mut h = [0u8; HDR];
    let mut q = 0;
    if layout.ethernet {
        // locally administered MACs 02:00:00:00:00:02 <- 02:00:00:00:00:01
        h[..12].copy_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
        put16(&mut h, 12, if r.version == 4 { 0x0800 } else { 0x86DD });
        q = 14;
    }
    let (l4, l4len) = ip_header(&mut h, q, r);
    let hdr_end = l4 + transport(&mut h, q, l4, l4len, r);
    let wire = i64::from(r.ip_len) + if layout.ethernet { 14 } else { 0 };
    let n = caplen.min(hdr_end);
    let cap = caplen as i64;
    let data = if layout.pcapng {
        let blen = record_size(caplen, layout);
        put32le(out, 0, 6);
        put32le(out, 4, blen as i64);
        put32le(out, 8, ifid);
        put32le(out, 12, r.ts >> 32);
        put32le(out, 16, r.ts);
        put32le(out, 20, cap);
        put32le(out, 24, wire);
        put32le(out, blen - 4, blen as i64);
        28
    } else {
        let sec = r.ts.div_euclid(1_000_000_000);
        let mut frac = r.ts - sec * 1_000_000_000;
        if !layout.nanos {
            frac /= 1000;
        }
        put32le(out, 0, sec);
        put32le(out, 4, frac);
        put32le(out, 8, cap);
        put32le(out, 12, wire);
        16
    };
    out[data..data + n].copy_from_slice(&h[..n]);
}

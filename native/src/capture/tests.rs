//! The capture parsers' own tests: hand-built frames and files, the writer read back, and a bounded
//! slice of the fuzzing loop over a real capture (the million-case run is benchmarks/fuzz_capture.py).

use super::frame::{parse_frame, FLAG_TRUNCATED_L4, FR_MALFORMED, FR_OK, LT_ETHERNET};
use super::fuzz::{self, Rng};
use super::pcap::{self, PcapFormat, Resync};
use super::rows::{new_stats, Rows, ST_FIRST_MALFORMED, ST_MALFORMED, ST_REPAIRED_TS};
use super::Stop;
use crate::synth::writer::{encode, record_size, Layout, Row};

/// The shipped example capture (a bastion host's SSH and HTTPS traffic).
const BASTION: &[u8] = include_bytes!("../../../src/vpcflow/examples/run/captures/bastion.pcap");

fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn tcp(sp: u16, dp: u16, flags: u8) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&sp.to_be_bytes());
    t[2..4].copy_from_slice(&dp.to_be_bytes());
    t[12] = 0x50;
    t[13] = flags;
    t
}

fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![
        0x45, 0, 0, 0, 0, 7, 0x40, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    h[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(payload);
    h
}

fn ipv6(nh: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    h.extend_from_slice(&[nh, 64]);
    h.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    h.extend_from_slice(&[0; 11]);
    h.push(1);
    h.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    h.extend_from_slice(&[0; 11]);
    h.push(2);
    h.extend_from_slice(payload);
    h
}

fn pcap_file(records: &[(u32, u32, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in [0xA1B2_C3D4u32, 0x0004_0002, 0, 0, 65535, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    for (sec, frac, frame) in records {
        for v in [*sec, *frac, frame.len() as u32, frame.len() as u32] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(frame);
    }
    out
}

const US: PcapFormat = PcapFormat {
    big: false,
    nanos: false,
    linktype: LT_ETHERNET,
    max_caplen: 262_144,
    iface: -1,
};

fn scan_all(data: &[u8]) -> (Rows, [i64; 10], Stop) {
    let mut rows = Rows::default();
    let mut stats = new_stats();
    let (_, stop) = pcap::scan(data, 24, &US, 1 << 20, 0, &mut stats, &mut rows);
    (rows, stats, stop)
}

#[test]
fn ipv4_tcp_frame() {
    let f = parse_frame(
        &eth(0x0800, &ipv4(6, &tcp(40000, 22, 0x02))),
        54,
        LT_ETHERNET,
    );
    assert_eq!(f.status, FR_OK);
    assert_eq!(
        (f.version, f.protocol, f.src_port, f.dst_port),
        (4, 6, 40000, 22)
    );
    assert_eq!(
        (f.tcp_flags, f.ip_len, f.src_lo),
        (0x02, 40, 0xFFFF_0A00_0001)
    );
}

#[test]
fn every_ipv6_extension_header_is_walked() {
    for count in [1usize, 16, 17, 100] {
        let mut chain = Vec::new();
        for i in 0..count {
            let next = if i + 1 == count { 6 } else { 60 };
            chain.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]);
        }
        chain.extend_from_slice(&tcp(1, 443, 0x10));
        let frame = eth(0x86DD, &ipv6(60, &chain));
        let f = parse_frame(&frame, frame.len(), LT_ETHERNET);
        assert_eq!(
            (f.status, f.protocol, f.dst_port),
            (FR_OK, 6, 443),
            "{count} headers"
        );
    }
}

#[test]
fn tcp_cut_after_the_ports_keeps_them() {
    let frame = eth(0x0800, &ipv4(6, &tcp(40000, 22, 0x18)));
    let f = parse_frame(&frame[..14 + 20 + 6], frame.len(), LT_ETHERNET);
    assert_eq!(f.status, FR_OK | FLAG_TRUNCATED_L4);
    assert_eq!((f.src_port, f.dst_port, f.tcp_flags), (40000, 22, 0));
    let f = parse_frame(&frame[..14 + 20 + 3], frame.len(), LT_ETHERNET);
    assert_eq!((f.src_port, f.dst_port), (0, 0));
}

#[test]
fn broken_ip_headers_are_malformed_with_the_first_offset() {
    let good = eth(0x0800, &ipv4(17, &[0, 53, 0, 53, 0, 8, 0, 0]));
    let mut ihl4 = good.clone();
    ihl4[14] = 0x44;
    let mut short_total = good.clone();
    short_total[16..18].copy_from_slice(&12u16.to_be_bytes());
    let data = pcap_file(&[(1, 0, good), (1, 1, ihl4), (1, 2, short_total)]);
    let (rows, stats, _) = scan_all(&data);
    assert_eq!(rows.len(), 1);
    assert_eq!(stats[ST_MALFORMED], 2);
    assert_eq!(stats[ST_FIRST_MALFORMED], 24 + 16 + 42);
    assert_eq!(
        parse_frame(&data[24 + 16 + 42 + 16..], 42, LT_ETHERNET).code(),
        FR_MALFORMED
    );
}

#[test]
fn a_fraction_of_one_second_is_carried() {
    let frame = eth(0x0800, &ipv4(6, &tcp(1, 2, 2)));
    let data = pcap_file(&[(5, 1_000_000, frame.clone()), (6, 1, frame)]);
    let (rows, stats, stop) = scan_all(&data);
    assert_eq!(stop, Stop::NeedMore);
    assert_eq!(rows.ts, vec![6_000_000_000, 6_000_001_000]);
    assert_eq!(stats[ST_REPAIRED_TS], 1);
    let mut bad = data.clone();
    bad[24 + 4..24 + 8].copy_from_slice(&1_000_001u32.to_le_bytes());
    assert_eq!(scan_all(&bad).2, Stop::Bad);
}

#[test]
fn resync_finds_records_after_a_length_past_the_end() {
    let frame = eth(0x0800, &ipv4(6, &tcp(1, 2, 2)));
    let recs: Vec<_> = (0..5).map(|i| (1_700_000_000, i, frame.clone())).collect();
    let mut data = pcap_file(&recs[..1]);
    let bad_at = data.len();
    for v in [1_700_000_000u32, 9, 60_000, 60_000] {
        data.extend_from_slice(&v.to_le_bytes());
    }
    data.extend_from_slice(&pcap_file(&recs[1..])[24..]);
    let (rows, _, stop) = scan_all(&data);
    assert_eq!((rows.len(), stop), (1, Stop::NeedMore));
    assert_eq!(
        pcap::resync(&data, bad_at + 1, true, &US, 3),
        Resync::Found(bad_at + 16)
    );
}

#[test]
fn the_writer_reads_back() {
    let layout = Layout {
        ethernet: true,
        nanos: false,
        pcapng: false,
    };
    let rows = [
        (4u8, 6u8, 0u8, 1500u32),
        (6, 17, 0, 200),
        (4, 1, 0, 84),
        (6, 58, 1, 1280),
        (4, 6, 2, 600),
    ];
    let mut data = pcap_file(&[]);
    for (i, &(version, protocol, fragment, ip_len)) in rows.iter().enumerate() {
        let v4 = 0xFFFF_0000_0000 | 0x0A00_0001;
        // a later fragment carries no transport header: nothing of it is written or read
        let ports = matches!(protocol, 6 | 17) && fragment != 2;
        let icmp = matches!(protocol, 1 | 58) && fragment != 2;
        let row = Row {
            ts: 1_700_000_000_000_000_000 + i as i64 * 1000,
            version,
            src: if version == 4 {
                (0, v4)
            } else {
                (0x2001_0db8 << 32, 1)
            },
            dst: if version == 4 {
                (0, v4 + 1)
            } else {
                (0x2001_0db8 << 32, 2)
            },
            protocol,
            src_port: if ports { 1000 + i as u16 } else { 0 },
            dst_port: if ports { 443 } else { 0 },
            icmp_type: if icmp { 8 } else { -1 },
            icmp_code: if icmp { 0 } else { -1 },
            ip_len,
            tcp_flags: if protocol == 6 && fragment != 2 {
                0x18
            } else {
                0
            },
            fragment,
            ..Row::default()
        };
        let caplen = (ip_len as usize + 14).min(96);
        let at = data.len();
        data.resize(at + record_size(caplen, &layout), 0);
        encode(&mut data[at..], &row, caplen, 0, &layout);
        let f = parse_frame(&data[at + 16..], ip_len as usize + 14, LT_ETHERNET);
        assert_eq!(f.code(), FR_OK, "row {i}");
        let got = (
            f.version, f.protocol, f.fragment, f.ip_len, f.src_port, f.dst_port,
        );
        let want = (
            version,
            protocol,
            fragment,
            ip_len,
            row.src_port,
            row.dst_port,
        );
        assert_eq!(got, want, "row {i}");
        assert_eq!(
            (f.src_hi, f.src_lo, f.tcp_flags),
            (row.src.0, row.src.1, row.tcp_flags)
        );
        assert_eq!((f.icmp_type, f.icmp_code), (row.icmp_type, row.icmp_code));
    }
    let (read, _, _) = scan_all(&data);
    assert_eq!(read.len(), rows.len());
}

#[test]
fn the_bastion_capture_reads_whole() {
    let out = fuzz::read_skip_bad(BASTION).expect("a pcap");
    assert!(out.rows > 100);
    assert_eq!((out.bad, out.rows), (0, out.frames));
}

/// A pcapng file of the bastion's first frames, for the fuzzing seeds.
fn bastion_pcapng() -> Vec<u8> {
    let mut out = Vec::new();
    let block = |out: &mut Vec<u8>, btype: u32, body: &[u8]| {
        let n = 12 + body.len().div_ceil(4) * 4;
        out.extend_from_slice(&btype.to_le_bytes());
        out.extend_from_slice(&(n as u32).to_le_bytes());
        out.extend_from_slice(body);
        out.resize(out.len() + (n - 12 - body.len()), 0);
        out.extend_from_slice(&(n as u32).to_le_bytes());
    };
    block(
        &mut out,
        0x0A0D_0D0A,
        &[
            0x4D, 0x3C, 0x2B, 0x1A, 1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        ],
    );
    block(&mut out, 1, &[1, 0, 0, 0, 0, 0, 0, 0]);
    let mut pos = 24;
    for i in 0..8u32 {
        let incl = u32::from_le_bytes(BASTION[pos + 8..pos + 12].try_into().unwrap()) as usize;
        let mut body = Vec::new();
        for v in [0, 0, 1000 + i, incl as u32, incl as u32] {
            body.extend_from_slice(&v.to_le_bytes());
        }
        body.extend_from_slice(&BASTION[pos + 16..pos + 16 + incl]);
        block(&mut out, 6, &body);
        pos += 16 + incl;
    }
    block(&mut out, 3, &[60, 0, 0, 0]);
    block(&mut out, 5, &[0; 16]);
    out
}

#[test]
fn fuzzing_slice_never_panics() {
    let seeds = vec![BASTION[..4096].to_vec(), bastion_pcapng()];
    assert!(fuzz::read_skip_bad(&seeds[1]).expect("pcapng").rows >= 8);
    let report = fuzz::run(&seeds, 20_000, 0x5EED);
    assert_eq!(
        report.panics, 0,
        "first panicking case {}",
        report.first_panic_case
    );
    assert!(report.rows > 0 && report.bad_records > 0 && report.refused > 0);
}

#[test]
fn mutations_stay_deterministic() {
    let (mut a, mut b) = (BASTION[..512].to_vec(), BASTION[..512].to_vec());
    let (mut ra, mut rb) = (Rng::new(3), Rng::new(3));
    for _ in 0..50 {
        fuzz::mutate(&mut a, &mut ra);
        fuzz::mutate(&mut b, &mut rb);
    }
    assert_eq!(a, b);
}

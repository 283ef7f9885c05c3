//! A deterministic fuzzing loop over the capture parsers: arbitrary bytes and mutations of real
//! captures, read the way the Python readers read them (with `--skip-bad` resynchronisation).
//!
//! Used by `cargo test` (a bounded slice), by `vpcflow._native.fuzz_capture` (the benchmark-style
//! run in benchmarks/fuzz_capture.py) and by the Python property tests. A panic in a case is caught
//! and counted, never propagated: the report says how many cases panicked and the first one.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::bytes::{u16_in, u32_in};
use super::frame::parse_frame;
use super::pcap::{self, PcapFormat, Resync};
use super::pcapng::{self, ScanState, Section};
use super::rows::{new_stats, Rows, N_STATS, ST_FRAMES};
use super::Stop;

/// splitmix64: small, fast, and the same sequence on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// uniform in 0..n (n > 0)
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// What a fuzzing run saw.
#[derive(Default, Debug, Clone)]
pub struct Report {
    pub cases: u64,
    pub rows: u64,
    pub frames: u64,
    pub bad_records: u64,
    pub refused: u64,
    pub panics: u64,
    pub first_panic_case: i64,
}

impl Report {
    pub fn items(&self) -> [(&'static str, i64); 7] {
        let c = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        [
            ("cases", c(self.cases)),
            ("rows", c(self.rows)),
            ("frames", c(self.frames)),
            ("bad_records", c(self.bad_records)),
            ("refused", c(self.refused)),
            ("panics", c(self.panics)),
            ("first_panic_case", self.first_panic_case),
        ]
    }
}

/// Counts of reading one input: rows, frames, bad records skipped; None when a reader without
/// `--skip-bad` would refuse it (not a capture).
pub struct Outcome {
    pub rows: u64,
    pub frames: u64,
    pub bad: u64,
}

const PCAP_MAGICS: [u32; 2] = [0xA1B2_C3D4, 0xA1B2_3C4D];

/// Read `data` as the readers do with `--skip-bad`: pcap or pcapng by magic.
pub fn read_skip_bad(data: &[u8]) -> Option<Outcome> {
    if data.len() >= 24 {
        for big in [false, true] {
            let magic = u32_in(data, 0, big);
            if PCAP_MAGICS.contains(&magic) {
                return Some(read_pcap(data, big, magic == PCAP_MAGICS[1]));
            }
        }
    }
    if data.len() >= 12 && u32_in(data, 0, false) == pcapng::SHB {
        return Some(read_pcapng(data));
    }
    None
}

fn read_pcap(data: &[u8], big: bool, nanos: bool) -> Outcome {
    let fmt = PcapFormat {
        big,
        nanos,
        linktype: i64::from(u32_in(data, 20, big) & 0xFFFF),
        max_caplen: 262_144,
        iface: -1,
    };
    let mut stats = new_stats();
    let mut out = Outcome {
        rows: 0,
        frames: 0,
        bad: 0,
    };
    let mut pos = 24;
    loop {
        let mut rows = Rows::with_capacity(64);
        let (next, stop) = pcap::scan(data, pos, &fmt, 64, 0, &mut stats, &mut rows);
        out.rows += rows.len() as u64;
        pos = next;
        match stop {
            Stop::Full => continue,
            Stop::NeedMore if pos >= data.len() => break,
            _ => {}
        }
        // a bad header, or a record running past the end: resynchronise after it
        out.bad += 1;
        match pcap::resync(data, pos + 1, true, &fmt, 3) {
            Resync::Found(at) => pos = at,
            _ => break,
        }
    }
    out.frames = stats[ST_FRAMES] as u64;
    out
}

/// The section's interface table as the Python reader builds it (link type, snaplen only).
#[derive(Default)]
struct Table {
    linktype: Vec<i64>,
    mode: Vec<i64>,
    k: Vec<i64>,
    offset: Vec<i64>,
    snaplen: Vec<i64>,
    label: Vec<i16>,
}

/// A section header or interface description at `pos`: the new position, or None if malformed.
fn python_block(data: &[u8], pos: usize, big: &mut bool, t: &mut Table) -> Option<usize> {
    if u32_in(data, pos, *big) == pcapng::SHB || u32_in(data, pos, !*big) == pcapng::SHB {
        if pos + 12 > data.len() {
            return None;
        }
        *big = match u32_in(data, pos + 8, false) {
            0x1A2B_3C4D => false,
            0x4D3C_2B1A => true,
            _ => return None,
        };
        *t = Table::default();
    }
    if pcapng::block_ok(data, pos, *big, 16 << 20) != 0 {
        return None;
    }
    let blen = u32_in(data, pos + 4, *big) as usize;
    if u32_in(data, pos, *big) == pcapng::IDB {
        if blen < 20 {
            return None;
        }
        t.linktype.push(i64::from(u16_in(data, pos + 8, *big)));
        t.snaplen.push(i64::from(u32_in(data, pos + 12, *big)));
        t.mode.push(0);
        t.k.push(1000);
        t.offset.push(0);
        t.label.push(-1);
    }
    Some(pos + blen)
}

fn read_pcapng(data: &[u8]) -> Outcome {
    let mut stats: [i64; N_STATS] = new_stats();
    let mut out = Outcome {
        rows: 0,
        frames: 0,
        bad: 0,
    };
    let (mut big, mut pos, mut last_ts) = (false, 0usize, 0i64);
    let mut t = Table::default();
    loop {
        let ifs = Section {
            big,
            max_block: 16 << 20,
            linktype: &t.linktype,
            mode: &t.mode,
            k: &t.k,
            offset_ns: &t.offset,
            snaplen: &t.snaplen,
            label: &t.label,
        };
        let mut rows = Rows::with_capacity(64);
        let mut st = ScanState {
            stats: &mut stats,
            rows: &mut rows,
            last_ts,
        };
        let (next, stop) = pcapng::scan(data, pos, &ifs, 64, 0, &mut st);
        last_ts = st.last_ts;
        out.rows += rows.len() as u64;
        pos = next;
        let resume = match stop {
            Stop::Full => continue,
            Stop::NeedMore if pos >= data.len() => break,
            Stop::Python => python_block(data, pos, &mut big, &mut t),
            _ => None,
        };
        if let Some(at) = resume {
            pos = at;
            continue;
        }
        out.bad += 1;
        match pcapng::resync(data, pos + 1, true, big, 16 << 20) {
            Resync::Found(at) => pos = at,
            _ => break,
        }
    }
    out.frames = stats[ST_FRAMES] as u64;
    out
}

/// One mutation of `data`: flip a bit, set a byte to an edge value, cut, insert random bytes,
/// delete a run, or overwrite a 32-bit field with an edge value (lengths and fractions).
pub fn mutate(data: &mut Vec<u8>, rng: &mut Rng) {
    let at = rng.below(data.len().max(1));
    match rng.below(6) {
        0 if !data.is_empty() => data[at] ^= 1 << rng.below(8),
        1 if !data.is_empty() => data[at] = [0, 0xFF, 0x7F, 0x80][rng.below(4)],
        2 => data.truncate(at),
        3 => {
            let n = 1 + rng.below(40);
            let at = at.min(data.len());
            let fresh: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
            data.splice(at..at, fresh);
        }
        4 if !data.is_empty() => {
            let stop = (at + 1 + rng.below(40)).min(data.len());
            data.drain(at..stop);
        }
        _ if data.len() >= 4 => {
            let at = at.min(data.len() - 4);
            let v: u32 = [
                0,
                1,
                0xFFFF_FFFF,
                1_000_000,
                1_000_000_000,
                0x8000_0000,
                65_535,
            ][rng.below(7)];
            data[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
        _ => {}
    }
}

/// One fuzz case: random bytes (optionally behind a valid file header) or a mutated seed, read
/// through the readers and, raw, through the frame decoder with a random link type.
pub fn case(seeds: &[Vec<u8>], rng: &mut Rng) -> Option<Outcome> {
    let kind = rng.below(4);
    let data: Vec<u8> = if kind == 0 || seeds.is_empty() {
        let n = rng.below(512);
        let mut d: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
        if let Some(s) = seeds.get(rng.below(seeds.len().max(1))) {
            if rng.below(2) == 0 {
                let head = s.len().min(if s.starts_with(&[0x0A, 0x0D, 0x0D, 0x0A]) {
                    28
                } else {
                    24
                });
                d.splice(0..0, s[..head].iter().copied());
            }
        }
        d
    } else {
        let mut d = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(6) {
            mutate(&mut d, rng);
        }
        d
    };
    let lt = [0, 1, 101, 108, 113, 228, 229, 276, 7][rng.below(9)];
    let cut = rng.below(data.len() + 1);
    let f = parse_frame(&data[..cut], rng.below(70_000), lt);
    assert!(f.code() <= 3, "frame status out of range");
    read_skip_bad(&data)
}

/// Run `cases` cases; panics are caught per case and counted.
pub fn run(seeds: &[Vec<u8>], cases: u64, rng_seed: u64) -> Report {
    let mut rng = Rng::new(rng_seed);
    let mut report = Report {
        first_panic_case: -1,
        ..Report::default()
    };
    for i in 0..cases {
        report.cases += 1;
        match catch_unwind(AssertUnwindSafe(|| case(seeds, &mut rng))) {
            Ok(Some(o)) => {
                report.rows += o.rows;
                report.frames += o.frames;
                report.bad_records += o.bad;
            }
            Ok(None) => report.refused += 1,
            Err(_) => {
                report.panics += 1;
                if report.first_panic_case < 0 {
                    report.first_panic_case = i as i64;
                }
            }
        }
    }
    report
}

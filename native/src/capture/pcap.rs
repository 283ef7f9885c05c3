//! Classic pcap records: header plausibility, the scan that decodes every record of a buffer, and
//! the resynchronisation `--skip-bad` uses after a bad header.
//!
//! The Python reader (`sources/pcap.py`) owns the file: it hands over the bytes read so far
//! (`b`, a memory map or one chunk of a stream) and resumes where a scan stopped.

use super::bytes::u32_in;
use super::frame::parse_frame;
use super::rows::{count, Rows, N_STATS, ST_REPAIRED_TS};
use super::{Stop, MAX_ORIG_LEN};

/// What a pcap file's global header says about its records.
#[derive(Clone, Copy, Debug)]
pub struct PcapFormat {
    pub big: bool,
    pub nanos: bool,
    pub linktype: i64,
    pub max_caplen: u32,
    /// the interface label index every row gets (-1: none)
    pub iface: i16,
}

impl PcapFormat {
    fn one_second(&self) -> u32 {
        if self.nanos {
            1_000_000_000
        } else {
            1_000_000
        }
    }
}

/// 0 when the 16-byte record header at `pos` is plausible, else a reason code: 1 timestamp
/// fraction out of range, 2 captured length above any snapshot length, 3 wire length 0 or absurd.
pub fn header_ok(b: &[u8], pos: usize, fmt: &PcapFormat) -> u32 {
    let frac = u32_in(b, pos + 4, fmt.big);
    let incl = u32_in(b, pos + 8, fmt.big);
    let orig = u32_in(b, pos + 12, fmt.big);
    // A fraction of exactly one second is read by libpcap and tshark (carried into the next
    // second, issue 10 item 5); only larger ones are garbage.
    if frac > fmt.one_second() {
        return 1;
    }
    if incl > fmt.max_caplen {
        return 2;
    }
    if orig == 0 || orig > MAX_ORIG_LEN {
        return 3;
    }
    0
}

/// Timestamp of the record at `pos` in ns; a fraction of exactly one second is carried.
fn record_ts(b: &[u8], pos: usize, fmt: &PcapFormat, stats: &mut [i64; N_STATS]) -> i64 {
    let sec = i64::from(u32_in(b, pos, fmt.big));
    let mut frac = i64::from(u32_in(b, pos + 4, fmt.big));
    if !fmt.nanos {
        frac *= 1000;
    }
    if frac == 1_000_000_000 {
        stats[ST_REPAIRED_TS] += 1;
    }
    sec * 1_000_000_000 + frac
}

/// Decode records from `pos` until `cap` rows, the end of `b`, or a bad header. Returns the next
/// position and why the scan stopped (at a bad header, `pos` points at it).
pub fn scan(
    b: &[u8],
    mut pos: usize,
    fmt: &PcapFormat,
    cap: usize,
    base: u64,
    stats: &mut [i64; N_STATS],
    rows: &mut Rows,
) -> (usize, Stop) {
    let end = b.len();
    while rows.len() < cap {
        if pos + 16 > end {
            return (pos, Stop::NeedMore);
        }
        if header_ok(b, pos, fmt) != 0 {
            return (pos, Stop::Bad);
        }
        let incl = u32_in(b, pos + 8, fmt.big) as usize;
        let orig = u32_in(b, pos + 12, fmt.big) as usize;
        if pos + 16 + incl > end {
            return (pos, Stop::NeedMore);
        }
        let r = parse_frame(&b[pos + 16..pos + 16 + incl], orig, fmt.linktype);
        if count(&r, base + pos as u64, stats) {
            let ts = record_ts(b, pos, fmt, stats);
            rows.push(ts, fmt.iface, &r);
        }
        pos += 16 + incl;
    }
    (pos, Stop::Full)
}

/// Outcome of a resynchronisation search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resync {
    /// a plausible record starts here
    Found(usize),
    /// the buffer ran out: read more, resume scanning from here
    NeedMore(usize),
    /// nothing plausible before end of file
    Nothing,
}

/// Find the next plausible record start at or after `pos`: its header and the `chain` headers
/// after it are plausible (and caplen <= wire length), or the chain ends exactly at end of file.
pub fn resync(b: &[u8], pos: usize, eof: bool, fmt: &PcapFormat, chain: usize) -> Resync {
    let end = b.len();
    let mut c = pos;
    while c + 16 <= end {
        match chain_verdict(b, c, eof, fmt, chain) {
            Some(true) => return Resync::Found(c),
            None => return Resync::NeedMore(c),
            Some(false) => c += 1,
        }
    }
    if eof {
        Resync::Nothing
    } else {
        Resync::NeedMore(c)
    }
}

/// Some(accepted) for the candidate at `c`, None when more data is needed to tell.
fn chain_verdict(b: &[u8], c: usize, eof: bool, fmt: &PcapFormat, chain: usize) -> Option<bool> {
    let end = b.len();
    let mut q = c;
    for good in 0..=chain {
        if q + 16 > end {
            // at end of file a candidate with at least one whole plausible record is accepted (a
            // partial tail is reported later as truncated)
            return eof.then_some(good > 0 || q == end);
        }
        if header_ok(b, q, fmt) != 0 {
            return Some(false);
        }
        let incl = u32_in(b, q + 8, fmt.big);
        if incl > u32_in(b, q + 12, fmt.big) {
            return Some(false);
        }
        if q + 16 + incl as usize > end {
            return eof.then_some(good > 0);
        }
        q += 16 + incl as usize;
    }
    Some(true)
}

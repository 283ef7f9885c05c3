//! pcapng blocks: length checks, the scan over packet blocks (enhanced, simple, obsolete), the
//! timestamp conversion and the resynchronisation `--skip-bad` uses after a bad block.
//!
//! Section headers and interface descriptions stop the scan (`Stop::Python`): the Python reader
//! (`sources/pcapng.py`) parses their options, then resumes with the section's interface table.

use super::bytes::{u16_in, u32_in};
use super::frame::parse_frame;
use super::rows::{count, Rows, N_STATS, ST_SKIPPED_BLOCKS, ST_UNTIMED};
use super::Stop;

pub const SHB: u32 = 0x0A0D_0D0A;
pub const IDB: u32 = 1;
pub const PB: u32 = 2;
pub const SPB: u32 = 3;
pub const EPB: u32 = 6;
/// Block types a resynchronising reader accepts as a plausible block start.
const KNOWN_TYPES: [u32; 13] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0x0BAD, 0x4000_0BAD, SHB];

/// The current section: its byte order, the block size limit, and its interfaces (indexed by id).
pub struct Section<'a> {
    pub big: bool,
    pub max_block: u32,
    pub linktype: &'a [i64],
    /// timestamp conversion per interface: see [`ts_to_ns`]
    pub mode: &'a [i64],
    pub k: &'a [i64],
    pub offset_ns: &'a [i64],
    pub snaplen: &'a [i64],
    pub label: &'a [i16],
}

/// A timestamp in interface units -> ns. mode 0: x*k; 1: x/k; 2: binary fraction of k bits.
/// None when the time is beyond what an i64 count of ns holds (after the year 2262): such a
/// block is malformed, never a wrapped (negative, out-of-order) time.
pub fn ts_to_ns(raw: u64, mode: i64, k: i64) -> Option<i64> {
    match mode {
        0 => i64::try_from(raw).ok()?.checked_mul(k),
        1 => i64::try_from(raw / k.max(1) as u64).ok(),
        _ => {
            let bits = k.clamp(0, 63) as u32;
            let whole = i64::try_from(raw >> bits).ok()?;
            let frac = raw & ((1u64 << bits) - 1);
            let frac_ns = (frac as f64 * (1e9 / 2f64.powi(bits as i32))) as i64;
            whole.checked_mul(1_000_000_000)?.checked_add(frac_ns)
        }
    }
}

/// 0 when the block at `pos` has a sane length whose trailing copy matches; -1 when more data is
/// needed to tell; 1 bad length; 2 trailing length mismatch.
pub fn block_ok(b: &[u8], pos: usize, big: bool, max_block: u32) -> i32 {
    let end = b.len();
    if pos + 12 > end {
        return -1;
    }
    let blen = u32_in(b, pos + 4, big);
    if blen < 12 || blen & 3 != 0 || blen > max_block {
        return 1;
    }
    let blen = blen as usize;
    if pos + blen > end {
        return -1;
    }
    if u32_in(b, pos + blen - 4, big) as usize != blen {
        return 2;
    }
    0
}

/// The mutable state of a pcapng scan.
pub struct ScanState<'a> {
    pub stats: &'a mut [i64; N_STATS],
    pub rows: &'a mut Rows,
    /// timestamp of the last packet block, for simple packet blocks (which have none)
    pub last_ts: i64,
}

/// Walk the blocks of one section from `pos` until `cap` rows, the end of `b`, a block Python
/// handles or a bad block. Returns the next position and why the scan stopped.
pub fn scan(
    b: &[u8],
    mut pos: usize,
    ifs: &Section<'_>,
    cap: usize,
    base: u64,
    st: &mut ScanState<'_>,
) -> (usize, Stop) {
    let (end, big, max_block) = (b.len(), ifs.big, ifs.max_block);
    while st.rows.len() < cap {
        let ok = block_ok(b, pos, big, max_block);
        if ok == -1 {
            if pos + 8 <= end && u32_in(b, pos, big) == SHB {
                return (pos, Stop::Python);
            }
            return (pos, Stop::NeedMore);
        }
        let btype = u32_in(b, pos, big);
        if btype == SHB || btype == IDB {
            return (pos, Stop::Python);
        }
        if ok != 0 {
            return (pos, Stop::Bad);
        }
        let blen = u32_in(b, pos + 4, big) as usize;
        let handled = match btype {
            EPB | PB => packet_block(b, pos, blen, btype, big, ifs, base, st),
            SPB => simple_block(b, pos, blen, big, ifs, base, st),
            _ => {
                st.stats[ST_SKIPPED_BLOCKS] += 1;
                true
            }
        };
        if !handled {
            return (pos, Stop::Bad);
        }
        pos += blen;
    }
    (pos, Stop::Full)
}

/// An enhanced or obsolete packet block; false when it is malformed.
#[allow(clippy::too_many_arguments)]
fn packet_block(
    b: &[u8],
    pos: usize,
    blen: usize,
    btype: u32,
    big: bool,
    ifs: &Section<'_>,
    base: u64,
    st: &mut ScanState<'_>,
) -> bool {
    if blen < 32 {
        return false;
    }
    let ifid = if btype == EPB {
        u32_in(b, pos + 8, big) as usize
    } else {
        u16_in(b, pos + 8, big) as usize
    };
    let capl = u32_in(b, pos + 20, big) as usize;
    let orig = u32_in(b, pos + 24, big) as usize;
    if ifid >= ifs.linktype.len() || capl > blen - 32 {
        return false;
    }
    let raw = (u64::from(u32_in(b, pos + 12, big)) << 32) | u64::from(u32_in(b, pos + 16, big));
    let Some(t) =
        ts_to_ns(raw, ifs.mode[ifid], ifs.k[ifid]).and_then(|t| t.checked_add(ifs.offset_ns[ifid]))
    else {
        return false;
    };
    let r = parse_frame(&b[pos + 28..pos + 28 + capl], orig, ifs.linktype[ifid]);
    st.last_ts = t;
    if count(&r, base + pos as u64, st.stats) {
        st.rows.push(t, ifs.label[ifid], &r);
    }
    true
}

/// A simple packet block (interface 0, no timestamp); false when it is malformed.
fn simple_block(
    b: &[u8],
    pos: usize,
    blen: usize,
    big: bool,
    ifs: &Section<'_>,
    base: u64,
    st: &mut ScanState<'_>,
) -> bool {
    if blen < 16 || ifs.linktype.is_empty() {
        return false;
    }
    let orig = u32_in(b, pos + 8, big) as usize;
    let mut capl = orig.min(blen - 16);
    if ifs.snaplen[0] > 0 {
        capl = capl.min(ifs.snaplen[0] as usize);
    }
    let r = parse_frame(&b[pos + 12..pos + 12 + capl], orig, ifs.linktype[0]);
    st.stats[ST_UNTIMED] += 1;
    if count(&r, base + pos as u64, st.stats) {
        st.rows.push(st.last_ts, ifs.label[0], &r);
    }
    true
}

/// Find the next plausible block at or after `pos`: a known block type whose length is sane and
/// whose trailing length copy matches. Same outcomes as `pcap::resync`.
pub fn resync(b: &[u8], pos: usize, eof: bool, big: bool, max_block: u32) -> super::pcap::Resync {
    use super::pcap::Resync;
    let end = b.len();
    let mut c = pos;
    while c + 8 <= end {
        if KNOWN_TYPES.contains(&u32_in(b, c, big)) {
            match block_ok(b, c, big, max_block) {
                0 => return Resync::Found(c),
                -1 if !eof => return Resync::NeedMore(c),
                _ => {}
            }
        }
        c += 1;
    }
    if eof {
        Resync::Nothing
    } else {
        Resync::NeedMore(c)
    }
}

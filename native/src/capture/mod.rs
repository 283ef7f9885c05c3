//! Capture decoding: pcap and pcapng scanning, frame decoding, resynchronisation for `--skip-bad`,
//! memory-mapped capture files, and the fuzzing loop that proves the parsers never panic.
//!
//! Python keeps the readers' classes (`vpcflow.dataplane.sources`): they open files, parse the
//! few pcapng blocks with options, raise the project's errors and call these functions through
//! [`py`] for the per-packet work.

pub mod bytes;
pub mod frame;
pub mod fuzz;
pub mod live;
pub mod mapped;
pub mod pcap;
pub mod pcapng;
pub mod py;
pub mod rows;

/// A wire length above this is garbage, not a packet (IPv6 jumbograms aside, which no capture
/// here holds).
pub const MAX_ORIG_LEN: u32 = 1 << 20;

/// Why a scan stopped; the values are the codes the Python readers see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// the next record is not wholly in the buffer
    NeedMore = 0,
    /// `cap` rows written
    Full = 1,
    /// a malformed record header or block (the position points at it)
    Bad = 2,
    /// a pcapng block the Python reader parses (section header, interface description)
    Python = 3,
}

#[cfg(test)]
mod tests;

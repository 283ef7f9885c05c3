//! The capture functions as Python sees them (`vpcflow._native`): numpy arrays in, numpy arrays
//! out, the GIL released around the scans, every call inside `errors::guard`.
//!
//! `buf` is the reader's bytes (a memory map or a chunk), `end` the number of valid bytes in it,
//! `base` the file offset of `buf[0]` (for offsets in counters and errors), `stats` the reader's
//! counters (`rows::ST_*`), updated in place.
#![allow(clippy::too_many_arguments)]

use numpy::{PyArray1, PyReadonlyArray1, PyReadwriteArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::pcap::{PcapFormat, Resync};
use super::pcapng::{ScanState, Section};
use super::rows::{Rows, N_STATS};
use super::{fuzz, live, pcap, pcapng};
use crate::errors::{guard, panic_text, source_error};

/// `errors::guard` for a scan: a panic becomes `SourceError` naming the capture and the file offset
/// where the scan started, so the user can find the bytes that triggered it.
fn guard_at<T>(
    py: Python<'_>,
    path: &str,
    offset: u64,
    f: impl FnOnce() -> PyResult<T>,
) -> PyResult<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let text = panic_text(payload.as_ref());
            let message = format!("internal error in the native core: {text}");
            Err(source_error(py, &message, path, Some(offset)))
        }
    }
}

fn bytes_of<'a>(buf: &'a PyReadonlyArray1<'_, u8>, end: usize) -> PyResult<&'a [u8]> {
    let all = buf.as_slice()?;
    all.get(..end)
        .ok_or_else(|| PyValueError::new_err(format!("end {end} beyond a buffer of {}", all.len())))
}

fn load_stats(stats: &PyReadwriteArray1<'_, i64>) -> PyResult<[i64; N_STATS]> {
    let s = stats.as_slice()?;
    s.try_into()
        .map_err(|_| PyValueError::new_err(format!("stats must have {N_STATS} counters")))
}

fn store_stats(stats: &mut PyReadwriteArray1<'_, i64>, values: &[i64; N_STATS]) -> PyResult<()> {
    stats.as_slice_mut()?.copy_from_slice(values);
    Ok(())
}

/// The rows as a dict of `PacketBatch` column name -> numpy array (no copy: the vectors move).
fn columns<'py>(py: Python<'py>, r: Rows) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("ts_ns", PyArray1::from_vec(py, r.ts))?;
    d.set_item("iface", PyArray1::from_vec(py, r.iface))?;
    d.set_item("ip_version", PyArray1::from_vec(py, r.version))?;
    d.set_item("src_hi", PyArray1::from_vec(py, r.src_hi))?;
    d.set_item("src_lo", PyArray1::from_vec(py, r.src_lo))?;
    d.set_item("dst_hi", PyArray1::from_vec(py, r.dst_hi))?;
    d.set_item("dst_lo", PyArray1::from_vec(py, r.dst_lo))?;
    d.set_item("protocol", PyArray1::from_vec(py, r.protocol))?;
    d.set_item("src_port", PyArray1::from_vec(py, r.src_port))?;
    d.set_item("dst_port", PyArray1::from_vec(py, r.dst_port))?;
    d.set_item("icmp_type", PyArray1::from_vec(py, r.icmp_type))?;
    d.set_item("icmp_code", PyArray1::from_vec(py, r.icmp_code))?;
    d.set_item("ip_len", PyArray1::from_vec(py, r.ip_len))?;
    d.set_item("tcp_flags", PyArray1::from_vec(py, r.tcp_flags))?;
    d.set_item("fragment", PyArray1::from_vec(py, r.fragment))?;
    Ok(d)
}

fn resync_tuple(r: Resync, end: usize) -> (i64, usize) {
    match r {
        Resync::Found(at) => (0, at),
        Resync::NeedMore(at) => (super::Stop::NeedMore as i64, at),
        Resync::Nothing => (-1, end),
    }
}

fn pcap_format(big: bool, nanos: bool, linktype: i64, max_caplen: u32, iface: i16) -> PcapFormat {
    PcapFormat {
        big,
        nanos,
        linktype,
        max_caplen,
        iface,
    }
}

/// 0 when the pcap record header at `pos` is plausible, else the reason code.
#[pyfunction]
fn pcap_header_ok(
    py: Python<'_>,
    buf: PyReadonlyArray1<'_, u8>,
    pos: usize,
    big: bool,
    nanos: bool,
    max_caplen: u32,
) -> PyResult<u32> {
    guard(py, "pcap", || {
        let b = buf.as_slice()?;
        if pos + 16 > b.len() {
            return Err(PyValueError::new_err("record header beyond the buffer"));
        }
        Ok(pcap::header_ok(
            b,
            pos,
            &pcap_format(big, nanos, 0, max_caplen, -1),
        ))
    })
}

/// Decode pcap records: (columns, next position, stop code).
#[pyfunction]
fn pcap_scan<'py>(
    py: Python<'py>,
    buf: PyReadonlyArray1<'py, u8>,
    pos: usize,
    end: usize,
    big: bool,
    nanos: bool,
    linktype: i64,
    max_caplen: u32,
    cap: usize,
    base: u64,
    iface: i16,
    mut stats: PyReadwriteArray1<'py, i64>,
    path: &str,
) -> PyResult<(Bound<'py, PyDict>, usize, i64)> {
    guard_at(py, path, base + pos as u64, || {
        let b = bytes_of(&buf, end)?;
        let mut st = load_stats(&stats)?;
        let fmt = pcap_format(big, nanos, linktype, max_caplen, iface);
        let (rows, pos, stop) = py.detach(|| {
            let mut rows = Rows::with_capacity(cap.min(1 << 20));
            let (pos, stop) = pcap::scan(b, pos, &fmt, cap, base, &mut st, &mut rows);
            (rows, pos, stop)
        });
        store_stats(&mut stats, &st)?;
        Ok((columns(py, rows)?, pos, stop as i64))
    })
}

/// Next plausible pcap record after a bad one: (0, at) found, (0 = NEED_MORE code, at) read more
/// and resume at `at`, (-1, end) nothing left.
#[pyfunction]
fn pcap_resync(
    py: Python<'_>,
    buf: PyReadonlyArray1<'_, u8>,
    pos: usize,
    end: usize,
    eof: bool,
    big: bool,
    nanos: bool,
    max_caplen: u32,
    chain: usize,
    path: &str,
    base: u64,
) -> PyResult<(i64, usize)> {
    guard_at(py, path, base + pos as u64, || {
        let b = bytes_of(&buf, end)?;
        let fmt = pcap_format(big, nanos, 0, max_caplen, -1);
        let r = py.detach(|| pcap::resync(b, pos, eof, &fmt, chain));
        Ok(resync_tuple(r, end))
    })
}

/// 0 when the pcapng block at `pos` is sane, -1 need more data, else a reason code.
#[pyfunction]
fn pcapng_block_ok(
    py: Python<'_>,
    buf: PyReadonlyArray1<'_, u8>,
    pos: usize,
    end: usize,
    big: bool,
    max_block: u32,
) -> PyResult<i32> {
    guard(py, "pcapng", || {
        Ok(pcapng::block_ok(bytes_of(&buf, end)?, pos, big, max_block))
    })
}

/// Walk pcapng packet blocks: (columns, next position, stop code, last timestamp).
#[pyfunction]
fn pcapng_scan<'py>(
    py: Python<'py>,
    buf: PyReadonlyArray1<'py, u8>,
    pos: usize,
    end: usize,
    big: bool,
    max_block: u32,
    if_linktype: PyReadonlyArray1<'py, i64>,
    if_mode: PyReadonlyArray1<'py, i64>,
    if_k: PyReadonlyArray1<'py, i64>,
    if_offset: PyReadonlyArray1<'py, i64>,
    if_snaplen: PyReadonlyArray1<'py, i64>,
    if_label: PyReadonlyArray1<'py, i16>,
    last_ts: i64,
    cap: usize,
    base: u64,
    mut stats: PyReadwriteArray1<'py, i64>,
    path: &str,
) -> PyResult<(Bound<'py, PyDict>, usize, i64, i64)> {
    guard_at(py, path, base + pos as u64, || {
        let b = bytes_of(&buf, end)?;
        let ifs = Section {
            big,
            max_block,
            linktype: if_linktype.as_slice()?,
            mode: if_mode.as_slice()?,
            k: if_k.as_slice()?,
            offset_ns: if_offset.as_slice()?,
            snaplen: if_snaplen.as_slice()?,
            label: if_label.as_slice()?,
        };
        let n = ifs.linktype.len();
        let same = [
            ifs.mode.len(),
            ifs.k.len(),
            ifs.offset_ns.len(),
            ifs.snaplen.len(),
        ];
        if same.iter().any(|&l| l != n) || ifs.label.len() != n {
            return Err(PyValueError::new_err("interface arrays differ in length"));
        }
        let mut st = load_stats(&stats)?;
        let (rows, pos, stop, last) = py.detach(|| {
            let mut rows = Rows::with_capacity(cap.min(1 << 20));
            let mut state = ScanState {
                stats: &mut st,
                rows: &mut rows,
                last_ts,
            };
            let (pos, stop) = pcapng::scan(b, pos, &ifs, cap, base, &mut state);
            let last = state.last_ts;
            (rows, pos, stop, last)
        });
        store_stats(&mut stats, &st)?;
        Ok((columns(py, rows)?, pos, stop as i64, last))
    })
}

/// Next plausible pcapng block after a bad one (same convention as `pcap_resync`).
#[pyfunction]
fn pcapng_resync(
    py: Python<'_>,
    buf: PyReadonlyArray1<'_, u8>,
    pos: usize,
    end: usize,
    eof: bool,
    big: bool,
    max_block: u32,
    path: &str,
    base: u64,
) -> PyResult<(i64, usize)> {
    guard_at(py, path, base + pos as u64, || {
        let b = bytes_of(&buf, end)?;
        let r = py.detach(|| pcapng::resync(b, pos, eof, big, max_block));
        Ok(resync_tuple(r, end))
    })
}

/// A pcapng timestamp in interface units -> ns (see `pcapng::ts_to_ns`); None beyond the i64 range.
#[pyfunction]
fn pcapng_ts_to_ns(raw: u64, mode: i64, k: i64) -> Option<i64> {
    pcapng::ts_to_ns(raw, mode, k)
}

/// Run `cases` fuzz cases (arbitrary bytes and mutations of `seeds`) through both readers; returns
/// the outcome counts (see `fuzz::Report`).
#[pyfunction]
fn fuzz_capture<'py>(
    py: Python<'py>,
    seeds: Vec<Vec<u8>>,
    cases: u64,
    rng_seed: u64,
) -> PyResult<Bound<'py, PyDict>> {
    guard(py, "fuzz", || {
        let report = py.detach(|| fuzz::run(&seeds, cases, rng_seed));
        let d = PyDict::new(py);
        for (k, v) in report.items() {
            d.set_item(k, v)?;
        }
        Ok(d)
    })
}

/// Panics inside the scans' guard (at `offset` of `path`), or with `detached` inside a GIL-free
/// section as the scans do, so tests prove a panic reaches Python as `SourceError`.
#[pyfunction]
fn _panic_for_test(py: Python<'_>, path: &str, offset: u64, detached: bool) -> PyResult<()> {
    guard_at(py, path, offset, || -> PyResult<()> {
        if detached {
            py.detach(|| panic!("deliberate panic for the boundary test (GIL released)"))
        } else {
            panic!("deliberate panic for the boundary test")
        }
    })
}

/// The capture constants Python mirrors (`sources/_native_capture.py` checks them at import).
#[pyfunction]
fn capture_constants(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    use super::frame as f;
    use super::rows as r;
    let d = PyDict::new(py);
    let items: [(&str, i64); 24] = [
        ("ST_FRAMES", r::ST_FRAMES as i64),
        ("ST_NON_IP", r::ST_NON_IP as i64),
        ("ST_MALFORMED", r::ST_MALFORMED as i64),
        ("ST_UNSUPPORTED_LINK", r::ST_UNSUPPORTED_LINK as i64),
        ("ST_TRUNCATED_L4", r::ST_TRUNCATED_L4 as i64),
        ("ST_VXLAN", r::ST_VXLAN as i64),
        ("ST_UNTIMED", r::ST_UNTIMED as i64),
        ("ST_SKIPPED_BLOCKS", r::ST_SKIPPED_BLOCKS as i64),
        ("ST_REPAIRED_TS", r::ST_REPAIRED_TS as i64),
        ("ST_FIRST_MALFORMED", r::ST_FIRST_MALFORMED as i64),
        ("N_STATS", r::N_STATS as i64),
        ("NEED_MORE", super::Stop::NeedMore as i64),
        ("FULL", super::Stop::Full as i64),
        ("BAD", super::Stop::Bad as i64),
        ("PYTHON", super::Stop::Python as i64),
        ("PCAPNG_SHB", i64::from(pcapng::SHB)),
        ("PCAPNG_IDB", i64::from(pcapng::IDB)),
        ("PCAPNG_PB", i64::from(pcapng::PB)),
        ("PCAPNG_SPB", i64::from(pcapng::SPB)),
        ("PCAPNG_EPB", i64::from(pcapng::EPB)),
        ("LT_ETHERNET", f::LT_ETHERNET),
        ("LT_RAW", f::LT_RAW),
        ("LT_SLL", f::LT_SLL),
        ("LT_SLL2", f::LT_SLL2),
    ];
    for (k, v) in items {
        d.set_item(k, v)?;
    }
    Ok(d)
}

/// A live interface read through a `TPACKET_V3` ring (see `live.rs`).
#[pyclass(module = "vpcflow._native")]
pub struct LiveRing {
    ring: Option<live::Ring>,
    device: String,
}

#[pymethods]
impl LiveRing {
    /// `filter`: classic BPF instructions (code, jt, jf, k), e.g. from `tcpdump -ddd`.
    #[new]
    #[pyo3(signature = (device, snaplen, block_size, block_nr, block_timeout_ms, filter=None))]
    fn new(
        py: Python<'_>,
        device: &str,
        snaplen: usize,
        block_size: usize,
        block_nr: usize,
        block_timeout_ms: u32,
        filter: Option<Vec<(u16, u8, u8, u32)>>,
    ) -> PyResult<Self> {
        let filter: Vec<live::BpfInsn> = filter
            .unwrap_or_default()
            .into_iter()
            .map(|(code, jt, jf, k)| live::BpfInsn { code, jt, jf, k })
            .collect();
        let cfg = live::RingConfig {
            device: device.to_string(),
            snaplen,
            block_size,
            block_nr,
            block_timeout_ms,
            filter,
        };
        let ring = py.detach(|| live::Ring::open(cfg)).map_err(PyErr::from)?;
        Ok(LiveRing {
            ring: Some(ring),
            device: device.to_string(),
        })
    }

    /// Rows of the blocks ready now, waiting up to `timeout_ms` for one: (columns, counters).
    fn read<'py>(
        &mut self,
        py: Python<'py>,
        timeout_ms: i32,
        cap: usize,
        iface: i16,
    ) -> PyResult<(Bound<'py, PyDict>, Vec<i64>)> {
        let path = format!("live:{}", self.device);
        let ring = self
            .ring
            .as_mut()
            .ok_or_else(|| source_error(py, "the live capture is closed", &path, None))?;
        guard(py, &path, || {
            let (rows, stats) = py.detach(|| {
                let mut rows = Rows::with_capacity(1024);
                let mut stats = [0i64; N_STATS];
                ring.read(timeout_ms, cap, iface, &mut stats, &mut rows);
                (rows, stats)
            });
            Ok((columns(py, rows)?, stats.to_vec()))
        })
    }

    /// Frames the kernel dropped since the last call.
    fn drops(&self) -> u64 {
        self.ring.as_ref().map_or(0, live::Ring::drops)
    }

    /// Release the socket and the ring now.
    fn close(&mut self) {
        self.ring = None;
    }
}

/// Register the capture functions on the extension module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<super::mapped::MappedFile>()?;
    m.add_class::<LiveRing>()?;
    m.add_function(wrap_pyfunction!(pcap_header_ok, m)?)?;
    m.add_function(wrap_pyfunction!(pcap_scan, m)?)?;
    m.add_function(wrap_pyfunction!(pcap_resync, m)?)?;
    m.add_function(wrap_pyfunction!(pcapng_block_ok, m)?)?;
    m.add_function(wrap_pyfunction!(pcapng_scan, m)?)?;
    m.add_function(wrap_pyfunction!(pcapng_resync, m)?)?;
    m.add_function(wrap_pyfunction!(pcapng_ts_to_ns, m)?)?;
    m.add_function(wrap_pyfunction!(fuzz_capture, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_test, m)?)?;
    m.add_function(wrap_pyfunction!(capture_constants, m)?)?;
    Ok(())
}

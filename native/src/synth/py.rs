//! The writer's encoder as Python sees it: `encode_records(columns..., caplen, ...) -> uint8 array`.
#![allow(clippy::too_many_arguments)]

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::writer::{encode, record_size, Layout, Row};
use crate::errors::guard;

/// The columns of a batch, borrowed.
struct Cols<'a> {
    ts: &'a [i64],
    version: &'a [u8],
    src_hi: &'a [u64],
    src_lo: &'a [u64],
    dst_hi: &'a [u64],
    dst_lo: &'a [u64],
    protocol: &'a [u8],
    src_port: &'a [u16],
    dst_port: &'a [u16],
    icmp_type: &'a [i16],
    icmp_code: &'a [i16],
    ip_len: &'a [u32],
    tcp_flags: &'a [u8],
    fragment: &'a [u8],
    seq: &'a [i64],
    ack: &'a [i64],
}

impl Cols<'_> {
    fn check(&self) -> Result<usize, String> {
        let n = self.ts.len();
        let lens = [
            self.version.len(),
            self.src_hi.len(),
            self.src_lo.len(),
            self.dst_hi.len(),
            self.dst_lo.len(),
            self.protocol.len(),
            self.src_port.len(),
            self.dst_port.len(),
            self.icmp_type.len(),
            self.icmp_code.len(),
            self.ip_len.len(),
            self.tcp_flags.len(),
            self.fragment.len(),
            self.seq.len(),
            self.ack.len(),
        ];
        if lens.iter().any(|&l| l != n) {
            return Err("columns differ in length".into());
        }
        Ok(n)
    }

    fn row(&self, i: usize, number: i64) -> Row {
        Row {
            ts: self.ts[i],
            version: self.version[i],
            src: (self.src_hi[i], self.src_lo[i]),
            dst: (self.dst_hi[i], self.dst_lo[i]),
            protocol: self.protocol[i],
            src_port: self.src_port[i],
            dst_port: self.dst_port[i],
            icmp_type: self.icmp_type[i],
            icmp_code: self.icmp_code[i],
            ip_len: self.ip_len[i],
            tcp_flags: self.tcp_flags[i],
            fragment: self.fragment[i],
            seq: self.seq[i],
            ack: self.ack[i],
            number,
        }
    }
}

fn encode_all(
    cols: &Cols<'_>,
    caplen: &[i64],
    ifid: &[i64],
    first: i64,
    layout: &Layout,
) -> Vec<u8> {
    let sizes: Vec<usize> = caplen
        .iter()
        .map(|&c| record_size(c.max(0) as usize, layout))
        .collect();
    let mut out = vec![0u8; sizes.iter().sum()];
    let mut o = 0;
    for (i, &size) in sizes.iter().enumerate() {
        let id = ifid.get(i).copied().unwrap_or(0);
        let row = cols.row(i, first.wrapping_add(i as i64));
        encode(
            &mut out[o..o + size],
            &row,
            caplen[i].max(0) as usize,
            id,
            layout,
        );
        o += size;
    }
    out
}

/// Encode a batch as pcap records (or pcapng enhanced packet blocks when `pcapng`).
#[pyfunction]
fn encode_records<'py>(
    py: Python<'py>,
    ts: PyReadonlyArray1<'py, i64>,
    ip_version: PyReadonlyArray1<'py, u8>,
    src_hi: PyReadonlyArray1<'py, u64>,
    src_lo: PyReadonlyArray1<'py, u64>,
    dst_hi: PyReadonlyArray1<'py, u64>,
    dst_lo: PyReadonlyArray1<'py, u64>,
    protocol: PyReadonlyArray1<'py, u8>,
    src_port: PyReadonlyArray1<'py, u16>,
    dst_port: PyReadonlyArray1<'py, u16>,
    icmp_type: PyReadonlyArray1<'py, i16>,
    icmp_code: PyReadonlyArray1<'py, i16>,
    ip_len: PyReadonlyArray1<'py, u32>,
    tcp_flags: PyReadonlyArray1<'py, u8>,
    fragment: PyReadonlyArray1<'py, u8>,
    seq: PyReadonlyArray1<'py, i64>,
    ack: PyReadonlyArray1<'py, i64>,
    caplen: PyReadonlyArray1<'py, i64>,
    ifid: PyReadonlyArray1<'py, i64>,
    first: i64,
    ethernet: bool,
    nanos: bool,
    pcapng: bool,
) -> PyResult<Bound<'py, PyArray1<u8>>> {
    guard(py, "capture writer", || {
        let cols = Cols {
            ts: ts.as_slice()?,
            version: ip_version.as_slice()?,
            src_hi: src_hi.as_slice()?,
            src_lo: src_lo.as_slice()?,
            dst_hi: dst_hi.as_slice()?,
            dst_lo: dst_lo.as_slice()?,
            protocol: protocol.as_slice()?,
            src_port: src_port.as_slice()?,
            dst_port: dst_port.as_slice()?,
            icmp_type: icmp_type.as_slice()?,
            icmp_code: icmp_code.as_slice()?,
            ip_len: ip_len.as_slice()?,
            tcp_flags: tcp_flags.as_slice()?,
            fragment: fragment.as_slice()?,
            seq: seq.as_slice()?,
            ack: ack.as_slice()?,
        };
        let n = cols.check().map_err(PyValueError::new_err)?;
        let (caplen, ifid) = (caplen.as_slice()?, ifid.as_slice()?);
        if caplen.len() != n || (pcapng && ifid.len() != n) {
            return Err(PyValueError::new_err(
                "caplen/ifid differ in length from the columns",
            ));
        }
        let layout = Layout {
            ethernet,
            nanos,
            pcapng,
        };
        let out = py.detach(|| encode_all(&cols, caplen, ifid, first, &layout));
        Ok(PyArray1::from_vec(py, out))
    })
}

/// Register the generation functions on the extension module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(encode_records, m)?)?;
    Ok(())
}

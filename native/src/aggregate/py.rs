//! Aggregation's Python boundary: the group-by of partial records, the one-pass fold of an
//! observation batch, and a flow log's open groups (`FoldState`, which folds the streaming pass's
//! core-held rows straight in). Columns come in as dicts of numpy arrays, results go out as numpy arrays.

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::groups::{Groups, PartialCols};
use super::observe::{observe_fold as fold_obs, KeyOptions, ObsCols, PacketCols, RunMaps};
use super::state::OpenGroups;
use crate::errors::guard;
use crate::policy::columns::same_length;
use crate::stream::py::Observations;

const STAGE: &str = "aggregation";

pub(crate) type GroupArrays<'py> = (
    Bound<'py, PyAny>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<u8>>,
    Bound<'py, PyArray1<i32>>,
);

/// (keys or first rows, packets, bytes, first, last, flags, rule) of folded groups.
fn group_arrays(py: Python<'_>, g: Groups, keys: bool) -> PyResult<GroupArrays<'_>> {
    let n = g.len();
    let head = if keys {
        PyArray1::from_vec(py, g.keys)
            .reshape([n, g.width])?
            .into_any()
    } else {
        PyArray1::from_vec(py, g.rep).into_any()
    };
    Ok((
        head,
        PyArray1::from_vec(py, g.packets),
        PyArray1::from_vec(py, g.bytes),
        PyArray1::from_vec(py, g.first),
        PyArray1::from_vec(py, g.last),
        PyArray1::from_vec(py, g.flags),
        PyArray1::from_vec(py, g.rule),
    ))
}

#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct ObsArrays<'py> {
    packet: PyReadonlyArray1<'py, i64>,
    eni: PyReadonlyArray1<'py, i32>,
    direction: PyReadonlyArray1<'py, u8>,
    action: PyReadonlyArray1<'py, u8>,
    src_hi: PyReadonlyArray1<'py, u64>,
    src_lo: PyReadonlyArray1<'py, u64>,
    dst_hi: PyReadonlyArray1<'py, u64>,
    dst_lo: PyReadonlyArray1<'py, u64>,
    pkt_src_hi: PyReadonlyArray1<'py, u64>,
    pkt_src_lo: PyReadonlyArray1<'py, u64>,
    pkt_dst_hi: PyReadonlyArray1<'py, u64>,
    pkt_dst_lo: PyReadonlyArray1<'py, u64>,
    traffic_path: PyReadonlyArray1<'py, i8>,
    peer_eni: PyReadonlyArray1<'py, i32>,
    src_service: PyReadonlyArray1<'py, i16>,
    dst_service: PyReadonlyArray1<'py, i16>,
    rule: PyReadonlyArray1<'py, i32>,
}

#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct PacketArrays<'py> {
    ts_ns: PyReadonlyArray1<'py, i64>,
    protocol: PyReadonlyArray1<'py, u8>,
    src_port: PyReadonlyArray1<'py, u16>,
    dst_port: PyReadonlyArray1<'py, u16>,
    ip_version: PyReadonlyArray1<'py, u8>,
    ip_len: PyReadonlyArray1<'py, u32>,
    tcp_flags: PyReadonlyArray1<'py, u8>,
}

#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct MapArrays<'py> {
    eni: PyReadonlyArray1<'py, i64>,
    rule: PyReadonlyArray1<'py, i32>,
    service: PyReadonlyArray1<'py, i64>,
    covered: PyReadonlyArray1<'py, bool>,
    interval: PyReadonlyArray1<'py, i64>,
}

#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct OptionItems {
    pkt_src: bool,
    pkt_dst: bool,
    path: bool,
    peer: bool,
    src_service: bool,
    dst_service: bool,
    filter: u8,
}

/// Every index an observation row uses must be in range (a clear error instead of a panic).
fn check_indexes(
    o: &ObsCols<'_>,
    pk: &PacketCols<'_>,
    maps: &RunMaps<'_>,
    opt: &KeyOptions,
) -> PyResult<()> {
    let n = o.packet.len();
    same_length(n, &[o.action.len(), o.rule.len()], "observations")?;
    // the point fields: one per row, or one per point the rows name
    let points = if o.point.is_empty() {
        n
    } else {
        same_length(n, &[o.point.len()], "observations")?;
        if o.point.iter().any(|&q| q as usize >= o.eni.len()) {
            return Err(PyValueError::new_err(
                "observe_fold: a point index is out of range",
            ));
        }
        o.eni.len()
    };
    let mut lengths = vec![
        o.eni.len(),
        o.direction.len(),
        o.src_hi.len(),
        o.src_lo.len(),
    ];
    lengths.extend([o.dst_hi.len(), o.dst_lo.len()]);
    same_length(points, &lengths, "observation points")?;
    let m = pk.ts_ns.len();
    let pk_lengths = [
        pk.protocol.len(),
        pk.src_port.len(),
        pk.dst_port.len(),
        pk.ip_version.len(),
    ];
    same_length(m, &pk_lengths, "packets")?;
    same_length(m, &[pk.ip_len.len(), pk.tcp_flags.len()], "packets")?;
    same_length(maps.covered.len(), &[maps.interval.len()], "flow-log ENIs")?;
    let bad = o.packet.iter().any(|&p| p < 0 || p as usize >= m)
        || o.eni.iter().any(|&e| e < 0 || e as usize >= maps.eni.len())
        || maps
            .eni
            .iter()
            .any(|&e| e < 0 || e as usize >= maps.covered.len())
        || maps.interval.iter().any(|&i| i <= 0)
        || o.rule
            .iter()
            .any(|&r| r >= 0 && !maps.rule.is_empty() && r as usize >= maps.rule.len())
        || (opt.peer
            && o.peer_eni
                .iter()
                .any(|&e| e >= 0 && e as usize >= maps.eni.len()));
    let svc_bad = |codes: &[i16]| {
        codes
            .iter()
            .any(|&c| c >= 0 && !maps.service.is_empty() && c as usize >= maps.service.len())
    };
    if bad
        || (opt.src_service && svc_bad(o.src_service))
        || (opt.dst_service && svc_bad(o.dst_service))
    {
        return Err(PyValueError::new_err(
            "observe_fold: an index is out of range",
        ));
    }
    Ok(())
}

/// Fold an observation batch into one flow log's partial records: (keys[g, width], packets, bytes,
/// first, last, flags, rule, active (ENI, window) words before the TrafficType filter).
#[pyfunction]
pub fn observe_fold<'py>(
    py: Python<'py>,
    obs: ObsArrays<'py>,
    packets: PacketArrays<'py>,
    maps: MapArrays<'py>,
    options: OptionItems,
) -> PyResult<(GroupArrays<'py>, Bound<'py, PyArray1<u64>>)> {
    guard(py, STAGE, || {
        let o = ObsCols {
            packet: obs.packet.as_slice()?,
            point: &[],
            eni: obs.eni.as_slice()?,
            direction: obs.direction.as_slice()?,
            action: obs.action.as_slice()?,
            src_hi: obs.src_hi.as_slice()?,
            src_lo: obs.src_lo.as_slice()?,
            dst_hi: obs.dst_hi.as_slice()?,
            dst_lo: obs.dst_lo.as_slice()?,
            pkt_src_hi: obs.pkt_src_hi.as_slice()?,
            pkt_src_lo: obs.pkt_src_lo.as_slice()?,
            pkt_dst_hi: obs.pkt_dst_hi.as_slice()?,
            pkt_dst_lo: obs.pkt_dst_lo.as_slice()?,
            traffic_path: obs.traffic_path.as_slice()?,
            peer_eni: obs.peer_eni.as_slice()?,
            src_service: obs.src_service.as_slice()?,
            dst_service: obs.dst_service.as_slice()?,
            rule: obs.rule.as_slice()?,
        };
        fold_columns(py, &o, &packets, &maps, &options)
    })
}

/// The packet columns, maps and options of a fold as the core reads them, every index of `o`
/// checked against them.
fn fold_inputs<'a>(
    o: &ObsCols<'_>,
    packets: &'a PacketArrays<'_>,
    maps: &'a MapArrays<'_>,
    options: &OptionItems,
) -> PyResult<(PacketCols<'a>, RunMaps<'a>, KeyOptions)> {
    let pk = PacketCols {
        ts_ns: packets.ts_ns.as_slice()?,
        protocol: packets.protocol.as_slice()?,
        src_port: packets.src_port.as_slice()?,
        dst_port: packets.dst_port.as_slice()?,
        ip_version: packets.ip_version.as_slice()?,
        ip_len: packets.ip_len.as_slice()?,
        tcp_flags: packets.tcp_flags.as_slice()?,
    };
    let m = RunMaps {
        eni: maps.eni.as_slice()?,
        rule: maps.rule.as_slice()?,
        service: maps.service.as_slice()?,
        covered: maps.covered.as_slice()?,
        interval: maps.interval.as_slice()?,
    };
    let opt = KeyOptions {
        pkt_src: options.pkt_src,
        pkt_dst: options.pkt_dst,
        path: options.path,
        peer: options.peer,
        src_service: options.src_service,
        dst_service: options.dst_service,
        filter: options.filter,
    };
    check_indexes(o, &pk, &m, &opt)?;
    Ok((pk, m, opt))
}

/// `observe_fold` over observation columns from numpy arrays: checks every index, folds without the GIL.
fn fold_columns<'py>(
    py: Python<'py>,
    o: &ObsCols<'_>,
    packets: &PacketArrays<'py>,
    maps: &MapArrays<'py>,
    options: &OptionItems,
) -> PyResult<(GroupArrays<'py>, Bound<'py, PyArray1<u64>>)> {
    let (pk, m, opt) = fold_inputs(o, packets, maps, options)?;
    let folded = py.detach(|| fold_obs(o, &pk, &m, &opt));
    Ok((
        group_arrays(py, folded.groups, true)?,
        PyArray1::from_vec(py, folded.active),
    ))
}

/// The open partial records of one flow log across batches (`state.rs`): `absorb` each batch's
/// folded partials, `close(watermark, interval)` takes the groups of ended windows out as
/// (keys[g, width], packets, bytes, first, last, flags, rule), in order of first appearance.
#[pyclass(module = "vpcflow._native")]
pub struct FoldState {
    open: OpenGroups,
}

#[pymethods]
impl FoldState {
    #[new]
    fn new(width: usize) -> PyResult<Self> {
        if width == 0 {
            return Err(PyValueError::new_err("FoldState: no key columns"));
        }
        Ok(FoldState {
            open: OpenGroups::new(width),
        })
    }

    fn __len__(&self) -> usize {
        self.open.len()
    }

    /// Bytes the open partial records hold (columns and hash table; `state.rs`).
    #[getter]
    fn table_bytes(&self) -> usize {
        self.open.bytes()
    }

    #[allow(clippy::too_many_arguments)]
    fn absorb<'py>(
        &mut self,
        py: Python<'py>,
        keys: PyReadonlyArray2<'py, u64>,
        packets: PyReadonlyArray1<'py, i64>,
        nbytes: PyReadonlyArray1<'py, i64>,
        first: PyReadonlyArray1<'py, i64>,
        last: PyReadonlyArray1<'py, i64>,
        flags: PyReadonlyArray1<'py, u8>,
        rule: PyReadonlyArray1<'py, i32>,
    ) -> PyResult<()> {
        guard(py, STAGE, || {
            let p = PartialCols {
                keys: keys.as_slice()?,
                width: self.open.groups.width,
                packets: packets.as_slice()?,
                bytes: nbytes.as_slice()?,
                first: first.as_slice()?,
                last: last.as_slice()?,
                flags: flags.as_slice()?,
                rule: rule.as_slice()?,
            };
            let n = p.packets.len();
            let lengths = [keys.shape()[0], p.bytes.len(), p.first.len(), p.last.len()];
            same_length(n, &lengths, "absorb")?;
            same_length(n, &[p.flags.len(), p.rule.len()], "absorb")?;
            if keys.shape()[1] != self.open.groups.width {
                return Err(PyValueError::new_err(format!(
                    "absorb: keys have {} words, the state {}",
                    keys.shape()[1],
                    self.open.groups.width
                )));
            }
            let open = &mut self.open;
            py.detach(|| open.absorb(&p));
            Ok(())
        })
    }

    /// Fold a batch's core-held observation rows (the streaming pass) straight into the open
    /// groups; the (ENI, window) words with traffic before the TrafficType filter.
    fn fold<'py>(
        &mut self,
        py: Python<'py>,
        obs: PyRef<'py, Observations>,
        packets: PacketArrays<'py>,
        maps: MapArrays<'py>,
        options: OptionItems,
    ) -> PyResult<Bound<'py, PyArray1<u64>>> {
        guard(py, STAGE, || {
            let o = obs.rows().cols();
            let (pk, m, opt) = fold_inputs(&o, &packets, &maps, &options)?;
            if opt.width() != self.open.groups.width {
                return Err(PyValueError::new_err(format!(
                    "fold: the options make keys of {} words, the state {}",
                    opt.width(),
                    self.open.groups.width
                )));
            }
            let open = &mut self.open;
            let active = py.detach(|| open.fold(&o, &pk, &m, &opt));
            Ok(PyArray1::from_vec(py, active))
        })
    }

    /// The distinct ends of the open groups' windows (window start + its ENI's interval), ascending.
    fn window_ends<'py>(
        &self,
        py: Python<'py>,
        interval: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        guard(py, STAGE, || {
            let iv = interval.as_slice()?;
            let open = &self.open;
            let ends = py.detach(|| open.window_ends(iv)).ok_or_else(|| {
                PyValueError::new_err("window_ends: an open group's ENI has no interval")
            })?;
            Ok(PyArray1::from_vec(py, ends))
        })
    }

    /// Take out the groups whose window ended at or before `watermark` (None: every group).
    fn close<'py>(
        &mut self,
        py: Python<'py>,
        watermark: Option<i64>,
        interval: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<GroupArrays<'py>> {
        guard(py, STAGE, || {
            let iv = interval.as_slice()?;
            if watermark.is_some() && self.open.max_eni().is_some_and(|e| e >= iv.len()) {
                return Err(PyValueError::new_err(
                    "close: an open group's ENI has no interval",
                ));
            }
            let open = &mut self.open;
            let closed = py.detach(|| open.close(watermark, iv));
            group_arrays(py, closed, true)
        })
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FoldState>()?;
    m.add_function(wrap_pyfunction!(observe_fold, m)?)?;
    Ok(())
}

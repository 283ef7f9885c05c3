//! The streaming pass's Python boundary: `decide_observe` (the decision pass, gathering its rows
//! into core-owned `Observations`) and `fold_observations` (one flow log's fold of those rows).
//! Same checks and same results as `ConnectionTracker.decide` + numpy gathers + `observe_fold`.

use numpy::{PyArray1, PyReadonlyArray1, PyReadwriteArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use super::{FlowPoints, ObsRows};
use crate::aggregate::py::{fold_columns, GroupArrays, MapArrays, OptionItems, PacketArrays};
use crate::errors::guard;
use crate::policy::py::{ConnectionTracker, SecurityGroupRules};

const STAGE: &str = "streaming pass";

/// The engine's flow-point columns (`attribute.FLOW_POINT_COLUMNS`), as numpy arrays.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct FlowPointArrays<'py> {
    eni: PyReadonlyArray1<'py, i32>,
    dir: PyReadonlyArray1<'py, u8>,
    rs_hi: PyReadonlyArray1<'py, u64>,
    rs_lo: PyReadonlyArray1<'py, u64>,
    rd_hi: PyReadonlyArray1<'py, u64>,
    rd_lo: PyReadonlyArray1<'py, u64>,
    ps_hi: PyReadonlyArray1<'py, u64>,
    ps_lo: PyReadonlyArray1<'py, u64>,
    pd_hi: PyReadonlyArray1<'py, u64>,
    pd_lo: PyReadonlyArray1<'py, u64>,
    tpath: PyReadonlyArray1<'py, i8>,
    peer: PyReadonlyArray1<'py, i32>,
    ssvc: PyReadonlyArray1<'py, i16>,
    dsvc: PyReadonlyArray1<'py, i16>,
}

impl FlowPointArrays<'_> {
    fn view(&self) -> PyResult<FlowPoints<'_>> {
        Ok(FlowPoints {
            eni: self.eni.as_slice()?,
            dir: self.dir.as_slice()?,
            rs_hi: self.rs_hi.as_slice()?,
            rs_lo: self.rs_lo.as_slice()?,
            rd_hi: self.rd_hi.as_slice()?,
            rd_lo: self.rd_lo.as_slice()?,
            ps_hi: self.ps_hi.as_slice()?,
            ps_lo: self.ps_lo.as_slice()?,
            pd_hi: self.pd_hi.as_slice()?,
            pd_lo: self.pd_lo.as_slice()?,
            tpath: self.tpath.as_slice()?,
            peer: self.peer.as_slice()?,
            ssvc: self.ssvc.as_slice()?,
            dsvc: self.dsvc.as_slice()?,
        })
    }
}

/// One batch's observation rows, held by the core (immutable once made, so any thread may fold them).
#[pyclass(module = "vpcflow._native", frozen)]
pub struct Observations {
    rows: ObsRows,
}

#[pymethods]
impl Observations {
    fn __len__(&self) -> usize {
        self.rows.len()
    }

    /// Rows whose action is REJECT.
    #[getter]
    fn rejects(&self) -> usize {
        self.rows.rejects()
    }

    /// The rows as numpy columns (`ObservationBatch`'s names; for inspection and tests).
    fn columns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, pyo3::types::PyDict>> {
        let d = pyo3::types::PyDict::new(py);
        let r = &self.rows;
        d.set_item("packet", PyArray1::from_slice(py, &r.packet))?;
        d.set_item("eni", PyArray1::from_vec(py, r.per_row(&r.eni)))?;
        d.set_item("direction", PyArray1::from_vec(py, r.per_row(&r.direction)))?;
        d.set_item("action", PyArray1::from_slice(py, &r.action))?;
        d.set_item("rule", PyArray1::from_slice(py, &r.rule))?;
        Ok(d)
    }
}

/// The decision pass of a batch (as `ConnectionTracker.decide`), its rows gathered from the
/// engine's flow-point columns into `Observations`, with the GIL released.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn decide_observe<'py>(
    py: Python<'py>,
    mut tracker: PyRefMut<'py, ConnectionTracker>,
    sg: PyRef<'py, SecurityGroupRules>,
    ts_ns: PyReadonlyArray1<'py, i64>,
    tcp_flags: PyReadonlyArray1<'py, u8>,
    proto: PyReadonlyArray1<'py, u8>,
    flow: PyReadonlyArray1<'py, i32>,
    points: PyReadwriteArray2<'py, u64>,
    flow_points: FlowPointArrays<'py>,
) -> PyResult<Observations> {
    guard(py, STAGE, || {
        let fp = flow_points.view()?;
        let rows = fp.rows();
        // every point row the pass can reach must have its fields (4 rows per flow id)
        let top = flow.as_slice()?.iter().copied().max().unwrap_or(-1);
        if top >= 0 && (top as usize + 1) * 4 > rows {
            return Err(PyValueError::new_err(
                "decide_observe: a flow id has no flow-point fields",
            ));
        }
        let d = tracker.decide_rows(py, &sg, &ts_ns, &tcp_flags, &proto, &flow, points)?;
        let rows = py.detach(|| ObsRows::gather(d, &fp));
        Ok(Observations { rows })
    })
}

/// One flow log's fold of `Observations` (as `observe_fold` of the same rows as numpy columns).
#[pyfunction]
pub fn fold_observations<'py>(
    py: Python<'py>,
    obs: PyRef<'py, Observations>,
    packets: PacketArrays<'py>,
    maps: MapArrays<'py>,
    options: OptionItems,
) -> PyResult<(GroupArrays<'py>, Bound<'py, PyArray1<u64>>)> {
    guard(py, STAGE, || {
        let rows = &obs.rows;
        fold_columns(py, &rows.cols(), &packets, &maps, &options)
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Observations>()?;
    m.add_function(wrap_pyfunction!(decide_observe, m)?)?;
    m.add_function(wrap_pyfunction!(fold_observations, m)?)?;
    Ok(())
}

//! The streaming pass's Python boundary: `decide_observe` (the decision pass, gathering its rows
//! into core-owned `Observations`), which each flow log folds straight into its open groups
//! (`FoldState.fold`, `aggregate::py`). Same checks and same results as `ConnectionTracker.decide`
//! + numpy gathers + `observe_fold` + `FoldState.absorb`.

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

use super::{FlowPoints, ObsRows};
use crate::errors::guard;
use crate::policy::flow_table_py::FlowTable;
use crate::policy::py::{ConnectionTracker, SecurityGroupRules};

const STAGE: &str = "streaming pass";

/// One batch's observation rows, held by the core (immutable once made, so any thread may fold them).
#[pyclass(module = "vpcflow._native", frozen)]
pub struct Observations {
    rows: ObsRows,
}

impl Observations {
    pub(crate) fn rows(&self) -> &ObsRows {
        &self.rows
    }
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
/// engine's flow table's point fields into `Observations`, with the GIL released.
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
    mut table: PyRefMut<'py, FlowTable>,
) -> PyResult<Observations> {
    guard(py, STAGE, || {
        // decide_rows checks that every flow id is in the table, so every row it emits has fields
        let t = &mut table.table;
        let d = tracker.decide_rows(py, &sg, &ts_ns, &tcp_flags, &proto, &flow, t)?;
        let f = &t.fields;
        let fp = FlowPoints {
            eni: &f.eni,
            dir: &f.dir,
            rs_hi: &f.rs_hi,
            rs_lo: &f.rs_lo,
            rd_hi: &f.rd_hi,
            rd_lo: &f.rd_lo,
            ps_hi: &f.ps_hi,
            ps_lo: &f.ps_lo,
            pd_hi: &f.pd_hi,
            pd_lo: &f.pd_lo,
            tpath: &f.tpath,
            peer: &f.peer,
            ssvc: &f.ssvc,
            dsvc: &f.dsvc,
        };
        let rows = py.detach(|| ObsRows::gather(d, &fp));
        Ok(Observations { rows })
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Observations>()?;
    m.add_function(wrap_pyfunction!(decide_observe, m)?)?;
    Ok(())
}

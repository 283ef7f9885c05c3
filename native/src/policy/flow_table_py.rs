//! The flow table's Python boundary: `FlowTable`, held by `PolicyEngine`, written by the batch's
//! new-flow step (`add_flows`, GIL released) and read by the decision passes
//! (`ConnectionTracker.decide`, `decide_observe`) without crossing into numpy.

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::flow_table::{Checks, FlowTable as Table, TableError};
use super::layout::POINT_WIDTH;
use super::py::{AttributionTables, FlowArrays, NetworkAclRules, SecurityGroupRules};
use crate::errors::guard;

const STAGE: &str = "policy engine";

/// (flow starts, categories, point rows) as numpy arrays.
type TableCopies<'py> = (
    Bound<'py, PyArray1<u32>>,
    Bound<'py, PyArray1<i16>>,
    Bound<'py, PyAny>,
);

fn value_error(e: TableError) -> PyErr {
    PyValueError::new_err(e.0)
}

/// Per flow its category and observation points, per point its tracker row and record fields.
#[pyclass(module = "vpcflow._native")]
#[derive(Default)]
pub struct FlowTable {
    pub(crate) table: Table,
}

#[pymethods]
impl FlowTable {
    #[new]
    fn new() -> Self {
        FlowTable::default()
    }

    /// Flows in the table (the next new flow's id).
    #[getter]
    fn flows(&self) -> usize {
        self.table.flows()
    }

    /// Observation points in the table.
    #[getter]
    fn points(&self) -> usize {
        self.table.point_count()
    }

    /// Bytes the per-flow and per-point tables hold (their capacity).
    #[getter]
    fn nbytes(&self) -> usize {
        self.table.bytes()
    }

    /// Forget every flow (the flow cache was reset); capacity and service codes are kept.
    fn clear(&mut self) {
        self.table.clear();
    }

    /// Plan and check the new flows whose first packets are rows `first` of the batch's flow-key
    /// columns (`version`: the packets' IP versions); they get ids `base, base + 1, ...`, which must
    /// continue the table. Returns the addresses (k, 2) whose AWS-service code must be resolved
    /// (`resolve_services`) when `services`, else an empty array.
    #[allow(clippy::too_many_arguments)]
    fn add_flows<'py>(
        &mut self,
        py: Python<'py>,
        plan: PyRef<'py, AttributionTables>,
        sg: PyRef<'py, SecurityGroupRules>,
        nacl: PyRef<'py, NetworkAclRules>,
        packets: FlowArrays<'py>,
        version: PyReadonlyArray1<'py, u8>,
        first: PyReadonlyArray1<'py, i64>,
        base: usize,
        services: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        guard(py, STAGE, || {
            if base != self.table.flows() {
                return Err(PyValueError::new_err(
                    "new flows: base id does not continue the flow table",
                ));
            }
            let f = packets.fields()?;
            let (ver, first) = (version.as_slice()?, first.as_slice()?);
            let checks = Checks {
                plan: &plan.tables,
                sg: &sg.rules,
                nacl: &nacl.rules,
            };
            let table = &mut self.table;
            let unknown = py
                .detach(|| table.add(&checks, &f, ver, first, services))
                .map_err(value_error)?;
            let flat: Vec<u64> = unknown.iter().flat_map(|a| [a.0, a.1]).collect();
            Ok(PyArray1::from_vec(py, flat)
                .reshape([unknown.len(), 2])?
                .into_any())
        })
    }

    /// The AWS-service codes (-1: none) of the addresses `add_flows` returned, in its order.
    fn resolve_services(
        &mut self,
        py: Python<'_>,
        addrs: PyReadonlyArray2<'_, u64>,
        codes: PyReadonlyArray1<'_, i16>,
    ) -> PyResult<()> {
        guard(py, STAGE, || {
            if addrs.shape()[1] != 2 {
                return Err(PyValueError::new_err(
                    "service codes: address rows of 2 words expected",
                ));
            }
            let pairs: Vec<(u64, u64)> = addrs
                .as_slice()?
                .chunks_exact(2)
                .map(|w| (w[0], w[1]))
                .collect();
            self.table
                .resolve_services(&pairs, codes.as_slice()?)
                .map_err(value_error)
        })
    }

    /// (packets per category code 0..=`categories`, code 0 left at 0; packets of unattributed
    /// flows) over the flow ids of a batch's packets.
    fn category_counts<'py>(
        &self,
        py: Python<'py>,
        flow: PyReadonlyArray1<'py, i32>,
        categories: usize,
    ) -> PyResult<(Bound<'py, PyArray1<i64>>, i64)> {
        guard(py, STAGE, || {
            let flow = flow.as_slice()?;
            let table = &self.table;
            let (counts, unattributed) = py
                .detach(|| table.category_counts(flow, categories))
                .map_err(value_error)?;
            Ok((PyArray1::from_vec(py, counts), unattributed))
        })
    }

    /// The record fields of point rows `q` (`ObservationBatch`'s source columns), as numpy arrays.
    fn gather<'py>(
        &self,
        py: Python<'py>,
        q: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        guard(py, STAGE, || {
            let q = q.as_slice()?;
            let n = self.table.point_count();
            if q.iter().any(|&i| i < 0 || i as usize >= n) {
                return Err(PyValueError::new_err("gather: a point row is out of range"));
            }
            let f = &self.table.fields;
            let d = PyDict::new(py);
            macro_rules! put {
                ($($name:ident),*) => {$(
                    let col: Vec<_> = q.iter().map(|&i| f.$name[i as usize]).collect();
                    d.set_item(stringify!($name), PyArray1::from_vec(py, col))?;
                )*};
            }
            put!(
                eni, dir, rs_hi, rs_lo, rd_hi, rd_lo, ps_hi, ps_lo, pd_hi, pd_lo, tpath, peer,
                ssvc, dsvc
            );
            Ok(d)
        })
    }

    /// Copies of the tables (tests and inspection): (flow starts, categories, point rows (n, 8)).
    fn tables<'py>(&self, py: Python<'py>) -> PyResult<TableCopies<'py>> {
        let t = &self.table;
        let rows = PyArray1::from_slice(py, &t.points)
            .reshape([t.point_count(), POINT_WIDTH])?
            .into_any();
        Ok((
            PyArray1::from_slice(py, &t.start),
            PyArray1::from_slice(py, &t.category),
            rows,
        ))
    }
}

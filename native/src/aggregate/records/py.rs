//! The Python boundary of record tables: `build_records` takes a flow log's closed partial records
//! and returns the table's row order, its columns and the REJECT side channel's rows as numpy
//! buffers (`dataplane/aggregate/records.py` wraps them in Arrow arrays without copying).

use numpy::{PyArray1, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::columns::{address_column, column, reject_positions, subset, Column, RowData, Validity};
use super::{in_window, order_rows, Closed, Rows, Windows};
use crate::aggregate::key::{ENI_SHIFT, META_ACTION_SHIFT};
use crate::errors::guard;
use crate::policy::columns::same_length;

const STAGE: &str = "record tables";

/// The closed partial records as `FoldState.close` returns them.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct ClosedArrays<'py> {
    keys: PyReadonlyArray2<'py, u64>,
    packets: PyReadonlyArray1<'py, i64>,
    bytes: PyReadonlyArray1<'py, i64>,
    first: PyReadonlyArray1<'py, i64>,
    last: PyReadonlyArray1<'py, i64>,
    flags: PyReadonlyArray1<'py, u8>,
    rule: PyReadonlyArray1<'py, i32>,
}

/// What the flow log adds: NODATA pairs, intervals, capacity, and the fields to build.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct TableRequest<'py> {
    nodata_eni: PyReadonlyArray1<'py, i64>,
    nodata_ws: PyReadonlyArray1<'py, i64>,
    interval: PyReadonlyArray1<'py, i64>,
    capacity: i64,
    /// format fields decoded from the key and aggregates (`columns::column`)
    fields: Vec<String>,
    /// (address field, its first key word)
    addresses: Vec<(String, usize)>,
}

/// What one call computes, before it becomes Python objects.
struct Built {
    rows: Rows,
    columns: Vec<(String, Column)>,
    reject_at: Vec<i64>,
    reject_rule: Vec<i32>,
    reject_eni: Vec<i64>,
    reject_columns: Vec<(String, Column)>,
    accept: usize,
}

fn check(
    c: &Closed<'_>,
    rule: &[i32],
    bytes: &[i64],
    flags: &[u8],
    req: &TableRequest<'_>,
    nd: (&[i64], &[i64]),
    iv: &[i64],
) -> PyResult<()> {
    let n = c.len();
    same_length(
        n,
        &[
            c.first.len(),
            c.last.len(),
            bytes.len(),
            flags.len(),
            rule.len(),
        ],
        "build_records",
    )?;
    same_length(nd.0.len(), &[nd.1.len()], "build_records NODATA pairs")?;
    if c.width < 6 || c.keys.len() != n * c.width {
        return Err(PyValueError::new_err(
            "build_records: keys need at least 6 words a row, one row a record",
        ));
    }
    if req
        .addresses
        .iter()
        .any(|(_, w)| *w < 2 || w + 1 >= c.width)
    {
        return Err(PyValueError::new_err(
            "build_records: an address key word is out of range",
        ));
    }
    let eni_ok = |e: u64| (e as usize) < iv.len();
    if !(0..n).all(|r| eni_ok(c.key(r, 0) >> ENI_SHIFT))
        || nd.0.iter().any(|&e| e < 0 || !eni_ok(e as u64))
    {
        return Err(PyValueError::new_err(
            "build_records: a record's ENI has no interval",
        ));
    }
    if iv.iter().any(|&i| !(2..=u32::MAX as i64).contains(&i)) {
        return Err(PyValueError::new_err(
            "build_records: an interval is out of range",
        ));
    }
    let ws_max = (1i64 << ENI_SHIFT) - 1;
    if nd.1.iter().any(|&w| !(0..=ws_max).contains(&w)) {
        return Err(PyValueError::new_err(
            "build_records: a NODATA window start is out of range",
        ));
    }
    let ws = |r: usize| (c.key(r, 0) & ws_max as u64) as i64;
    if !(0..n).all(|r| in_window(ws(r), c.first[r], c.last[r])) {
        return Err(PyValueError::new_err(
            "build_records: a record's start or end lies outside its window",
        ));
    }
    if req.capacity < 0 {
        return Err(PyValueError::new_err(
            "build_records: the SKIPDATA capacity is negative",
        ));
    }
    Ok(())
}

fn build(
    c: &Closed<'_>,
    d: &RowData<'_>,
    rule: &[i32],
    w: &Windows<'_>,
    fields: &[String],
    addresses: &[(String, usize)],
) -> Result<Built, String> {
    let rows = order_rows(c, w);
    let mut columns = Vec::new();
    for name in fields {
        if let Some(col) = column(name, &rows, d)? {
            columns.push((name.clone(), col));
        }
    }
    for (name, word) in addresses {
        columns.push((
            name.clone(),
            Column::Str(address_column(&rows.src, d, *word)?),
        ));
    }
    let reject_at = reject_positions(&rows, d);
    let rej = subset(&rows, &reject_at);
    let mut reject_columns = Vec::new();
    for name in [
        "flow-direction",
        "srcport",
        "dstport",
        "protocol",
        "start",
        "end",
        "packets",
    ] {
        if let Some(col) = column(name, &rej, d)? {
            reject_columns.push((name.to_string(), col));
        }
    }
    reject_columns.push((
        "srcaddr".into(),
        Column::Str(address_column(&rej.src, d, 2)?),
    ));
    reject_columns.push((
        "dstaddr".into(),
        Column::Str(address_column(&rej.src, d, 4)?),
    ));
    let accept = rows
        .src
        .iter()
        .filter(|&&s| s >= 0 && (d.keys[s as usize * d.width + 1] >> META_ACTION_SHIFT) & 1 == 0)
        .count();
    Ok(Built {
        reject_rule: rej.src.iter().map(|&s| rule[s as usize]).collect(),
        reject_eni: rej.eni,
        rows,
        columns,
        reject_at,
        reject_columns,
        accept,
    })
}

fn bitmap<'py>(py: Python<'py>, v: Validity) -> Option<Bound<'py, PyArray1<u8>>> {
    (v.nulls > 0).then(|| PyArray1::from_vec(py, v.bits))
}

/// A number column as `column_object` gives it.
fn numeric<'py, T: numpy::Element>(
    py: Python<'py>,
    tag: &str,
    values: Vec<T>,
    validity: Validity,
) -> PyResult<Bound<'py, PyAny>> {
    let nulls = validity.nulls;
    Ok((
        tag,
        PyArray1::from_vec(py, values),
        bitmap(py, validity),
        nulls,
    )
        .into_pyobject(py)?
        .into_any())
}

/// A column as a tuple: ("i32" | "i64", values, bitmap or None, nulls) or ("str", offsets, data,
/// bitmap or None, nulls).
fn column_object<'py>(py: Python<'py>, col: Column) -> PyResult<Bound<'py, PyAny>> {
    Ok(match col {
        Column::I32(c) => numeric(py, "i32", c.values, c.validity)?,
        Column::I64(c) => numeric(py, "i64", c.values, c.validity)?,
        Column::Str(c) => {
            let nulls = c.validity.nulls;
            let (offsets, data) = (
                PyArray1::from_vec(py, c.offsets),
                PyArray1::from_vec(py, c.data),
            );
            ("str", offsets, data, bitmap(py, c.validity), nulls)
                .into_pyobject(py)?
                .into_any()
        }
    })
}

fn columns_dict<'py>(py: Python<'py>, cols: Vec<(String, Column)>) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    for (name, col) in cols {
        out.set_item(name, column_object(py, col)?)?;
    }
    Ok(out)
}

fn result_dict(py: Python<'_>, b: Built) -> PyResult<Bound<'_, PyDict>> {
    let out = PyDict::new(py);
    let r = b.rows;
    out.set_item("ok", r.ok)?;
    out.set_item("accept", b.accept)?;
    out.set_item("reject", r.ok - b.accept)?;
    out.set_item("nodata", r.nodata)?;
    out.set_item("skipdata", r.skipdata)?;
    out.set_item("skipped_records", r.skipped_records)?;
    out.set_item("skipped_packets", r.skipped_packets)?;
    out.set_item("src", PyArray1::from_vec(py, r.src))?;
    out.set_item("eni", PyArray1::from_vec(py, r.eni))?;
    out.set_item("start", PyArray1::from_vec(py, r.start))?;
    out.set_item("end", PyArray1::from_vec(py, r.end))?;
    out.set_item("status", PyArray1::from_vec(py, r.status))?;
    out.set_item("columns", columns_dict(py, b.columns)?)?;
    let rej = PyDict::new(py);
    rej.set_item("record_index", PyArray1::from_vec(py, b.reject_at))?;
    rej.set_item("rule", PyArray1::from_vec(py, b.reject_rule))?;
    rej.set_item("eni", PyArray1::from_vec(py, b.reject_eni))?;
    rej.set_item("columns", columns_dict(py, b.reject_columns)?)?;
    out.set_item("rejects", rej)?;
    Ok(out)
}

/// A flow log's record table of closed windows: SKIPDATA cut, final order, columns, side channel.
#[pyfunction]
pub fn build_records<'py>(
    py: Python<'py>,
    closed: ClosedArrays<'py>,
    request: TableRequest<'py>,
) -> PyResult<Bound<'py, PyDict>> {
    guard(py, STAGE, || {
        let shape = closed.keys.shape();
        let c = Closed {
            keys: closed.keys.as_slice()?,
            width: shape[1],
            packets: closed.packets.as_slice()?,
            first: closed.first.as_slice()?,
            last: closed.last.as_slice()?,
        };
        let (bytes, flags, rule) = (
            closed.bytes.as_slice()?,
            closed.flags.as_slice()?,
            closed.rule.as_slice()?,
        );
        let nd = (
            request.nodata_eni.as_slice()?,
            request.nodata_ws.as_slice()?,
        );
        let iv = request.interval.as_slice()?;
        check(&c, rule, bytes, flags, &request, nd, iv)?;
        let d = RowData {
            keys: c.keys,
            width: c.width,
            packets: c.packets,
            bytes,
            flags,
        };
        let w = Windows {
            nodata_eni: nd.0,
            nodata_ws: nd.1,
            interval: iv,
            capacity: request.capacity as u64,
        };
        let (fields, addresses) = (&request.fields, &request.addresses);
        let built = py
            .detach(|| build(&c, &d, rule, &w, fields, addresses))
            .map_err(PyValueError::new_err)?;
        result_dict(py, built)
    })
}

/// Address text of 128-bit pairs (`codecs/addresses.py`): ("str", offsets, data, bitmap or None, nulls).
#[pyfunction]
#[pyo3(signature = (hi, lo, valid=None))]
pub fn format_addresses<'py>(
    py: Python<'py>,
    hi: PyReadonlyArray1<'py, u64>,
    lo: PyReadonlyArray1<'py, u64>,
    valid: Option<PyReadonlyArray1<'py, bool>>,
) -> PyResult<Bound<'py, PyAny>> {
    guard(py, STAGE, || {
        let (h, l) = (hi.as_slice()?, lo.as_slice()?);
        let ok = match &valid {
            Some(v) => Some(v.as_slice()?),
            None => None,
        };
        same_length(
            h.len(),
            &[l.len(), ok.map_or(h.len(), |v| v.len())],
            "format_addresses",
        )?;
        // one key row of two words per address: the address is words 0 and 1
        let keys: Vec<u64> = h.iter().zip(l).flat_map(|(&a, &b)| [a, b]).collect();
        let src: Vec<i64> = (0..h.len() as i64)
            .map(|i| {
                if ok.is_none_or(|v| v[i as usize]) {
                    i
                } else {
                    -1
                }
            })
            .collect();
        let d = RowData {
            keys: &keys,
            width: 2,
            packets: &[],
            bytes: &[],
            flags: &[],
        };
        let col = py
            .detach(|| address_column(&src, &d, 0))
            .map_err(PyValueError::new_err)?;
        column_object(py, Column::Str(col))
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(build_records, m)?)?;
    m.add_function(wrap_pyfunction!(format_addresses, m)?)?;
    Ok(())
}

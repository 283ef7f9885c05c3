//! The renderer's Python boundary: `RecordColumns` holds a record table's Arrow buffers (through
//! the buffer protocol, not copied) and renders rows of it as AWS text or JSON lines.
//!
//! Python describes each chunk of each column as a tuple `(kind, length, offset, validity, a, b,
//! dictionary)`: `kind` is Arrow's type name (`int8` ... `uint64`, `string`, `large_string`) or
//! `dictionary:<index type>`; `a` holds the values (integers), offsets (strings) or indices
//! (dictionaries); `b` the string data; `dictionary` the chunk tuple of a dictionary's values.
//! A missing buffer is `None`.

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use std::sync::Mutex;

use super::columns::{ArrayView, ChunkedView, Corrupt, IntType, Values};
use super::format::TextRefusal;
use super::lines::{RenderError, Rows, TableView};
use super::order::canonical_order;
use crate::errors::guard;

const STAGE: &str = "rendering records";
const ORDER_STAGE: &str = "ordering records";
/// The largest output buffer kept between calls (a slice of a few tens of thousands of records).
const SCRATCH_KEPT: usize = 64 << 20;

/// A buffer held for the life of the table (pyarrow exports bytes as `b`, numpy and bytes as `B`).
enum Held {
    Signed(PyBuffer<i8>),
    Unsigned(PyBuffer<u8>),
}

impl Held {
    fn get(obj: &Bound<'_, PyAny>) -> PyResult<Held> {
        let held = match PyBuffer::<i8>::get(obj) {
            Ok(b) => Held::Signed(b),
            Err(_) => Held::Unsigned(PyBuffer::<u8>::get(obj)?),
        };
        let contiguous = match &held {
            Held::Signed(b) => b.is_c_contiguous(),
            Held::Unsigned(b) => b.is_c_contiguous(),
        };
        if !contiguous {
            return Err(PyValueError::new_err("a column buffer is not contiguous"));
        }
        Ok(held)
    }

    fn bytes(&self) -> &[u8] {
        let (ptr, len) = match self {
            Held::Signed(b) => (b.buf_ptr(), b.len_bytes()),
            Held::Unsigned(b) => (b.buf_ptr(), b.len_bytes()),
        };
        if len == 0 || ptr.is_null() {
            return &[];
        }
        // SAFETY: the PyBuffer holds the exporter's buffer (PyObject_GetBuffer) until it is
        // dropped with `self`, so `len` bytes at `ptr` stay allocated for the returned borrow; the
        // buffer is C-contiguous (checked in `get`) and only read here. pyarrow buffers are
        // immutable once built, so nothing writes them while we read (with or without the GIL).
        unsafe { std::slice::from_raw_parts(ptr as *const u8, len) }
    }
}

enum Kind {
    Int(IntType),
    Str { wide: bool },
    Dict(IntType, Box<Chunk>),
}

/// One chunk's description; buffers are indexes into `RecordColumns::buffers`.
struct Chunk {
    kind: Kind,
    len: usize,
    offset: usize,
    validity: Option<usize>,
    a: Option<usize>,
    b: Option<usize>,
}

struct Column {
    name: String,
    chunks: Vec<Chunk>,
}

/// A record table's columns, ready to render any of its rows.
#[pyclass(frozen, module = "vpcflow._native")]
pub struct RecordColumns {
    buffers: Vec<Held>,
    columns: Vec<Column>,
    rows: usize,
    /// The output buffer, kept from one call to the next: a slice's text is copied out into a
    /// `bytes`, and a fresh buffer per slice cost more in page faults than the rendering itself.
    scratch: Mutex<Vec<u8>>,
}

fn hold(buffers: &mut Vec<Held>, obj: &Bound<'_, PyAny>) -> PyResult<Option<usize>> {
    if obj.is_none() {
        return Ok(None);
    }
    buffers.push(Held::get(obj)?);
    Ok(Some(buffers.len() - 1))
}

fn parse_chunk(buffers: &mut Vec<Held>, name: &str, spec: &Bound<'_, PyAny>) -> PyResult<Chunk> {
    let t = spec.cast::<PyTuple>()?;
    if t.len() != 7 {
        return Err(PyValueError::new_err("a chunk is described by 7 items"));
    }
    let kind_name: String = t.get_item(0)?.extract()?;
    let unknown = || {
        PyTypeError::new_err(format!(
            "column '{name}' has type {kind_name}; record columns are int32, int64 or string"
        ))
    };
    let kind = if let Some(index) = kind_name.strip_prefix("dictionary:") {
        let ty = IntType::parse(index).ok_or_else(unknown)?;
        Kind::Dict(ty, Box::new(parse_chunk(buffers, name, &t.get_item(6)?)?))
    } else if kind_name == "string" || kind_name == "large_string" {
        Kind::Str {
            wide: kind_name == "large_string",
        }
    } else {
        Kind::Int(IntType::parse(&kind_name).ok_or_else(unknown)?)
    };
    Ok(Chunk {
        kind,
        len: t.get_item(1)?.extract()?,
        offset: t.get_item(2)?.extract()?,
        validity: hold(buffers, &t.get_item(3)?)?,
        a: hold(buffers, &t.get_item(4)?)?,
        b: hold(buffers, &t.get_item(5)?)?,
    })
}

impl RecordColumns {
    fn slice(&self, at: Option<usize>) -> &[u8] {
        at.map_or(&[], |i| self.buffers[i].bytes())
    }

    fn view(&self, c: &Chunk) -> Result<ArrayView<'_>, Corrupt> {
        let values = match &c.kind {
            Kind::Int(ty) => Values::Int {
                ty: *ty,
                data: self.slice(c.a),
            },
            Kind::Str { wide } => Values::Str {
                wide: *wide,
                offsets: self.slice(c.a),
                data: self.slice(c.b),
            },
            Kind::Dict(ty, dictionary) => Values::Dict {
                ty: *ty,
                indices: self.slice(c.a),
                dictionary: Box::new(self.view(dictionary)?),
            },
        };
        let validity = c.validity.map(|i| self.buffers[i].bytes());
        ArrayView::new(c.len, c.offset, validity, values)
    }

    fn table(&self) -> PyResult<TableView<'_>> {
        let mut cols = Vec::with_capacity(self.columns.len());
        for col in &self.columns {
            let chunks = col
                .chunks
                .iter()
                .map(|c| self.view(c))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|Corrupt(m)| {
                    PyValueError::new_err(format!("column '{}': {m}", col.name))
                })?;
            cols.push(ChunkedView::new(chunks));
        }
        TableView::new(cols).map_err(|e| self.error(e))
    }

    /// Run `f` with the kept output buffer, emptied (a fresh one if another thread renders now).
    fn with_scratch<T>(&self, f: impl FnOnce(&mut Vec<u8>) -> PyResult<T>) -> PyResult<T> {
        match self.scratch.try_lock() {
            Ok(mut kept) => {
                kept.clear();
                let got = f(&mut kept);
                if kept.capacity() > SCRATCH_KEPT {
                    *kept = Vec::new(); // a huge slice: do not hold its size for the next
                }
                got
            }
            Err(_) => f(&mut Vec::new()),
        }
    }

    fn error(&self, e: RenderError) -> PyErr {
        let name = |c: usize| self.columns.get(c).map_or("?", |col| col.name.as_str());
        let msg = match e {
            RenderError::Refused(c, TextRefusal::Empty, _) => format!(
                "column '{}': an empty string cannot be written in a flow-log line (use null)",
                name(c)
            ),
            RenderError::Refused(c, TextRefusal::Structural, v) => format!(
                "column '{}': a value cannot be written in a flow-log line (it holds a space, a \
                 double quote or a line break): {:?}",
                name(c),
                String::from_utf8_lossy(&v)
            ),
            RenderError::Corrupt(c, m) => format!("column '{}': {m}", name(c)),
            RenderError::BadRow(r) => {
                format!("row {r} is outside the table of {} rows", self.rows)
            }
            RenderError::Lengths => "the columns of a record table differ in length".into(),
        };
        PyValueError::new_err(msg)
    }
}

/// Row indexes from Python: 64-bit, or 32-bit as `canonical_order` gives them.
#[derive(FromPyObject)]
pub enum RowIndexes<'py> {
    Wide(PyReadonlyArray1<'py, i64>),
    Narrow(PyReadonlyArray1<'py, u32>),
}

fn rows_of<'r>(start: usize, stop: usize, rows: &'r Option<RowIndexes<'_>>) -> PyResult<Rows<'r>> {
    Ok(match rows {
        None => Rows::Range(start, stop),
        Some(RowIndexes::Wide(ix)) => {
            let all = ix.as_slice()?;
            let stop = stop.min(all.len());
            Rows::Indices(&all[start.min(stop)..stop])
        }
        Some(RowIndexes::Narrow(ix)) => {
            let all = ix.as_slice()?;
            let stop = stop.min(all.len());
            Rows::Indices32(&all[start.min(stop)..stop])
        }
    })
}

#[pymethods]
impl RecordColumns {
    /// `columns`: a list of `(name, [chunk tuple, ...])`, one per column, all of equal length.
    #[new]
    fn new(py: Python<'_>, columns: Vec<(String, Vec<Bound<'_, PyAny>>)>) -> PyResult<Self> {
        guard(py, STAGE, || {
            let mut buffers = Vec::new();
            let mut cols = Vec::with_capacity(columns.len());
            for (name, specs) in columns {
                let chunks = specs
                    .iter()
                    .map(|s| parse_chunk(&mut buffers, &name, s))
                    .collect::<PyResult<Vec<_>>>()?;
                cols.push(Column { name, chunks });
            }
            let mut me = RecordColumns {
                buffers,
                columns: cols,
                rows: 0,
                scratch: Mutex::new(Vec::new()),
            };
            me.rows = me.table()?.num_rows();
            Ok(me)
        })
    }

    #[getter]
    fn num_rows(&self) -> usize {
        self.rows
    }

    /// `rows` (row indexes; None: every row) in canonical order, as 32-bit row indexes: ascending
    /// by every column in table order, a dictionary column by its values, nulls last, equal rows
    /// in the order given (the order `sinks/compact.py::canonical_rows` documents), sorted without
    /// the GIL.
    #[pyo3(signature = (rows=None))]
    fn canonical_order<'py>(
        &self,
        py: Python<'py>,
        rows: Option<PyReadonlyArray1<'_, i64>>,
    ) -> PyResult<Bound<'py, PyArray1<u32>>> {
        guard(py, ORDER_STAGE, || {
            let table = self.table()?;
            let set = match &rows {
                None => Rows::Range(0, table.num_rows()),
                Some(r) => Rows::Indices(r.as_slice()?),
            };
            let order = py
                .detach(|| canonical_order(&table, set))
                .map_err(|e| self.error(e))?;
            Ok(PyArray1::from_vec(py, order))
        })
    }

    /// The AWS text lines (each ending in `\n`) of rows `start..stop`, or of `rows[start:stop]`
    /// (row indexes, rendered in that order) when `rows` is given.
    #[pyo3(signature = (start, stop, rows=None))]
    fn text<'py>(
        &self,
        py: Python<'py>,
        start: usize,
        stop: usize,
        rows: Option<RowIndexes<'_>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        guard(py, STAGE, || {
            let table = self.table()?;
            let which = rows_of(start, stop, &rows)?;
            self.with_scratch(|out| {
                py.detach(|| table.text_lines(which, out, None))
                    .map_err(|e| self.error(e))?;
                Ok(PyBytes::new(py, out))
            })
        })
    }

    /// The AWS text lines of rows `start..stop` without newlines: (their bytes, the end offset of
    /// each line in them).
    fn lines<'py>(
        &self,
        py: Python<'py>,
        start: usize,
        stop: usize,
    ) -> PyResult<(Bound<'py, PyBytes>, Bound<'py, PyArray1<i64>>)> {
        guard(py, STAGE, || {
            let table = self.table()?;
            let which = Rows::Range(start, stop);
            let mut out = Vec::with_capacity(which.count() * 16 * table.num_columns());
            let mut ends = Vec::with_capacity(which.count());
            py.detach(|| table.text_lines(which, &mut out, Some(&mut ends)))
                .map_err(|e| self.error(e))?;
            Ok((PyBytes::new(py, &out), PyArray1::from_vec(py, ends)))
        })
    }

    /// The JSON lines of rows `start..stop` (or `rows[start:stop]`): `prefixes[c]` before column
    /// `c`'s value (`{"name":`, then `,"name":`), `}` and `\n` after each row; a column whose
    /// `raw` flag is set holds JSON texts and is copied verbatim.
    #[pyo3(signature = (prefixes, raw, start, stop, rows=None))]
    fn json<'py>(
        &self,
        py: Python<'py>,
        prefixes: Vec<Vec<u8>>,
        raw: Vec<bool>,
        start: usize,
        stop: usize,
        rows: Option<RowIndexes<'_>>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        guard(py, STAGE, || {
            if prefixes.len() != self.columns.len() || raw.len() != self.columns.len() {
                return Err(PyValueError::new_err(
                    "json lines need one prefix and one raw flag per column",
                ));
            }
            let table = self.table()?;
            let which = rows_of(start, stop, &rows)?;
            self.with_scratch(|out| {
                py.detach(|| table.json_lines(which, &prefixes, &raw, out))
                    .map_err(|e| self.error(e))?;
                Ok(PyBytes::new(py, out))
            })
        })
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<RecordColumns>()
}

//! Reading the compiled tables Python hands over: named numpy columns in a dict, copied once.
//!
//! The policy tables (rules, topology) are built once per engine, so copying them into Rust-owned
//! vectors costs nothing measurable and frees every later call from numpy borrow bookkeeping.

use numpy::{
    Element, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArrayDyn, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyKeyError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The 1-D column `name` of `columns` as a vector (its dtype must be `T`'s).
pub fn vec1<T: Element + Copy>(columns: &Bound<'_, PyDict>, name: &str) -> PyResult<Vec<T>> {
    let item = columns
        .get_item(name)?
        .ok_or_else(|| PyKeyError::new_err(format!("native table: missing column {name:?}")))?;
    let arr: PyReadonlyArray1<'_, T> = item.extract().map_err(|e| {
        PyValueError::new_err(format!(
            "native table: column {name:?} has the wrong type: {e}"
        ))
    })?;
    Ok(arr.as_array().to_vec())
}

/// The 2-D column `name` as (row-major values, number of columns).
pub fn vec2<T: Element + Copy>(
    columns: &Bound<'_, PyDict>,
    name: &str,
) -> PyResult<(Vec<T>, usize)> {
    let item = columns
        .get_item(name)?
        .ok_or_else(|| PyKeyError::new_err(format!("native table: missing column {name:?}")))?;
    let arr: PyReadonlyArray2<'_, T> = item.extract().map_err(|e| {
        PyValueError::new_err(format!(
            "native table: column {name:?} has the wrong type: {e}"
        ))
    })?;
    let width = arr.shape()[1];
    Ok((arr.as_array().iter().copied().collect(), width))
}

/// The column `name` of any number of dimensions, flattened in row-major order.
pub fn vec_flat<T: Element + Copy>(columns: &Bound<'_, PyDict>, name: &str) -> PyResult<Vec<T>> {
    let item = columns
        .get_item(name)?
        .ok_or_else(|| PyKeyError::new_err(format!("native table: missing column {name:?}")))?;
    let arr: PyReadonlyArrayDyn<'_, T> = item.extract().map_err(|e| {
        PyValueError::new_err(format!(
            "native table: column {name:?} has the wrong type: {e}"
        ))
    })?;
    Ok(arr.as_array().iter().copied().collect())
}

/// Fail unless every slice has `n` rows (the kernels index them with one row number).
pub fn same_length(n: usize, lengths: &[usize], what: &str) -> PyResult<()> {
    if lengths.iter().any(|&l| l != n) {
        return Err(PyValueError::new_err(format!(
            "{what}: input columns differ in length"
        )));
    }
    Ok(())
}

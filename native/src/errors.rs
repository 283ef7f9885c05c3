//! Errors at the boundary: Rust results and panics become exceptions of `vpcflow.core.errors`.
//!
//! A panic in the packet path is a bug, but it must still reach the user as the project's error
//! (naming the file and offset when the caller knows them), never as pyo3's `PanicException`, which
//! derives from `BaseException` and escapes ordinary `except Exception` handlers.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Raise `vpcflow.core.errors.<class_name>(message, **kwargs)`.
pub fn project_error(
    py: Python<'_>,
    class_name: &str,
    message: &str,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let cls = py.import("vpcflow.core.errors")?.getattr(class_name)?;
        let value = cls.call((message,), kwargs)?;
        Ok(PyErr::from_value(value))
    };
    build().unwrap_or_else(|e| e)
}

/// `vpcflow.core.errors.SourceError(message, path=path, offset=offset)`.
pub fn source_error(py: Python<'_>, message: &str, path: &str, offset: Option<u64>) -> PyErr {
    let kwargs = PyDict::new(py);
    let filled = kwargs
        .set_item("path", path)
        .and_then(|_| kwargs.set_item("offset", offset));
    match filled {
        Ok(()) => project_error(py, "SourceError", message, Some(&kwargs)),
        Err(e) => e,
    }
}

/// The text of a caught panic payload.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Run `f`, turning a panic into `SourceError` naming `path` (the capture being read, or the
/// stage) so nothing but the project's exception tree crosses into Python.
pub fn guard<T>(py: Python<'_>, path: &str, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(result) => result,
        Err(payload) => {
            let text = panic_text(payload.as_ref());
            Err(source_error(
                py,
                &format!("internal error in the native core: {text}"),
                path,
                None,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::panic_text;

    #[test]
    fn panic_payloads_become_text() {
        let caught = std::panic::catch_unwind(|| panic!("bad offset {}", 7)).unwrap_err();
        assert_eq!(panic_text(caught.as_ref()), "bad offset 7");
        let caught = std::panic::catch_unwind(|| panic!("plain")).unwrap_err();
        assert_eq!(panic_text(caught.as_ref()), "plain");
    }
}

//! vpcflow's native core: the packet path from capture bytes to flow-log window state.
//!
//! The crate is built by maturin into the Python extension module `vpcflow._native`. Python keeps
//! the model, control plane, delivery and query; this crate owns the per-packet work. The boundary
//! rules (see docs/native.md):
//!
//! * arrays cross as numpy arrays (the `numpy` crate), which pyarrow wraps without copying;
//! * no panic crosses into Python: every exported function runs inside [`errors::guard`], which turns
//!   a panic into the project's exception tree (`vpcflow.core.errors`);
//! * `unsafe` lives only where it cannot be avoided (mmap, FFI), each block with a comment on why it
//!   is sound.

use pyo3::prelude::*;

pub mod aggregate;
pub mod capture;
pub mod digest;
pub mod errors;
pub mod policy;
pub mod render;
pub mod stream;
pub mod synth;

/// The version of the native core; Python checks it against the package version at import.
#[pyfunction]
fn native_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(native_version, m)?)?;
    m.add_function(wrap_pyfunction!(digest::file_digest, m)?)?;
    capture::py::register(m)?;
    synth::py::register(m)?;
    policy::py::register(m)?;
    aggregate::py::register(m)?;
    aggregate::records::py::register(m)?;
    stream::py::register(m)?;
    render::py::register(m)?;
    Ok(())
}

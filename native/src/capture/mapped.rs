//! A capture file mapped into memory (memmap2), exported through the buffer protocol so numpy
//! views it without a copy (`np.frombuffer(MappedFile(path), np.uint8)`).

use std::ffi::c_int;
use std::fs::File;

use memmap2::Mmap;
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;

/// A read-only memory map of a whole file.
#[pyclass(frozen, module = "vpcflow._native")]
pub struct MappedFile {
    map: Mmap,
}

#[pymethods]
impl MappedFile {
    #[new]
    fn new(path: &str) -> PyResult<Self> {
        let file = File::open(path).map_err(|e| PyOSError::new_err(e.to_string()))?;
        // SAFETY: the map is read-only and private to this object. Another process truncating the
        // file while it is mapped would make reads fault (SIGBUS); capture files are inputs that
        // nothing rewrites during a run, which docs/native.md states as the reader's assumption.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| PyOSError::new_err(e.to_string()))?;
        Ok(MappedFile { map })
    }

    fn __len__(&self) -> usize {
        self.map.len()
    }

    /// Export the bytes read-only.
    ///
    /// # Safety
    /// Called by Python's buffer protocol with a valid `Py_buffer` to fill.
    unsafe fn __getbuffer__(
        slf: Bound<'_, Self>,
        view: *mut pyo3::ffi::Py_buffer,
        flags: c_int,
    ) -> PyResult<()> {
        let map = &slf.get().map;
        // SAFETY: `view` is the caller's buffer struct. PyBuffer_FillInfo stores a new reference
        // to `slf` in it, so the map (owned by this frozen, immutable object) outlives every view;
        // the buffer is exported read-only (readonly = 1), so nothing writes through it.
        let rc = unsafe {
            pyo3::ffi::PyBuffer_FillInfo(
                view,
                slf.as_ptr(),
                map.as_ptr() as *mut std::ffi::c_void,
                map.len() as pyo3::ffi::Py_ssize_t,
                1,
                flags,
            )
        };
        if rc != 0 {
            return Err(PyErr::fetch(slf.py()));
        }
        Ok(())
    }
}

//! A capture file mapped into memory (memmap2), exported through the buffer protocol so numpy
//! views it without a copy (`np.frombuffer(MappedFile(path), np.uint8)`).
//!
//! Memory stays bounded by what is still to be read, not by the file: the map is advised sequential,
//! and the reader hands back every range it has consumed (`release`), whose pages then leave the
//! process's resident set (they stay in the page cache, shared, and fault back in if read again).

use std::ffi::c_int;
use std::fs::File;
use std::sync::atomic::{AtomicUsize, Ordering};

use memmap2::{Advice, Mmap, UncheckedAdvice};
use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;

/// A read-only memory map of a whole file.
#[pyclass(frozen, module = "vpcflow._native")]
pub struct MappedFile {
    map: Mmap,
    /// Bytes from the start already handed back with `release` (a multiple of the page size).
    released: AtomicUsize,
}

/// The system's page size (madvise ranges must start on a page boundary).
fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions; it only reads a system constant.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size)
        .ok()
        .filter(|s| *s > 0)
        .unwrap_or(4096)
}

impl MappedFile {
    /// Drop the resident pages of `[0, end)` rounded down to a page: the bytes a reader has consumed.
    /// Returns the new released length. Ranges already released are not advised again.
    pub fn release_to(&self, end: usize) -> std::io::Result<usize> {
        let page = page_size();
        let end = end.min(self.map.len()) / page * page;
        let from = self.released.load(Ordering::Acquire);
        if end <= from {
            return Ok(from);
        }
        // SAFETY: the map is a private, read-only map of a file nothing rewrites during a run (see
        // `new`). MADV_DONTNEED on such pages only drops this process's copy of them: a later read
        // of the range faults the same file bytes back in from the page cache, so every numpy view
        // of the map stays valid and reads what it read before. No page was ever written.
        unsafe {
            self.map
                .unchecked_advise_range(UncheckedAdvice::DontNeed, from, end - from)?;
        }
        self.released.fetch_max(end, Ordering::AcqRel);
        Ok(end)
    }
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
        // Readers walk the file once from the start: read ahead generously. Only a hint, so a
        // kernel that refuses it changes nothing but speed.
        let _ = map.advise(Advice::Sequential);
        Ok(MappedFile {
            map,
            released: AtomicUsize::new(0),
        })
    }

    fn __len__(&self) -> usize {
        self.map.len()
    }

    /// Hand back the bytes before `end` (the reader has consumed them): their pages leave the
    /// resident set. Returns the length released so far (a multiple of the page size).
    fn release(&self, py: Python<'_>, end: usize) -> PyResult<usize> {
        py.detach(|| self.release_to(end))
            .map_err(|e| PyOSError::new_err(e.to_string()))
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

#[cfg(test)]
mod tests {
    use super::{page_size, MappedFile};
    use std::io::Write;

    fn temp_file(len: usize) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("vpcflow-mapped-{}-{len}", std::process::id()));
        let mut f = std::fs::File::create(&path).unwrap();
        let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        f.write_all(&bytes).unwrap();
        path
    }

    #[test]
    fn released_pages_read_the_same_bytes_again() {
        let page = page_size();
        let len = 5 * page + 123;
        let path = temp_file(len);
        let m = MappedFile::new(path.to_str().unwrap()).unwrap();
        let before: Vec<u8> = m.map.to_vec();
        // rounded down to a page; never moves backwards; clamped to the file
        assert_eq!(m.release_to(page + 7).unwrap(), page);
        assert_eq!(m.release_to(3).unwrap(), page);
        assert_eq!(m.release_to(3 * page).unwrap(), 3 * page);
        assert_eq!(m.release_to(len + page).unwrap(), len / page * page);
        assert_eq!(m.map.to_vec(), before);
        std::fs::remove_file(path).unwrap();
    }
}

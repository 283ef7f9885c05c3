//! The content digest of an input file (a run's identity names its captures by their bytes).
//!
//! XXH3-128 over the file, read in 1 MiB chunks into one buffer, so it costs neither resident memory
//! (nothing is mapped) nor much CPU: the digest runs at memory speed, where SHA-256 took about a
//! third of a 5,000,000-packet run (docs/benchmarks.md). The identity needs a digest that changes
//! when the bytes change, not one that resists a forger: a capture is the user's own input.

use std::fs::File;
use std::io::Read;

use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use xxhash_rust::xxh3::Xxh3;

const CHUNK: usize = 1 << 20;

/// XXH3-128 of everything `reader` yields, as 32 lowercase hex digits.
pub fn digest_reader(mut reader: impl Read) -> std::io::Result<String> {
    let mut hasher = Xxh3::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(format!("{:032x}", hasher.digest128()))
}

/// `file_digest(path) -> str`: the file's XXH3-128 (GIL released while reading); OSError when the file
/// cannot be read.
#[pyfunction]
pub fn file_digest(py: Python<'_>, path: &str) -> PyResult<String> {
    crate::errors::guard(py, path, || {
        py.detach(|| File::open(path).and_then(digest_reader))
            .map_err(|e| PyOSError::new_err(e.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::digest_reader;

    #[test]
    fn digest_is_the_one_shot_xxh3_128_across_chunk_boundaries() {
        let data: Vec<u8> = (0..(super::CHUNK * 2 + 77))
            .map(|i| (i * 7 % 256) as u8)
            .collect();
        let streamed = digest_reader(&data[..]).unwrap();
        let one_shot = format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&data));
        assert_eq!(streamed, one_shot);
        assert_eq!(streamed.len(), 32);
        assert_ne!(digest_reader(&data[..data.len() - 1]).unwrap(), streamed);
    }
}

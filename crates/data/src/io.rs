//! File writing that never leaves a half-written file behind.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::{DataError, Result};

/// Writes `path` through a temporary file in the same folder, then renames it into place.
pub fn write_atomic(path: &Path, fill: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", path.file_name().map(|s| s.to_string_lossy()).unwrap_or_default()))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| DataError::io(dir, e))?;
    let mut w = BufWriter::new(tmp.reopen().map_err(|e| DataError::io(tmp.path(), e))?);
    fill(&mut w).and_then(|_| w.flush()).map_err(|e| DataError::io(path, e))?;
    let f = w.into_inner().map_err(|e| DataError::io(path, e.into_error()))?;
    f.sync_all().map_err(|e| DataError::io(path, e))?;
    tmp.persist(path).map_err(|e| DataError::io(path, e.error))?;
    Ok(())
}

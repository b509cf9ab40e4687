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

/// Reads a json file into `T`; errors name the file and the json path of the bad entry
/// (`annotations[17].bbox: invalid length 3 ... at line 1 column 2345`).
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    let de = &mut serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let p = e.path().to_string();
        DataError::at(path, if p == "." { "document".to_string() } else { p }, e.into_inner().to_string())
    })
}

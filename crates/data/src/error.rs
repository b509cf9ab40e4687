//! One error type for the whole data pipeline: every message names the file and,
//! where there is one, the entry (a json path, an xml line, a label line) that is wrong.

use std::fmt;
use std::path::{Path, PathBuf};

/// A data error: `file: entry: message`, always on one line.
#[derive(Debug)]
pub struct DataError {
    pub file: PathBuf,
    pub entry: Option<String>,
    pub message: String,
}

impl DataError {
    pub fn new(file: impl AsRef<Path>, message: impl Into<String>) -> Self {
        DataError { file: file.as_ref().to_path_buf(), entry: None, message: one_line(message.into()) }
    }

    pub fn at(file: impl AsRef<Path>, entry: impl Into<String>, message: impl Into<String>) -> Self {
        DataError {
            file: file.as_ref().to_path_buf(),
            entry: Some(one_line(entry.into())),
            message: one_line(message.into()),
        }
    }

    /// An I/O failure on `file`.
    pub fn io(file: impl AsRef<Path>, err: std::io::Error) -> Self {
        DataError::new(file, err.to_string())
    }
}

fn one_line(s: String) -> String {
    if s.contains('\n') { s.split_whitespace().collect::<Vec<_>>().join(" ") } else { s }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.entry {
            Some(e) => write!(f, "{}: {}: {}", self.file.display(), e, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for DataError {}

pub type Result<T, E = DataError> = std::result::Result<T, E>;

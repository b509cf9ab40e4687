//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// `../shared/data/<name>` beside the repository. Required under CI (`CI` set); elsewhere a
/// missing `../shared` skips the test with a message.
pub fn shared(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data").join(name);
    if p.is_dir() {
        return Some(p);
    }
    assert!(std::env::var_os("CI").is_none(), "CI needs {} but it is missing", p.display());
    eprintln!("skipped: {} not found", p.display());
    None
}

/// The embedded default data set (always present in the repository).
pub fn default_data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/clipart-mini")
}

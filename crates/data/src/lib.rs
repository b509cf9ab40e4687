//! montage-data: the data pipeline of Montage pre-training ("Cheaper Pre-training Lunch",
//! ECCV 2020), independent of any deep-learning engine.
//!
//! Reading the modules in order retells the method:
//! [`dataset`] and [`formats`] read a detection data set; [`sample`] selects positives and
//! negatives (METHOD §1); [`group`] sorts them by aspect ratio (§2); [`template`] and
//! [`assemble`] build montages (§3); [`cache`] packs crops so training never decodes a full
//! image; [`loader`] delivers normalised batches with their layouts.

pub mod assemble;
pub mod cache;
pub mod coco_eval;
pub mod dataset;
pub mod error;
pub mod formats;
pub mod geometry;
pub mod group;
pub mod io;
pub mod loader;
pub mod plot;
pub mod preview;
pub mod rng;
pub mod sample;
pub mod samples_file;
pub mod source;
pub mod template;

pub use error::{DataError, Result};

//! `montage cache`: pack sample crops into one memory-mapped file.

use std::path::PathBuf;

use anyhow::Result;
use montage_data::cache::{self, DEFAULT_MAX_SIDE};
use montage_data::samples_file::SampleSet;

use crate::progress::bar;

/// Pack every sample's pixels into one crop cache so training never decodes an image.
///
/// The cache holds every sample's pixels (its box plus a 1-pixel margin, downscaled
/// where larger than --max-side) in one file, read with mmap by training, preview and bench.
/// The file is written atomically; it records the samples' hash and the images' fingerprint,
/// and is refused if either changes.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Sample file written by `montage sample`.
    #[arg(long, value_name = "FILE")]
    pub samples: PathBuf,
    /// Folder the sample image paths are relative to.
    #[arg(long, value_name = "DIR")]
    pub images: PathBuf,
    /// Output cache file.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Longest stored box side in pixels: 1.5 x the largest template region (240 for the
    /// paper's 224/64 template) keeps every scale jitter sharp.
    #[arg(long, default_value_t = DEFAULT_MAX_SIDE, value_name = "N")]
    pub max_side: u32,
}

pub fn run(a: Args) -> Result<()> {
    let set = SampleSet::read(&a.samples)?;
    let pb = bar(set.images.len() as u64, "images");
    let t = std::time::Instant::now();
    cache::build(&set, &a.images, &a.out, a.max_side, &|n| pb.set_position(n as u64))?;
    pb.finish_and_clear();
    let bytes = std::fs::metadata(&a.out).map(|m| m.len()).unwrap_or(0);
    println!(
        "wrote {} crops of {} images to {} ({:.1} MiB) in {:.1} s",
        set.samples.len(),
        set.images.len(),
        a.out.display(),
        bytes as f64 / (1024.0 * 1024.0),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

//! `montage sample`: positives and negatives of a detection data set, as JSON Lines.

use std::path::PathBuf;

use anyhow::Result;
use montage_data::group::Group;
use montage_data::sample::{SampleConfig, counts, select};
use montage_data::samples_file;

use crate::args::DatasetArgs;

/// Select positive and negative samples from a detection data set (JSON Lines out).
///
/// METHOD §1: one positive per ground-truth box, grown by random context
/// (each side by U(0, 0.5) of the box size, clipped to the image), and background negatives
/// that overlap no box, with sizes drawn from the positives' sizes.
///
/// Writes one JSON object a line:
/// {"image": "<path under --images>", "bbox": [x, y, w, h], "category": "<name>" | "background",
///  "group": "S" | "T" | "W", "gt_bbox": [x, y, w, h] | null}
/// The same inputs and seed give the same file, byte for byte.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub data: DatasetArgs,
    /// Output sample file (JSON Lines).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Negatives per positive (0.1 = pos:neg 10:1).
    #[arg(long, default_value_t = 0.1, value_name = "F")]
    pub neg_ratio: f64,
    /// Context expansion r: each side of a positive moves out by U(0, r) of the box size.
    #[arg(long, default_value_t = 0.5, value_name = "R")]
    pub expand: f64,
}

pub fn run(a: Args) -> Result<()> {
    anyhow::ensure!(
        a.neg_ratio >= 0.0 && a.neg_ratio.is_finite(),
        "--neg-ratio must be a non-negative number, got {}",
        a.neg_ratio
    );
    anyhow::ensure!(
        a.expand >= 0.0 && a.expand.is_finite(),
        "--expand must be a non-negative number, got {}",
        a.expand
    );
    let ds = a.data.load()?;
    let cfg = SampleConfig { seed: a.seed, neg_ratio: a.neg_ratio, expand: a.expand, ..Default::default() };
    let samples = select(&ds, &cfg);
    samples_file::write(&a.out, &samples_file::records(&ds, &samples))?;

    let c = counts(&samples, ds.categories.len());
    let wanted = (c.positives as f64 * a.neg_ratio).round() as usize;
    println!(
        "{}: {} images, {} categories ({} format)",
        a.data.annotations.display(),
        ds.images.len(),
        ds.categories.len(),
        ds.format
    );
    println!(
        "wrote {} samples to {}: {} positives, {} negatives",
        samples.len(),
        a.out.display(),
        c.positives,
        c.negatives
    );
    if c.negatives < wanted {
        println!("note: found {} of {wanted} negatives; the images have too little free background", c.negatives);
    }
    println!("per group:");
    for g in Group::ALL {
        let n = c.per_group[g.index()];
        println!("  {g}  {n:>8}  ({:.1} %)", 100.0 * n as f64 / samples.len().max(1) as f64);
    }
    println!("per category:");
    for (name, n) in ds.categories.iter().zip(&c.per_category) {
        println!("  {name:<24} {n:>8}");
    }
    println!("  {:<24} {:>8}", samples_file::BACKGROUND, c.negatives);
    Ok(())
}

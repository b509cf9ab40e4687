//! `montage evaluate`: COCO bbox evaluation.

use std::path::PathBuf;

use anyhow::Result;
use montage_data::coco_eval::{evaluate, read_detections, read_ground_truth};

/// Evaluate detections with the COCO bbox protocol (pycocotools' COCOeval, in Rust).
///
/// Prints one JSON object: {"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10",
/// "AR100", "ARs", "ARm", "ARl"} in pycocotools' order and meaning (-1 where undefined),
/// plus "per_category" (id, name, AP) with --per-category.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Ground truth, COCO instances json.
    #[arg(long, value_name = "GT.json")]
    pub annotations: PathBuf,
    /// Detections, COCO results json: [{"image_id", "category_id", "bbox": [x, y, w, h], "score"}].
    #[arg(long, value_name = "DT.json")]
    pub detections: PathBuf,
    /// Add the AP of every category.
    #[arg(long)]
    pub per_category: bool,
}

pub fn run(a: Args) -> Result<()> {
    let gt = read_ground_truth(&a.annotations)?;
    let dt = read_detections(&a.detections)?;
    let e = evaluate(&gt, &dt).map_err(|m| anyhow::anyhow!("{}: {m}", a.detections.display()))?;
    let mut v = serde_json::to_value(&e.stats)?;
    if a.per_category {
        v["per_category"] = serde_json::json!(
            e.per_category
                .iter()
                .map(|(id, name, ap)| serde_json::json!({"id": id, "name": name, "AP": ap}))
                .collect::<Vec<_>>()
        );
    }
    println!("{v}");
    Ok(())
}

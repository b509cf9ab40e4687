//! `montage preview`: montage PNGs to look at.

use std::path::PathBuf;

use anyhow::{Context, Result};
use montage_data::preview::{annotate, montage_image, save_png};

use crate::args::{SourceArgs, TemplateArgs};
use crate::progress::bar;

/// Write montage PNGs (plain and annotated) to look at what training will see.
///
/// Writes N montages as PNGs at canvas size (montage_000.png, ...) and an annotated copy of
/// each at twice the size (montage_000_annotated.png) with the region borders, the rectangle
/// each sample covers (dashed) and each region's label, plus layouts.jsonl describing them.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output folder.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Number of montages.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub count: u64,
    /// Random seed (montage i depends only on seed and i).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub template: TemplateArgs,
}

pub fn run(a: Args) -> Result<()> {
    let maker = a.source.maker(a.template.template()?, a.template.mode, a.seed)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("{}: cannot create folder", a.out.display()))?;
    let pb = bar(a.count, "montages");
    let mut resizer = fast_image_resize::Resizer::new();
    let mut lines = String::new();
    for i in 0..a.count {
        let m = maker.assembler.assemble(&maker.set, &maker.pools, maker.source.as_ref(), i, &mut resizer)?;
        let canvas = m.layout.canvas;
        save_png(&a.out.join(format!("montage_{i:03}.png")), &montage_image(&m.rgb, canvas))?;
        let names: [&str; 4] = m.layout.labels.map(|l| maker.set.class_name(l));
        save_png(&a.out.join(format!("montage_{i:03}_annotated.png")), &annotate(&m.rgb, &m.layout, &names, 2))?;
        let regions: Vec<_> = (0..4)
            .map(|r| {
                let s = &maker.set.samples[m.layout.samples[r]];
                serde_json::json!({
                    "region": format!("R{}", r + 1),
                    "rect": m.layout.regions()[r],
                    "content": m.layout.content[r],
                    "label": names[r],
                    "group": s.group,
                    "image": maker.set.images[s.image],
                    "bbox": s.bbox,
                    "flip": m.placements[r].flip,
                })
            })
            .collect();
        lines.push_str(
            &serde_json::json!({"montage": i, "file": format!("montage_{i:03}.png"), "regions": regions}).to_string(),
        );
        lines.push('\n');
        pb.inc(1);
    }
    pb.finish_and_clear();
    std::fs::write(a.out.join("layouts.jsonl"), lines)
        .with_context(|| format!("{}: cannot write layouts.jsonl", a.out.display()))?;
    println!("wrote {} montages ({} source) to {}", a.count, maker.source.kind(), a.out.display());
    Ok(())
}

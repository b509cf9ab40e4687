//! `montage check`: read a data set and report what it holds and what is wrong with it.

use anyhow::Result;
use montage_data::geometry::BBox;
use montage_data::group::Group;

use crate::args::DatasetArgs;

/// Read a data set, check every entry and image, and print what it holds.
///
/// Checks every entry and every image header, and prints a summary:
/// images, boxes per category, crowd boxes, aspect groups of the boxes, and what was
/// skipped or clipped. Exits non-zero on the first error, naming the file and entry.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub data: DatasetArgs,
}

pub fn run(a: Args) -> Result<()> {
    let ds = a.data.load()?;
    let mut per_cat = vec![0usize; ds.categories.len()];
    let mut per_group = [0usize; 3];
    let mut crowd = 0;
    for o in ds.images.iter().flat_map(|i| &i.objects) {
        per_cat[o.category] += 1;
        crowd += o.iscrowd as usize;
        per_group[Group::of_aspect(BBox::aspect(&o.bbox)).index()] += 1;
    }
    println!("{} ({} format)", ds.annotations.display(), ds.format);
    println!("  images      {}", ds.images.len());
    println!("  boxes       {} ({crowd} crowd/difficult)", ds.num_objects());
    println!("  empty images {}", ds.images.iter().filter(|i| i.objects.is_empty()).count());
    println!("  skipped     {}", ds.report.skipped);
    println!("  clipped     {}", ds.report.clipped);
    println!("  box groups  S {}  T {}  W {}", per_group[0], per_group[1], per_group[2]);
    println!("categories:");
    for (name, n) in ds.categories.iter().zip(per_cat) {
        println!("  {name:<24} {n:>8}");
    }
    Ok(())
}

//! Readers for the annotation formats, each into [`crate::dataset::Dataset`]'s parts.

pub mod coco;
pub mod voc;
pub mod yolo;

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::dataset::{ImageEntry, checked_size};
use crate::error::Result;

/// The parts a reader returns: category names, their source ids, images.
pub(crate) type Parts = (Vec<String>, Vec<u64>, Vec<ImageEntry>);

/// Checks every image on disk in parallel (exists, header readable, size agrees) and fills
/// in sizes the annotations left out. `declared[i]` is image i's size from the annotations;
/// `locate(i)` names the annotation file and entry of image i for errors.
pub(crate) fn check_images(
    images: &mut [ImageEntry],
    root: &Path,
    declared: &[Option<(u32, u32)>],
    locate: impl Fn(usize) -> (PathBuf, String) + Sync,
) -> Result<()> {
    let sizes: Vec<Result<(u32, u32)>> = images
        .par_iter()
        .enumerate()
        .map(|(i, im)| {
            let (file, entry) = locate(i);
            checked_size(&root.join(&im.file_name), declared[i], &file, &entry)
        })
        .collect();
    for (im, s) in images.iter_mut().zip(sizes) {
        let (w, h) = s?;
        im.width = w;
        im.height = h;
    }
    Ok(())
}

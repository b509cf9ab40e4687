//! The sample file: JSON Lines, one sample a line, extracted once and kept as a
//! classification data set:
//! `{"image": "<path relative to the image root>", "bbox": [x, y, w, h], "category": "<name>" | "background",
//!   "group": "S" | "T" | "W", "gt_bbox": [x, y, w, h] | null}`.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::dataset::{Dataset, resolve_under};
use crate::error::{DataError, Result};
use crate::geometry::BBox;
use crate::group::{Group, Thresholds};
use crate::io::write_atomic;
use crate::sample::{Label, Sample};

/// The background class's name in sample files.
pub const BACKGROUND: &str = "background";

/// One line of a sample file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleRecord {
    pub image: String,
    pub bbox: BBox,
    pub category: String,
    pub group: Group,
    pub gt_bbox: Option<BBox>,
}

/// The records of `samples` taken from `ds`.
pub fn records(ds: &Dataset, samples: &[Sample]) -> Vec<SampleRecord> {
    samples
        .iter()
        .map(|s| SampleRecord {
            image: ds.images[s.image].file_name.clone(),
            bbox: s.bbox,
            category: match s.label {
                Label::Category(k) => ds.categories[k].clone(),
                Label::Background => BACKGROUND.to_string(),
            },
            group: s.group,
            gt_bbox: s.gt_bbox,
        })
        .collect()
}

/// The bytes of a sample file holding `records`.
pub fn to_jsonl(records: &[SampleRecord]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.len() * 120);
    for r in records {
        serde_json::to_writer(&mut out, r).expect("a record always serialises");
        out.push(b'\n');
    }
    out
}

/// Writes a sample file atomically.
pub fn write(path: &Path, records: &[SampleRecord]) -> Result<()> {
    write_atomic(path, |f| f.write_all(&to_jsonl(records)))
}

/// A sample file loaded for training: classes, unique images and samples by group.
#[derive(Clone, Debug)]
pub struct SampleSet {
    /// Foreground class names, sorted; the background class is index `classes.len()`.
    pub classes: Vec<String>,
    /// Distinct image paths, relative to the image root, in first-seen order.
    pub images: Vec<String>,
    pub samples: Vec<SetSample>,
    /// Indices into `samples` for each group (S, T, W).
    pub by_group: [Vec<usize>; 3],
    /// blake3 of the sample file's bytes.
    pub hash: String,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SetSample {
    /// Index into `SampleSet::images`.
    pub image: usize,
    pub bbox: BBox,
    /// Class index; `classes.len()` is background.
    pub label: usize,
    pub group: Group,
}

impl SampleSet {
    /// Number of classes including background.
    pub fn num_classes(&self) -> usize {
        self.classes.len() + 1
    }

    pub fn background(&self) -> usize {
        self.classes.len()
    }

    /// Name of a class index (including background).
    pub fn class_name(&self, label: usize) -> &str {
        self.classes.get(label).map(String::as_str).unwrap_or(BACKGROUND)
    }

    /// Reads a sample file, checking every line.
    pub fn read(path: &Path) -> Result<SampleSet> {
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
        Self::parse(path, &bytes)
    }

    /// Parses sample-file bytes; `path` names the file in errors.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<SampleSet> {
        let text = std::str::from_utf8(bytes).map_err(|e| DataError::new(path, format!("not UTF-8: {e}")))?;
        let mut records = Vec::new();
        let thresholds = Thresholds::default();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let entry = format!("line {}", n + 1);
            let r: SampleRecord = serde_json::from_str(line).map_err(|e| DataError::at(path, &entry, e.to_string()))?;
            if !r.bbox.is_proper() || r.bbox.x < 0.0 || r.bbox.y < 0.0 {
                return Err(DataError::at(
                    path,
                    &entry,
                    format!("bbox {:?} is not a proper box inside an image", <[f64; 4]>::from(r.bbox)),
                ));
            }
            let g = thresholds.group(r.bbox.aspect());
            if g != r.group {
                return Err(DataError::at(
                    path,
                    &entry,
                    format!(
                        "group {} does not match the bbox aspect ratio {:.4} (group {g})",
                        r.group,
                        r.bbox.aspect()
                    ),
                ));
            }
            resolve_under(Path::new(""), &r.image, path, &entry)?;
            records.push(r);
        }
        if records.is_empty() {
            return Err(DataError::new(path, "holds no samples"));
        }
        let classes: Vec<String> = records
            .iter()
            .filter(|r| r.category != BACKGROUND)
            .map(|r| r.category.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let class_index: HashMap<&str, usize> = classes.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
        let mut image_index: HashMap<&str, usize> = HashMap::new();
        let mut images = Vec::new();
        let mut samples = Vec::with_capacity(records.len());
        let mut by_group: [Vec<usize>; 3] = Default::default();
        for r in &records {
            let image = *image_index.entry(r.image.as_str()).or_insert_with(|| {
                images.push(r.image.clone());
                images.len() - 1
            });
            let label = class_index.get(r.category.as_str()).copied().unwrap_or(classes.len());
            by_group[r.group.index()].push(samples.len());
            samples.push(SetSample { image, bbox: r.bbox, label, group: r.group });
        }
        Ok(SampleSet { classes, images, samples, by_group, hash: blake3::hash(bytes).to_hex().to_string() })
    }
}

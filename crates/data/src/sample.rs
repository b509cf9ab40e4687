//! Sample selection (METHOD §1): positives are ground-truth boxes grown by random context,
//! negatives are background boxes that overlap no ground-truth box.

use rand::Rng;
use rand::seq::IndexedRandom;

use crate::dataset::Dataset;
use crate::geometry::BBox;
use crate::group::{Group, Thresholds};
use crate::rng::{Purpose, stream};

/// A sample's class: a category of the data set, or background.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Label {
    /// Index into the data set's categories.
    Category(usize),
    Background,
}

/// One crop of one image, with its class and aspect group.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Index into `Dataset::images`.
    pub image: usize,
    /// The crop in pixels (expanded and clipped for positives).
    pub bbox: BBox,
    pub label: Label,
    pub group: Group,
    /// The ground-truth box a positive was grown from.
    pub gt_bbox: Option<BBox>,
}

/// Parameters of [`select`].
#[derive(Clone, Debug)]
pub struct SampleConfig {
    pub seed: u64,
    /// Context expansion: each side of a positive moves out by U(0, r) of its box size.
    pub expand: f64,
    /// Negatives per positive (0.1 = pos:neg 10:1).
    pub neg_ratio: f64,
    /// Consecutive failed draws after which an image is taken to have no free background.
    pub neg_tries: u32,
    pub thresholds: Thresholds,
    /// Sample coordinates are rounded to this many decimals (so that a written and re-read
    /// sample file gives the same groups).
    pub decimals: i32,
}

impl Default for SampleConfig {
    fn default() -> Self {
        SampleConfig {
            seed: 0,
            expand: 0.5,
            neg_ratio: 0.1,
            neg_tries: 50,
            thresholds: Thresholds::default(),
            decimals: 2,
        }
    }
}

/// Selects positives and negatives from a data set. Deterministic in `(dataset, cfg)`.
/// Output is ordered by image, positives before negatives within an image.
pub fn select(ds: &Dataset, cfg: &SampleConfig) -> Vec<Sample> {
    let mut samples = positives(ds, cfg);
    let negs = negatives(ds, cfg, &samples);
    samples.extend(negs);
    // Stable: keeps each image's positives (in annotation order) before its negatives.
    samples.sort_by_key(|s| (s.image, s.label == Label::Background));
    samples
}

/// Grows `b` by U(0, r)·w to the left and to the right and U(0, r)·h up and down, then clips.
pub fn expand_box(b: &BBox, r: f64, width: u32, height: u32, rng: &mut impl Rng) -> BBox {
    let left = rng.random_range(0.0..=r) * b.w;
    let right = rng.random_range(0.0..=r) * b.w;
    let top = rng.random_range(0.0..=r) * b.h;
    let bottom = rng.random_range(0.0..=r) * b.h;
    let e = BBox::from_corners(b.x - left, b.y - top, b.x2() + right, b.y2() + bottom);
    e.clip(width as f64, height as f64).unwrap_or(*b)
}

fn positives(ds: &Dataset, cfg: &SampleConfig) -> Vec<Sample> {
    let mut out = Vec::with_capacity(ds.num_objects());
    for (i, im) in ds.images.iter().enumerate() {
        let mut rng = stream(cfg.seed, Purpose::Positives, i as u64);
        for o in im.objects.iter().filter(|o| !o.iscrowd) {
            let grown = expand_box(&o.bbox, cfg.expand, im.width, im.height, &mut rng);
            // Round outward-safe: the rounded crop must still hold the box.
            let bbox = round_holding(&grown, &o.bbox, cfg.decimals, im.width, im.height);
            out.push(Sample {
                image: i,
                bbox,
                label: Label::Category(o.category),
                group: cfg.thresholds.group(bbox.aspect()),
                gt_bbox: Some(o.bbox),
            });
        }
    }
    out
}

/// Rounds `b` to `decimals`, moving each side outward where rounding would cut into `inner`,
/// and staying inside the image.
fn round_holding(b: &BBox, inner: &BBox, decimals: i32, width: u32, height: u32) -> BBox {
    let f = 10f64.powi(decimals);
    let x1 = ((b.x * f).round() / f).min((inner.x * f).floor() / f).max(0.0);
    let y1 = ((b.y * f).round() / f).min((inner.y * f).floor() / f).max(0.0);
    let x2 = ((b.x2() * f).round() / f).max((inner.x2() * f).ceil() / f).min(width as f64);
    let y2 = ((b.y2() * f).round() / f).max((inner.y2() * f).ceil() / f).min(height as f64);
    BBox::from_corners(x1, y1, x2, y2).rounded(decimals)
}

fn negatives(ds: &Dataset, cfg: &SampleConfig, positives: &[Sample]) -> Vec<Sample> {
    let wanted = (positives.len() as f64 * cfg.neg_ratio).round() as usize;
    let sizes: Vec<(f64, f64)> = positives.iter().map(|s| (s.bbox.w, s.bbox.h)).collect();
    if wanted == 0 || sizes.is_empty() || ds.images.is_empty() {
        return Vec::new();
    }
    let mut rng = stream(cfg.seed, Purpose::Negatives, 0);
    let mut alive: Vec<usize> =
        (0..ds.images.len()).filter(|&i| ds.images[i].width > 0 && ds.images[i].height > 0).collect();
    let mut failures = vec![0u32; ds.images.len()];
    let mut out = Vec::with_capacity(wanted);
    while out.len() < wanted && !alive.is_empty() {
        let slot = rng.random_range(0..alive.len());
        let i = alive[slot];
        let im = &ds.images[i];
        let &(sw, sh) = sizes.choose(&mut rng).expect("sizes is not empty");
        // A size larger than the image is shrunk to fit, keeping its aspect ratio.
        let fit = (im.width as f64 / sw).min(im.height as f64 / sh).min(1.0);
        let w = ((sw * fit).round() as u32).clamp(1, im.width);
        let h = ((sh * fit).round() as u32).clamp(1, im.height);
        let x = rng.random_range(0..=im.width - w);
        let y = rng.random_range(0..=im.height - h);
        let b = BBox::new(x as f64, y as f64, w as f64, h as f64);
        if im.objects.iter().all(|o| o.bbox.intersection(&b) == 0.0) {
            failures[i] = 0;
            out.push(Sample {
                image: i,
                bbox: b,
                label: Label::Background,
                group: cfg.thresholds.group(b.aspect()),
                gt_bbox: None,
            });
        } else {
            failures[i] += 1;
            if failures[i] >= cfg.neg_tries {
                alive.swap_remove(slot);
            }
        }
    }
    out
}

/// Counts of samples per group and per label.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    pub positives: usize,
    pub negatives: usize,
    pub per_group: [usize; 3],
    /// Per category index; background is counted in `negatives`.
    pub per_category: Vec<usize>,
}

pub fn counts(samples: &[Sample], num_categories: usize) -> Counts {
    let mut c = Counts { per_category: vec![0; num_categories], ..Default::default() };
    for s in samples {
        c.per_group[s.group.index()] += 1;
        match s.label {
            Label::Category(k) => {
                c.positives += 1;
                c.per_category[k] += 1;
            }
            Label::Background => c.negatives += 1,
        }
    }
    c
}

//! The pre-training losses (METHOD §6), all on the logits of one 1x1-conv head over the
//! stride-32 map X (`N x (C+1) x s x s`):
//!
//! - **erf** (the method): at each position, cross-entropy between its ERF-adaptive soft
//!   label and the softmax of its logits; the loss map is averaged inside each region and
//!   the four region losses are averaged. No global branch.
//! - **block** (tau = 1 baseline): per-region average pooling + FC + cross-entropy. Since
//!   the FC is linear, pooling the head's logits over a region is the same as pooling the
//!   features first and applying the head.
//! - **global** (baseline): global pooling + FC, the label an area-weighted mix of the four
//!   region labels (as CutMix).

use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::log_softmax;
use montage_data::template::{Layout, regions};

use crate::soft_label::{SoftLabeler, cell_region};

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LossKind {
    Erf,
    Block,
    Global,
}

impl std::str::FromStr for LossKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "erf" => Ok(LossKind::Erf),
            "block" => Ok(LossKind::Block),
            "global" => Ok(LossKind::Global),
            _ => Err(format!("unknown loss '{s}' (expected erf, block or global)")),
        }
    }
}

/// The loss and, detached, the region-pooled logits (`N x 4 x K`) for accuracy.
pub struct LossOutput {
    pub loss: Tensor<1>,
    pub region_logits: Tensor<3>,
}

/// Cells of each region of one layout (cell-centre rule) and the number of regions that
/// have at least one cell.
fn region_cells(l: &Layout, side: usize) -> ([usize; 4], Vec<usize>) {
    let cells: Vec<usize> = (0..side * side).map(|p| cell_region(p, side, l.canvas, l.split_x, l.split_y)).collect();
    let mut count = [0usize; 4];
    for &r in &cells {
        count[r] += 1;
    }
    (count, cells)
}

/// `N x 4 x P` matrix that averages the positions of each region (zero rows for empty ones).
fn pooling(layouts: &[Layout], side: usize) -> Vec<f32> {
    let p = side * side;
    let mut m = vec![0f32; layouts.len() * 4 * p];
    for (n, l) in layouts.iter().enumerate() {
        let (count, cells) = region_cells(l, side);
        for (q, &r) in cells.iter().enumerate() {
            m[(n * 4 + r) * p + q] = 1.0 / count[r] as f32;
        }
    }
    m
}

/// Computes the chosen loss for a batch. `num_classes` includes background.
pub fn loss(
    kind: LossKind,
    logits: Tensor<4>,
    layouts: &[Layout],
    num_classes: usize,
    labeler: &SoftLabeler,
) -> LossOutput {
    let device = logits.device();
    let [n, k, s, s2] = logits.dims();
    assert_eq!(s, s2, "square feature maps");
    assert_eq!(k, num_classes);
    assert_eq!(n, layouts.len());
    let p = s * s;
    let flat = logits.clone().reshape([n, k, p]).swap_dims(1, 2); // N x P x K
    let pool = Tensor::<3>::from_data(TensorData::new(pooling(layouts, s), [n, 4, p]), &device);
    let region_logits = pool.matmul(flat.clone()); // N x 4 x K
    let loss = match kind {
        LossKind::Erf => {
            // Soft targets (N x P x K) and per-position weights 1 / (regions x cells x N).
            let mut target = vec![0f32; n * p * k];
            let mut coef = vec![0f32; n * p];
            for (b, l) in layouts.iter().enumerate() {
                let w = labeler.weights(l.split_x, l.split_y);
                let (count, _) = region_cells(l, s);
                let present = count.iter().filter(|&&c| c > 0).count() as f32;
                for q in 0..p {
                    for i in 0..4 {
                        target[(b * p + q) * k + l.labels[i]] += w.w[q][i];
                    }
                    coef[b * p + q] = 1.0 / (present * count[w.region[q]] as f32 * n as f32);
                }
            }
            let target = Tensor::<3>::from_data(TensorData::new(target, [n, p, k]), &device);
            let coef = Tensor::<3>::from_data(TensorData::new(coef, [n, p, 1]), &device);
            let ce = (target * log_softmax(flat, 2)).sum_dim(2).neg(); // N x P x 1
            (ce * coef).sum()
        }
        LossKind::Block => {
            let mut target = vec![0f32; n * 4 * k];
            for (b, l) in layouts.iter().enumerate() {
                let (count, _) = region_cells(l, s);
                let present = count.iter().filter(|&&c| c > 0).count() as f32;
                for i in 0..4 {
                    if count[i] > 0 {
                        target[(b * 4 + i) * k + l.labels[i]] = 1.0 / (present * n as f32);
                    }
                }
            }
            let target = Tensor::<3>::from_data(TensorData::new(target, [n, 4, k]), &device);
            (target * log_softmax(region_logits.clone(), 2)).sum().neg()
        }
        LossKind::Global => {
            let mut target = vec![0f32; n * k];
            for (b, l) in layouts.iter().enumerate() {
                let area = (l.canvas as f32).powi(2);
                for (i, r) in regions(l.canvas, l.split_x, l.split_y).iter().enumerate() {
                    target[b * k + l.labels[i]] += r.area() as f32 / area / n as f32;
                }
            }
            let target = Tensor::<2>::from_data(TensorData::new(target, [n, k]), &device);
            let pooled = logits.mean_dim(3).mean_dim(2).reshape([n, k]);
            (target * log_softmax(pooled, 1)).sum().neg()
        }
    };
    LossOutput { loss, region_logits: region_logits.detach() }
}

/// Per-region accuracy (R1..R4) of the region-pooled logits against the layouts' labels.
pub fn region_accuracy(region_logits: Tensor<3>, layouts: &[Layout]) -> [f64; 4] {
    let [n, _, k] = region_logits.dims();
    let v: Vec<f32> = region_logits.into_data().try_to_vec().expect("f32 logits");
    let mut acc = [0f64; 4];
    for (b, l) in layouts.iter().enumerate() {
        for i in 0..4 {
            let row = &v[(b * 4 + i) * k..(b * 4 + i + 1) * k];
            let arg = row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(j, _)| j).unwrap_or(0);
            acc[i] += (arg == l.labels[i]) as u8 as f64 / n as f64;
        }
    }
    acc
}

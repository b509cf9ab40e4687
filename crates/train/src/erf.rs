//! Effective receptive fields (METHOD §4; Luo et al. 2016).
//!
//! For each position (j, k) of X, the stride-32 map, G^{j,k} is the gradient of X[:, :, j, k]
//! (all channels, weight 1; 0 elsewhere) with respect to the input, in absolute value, summed
//! over input channels and averaged over montages, with the current network and
//! inference-mode BN.
//!
//! With inference-mode BN the montages of a batch do not interact, so one backward pass
//! serves every position at once: montage b of a batch of s x s montages carries the gradient
//! of position b only. `m` such batches average m montages per position.

use burn::prelude::*;
use burn::tensor::TensorData;

use crate::norm::BnMode;
use crate::resnet::ResNet;
use crate::soft_label::ErfMaps;

/// Side of the stride-32 map of a ResNet for a square input of side `canvas`.
pub fn feature_side(canvas: usize) -> usize {
    (0..5).fold(canvas, |x, _| x.div_ceil(2))
}

/// Estimates the ERF of every position of a backbone's stride-32 map with inference-mode BN.
/// Each item of `batches` is `side^2` montages (`side^2 x 3 x canvas x canvas`, normalised);
/// `device` must be an autodiff device.
pub fn estimate(
    backbone: &ResNet,
    device: &Device,
    canvas: usize,
    batches: impl IntoIterator<Item = Vec<f32>>,
) -> ErfMaps {
    estimate_with(|x| backbone.forward_c5(x, BnMode::Eval), device, canvas, feature_side(canvas), batches)
}

/// [`estimate`] for any network `forward` whose output map is `side x side`.
pub fn estimate_with(
    forward: impl Fn(Tensor<4>) -> Tensor<4>,
    device: &Device,
    canvas: usize,
    side: usize,
    batches: impl IntoIterator<Item = Vec<f32>>,
) -> ErfMaps {
    let p = side * side;
    let plane = canvas * canvas;
    let mut maps = vec![0f64; p * plane];
    let mut count = 0usize;
    // Selector: montage b carries a gradient of 1 at position b, over every channel.
    let mut sel = vec![0f32; p * p];
    for b in 0..p {
        sel[b * p + b] = 1.0;
    }
    let selector = Tensor::<4>::from_data(TensorData::new(sel, [p, 1, side, side]), device);
    for batch in batches {
        assert_eq!(batch.len(), p * 3 * plane, "an ERF batch holds side^2 montages");
        let x = Tensor::<4>::from_data(TensorData::new(batch, [p, 3, canvas, canvas]), device).require_grad();
        let feats = forward(x.clone());
        assert_eq!(feats.dims()[2], side, "feature side");
        let grads = (feats * selector.clone()).sum().backward();
        let g = x.grad(&grads).expect("the input requires a gradient");
        let g: Vec<f32> = g.abs().sum_dim(1).into_data().try_to_vec().expect("f32 gradient");
        for (acc, v) in maps.iter_mut().zip(&g) {
            *acc += *v as f64;
        }
        count += 1;
    }
    let inv = 1.0 / count.max(1) as f64;
    ErfMaps { side, canvas, maps: maps.into_iter().map(|v| (v * inv) as f32).collect() }
}

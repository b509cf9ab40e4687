//! ERF, soft labels and losses against cases computed by hand.

use montage_data::template::{Layout, regions};
use montage_train::burn::nn::conv::Conv2dConfig;
use montage_train::burn::nn::{Initializer, PaddingConfig2d};
use montage_train::burn::prelude::*;
use montage_train::burn::tensor::TensorData;
use montage_train::erf::estimate_with;
use montage_train::loss::{LossKind, loss};
use montage_train::soft_label::{ErfMaps, SoftLabeler};

fn layout(canvas: u32, split: u32, labels: [usize; 4]) -> Layout {
    Layout { canvas, split_x: split, split_y: split, labels, samples: [0; 4], content: regions(canvas, split, split) }
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_data().try_to_vec::<f32>().unwrap()[0] as f64
}

fn log_softmax(v: &[f64]) -> Vec<f64> {
    let m = v.iter().cloned().fold(f64::MIN, f64::max);
    let lse = m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln();
    v.iter().map(|x| x - lse).collect()
}

/// Logits `1 x 3 x 2 x 2`: position q = (j, k) has logits `L[q]`.
const L: [[f64; 3]; 4] = [[1.0, 0.2, -0.5], [0.3, 2.0, 0.1], [-1.0, 0.0, 1.5], [0.5, 0.5, 0.4]];

fn logits(device: &Device) -> Tensor<4> {
    // NCHW: value at (c, j, k) = L[j * 2 + k][c].
    let data: Vec<f32> = (0..3).flat_map(|c| (0..4).map(move |q| L[q][c] as f32)).collect();
    Tensor::<4>::from_data(TensorData::new(data, [1, 3, 2, 2]), device)
}

#[test]
fn erf_of_an_all_ones_conv_stack_is_known_in_closed_form() {
    let device = Device::flex().autodiff();
    let conv = |cin| {
        Conv2dConfig::new([cin, 1], [3, 3])
            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
            .with_bias(false)
            .with_initializer(Initializer::Ones)
            .init(&device)
    };
    let (c1, c2) = (conv(3), conv(1));
    let (canvas, side) = (8usize, 8usize);
    let batch: Vec<f32> =
        (0..side * side * 3 * canvas * canvas).map(|i| ((i * 7919) % 13) as f32 / 13.0 - 0.5).collect();
    let erf = estimate_with(|x| c2.forward(c1.forward(x)), &device, canvas, side, [batch]);
    // Paths from input row y to output row j through the middle row i, zero padding.
    let a = |j: i64, y: i64| (0..canvas as i64).filter(|i| (i - j).abs() <= 1 && (y - i).abs() <= 1).count() as f32;
    for p in 0..side * side {
        let (j, k) = ((p / side) as i64, (p % side) as i64);
        let g = erf.map(p);
        for y in 0..canvas as i64 {
            for x in 0..canvas as i64 {
                let want = 3.0 * a(j, y) * a(k, x);
                assert_eq!(g[(y as usize) * canvas + x as usize], want, "position ({j}, {k}) pixel ({x}, {y})");
            }
        }
    }
}

#[test]
fn hard_labels_erf_and_block_losses_by_hand() {
    let device = Device::flex();
    // Canvas 64 cut at 32: with a 2 x 2 map every region holds one cell.
    let l = layout(64, 32, [0, 1, 2, 0]);
    let hard = SoftLabeler::hard(2, 64);
    let want: f64 = (0..4).map(|q| -log_softmax(&L[q])[l.labels[q]]).sum::<f64>() / 4.0;
    for kind in [LossKind::Erf, LossKind::Block] {
        let got = scalar(loss(kind, logits(&device), &[l.clone()], 3, &hard).loss);
        assert!((got - want).abs() < 1e-5, "{kind:?}: {got} vs {want}");
    }
    // Global: mean logits, target mixes the labels by area (a quarter each here).
    let mean: Vec<f64> = (0..3).map(|c| L.iter().map(|q| q[c]).sum::<f64>() / 4.0).collect();
    let ls = log_softmax(&mean);
    let want = -(0.5 * ls[0] + 0.25 * ls[1] + 0.25 * ls[2]);
    let got = scalar(loss(LossKind::Global, logits(&device), &[l], 3, &hard).loss);
    assert!((got - want).abs() < 1e-5, "global: {got} vs {want}");
}

#[test]
fn soft_labels_follow_eq2() {
    let device = Device::flex();
    let l = layout(64, 32, [0, 1, 2, 0]);
    // A uniform ERF: each region holds a quarter of it, so w_r = 0.7 and 0.1 for each other.
    let erf = ErfMaps { side: 2, canvas: 64, maps: vec![1.0; 4 * 64 * 64] };
    let soft = SoftLabeler::new(&erf, 0.7);
    let mut want = 0.0;
    for q in 0..4 {
        let mut target = [0.0f64; 3];
        for i in 0..4 {
            target[l.labels[i]] += if i == q { 0.7 } else { 0.1 };
        }
        let ls = log_softmax(&L[q]);
        want += -(0..3).map(|c| target[c] * ls[c]).sum::<f64>() / 4.0;
    }
    let got = scalar(loss(LossKind::Erf, logits(&device), &[l], 3, &soft).loss);
    assert!((got - want).abs() < 1e-5, "{got} vs {want}");
}

#[test]
fn loss_gradients_match_finite_differences() {
    let device = Device::flex().autodiff();
    let canvas = 96u32;
    let side = 3usize;
    // A random-looking ERF so the soft labels are uneven; two montages with other cuts.
    let maps: Vec<f32> =
        (0..side * side * (canvas * canvas) as usize).map(|i| ((i * 2654435761usize) % 97) as f32).collect();
    let soft = SoftLabeler::new(&ErfMaps { side, canvas: canvas as usize, maps }, 0.7);
    let layouts = [layout(canvas, 32, [0, 3, 1, 2]), layout(canvas, 64, [2, 2, 0, 1])];
    let k = 4;
    let base: Vec<f32> = (0..2 * k * side * side).map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0).collect();
    let f = |v: &[f32], kind: LossKind, dev: &Device| -> (f64, Option<Vec<f32>>) {
        let mut x = Tensor::<4>::from_data(TensorData::new(v.to_vec(), [2, k, side, side]), dev);
        if dev.is_autodiff() {
            x = x.require_grad();
        }
        let out = loss(kind, x.clone(), &layouts, k, &soft).loss;
        if dev.is_autodiff() {
            let g = out.clone().backward();
            let grad = x.grad(&g).unwrap().into_data().try_to_vec::<f32>().unwrap();
            (scalar(out), Some(grad))
        } else {
            (scalar(out), None)
        }
    };
    for kind in [LossKind::Erf, LossKind::Block, LossKind::Global] {
        let (_, grad) = f(&base, kind, &device);
        let grad = grad.unwrap();
        for i in (0..base.len()).step_by(5) {
            let eps = 1e-2f32;
            let mut up = base.clone();
            up[i] += eps;
            let mut down = base.clone();
            down[i] -= eps;
            let num = (f(&up, kind, &Device::flex()).0 - f(&down, kind, &Device::flex()).0) / (2.0 * eps as f64);
            assert!((num - grad[i] as f64).abs() < 2e-3, "{kind:?} d/dx[{i}]: numeric {num} analytic {}", grad[i]);
        }
    }
}

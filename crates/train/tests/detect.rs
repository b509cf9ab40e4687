//! The detector learns: FCOS overfits one image (AP50 > 0.9 after a fixed number of steps).

use montage_data::coco_eval::{Detection, GroundTruth, evaluate};
use montage_train::burn::optim::momentum::MomentumConfig;
use montage_train::burn::optim::{GradientsParams, SgdConfig};
use montage_train::burn::prelude::*;
use montage_train::burn::tensor::TensorData;
use montage_train::detect::fcos::{Fcos, FcosSize};
use montage_train::detect::loss::{Targets, fcos_loss};
use montage_train::detect::points::points;
use montage_train::detect::postprocess::{PostConfig, postprocess};
use montage_train::resnet::Arch;

/// A 128 x 128 grey image with three coloured rectangles (class = colour).
fn scene() -> (Vec<f32>, Targets) {
    let s = 128usize;
    let boxes = [[10.0f32, 12.0, 50.0, 60.0], [70.0, 20.0, 120.0, 50.0], [40.0, 75.0, 100.0, 118.0]];
    let colors = [[0.9f32, 0.1, 0.1], [0.1, 0.8, 0.2], [0.2, 0.3, 0.9]];
    let mut x = vec![0f32; 3 * s * s];
    for y in 0..s {
        for xx in 0..s {
            let mut c = [0.5f32; 3];
            for (b, col) in boxes.iter().zip(&colors) {
                if (xx as f32) >= b[0] && (xx as f32) < b[2] && (y as f32) >= b[1] && (y as f32) < b[3] {
                    c = *col;
                }
            }
            for ch in 0..3 {
                x[ch * s * s + y * s + xx] = (c[ch] - 0.45) / 0.25;
            }
        }
    }
    (x, Targets { boxes: boxes.to_vec(), classes: vec![0, 1, 2] })
}

#[test]
fn fcos_overfits_one_image() {
    let device = Device::flex().autodiff();
    let (img, t) = scene();
    let mut model = Fcos::new(Arch::Resnet18, 3, FcosSize { channels: 64, tower: 2 }, 0, &device);
    let mut optim = SgdConfig::new().with_momentum(Some(MomentumConfig::new().with_dampening(0.0))).init();
    let pts = points(128, 128);
    let mut last = f32::NAN;
    for step in 0..150 {
        let x = Tensor::<4>::from_data(TensorData::new(img.clone(), [1, 3, 128, 128]), &device);
        let out = model.forward(x);
        let l = fcos_loss(&out, &pts, std::slice::from_ref(&t));
        assert!(l.foreground > 0);
        last = l.cls + l.reg + l.ctr;
        assert!(last.is_finite(), "loss is {last} at step {step}");
        let lr = if step < 20 { 0.001 + 0.009 * step as f64 / 20.0 } else { 0.01 };
        let g = GradientsParams::from_grads(l.total.backward(), &model);
        model = optim.step(lr, model, g);
    }
    let x = Tensor::<4>::from_data(TensorData::new(img, [1, 3, 128, 128]), &Device::flex());
    let out = model.valid().forward(x);
    let dets = postprocess(&out, &pts, &[(128, 128)], &PostConfig { score_thresh: 0.05, ..Default::default() });
    let gt: GroundTruth = serde_json::from_value(serde_json::json!({
        "images": [{"id": 1}],
        "categories": [{"id": 1, "name": "r"}, {"id": 2, "name": "g"}, {"id": 3, "name": "b"}],
        "annotations": t.boxes.iter().zip(&t.classes).map(|(b, c)| serde_json::json!({
            "image_id": 1, "category_id": c + 1, "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "iscrowd": 0
        })).collect::<Vec<_>>(),
    }))
    .unwrap();
    let dt: Vec<Detection> = dets[0]
        .iter()
        .map(|d| Detection {
            image_id: 1,
            category_id: d.class as u64 + 1,
            bbox: [d.bbox[0] as f64, d.bbox[1] as f64, (d.bbox[2] - d.bbox[0]) as f64, (d.bbox[3] - d.bbox[1]) as f64],
            score: d.score as f64,
        })
        .collect();
    let e = evaluate(&gt, &dt).unwrap();
    assert!(
        e.stats.AP50 > 0.9,
        "AP50 {} after overfitting (final loss {last}, {} detections: {:?})",
        e.stats.AP50,
        dt.len(),
        &dt[..dt.len().min(5)]
    );
}

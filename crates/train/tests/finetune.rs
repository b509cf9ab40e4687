//! Fine-tuning resumes exactly: a run killed after a checkpoint and resumed ends like an
//! uninterrupted one.

use std::path::PathBuf;

use montage_data::dataset::{LoadOptions, load};
use montage_train::burn::prelude::*;
use montage_train::export::backbone_bytes;
use montage_train::finetune::{FinetuneConfig, finetune};

#[test]
fn a_killed_finetune_resumes_exactly() {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/clipart-mini");
    let train = load(&d.join("annotations/train.json"), &d.join("train"), &LoadOptions::default()).unwrap();
    let val = load(&d.join("annotations/val.json"), &d.join("val"), &LoadOptions::default()).unwrap();
    let cfg = FinetuneConfig {
        iters: 4,
        batch: 1,
        min_size: 64,
        checkpoint_every: 2,
        channels: 32,
        tower: 1,
        lr: Some(0.01),
        ..Default::default()
    };
    let device = Device::flex();
    let a = tempfile::tempdir().unwrap();
    let full = finetune(&cfg, &train, &val, a.path(), false, &device, &mut |_| true).unwrap().unwrap();
    let b = tempfile::tempdir().unwrap();
    assert!(finetune(&cfg, &train, &val, b.path(), false, &device, &mut |m| m.iter < 2).unwrap().is_none());
    let resumed = finetune(&cfg, &train, &val, b.path(), true, &device, &mut |_| true).unwrap().unwrap();
    assert_eq!(resumed.metrics.first().unwrap().iter, 2);
    let losses = |ms: &[montage_train::finetune::FtMetrics]| ms.iter().map(|m| (m.iter, m.loss)).collect::<Vec<_>>();
    assert_eq!(losses(&resumed.metrics), losses(&full.metrics[2..]));
    assert!(backbone_bytes(&full.model.backbone, 0).unwrap() == backbone_bytes(&resumed.model.backbone, 0).unwrap());
    let head =
        |m: &montage_train::detect::fcos::Fcos| m.head.cls_logits.weight.val().into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(head(&full.model), head(&resumed.model));
    assert_eq!(full.eval.stats, resumed.eval.stats);
    assert_eq!(
        std::fs::read_to_string(a.path().join("eval.json")).unwrap(),
        std::fs::read_to_string(b.path().join("eval.json")).unwrap()
    );
}

//! Pre-training runs: the loss falls, a killed run resumes bit for bit, weights export with
//! torchvision's names and load back.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use montage_data::assemble::{Assembler, FitMode, FitParams};
use montage_data::dataset::{LoadOptions, load};
use montage_data::loader::MontageMaker;
use montage_data::sample::{SampleConfig, select};
use montage_data::samples_file::{self, SampleSet};
use montage_data::source::ImageSource;
use montage_data::template::Template;
use montage_train::burn::prelude::*;
use montage_train::export::{backbone_bytes, features, load_backbone, save_backbone};
use montage_train::loss::LossKind;
use montage_train::pretrain::{PretrainConfig, pretrain};
use montage_train::resnet::{Arch, ResNet};
use safetensors::SafeTensors;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A montage maker over `annotations`/`images`, samples written into `dir`.
fn maker(annotations: &Path, images: &Path, dir: &Path, size: u32) -> MontageMaker {
    let ds = load(annotations, images, &LoadOptions::default()).unwrap();
    let samples = select(&ds, &SampleConfig { seed: 1, ..Default::default() });
    let p = dir.join("samples.jsonl");
    samples_file::write(&p, &samples_file::records(&ds, &samples)).unwrap();
    let set = Arc::new(SampleSet::read(&p).unwrap());
    let a =
        Assembler { template: Template::scaled(size), mode: FitMode::PadCrop, params: FitParams::default(), seed: 2 };
    MontageMaker::new(a, set, Arc::new(ImageSource::new(images))).unwrap()
}

fn small(iters: u64, batch: usize) -> PretrainConfig {
    PretrainConfig { iters, batch, size: 64, checkpoint_every: 2, erf_every: Some(3), threads: 2, ..Default::default() }
}

#[test]
fn loss_falls_on_clipart_det() {
    let d = repo().join("../shared/data/clipart-det");
    if !d.is_dir() {
        assert!(std::env::var_os("CI").is_none(), "CI needs {}", d.display());
        eprintln!("skipped: {} not found", d.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let m = maker(&d.join("annotations/train.json"), &d.join("train"), dir.path(), 64);
    let cfg = PretrainConfig { lr: Some(0.05), erf_every: Some(10), ..small(40, 16) };
    let out = pretrain(&cfg, m, dir.path(), false, &Device::flex(), &mut |_| true).unwrap();
    let losses: Vec<f64> = out.metrics.iter().map(|m| m.loss).collect();
    let first = losses[..8].iter().sum::<f64>() / 8.0;
    let last = losses[losses.len() - 8..].iter().sum::<f64>() / 8.0;
    assert!(last < first - 0.1, "loss did not fall: first {first:.3}, last {last:.3} ({losses:?})");
    assert_eq!(std::fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap().lines().count(), 40);
}

#[test]
fn a_killed_run_resumes_bit_for_bit() {
    let d = repo().join("data/clipart-mini");
    let (ann, img) = (d.join("annotations/train.json"), d.join("train"));
    let cfg = small(6, 4);
    let device = Device::flex();

    let a = tempfile::tempdir().unwrap();
    let full = pretrain(&cfg, maker(&ann, &img, a.path(), 64), a.path(), false, &device, &mut |_| true).unwrap();

    let b = tempfile::tempdir().unwrap();
    // Killed after iteration 4 (5 done): the last checkpoint holds 4, with the ERF of refresh 3.
    let killed =
        pretrain(&cfg, maker(&ann, &img, b.path(), 64), b.path(), false, &device, &mut |m| m.iter < 4).unwrap();
    assert_eq!(killed.iters, 5);
    let resumed = pretrain(&cfg, maker(&ann, &img, b.path(), 64), b.path(), true, &device, &mut |_| true).unwrap();
    assert_eq!(resumed.metrics.first().unwrap().iter, 4, "resumed from the checkpoint at 4");

    let a2 = tempfile::tempdir().unwrap();
    let full2 = pretrain(&cfg, maker(&ann, &img, a2.path(), 64), a2.path(), false, &device, &mut |_| true).unwrap();
    assert!(
        backbone_bytes(&full.model.backbone, 6).unwrap() == backbone_bytes(&full2.model.backbone, 6).unwrap(),
        "two uninterrupted runs differ"
    );
    let (wa, wb) =
        (backbone_bytes(&full.model.backbone, 6).unwrap(), backbone_bytes(&resumed.model.backbone, 6).unwrap());
    assert!(wa == wb, "resumed weights differ from an uninterrupted run's");
    let strip = |p: &Path| -> Vec<String> {
        std::fs::read_to_string(p.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                let o = v.as_object_mut().unwrap();
                o.remove("montages_per_s");
                o.remove("erf_s");
                v.to_string()
            })
            .collect()
    };
    assert_eq!(strip(a.path()), strip(b.path()), "metrics of the resumed run equal the uninterrupted run's");

    // Other options: refused.
    let other = PretrainConfig { loss: LossKind::Block, ..cfg };
    let e = pretrain(&other, maker(&ann, &img, b.path(), 64), b.path(), true, &device, &mut |_| true)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("other options"), "{e}");
}

/// torchvision's state-dict keys of a ResNet, without `fc.*`.
fn torchvision_keys(arch: Arch) -> BTreeSet<String> {
    let bn =
        |p: &str| ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"].map(|s| format!("{p}.{s}"));
    let mut k: BTreeSet<String> = BTreeSet::new();
    k.insert("conv1.weight".into());
    k.extend(bn("bn1"));
    let convs = if arch == Arch::Resnet50 { 3 } else { 2 };
    for (s, n) in arch.layers().iter().enumerate() {
        for b in 0..*n {
            let p = format!("layer{}.{b}", s + 1);
            for c in 1..=convs {
                k.insert(format!("{p}.conv{c}.weight"));
                k.extend(bn(&format!("{p}.bn{c}")));
            }
            if b == 0 && (s > 0 || arch == Arch::Resnet50) {
                k.insert(format!("{p}.downsample.0.weight"));
                k.extend(bn(&format!("{p}.downsample.1")));
            }
        }
    }
    k
}

#[test]
fn export_uses_torchvision_names_and_loads_back() {
    let device = Device::flex();
    for (arch, total) in [(Arch::Resnet18, 122), (Arch::Resnet34, 218), (Arch::Resnet50, 320)] {
        let net = ResNet::init(arch, 7, &device);
        let bytes = backbone_bytes(&net, 42).unwrap();
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let names: BTreeSet<String> = st.names().into_iter().map(|s| s.to_string()).collect();
        assert_eq!(names, torchvision_keys(arch), "{arch}");
        assert_eq!(names.len() + 2, total, "{arch}: torchvision's state dict has {total} entries with fc");
        assert_eq!(st.tensor("conv1.weight").unwrap().shape(), &[64, 3, 7, 7]);
        let nbt = st.tensor("bn1.num_batches_tracked").unwrap();
        assert_eq!(
            (nbt.dtype(), nbt.shape().len(), i64::from_le_bytes(nbt.data().try_into().unwrap())),
            (safetensors::Dtype::I64, 0, 42)
        );
    }

    // Save, load into a fresh network, same features.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r18.safetensors");
    let a = ResNet::init(Arch::Resnet18, 3, &device);
    save_backbone(&a, 1, &path).unwrap();
    let mut b = ResNet::init(Arch::Resnet18, 4, &device);
    let img: Vec<f32> = (0..3 * 64 * 64).map(|i| ((i % 17) as f32 - 8.0) / 8.0).collect();
    assert_ne!(features(&a, img.clone(), 64, &device).1, features(&b, img.clone(), 64, &device).1);
    load_backbone(&mut b, &path).unwrap();
    assert_eq!(features(&a, img.clone(), 64, &device), features(&b, img, 64, &device));

    // --init starts pre-training from the file: with lr 0 the convolutions stay as loaded.
    let d = repo().join("data/clipart-mini");
    let run = dir.path().join("run");
    std::fs::create_dir_all(&run).unwrap();
    let cfg = PretrainConfig {
        init: Some(path.clone()),
        lr: Some(0.0),
        warmup_lr: Some(0.0),
        weight_decay: 0.0,
        ..small(1, 2)
    };
    let m = maker(&d.join("annotations/train.json"), &d.join("train"), &run, 64);
    let out = pretrain(&cfg, m, &run, false, &device, &mut |_| true).unwrap();
    let conv1 = |n: &ResNet| n.conv1.weight.val().into_data().try_to_vec::<f32>().unwrap();
    assert_eq!(conv1(&out.model.backbone), conv1(&a));

    // A ResNet-50 file does not fit a ResNet-18.
    let p50 = dir.path().join("r50.safetensors");
    save_backbone(&ResNet::init(Arch::Resnet50, 0, &device), 0, &p50).unwrap();
    let e = load_backbone(&mut b, &p50).unwrap_err().to_string();
    assert!(e.contains("r50.safetensors") && e.contains("does not fit"), "{e}");
}

//! Fine-tuning the detector (METHOD §7, scaled down): SGD momentum 0.9, weight decay 1e-4,
//! linear warm-up (factor 0.001 -> 1), learning rate x0.1 at 9/13 and x0.01 at 12/13 of the
//! run, images resized by their shorter side, horizontal flip 0.5, backbone BN frozen;
//! metrics as JSON lines, atomic checkpoints with exact resume, COCO evaluation of the
//! validation set at the end (and every N iterations if asked).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
use burn::prelude::*;
use burn::tensor::TensorData;
use montage_data::assemble::normalize_into;
use montage_data::coco_eval::{
    Detection, Evaluation, GroundTruth, GtAnnotation, GtCategory, GtImage, evaluate, read_ground_truth,
};
use montage_data::dataset::{Dataset, Format};
use montage_data::rng::{Purpose, stream};
use montage_data::source::{decode_rgb, resize_rgb};
use rand::Rng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::checkpoint;
use crate::detect::fcos::{Fcos, FcosSize};
use crate::detect::loss::{Targets, fcos_loss};
use crate::detect::points::points;
use crate::detect::postprocess::{PostConfig, postprocess};
use crate::export::load_backbone;
use crate::resnet::Arch;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FinetuneConfig {
    pub backbone: Arch,
    pub iters: u64,
    pub batch: usize,
    /// Shorter image side after resizing (the paper: 800).
    pub min_size: u32,
    /// Longer side cap; defaults to min_size x 1333 / 800.
    pub max_size: Option<u32>,
    pub seed: u64,
    /// Base learning rate; defaults to 0.01 x batch / 16 (torchvision's FCOS).
    pub lr: Option<f64>,
    /// Warm-up iterations; defaults to min(500, iters / 10).
    pub warmup_iters: Option<u64>,
    pub momentum: f64,
    pub weight_decay: f64,
    pub checkpoint_every: u64,
    /// Evaluate the validation set every N iterations (and always at the end).
    pub eval_every: Option<u64>,
    /// "scratch", or torchvision-named safetensors (e.g. a pre-training's backbone).
    pub init: String,
    /// FPN / head width and tower depth (torchvision: 256, 4).
    pub channels: usize,
    pub tower: usize,
    pub flip: f64,
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        FinetuneConfig {
            backbone: Arch::Resnet18,
            iters: 1000,
            batch: 4,
            min_size: 512,
            max_size: None,
            seed: 0,
            lr: None,
            warmup_iters: None,
            momentum: 0.9,
            weight_decay: 1e-4,
            checkpoint_every: 100,
            eval_every: None,
            init: "scratch".into(),
            channels: 256,
            tower: 4,
            flip: 0.5,
        }
    }
}

impl FinetuneConfig {
    pub fn max_side(&self) -> u32 {
        self.max_size.unwrap_or(self.min_size * 1333 / 800)
    }

    pub fn base_lr(&self) -> f64 {
        self.lr.unwrap_or(0.01 * self.batch as f64 / 16.0)
    }

    /// The learning rate of iteration `it`.
    pub fn lr_at(&self, it: u64) -> f64 {
        let warm = self.warmup_iters.unwrap_or((self.iters / 10).min(500));
        let f = if it < warm { 0.001 + (1.0 - 0.001) * it as f64 / warm as f64 } else { 1.0 };
        let decay = if it >= self.iters * 12 / 13 {
            0.01
        } else if it >= self.iters * 9 / 13 {
            0.1
        } else {
            1.0
        };
        self.base_lr() * f * decay
    }

    pub fn size(&self) -> FcosSize {
        FcosSize { channels: self.channels, tower: self.tower }
    }
}

/// One resized image: normalised CHW pixels, its size, the scale from the original, targets.
pub struct Example {
    pub pixels: Vec<f32>,
    pub height: usize,
    pub width: usize,
    pub scale: f32,
    pub targets: Targets,
}

/// Loads image `i` of `ds` resized by its shorter side (and flipped if asked).
pub fn load_example(ds: &Dataset, i: usize, min_size: u32, max_size: u32, flip: bool) -> Result<Example> {
    let im = &ds.images[i];
    let path = ds.image_path(im);
    let img = decode_rgb(&path)?;
    let (w0, h0) = img.dimensions();
    let scale = (min_size as f32 / w0.min(h0) as f32).min(max_size as f32 / w0.max(h0) as f32);
    let (w, h) = (((w0 as f32 * scale).round() as u32).max(1), ((h0 as f32 * scale).round() as u32).max(1));
    let mut rgb = resize_rgb(&img, w, h, &path)?;
    if flip {
        for row in rgb.chunks_exact_mut(w as usize * 3) {
            row.as_chunks_mut::<3>().0.reverse();
        }
    }
    let mut pixels = vec![0f32; rgb.len()];
    normalize_into(&rgb, &mut pixels);
    let (sx, sy) = (w as f32 / w0 as f32, h as f32 / h0 as f32);
    let mut t = Targets::default();
    for o in im.objects.iter().filter(|o| !o.iscrowd) {
        let (mut x1, y1, mut x2, y2) =
            (o.bbox.x as f32 * sx, o.bbox.y as f32 * sy, o.bbox.x2() as f32 * sx, o.bbox.y2() as f32 * sy);
        if flip {
            (x1, x2) = (w as f32 - x2, w as f32 - x1);
        }
        t.boxes.push([x1, y1, x2, y2]);
        t.classes.push(o.category);
    }
    Ok(Example { pixels, height: h as usize, width: w as usize, scale, targets: t })
}

/// Pads examples into one `N x 3 x H x W` batch (H, W rounded up to 32).
pub fn collate(examples: &[Example]) -> (Vec<f32>, usize, usize) {
    let h = examples.iter().map(|e| e.height).max().unwrap_or(32).div_ceil(32) * 32;
    let w = examples.iter().map(|e| e.width).max().unwrap_or(32).div_ceil(32) * 32;
    let mut out = vec![0f32; examples.len() * 3 * h * w];
    for (b, e) in examples.iter().enumerate() {
        for c in 0..3 {
            for y in 0..e.height {
                let src = &e.pixels[(c * e.height + y) * e.width..][..e.width];
                out[((b * 3 + c) * h + y) * w..][..e.width].copy_from_slice(src);
            }
        }
    }
    (out, h, w)
}

/// Image index and flip of sample `k` of the run (a fresh permutation every epoch).
fn sample_at(cfg: &FinetuneConfig, n: usize, k: u64) -> (usize, bool) {
    let epoch = k / n as u64;
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut stream(cfg.seed, Purpose::Detection, epoch));
    let flip = stream(cfg.seed, Purpose::Detection, u64::MAX - k).random_bool(cfg.flip.clamp(0.0, 1.0));
    (order[(k % n as u64) as usize], flip)
}

/// Ground truth for evaluation: the COCO file itself when the data set is COCO (so `area`
/// and crowd boxes are as pycocotools sees them), else built from the data set.
pub fn ground_truth(ds: &Dataset) -> Result<GroundTruth> {
    if ds.format == Format::Coco {
        return Ok(read_ground_truth(&ds.annotations)?);
    }
    Ok(GroundTruth {
        images: ds.images.iter().map(|i| GtImage { id: i.id }).collect(),
        categories: ds
            .categories
            .iter()
            .zip(&ds.category_ids)
            .map(|(n, &id)| GtCategory { id, name: n.clone() })
            .collect(),
        annotations: ds
            .images
            .iter()
            .flat_map(|i| {
                i.objects.iter().map(move |o| GtAnnotation {
                    image_id: i.id,
                    category_id: ds.category_ids[o.category],
                    bbox: [o.bbox.x, o.bbox.y, o.bbox.w, o.bbox.h],
                    area: None,
                    iscrowd: o.iscrowd as u8,
                })
            })
            .collect(),
    })
}

/// Detections of every image of `ds` in its original coordinates (COCO results).
pub fn detect_all(
    model: &Fcos,
    ds: &Dataset,
    cfg: &FinetuneConfig,
    device: &Device,
    post: &PostConfig,
) -> Result<Vec<Detection>> {
    let mut out = Vec::new();
    for i in 0..ds.images.len() {
        let e = load_example(ds, i, cfg.min_size, cfg.max_side(), false)?;
        let (x, h, w) = collate(std::slice::from_ref(&e));
        let head = model.forward(Tensor::<4>::from_data(TensorData::new(x, [1, 3, h, w]), device));
        let dets = postprocess(&head, &points(h, w), &[(e.height, e.width)], post);
        for d in &dets[0] {
            let b = d.bbox.map(|v| (v / e.scale) as f64);
            out.push(Detection {
                image_id: ds.images[i].id,
                category_id: ds.category_ids[d.class],
                bbox: [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                score: d.score as f64,
            });
        }
    }
    Ok(out)
}

pub fn optimizer(cfg: &FinetuneConfig) -> ModuleOptimizer {
    SgdConfig::new()
        .with_momentum(Some(MomentumConfig::new().with_momentum(cfg.momentum).with_dampening(0.0)))
        .with_weight_decay(Some(WeightDecayConfig::new(cfg.weight_decay as f32)))
        .init()
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FinetuneState {
    pub iter: u64,
    pub config: FinetuneConfig,
    pub categories: Vec<String>,
    pub category_ids: Vec<u64>,
}

/// A fine-tuned detector loaded from a run or checkpoint folder.
pub fn load_detector(path: &Path, device: &Device) -> Result<(Fcos, FinetuneState)> {
    let dir = checkpoint::resolve(path)?;
    let state: FinetuneState = checkpoint::read_state(&dir)?;
    let mut model =
        Fcos::new(state.config.backbone, state.categories.len(), state.config.size(), state.config.seed, device);
    checkpoint::load_model(&dir, &mut model)?;
    Ok((model, state))
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FtMetrics {
    pub iter: u64,
    pub loss: f64,
    pub cls: f64,
    pub reg: f64,
    pub ctr: f64,
    pub lr: f64,
    pub images_per_s: f64,
    pub foreground: usize,
}

pub struct FtOutcome {
    pub model: Fcos,
    pub eval: Evaluation,
    pub metrics: Vec<FtMetrics>,
}

/// Fine-tunes on `train`, evaluates on `val`, writes into `out`. `on_iter` sees every
/// iteration's metrics and returns false to stop at once, as a killed run would (`None`).
pub fn finetune(
    cfg: &FinetuneConfig,
    train: &Dataset,
    val: &Dataset,
    out: &Path,
    resume: bool,
    device: &Device,
    on_iter: &mut dyn FnMut(&FtMetrics) -> bool,
) -> Result<Option<FtOutcome>> {
    if cfg.iters == 0 || cfg.batch == 0 || cfg.checkpoint_every == 0 || cfg.min_size < 32 {
        bail!("iters, batch and checkpoint-every must be at least 1 and min-size at least 32");
    }
    if train.categories != val.categories {
        bail!("{} and {} have different categories", train.annotations.display(), val.annotations.display());
    }
    if train.images.is_empty() {
        bail!("{}: no training images", train.annotations.display());
    }
    let device = device.clone().autodiff();
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let metrics_path = out.join("metrics.jsonl");
    let eval_path = out.join("eval.jsonl");
    let classes = train.categories.len();
    let (mut model, mut optim, start) = match checkpoint::find(out).filter(|_| resume) {
        Some(dir) => {
            let state: FinetuneState = checkpoint::read_state(&dir)?;
            if state.config != *cfg {
                bail!(
                    "{}: was written with other options; resume with the same arguments (or start a new --out)",
                    dir.display()
                );
            }
            let mut model = Fcos::new(cfg.backbone, classes, cfg.size(), cfg.seed, &device);
            checkpoint::load_model(&dir, &mut model)?;
            let optim = checkpoint::load_optim(&dir, optimizer(cfg))?;
            for p in [&metrics_path, &eval_path] {
                if p.exists() {
                    let text = std::fs::read_to_string(p)?;
                    let kept: String = text
                        .lines()
                        .filter(|l| {
                            serde_json::from_str::<serde_json::Value>(l)
                                .ok()
                                .and_then(|v| v["iter"].as_u64())
                                .is_some_and(|i| i < state.iter)
                        })
                        .map(|l| format!("{l}\n"))
                        .collect();
                    montage_data::io::write_atomic(p, |f| f.write_all(kept.as_bytes()))?;
                }
            }
            (model, optim, state.iter)
        }
        None => {
            let _ = std::fs::remove_file(&metrics_path);
            let _ = std::fs::remove_file(&eval_path);
            let mut model = Fcos::new(cfg.backbone, classes, cfg.size(), cfg.seed, &device);
            if cfg.init != "scratch" {
                let mut bb = model.backbone.clone();
                load_backbone(&mut bb, &PathBuf::from(&cfg.init))?;
                model.backbone = bb;
                model = model.freeze_backbone_bn();
            }
            (model, optimizer(cfg), 0)
        }
    };
    let state = |iter| FinetuneState {
        iter,
        config: cfg.clone(),
        categories: train.categories.clone(),
        category_ids: train.category_ids.clone(),
    };
    let gt = ground_truth(val)?;
    let post = PostConfig { score_thresh: 0.05, ..Default::default() };
    let mut mfile = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&metrics_path)
        .with_context(|| format!("{}: cannot open", metrics_path.display()))?;
    let mut all = Vec::new();
    let n = train.images.len();
    for it in start..cfg.iters {
        let t = Instant::now();
        let examples: Vec<Example> = (0..cfg.batch as u64)
            .map(|j| {
                let (i, flip) = sample_at(cfg, n, it * cfg.batch as u64 + j);
                load_example(train, i, cfg.min_size, cfg.max_side(), flip)
            })
            .collect::<Result<_>>()?;
        let (x, h, w) = collate(&examples);
        let head = model.forward(Tensor::<4>::from_data(TensorData::new(x, [examples.len(), 3, h, w]), &device));
        let targets: Vec<Targets> = examples.into_iter().map(|e| e.targets).collect();
        let l = fcos_loss(&head, &points(h, w), &targets);
        let loss = l.cls + l.reg + l.ctr;
        if !loss.is_finite() {
            bail!(
                "the loss is {loss} at iteration {it}; stopped (last good checkpoint: {})",
                checkpoint::find(out).map(|d| d.display().to_string()).unwrap_or_else(|| "none".into())
            );
        }
        let lr = cfg.lr_at(it);
        let grads = GradientsParams::from_grads(l.total.backward(), &model);
        model = optim.step(lr, model, grads);
        let m = FtMetrics {
            iter: it,
            loss: loss as f64,
            cls: l.cls as f64,
            reg: l.reg as f64,
            ctr: l.ctr as f64,
            lr,
            images_per_s: cfg.batch as f64 / t.elapsed().as_secs_f64(),
            foreground: l.foreground,
        };
        writeln!(mfile, "{}", serde_json::to_string(&m)?)?;
        let go_on = on_iter(&m);
        all.push(m);
        if !go_on {
            return Ok(None);
        }
        let done = it + 1;
        if cfg.eval_every.is_some_and(|e| done % e == 0) && done != cfg.iters {
            let dets = detect_all(&model.valid(), val, cfg, &device.clone().inner(), &post)?;
            let e = evaluate(&gt, &dets).map_err(|m| anyhow::anyhow!(m))?;
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&eval_path)?;
            writeln!(f, "{}", serde_json::json!({"iter": done, "stats": e.stats}))?;
        }
        if done % cfg.checkpoint_every == 0 || done == cfg.iters {
            mfile.flush().ok();
            checkpoint::save(out, &model, &optim, &state(done), &[])?;
        }
    }
    let dets = detect_all(&model.valid(), val, cfg, &device.clone().inner(), &post)?;
    let e = evaluate(&gt, &dets).map_err(|m| anyhow::anyhow!(m))?;
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&eval_path)?;
    writeln!(f, "{}", serde_json::json!({"iter": cfg.iters, "stats": e.stats}))?;
    montage_data::io::write_atomic(&out.join("eval.json"), |f| {
        f.write_all(serde_json::to_string_pretty(&e.stats).unwrap().as_bytes())
    })?;
    Ok(Some(FtOutcome { model, eval: e, metrics: all }))
}

//! The pre-training loop (METHOD §7): SGD with momentum 0.9 and weight decay 1e-4, linear
//! warm-up then cosine, the ERF re-estimated every N iterations (and at start), metrics as
//! JSON lines, atomic checkpoints and bit-exact resume.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
use burn::prelude::*;
use burn::tensor::TensorData;
use montage_data::assemble::Assembler;
use montage_data::io::write_atomic;
use montage_data::loader::{Loader, LoaderConfig, MontageMaker};
use serde::{Deserialize, Serialize};

use crate::checkpoint;
use crate::erf::{estimate, feature_side};
use crate::loss::{LossKind, loss, region_accuracy};
use crate::norm::BnMode;
use crate::resnet::{Arch, ResNet};
use crate::schedule::Schedule;
use crate::soft_label::{ErfMaps, SoftLabeler};

/// The backbone and the dense classification head (1x1 conv to C + 1 classes).
#[derive(Module, Debug)]
pub struct MontageNet {
    pub backbone: ResNet,
    pub head: Conv2d,
}

impl MontageNet {
    /// Initialised from `seed` (torchvision's init for the backbone, PyTorch's default
    /// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the head).
    pub fn new(arch: Arch, num_classes: usize, seed: u64, device: &Device) -> MontageNet {
        let c = arch.out_channels()[2];
        let mut head =
            Conv2dConfig::new([c, num_classes], [1, 1]).with_initializer(burn::nn::Initializer::Zeros).init(device);
        let bound = 1.0 / (c as f64).sqrt();
        let mut rng = montage_data::rng::stream(seed, montage_data::rng::Purpose::Init, u64::MAX);
        let w = montage_data::rng::uniform(&mut rng, num_classes * c, bound);
        let b = montage_data::rng::uniform(&mut rng, num_classes, bound);
        head.weight = burn::module::Param::from_tensor(Tensor::<4>::from_data(
            TensorData::new(w, [num_classes, c, 1, 1]),
            device,
        ));
        head.bias =
            Some(burn::module::Param::from_tensor(Tensor::<1>::from_data(TensorData::new(b, [num_classes]), device)));
        MontageNet { backbone: ResNet::init(arch, seed, device), head }
    }

    /// Logits `N x (C+1) x s x s`.
    pub fn forward(&self, x: Tensor<4>, mode: BnMode) -> Tensor<4> {
        self.head.forward(self.backbone.forward_c5(x, mode))
    }
}

/// Every option of a pre-training run (TOML config file; flags override it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PretrainConfig {
    pub backbone: Arch,
    pub iters: u64,
    /// Montages per iteration.
    pub batch: usize,
    /// Montage side.
    pub size: u32,
    /// Template cut; defaults to size x 64 / 224.
    pub split: Option<u32>,
    /// A random cut per montage and axis, "MIN:MAX:STEP" (overrides `split`).
    pub random_split: Option<String>,
    /// torchvision-named safetensors to start the backbone from (instead of random init).
    pub init: Option<PathBuf>,
    pub loss: LossKind,
    /// padcrop, warp or resize.
    pub mode: String,
    pub seed: u64,
    pub tau: f64,
    /// Peak learning rate; defaults to 0.8 x batch / 512.
    pub lr: Option<f64>,
    /// Warm-up start; defaults to 0.2 x batch / 512.
    pub warmup_lr: Option<f64>,
    /// Warm-up iterations; defaults to iters x 1250 / 64000.
    pub warmup_iters: Option<u64>,
    pub momentum: f64,
    pub weight_decay: f64,
    /// ERF refresh period; defaults to iters x 5000 / 64000 (at least 1).
    pub erf_every: Option<u64>,
    /// Montages per position averaged in each ERF estimate.
    pub erf_montages: usize,
    pub checkpoint_every: u64,
    /// Loader threads.
    pub threads: usize,
}

impl Default for PretrainConfig {
    fn default() -> Self {
        PretrainConfig {
            backbone: Arch::Resnet18,
            iters: 1000,
            batch: 16,
            size: 224,
            split: None,
            random_split: None,
            init: None,
            loss: LossKind::Erf,
            mode: "padcrop".into(),
            seed: 0,
            tau: 0.7,
            lr: None,
            warmup_lr: None,
            warmup_iters: None,
            momentum: 0.9,
            weight_decay: 1e-4,
            erf_every: None,
            erf_montages: 1,
            checkpoint_every: 100,
            threads: 2,
        }
    }
}

impl PretrainConfig {
    pub fn schedule(&self) -> Schedule {
        let mut s = Schedule::paper(self.batch, self.iters);
        if let Some(lr) = self.lr {
            s.start *= lr / s.peak;
            s.peak = lr;
        }
        if let Some(w) = self.warmup_lr {
            s.start = w;
        }
        if let Some(w) = self.warmup_iters {
            s.warmup = w;
        }
        s
    }

    pub fn erf_period(&self) -> u64 {
        self.erf_every.unwrap_or(self.iters * 5000 / 64000).max(1)
    }

    pub fn validate(&self) -> Result<()> {
        if self.iters == 0 || self.batch == 0 || self.checkpoint_every == 0 || self.erf_montages == 0 {
            bail!("iters, batch, checkpoint-every and erf-montages must be at least 1");
        }
        if !(0.0..=1.0).contains(&self.tau) {
            bail!("tau must lie in [0, 1], got {}", self.tau);
        }
        Ok(())
    }
}

/// One line of `metrics.jsonl`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Metrics {
    pub iter: u64,
    pub loss: f64,
    pub lr: f64,
    pub montages_per_s: f64,
    /// Accuracy of the region-pooled logits in R1..R4.
    pub region_acc: [f64; 4],
    /// Seconds spent estimating the ERF before this iteration (0 when not refreshed).
    pub erf_s: f64,
}

/// What a checkpoint records besides the weights and the optimiser.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct State {
    /// Iterations done.
    iter: u64,
    config: PretrainConfig,
    num_classes: usize,
    samples_hash: String,
    erf: Option<(usize, usize)>,
}

/// SGD as the recipe asks (PyTorch semantics).
pub fn optimizer(cfg: &PretrainConfig) -> ModuleOptimizer {
    // PyTorch semantics: no dampening (burn's MomentumConfig defaults to 0.1).
    SgdConfig::new()
        .with_momentum(Some(MomentumConfig::new().with_momentum(cfg.momentum).with_dampening(0.0)))
        .with_weight_decay(Some(WeightDecayConfig::new(cfg.weight_decay as f32)))
        .init()
}

fn save_checkpoint(
    out: &Path,
    model: &MontageNet,
    optim: &ModuleOptimizer,
    state: &State,
    erf: Option<&ErfMaps>,
) -> Result<()> {
    model.backbone.sync_running_stats();
    let erf_bytes: Vec<u8> = erf.map(|e| e.maps.iter().flat_map(|v| v.to_le_bytes()).collect()).unwrap_or_default();
    let extra: Vec<(&str, &[u8])> = if erf.is_some() { vec![("erf.f32", &erf_bytes)] } else { vec![] };
    checkpoint::save(out, model, optim, state, &extra)
}

struct Restored {
    model: MontageNet,
    optim: ModuleOptimizer,
    state: State,
    erf: Option<ErfMaps>,
}

fn load_checkpoint(dir: &Path, device: &Device) -> Result<Restored> {
    let state: State = checkpoint::read_state(dir)?;
    let mut model = MontageNet::new(state.config.backbone, state.num_classes, state.config.seed, device);
    checkpoint::load_model(dir, &mut model)?;
    let optim = checkpoint::load_optim(dir, optimizer(&state.config))?;
    let erf = match state.erf {
        Some((side, canvas)) => {
            let bytes = std::fs::read(dir.join("erf.f32"))
                .with_context(|| format!("{}: cannot read erf.f32", dir.display()))?;
            let maps: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
            if maps.len() != side * side * canvas * canvas {
                bail!(
                    "{}: erf.f32 has {} values, expected {}",
                    dir.display(),
                    maps.len(),
                    side * side * canvas * canvas
                );
            }
            Some(ErfMaps { side, canvas, maps })
        }
        None => None,
    };
    Ok(Restored { model, optim, state, erf })
}

/// Loads the model of a checkpoint: `path` is a run folder (holding `checkpoint/`) or a
/// checkpoint folder. Returns the model and the iterations it was trained for.
pub fn load_model(path: &Path, device: &Device) -> Result<(MontageNet, u64, PretrainConfig)> {
    let dir = checkpoint::resolve(path)?;
    let r = load_checkpoint(&dir, device)?;
    Ok((r.model, r.state.iter, r.state.config))
}

/// Keeps the first `iters` lines of `metrics.jsonl` (a resumed run rewrites the rest).
fn truncate_metrics(path: &Path, iters: u64) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let kept: String = text.lines().take(iters as usize).map(|l| format!("{l}\n")).collect();
    write_atomic(path, |f| f.write_all(kept.as_bytes()))?;
    Ok(())
}

/// The result of a run.
pub struct Outcome {
    pub model: MontageNet,
    pub iters: u64,
    pub metrics: Vec<Metrics>,
    /// Total seconds in training steps and in ERF estimation.
    pub train_s: f64,
    pub erf_s: f64,
}

/// Estimates the ERF of `model` for refresh number `k` with its own montage stream.
fn refresh_erf(
    model: &MontageNet,
    maker: &MontageMaker,
    cfg: &PretrainConfig,
    k: u64,
    device: &Device,
) -> Result<ErfMaps> {
    let canvas = cfg.size as usize;
    let p = feature_side(canvas).pow(2);
    let erf_maker = MontageMaker {
        assembler: Assembler { seed: cfg.seed ^ 0x4552_465f_4d4f_4e54, ..maker.assembler.clone() },
        ..maker.clone()
    };
    let mut batches = Vec::with_capacity(cfg.erf_montages);
    for m in 0..cfg.erf_montages as u64 {
        let first = (k * cfg.erf_montages as u64 + m) * p as u64;
        batches.push(erf_maker.batch(first, p)?.data);
    }
    Ok(estimate(&model.backbone, device, canvas, batches))
}

/// Runs (or resumes) pre-training into `out`. `on_iter` sees every iteration's metrics and
/// returns false to stop at once, as a killed run would (no checkpoint is written then).
pub fn pretrain(
    cfg: &PretrainConfig,
    maker: MontageMaker,
    out: &Path,
    resume: bool,
    device: &Device,
    on_iter: &mut dyn FnMut(&Metrics) -> bool,
) -> Result<Outcome> {
    cfg.validate()?;
    let device = device.clone().autodiff();
    std::fs::create_dir_all(out).with_context(|| format!("{}: cannot create", out.display()))?;
    let num_classes = maker.set.num_classes();
    let metrics_path = out.join("metrics.jsonl");
    let (mut model, mut optim, start, mut erf) = match checkpoint::find(out).filter(|_| resume) {
        Some(dir) => {
            let r = load_checkpoint(&dir, &device)?;
            if r.state.config != *cfg {
                bail!(
                    "{}: was written with other options; resume with the same arguments (or start a new --out)",
                    dir.display()
                );
            }
            if r.state.samples_hash != maker.set.hash {
                bail!("{}: was trained on other samples", dir.display());
            }
            truncate_metrics(&metrics_path, r.state.iter)?;
            (r.model, r.optim, r.state.iter, r.erf)
        }
        None => {
            if resume {
                eprintln!("note: no checkpoint in {}; starting from scratch", out.display());
            }
            let _ = std::fs::remove_file(&metrics_path);
            let mut model = MontageNet::new(cfg.backbone, num_classes, cfg.seed, &device);
            if let Some(init) = &cfg.init {
                crate::export::load_backbone(&mut model.backbone, init)?;
            }
            (model, optimizer(cfg), 0, None)
        }
    };
    let schedule = cfg.schedule();
    let side = feature_side(cfg.size as usize);
    let period = cfg.erf_period();
    let mut labeler = match (&erf, cfg.loss) {
        (Some(e), LossKind::Erf) => SoftLabeler::new(e, cfg.tau),
        _ => SoftLabeler::hard(side, cfg.size),
    };
    let mut loader = Loader::new(
        maker.clone(),
        &LoaderConfig { batch: cfg.batch, threads: cfg.threads, prefetch: 2, start: start * cfg.batch as u64 },
    )?;
    let mut metrics_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&metrics_path)
        .with_context(|| format!("{}: cannot open", metrics_path.display()))?;
    let mut all = Vec::new();
    let (mut train_s, mut erf_total) = (0f64, 0f64);
    for it in start..cfg.iters {
        let mut erf_s = 0.0;
        if cfg.loss == LossKind::Erf && it % period == 0 {
            let t = Instant::now();
            let e = refresh_erf(&model, &maker, cfg, it / period, &device)?;
            labeler = SoftLabeler::new(&e, cfg.tau);
            erf = Some(e);
            erf_s = t.elapsed().as_secs_f64();
            erf_total += erf_s;
        }
        let t = Instant::now();
        let batch = loader.next_batch()?;
        let n = batch.len();
        let c = cfg.size as usize;
        let x = Tensor::<4>::from_data(TensorData::new(batch.data, [n, 3, c, c]), &device);
        let logits = model.forward(x, BnMode::Train);
        let out_loss = loss(cfg.loss, logits, &batch.layouts, num_classes, &labeler);
        let value: f32 = out_loss.loss.clone().into_data().try_to_vec::<f32>().expect("f32 loss")[0];
        if !value.is_finite() {
            let last = checkpoint::find(out).map(|d| d.display().to_string()).unwrap_or_else(|| "none".into());
            bail!("the loss is {value} at iteration {it}; stopped (last good checkpoint: {last})");
        }
        let lr = schedule.lr(it);
        let grads = GradientsParams::from_grads(out_loss.loss.backward(), &model);
        model = optim.step(lr, model, grads);
        let step_s = t.elapsed().as_secs_f64();
        train_s += step_s;
        let m = Metrics {
            iter: it,
            loss: value as f64,
            lr,
            montages_per_s: n as f64 / step_s,
            region_acc: region_accuracy(out_loss.region_logits, &batch.layouts),
            erf_s,
        };
        writeln!(metrics_file, "{}", serde_json::to_string(&m).unwrap())
            .with_context(|| format!("{}: cannot write", metrics_path.display()))?;
        let go_on = on_iter(&m);
        all.push(m);
        if !go_on {
            return Ok(Outcome { model, iters: it + 1, metrics: all, train_s, erf_s: erf_total });
        }
        let done = it + 1;
        if done % cfg.checkpoint_every == 0 || done == cfg.iters {
            metrics_file.flush().ok();
            let state = State {
                iter: done,
                config: cfg.clone(),
                num_classes,
                samples_hash: maker.set.hash.clone(),
                erf: erf.as_ref().map(|e| (e.side, e.canvas)),
            };
            save_checkpoint(out, &model, &optim, &state, erf.as_ref())?;
        }
    }
    Ok(Outcome { model, iters: cfg.iters, metrics: all, train_s, erf_s: erf_total })
}

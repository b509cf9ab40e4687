//! `montage bench`: throughput figures as one JSON line.

use std::time::Instant;

use anyhow::Result;
use montage_data::loader::{Loader, LoaderConfig};

use crate::args::{SourceArgs, TemplateArgs};

#[derive(clap::Subcommand, Debug)]
pub enum Bench {
    /// Montages per second through the loader, from the original images or the crop cache.
    ///
    /// Runs --repeat timed passes of --count montages (after one warm-up batch) and prints
    /// the median: {"bench":"data","source":"images"|"cache","threads":N,"montages_per_s":...}.
    Data(DataArgs),
    /// Seconds per pre-training step: forward + ERF loss + backward + SGD step.
    ///
    /// Synthetic montages (fixed template, random labels) so only the engine is measured.
    /// Prints {"bench":"train","s_per_step":median,"peak_rss_mb":...,"erf_refresh_s":...,
    /// "erf_share":...}: erf_share is one ERF refresh against the paper's refresh period
    /// (5000 steps).
    Train(TrainArgs),
}

#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    #[arg(long, default_value = "resnet18", value_name = "resnet18|resnet34|resnet50")]
    pub backbone: montage_train::resnet::Arch,
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub batch: usize,
    #[arg(long, default_value_t = 224, value_name = "N")]
    pub size: u32,
    /// Timed steps (after one warm-up step); the median is reported.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub steps: usize,
    /// Engine: flex, wgpu, tch or tch-cuda (see `montage pretrain --help`).
    #[arg(long, default_value = "flex", value_name = "NAME")]
    pub backend: String,
    /// Also time one ERF refresh.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "true|false")]
    pub erf: bool,
}

#[derive(clap::Args, Debug)]
pub struct DataArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// Loader threads.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub threads: usize,
    /// Montages per timed pass.
    #[arg(long, default_value_t = 256, value_name = "N")]
    pub count: u64,
    /// Montages per batch.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub batch: usize,
    /// Timed passes; the median is reported.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub repeat: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub template: TemplateArgs,
}

pub fn run(b: Bench) -> Result<()> {
    match b {
        Bench::Data(a) => data(a),
        Bench::Train(a) => train(a),
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

fn data(a: DataArgs) -> Result<()> {
    anyhow::ensure!(a.count > 0 && a.repeat > 0 && a.batch > 0, "--count, --repeat and --batch must be at least 1");
    let maker = a.source.maker(a.template.template()?, a.template.mode, a.seed)?;
    let kind = maker.source.kind();
    let cfg = LoaderConfig { batch: a.batch, threads: a.threads, prefetch: 2, start: 0 };
    let batches = a.count.div_ceil(a.batch as u64);
    let mut rates = Vec::with_capacity(a.repeat);
    let mut loader = Loader::new(maker, &cfg)?;
    loader.next_batch()?; // warm-up: thread start, page cache, mmap faults
    for _ in 0..a.repeat {
        let t = Instant::now();
        let mut n = 0;
        for _ in 0..batches {
            n += loader.next_batch()?.len();
        }
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    let runs = rates.clone();
    let out = serde_json::json!({
        "bench": "data",
        "source": kind,
        "threads": a.threads,
        "batch": a.batch,
        "count": batches * a.batch as u64,
        "size": a.template.size,
        "mode": format!("{:?}", a.template.mode).to_lowercase(),
        "montages_per_s": median(&mut rates),
        "runs": runs,
    });
    println!("{out}");
    Ok(())
}

/// Peak resident set size of this process in MiB (Linux; 0 elsewhere).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn train(a: TrainArgs) -> Result<()> {
    use montage_data::template::{Layout, regions};
    use montage_train::burn::optim::GradientsParams;
    use montage_train::burn::prelude::*;
    use montage_train::burn::tensor::TensorData;
    use montage_train::erf::{estimate, feature_side};
    use montage_train::loss::{LossKind, loss};
    use montage_train::norm::BnMode;
    use montage_train::pretrain::{MontageNet, PretrainConfig};
    use montage_train::soft_label::SoftLabeler;

    anyhow::ensure!(
        a.steps > 0 && a.batch > 0 && a.size >= 32,
        "--steps and --batch must be at least 1, --size at least 32"
    );
    let device = montage_train::backend::device(&a.backend)?.autodiff();
    let classes = 11;
    let model = MontageNet::new(a.backbone, classes, 0, &device);
    let cfg = PretrainConfig { backbone: a.backbone, batch: a.batch, size: a.size, ..Default::default() };
    let mut optim = montage_train::pretrain::optimizer(&cfg);
    let c = a.size as usize;
    let split = montage_data::template::Template::scaled(a.size).split_bounds().0;
    let layouts: Vec<Layout> = (0..a.batch)
        .map(|i| Layout {
            canvas: a.size,
            split_x: split,
            split_y: split,
            labels: [i % classes, (i + 3) % classes, (i + 5) % classes, (i + 7) % classes],
            samples: [0; 4],
            content: regions(a.size, split, split),
        })
        .collect();
    let input: Vec<f32> =
        (0..a.batch * 3 * c * c).map(|i| ((i.wrapping_mul(2654435761) >> 7) % 1000) as f32 / 500.0 - 1.0).collect();
    let side = feature_side(c);
    let labeler = SoftLabeler::hard(side, a.size);
    let mut model = model;
    let mut times = Vec::with_capacity(a.steps);
    for step in 0..=a.steps {
        let t = Instant::now();
        let x = Tensor::<4>::from_data(TensorData::new(input.clone(), [a.batch, 3, c, c]), &device);
        let out = loss(LossKind::Erf, model.forward(x, BnMode::Train), &layouts, classes, &labeler);
        let grads = GradientsParams::from_grads(out.loss.backward(), &model);
        model = optim.step(0.01, model, grads);
        // Wait for the step's results before stopping the clock.
        let _ = model.head.weight.val().into_data();
        if step > 0 {
            times.push(t.elapsed().as_secs_f64());
        }
    }
    let runs = times.clone();
    let s_per_step = median(&mut times);
    let (mut erf_s, mut erf_share) = (serde_json::Value::Null, serde_json::Value::Null);
    if a.erf {
        let p = side * side;
        let t = Instant::now();
        let _ = estimate(
            &model.backbone,
            &device,
            c,
            [input.iter().cycle().take(p * 3 * c * c).copied().collect::<Vec<f32>>()],
        );
        let e = t.elapsed().as_secs_f64();
        erf_s = e.into();
        erf_share = (e / (e + 5000.0 * s_per_step)).into();
    }
    let out = serde_json::json!({
        "bench": "train",
        "backend": a.backend,
        "backbone": a.backbone.to_string(),
        "batch": a.batch,
        "size": a.size,
        "steps": a.steps,
        "s_per_step": s_per_step,
        "montages_per_s": a.batch as f64 / s_per_step,
        "runs": runs,
        "peak_rss_mb": peak_rss_mb(),
        "erf_refresh_s": erf_s,
        "erf_share": erf_share,
    });
    println!("{out}");
    Ok(())
}

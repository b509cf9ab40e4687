//! `montage pretrain`: Montage pre-training of a backbone.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use montage_data::assemble::{Assembler, FitMode, FitParams};
use montage_data::cache::CropCache;
use montage_data::loader::MontageMaker;
use montage_data::plot::{Series, line_plot};
use montage_data::sample::{SampleConfig, select};
use montage_data::samples_file::{self, SampleSet};
use montage_data::source::{ImageSource, PixelSource};
use montage_train::export::save_backbone;
use montage_train::loss::LossKind;
use montage_train::pretrain::{PretrainConfig, pretrain};
use montage_train::resnet::Arch;

use crate::args::DatasetArgs;
use crate::progress::bar;

/// Pre-train a backbone with montages and the ERF-adaptive dense loss.
///
/// Samples are selected from the data set (or read from --samples), montages are built from
/// the crop cache (--cache) or the images, and the backbone is trained with SGD (momentum
/// 0.9, weight decay 1e-4), linear warm-up then cosine, learning rate 0.8 x batch / 512.
/// OUT receives metrics.jsonl (a line per iteration), checkpoint/ (every
/// --checkpoint-every iterations, written atomically), loss.png and, at the end,
/// backbone.safetensors (torchvision names). A killed run restarted with the same
/// arguments plus --resume ends with the same weights, bit for bit.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub data: DatasetArgs,
    /// Output folder.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Sample file; selected from the data set (and written to OUT/samples.jsonl) if omitted.
    #[arg(long, value_name = "FILE")]
    pub samples: Option<PathBuf>,
    /// Crop cache built from the samples (montages are assembled from the images otherwise).
    #[arg(long, value_name = "FILE")]
    pub cache: Option<PathBuf>,
    #[arg(long, value_name = "resnet18|resnet34|resnet50")]
    pub backbone: Option<Arch>,
    /// Training iterations.
    #[arg(long, value_name = "N")]
    pub iters: Option<u64>,
    /// Montages per iteration.
    #[arg(long, value_name = "N")]
    pub batch: Option<usize>,
    /// Montage side in pixels.
    #[arg(long, value_name = "N")]
    pub size: Option<u32>,
    /// erf (the method), block (tau = 1) or global (area-weighted labels).
    #[arg(long, value_name = "erf|block|global")]
    pub loss: Option<LossKind>,
    /// How samples are fitted into regions.
    #[arg(long, value_name = "padcrop|warp|resize")]
    pub mode: Option<FitMode>,
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    #[arg(long, value_name = "N")]
    pub checkpoint_every: Option<u64>,
    /// Re-estimate the ERF every N iterations (default: iters x 5000 / 64000).
    #[arg(long, value_name = "N")]
    pub erf_every: Option<u64>,
    /// Peak learning rate (default 0.8 x batch / 512).
    #[arg(long, value_name = "F")]
    pub lr: Option<f64>,
    /// Loader threads.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Draw the template's cut per montage and axis from MIN..=MAX in steps of STEP.
    #[arg(long, value_name = "MIN:MAX:STEP")]
    pub random_split: Option<String>,
    /// Start the backbone from torchvision-named safetensors (e.g. a converted ImageNet
    /// checkpoint, or another run's backbone.safetensors).
    #[arg(long, value_name = "FILE")]
    pub init: Option<PathBuf>,
    /// TOML file with any of the options above (snake_case keys); flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Continue from OUT/checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Engine: flex (pure Rust CPU), wgpu (GPU, `--features wgpu`), tch or tch-cuda
    /// (libtorch, `--features tch`).
    #[arg(long, default_value = "flex", value_name = "NAME")]
    pub backend: String,
}

fn mode_name(m: FitMode) -> &'static str {
    match m {
        FitMode::PadCrop => "padcrop",
        FitMode::Warp => "warp",
        FitMode::Resize => "resize",
    }
}

pub fn config(a: &Args) -> Result<PretrainConfig> {
    let mut c = match &a.config {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("{}: cannot read", p.display()))?;
            toml::from_str::<PretrainConfig>(&text)
                .map_err(|e| anyhow::anyhow!("{}: {}", p.display(), e.to_string().replace('\n', " ")))?
        }
        None => PretrainConfig::default(),
    };
    macro_rules! set {
        ($($f:ident),*) => { $(if let Some(v) = a.$f.clone() { c.$f = v; })* };
    }
    set!(backbone, iters, batch, size, loss, seed, checkpoint_every, threads);
    if let Some(m) = a.mode {
        c.mode = mode_name(m).to_string();
    }
    if a.erf_every.is_some() {
        c.erf_every = a.erf_every;
    }
    if a.lr.is_some() {
        c.lr = a.lr;
    }
    if a.random_split.is_some() {
        c.random_split = a.random_split.clone();
    }
    if a.init.is_some() {
        c.init = a.init.clone();
    }
    c.validate()?;
    Ok(c)
}

pub fn run(a: Args) -> Result<()> {
    let cfg = config(&a)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("{}: cannot create", a.out.display()))?;
    let samples_path = match &a.samples {
        Some(p) => p.clone(),
        None => {
            let p = a.out.join("samples.jsonl");
            let ds = a.data.load()?;
            let samples = select(&ds, &SampleConfig { seed: cfg.seed, ..Default::default() });
            samples_file::write(&p, &samples_file::records(&ds, &samples))?;
            eprintln!("selected {} samples into {}", samples.len(), p.display());
            p
        }
    };
    let set = Arc::new(SampleSet::read(&samples_path)?);
    let template = crate::args::TemplateArgs {
        size: cfg.size,
        split: cfg.split,
        random_split: cfg.random_split.clone(),
        mode: FitMode::PadCrop,
    }
    .template()?;
    let mode: FitMode = cfg.mode.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let params = FitParams::default();
    let source: Arc<dyn PixelSource> = match &a.cache {
        Some(c) => {
            let cache = CropCache::open(c, &set, &a.data.images)?;
            cache.check_template(&template, params.scale_max)?;
            Arc::new(cache)
        }
        None => Arc::new(ImageSource::new(&a.data.images)),
    };
    let maker = MontageMaker::new(Assembler { template, mode, params, seed: cfg.seed }, set.clone(), source)?;
    for n in maker.notes() {
        eprintln!("note: {n}");
    }
    eprintln!(
        "pre-training {} on {} samples ({} classes + background), {} iterations of {} montages, {} loss",
        cfg.backbone,
        set.samples.len(),
        set.classes.len(),
        cfg.iters,
        cfg.batch,
        serde_json::to_string(&cfg.loss)?.trim_matches('"')
    );
    let pb = bar(cfg.iters, "iters");
    let device = montage_train::backend::device(&a.backend)?;
    let outcome = pretrain(&cfg, maker, &a.out, a.resume, &device, &mut |m| {
        pb.set_position(m.iter + 1);
        pb.set_message(format!("loss {:.3}", m.loss));
        true
    })?;
    pb.finish_and_clear();

    // Plot from the whole metrics file (a resumed run plots its earlier part too).
    let text = std::fs::read_to_string(a.out.join("metrics.jsonl")).unwrap_or_default();
    let lines: Vec<serde_json::Value> = text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let pts = |f: &dyn Fn(&serde_json::Value) -> Option<f64>| {
        lines.iter().filter_map(|v| Some((v["iter"].as_f64()?, f(v)?))).collect::<Vec<_>>()
    };
    line_plot(
        &a.out.join("loss.png"),
        "pre-training loss",
        "iteration",
        &[Series { name: "loss", points: pts(&|v| v["loss"].as_f64()) }],
        640,
        360,
    )?;
    let acc: Vec<Series> = (0..4)
        .map(|i| Series { name: ["R1", "R2", "R3", "R4"][i], points: pts(&|v| v["region_acc"][i].as_f64()) })
        .collect();
    line_plot(&a.out.join("accuracy.png"), "region accuracy", "iteration", &acc, 640, 360)?;

    let weights = a.out.join("backbone.safetensors");
    save_backbone(&outcome.model.backbone, cfg.iters as i64, &weights)?;
    let last = outcome.metrics.last();
    println!(
        "{}",
        serde_json::json!({
            "out": a.out,
            "iters": cfg.iters,
            "final_loss": last.map(|m| m.loss),
            "region_acc": last.map(|m| m.region_acc),
            "train_s": outcome.train_s,
            "erf_s": outcome.erf_s,
            "erf_share": if outcome.train_s > 0.0 { outcome.erf_s / (outcome.train_s + outcome.erf_s) } else { 0.0 },
            "weights": weights,
        })
    );
    Ok(())
}

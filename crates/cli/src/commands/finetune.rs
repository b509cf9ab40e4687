//! `montage finetune` and `montage detect`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use montage_data::coco_eval::Detection;
use montage_data::dataset::{self, LoadOptions};
use montage_data::plot::{Series, line_plot};
use montage_train::detect::postprocess::PostConfig;
use montage_train::finetune::{FinetuneConfig, detect_all, finetune, load_detector};
use montage_train::resnet::Arch;

use crate::args::DatasetArgs;
use crate::progress::bar;

/// Fine-tune an FCOS detector (FPN, frozen backbone BN) and report COCO AP.
///
/// The backbone starts from --init (a `montage pretrain` backbone.safetensors, any
/// torchvision-named ResNet safetensors) or from scratch. SGD momentum 0.9, weight decay
/// 1e-4, warm-up, learning rate x0.1 at 9/13 and 12/13 of the run, images resized by their
/// shorter side, horizontal flip 0.5. OUT receives metrics.jsonl, eval.jsonl, checkpoint/,
/// loss.png, ap.png and eval.json (the 12 COCO statistics of the validation set).
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    pub data: DatasetArgs,
    /// Validation annotations (same formats as --annotations).
    #[arg(long, value_name = "PATH")]
    pub val_annotations: PathBuf,
    #[arg(long, value_name = "DIR")]
    pub val_images: PathBuf,
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// "scratch" or torchvision-named safetensors.
    #[arg(long, value_name = "FILE|scratch")]
    pub init: Option<String>,
    #[arg(long, value_name = "resnet18|resnet34|resnet50")]
    pub backbone: Option<Arch>,
    #[arg(long, value_name = "N")]
    pub iters: Option<u64>,
    #[arg(long, value_name = "N")]
    pub batch: Option<usize>,
    /// Shorter image side after resizing.
    #[arg(long, value_name = "N")]
    pub min_size: Option<u32>,
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    #[arg(long, value_name = "N")]
    pub checkpoint_every: Option<u64>,
    /// Also evaluate every N iterations (eval.jsonl).
    #[arg(long, value_name = "N")]
    pub eval_every: Option<u64>,
    /// Base learning rate (default 0.01 x batch / 16).
    #[arg(long, value_name = "F")]
    pub lr: Option<f64>,
    /// TOML file with any option (snake_case keys, e.g. channels = 64, tower = 2); flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[arg(long)]
    pub resume: bool,
    /// Engine: flex, wgpu or tch (see `montage pretrain --help`).
    #[arg(long, default_value = "flex", value_name = "NAME")]
    pub backend: String,
}

pub fn config(a: &Args) -> Result<FinetuneConfig> {
    let mut c = match &a.config {
        Some(p) => {
            let text = std::fs::read_to_string(p).with_context(|| format!("{}: cannot read", p.display()))?;
            toml::from_str::<FinetuneConfig>(&text)
                .map_err(|e| anyhow::anyhow!("{}: {}", p.display(), e.to_string().replace('\n', " ")))?
        }
        None => FinetuneConfig::default(),
    };
    macro_rules! set {
        ($($f:ident),*) => { $(if let Some(v) = a.$f.clone() { c.$f = v; })* };
    }
    set!(init, backbone, iters, batch, min_size, seed, checkpoint_every);
    if a.eval_every.is_some() {
        c.eval_every = a.eval_every;
    }
    if a.lr.is_some() {
        c.lr = a.lr;
    }
    Ok(c)
}

pub fn run(a: Args) -> Result<()> {
    let cfg = config(&a)?;
    let train = a.data.load()?;
    let val = dataset::load(&a.val_annotations, &a.val_images, &LoadOptions { format: None, strict: a.data.strict })?;
    eprintln!(
        "fine-tuning FCOS-{} ({}) on {} images, {} categories; {} iterations of {}; evaluating on {} images",
        cfg.backbone,
        if cfg.init == "scratch" { "from scratch".to_string() } else { format!("from {}", cfg.init) },
        train.images.len(),
        train.categories.len(),
        cfg.iters,
        cfg.batch,
        val.images.len()
    );
    let device = montage_train::backend::device(&a.backend)?;
    let pb = bar(cfg.iters, "iters");
    let out = finetune(&cfg, &train, &val, &a.out, a.resume, &device, &mut |m| {
        pb.set_position(m.iter + 1);
        pb.set_message(format!("loss {:.3}", m.loss));
        true
    })?
    .expect("runs to the end");
    pb.finish_and_clear();
    let text = std::fs::read_to_string(a.out.join("metrics.jsonl")).unwrap_or_default();
    let pts = |key: &str| -> Vec<(f64, f64)> {
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| Some((v["iter"].as_f64()?, v[key].as_f64()?)))
            .collect()
    };
    let series = ["loss", "cls", "reg", "ctr"].map(|k| Series { name: k, points: pts(k) });
    line_plot(&a.out.join("loss.png"), "fine-tuning loss", "iteration", &series, 640, 360)?;
    let evals = std::fs::read_to_string(a.out.join("eval.jsonl")).unwrap_or_default();
    let ap: Vec<(f64, f64)> = evals
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| Some((v["iter"].as_f64()?, v["stats"]["AP"].as_f64()?)))
        .collect();
    let ap50: Vec<(f64, f64)> = evals
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| Some((v["iter"].as_f64()?, v["stats"]["AP50"].as_f64()?)))
        .collect();
    line_plot(
        &a.out.join("ap.png"),
        "validation AP",
        "iteration",
        &[Series { name: "AP", points: ap }, Series { name: "AP50", points: ap50 }],
        640,
        360,
    )?;
    println!("{}", serde_json::to_string(&out.eval.stats)?);
    Ok(())
}

/// Run a fine-tuned detector over a folder of images; write COCO results json.
///
/// A list of {"image_id", "category_id", "bbox": [x, y, w, h], "score"}; image ids come from
/// --annotations when given (matched by file name), else they number the images of DIR in
/// name order from 1.
#[derive(clap::Args, Debug)]
pub struct DetectArgs {
    /// A `montage finetune` output folder or its checkpoint/.
    #[arg(long, value_name = "PATH")]
    pub checkpoint: PathBuf,
    #[arg(long, value_name = "DIR")]
    pub images: PathBuf,
    #[arg(long, value_name = "PATH")]
    pub annotations: Option<PathBuf>,
    #[arg(long, value_name = "FILE.json")]
    pub out: PathBuf,
    /// Keep detections scoring above this.
    #[arg(long, default_value_t = 0.05, value_name = "F")]
    pub score_thresh: f32,
}

pub fn detect(a: DetectArgs) -> Result<()> {
    let device = montage_train::burn::prelude::Device::flex();
    let (model, state) = load_detector(&a.checkpoint, &device)?;
    let mut ds = match &a.annotations {
        Some(p) => dataset::load(p, &a.images, &LoadOptions::default())?,
        None => {
            // Every image of the folder, numbered in name order.
            let mut files: Vec<PathBuf> = std::fs::read_dir(&a.images)
                .with_context(|| format!("{}: cannot read", a.images.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().and_then(|x| x.to_str()).is_some_and(|x| {
                        ["jpg", "jpeg", "png", "bmp", "webp"].contains(&x.to_ascii_lowercase().as_str())
                    })
                })
                .collect();
            files.sort();
            let images = files
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    let (w, h) = dataset::image_size(f)?;
                    Ok(dataset::ImageEntry {
                        id: i as u64 + 1,
                        file_name: f.file_name().unwrap().to_string_lossy().into(),
                        width: w,
                        height: h,
                        objects: vec![],
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            dataset::Dataset {
                format: dataset::Format::Coco,
                annotations: a.images.clone(),
                image_root: a.images.clone(),
                categories: state.categories.clone(),
                category_ids: state.category_ids.clone(),
                images,
                report: Default::default(),
            }
        }
    };
    ds.category_ids = state.category_ids.clone();
    let post = PostConfig { score_thresh: a.score_thresh, ..Default::default() };
    let dets: Vec<Detection> = detect_all(&model, &ds, &state.config, &device, &post)?;
    montage_data::io::write_atomic(&a.out, |f| {
        std::io::Write::write_all(f, serde_json::to_string(&dets).unwrap().as_bytes())
    })?;
    println!("wrote {} detections on {} images to {}", dets.len(), ds.images.len(), a.out.display());
    Ok(())
}

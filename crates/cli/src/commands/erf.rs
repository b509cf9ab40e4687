//! `montage erf`: look at effective receptive fields and the soft-label weights they give.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use montage_data::assemble::{Assembler, FitMode, FitParams};
use montage_data::loader::MontageMaker;
use montage_data::preview::{blend, caption, draw_regions, heatmap, montage_image, save_png};
use montage_data::samples_file::SampleSet;
use montage_data::source::{ImageSource, PixelSource};
use montage_data::template::{Layout, Template, regions};
use montage_train::erf::{estimate, feature_side};
use montage_train::export::load_backbone;
use montage_train::pretrain::load_model;
use montage_train::resnet::{Arch, ResNet};
use montage_train::soft_label::SoftLabeler;

/// Estimate the ERF of every position of the stride-32 map (inference-mode BN, averaged over
/// montages) and write heat maps.
///
/// Writes erf_<j>_<k>.png (the ERF of position (j, k) over a montage, region borders drawn),
/// erf_grid.png (every position's ERF), weight_R1.png .. weight_R4.png (the Eq. 2 weight of
/// each region's label at every position) and erf.json (the weights as numbers).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// A pre-training output folder (or its checkpoint/); a fresh network when neither this
    /// nor --weights is given.
    #[arg(long, value_name = "PATH", conflicts_with = "weights")]
    pub checkpoint: Option<PathBuf>,
    /// torchvision-named safetensors.
    #[arg(long, value_name = "FILE")]
    pub weights: Option<PathBuf>,
    #[arg(long, default_value = "resnet18", value_name = "resnet18|resnet34|resnet50")]
    pub backbone: Arch,
    #[arg(long, value_name = "FILE")]
    pub samples: PathBuf,
    #[arg(long, value_name = "DIR")]
    pub images: PathBuf,
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 224, value_name = "N")]
    pub size: u32,
    /// Montages averaged per position.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub montages: usize,
    /// Positions to draw, "j,k;j,k;..." (row, column); default: one per region and the centre.
    #[arg(long, value_name = "LIST")]
    pub positions: Option<String>,
    #[arg(long, default_value_t = 0.7)]
    pub tau: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

pub fn run(a: Args) -> Result<()> {
    let device = montage_train::burn::prelude::Device::flex().autodiff();
    let (backbone, size) = match (&a.checkpoint, &a.weights) {
        (Some(c), _) => {
            let (m, _, cfg) = load_model(c, &device)?;
            (m.backbone, cfg.size)
        }
        (None, Some(w)) => {
            let mut net = ResNet::new(a.backbone, &device);
            load_backbone(&mut net, w)?;
            (net, a.size)
        }
        (None, None) => (ResNet::init(a.backbone, a.seed, &device), a.size),
    };
    let set = Arc::new(SampleSet::read(&a.samples)?);
    let source: Arc<dyn PixelSource> = Arc::new(ImageSource::new(&a.images));
    let template = Template::scaled(size);
    let maker = MontageMaker::new(
        Assembler { template, mode: FitMode::PadCrop, params: FitParams::default(), seed: a.seed },
        set,
        source,
    )?;
    let c = size as usize;
    let side = feature_side(c);
    let p = side * side;
    let batches: Vec<Vec<f32>> =
        (0..a.montages as u64).map(|m| maker.batch(m * p as u64, p).map(|b| b.data)).collect::<Result<_, _>>()?;
    let erf = estimate(&backbone, &device, c, batches);
    std::fs::create_dir_all(&a.out).with_context(|| format!("{}: cannot create", a.out.display()))?;

    let (split, _) = template.split_bounds();
    let layout = Layout {
        canvas: size,
        split_x: split,
        split_y: split,
        labels: [0; 4],
        samples: [0; 4],
        content: regions(size, split, split),
    };
    let positions: Vec<(usize, usize)> = match &a.positions {
        Some(s) => s
            .split(';')
            .map(|pair| {
                let v: Vec<usize> = pair
                    .split(',')
                    .map(|x| x.trim().parse())
                    .collect::<Result<_, _>>()
                    .with_context(|| format!("--positions: {pair:?} is not j,k"))?;
                match v[..] {
                    [j, k] if j < side && k < side => Ok((j, k)),
                    _ => bail!("--positions: {pair:?} is not j,k inside the {side}x{side} map"),
                }
            })
            .collect::<Result<_>>()?,
        None => {
            let cell = |px: u32| ((px as f64 + 0.5) * side as f64 / size as f64) as usize;
            let (lo, hi) = (cell(split / 2), cell(split + (size - split) / 2));
            vec![(lo, lo), (lo, hi), (hi, lo), (hi, hi), (side / 2, side / 2)]
        }
    };
    let mut resizer = fast_image_resize::Resizer::new();
    let m = maker.assembler.assemble(&maker.set, &maker.pools, maker.source.as_ref(), 0, &mut resizer)?;
    let base = montage_image(&m.rgb, size);
    for &(j, k) in &positions {
        let mut img = blend(&base, &heatmap(erf.map(j * side + k), size, size), 0.7);
        draw_regions(&mut img, &layout);
        caption(&mut img, &format!("ERF ({j},{k})"));
        save_png(&a.out.join(format!("erf_{j}_{k}.png")), &img)?;
    }
    // Every position's ERF, as a grid of thumbnails.
    let thumb = (size / 2).max(16);
    let mut grid = image::RgbImage::new(thumb * side as u32, thumb * side as u32);
    for q in 0..p {
        let h = heatmap(erf.map(q), size, size);
        let t = image::imageops::resize(&h, thumb, thumb, image::imageops::FilterType::Triangle);
        image::imageops::replace(&mut grid, &t, ((q % side) as u32 * thumb) as i64, ((q / side) as u32 * thumb) as i64);
    }
    save_png(&a.out.join("erf_grid.png"), &grid)?;
    // Weight of each region's label at every position.
    let w = SoftLabeler::new(&erf, a.tau).weights(split, split);
    for i in 0..4 {
        let vals: Vec<f32> = (0..c * c).map(|px| w.w[((px / c) * side / c) * side + (px % c) * side / c][i]).collect();
        let mut img = image::RgbImage::from_fn(size, size, |x, y| {
            image::Rgb(montage_data::preview::heat_color(vals[(y * size + x) as usize]))
        });
        draw_regions(&mut img, &layout);
        caption(&mut img, &format!("w of R{} label", i + 1));
        save_png(&a.out.join(format!("weight_R{}.png", i + 1)), &img)?;
    }
    let json = serde_json::json!({ "side": side, "size": size, "split": split, "tau": a.tau, "region": w.region, "weights": w.w });
    std::fs::write(a.out.join("erf.json"), json.to_string())
        .with_context(|| format!("{}: cannot write erf.json", a.out.display()))?;
    println!("wrote ERF maps of {} positions and the four weight maps to {}", positions.len(), a.out.display());
    Ok(())
}

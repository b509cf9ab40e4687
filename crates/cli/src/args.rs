//! Argument groups shared by several subcommands.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;
use montage_data::assemble::{Assembler, FitMode, FitParams};
use montage_data::cache::CropCache;
use montage_data::dataset::{self, Dataset, Format, LoadOptions};
use montage_data::loader::MontageMaker;
use montage_data::samples_file::SampleSet;
use montage_data::source::{ImageSource, PixelSource};
use montage_data::template::{Split, Template};

/// Where a detection data set is.
#[derive(Args, Clone, Debug)]
pub struct DatasetArgs {
    /// Annotations: a COCO json, a Pascal VOC xml folder, or YOLO labels (a labels folder,
    /// data.yaml or classes.txt).
    #[arg(long, value_name = "PATH")]
    pub annotations: PathBuf,
    /// Folder the image file names are relative to.
    #[arg(long, value_name = "DIR")]
    pub images: PathBuf,
    /// Annotation format; detected from the path when omitted.
    #[arg(long, value_name = "coco|voc|yolo")]
    pub format: Option<Format>,
    /// Treat boxes that would be skipped (zero/negative/NaN size) or clipped (reaching out
    /// of the image) as errors.
    #[arg(long)]
    pub strict: bool,
}

impl DatasetArgs {
    /// Loads the data set and prints what was repaired.
    pub fn load(&self) -> Result<Dataset> {
        let ds =
            dataset::load(&self.annotations, &self.images, &LoadOptions { format: self.format, strict: self.strict })?;
        for line in ds.report.summary() {
            eprintln!("warning: {line}");
        }
        Ok(ds)
    }
}

/// The montage template and fitting mode.
#[derive(Args, Clone, Debug)]
pub struct TemplateArgs {
    /// Montage side in pixels.
    #[arg(long, default_value_t = 224, value_name = "N")]
    pub size: u32,
    /// Where the canvas is cut (R1 is split x split); defaults to size x 64/224.
    #[arg(long, value_name = "N", conflicts_with = "random_split")]
    pub split: Option<u32>,
    /// Draw the cut of each montage per axis from MIN..=MAX in steps of STEP.
    #[arg(long, value_name = "MIN:MAX:STEP")]
    pub random_split: Option<String>,
    /// How samples are fitted into regions: padcrop (the paper's default), warp or resize.
    #[arg(long, default_value = "padcrop", value_name = "padcrop|warp|resize")]
    pub mode: FitMode,
}

impl TemplateArgs {
    pub fn template(&self) -> Result<Template> {
        let mut t = Template::scaled(self.size);
        if let Some(s) = self.split {
            t.split = Split::Fixed(s);
        }
        if let Some(r) = &self.random_split {
            let v: Vec<u32> = r
                .split(':')
                .map(|p| p.trim().parse())
                .collect::<Result<_, _>>()
                .with_context(|| format!("--random-split {r:?}: expected MIN:MAX:STEP"))?;
            let [min, max, step] = v[..] else { bail!("--random-split {r:?}: expected MIN:MAX:STEP") };
            t.split = Split::Random { min, max, step };
        }
        t.validate().map_err(|e| anyhow::anyhow!("template: {e}"))?;
        Ok(t)
    }
}

/// Where sample pixels come from.
#[derive(Args, Clone, Debug)]
pub struct SourceArgs {
    /// Sample file written by `montage sample`.
    #[arg(long, value_name = "FILE")]
    pub samples: PathBuf,
    /// Folder the sample image paths are relative to.
    #[arg(long, value_name = "DIR")]
    pub images: PathBuf,
    /// Crop cache written by `montage cache` (read instead of decoding images).
    #[arg(long, value_name = "FILE")]
    pub cache: Option<PathBuf>,
}

impl SourceArgs {
    /// Loads samples and opens the pixel source, and builds the montage maker.
    pub fn maker(&self, template: Template, mode: FitMode, seed: u64) -> Result<MontageMaker> {
        let set = Arc::new(SampleSet::read(&self.samples)?);
        let params = FitParams::default();
        let source: Arc<dyn PixelSource> = match &self.cache {
            Some(c) => {
                let cache = CropCache::open(c, &set, &self.images)?;
                cache.check_template(&template, params.scale_max)?;
                Arc::new(cache)
            }
            None => Arc::new(ImageSource::new(&self.images)),
        };
        let maker = MontageMaker::new(Assembler { template, mode, params, seed }, set, source)?;
        for n in maker.notes() {
            eprintln!("note: {n}");
        }
        Ok(maker)
    }
}

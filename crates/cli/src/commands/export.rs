//! `montage export` and `montage features`: weights for PyTorch tools, and feature maps for
//! parity checks.

use std::path::PathBuf;

use anyhow::Result;
use montage_data::assemble::normalize_into;
use montage_data::source::{decode_rgb, resize_rgb};
use montage_train::burn::prelude::Device;
use montage_train::export::{features, load_backbone, save_backbone, write_npy};
use montage_train::pretrain::load_model;
use montage_train::resnet::{Arch, ResNet};

/// Write a checkpoint's backbone as safetensors with torchvision's names.
///
/// `torchvision.models.resnetXX().load_state_dict(safetensors.torch.load_file(FILE),
/// strict=False)` then reports only fc.weight and fc.bias missing. BN running statistics
/// and num_batches_tracked are included.
#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// A pre-training output folder or its checkpoint/ folder.
    #[arg(long, value_name = "PATH")]
    pub checkpoint: PathBuf,
    #[arg(long, value_name = "FILE.safetensors")]
    pub out: PathBuf,
}

pub fn export(a: ExportArgs) -> Result<()> {
    let device = Device::flex();
    let (model, iters, cfg) = load_model(&a.checkpoint, &device)?;
    save_backbone(&model.backbone, iters as i64, &a.out)?;
    println!("wrote the {} backbone ({} iterations) to {}", cfg.backbone, iters, a.out.display());
    Ok(())
}

/// Write the stride-32 feature map of one image as .npy (1 x C x h x w, float32).
///
/// The image is resized to N x N (bilinear, antialiased like PIL), normalised with
/// ImageNet's mean and std, and run with inference-mode BN.
#[derive(clap::Args, Debug)]
pub struct FeaturesArgs {
    /// torchvision-named safetensors (from `montage export`, or any torchvision ResNet).
    #[arg(long, value_name = "FILE.safetensors")]
    pub weights: PathBuf,
    #[arg(long, value_name = "resnet18|resnet34|resnet50")]
    pub backbone: Arch,
    #[arg(long, value_name = "IMG")]
    pub image: PathBuf,
    #[arg(long, value_name = "FILE.npy")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 224, value_name = "N")]
    pub size: u32,
    /// Also write the normalised input (1 x 3 x N x N) as .npy, to feed another framework the
    /// very same tensor.
    #[arg(long, value_name = "FILE.npy")]
    pub save_input: Option<PathBuf>,
}

/// An image resized to `size x size` and normalised, as CHW f32.
pub fn load_normalised(path: &std::path::Path, size: u32) -> Result<Vec<f32>> {
    let rgb = resize_rgb(&decode_rgb(path)?, size, size, path)?;
    let mut out = vec![0f32; rgb.len()];
    normalize_into(&rgb, &mut out);
    Ok(out)
}

pub fn features_cmd(a: FeaturesArgs) -> Result<()> {
    anyhow::ensure!(a.size >= 32, "--size must be at least 32");
    let device = Device::flex();
    let mut net = ResNet::new(a.backbone, &device);
    load_backbone(&mut net, &a.weights)?;
    let x = load_normalised(&a.image, a.size)?;
    if let Some(p) = &a.save_input {
        write_npy(p, &[1, 3, a.size as usize, a.size as usize], &x)?;
    }
    let (shape, data) = features(&net, x, a.size as usize, &device);
    write_npy(&a.out, &shape, &data)?;
    println!("wrote {:?} features to {}", shape, a.out.display());
    Ok(())
}

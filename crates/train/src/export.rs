//! Weights that load into PyTorch tools unchanged: safetensors with torchvision's names.
//!
//! Export: the backbone's tensors, `downsample.conv`/`downsample.bn` renamed to torchvision's
//! `downsample.0`/`downsample.1`, plus each BN's `num_batches_tracked` (int64), so that
//! `torchvision.models.resnetXX().load_state_dict(sd, strict=False)` reports only `fc.weight`
//! and `fc.bias` missing. Import (`--init`): any torchvision ResNet state dict saved as
//! safetensors; `fc.*` and `num_batches_tracked` are ignored, every backbone tensor must be
//! there with the right shape.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::prelude::*;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use montage_data::io::write_atomic;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::resnet::ResNet;

fn to_torch(name: &str) -> String {
    name.replace("downsample.conv.", "downsample.0.").replace("downsample.bn.", "downsample.1.")
}

fn from_torch(name: &str) -> String {
    name.replace("downsample.0.", "downsample.conv.").replace("downsample.1.", "downsample.bn.")
}

/// The backbone as torchvision-named safetensors bytes; `batches` goes into every
/// `num_batches_tracked`.
pub fn backbone_bytes(backbone: &ResNet, batches: i64) -> Result<Vec<u8>> {
    let mut store = SafetensorsStore::from_bytes(None);
    backbone.save_into(&mut store).map_err(|e| anyhow::anyhow!("cannot serialise the backbone: {e:?}"))?;
    let raw = store.get_bytes().map_err(|e| anyhow::anyhow!("cannot serialise the backbone: {e:?}"))?;
    let st = SafeTensors::deserialize(&raw).context("burn wrote unreadable safetensors")?;
    let counter = batches.to_le_bytes();
    let mut out: Vec<(String, TensorView)> = Vec::new();
    for (name, view) in st.tensors() {
        if name.ends_with(".running_var") {
            let prefix = name.trim_end_matches(".running_var");
            out.push((
                to_torch(&format!("{prefix}.num_batches_tracked")),
                TensorView::new(Dtype::I64, vec![], &counter)?,
            ));
        }
        out.push((to_torch(&name), view));
    }
    let meta = HashMap::from([("format".to_string(), "pt".to_string())]);
    Ok(safetensors::serialize(out, Some(meta))?)
}

/// Writes the backbone to `path` atomically.
pub fn save_backbone(backbone: &ResNet, batches: i64, path: &Path) -> Result<()> {
    let bytes = backbone_bytes(backbone, batches)?;
    write_atomic(path, |f| f.write_all(&bytes))?;
    Ok(())
}

/// Loads torchvision-named safetensors into `backbone`.
pub fn load_backbone(backbone: &mut ResNet, path: &Path) -> Result<()> {
    let raw = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let st = SafeTensors::deserialize(&raw).with_context(|| format!("{}: not a safetensors file", path.display()))?;
    let kept: Vec<(String, TensorView)> = st
        .tensors()
        .into_iter()
        .filter(|(n, _)| !n.starts_with("fc.") && !n.ends_with("num_batches_tracked"))
        .map(|(n, v)| (from_torch(&n), v))
        .collect();
    if kept.is_empty() {
        bail!("{}: holds no ResNet tensors", path.display());
    }
    let bytes = safetensors::serialize(kept, None)?;
    let mut store = SafetensorsStore::from_bytes(Some(bytes)).validate(false).allow_partial(true);
    let result = backbone.load_from(&mut store).map_err(|e| anyhow::anyhow!("{}: {e:?}", path.display()))?;
    if !result.missing.is_empty() || !result.errors.is_empty() || !result.unused.is_empty() {
        let missing: Vec<&str> = result.missing.iter().take(3).map(|(p, _)| p.as_str()).collect();
        let unused: Vec<&str> = result.unused.iter().take(3).map(String::as_str).collect();
        let errors: Vec<String> = result.errors.iter().take(2).map(|e| e.to_string()).collect();
        bail!(
            "{}: does not fit this backbone ({} tensors missing, e.g. {missing:?}; {} unexpected, e.g. {unused:?}; {} errors, e.g. {errors:?}); is it another ResNet depth?",
            path.display(),
            result.missing.len(),
            result.unused.len(),
            result.errors.len()
        );
    }
    Ok(())
}

/// Writes a float32 array as .npy (format 1.0, C order).
pub fn write_npy(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_str = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_str}, }}");
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut bytes = Vec::with_capacity(10 + header.len() + data.len() * 4);
    bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    write_atomic(path, |f| f.write_all(&bytes))?;
    Ok(())
}

/// The stride-32 map of one normalised image (`3 x size x size`), inference-mode BN.
pub fn features(backbone: &ResNet, image_chw: Vec<f32>, size: usize, device: &Device) -> (Vec<usize>, Vec<f32>) {
    let x = Tensor::<4>::from_data(burn::tensor::TensorData::new(image_chw, [1, 3, size, size]), device);
    let f = backbone.forward_c5(x, crate::norm::BnMode::Eval);
    let dims = f.dims().to_vec();
    (dims, f.into_data().try_to_vec().expect("f32 features"))
}

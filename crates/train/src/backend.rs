//! Choosing the engine's device: `flex` (pure Rust CPU, the default), `wgpu` (GPUs through
//! Vulkan; cargo feature `wgpu`), `tch` / `tch-cuda` (libtorch; cargo feature `tch`).

use anyhow::{Result, bail};
use burn::prelude::Device;

/// The backends this build has.
pub fn available() -> Vec<&'static str> {
    let mut v = vec!["flex"];
    if cfg!(feature = "wgpu") {
        v.push("wgpu");
    }
    if cfg!(feature = "tch") {
        v.extend(["tch", "tch-cuda"]);
    }
    v
}

/// The device named `name`.
#[allow(deprecated)] // burn marks its libtorch devices deprecated; they are an opt-in here
pub fn device(name: &str) -> Result<Device> {
    Ok(match name {
        "flex" => Device::flex(),
        #[cfg(feature = "wgpu")]
        "wgpu" => Device::wgpu(Default::default()),
        #[cfg(feature = "tch")]
        "tch" => Device::libtorch(),
        #[cfg(feature = "tch")]
        "tch-cuda" => Device::libtorch_cuda(0),
        other => bail!(
            "backend '{other}' is not in this build (it has: {}); rebuild with `--features wgpu` or `--features tch`",
            available().join(", ")
        ),
    })
}

//! Checkpoints of a training run: a folder `checkpoint/` with the model (burnpack, keeping
//! parameter ids so the optimiser's state matches), the optimiser, extra files and
//! `state.json`, written to a temporary folder and swapped into place, so that a run killed at
//! any moment leaves either the previous or the new checkpoint (`checkpoint.old` while
//! swapping).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::store::{BurnpackStore, ModuleSnapshot};
use montage_data::io::write_atomic;

pub fn dir(out: &Path) -> PathBuf {
    out.join("checkpoint")
}

/// Saves a checkpoint into `out/checkpoint`. Callers sync BN statistics first.
pub fn save<M: Module>(
    out: &Path,
    model: &M,
    optim: &ModuleOptimizer,
    state: &impl serde::Serialize,
    extra: &[(&str, &[u8])],
) -> Result<()> {
    let tmp = out.join(format!(".checkpoint.tmp{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("{}: cannot create", tmp.display()))?;
    let mut store = BurnpackStore::from_file(tmp.join("model.bpk")).overwrite(true);
    model.save_into(&mut store).map_err(|e| anyhow::anyhow!("{}: cannot save the model: {e:?}", tmp.display()))?;
    optim
        .save(tmp.join("optim.bpk"))
        .map_err(|e| anyhow::anyhow!("{}: cannot save the optimiser: {e:?}", tmp.display()))?;
    for (name, bytes) in extra {
        write_atomic(&tmp.join(name), |f| f.write_all(bytes))?;
    }
    write_atomic(&tmp.join("state.json"), |f| {
        f.write_all(&serde_json::to_vec_pretty(state).expect("state serialises"))
    })?;
    let dir = dir(out);
    let old = out.join("checkpoint.old");
    let _ = std::fs::remove_dir_all(&old);
    if dir.exists() {
        std::fs::rename(&dir, &old).with_context(|| format!("{}: cannot move aside", dir.display()))?;
    }
    std::fs::rename(&tmp, &dir).with_context(|| format!("{}: cannot move into place", dir.display()))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// The newest complete checkpoint of a run folder.
pub fn find(out: &Path) -> Option<PathBuf> {
    [dir(out), out.join("checkpoint.old")].into_iter().find(|d| d.join("state.json").is_file())
}

/// A run folder or a checkpoint folder -> the checkpoint folder.
pub fn resolve(path: &Path) -> Result<PathBuf> {
    if path.join("state.json").is_file() {
        return Ok(path.to_path_buf());
    }
    find(path).ok_or_else(|| {
        anyhow::anyhow!("{}: no checkpoint here (expected state.json, or a checkpoint/ folder)", path.display())
    })
}

pub fn read_state<T: serde::de::DeserializeOwned>(dir: &Path) -> Result<T> {
    let bytes =
        std::fs::read(dir.join("state.json")).with_context(|| format!("{}: cannot read state.json", dir.display()))?;
    serde_json::from_slice(&bytes).with_context(|| format!("{}: state.json is corrupt", dir.display()))
}

pub fn load_model<M: Module>(dir: &Path, model: &mut M) -> Result<()> {
    let mut store = BurnpackStore::from_file(dir.join("model.bpk"));
    model.load_from(&mut store).map_err(|e| anyhow::anyhow!("{}: cannot load model.bpk: {e:?}", dir.display()))?;
    Ok(())
}

pub fn load_optim(dir: &Path, optim: ModuleOptimizer) -> Result<ModuleOptimizer> {
    optim.load(dir.join("optim.bpk")).map_err(|e| anyhow::anyhow!("{}: cannot load optim.bpk: {e:?}", dir.display()))
}

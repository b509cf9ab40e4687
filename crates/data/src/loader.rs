//! The loader: batches of montages as normalised f32 CHW with their layouts, built on a
//! pool of threads and prefetched on a background thread. Montage `i` depends only on
//! `(seed, i)`, so the batches are identical for any number of threads, and a run resumed
//! at montage `start` sees exactly what an uninterrupted run saw from there.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use fast_image_resize as fr;
use rayon::prelude::*;

use crate::assemble::{Assembler, Pools, normalize_into};
use crate::error::{DataError, Result};
use crate::samples_file::SampleSet;
use crate::source::PixelSource;
use crate::template::Layout;

/// A batch of `layouts.len()` montages.
#[derive(Clone, Debug)]
pub struct Batch {
    /// Index of the first montage.
    pub first: u64,
    pub canvas: u32,
    /// `N x 3 x canvas x canvas`, ImageNet-normalised.
    pub data: Vec<f32>,
    pub layouts: Vec<Layout>,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.layouts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.layouts.is_empty()
    }
}

#[derive(Clone, Debug)]
pub struct LoaderConfig {
    pub batch: usize,
    /// Worker threads that assemble montages.
    pub threads: usize,
    /// Batches built ahead of the consumer.
    pub prefetch: usize,
    /// Index of the first montage (for resuming).
    pub start: u64,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        LoaderConfig { batch: 16, threads: 2, prefetch: 2, start: 0 }
    }
}

thread_local! {
    /// One resizer (and its scratch buffers) per worker thread.
    static RESIZER: std::cell::RefCell<fr::Resizer> = std::cell::RefCell::new(fr::Resizer::new());
}

/// Everything needed to build montages: shared by the loader's threads.
#[derive(Clone)]
pub struct MontageMaker {
    pub assembler: Assembler,
    pub set: Arc<SampleSet>,
    pub pools: Arc<Pools>,
    pub source: Arc<dyn PixelSource>,
}

impl MontageMaker {
    pub fn new(assembler: Assembler, set: Arc<SampleSet>, source: Arc<dyn PixelSource>) -> Result<MontageMaker> {
        assembler.template.validate().map_err(|e| DataError::new("template", e))?;
        let pools = Pools::new(&set).map_err(|e| DataError::new("samples", e))?;
        Ok(MontageMaker { assembler, set, pools: Arc::new(pools), source })
    }

    /// Notes of the empty-group policy (what borrowed from what), for the run to print.
    pub fn notes(&self) -> &[String] {
        &self.pools.notes
    }

    /// Builds montages `first .. first + n` on the current rayon pool.
    pub fn batch(&self, first: u64, n: usize) -> Result<Batch> {
        let c = self.assembler.template.canvas as usize;
        let plane = 3 * c * c;
        let mut data = vec![0f32; n * plane];
        let layouts: Vec<Result<Layout>> = data
            .par_chunks_mut(plane)
            .enumerate()
            .map_init(fr::Resizer::new, |resizer, (k, out)| {
                let m =
                    self.assembler.assemble(&self.set, &self.pools, self.source.as_ref(), first + k as u64, resizer)?;
                normalize_into(&m.rgb, out);
                Ok(m.layout)
            })
            .collect();
        Ok(Batch { first, canvas: c as u32, data, layouts: layouts.into_iter().collect::<Result<_>>()? })
    }
}

/// Streams batches forever (montage indices `start, start + 1, ...`).
pub struct Loader {
    rx: Option<Receiver<Result<Batch>>>,
    worker: Option<JoinHandle<()>>,
}

impl Loader {
    pub fn new(maker: MontageMaker, cfg: &LoaderConfig) -> Result<Loader> {
        if cfg.batch == 0 {
            return Err(DataError::new("loader", "batch size must be at least 1"));
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(cfg.threads.max(1))
            .thread_name(|i| format!("montage-loader-{i}"))
            .build()
            .map_err(|e| DataError::new("loader", e.to_string()))?;
        let (tx, rx) = sync_channel(cfg.prefetch.max(1));
        let (batch, start) = (cfg.batch, cfg.start);
        let worker = std::thread::Builder::new()
            .name("montage-prefetch".into())
            .spawn(move || {
                let mut first = start;
                loop {
                    let b = pool.install(|| maker.batch(first, batch));
                    let failed = b.is_err();
                    if tx.send(b).is_err() || failed {
                        return;
                    }
                    first += batch as u64;
                }
            })
            .map_err(|e| DataError::new("loader", e.to_string()))?;
        Ok(Loader { rx: Some(rx), worker: Some(worker) })
    }

    /// The next batch (an error ends the stream).
    pub fn next_batch(&mut self) -> Result<Batch> {
        let rx = self.rx.as_ref().ok_or_else(|| DataError::new("loader", "the loader has stopped after an error"))?;
        match rx.recv() {
            Ok(Ok(b)) => Ok(b),
            Ok(Err(e)) => {
                self.rx = None;
                Err(e)
            }
            Err(_) => Err(DataError::new("loader", "the loader thread stopped")),
        }
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        // Closing the channel makes the worker stop at its next send.
        self.rx = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

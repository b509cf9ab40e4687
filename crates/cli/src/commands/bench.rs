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
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn data(a: DataArgs) -> Result<()> {
    anyhow::ensure!(
        a.count > 0 && a.repeat > 0 && a.batch > 0,
        "--count, --repeat and --batch must be at least 1"
    );
    let maker = a
        .source
        .maker(a.template.template()?, a.template.mode, a.seed)?;
    let kind = maker.source.kind();
    let cfg = LoaderConfig {
        batch: a.batch,
        threads: a.threads,
        prefetch: 2,
        start: 0,
    };
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

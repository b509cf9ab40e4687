//! `montage`: cheap pre-training of object-detection backbones (Montage pre-training,
//! "Cheaper Pre-training Lunch", ECCV 2020).

mod args;
mod commands;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Montage pre-training for object-detection backbones.
///
/// Pre-train a detection backbone on the detection data set itself: crop objects and
/// background out of the images, pack four crops into one montage by aspect-ratio group,
/// and train with an ERF-adaptive dense classification loss.
///
/// A typical run:
///   montage sample  --annotations train.json --images train/ --out samples.jsonl
///   montage cache   --samples samples.jsonl --images train/ --out crops.bin
///   montage preview --samples samples.jsonl --images train/ --out previews/
#[derive(Parser)]
#[command(name = "montage", version, about, long_about, propagate_version = true, verbatim_doc_comment)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Sample(commands::sample::Args),
    Cache(commands::cache::Args),
    Preview(commands::preview::Args),
    Pretrain(commands::pretrain::Args),
    Erf(commands::erf::Args),
    Export(commands::export::ExportArgs),
    Evaluate(commands::evaluate::Args),
    Finetune(commands::finetune::Args),
    Detect(commands::finetune::DetectArgs),
    Features(commands::export::FeaturesArgs),
    Check(commands::check::Args),
    Demo(commands::demo::Args),
    /// Benchmarks (one JSON line of results).
    #[command(subcommand)]
    Bench(commands::bench::Bench),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Sample(a) => commands::sample::run(a),
        Command::Cache(a) => commands::cache::run(a),
        Command::Preview(a) => commands::preview::run(a),
        Command::Pretrain(a) => commands::pretrain::run(a),
        Command::Erf(a) => commands::erf::run(a),
        Command::Export(a) => commands::export::export(a),
        Command::Evaluate(a) => commands::evaluate::run(a),
        Command::Finetune(a) => commands::finetune::run(a),
        Command::Detect(a) => commands::finetune::detect(a),
        Command::Features(a) => commands::export::features_cmd(a),
        Command::Check(a) => commands::check::run(a),
        Command::Demo(a) => commands::demo::run(a),
        Command::Bench(b) => commands::bench::run(b),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let msg = e.chain().map(|c| c.to_string()).collect::<Vec<_>>().join(": ");
            eprintln!("error: {}", msg.split_whitespace().collect::<Vec<_>>().join(" "));
            ExitCode::FAILURE
        }
    }
}

//! The bounded load test of the HTTP server: N concurrent clients doing mixed remember
//! and recall on loopback for a fixed time; reports throughput and latency percentiles,
//! and checks afterwards that every acknowledged write is stored.
//!
//! `cargo xtask bench serve [--clients 8] [--seconds 60] [--embedder bert|hashing]`, or
//! `cargo run --release -p brain-benches --bin serve-load -- --help`. Exits 1 if any
//! acknowledged write was lost.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use brain::config::EmbedderKind;
use brain_benches::load::{LoadOptions, corpus, run};
use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Embedder {
    Bert,
    Hashing,
}

#[derive(Debug, Parser)]
#[command(about = "Load test of `brain serve --http` on loopback")]
struct Args {
    /// Concurrent clients (two per user).
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// How long they run, in seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// The share of operations that are writes.
    #[arg(long, default_value_t = 0.5)]
    write_share: f64,
    /// The server's embedder (bert needs the model, `brain model fetch`).
    #[arg(long, value_enum, default_value_t = Embedder::Bert)]
    embedder: Embedder,
    /// The server runtime's worker threads.
    #[arg(long, default_value_t = 2)]
    server_threads: usize,
    /// Real sentences to remember and ask about.
    #[arg(long, default_value = "../shared/data/rustdoc-sentences.txt")]
    sentences: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let a = Args::parse();
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("serve-load: {e}");
            return ExitCode::FAILURE;
        }
    };
    let options = LoadOptions {
        clients: a.clients.max(1),
        duration: Duration::from_secs(a.seconds),
        write_share: a.write_share.clamp(0.0, 1.0),
        embedder: match a.embedder {
            Embedder::Bert => EmbedderKind::Bert,
            Embedder::Hashing => EmbedderKind::Hashing,
        },
        data_dir: dir.path().join("brain"),
        sentences: corpus(&a.sentences, 20_000),
        server_threads: a.server_threads,
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("serve-load: {e}");
            return ExitCode::FAILURE;
        }
    };
    let report = match rt.block_on(run(&options)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("serve-load: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        println!(
            "{} clients, {:.1} s, embedder {}: {:.0} ops/s ({} remember, {} recall), {} errors",
            report.clients,
            report.seconds,
            report.embedder,
            report.throughput_ops,
            report.remember.count,
            report.recall.count,
            report.errors
        );
        println!(
            "{:<10} {:>9} {:>9} {:>9} {:>9}",
            "op", "p50 ms", "p95 ms", "p99 ms", "max ms"
        );
        for (name, l) in [("remember", &report.remember), ("recall", &report.recall)] {
            println!(
                "{name:<10} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
                l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms
            );
        }
        println!(
            "acknowledged writes: {}; present afterwards: {}; lost: {}; memories stored: {}",
            report.acknowledged_writes,
            report.verified_writes,
            report.lost_writes,
            report.stored_memories
        );
    }
    if report.lost_writes > 0 || report.errors > 0 {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

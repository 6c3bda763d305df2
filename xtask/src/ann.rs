//! `cargo xtask bench ann`: our HNSW index beside hnswlib, faiss and usearch on the same
//! vectors, in one run.
//!
//! Two data sets: a synthetic clustered set made by `shared/bench/peers_ann.py` (default
//! 100k x 384), and real sentence embeddings of `shared/data/rustdoc-sentences.txt` made by
//! our own BERT embedder (the last 1,000 lines are the queries). For each, the peers'
//! script writes `base.npy`, `queries.npy` and the exact top-10 `gt.npy`, and prints its
//! figures; store-vector's `ann` example (the real `HnswIndex` build and search path, with
//! the default parameters) then runs on the very same files. The table reports build
//! time and single-thread QPS at recall@10 >= 0.95 and >= 0.99 (the best QPS among the
//! ef settings that reach it: ours tries a finer ef grid than peers_ann.py's
//! 32/64/128/256, and the chosen ef is printed beside each figure), with ratios to
//! hnswlib.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::{cargo, describe, workspace_root};

/// Options of `cargo xtask bench ann`.
#[derive(Debug, Args)]
pub(crate) struct AnnArgs {
    /// Vectors in the synthetic set.
    #[arg(long, default_value_t = 100_000)]
    n: usize,
    /// Their dimension.
    #[arg(long, default_value_t = 384)]
    dim: usize,
    /// Queries in the synthetic set.
    #[arg(long, default_value_t = 1000)]
    queries: usize,
    /// Skip the synthetic set.
    #[arg(long)]
    no_synthetic: bool,
    /// Skip the real sentence-embedding set.
    #[arg(long)]
    no_real: bool,
    /// Sentences of the real set to use (all by default; the last 1,000 are queries).
    #[arg(long)]
    sentences: Option<usize>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

const PEERS: [&str; 3] = ["hnswlib", "faiss", "usearch"];
const TARGETS: [f64; 2] = [0.95, 0.99];

fn shared() -> PathBuf {
    workspace_root().join("..").join("shared")
}

fn data_dir(name: &str) -> PathBuf {
    workspace_root()
        .join("target")
        .join("bench-data")
        .join(name)
}

fn check_peers() -> Result<()> {
    let ok = Command::new("python3")
        .args(["-c", "import numpy, hnswlib, faiss, usearch"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        bail!(
            "the peer indexes are missing: run `python3 -m pip install numpy hnswlib faiss-cpu usearch`"
        );
    }
    Ok(())
}

/// Runs a command and parses the JSON object it prints last on stdout.
fn run_json(mut cmd: Command) -> Result<Value> {
    eprintln!("xtask: [ann] {}", describe(&cmd));
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {}", describe(&cmd)))?;
    if !out.status.success() {
        bail!("{} failed ({})", describe(&cmd), out.status);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let start = text.find('{').context("no JSON in the output")?;
    serde_json::from_str(&text[start..])
        .with_context(|| format!("parsing the output of {}", describe(&cmd)))
}

fn ours(dir: &Path) -> Result<Value> {
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--release",
        "--quiet",
        "-p",
        "store-vector",
        "--example",
        "ann",
        "--",
    ])
    .arg("--data")
    .arg(dir)
    .arg("--json");
    run_json(cmd)
}

fn peers(args: &[&std::ffi::OsStr]) -> Result<Value> {
    let mut cmd = Command::new("python3");
    cmd.arg(shared().join("bench").join("peers_ann.py"))
        .args(args);
    run_json(cmd)
}

/// The best QPS among runs reaching `target` recall, with its ef.
fn best(runs: &[(u64, f64, f64)], target: f64) -> Option<(u64, f64)> {
    runs.iter()
        .filter(|(_, _, recall)| *recall >= target)
        .map(|(ef, qps, _)| (*ef, *qps))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// `(ef, qps, recall)` runs of one system.
fn runs_of(peers: &Value, ours: &Value, system: &str) -> Vec<(u64, f64, f64)> {
    if system == "brain" {
        return ours["runs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| Some((r["ef"].as_u64()?, r["qps"].as_f64()?, r["recall"].as_f64()?)))
            .collect();
    }
    peers
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            let ef = k.strip_prefix(&format!("{system}_ef"))?.parse().ok()?;
            Some((ef, v["qps"].as_f64()?, v["recall"].as_f64()?))
        })
        .collect()
}

fn compare(name: &str, peers: &Value, ours: &Value) -> Value {
    let build = |s: &str| {
        if s == "brain" {
            ours["build_s"].as_f64()
        } else {
            peers[format!("{s}_build_s")].as_f64()
        }
    };
    let base_build = build("hnswlib");
    let base_runs = runs_of(peers, ours, "hnswlib");
    let systems: Vec<Value> = std::iter::once("brain")
        .chain(PEERS)
        .map(|s| {
            let runs = runs_of(peers, ours, s);
            let at: Vec<Value> = TARGETS
                .iter()
                .map(|t| {
                    let mine = best(&runs, *t);
                    let base = best(&base_runs, *t);
                    json!({
                        "recall": t,
                        "ef": mine.map(|m| m.0),
                        "qps": mine.map(|m| m.1),
                        "ratio_to_hnswlib": mine.zip(base).map(|(m, b)| m.1 / b.1),
                    })
                })
                .collect();
            json!({
                "system": s,
                "build_s": build(s),
                "build_ratio_to_hnswlib": build(s).zip(base_build).map(|(a, b)| a / b),
                "at": at,
            })
        })
        .collect();
    json!({
        "set": name,
        "n": peers["N"], "dim": peers["D"], "queries": peers["Q"],
        "build_threads_brain": ours["build_threads"],
        "brain_m": ours["m"],
        "brain_ef_construction": ours["ef_construction"],
        "systems": systems,
    })
}

fn print(report: &Value) {
    let f = |v: &Value, digits: usize| {
        v.as_f64()
            .map_or("-".to_owned(), |x| format!("{x:.digits$}"))
    };
    println!(
        "\n{} (n={}, dim={}, queries={}; brain builds with {} threads, peers with 1; queries single-thread)",
        report["set"].as_str().unwrap_or("?"),
        report["n"],
        report["dim"],
        report["queries"],
        report["build_threads_brain"]
    );
    println!(
        "brain: m {}, ef_construction {}; peers (peers_ann.py): M 16, efConstruction 200",
        report["brain_m"], report["brain_ef_construction"]
    );
    println!(
        "{:<8} {:>9} {:>7}   {:>22} {:>7}   {:>22} {:>7}",
        "system",
        "build s",
        "ratio",
        "QPS @ recall>=0.95 (ef)",
        "ratio",
        "QPS @ recall>=0.99 (ef)",
        "ratio"
    );
    for s in report["systems"].as_array().into_iter().flatten() {
        let at = |i: usize| &s["at"][i];
        let cell = |i: usize| match (at(i)["qps"].as_f64(), at(i)["ef"].as_u64()) {
            (Some(q), Some(ef)) => format!("{q:.0} ({ef})"),
            _ => "not reached".to_owned(),
        };
        println!(
            "{:<8} {:>9} {:>7}   {:>22} {:>7}   {:>22} {:>7}",
            s["system"].as_str().unwrap_or("?"),
            f(&s["build_s"], 1),
            f(&s["build_ratio_to_hnswlib"], 2),
            cell(0),
            f(&at(0)["ratio_to_hnswlib"], 2),
            cell(1),
            f(&at(1)["ratio_to_hnswlib"], 2),
        );
    }
}

/// Embeds the rustdoc sentences with our BERT into `dir` (cached).
fn real_set(dir: &Path, sentences: Option<usize>) -> Result<()> {
    if dir.join("base.npy").exists() && dir.join("queries.npy").exists() {
        eprintln!("xtask: [ann] using cached embeddings in {}", dir.display());
        return Ok(());
    }
    let mut cmd = cargo();
    cmd.args([
        "run",
        "--release",
        "--quiet",
        "-p",
        "brain-benches",
        "--bin",
        "embed-corpus",
        "--",
    ])
    .arg("--input")
    .arg(shared().join("data").join("rustdoc-sentences.txt"))
    .arg("--out")
    .arg(dir)
    .arg("--queries")
    .arg("1000");
    if let Some(n) = sentences {
        cmd.arg("--limit").arg(n.to_string());
    }
    eprintln!("xtask: [ann] {}", describe(&cmd));
    let status = cmd.status().context("running embed-corpus")?;
    if !status.success() {
        bail!("embedding the corpus failed ({status})");
    }
    Ok(())
}

pub(crate) fn bench_ann(args: &AnnArgs) -> Result<()> {
    crate::check_python()?;
    check_peers()?;
    let mut reports = Vec::new();
    if !args.no_synthetic {
        let dir = data_dir(&format!("ann-synthetic-{}x{}", args.n, args.dim));
        let p = peers(&[
            args.n.to_string().as_ref(),
            args.dim.to_string().as_ref(),
            args.queries.to_string().as_ref(),
            dir.as_os_str(),
        ])?;
        let o = ours(&dir)?;
        reports.push(compare("synthetic clustered", &p, &o));
    }
    if !args.no_real {
        let dir = data_dir(match args.sentences {
            Some(_) => "ann-rustdoc-partial",
            None => "ann-rustdoc",
        });
        real_set(&dir, args.sentences)?;
        let out = dir.join("peers");
        let p = peers(&[
            "--from".as_ref(),
            dir.join("base.npy").as_os_str(),
            dir.join("queries.npy").as_os_str(),
            out.as_os_str(),
        ])?;
        let o = ours(&out)?;
        reports.push(compare("rustdoc sentences (all-MiniLM-L6-v2)", &p, &o));
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        for r in &reports {
            print(r);
        }
    }
    Ok(())
}

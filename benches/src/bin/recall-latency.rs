//! Recall latency of the brain at 10k and 100k memories, with and without the embedding
//! step.
//!
//! `cargo run --release -p brain-benches --bin recall-latency -- [--sizes 10000,100000]
//! [--queries 300] [--vectors target/bench-data/ann-rustdoc] [--json]`
//!
//! Memories are the sentences of `shared/data/rustdoc-sentences.txt` (repeated with a
//! numbered suffix past its 67k lines), stored through `Brain::remember_many` into an
//! SQLite file and an HNSW index. Their embeddings come from `embed-corpus`'s `.npy`
//! (real all-MiniLM-L6-v2 vectors of the same sentences) through a lookup embedder, so
//! that filling 100k memories does not take half an hour of BERT; queries are the
//! corpus's last lines. "without embedding" times `recall_with_vector` with the query's
//! precomputed vector; "with embedding" times `recall`, which embeds the query with the
//! real BERT model (when it is on this machine).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use async_trait::async_trait;
use brain::{Brain, BrainConfig, RecallQuery};
use clap::Parser;
use memory_core::{Embedder, EmbedderInfo, NewMemory, Scope};
use serde_json::json;

#[derive(Debug, Parser)]
#[command(about = "Recall latency at 10k and 100k memories")]
struct Args {
    /// Brain sizes to measure.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000")]
    sizes: Vec<usize>,
    /// Queries timed per size and mode.
    #[arg(long, default_value_t = 300)]
    queries: usize,
    /// The sentences.
    #[arg(long, default_value = "../shared/data/rustdoc-sentences.txt")]
    sentences: PathBuf,
    /// `embed-corpus` output for the sentences (base.npy and queries.npy).
    #[arg(long, default_value = "target/bench-data/ann-rustdoc")]
    vectors: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn read_npy_f32(path: &Path) -> Result<(usize, usize, Vec<f32>)> {
    let bytes = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" || bytes[6] != 1 {
        bail!("{} is not a v1 .npy file", path.display());
    }
    let hlen = usize::from(u16::from_le_bytes([bytes[8], bytes[9]]));
    let header = std::str::from_utf8(&bytes[10..10 + hlen])?;
    if !header.contains("'<f4'") {
        bail!("{}: not float32", path.display());
    }
    let shape = &header[header.find('(').unwrap() + 1..header.find(')').unwrap()];
    let dims: Vec<usize> = shape
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let [rows, cols] = dims[..] else {
        bail!("{}: not 2-D", path.display())
    };
    let data = bytes[10 + hlen..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect::<Vec<_>>();
    if data.len() != rows * cols {
        bail!("{}: truncated", path.display());
    }
    Ok((rows, cols, data))
}

/// Looks up precomputed vectors by text: the real model's vectors, without its cost.
struct TableEmbedder {
    info: EmbedderInfo,
    table: HashMap<String, Arc<[f32]>>,
}

#[async_trait]
impl Embedder for TableEmbedder {
    fn info(&self) -> &EmbedderInfo {
        &self.info
    }
    async fn embed(&self, texts: &[String]) -> memory_core::Result<Vec<Vec<f32>>> {
        texts
            .iter()
            .map(|t| {
                self.table
                    .get(t)
                    .map(|v| v.to_vec())
                    .ok_or_else(|| memory_core::Error::NotFound {
                        what: format!("a precomputed vector for {t:?}"),
                    })
            })
            .collect()
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let lines: Vec<String> = std::fs::read_to_string(&args.sentences)?
        .lines()
        .map(str::to_owned)
        .collect();
    let (brows, dim, base) = read_npy_f32(&args.vectors.join("base.npy"))?;
    let (qrows, _, queries) = read_npy_f32(&args.vectors.join("queries.npy"))?;
    if brows + qrows != lines.len() {
        bail!(
            "{} sentences but {} vectors: run embed-corpus on the same file",
            lines.len(),
            brows + qrows
        );
    }
    let max = args.sizes.iter().copied().max().unwrap_or(0);
    // Texts past the corpus repeat it with a suffix; the vector is the sentence's own.
    let mut texts = Vec::with_capacity(max);
    let mut table: HashMap<String, Arc<[f32]>> = HashMap::with_capacity(max + qrows);
    for i in 0..max {
        let row = i % brows;
        let text = if i < brows {
            lines[row].clone()
        } else {
            format!("{} ({})", lines[row], i / brows)
        };
        table
            .entry(text.clone())
            .or_insert_with(|| base[row * dim..(row + 1) * dim].into());
        texts.push(text);
    }
    let query_texts: Vec<String> = lines[brows..].iter().take(args.queries).cloned().collect();
    let query_vecs: Vec<Vec<f32>> = (0..query_texts.len())
        .map(|i| queries[i * dim..(i + 1) * dim].to_vec())
        .collect();
    let bert: Option<Arc<dyn Embedder>> = match embed::BertEmbedder::load_default() {
        Ok(b) => Some(Arc::new(b)),
        Err(e) => {
            eprintln!("no BERT model ({e}): timing recall without the embedding step only");
            None
        }
    };
    let info = EmbedderInfo {
        model_id: embed::DEFAULT_MODEL_ID.to_owned(),
        dimension: dim,
    };
    let mut results = Vec::new();
    for &size in &args.sizes {
        let dir = tempfile::tempdir()?;
        let config = BrainConfig {
            data_dir: dir.path().to_path_buf(),
            ..Default::default()
        };
        let store = brain_engines::sqlite_store(&config.store_path(), config.durability).await?;
        store.pin_embedder(&info).await?;
        let index = brain_engines::hnsw_index(
            &config.vectors_dir(),
            store_vector::HnswParams::new(dim),
            store.as_ref(),
        )
        .await?;
        let table_embedder = Arc::new(TableEmbedder {
            info: info.clone(),
            table: table.clone(),
        });
        let brain = Brain::builder()
            .config(config.clone())
            .store(store.clone())
            .index(index.clone())
            .embedder(table_embedder)
            .build()
            .await?;
        let t = Instant::now();
        for chunk in texts[..size].chunks(2_000) {
            brain
                .remember_many(
                    chunk
                        .iter()
                        .map(|t| NewMemory::new(t.clone()).with_scope(Scope::user("bench")))
                        .collect(),
                )
                .await?;
        }
        let fill_s = t.elapsed().as_secs_f64();
        eprintln!(
            "{size} memories stored and indexed in {fill_s:.1} s ({:.0}/s)",
            size as f64 / fill_s
        );
        let scope = Scope::user("bench");
        let mut row = json!({"memories": size, "fill_s": fill_s});
        // Without the embedding step.
        let mut lat = Vec::new();
        for (text, v) in query_texts.iter().zip(&query_vecs) {
            let q = RecallQuery::new(text.clone(), scope.clone()).with_k(10);
            let t = Instant::now();
            let hits = brain.recall_with_vector(&q, Some(v.clone())).await?;
            lat.push(t.elapsed().as_secs_f64() * 1e3);
            assert!(!hits.is_empty());
        }
        lat.sort_by(f64::total_cmp);
        row["without_embedding_ms"] =
            json!({"p50": percentile(&lat, 0.5), "p95": percentile(&lat, 0.95)});
        // Each list alone, to see where the time goes.
        for mode in [brain::RecallMode::Keyword, brain::RecallMode::Vector] {
            let mut lat = Vec::new();
            for (text, v) in query_texts.iter().zip(&query_vecs) {
                let q = RecallQuery::new(text.clone(), scope.clone())
                    .with_k(10)
                    .with_mode(mode);
                let t = Instant::now();
                brain.recall_with_vector(&q, Some(v.clone())).await?;
                lat.push(t.elapsed().as_secs_f64() * 1e3);
            }
            lat.sort_by(f64::total_cmp);
            row[format!("{mode:?}_only_ms").to_lowercase()] =
                json!({"p50": percentile(&lat, 0.5), "p95": percentile(&lat, 0.95)});
        }
        // With the embedding step: the same brain, recalled through the real model.
        if let Some(bert) = &bert {
            let brain = Brain::builder()
                .config(config.clone())
                .store(store.clone())
                .index(index.clone())
                .embedder(bert.clone())
                .build()
                .await?;
            let mut lat = Vec::new();
            for text in &query_texts {
                let q = RecallQuery::new(text.clone(), scope.clone()).with_k(10);
                let t = Instant::now();
                let hits = brain.recall(&q).await?;
                lat.push(t.elapsed().as_secs_f64() * 1e3);
                assert!(!hits.is_empty());
            }
            lat.sort_by(f64::total_cmp);
            row["with_embedding_ms"] =
                json!({"p50": percentile(&lat, 0.5), "p95": percentile(&lat, 0.95)});
        }
        if !args.json {
            println!("{row}");
        }
        results.push(row);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
    }
    Ok(())
}

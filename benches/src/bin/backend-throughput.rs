//! Ingest and recall throughput of the brain on PostgreSQL beside SQLite, in one run on
//! one machine, with the ratio.
//!
//! `cargo xtask bench backends [-- --memories 5000 --ops 1000 --concurrency 8]`, or
//! `cargo run --release -p brain-benches --bin backend-throughput -- --help`. Needs
//! `BRAIN_TEST_POSTGRES_URL` (`cargo xtask services -- cargo xtask bench backends` starts
//! a throwaway server, without fsync, and sets it).
//!
//! Both brains use the hashing embedder (so the store, not BERT, is what is measured),
//! an HNSW index in a temporary directory, and the same sentences
//! (`../shared/data/rustdoc-sentences.txt`). Measured: batched ingest
//! (`remember_many`, 100 per call), single `remember` calls from N concurrent tasks, and
//! `recall` from N concurrent tasks.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use brain::{Brain, BrainConfig, RecallQuery};
use brain_benches::load::corpus;
use clap::Parser;
use memory_core::{NewMemory, Scope};
use serde_json::json;

#[derive(Debug, Parser)]
#[command(about = "Brain throughput on PostgreSQL beside SQLite")]
struct Args {
    /// Memories ingested in batches.
    #[arg(long, default_value_t = 5000)]
    memories: usize,
    /// Single remember calls, and recall calls.
    #[arg(long, default_value_t = 1000)]
    ops: usize,
    /// Concurrent tasks for the single calls.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Real sentences.
    #[arg(long, default_value = "../shared/data/rustdoc-sentences.txt")]
    sentences: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
struct Rates {
    ingest_per_s: f64,
    remember_per_s: f64,
    recall_per_s: f64,
}

async fn measure(brain: Arc<Brain>, a: &Args, sentences: &Arc<Vec<String>>) -> Result<Rates> {
    let scope = Scope::user("bench");
    let n = sentences.len();
    let started = Instant::now();
    for chunk in (0..a.memories).collect::<Vec<_>>().chunks(100) {
        let batch = chunk
            .iter()
            .map(|i| NewMemory::new(format!("{} #{i}", sentences[i % n])).with_scope(scope.clone()))
            .collect();
        brain.remember_many(batch).await?;
    }
    let ingest = a.memories as f64 / started.elapsed().as_secs_f64();

    let per_task = a.ops.div_ceil(a.concurrency);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..a.concurrency {
        let (brain, scope, sentences) = (brain.clone(), scope.clone(), sentences.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..per_task {
                let text = format!(
                    "{} single {t}-{i}",
                    sentences[(t * 7919 + i) % sentences.len()]
                );
                brain
                    .remember(NewMemory::new(text).with_scope(scope.clone()))
                    .await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let remember = (per_task * a.concurrency) as f64 / started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..a.concurrency {
        let (brain, scope, sentences) = (brain.clone(), scope.clone(), sentences.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..per_task {
                let q = &sentences[(t * 104_729 + i * 31) % sentences.len()];
                let hits = brain
                    .recall(&RecallQuery::new(q.clone(), scope.clone()).with_k(10))
                    .await?;
                anyhow::ensure!(!hits.is_empty(), "recall found nothing for {q:?}");
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let recall = (per_task * a.concurrency) as f64 / started.elapsed().as_secs_f64();
    Ok(Rates {
        ingest_per_s: ingest,
        remember_per_s: remember,
        recall_per_s: recall,
    })
}

async fn brain_on(store: Arc<dyn brain::Store>, dir: &std::path::Path) -> Result<Arc<Brain>> {
    let embedder = Arc::new(embed::HashingEmbedder::new(384)?);
    let config = BrainConfig {
        data_dir: dir.to_path_buf(),
        ..BrainConfig::default()
    };
    let embeddings: &dyn memory_core::EmbeddingStore = store.as_ref();
    let index = brain_engines::hnsw_index(
        &dir.join("vectors"),
        store_vector::HnswParams::new(384),
        embeddings,
    )
    .await?;
    Ok(Arc::new(
        Brain::builder()
            .config(config)
            .store(store)
            .embedder(embedder)
            .index(index)
            .build()
            .await?,
    ))
}

#[tokio::main]
async fn main() -> Result<()> {
    let a = Args::parse();
    let url = std::env::var("BRAIN_TEST_POSTGRES_URL").context(
        "set BRAIN_TEST_POSTGRES_URL (`cargo xtask services -- COMMAND` starts a throwaway \
         PostgreSQL on loopback and sets it)",
    )?;
    let mut sentences = corpus(&a.sentences, 20_000);
    if sentences.is_empty() {
        sentences = (0..5000)
            .map(|i| format!("synthetic sentence {i} about topic {}", i % 97))
            .collect();
    }
    let sentences = Arc::new(sentences);

    let dir = tempfile::tempdir()?;
    let sqlite_dir = dir.path().join("sqlite");
    let sqlite = brain_engines::sqlite_store(
        &sqlite_dir.join("brain.db"),
        brain::config::DurabilityConfig::Process,
    )
    .await?;
    let brain = brain_on(sqlite, &sqlite_dir).await?;
    let s = measure(brain.clone(), &a, &sentences).await?;
    brain.close().await?;

    let schema = format!("bench_{}", std::process::id());
    let pg_dir = dir.path().join("postgres");
    let pg = brain_engines::postgres_store(&url, 16, Some(&schema)).await?;
    let brain = brain_on(pg, &pg_dir).await?;
    let p = measure(brain.clone(), &a, &sentences).await?;
    brain.close().await?;
    drop(brain);
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    let conn = tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await?;
    drop(client);
    let _ = conn.await;

    let ratio = |pg: f64, sq: f64| pg / sq;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "memories": a.memories, "ops": a.ops, "concurrency": a.concurrency,
                "sqlite": s, "postgres": p,
                "ratio_postgres_over_sqlite": {
                    "ingest": ratio(p.ingest_per_s, s.ingest_per_s),
                    "remember": ratio(p.remember_per_s, s.remember_per_s),
                    "recall": ratio(p.recall_per_s, s.recall_per_s),
                },
            }))?
        );
    } else {
        println!(
            "{} memories ingested in batches of 100; {} single remember and {} recall calls from {} tasks; hashing embedder",
            a.memories, a.ops, a.ops, a.concurrency
        );
        println!(
            "{:<22} {:>12} {:>12} {:>8}",
            "per second", "sqlite", "postgres", "pg/sq"
        );
        for (name, sq, pg) in [
            ("ingest (batched)", s.ingest_per_s, p.ingest_per_s),
            ("remember (single)", s.remember_per_s, p.remember_per_s),
            ("recall", s.recall_per_s, p.recall_per_s),
        ] {
            println!("{name:<22} {sq:>12.0} {pg:>12.0} {:>8.2}", ratio(pg, sq));
        }
    }
    Ok(())
}

//! Distils 1,000 patterns (50 topics × 20) with the hashing embedder and no LLM, and
//! prints the time taken and the LLM calls made (none).
//!
//! `cargo run --release -p distill --example distill_1000`
#![allow(clippy::unwrap_used, clippy::expect_used)] // an example: fail loudly

use std::sync::Arc;
use std::time::Instant;

use distill::{DistillOptions, KnowledgeDistiller};
use memory_core::{LongTermStore, NewPattern, Scope};

const TOPICS: usize = 50;
const PER_TOPIC: usize = 20;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = Arc::new(store_sqlite::SqliteStore::open_in_memory()?);
    // Each topic has eight words of its own; each pattern uses six of them.
    for t in 0..TOPICS {
        let words: Vec<String> = (0..8).map(|w| format!("topic{t}word{w}")).collect();
        for k in 0..PER_TOPIC {
            let pick = |o: usize| {
                (0..6)
                    .map(|i| words[(i + k + o) % 8].as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            store
                .store_pattern(NewPattern::new(
                    "error_fix",
                    format!("{} case{k}", pick(0)),
                    format!("fix {} variant{k}", pick(3)),
                ))
                .await?;
        }
    }
    let embedder = Arc::new(embed::HashingEmbedder::new(256)?);
    let distiller = KnowledgeDistiller::new(store.clone(), embedder, None);
    let options = DistillOptions {
        max_patterns: TOPICS * PER_TOPIC,
        ..DistillOptions::default()
    };
    let start = Instant::now();
    let report = distiller
        .distill(&Scope::global(), "error_fix", &options)
        .await?;
    let elapsed = start.elapsed();
    let rerun_start = Instant::now();
    let rerun = distiller
        .distill(&Scope::global(), "error_fix", &options)
        .await?;
    let rerun_elapsed = rerun_start.elapsed();
    println!(
        "distilled {} patterns into {} groups ({} created, {} singletons) in {:.3} s with {} LLM calls; \
         re-run: {} unchanged in {:.3} s",
        report.considered,
        report.groups.len(),
        report.created.len(),
        report.singletons.len(),
        elapsed.as_secs_f64(),
        report.llm_calls,
        rerun.unchanged.len(),
        rerun_elapsed.as_secs_f64(),
    );
    Ok(())
}

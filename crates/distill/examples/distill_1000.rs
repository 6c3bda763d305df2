//! Distils 1,000 patterns (50 topics × 20) with the hashing embedder and no LLM, and
//! prints the time taken and the LLM calls made (none).
//!
//! `cargo run --release -p distill --example distill_1000`
#![allow(clippy::unwrap_used, clippy::expect_used)] // an example: fail loudly

use memory_core::RecordStoreExt;
use std::sync::Arc;
use std::time::Instant;

use distill::{DistillOptions, KnowledgeDistiller};
use memory_core::{NewPattern, Scope};

const TOPICS: usize = 50;
const PER_TOPIC: usize = 20;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = Arc::new(store_sqlite::SqliteStore::open_in_memory()?);
    // Each topic has eight made-up words of its own; each pattern uses six of them.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut word = move || -> String {
        (0..7)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                char::from(b'a' + ((seed >> 33) % 26) as u8)
            })
            .collect()
    };
    let mut topic_of = std::collections::HashMap::new();
    for t in 0..TOPICS {
        let words: Vec<String> = (0..8).map(|_| word()).collect();
        for k in 0..PER_TOPIC {
            let pick = |o: usize| {
                (0..6)
                    .map(|i| words[(i + k + o) % 8].as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let w = store
                .store_pattern(NewPattern::new(
                    "error_fix",
                    format!("{} case{k}", pick(0)),
                    format!("fix {} variant{k}", pick(3)),
                ))
                .await?;
            topic_of.insert(w.pattern.id, t);
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
    // Purity: the fraction of patterns whose group's majority topic is theirs.
    let mut agree = 0;
    let groups = report
        .groups
        .iter()
        .map(Vec::as_slice)
        .chain(report.singletons.iter().map(std::slice::from_ref));
    for g in groups {
        let mut counts = std::collections::HashMap::new();
        for id in g {
            *counts.entry(topic_of[id]).or_insert(0usize) += 1;
        }
        agree += counts.values().max().copied().unwrap_or(0);
    }
    let purity = agree as f64 / report.considered as f64;
    let rerun_start = Instant::now();
    let rerun = distiller
        .distill(&Scope::global(), "error_fix", &options)
        .await?;
    let rerun_elapsed = rerun_start.elapsed();
    println!(
        "distilled {} patterns into {} groups ({} created, {} singletons) in {:.3} s with {} LLM calls (purity {:.3}); \
         re-run: {} unchanged in {:.3} s",
        report.considered,
        report.groups.len(),
        report.created.len(),
        report.singletons.len(),
        elapsed.as_secs_f64(),
        report.llm_calls,
        purity,
        rerun.unchanged.len(),
        rerun_elapsed.as_secs_f64(),
    );
    Ok(())
}

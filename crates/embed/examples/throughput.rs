//! BERT embedder throughput on real sentences, to compare with sentence-transformers.
//!
//! ```text
//! cargo run --release -p embed --example throughput -- [SENTENCES_FILE] [N] [MODEL_DIR]
//! python3 crates/embed/examples/throughput_st.py MODEL_DIR [SENTENCES_FILE] [N] [BATCH]
//! ```
//!
//! Embeds the first N (default 2,000) lines of SENTENCES_FILE (default
//! `../shared/data/rustdoc-sentences.txt`) and prints sentences per second. The model
//! directory defaults to `BRAIN_MODEL_DIR`, then the cache (`embed::resolve_model_dir`).
//! `EMBED_BATCH=SEQUENCES,TOKENS` overrides the batch limits (default 64,8192).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let file = args
        .next()
        .unwrap_or_else(|| "../shared/data/rustdoc-sentences.txt".to_string());
    let n: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(2000);
    let dir = args.next().map(PathBuf::from);
    let dir = embed::resolve_model_dir(dir.as_deref())?;

    let text = std::fs::read_to_string(&file)?;
    let sentences: Vec<&str> = text.lines().take(n).collect();
    let mut options = embed::BertOptions::default();
    if let Ok(spec) = std::env::var("EMBED_BATCH") {
        let (seqs, tokens) = spec.split_once(',').ok_or("EMBED_BATCH=SEQUENCES,TOKENS")?;
        options = options.with_batch_limits(embed::batch::BatchLimits {
            max_sequences: seqs.parse()?,
            max_tokens: tokens.parse()?,
        });
    }
    let embedder = embed::BertEmbedder::load_with(&dir, options)?;
    // Warm up (thread pools, allocator), as the Python side does.
    embedder.embed_sync(&sentences[..sentences.len().min(64)])?;

    let c0 = cpu_seconds();
    let t0 = Instant::now();
    let vectors = embedder.embed_sync(&sentences)?;
    let dt = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(c0).map(|(a, b)| a - b);
    assert_eq!(vectors.len(), sentences.len());
    println!(
        "embed (candle): {} sentences in {dt:.2} s = {:.1} sentences/s, {} s CPU ({}, {} dims, {} threads)",
        sentences.len(),
        sentences.len() as f64 / dt,
        cpu.map_or("?".to_string(), |c| format!("{c:.2}")),
        embedder.info().model_id,
        embedder.info().dimension,
        candle_core::utils::get_num_threads(),
    );

    // Latency of a single short text, as a recall query would see it.
    let calls = 200;
    let t0 = Instant::now();
    for s in sentences.iter().cycle().take(calls) {
        embedder.embed_sync(&[s])?;
    }
    println!(
        "embed (candle): one sentence per call: {:.2} ms per call (mean of {calls})",
        t0.elapsed().as_secs_f64() * 1e3 / calls as f64
    );
    Ok(())
}

/// User + system CPU time of this process (Linux: /proc/self/stat, in clock ticks of 1/100 s).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

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
    let embedder = embed::BertEmbedder::load(&dir)?;
    eprintln!("candle threads: {}", candle_core::utils::get_num_threads());
    // Warm up (thread pools, allocator), as the Python side does.
    embedder.embed_sync(&sentences[..sentences.len().min(64)])?;

    let t0 = Instant::now();
    let vectors = embedder.embed_sync(&sentences)?;
    let dt = t0.elapsed().as_secs_f64();
    assert_eq!(vectors.len(), sentences.len());
    println!(
        "embed (candle): {} sentences in {dt:.2} s = {:.1} sentences/s ({}, {} dims)",
        sentences.len(),
        sentences.len() as f64 / dt,
        embedder.info().model_id,
        embedder.info().dimension,
    );
    Ok(())
}

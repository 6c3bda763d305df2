//! Embeds a text corpus (one sentence a line) with our BERT embedder into `.npy` files,
//! for `cargo xtask bench ann` and `shared/bench/peers_ann.py --from`.
//!
//! `embed-corpus --input FILE --out DIR [--queries 1000] [--limit N] [--model-dir DIR]`
//! writes `DIR/base.npy` (all but the last `--queries` lines) and `DIR/queries.npy`,
//! float32 row-major, one unit vector a row.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "Embed a corpus into .npy files with the BERT embedder")]
struct Args {
    /// One sentence per line.
    #[arg(long)]
    input: PathBuf,
    /// Where base.npy and queries.npy go.
    #[arg(long)]
    out: PathBuf,
    /// How many of the last lines are queries.
    #[arg(long, default_value_t = 1000)]
    queries: usize,
    /// Use only the first N lines.
    #[arg(long)]
    limit: Option<usize>,
    /// The model directory (default: the fetched model).
    #[arg(long)]
    model_dir: Option<PathBuf>,
}

/// Writes a 2-D float32 array in the `.npy` v1.0 format.
fn write_npy(path: &Path, rows: &[Vec<f32>]) -> Result<()> {
    let cols = rows.first().map_or(0, Vec::len);
    let mut header = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}",
        rows.len(),
        cols
    );
    // Pad so that the data starts on a 64-byte boundary, ending the header with '\n'.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    f.write_all(b"\x93NUMPY\x01\x00")?;
    f.write_all(&u16::try_from(header.len())?.to_le_bytes())?;
    f.write_all(header.as_bytes())?;
    for r in rows {
        if r.len() != cols {
            bail!("ragged rows");
        }
        for x in r {
            f.write_all(&x.to_le_bytes())?;
        }
    }
    f.flush()?;
    Ok(())
}

fn main() -> Result<()> {
    let args = Args::parse();
    let text = std::fs::read_to_string(&args.input)
        .with_context(|| format!("reading {}", args.input.display()))?;
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if let Some(n) = args.limit {
        lines.truncate(n);
    }
    if lines.len() <= args.queries {
        bail!(
            "{} lines, not more than the {} queries",
            lines.len(),
            args.queries
        );
    }
    let dir = embed::resolve_model_dir(args.model_dir.as_deref())?;
    let embedder = embed::BertEmbedder::load(&dir)?;
    std::fs::create_dir_all(&args.out)?;
    let t0 = Instant::now();
    let mut vectors = Vec::with_capacity(lines.len());
    for (i, chunk) in lines.chunks(2048).enumerate() {
        vectors.extend(embedder.embed_sync(chunk)?);
        eprintln!(
            "embed-corpus: {}/{} sentences, {:.1}/s",
            vectors.len(),
            lines.len(),
            vectors.len() as f64 / t0.elapsed().as_secs_f64()
        );
        let _ = i;
    }
    let split = vectors.len() - args.queries;
    write_npy(&args.out.join("base.npy"), &vectors[..split])?;
    write_npy(&args.out.join("queries.npy"), &vectors[split..])?;
    eprintln!(
        "embed-corpus: wrote {} base and {} query vectors to {}",
        split,
        args.queries,
        args.out.display()
    );
    Ok(())
}

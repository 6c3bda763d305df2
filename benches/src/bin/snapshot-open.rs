//! Opening a brain's vector index from its snapshot, measured against a full rebuild.
//!
//! `snapshot-open [--n 100000] [--dim 384] [--dir DIR]` stores N memories with synthetic
//! clustered unit embeddings in an SQLite store (once; reused when DIR holds them), builds
//! and snapshots the HNSW index, then times (a) `HnswIndex::open` from the snapshot plus
//! catch-up and (b) the same open with no snapshot, which rebuilds from the store's
//! embedding log. Prints both times and their ratio.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Parser;
use memory_core::*;
use store_sqlite::SqliteStore;
use store_vector::{HnswIndex, HnswParams, OpenedFrom};

#[derive(Debug, Parser)]
#[command(about = "Open the vector index from a snapshot vs a full rebuild")]
struct Args {
    /// Memories to store.
    #[arg(long, default_value_t = 100_000)]
    n: usize,
    /// Embedding dimension.
    #[arg(long, default_value_t = 384)]
    dim: usize,
    /// Working directory (default: target/bench-data/snapshot-open-N).
    #[arg(long)]
    dir: Option<PathBuf>,
}

/// Clustered unit vectors from a fixed-seed generator (like `peers_ann.py`'s data).
fn vectors(n: usize, dim: usize) -> Vec<Vec<f32>> {
    let mut s: u64 = 42;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut gauss = move || {
        let (u, v) = (next().max(1e-12), next());
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    };
    let centers: Vec<Vec<f32>> = (0..256)
        .map(|_| (0..dim).map(|_| gauss()).collect())
        .collect();
    (0..n)
        .map(|i| {
            let c = &centers[(i * 7919) % centers.len()];
            let mut v: Vec<f32> = c.iter().map(|x| x + 0.9 * gauss()).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter_mut().for_each(|x| *x /= norm);
            v
        })
        .collect()
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let dir = args.dir.clone().unwrap_or_else(|| {
        PathBuf::from("target/bench-data").join(format!("snapshot-open-{}x{}", args.n, args.dim))
    });
    std::fs::create_dir_all(&dir)?;
    let store = SqliteStore::open(dir.join("memory.db")).await?;
    let info = EmbedderInfo {
        model_id: format!("synthetic-{}", args.dim),
        dimension: args.dim,
    };
    store.pin_embedder(&info).await?;
    let have = store.stats().await?.embeddings as usize;
    if have < args.n {
        eprintln!(
            "snapshot-open: storing {} memories with embeddings",
            args.n - have
        );
        let all = vectors(args.n, args.dim);
        for chunk in all[have..].chunks(5000) {
            let mut ops = Vec::with_capacity(chunk.len() * 2);
            for v in chunk {
                let id = MemoryId::new();
                ops.push(WriteOp::PutMemory(
                    NewMemory::new("synthetic memory").with_id(id),
                ));
                ops.push(WriteOp::PutEmbedding {
                    id,
                    vector: v.clone(),
                });
            }
            store.write_batch(ops).await?;
        }
    }
    let params = HnswParams::new(args.dim).with_max_elements(args.n.max(1000) * 2);
    let snap = dir.join("index");
    let _ = std::fs::remove_dir_all(&snap);

    let t = Instant::now();
    let index = HnswIndex::open(&snap, params, &store).await?;
    let rebuild_s = t.elapsed().as_secs_f64();
    assert!(matches!(index.opened_from(), OpenedFrom::Rebuilt { .. }));
    let t = Instant::now();
    let info = index.snapshot(&snap).await?;
    let snapshot_s = t.elapsed().as_secs_f64();
    drop(index);

    let t = Instant::now();
    let index = HnswIndex::open(&snap, params, &store).await?;
    let open_s = t.elapsed().as_secs_f64();
    assert!(
        matches!(index.opened_from(), OpenedFrom::Snapshot { .. }),
        "{:?}",
        index.opened_from()
    );
    assert_eq!(index.stats().live, args.n);

    println!(
        "{} vectors x {} dims: open from snapshot {open_s:.2} s, full rebuild {rebuild_s:.2} s \
         (snapshot is {:.1}x faster); writing the snapshot took {snapshot_s:.2} s, {:.0} MB",
        args.n,
        args.dim,
        rebuild_s / open_s,
        info.bytes as f64 / 1e6
    );
    Ok(())
}

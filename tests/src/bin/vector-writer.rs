//! A writer process for the vector-index crash tests.
//!
//! `vector-writer DB SNAPSHOT_DIR SEED` remembers memories (store + embedding in one
//! batch), deletes some of them, keeps an HNSW index caught up and writes a snapshot
//! every few dozen writes, until killed. After each returned write it prints `w <id>` or
//! `d <id>`, and `s <seq>` after each snapshot.

use std::io::Write;

use anyhow::{Context, Result};
use memory_core::*;
use store_sqlite::SqliteStore;
use store_vector::{HnswIndex, HnswParams};

/// The dimension of the test embeddings (the hashing embedder's, kept small).
const DIM: usize = 64;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, db, snap, seed] = args.as_slice() else {
        anyhow::bail!("usage: vector-writer DB SNAPSHOT_DIR SEED");
    };
    let mut rng = brain_tests::XorShift::new(seed.parse::<u64>().context("SEED")?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let store = SqliteStore::open(db).await?;
        let embedder = embed::HashingEmbedder::new(DIM)?;
        store.pin_embedder(embedder.info()).await?;
        let index = HnswIndex::open(snap, HnswParams::new(DIM), &store).await?;
        let mut live: Vec<MemoryId> = Vec::new();
        let mut out = std::io::stdout().lock();
        for i in 0u64.. {
            let r = rng.next();
            if r.is_multiple_of(5) && !live.is_empty() {
                let id = live.swap_remove((r as usize / 5) % live.len());
                // Said before the delete: a kill after its commit but before the `d`
                // line leaves a memory gone that was never acknowledged deleted.
                writeln!(out, "x {id}")?;
                out.flush()?;
                store.delete_memory(id).await?;
                writeln!(out, "d {id}")?;
            } else {
                let id = MemoryId::new();
                let text = format!("memory {i} about topic {}", r % 97);
                let vector = embedder.embed_one(&text);
                store
                    .write_batch(vec![
                        WriteOp::PutMemory(NewMemory::new(text).with_id(id)),
                        WriteOp::PutEmbedding { id, vector },
                    ])
                    .await?;
                live.push(id);
                writeln!(out, "w {id}")?;
            }
            out.flush()?;
            index.catch_up(&store).await?;
            if i % 40 == 39 {
                let info = index.snapshot(snap).await?;
                writeln!(out, "s {}", info.seq)?;
                out.flush()?;
            }
        }
        Ok(())
    })
}

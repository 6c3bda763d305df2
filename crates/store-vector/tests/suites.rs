//! The shared suites of memory-core on this crate's indexes: `VectorIndex` on the exact
//! and HNSW indexes, `DerivedIndex` on both of their derived forms.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use memory_core::testing::MemoryEmbeddings;
use store_vector::{CaughtUpFlat, FlatIndex, HnswIndex, HnswParams, PersistedHnsw};

mod flat {
    use super::*;
    async fn fresh() -> ((), FlatIndex) {
        ((), FlatIndex::new(16).unwrap())
    }
    memory_core::vector_index_suite!(fresh);
}

/// The HNSW index with its defaults (small sets are searched exactly).
mod hnsw {
    use super::*;
    async fn fresh() -> ((), HnswIndex) {
        ((), HnswIndex::new(HnswParams::new(16)).unwrap())
    }
    memory_core::vector_index_suite!(fresh);
}

/// The HNSW index forced onto its graph walk, however small the set.
mod hnsw_graph {
    use super::*;
    async fn fresh() -> ((), HnswIndex) {
        let params = HnswParams::new(16).with_exact_threshold(0);
        ((), HnswIndex::new(params).unwrap())
    }
    memory_core::vector_index_suite!(fresh);
}

mod persisted_hnsw {
    use super::*;
    async fn open(store: &MemoryEmbeddings) -> (tempfile::TempDir, PersistedHnsw) {
        let dir = tempfile::tempdir().unwrap();
        let index = PersistedHnsw::open(&dir.path().join("vectors"), HnswParams::new(16), store)
            .await
            .unwrap();
        (dir, index)
    }
    memory_core::derived_index_suite!(open);
}

mod caught_up_flat {
    use super::*;
    async fn open(_store: &MemoryEmbeddings) -> ((), CaughtUpFlat) {
        ((), CaughtUpFlat::new(16).unwrap())
    }
    memory_core::derived_index_suite!(open);
}

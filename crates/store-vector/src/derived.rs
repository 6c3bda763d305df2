//! The indexes of this crate as [`DerivedIndex`]es: indexes a brain keeps caught up from
//! its store's embedding log, so the store stays the one source of truth.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use memory_core::{
    DerivedIndex, EmbeddingStore, MemoryId, Result, VectorEntry, VectorHit, VectorIndex,
    VectorQuery,
};
use tokio::sync::Mutex;

use crate::{FlatIndex, HnswIndex, HnswParams};

/// `VectorIndex` by delegation to the wrapped engine's `index` field.
macro_rules! delegate_vector_index {
    ($t:ty) => {
        #[async_trait]
        impl VectorIndex for $t {
            fn dimension(&self) -> usize {
                self.index.dimension()
            }
            async fn upsert(&self, entries: Vec<VectorEntry>) -> Result<()> {
                self.index.upsert(entries).await
            }
            async fn delete(&self, ids: &[MemoryId]) -> Result<usize> {
                self.index.delete(ids).await
            }
            async fn search(&self, query: &VectorQuery) -> Result<Vec<VectorHit>> {
                self.index.search(query).await
            }
            async fn len(&self) -> Result<usize> {
                self.index.len().await
            }
        }
    };
}

delegate_vector_index!(PersistedHnsw);
delegate_vector_index!(CaughtUpFlat);

/// An [`HnswIndex`] kept in a directory: opened from its snapshot there (or rebuilt from
/// the store when the snapshot is missing or damaged), and snapshotted back on
/// [`DerivedIndex::persist`].
pub struct PersistedHnsw {
    index: HnswIndex,
    dir: PathBuf,
}

impl PersistedHnsw {
    /// Opens the index kept in `dir`, caught up with `store`.
    pub async fn open(
        dir: &Path,
        params: HnswParams,
        store: &dyn EmbeddingStore,
    ) -> crate::Result<Self> {
        let index = HnswIndex::open(dir, params, store).await?;
        tracing::debug!(opened_from = ?index.opened_from(), seq = index.applied_seq(), "vector index open");
        Ok(Self {
            index,
            dir: dir.to_path_buf(),
        })
    }

    /// The index itself (statistics, snapshots).
    pub fn index(&self) -> &HnswIndex {
        &self.index
    }
}

#[async_trait]
impl DerivedIndex for PersistedHnsw {
    async fn catch_up(&self, store: &dyn EmbeddingStore) -> Result<usize> {
        Ok(self.index.catch_up(store).await?)
    }
    fn applied_seq(&self) -> u64 {
        self.index.applied_seq()
    }
    async fn persist(&self) -> Result<()> {
        self.index.snapshot(&self.dir).await?;
        Ok(())
    }
}

/// A [`FlatIndex`] (exact search) kept in memory and caught up from the store: small
/// brains and tests. Nothing to persist; a new process catches up from the start.
pub struct CaughtUpFlat {
    index: FlatIndex,
    applied: AtomicU64,
    catching_up: Mutex<()>,
}

impl CaughtUpFlat {
    /// An empty exact index of `dimension`.
    pub fn new(dimension: usize) -> crate::Result<Self> {
        Ok(Self {
            index: FlatIndex::new(dimension)?,
            applied: AtomicU64::new(0),
            catching_up: Mutex::new(()),
        })
    }
}

#[async_trait]
impl DerivedIndex for CaughtUpFlat {
    async fn catch_up(&self, store: &dyn EmbeddingStore) -> Result<usize> {
        // One catch-up at a time, so changes are applied in log order.
        let _guard = self.catching_up.lock().await;
        let mut applied = 0;
        loop {
            let after = self.applied.load(Ordering::Acquire);
            let changes = store.embedding_changes(after, crate::CATCH_UP_PAGE).await?;
            let Some(last) = changes.last().map(|c| c.seq) else {
                return Ok(applied);
            };
            // The log must move forward: a change at or before `after` means a broken
            // store, and applying it would repeat or reorder changes.
            if changes.iter().any(|c| c.seq <= after) {
                return Err(memory_core::Error::Backend {
                    message: format!(
                        "embedding_changes(after = {after}) returned a change at or before {after}"
                    ),
                    source: None,
                });
            }
            applied += changes.len();
            // Each id's last change in the page wins (an upsert then a delete of one id
            // must leave it deleted, whatever order the two lists are applied in).
            let mut last_of: std::collections::HashMap<MemoryId, Option<VectorEntry>> =
                std::collections::HashMap::with_capacity(changes.len());
            for c in changes {
                last_of.insert(c.id, c.entry);
            }
            let mut upserts = Vec::new();
            let mut deletes = Vec::new();
            for (id, entry) in last_of {
                match entry {
                    Some(e) => upserts.push(e),
                    None => deletes.push(id),
                }
            }
            self.index.delete(&deletes).await?;
            self.index.upsert(upserts).await?;
            self.applied.store(last, Ordering::Release);
        }
    }
    fn applied_seq(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }
    async fn persist(&self) -> Result<()> {
        Ok(())
    }
}

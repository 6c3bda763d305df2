//! [`FlatIndex`]: exact cosine search, the ground truth for the HNSW index.

use std::collections::HashMap;
use std::sync::RwLock;

use async_trait::async_trait;
use memory_core::{MemoryId, VectorEntry, VectorHit, VectorIndex, VectorQuery};

use crate::distance::{normalized, similarity};
use crate::error::{Result, VectorError};
use crate::filter::{EntryMeta, FilterPlan};
use crate::params::MAX_DIMENSION;
use crate::util::{Scored, TopK, read, write};

/// An exact index: every search compares the query with every entry that passes the
/// filter. Same contract and filter semantics as [`crate::HnswIndex`]; use it as ground
/// truth in tests, or for small collections.
///
/// Its async methods run inline (it is meant for small sets); the `*_blocking` methods
/// are the same operations for synchronous callers.
#[derive(Debug)]
pub struct FlatIndex {
    dimension: usize,
    state: RwLock<FlatState>,
}

#[derive(Debug, Default)]
struct FlatState {
    ids: Vec<MemoryId>,
    /// Unit vectors, `dimension` floats per entry, in the order of `ids`.
    vectors: Vec<f32>,
    metas: Vec<EntryMeta>,
    by_id: HashMap<MemoryId, usize>,
}

impl FlatIndex {
    /// An empty index of `dimension` (`1..=65536`).
    pub fn new(dimension: usize) -> Result<Self> {
        if dimension == 0 || dimension > MAX_DIMENSION {
            return Err(VectorError::param(
                "dimension",
                dimension,
                format!("must be within [1, {MAX_DIMENSION}]"),
            ));
        }
        Ok(FlatIndex {
            dimension,
            state: RwLock::new(FlatState::default()),
        })
    }

    /// Inserts or replaces entries. Every vector is checked first; on error nothing
    /// changes.
    pub fn upsert_blocking(&self, entries: Vec<VectorEntry>) -> Result<()> {
        let d = self.dimension;
        let prepared = entries
            .into_iter()
            .map(|e| Ok((normalized(&e.vector, d, Some(e.id))?, e)))
            .collect::<Result<Vec<_>>>()?;
        let mut s = write(&self.state);
        for (v, e) in prepared {
            let meta = EntryMeta::of(&e);
            match s.by_id.get(&e.id).copied() {
                Some(i) => {
                    s.vectors[i * d..(i + 1) * d].copy_from_slice(&v);
                    s.metas[i] = meta;
                }
                None => {
                    let i = s.ids.len();
                    s.ids.push(e.id);
                    s.vectors.extend_from_slice(&v);
                    s.metas.push(meta);
                    s.by_id.insert(e.id, i);
                }
            }
        }
        Ok(())
    }

    /// Removes entries; returns how many existed.
    pub fn delete_blocking(&self, ids: &[MemoryId]) -> usize {
        let d = self.dimension;
        let mut s = write(&self.state);
        let mut removed = 0;
        for id in ids {
            let Some(i) = s.by_id.remove(id) else {
                continue;
            };
            removed += 1;
            let last = s.ids.len() - 1;
            s.ids.swap_remove(i);
            s.metas.swap_remove(i);
            if i != last {
                s.vectors.copy_within(last * d..(last + 1) * d, i * d);
                let moved = s.ids[i];
                s.by_id.insert(moved, i);
            }
            s.vectors.truncate(last * d);
        }
        removed
    }

    /// The `k` nearest entries passing the filter, nearest first (ties by id).
    pub fn search_blocking(&self, query: &VectorQuery) -> Result<Vec<VectorHit>> {
        let q = normalized(&query.vector, self.dimension, None)?;
        query
            .filter
            .validate()
            .map_err(VectorError::InvalidFilter)?;
        let plan = FilterPlan::new(&query.filter, query.now);
        let s = read(&self.state);
        let mut top = TopK::new(query.k.min(s.ids.len()));
        for (i, (id, meta)) in s.ids.iter().zip(&s.metas).enumerate() {
            if plan.passes(meta) {
                let v = &s.vectors[i * self.dimension..(i + 1) * self.dimension];
                top.push(Scored {
                    sim: similarity(&q, v),
                    key: *id,
                });
            }
        }
        Ok(top
            .into_sorted()
            .into_iter()
            .map(|s| VectorHit {
                id: s.key,
                similarity: s.sim,
            })
            .collect())
    }

    /// How many entries the index holds.
    pub fn len_blocking(&self) -> usize {
        read(&self.state).ids.len()
    }

    /// Whether the index holds this id.
    pub fn contains(&self, id: MemoryId) -> bool {
        read(&self.state).by_id.contains_key(&id)
    }
}

#[async_trait]
impl VectorIndex for FlatIndex {
    fn dimension(&self) -> usize {
        self.dimension
    }

    async fn upsert(&self, entries: Vec<VectorEntry>) -> memory_core::Result<()> {
        Ok(self.upsert_blocking(entries)?)
    }

    async fn delete(&self, ids: &[MemoryId]) -> memory_core::Result<usize> {
        Ok(self.delete_blocking(ids))
    }

    async fn search(&self, query: &VectorQuery) -> memory_core::Result<Vec<VectorHit>> {
        Ok(self.search_blocking(query)?)
    }

    async fn len(&self) -> memory_core::Result<usize> {
        Ok(self.len_blocking())
    }
}

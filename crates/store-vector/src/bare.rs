//! [`BareIndex`]: the HNSW graph alone, over row numbers, for ANN benchmarks.

use std::sync::Arc;

use memory_core::{MemoryFilter, MemoryId, Timestamp};

use crate::distance::normalized;
use crate::engine::{Engine, Prepared};
use crate::error::{Result, VectorError};
use crate::filter::{EntryMeta, FilterPlan};
use crate::params::{HnswParams, MAX_EF};

/// An HNSW graph over the rows of a matrix, with no ids, filters or tombstones: what an
/// ANN benchmark compares with hnswlib, faiss or usearch. It runs the same code as
/// [`crate::HnswIndex`] (distance, normalisation, bulk parallel build, the plain
/// search path), so its figures are the index's.
pub struct BareIndex {
    engine: Engine,
}

impl std::fmt::Debug for BareIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BareIndex")
            .field("params", &self.engine.params)
            .finish()
    }
}

impl BareIndex {
    /// Builds a graph over `rows` (all of one dimension) with links `m` and
    /// `ef_construction`, inserting in parallel on every core.
    pub fn build(rows: &[Vec<f32>], m: usize, ef_construction: usize) -> Result<Self> {
        let dimension = rows.first().map_or(0, Vec::len);
        let params = HnswParams::new(dimension)
            .with_m(m)
            .with_ef_construction(ef_construction)
            .with_max_elements(rows.len().max(1))
            .with_exact_threshold(0);
        params.validate()?;
        let meta = Arc::new(EntryMeta::bare());
        let prepared = rows
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let id = MemoryId::from_bytes((i as u128).to_be_bytes());
                Ok(Prepared {
                    id,
                    vector: normalized(r, dimension, Some(id))?,
                    meta: Arc::clone(&meta),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(BareIndex {
            engine: Engine::build(params, prepared)?,
        })
    }

    /// Rows indexed.
    pub fn len(&self) -> usize {
        self.engine.counts().live
    }

    /// Whether no rows are indexed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `k` rows nearest `query`, as (row, cosine similarity), nearest first,
    /// searching with `ef` candidates (`1..=16384`, raised to `k`).
    pub fn search(&self, query: &[f32], k: usize, ef: usize) -> Result<Vec<(usize, f32)>> {
        if ef == 0 || ef > MAX_EF {
            return Err(VectorError::param(
                "ef",
                ef,
                format!("must be within [1, {MAX_EF}]"),
            ));
        }
        let q = normalized(query, self.engine.params.dimension, None)?;
        let filter = MemoryFilter {
            include_expired: true,
            ..MemoryFilter::default()
        };
        let plan = FilterPlan::new(&filter, Timestamp::from_millis(0));
        Ok(self
            .engine
            .search_internal(&q, k, &plan, ef)
            .into_iter()
            .map(|s| (s.key, s.sim))
            .collect())
    }
}

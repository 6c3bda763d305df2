//! Index parameters, their ranges and the search thresholds.

use serde::{Deserialize, Serialize};

use crate::error::{Result, VectorError};

/// Largest dimension accepted.
pub const MAX_DIMENSION: usize = 65_536;
/// Smallest `m`: a graph with fewer links per node does not navigate.
pub const MIN_M: usize = 2;
/// Largest `m`. hnsw_rs exits the process above 256 and stores `m` in a `u8`, so 256
/// itself would silently become 0.
pub const MAX_M: usize = 255;
/// Largest `ef_construction` and `ef_search`.
pub const MAX_EF: usize = 16_384;
/// Largest `max_elements`: hnsw_rs numbers the points of a layer with an `i32`.
pub const MAX_ELEMENTS: usize = i32::MAX as usize;
/// Largest `exact_threshold`.
pub const MAX_EXACT_THRESHOLD: usize = 1 << 20;

/// A rebuild starts once `tombstones * TOMBSTONE_RATIO_DENOMINATOR >= internal points`,
/// i.e. when a fifth of the index is dead…
pub const TOMBSTONE_RATIO_DENOMINATOR: usize = 5;
/// …and at least this many tombstones exist (tiny indexes are searched exactly anyway,
/// so rebuilding them buys nothing).
pub const MIN_TOMBSTONES_FOR_REBUILD: usize = 16;

/// How an [`crate::HnswIndex`] is built and searched.
///
/// Every field is checked by [`HnswParams::validate`] before anything reaches hnsw_rs
/// (which exits the process or allocates without bound on some bad values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HnswParams {
    /// The dimension of every vector, `1..=65536`.
    pub dimension: usize,
    /// Links per node on the upper layers (twice as many on the base layer), `2..=255`.
    /// More links: better recall, slower builds, more memory. Default 16.
    pub m: usize,
    /// Candidates examined per insertion, `1..=16384`. Default 150: chosen by
    /// measurement (see the crate's README) as the cheapest build whose graph still
    /// reaches recall@10 0.95 at `ef` 32 and 0.99 at `ef` 64 on 100k × 384 clustered
    /// vectors, so that a bulk build on two cores stays within hnswlib's single-thread
    /// build time at efConstruction 200.
    pub ef_construction: usize,
    /// Candidates examined per search (raised to `k` when `k` is larger, and for selective
    /// filters), `1..=16384`. Default 64.
    pub ef_search: usize,
    /// Most live entries the index accepts, `1..=i32::MAX`; an upsert past it is an
    /// error. Default 10 million. It is a limit, not an allocation: memory grows with the
    /// entries actually held.
    pub max_elements: usize,
    /// When to search exactly (brute force over the entries that pass the filter)
    /// instead of walking the graph: when `p² · live <= exact_threshold`, where `live` is
    /// the number of live entries and `p` the share of them passing the filter (1 with
    /// no filter). So an unfiltered index of at most this many entries is searched
    /// exactly, and the more selective a filter, the larger the index searched exactly
    /// (a filtered graph walk visits about `1/p` times the points of a plain one). `0` always
    /// walks the graph (unless the filter rejects everything sampled).
    /// `0..=1048576`; default 5000.
    pub exact_threshold: usize,
}

impl HnswParams {
    /// The defaults for vectors of `dimension`: m 16, ef_construction 150, ef_search 64,
    /// max_elements 10 million, exact_threshold 5000.
    pub fn new(dimension: usize) -> Self {
        HnswParams {
            dimension,
            m: 16,
            ef_construction: 150,
            ef_search: 64,
            max_elements: 10_000_000,
            exact_threshold: 5_000,
        }
    }

    /// Sets `m`.
    pub fn with_m(mut self, m: usize) -> Self {
        self.m = m;
        self
    }

    /// Sets `ef_construction`.
    pub fn with_ef_construction(mut self, ef: usize) -> Self {
        self.ef_construction = ef;
        self
    }

    /// Sets `ef_search`.
    pub fn with_ef_search(mut self, ef: usize) -> Self {
        self.ef_search = ef;
        self
    }

    /// Sets `max_elements`.
    pub fn with_max_elements(mut self, n: usize) -> Self {
        self.max_elements = n;
        self
    }

    /// Sets `exact_threshold`.
    pub fn with_exact_threshold(mut self, n: usize) -> Self {
        self.exact_threshold = n;
        self
    }

    /// Checks every field against its range.
    pub fn validate(&self) -> Result<()> {
        check("dimension", self.dimension, 1, MAX_DIMENSION)?;
        check("m", self.m, MIN_M, MAX_M)?;
        check("ef_construction", self.ef_construction, 1, MAX_EF)?;
        check("ef_search", self.ef_search, 1, MAX_EF)?;
        check("max_elements", self.max_elements, 1, MAX_ELEMENTS)?;
        check(
            "exact_threshold",
            self.exact_threshold,
            0,
            MAX_EXACT_THRESHOLD,
        )?;
        Ok(())
    }
}

fn check(name: &'static str, value: usize, min: usize, max: usize) -> Result<()> {
    if value < min || value > max {
        return Err(VectorError::param(
            name,
            value,
            format!("must be within [{min}, {max}]"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_ranges_hold() {
        assert!(HnswParams::new(384).validate().is_ok());
        for bad in [
            HnswParams::new(0),
            HnswParams::new(MAX_DIMENSION + 1),
            HnswParams::new(8).with_m(1),
            HnswParams::new(8).with_m(256),
            HnswParams::new(8).with_m(100_000),
            HnswParams::new(8).with_ef_construction(0),
            HnswParams::new(8).with_ef_search(0),
            HnswParams::new(8).with_ef_search(usize::MAX),
            HnswParams::new(8).with_max_elements(0),
            HnswParams::new(8).with_max_elements(usize::MAX),
            HnswParams::new(8).with_exact_threshold(usize::MAX),
        ] {
            assert!(
                matches!(bad.validate(), Err(VectorError::InvalidParameter { .. })),
                "{bad:?}"
            );
        }
    }
}

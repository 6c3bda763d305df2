//! The crate's error type and its mapping onto [`memory_core::Error`].

use std::path::PathBuf;

use memory_core::{MemoryId, ValidationError};

/// Everything that can go wrong in this crate.
///
/// Bad input (vectors, parameters) is caught before it reaches the HNSW engine, so none
/// of these ever comes from a panic or a process exit inside hnsw_rs. Through the
/// [`memory_core::VectorIndex`] port the variants become [`memory_core::Error`] kinds:
/// bad input is `InvalidInput`, IO and damaged files are `Backend`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VectorError {
    /// A vector (to index or to query with) has the wrong dimension, a NaN or infinite
    /// component, or is all zeros.
    #[error("invalid vector{}: {source}", id.map(|i| format!(" for {i}")).unwrap_or_default())]
    InvalidVector {
        /// The memory whose vector it is, when it is an entry (not a query).
        id: Option<MemoryId>,
        /// What is wrong with it.
        #[source]
        source: ValidationError,
    },
    /// A query's filter is malformed (a scope part or metadata condition that no stored
    /// memory could have).
    #[error("invalid filter: {0}")]
    InvalidFilter(#[source] ValidationError),
    /// An index parameter is out of its range.
    #[error("invalid index parameter {name} = {value}: {reason}")]
    InvalidParameter {
        /// The parameter, e.g. `m`.
        name: &'static str,
        /// The value given.
        value: usize,
        /// The allowed range, for a person.
        reason: String,
    },
    /// An upsert would take the index past its `max_elements` live entries.
    #[error(
        "the index is full: {live} live entries plus {adding} new ones exceed max_elements = {max}"
    )]
    Full {
        /// Live entries now.
        live: usize,
        /// New ids in the rejected upsert.
        adding: usize,
        /// The limit.
        max: usize,
    },
    /// The embedding store holds vectors of another dimension than the index was opened
    /// with: the embedder changed, so the brain must be reindexed.
    #[error(
        "the embedding store holds {store}-dimensional vectors but the index was opened with dimension {index}; reindex with the pinned embedder, or open with dimension {store}"
    )]
    DimensionMismatch {
        /// The index's dimension.
        index: usize,
        /// The store's pinned dimension.
        store: usize,
    },
    /// Reading or writing a snapshot file failed.
    #[error("io error on {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A snapshot exists but cannot be trusted (bad checksum, truncated, wrong format,
    /// another dimension or parameters). [`crate::HnswIndex::open`] rebuilds instead of
    /// returning this.
    #[error("snapshot {} is unusable: {reason}", path.display())]
    DamagedSnapshot {
        /// The snapshot directory.
        path: PathBuf,
        /// Why, for a person.
        reason: String,
    },
    /// The HNSW engine failed (it panicked, or refused a dump or a load).
    #[error("hnsw engine failure: {0}")]
    Engine(String),
    /// The embedding store failed while the index was catching up from it.
    #[error("embedding store: {0}")]
    Store(#[source] memory_core::Error),
    /// A blocking task could not be run or was cancelled.
    #[error("background task failed: {0}")]
    Task(String),
}

impl VectorError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        VectorError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn param(name: &'static str, value: usize, reason: impl Into<String>) -> Self {
        VectorError::InvalidParameter {
            name,
            value,
            reason: reason.into(),
        }
    }
}

impl From<VectorError> for memory_core::Error {
    fn from(e: VectorError) -> Self {
        match e {
            VectorError::InvalidVector { source, .. } | VectorError::InvalidFilter(source) => {
                memory_core::Error::InvalidInput(source)
            }
            VectorError::InvalidParameter { .. } | VectorError::Full { .. } => {
                memory_core::Error::InvalidInput(ValidationError::Other(e.to_string()))
            }
            VectorError::DimensionMismatch { .. } => memory_core::Error::Conflict(e.to_string()),
            VectorError::Store(inner) => inner,
            other => memory_core::Error::backend(other.to_string(), other),
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = VectorError> = std::result::Result<T, E>;

//! The crate's error.

/// What can go wrong in a distillation run. LLM failures are not errors: they fall back
/// and are noted in the [`crate::DistillReport`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DistillError {
    /// The store or the embedder failed.
    #[error(transparent)]
    Memory(#[from] memory_core::Error),
    /// The embedder answered with the wrong number of vectors.
    #[error("embedder: {0}")]
    Embedder(String),
    /// Distilled patterns kept colliding with concurrently written ones.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A [`crate::DistillOptions`] field is out of range.
    #[error("invalid options: {0}")]
    InvalidOptions(String),
}

/// This crate's result.
pub type Result<T, E = DistillError> = std::result::Result<T, E>;

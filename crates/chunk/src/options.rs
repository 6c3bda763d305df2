//! Chunk sizes and their validation.

/// How big chunks may be, and how much consecutive pieces of one split section share.
///
/// Sizes count Unicode scalar values (`char`s) of a chunk's body, the raw span of the
/// document; the context line that [`Chunk::text`](crate::Chunk::text) starts with is not
/// counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChunkOptions {
    /// No chunk's body is longer than this. Default 1500.
    pub max_chars: usize,
    /// A chunk shorter than this is merged with its next sibling (or, if there is none
    /// that fits, its previous one) while the result stays within `max_chars`. Default 200;
    /// 0 turns merging off.
    pub min_chars: usize,
    /// When a section or item longer than `max_chars` is cut into pieces, each piece after
    /// the first also repeats up to this many characters from the end of the piece before
    /// it (bodies still stay within `max_chars`). Chunks of different sections never
    /// overlap. Default 0.
    pub overlap_chars: usize,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        ChunkOptions {
            max_chars: 1500,
            min_chars: 200,
            overlap_chars: 0,
        }
    }
}

impl ChunkOptions {
    /// Options with the given `max_chars` and `min_chars` a seventh of it, no overlap.
    pub fn with_max_chars(max_chars: usize) -> Self {
        ChunkOptions {
            max_chars,
            min_chars: max_chars / 7,
            overlap_chars: 0,
        }
    }

    /// Checks that the sizes make sense: `max_chars >= 1`, `min_chars <= max_chars` and
    /// `overlap_chars * 2 < max_chars` (so every piece makes progress).
    pub fn validate(&self) -> Result<(), ChunkError> {
        if self.max_chars == 0 {
            return Err(ChunkError::InvalidOptions(
                "max_chars must be at least 1".to_owned(),
            ));
        }
        if self.min_chars > self.max_chars {
            return Err(ChunkError::InvalidOptions(format!(
                "min_chars ({}) must not exceed max_chars ({})",
                self.min_chars, self.max_chars
            )));
        }
        if self.overlap_chars.saturating_mul(2) >= self.max_chars && self.overlap_chars > 0 {
            return Err(ChunkError::InvalidOptions(format!(
                "overlap_chars ({}) must be less than half of max_chars ({})",
                self.overlap_chars, self.max_chars
            )));
        }
        Ok(())
    }
}

/// Why chunking was refused. Chunking itself never fails on any input text; only
/// nonsensical options are rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChunkError {
    /// The [`ChunkOptions`] do not make sense; the message says which field and why.
    #[error("invalid chunk options: {0}")]
    InvalidOptions(String),
}

//! The ports the facade needs beyond memory-core's: the store it writes through (long-term
//! records and their embeddings in one) and the splitter behind [`crate::Brain::ingest`].

use memory_core::{EmbeddingStore, LongTermStore};

/// A long-term store that also keeps the embeddings (the source of truth of the index).
pub trait Store: LongTermStore + EmbeddingStore {}

impl<T: LongTermStore + EmbeddingStore + ?Sized> Store for T {}

/// One retrieval chunk of a document, as a [`Splitter`] cuts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocChunk {
    /// What is embedded and stored: a context line (path and headings), a blank line,
    /// the body.
    pub text: String,
    /// First line of the body in the document, 1-based.
    pub start_line: usize,
    /// Last line of the body, 1-based and inclusive.
    pub end_line: usize,
    /// What the chunk is (`section`, `function`, `type`, …), stored as metadata.
    pub kind: String,
    /// The headings (or enclosing items) above the chunk, outermost first.
    pub heading_path: Vec<String>,
    /// The item the chunk defines (`fuse` for `pub fn fuse`), when there is one.
    pub symbol: Option<String>,
}

/// Cuts documents into retrieval chunks for [`crate::Brain::ingest`]. The `chunk` crate's
/// structure-aware splitter is the default (`brain_engines::ChunkSplitter`).
pub trait Splitter: Send + Sync {
    /// The version of the chunking: stored with every chunk, so a document is chunked
    /// again when the splitter changes even though its text did not.
    fn format_version(&self) -> u32;

    /// The language a document at `path` is read as (`markdown`, `rust`, `text`, …).
    fn language(&self, path: &str) -> String;

    /// Chunks `text` (shown as `path` in context lines) with bodies of at most
    /// `max_chars` characters; chunks whose body is blank are left out. An `Err` says
    /// why the document cannot be chunked.
    fn split(
        &self,
        path: &str,
        text: &str,
        max_chars: usize,
    ) -> std::result::Result<Vec<DocChunk>, String>;
}

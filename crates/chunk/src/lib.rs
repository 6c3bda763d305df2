//! # chunk
//!
//! Splits documents into retrieval chunks that follow their structure: markdown at its
//! headings, source code at its functions, types and impl/class blocks. The brain's
//! documentation collection stores each chunk as a memory and replaces a file's chunks when
//! its [`content_hash`] changes. The crate is pure and synchronous: text in, chunks out.
//!
//! ```
//! use chunk::{ChunkKind, ChunkOptions, chunk};
//!
//! let doc = "# Guide\n\nRead this first.\n\n## Install\n\n```sh\n# not a heading\ncargo build\n```\n";
//! let options = ChunkOptions { max_chars: 1500, min_chars: 0, overlap_chars: 0 };
//! let chunks = chunk("docs/guide.md", doc, &options)?;
//! assert_eq!(chunks.len(), 2);
//! assert_eq!(chunks[1].heading_path, ["Guide", "Install"]);
//! assert_eq!(chunks[1].kind, ChunkKind::Section);
//! assert_eq!((chunks[1].start_line, chunks[1].end_line), (5, 10));
//! assert!(chunks[1].text.starts_with("docs/guide.md > Guide > Install\n\n## Install\n"));
//! // The raw span is always recoverable.
//! assert_eq!(&doc[chunks[1].byte_range.clone()], chunks[1].body());
//!
//! let code = "/// Adds.\n#[inline]\npub fn add(a: u8, b: u8) -> u8 { a + b }\n\nstruct S { s: &'static str }\n";
//! let chunks = chunk("src/lib.rs", code, &options)?;
//! assert_eq!(chunks[0].symbol.as_deref(), Some("add"));
//! assert!(chunks[0].body().starts_with("/// Adds.")); // docs and attributes stay attached
//! assert_eq!(chunks[1].heading_path, ["struct S"]);
//! # Ok::<(), chunk::ChunkError>(())
//! ```
//!
//! ## What a chunk is
//!
//! - [`Chunk::text`] is `"{path} > {heading} > {heading}\n\n{body}"`: the file path and the
//!   heading path joined by `" > "`, a blank line, then the body. Empty parts are left out
//!   (no path and no headings: the text is just the body). Heading-path elements are on one
//!   line and at most 100 characters (longer ones end in `…`).
//! - The body is `&source[byte_range]`, byte for byte ([`Chunk::body`]): leading blank lines
//!   and trailing whitespace are trimmed, the first line keeps its indentation.
//! - `start_line`/`end_line` are 1-based and inclusive; lines end at `\n` (so CRLF works).
//! - `heading_path` is the markdown headings (`["Guide", "Install"]`) or the enclosing code
//!   items (`["impl Foo", "fn bar"]`, `["class A", "def run"]`).
//!
//! ## Guarantees, for any input
//!
//! Chunking never panics and never fails on text (only [`ChunkOptions`] are validated).
//! Chunks come in document order; every non-whitespace character of the input lies in
//! exactly one chunk's `byte_range`; ranges do not overlap unless
//! [`ChunkOptions::overlap_chars`] is set (then only consecutive pieces of one cut section
//! share text); every range lies on `char` boundaries; and no body is longer than
//! [`ChunkOptions::max_chars`] characters. The property tests in `tests/` check these on
//! arbitrary text, generated markdown and generated code.
//!
//! ## How splitting works
//!
//! A front end turns the document into a tree of units that partition it:
//!
//! - **Markdown** ([`Language::Markdown`]): pulldown-cmark finds the top-level blocks; each
//!   top-level heading (ATX or setext) starts a section running to the next heading, with the
//!   path of its ancestors' headings. Headings in fences, HTML blocks or front matter are not
//!   headings. Every heading starts a chunk; block starts are where a long section is cut.
//! - **Code** (Rust, Python, JavaScript, TypeScript/TSX, Go, C, C++, Java): a tree-sitter
//!   grammar parses the file; each top-level item, from its first leading doc comment,
//!   attribute or decorator to the next item, is a unit. Impl and trait blocks, classes,
//!   interfaces, modules and namespaces hold their members (methods) as children, used when
//!   the block is longer than `max_chars`. tree-sitter recovers from syntax errors, so
//!   broken code still splits at the items it can see.
//! - **Everything else** (TOML, YAML, JSON, text, unknown extensions): one unit.
//!
//! A unit longer than `max_chars` is cut at its preferred breaks (markdown blocks, so a
//! fence is cut only if it alone is too long), then blank lines, then lines, then
//! whitespace, then any `char` boundary, packing as much as fits into each piece. Pieces
//! shorter than [`ChunkOptions::min_chars`] are merged into the next sibling (or the previous
//! one) while the result fits. A merged chunk's heading path is the common prefix of its
//! parts' paths, not counting a part whose path is a proper prefix of the next part's (so a
//! lone `## Install` heading merged into `### Linux` gives `[…, "Install", "Linux"]`, and
//! `impl Foo {` merged into its first method gives `["impl Foo", "fn new"]`); its kind and
//! symbol are those of its largest part. Merging never crosses into another parent: a small
//! last method does not join the next top-level item. Everything runs in time linear in the
//! input (tree-sitter and pulldown-cmark parse in linear time too).
//!
//! ## Why tree-sitter and pulldown-cmark
//!
//! Measured on this project's 2-core build machine (clean build, dependencies at
//! `opt-level = 2` as in the workspace):
//!
//! | choice | clean build | notes |
//! |---|---|---|
//! | pulldown-cmark (no default features) | 5.7 s | a CommonMark parser with byte offsets |
//! | tree-sitter 0.26 + 8 grammars, given the workspace's `regex` and `cc` | 15 s CPU (27 s wall on the busy machine) | real parsers, error recovery |
//! | text-splitter 0.33 (markdown + code), no grammars | 236 s wall, 180 s CPU | ICU segmenter and more; no heading paths, symbols or lines |
//!
//! text-splitter cuts by size at semantic levels but does not report heading paths, item
//! names or line numbers, and would still need the grammars; its build cost alone is larger
//! than the whole of this crate's. A hand-written brace and indent scanner would build
//! instantly but has to get Rust raw strings and lifetimes, Python triple quotes and
//! decorators, JavaScript template and regex literals, C++ raw strings and much more right,
//! language by language; tree-sitter's grammars already do, for about fifteen CPU-seconds
//! of compile time the workspace pays once. tree-sitter's C runtime sits behind a safe API; this
//! crate itself forbids `unsafe`. tree-sitter is held at 0.26 because 0.27 needs a newer
//! Rust than the workspace's `rust-version` (1.89); the grammars load through
//! `tree-sitter-language`, and a grammar that fails to load or a parse that does not finish
//! falls back to plain-text splitting.
//!
//! ## Change detection
//!
//! [`content_hash`] is the SHA-256 of the text (as `sha256sum` prints it). Store it with the
//! chunks and [`FORMAT_VERSION`]; re-chunk a file when either differs.

mod code;
mod language;
mod markdown;
mod options;
mod split;

use std::ops::Range;

pub use language::Language;
pub use options::{ChunkError, ChunkOptions};

/// Bumped whenever the same input and options may produce different chunks, so stored
/// chunks made by an older version can be recognised and re-made.
pub const FORMAT_VERSION: u32 = 1;

/// What a chunk mainly holds (for a merged chunk: its largest part).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChunkKind {
    /// A markdown section (or the text before the first heading).
    Section,
    /// A function, method, or function-like macro.
    Function,
    /// A type: struct, enum, class, trait, interface, typedef, or an impl block.
    Type,
    /// A module, namespace, package clause, or module-level docs and attributes.
    Module,
    /// Anything else: imports, constants, statements, plain text, configuration.
    Other,
}

impl ChunkKind {
    /// A short lower-case name, such as `"function"`.
    pub fn name(self) -> &'static str {
        match self {
            ChunkKind::Section => "section",
            ChunkKind::Function => "function",
            ChunkKind::Type => "type",
            ChunkKind::Module => "module",
            ChunkKind::Other => "other",
        }
    }
}

/// A piece of a document, ready to embed and store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The context line, a blank line, then the body: `"docs/guide.md > Install\n\n…"`.
    /// Without a path or headings it is just the body.
    pub text: String,
    /// Markdown headings or enclosing code items, outermost first.
    pub heading_path: Vec<String>,
    /// First line of the body, 1-based.
    pub start_line: usize,
    /// Last line of the body, 1-based, inclusive.
    pub end_line: usize,
    /// The body's byte range in the source text.
    pub byte_range: Range<usize>,
    /// What the chunk mainly holds.
    pub kind: ChunkKind,
    /// The name of the item the chunk holds (`"fuse"` for `pub fn fuse`, `"Foo"` for
    /// `impl Display for Foo<T>`), if it holds a named code item.
    pub symbol: Option<String>,
    body_start: usize,
}

impl Chunk {
    /// The raw span of the source: `&source[self.byte_range.clone()]`.
    pub fn body(&self) -> &str {
        self.text.get(self.body_start..).unwrap_or("")
    }

    /// The context line (`"docs/guide.md > Install"`), empty if there is none.
    pub fn context(&self) -> &str {
        let end = self.body_start.saturating_sub(2);
        self.text.get(..end).unwrap_or("")
    }
}

/// Splits `text`, the content of the file at `path`, in the language its extension says.
///
/// `path` also starts every chunk's context line; pass `""` to leave it out. Fails only if
/// `options` do not [validate](ChunkOptions::validate).
pub fn chunk(path: &str, text: &str, options: &ChunkOptions) -> Result<Vec<Chunk>, ChunkError> {
    chunk_as(Language::from_path(path), path, text, options)
}

/// Like [`chunk`], with the language given instead of detected.
pub fn chunk_as(
    language: Language,
    path: &str,
    text: &str,
    options: &ChunkOptions,
) -> Result<Vec<Chunk>, ChunkError> {
    options.validate()?;
    let root = match language {
        Language::Markdown => markdown::units(text),
        _ => code::units(language, text).unwrap_or_else(|| text_unit(text)),
    };
    Ok(split::chunk_units(text, path, &root, options))
}

fn text_unit(text: &str) -> split::Unit {
    split::Unit::leaf(0..text.len(), Vec::new(), ChunkKind::Other)
}

/// The SHA-256 of `text` as 64 lower-case hex digits, for noticing changed files.
///
/// ```
/// assert_eq!(
///     chunk::content_hash("abc"),
///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// ```
pub fn content_hash(text: &str) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write;
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

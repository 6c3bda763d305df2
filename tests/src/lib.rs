//! Cross-crate and multi-process tests of the brain.
//!
//! The tests in `tests/` drive the helper binaries in `src/bin/` as separate
//! processes: two writers on one SQLite file at once, and a writer killed with
//! `SIGKILL` mid-stream whose acknowledged writes must all survive.
//!
//! ```
//! // The helper prints one acknowledgement per returned write, e.g. `m <uuid>`.
//! assert_eq!(brain_tests::ack_kind("m 0190-..."), Some('m'));
//! ```

/// The record kind of an acknowledgement line printed by `sqlite-writer`
/// (`m` memory, `p` preference, `e` learning event, `d` decision, `c` pattern count).
pub fn ack_kind(line: &str) -> Option<char> {
    let mut chars = line.chars();
    let kind = chars.next()?;
    (chars.next() == Some(' ')).then_some(kind)
}

/// A tiny deterministic generator (xorshift64), so kill points and writer choices vary
/// between rounds while a failing run reproduces from its seed.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from `seed` (0 is replaced, since xorshift would stay at 0).
    pub fn new(seed: u64) -> Self {
        XorShift(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next number.
    #[allow(clippy::should_implement_trait)] // not an iterator: it never ends
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// How many markdown files the `brain-worker` ingests (`docs/f<k>.md` in its data dir).
pub const DOC_FILES: u64 = 6;

/// The number of sections of version `version` of doc file `file` (1 to 5), so a
/// re-ingest may add or drop chunks.
pub fn doc_sections(file: u64, version: u64) -> u64 {
    1 + (file.wrapping_mul(31) ^ version.wrapping_mul(17)) % 5
}

/// The text of version `version` of doc file `file`: one heading per section, and in
/// every section a marker `docmark f<file> v<version> s<section>` so a crash test can
/// tell which version and which sections each stored chunk came from.
///
/// ```
/// let t = brain_tests::doc_text(2, 7);
/// assert!(t.contains("docmark f2 v7 s0 "));
/// ```
pub fn doc_text(file: u64, version: u64) -> String {
    let mut s = format!("# File {file} version {version}\n\n");
    for section in 0..doc_sections(file, version) {
        s.push_str(&format!(
            "## Section {section}\n\ndocmark f{file} v{version} s{section} end. \
             Notes on topic {} of file {file}, written for version {version}.\n\n",
            (file * 7 + version * 3 + section) % 11
        ));
    }
    s
}

/// The `(file, version, section)` markers in a chunk's text.
///
/// ```
/// assert_eq!(brain_tests::doc_marks("x docmark f1 v2 s3 end"), vec![(1, 2, 3)]);
/// ```
pub fn doc_marks(text: &str) -> Vec<(u64, u64, u64)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("docmark ") {
        rest = &rest[i + "docmark ".len()..];
        let mut parts = rest.split_whitespace();
        let num = |p: Option<&str>, c: char| p.and_then(|p| p.strip_prefix(c)?.parse().ok());
        if let (Some(f), Some(v), Some(s)) = (
            num(parts.next(), 'f'),
            num(parts.next(), 'v'),
            num(parts.next(), 's'),
        ) {
            out.push((f, v, s));
        }
    }
    out
}

/// The configuration the `brain-worker` and the brain crash test open their brain with:
/// the hashing embedder (no model), a small dimension, and frequent index snapshots so
/// kills land in the middle of them too.
pub fn crash_config(data_dir: &std::path::Path) -> brain::BrainConfig {
    let mut config = brain::BrainConfig {
        data_dir: data_dir.to_path_buf(),
        ..brain::BrainConfig::default()
    };
    config.embedder.kind = brain::config::EmbedderKind::Hashing;
    config.embedder.dimension = 64;
    config.index.snapshot_every = 25;
    config
}

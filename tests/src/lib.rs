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

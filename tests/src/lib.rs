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

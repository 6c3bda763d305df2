//! Invariants of the composition root's own code: the `ChunkSplitter` adapter and the
//! mapping of configuration onto engine parameters.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use brain::{BrainConfig, Splitter};
use brain_engines::ChunkSplitter;
use proptest::prelude::*;

/// Markdown-ish and code-ish text: headings, fences, blank lines, long lines.
fn document() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        "[a-z ]{0,80}".prop_map(|s| s),
        "#{1,3} [A-Za-z ]{1,20}".prop_map(|s| s),
        Just("```".to_owned()),
        Just(String::new()),
        "fn [a-z]{1,8}\\(\\) \\{ [a-z;]{0,40} \\}".prop_map(|s| s),
        "[ -~]{0,200}".prop_map(|s| s),
    ];
    prop::collection::vec(line, 0..60).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every chunk the adapter hands the facade has a non-blank body within the limit,
    /// lines inside the document in order, and text that is its context plus its body.
    #[test]
    fn chunks_are_well_formed(
        text in document(),
        max_chars in 100usize..1500,
        path in prop_oneof![Just("notes.md"), Just("src/lib.rs"), Just("plain.txt")],
    ) {
        let chunks = ChunkSplitter.split(path, &text, max_chars).unwrap();
        let lines = text.lines().count().max(1);
        let mut last_start = 0;
        for c in &chunks {
            prop_assert!(!c.text.trim().is_empty(), "a blank chunk reached the facade");
            prop_assert!(c.start_line >= 1 && c.start_line <= c.end_line, "{c:?}");
            prop_assert!(c.end_line <= lines + 1, "line {} of {lines}", c.end_line);
            prop_assert!(c.start_line >= last_start, "chunks out of order");
            last_start = c.start_line;
            prop_assert!(!c.kind.is_empty());
        }
        // Whatever was not whitespace is in some chunk.
        let non_blank = text.chars().any(|ch| !ch.is_whitespace());
        prop_assert_eq!(non_blank, !chunks.is_empty());
    }

    /// The index parameters are the configuration's, for any dimension.
    #[test]
    fn hnsw_params_follow_the_configuration(
        m in 4usize..64,
        ef_construction in 16usize..400,
        ef_search in 8usize..400,
        dimension in 1usize..2048,
    ) {
        let mut config = BrainConfig::default();
        config.index.m = m;
        config.index.ef_construction = ef_construction;
        config.index.ef_search = ef_search;
        let p = brain_engines::hnsw_params(&config, dimension);
        prop_assert_eq!(p.dimension, dimension);
        prop_assert_eq!(p.m, m);
        prop_assert_eq!(p.ef_construction, ef_construction);
        prop_assert_eq!(p.ef_search, ef_search);
    }
}

/// A configuration the facade accepts but the engines cannot build is refused by
/// `validate`, which `open` runs first.
#[test]
fn validate_adds_the_engines_checks() {
    let mut config = BrainConfig::default();
    config.index.m = 0;
    assert!(
        config.validate().is_ok(),
        "the facade does not know the index"
    );
    let err = brain_engines::validate(&config).unwrap_err();
    assert!(err.to_string().contains("index"), "{err}");
}

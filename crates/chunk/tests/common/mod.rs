//! The invariants every chunking must keep, checked in one place.

use chunk::{Chunk, ChunkOptions};

/// Panics with a description if `chunks` of `text` break a documented guarantee.
pub(crate) fn check_invariants(text: &str, chunks: &[Chunk], options: &ChunkOptions) {
    let mut coverage = vec![0i64; text.len() + 1];
    for (i, c) in chunks.iter().enumerate() {
        let r = c.byte_range.clone();
        assert!(r.start < r.end, "chunk {i} is empty: {r:?}");
        assert!(r.end <= text.len(), "chunk {i} out of bounds: {r:?}");
        assert!(
            text.is_char_boundary(r.start) && text.is_char_boundary(r.end),
            "chunk {i} not on char boundaries: {r:?}"
        );
        let body = &text[r.clone()];
        assert_eq!(
            c.body(),
            body,
            "chunk {i}: body differs from the source span"
        );
        assert!(!body.trim().is_empty(), "chunk {i} is blank");
        let chars = body.chars().count();
        assert!(
            chars <= options.max_chars,
            "chunk {i} has {chars} chars > max {}",
            options.max_chars
        );
        let expected_text = if c.context().is_empty() {
            body.to_owned()
        } else {
            format!("{}\n\n{}", c.context(), body)
        };
        assert_eq!(
            c.text, expected_text,
            "chunk {i}: text is not context + body"
        );
        assert!(
            !c.context().contains('\n'),
            "chunk {i}: context spans lines"
        );
        let start_line = text[..r.start].matches('\n').count() + 1;
        let end_line = text[..r.end].matches('\n').count() + 1;
        assert_eq!(
            (c.start_line, c.end_line),
            (start_line, end_line),
            "chunk {i}: lines"
        );
        coverage[r.start] += 1;
        coverage[r.end] -= 1;
        if i > 0 {
            let prev = &chunks[i - 1].byte_range;
            if options.overlap_chars == 0 {
                assert!(
                    prev.end <= r.start,
                    "chunks {} and {i} overlap or are out of order: {prev:?} {r:?}",
                    i - 1
                );
            } else {
                assert!(
                    prev.start < r.start && prev.end < r.end,
                    "chunks {} and {i} out of order: {prev:?} {r:?}",
                    i - 1
                );
            }
        }
    }
    // Running sum of the difference array: how many chunks hold each byte.
    let mut depth = 0i64;
    let mut counts = vec![0i64; text.len()];
    for (b, count) in counts.iter_mut().enumerate() {
        depth += coverage[b];
        *count = depth;
    }
    for (i, ch) in text.char_indices() {
        if ch.is_whitespace() {
            continue;
        }
        let n = counts[i];
        if options.overlap_chars == 0 {
            assert_eq!(n, 1, "byte {i} ({ch:?}) is in {n} chunks");
        } else {
            assert!(n >= 1, "byte {i} ({ch:?}) is in no chunk");
        }
    }
}

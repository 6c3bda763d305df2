//! `distill::parse_groups` on any text and pattern count: no panic; an accepted grouping is
//! a partition of `0..n` (every index exactly once, no group empty).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the number of patterns (0..=63), the rest is the answer.
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(first % 64);
    let text = String::from_utf8_lossy(rest);
    if let Ok(groups) = distill::parse_groups(&text, n) {
        let mut seen = vec![false; n];
        for g in &groups {
            assert!(!g.is_empty());
            for &i in g {
                assert!(i < n && !seen[i], "index {i} out of range or repeated");
                seen[i] = true;
            }
        }
        assert!(seen.iter().all(|&s| s), "an index is missing: {groups:?}");
    }
});

//! Property tests of hybrid recall fusion.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use std::collections::HashSet;

use memory_core::*;
use proptest::prelude::*;

fn lists() -> impl Strategy<Value = (Vec<MemoryId>, Vec<usize>, Vec<usize>, Vec<f64>)> {
    (2usize..30).prop_flat_map(|n| {
        let ids: Vec<MemoryId> = (0..n).map(|_| MemoryId::new()).collect();
        (
            Just(ids),
            proptest::sample::subsequence((0..n).collect::<Vec<_>>(), 0..=n).prop_shuffle(),
            proptest::sample::subsequence((0..n).collect::<Vec<_>>(), 0..=n).prop_shuffle(),
            proptest::collection::vec(0.0f64..=1.0, n),
        )
    })
}

proptest! {
    #[test]
    fn fusion_is_total_sorted_and_explained((ids, kw, vec_, imp) in lists()) {
        let now = Timestamp::now();
        let keyword: Vec<MemoryId> = kw.iter().map(|&i| ids[i]).collect();
        let vector: Vec<(MemoryId, f32)> = vec_.iter().map(|&i| (ids[i], 0.5)).collect();
        let index = |id: MemoryId| ids.iter().position(|x| *x == id).unwrap();
        let sig = |id| Signals::new(imp[index(id)], now);
        let hits = fuse(&keyword, &vector, sig, &RecallWeights::default(), now);
        let expected: HashSet<MemoryId> = keyword.iter().chain(vector.iter().map(|(i, _)| i)).copied().collect();
        prop_assert_eq!(hits.iter().map(|h| h.id).collect::<HashSet<_>>(), expected);
        prop_assert_eq!(hits.len(), hits.iter().map(|h| h.id).collect::<HashSet<_>>().len());
        for w in hits.windows(2) {
            prop_assert!(w[0].parts.total >= w[1].parts.total);
        }
        for h in &hits {
            let p = h.parts;
            prop_assert!((p.total - (p.keyword + p.vector + p.importance + p.recency + p.outcome)).abs() < 1e-9);
            prop_assert!(p.keyword >= 0.0 && p.vector >= 0.0 && p.keyword + p.vector <= 1.0 + 1e-9);
        }
        // Deterministic.
        let again = fuse(&keyword, &vector, sig, &RecallWeights::default(), now);
        prop_assert_eq!(hits, again);
    }

    #[test]
    fn a_better_rank_never_scores_lower(n in 2usize..40, a in 0usize..40, b in 0usize..40) {
        let ids: Vec<MemoryId> = (0..n).map(|_| MemoryId::new()).collect();
        let (a, b) = (a % n, b % n);
        let now = Timestamp::now();
        let flat = |_| Signals::new(0.5, now);
        let hits = fuse(&ids, &[], flat, &RecallWeights::default(), now);
        let score = |i: usize| hits.iter().find(|h| h.id == ids[i]).unwrap().parts.total;
        if a < b {
            prop_assert!(score(a) >= score(b));
        }
    }

    #[test]
    fn any_weights_validate_or_are_rejected(k in -10.0f64..100.0, w in -1.0f64..2.0) {
        let weights = RecallWeights { rrf_k: k, keyword: w, ..RecallWeights::default() };
        prop_assert_eq!(weights.validate().is_ok(), k > 0.0 && w >= 0.0);
    }
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Property tests of the crate's own invariants: the hashing embedder's vectors, the
//! batch plan and order restoration, and pooling's handling of padding.

use embed::HashingEmbedder;
use embed::batch::{BatchLimits, plan_batches, restore_order};
use embed::pooling::{PoolingMode, normalize, pool};
use proptest::prelude::*;

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt()
}

fn any_mode() -> impl Strategy<Value = PoolingMode> {
    prop_oneof![
        Just(PoolingMode::Cls),
        Just(PoolingMode::Max),
        Just(PoolingMode::Mean),
        Just(PoolingMode::MeanSqrtLen),
        Just(PoolingMode::WeightedMean),
        Just(PoolingMode::LastToken),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn hashing_vectors_are_unit_and_deterministic(text in any::<String>(), dim in 1usize..1024) {
        let e = HashingEmbedder::new(dim).unwrap();
        let v = e.embed_one(&text);
        prop_assert_eq!(v.len(), dim);
        prop_assert!(v.iter().all(|x| x.is_finite()));
        prop_assert!((norm(&v) - 1.0).abs() < 1e-5, "norm {}", norm(&v));
        // Same text, same vector: from the same embedder and from a new one.
        prop_assert_eq!(&v, &e.embed_one(&text));
        prop_assert_eq!(&v, &HashingEmbedder::new(dim).unwrap().embed_one(&text));
    }

    #[test]
    fn hashing_batches_equal_single_calls(texts in prop::collection::vec("\\PC{0,40}", 0..12)) {
        let e = HashingEmbedder::default();
        let batch = e.embed_batch(&texts);
        prop_assert_eq!(batch.len(), texts.len());
        for (t, v) in texts.iter().zip(&batch) {
            prop_assert_eq!(v, &e.embed_one(t));
        }
    }

    #[test]
    fn hashing_ignores_case_and_separators(words in prop::collection::vec("[a-zA-Z0-9]{1,8}", 1..8)) {
        let e = HashingEmbedder::default();
        let spaced = words.join(" ");
        let punctuated = words.join(", ").to_uppercase();
        prop_assert_eq!(e.embed_one(&spaced), e.embed_one(&punctuated));
    }

    #[test]
    fn batch_plan_covers_every_input_once(
        lengths in prop::collection::vec(1usize..300, 0..200),
        max_sequences in 1usize..80,
        max_tokens in 1usize..10_000,
    ) {
        let limits = BatchLimits { max_sequences, max_tokens };
        let batches = plan_batches(&lengths, limits);
        let mut seen = vec![0u32; lengths.len()];
        for b in &batches {
            prop_assert!(!b.is_empty());
            prop_assert!(b.len() <= max_sequences);
            let longest = b.iter().map(|&i| lengths[i]).max().unwrap();
            prop_assert!(b.len() == 1 || b.len() * longest <= max_tokens);
            // Ascending length inside a batch, and batches in ascending order.
            prop_assert!(b.windows(2).all(|w| lengths[w[0]] <= lengths[w[1]]));
            for &i in b {
                seen[i] += 1;
            }
        }
        prop_assert!(seen.iter().all(|&c| c == 1));
        for w in batches.windows(2) {
            let last = *w[0].last().unwrap();
            prop_assert!(lengths[last] <= lengths[w[1][0]]);
        }
        // Results computed per batch come back in input order.
        let results: Vec<Vec<(usize, usize)>> =
            batches.iter().map(|b| b.iter().map(|&i| (i, lengths[i])).collect()).collect();
        let restored = restore_order(lengths.len(), &batches, results).unwrap();
        let want: Vec<(usize, usize)> = lengths.iter().copied().enumerate().collect();
        prop_assert_eq!(restored, want);
    }

    #[test]
    fn restore_order_rejects_wrong_plans(n in 1usize..20, drop_one in any::<prop::sample::Index>()) {
        // A plan missing one index cannot be restored.
        let mut idx: Vec<usize> = (0..n).collect();
        idx.remove(drop_one.index(n));
        let results = vec![idx.clone()];
        prop_assert!(restore_order(n, &[idx], results).is_none());
    }

    #[test]
    fn padding_never_changes_pooling(
        rows in prop::collection::vec(1usize..8, 1..5),
        dim in 1usize..6,
        modes in prop::collection::vec(any_mode(), 1..4),
        seed in any::<u64>(),
    ) {
        let seq = *rows.iter().max().unwrap() + 2;
        let mut s = seed | 1;
        let mut next = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s % 2001) as f32 / 100.0 - 10.0
        };
        let real: Vec<f32> = (0..rows.len() * seq * dim).map(|_| next()).collect();
        // The same real tokens with different garbage (huge values, NaN) in the padding.
        let mut garbage_a = real.clone();
        let mut garbage_b = real.clone();
        for (r, &len) in rows.iter().enumerate() {
            for t in len..seq {
                for d in 0..dim {
                    let i = (r * seq + t) * dim + d;
                    garbage_a[i] = 1e30;
                    garbage_b[i] = f32::NAN;
                }
            }
        }
        let a = pool(&garbage_a, seq, dim, &rows, &modes);
        let b = pool(&garbage_b, seq, dim, &rows, &modes);
        prop_assert_eq!(a.len(), rows.len());
        for (va, vb) in a.iter().zip(&b) {
            prop_assert_eq!(va.len(), modes.len() * dim);
            prop_assert!(va.iter().all(|x| x.is_finite()));
            prop_assert_eq!(va, vb);
        }
        // Mean pooling is the plain mean of the real tokens.
        let means = pool(&garbage_a, seq, dim, &rows, &[PoolingMode::Mean]);
        for (r, &len) in rows.iter().enumerate() {
            for d in 0..dim {
                let want: f32 =
                    (0..len).map(|t| real[(r * seq + t) * dim + d]).sum::<f32>() / len as f32;
                prop_assert!((means[r][d] - want).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn normalize_gives_unit_vectors(v in prop::collection::vec(-1e6f32..1e6, 1..64)) {
        let mut w = v.clone();
        if normalize(&mut w) {
            prop_assert!((norm(&w) - 1.0).abs() < 1e-5);
        } else {
            prop_assert!(v.iter().all(|x| *x == 0.0));
            prop_assert_eq!(w, v);
        }
    }
}

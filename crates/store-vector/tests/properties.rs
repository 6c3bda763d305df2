//! Property tests: filters follow the reference semantics, deleted ids never come back,
//! the HNSW index agrees with the exact one, and filtered searches return k hits when k
//! entries pass.
//!
//! The recall property runs on 10,000 clustered vectors of dimension 32 by default;
//! `STORE_VECTOR_RECALL_N`, `STORE_VECTOR_RECALL_DIM` and `STORE_VECTOR_RECALL_CASES`
//! scale it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeSet, HashMap};

use common::*;
use memory_core::conformance::filter_strategy;
use memory_core::{MemoryFilter, MemoryId, Scope, Timestamp, VectorEntry, VectorHit, VectorQuery};
use proptest::prelude::*;
use store_vector::{FlatIndex, HnswIndex, HnswParams};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn q(vector: Vec<f32>, k: usize, filter: MemoryFilter, now: Timestamp) -> VectorQuery {
    VectorQuery {
        vector,
        k,
        filter,
        now,
    }
}

fn ids(hits: &[VectorHit]) -> BTreeSet<MemoryId> {
    hits.iter().map(|h| h.id).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Both indexes select exactly what `MemoryFilter::matches` selects; the flat index
    /// ranks exactly as the reference, and the HNSW index (made to use its graph even at
    /// this size) returns min(k, passing) hits, all passing.
    #[test]
    fn filters_follow_the_reference(
        n in 30usize..200,
        seed in any::<u64>(),
        k in 1usize..40,
        filters in proptest::collection::vec(filter_strategy(), 4),
    ) {
        let now_ms = base_now();
        let now = Timestamp::from_millis(now_ms);
        let vs = clustered(n + 4, 8, 5, seed);
        let entries: Vec<VectorEntry> = (0..n).map(|i| entry(i, vs[i].clone(), now_ms)).collect();
        let model: HashMap<MemoryId, VectorEntry> = entries.iter().map(|e| (e.id, e.clone())).collect();
        let flat = FlatIndex::new(8).unwrap();
        flat.upsert_blocking(entries.clone()).unwrap();
        let hnsw = HnswIndex::build(HnswParams::new(8).with_m(6).with_exact_threshold(0), entries).unwrap();
        for (f, qv) in filters.iter().zip(&vs[n..]) {
            let want = reference_top_k(&model, qv, k, f, now);
            let passing = model.values().filter(|e| matches(f, e, now)).count();
            prop_assert_eq!(want.len(), k.min(passing));

            let got = flat.search_blocking(&q(qv.clone(), k, f.clone(), now)).unwrap();
            prop_assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(&want) {
                prop_assert!(matches(f, &model[&g.id], now), "flat returned {} outside {:?}", g.id, f);
                prop_assert!((f64::from(g.similarity) - w.1).abs() < 1e-4, "flat ranks differently");
            }

            let got = hnsw.search_blocking(&q(qv.clone(), k, f.clone(), now)).unwrap();
            prop_assert_eq!(got.len(), want.len(), "hnsw: wrong number of hits for {:?}", f);
            prop_assert_eq!(ids(&got).len(), got.len(), "hnsw returned an id twice");
            for g in &got {
                prop_assert!(matches(f, &model[&g.id], now), "hnsw returned {} outside {:?}", g.id, f);
            }
            prop_assert!(got.windows(2).all(|w| w[0].similarity >= w[1].similarity));
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Upsert(Vec<(usize, u64)>),
    Delete(Vec<usize>),
    Search(u64, usize),
    Rebuild,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => proptest::collection::vec((0usize..48, any::<u64>()), 1..40).prop_map(Op::Upsert),
        3 => proptest::collection::vec(0usize..48, 1..12).prop_map(Op::Delete),
        3 => (any::<u64>(), 1usize..60).prop_map(|(s, k)| Op::Search(s, k)),
        1 => Just(Op::Rebuild),
    ]
}

fn vector_for(seed: u64, dim: usize) -> Vec<f32> {
    // A few shared centres, so entries crowd and the graph has to choose.
    let mut rng = TestRng::new(seed);
    let centre = clustered(4, dim, 4, 99)[rng.below(4)].clone();
    centre.iter().map(|x| x + 0.3 * rng.normal()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// After any sequence of upserts, deletes and rebuilds (explicit, and background
    /// ones at 20% tombstones), a search returns only live ids, min(k, live) of them,
    /// and a deleted id never comes back.
    #[test]
    fn deleted_ids_never_come_back(ops in proptest::collection::vec(op(), 1..80)) {
        let dim = 8;
        let hnsw = HnswIndex::new(HnswParams::new(dim).with_m(4).with_exact_threshold(0)).unwrap();
        let flat = FlatIndex::new(dim).unwrap();
        let mut model: HashMap<MemoryId, VectorEntry> = HashMap::new();
        let mut ever_deleted: BTreeSet<MemoryId> = BTreeSet::new();
        let now = Timestamp::now();
        for op in ops {
            match op {
                Op::Upsert(items) => {
                    let es: Vec<VectorEntry> = items.iter().map(|(i, s)| plain(*i, vector_for(*s, dim))).collect();
                    hnsw.upsert_blocking(es.clone()).unwrap();
                    flat.upsert_blocking(es.clone()).unwrap();
                    for e in es {
                        ever_deleted.remove(&e.id);
                        model.insert(e.id, e);
                    }
                }
                Op::Delete(rows) => {
                    let del: Vec<MemoryId> = rows.iter().map(|i| id(*i)).collect();
                    let unique: BTreeSet<MemoryId> = del.iter().copied().collect();
                    let existed = unique.iter().filter(|i| model.contains_key(i)).count();
                    prop_assert_eq!(hnsw.delete_blocking(&del), existed);
                    prop_assert_eq!(flat.delete_blocking(&del), existed);
                    for i in unique {
                        model.remove(&i);
                        ever_deleted.insert(i);
                        prop_assert!(!hnsw.contains(i));
                    }
                }
                Op::Search(s, k) => {
                    let hits = hnsw.search_blocking(&q(vector_for(s, dim), k, MemoryFilter::default(), now)).unwrap();
                    prop_assert_eq!(hits.len(), k.min(model.len()));
                    prop_assert_eq!(ids(&hits).len(), hits.len());
                    for h in &hits {
                        prop_assert!(model.contains_key(&h.id), "{} is not live", h.id);
                        prop_assert!(!ever_deleted.contains(&h.id), "deleted {} came back", h.id);
                    }
                    let exact = flat.search_blocking(&q(vector_for(s, dim), k, MemoryFilter::default(), now)).unwrap();
                    prop_assert_eq!(exact.len(), hits.len());
                }
                Op::Rebuild => hnsw.rebuild_blocking().unwrap(),
            }
            prop_assert_eq!(hnsw.stats().live, model.len());
        }
        hnsw.wait_for_rebuild();
        let all = hnsw.search_blocking(&q(vector_for(1, dim), 1000, MemoryFilter::default(), now)).unwrap();
        prop_assert_eq!(ids(&all), model.keys().copied().collect::<BTreeSet<_>>());
    }
}

/// Mean recall@10 of `index` against `flat` on `queries`.
fn mean_recall(
    index: &HnswIndex,
    flat: &FlatIndex,
    queries: &[Vec<f32>],
    filter: &MemoryFilter,
) -> f64 {
    let now = Timestamp::now();
    let total: f64 = queries
        .iter()
        .map(|v| {
            let got = index
                .search_blocking(&q(v.clone(), 10, filter.clone(), now))
                .unwrap();
            let want = flat
                .search_blocking(&q(v.clone(), 10, filter.clone(), now))
                .unwrap();
            recall(&got, &want)
        })
        .sum();
    total / queries.len() as f64
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(env_usize("STORE_VECTOR_RECALL_CASES", 3) as u32))]

    /// After bulk and batched upserts, deletes and replacements — enough to trigger a
    /// background rebuild — the HNSW index agrees with the exact index at recall@10 >=
    /// 0.95, during the rebuild and after it.
    #[test]
    fn hnsw_agrees_with_exact_search(
        seed in any::<u64>(),
        batch in 1usize..3000,
        delete_share in 0.0f64..0.35,
        replace_share in 0.0f64..0.2,
    ) {
        let n = env_usize("STORE_VECTOR_RECALL_N", 10_000);
        let dim = env_usize("STORE_VECTOR_RECALL_DIM", 32);
        // Overlapping clusters, so that the neighbourhoods are not trivial.
        let noise = std::env::var("STORE_VECTOR_RECALL_NOISE").ok().and_then(|v| v.parse().ok()).unwrap_or(1.0);
        let vs = clustered_with(2 * n + 200, dim, 32, noise, seed);
        let params = HnswParams::new(dim);
        let hnsw = HnswIndex::new(params).unwrap();
        let flat = FlatIndex::new(dim).unwrap();
        for rows in (0..n).collect::<Vec<_>>().chunks(batch) {
            let es: Vec<VectorEntry> = rows.iter().map(|i| plain(*i, vs[*i].clone())).collect();
            hnsw.upsert_blocking(es.clone()).unwrap();
            flat.upsert_blocking(es).unwrap();
        }
        let mut rng = TestRng::new(seed ^ 1);
        let doomed: Vec<MemoryId> = (0..n).filter(|_| rng.unit() < delete_share).map(id).collect();
        for chunk in doomed.chunks(97) {
            prop_assert_eq!(hnsw.delete_blocking(chunk), flat.delete_blocking(chunk));
        }
        let replaced: Vec<VectorEntry> = (0..n)
            .filter(|_| rng.unit() < replace_share)
            .map(|i| plain(i, vs[n + i].clone()))
            .collect();
        for chunk in replaced.chunks(501) {
            hnsw.upsert_blocking(chunk.to_vec()).unwrap();
            flat.upsert_blocking(chunk.to_vec()).unwrap();
        }
        prop_assert_eq!(hnsw.stats().live, flat.len_blocking());
        let queries = &vs[2 * n..];
        let during = mean_recall(&hnsw, &flat, queries, &MemoryFilter::default());
        hnsw.wait_for_rebuild();
        let after = mean_recall(&hnsw, &flat, queries, &MemoryFilter::default());
        let s = hnsw.stats();
        eprintln!("n {n} dim {dim} batch {batch}: deleted {}, replaced {}; recall@10 {during:.4} then {after:.4} after {} rebuilds ({} tombstones)",
            doomed.len(), replaced.len(), s.rebuilds, s.tombstones);
        prop_assert!(during >= 0.95, "recall@10 {during} < 0.95");
        prop_assert!(after >= 0.95, "recall@10 {after} < 0.95 after the rebuild");
    }
}

/// Users with geometrically shrinking shares: user j owns about 2^-(j+1) of the rows.
fn skewed_user(rng: &mut TestRng) -> String {
    let mut j = 0;
    while j < 11 && rng.unit() < 0.5 {
        j += 1;
    }
    format!("u{j}")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// Filters of every selectivity (half the index down to a handful of rows) return
    /// min(k, passing) hits, all in scope, and close to the exact ones.
    #[test]
    fn filtered_search_returns_k_when_k_pass(
        seed in any::<u64>(),
        k in 1usize..64,
        exact_threshold in prop_oneof![Just(0usize), Just(100), Just(2000)],
    ) {
        let n = 4000;
        let dim = 16;
        let vs = clustered(n + 40, dim, 20, seed);
        let mut rng = TestRng::new(seed);
        let entries: Vec<VectorEntry> = (0..n)
            .map(|i| {
                let mut e = plain(i, vs[i].clone());
                e.scope = Scope::user(skewed_user(&mut rng));
                e
            })
            .collect();
        let mut count: HashMap<String, usize> = HashMap::new();
        for e in &entries {
            *count.entry(e.scope.user.clone().unwrap()).or_default() += 1;
        }
        let flat = FlatIndex::new(dim).unwrap();
        flat.upsert_blocking(entries.clone()).unwrap();
        let hnsw = HnswIndex::build(HnswParams::new(dim).with_exact_threshold(exact_threshold), entries).unwrap();
        // Tombstones too, so the filtered graph search has to skip them.
        let dead: Vec<MemoryId> = (0..n).step_by(13).map(id).collect();
        hnsw.delete_blocking(&dead);
        flat.delete_blocking(&dead);
        let now = Timestamp::now();
        let mut recalls = Vec::new();
        for u in 0..12 {
            let user = format!("u{u}");
            let f = MemoryFilter::scoped(Scope::user(user.clone()));
            let passing = flat.search_blocking(&q(vs[0].clone(), n, f.clone(), now)).unwrap().len();
            prop_assert!(passing <= count.get(&user).copied().unwrap_or(0));
            for qv in &vs[n..n + 3] {
                let got = hnsw.search_blocking(&q(qv.clone(), k, f.clone(), now)).unwrap();
                prop_assert_eq!(got.len(), k.min(passing), "{} of {} hits for {}", got.len(), k.min(passing), user);
                for h in &got {
                    prop_assert!(flat.contains(h.id), "a deleted id came back");
                }
                let want = flat.search_blocking(&q(qv.clone(), k, f.clone(), now)).unwrap();
                // Everything returned is in scope: the exact index with the same filter
                // would return it for a large enough k.
                let in_scope = ids(&flat.search_blocking(&q(qv.clone(), n, f.clone(), now)).unwrap());
                prop_assert!(ids(&got).is_subset(&in_scope), "out-of-scope hit for {}", user);
                recalls.push(recall(&got, &want));
            }
        }
        let mean = recalls.iter().sum::<f64>() / recalls.len() as f64;
        prop_assert!(mean >= 0.95, "filtered recall {mean}");
    }
}

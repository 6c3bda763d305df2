//! The vector index conformance suites: [`VectorIndex`] (search, replace, delete, bad
//! input, filters inside the search) and [`DerivedIndex`] (caught up from an
//! [`EmbeddingStore`]'s log).
//!
//! Each `pub async fn` takes a fresh, empty index and panics with a message when the
//! index breaks the contract. [`crate::vector_index_suite!`] and
//! [`crate::derived_index_suite!`] generate one test per check.

use crate::testing::MemoryEmbeddings;
use crate::*;

/// A deterministic unit-ish vector of `dim` for `seed` (splitmix64, never all zero).
pub fn test_vector(dim: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03;
    let mut v: Vec<f32> = (0..dim)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            (z >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0
        })
        .collect();
    if v.iter().all(|x| *x == 0.0) {
        v[0] = 1.0;
    }
    v
}

/// An entry for `user` with the vector of `seed`.
pub fn test_entry(dim: usize, seed: u64, user: &str) -> VectorEntry {
    VectorEntry {
        id: MemoryId::from_bytes(u128::from(seed).to_be_bytes()),
        vector: test_vector(dim, seed),
        scope: Scope::user(user),
        kind: MemoryKind::fact(),
        metadata: Metadata::new(),
        created_at: Timestamp::from_millis(1_700_000_000_000),
        expires_at: None,
    }
}

/// A query for `vector` over every entry (expired ones included).
pub fn query_all(vector: Vec<f32>, k: usize) -> VectorQuery {
    VectorQuery {
        vector,
        k,
        filter: MemoryFilter {
            include_expired: true,
            ..MemoryFilter::default()
        },
        now: Timestamp::from_millis(1_700_000_000_000),
    }
}

fn assert_invalid<T: std::fmt::Debug>(r: Result<T>, what: &str) {
    match r {
        Err(Error::InvalidInput(_)) => {}
        other => panic!("{what}: expected InvalidInput, got {other:?}"),
    }
}

async fn all_ids(index: &dyn VectorIndex, k: usize) -> std::collections::BTreeSet<MemoryId> {
    let q = query_all(test_vector(index.dimension(), 999_999), k);
    index
        .search(&q)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.id)
        .collect()
}

/// Empty, then filled: every entry is its own nearest neighbour, hits come nearest first
/// with similarities in `[-1, 1]`, and `k` past the size returns everything once.
pub async fn vector_round_trip(index: &dyn VectorIndex) {
    let dim = index.dimension();
    assert!(dim > 0, "dimension");
    assert_eq!(index.len().await.unwrap(), 0, "a fresh index is empty");
    assert!(index.is_empty().await.unwrap());
    let q = query_all(test_vector(dim, 1), 5);
    assert!(
        index.search(&q).await.unwrap().is_empty(),
        "search of an empty index"
    );
    let entries: Vec<VectorEntry> = (1..=40).map(|s| test_entry(dim, s, "alice")).collect();
    index.upsert(entries.clone()).await.unwrap();
    assert_eq!(index.len().await.unwrap(), 40);
    for e in &entries {
        let hits = index.search(&query_all(e.vector.clone(), 3)).await.unwrap();
        assert_eq!(hits.len(), 3, "k = 3 of 40");
        assert_eq!(hits[0].id, e.id, "an entry is its own nearest neighbour");
        assert!(
            hits[0].similarity > 0.99,
            "self-similarity {}",
            hits[0].similarity
        );
        for w in hits.windows(2) {
            assert!(
                w[0].similarity >= w[1].similarity,
                "nearest first: {hits:?}"
            );
        }
        for h in &hits {
            assert!(
                (-1.0..=1.0).contains(&h.similarity),
                "similarity {}",
                h.similarity
            );
        }
    }
    let everything = index
        .search(&query_all(test_vector(dim, 7), 1000))
        .await
        .unwrap();
    assert_eq!(everything.len(), 40, "k past the size returns every entry");
    let distinct: std::collections::BTreeSet<MemoryId> = everything.iter().map(|h| h.id).collect();
    assert_eq!(distinct.len(), 40, "each entry once");
}

/// An upsert of a stored id replaces its vector (never a second entry); a delete
/// removes, counts only what it removed, and a deleted id is never returned.
pub async fn vector_replace_and_delete(index: &dyn VectorIndex) {
    let dim = index.dimension();
    let entries: Vec<VectorEntry> = (1..=10).map(|s| test_entry(dim, s, "alice")).collect();
    index.upsert(entries.clone()).await.unwrap();
    let mut moved = entries[0].clone();
    moved.vector = test_vector(dim, 500);
    index.upsert(vec![moved.clone()]).await.unwrap();
    assert_eq!(
        index.len().await.unwrap(),
        10,
        "a replacement is not a new entry"
    );
    let hits = index
        .search(&query_all(moved.vector.clone(), 1))
        .await
        .unwrap();
    assert_eq!(hits[0].id, moved.id, "found at its new vector");
    assert!(hits[0].similarity > 0.99);
    let removed = index
        .delete(&[entries[1].id, entries[2].id, MemoryId::from_bytes([7; 16])])
        .await
        .unwrap();
    assert_eq!(removed, 2, "only stored ids count");
    assert_eq!(
        index.delete(&[entries[1].id]).await.unwrap(),
        0,
        "deleting twice"
    );
    assert_eq!(index.len().await.unwrap(), 8);
    let ids = all_ids(index, 100).await;
    assert!(
        !ids.contains(&entries[1].id) && !ids.contains(&entries[2].id),
        "deleted ids come back"
    );
    assert_eq!(ids.len(), 8);
    // A deleted id can be inserted again.
    index.upsert(vec![entries[1].clone()]).await.unwrap();
    assert!(all_ids(index, 100).await.contains(&entries[1].id));
}

/// Vectors of the wrong dimension, non-finite or all-zero, in entries or queries, are
/// `InvalidInput`, and a batch holding one changes nothing.
pub async fn vector_rejects_bad_input(index: &dyn VectorIndex) {
    let dim = index.dimension();
    index
        .upsert(vec![test_entry(dim, 1, "alice")])
        .await
        .unwrap();
    let good = test_entry(dim, 2, "alice");
    let mut short = test_entry(dim, 3, "alice");
    short.vector.pop();
    let mut nan = test_entry(dim, 4, "alice");
    nan.vector[0] = f32::NAN;
    let mut zero = test_entry(dim, 5, "alice");
    zero.vector = vec![0.0; dim];
    for (bad, what) in [
        (short, "wrong dimension"),
        (nan, "NaN"),
        (zero, "zero vector"),
    ] {
        assert_invalid(index.upsert(vec![good.clone(), bad]).await, what);
        assert_eq!(
            index.len().await.unwrap(),
            1,
            "{what}: the batch changed the index"
        );
    }
    let mut q = query_all(test_vector(dim, 1), 3);
    q.vector.push(1.0);
    assert_invalid(index.search(&q).await, "query of the wrong dimension");
    let mut q = query_all(test_vector(dim, 1), 3);
    q.vector[0] = f32::INFINITY;
    assert_invalid(index.search(&q).await, "infinite query");
}

/// Scope, kind and expiry are applied inside the search: another user's entries never
/// come back, however near, and `k` is filled from the entries that pass.
pub async fn vector_filters_apply(index: &dyn VectorIndex) {
    let dim = index.dimension();
    let mut entries = Vec::new();
    for s in 1..=30u64 {
        let user = if s % 3 == 0 { "alice" } else { "bob" };
        let mut e = test_entry(dim, s, user);
        if s % 5 == 0 {
            e.kind = MemoryKind::new("episode").unwrap();
        }
        if s == 6 {
            e.expires_at = Some(Timestamp::from_millis(1_600_000_000_000));
        }
        entries.push(e);
    }
    index.upsert(entries.clone()).await.unwrap();
    // Bob's entry as the query: the nearest of Alice's, never Bob's.
    let mut q = query_all(entries[0].vector.clone(), 20);
    q.filter = MemoryFilter::scoped(Scope::user("alice"));
    q.filter.include_expired = true;
    let hits = index.search(&q).await.unwrap();
    assert_eq!(hits.len(), 10, "all of Alice's ten entries: {hits:?}");
    let alice: std::collections::BTreeSet<MemoryId> = entries
        .iter()
        .filter(|e| e.scope.user.as_deref() == Some("alice"))
        .map(|e| e.id)
        .collect();
    assert!(
        hits.iter().all(|h| alice.contains(&h.id)),
        "another user's entry came back"
    );
    // Expired entries are left out unless asked for.
    q.filter.include_expired = false;
    let hits = index.search(&q).await.unwrap();
    assert_eq!(hits.len(), 9, "the expired entry is left out");
    assert!(hits.iter().all(|h| h.id != entries[5].id));
    // Kind.
    let mut q = query_all(entries[0].vector.clone(), 20);
    q.filter.kinds = vec![MemoryKind::new("episode").unwrap()];
    let hits = index.search(&q).await.unwrap();
    assert_eq!(hits.len(), 6, "the six episodes");
    // k is filled from what passes even when the nearest entries fail the filter.
    let mut q = query_all(entries[0].vector.clone(), 3);
    q.filter = MemoryFilter::scoped(Scope::user("alice"));
    q.filter.include_expired = true;
    assert_eq!(index.search(&q).await.unwrap().len(), 3);
}

/// A store double with `n` entries of `dim` (seeds `1..=n`, user alice).
pub fn filled_store(dim: usize, n: u64) -> MemoryEmbeddings {
    let store = MemoryEmbeddings::pinned(dim);
    for s in 1..=n {
        store.put(test_entry(dim, s, "alice"));
    }
    store
}

/// Catch-up applies the store's log in order: the index holds exactly the store's live
/// entries, `applied_seq` is the log's last sequence, a second catch-up applies
/// nothing, and deletes and replacements in the log are applied. `store` is the one the
/// index was opened on (a [`filled_store`] of 50).
pub async fn derived_catches_up(index: &dyn DerivedIndex, store: &MemoryEmbeddings) {
    let dim = index.dimension();
    index.catch_up(store).await.unwrap();
    assert_eq!(
        index.applied_seq(),
        store.seq(),
        "applied_seq after catch-up"
    );
    assert_eq!(index.len().await.unwrap(), store.live().len());
    assert_eq!(
        index.catch_up(store).await.unwrap(),
        0,
        "nothing new to apply"
    );
    // Deletes, a replacement, an insert and a delete of something inserted meanwhile.
    let gone = [
        test_entry(dim, 3, "alice").id,
        test_entry(dim, 4, "alice").id,
    ];
    for id in gone {
        store.remove(id);
    }
    let mut moved = test_entry(dim, 5, "alice");
    moved.vector = test_vector(dim, 7_000);
    store.put(moved.clone());
    let fresh = test_entry(dim, 6_000, "alice");
    store.put(fresh.clone());
    let brief = test_entry(dim, 6_001, "alice");
    store.put(brief.clone());
    store.remove(brief.id);
    let applied = index.catch_up(store).await.unwrap();
    assert!(applied >= 1, "changes were applied: {applied}");
    assert_eq!(index.applied_seq(), store.seq());
    let ids = all_ids(index, 1_000).await;
    let live: std::collections::BTreeSet<MemoryId> = store.live().keys().copied().collect();
    assert_eq!(
        ids, live,
        "the index holds exactly the store's live entries"
    );
    let hits = index
        .search(&query_all(moved.vector.clone(), 1))
        .await
        .unwrap();
    assert_eq!(
        hits[0].id, moved.id,
        "the replacement's new vector is searched"
    );
    index.persist().await.unwrap();
}

/// A change applied past `applied_seq` is visible to search at once, and an index that
/// has caught up with an empty store is empty with `applied_seq` 0.
pub async fn derived_empty_store(index: &dyn DerivedIndex, store: &MemoryEmbeddings) {
    assert_eq!(store.seq(), 0, "an empty store double");
    assert_eq!(index.catch_up(store).await.unwrap(), 0);
    assert_eq!(index.applied_seq(), 0);
    assert_eq!(index.len().await.unwrap(), 0);
    let e = test_entry(index.dimension(), 1, "alice");
    store.put(e.clone());
    assert_eq!(index.catch_up(store).await.unwrap(), 1);
    let hits = index.search(&query_all(e.vector.clone(), 1)).await.unwrap();
    assert_eq!(hits[0].id, e.id);
    index.persist().await.unwrap();
}

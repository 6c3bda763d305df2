//! The long-term store conformance suite, shared by every backend.
//!
//! Each `pub async fn` takes a fresh, empty store and panics (with a message) when the
//! store breaks the [`LongTermStore`] contract. A backend's tests call every one of
//! them, so SQLite, PostgreSQL and any store a user writes are held to the same
//! behaviour (the pattern of `object_store`'s `integration` module).
//!
//! A backend runs every check of a suite with one macro call, so a check added to a
//! suite runs in every backend at once:
//!
//! ```text
//! // `fresh` returns (a guard that lives as long as the test, a fresh empty store).
//! async fn fresh() -> (tempfile::TempDir, MyStore) { ... }
//! memory_core::long_term_store_suite!(fresh);
//! ```
//!
//! The suites and their macros: [`long_term_store_suite!`](crate::long_term_store_suite)
//! (this module), [`short_term_suite!`](crate::short_term_suite) ([`short_term`]),
//! [`vector_index_suite!`](crate::vector_index_suite) and
//! [`derived_index_suite!`](crate::derived_index_suite) ([`vector`]),
//! [`embedder_suite!`](crate::embedder_suite) and
//! [`text_model_suite!`](crate::text_model_suite) ([`model`]). The generated tests are
//! `#[tokio::test]`s: the calling crate needs `tokio` (with `macros` and `rt-multi-thread`)
//! among its dev-dependencies.
//!
//! Property-based checks come as a strategy plus an async check, so the backend's own
//! `proptest!` block owns the runtime and shrinking still works; see
//! [`unicode_case`] and [`check_unicode_round_trip`].
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::*;

pub mod model;
pub mod short_term;
pub mod vector;

/// One `#[tokio::test]` per named check, each on a fresh value from `$fresh().await`
/// (a `(guard, value)` pair) passed by reference.
#[doc(hidden)]
#[macro_export]
macro_rules! __suite_tests {
    ($fresh:path; $module:path; $($name:ident),* $(,)?) => {$(
        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let (_guard, subject) = $fresh().await;
            { use $module as suite; suite::$name(&subject).await; }
        }
    )*};
}

/// The same, passing the value as an `Arc` (checks that share it between tasks).
#[doc(hidden)]
#[macro_export]
macro_rules! __suite_tests_arc {
    ($fresh:path; $module:path; $($name:ident),* $(,)?) => {$(
        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let (_guard, subject) = $fresh().await;
            { use $module as suite; suite::$name(::std::sync::Arc::new(subject)).await; }
        }
    )*};
}

/// Every check of the long-term store suite, one test each, on a fresh store from
/// `$fresh().await`, which returns `(guard, store)` for a store implementing
/// [`LongTermStore`] and [`EmbeddingStore`] (the guard, a temporary directory or schema,
/// lives as long as the test). Property-based checks ([`batch_sequence`],
/// [`filter_strategy`], [`unicode_case`]) stay in the backend's own `proptest!` block.
#[macro_export]
macro_rules! long_term_store_suite {
    ($fresh:path) => {
        $crate::__suite_tests!($fresh; $crate::conformance;
            memory_round_trip,
            memory_update_delete,
            invalid_input_is_rejected,
            filters_match_reference,
            list_order_and_paging,
            keyword_search,
            expiry_and_purge,
            delete_by_filter,
            preferences,
            projects,
            patterns,
            patterns_by_ids,
            records_of_every_kind,
            learning_events,
            conversations,
            decisions,
            batch_is_atomic,
            restore_records,
            keyword_context_and_stemming,
            keyword_search_selective_filter,
            embeddings_round_trip,
            embedding_log,
            policies,
            batch_multi_step_ops,
            batch_multi_step_all_or_nothing,
            batch_missing_ids_roll_back,
            batch_expect_embedder,
        );
        $crate::__suite_tests_arc!($fresh; $crate::conformance;
            policy_saves_race,
            concurrent_writers,
        );
    };
}

/// Every check of the short-term memory suite ([`short_term`]), one test each, on a
/// fresh [`ShortTermMemory`] from `$fresh().await` (a `(guard, memory)` pair).
#[macro_export]
macro_rules! short_term_suite {
    ($fresh:path) => {
        $crate::__suite_tests!($fresh; $crate::conformance::short_term;
            variables,
            ttl_expires,
            scopes_are_isolated,
            window_limits,
        );
        $crate::__suite_tests_arc!($fresh; $crate::conformance::short_term;
            concurrent_pushes,
        );
    };
}

/// Every check of the vector index suite ([`vector`]), one test each, on a fresh, empty
/// [`VectorIndex`] from `$fresh().await` (a `(guard, index)` pair; any dimension from 8).
#[macro_export]
macro_rules! vector_index_suite {
    ($fresh:path) => {
        $crate::__suite_tests!($fresh; $crate::conformance::vector;
            vector_round_trip,
            vector_replace_and_delete,
            vector_rejects_bad_input,
            vector_filters_apply,
        );
    };
}

/// Every check of the derived index suite ([`vector`]), one test each.
/// `$open(store).await` opens the index under test on `store` (a
/// [`testing::MemoryEmbeddings`](crate::testing::MemoryEmbeddings), pinned at dimension
/// 16) and returns `(guard, index)`.
#[macro_export]
macro_rules! derived_index_suite {
    ($open:path) => {
        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn derived_catches_up() {
            let store = $crate::conformance::vector::filled_store(16, 50);
            let (_guard, index) = $open(&store).await;
            $crate::conformance::vector::derived_catches_up(&index, &store).await;
        }

        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn derived_empty_store() {
            let store = $crate::testing::MemoryEmbeddings::pinned(16);
            let (_guard, index) = $open(&store).await;
            $crate::conformance::vector::derived_empty_store(&index, &store).await;
        }
    };
}

/// Every check of the embedder suite ([`model`]), one test each, on the embedder from
/// `$fresh().await` (a `(guard, embedder)` pair).
#[macro_export]
macro_rules! embedder_suite {
    ($fresh:path) => {
        $crate::__suite_tests!($fresh; $crate::conformance::model;
            embedder_shapes,
            embedder_is_deterministic,
        );
    };
}

/// Every check of the text model suite ([`model`]), one test each, on the model from
/// `$fresh().await` (a `(guard, model)` pair).
#[macro_export]
macro_rules! text_model_suite {
    ($fresh:path) => {
        $crate::__suite_tests!($fresh; $crate::conformance::model;
            text_model_answers,
        );
    };
}

fn ids(ms: &[Memory]) -> BTreeSet<MemoryId> {
    ms.iter().map(|m| m.id).collect()
}

fn assert_invalid<T: std::fmt::Debug>(r: Result<T>, what: &str) {
    match r {
        Err(Error::InvalidInput(_)) => {}
        other => panic!("{what}: expected InvalidInput, got {other:?}"),
    }
}

/// Put, get and every field back as stored.
pub async fn memory_round_trip(store: &dyn LongTermStore) {
    let new = NewMemory::new("the build uses cargo nextest")
        .with_kind(MemoryKind::new("fact").unwrap())
        .with_scope(Scope::user("alice").with_agent("coder").with_session("s1"))
        .with_metadata(
            Metadata::new()
                .with("lang", "rust")
                .with("n", 3)
                .with("nested", json!({"a": [1, 2]})),
        )
        .with_importance(Importance::new(0.9).unwrap())
        .with_expiry(Timestamp::now().saturating_add(std::time::Duration::from_secs(3600)));
    let stored = store.put_memory(new.clone()).await.unwrap();
    assert_eq!(stored.content, new.content);
    assert_eq!(stored.scope, new.scope);
    assert_eq!(stored.metadata, new.metadata);
    assert_eq!(stored.importance, new.importance);
    assert_eq!(stored.expires_at, new.expires_at);
    assert_eq!(stored.created_at, stored.updated_at);
    let got = store
        .get_memory(stored.id)
        .await
        .unwrap()
        .expect("stored memory is readable");
    assert_eq!(got, stored);
    assert_eq!(store.get_memory(MemoryId::new()).await.unwrap(), None);
    let other = store.put_memory(NewMemory::new("another")).await.unwrap();
    let many = store
        .get_memories(&[other.id, MemoryId::new(), stored.id])
        .await
        .unwrap();
    assert_eq!(
        many,
        vec![other.clone(), stored.clone()],
        "in order, missing left out"
    );
    assert!(store.get_memories(&[]).await.unwrap().is_empty());
    store.delete_memory(other.id).await.unwrap();

    // Caller-chosen ids and times (an import) are kept exactly.
    let id = MemoryId::new();
    let mut imported = NewMemory::new("imported").with_id(id);
    imported.created_at = Some(Timestamp::from_millis(1_000));
    imported.updated_at = Some(Timestamp::from_millis(2_000));
    let m = store.put_memory(imported).await.unwrap();
    assert_eq!(
        (m.id, m.created_at, m.updated_at),
        (
            id,
            Timestamp::from_millis(1_000),
            Timestamp::from_millis(2_000)
        )
    );
    assert_eq!(store.get_memory(id).await.unwrap(), Some(m));

    // The same id again is a conflict, and changes nothing.
    match store.put_memory(NewMemory::new("again").with_id(id)).await {
        Err(Error::Conflict(_)) => {}
        other => panic!("duplicate id: expected Conflict, got {other:?}"),
    }
    assert_eq!(
        store.get_memory(id).await.unwrap().unwrap().content,
        "imported"
    );
}

/// Update applies a patch and stamps `updated_at`; delete removes; missing ids are
/// reported as such.
pub async fn memory_update_delete(store: &dyn LongTermStore) {
    let m = store.put_memory(NewMemory::new("v1")).await.unwrap();
    let patch = MemoryPatch {
        content: Some("v2".into()),
        metadata: Some(Metadata::new().with("k", "v")),
        importance: Some(Importance::new(0.1).unwrap()),
        expires_at: Some(Some(Timestamp::from_millis(i64::MAX / 2))),
        ..MemoryPatch::default()
    };
    let u = store.update_memory(m.id, patch).await.unwrap();
    assert_eq!(u.content, "v2");
    assert_eq!(u.metadata, Metadata::new().with("k", "v"));
    assert_eq!(u.created_at, m.created_at);
    assert!(u.updated_at >= m.updated_at);
    assert_eq!(store.get_memory(m.id).await.unwrap(), Some(u.clone()));
    let cleared = store
        .update_memory(
            m.id,
            MemoryPatch {
                expires_at: Some(None),
                ..MemoryPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(cleared.expires_at, None);

    match store
        .update_memory(MemoryId::new(), MemoryPatch::default())
        .await
    {
        Err(Error::NotFound { .. }) => {}
        other => panic!("update of a missing id: expected NotFound, got {other:?}"),
    }
    assert_invalid(
        store
            .update_memory(
                m.id,
                MemoryPatch {
                    content: Some("  ".into()),
                    ..MemoryPatch::default()
                },
            )
            .await,
        "empty content in a patch",
    );
    assert_eq!(store.get_memory(m.id).await.unwrap().unwrap().content, "v2");

    assert!(store.delete_memory(m.id).await.unwrap());
    assert!(!store.delete_memory(m.id).await.unwrap());
    assert_eq!(store.get_memory(m.id).await.unwrap(), None);
    assert!(
        store
            .search_memories(&KeywordQuery {
                text: "v2".into(),
                filter: MemoryFilter::default(),
                limit: 10
            })
            .await
            .unwrap()
            .is_empty()
    );
}

/// Bad input is rejected with `InvalidInput` and nothing is written.
pub async fn invalid_input_is_rejected(store: &dyn LongTermStore) {
    let before = store.stats().await.unwrap();
    assert_invalid(store.put_memory(NewMemory::new("")).await, "empty content");
    assert_invalid(
        store.put_memory(NewMemory::new("   \n")).await,
        "blank content",
    );
    assert_invalid(
        store
            .put_memory(NewMemory::new("x".repeat(validate::MAX_TEXT_BYTES + 1)))
            .await,
        "oversized content",
    );
    assert_invalid(
        store.put_memory(NewMemory::new("nul \0 inside")).await,
        "NUL in content",
    );
    assert_invalid(
        store
            .put_memory(NewMemory::new("x").with_scope(Scope::user("")))
            .await,
        "empty scope part",
    );
    let mut deep = json!(1);
    for _ in 0..(validate::MAX_JSON_DEPTH + 2) {
        deep = json!([deep]);
    }
    assert_invalid(
        store
            .put_memory(NewMemory::new("x").with_metadata(Metadata::new().with("d", deep.clone())))
            .await,
        "deeply nested metadata",
    );
    assert_invalid(
        store.store_preference(NewPreference::new("", 1)).await,
        "empty preference key",
    );
    assert_invalid(
        store.store_preference(NewPreference::new("k", deep)).await,
        "deep preference value",
    );
    assert_invalid(
        store.store_pattern(NewPattern::new("", "c", "s")).await,
        "empty pattern type",
    );
    assert_invalid(
        store.store_pattern(NewPattern::new("t", "", "s")).await,
        "empty pattern context",
    );
    assert_invalid(
        store
            .record_decision(NewDecision {
                agent_type: "a".into(),
                context: "c".into(),
                chosen_option: "".into(),
                ..NewDecision::default()
            })
            .await,
        "empty chosen option",
    );
    assert_invalid(
        store
            .list_memories(&MemoryQuery::new(
                MemoryFilter::default().with_metadata(MetadataCondition::eq("k", json!([1]))),
                10,
            ))
            .await,
        "non-scalar metadata filter",
    );
    assert_eq!(
        store.stats().await.unwrap(),
        before,
        "a rejected write changed the store"
    );
}

/// A varied set of memories for filter tests: three users, two agents, sessions, kinds,
/// metadata and times, some expired.
pub async fn seed_filter_corpus(store: &dyn LongTermStore) -> Vec<Memory> {
    let now = Timestamp::now().as_millis();
    let mut ops = Vec::new();
    for i in 0..60i64 {
        let mut scope = Scope::default();
        if i % 4 != 3 {
            scope.user = Some(["alice", "bob", "carol"][(i % 3) as usize].into());
        }
        if i % 2 == 0 {
            scope.agent = Some(["coder", "planner"][((i / 2) % 2) as usize].into());
        }
        if i % 5 == 0 {
            scope.session = Some(format!("s{}", i % 3));
        }
        let kind = MemoryKind::new(["fact", "episode", "doc_chunk"][(i % 3) as usize]).unwrap();
        let mut md = Metadata::new()
            .with("i", i)
            .with("parity", if i % 2 == 0 { "even" } else { "odd" });
        if i % 3 == 0 {
            md = md.with("lang", "rust").with("flag", true);
        }
        if i % 7 == 0 {
            md = md.with("score", 1.5);
        }
        let mut m = NewMemory::new(format!("memory number {i} about topic{}", i % 5))
            .with_scope(scope)
            .with_kind(kind)
            .with_metadata(md)
            .with_importance(Importance::new((i % 10) as f64 / 10.0).unwrap());
        m.created_at = Some(Timestamp::from_millis(now - 1_000_000 + i * 1000));
        if i % 6 == 0 {
            m.expires_at = Some(Timestamp::from_millis(now - 1));
        } else if i % 6 == 1 {
            m.expires_at = Some(Timestamp::from_millis(now + 10_000_000));
        }
        ops.push(WriteOp::PutMemory(m));
    }
    store
        .write_batch(ops)
        .await
        .unwrap()
        .into_iter()
        .map(|o| match o {
            WriteOutcome::Memory(m) => m,
            other => panic!("put_memory in a batch returned {other:?}"),
        })
        .collect()
}

/// Filters the conformance tests try; each is compared with [`MemoryFilter::matches`].
pub fn sample_filters(corpus: &[Memory]) -> Vec<MemoryFilter> {
    let mid = corpus[corpus.len() / 2].created_at;
    let k = |s: &str| MemoryKind::new(s).unwrap();
    vec![
        MemoryFilter::default(),
        MemoryFilter {
            include_expired: true,
            ..MemoryFilter::default()
        },
        MemoryFilter::scoped(Scope::user("alice")),
        MemoryFilter::scoped(Scope::user("bob").with_agent("coder")),
        MemoryFilter::scoped(Scope::default().with_agent("planner")),
        MemoryFilter::scoped(Scope::default().with_session("s0")),
        MemoryFilter::scoped(Scope::user("nobody")),
        MemoryFilter::default().with_kind(k("episode")),
        MemoryFilter::default()
            .with_kind(k("fact"))
            .with_kind(k("doc_chunk")),
        MemoryFilter::default().with_metadata(MetadataCondition::eq("lang", "rust")),
        MemoryFilter::default().with_metadata(MetadataCondition::eq("flag", true)),
        MemoryFilter::default().with_metadata(MetadataCondition::eq("i", 12)),
        MemoryFilter::default().with_metadata(MetadataCondition::eq("i", 12.0)),
        MemoryFilter::default().with_metadata(MetadataCondition::eq("score", 1.5)),
        MemoryFilter::default()
            .with_metadata(MetadataCondition::eq("parity", "odd"))
            .with_metadata(MetadataCondition::eq("lang", "rust")),
        MemoryFilter::default().with_metadata(MetadataCondition::eq("i", "12")),
        MemoryFilter {
            created_after: Some(mid),
            ..MemoryFilter::default()
        },
        MemoryFilter {
            created_before: Some(mid),
            include_expired: true,
            ..MemoryFilter::scoped(Scope::user("carol"))
        },
    ]
}

/// Listing, counting and deleting by filter select exactly what
/// [`MemoryFilter::matches`] selects.
pub async fn filters_match_reference(store: &dyn LongTermStore) {
    let corpus = seed_filter_corpus(store).await;
    let now = Timestamp::now();
    for f in sample_filters(&corpus) {
        check_filter(store, &corpus, &f, now).await;
    }
}

/// Checks one filter against the reference over `corpus` (all the store holds).
pub async fn check_filter(
    store: &dyn LongTermStore,
    corpus: &[Memory],
    f: &MemoryFilter,
    now: Timestamp,
) {
    let want: BTreeSet<MemoryId> = corpus
        .iter()
        .filter(|m| f.matches(m, now))
        .map(|m| m.id)
        .collect();
    let got = store
        .list_memories(&MemoryQuery::new(f.clone(), 10_000))
        .await
        .unwrap();
    assert_eq!(ids(&got), want, "list_memories({f:?})");
    assert_eq!(
        store.count_memories(f).await.unwrap(),
        want.len() as u64,
        "count_memories({f:?})"
    );
}

/// A strategy over filters that the [`seed_filter_corpus`] makes interesting.
pub fn filter_strategy() -> impl Strategy<Value = MemoryFilter> {
    let part = |names: &'static [&'static str]| {
        proptest::option::of(proptest::sample::select(names).prop_map(String::from))
    };
    let scope = (
        part(&["alice", "bob", "carol", "dave"]),
        part(&["coder", "planner"]),
        part(&["s0", "s1", "s2"]),
    )
        .prop_map(|(user, agent, session)| Scope {
            user,
            agent,
            session,
        });
    let kinds = proptest::sample::subsequence(vec!["fact", "episode", "doc_chunk"], 0..=2)
        .prop_map(|ks| {
            ks.into_iter()
                .map(|k| MemoryKind::new(k).unwrap())
                .collect::<Vec<_>>()
        });
    let cond = prop_oneof![
        Just(MetadataCondition::eq("lang", "rust")),
        Just(MetadataCondition::eq("flag", true)),
        (0i64..60).prop_map(|i| MetadataCondition::eq("i", i)),
        Just(MetadataCondition::eq("parity", "even")),
        Just(MetadataCondition::eq("score", 1.5)),
    ];
    (
        scope,
        kinds,
        proptest::collection::vec(cond, 0..3),
        any::<bool>(),
        proptest::option::of(0usize..60),
    )
        .prop_map(
            |(scope, kinds, metadata, include_expired, after)| MemoryFilter {
                scope,
                kinds,
                metadata,
                include_expired,
                created_after: after.map(|i| {
                    Timestamp::from_millis(
                        Timestamp::now().as_millis() - 1_000_000 + i as i64 * 1000,
                    )
                }),
                created_before: None,
            },
        )
}

/// Ordering and paging of listings.
pub async fn list_order_and_paging(store: &dyn LongTermStore) {
    let corpus = seed_filter_corpus(store).await;
    let f = MemoryFilter {
        include_expired: true,
        ..MemoryFilter::default()
    };
    let newest = store
        .list_memories(&MemoryQuery {
            filter: f.clone(),
            order: ListOrder::NewestFirst,
            limit: 100,
            offset: 0,
        })
        .await
        .unwrap();
    assert_eq!(newest.len(), corpus.len());
    assert!(
        newest
            .windows(2)
            .all(|w| (w[0].created_at, w[0].id) >= (w[1].created_at, w[1].id)),
        "newest first"
    );
    let oldest = store
        .list_memories(&MemoryQuery {
            filter: f.clone(),
            order: ListOrder::OldestFirst,
            limit: 100,
            offset: 0,
        })
        .await
        .unwrap();
    assert_eq!(
        oldest.iter().rev().map(|m| m.id).collect::<Vec<_>>(),
        newest.iter().map(|m| m.id).collect::<Vec<_>>()
    );
    let imp = store
        .list_memories(&MemoryQuery {
            filter: f.clone(),
            order: ListOrder::ImportanceDesc,
            limit: 100,
            offset: 0,
        })
        .await
        .unwrap();
    assert!(
        imp.windows(2).all(|w| w[0].importance >= w[1].importance),
        "importance order"
    );
    let mut paged = Vec::new();
    for page in 0..7 {
        paged.extend(
            store
                .list_memories(&MemoryQuery {
                    filter: f.clone(),
                    order: ListOrder::NewestFirst,
                    limit: 10,
                    offset: page * 10,
                })
                .await
                .unwrap(),
        );
    }
    assert_eq!(paged, newest, "pages concatenate to the whole listing");
    assert!(
        store
            .list_memories(&MemoryQuery::new(f, 0))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Keyword search ranks by the query's words, honours filters, and treats query syntax
/// (SQL, FTS5 operators, quotes) as plain words.
pub async fn keyword_search(store: &dyn LongTermStore) {
    let alice = Scope::user("alice");
    let bob = Scope::user("bob");
    store
        .put_memory(
            NewMemory::new("cargo nextest runs the test suite quickly").with_scope(alice.clone()),
        )
        .await
        .unwrap();
    store
        .put_memory(
            NewMemory::new("the deploy script lives in ops/deploy.sh").with_scope(alice.clone()),
        )
        .await
        .unwrap();
    store
        .put_memory(
            NewMemory::new("nextest is bob's favourite test runner").with_scope(bob.clone()),
        )
        .await
        .unwrap();
    store
        .put_memory(
            NewMemory::new("Crème brûlée recipe: sugar, cream, 日本語 text")
                .with_scope(alice.clone()),
        )
        .await
        .unwrap();
    let q = |text: &str, scope: &Scope| KeywordQuery {
        text: text.into(),
        filter: MemoryFilter::scoped(scope.clone()),
        limit: 10,
    };

    let hits = store
        .search_memories(&q("nextest test", &alice))
        .await
        .unwrap();
    assert_eq!(hits.len(), 1, "alice sees only her own memory: {hits:?}");
    assert!(hits[0].memory.content.contains("cargo nextest"));
    let all = store
        .search_memories(&q("nextest", &Scope::default()))
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert!(
        all.windows(2).all(|w| w[0].score >= w[1].score),
        "best first"
    );
    assert_eq!(
        store
            .search_memories(&q("DEPLOY", &alice))
            .await
            .unwrap()
            .len(),
        1,
        "case-insensitive"
    );
    assert_eq!(
        store
            .search_memories(&q("日本語", &alice))
            .await
            .unwrap()
            .len(),
        1,
        "unicode words"
    );
    for hostile in [
        "\"unbalanced",
        "nextest OR",
        "NEAR(a b)",
        "a* AND -b",
        "'; DROP TABLE memories; --",
        "content:nextest",
        "^nextest",
        "{col}: x",
        ")))",
        "",
        "   ",
        "***",
    ] {
        store
            .search_memories(&q(hostile, &Scope::default()))
            .await
            .unwrap_or_else(|e| panic!("query {hostile:?} failed: {e}"));
    }
    assert_eq!(
        store
            .search_memories(&q("'; DROP TABLE memories; --", &Scope::default()))
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        store
            .count_memories(&MemoryFilter::default())
            .await
            .unwrap(),
        4,
        "hostile queries changed nothing"
    );
    // An updated memory is found by its new words only.
    let m = store
        .put_memory(NewMemory::new("zebra").with_scope(bob.clone()))
        .await
        .unwrap();
    store
        .update_memory(
            m.id,
            MemoryPatch {
                content: Some("giraffe".into()),
                ..MemoryPatch::default()
            },
        )
        .await
        .unwrap();
    assert!(
        store
            .search_memories(&q("zebra", &bob))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .search_memories(&q("giraffe", &bob))
            .await
            .unwrap()
            .len(),
        1
    );
}

/// Expired memories are hidden unless asked for, and purged on request.
pub async fn expiry_and_purge(store: &dyn LongTermStore) {
    let now = Timestamp::now();
    let past = store
        .put_memory(
            NewMemory::new("stale fact").with_expiry(Timestamp::from_millis(now.as_millis() - 10)),
        )
        .await
        .unwrap();
    let future = store
        .put_memory(
            NewMemory::new("fresh fact")
                .with_expiry(now.saturating_add(std::time::Duration::from_secs(3600))),
        )
        .await
        .unwrap();
    let forever = store
        .put_memory(NewMemory::new("lasting fact"))
        .await
        .unwrap();
    let visible = store
        .list_memories(&MemoryQuery::new(MemoryFilter::default(), 10))
        .await
        .unwrap();
    assert_eq!(ids(&visible), BTreeSet::from([future.id, forever.id]));
    let kw = store
        .search_memories(&KeywordQuery {
            text: "fact".into(),
            filter: MemoryFilter::default(),
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(kw.len(), 2, "expired memories are not found by keyword");
    assert_eq!(
        store.get_memory(past.id).await.unwrap().map(|m| m.id),
        Some(past.id),
        "get still reads expired"
    );
    assert_eq!(
        store.purge_expired(Timestamp::now()).await.unwrap(),
        vec![past.id]
    );
    assert_eq!(store.get_memory(past.id).await.unwrap(), None);
    assert_eq!(
        store
            .count_memories(&MemoryFilter {
                include_expired: true,
                ..MemoryFilter::default()
            })
            .await
            .unwrap(),
        2
    );
}

/// Deleting by filter removes exactly what the filter selects.
pub async fn delete_by_filter(store: &dyn LongTermStore) {
    let corpus = seed_filter_corpus(store).await;
    let now = Timestamp::now();
    let f = MemoryFilter::scoped(Scope::user("bob"))
        .with_metadata(MetadataCondition::eq("parity", "even"));
    let want: BTreeSet<MemoryId> = corpus
        .iter()
        .filter(|m| f.matches(m, now))
        .map(|m| m.id)
        .collect();
    assert!(!want.is_empty());
    let deleted: BTreeSet<MemoryId> = store
        .delete_memories(&f)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(deleted, want);
    let left = store
        .list_memories(&MemoryQuery::new(
            MemoryFilter {
                include_expired: true,
                ..MemoryFilter::default()
            },
            1000,
        ))
        .await
        .unwrap();
    assert_eq!(left.len(), corpus.len() - want.len());
    assert!(left.iter().all(|m| !want.contains(&m.id)));
}

/// Preferences upsert by scope and key, as the seed's `store_preference`.
pub async fn preferences(store: &dyn LongTermStore) {
    let alice = Scope::user("alice");
    let p1 = store
        .store_preference(NewPreference::new("editor.theme", "dark").with_scope(alice.clone()))
        .await
        .unwrap();
    assert_eq!(p1.category, DEFAULT_CATEGORY);
    let p2 = store
        .store_preference(
            NewPreference::new("editor.theme", json!({"name": "light", "contrast": 1.5}))
                .with_scope(alice.clone()),
        )
        .await
        .unwrap();
    assert_eq!(p2.id, p1.id, "storing the same key updates, not inserts");
    assert_eq!(p2.value, json!({"name": "light", "contrast": 1.5}));
    assert_eq!(p2.created_at, p1.created_at);
    assert!(p2.updated_at >= p1.updated_at);
    assert_eq!(
        p2.category, DEFAULT_CATEGORY,
        "category kept when not given"
    );
    let bob = store
        .store_preference(
            NewPreference::new("editor.theme", "solarized").with_scope(Scope::user("bob")),
        )
        .await
        .unwrap();
    assert_ne!(bob.id, p1.id, "scopes do not share keys");
    assert_eq!(
        store
            .get_preference(&alice, "editor.theme")
            .await
            .unwrap()
            .unwrap()
            .value,
        p2.value
    );
    assert_eq!(store.get_preference(&alice, "missing").await.unwrap(), None);
    assert_eq!(
        store
            .get_preference(&Scope::default(), "editor.theme")
            .await
            .unwrap(),
        None,
        "get is exact-scope"
    );
    store
        .store_preference(
            NewPreference::new("learned.1", json!({"feedback": "great"}))
                .with_scope(alice.clone())
                .with_category("learned"),
        )
        .await
        .unwrap();
    for v in [
        json!(null),
        json!(1),
        json!(-2.5),
        json!("s"),
        json!([1, "x", null]),
        json!({"deep": {"er": [true]}}),
    ] {
        let p = store
            .store_preference(NewPreference::new("any", v.clone()))
            .await
            .unwrap();
        assert_eq!(p.value, v);
        assert_eq!(
            store
                .get_preference(&Scope::default(), "any")
                .await
                .unwrap()
                .unwrap()
                .value,
            v
        );
    }
    let mine = store.list_preferences(&alice, None).await.unwrap();
    assert_eq!(
        mine.iter().map(|p| p.key.as_str()).collect::<Vec<_>>(),
        vec!["editor.theme", "learned.1"]
    );
    let learned = store
        .list_preferences(&Scope::default(), Some("learned"))
        .await
        .unwrap();
    assert_eq!(learned.len(), 1);
    assert!(
        store
            .delete_preference(&alice, "editor.theme")
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_preference(&alice, "editor.theme")
            .await
            .unwrap()
    );
    assert!(
        store
            .get_preference(&Scope::user("bob"), "editor.theme")
            .await
            .unwrap()
            .is_some()
    );
}

/// Projects: add, read, list, touch, status.
pub async fn projects(store: &dyn LongTermStore) {
    let p = store
        .add_project(NewProject {
            name: "brain".into(),
            path: Some("/src/brain".into()),
            description: Some("memory".into()),
            tech_stack: vec!["rust".into(), "sqlite".into()],
            scope: Scope::user("alice"),
            status: None,
        })
        .await
        .unwrap();
    assert_eq!(p.status, DEFAULT_PROJECT_STATUS);
    assert_eq!(p.last_accessed, None);
    assert_eq!(store.get_project(p.id).await.unwrap(), Some(p.clone()));
    let q = store
        .add_project(NewProject {
            name: "other".into(),
            scope: Scope::user("bob"),
            ..NewProject::default()
        })
        .await
        .unwrap();
    let t = store.touch_project(p.id).await.unwrap();
    assert!(t.last_accessed.is_some());
    let s = store.set_project_status(p.id, "archived").await.unwrap();
    assert_eq!(s.status, "archived");
    assert_eq!(
        store
            .list_projects(&Scope::user("alice"), None)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .list_projects(&Scope::default(), Some("active"))
            .await
            .unwrap()
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>(),
        vec![q.id]
    );
    assert!(matches!(
        store.touch_project(-5).await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        store.set_project_status(-5, "x").await,
        Err(Error::NotFound { .. })
    ));
    assert_invalid(
        store.add_project(NewProject::default()).await,
        "empty project name",
    );
}

/// `get_patterns` returns the stored patterns among the ids, in the ids' order, each
/// once, missing ones left out, as `get_pattern` reads them.
pub async fn patterns_by_ids(store: &dyn LongTermStore) {
    let mut ids = Vec::new();
    for (i, user) in ["alice", "bob", "carol"].iter().enumerate() {
        let w = store
            .store_pattern(
                NewPattern::new("error_fix", format!("context {i}"), format!("fix {i}"))
                    .with_scope(Scope::user(*user)),
            )
            .await
            .unwrap();
        ids.push(w.pattern.id);
    }
    assert!(store.get_patterns(&[]).await.unwrap().is_empty());
    let got = store
        .get_patterns(&[ids[2], 9_999_999, ids[0], ids[2]])
        .await
        .unwrap();
    let got_ids: Vec<RecordId> = got.iter().map(|p| p.id).collect();
    assert_eq!(
        got_ids,
        vec![ids[2], ids[0]],
        "order of the ids, each once, missing left out"
    );
    for p in &got {
        assert_eq!(Some(p), store.get_pattern(p.id).await.unwrap().as_ref());
    }
}

/// One record of each kind, stored through [`RecordStore::put_record`].
fn one_of_each(scope: &Scope) -> Vec<NewRecord> {
    vec![
        NewPreference::new("theme", "dark")
            .with_scope(scope.clone())
            .into(),
        NewProject {
            scope: scope.clone(),
            name: "brain".into(),
            ..Default::default()
        }
        .into(),
        NewPattern::new("error_fix", "a context", "a fix")
            .with_scope(scope.clone())
            .into(),
        NewLearningEvent {
            scope: scope.clone(),
            event_type: "task".into(),
            task_description: "did it".into(),
            outcome: "ok".into(),
            reward: Reward::MAX,
            metadata: Metadata::new(),
        }
        .into(),
        NewConversation {
            scope: scope.clone(),
            summary: "talked".into(),
            ..Default::default()
        }
        .into(),
        NewDecision {
            scope: scope.clone(),
            agent_type: "router".into(),
            context: "which model".into(),
            options: vec!["a".into(), "b".into()],
            chosen_option: "a".into(),
            ..Default::default()
        }
        .into(),
    ]
}

/// The generic record store, kind by kind: a put is read back by key, by id list and by
/// list; ids are per kind (an id of one kind names nothing of another unless stored
/// there); a change of one kind never touches another kind's row; a delete removes
/// exactly the record it names.
pub async fn records_of_every_kind(store: &dyn LongTermStore) {
    let alice = Scope::user("alice");
    let mut stored = Vec::new();
    for new in one_of_each(&alice) {
        let kind = new.kind();
        let w = store.put_record(new).await.unwrap();
        assert!(w.inserted, "{kind}: a first put inserts");
        assert_eq!(w.record.record_kind(), kind);
        assert_eq!(w.record.scope(), &alice);
        stored.push(w.record);
    }
    // A second put of the two keyed kinds lands on the first.
    let again = store
        .put_record(
            NewPreference::new("theme", "light")
                .with_scope(alice.clone())
                .into(),
        )
        .await
        .unwrap();
    assert!(!again.inserted, "same scope and key: an update");
    assert_eq!(again.record.id(), stored[0].id());
    stored[0] = again.record;
    let again = store
        .put_record(
            NewPattern::new("error_fix", "a context", "other")
                .with_scope(alice.clone())
                .into(),
        )
        .await
        .unwrap();
    assert!(
        !again.inserted,
        "same scope, type and context: one more success"
    );
    stored[2] = again.record;

    for r in &stored {
        let kind = r.record_kind();
        let by_id = store
            .get_record(&RecordKey::id(kind, r.id()))
            .await
            .unwrap();
        assert_eq!(by_id.as_ref(), Some(r), "{kind} read back by id");
        let listed = store
            .get_records(kind, &[9_999_999, r.id(), r.id()])
            .await
            .unwrap();
        assert_eq!(listed, vec![r.clone()], "{kind}: once, missing left out");
    }
    let pref = RecordKey::Preference {
        scope: alice.clone(),
        key: "theme".into(),
    };
    assert_eq!(
        store.get_record(&pref).await.unwrap().as_ref(),
        Some(&stored[0])
    );
    let wider = RecordKey::Preference {
        scope: Scope::default(),
        key: "theme".into(),
    };
    assert_eq!(
        store.get_record(&wider).await.unwrap(),
        None,
        "keys match the exact scope"
    );

    let queries = [
        RecordQuery::Preferences {
            scope: alice.clone(),
            category: None,
        },
        RecordQuery::Projects {
            scope: alice.clone(),
            status: None,
        },
        RecordQuery::Patterns(PatternQuery::new(alice.clone(), 10)),
        RecordQuery::LearningEvents(EventQuery {
            scope: alice.clone(),
            event_type: None,
            since: None,
            limit: 10,
        }),
        RecordQuery::Conversations {
            scope: alice.clone(),
            limit: 10,
        },
        RecordQuery::Decisions(DecisionQuery {
            scope: alice.clone(),
            agent_type: None,
            with_outcome: None,
            limit: 10,
        }),
    ];
    for (q, r) in queries.iter().zip(&stored) {
        assert_eq!(
            store.list_records(q).await.unwrap(),
            vec![r.clone()],
            "{}",
            q.kind()
        );
        let mut bob = q.clone();
        match &mut bob {
            RecordQuery::Preferences { scope, .. }
            | RecordQuery::Projects { scope, .. }
            | RecordQuery::Conversations { scope, .. } => *scope = Scope::user("bob"),
            RecordQuery::Patterns(p) => p.scope = Scope::user("bob"),
            RecordQuery::LearningEvents(e) => e.scope = Scope::user("bob"),
            RecordQuery::Decisions(d) => d.scope = Scope::user("bob"),
        }
        assert!(
            store.list_records(&bob).await.unwrap().is_empty(),
            "{}: scoped",
            q.kind()
        );
    }

    // A change reaches only a record of its own kind.
    let decision = stored[5].id();
    let changed = store
        .change_record(
            decision,
            RecordChange::DecisionOutcome {
                outcome: "worked".into(),
                reward: Reward::MAX,
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.record_kind(), RecordKind::Decision);
    let Record::Decision(d) = &changed else {
        unreachable!()
    };
    assert_eq!(d.outcome.as_deref(), Some("worked"));
    let absent = 9_999_999;
    for change in [
        RecordChange::TouchProject,
        RecordChange::PatternOutcome {
            outcome: PatternOutcome::Failure,
        },
        RecordChange::DecisionOutcome {
            outcome: "x".into(),
            reward: Reward::MIN,
        },
    ] {
        let e = store.change_record(absent, change).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }
    let bad = RecordChange::ProjectStatus {
        status: String::new(),
    };
    let e = store.change_record(stored[1].id(), bad).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);

    // Deletes remove exactly what they name; a second delete finds nothing.
    let counts = store.stats().await.unwrap();
    assert!(store.delete_record(&pref).await.unwrap());
    assert!(!store.delete_record(&pref).await.unwrap());
    for r in &stored[1..] {
        let key = RecordKey::id(r.record_kind(), r.id());
        assert!(
            store.delete_record(&key).await.unwrap(),
            "{}",
            r.record_kind()
        );
        assert_eq!(store.get_record(&key).await.unwrap(), None);
        assert!(!store.delete_record(&key).await.unwrap());
    }
    let after = store.stats().await.unwrap();
    assert_eq!(
        (
            after.preferences,
            after.projects,
            after.patterns,
            after.learning_events,
            after.conversations,
            after.decisions
        ),
        (
            counts.preferences - 1,
            counts.projects - 1,
            counts.patterns - 1,
            counts.learning_events - 1,
            counts.conversations - 1,
            counts.decisions - 1
        )
    );
}

/// Patterns count successes on re-store (the seed) and failures (beyond it).
pub async fn patterns(store: &dyn LongTermStore) {
    let new = NewPattern::new(
        "error_fix",
        "borrow checker: cannot move out of index",
        "use .clone() or mem::take",
    )
    .with_language("rust");
    let w1 = store.store_pattern(new.clone()).await.unwrap();
    assert!(w1.inserted);
    assert_eq!((w1.pattern.success_count, w1.pattern.failure_count), (1, 0));
    let mut again = new.clone();
    again.solution = "a different solution".into();
    let w2 = store.store_pattern(again).await.unwrap();
    assert!(!w2.inserted);
    assert_eq!(w2.pattern.id, w1.pattern.id);
    assert_eq!(w2.pattern.success_count, 2);
    assert_eq!(
        w2.pattern.solution, new.solution,
        "the first solution is kept"
    );
    let other_scope = store
        .store_pattern(new.clone().with_scope(Scope::user("bob")))
        .await
        .unwrap();
    assert!(other_scope.inserted, "another scope is another pattern");
    let f = store
        .record_pattern_outcome(w1.pattern.id, PatternOutcome::Failure)
        .await
        .unwrap();
    assert_eq!((f.success_count, f.failure_count), (2, 1));
    let s = store
        .record_pattern_outcome(w1.pattern.id, PatternOutcome::Success)
        .await
        .unwrap();
    assert_eq!((s.success_count, s.failure_count), (3, 1));
    assert!(matches!(
        store
            .record_pattern_outcome(9_999_999, PatternOutcome::Failure)
            .await,
        Err(Error::NotFound { .. })
    ));

    store
        .store_pattern(
            NewPattern::new("feature", "add a CLI flag with clap", "#[arg(long)] field")
                .with_language("rust"),
        )
        .await
        .unwrap();
    store
        .store_pattern(
            NewPattern::new(
                "error_fix",
                "python import error",
                "pip install the package",
            )
            .with_language("python"),
        )
        .await
        .unwrap();
    let listed = store
        .list_patterns(&PatternQuery {
            pattern_type: Some("error_fix".into()),
            ..PatternQuery::new(Scope::default(), 10)
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 3);
    assert!(
        listed
            .windows(2)
            .all(|w| w[0].success_count >= w[1].success_count),
        "most successful first"
    );
    assert_eq!(listed[0].id, w1.pattern.id);
    let rust = store
        .list_patterns(&PatternQuery {
            language: Some("rust".into()),
            ..PatternQuery::new(Scope::default(), 10)
        })
        .await
        .unwrap();
    assert_eq!(rust.len(), 3);
    assert_eq!(
        store
            .list_patterns(&PatternQuery::new(Scope::user("bob"), 10))
            .await
            .unwrap()
            .len(),
        1
    );

    let hits = store
        .search_patterns(
            "borrow move clone",
            &PatternQuery::new(Scope::default(), 10),
        )
        .await
        .unwrap();
    assert!(!hits.is_empty());
    assert!(hits.iter().all(|h| h.pattern.context.contains("borrow")));
    let by_solution = store
        .search_patterns("pip", &PatternQuery::new(Scope::default(), 10))
        .await
        .unwrap();
    assert_eq!(by_solution.len(), 1, "solutions are searched too");
    let scoped = store
        .search_patterns("borrow", &PatternQuery::new(Scope::user("bob"), 10))
        .await
        .unwrap();
    assert_eq!(scoped.len(), 1);
    assert_eq!(scoped[0].pattern.scope, Scope::user("bob"));
    store
        .search_patterns(
            "\"; DROP TABLE code_patterns; NEAR(",
            &PatternQuery::new(Scope::default(), 10),
        )
        .await
        .unwrap();

    assert!(store.delete_pattern(other_scope.pattern.id).await.unwrap());
    assert!(!store.delete_pattern(other_scope.pattern.id).await.unwrap());
    assert!(
        store
            .search_patterns("borrow", &PatternQuery::new(Scope::user("bob"), 10))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .get_pattern(w1.pattern.id)
            .await
            .unwrap()
            .unwrap()
            .success_count,
        3
    );

    // Metadata round-trips; an update changes only what it names.
    let meta = Metadata::new().with("distilled_from", json!([w1.pattern.id]));
    let d = store
        .store_pattern(
            NewPattern::new(
                "distilled_error_fix",
                "borrow errors",
                "clone or scope the borrow",
            )
            .with_metadata(meta.clone()),
        )
        .await
        .unwrap()
        .pattern;
    assert_eq!(d.metadata, meta);
    assert_eq!(
        store.get_pattern(d.id).await.unwrap().unwrap().metadata,
        meta
    );
    let stale = meta.clone().with("stale", true);
    let u = store
        .update_pattern(
            d.id,
            PatternPatch {
                success_count: Some(5),
                metadata: Some(stale.clone()),
                ..PatternPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((u.success_count, &u.metadata), (5, &stale));
    assert_eq!(
        (u.context.as_str(), u.solution.as_str()),
        ("borrow errors", "clone or scope the borrow")
    );
    let u = store
        .update_pattern(
            d.id,
            PatternPatch {
                solution: Some("scope the borrow".into()),
                ..PatternPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (u.solution.as_str(), u.success_count),
        ("scope the borrow", 5)
    );
    assert_eq!(store.get_pattern(d.id).await.unwrap(), Some(u));
    let e = store
        .update_pattern(999_999, PatternPatch::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let e = store
        .update_pattern(
            d.id,
            PatternPatch {
                context: Some("  ".into()),
                ..PatternPatch::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

/// Learning events keep their reward and metadata.
pub async fn learning_events(store: &dyn LongTermStore) {
    let e = store
        .record_learning_event(NewLearningEvent {
            scope: Scope::user("alice"),
            event_type: "success".into(),
            task_description: "fix the flaky test".into(),
            outcome: "green".into(),
            reward: Reward::new(0.75).unwrap(),
            metadata: Metadata::new().with("tests_passed", 120),
        })
        .await
        .unwrap();
    store
        .record_learning_event(NewLearningEvent {
            scope: Scope::user("bob"),
            event_type: "failure".into(),
            task_description: String::new(),
            outcome: String::new(),
            reward: Reward::MIN,
            metadata: Metadata::new(),
        })
        .await
        .unwrap();
    let all = store
        .list_learning_events(&EventQuery {
            scope: Scope::default(),
            event_type: None,
            since: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].created_at >= all[1].created_at);
    let mine = store
        .list_learning_events(&EventQuery {
            scope: Scope::user("alice"),
            event_type: None,
            since: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(mine, vec![e.clone()]);
    let fails = store
        .list_learning_events(&EventQuery {
            scope: Scope::default(),
            event_type: Some("failure".into()),
            since: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(fails.len(), 1);
    assert_eq!(fails[0].reward, Reward::MIN);
    let later = store
        .list_learning_events(&EventQuery {
            scope: Scope::default(),
            event_type: None,
            since: Some(Timestamp::from_millis(i64::MAX)),
            limit: 10,
        })
        .await
        .unwrap();
    assert!(later.is_empty());
}

/// Conversation summaries keep their decisions and feedback.
pub async fn conversations(store: &dyn LongTermStore) {
    let c = store
        .add_conversation(NewConversation {
            scope: Scope::user("alice").with_session("s1"),
            summary: "planned the release".into(),
            key_decisions: vec!["ship friday".into(), "no new deps".into()],
            user_feedback: Some("good".into()),
        })
        .await
        .unwrap();
    store
        .add_conversation(NewConversation {
            summary: "other".into(),
            ..NewConversation::default()
        })
        .await
        .unwrap();
    assert_eq!(
        store
            .list_conversations(&Scope::user("alice"), 10)
            .await
            .unwrap(),
        vec![c]
    );
    assert_eq!(
        store
            .list_conversations(&Scope::default(), 10)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        store
            .list_conversations(&Scope::default(), 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_invalid(
        store.add_conversation(NewConversation::default()).await,
        "empty summary",
    );
}

/// Decisions are recorded, then given an outcome and reward (the seed's learning loop).
pub async fn decisions(store: &dyn LongTermStore) {
    let d = store
        .record_decision(NewDecision {
            scope: Scope::user("alice"),
            agent_type: "coder".into(),
            context: "pick a test runner".into(),
            options: vec!["nextest".into(), "cargo test".into()],
            chosen_option: "nextest".into(),
            reasoning: "faster".into(),
            metadata: Metadata::new().with("task_type", "testing").with(
                "served_by",
                json!({"provider": "ollama", "model": "llama3.1:8b"}),
            ),
        })
        .await
        .unwrap();
    assert_eq!(
        (d.outcome.clone(), d.reward, d.outcome_at),
        (None, None, None)
    );
    assert_eq!(d.metadata.get("task_type"), Some(&json!("testing")));
    assert_eq!(store.get_decision(d.id).await.unwrap(), Some(d.clone()));
    let pending = store
        .list_decisions(&DecisionQuery {
            scope: Scope::default(),
            agent_type: None,
            with_outcome: Some(false),
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    let u = store
        .update_decision_outcome(d.id, "ran 2x faster", Reward::new(0.8).unwrap())
        .await
        .unwrap();
    assert_eq!(u.outcome.as_deref(), Some("ran 2x faster"));
    assert_eq!(u.reward, Some(Reward::new(0.8).unwrap()));
    assert!(u.outcome_at.is_some());
    assert_eq!(u.options, d.options);
    let decided = store
        .list_decisions(&DecisionQuery {
            scope: Scope::user("alice"),
            agent_type: Some("coder".into()),
            with_outcome: Some(true),
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(decided, vec![u]);
    assert!(matches!(
        store
            .update_decision_outcome(d.id + 1000, "x", Reward::NEUTRAL)
            .await,
        Err(Error::NotFound { .. })
    ));
    assert!(
        store
            .list_decisions(&DecisionQuery {
                scope: Scope::user("bob"),
                agent_type: None,
                with_outcome: None,
                limit: 10
            })
            .await
            .unwrap()
            .is_empty()
    );
}

/// Batches are atomic: a failure anywhere leaves the store unchanged.
pub async fn batch_is_atomic(store: &dyn LongTermStore) {
    let dup = store.put_memory(NewMemory::new("existing")).await.unwrap();
    let before = store.stats().await.unwrap();
    let good = vec![
        WriteOp::PutMemory(NewMemory::new("batched one")),
        WriteOp::put(NewPreference::new("k", 1)),
        WriteOp::put(NewPattern::new("t", "c", "s")),
        WriteOp::put(NewPattern::new("t", "c", "s")),
        WriteOp::put(NewLearningEvent {
            scope: Scope::default(),
            event_type: "success".into(),
            task_description: "t".into(),
            outcome: "o".into(),
            reward: Reward::MAX,
            metadata: Metadata::new(),
        }),
        WriteOp::put(NewDecision {
            agent_type: "a".into(),
            context: "c".into(),
            options: vec!["x".into()],
            chosen_option: "x".into(),
            ..NewDecision::default()
        }),
        WriteOp::put(NewConversation {
            summary: "s".into(),
            ..NewConversation::default()
        }),
        WriteOp::put(NewProject {
            name: "p".into(),
            ..NewProject::default()
        }),
        WriteOp::DeleteMemory { id: dup.id },
    ];
    // Invalid input anywhere: nothing applied.
    let mut bad = good.clone();
    bad.push(WriteOp::put(NewPreference::new("", 1)));
    assert_invalid(store.write_batch(bad).await, "batch with one invalid op");
    assert_eq!(store.stats().await.unwrap(), before);
    // A conflict found while applying: nothing applied either.
    let mut conflicting = good.clone();
    conflicting.insert(3, WriteOp::PutMemory(NewMemory::new("dup").with_id(dup.id)));
    assert!(store.write_batch(conflicting).await.is_err());
    assert_eq!(store.stats().await.unwrap(), before);
    assert!(store.get_memory(dup.id).await.unwrap().is_some());

    let out = store.write_batch(good).await.unwrap();
    assert_eq!(out.len(), 9);
    assert!(matches!(&out[0], WriteOutcome::Memory(m) if m.content == "batched one"));
    assert!(matches!(&out[2], WriteOutcome::Record(w) if w.inserted));
    assert!(
        matches!(&out[3], WriteOutcome::Record(RecordWrite { record: Record::Pattern(p), inserted: false }) if p.success_count == 2),
        "ops see earlier ops of the batch"
    );
    assert!(matches!(&out[8], WriteOutcome::Deleted { existed: true }));
    let after = store.stats().await.unwrap();
    assert_eq!(after.memories, before.memories);
    assert_eq!(after.patterns, before.patterns + 1);
    assert_eq!(after.decisions, before.decisions + 1);
    assert!(store.write_batch(Vec::new()).await.unwrap().is_empty());
}

/// Exported records restore exactly (ids, times, counts, outcomes); a taken id or key is
/// a conflict and the batch holding it writes nothing.
pub async fn restore_records(store: &dyn LongTermStore) {
    let scope = Scope::user("alice").with_agent("coder");
    let t = |ms: i64| Timestamp::from_millis(ms);
    let records = vec![
        Record::Preference(Preference {
            id: 41,
            scope: scope.clone(),
            key: "editor".into(),
            value: json!({"name": "helix", "tabs": false}),
            category: "tools".into(),
            created_at: t(1_000),
            updated_at: t(2_000),
        }),
        Record::Project(Project {
            id: 7,
            scope: scope.clone(),
            name: "brain".into(),
            path: Some("/src/brain".into()),
            description: None,
            tech_stack: vec!["rust".into(), "sqlite".into()],
            status: "paused".into(),
            created_at: t(3_000),
            last_accessed: Some(t(4_000)),
        }),
        Record::Pattern(CodePattern {
            id: 99,
            scope: scope.clone(),
            pattern_type: "error_fix".into(),
            context: "E0502 borrow".into(),
            solution: "clone first".into(),
            language: Some("rust".into()),
            success_count: 12,
            failure_count: 3,
            created_at: t(5_000),
            updated_at: t(6_000),
            metadata: Metadata::new().with("distilled_from", json!([1, 2])),
        }),
        Record::LearningEvent(LearningEvent {
            id: 5,
            scope: scope.clone(),
            event_type: "success".into(),
            task_description: "fix CI".into(),
            outcome: "green".into(),
            reward: Reward::new(0.75).unwrap(),
            metadata: Metadata::new().with("tests", 12),
            created_at: t(7_000),
        }),
        Record::Conversation(ConversationSummary {
            id: 3,
            scope: scope.clone(),
            summary: "planned the release".into(),
            key_decisions: vec!["ship friday".into()],
            user_feedback: Some("good".into()),
            created_at: t(8_000),
        }),
        Record::Decision(AgentDecision {
            id: 11,
            scope: scope.clone(),
            agent_type: "coder".into(),
            context: "which db".into(),
            options: vec!["sqlite".into(), "postgres".into()],
            chosen_option: "sqlite".into(),
            reasoning: "embedded".into(),
            outcome: Some("worked".into()),
            reward: Some(Reward::new(1.0).unwrap()),
            created_at: t(9_000),
            outcome_at: Some(t(10_000)),
            metadata: Default::default(),
        }),
    ];
    let out = store
        .write_batch(records.iter().cloned().map(WriteOp::Restore).collect())
        .await
        .unwrap();
    assert_eq!(out.len(), records.len());
    for r in &records {
        let back = match r {
            Record::Preference(p) => Record::Preference(
                store
                    .get_preference(&p.scope, &p.key)
                    .await
                    .unwrap()
                    .unwrap(),
            ),
            Record::Project(p) => Record::Project(store.get_project(p.id).await.unwrap().unwrap()),
            Record::Pattern(p) => Record::Pattern(store.get_pattern(p.id).await.unwrap().unwrap()),
            Record::LearningEvent(_) => Record::LearningEvent(
                store
                    .list_learning_events(&EventQuery {
                        scope: scope.clone(),
                        event_type: None,
                        since: None,
                        limit: 10,
                    })
                    .await
                    .unwrap()
                    .remove(0),
            ),
            Record::Conversation(_) => Record::Conversation(
                store
                    .list_conversations(&scope, 10)
                    .await
                    .unwrap()
                    .remove(0),
            ),
            Record::Decision(d) => {
                Record::Decision(store.get_decision(d.id).await.unwrap().unwrap())
            }
        };
        assert_eq!(&back, r, "{} restores exactly", r.kind());
    }
    // New writes after a restore take fresh ids.
    let p = store
        .add_project(NewProject {
            name: "next".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(p.id > 7);

    // A taken id: conflict, and the batch's other write is not kept.
    let before = store
        .count_memories(&MemoryFilter::default())
        .await
        .unwrap();
    let e = store
        .write_batch(vec![
            WriteOp::PutMemory(NewMemory::new("in the failed batch")),
            WriteOp::Restore(records[2].clone()),
        ])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    assert_eq!(
        store
            .count_memories(&MemoryFilter::default())
            .await
            .unwrap(),
        before
    );
    // A taken unique key under a fresh id: conflict too.
    let Record::Preference(mut p) = records[0].clone() else {
        unreachable!()
    };
    p.id = 1_000;
    let e = store
        .write_batch(vec![WriteOp::Restore(Record::Preference(p))])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    // Invalid records are rejected before anything is written.
    let Record::Pattern(mut bad) = records[2].clone() else {
        unreachable!()
    };
    bad.id = 0;
    assert_invalid(
        store
            .write_batch(vec![WriteOp::Restore(Record::Pattern(bad))])
            .await,
        "id 0",
    );
}

/// Keyword recall: stems, ignores stop words (unless the query is only stop words),
/// searches a memory's context at a lower weight than its content, and counts document
/// frequencies; a context-only update keeps `updated_at`.
pub async fn keyword_context_and_stemming(store: &dyn LongTermStore) {
    let s = Scope::user("kw");
    let q = |text: &str| KeywordQuery {
        text: text.into(),
        filter: MemoryFilter::scoped(s.clone()),
        limit: 10,
    };
    let runner = store
        .put_memory(NewMemory::new("she was running the marathon").with_scope(s.clone()))
        .await
        .unwrap();
    let ctx = store
        .put_memory(
            NewMemory::new("it went well")
                .with_scope(s.clone())
                .with_context("[8 May 2023] talking about the marathon"),
        )
        .await
        .unwrap();
    assert_eq!(ctx.context, "[8 May 2023] talking about the marathon");
    assert_eq!(
        store.get_memory(ctx.id).await.unwrap().unwrap().context,
        ctx.context
    );
    let hits = store.search_memories(&q("runs")).await.unwrap();
    assert_eq!(hits.len(), 1, "stemmed: runs ~ running");
    assert_eq!(hits[0].memory.id, runner.id);
    let hits = store.search_memories(&q("marathons")).await.unwrap();
    assert_eq!(hits.len(), 2, "content and context both searched: {hits:?}");
    assert_eq!(hits[0].memory.id, runner.id, "content outweighs context");
    // "the" and "was" are stop words: only "marathon" is searched...
    let hits = store.search_memories(&q("the marathon was")).await.unwrap();
    assert_eq!(hits.len(), 2);
    // ...but a query of stop words alone still searches them.
    let hits = store.search_memories(&q("it")).await.unwrap();
    assert_eq!(hits.len(), 1);
    let (total, counts) = store
        .keyword_document_counts(&["marathon".into(), "running".into(), "zebra".into()])
        .await
        .unwrap();
    assert!(total >= 2);
    assert_eq!(counts, vec![1, 1, 0], "content only, stemmed");
    // A context-only patch keeps updated_at and is searchable at once.
    let patched = store
        .update_memory(
            runner.id,
            MemoryPatch {
                context: Some("then she swims".into()),
                ..MemoryPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.updated_at, runner.updated_at);
    let hits = store.search_memories(&q("swimming")).await.unwrap();
    assert_eq!(hits.len(), 1);
}

/// A selective filter over a word many memories share still finds the best `limit`
/// matches inside the filter (a backend that ranks first and filters after must fall back).
pub async fn keyword_search_selective_filter(store: &dyn LongTermStore) {
    let crowd = Scope::user("crowd");
    let few = Scope::user("few");
    let mut ops = Vec::new();
    for i in 0..300 {
        ops.push(WriteOp::PutMemory(
            NewMemory::new(format!("kubernetes kubernetes deploy note {i}"))
                .with_scope(crowd.clone()),
        ));
    }
    for i in 0..3 {
        ops.push(WriteOp::PutMemory(
            NewMemory::new(format!(
                "a long rambling text that mentions kubernetes once, item {i}"
            ))
            .with_scope(few.clone()),
        ));
    }
    store.write_batch(ops).await.unwrap();
    for limit in [1, 2, 3, 10] {
        let hits = store
            .search_memories(&KeywordQuery {
                text: "kubernetes".into(),
                filter: MemoryFilter::scoped(few.clone()),
                limit,
            })
            .await
            .unwrap();
        assert_eq!(hits.len(), limit.min(3), "limit {limit}");
        assert!(hits.iter().all(|h| h.memory.scope == few));
    }
    let all = store
        .search_memories(&KeywordQuery {
            text: "kubernetes".into(),
            filter: MemoryFilter::default(),
            limit: 500,
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 303);
    assert!(
        all.windows(2).all(|w| w[0].score >= w[1].score),
        "best first"
    );
}

/// Learned policies: saved with versions, read back exactly, a stale or duplicate save
/// is a conflict that changes nothing, and of two concurrent saves from the same
/// version exactly one wins.
pub async fn policies(store: &dyn LongTermStore) {
    let state = json!({"q": {"code:simple": {"fast": 0.5, "careful": -0.25}}, "epsilon": 0.2});
    assert_eq!(store.get_policy("router/chat").await.unwrap(), None);
    let v1 = store
        .put_policy("router/chat", "q_learner", &state, None)
        .await
        .unwrap();
    assert_eq!(v1, 1);
    let got = store.get_policy("router/chat").await.unwrap().unwrap();
    assert_eq!(
        (got.name.as_str(), got.kind.as_str(), got.version),
        ("router/chat", "q_learner", 1)
    );
    assert_eq!(got.state, state);

    // A second "first save" and a stale save are conflicts and change nothing.
    let other = json!({"q": {}});
    let e = store
        .put_policy("router/chat", "q_learner", &other, None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    let v2 = store
        .put_policy("router/chat", "q_learner", &other, Some(1))
        .await
        .unwrap();
    assert_eq!(v2, 2);
    let e = store
        .put_policy("router/chat", "q_learner", &state, Some(1))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    let got = store.get_policy("router/chat").await.unwrap().unwrap();
    assert_eq!((got.version, &got.state), (2, &other));

    // Bad input is refused before anything is written.
    for (name, kind) in [("", "k"), ("n", ""), ("bad\u{0}name", "k")] {
        let e = store
            .put_policy(name, kind, &state, None)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{name:?} {kind:?}");
    }
    let mut deep = json!(1);
    for _ in 0..40 {
        deep = json!([deep]);
    }
    assert_eq!(
        store
            .put_policy("deep", "k", &deep, None)
            .await
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );

    store
        .put_policy("bandit/a", "ucb1", &json!([1, 2]), None)
        .await
        .unwrap();
    assert_eq!(
        store.list_policies().await.unwrap(),
        vec!["bandit/a", "router/chat"]
    );
    assert!(store.delete_policy("bandit/a").await.unwrap());
    assert!(!store.delete_policy("bandit/a").await.unwrap());
    assert_eq!(store.list_policies().await.unwrap(), vec!["router/chat"]);
}

/// Of several concurrent saves from the same version, exactly one wins; the others are
/// conflicts, so no update is lost silently.
pub async fn policy_saves_race(store: Arc<dyn LongTermStore>) {
    store
        .put_policy("race", "k", &json!(0), None)
        .await
        .unwrap();
    let outcomes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (s, outcomes) = (Arc::clone(&store), Arc::clone(&outcomes));
        tasks.push(async move {
            let r = s.put_policy("race", "k", &json!(i), Some(1)).await;
            outcomes.lock().unwrap().push(r);
        });
    }
    join_all(tasks).await;
    let mut won = 0;
    for outcome in outcomes.lock().unwrap().drain(..) {
        match outcome {
            Ok(v) => {
                assert_eq!(v, 2);
                won += 1;
            }
            Err(e) => assert_eq!(e.kind(), ErrorKind::Conflict),
        }
    }
    assert_eq!(won, 1);
    assert_eq!(store.get_policy("race").await.unwrap().unwrap().version, 2);
}

/// Many concurrent writers through one handle: nothing is lost, no error surfaces.
pub async fn concurrent_writers(store: Arc<dyn LongTermStore>) {
    let p = store
        .store_pattern(NewPattern::new("race", "counter", "n+1"))
        .await
        .unwrap()
        .pattern;
    let mut tasks = Vec::new();
    for t in 0..8 {
        let s = store.clone();
        tasks.push(async move {
            for i in 0..25 {
                s.record_pattern_outcome(
                    p.id,
                    if i % 5 == 0 {
                        PatternOutcome::Failure
                    } else {
                        PatternOutcome::Success
                    },
                )
                .await
                .unwrap();
                s.put_memory(NewMemory::new(format!("task {t} write {i}")))
                    .await
                    .unwrap();
            }
        });
    }
    join_all(tasks).await;
    let p = store.get_pattern(p.id).await.unwrap().unwrap();
    assert_eq!(
        (p.success_count, p.failure_count),
        (1 + 8 * 20, 8 * 5),
        "no lost update"
    );
    assert_eq!(
        store
            .count_memories(&MemoryFilter::default())
            .await
            .unwrap(),
        200
    );
}

/// Two handles on the same store (two connections, or two pools) write at once; each
/// sees the other's writes, and no count is lost.
pub async fn two_handles(a: Arc<dyn LongTermStore>, b: Arc<dyn LongTermStore>) {
    let p = a
        .store_pattern(NewPattern::new("race", "two handles", "x"))
        .await
        .unwrap()
        .pattern;
    let mut tasks = Vec::new();
    for (n, s) in [a.clone(), b.clone(), a.clone(), b.clone()]
        .into_iter()
        .enumerate()
    {
        tasks.push(async move {
            for i in 0..50 {
                s.record_pattern_outcome(p.id, PatternOutcome::Success)
                    .await
                    .unwrap();
                s.store_preference(NewPreference::new(format!("h{n}.{i}"), i))
                    .await
                    .unwrap();
            }
        });
    }
    join_all(tasks).await;
    assert_eq!(
        b.get_pattern(p.id).await.unwrap().unwrap().success_count,
        201
    );
    assert_eq!(
        a.list_preferences(&Scope::default(), None)
            .await
            .unwrap()
            .len(),
        200
    );
}

/// Runs futures concurrently on the caller's executor without depending on one.
async fn join_all<F: std::future::Future<Output = ()>>(futs: Vec<F>) {
    use std::pin::Pin;
    use std::task::{Context, Poll};
    struct JoinAll<F>(Vec<Option<Pin<Box<F>>>>);
    impl<F: std::future::Future<Output = ()>> std::future::Future for JoinAll<F> {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let mut pending = false;
            for slot in self.0.iter_mut() {
                if let Some(f) = slot {
                    if f.as_mut().poll(cx).is_ready() {
                        *slot = None;
                    } else {
                        pending = true;
                    }
                }
            }
            if pending {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        }
    }
    JoinAll(futs.into_iter().map(|f| Some(Box::pin(f))).collect()).await
}

/// What [`write_sample`] wrote, for [`check_sample`] to find after a reopen.
#[derive(Debug, Clone)]
pub struct Sample {
    memory: Memory,
    preference: Preference,
    pattern: CodePattern,
    decision: AgentDecision,
}

/// Writes one of each record, for a durability check across close and reopen.
pub async fn write_sample(store: &dyn LongTermStore) -> Sample {
    let memory = store
        .put_memory(
            NewMemory::new("survives a restart").with_metadata(Metadata::new().with("k", "v")),
        )
        .await
        .unwrap();
    let preference = store
        .store_preference(NewPreference::new("persist", json!({"a": 1})))
        .await
        .unwrap();
    let pattern = store
        .store_pattern(NewPattern::new("t", "persisted context", "s"))
        .await
        .unwrap()
        .pattern;
    let pattern = store
        .record_pattern_outcome(pattern.id, PatternOutcome::Failure)
        .await
        .unwrap();
    let decision = store
        .record_decision(NewDecision {
            agent_type: "a".into(),
            context: "c".into(),
            options: vec!["x".into()],
            chosen_option: "x".into(),
            ..NewDecision::default()
        })
        .await
        .unwrap();
    let decision = store
        .update_decision_outcome(decision.id, "ok", Reward::new(0.5).unwrap())
        .await
        .unwrap();
    Sample {
        memory,
        preference,
        pattern,
        decision,
    }
}

/// Checks that everything [`write_sample`] wrote is there, unchanged.
pub async fn check_sample(store: &dyn LongTermStore, s: &Sample) {
    assert_eq!(
        store.get_memory(s.memory.id).await.unwrap().as_ref(),
        Some(&s.memory)
    );
    assert_eq!(
        store
            .get_preference(&Scope::default(), "persist")
            .await
            .unwrap()
            .as_ref(),
        Some(&s.preference)
    );
    assert_eq!(
        store.get_pattern(s.pattern.id).await.unwrap().as_ref(),
        Some(&s.pattern)
    );
    assert_eq!(
        store.get_decision(s.decision.id).await.unwrap().as_ref(),
        Some(&s.decision)
    );
    let hits = store
        .search_memories(&KeywordQuery {
            text: "restart".into(),
            filter: MemoryFilter::default(),
            limit: 5,
        })
        .await
        .unwrap();
    assert_eq!(hits.len(), 1, "the keyword index survives too");
}

/// Arbitrary text and metadata for [`check_unicode_round_trip`].
#[derive(Debug, Clone)]
pub struct UnicodeCase {
    /// Memory content.
    pub content: String,
    /// Memory metadata.
    pub metadata: Metadata,
    /// A preference key.
    pub key: String,
    /// A preference value.
    pub value: Value,
    /// A scope.
    pub scope: Scope,
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        any::<String>()
            .prop_filter("no NUL", |s| !s.contains('\0'))
            .prop_map(Value::String),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(any::<String>(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn key_text() -> impl Strategy<Value = String> {
    any::<String>().prop_filter("valid key", |s| validate::key("k", s).is_ok())
}

/// Arbitrary Unicode contents, keys, scopes and JSON values within the limits.
pub fn unicode_case() -> impl Strategy<Value = UnicodeCase> {
    let content = any::<String>().prop_filter("valid content", |s| {
        validate::non_empty_text("c", s).is_ok()
    });
    let metadata = proptest::collection::btree_map(key_text(), json_value(), 0..5)
        .prop_map(|m| Metadata::from(m.into_iter().collect::<serde_json::Map<_, _>>()));
    let scope = (
        proptest::option::of(key_text()),
        proptest::option::of(key_text()),
        proptest::option::of(key_text()),
    )
        .prop_map(|(user, agent, session)| Scope {
            user,
            agent,
            session,
        });
    (content, metadata, key_text(), json_value(), scope).prop_map(
        |(content, metadata, key, value, scope)| UnicodeCase {
            content,
            metadata,
            key,
            value,
            scope,
        },
    )
}

/// Stores the case as a memory and a preference, and checks both read back unchanged
/// (keyword search must not choke on the content either).
pub async fn check_unicode_round_trip(
    store: &dyn LongTermStore,
    case: UnicodeCase,
) -> std::result::Result<(), TestCaseError> {
    let m = store
        .put_memory(
            NewMemory::new(case.content.clone())
                .with_scope(case.scope.clone())
                .with_metadata(case.metadata.clone()),
        )
        .await
        .map_err(|e| TestCaseError::fail(format!("put_memory: {e}")))?;
    let got = store
        .get_memory(m.id)
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(got.as_ref(), Some(&m));
    prop_assert_eq!(&m.content, &case.content);
    prop_assert_eq!(&m.metadata, &case.metadata);
    prop_assert_eq!(&m.scope, &case.scope);
    let p = store
        .store_preference(
            NewPreference::new(case.key.clone(), case.value.clone()).with_scope(case.scope.clone()),
        )
        .await
        .map_err(|e| TestCaseError::fail(format!("store_preference: {e}")))?;
    let got = store
        .get_preference(&case.scope, &case.key)
        .await
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(got.map(|g| g.value), Some(case.value.clone()));
    prop_assert_eq!(p.value, case.value);
    store
        .search_memories(&KeywordQuery {
            text: case.content,
            filter: MemoryFilter::scoped(case.scope),
            limit: 5,
        })
        .await
        .map_err(|e| TestCaseError::fail(format!("search_memories: {e}")))?;
    Ok(())
}

// ---------- embedding store ----------

fn unit(dim: usize, hot: usize) -> Vec<f32> {
    let mut v = vec![0.0; dim];
    v[hot % dim] = 1.0;
    v
}

/// Pinning, storing and reading embeddings; dimension, NaN and missing memories are
/// refused; another embedder cannot be pinned while vectors are stored.
pub async fn embeddings_round_trip<S: LongTermStore + EmbeddingStore + ?Sized>(store: &S) {
    let info = EmbedderInfo {
        model_id: "test/model".into(),
        dimension: 4,
    };
    let m = store.put_memory(NewMemory::new("embedded")).await.unwrap();
    // Nothing can be stored before an embedder is pinned.
    assert_invalid(
        store.put_embeddings(vec![(m.id, unit(4, 0))]).await,
        "embedding without a pinned embedder",
    );
    assert_eq!(store.embedder().await.unwrap(), None);
    store.pin_embedder(&info).await.unwrap();
    store.pin_embedder(&info).await.unwrap();
    assert_eq!(store.embedder().await.unwrap(), Some(info.clone()));
    assert_eq!(store.last_embedding_seq().await.unwrap(), 0);

    let v = vec![0.5, -0.25, 0.125, 1.0e-7];
    let seq = store.put_embeddings(vec![(m.id, v.clone())]).await.unwrap();
    assert!(seq > 0);
    assert_eq!(
        store.get_embedding(m.id).await.unwrap(),
        Some(v.clone()),
        "f32 bits round-trip"
    );
    assert_eq!(store.last_embedding_seq().await.unwrap(), seq);

    let before = store.last_embedding_seq().await.unwrap();
    assert_invalid(
        store.put_embeddings(vec![(m.id, vec![1.0; 3])]).await,
        "wrong dimension",
    );
    assert_invalid(
        store
            .put_embeddings(vec![(m.id, vec![f32::NAN, 0.0, 0.0, 1.0])])
            .await,
        "NaN",
    );
    assert_invalid(
        store.put_embeddings(vec![(m.id, vec![0.0; 4])]).await,
        "zero vector",
    );
    match store
        .put_embeddings(vec![(MemoryId::new(), unit(4, 1))])
        .await
    {
        Err(Error::NotFound { .. }) => {}
        other => panic!("embedding of a missing memory: expected NotFound, got {other:?}"),
    }
    // A failing item fails the whole call.
    let m2 = store.put_memory(NewMemory::new("second")).await.unwrap();
    assert!(
        store
            .put_embeddings(vec![(m2.id, unit(4, 1)), (m.id, vec![1.0; 5])])
            .await
            .is_err()
    );
    assert_eq!(store.get_embedding(m2.id).await.unwrap(), None);
    assert_eq!(
        store.last_embedding_seq().await.unwrap(),
        before,
        "rejected writes take no sequence number"
    );

    let other = EmbedderInfo {
        model_id: "other/model".into(),
        dimension: 8,
    };
    match store.pin_embedder(&other).await {
        Err(Error::Conflict(msg)) => assert!(
            msg.contains("reindex"),
            "the error names the way out: {msg}"
        ),
        got => {
            panic!("pinning another embedder over stored vectors: expected Conflict, got {got:?}")
        }
    }
    // After a clear (a reindex), another embedder may be pinned.
    store.clear_embeddings().await.unwrap();
    assert_eq!(store.get_embedding(m.id).await.unwrap(), None);
    assert_eq!(store.embedder().await.unwrap(), None);
    store.pin_embedder(&other).await.unwrap();
    store
        .put_embeddings(vec![(m.id, unit(8, 3))])
        .await
        .unwrap();
    assert_eq!(store.get_embedding(m.id).await.unwrap(), Some(unit(8, 3)));
}

/// The change log: puts, filter-field updates, content changes, deletions and batches
/// each appear once, in order, with the latest state, so an index catching up from any
/// point ends equal to the store.
pub async fn embedding_log<S: LongTermStore + EmbeddingStore + ?Sized>(store: &S) {
    let info = EmbedderInfo {
        model_id: "test/model".into(),
        dimension: 4,
    };
    store.pin_embedder(&info).await.unwrap();
    let a = store
        .put_memory(NewMemory::new("alpha").with_scope(Scope::user("alice")))
        .await
        .unwrap();
    let b = store.put_memory(NewMemory::new("beta")).await.unwrap();
    let c = store.put_memory(NewMemory::new("gamma")).await.unwrap();
    let s1 = store
        .put_embeddings(vec![
            (a.id, unit(4, 0)),
            (b.id, unit(4, 1)),
            (c.id, unit(4, 2)),
        ])
        .await
        .unwrap();
    let all = store.embedding_changes(0, 100).await.unwrap();
    assert_eq!(all.len(), 3);
    assert!(
        all.windows(2).all(|w| w[0].seq < w[1].seq),
        "increasing sequence numbers"
    );
    assert_eq!(all.last().unwrap().seq, s1);
    let ea = all
        .iter()
        .find(|ch| ch.id == a.id)
        .unwrap()
        .entry
        .clone()
        .unwrap();
    assert_eq!(
        (ea.scope.clone(), ea.kind.clone(), ea.vector.clone()),
        (Scope::user("alice"), a.kind.clone(), unit(4, 0))
    );

    // Metadata change: logged again with the new filter fields; paging works.
    store
        .update_memory(
            a.id,
            MemoryPatch {
                metadata: Some(Metadata::new().with("k", "v")),
                ..MemoryPatch::default()
            },
        )
        .await
        .unwrap();
    let ch = store.embedding_changes(s1, 100).await.unwrap();
    assert_eq!(ch.len(), 1);
    assert_eq!(
        ch[0].entry.as_ref().unwrap().metadata,
        Metadata::new().with("k", "v")
    );
    assert_eq!(
        store.embedding_changes(0, 2).await.unwrap().len(),
        2,
        "limit pages the log"
    );
    // An update that changes nothing a filter reads is not logged.
    let s2 = store.last_embedding_seq().await.unwrap();
    store
        .update_memory(
            a.id,
            MemoryPatch {
                importance: Some(Importance::new(0.9).unwrap()),
                ..MemoryPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(store.last_embedding_seq().await.unwrap(), s2);

    // New content drops the stale embedding; deletion logs a tombstone.
    store
        .update_memory(
            b.id,
            MemoryPatch {
                content: Some("beta, rewritten".into()),
                ..MemoryPatch::default()
            },
        )
        .await
        .unwrap();
    assert!(store.delete_memory(c.id).await.unwrap());
    let ch = store.embedding_changes(s2, 100).await.unwrap();
    assert_eq!(
        ch.iter()
            .map(|c| (c.id, c.entry.is_none()))
            .collect::<Vec<_>>(),
        vec![(b.id, true), (c.id, true)]
    );
    assert_eq!(store.get_embedding(b.id).await.unwrap(), None);

    // Remember as one batch: memory and embedding commit together, or not at all.
    let d = MemoryId::new();
    let out = store
        .write_batch(vec![
            WriteOp::PutMemory(NewMemory::new("delta").with_id(d)),
            WriteOp::PutEmbedding {
                id: d,
                vector: unit(4, 3),
            },
        ])
        .await
        .unwrap();
    assert!(
        matches!(out[1], WriteOutcome::Embedding { seq } if seq == store.last_embedding_seq().await.unwrap())
    );
    let e = MemoryId::new();
    let before = store.last_embedding_seq().await.unwrap();
    assert!(
        store
            .write_batch(vec![
                WriteOp::PutMemory(NewMemory::new("epsilon").with_id(e)),
                WriteOp::PutEmbedding {
                    id: e,
                    vector: vec![1.0; 7]
                }
            ])
            .await
            .is_err()
    );
    assert_eq!(
        store.get_memory(e).await.unwrap(),
        None,
        "the memory is not stored without its embedding"
    );
    assert_eq!(store.last_embedding_seq().await.unwrap(), before);

    // Replaying the whole log gives exactly the live embeddings.
    let mut state = std::collections::BTreeMap::new();
    for ch in store.embedding_changes(0, 1000).await.unwrap() {
        match ch.entry {
            Some(entry) => state.insert(ch.id, entry.vector),
            None => state.remove(&ch.id),
        };
    }
    assert_eq!(
        state.keys().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from([a.id, d])
    );
    assert_eq!(store.stats().await.unwrap().embeddings, 2);
}

// ---------- multi-step writes in one batch ----------

/// Everything a store holds that the batch checks touch, sorted by id, so a failed
/// batch can be shown to have changed nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Record counts.
    pub stats: StoreStats,
    /// Every memory, expired ones included.
    pub memories: Vec<Memory>,
    /// Every global pattern.
    pub patterns: Vec<CodePattern>,
    /// Every decision.
    pub decisions: Vec<AgentDecision>,
    /// Every learning event.
    pub events: Vec<LearningEvent>,
    /// Every saved policy.
    pub policies: Vec<PolicyState>,
}

/// Reads a [`Snapshot`] of `store`.
pub async fn snapshot<S: LongTermStore + ?Sized>(store: &S) -> Snapshot {
    let mut memories = store
        .list_memories(&MemoryQuery::new(
            MemoryFilter {
                include_expired: true,
                ..MemoryFilter::default()
            },
            100_000,
        ))
        .await
        .unwrap();
    memories.sort_by_key(|m| m.id);
    let mut patterns = store
        .list_patterns(&PatternQuery::new(Scope::default(), 100_000))
        .await
        .unwrap();
    patterns.sort_by_key(|p| p.id);
    let mut decisions = store
        .list_decisions(&DecisionQuery {
            scope: Scope::default(),
            agent_type: None,
            with_outcome: None,
            limit: 100_000,
        })
        .await
        .unwrap();
    decisions.sort_by_key(|d| d.id);
    let mut events = store
        .list_learning_events(&EventQuery {
            scope: Scope::default(),
            event_type: None,
            since: None,
            limit: 100_000,
        })
        .await
        .unwrap();
    events.sort_by_key(|e| e.id);
    let mut policies = Vec::new();
    for name in store.list_policies().await.unwrap() {
        policies.push(store.get_policy(&name).await.unwrap().unwrap());
    }
    Snapshot {
        stats: store.stats().await.unwrap(),
        memories,
        patterns,
        decisions,
        events,
        policies,
    }
}

/// The records the batch checks start from.
struct BatchFixture {
    memory: Memory,
    pattern: CodePattern,
    decision: AgentDecision,
}

fn decision(context: &str) -> NewDecision {
    NewDecision {
        agent_type: "coder".into(),
        context: context.into(),
        options: vec!["a".into(), "b".into()],
        chosen_option: "a".into(),
        ..NewDecision::default()
    }
}

fn event(task: &str, reward: Reward) -> NewLearningEvent {
    NewLearningEvent {
        scope: Scope::default(),
        event_type: "success".into(),
        task_description: task.into(),
        outcome: "done".into(),
        reward,
        metadata: Metadata::new().with("source", "batch"),
    }
}

/// A memory, a pattern, a decision without outcome and policy `router/chat` at version 1.
async fn batch_fixture<S: LongTermStore + ?Sized>(store: &S) -> BatchFixture {
    let memory = store
        .put_memory(NewMemory::new("predecessor turn"))
        .await
        .unwrap();
    let pattern = store
        .store_pattern(NewPattern::new("error_fix", "borrow checker", "clone it"))
        .await
        .unwrap()
        .pattern;
    let decision = store
        .record_decision(decision("pick a runner"))
        .await
        .unwrap();
    let v = store
        .put_policy("router/chat", "q_learner", &json!({"q": 1}), None)
        .await
        .unwrap();
    assert_eq!(v, 1);
    BatchFixture {
        memory,
        pattern,
        decision,
    }
}

fn expect_kind<T: std::fmt::Debug>(r: Result<T>, kind: ErrorKind, what: &str) -> Error {
    match r {
        Err(e) if e.kind() == kind => e,
        other => panic!("{what}: expected {kind:?}, got {other:?}"),
    }
}

/// Each multi-step op (`UpdateMemory`, `RecordPatternOutcome`, `UpdateDecisionOutcome`,
/// `PutPolicy`, `ExpectEmbedder`) works in a batch, returns its outcome, sees earlier ops
/// of the batch, and has the effects of its single-call method (an `UpdateMemory` that
/// changes content drops the stale embedding and logs it; one that changes metadata logs
/// it). Invalid input in any of them rejects the batch before anything is written.
pub async fn batch_multi_step_ops<S: LongTermStore + EmbeddingStore + ?Sized>(store: &S) {
    let f = batch_fixture(store).await;
    let info = EmbedderInfo {
        model_id: "test/model".into(),
        dimension: 4,
    };
    store.pin_embedder(&info).await.unwrap();
    let kept = store.put_memory(NewMemory::new("kept")).await.unwrap();
    store
        .put_embeddings(vec![(f.memory.id, unit(4, 0)), (kept.id, unit(4, 1))])
        .await
        .unwrap();
    let seq0 = store.last_embedding_seq().await.unwrap();

    // Invalid input anywhere: InvalidInput, nothing written.
    let before = snapshot(store).await;
    let invalid = [
        WriteOp::UpdateMemory {
            id: f.memory.id,
            patch: MemoryPatch {
                content: Some("  ".into()),
                ..MemoryPatch::default()
            },
        },
        WriteOp::ChangeRecord {
            id: f.decision.id,
            change: RecordChange::DecisionOutcome {
                outcome: "nul\u{0}".into(),
                reward: Reward::NEUTRAL,
            },
        },
        WriteOp::PutPolicy {
            name: String::new(),
            kind: "k".into(),
            state: json!(1),
            expected: None,
        },
        WriteOp::ExpectEmbedder(EmbedderInfo {
            model_id: "test/model".into(),
            dimension: 0,
        }),
    ];
    for op in invalid {
        let what = format!("{op:?}");
        assert_invalid(
            store
                .write_batch(vec![WriteOp::PutMemory(NewMemory::new("never")), op])
                .await,
            &what,
        );
    }
    assert_eq!(
        snapshot(store).await,
        before,
        "rejected batches wrote nothing"
    );

    let fresh = MemoryId::new();
    let patch = MemoryPatch {
        content: Some("predecessor turn, with its successor".into()),
        ..MemoryPatch::default()
    };
    let out = store
        .write_batch(vec![
            WriteOp::ExpectEmbedder(info.clone()),
            WriteOp::PutMemory(NewMemory::new("successor turn").with_id(fresh)),
            WriteOp::UpdateMemory {
                id: f.memory.id,
                patch: patch.clone(),
            },
            WriteOp::UpdateMemory {
                id: kept.id,
                patch: MemoryPatch {
                    metadata: Some(Metadata::new().with("k", "v")),
                    ..MemoryPatch::default()
                },
            },
            WriteOp::UpdateMemory {
                id: fresh,
                patch: MemoryPatch {
                    context: Some("after the predecessor".into()),
                    ..MemoryPatch::default()
                },
            },
            WriteOp::ChangeRecord {
                id: f.pattern.id,
                change: RecordChange::PatternOutcome {
                    outcome: PatternOutcome::Failure,
                },
            },
            WriteOp::ChangeRecord {
                id: f.pattern.id,
                change: RecordChange::PatternOutcome {
                    outcome: PatternOutcome::Success,
                },
            },
            WriteOp::ChangeRecord {
                id: f.decision.id,
                change: RecordChange::DecisionOutcome {
                    outcome: "worked".into(),
                    reward: Reward::new(0.5).unwrap(),
                },
            },
            WriteOp::put(event("pick a runner", Reward::new(0.5).unwrap())),
            WriteOp::PutPolicy {
                name: "router/chat".into(),
                kind: "q_learner".into(),
                state: json!({"q": 2}),
                expected: Some(1),
            },
            WriteOp::PutPolicy {
                name: "router/chat".into(),
                kind: "q_learner".into(),
                state: json!({"q": 3}),
                expected: Some(2),
            },
            WriteOp::PutPolicy {
                name: "bandit/new".into(),
                kind: "ucb1".into(),
                state: json!([1]),
                expected: None,
            },
        ])
        .await
        .unwrap();
    assert_eq!(out.len(), 12);
    assert_eq!(out[0], WriteOutcome::Checked);
    let WriteOutcome::Memory(updated) = &out[2] else {
        panic!("UpdateMemory returns the memory: {:?}", out[2]);
    };
    assert_eq!(&updated.content, patch.content.as_ref().unwrap());
    assert_eq!(updated.created_at, f.memory.created_at);
    assert!(updated.updated_at >= f.memory.updated_at);
    assert_eq!(
        store.get_memory(f.memory.id).await.unwrap().as_ref(),
        Some(updated)
    );
    let WriteOutcome::Memory(with_context) = &out[4] else {
        panic!("UpdateMemory returns the memory: {:?}", out[4]);
    };
    assert_eq!(
        (with_context.content.as_str(), with_context.context.as_str()),
        ("successor turn", "after the predecessor"),
        "an op sees a memory put earlier in the batch"
    );
    assert_eq!(
        store.get_memory(fresh).await.unwrap().as_ref(),
        Some(with_context)
    );
    let WriteOutcome::Changed(Record::Pattern(p1)) = &out[5] else {
        panic!("RecordPatternOutcome returns the pattern: {:?}", out[5]);
    };
    assert_eq!(
        (p1.success_count, p1.failure_count),
        (f.pattern.success_count, f.pattern.failure_count + 1)
    );
    let WriteOutcome::Changed(Record::Pattern(p2)) = &out[6] else {
        panic!("RecordPatternOutcome returns the pattern: {:?}", out[6]);
    };
    assert_eq!(
        (p2.success_count, p2.failure_count),
        (f.pattern.success_count + 1, f.pattern.failure_count + 1),
        "counts add up within one batch"
    );
    assert_eq!(
        store.get_pattern(f.pattern.id).await.unwrap().as_ref(),
        Some(p2)
    );
    let WriteOutcome::Changed(Record::Decision(d)) = &out[7] else {
        panic!("UpdateDecisionOutcome returns the decision: {:?}", out[7]);
    };
    assert_eq!(d.outcome.as_deref(), Some("worked"));
    assert_eq!(d.reward, Some(Reward::new(0.5).unwrap()));
    assert!(d.outcome_at.is_some());
    assert_eq!(
        store.get_decision(f.decision.id).await.unwrap().as_ref(),
        Some(d)
    );
    assert!(
        matches!(&out[8], WriteOutcome::Record(RecordWrite { record: Record::LearningEvent(e), .. }) if e.task_description == "pick a runner")
    );
    assert_eq!(out[9], WriteOutcome::Policy { version: 2 });
    assert_eq!(out[10], WriteOutcome::Policy { version: 3 });
    assert_eq!(out[11], WriteOutcome::Policy { version: 1 });
    let saved = store.get_policy("router/chat").await.unwrap().unwrap();
    assert_eq!((saved.version, saved.state), (3, json!({"q": 3})));
    assert_eq!(
        store
            .get_policy("bandit/new")
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );

    // The embedding log, as `update_memory` leaves it: the content change dropped the
    // stale vector, the metadata change re-logged the kept one with its new metadata.
    assert_eq!(store.get_embedding(f.memory.id).await.unwrap(), None);
    assert_eq!(
        store.get_embedding(kept.id).await.unwrap(),
        Some(unit(4, 1))
    );
    let changes = store.embedding_changes(seq0, 100).await.unwrap();
    assert_eq!(
        changes
            .iter()
            .map(|c| (c.id, c.entry.as_ref().map(|e| e.metadata.clone())))
            .collect::<Vec<_>>(),
        vec![
            (f.memory.id, None),
            (kept.id, Some(Metadata::new().with("k", "v")))
        ]
    );
}

/// A multi-step batch whose last op fails (a stale policy version) commits none of its
/// earlier ops: no memory, no decision outcome, no pattern count, no event, no policy.
pub async fn batch_multi_step_all_or_nothing(store: &dyn LongTermStore) {
    let f = batch_fixture(store).await;
    let before = snapshot(store).await;
    let id = MemoryId::new();
    let e = expect_kind(
        store
            .write_batch(vec![
                WriteOp::PutMemory(NewMemory::new("never stored").with_id(id)),
                WriteOp::ChangeRecord {
                    id: f.decision.id,
                    change: RecordChange::DecisionOutcome {
                        outcome: "worked".into(),
                        reward: Reward::MAX,
                    },
                },
                WriteOp::ChangeRecord {
                    id: f.pattern.id,
                    change: RecordChange::PatternOutcome {
                        outcome: PatternOutcome::Success,
                    },
                },
                WriteOp::put(event("never recorded", Reward::MAX)),
                WriteOp::PutPolicy {
                    name: "router/chat".into(),
                    kind: "q_learner".into(),
                    state: json!({"q": "stale"}),
                    expected: Some(7),
                },
            ])
            .await,
        ErrorKind::Conflict,
        "a stale policy version",
    );
    assert!(
        e.to_string().contains("router/chat"),
        "names the policy: {e}"
    );
    assert_eq!(store.get_memory(id).await.unwrap(), None, "memory absent");
    let d = store.get_decision(f.decision.id).await.unwrap().unwrap();
    assert_eq!(
        (d.outcome, d.reward),
        (None, None),
        "decision outcome unchanged"
    );
    let p = store.get_pattern(f.pattern.id).await.unwrap().unwrap();
    assert_eq!(
        (p.success_count, p.failure_count),
        (f.pattern.success_count, f.pattern.failure_count),
        "pattern counts unchanged"
    );
    assert!(
        store
            .list_learning_events(&EventQuery {
                scope: Scope::default(),
                event_type: None,
                since: None,
                limit: 10,
            })
            .await
            .unwrap()
            .is_empty(),
        "no event"
    );
    let policy = store.get_policy("router/chat").await.unwrap().unwrap();
    assert_eq!(
        (policy.version, policy.state),
        (1, json!({"q": 1})),
        "policy unchanged"
    );
    assert_eq!(snapshot(store).await, before);
}

/// `UpdateMemory`, `RecordPatternOutcome` and `UpdateDecisionOutcome` on ids that do not
/// exist fail the batch with NotFound and roll back the memory put before them.
pub async fn batch_missing_ids_roll_back(store: &dyn LongTermStore) {
    let f = batch_fixture(store).await;
    let before = snapshot(store).await;
    let missing = [
        WriteOp::UpdateMemory {
            id: MemoryId::new(),
            patch: MemoryPatch {
                context: Some("c".into()),
                ..MemoryPatch::default()
            },
        },
        WriteOp::ChangeRecord {
            id: f.pattern.id + 1_000_000,
            change: RecordChange::PatternOutcome {
                outcome: PatternOutcome::Success,
            },
        },
        WriteOp::ChangeRecord {
            id: f.decision.id + 1_000_000,
            change: RecordChange::DecisionOutcome {
                outcome: "o".into(),
                reward: Reward::NEUTRAL,
            },
        },
    ];
    for op in missing {
        let what = format!("{op:?}");
        let id = MemoryId::new();
        expect_kind(
            store
                .write_batch(vec![
                    WriteOp::PutMemory(NewMemory::new("rolled back").with_id(id)),
                    op,
                ])
                .await,
            ErrorKind::NotFound,
            &what,
        );
        assert_eq!(store.get_memory(id).await.unwrap(), None, "{what}");
        assert_eq!(snapshot(store).await, before, "{what}");
    }
}

/// `ExpectEmbedder` passes when nothing is pinned or the pin is the one expected; a
/// different pin (model or dimension) fails the batch with a Conflict naming both, and
/// the ops before it are rolled back.
pub async fn batch_expect_embedder<S: LongTermStore + EmbeddingStore + ?Sized>(store: &S) {
    let a = EmbedderInfo {
        model_id: "test/model-a".into(),
        dimension: 4,
    };
    // No pin: the guard passes.
    let out = store
        .write_batch(vec![
            WriteOp::PutMemory(NewMemory::new("before any pin")),
            WriteOp::ExpectEmbedder(a.clone()),
        ])
        .await
        .unwrap();
    assert_eq!(out[1], WriteOutcome::Checked);

    store.pin_embedder(&a).await.unwrap();
    let stale = [
        EmbedderInfo {
            model_id: "test/model-old".into(),
            dimension: 8,
        },
        EmbedderInfo {
            model_id: "test/model-a".into(),
            dimension: 3,
        },
    ];
    for b in stale {
        let before = snapshot(store).await;
        let seq = store.last_embedding_seq().await.unwrap();
        let id = MemoryId::new();
        let e = expect_kind(
            store
                .write_batch(vec![
                    WriteOp::PutMemory(NewMemory::new("old model's memory").with_id(id)),
                    WriteOp::ExpectEmbedder(b.clone()),
                    WriteOp::PutEmbedding {
                        id,
                        vector: unit(b.dimension, 0),
                    },
                ])
                .await,
            ErrorKind::Conflict,
            "another embedder is pinned",
        );
        let msg = e.to_string();
        for part in [
            a.model_id.clone(),
            a.dimension.to_string(),
            b.model_id.clone(),
            b.dimension.to_string(),
        ] {
            assert!(msg.contains(&part), "the conflict names {part}: {msg}");
        }
        assert_eq!(store.get_memory(id).await.unwrap(), None);
        assert_eq!(snapshot(store).await, before);
        assert_eq!(store.last_embedding_seq().await.unwrap(), seq);
        assert_eq!(
            store.embedder().await.unwrap(),
            Some(a.clone()),
            "pin unchanged"
        );
    }

    // The pinned one: passes, and the memory and its vector are stored.
    let id = MemoryId::new();
    let out = store
        .write_batch(vec![
            WriteOp::ExpectEmbedder(a.clone()),
            WriteOp::PutMemory(NewMemory::new("current model's memory").with_id(id)),
            WriteOp::PutEmbedding {
                id,
                vector: unit(4, 2),
            },
        ])
        .await
        .unwrap();
    assert_eq!(out[0], WriteOutcome::Checked);
    assert_eq!(store.get_embedding(id).await.unwrap(), Some(unit(4, 2)));
}

/// One op of a generated batch, by index into what exists (see [`batch_sequence`]).
#[derive(Debug, Clone)]
pub enum BatchStep {
    /// Put a new memory.
    PutMemory(u8),
    /// Change a known memory's content.
    UpdateMemory(usize, u8),
    /// Count an outcome on a known pattern.
    RecordPattern(usize, bool),
    /// Set a known decision's outcome, reward `n / 10`.
    UpdateDecision(usize, i8),
    /// Save one of two policies from its current version.
    PutPolicy(usize),
    /// Record a learning event.
    Event,
    /// Guard on the pinned embedder.
    ExpectEmbedder,
}

/// How a generated batch fails, if it does.
#[derive(Debug, Clone, Copy)]
pub enum BatchFault {
    /// `UpdateMemory` on an absent memory.
    MissingMemory,
    /// `RecordPatternOutcome` on an absent pattern.
    MissingPattern,
    /// `UpdateDecisionOutcome` on an absent decision.
    MissingDecision,
    /// `PutPolicy` from a version that is not the stored one.
    StalePolicy,
    /// `ExpectEmbedder` with another model.
    WrongEmbedder,
    /// `PutMemory` with an id already stored.
    DuplicateMemory,
}

/// A generated batch: its steps, and a fault inserted at a position (modulo its length).
#[derive(Debug, Clone)]
pub struct BatchCase {
    /// The valid steps.
    pub steps: Vec<BatchStep>,
    /// The fault and where it goes.
    pub fault: Option<(usize, BatchFault)>,
}

/// Sequences of batches mixing every multi-step op, about half of them with a fault.
pub fn batch_sequence() -> impl Strategy<Value = Vec<BatchCase>> {
    let step = prop_oneof![
        any::<u8>().prop_map(BatchStep::PutMemory),
        (0..8usize, any::<u8>()).prop_map(|(i, n)| BatchStep::UpdateMemory(i, n)),
        (0..4usize, any::<bool>()).prop_map(|(i, s)| BatchStep::RecordPattern(i, s)),
        (0..4usize, -10i8..=10).prop_map(|(i, r)| BatchStep::UpdateDecision(i, r)),
        (0..2usize).prop_map(BatchStep::PutPolicy),
        Just(BatchStep::Event),
        Just(BatchStep::ExpectEmbedder),
    ];
    let fault = prop_oneof![
        Just(BatchFault::MissingMemory),
        Just(BatchFault::MissingPattern),
        Just(BatchFault::MissingDecision),
        Just(BatchFault::StalePolicy),
        Just(BatchFault::WrongEmbedder),
        Just(BatchFault::DuplicateMemory),
    ];
    let case = (
        proptest::collection::vec(step, 0..7),
        proptest::option::of((any::<usize>(), fault)),
    )
        .prop_map(|(steps, fault)| BatchCase { steps, fault });
    proptest::collection::vec(case, 1..5)
}

/// What the store should hold, kept by [`check_batch_sequence`].
#[derive(Debug, Clone, Default, PartialEq)]
struct BatchModel {
    memories: std::collections::BTreeMap<MemoryId, String>,
    patterns: std::collections::BTreeMap<RecordId, (u64, u64)>,
    decisions: std::collections::BTreeMap<RecordId, Option<(String, Reward)>>,
    policies: std::collections::BTreeMap<String, u64>,
    events: usize,
}

/// Applies each generated batch to a fresh store (seeded by this function) and to a
/// reference model: a batch with a fault fails and leaves the store exactly as it was;
/// one without commits, and the store then equals the model.
pub async fn check_batch_sequence<S: LongTermStore + EmbeddingStore + ?Sized>(
    store: &S,
    cases: Vec<BatchCase>,
) -> std::result::Result<(), TestCaseError> {
    let info = EmbedderInfo {
        model_id: "test/model".into(),
        dimension: 4,
    };
    store.pin_embedder(&info).await.unwrap();
    let mut model = BatchModel::default();
    for i in 0..4 {
        let m = store
            .put_memory(NewMemory::new(format!("seed memory {i}")))
            .await
            .unwrap();
        model.memories.insert(m.id, m.content);
    }
    for i in 0..2 {
        let p = store
            .store_pattern(NewPattern::new("t", format!("context {i}"), "s"))
            .await
            .unwrap()
            .pattern;
        model
            .patterns
            .insert(p.id, (p.success_count, p.failure_count));
        let d = store
            .record_decision(decision(&format!("decision {i}")))
            .await
            .unwrap();
        model.decisions.insert(d.id, None);
    }
    let names = ["policy/a", "policy/b"];
    store
        .put_policy(names[0], "k", &json!(0), None)
        .await
        .unwrap();
    model.policies.insert(names[0].into(), 1);

    for case in cases {
        // Build the ops against a scratch copy, which becomes the model if they commit.
        let mut next = model.clone();
        let mut ops = Vec::new();
        for step in &case.steps {
            ops.push(match *step {
                BatchStep::PutMemory(n) => {
                    let id = MemoryId::new();
                    let content = format!("memory {n}");
                    next.memories.insert(id, content.clone());
                    WriteOp::PutMemory(NewMemory::new(content).with_id(id))
                }
                BatchStep::UpdateMemory(i, n) => {
                    let id = *next.memories.keys().nth(i % next.memories.len()).unwrap();
                    let content = format!("updated {n}");
                    next.memories.insert(id, content.clone());
                    WriteOp::UpdateMemory {
                        id,
                        patch: MemoryPatch {
                            content: Some(content),
                            ..MemoryPatch::default()
                        },
                    }
                }
                BatchStep::RecordPattern(i, success) => {
                    let (id, counts) = next.patterns.iter_mut().nth(i % 2).unwrap();
                    if success {
                        counts.0 += 1;
                    } else {
                        counts.1 += 1;
                    }
                    WriteOp::ChangeRecord {
                        id: *id,
                        change: RecordChange::PatternOutcome {
                            outcome: if success {
                                PatternOutcome::Success
                            } else {
                                PatternOutcome::Failure
                            },
                        },
                    }
                }
                BatchStep::UpdateDecision(i, r) => {
                    let (id, outcome) = next.decisions.iter_mut().nth(i % 2).unwrap();
                    let reward = Reward::new(f64::from(r) / 10.0).unwrap();
                    *outcome = Some((format!("outcome {r}"), reward));
                    WriteOp::ChangeRecord {
                        id: *id,
                        change: RecordChange::DecisionOutcome {
                            outcome: format!("outcome {r}"),
                            reward,
                        },
                    }
                }
                BatchStep::PutPolicy(i) => {
                    let name = names[i % 2];
                    let expected = next.policies.get(name).copied();
                    next.policies.insert(name.into(), expected.unwrap_or(0) + 1);
                    WriteOp::PutPolicy {
                        name: name.into(),
                        kind: "k".into(),
                        state: json!(expected),
                        expected,
                    }
                }
                BatchStep::Event => {
                    next.events += 1;
                    WriteOp::put(event("generated", Reward::NEUTRAL))
                }
                BatchStep::ExpectEmbedder => WriteOp::ExpectEmbedder(info.clone()),
            });
        }
        let before = snapshot(store).await;
        let Some((at, fault)) = case.fault else {
            let out = store.write_batch(ops).await;
            prop_assert!(out.is_ok(), "a valid batch failed: {out:?}");
            prop_assert_eq!(out.unwrap().len(), case.steps.len());
            model = next;
            check_model(store, &model).await?;
            continue;
        };
        let (op, kind) = match fault {
            BatchFault::MissingMemory => (
                WriteOp::UpdateMemory {
                    id: MemoryId::new(),
                    patch: MemoryPatch {
                        content: Some("x".into()),
                        ..MemoryPatch::default()
                    },
                },
                ErrorKind::NotFound,
            ),
            BatchFault::MissingPattern => (
                WriteOp::ChangeRecord {
                    id: RecordId::MAX,
                    change: RecordChange::PatternOutcome {
                        outcome: PatternOutcome::Success,
                    },
                },
                ErrorKind::NotFound,
            ),
            BatchFault::MissingDecision => (
                WriteOp::ChangeRecord {
                    id: RecordId::MAX,
                    change: RecordChange::DecisionOutcome {
                        outcome: "x".into(),
                        reward: Reward::MAX,
                    },
                },
                ErrorKind::NotFound,
            ),
            BatchFault::StalePolicy => (
                WriteOp::PutPolicy {
                    name: names[0].into(),
                    kind: "k".into(),
                    state: json!("stale"),
                    expected: Some(u64::MAX / 2),
                },
                ErrorKind::Conflict,
            ),
            BatchFault::WrongEmbedder => (
                WriteOp::ExpectEmbedder(EmbedderInfo {
                    model_id: "test/old-model".into(),
                    dimension: 4,
                }),
                ErrorKind::Conflict,
            ),
            BatchFault::DuplicateMemory => (
                WriteOp::PutMemory(
                    NewMemory::new("dup").with_id(*model.memories.keys().next().unwrap()),
                ),
                ErrorKind::Conflict,
            ),
        };
        ops.insert(at % (ops.len() + 1), op);
        let out = store.write_batch(ops).await;
        prop_assert!(
            matches!(&out, Err(e) if e.kind() == kind),
            "{fault:?}: expected {kind:?}, got {out:?}"
        );
        prop_assert_eq!(
            &snapshot(store).await,
            &before,
            "{:?} changed the store",
            fault
        );
    }
    Ok(())
}

async fn check_model<S: LongTermStore + ?Sized>(
    store: &S,
    model: &BatchModel,
) -> std::result::Result<(), TestCaseError> {
    let s = snapshot(store).await;
    let memories = s
        .memories
        .iter()
        .map(|m| (m.id, m.content.clone()))
        .collect::<std::collections::BTreeMap<_, _>>();
    prop_assert_eq!(&memories, &model.memories);
    let patterns = s
        .patterns
        .iter()
        .map(|p| (p.id, (p.success_count, p.failure_count)))
        .collect::<std::collections::BTreeMap<_, _>>();
    prop_assert_eq!(&patterns, &model.patterns);
    let decisions = s
        .decisions
        .iter()
        .map(|d| (d.id, d.outcome.clone().zip(d.reward)))
        .collect::<std::collections::BTreeMap<_, _>>();
    prop_assert_eq!(&decisions, &model.decisions);
    let policies = s
        .policies
        .iter()
        .map(|p| (p.name.clone(), p.version))
        .collect::<std::collections::BTreeMap<_, _>>();
    prop_assert_eq!(&policies, &model.policies);
    prop_assert_eq!(s.events.len(), model.events);
    Ok(())
}

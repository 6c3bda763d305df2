//! The shared long-term store conformance suite, run on PostgreSQL, plus this crate's own
//! properties. Every test gets its own schema (created by the store at connect, dropped
//! when the test ends), so tests run in parallel on one database without interfering.
//!
//! The server comes from `BRAIN_TEST_POSTGRES_URL` (`cargo xtask test` starts a throwaway
//! one and sets it), e.g. `postgres://brain:brain@127.0.0.1:5432/brain_test`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use memory_core::MemoryStore;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use memory_core::conformance as suite;
use memory_core::{
    EmbedderInfo, EmbeddingStore, ErrorKind, MemoryId, MemoryPatch, MemoryQuery, NewMemory,
    VectorEntry,
};
use proptest::prelude::*;
use store_postgres::{PostgresOptions, PostgresStore};

const URL_VAR: &str = "BRAIN_TEST_POSTGRES_URL";

fn url() -> String {
    match std::env::var(URL_VAR) {
        Ok(u) if !u.is_empty() => u,
        _ => panic!(
            "{URL_VAR} is not set: these tests need a PostgreSQL server, e.g. \
             {URL_VAR}=postgres://brain:brain@127.0.0.1:5432/brain_test (`cargo xtask test -- -p store-postgres` starts a throwaway one and sets it)"
        ),
    }
}

/// A schema of its own for one test; dropped (with everything in it) when the guard is.
struct TestSchema {
    name: String,
}

impl TestSchema {
    fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        TestSchema {
            name: format!(
                "brain_test_{}_{}_{nanos}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ),
        }
    }

    fn options(&self) -> PostgresOptions {
        PostgresOptions {
            schema: Some(self.name.clone()),
            max_connections: 8,
            ..PostgresOptions::default()
        }
    }

    async fn connect(&self) -> PostgresStore {
        PostgresStore::connect_with(&url(), self.options())
            .await
            .unwrap_or_else(|e| panic!("connecting to {URL_VAR}: {e}"))
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        // On a thread of its own: Drop cannot await, and may run inside a runtime.
        let name = self.name.clone();
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let (client, conn) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
                    .await
                    .unwrap();
                let task = tokio::spawn(conn);
                let _ = client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE"))
                    .await;
                drop(client);
                let _ = task.await;
            });
        });
        let _ = done.join();
    }
}

async fn fresh() -> (TestSchema, PostgresStore) {
    let schema = TestSchema::new();
    let store = schema.connect().await;
    (schema, store)
}

// Every check of the shared suite, one test each; a check added to the suite runs here
// without a change to this file.
memory_core::long_term_store_suite!(fresh);

/// Two stores (two pools, as two processes would have) on one database and schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_handles_on_one_database() {
    let (schema, a) = fresh().await;
    let b = schema.connect().await;
    suite::two_handles(Arc::new(a), Arc::new(b)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_close_and_reconnect() {
    let (schema, store) = fresh().await;
    let sample = suite::write_sample(&store).await;
    drop(store);
    let store = schema.connect().await;
    suite::check_sample(&store, &sample).await;
}

/// Processes connecting to a fresh schema at once migrate it exactly once (the advisory
/// lock), and all of them can use it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_connects_migrate_once() {
    let schema = TestSchema::new();
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (url, options) = (url(), schema.options());
        tasks.push(tokio::spawn(async move {
            PostgresStore::connect_with(&url, options).await
        }));
    }
    let mut stores = Vec::new();
    for t in tasks {
        stores.push(t.await.unwrap().unwrap());
    }
    for s in &stores {
        s.put_memory(NewMemory::new("migrated once")).await.unwrap();
    }
    let c = stores[0].pool().get().await.unwrap();
    let n: i64 = c
        .query_one("SELECT count(*) FROM brain_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, store_postgres::SCHEMA_VERSION);
}

/// A server that cannot be reached is `Unavailable`, not a backend bug.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_server_is_unavailable() {
    let err = PostgresStore::connect_with(
        "postgres://brain:brain@127.0.0.1:1/brain_test",
        PostgresOptions {
            connect_timeout: std::time::Duration::from_secs(2),
            ..PostgresOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(memory_core::Error::from(err).kind(), ErrorKind::Unavailable);
    let err = PostgresStore::connect_with(
        &url(),
        PostgresOptions {
            schema: Some("Bad Name".into()),
            ..PostgresOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("schema name"), "{err}");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Arbitrary Unicode text, keys, scopes and JSON round-trip unchanged (and keyword
    /// search never chokes on the text).
    #[test]
    fn unicode_round_trip(case in suite::unicode_case()) {
        let rt = runtime();
        rt.block_on(async {
            let (_schema, store) = fresh().await;
            suite::check_unicode_round_trip(&store, case).await
        })?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any filter, translated to SQL, selects exactly what the reference
    /// `MemoryFilter::matches` selects.
    #[test]
    fn any_filter_matches_reference(filters in proptest::collection::vec(suite::filter_strategy(), 8)) {
        let rt = runtime();
        rt.block_on(async {
            let (_schema, store) = fresh().await;
            let corpus = suite::seed_filter_corpus(&store).await;
            let now = memory_core::Timestamp::now();
            for f in &filters {
                suite::check_filter(&store, &corpus, f, now).await;
            }
            // Paging never skips or repeats.
            let all = store.list_memories(&MemoryQuery::new(filters[0].clone(), 1000)).await.unwrap();
            let mut paged = Vec::new();
            for off in (0..all.len() + 7).step_by(7) {
                paged.extend(store.list_memories(&MemoryQuery { offset: off, ..MemoryQuery::new(filters[0].clone(), 7) }).await.unwrap());
            }
            assert_eq!(paged, all);
        });
    }
}

/// One writer's step in the embedding log property.
#[derive(Debug, Clone)]
enum LogOp {
    Embed(usize, u8),
    EmbedMany(usize, usize, u8),
    Delete(usize),
    Retag(usize, u8),
}

fn log_op(memories: usize) -> impl Strategy<Value = LogOp> {
    prop_oneof![
        4 => (0..memories, any::<u8>()).prop_map(|(i, v)| LogOp::Embed(i, v)),
        2 => (0..memories, 0..memories, any::<u8>()).prop_map(|(i, j, v)| LogOp::EmbedMany(i, j, v)),
        1 => (0..memories).prop_map(LogOp::Delete),
        2 => (0..memories, any::<u8>()).prop_map(|(i, v)| LogOp::Retag(i, v)),
    ]
}

fn vector(v: u8) -> Vec<f32> {
    vec![1.0, f32::from(v), 0.5, -f32::from(v)]
}

/// What an index holds after applying `changes` on top of `state`.
fn apply_changes(
    state: &mut HashMap<MemoryId, VectorEntry>,
    seen: &mut u64,
    changes: Vec<memory_core::EmbeddingChange>,
) {
    for c in changes {
        assert!(c.seq > *seen, "sequence numbers strictly increase");
        *seen = c.seq;
        match c.entry {
            Some(e) => {
                state.insert(c.id, e);
            }
            None => {
                state.remove(&c.id);
            }
        }
    }
}

const MEMORIES: usize = 6;

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Concurrent writers append to the embedding log while a follower catches up from
    /// it in small steps: the follower never skips a committed change, so once the
    /// writers are done and it has caught up, it holds exactly what the store holds.
    #[test]
    fn embedding_log_never_skips_under_concurrent_writers(
        writers in proptest::collection::vec(proptest::collection::vec(log_op(MEMORIES), 1..12), 2..5)
    ) {
        let rt = runtime();
        rt.block_on(async move {
            let (_schema, store) = fresh().await;
            let store = Arc::new(store);
            store
                .pin_embedder(&EmbedderInfo { model_id: "test/log".into(), dimension: 4 })
                .await
                .unwrap();
            let mut ids = Vec::new();
            for i in 0..MEMORIES {
                ids.push(store.put_memory(NewMemory::new(format!("memory {i}"))).await.unwrap().id);
            }
            let ids = Arc::new(ids);
            let done = Arc::new(std::sync::atomic::AtomicBool::new(false));

            // The follower: catches up two changes at a time while writers run.
            let follower = {
                let (store, done) = (store.clone(), done.clone());
                tokio::spawn(async move {
                    let mut state = HashMap::new();
                    let mut seen = 0u64;
                    loop {
                        let finished = done.load(Ordering::Acquire);
                        loop {
                            let changes = store.embedding_changes(seen, 2).await.unwrap();
                            if changes.is_empty() {
                                break;
                            }
                            apply_changes(&mut state, &mut seen, changes);
                        }
                        if finished {
                            return (state, seen);
                        }
                        tokio::task::yield_now().await;
                    }
                })
            };

            let mut tasks = Vec::new();
            for ops in writers {
                let (store, ids) = (store.clone(), ids.clone());
                tasks.push(tokio::spawn(async move {
                    for op in ops {
                        match op {
                            LogOp::Embed(i, v) => {
                                // The memory may have been deleted by another writer.
                                let r = store.put_embeddings(vec![(ids[i], vector(v))]).await;
                                assert!(r.is_ok() || r.as_ref().is_err_and(|e| e.kind() == ErrorKind::NotFound), "{r:?}");
                            }
                            LogOp::EmbedMany(i, j, v) => {
                                let r = store
                                    .put_embeddings(vec![(ids[i], vector(v)), (ids[j], vector(v.wrapping_add(1)))])
                                    .await;
                                assert!(r.is_ok() || r.as_ref().is_err_and(|e| e.kind() == ErrorKind::NotFound), "{r:?}");
                            }
                            LogOp::Delete(i) => {
                                store.delete_memory(ids[i]).await.unwrap();
                            }
                            LogOp::Retag(i, v) => {
                                let patch = MemoryPatch {
                                    metadata: Some(memory_core::Metadata::new().with("tag", i64::from(v))),
                                    ..MemoryPatch::default()
                                };
                                let r = store.update_memory(ids[i], patch).await;
                                assert!(r.is_ok() || r.as_ref().is_err_and(|e| e.kind() == ErrorKind::NotFound), "{r:?}");
                            }
                        }
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
            done.store(true, Ordering::Release);
            let (state, seen) = follower.await.unwrap();

            assert_eq!(seen, store.last_embedding_seq().await.unwrap());
            // The truth: every stored embedding with its memory's current fields.
            for id in ids.iter() {
                let stored = store.get_embedding(*id).await.unwrap();
                let memory = store.get_memory(*id).await.unwrap();
                match (stored, memory) {
                    (Some(v), Some(m)) => {
                        let e = state.get(id).unwrap_or_else(|| panic!("follower missed {id}"));
                        assert_eq!(e.vector, v);
                        assert_eq!(e.metadata, m.metadata, "follower has stale filter fields");
                    }
                    _ => assert!(!state.contains_key(id), "follower kept a deleted embedding"),
                }
            }
        });
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Sequences of multi-step batches, some with a failing op anywhere: a failing batch
    /// leaves the store exactly as it was, a valid one matches the reference model.
    #[test]
    fn failing_batches_change_nothing(cases in suite::batch_sequence()) {
        let rt = runtime();
        rt.block_on(async {
            let (_schema, store) = fresh().await;
            suite::check_batch_sequence(&store, cases).await
        })?;
    }
}

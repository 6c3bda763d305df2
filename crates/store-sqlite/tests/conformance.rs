//! The shared long-term store conformance suite, run on SQLite files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use memory_core::MemoryStore;
use std::sync::Arc;

use memory_core::MemoryQuery;
use memory_core::conformance as suite;
use proptest::prelude::*;
use store_sqlite::SqliteStore;
use tempfile::TempDir;

async fn fresh() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("memory.db"))
        .await
        .unwrap();
    (dir, store)
}

// Every check of the shared suite, one test each; a check added to the suite runs here
// without a change to this file.
memory_core::long_term_store_suite!(fresh);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory_store_conforms_too() {
    let store = SqliteStore::open_in_memory().unwrap();
    suite::memory_round_trip(&store).await;
    suite::patterns(&store).await;
    suite::batch_is_atomic(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_handles_on_one_file() {
    let (dir, a) = fresh().await;
    let b = SqliteStore::open(dir.path().join("memory.db"))
        .await
        .unwrap();
    suite::two_handles(Arc::new(a), Arc::new(b)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memory.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let sample = suite::write_sample(&store).await;
    drop(store);
    let store = SqliteStore::open(&path).await.unwrap();
    suite::check_sample(&store, &sample).await;
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Arbitrary Unicode text, keys, scopes and JSON round-trip unchanged.
    #[test]
    fn unicode_round_trip(case in suite::unicode_case()) {
        let rt = runtime();
        let store = SqliteStore::open_in_memory().unwrap();
        rt.block_on(suite::check_unicode_round_trip(&store, case))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Any filter selects exactly what the reference `MemoryFilter::matches` selects.
    #[test]
    fn any_filter_matches_reference(filters in proptest::collection::vec(suite::filter_strategy(), 8)) {
        let rt = runtime();
        rt.block_on(async {
            let store = SqliteStore::open_in_memory().unwrap();
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Sequences of multi-step batches, some with a failing op anywhere: a failing batch
    /// leaves the store exactly as it was, a valid one matches the reference model.
    #[test]
    fn failing_batches_change_nothing(cases in suite::batch_sequence()) {
        let rt = runtime();
        let store = SqliteStore::open_in_memory().unwrap();
        rt.block_on(suite::check_batch_sequence(&store, cases))?;
    }
}

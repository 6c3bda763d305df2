//! `memory_core::testing::FaultyStore` over a real store: a planned failure hits exactly
//! the n-th write call and leaves the store unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use memory_core::conformance::snapshot;
use memory_core::testing::FaultyStore;
use memory_core::{
    EmbedderInfo, EmbeddingStore, ErrorKind, LongTermStore, NewMemory, NewPattern, PatternOutcome,
    WriteOp,
};
use memory_core::{MemoryStore, PolicyStore, RecordStoreExt};
use serde_json::json;
use store_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planned_failure_hits_exactly_the_nth_write_and_changes_nothing() {
    let store = FaultyStore::new(SqliteStore::open_in_memory().unwrap());
    let p = store
        .store_pattern(NewPattern::new("t", "c", "s"))
        .await
        .unwrap()
        .pattern;
    assert_eq!(store.writes(), 1);

    // Reads are not counted.
    store.get_pattern(p.id).await.unwrap();
    store.stats().await.unwrap();
    assert_eq!(store.writes(), 1);

    store.fail_write(2);
    let m = store.put_memory(NewMemory::new("first")).await.unwrap(); // write 0 from now
    store
        .record_pattern_outcome(p.id, PatternOutcome::Success)
        .await
        .unwrap(); // write 1
    let before = snapshot(store.inner()).await;
    let e = store
        .put_policy("router/chat", "q", &json!(1), None)
        .await
        .unwrap_err(); // write 2: fails
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(e.to_string().contains("put_policy"), "{e}");
    assert_eq!(
        snapshot(store.inner()).await,
        before,
        "the inner store was not called"
    );
    assert_eq!(store.writes(), 4);

    // Only that one: the same call now succeeds, as do batches and embedding writes.
    assert_eq!(
        store
            .put_policy("router/chat", "q", &json!(1), None)
            .await
            .unwrap(),
        1
    );
    store
        .write_batch(vec![WriteOp::PutMemory(NewMemory::new("batched"))])
        .await
        .unwrap();
    assert_eq!(store.writes(), 6);

    // Embedding writes count and fail too, and a failed batch writes nothing.
    store.fail_write(0);
    let info = EmbedderInfo {
        model_id: "m".into(),
        dimension: 2,
    };
    assert_eq!(
        store.pin_embedder(&info).await.unwrap_err().kind(),
        ErrorKind::Unavailable
    );
    assert_eq!(store.embedder().await.unwrap(), None);
    store.fail_write(1);
    store.pin_embedder(&info).await.unwrap();
    let before = snapshot(store.inner()).await;
    assert!(
        store
            .write_batch(vec![WriteOp::DeleteMemory { id: m.id }])
            .await
            .is_err()
    );
    assert_eq!(snapshot(store.inner()).await, before);
    assert!(store.get_memory(m.id).await.unwrap().is_some());
    assert_eq!(store.writes(), 9);
}

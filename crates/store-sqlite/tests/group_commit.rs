//! Concurrent writes share commits without sharing failures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use std::sync::Arc;
use std::time::Duration;

use memory_core::*;
use store_sqlite::SqliteStore;

/// While another connection holds the write lock, writes queue up (none can go inline);
/// when it lets go they commit, a failing write (a duplicate id) rolls back alone, and
/// the others are all stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_writes_commit_together_and_fail_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("memory.db");
    let store = Arc::new(SqliteStore::open(&path).await.unwrap());
    let existing = store
        .put_memory(NewMemory::new("already here"))
        .await
        .unwrap();

    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();

    let mut tasks = Vec::new();
    for i in 0..40 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            if i % 10 == 3 {
                // Same id as a stored memory: a conflict, inside the shared transaction.
                s.put_memory(NewMemory::new(format!("dup {i}")).with_id(existing.id))
                    .await
                    .map(|_| ())
            } else if i % 10 == 7 {
                // A missing row: NotFound, also inside the shared transaction.
                s.record_pattern_outcome(1_000_000 + i, PatternOutcome::Success)
                    .await
                    .map(|_| ())
            } else {
                s.put_memory(NewMemory::new(format!("queued {i}")))
                    .await
                    .map(|_| ())
            }
        }));
    }
    // Let every task reach the queue while the lock is held.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        tasks.iter().all(|t| !t.is_finished()),
        "no write may complete while another holds the lock"
    );
    blocker.execute_batch("COMMIT").unwrap();

    let mut conflicts = 0;
    let mut missing = 0;
    for (i, t) in tasks.into_iter().enumerate() {
        match t.await.unwrap() {
            Ok(()) => assert!(i % 10 != 3 && i % 10 != 7),
            Err(Error::Conflict(_)) => {
                assert_eq!(i % 10, 3);
                conflicts += 1;
            }
            Err(Error::NotFound { .. }) => {
                assert_eq!(i % 10, 7);
                missing += 1;
            }
            Err(e) => panic!("write {i}: unexpected {e}"),
        }
    }
    assert_eq!((conflicts, missing), (4, 4));
    assert_eq!(
        store
            .count_memories(&MemoryFilter::default())
            .await
            .unwrap(),
        1 + 32
    );
    assert_eq!(
        store
            .get_memory(existing.id)
            .await
            .unwrap()
            .unwrap()
            .content,
        "already here"
    );
}

/// A batch inside a group that fails leaves the group's other writes intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_batch_in_a_busy_queue_rolls_back_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("m.db")).await.unwrap());
    let dup = store.put_memory(NewMemory::new("x")).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            if i == 25 {
                let ops = vec![
                    WriteOp::PutMemory(NewMemory::new("in failing batch")),
                    WriteOp::PutMemory(NewMemory::new("dup").with_id(dup.id)),
                ];
                s.write_batch(ops).await.map(|_| ())
            } else {
                s.store_preference(NewPreference::new(format!("k{i}"), i))
                    .await
                    .map(|_| ())
            }
        }));
    }
    let results: Vec<_> = futures_join(tasks).await;
    assert_eq!(results.iter().filter(|r| r.is_err()).count(), 1);
    assert!(matches!(results[25], Err(Error::Conflict(_))));
    assert_eq!(
        store
            .list_preferences(&Scope::default(), None)
            .await
            .unwrap()
            .len(),
        49
    );
    assert_eq!(
        store
            .count_memories(&MemoryFilter::default())
            .await
            .unwrap(),
        1
    );
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<Result<()>>>) -> Vec<Result<()>> {
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Sustained writes keep the WAL bounded: background checkpoints restart it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_stays_bounded_under_sustained_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.db");
    let store = SqliteStore::open(&path).await.unwrap();
    let wal = dir.path().join("m.db-wal");
    let mut largest = 0;
    for i in 0..6000 {
        store
            .store_preference(NewPreference::new(format!("k{}", i % 500), "x".repeat(200)))
            .await
            .unwrap();
        if i % 500 == 0 {
            largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        }
    }
    // 6000 commits of a page or two each would be ~30 MB of WAL without checkpoints.
    assert!(largest < 12 << 20, "WAL grew to {largest} bytes");
}

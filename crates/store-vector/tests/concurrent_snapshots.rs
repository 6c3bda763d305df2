//! Several writers snapshot one directory at once — two processes sharing a data
//! directory, and index handles in one process — without an error, and the directory
//! always opens from a snapshot that verifies and holds every entry.
//!
//! The test re-runs its own binary as the second process (like `crash.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use memory_core::{MemoryFilter, MemoryId, Timestamp, VectorQuery};
use store_vector::{HnswIndex, HnswParams, OpenedFrom};

const DIM: usize = 16;
const ROUNDS: usize = 40;
const CHILD_ENV: &str = "STORE_VECTOR_CONCURRENT_CHILD_DIR";

fn params() -> HnswParams {
    HnswParams::new(DIM).with_exact_threshold(0)
}

/// The same store in every process: entries, some deleted, some replaced.
fn store() -> MemStore {
    let store = MemStore::pinned(DIM);
    let vs = clustered(600, DIM, 8, 11);
    let now = base_now();
    store.put_all((0..400).map(|i| entry(i, vs[i].clone(), now)));
    for i in (0..400).step_by(7) {
        store.remove(id(i));
    }
    for i in (1..400).step_by(13) {
        store.put(entry(i, vs[400 + i / 2].clone(), now));
    }
    store
}

fn all_ids(index: &HnswIndex) -> BTreeSet<MemoryId> {
    let q = VectorQuery {
        vector: vec![1.0; DIM],
        k: usize::MAX,
        filter: MemoryFilter {
            include_expired: true,
            ..MemoryFilter::default()
        },
        now: Timestamp::now(),
    };
    index
        .search_blocking(&q)
        .unwrap()
        .iter()
        .map(|h| h.id)
        .collect()
}

/// Two index handles of this process, each snapshotting `dir` `ROUNDS` times, and a
/// reopen every few rounds; panics on the first error.
async fn snapshot_rounds(dir: PathBuf) {
    let store = store();
    let live: BTreeSet<MemoryId> = store.live().keys().copied().collect();
    let mut handles = Vec::new();
    for _ in 0..2 {
        let index = HnswIndex::open(&dir, params(), &store).await.unwrap();
        let dir = dir.clone();
        handles.push(tokio::task::spawn_blocking(move || {
            for round in 0..ROUNDS {
                if let Err(e) = index.snapshot_blocking(&dir) {
                    panic!("snapshot {round} failed: {e}");
                }
            }
        }));
    }
    for round in 0..ROUNDS / 8 {
        let index = HnswIndex::open(&dir, params(), &store).await.unwrap();
        assert_eq!(all_ids(&index), live, "reopen {round}");
    }
    for h in handles {
        h.await.unwrap();
    }
}

/// The second process: runs the rounds in the directory it is given.
// Ignored so a plain test run neither runs it nor counts it as passed; the parent starts
// it with `--ignored --exact`. Run without the parent's variable, it fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child process: started by its parent test"]
async fn concurrent_snapshot_child() {
    let dir = std::env::var(CHILD_ENV)
        .unwrap_or_else(|_| panic!("{CHILD_ENV} unset: this child is started by its parent test"));
    snapshot_rounds(PathBuf::from(dir)).await;
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_and_handles_snapshot_one_directory_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("vectors");
    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--ignored",
                    "--exact",
                    "concurrent_snapshot_child",
                    "--nocapture",
                    "--test-threads",
                    "1",
                ])
                .env(CHILD_ENV, &dir)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    snapshot_rounds(dir.clone()).await;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a child failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Every writer finished: no temporary is left, and the directory opens from its
    // snapshot, which verifies and holds every entry.
    assert_eq!(leftovers(&dir), Vec::<String>::new());
    let store = store();
    let index = HnswIndex::open(&dir, params(), &store).await.unwrap();
    assert!(
        matches!(index.opened_from(), OpenedFrom::Snapshot { .. }),
        "{:?}",
        index.opened_from()
    );
    assert_eq!(
        all_ids(&index),
        store.live().keys().copied().collect::<BTreeSet<_>>()
    );
    assert_eq!(index.applied_seq(), store.seq());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_stale_leftovers_of_other_writers_are_removed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let store = store();
    HnswIndex::open(dir, params(), &store)
        .await
        .unwrap()
        .snapshot(dir)
        .await
        .unwrap();
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 3600);
    let minutes_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(5 * 60);
    let age = |name: &str, when: std::time::SystemTime| {
        let p = dir.join(name);
        std::fs::File::open(&p).unwrap().set_modified(when).unwrap();
    };
    let me = std::process::id();
    // No process has this pid: Linux pids stop at 2^22.
    let gone = 4_194_305u32;
    let names = [
        // A live writer's fresh temporaries (this process): kept.
        format!(".tmp-snapshot-00000000000000000009-1-{me}-1-0123456789abcdef"),
        format!(".tmp-CURRENT-00000000000000000009-1-{me}-2-0123456789abcdef"),
        // A live writer's, but over an hour old: removed.
        format!(".tmp-snapshot-00000000000000000009-1-{me}-3-0123456789abcdef"),
        // A gone writer's, minutes old: removed; seconds old: kept (another pid
        // namespace may be writing it).
        format!(".tmp-snapshot-00000000000000000009-1-{gone}-4-0123456789abcdef"),
        format!("snapshot-00000000000000000009-1-{gone}-5-0123456789abcdef"),
        format!(".tmp-snapshot-00000000000000000009-1-{gone}-6-0123456789abcdef"),
    ];
    for (i, n) in names.iter().enumerate() {
        if n.starts_with(".tmp-CURRENT") {
            std::fs::write(dir.join(n), "snapshot-x\n").unwrap();
        } else {
            std::fs::create_dir(dir.join(n)).unwrap();
        }
        match i {
            2 => age(n, hour_ago),
            3 | 4 => age(n, minutes_ago),
            _ => {}
        }
    }
    // The current snapshot, even over an hour old, stays.
    let current = std::fs::read_to_string(dir.join("CURRENT")).unwrap();
    age(current.trim(), hour_ago);

    let index = HnswIndex::open(dir, params(), &store).await.unwrap();
    assert!(matches!(index.opened_from(), OpenedFrom::Snapshot { .. }));
    let exists = |n: &str| dir.join(n).exists();
    assert!(exists(&names[0]) && exists(&names[1]) && exists(&names[5]));
    assert!(!exists(&names[2]) && !exists(&names[3]) && !exists(&names[4]));
    assert!(exists(current.trim()));
}

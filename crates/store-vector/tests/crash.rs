//! `kill -9` while snapshots are being written: the directory always holds a complete
//! snapshot or none, and opening it (snapshot plus catch-up, or a rebuild) gives an
//! index that agrees with the store.
//!
//! The test re-runs its own binary as the child that writes snapshots in a loop.
//! `STORE_VECTOR_CRASH_KILLS` (default 6) and `STORE_VECTOR_CRASH_SEED` scale and
//! reproduce it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use memory_core::{MemoryFilter, MemoryId, Timestamp, VectorQuery};
use store_vector::{HnswIndex, HnswParams, OpenedFrom};

const DIM: usize = 16;
const OPS: usize = 4000;
const IDS: usize = 700;
const CHILD_ENV: &str = "STORE_VECTOR_CRASH_CHILD_DIR";

fn params() -> HnswParams {
    HnswParams::new(DIM).with_exact_threshold(0)
}

/// The store after the first `upto` operations of a fixed sequence: upserts (new ids,
/// replacements, filter-field changes) and deletions. Operation `i` takes sequence
/// number `i + 1`.
fn store_after(upto: usize) -> MemStore {
    let store = MemStore::pinned(DIM);
    let vs = clustered(OPS, DIM, 12, 77);
    let now = 1_800_000_000_000;
    let mut rng = TestRng::new(5);
    for (i, v) in vs.iter().enumerate().take(upto) {
        let row = rng.below(IDS);
        if rng.unit() < 0.25 {
            store.remove(id(row));
        } else {
            store.put(entry(row, v.clone(), now));
        }
        assert_eq!(store.seq(), i as u64 + 1);
    }
    store
}

/// The child: applies the operations in steps, catching up and snapshotting after each,
/// then keeps snapshotting until it is killed.
// Ignored so a plain test run neither runs it nor counts it as passed; the parent starts
// it with `--ignored --exact`. Run without the parent's variable, it fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child process: started by its parent test"]
async fn crash_child() {
    let dir = std::env::var(CHILD_ENV)
        .unwrap_or_else(|_| panic!("{CHILD_ENV} unset: this child is started by its parent test"));
    let dir = Path::new(&dir);
    let mut upto = 0;
    let mut store = store_after(upto);
    let index = HnswIndex::open(dir, params(), &store).await.unwrap();
    println!("ready");
    loop {
        if upto < OPS {
            upto = (upto + 150).min(OPS);
            store = store_after(upto);
            index.catch_up(&store).await.unwrap();
        }
        let info = index.snapshot(dir).await.unwrap();
        println!("snapshot {}", info.seq);
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_survive_kill_9() {
    let kills: usize = std::env::var("STORE_VECTOR_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let seed: u64 = std::env::var("STORE_VECTOR_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| Timestamp::now().as_millis() as u64);
    eprintln!("STORE_VECTOR_CRASH_SEED={seed}");
    let mut rng = TestRng::new(seed);
    let full = store_after(OPS);
    let live: BTreeSet<MemoryId> = full.live().keys().copied().collect();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("index");
    let mut seen_snapshots = 0;
    for round in 0..kills {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "crash_child",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD_ENV, &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        // Wait until it has opened the index, then let it run for a random while.
        for line in lines.by_ref() {
            if line.unwrap().contains("ready") {
                break;
            }
        }
        let reader = std::thread::spawn(move || {
            lines
                .map_while(Result::ok)
                .filter(|l| l.starts_with("snapshot"))
                .count()
        });
        std::thread::sleep(Duration::from_millis(rng.below(1500) as u64));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let written = reader.join().unwrap();
        seen_snapshots += written;

        let index = HnswIndex::open(&dir, params(), &full).await.unwrap();
        match index.opened_from() {
            OpenedFrom::Snapshot { seq, .. } => {
                eprintln!("round {round}: {written} snapshots written, opened the one at seq {seq}")
            }
            OpenedFrom::Rebuilt { reason } => {
                assert_eq!(
                    reason, "no snapshot",
                    "round {round}: a snapshot was left damaged"
                );
                eprintln!("round {round}: killed before the first snapshot");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(index.applied_seq(), OPS as u64);
        assert_eq!(index.stats().live, live.len());
        assert_eq!(
            all_ids(&index),
            live,
            "round {round}: the index disagrees with the store"
        );
    }
    assert!(seen_snapshots > 0, "no snapshot was ever written");
}

//! The vector index survives `kill -9` of a process that writes memories, deletes some
//! and snapshots the index: reopened from its snapshot and caught up from the SQLite
//! store, it agrees with the store exactly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use memory_core::*;
use store_sqlite::SqliteStore;
use store_vector::{HnswIndex, HnswParams, OpenedFrom};

const WRITER: &str = env!("CARGO_BIN_EXE_vector-writer");

/// The live embeddings of the store, by replaying its whole log.
async fn live_in_store(store: &SqliteStore) -> BTreeSet<MemoryId> {
    let mut live = BTreeSet::new();
    let mut after = 0;
    loop {
        let page = store.embedding_changes(after, 1000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        for ch in page {
            if ch.entry.is_some() {
                live.insert(ch.id);
            } else {
                live.remove(&ch.id);
            }
        }
    }
    live
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn index_agrees_with_store_after_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("memory.db");
    let snap = dir.path().join("index");
    let kills: u64 = std::env::var("BRAIN_VECTOR_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let mut acked_writes = BTreeSet::new();
    let mut acked_deletes = BTreeSet::new();
    let mut started_deletes = BTreeSet::new();
    let mut snapshots = 0;
    let mut from_snapshot = 0;
    let mut rng = brain_tests::XorShift::new(0x2545_F491_4F6C_DD1D);
    for round in 0..kills {
        let seed = rng.next();
        let stop_after = 20 + seed % 150;
        let mut child = Command::new(WRITER)
            .arg(&db)
            .arg(&snap)
            .arg(seed.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut lines = stdout.lines();
        let mut record = |line: String| {
            let (kind, rest) = line.split_at(1);
            let rest = rest.trim();
            match kind {
                "w" => {
                    acked_writes.insert(rest.parse::<MemoryId>().unwrap());
                }
                "d" => {
                    acked_deletes.insert(rest.parse::<MemoryId>().unwrap());
                }
                // A delete started: the memory may be gone without its `d` line.
                "x" => {
                    started_deletes.insert(rest.parse::<MemoryId>().unwrap());
                }
                "s" => snapshots += 1,
                other => panic!("bad line {other:?}"),
            }
        };
        let mut n = 0;
        for line in lines.by_ref() {
            record(line.unwrap());
            n += 1;
            if n >= stop_after {
                break;
            }
        }
        child.kill().unwrap(); // SIGKILL, wherever the writer is: mid-batch, mid-snapshot
        assert!(
            !child.wait().unwrap().success(),
            "round {round}: writer exited by itself"
        );
        // What it acknowledged between the last line read and the kill counts too.
        // (A line cut by the kill is ignored.)
        for line in lines.map_while(std::result::Result::ok) {
            let whole = match line.split_at_checked(1) {
                Some(("w" | "d" | "x", rest)) => rest.trim().parse::<MemoryId>().is_ok(),
                Some(("s", rest)) => rest.trim().parse::<u64>().is_ok(),
                _ => false,
            };
            if whole {
                record(line);
            }
        }

        // Reopen both, as a restarted brain would.
        let store = SqliteStore::open(&db).await.unwrap();
        let index = HnswIndex::open(&snap, HnswParams::new(64), &store)
            .await
            .unwrap();
        if matches!(index.opened_from(), OpenedFrom::Snapshot { .. }) {
            from_snapshot += 1;
        }
        let live = live_in_store(&store).await;
        // Every acknowledged write that was not deleted is in the store...
        for id in acked_writes
            .difference(&acked_deletes)
            .filter(|id| !started_deletes.contains(*id))
        {
            assert!(
                live.contains(id),
                "round {round}: acknowledged memory {id} lost"
            );
        }
        // ...and the index holds exactly the store's live embeddings.
        for id in &live {
            assert!(index.contains(*id), "round {round}: index misses {id}");
        }
        for id in &acked_deletes {
            assert!(
                !index.contains(*id),
                "round {round}: index still has deleted {id}"
            );
        }
        assert_eq!(
            index.stats().live,
            live.len(),
            "round {round}: index and store disagree"
        );
        assert_eq!(
            index.applied_seq(),
            store.last_embedding_seq().await.unwrap()
        );
    }
    assert!(
        snapshots > 0,
        "no snapshot was written; the test would prove nothing about them"
    );
    assert!(from_snapshot > 0, "no reopen used a snapshot");
    eprintln!(
        "{kills} kills: {} writes and {} deletes acknowledged, {snapshots} snapshots, {from_snapshot} reopens from a snapshot; index == store every time",
        acked_writes.len(),
        acked_deletes.len()
    );
}

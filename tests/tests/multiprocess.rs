//! Several processes on one SQLite file, and writers killed with SIGKILL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use memory_core::*;
use store_sqlite::SqliteStore;

const WRITER: &str = env!("CARGO_BIN_EXE_sqlite-writer");

fn writer(db: &Path, tag: &str, count: u64, pattern: Option<RecordId>) -> Command {
    let mut c = Command::new(WRITER);
    c.arg(db).arg(tag).arg(count.to_string());
    if let Some(p) = pattern {
        c.arg(p.to_string());
    }
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

/// Two processes write to one file at the same time; neither sees "database is
/// locked", and no counter increment is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_write_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("memory.db");
    let store = SqliteStore::open(&db).await.unwrap();
    let p = store
        .store_pattern(NewPattern::new("race", "shared counter", "n+1"))
        .await
        .unwrap()
        .pattern;
    let rounds = 150;
    // alpha writes from one task (inline commits), beta from three (group commits).
    let children: Vec<_> = [("alpha", 1u64), ("beta", 3)]
        .iter()
        .map(|(tag, tasks)| {
            let child = writer(&db, tag, rounds, Some(p.id))
                .env("WRITER_TASKS", tasks.to_string())
                .spawn()
                .unwrap();
            (child, *tasks)
        })
        .collect();
    // The parent writes too, through its own handle.
    for i in 0..rounds {
        store
            .record_pattern_outcome(p.id, PatternOutcome::Failure)
            .await
            .unwrap();
        store
            .store_preference(NewPreference::new(format!("parent.{i}"), i))
            .await
            .unwrap();
    }
    for (child, tasks) in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "writer failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let acks = String::from_utf8(out.stdout).unwrap().lines().count() as u64;
        assert_eq!(acks, rounds * 5 * tasks);
    }
    let p = store.get_pattern(p.id).await.unwrap().unwrap();
    assert_eq!(
        (p.success_count, p.failure_count),
        (1 + 4 * rounds, rounds),
        "no lost update"
    );
    let stats = store.stats().await.unwrap();
    assert_eq!(stats.memories, 4 * rounds);
    assert_eq!(stats.preferences, 5 * rounds);
    assert_eq!(stats.learning_events, 4 * rounds);
    assert_eq!(stats.decisions, 4 * rounds);
}

/// Kills a writer with SIGKILL at random points; every write it acknowledged (printed
/// after the call returned) is present after reopening, and the file is intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("memory.db");
    let seed = std::env::var("BRAIN_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x9E37_79B9_7F4A_7C15);
    let kills: usize = std::env::var("BRAIN_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(24);
    let mut rng = brain_tests::XorShift::new(seed);
    let mut acked: HashMap<char, Vec<String>> = HashMap::new();
    for round in 0..kills {
        let stop_after = 1 + rng.next() % 400;
        // Odd rounds write from four concurrent tasks, so kills also land in group commits.
        let tasks = if round % 2 == 1 { "4" } else { "1" };
        let mut child = writer(&db, &format!("w{round}"), 0, None)
            .env("WRITER_TASKS", tasks)
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut n = 0;
        for line in stdout.lines() {
            let line = line.unwrap();
            let kind =
                brain_tests::ack_kind(&line).unwrap_or_else(|| panic!("bad ack line {line:?}"));
            acked.entry(kind).or_default().push(line[2..].to_owned());
            n += 1;
            if n >= stop_after {
                break;
            }
        }
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(
            !status.success(),
            "round {round}: the writer exited by itself: {status:?}"
        );
    }
    // Reopen: recovery runs, the schema check passes, every acknowledged write is there.
    let store = SqliteStore::open(&db).await.unwrap();
    let mut checked = 0;
    for id in acked.get(&'m').into_iter().flatten() {
        let id: MemoryId = id.parse().unwrap();
        assert!(
            store.get_memory(id).await.unwrap().is_some(),
            "lost memory {id}"
        );
        checked += 1;
    }
    for key in acked.get(&'p').into_iter().flatten() {
        assert!(
            store
                .get_preference(&Scope::default(), key)
                .await
                .unwrap()
                .is_some(),
            "lost preference {key}"
        );
        checked += 1;
    }
    for id in acked.get(&'d').into_iter().flatten() {
        assert!(
            store
                .get_decision(id.parse().unwrap())
                .await
                .unwrap()
                .is_some(),
            "lost decision {id}"
        );
        checked += 1;
    }
    let events = store
        .list_learning_events(&EventQuery {
            scope: Scope::default(),
            event_type: None,
            since: None,
            limit: usize::MAX,
        })
        .await
        .unwrap();
    let have: std::collections::HashSet<String> = events.iter().map(|e| e.id.to_string()).collect();
    for id in acked.get(&'e').into_iter().flatten() {
        assert!(have.contains(id), "lost learning event {id}");
        checked += 1;
    }
    assert!(
        checked >= kills,
        "the writers acknowledged too little to test: {checked}"
    );
    drop(store);
    let conn = rusqlite::Connection::open(&db).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    // The keyword index agrees with its table after the crashes.
    conn.execute(
        "INSERT INTO memories_fts(memories_fts, rank) VALUES ('integrity-check', 1)",
        [],
    )
    .unwrap();
    eprintln!("{kills} kills, {checked} acknowledged writes checked, none lost");
}

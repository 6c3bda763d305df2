//! The whole brain survives `kill -9`: a `brain-worker` process remembers, remembers in
//! batches, forgets, ingests (and re-ingests) markdown files and rebuilds its index,
//! and is killed with `SIGKILL` at a random point; the test then opens the brain on the
//! same directory and checks that
//!
//! - every acknowledged `remember` is present with its content, unless its `forget` was
//!   started (a forget acknowledged must have removed it);
//! - every acknowledged `forget` is absent;
//! - a `remember_many` batch is all there or not at all;
//! - each ingested file's chunks are exactly one version's complete set, that version
//!   no older than the last acknowledged ingest (and with its chunk count when it is that
//!   one);
//! - every memory has its embedding, the index holds exactly the store's embeddings, and
//!   vector recall of a sample of memories' own content finds them;
//! - nothing returns an error.
//!
//! Each round spawns the worker on the same directory with a new seed. A failure names
//! the round and the seed of the worker that was killed.
//!
//! The CI-sized run (40 kills by default, `BRAIN_BRAIN_CRASH_KILLS` to change) runs with
//! `cargo test -p brain-tests --test brain_crash`. The large run:
//!
//! ```text
//! cargo xtask crash --kills 250
//! # = BRAIN_BRAIN_CRASH_KILLS=250 cargo test --release -p brain-tests --test brain_crash -- --nocapture
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use brain::{Brain, RecallMode, RecallQuery};
use brain_tests::{XorShift, crash_config, doc_marks, doc_sections};
use memory_core::{ListOrder, Memory, MemoryFilter, MemoryId, MemoryKind, MemoryQuery, Scope};

const WORKER: &str = env!("CARGO_BIN_EXE_brain-worker");

/// What the worker acknowledged (and started) over all rounds so far.
#[derive(Default)]
struct Model {
    /// Acknowledged remembers (single and batched), with their content.
    remembered: HashMap<MemoryId, String>,
    /// Acknowledged forgets.
    forgotten: HashSet<MemoryId>,
    /// Forgets started (acknowledged or not).
    forget_started: HashSet<MemoryId>,
    /// Every `remember_many` batch started: (round, ids).
    batches: Vec<(u64, Vec<MemoryId>)>,
    /// Per doc file: the last acknowledged (version, chunks).
    doc_acked: BTreeMap<u64, (u64, usize)>,
    /// Per doc file: the newest version whose ingest started.
    doc_started: BTreeMap<u64, u64>,
}

#[derive(Default, Debug)]
struct Counts {
    kills: u64,
    remembers: u64,
    batches: u64,
    batch_memories: u64,
    forgets: u64,
    ingests: u64,
    rebuilds: u64,
    reindexes: u64,
    killed_before_ready: u64,
    killed_mid_op: u64,
    checks: u64,
}

fn scope() -> Scope {
    Scope::user("crash")
}

fn id(s: &str) -> MemoryId {
    s.parse().unwrap_or_else(|e| panic!("bad id {s:?}: {e}"))
}

/// Spawns the worker, kills it after a random delay, and returns its complete lines.
fn run_worker(dir: &Path, seed: u64, plan: u64, counts: &mut Counts) -> Vec<String> {
    let mut child = Command::new(WORKER)
        .arg(dir)
        .arg(seed.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match stdout.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                // A partial last line (no newline) is not an acknowledgement.
                Ok(_) if buf.last() != Some(&b'\n') => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf[..buf.len() - 1]).into_owned();
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut lines = Vec::new();
    if plan.is_multiple_of(6) {
        // Early: while the brain opens (catching up, rebuilding a missing index).
        std::thread::sleep(Duration::from_millis(plan / 6 % 120));
        counts.killed_before_ready += 1;
    } else {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    let ready = line == "ready";
                    lines.push(line);
                    if ready {
                        break;
                    }
                }
                Err(e) => panic!("seed {seed}: the worker never became ready: {e}"),
            }
        }
        std::thread::sleep(Duration::from_millis(3 + plan / 6 % 400));
    }
    child.kill().unwrap(); // SIGKILL, wherever the worker is
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "seed {seed}: the worker was not killed but exited by itself ({status}): an operation failed"
    );
    reader.join().unwrap();
    lines.extend(rx.try_iter());
    lines
}

/// Folds one round's lines into the model.
fn absorb(model: &mut Model, counts: &mut Counts, round: u64, seed: u64, lines: &[String]) {
    let mut pending: Option<&str> = None;
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        match f[0] {
            "ready" => {}
            "r" => {
                model.remembered.insert(id(f[1]), f[2].to_owned());
                counts.remembers += 1;
            }
            "M" => {
                model
                    .batches
                    .push((round, f[1].split(',').map(id).collect()));
                pending = Some("M");
                continue;
            }
            "m" => {
                model.remembered.insert(id(f[1]), f[2].to_owned());
                counts.batch_memories += 1;
                let batch = &model.batches.last().unwrap().1;
                if batch.last() == Some(&id(f[1])) {
                    counts.batches += 1;
                } else {
                    continue; // the batch is still being acknowledged
                }
            }
            "F" => {
                model.forget_started.insert(id(f[1]));
                pending = Some("F");
                continue;
            }
            "f" => {
                model.forgotten.insert(id(f[1]));
                counts.forgets += 1;
            }
            "I" => {
                let (file, version) = (f[1].parse().unwrap(), f[2].parse().unwrap());
                model.doc_started.insert(file, version);
                pending = Some("I");
                continue;
            }
            "i" => {
                let (file, version, chunks) = (
                    f[1].parse().unwrap(),
                    f[2].parse().unwrap(),
                    f[3].parse().unwrap(),
                );
                model.doc_acked.insert(file, (version, chunks));
                counts.ingests += 1;
            }
            "X" | "Z" => {
                pending = Some("rebuild");
                continue;
            }
            "x" => counts.rebuilds += 1,
            "z" => counts.reindexes += 1,
            other => panic!("round {round}, seed {seed}: bad line {other:?}"),
        }
        pending = None;
    }
    if pending.is_some() {
        counts.killed_mid_op += 1;
    }
}

/// Every memory of the worker's scope, by id.
async fn all_memories(brain: &Brain) -> HashMap<MemoryId, Memory> {
    let filter = MemoryFilter {
        include_expired: true,
        ..MemoryFilter::scoped(scope())
    };
    let mut out = HashMap::new();
    let mut offset = 0;
    loop {
        let mut q = MemoryQuery::new(filter.clone(), 1000);
        q.order = ListOrder::OldestFirst;
        q.offset = offset;
        let page = brain.list(&q).await.unwrap();
        let n = page.len();
        out.extend(page.into_iter().map(|m| (m.id, m)));
        if n < 1000 {
            return out;
        }
        offset += n;
    }
}

/// Checks the reopened brain against the model.
async fn check(
    brain: &Brain,
    model: &Model,
    counts: &mut Counts,
    round: u64,
    seed: u64,
    rng: &mut XorShift,
) {
    let at = format!("round {round} (worker seed {seed})");
    let stored = all_memories(brain).await;

    // Acknowledged remembers and forgets.
    for (mid, content) in &model.remembered {
        match stored.get(mid) {
            Some(m) => {
                assert!(
                    !model.forgotten.contains(mid),
                    "{at}: memory {mid} is back after its forget was acknowledged"
                );
                assert_eq!(&m.content, content, "{at}: memory {mid} changed content");
            }
            None => assert!(
                model.forget_started.contains(mid),
                "{at}: acknowledged memory {mid} ({content:?}) lost"
            ),
        }
        counts.checks += 1;
    }
    for mid in &model.forgotten {
        assert!(
            !stored.contains_key(mid),
            "{at}: forgotten memory {mid} still stored"
        );
        counts.checks += 1;
    }

    // Batches: all or nothing (leaving out memories forgotten since).
    for (batch_round, ids) in &model.batches {
        let kept: Vec<&MemoryId> = ids
            .iter()
            .filter(|i| !model.forget_started.contains(i))
            .collect();
        let present = kept.iter().filter(|i| stored.contains_key(i)).count();
        assert!(
            present == 0 || present == kept.len(),
            "{at}: the batch started in round {batch_round} is half there: {present} of {}",
            kept.len()
        );
        counts.checks += 1;
    }

    // Doc files: one version's complete chunk set.
    let mut by_file: BTreeMap<u64, Vec<&Memory>> = BTreeMap::new();
    for m in stored.values() {
        if m.kind == MemoryKind::doc_chunk() {
            let path = m.metadata.get("path").and_then(|v| v.as_str()).unwrap();
            let file = Path::new(path)
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.strip_prefix('f'))
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("{at}: chunk of an unknown file {path}"));
            by_file.entry(file).or_default().push(m);
        }
    }
    for (file, started) in &model.doc_started {
        let chunks = by_file.remove(file).unwrap_or_default();
        let acked = model.doc_acked.get(file);
        if chunks.is_empty() {
            assert!(
                acked.is_none(),
                "{at}: file {file} ingested (version {acked:?}) but has no chunks"
            );
            counts.checks += 1;
            continue;
        }
        let hashes: BTreeSet<&str> = chunks
            .iter()
            .map(|m| {
                m.metadata
                    .get("content_hash")
                    .and_then(|v| v.as_str())
                    .unwrap()
            })
            .collect();
        let marks: Vec<(u64, u64, u64)> =
            chunks.iter().flat_map(|m| doc_marks(&m.content)).collect();
        let versions: BTreeSet<u64> = marks.iter().map(|(_, v, _)| *v).collect();
        assert!(
            hashes.len() == 1 && versions.len() == 1,
            "{at}: file {file} holds chunks of several versions: {versions:?}, {} hashes",
            hashes.len()
        );
        let version = *versions.first().unwrap();
        let sections: BTreeSet<u64> = marks.iter().map(|(_, _, s)| *s).collect();
        let expected: BTreeSet<u64> = (0..doc_sections(*file, version)).collect();
        assert_eq!(
            sections, expected,
            "{at}: file {file} version {version} has a partial chunk set"
        );
        assert!(
            version <= *started,
            "{at}: file {file} version {version} was never ingested"
        );
        if let Some((acked_version, acked_chunks)) = acked {
            assert!(
                version >= *acked_version,
                "{at}: file {file} went back from acknowledged version {acked_version} to {version}"
            );
            if version == *acked_version {
                assert_eq!(
                    chunks.len(),
                    *acked_chunks,
                    "{at}: file {file} version {version} has a different chunk count than acknowledged"
                );
            }
        }
        counts.checks += 1;
    }
    assert!(
        by_file.is_empty(),
        "{at}: chunks of files never ingested: {:?}",
        by_file.keys()
    );

    // Embeddings and the index.
    let stats = brain.stats().await.unwrap();
    assert_eq!(
        stats.store.memories as usize,
        stored.len(),
        "{at}: store count and listing disagree"
    );
    assert_eq!(
        stats.store.embeddings, stats.store.memories,
        "{at}: memories without an embedding (or embeddings without a memory)"
    );
    assert_eq!(
        stats.indexed as u64, stats.store.embeddings,
        "{at}: the index and the store disagree"
    );
    counts.checks += 2;
    let all: Vec<&Memory> = stored.values().collect();
    for _ in 0..all.len().min(8) {
        let m = all[(rng.next() % all.len() as u64) as usize];
        let hits = brain
            .recall(
                &RecallQuery::new(m.content.clone(), scope())
                    .with_mode(RecallMode::Vector)
                    .with_k(10),
            )
            .await
            .unwrap();
        assert!(
            hits.iter().any(|h| h.memory.id == m.id),
            "{at}: vector recall of its own content misses memory {} ({:?})",
            m.id,
            m.content
        );
        counts.checks += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_of_the_brain() {
    let dir = tempfile::tempdir().unwrap();
    let kills: u64 = std::env::var("BRAIN_BRAIN_CRASH_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let started = Instant::now();
    let mut rng = XorShift::new(0xB4A1_2C0F_FEE0_0D15);
    let mut model = Model::default();
    let mut counts = Counts::default();
    for round in 0..kills {
        let seed = rng.next();
        let plan = rng.next();
        let path = dir.path().to_path_buf();
        let (lines, c) = tokio::task::spawn_blocking(move || {
            let mut c = Counts::default();
            let lines = run_worker(&path, seed, plan, &mut c);
            (lines, c)
        })
        .await
        .unwrap();
        counts.kills += 1;
        counts.killed_before_ready += c.killed_before_ready;
        absorb(&mut model, &mut counts, round, seed, &lines);

        let brain = brain_engines::open(crash_config(dir.path()))
            .await
            .unwrap_or_else(|e| panic!("round {round} (worker seed {seed}): reopen failed: {e}"));
        check(&brain, &model, &mut counts, round, seed, &mut rng).await;
        brain.close().await.unwrap();
        drop(brain);
    }
    eprintln!(
        "brain crash: {} kills ({} while opening, {} mid-operation) in {:.1?}; acknowledged: \
         {} remembers, {} batches ({} memories), {} forgets, {} ingests, {} index rebuilds, \
         {} reindexes; {} checks, 0 acknowledged writes lost",
        counts.kills,
        counts.killed_before_ready,
        counts.killed_mid_op,
        started.elapsed(),
        counts.remembers,
        counts.batches,
        counts.batch_memories,
        counts.forgets,
        counts.ingests,
        counts.rebuilds,
        counts.reindexes,
        counts.checks
    );
    assert!(
        counts.remembers > 0 && counts.forgets > 0 && counts.ingests > 0,
        "the workload did too little to prove anything: {counts:?}"
    );
}

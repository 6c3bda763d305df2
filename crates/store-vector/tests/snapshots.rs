//! Snapshots: round trips, catch-up from the store, and damaged snapshots rebuilt.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use memory_core::{ErrorKind, MemoryFilter, MemoryId, Timestamp, VectorIndex, VectorQuery};
use store_vector::{HnswIndex, HnswParams, OpenedFrom, VectorError};

const DIM: usize = 16;

fn params() -> HnswParams {
    // The graph answers even for these small sets.
    HnswParams::new(DIM).with_exact_threshold(0)
}

fn query(v: &[f32], k: usize) -> VectorQuery {
    VectorQuery {
        vector: v.to_vec(),
        k,
        filter: MemoryFilter::default(),
        now: Timestamp::now(),
    }
}

/// A store holding `n` varied entries, some of them later deleted or replaced.
fn seeded_store(n: usize, seed: u64) -> (MemStore, Vec<Vec<f32>>) {
    let store = MemStore::pinned(DIM);
    let vs = clustered(2 * n, DIM, 10, seed);
    let now = base_now();
    store.put_all((0..n).map(|i| entry(i, vs[i].clone(), now)));
    for i in (0..n).step_by(9) {
        store.remove(id(i));
    }
    for i in (1..n).step_by(11) {
        store.put(entry(i, vs[n + i].clone(), now));
    }
    (store, vs)
}

/// Every live id of the index (a search for more than it holds returns them all).
fn all_ids(index: &HnswIndex) -> BTreeSet<MemoryId> {
    let mut q = query(&[1.0; DIM], usize::MAX);
    q.filter.include_expired = true;
    index
        .search_blocking(&q)
        .unwrap()
        .iter()
        .map(|h| h.id)
        .collect()
}

/// The index holds exactly the store's live entries and finds each by its vector.
fn assert_agrees(index: &HnswIndex, store: &MemStore) {
    let live = store.live();
    assert_eq!(index.stats().live, live.len());
    assert_eq!(
        all_ids(index),
        live.keys().copied().collect::<BTreeSet<_>>()
    );
    assert_eq!(index.applied_seq(), store.seq());
    let mut found = 0;
    for e in live.values() {
        let mut q = query(&e.vector, 1);
        q.filter.include_expired = true;
        let hit = index.search_blocking(&q).unwrap()[0];
        // An equal vector under another id is as good an answer.
        found += usize::from(hit.id == e.id || hit.similarity > 0.99999);
    }
    eprintln!("self-recall {found} / {}", live.len());
    assert!(
        found as f64 >= 0.99 * live.len() as f64,
        "only {found} of {} entries find themselves",
        live.len()
    );
}

fn current_snapshot(dir: &Path) -> PathBuf {
    let name = fs::read_to_string(dir.join("CURRENT")).unwrap();
    dir.join(name.trim())
}

async fn open(dir: &Path, store: &MemStore) -> HnswIndex {
    HnswIndex::open(dir, params(), store).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("index");
    let (store, vs) = seeded_store(3000, 1);
    let first = open(&dir, &store).await;
    assert!(
        matches!(first.opened_from(), OpenedFrom::Rebuilt { reason } if reason == "no snapshot")
    );
    assert_agrees(&first, &store);
    // Tombstones, so they round-trip too.
    first.delete_blocking(&[id(2), id(3)]);
    let info = first.snapshot(&dir).await.unwrap();
    assert_eq!(info.seq, store.seq());
    assert_eq!(info.live, first.stats().live);
    assert_eq!(info.tombstones, first.stats().tombstones);
    assert!(info.tombstones > 0);
    for f in [
        "manifest.json",
        "graph.hnsw.graph",
        "graph.hnsw.data",
        "entries.jsonl",
        "tombstones.json",
    ] {
        assert!(info.path.join(f).exists(), "{f} missing");
    }

    let second = open(&dir, &store).await;
    assert_eq!(
        second.opened_from(),
        &OpenedFrom::Snapshot {
            path: info.path.clone(),
            seq: info.seq
        }
    );
    assert_eq!(second.stats().live, first.stats().live);
    assert_eq!(second.stats().tombstones, first.stats().tombstones);
    assert!(!second.contains(id(2)));
    // The very same graph: the same answers, filtered or not.
    for v in vs.iter().step_by(97) {
        for filter in [
            MemoryFilter::default(),
            MemoryFilter::scoped(memory_core::Scope::user("bob")),
        ] {
            let mut q = query(v, 10);
            q.filter = filter;
            let a = first.search_blocking(&q).unwrap();
            let b = second.search_blocking(&q).unwrap();
            assert_eq!(a, b);
        }
    }
    // A second snapshot replaces the first, which is removed.
    let again = second.snapshot(&dir).await.unwrap();
    assert_ne!(again.path, info.path);
    assert!(!info.path.exists());
    assert_eq!(current_snapshot(&dir), again.path);
    assert_eq!(
        fs::read_dir(&dir).unwrap().count(),
        2,
        "CURRENT and one snapshot"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_index_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let store = MemStore::pinned(DIM);
    let index = open(tmp.path(), &store).await;
    assert!(index.is_empty().await.unwrap());
    index.snapshot(tmp.path()).await.unwrap();
    let again = open(tmp.path(), &store).await;
    assert!(matches!(
        again.opened_from(),
        OpenedFrom::Snapshot { seq: 0, .. }
    ));
    assert!(
        again
            .search_blocking(&query(&[1.0; DIM], 3))
            .unwrap()
            .is_empty()
    );
}

/// A snapshot plus catch-up gives the same index as a fresh build from the store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_plus_catch_up_equals_a_fresh_build() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("index");
    let (store, vs) = seeded_store(2500, 2);
    let index = open(&dir, &store).await;
    let info = index.snapshot(&dir).await.unwrap();
    drop(index);

    // The store moves on: new memories, deletions, replacements (some of the very ids
    // in the snapshot), and changes to filter fields only.
    let now = base_now();
    let more = clustered(700, DIM, 10, 22);
    store.put_all((2500..3200).map(|i| entry(i, more[i - 2500].clone(), now)));
    for i in (0..3200).step_by(7) {
        store.remove(id(i));
    }
    for i in (5..2500).step_by(13) {
        store.put(entry(i, vs[i + 2500].clone(), now));
    }
    for i in (6..2500).step_by(17) {
        let mut e = entry(i, vs[i].clone(), now);
        e.scope = memory_core::Scope::user("zed");
        store.put(e);
    }
    assert!(store.seq() > info.seq);

    let caught_up = open(&dir, &store).await;
    assert!(
        matches!(caught_up.opened_from(), OpenedFrom::Snapshot { seq, .. } if *seq == info.seq)
    );
    assert_agrees(&caught_up, &store);
    let fresh = open(&tmp.path().join("elsewhere"), &store).await;
    assert!(matches!(fresh.opened_from(), OpenedFrom::Rebuilt { .. }));
    assert_agrees(&fresh, &store);
    // Filtered searches agree too: same hits for a scope that only the catch-up wrote.
    let mut q = query(&vs[6], 20);
    q.filter = MemoryFilter::scoped(memory_core::Scope::user("zed"));
    let a: BTreeSet<MemoryId> = caught_up
        .search_blocking(&q)
        .unwrap()
        .iter()
        .map(|h| h.id)
        .collect();
    let b: BTreeSet<MemoryId> = fresh
        .search_blocking(&q)
        .unwrap()
        .iter()
        .map(|h| h.id)
        .collect();
    assert_eq!(a.len(), 20);
    assert_eq!(a, b);

    // catch_up later, on a live index.
    store.put(entry(9000, vs[0].clone(), now));
    store.remove(id(1));
    assert_eq!(caught_up.catch_up(&store).await.unwrap(), 2);
    assert_agrees(&caught_up, &store);
    assert_eq!(caught_up.catch_up(&store).await.unwrap(), 0);
}

/// Every kind of damage is detected; the index is rebuilt from the store and agrees
/// with it, and the next snapshot is good again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_snapshots_are_rebuilt() {
    type Damage = (&'static str, fn(&Path, &Path));
    let damages: Vec<Damage> = vec![
        ("flip a byte of the graph", |_, s| {
            flip(&s.join("graph.hnsw.graph"), 0.5)
        }),
        ("flip a byte of the vectors", |_, s| {
            flip(&s.join("graph.hnsw.data"), 0.7)
        }),
        ("flip a byte of the entries", |_, s| {
            flip(&s.join("entries.jsonl"), 0.3)
        }),
        ("flip a byte of the manifest", |_, s| {
            flip(&s.join("manifest.json"), 0.4)
        }),
        ("change the manifest's sequence", |_, s| {
            let p = s.join("manifest.json");
            let t = fs::read_to_string(&p)
                .unwrap()
                .replacen("\"seq\": ", "\"seq\": 1", 1);
            fs::write(p, t).unwrap();
        }),
        ("truncate the graph", |_, s| {
            truncate(&s.join("graph.hnsw.graph"))
        }),
        ("truncate the vectors", |_, s| {
            truncate(&s.join("graph.hnsw.data"))
        }),
        ("truncate the tombstones", |_, s| {
            truncate(&s.join("tombstones.json"))
        }),
        ("empty the entries", |_, s| {
            fs::write(s.join("entries.jsonl"), "").unwrap()
        }),
        ("delete the manifest", |_, s| {
            fs::remove_file(s.join("manifest.json")).unwrap()
        }),
        ("delete the graph", |_, s| {
            fs::remove_file(s.join("graph.hnsw.graph")).unwrap()
        }),
        ("delete the snapshot directory", |_, s| {
            fs::remove_dir_all(s).unwrap()
        }),
        ("garbage in CURRENT", |d, _| {
            fs::write(d.join("CURRENT"), "../../etc\n").unwrap()
        }),
        ("CURRENT names nothing", |d, _| {
            fs::write(d.join("CURRENT"), "snapshot-nothing\n").unwrap()
        }),
    ];
    let (store, _) = seeded_store(1500, 3);
    for (what, damage) in damages {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        open(dir, &store).await.snapshot(dir).await.unwrap();
        damage(dir, &current_snapshot(dir));
        let index = open(dir, &store).await;
        match index.opened_from() {
            OpenedFrom::Rebuilt { reason } => eprintln!("{what}: {reason}"),
            other => panic!("{what}: the damaged snapshot was trusted ({other:?})"),
        }
        assert_agrees(&index, &store);
        index.snapshot(dir).await.unwrap();
        let again = open(dir, &store).await;
        assert!(
            matches!(again.opened_from(), OpenedFrom::Snapshot { .. }),
            "{what}"
        );
    }
}

fn flip(path: &Path, at: f64) {
    let mut bytes = fs::read(path).unwrap();
    let i = ((bytes.len() as f64 * at) as usize).min(bytes.len() - 1);
    bytes[i] ^= 0x5a;
    fs::write(path, bytes).unwrap();
}

fn truncate(path: &Path) {
    let bytes = fs::read(path).unwrap();
    fs::write(path, &bytes[..bytes.len() / 2]).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_that_does_not_fit_is_not_trusted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (store, _) = seeded_store(500, 4);
    open(dir, &store).await.snapshot(dir).await.unwrap();

    // Other build parameters: rebuilt with the ones asked for.
    let other = HnswIndex::open(dir, params().with_m(8), &store)
        .await
        .unwrap();
    assert!(
        matches!(other.opened_from(), OpenedFrom::Rebuilt { reason } if reason.contains("built with m 16"))
    );
    assert_agrees(&other, &store);

    // A snapshot ahead of the store (the store was restored from an older backup).
    let behind = MemStore::pinned(DIM);
    let vs = clustered(10, DIM, 2, 5);
    behind.put_all((0..10).map(|i| plain(i, vs[i].clone())));
    let index = open(dir, &behind).await;
    assert!(
        matches!(index.opened_from(), OpenedFrom::Rebuilt { reason } if reason.contains("log ends at 10"))
    );
    assert_agrees(&index, &behind);

    // Another dimension: the store's pinned embedder disagrees with the index.
    let e = HnswIndex::open(dir, HnswParams::new(DIM * 2), &store)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            VectorError::DimensionMismatch {
                index: 32,
                store: 16
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("reindex"));
    assert_eq!(memory_core::Error::from(e).kind(), ErrorKind::Conflict);

    // Same, with no pinned embedder: the snapshot is of another dimension (so it is
    // rebuilt) and the store's vectors are too (so the open fails, naming reindex).
    let unpinned = MemStore::new();
    unpinned.put_all((0..10).map(|i| plain(i, vs[i].clone())));
    let e = HnswIndex::open(dir, HnswParams::new(8), &unpinned)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            VectorError::DimensionMismatch {
                index: 8,
                store: 16
            }
        ),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_snapshots_are_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (store, _) = seeded_store(300, 6);
    let info = open(dir, &store).await.snapshot(dir).await.unwrap();
    // A crash while writing the next one leaves a temporary directory and maybe a
    // CURRENT.tmp; neither is read.
    fs::create_dir(dir.join(".tmp-snapshot-00000000000000000099-1-1-1")).unwrap();
    fs::write(
        dir.join("CURRENT.tmp"),
        "snapshot-00000000000000000099-1-1-1\n",
    )
    .unwrap();
    let index = open(dir, &store).await;
    assert_eq!(
        index.opened_from(),
        &OpenedFrom::Snapshot {
            path: info.path,
            seq: info.seq
        }
    );
}

/// A vector the store should never have accepted (NaN, zeros) is skipped with a warning,
/// not allowed to stop the index from opening or catching up; a vector of another
/// dimension is an error that names reindex.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_stored_vectors_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let store = MemStore::new();
    let vs = clustered(20, DIM, 2, 8);
    store.put_all((0..20).map(|i| plain(i, vs[i].clone())));
    store.put(plain(20, vec![f32::NAN; DIM]));
    store.put(plain(21, vec![0.0; DIM]));
    let index = open(tmp.path(), &store).await;
    assert_eq!(index.stats().live, 20);
    assert_eq!(index.applied_seq(), store.seq());
    // A valid entry later replaced by an invalid one leaves the index.
    store.put(plain(3, vec![f32::INFINITY; DIM]));
    index.catch_up(&store).await.unwrap();
    assert!(!index.contains(id(3)));
    assert_eq!(index.stats().live, 19);
    assert_eq!(index.applied_seq(), store.seq());
    // Another dimension stops the catch-up, naming the way out.
    store.put(plain(4, vec![1.0; DIM + 1]));
    let e = index.catch_up(&store).await.unwrap_err();
    assert!(e.to_string().contains("reindex"), "{e}");
    assert!(index.contains(id(4)));
}

/// After a reindex to another embedder the old snapshot stays in the directory: with
/// the same dimension it is loaded and caught up (the reindex logged every embedding
/// dropped and put again), with another it is rebuilt from the store; never an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_of_another_embedder_is_caught_up_or_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let n = 200;
    let (store, _) = seeded_store(n, 21);
    open(dir, &store).await.snapshot(dir).await.unwrap();

    // Another model of the same dimension: every embedding cleared, then re-embedded.
    let was_live: Vec<usize> = (0..n)
        .filter(|i| store.live().contains_key(&id(*i)))
        .collect();
    for i in &was_live {
        store.remove(id(*i));
    }
    let other = clustered(n, DIM, 5, 99);
    let now = base_now();
    store.put_all(was_live.iter().map(|&i| entry(i, other[i].clone(), now)));
    let index = open(dir, &store).await;
    assert!(
        matches!(index.opened_from(), OpenedFrom::Snapshot { .. }),
        "{:?}",
        index.opened_from()
    );
    assert_agrees(&index, &store);

    // Another dimension: the store re-pinned at 8, the snapshot of 16 is rebuilt.
    let small = MemStore::pinned(8);
    let vs = clustered(n, 8, 5, 7);
    small.put_all(was_live.iter().map(|&i| entry(i, vs[i].clone(), now)));
    let index = HnswIndex::open(dir, HnswParams::new(8).with_exact_threshold(0), &small)
        .await
        .unwrap();
    assert!(
        matches!(index.opened_from(), OpenedFrom::Rebuilt { reason } if reason.contains("dimension 16")),
        "{:?}",
        index.opened_from()
    );
    assert_eq!(index.stats().live, was_live.len());
    assert_eq!(index.applied_seq(), small.seq());
}

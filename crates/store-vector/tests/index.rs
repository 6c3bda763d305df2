//! The port contract, validation and background rebuilds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use common::*;
use memory_core::{
    ErrorKind, MemoryFilter, MemoryId, Scope, Timestamp, ValidationError, VectorIndex, VectorQuery,
};
use store_vector::{BareIndex, FlatIndex, HnswIndex, HnswParams, VectorError};

fn query(v: Vec<f32>, k: usize) -> VectorQuery {
    VectorQuery {
        vector: v,
        k,
        filter: MemoryFilter::default(),
        now: Timestamp::now(),
    }
}

async fn port_contract(index: Arc<dyn VectorIndex>) {
    let d = index.dimension();
    let vs = clustered(50, d, 4, 7);
    assert!(index.is_empty().await.unwrap());
    index
        .upsert(
            vs.iter()
                .enumerate()
                .map(|(i, v)| plain(i, v.clone()))
                .collect(),
        )
        .await
        .unwrap();
    assert_eq!(index.len().await.unwrap(), 50);
    // Each vector finds itself first.
    for (i, v) in vs.iter().enumerate().take(10) {
        let hits = index.search(&query(v.clone(), 3)).await.unwrap();
        assert_eq!(hits.len(), 3);
        assert_eq!(hits[0].id, id(i));
        assert!((hits[0].similarity - 1.0).abs() < 1e-4);
        assert!(hits.windows(2).all(|w| w[0].similarity >= w[1].similarity));
    }
    // Upsert replaces. (Moved next to another entry, not to an empty region: an HNSW
    // graph may leave a far outlier without incoming links, which is approximate search's
    // to lose, not this test's to check.)
    let moved: Vec<f32> = vs[1]
        .iter()
        .enumerate()
        .map(|(j, x)| x + if j == 0 { 0.01 } else { 0.0 })
        .collect();
    index.upsert(vec![plain(0, moved.clone())]).await.unwrap();
    assert_eq!(index.len().await.unwrap(), 50);
    assert_eq!(index.search(&query(moved, 1)).await.unwrap()[0].id, id(0));
    // Delete.
    assert_eq!(index.delete(&[id(0), id(1), id(999)]).await.unwrap(), 2);
    assert_eq!(index.delete(&[id(0)]).await.unwrap(), 0);
    assert_eq!(index.len().await.unwrap(), 48);
    let all = index.search(&query(vs[2].clone(), 1000)).await.unwrap();
    assert_eq!(all.len(), 48);
    assert!(all.iter().all(|h| h.id != id(0) && h.id != id(1)));
    assert!(
        index
            .search(&query(vs[2].clone(), 0))
            .await
            .unwrap()
            .is_empty()
    );
    // Bad input is InvalidInput and changes nothing.
    let mut nan = vs[3].clone();
    nan[0] = f32::NAN;
    for bad in [nan, vec![0.0; d], vec![1.0; d + 1], vec![f32::INFINITY; d]] {
        let e = index
            .upsert(vec![plain(500, bad.clone())])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        let e = index.search(&query(bad, 1)).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
    let e = index
        .upsert(vec![plain(501, vs[4].clone()), plain(502, vec![1.0])])
        .await
        .unwrap_err();
    assert!(wrong_dim(&e), "{e}");
    assert_eq!(
        index.len().await.unwrap(),
        48,
        "a rejected batch wrote something"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flat_keeps_the_port_contract() {
    port_contract(Arc::new(FlatIndex::new(16).unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hnsw_keeps_the_port_contract() {
    // exact_threshold 0 so the graph (not the exact path) answers.
    let p = HnswParams::new(16).with_exact_threshold(0);
    port_contract(Arc::new(HnswIndex::new(p).unwrap())).await;
    port_contract(Arc::new(HnswIndex::new(HnswParams::new(16)).unwrap())).await;
}

#[test]
fn works_without_a_tokio_runtime() {
    let index = HnswIndex::new(HnswParams::new(8)).unwrap();
    let v = clustered(5, 8, 1, 1);
    let fut = async {
        index
            .upsert(
                v.iter()
                    .enumerate()
                    .map(|(i, v)| plain(i, v.clone()))
                    .collect(),
            )
            .await
            .unwrap();
        index.search(&query(v[0].clone(), 2)).await.unwrap()
    };
    let hits = futures_lite_block_on(fut);
    assert_eq!(hits.len(), 2);
}

/// A minimal executor, to show the async methods need no tokio runtime.
fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut cx = Context::from_waker(Waker::noop());
    let mut f = std::pin::pin!(f);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}

#[test]
fn bad_parameters_are_typed_errors() {
    let bad = [
        HnswParams::new(0),
        HnswParams::new(1 << 20),
        HnswParams::new(8).with_m(0),
        HnswParams::new(8).with_m(1),
        HnswParams::new(8).with_m(257),
        HnswParams::new(8).with_m(100_000),
        HnswParams::new(8).with_ef_construction(0),
        HnswParams::new(8).with_ef_construction(1 << 30),
        HnswParams::new(8).with_ef_search(0),
        HnswParams::new(8).with_max_elements(0),
        HnswParams::new(8).with_max_elements(usize::MAX),
    ];
    for p in bad {
        let e = HnswIndex::new(p).unwrap_err();
        assert!(
            matches!(e, VectorError::InvalidParameter { .. }),
            "{p:?}: {e}"
        );
        assert_eq!(memory_core::Error::from(e).kind(), ErrorKind::InvalidInput);
        assert!(HnswIndex::build(p, vec![]).is_err());
    }
    assert!(FlatIndex::new(0).is_err());
    let rows = clustered(10, 4, 2, 1);
    assert!(matches!(
        BareIndex::build(&rows, 300, 10),
        Err(VectorError::InvalidParameter { name: "m", .. })
    ));
    assert!(BareIndex::build(&[], 16, 10).is_err());
    let bare = BareIndex::build(&rows, 4, 10).unwrap();
    assert!(bare.search(&rows[0], 3, 0).is_err());
    assert_eq!(bare.search(&rows[0], 3, 10).unwrap()[0].0, 0);
}

#[test]
fn bad_vectors_are_typed_errors_and_change_nothing() {
    let index = HnswIndex::new(HnswParams::new(4)).unwrap();
    index
        .upsert_blocking(vec![plain(0, vec![1.0, 0.0, 0.0, 0.0])])
        .unwrap();
    type Check = fn(&ValidationError) -> bool;
    let cases: Vec<(Vec<f32>, Check)> = vec![
        (vec![f32::NAN, 0.0, 0.0, 1.0], |e| {
            matches!(e, ValidationError::NotFinite { .. })
        }),
        (vec![f32::NEG_INFINITY, 0.0, 0.0, 1.0], |e| {
            matches!(e, ValidationError::NotFinite { .. })
        }),
        (vec![0.0; 4], |e| *e == ValidationError::ZeroVector),
        (vec![1.0; 3], |e| {
            matches!(
                e,
                ValidationError::WrongDimension {
                    expected: 4,
                    got: 3
                }
            )
        }),
        (vec![], |e| {
            matches!(e, ValidationError::WrongDimension { .. })
        }),
    ];
    for (v, check) in cases {
        match index.upsert_blocking(vec![
            plain(1, vec![0.0, 1.0, 0.0, 0.0]),
            plain(2, v.clone()),
        ]) {
            Err(VectorError::InvalidVector {
                id: Some(got),
                source,
            }) => {
                assert_eq!(got, id(2));
                assert!(check(&source), "{source}");
            }
            other => panic!("{v:?}: {other:?}"),
        }
        assert!(matches!(
            index.search_blocking(&query(v, 1)),
            Err(VectorError::InvalidVector { id: None, .. })
        ));
    }
    assert_eq!(index.stats().live, 1);
    assert!(!index.contains(id(1)));
    // Tiny and huge components are fine: they are normalised in f64.
    index
        .upsert_blocking(vec![
            plain(3, vec![1e-44, 0.0, 0.0, 0.0]),
            plain(4, vec![0.0, 3e38, 3e38, 0.0]),
        ])
        .unwrap();
    let hits = index
        .search_blocking(&query(vec![1.0, 0.0, 0.0, 0.0], 2))
        .unwrap();
    assert!(hits.iter().all(|h| h.similarity.is_finite()));
    // A malformed filter is rejected too.
    let mut q = query(vec![1.0, 0.0, 0.0, 0.0], 1);
    q.filter.scope = Scope::user("bad\nname");
    assert!(matches!(
        index.search_blocking(&q),
        Err(VectorError::InvalidFilter(_))
    ));
}

#[test]
fn max_elements_is_a_limit() {
    let index = HnswIndex::new(HnswParams::new(4).with_max_elements(3)).unwrap();
    let vs = clustered(5, 4, 1, 3);
    index
        .upsert_blocking((0..3).map(|i| plain(i, vs[i].clone())).collect())
        .unwrap();
    // Replacing is fine; a fourth id is not.
    index
        .upsert_blocking(vec![plain(0, vs[4].clone())])
        .unwrap();
    let e = index
        .upsert_blocking(vec![plain(3, vs[3].clone())])
        .unwrap_err();
    assert!(matches!(e, VectorError::Full { max: 3, .. }), "{e}");
    assert_eq!(memory_core::Error::from(e).kind(), ErrorKind::InvalidInput);
    index.delete_blocking(&[id(1)]);
    index
        .upsert_blocking(vec![plain(3, vs[3].clone())])
        .unwrap();
}

#[test]
fn explicit_rebuild_drops_tombstones() {
    let vs = clustered(3000, 16, 8, 5);
    let index = HnswIndex::build(
        HnswParams::new(16).with_exact_threshold(0),
        vs.iter()
            .enumerate()
            .map(|(i, v)| plain(i, v.clone()))
            .collect(),
    )
    .unwrap();
    let ids: Vec<MemoryId> = (0..100).map(id).collect();
    assert_eq!(index.delete_blocking(&ids), 100);
    // Re-upserting 200 others adds 200 tombstones.
    index
        .upsert_blocking((100..300).map(|i| plain(i, vs[i].clone())).collect())
        .unwrap();
    let s = index.stats();
    assert_eq!((s.live, s.tombstones, s.points), (2900, 300, 3200));
    index.rebuild_blocking().unwrap();
    let s = index.stats();
    assert_eq!(
        (s.live, s.tombstones, s.points, s.rebuilds),
        (2900, 0, 2900, 1)
    );
    for i in [0, 50, 99] {
        assert!(!index.contains(id(i)));
    }
    let hits = index.search_blocking(&query(vs[200].clone(), 5)).unwrap();
    assert_eq!(hits[0].id, id(200));
}

/// Deleting a fifth of the index starts a background rebuild; searches keep answering
/// with k hits and never a deleted id, and no write made during the rebuild is lost.
#[test]
fn background_rebuild_keeps_searching_and_loses_no_write() {
    let d = 16;
    let n = 6000;
    let vs = clustered(n + 3000, d, 12, 11);
    let index = HnswIndex::build(
        HnswParams::new(d).with_exact_threshold(0),
        (0..n).map(|i| plain(i, vs[i].clone())).collect(),
    )
    .unwrap();

    // Ids whose deletion has returned; a search that starts later must not see them.
    let deleted: Arc<RwLock<HashSet<MemoryId>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let searches = Arc::new(AtomicUsize::new(0));
    let searcher = {
        let (index, deleted, stop, searches) = (
            index.clone(),
            deleted.clone(),
            stop.clone(),
            searches.clone(),
        );
        let vs = vs.clone();
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let gone = deleted.read().unwrap().clone();
                let hits = index
                    .search_blocking(&query(vs[i % vs.len()].clone(), 10))
                    .unwrap();
                assert_eq!(hits.len(), 10, "a search returned fewer than k hits");
                for h in &hits {
                    assert!(!gone.contains(&h.id), "a deleted id came back: {}", h.id);
                }
                searches.fetch_add(1, Ordering::Relaxed);
                i += 7;
            }
        })
    };

    // Delete a quarter: a rebuild starts.
    let doomed: Vec<MemoryId> = (0..n / 4).map(id).collect();
    for chunk in doomed.chunks(100) {
        let mut g = deleted.write().unwrap();
        index.delete_blocking(chunk);
        g.extend(chunk.iter().copied());
    }
    assert!(
        index.stats().rebuilding,
        "no rebuild started at 25% tombstones"
    );

    // Write while it runs: new ids, replacements and deletions.
    let mut next = n;
    let mut writes_during = 0;
    let start = Instant::now();
    while index.stats().rebuilding && next < vs.len() && start.elapsed() < Duration::from_secs(60) {
        index
            .upsert_blocking(vec![plain(next, vs[next].clone())])
            .unwrap();
        let victim = id(n / 4 + next - n);
        {
            let mut g = deleted.write().unwrap();
            index.delete_blocking(&[victim]);
            g.insert(victim);
        }
        next += 1;
        writes_during += 1;
    }
    index.wait_for_rebuild();
    stop.store(true, Ordering::Relaxed);
    searcher.join().unwrap();
    let s = index.stats();
    assert!(s.rebuilds >= 1);
    assert!(writes_during > 0, "the rebuild ended before any write");
    assert!(searches.load(Ordering::Relaxed) > 0);

    // The index holds exactly the model.
    let gone = deleted.read().unwrap().clone();
    let live: Vec<usize> = (0..next).filter(|i| !gone.contains(&id(*i))).collect();
    assert_eq!(s.live, live.len());
    for i in 0..next {
        assert_eq!(index.contains(id(i)), !gone.contains(&id(i)), "row {i}");
    }
    // The writes made during the rebuild are searchable: each is in the index (checked
    // exactly above) and nearly all are their own nearest neighbour. HNSW may leave a
    // point whose in-links were all pruned, so the graph's share is measured, not
    // demanded point by point.
    let mut found = 0;
    for (i, v) in vs.iter().enumerate().take(next).skip(n) {
        let hits = index.search_blocking(&query(v.clone(), 1)).unwrap();
        found += usize::from(hits[0].id == id(i));
    }
    assert!(
        found as f64 >= 0.95 * writes_during as f64,
        "only {found} of the {writes_during} writes made during the rebuild found themselves"
    );
    eprintln!(
        "rebuilds {}, {} writes during the rebuild, {} searches, {} tombstones left",
        s.rebuilds,
        writes_during,
        searches.load(Ordering::Relaxed),
        s.tombstones
    );
}

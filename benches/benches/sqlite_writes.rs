//! store-sqlite's write paths through the async `LongTermStore` trait.
//!
//! Each benchmark writes to a fresh SQLite file in its own temporary directory, one call
//! (one transaction, one commit) per iteration, on a tokio multi-thread runtime, as an
//! agent calling the brain would. Ids:
//!
//! - `sqlite_writes/normal/<op>`: default options: WAL, `synchronous = NORMAL` (a
//!   returned write survives `kill -9`);
//! - `sqlite_writes/full/<op>`: [`Durability::Full`], an fsync per commit (a returned
//!   write survives power loss);
//!
//! where `<op>` is `store_preference`, `store_pattern`, `record_learning_event`,
//! `record_decision`, the same with `_x64` (64 concurrent single-call writes per
//! iteration from 64 tasks, throughput per call), or `write_batch_1000` (one
//! `write_batch` of 1000 learning events per iteration; throughput is reported per event).
//!
//! The inputs are the seed benchmark's (`shared/bench/seed_sqlite.py`); see
//! `brain_benches`. Run with `cargo xtask bench sqlite` to compare with the seed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use memory_core::RecordStoreExt;
use std::cell::Cell;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use brain_benches::{
    BATCH_SIZE, decision, learning_event, learning_event_batch, open_store, pattern, preference,
};
use criterion::{BenchmarkGroup, BenchmarkId, Criterion, Throughput, measurement::WallTime};
use memory_core::LongTermStore;
use store_sqlite::Durability;
use tokio::runtime::Runtime;

/// How many single-call writes the concurrent benchmarks issue at once.
const CONCURRENCY: u64 = 64;

/// The single-call write operations, by benchmark name.
const OPS: [&str; 4] = [
    "store_preference",
    "store_pattern",
    "record_learning_event",
    "record_decision",
];

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A fresh store in a new temporary directory; the directory lives as long as the guard.
fn fresh_store(
    rt: &Runtime,
    durability: Durability,
) -> (tempfile::TempDir, Arc<dyn LongTermStore>) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = rt
        .block_on(open_store(&dir.path().join("bench.db"), durability))
        .expect("open store");
    (dir, store)
}

/// One call of `op` with input number `i`.
async fn write_one(store: &dyn LongTermStore, op: &str, i: u64) {
    match op {
        "store_preference" => {
            black_box(
                store
                    .store_preference(preference(i))
                    .await
                    .expect("store_preference"),
            );
        }
        "store_pattern" => {
            black_box(
                store
                    .store_pattern(pattern(i))
                    .await
                    .expect("store_pattern"),
            );
        }
        "record_learning_event" => {
            black_box(
                store
                    .record_learning_event(learning_event(i))
                    .await
                    .expect("record_learning_event"),
            );
        }
        "record_decision" => {
            black_box(
                store
                    .record_decision(decision(i))
                    .await
                    .expect("record_decision"),
            );
        }
        other => panic!("unknown op {other}"),
    }
}

fn bench_durability(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &Runtime,
    label: &str,
    durability: Durability,
) {
    for op in OPS {
        let (_dir, store) = fresh_store(rt, durability);
        let counter = Cell::new(0u64);
        group.throughput(Throughput::Elements(1));
        group.bench_function(BenchmarkId::new(label, op), |b| {
            b.to_async(rt).iter(|| {
                let i = counter.get();
                counter.set(i + 1);
                let store = &store;
                async move { write_one(store.as_ref(), op, i).await }
            });
        });
    }

    // The same single-call writes from CONCURRENCY tasks at once, as a server with many
    // agents sees them: each call is still its own write, acknowledged after the commit
    // that holds it, but concurrent calls share commits (group commit).
    for op in OPS {
        let (_dir, store) = fresh_store(rt, durability);
        let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
        group.throughput(Throughput::Elements(CONCURRENCY));
        group.bench_function(
            BenchmarkId::new(label, format!("{op}_x{CONCURRENCY}")),
            |b| {
                b.to_async(rt).iter(|| {
                    let store = store.clone();
                    let counter = counter.clone();
                    async move {
                        let mut set = tokio::task::JoinSet::new();
                        for _ in 0..CONCURRENCY {
                            let store = store.clone();
                            let i = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            set.spawn(async move { write_one(store.as_ref(), op, i).await });
                        }
                        set.join_all().await;
                    }
                });
            },
        );
    }

    let (_dir, store) = fresh_store(rt, durability);
    let counter = Cell::new(0u64);
    group.throughput(Throughput::Elements(BATCH_SIZE));
    group.bench_function(BenchmarkId::new(label, "write_batch_1000"), |b| {
        b.to_async(rt).iter_batched(
            || {
                let n = counter.get();
                counter.set(n + 1);
                learning_event_batch(n)
            },
            |ops| {
                let store = &store;
                async move {
                    let out = store.write_batch(ops).await.expect("write_batch");
                    assert_eq!(out.len() as u64, BATCH_SIZE);
                    out
                }
            },
            criterion::BatchSize::SmallInput,
        );
    });
}

fn sqlite_writes(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("sqlite_writes");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    bench_durability(&mut group, &rt, "normal", Durability::Process);
    bench_durability(&mut group, &rt, "full", Durability::Full);
    group.finish();
}

fn config() -> Criterion {
    Criterion::default().without_plots()
}

criterion::criterion_group! {
    name = benches;
    config = config();
    targets = sqlite_writes
}
criterion::criterion_main!(benches);

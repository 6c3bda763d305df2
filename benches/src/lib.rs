//! # brain-benches
//!
//! Benchmarks of the brain crates, run beside the seed's own write path so that
//! comparisons are made in one run on one machine (`cargo xtask bench sqlite`).
//!
//! The benchmarks live in `benches/`; this library holds what they share: the inputs of
//! each write, built exactly as the seed's benchmark (`shared/bench/seed_sqlite.py`)
//! builds its arguments, and a helper that opens a fresh store.
//!
//! Benchmark ids are stable (`sqlite_writes/<durability>/<op>`) because `xtask` reads
//! criterion's results by id.

pub mod load;

use std::path::Path;
use std::sync::Arc;

use memory_core::{
    LongTermStore, Metadata, NewDecision, NewLearningEvent, NewPattern, NewPreference, Reward,
    WriteOp,
};
use store_sqlite::{Durability, SqliteOptions, SqliteStore};

/// How many distinct preference keys [`preference`] cycles over (the seed's `pref{i % 1000}`).
pub const PREFERENCE_KEYS: u64 = 1000;

/// How many learning events one batch of [`learning_event_batch`] holds.
pub const BATCH_SIZE: u64 = 1000;

/// Opens a store at `path` with default options except `durability`, behind the trait
/// object the composition root holds.
pub async fn open_store(
    path: &Path,
    durability: Durability,
) -> store_sqlite::Result<Arc<dyn LongTermStore>> {
    let options = SqliteOptions {
        durability,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open_with(path, options).await?;
    Ok(Arc::new(store))
}

/// The `i`-th preference write: key `pref{i % 1000}`, value `{"v": i}`, category
/// `general`. After the first 1000 calls every write is an update.
pub fn preference(i: u64) -> NewPreference {
    NewPreference::new(
        format!("pref{}", i % PREFERENCE_KEYS),
        serde_json::json!({ "v": i }),
    )
    .with_category("general")
}

/// The `i`-th pattern write: an `error_fix` in `rust` whose context is `context {i / 2}`,
/// so every context is stored twice in a row: half the writes insert, half count a
/// success on an existing pattern (the seed's ratio over its run).
pub fn pattern(i: u64) -> NewPattern {
    NewPattern::new(
        "error_fix",
        format!("context {}", i / 2),
        format!("solution {i}"),
    )
    .with_language("rust")
}

/// The `i`-th learning event: a `success` on `task {i}` with outcome `ok`, reward 0.5 and
/// metadata `{"i": i}`.
pub fn learning_event(i: u64) -> NewLearningEvent {
    NewLearningEvent {
        scope: Default::default(),
        event_type: "success".into(),
        task_description: format!("task {i}"),
        outcome: "ok".into(),
        reward: Reward::clamped(0.5).unwrap_or(Reward::NEUTRAL),
        metadata: Metadata::new().with("i", i),
    }
}

/// The `i`-th decision: a `coder` choosing `a` of `["a", "b"]` in context `ctx {i}`,
/// `because`.
pub fn decision(i: u64) -> NewDecision {
    NewDecision {
        scope: Default::default(),
        agent_type: "coder".into(),
        context: format!("ctx {i}"),
        options: vec!["a".into(), "b".into()],
        chosen_option: "a".into(),
        reasoning: "because".into(),
        metadata: Default::default(),
    }
}

/// The `batch`-th batch of [`BATCH_SIZE`] learning events, numbered on from the previous
/// batches so no two events are alike.
pub fn learning_event_batch(batch: u64) -> Vec<WriteOp> {
    let start = batch * BATCH_SIZE;
    (start..start + BATCH_SIZE)
        .map(|i| WriteOp::put(learning_event(i)))
        .collect()
}

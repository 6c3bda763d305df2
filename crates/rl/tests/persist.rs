//! Learners kept in the long-term store (SQLite): loaded on open, saved on change, and
//! never losing an update to a concurrent writer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use std::sync::Arc;

use memory_core::{ErrorKind, LongTermStore};
use rl::Persistent;
use serde::{Deserialize, Serialize};
use store_sqlite::SqliteStore;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Counts {
    pulls: Vec<u32>,
}

fn pull(arm: usize) -> impl FnMut(&mut Counts) -> rl::Result<usize> {
    move |c| {
        if c.pulls.len() <= arm {
            c.pulls.resize(arm + 1, 0);
        }
        c.pulls[arm] += 1;
        Ok(c.pulls[arm] as usize)
    }
}

#[tokio::test]
async fn learning_survives_a_restart_without_a_manual_save() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("brain.db");
    {
        let store: Arc<dyn LongTermStore> = Arc::new(SqliteStore::open(&path).await.unwrap());
        let mut p = Persistent::open(store, "bandit/models", "counts", Counts::default)
            .await
            .unwrap();
        assert_eq!(p.version(), None);
        p.update(pull(2)).await.unwrap();
        p.update(pull(2)).await.unwrap();
        assert_eq!(p.version(), Some(2));
    }
    let store: Arc<dyn LongTermStore> = Arc::new(SqliteStore::open(&path).await.unwrap());
    let p: Persistent<Counts> = Persistent::open(store, "bandit/models", "counts", Counts::default)
        .await
        .unwrap();
    assert_eq!(p.get().pulls, vec![0, 0, 2]);
    assert_eq!(p.version(), Some(2));
}

#[tokio::test]
async fn a_stale_handle_reapplies_its_change_on_the_newer_state() {
    let store: Arc<dyn LongTermStore> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let mut a = Persistent::open(store.clone(), "p", "counts", Counts::default)
        .await
        .unwrap();
    let mut b = Persistent::open(store.clone(), "p", "counts", Counts::default)
        .await
        .unwrap();
    a.update(pull(0)).await.unwrap();
    a.update(pull(0)).await.unwrap();
    // b never saw a's saves: its change lands on top of them, not over them.
    let n = b.update(pull(0)).await.unwrap();
    assert_eq!(n, 3);
    assert_eq!(b.get().pulls, vec![3]);
    a.reload().await.unwrap();
    assert_eq!(a.get(), b.get());
    assert_eq!(store.get_policy("p").await.unwrap().unwrap().version, 3);
}

#[tokio::test]
async fn a_failed_change_saves_nothing() {
    let store: Arc<dyn LongTermStore> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let mut p = Persistent::open(store.clone(), "p", "counts", Counts::default)
        .await
        .unwrap();
    p.update(pull(1)).await.unwrap();
    let e = p
        .update(|c: &mut Counts| {
            c.pulls.clear();
            Err::<(), _>(rl::RlError::NotFinite {
                what: "reward",
                value: f64::NAN,
            })
        })
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        p.get().pulls,
        vec![0, 1],
        "the handle keeps the saved state"
    );
    let saved = store.get_policy("p").await.unwrap().unwrap();
    assert_eq!(saved.version, 1);
}

#[tokio::test]
async fn another_kind_under_the_name_is_refused() {
    let store: Arc<dyn LongTermStore> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let mut p = Persistent::open(store.clone(), "p", "counts", Counts::default)
        .await
        .unwrap();
    p.update(pull(0)).await.unwrap();
    let e = Persistent::<Counts>::open(store, "p", "q_learner", Counts::default)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
}

#[tokio::test]
async fn a_bandit_keeps_learning_across_restarts() {
    use rl::{AnyBandit, Bandit, BetaThompson, BetaThompsonConfig, seeded};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("brain.db");
    let fresh =
        || AnyBandit::from(BetaThompson::new(2, BetaThompsonConfig::default(), seeded(1)).unwrap());
    for _ in 0..2 {
        let store: Arc<dyn LongTermStore> = Arc::new(SqliteStore::open(&path).await.unwrap());
        let mut p = Persistent::open(store, "router/classification", "bandit", fresh)
            .await
            .unwrap();
        for _ in 0..10 {
            p.update(|b: &mut AnyBandit| b.update(1, &[], 1.0))
                .await
                .unwrap();
        }
    }
    let store: Arc<dyn LongTermStore> = Arc::new(SqliteStore::open(&path).await.unwrap());
    let p = Persistent::open(store, "router/classification", "bandit", fresh)
        .await
        .unwrap();
    let values = p.get().values();
    assert_eq!(
        values[1].count, 20.0,
        "both runs' updates are there: {values:?}"
    );
    assert_eq!(p.version(), Some(20));
}

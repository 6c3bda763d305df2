//! The shared short-term memory conformance suite, each check under its own key prefix.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

mod common;

use std::sync::Arc;

use memory_core::ShortTermMemory;
use memory_core::conformance::short_term as suite;

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let stm = common::fresh(stringify!($name)).await;
            let prefix = stm.prefix().to_owned();
            suite::$name(&stm).await;
            common::cleanup(&prefix).await;
            assert!(common::keys_under(&prefix).await.is_empty());
        }
    )*};
}

conformance!(variables, ttl_expires, scopes_are_isolated, window_limits);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pushes() {
    let stm = common::fresh("concurrent_pushes").await;
    let prefix = stm.prefix().to_owned();
    let stm: Arc<dyn ShortTermMemory> = Arc::new(stm);
    suite::concurrent_pushes(stm).await;
    common::cleanup(&prefix).await;
}

/// `scopes_are_isolated` clears both of its scopes: nothing of them is left on the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_leaves_no_key() {
    let stm = common::fresh("clear_leaves_no_key").await;
    let prefix = stm.prefix().to_owned();
    suite::scopes_are_isolated(&stm).await;
    assert_eq!(common::keys_under(&prefix).await, Vec::<String>::new());
}

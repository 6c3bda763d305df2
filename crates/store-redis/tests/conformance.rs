//! The shared short-term memory conformance suite, each check under its own key prefix.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

mod common;

use memory_core::conformance::short_term as suite;
use store_redis::RedisShortTerm;

/// Deletes the keys under its prefix when the test ends, pass or fail.
struct Cleanup(String);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let prefix = self.0.clone();
        // Drop cannot await: clean up on a runtime of its own.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(common::cleanup(&prefix));
        })
        .join();
    }
}

/// A fresh memory under a prefix of its own.
async fn fresh() -> (Cleanup, RedisShortTerm) {
    let stm = common::fresh("suite").await;
    (Cleanup(stm.prefix().to_owned()), stm)
}

// Every check of the shared suite, one test each.
memory_core::short_term_suite!(fresh);

/// `scopes_are_isolated` clears both of its scopes: nothing of them is left on the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_leaves_no_key() {
    let stm = common::fresh("clear_leaves_no_key").await;
    let prefix = stm.prefix().to_owned();
    suite::scopes_are_isolated(&stm).await;
    assert_eq!(common::keys_under(&prefix).await, Vec::<String>::new());
}

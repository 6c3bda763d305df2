//! What the Redis tests share: the server's URL, unique key prefixes, and cleanup.
#![allow(dead_code)] // each test file uses part of it

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use store_redis::{RedisOptions, RedisShortTerm};

/// The variable naming the server the tests use.
pub(crate) const URL_VAR: &str = "BRAIN_TEST_REDIS_URL";

/// The test server's URL, from `BRAIN_TEST_REDIS_URL`.
pub(crate) fn url() -> String {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "{URL_VAR} is not set: the store-redis tests need a Redis server (7.0 or later), \
             e.g. `{URL_VAR}=redis://127.0.0.1:6379 cargo test -p store-redis` \
             (`cargo xtask test -- -p store-redis` starts a throwaway one on loopback and sets it)"
        ),
    }
}

/// A key prefix no other test (in this or another process) uses.
pub(crate) fn unique_prefix(test: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "brain-test:{test}:{}:{nanos}:{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A store under a fresh prefix.
pub(crate) async fn fresh(test: &str) -> RedisShortTerm {
    connect(&unique_prefix(test)).await
}

/// A new connection under `prefix`, as another process would open.
pub(crate) async fn connect(prefix: &str) -> RedisShortTerm {
    RedisShortTerm::connect_with(&url(), RedisOptions::default().with_prefix(prefix))
        .await
        .unwrap_or_else(|e| panic!("connecting to {} (from {URL_VAR}): {e}", url()))
}

/// A raw connection, to look at or tamper with keys directly.
pub(crate) async fn raw() -> redis::aio::MultiplexedConnection {
    redis::Client::open(url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Every key under `prefix` (the prefix must hold no glob characters).
pub(crate) async fn keys_under(prefix: &str) -> Vec<String> {
    let mut con = raw().await;
    let mut out = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut con)
            .await
            .unwrap();
        out.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    out.sort();
    out
}

/// Deletes every key under `prefix`.
pub(crate) async fn cleanup(prefix: &str) {
    let keys = keys_under(prefix).await;
    if keys.is_empty() {
        return;
    }
    let mut con = raw().await;
    let _: i64 = redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut con)
        .await
        .unwrap();
}

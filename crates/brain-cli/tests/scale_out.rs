//! Two brain processes sharing one PostgreSQL store and one Redis short-term memory, each
//! with its own data directory (its own HNSW index): what one remembers the other
//! recalls, what one forgets the other stops recalling, and a context window written
//! through one is read through the other.
//!
//! Needs `BRAIN_TEST_POSTGRES_URL` and `BRAIN_TEST_REDIS_URL` (`cargo xtask test` starts
//! throwaway servers on loopback and sets them).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

mod common;

use std::time::{Duration, Instant};

use common::TestBrain;
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

fn service_url(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: this test needs the server (`cargo xtask test -- -p brain-cli` starts throwaway PostgreSQL and Redis servers on loopback and sets it)")
    })
}

/// A unique name for this test run's schema and key prefix.
fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{tag}_{}_{}", std::process::id(), nanos % 1_000_000_000)
}

/// Writes the shared configuration and returns its path.
fn shared_config(b: &TestBrain, schema: &str, prefix: &str) -> std::path::PathBuf {
    let path = b.path("shared.toml");
    let toml = format!(
        "[store]\nkind = \"postgres\"\nurl = {}\nschema = \"{schema}\"\npool_size = 4\n\n[short_term]\nkind = \"redis\"\nurl = {}\nprefix = \"{prefix}\"\n",
        serde_json::to_string(&service_url("BRAIN_TEST_POSTGRES_URL")).unwrap(),
        serde_json::to_string(&service_url("BRAIN_TEST_REDIS_URL")).unwrap(),
    );
    std::fs::write(&path, toml).unwrap();
    path
}

async fn recall(addr: &str, query: &str) -> Result<Vec<String>, reqwest::Error> {
    let v: Value = reqwest::Client::new()
        .post(format!("http://{addr}/v1/memories/recall"))
        .json(&json!({"query": query, "scope": {"user": "team"}}))
        .send()
        .await?
        .json()
        .await?;
    Ok(v["hits"]
        .as_array()
        .map(|h| {
            h.iter()
                .filter_map(|x| x["memory"]["content"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// Polls `f` until it holds or `bound` passes; returns how long it took.
async fn within<F, Fut>(bound: Duration, mut f: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < bound {
        if f().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_postgres_and_redis() -> TestResult {
    let b = TestBrain::new();
    let schema = unique("brain_two");
    let prefix = unique("two");
    let config = shared_config(&b, &schema, &prefix);
    let node = |data: &str| {
        b.serve_http(&[
            "--config".as_ref(),
            config.as_os_str(),
            "--data-dir".as_ref(),
            b.path(data).as_os_str(),
        ])
    };
    let a = node("node-a");
    let c = node("node-b");
    let (addr_a, addr_b) = (a.addr.clone(), c.addr.clone());
    let http = reqwest::Client::new();

    // Remembered through A, recalled through B (whose index catches up from the store's
    // embedding log before each recall).
    let r = http
        .post(format!("http://{addr_a}/v1/memories"))
        .json(&json!({"content": "The payments service owns the ledger database", "scope": {"user": "team"}}))
        .send()
        .await?;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await?["id"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let seen = within(Duration::from_secs(10), || async {
        recall(&addr_b, "who owns the ledger database?")
            .await
            .is_ok_and(|h| h.first().is_some_and(|c| c.contains("ledger")))
    })
    .await;
    let delay = seen.expect("node B did not recall node A's memory within 10 s");
    eprintln!("node B recalled node A's memory after {delay:?}");

    // Forgotten through B, gone from A.
    let r = http
        .delete(format!("http://{addr_b}/v1/memories/{id}"))
        .send()
        .await?;
    assert_eq!(r.json::<Value>().await?["forgotten"], true);
    let gone = within(Duration::from_secs(10), || async {
        recall(&addr_a, "who owns the ledger database?")
            .await
            .is_ok_and(|h| h.is_empty())
    })
    .await;
    assert!(
        gone.is_some(),
        "node A still recalls a memory node B forgot"
    );

    // A context window written through A is read through B.
    for (role, content) in [
        ("user", "roll back the deploy"),
        ("assistant", "rolling back"),
    ] {
        let r = http
            .post(format!("http://{addr_a}/v1/context/messages"))
            .json(&json!({"role": role, "content": content, "scope": {"user": "team", "session": "incident-7"}}))
            .send()
            .await?;
        assert_eq!(r.status(), 200);
    }
    let w: Value = http
        .get(format!(
            "http://{addr_b}/v1/context?user=team&session=incident-7"
        ))
        .send()
        .await?
        .json()
        .await?;
    let contents: Vec<&str> = w["messages"]
        .as_array()
        .map(|m| m.iter().filter_map(|x| x["content"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(contents, ["roll back the deploy", "rolling back"]);

    assert_eq!(a.stop(), Some(0));
    assert_eq!(c.stop(), Some(0));
    let r = http
        .get(format!("http://{addr_b}/health"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(r.is_err(), "node B stopped");
    let (client, conn) = tokio_postgres::connect(
        &service_url("BRAIN_TEST_POSTGRES_URL"),
        tokio_postgres::NoTls,
    )
    .await?;
    let task = tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await?;
    drop(client);
    let _ = task.await;
    let redis = store_redis::RedisShortTerm::connect_with(
        &service_url("BRAIN_TEST_REDIS_URL"),
        store_redis::RedisOptions {
            prefix,
            ..Default::default()
        },
    )
    .await?;
    memory_core::ShortTermMemory::clear(
        &redis,
        &memory_core::Scope::user("team").with_session("incident-7"),
    )
    .await?;
    Ok(())
}

//! Several processes and tasks writing and reading one embedded brain at once: three
//! `brain serve --http` processes on the same data directory (one SQLite file), each
//! serving four concurrent clients that remember, count a success on one shared code
//! pattern, and recall. No request may fail (a "database is locked" would surface as a
//! 503), no acknowledged memory may be missing, and the pattern's counter must equal one
//! plus the successes acknowledged: no lost update across processes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

mod common;

use brain::BrainConfig;
use brain::config::EmbedderKind;
use common::{Served, TestBrain};
use memory_core::RecordStoreExt;
use memory_core::{MemoryFilter, Scope};
use serde_json::{Value, json};

const SERVERS: usize = 3;
const CLIENTS_PER_SERVER: usize = 4;
const ROUNDS: usize = 25;

#[derive(Default)]
struct Acks {
    memories: Vec<(String, String)>,
    successes: u64,
    recalls: u64,
}

async fn client(addr: String, pattern: i64, c: usize) -> Acks {
    let http = reqwest::Client::new();
    let mut acks = Acks::default();
    for i in 0..ROUNDS {
        let content = format!("client {c} note {i}: the build cache lives in target");
        let r = http
            .post(format!("http://{addr}/v1/memories"))
            .json(&json!({"content": content, "scope": {"user": "team"}}))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 201, "remember failed: {body}");
        acks.memories
            .push((body["id"].as_str().unwrap().to_owned(), content));

        let r = http
            .post(format!("http://{addr}/v1/patterns/{pattern}/outcome"))
            .json(&json!({"success": true}))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "pattern outcome failed: {body}");
        acks.successes += 1;

        let r = http
            .post(format!("http://{addr}/v1/memories/recall"))
            .json(&json!({"query": "where is the build cache?", "scope": {"user": "team"}, "k": 3}))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 200, "recall failed: {body}");
        assert!(
            body["hits"].as_array().is_some_and(|h| !h.is_empty()),
            "recall found nothing after a remember: {body}"
        );
        acks.recalls += 1;
    }
    acks
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_and_tasks_share_one_embedded_brain() {
    let b = TestBrain::new();
    b.run(&["init"]).ok();
    let servers: Vec<Served> = (0..SERVERS).map(|_| b.serve_http::<&str>(&[])).collect();
    let http = reqwest::Client::new();
    let created: Value = http
        .post(format!("http://{}/v1/patterns", servers[0].addr))
        .json(&json!({"pattern_type": "error_fix", "context": "linker killed: out of memory", "solution": "set CARGO_BUILD_JOBS=1", "scope": {"user": "team"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pattern = created["pattern"]["id"].as_i64().unwrap();

    let mut tasks = Vec::new();
    for (s, server) in servers.iter().enumerate() {
        for c in 0..CLIENTS_PER_SERVER {
            tasks.push(tokio::spawn(client(
                server.addr.clone(),
                pattern,
                s * CLIENTS_PER_SERVER + c,
            )));
        }
    }
    let mut all = Acks::default();
    for t in tasks {
        let a = t.await.unwrap();
        all.memories.extend(a.memories);
        all.successes += a.successes;
        all.recalls += a.recalls;
    }
    for server in servers {
        assert_eq!(server.stop(), Some(0), "a server did not stop cleanly");
    }

    let mut config = BrainConfig {
        data_dir: b.data(),
        ..BrainConfig::default()
    };
    config.embedder.kind = EmbedderKind::Hashing;
    let brain = brain_engines::open(config).await.unwrap();
    for (id, content) in &all.memories {
        let m = brain.get(id.parse().unwrap()).await.unwrap();
        assert_eq!(
            m.map(|m| m.content).as_deref(),
            Some(content.as_str()),
            "lost {id}"
        );
    }
    let stored = brain
        .count(
            &MemoryFilter::scoped(Scope::user("team")).with_kind(memory_core::MemoryKind::fact()),
        )
        .await
        .unwrap();
    assert_eq!(stored, all.memories.len() as u64);
    let p = brain.store().get_pattern(pattern).await.unwrap().unwrap();
    assert_eq!(
        p.success_count,
        1 + all.successes,
        "a lost update on the pattern counter"
    );
    let stats = brain.stats().await.unwrap();
    assert_eq!(
        stats.indexed as u64, stats.store.embeddings,
        "index agrees with the store"
    );
    brain.close().await.unwrap();
    eprintln!(
        "{SERVERS} processes x {CLIENTS_PER_SERVER} clients: {} memories, {} pattern successes, {} recalls acknowledged; none failed or lost",
        all.memories.len(),
        all.successes,
        all.recalls
    );
}

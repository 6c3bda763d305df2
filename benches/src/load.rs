//! A bounded load test of `brain serve --http` on loopback.
//!
//! A real server (the brain-server crate's `serve`, on its own runtime and threads) over a
//! brain in a directory; N HTTP clients, each a user's token, doing a mix of remember and
//! recall for a fixed time. Afterwards the server shuts down gracefully, the brain is
//! opened again from disk, and every write a client saw acknowledged (a 201 with an id) is
//! looked up: same content, same owner. The report gives throughput, latency
//! percentiles per operation, errors, and the count of acknowledged writes lost.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use brain::BrainConfig;
use brain::config::EmbedderKind;
use brain_server::auth::digest_hex;
use brain_server::http::{HttpOptions, serve};
use brain_server::{Access, Api, Principal, ServeConfig, TokenConfig};
use memory_core::Scope;
use serde::Serialize;
use serde_json::{Value, json};

/// How to load the server.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Concurrent clients.
    pub clients: usize,
    /// How long they run.
    pub duration: Duration,
    /// The share of operations that are writes (remember), the rest recall.
    pub write_share: f64,
    /// The embedder the server's brain uses.
    pub embedder: EmbedderKind,
    /// Where the brain lives.
    pub data_dir: PathBuf,
    /// Sentences to remember and ask about (synthetic ones when empty).
    pub sentences: Vec<String>,
    /// Worker threads of the server's runtime.
    pub server_threads: usize,
}

/// Latency percentiles of one operation, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Completed operations.
    pub count: usize,
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

impl Latency {
    fn of(mut v: Vec<Duration>) -> Latency {
        v.sort();
        let at = |q: f64| -> f64 {
            if v.is_empty() {
                return 0.0;
            }
            let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
            v[i].as_secs_f64() * 1000.0
        };
        Latency {
            count: v.len(),
            p50_ms: at(0.50),
            p95_ms: at(0.95),
            p99_ms: at(0.99),
            max_ms: v.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
        }
    }
}

/// What the run measured.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// Concurrent clients.
    pub clients: usize,
    /// Seconds the clients ran.
    pub seconds: f64,
    /// The embedder.
    pub embedder: String,
    /// Operations per second, both kinds.
    pub throughput_ops: f64,
    /// Remember latencies.
    pub remember: Latency,
    /// Recall latencies.
    pub recall: Latency,
    /// Requests that failed (transport errors or non-success statuses).
    pub errors: usize,
    /// Writes acknowledged to clients.
    pub acknowledged_writes: usize,
    /// Of those, found afterwards with the same content and owner.
    pub verified_writes: usize,
    /// Acknowledged writes missing or different afterwards (must be 0).
    pub lost_writes: usize,
    /// Memories in the store afterwards.
    pub stored_memories: u64,
}

fn token(i: usize) -> String {
    format!("load-test-token-{i:04}-0123456789abcdef")
}

fn config(o: &LoadOptions) -> BrainConfig {
    let mut c = BrainConfig {
        data_dir: o.data_dir.clone(),
        ..BrainConfig::default()
    };
    c.embedder.kind = o.embedder;
    c
}

/// Users the clients act as: clients share users pairwise, so isolation is under load too.
fn user(client: usize) -> String {
    format!("user{}", client / 2)
}

struct ClientResult {
    remember: Vec<Duration>,
    recall: Vec<Duration>,
    errors: usize,
    acked: Vec<(String, String, String)>,
}

async fn client(
    i: usize,
    base: String,
    deadline: Instant,
    write_share: f64,
    sentences: Arc<Vec<String>>,
) -> ClientResult {
    let http = reqwest::Client::new();
    let mut r = ClientResult {
        remember: Vec::new(),
        recall: Vec::new(),
        errors: 0,
        acked: Vec::new(),
    };
    let token = token(i);
    // A per-client xorshift so runs are reproducible without a shared RNG.
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ (i as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut n = 0usize;
    while Instant::now() < deadline {
        n += 1;
        let s = &sentences[(next() % sentences.len() as u64) as usize];
        let write = (next() % 10_000) as f64 / 10_000.0 < write_share;
        let started = Instant::now();
        if write {
            let content = format!("{s} [client {i} write {n}]");
            let sent = http
                .post(format!("{base}/v1/memories"))
                .bearer_auth(&token)
                .json(&json!({"content": content}))
                .send()
                .await;
            match sent {
                Ok(resp) if resp.status().as_u16() == 201 => match resp.json::<Value>().await {
                    Ok(v) => {
                        r.remember.push(started.elapsed());
                        let id = v["id"].as_str().unwrap_or("").to_owned();
                        r.acked.push((id, content, user(i)));
                    }
                    Err(_) => r.errors += 1,
                },
                _ => r.errors += 1,
            }
        } else {
            let sent = http
                .post(format!("{base}/v1/memories/recall"))
                .bearer_auth(&token)
                .json(&json!({"query": s, "k": 10}))
                .send()
                .await;
            match sent {
                Ok(resp) if resp.status().is_success() => match resp.json::<Value>().await {
                    Ok(v) => {
                        r.recall.push(started.elapsed());
                        // Isolation holds under load: every hit is this client's user's.
                        let mine = v["hits"].as_array().is_some_and(|hits| {
                            hits.iter()
                                .all(|h| h["memory"]["scope"]["user"] == user(i).as_str())
                        });
                        if !mine {
                            r.errors += 1;
                        }
                    }
                    Err(_) => r.errors += 1,
                },
                _ => r.errors += 1,
            }
        }
    }
    r
}

/// Runs the load test.
pub async fn run(o: &LoadOptions) -> Result<LoadReport> {
    std::fs::create_dir_all(&o.data_dir)?;
    let brain = brain_engines::open(config(o))
        .await
        .context("opening the brain")?;
    let serve_config = ServeConfig {
        tokens: (0..o.clients)
            .map(|i| TokenConfig {
                name: format!("client{i}"),
                sha256: Some(digest_hex(&token(i))),
                env: None,
                user: Some(user(i)),
                agent: None,
                session: None,
                access: Access::ReadWrite,
            })
            .collect(),
        ..ServeConfig::default()
    };
    let tokens = serve_config.tokens()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let threads = o.server_threads.max(1);
    // The server gets its own runtime and threads, as a separate process would.
    let server = std::thread::spawn(move || -> Result<()> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?;
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let _ = addr_tx.send(listener.local_addr()?);
            let opts = HttpOptions {
                config: serve_config,
                tokens,
                local: Principal::local(Scope::global()),
                addr: None,
            };
            serve(Api::new(Arc::new(brain)), listener, opts, async move {
                let _ = stop_rx.await;
            })
            .await
            .map_err(|e| anyhow!("{e}"))
        })
    });
    let addr = addr_rx.await.context("the server did not start")?;
    let base = format!("http://{addr}");
    let sentences = Arc::new(if o.sentences.is_empty() {
        (0..1000)
            .map(|i| format!("synthetic sentence {i} about topic {}", i % 37))
            .collect()
    } else {
        o.sentences.clone()
    });
    let started = Instant::now();
    let deadline = started + o.duration;
    let tasks: Vec<_> = (0..o.clients)
        .map(|i| {
            tokio::spawn(client(
                i,
                base.clone(),
                deadline,
                o.write_share,
                sentences.clone(),
            ))
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await?);
    }
    let seconds = started.elapsed().as_secs_f64();
    let _ = stop_tx.send(());
    server
        .join()
        .map_err(|_| anyhow!("the server thread panicked"))??;

    let (mut remember, mut recall, mut acked, mut errors) = (Vec::new(), Vec::new(), Vec::new(), 0);
    for r in results {
        remember.extend(r.remember);
        recall.extend(r.recall);
        acked.extend(r.acked);
        errors += r.errors;
    }
    let brain = brain_engines::open(config(o))
        .await
        .context("reopening the brain")?;
    let mut verified = 0;
    for (id, content, owner) in &acked {
        let found = brain.get(id.parse()?).await?;
        if found.is_some_and(|m| m.content == *content && m.scope.user.as_deref() == Some(owner)) {
            verified += 1;
        }
    }
    let stored = brain.stats().await?.store.memories;
    brain.close().await?;
    let ops = remember.len() + recall.len();
    Ok(LoadReport {
        clients: o.clients,
        seconds,
        embedder: format!("{:?}", o.embedder).to_lowercase(),
        throughput_ops: ops as f64 / seconds,
        remember: Latency::of(remember),
        recall: Latency::of(recall),
        errors,
        acknowledged_writes: acked.len(),
        verified_writes: verified,
        lost_writes: acked.len() - verified,
        stored_memories: stored,
    })
}

/// The first `n` lines of the corpus of real sentences, if it is there.
pub fn corpus(path: &Path, n: usize) -> Vec<String> {
    std::fs::read_to_string(path)
        .map(|s| {
            s.lines()
                .filter(|l| !l.trim().is_empty())
                .take(n)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

//! The class test of isolation: no operation, on REST or MCP, crosses a scope.
//!
//! Bob fills the brain with random content (memories with metadata, preferences,
//! patterns with outcomes, decisions with outcomes and feedback, hence recommend
//! policies, context messages). Then alice, an agent-only token and a read-only alice
//! token call every operation of both surfaces with ids, names, keys, buckets, agent
//! types, pattern ids, metadata and filter values taken from bob's data. Nothing of
//! bob's may be returned, counted, ranked on or changed: bob's data is snapshotted
//! through his own token and directly through the store before and after, and
//! `recommend` answers are compared with a fresh brain's. A read-only token changes
//! nothing at all.
//!
//! Each test collects every violation before failing, so one bug does not hide another.
//! `BRAIN_TENANTS_SEED` picks the random content (printed on every run).

mod common;

use memory_core::RecordStoreExt;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Arc;

use brain::Brain;
use brain_server::auth::digest_hex;
use brain_server::http::{HttpOptions, serve};
use brain_server::{Access, Api, Principal, ServeConfig, TokenConfig};
use common::TestResult;
use memory_core::{DecisionQuery, EventQuery, MemoryFilter, MemoryQuery, PatternQuery, Scope};
use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

const ALICE: &str = "tenant-alice-token-0123456789";
const BOB: &str = "tenant-bob-token-0123456789ab";
const AGENT: &str = "tenant-agent-coder-token-0123";
const READER: &str = "tenant-alice-reader-token-012";

fn token(
    name: &str,
    secret: &str,
    user: Option<&str>,
    agent: Option<&str>,
    access: Access,
) -> TokenConfig {
    TokenConfig {
        name: name.into(),
        sha256: Some(digest_hex(secret)),
        env: None,
        user: user.map(Into::into),
        agent: agent.map(Into::into),
        session: None,
        access,
    }
}

/// A served brain, kept at hand for direct snapshots.
struct Server {
    addr: SocketAddr,
    brain: Arc<Brain>,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<Result<(), brain_server::ApiError>>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start() -> TestResult<Server> {
        let dir = tempfile::tempdir()?;
        let brain = Arc::new(brain_engines::open(common::config(dir.path())).await?);
        let cfg = ServeConfig {
            tokens: vec![
                token("alice", ALICE, Some("alice"), None, Access::ReadWrite),
                token("bob", BOB, Some("bob"), None, Access::ReadWrite),
                token("agent-coder", AGENT, None, Some("coder"), Access::ReadWrite),
                token("alice-reader", READER, Some("alice"), None, Access::Read),
            ],
            ..ServeConfig::default()
        };
        let tokens = cfg.tokens()?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let opts = HttpOptions {
            config: cfg,
            tokens,
            local: Principal::local(Scope::global()),
            addr: None,
        };
        let done = tokio::spawn(serve(Api::new(brain.clone()), listener, opts, async move {
            let _ = rx.await;
        }));
        Ok(Server {
            addr,
            brain,
            stop: Some(tx),
            done,
            _dir: dir,
        })
    }

    async fn caller(&self, token: &'static str) -> TestResult<Caller> {
        let mcp = ()
            .serve(StreamableHttpClientTransport::from_config(
                StreamableHttpClientTransportConfig::with_uri(format!("http://{}/mcp", self.addr))
                    .auth_header(token),
            ))
            .await?;
        Ok(Caller {
            http: reqwest::Client::new(),
            base: format!("http://{}", self.addr),
            token,
            mcp,
        })
    }

    async fn shutdown(mut self) -> TestResult {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.done.await??;
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Surface {
    Rest,
    Mcp,
}

/// What an operation answered: its result, or the error's kind and message.
#[derive(Debug, Clone)]
struct Answer {
    ok: bool,
    kind: String,
    body: Value,
}

struct Caller {
    http: reqwest::Client,
    base: String,
    token: &'static str,
    mcp: RunningService<RoleClient, ()>,
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// GET query parameters from an operation's arguments (scope parts flattened).
fn query_of(args: &Value) -> Vec<(String, String)> {
    let mut q = Vec::new();
    for (k, v) in args.as_object().into_iter().flatten() {
        if k == "scope" {
            for (sk, sv) in v.as_object().into_iter().flatten() {
                q.push((sk.clone(), text(sv)));
            }
        } else if !v.is_null() {
            q.push((k.clone(), text(v)));
        }
    }
    q
}

impl Caller {
    async fn rest(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(String, String)],
        body: Option<Value>,
    ) -> TestResult<Answer> {
        let mut r = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(self.token)
            .query(query);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await?;
        let ok = r.status().is_success();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        let kind = body["error"]["kind"].as_str().unwrap_or("").to_owned();
        Ok(Answer { ok, kind, body })
    }

    async fn tool(&self, name: &str, args: Value) -> TestResult<Answer> {
        let args = args.as_object().cloned().unwrap_or_default();
        match self
            .mcp
            .call_tool(CallToolRequestParams::new(name.to_owned()).with_arguments(args))
            .await
        {
            Ok(r) if r.is_error == Some(true) => {
                let msg: String = r
                    .content
                    .iter()
                    .filter_map(|c| c.as_text().map(|t| t.text.clone()))
                    .collect();
                let kind = msg.split(':').next().unwrap_or("").to_owned();
                Ok(Answer {
                    ok: false,
                    kind,
                    body: Value::String(msg),
                })
            }
            Ok(r) => Ok(Answer {
                ok: true,
                kind: String::new(),
                body: r.structured_content.unwrap_or(Value::Null),
            }),
            Err(e) => Ok(Answer {
                ok: false,
                kind: "protocol".into(),
                body: Value::String(e.to_string()),
            }),
        }
    }

    /// Runs operation `op` (the MCP tool name; REST-only operations are `get_memory` and
    /// `reason`) on `surface`; `None` when the surface does not offer it.
    async fn op(&self, surface: Surface, op: &str, args: Value) -> TestResult<Option<Answer>> {
        use reqwest::Method;
        if surface == Surface::Mcp {
            if matches!(op, "get_memory" | "reason") {
                return Ok(None);
            }
            return Ok(Some(self.tool(op, args).await?));
        }
        let id = text(&args["id"]);
        let without_id = || {
            let mut a = args.as_object().cloned().unwrap_or_default();
            a.remove("id");
            Value::Object(a)
        };
        let a = match op {
            "remember" => {
                self.rest(Method::POST, "/v1/memories", &[], Some(args))
                    .await?
            }
            "recall" => {
                self.rest(Method::POST, "/v1/memories/recall", &[], Some(args))
                    .await?
            }
            "get_memory" => {
                self.rest(Method::GET, &format!("/v1/memories/{id}"), &[], None)
                    .await?
            }
            "forget" => {
                self.rest(Method::DELETE, &format!("/v1/memories/{id}"), &[], None)
                    .await?
            }
            "set_preference" => {
                self.rest(Method::PUT, "/v1/preferences", &[], Some(args))
                    .await?
            }
            "get_preferences" => {
                self.rest(Method::GET, "/v1/preferences", &query_of(&args), None)
                    .await?
            }
            "add_pattern" => {
                self.rest(Method::POST, "/v1/patterns", &[], Some(args))
                    .await?
            }
            "pattern_outcome" => {
                self.rest(
                    Method::POST,
                    &format!("/v1/patterns/{id}/outcome"),
                    &[],
                    Some(without_id()),
                )
                .await?
            }
            "search_patterns" => {
                self.rest(Method::POST, "/v1/patterns/search", &[], Some(args))
                    .await?
            }
            "record_decision" => {
                self.rest(Method::POST, "/v1/decisions", &[], Some(args))
                    .await?
            }
            "decision_outcome" => {
                self.rest(
                    Method::POST,
                    &format!("/v1/decisions/{id}/outcome"),
                    &[],
                    Some(without_id()),
                )
                .await?
            }
            "list_decisions" => {
                self.rest(Method::GET, "/v1/decisions", &query_of(&args), None)
                    .await?
            }
            "feedback" => {
                self.rest(Method::POST, "/v1/feedback", &[], Some(args))
                    .await?
            }
            "recommend" => {
                self.rest(Method::POST, "/v1/recommend", &[], Some(args))
                    .await?
            }
            "add_message" => {
                self.rest(Method::POST, "/v1/context/messages", &[], Some(args))
                    .await?
            }
            "get_context" => {
                self.rest(Method::GET, "/v1/context", &query_of(&args), None)
                    .await?
            }
            "reason" => {
                self.rest(Method::POST, "/v1/reason", &[], Some(args))
                    .await?
            }
            other => return Err(format!("no operation {other}").into()),
        };
        Ok(Some(a))
    }

    /// An operation that must succeed (setting up data).
    async fn must(&self, op: &str, args: Value) -> TestResult<Value> {
        let a = self
            .op(Surface::Rest, op, args.clone())
            .await?
            .ok_or("not offered")?;
        if !a.ok {
            return Err(format!("{op} {args} failed: {}", a.body).into());
        }
        Ok(a.body)
    }
}

/// SplitMix64: the test's only random source, reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A pronounceable random word (so tokenizers and stemmers treat it as a word).
    fn word(&mut self) -> String {
        const C: &[u8] = b"bdfgklmnprstvz";
        const V: &[u8] = b"aeiou";
        let syllables = 3 + (self.next() % 2) as usize;
        let mut w = String::new();
        for _ in 0..syllables {
            w.push(C[(self.next() % C.len() as u64) as usize] as char);
            w.push(V[(self.next() % V.len() as u64) as usize] as char);
        }
        w
    }
}

/// Bob's data: what he wrote, and the values an attacker borrows from it.
#[derive(Debug, Default)]
struct Bob {
    /// Words only bob's free text holds; no answer to another token may contain one.
    secrets: BTreeSet<String>,
    memory_ids: Vec<String>,
    memory_texts: Vec<String>,
    metadata: Vec<Map<String, Value>>,
    prefs: Vec<(String, String)>,
    pattern_ids: Vec<i64>,
    pattern_contexts: Vec<String>,
    pattern_types: Vec<String>,
    languages: Vec<String>,
    solutions: Vec<String>,
    decision_ids: Vec<i64>,
    pending_decision: i64,
    /// (agent type, task bucket, options) bob decided in.
    tasks: Vec<(String, String, Vec<String>)>,
    sessions: Vec<String>,
    policies: BTreeSet<String>,
}

impl Bob {
    fn secret_text(&mut self, rng: &mut Rng, words: usize) -> String {
        let ws: Vec<String> = (0..words).map(|_| rng.word()).collect();
        self.secrets.extend(ws.iter().cloned());
        ws.join(" ")
    }
}

/// A random name that is no secret word (attackers echo names back in their own records).
fn name(rng: &mut Rng, bob: &Bob) -> String {
    loop {
        let n = format!("{}{}", rng.word(), rng.next() % 100);
        if !bob.secrets.contains(&n) {
            return n;
        }
    }
}

async fn fill_bob(server: &Server, rng: &mut Rng) -> TestResult<Bob> {
    let c = server.caller(BOB).await?;
    let mut bob = Bob::default();
    for i in 0..3 {
        bob.sessions.push(format!("session-{}", name(rng, &bob)));
        let _ = i;
    }
    // Memories, some with metadata, some in a session or under another agent.
    for i in 0..8 {
        let content = bob.secret_text(rng, 7);
        let mut meta = Map::new();
        if i % 2 == 0 {
            meta.insert("project".into(), json!(name(rng, &bob)));
            meta.insert("note".into(), json!(bob.secret_text(rng, 2)));
            meta.insert("level".into(), json!(i));
        }
        let scope = match i % 4 {
            1 => json!({"session": bob.sessions[0]}),
            3 => json!({"agent": "reviewer"}),
            _ => json!({}),
        };
        let kind = ["fact", "episode"][i % 2];
        let m = c
            .must(
                "remember",
                json!({"content": content, "kind": kind, "importance": 0.9,
                       "metadata": meta, "scope": scope}),
            )
            .await?;
        bob.memory_ids.push(text(&m["id"]));
        bob.memory_texts.push(content);
        bob.metadata.push(meta);
    }
    // Preferences.
    for _ in 0..3 {
        let key = format!("{}.{}", name(rng, &bob), name(rng, &bob));
        let category = name(rng, &bob);
        let value = bob.secret_text(rng, 3);
        c.must(
            "set_preference",
            json!({"key": key, "value": value, "category": category}),
        )
        .await?;
        bob.prefs.push((key, category));
    }
    // Code patterns with outcomes.
    for i in 0..3 {
        let pattern_type = name(rng, &bob);
        let language = name(rng, &bob);
        let solution = format!("apply-{}", name(rng, &bob));
        let context = bob.secret_text(rng, 6);
        let p = c
            .must(
                "add_pattern",
                json!({"pattern_type": pattern_type, "context": context, "solution": solution, "language": language}),
            )
            .await?;
        let id = p["pattern"]["id"].as_i64().ok_or("pattern id")?;
        for success in [true, true, false].iter().take(i + 1) {
            c.must("pattern_outcome", json!({"id": id, "success": success}))
                .await?;
        }
        bob.pattern_ids.push(id);
        bob.pattern_contexts.push(context);
        bob.pattern_types.push(pattern_type);
        bob.languages.push(language);
        bob.solutions.push(solution);
    }
    // Decisions with outcomes: an option policy per (agent type, bucket).
    let agent_types = ["coder".to_owned(), name(rng, &bob)];
    let buckets = [name(rng, &bob), "default".to_owned()];
    for (t, at) in agent_types.iter().enumerate() {
        for (b, bucket) in buckets.iter().enumerate() {
            let options = vec![
                bob.solutions[(t + b) % bob.solutions.len()].clone(),
                name(rng, &bob),
                name(rng, &bob),
            ];
            for (k, chosen) in options.iter().take(2).enumerate() {
                let mut args = json!({"agent_type": at, "context": bob.secret_text(rng, 4),
                    "options": options, "chosen_option": chosen, "task_bucket": bucket,
                    "reasoning": bob.secret_text(rng, 3)});
                if k == 0 {
                    args["pattern_id"] = json!(bob.pattern_ids[t]);
                }
                let d = c.must("record_decision", args).await?;
                let id = d["id"].as_i64().ok_or("decision id")?;
                let learned = if k == 0 {
                    c.must(
                        "decision_outcome",
                        json!({"id": id, "outcome": bob.secret_text(rng, 3), "reward": 1.0}),
                    )
                    .await?
                } else {
                    let fb = format!("perfect, exactly what I wanted {}", bob.secret_text(rng, 2));
                    c.must(
                        "feedback",
                        json!({"feedback": fb, "decision_id": id, "success": true, "tests_passed": 3}),
                    )
                    .await?["outcome"]
                        .clone()
                };
                for p in learned["policies"].as_array().into_iter().flatten() {
                    bob.policies.insert(text(p));
                }
                bob.decision_ids.push(id);
            }
            bob.tasks.push((at.clone(), bucket.clone(), options));
        }
    }
    let (at, bucket, options) = bob.tasks[0].clone();
    let d = c
        .must(
            "record_decision",
            json!({"agent_type": at, "context": bob.secret_text(rng, 4), "options": options,
                   "chosen_option": options[1], "task_bucket": bucket}),
        )
        .await?;
    bob.pending_decision = d["id"].as_i64().ok_or("decision id")?;
    bob.decision_ids.push(bob.pending_decision);
    // Context messages in his sessions.
    for s in bob.sessions.clone() {
        for role in ["user", "assistant"] {
            let content = bob.secret_text(rng, 5);
            c.must(
                "add_message",
                json!({"role": role, "content": content, "scope": {"session": s}}),
            )
            .await?;
        }
    }
    c.mcp.cancel().await?;
    Ok(bob)
}

fn sorted_by_id(mut v: Vec<Value>) -> Value {
    v.sort_by_key(|x| x["id"].to_string());
    v.dedup();
    Value::Array(v)
}

/// Everything bob can see of his own data through his token (scores left out: they
/// depend on corpus statistics other users legitimately change).
async fn bob_through_token(server: &Server, bob: &Bob) -> TestResult<Value> {
    let c = server.caller(BOB).await?;
    let mut out = Map::new();
    let mut memories = Vec::new();
    for id in &bob.memory_ids {
        memories.push(c.must("get_memory", json!({"id": id})).await?);
    }
    out.insert("memories".into(), Value::Array(memories));
    let mut recalled = Vec::new();
    for t in &bob.memory_texts {
        let r = c.must("recall", json!({"query": t, "k": 100})).await?;
        recalled.extend(
            r["hits"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|h| h["memory"].clone()),
        );
    }
    out.insert("recalled".into(), sorted_by_id(recalled));
    out.insert(
        "preferences".into(),
        c.must("get_preferences", json!({})).await?,
    );
    let mut patterns = Vec::new();
    for ctx in &bob.pattern_contexts {
        let r = c
            .must("search_patterns", json!({"query": ctx, "k": 100}))
            .await?;
        patterns.extend(
            r["matches"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| m["pattern"].clone()),
        );
    }
    out.insert("patterns".into(), sorted_by_id(patterns));
    out.insert(
        "decisions".into(),
        c.must("list_decisions", json!({"limit": 1000})).await?,
    );
    let mut recs = Vec::new();
    for (at, bucket, options) in &bob.tasks {
        recs.push(
            c.must(
                "recommend",
                json!({"agent_type": at, "task_bucket": bucket, "options": options}),
            )
            .await?,
        );
    }
    out.insert("recommend".into(), Value::Array(recs));
    let mut windows = Vec::new();
    for s in &bob.sessions {
        windows.push(
            c.must("get_context", json!({"scope": {"session": s}}))
                .await?,
        );
    }
    out.insert("context".into(), Value::Array(windows));
    c.mcp.cancel().await?;
    Ok(Value::Object(out))
}

/// What the store holds within `scope`, read directly, policies included (`names`:
/// the policies to read; all when `None`).
async fn store_view(
    brain: &Brain,
    scope: &Scope,
    sessions: &[String],
    names: Option<&BTreeSet<String>>,
) -> TestResult<Value> {
    let store = brain.store();
    let mut filter = MemoryFilter::scoped(scope.clone());
    filter.include_expired = true;
    let memories = store
        .list_memories(&MemoryQuery::new(filter, 100_000))
        .await?;
    let prefs = store.list_preferences(scope, None).await?;
    let patterns = store
        .list_patterns(&PatternQuery::new(scope.clone(), 100_000))
        .await?;
    let decisions = store
        .list_decisions(&DecisionQuery {
            scope: scope.clone(),
            agent_type: None,
            with_outcome: None,
            limit: 100_000,
        })
        .await?;
    let events = store
        .list_learning_events(&EventQuery {
            scope: scope.clone(),
            event_type: None,
            since: None,
            limit: 100_000,
        })
        .await?;
    let mut policies = BTreeMap::new();
    for n in store.list_policies().await? {
        if names.is_none_or(|ns| ns.contains(&n)) {
            policies.insert(
                n.clone(),
                serde_json::to_value(store.get_policy(&n).await?)?,
            );
        }
    }
    let mut windows = BTreeMap::new();
    for s in sessions {
        let mut w = scope.clone();
        w.session = Some(s.clone());
        windows.insert(
            s.clone(),
            serde_json::to_value(brain.short_term().window(&w).await?)?,
        );
    }
    Ok(json!({
        "memories": serde_json::to_value(memories)?,
        "preferences": serde_json::to_value(prefs)?,
        "patterns": serde_json::to_value(patterns)?,
        "decisions": serde_json::to_value(decisions)?,
        "events": serde_json::to_value(events)?,
        "policies": policies,
        "windows": windows,
    }))
}

/// Everything in the store: counts, every policy, every record and window.
async fn everything(brain: &Brain, sessions: &[String]) -> TestResult<Value> {
    let mut v = store_view(brain, &Scope::global(), &[], None).await?;
    v["stats"] = serde_json::to_value(brain.store().stats().await?)?;
    let mut windows = Map::new();
    for user in ["alice", "bob"] {
        for s in sessions {
            let scope = Scope::user(user).with_session(s.clone());
            windows.insert(
                format!("{user}/{s}"),
                serde_json::to_value(brain.short_term().window(&scope).await?)?,
            );
        }
    }
    v["windows"] = Value::Object(windows);
    Ok(v)
}

/// The violations one test found.
#[derive(Default)]
struct Violations(Vec<String>);

impl Violations {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            let w = what();
            eprintln!("VIOLATION: {w}");
            self.0.push(w);
        }
    }

    fn finish(self, test: &str) -> TestResult {
        if self.0.is_empty() {
            return Ok(());
        }
        let mut msg = format!("{test}: {} violation(s):\n", self.0.len());
        for v in &self.0 {
            let short: String = v.chars().take(600).collect();
            msg.push_str(&format!("  - {short}\n"));
        }
        Err(msg.into())
    }
}

/// Who the attacker is, for checking what it may see.
#[derive(Clone, Copy)]
struct Attacker {
    token: &'static str,
    /// The user its records must belong to (`None`: any user but bob).
    user: Option<&'static str>,
    /// The agent its records must belong to.
    agent: Option<&'static str>,
    writes: bool,
}

/// Every record in an answer (anything with a `scope`) belongs to the attacker's scope.
fn foreign_scopes(v: &Value, who: Attacker, out: &mut Vec<Value>) {
    match v {
        Value::Object(m) => {
            if let Some(s) = m.get("scope").filter(|s| s.is_object()) {
                let user_ok = match who.user {
                    Some(u) => s["user"] == json!(u),
                    None => s["user"] != json!("bob"),
                };
                let agent_ok = who.agent.is_none_or(|a| s["agent"] == json!(a));
                if !(user_ok && agent_ok) {
                    out.push(s.clone());
                }
            }
            m.values().for_each(|x| foreign_scopes(x, who, out));
        }
        Value::Array(a) => a.iter().for_each(|x| foreign_scopes(x, who, out)),
        _ => {}
    }
}

/// Checks an answer reveals nothing of bob's.
fn reveals_nothing(v: &mut Violations, bob: &Bob, who: Attacker, what: &str, a: &Answer) {
    let body = a.body.to_string();
    let leaked: Vec<&String> = bob
        .secrets
        .iter()
        .filter(|w| body.contains(w.as_str()))
        .collect();
    v.check(leaked.is_empty(), || {
        format!("{what}: the answer holds bob's words {leaked:?}: {body}")
    });
    let mut foreign = Vec::new();
    foreign_scopes(&a.body, who, &mut foreign);
    v.check(foreign.is_empty(), || {
        format!("{what}: the answer holds records of scopes {foreign:?}: {body}")
    });
}

/// Expects a refusal of one of `kinds`.
fn refused(v: &mut Violations, what: &str, a: &Answer, kinds: &[&str]) {
    v.check(!a.ok && kinds.contains(&a.kind.as_str()), || {
        format!(
            "{what}: expected {kinds:?}, got ok={} kind={:?} {}",
            a.ok, a.kind, a.body
        )
    });
}

fn succeeded(v: &mut Violations, what: &str, a: &Answer) {
    v.check(a.ok, || {
        format!("{what}: expected success, got {:?} {}", a.kind, a.body)
    });
}

/// A write: succeeds for a read-write token, is refused as forbidden for a read-only one.
fn wrote(v: &mut Violations, who: Attacker, what: &str, a: &Answer) {
    if who.writes {
        succeeded(v, what, a);
    } else {
        refused(v, what, a, &["forbidden"]);
    }
}

/// The `recommend` calls that borrow bob's agent types, buckets and options, including a
/// bucket that spells bob's policy name.
fn recommend_probes(bob: &Bob) -> Vec<Value> {
    let mut probes = Vec::new();
    for (at, bucket, options) in &bob.tasks {
        for b in [bucket.clone(), format!("{bucket}/user/bob")] {
            probes.push(json!({"agent_type": at, "task_bucket": b, "options": options}));
        }
        probes.push(json!({"agent_type": format!("{at}/{bucket}/user/bob"), "options": options}));
    }
    probes.push(json!({"agent_type": "coder", "options": bob.solutions}));
    probes
}

/// Phase one: `recommend` (without exploring) answers the attacker exactly what a fresh
/// brain answers: nothing bob taught is ranked on. Runs before the attacker writes.
async fn recommend_like_a_fresh_brain(
    v: &mut Violations,
    server: &Server,
    fresh: &Server,
    bob: &Bob,
    who: Attacker,
) -> TestResult {
    let c = server.caller(who.token).await?;
    let f = fresh.caller(who.token).await?;
    for surface in [Surface::Rest, Surface::Mcp] {
        for probe in recommend_probes(bob) {
            let got = c
                .op(surface, "recommend", probe.clone())
                .await?
                .ok_or("recommend")?;
            let want = f
                .op(surface, "recommend", probe.clone())
                .await?
                .ok_or("recommend")?;
            succeeded(v, &format!("{surface:?} recommend {probe}"), &got);
            v.check(got.body == want.body, || {
                format!(
                    "{surface:?} recommend {probe} as {}: ranks on bob's outcomes: got {}, a fresh brain answers {}",
                    who.token, got.body, want.body
                )
            });
        }
    }
    c.mcp.cancel().await?;
    f.mcp.cancel().await?;
    Ok(())
}

/// Bob's policies as stored after the last step, to say which step changed them.
struct Watch<'a> {
    brain: &'a Brain,
    bob: &'a Bob,
    before: Value,
}

impl Watch<'_> {
    async fn policies(brain: &Brain, bob: &Bob) -> TestResult<Value> {
        let mut out = Map::new();
        for n in &bob.policies {
            out.insert(
                n.clone(),
                serde_json::to_value(brain.store().get_policy(n).await?)?,
            );
        }
        Ok(Value::Object(out))
    }

    /// Reports a change since the last check (so each step is blamed for its own).
    async fn check(&mut self, v: &mut Violations, step: &str) -> TestResult {
        let now = Self::policies(self.brain, self.bob).await?;
        let changed: Vec<&String> = self
            .bob
            .policies
            .iter()
            .filter(|n| self.before.get(n.as_str()) != now.get(n.as_str()))
            .collect();
        v.check(changed.is_empty(), || {
            format!("{step} changed bob's policies {changed:?}")
        });
        self.before = now;
        Ok(())
    }
}

/// Phase two: every operation, with bob's values, on one surface.
async fn attack(
    v: &mut Violations,
    c: &Caller,
    bob: &Bob,
    who: Attacker,
    surface: Surface,
    watch: &mut Watch<'_>,
) -> TestResult {
    let s = format!("{surface:?} as {}", who.token);
    let bob_scope = json!({"user": "bob"});
    macro_rules! run {
        ($op:expr, $args:expr) => {{
            let args: Value = $args;
            let what = format!("{s}: {} {}", $op, args);
            match c.op(surface, $op, args).await? {
                Some(a) => {
                    reveals_nothing(v, bob, who, &what, &a);
                    Some((what, a))
                }
                None => None,
            }
        }};
    }
    // Bob's ids behave as absent.
    for id in &bob.memory_ids {
        if let Some((w, a)) = run!("get_memory", json!({"id": id})) {
            refused(v, &w, &a, &["not_found"]);
        }
        if let Some((w, a)) = run!("forget", json!({"id": id})) {
            if who.writes {
                succeeded(v, &w, &a);
                v.check(a.body["forgotten"] == json!(false), || {
                    format!("{w}: {}", a.body)
                });
            } else {
                refused(v, &w, &a, &["forbidden"]);
            }
        }
    }
    for (i, id) in bob.pattern_ids.iter().enumerate() {
        if let Some((w, a)) = run!("pattern_outcome", json!({"id": id, "success": i % 2 == 0})) {
            refused(
                v,
                &w,
                &a,
                if who.writes {
                    &["not_found"]
                } else {
                    &["forbidden"]
                },
            );
        }
        let (at, bucket, options) = &bob.tasks[i % bob.tasks.len()];
        if let Some((w, a)) = run!(
            "record_decision",
            json!({"agent_type": at, "context": "alice borrows a pattern id", "options": options,
                   "chosen_option": options[0], "task_bucket": bucket, "pattern_id": id})
        ) {
            refused(
                v,
                &w,
                &a,
                if who.writes {
                    &["not_found"]
                } else {
                    &["forbidden"]
                },
            );
        }
    }
    for id in &bob.decision_ids {
        if let Some((w, a)) = run!(
            "decision_outcome",
            json!({"id": id, "outcome": "hijacked", "reward": -1.0})
        ) {
            refused(
                v,
                &w,
                &a,
                if who.writes {
                    &["not_found"]
                } else {
                    &["forbidden"]
                },
            );
        }
        if let Some((w, a)) = run!(
            "feedback",
            json!({"feedback": "terrible, completely wrong", "decision_id": id, "success": false})
        ) {
            refused(
                v,
                &w,
                &a,
                if who.writes {
                    &["not_found"]
                } else {
                    &["forbidden"]
                },
            );
        }
    }
    // Searches with bob's words and filter values find nothing of his.
    for t in bob.memory_texts.iter().chain(&bob.pattern_contexts) {
        for mode in ["hybrid", "keyword", "vector"] {
            if let Some((w, a)) = run!("recall", json!({"query": t, "k": 1000, "mode": mode})) {
                succeeded(v, &w, &a);
            }
        }
        if let Some((w, a)) = run!(
            "recall",
            json!({"query": t, "k": 1000, "kinds": ["fact", "episode", "code_pattern"], "scope": {"session": bob.sessions[0]}})
        ) {
            succeeded(v, &w, &a);
        }
    }
    for (i, ctx) in bob.pattern_contexts.iter().enumerate() {
        for args in [
            json!({"query": ctx, "k": 100}),
            json!({"query": ctx, "k": 100, "pattern_type": bob.pattern_types[i], "language": bob.languages[i]}),
        ] {
            if let Some((w, a)) = run!("search_patterns", args) {
                succeeded(v, &w, &a);
            }
        }
    }
    for (key, category) in &bob.prefs {
        for args in [
            json!({"key": key}),
            json!({"key": key, "category": category}),
            json!({"category": category}),
            json!({}),
        ] {
            if let Some((w, a)) = run!("get_preferences", args) {
                succeeded(v, &w, &a);
            }
        }
    }
    for (at, _, _) in &bob.tasks {
        for pending in [json!(null), json!(true), json!(false)] {
            if let Some((w, a)) = run!(
                "list_decisions",
                json!({"agent_type": at, "pending": pending, "limit": 1000})
            ) {
                succeeded(v, &w, &a);
            }
        }
    }
    for session in &bob.sessions {
        if let Some((w, a)) = run!("get_context", json!({"scope": {"session": session}})) {
            succeeded(v, &w, &a);
        }
    }
    // Writes that borrow bob's names land in the attacker's own scope.
    let (key, category) = &bob.prefs[0];
    if let Some((w, a)) = run!(
        "set_preference",
        json!({"key": key, "value": "the attacker's own value", "category": category})
    ) {
        wrote(v, who, &w, &a);
    }
    if let Some((w, a)) = run!(
        "add_pattern",
        json!({"pattern_type": bob.pattern_types[0], "context": "the attacker's own context",
               "solution": bob.solutions[0], "language": bob.languages[0]})
    ) {
        wrote(v, who, &w, &a);
    }
    if let Some((w, a)) = run!(
        "add_message",
        json!({"role": "user", "content": "the attacker's own message", "scope": {"session": bob.sessions[0]}})
    ) {
        wrote(v, who, &w, &a);
    }
    if let Some((w, a)) = run!(
        "feedback",
        json!({"feedback": "perfect, exactly what I wanted", "task_context": bob.tasks[0].1, "success": true})
    ) {
        wrote(v, who, &w, &a);
    }
    // A memory that claims bob's pattern and carries bob's metadata values: searching
    // must still find nothing of bob's.
    for (i, pid) in bob.pattern_ids.iter().enumerate() {
        let mut meta = bob.metadata[0].clone();
        meta.retain(|_, x| !x.as_str().is_some_and(|s| s.contains(' ')));
        meta.insert("pattern_id".into(), json!(pid));
        meta.insert("pattern_type".into(), json!(bob.pattern_types[i]));
        meta.insert("language".into(), json!(bob.languages[i]));
        if let Some((w, a)) = run!(
            "remember",
            json!({"content": format!("the attacker links pattern {pid}"), "kind": "code_pattern", "metadata": meta})
        ) {
            // The kind is the brain's own: refused as invalid (forbidden first for a
            // read-only token).
            let kinds: &[&str] = if who.writes {
                &["invalid_input"]
            } else {
                &["forbidden", "invalid_input"]
            };
            refused(v, &w, &a, kinds);
        }
        // The same link under an ordinary kind is just data.
        if let Some((w, a)) = run!(
            "remember",
            json!({"content": format!("the attacker links pattern {pid} as a fact"), "metadata": meta})
        ) {
            wrote(v, who, &w, &a);
        }
    }
    for (i, ctx) in bob.pattern_contexts.iter().enumerate() {
        for args in [
            json!({"query": ctx, "k": 100}),
            json!({"query": format!("the attacker links pattern {}", bob.pattern_ids[i]), "k": 100}),
            json!({"query": ctx, "k": 100, "pattern_type": bob.pattern_types[i], "language": bob.languages[i]}),
        ] {
            if let Some((w, a)) = run!("search_patterns", args) {
                succeeded(v, &w, &a);
            }
        }
        if let Some((w, a)) = run!(
            "recall",
            json!({"query": ctx, "k": 1000, "kinds": ["code_pattern"]})
        ) {
            succeeded(v, &w, &a);
        }
    }
    // Decisions of its own in bob's agent types and buckets (and a bucket spelling bob's
    // policy name), with outcomes: they must teach only the attacker's own policies.
    for (at, bucket, options) in &bob.tasks {
        for b in [bucket.clone(), format!("{bucket}/user/bob")] {
            let Some((w, d)) = run!(
                "record_decision",
                json!({"agent_type": at, "context": "the attacker decides", "options": options,
                       "chosen_option": options[2], "task_bucket": b})
            ) else {
                continue;
            };
            wrote(v, who, &w, &d);
            let Some(id) = d.body["id"].as_i64() else {
                continue;
            };
            if let Some((w, a)) = run!(
                "decision_outcome",
                json!({"id": id, "outcome": "it went badly", "reward": -1.0})
            ) {
                succeeded(v, &w, &a);
            }
        }
    }
    watch
        .check(
            v,
            &format!("{s}: decisions and outcomes in bob's agent types and buckets"),
        )
        .await?;
    // Exploring recommendations with bob's names.
    for probe in recommend_probes(bob) {
        let mut p = probe.clone();
        p["explore"] = json!(true);
        if let Some((w, a)) = run!("recommend", p) {
            succeeded(v, &w, &a);
        }
    }
    watch
        .check(v, &format!("{s}: recommend with explore"))
        .await?;
    if let Some((w, a)) = run!(
        "reason",
        json!({"goal": "plan with bob's memories", "options": bob.tasks[0].2})
    ) {
        refused(
            v,
            &w,
            &a,
            if who.writes {
                &["not_configured"]
            } else {
                &["forbidden"]
            },
        );
    }
    // Naming user bob: refused for a token bound to another user; for an agent-only
    // token (every user, one agent) reads find nothing, as bob's data has no agent coder.
    let named: Vec<(&str, Value, bool)> = vec![
        (
            "remember",
            json!({"content": "planted for bob", "scope": bob_scope}),
            true,
        ),
        (
            "recall",
            json!({"query": bob.memory_texts[0], "scope": bob_scope}),
            false,
        ),
        (
            "set_preference",
            json!({"key": bob.prefs[0].0, "value": 1, "scope": bob_scope}),
            true,
        ),
        (
            "get_preferences",
            json!({"key": bob.prefs[0].0, "scope": bob_scope}),
            false,
        ),
        ("get_preferences", json!({"scope": bob_scope}), false),
        (
            "add_pattern",
            json!({"pattern_type": "x", "context": "planted", "solution": "planted", "scope": bob_scope}),
            true,
        ),
        (
            "search_patterns",
            json!({"query": bob.pattern_contexts[0], "scope": bob_scope}),
            false,
        ),
        (
            "record_decision",
            json!({"agent_type": bob.tasks[0].0, "context": "planted", "options": ["a"], "chosen_option": "a", "scope": bob_scope}),
            true,
        ),
        ("list_decisions", json!({"scope": bob_scope}), false),
        (
            "feedback",
            json!({"feedback": "great", "scope": bob_scope}),
            true,
        ),
        (
            "recommend",
            json!({"agent_type": bob.tasks[0].0, "task_bucket": bob.tasks[0].1, "options": bob.tasks[0].2, "scope": bob_scope}),
            false,
        ),
        (
            "recommend",
            json!({"agent_type": bob.tasks[0].0, "task_bucket": bob.tasks[0].1, "options": bob.tasks[0].2, "explore": true, "scope": bob_scope}),
            false,
        ),
        (
            "add_message",
            json!({"role": "user", "content": "planted", "scope": {"user": "bob", "session": bob.sessions[0]}}),
            true,
        ),
        (
            "get_context",
            json!({"scope": {"user": "bob", "session": bob.sessions[0]}}),
            false,
        ),
        ("reason", json!({"goal": "x", "scope": bob_scope}), true),
    ];
    for (op, args, is_write) in named {
        if who.user.is_none() && is_write {
            // Within an agent-only token's reach ({user: bob, agent: coder}); not a
            // crossing, so not tried here (it would add to what bob's token sees).
            continue;
        }
        if let Some((w, a)) = run!(op, args) {
            if who.user.is_some() {
                refused(v, &w, &a, &["forbidden"]);
            } else {
                succeeded(v, &w, &a);
            }
        }
    }
    Ok(())
}

async fn snapshots(server: &Server, bob: &Bob) -> TestResult<(Value, Value)> {
    Ok((
        bob_through_token(server, bob).await?,
        store_view(
            &server.brain,
            &Scope::user("bob"),
            &bob.sessions,
            Some(&bob.policies),
        )
        .await?,
    ))
}

fn unchanged(v: &mut Violations, what: &str, before: &Value, after: &Value) {
    let (Value::Object(b), Value::Object(a)) = (before, after) else {
        v.check(before == after, || format!("{what} changed"));
        return;
    };
    for (k, bv) in b {
        let av = a.get(k).unwrap_or(&Value::Null);
        v.check(bv == av, || {
            // Name what changed inside a map (policies by name, windows by session).
            let detail = match (bv, av) {
                (Value::Object(bm), Value::Object(am)) => {
                    let names: BTreeSet<&String> = bm.keys().chain(am.keys()).collect();
                    let diff: Vec<String> = names
                        .into_iter()
                        .filter(|n| bm.get(*n) != am.get(*n))
                        .map(|n| match (bm.get(n), am.get(n)) {
                            (None, _) => format!("added {n}"),
                            (_, None) => format!("removed {n}"),
                            _ => format!("changed {n}"),
                        })
                        .collect();
                    format!("{diff:?}")
                }
                _ => format!("before {bv}, after {av}"),
            };
            format!("{what}: `{k}` changed: {detail}")
        });
    }
}

fn seed() -> u64 {
    let s = std::env::var("BRAIN_TENANTS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x0005_eed0_fb0b);
    eprintln!("BRAIN_TENANTS_SEED={s}");
    s
}

async fn scenario(who: Attacker, test: &str) -> TestResult {
    let server = Server::start().await?;
    let fresh = Server::start().await?;
    let mut rng = Rng(seed());
    let bob = fill_bob(&server, &mut rng).await?;
    assert!(
        !bob.policies.is_empty() && bob.policies.iter().all(|p| p.starts_with("recommend/")),
        "bob's outcomes teach bob's policies: {:?}",
        bob.policies
    );
    let (via_token, in_store) = snapshots(&server, &bob).await?;
    let sessions: Vec<String> = bob.sessions.clone();
    let all_before = everything(&server.brain, &sessions).await?;
    let mut v = Violations::default();

    let mut watch = Watch {
        brain: &server.brain,
        bob: &bob,
        before: Watch::policies(&server.brain, &bob).await?,
    };
    recommend_like_a_fresh_brain(&mut v, &server, &fresh, &bob, who).await?;
    watch.check(&mut v, "recommend without exploring").await?;
    if !who.writes {
        let now = everything(&server.brain, &sessions).await?;
        unchanged(
            &mut v,
            "the store after a read-only token's recommend without exploring",
            &all_before,
            &now,
        );
    }
    let c = server.caller(who.token).await?;
    for surface in [Surface::Rest, Surface::Mcp] {
        attack(&mut v, &c, &bob, who, surface, &mut watch).await?;
    }
    c.mcp.cancel().await?;

    let (via_token_after, in_store_after) = snapshots(&server, &bob).await?;
    unchanged(
        &mut v,
        "bob's data through his token",
        &via_token,
        &via_token_after,
    );
    unchanged(
        &mut v,
        "bob's data in the store",
        &in_store,
        &in_store_after,
    );
    // A recommend policy records its owner; none may appear in bob's name.
    let mut new_in_bobs_name: Vec<String> = Vec::new();
    for p in server.brain.store().list_policies().await? {
        let Some(state) = server.brain.store().get_policy(&p).await? else {
            continue;
        };
        if state.state["owner"]["scope"]["user"] == "bob" && !bob.policies.contains(&p) {
            new_in_bobs_name.push(p);
        }
    }
    v.check(new_in_bobs_name.is_empty(), || {
        format!("policies named for bob appeared: {new_in_bobs_name:?}")
    });
    if !who.writes {
        let all_after = everything(&server.brain, &sessions).await?;
        unchanged(
            &mut v,
            "the store after a read-only token's calls",
            &all_before,
            &all_after,
        );
    }
    server.shutdown().await?;
    fresh.shutdown().await?;
    v.finish(test)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_reaches_nothing_of_bobs() -> TestResult {
    let who = Attacker {
        token: ALICE,
        user: Some("alice"),
        agent: None,
        writes: true,
    };
    scenario(who, "alice").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_only_token_reaches_nothing_of_bobs() -> TestResult {
    let who = Attacker {
        token: AGENT,
        user: None,
        agent: Some("coder"),
        writes: true,
    };
    scenario(who, "agent-only").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_token_changes_nothing() -> TestResult {
    let who = Attacker {
        token: READER,
        user: Some("alice"),
        agent: None,
        writes: false,
    };
    scenario(who, "read-only alice").await
}

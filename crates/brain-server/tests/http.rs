//! The REST API end to end over loopback TCP with a real HTTP client.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn post(
    s: &Running,
    path: &str,
    token: &str,
    body: Value,
) -> TestResult<(StatusCode, Value)> {
    let r = client()
        .post(s.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    let status = r.status();
    Ok((status, r.json().await?))
}

async fn get(s: &Running, path: &str, token: &str) -> TestResult<(StatusCode, Value)> {
    let r = client().get(s.url(path)).bearer_auth(token).send().await?;
    let status = r.status();
    Ok((status, r.json().await?))
}

fn deep(levels: usize) -> Value {
    (0..levels).fold(json!(1), |v, i| json!({ format!("k{i}"): v }))
}

fn kind(v: &Value) -> &str {
    v["error"]["kind"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remember_recall_feedback_recommend() -> TestResult {
    let s = start().await?;
    let (st, m) = post(
        &s,
        "/v1/memories",
        ALICE,
        json!({"content": "Alice prefers tabs over spaces", "importance": 0.9, "metadata": {"topic": "style"}}),
    )
    .await?;
    assert_eq!(st, StatusCode::CREATED, "{m}");
    assert_eq!(m["scope"]["user"], "alice", "the token's user owns it");
    post(
        &s,
        "/v1/memories",
        ALICE,
        json!({"content": "The CI runs on Debian"}),
    )
    .await?;

    let (st, r) = post(
        &s,
        "/v1/memories/recall",
        ALICE,
        json!({"query": "tabs or spaces?", "k": 5}),
    )
    .await?;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(
        r["hits"][0]["memory"]["content"],
        "Alice prefers tabs over spaces"
    );
    assert_eq!(r["hits"][0]["memory"]["id"], m["id"]);
    assert!(r["hits"][0]["score"].as_f64().is_some_and(|x| x > 0.0));

    // A decision, feedback on it, and a recommendation that learned from it.
    let (st, d) = post(
        &s,
        "/v1/decisions",
        ALICE,
        json!({"agent_type": "coder", "context": "flaky test", "options": ["retry", "rewrite"], "chosen_option": "rewrite", "task_bucket": "tests"}),
    )
    .await?;
    assert_eq!(st, StatusCode::CREATED, "{d}");
    let (st, f) = post(
        &s,
        "/v1/feedback",
        ALICE,
        json!({"feedback": "perfect, exactly what I wanted", "decision_id": d["id"], "success": true}),
    )
    .await?;
    assert_eq!(st, StatusCode::OK, "{f}");
    assert_eq!(f["source"], "offline");
    assert!(f["reward"].as_f64().is_some_and(|r| r > 0.5), "{f}");
    assert_eq!(f["outcome"]["decision"]["chosen_option"], "rewrite");
    let (st, rec) = post(
        &s,
        "/v1/recommend",
        ALICE,
        json!({"agent_type": "coder", "task_bucket": "tests", "options": ["retry", "rewrite"]}),
    )
    .await?;
    assert_eq!(st, StatusCode::OK, "{rec}");
    assert_eq!(rec["ranked"][0]["option"], "rewrite", "{rec}");
    assert_eq!(rec["ranked"].as_array().map(Vec::len), Some(2));

    // Bob's recommendations did not learn from Alice's outcome.
    let (_, rec_bob) = post(
        &s,
        "/v1/recommend",
        BOB,
        json!({"agent_type": "coder", "task_bucket": "tests", "options": ["retry", "rewrite"]}),
    )
    .await?;
    assert!(
        rec_bob["ranked"]
            .as_array()
            .is_some_and(|r| r.iter().all(|o| o["observations"] == 0.0)),
        "{rec_bob}"
    );

    // Preferences and patterns round-trip.
    let r = client()
        .put(s.url("/v1/preferences"))
        .bearer_auth(ALICE)
        .json(&json!({"key": "editor.indent", "value": "tabs"}))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::OK);
    let (_, prefs) = get(&s, "/v1/preferences?key=editor.indent", ALICE).await?;
    assert_eq!(prefs["preferences"][0]["value"], "tabs");
    let (_, p) = post(
        &s,
        "/v1/patterns",
        ALICE,
        json!({"pattern_type": "error_fix", "context": "E0502 borrow conflict in loop", "solution": "clone the key first", "language": "rust"}),
    )
    .await?;
    let id = p["pattern"]["id"].as_i64().unwrap_or(-1);
    let (st, po) = post(
        &s,
        &format!("/v1/patterns/{id}/outcome"),
        ALICE,
        json!({"success": false}),
    )
    .await?;
    assert_eq!(st, StatusCode::OK, "{po}");
    assert_eq!(po["failure_count"], 1);
    let (_, found) = post(
        &s,
        "/v1/patterns/search",
        ALICE,
        json!({"query": "borrow conflict E0502"}),
    )
    .await?;
    assert_eq!(found["matches"][0]["pattern"]["id"], id);

    // Forget, then it is gone.
    let mid = m["id"].as_str().unwrap_or("");
    let r = client()
        .delete(s.url(&format!("/v1/memories/{mid}")))
        .bearer_auth(ALICE)
        .send()
        .await?;
    assert_eq!(r.json::<Value>().await?["forgotten"], true);
    let (st, _) = get(&s, &format!("/v1/memories/{mid}"), ALICE).await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    s.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_wrong_tokens_get_401() -> TestResult {
    let s = start().await?;
    let r = client()
        .post(s.url("/v1/memories/recall"))
        .json(&json!({"query": "x"}))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.headers().get("www-authenticate").map(|v| v.as_bytes()),
        Some(&b"Bearer"[..])
    );
    assert_eq!(kind(&r.json().await?), "unauthorized");
    let (st, body) = post(
        &s,
        "/v1/memories",
        "not-a-token-we-know-at-all",
        json!({"content": "x"}),
    )
    .await?;
    assert_eq!(st, StatusCode::UNAUTHORIZED);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("not one this server knows"))
    );
    let r = client()
        .get(s.url("/v1/decisions"))
        .header("authorization", format!("Basic {ALICE}"))
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // MCP sits behind the same check.
    let r = client().post(s.url("/mcp")).json(&json!({})).send().await?;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // Health and the API document need no token.
    let r = client().get(s.url("/health")).send().await?;
    assert_eq!(r.status(), StatusCode::OK);
    // Nothing was written by the refused calls.
    let (_, all) = post(
        &s,
        "/v1/memories/recall",
        ALICE,
        json!({"query": "x", "mode": "keyword"}),
    )
    .await?;
    assert_eq!(all["hits"].as_array().map(Vec::len), Some(0));
    s.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_outside_the_tokens_scope_are_refused() -> TestResult {
    let s = start().await?;
    let (_, bobs) = post(
        &s,
        "/v1/memories",
        BOB,
        json!({"content": "Bob's salary is 100k"}),
    )
    .await?;
    let (_, alices) = post(
        &s,
        "/v1/memories",
        ALICE,
        json!({"content": "Alice's salary is 120k"}),
    )
    .await?;
    let bob_id = bobs["id"].as_str().unwrap_or("");

    // Naming another user is refused outright.
    let (st, e) = post(
        &s,
        "/v1/memories/recall",
        ALICE,
        json!({"query": "salary", "scope": {"user": "bob"}}),
    )
    .await?;
    assert_eq!(st, StatusCode::FORBIDDEN, "{e}");
    assert_eq!(kind(&e), "forbidden");
    let (st, _) = get(&s, "/v1/preferences?user=bob", ALICE).await?;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = post(
        &s,
        "/v1/memories",
        ALICE,
        json!({"content": "planted", "scope": {"user": "bob"}}),
    )
    .await?;
    assert_eq!(
        st,
        StatusCode::FORBIDDEN,
        "no writes into another user's scope"
    );

    // Unscoped recall sees only the token's own memories.
    let (_, r) = post(&s, "/v1/memories/recall", ALICE, json!({"query": "salary"})).await?;
    let hits = r["hits"].as_array().cloned().unwrap_or_default();
    assert_eq!(hits.len(), 1, "{r}");
    assert_eq!(hits[0]["memory"]["id"], alices["id"]);

    // Ids of another user's records behave as absent.
    let (st, _) = get(&s, &format!("/v1/memories/{bob_id}"), ALICE).await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let r = client()
        .delete(s.url(&format!("/v1/memories/{bob_id}")))
        .bearer_auth(ALICE)
        .send()
        .await?;
    assert_eq!(r.json::<Value>().await?["forgotten"], false);
    let (st, still) = get(&s, &format!("/v1/memories/{bob_id}"), BOB).await?;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(still["content"], "Bob's salary is 100k");
    let (_, d) = post(
        &s,
        "/v1/decisions",
        BOB,
        json!({"agent_type": "coder", "context": "c", "options": ["a"], "chosen_option": "a"}),
    )
    .await?;
    let did = d["id"].as_i64().unwrap_or(-1);
    let (st, _) = post(
        &s,
        &format!("/v1/decisions/{did}/outcome"),
        ALICE,
        json!({"outcome": "x", "reward": -1.0}),
    )
    .await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (_, list) = get(&s, "/v1/decisions", ALICE).await?;
    assert_eq!(list["decisions"].as_array().map(Vec::len), Some(0));

    // A read-only token reads but does not write.
    let (st, r) = post(
        &s,
        "/v1/memories/recall",
        ALICE_READER,
        json!({"query": "salary"}),
    )
    .await?;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(r["hits"].as_array().map(Vec::len), Some(1));
    let (st, e) = post(&s, "/v1/memories", ALICE_READER, json!({"content": "x"})).await?;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert!(
        e["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("read-only"))
    );
    s.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_get_clear_errors_and_write_nothing() -> TestResult {
    let s = start().await?;
    // Oversized: the limit is 16 KiB in these tests.
    let big = "x".repeat(64 * 1024);
    let (st, e) = post(&s, "/v1/memories", ALICE, json!({"content": big})).await?;
    assert_eq!(st, StatusCode::PAYLOAD_TOO_LARGE, "{e}");
    assert_eq!(kind(&e), "payload_too_large");
    // Malformed JSON.
    let r = client()
        .post(s.url("/v1/memories"))
        .bearer_auth(ALICE)
        .header("content-type", "application/json")
        .body("{\"content\": \"unterminated")
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let e: Value = r.json().await?;
    assert_eq!(kind(&e), "invalid_input");
    assert!(
        e["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("EOF") || m.contains("parse")),
        "{e}"
    );
    // Well-formed but wrong: a missing field, an unknown field, a wrong type, a bad value.
    for (body, needle) in [
        (json!({"contents": "typo"}), "contents"),
        (json!({"content": "x", "importance": "high"}), "importance"),
        (json!({"content": "x", "importance": 7.0}), "importance"),
        (json!({"content": "x", "metadata": deep(40)}), "deep"),
        (json!({"content": ""}), "content"),
    ] {
        let (st, e) = post(&s, "/v1/memories", ALICE, body.clone()).await?;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body} -> {e}");
        let msg = e["error"]["message"].as_str().unwrap_or("").to_lowercase();
        assert!(msg.contains(needle), "{body}: {msg}");
    }
    let (st, e) = post(
        &s,
        "/v1/memories/recall",
        ALICE,
        json!({"query": "x", "k": 0}),
    )
    .await?;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{e}");
    let (st, _) = get(&s, "/v1/memories/not-a-uuid", ALICE).await?;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, _) = post(
        &s,
        "/v1/decisions/1/outcome",
        ALICE,
        json!({"outcome": "x", "reward": f64::MAX}),
    )
    .await?;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    // Not JSON at all.
    let r = client()
        .post(s.url("/v1/memories"))
        .bearer_auth(ALICE)
        .body("content=x")
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Unknown routes are JSON 404s.
    let (st, e) = get(&s, "/v2/nothing", ALICE).await?;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(kind(&e), "not_found");
    // SQL and FTS syntax in a query is data.
    let (st, _) = post(
        &s,
        "/v1/memories/recall",
        ALICE,
        json!({"query": "\"; DROP TABLE memories; -- NEAR(a b) OR *"}),
    )
    .await?;
    assert_eq!(st, StatusCode::OK);
    // Nothing above was stored.
    let (_, all) = post(
        &s,
        "/v1/memories/recall",
        ALICE,
        json!({"query": "x typo contents", "mode": "keyword"}),
    )
    .await?;
    assert_eq!(all["hits"].as_array().map(Vec::len), Some(0), "{all}");
    // Reasoning without an LLM says so.
    let (st, e) = post(&s, "/v1/reason", ALICE, json!({"goal": "plan"})).await?;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(kind(&e), "not_configured");
    s.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_describes_the_served_routes() -> TestResult {
    let s = start().await?;
    let doc: Value = client()
        .get(s.url("/openapi.json"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    assert!(paths.len() >= 10);
    let schemas = doc["components"]["schemas"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    // Every $ref resolves.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in &all {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or(r);
        assert!(schemas.contains_key(name), "unresolved {r}");
    }
    // Every documented operation is served (no route-level 404 or 405).
    for (path, item) in &paths {
        for method in item
            .as_object()
            .map(|m| m.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
        {
            let url = s.url(&path.replace("{id}", "1"));
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes())?;
            let r = client()
                .request(m, &url)
                .bearer_auth(ALICE)
                .json(&json!({}))
                .send()
                .await?;
            assert_ne!(
                r.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            let body: Value = r.json().await.unwrap_or(Value::Null);
            assert!(
                !body["error"]["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("no such route"),
                "{method} {path} is documented but not served"
            );
        }
    }
    s.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_keeps_every_acknowledged_write() -> TestResult {
    let s = start().await?;
    let url = s.url("/v1/memories");
    let mut tasks = Vec::new();
    for c in 0..8 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut acked = Vec::new();
            for i in 0..1000 {
                let r = client
                    .post(&url)
                    .bearer_auth(ALICE)
                    .json(&json!({"content": format!("client {c} memory {i}")}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == StatusCode::CREATED => {
                        if let Ok(v) = r.json::<Value>().await {
                            acked.push((
                                v["id"].as_str().unwrap_or("").to_owned(),
                                format!("client {c} memory {i}"),
                            ));
                        }
                    }
                    _ => break,
                }
            }
            acked
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let dir = s.shutdown().await?;
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await?);
    }
    assert!(!acked.is_empty());
    eprintln!("{} writes acknowledged before shutdown", acked.len());
    let brain = brain_engines::open(config(dir.path())).await?;
    for (id, content) in &acked {
        let m = brain.get(id.parse()?).await?;
        assert_eq!(
            m.map(|m| m.content).as_deref(),
            Some(content.as_str()),
            "acknowledged write {id} lost"
        );
    }
    let hits = brain
        .recall(
            &brain::RecallQuery::new("client 3 memory", memory_core::Scope::user("alice"))
                .with_k(5),
        )
        .await?;
    assert!(!hits.is_empty(), "the index serves after the restart");
    brain.close().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_beyond_loopback_without_tokens_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let brain = brain_engines::open(config(dir.path())).await?;
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await?;
    let opts = brain_server::http::HttpOptions {
        config: brain_server::ServeConfig::default(),
        tokens: brain_server::Tokens::none(),
        local: brain_server::Principal::local(memory_core::Scope::global()),
        addr: None,
    };
    let r = brain_server::http::serve(
        brain_server::Api::new(std::sync::Arc::new(brain)),
        listener,
        opts,
        std::future::pending(),
    )
    .await;
    assert!(r.is_err_and(|e| e.message.contains("without a bearer token")));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_windows_are_per_scope() -> TestResult {
    let s = start().await?;
    for (role, content) in [("user", "deploy staging"), ("assistant", "deploying now")] {
        let (st, w) = post(
            &s,
            "/v1/context/messages",
            ALICE,
            json!({"role": role, "content": content, "scope": {"session": "s1"}}),
        )
        .await?;
        assert_eq!(st, StatusCode::OK, "{w}");
    }
    let (_, w) = get(&s, "/v1/context?session=s1", ALICE).await?;
    let contents: Vec<&str> = w["messages"]
        .as_array()
        .map(|m| m.iter().filter_map(|x| x["content"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(contents, ["deploy staging", "deploying now"]);
    assert_eq!(w["messages"][1]["role"], "assistant");
    // Bob's session of the same name is his own, and Alice's cannot be named.
    let (_, w) = get(&s, "/v1/context?session=s1", BOB).await?;
    assert_eq!(w["messages"].as_array().map(Vec::len), Some(0));
    let (st, _) = get(&s, "/v1/context?session=s1&user=alice", BOB).await?;
    assert_eq!(st, StatusCode::FORBIDDEN);
    let (st, _) = post(
        &s,
        "/v1/context/messages",
        ALICE,
        json!({"role": "robot", "content": "x"}),
    )
    .await?;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    s.shutdown().await?;
    Ok(())
}

/// One raw HTTP/1.1 exchange, so the test controls every header (reqwest sets `Host`).
async fn raw(
    s: &Running,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> TestResult<(u16, Value)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(s.addr).await?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nconnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("content-length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    req.push_str(body.unwrap_or(""));
    stream.write_all(req.as_bytes()).await?;
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let status: u16 = text.split(' ').nth(1).ok_or("no status line")?.parse()?;
    let (head, rest) = text.split_once("\r\n\r\n").ok_or("no header end")?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        // One chunk is enough for these small answers.
        rest.split_once("\r\n")
            .map(|(_, r)| r.rsplit_once("\r\n0\r\n").map_or(r, |(b, _)| b))
            .unwrap_or("")
            .to_owned()
    } else {
        rest.to_owned()
    };
    Ok((status, serde_json::from_str(&body).unwrap_or(Value::Null)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_hosts_and_origins_are_refused_on_every_route() -> TestResult {
    // No tokens on loopback: the setup a DNS-rebinding page would aim at.
    let s = start_with(brain_server::ServeConfig {
        allowed_hosts: vec!["brain.internal".into()],
        ..brain_server::ServeConfig::default()
    })
    .await?;
    let port = s.addr.port().to_string();
    let good = format!("127.0.0.1:{port}");
    let json_ct = ("content-type", "application/json");
    let remember = r#"{"content": "planted by a rebinding page"}"#;
    let recall = r#"{"query": "planted rebinding page", "mode": "keyword"}"#;

    let evil_hosts = [
        "attacker.example".to_owned(),
        format!("attacker.example:{port}"),
        format!("localhost.attacker.example:{port}"),
        String::new(),
    ];
    for host in &evil_hosts {
        for (method, path, body) in [
            ("POST", "/v1/memories", Some(remember)),
            ("POST", "/v1/memories/recall", Some(recall)),
            ("GET", "/v1/decisions", None),
            (
                "PUT",
                "/v1/preferences",
                Some(r#"{"key": "k", "value": 1}"#),
            ),
            ("GET", "/health", None),
            ("GET", "/openapi.json", None),
            ("GET", "/v2/nothing", None),
            ("POST", "/mcp", Some("{}")),
        ] {
            let (st, e) = raw(&s, method, path, &[("host", host), json_ct], body).await?;
            assert_eq!(st, 403, "{method} {path} with Host {host:?}: {e}");
            assert_eq!(kind(&e), "forbidden", "{method} {path}: {e}");
        }
    }
    // HTTP/1.0 without any Host header.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(s.addr).await?;
        stream.write_all(b"GET /health HTTP/1.0\r\n\r\n").await?;
        let mut out = Vec::new();
        stream.read_to_end(&mut out).await?;
        assert!(
            String::from_utf8_lossy(&out).starts_with("HTTP/1.0 403"),
            "{}",
            String::from_utf8_lossy(&out)
        );
    }
    // A good Host with a foreign or opaque Origin.
    for origin in [
        "http://attacker.example",
        &format!("http://attacker.example:{port}"),
        "null",
        "file://",
        "127.0.0.1",
    ] {
        for (method, path, body) in [
            ("POST", "/v1/memories", Some(remember)),
            ("GET", "/v1/preferences", None),
            ("GET", "/health", None),
            ("POST", "/mcp", Some("{}")),
        ] {
            let (st, e) = raw(
                &s,
                method,
                path,
                &[("host", &good), ("origin", origin), json_ct],
                body,
            )
            .await?;
            assert_eq!(st, 403, "{method} {path} with Origin {origin}: {e}");
            assert_eq!(kind(&e), "forbidden");
        }
    }
    // Nothing the refused requests carried was written.
    let (st, r) = raw(
        &s,
        "POST",
        "/v1/memories/recall",
        &[("host", &good), json_ct],
        Some(recall),
    )
    .await?;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["hits"].as_array().map(Vec::len), Some(0), "{r}");
    let (_, prefs) = raw(&s, "GET", "/v1/preferences", &[("host", &good)], None).await?;
    assert_eq!(
        prefs["preferences"].as_array().map(Vec::len),
        Some(0),
        "{prefs}"
    );

    // Loopback names, the bound address and allowed_hosts, with or without a port, and
    // Origins naming them, are served.
    let hosts = [
        good.clone(),
        "127.0.0.1".to_owned(),
        format!("localhost:{port}"),
        format!("LOCALHOST:{port}"),
        format!("[::1]:{port}"),
        "brain.internal".to_owned(),
        "brain.internal:8443".to_owned(),
    ];
    for (i, host) in hosts.iter().enumerate() {
        let body = format!(r#"{{"content": "written through host number {i}"}}"#);
        let (st, m) = raw(
            &s,
            "POST",
            "/v1/memories",
            &[("host", host), json_ct],
            Some(&body),
        )
        .await?;
        assert_eq!(st, 201, "Host {host}: {m}");
        let (st, h) = raw(&s, "GET", "/health", &[("host", host)], None).await?;
        assert_eq!(st, 200, "Host {host}: {h}");
    }
    for origin in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        "http://localhost:3000".to_owned(),
        "https://brain.internal".to_owned(),
    ] {
        let (st, r) = raw(
            &s,
            "POST",
            "/v1/memories/recall",
            &[("host", &good), ("origin", &origin), json_ct],
            Some(r#"{"query": "written through host number", "mode": "keyword", "k": 20}"#),
        )
        .await?;
        assert_eq!(st, 200, "Origin {origin}: {r}");
        assert_eq!(r["hits"].as_array().map(Vec::len), Some(hosts.len()), "{r}");
    }
    s.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_methods_and_media_types_get_json_errors() -> TestResult {
    let s = start().await?;
    // 405 on known paths, REST and MCP, keeping the Allow header.
    for (method, path) in [
        (reqwest::Method::DELETE, "/v1/memories"),
        (
            reqwest::Method::PATCH,
            "/v1/memories/0194a9d1-0000-7000-8000-000000000000",
        ),
        (reqwest::Method::GET, "/v1/recommend"),
        (reqwest::Method::POST, "/health"),
        (reqwest::Method::PUT, "/mcp"),
    ] {
        let r = client()
            .request(method.clone(), s.url(path))
            .bearer_auth(ALICE)
            .send()
            .await?;
        assert_eq!(
            r.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert!(r.headers().get("allow").is_some(), "{method} {path}");
        let ct = r.headers().get("content-type").cloned();
        let e: Value = r.json().await?;
        assert_eq!(kind(&e), "method_not_allowed", "{method} {path}: {e}");
        assert!(
            ct.is_some_and(|c| c.as_bytes().starts_with(b"application/json")),
            "{method} {path}"
        );
        assert!(
            e["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{e}"
        );
    }
    // 415 on REST and MCP.
    for path in ["/v1/memories", "/v1/memories/recall", "/mcp"] {
        let r = client()
            .post(s.url(path))
            .bearer_auth(ALICE)
            .header("content-type", "text/plain")
            .header("accept", "application/json, text/event-stream")
            .body(r#"{"content": "x"}"#)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "{path}");
        let e: Value = r.json().await?;
        assert_eq!(kind(&e), "unsupported_media_type", "{path}: {e}");
    }
    // Nothing was written.
    let (_, all) = post(
        &s,
        "/v1/memories/recall",
        ALICE,
        json!({"query": "x", "mode": "keyword"}),
    )
    .await?;
    assert_eq!(all["hits"].as_array().map(Vec::len), Some(0), "{all}");
    s.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_need_real_options_and_outcomes() -> TestResult {
    let s = start().await?;
    let ok = json!({"agent_type": "coder", "context": "flaky test", "options": ["retry", "rewrite"], "chosen_option": "rewrite"});
    let (st, d) = post(&s, "/v1/decisions", ALICE, ok.clone()).await?;
    assert_eq!(st, StatusCode::CREATED, "{d}");
    let id = d["id"].as_i64().unwrap_or(-1);
    for (body, needle) in [
        (
            json!({"agent_type": "coder", "context": "c", "chosen_option": "a"}),
            "options",
        ),
        (
            json!({"agent_type": "coder", "context": "c", "options": [], "chosen_option": "a"}),
            "option",
        ),
        (
            json!({"agent_type": "coder", "context": "c", "options": ["a", ""], "chosen_option": "a"}),
            "option",
        ),
        (
            json!({"agent_type": "coder", "context": "c", "options": ["a", "  "], "chosen_option": "a"}),
            "option",
        ),
        (
            json!({"agent_type": "coder", "context": "c", "options": ["a", "b"], "chosen_option": "c"}),
            "chosen_option",
        ),
        (
            json!({"agent_type": "coder", "context": "c", "options": ["a"], "chosen_option": "a", "task_bucket": "x".repeat(600)}),
            "bucket",
        ),
    ] {
        let (st, e) = post(&s, "/v1/decisions", ALICE, body.clone()).await?;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body} -> {e}");
        assert_eq!(kind(&e), "invalid_input");
        let msg = e["error"]["message"].as_str().unwrap_or("").to_lowercase();
        assert!(msg.contains(needle), "{body}: {msg}");
    }
    for outcome in ["", "   "] {
        let (st, e) = post(
            &s,
            &format!("/v1/decisions/{id}/outcome"),
            ALICE,
            json!({"outcome": outcome, "reward": 1.0}),
        )
        .await?;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{outcome:?} -> {e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("outcome")),
            "{e}"
        );
    }
    // Only the good decision exists, still pending.
    let (_, list) = get(&s, "/v1/decisions", ALICE).await?;
    let ds = list["decisions"].as_array().cloned().unwrap_or_default();
    assert_eq!(ds.len(), 1, "{list}");
    assert_eq!(ds[0]["id"], id);
    assert!(ds[0].get("outcome").is_none(), "{list}");
    s.shutdown().await?;
    Ok(())
}

/// Recall takes the full filter (kinds, metadata, time range) and a score threshold, on
/// REST as on MCP (one argument type), and bad filters are 400s naming the field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_takes_filters_and_a_score_threshold() -> TestResult {
    let s = start().await?;
    for (content, kind, env) in [
        (
            "the staging database listens on port 5433",
            "fact",
            "staging",
        ),
        (
            "the production database listens on port 5432",
            "fact",
            "prod",
        ),
        (
            "we moved the database to a new host last week",
            "episode",
            "prod",
        ),
    ] {
        let (st, m) = post(
            &s,
            "/v1/memories",
            ALICE,
            json!({"content": content, "kind": kind, "metadata": {"env": env}}),
        )
        .await?;
        assert_eq!(st, StatusCode::CREATED, "{m}");
    }
    let recall = |body: Value| post(&s, "/v1/memories/recall", ALICE, body);
    let contents = |r: &Value| -> Vec<String> {
        r["hits"]
            .as_array()
            .map(|h| {
                h.iter()
                    .map(|x| x["memory"]["content"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };

    let (st, r) = recall(json!({"query": "database port", "filters": {"metadata": {"env": "prod"}, "kinds": ["fact"]}})).await?;
    assert_eq!(st, StatusCode::OK, "{r}");
    assert_eq!(
        contents(&r),
        ["the production database listens on port 5432"]
    );

    let (_, r) =
        recall(json!({"query": "database", "filters": {"created_after": "2999-01-01T00:00:00Z"}}))
            .await?;
    assert!(contents(&r).is_empty(), "{r}");
    let (_, r) = recall(
        json!({"query": "database", "filters": {"created_before": "2999-01-01T00:00:00+02:00"}}),
    )
    .await?;
    assert_eq!(contents(&r).len(), 3, "{r}");

    let (_, all) = recall(json!({"query": "staging database port", "k": 10})).await?;
    assert_eq!(contents(&all).len(), 3);
    // Between the first and the second score (recency moves scores a hair per call).
    let score = |i: usize| all["hits"][i]["score"].as_f64().unwrap_or(0.0);
    let threshold = (score(0) + score(1)) / 2.0;
    assert!(score(0) > threshold && threshold > score(1), "{all}");
    let (_, top) =
        recall(json!({"query": "staging database port", "k": 10, "min_score": threshold})).await?;
    assert_eq!(
        contents(&top),
        ["the staging database listens on port 5433"],
        "{top}"
    );

    for (body, needle) in [
        (
            json!({"query": "x", "filters": {"created_after": "yesterday"}}),
            "created_after",
        ),
        (
            json!({"query": "x", "filters": {"metadata": {"env": ["a"]}}}),
            "metadata",
        ),
        (json!({"query": "x", "filters": {"kind": ["fact"]}}), "kind"),
        (json!({"query": "x", "min_score": "high"}), "min_score"),
    ] {
        let (st, e) = recall(body.clone()).await?;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{body}: {e}");
        assert!(
            e["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains(needle),
            "{body}: {e}"
        );
    }
    s.shutdown().await?;
    Ok(())
}

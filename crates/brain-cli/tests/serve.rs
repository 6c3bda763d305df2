//! `brain serve` and `brain token` as a user runs them: the built binary as a child process.

mod common;

use common::TestBrain;
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

fn args(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_uses_the_brain_over_stdio_mcp() -> TestResult {
    let b = TestBrain::new();
    let mut cmd = b.command();
    cmd.args(["serve", "--mcp", "--user", "alice"]);
    let client = ().serve(TokioChildProcess::new(tokio::process::Command::from(cmd))?).await?;
    let info = client
        .peer_info()
        .and_then(|i| i.server_info.clone())
        .map(|s| s.name);
    assert_eq!(info.as_deref(), Some("brain"));
    let r = client
        .call_tool(CallToolRequestParams::new("remember").with_arguments(args(
            json!({"content": "The release branch is cut on Thursdays"}),
        )))
        .await?;
    let m = r.structured_content.clone().unwrap_or_default();
    assert_eq!(m["scope"]["user"], "alice", "bound to --user: {r:?}");
    let r = client
        .call_tool(
            CallToolRequestParams::new("recall")
                .with_arguments(args(json!({"query": "when is the release branch cut?"}))),
        )
        .await?;
    let hits = r.structured_content.clone().unwrap_or_default();
    assert_eq!(
        hits["hits"][0]["memory"]["content"],
        "The release branch is cut on Thursdays"
    );
    let r = client
        .call_tool(
            CallToolRequestParams::new("recall")
                .with_arguments(args(json!({"query": "x", "scope": {"user": "bob"}}))),
        )
        .await?;
    assert_eq!(r.is_error, Some(true), "the stdio server is bound to alice");
    client.cancel().await?;
    // The server closed the brain when the client went away; the memory is stored.
    let found = b.recall("release branch", &["--user", "alice"]);
    assert_eq!(found, vec!["The release branch is cut on Thursdays"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_server_stops_on_sigterm_keeping_acknowledged_writes() -> TestResult {
    let b = TestBrain::new();
    let server = b.serve_http::<&str>(&[]);
    let addr = server.addr.clone();
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for i in 0..20 {
        let r = client
            .post(format!("http://{addr}/v1/memories"))
            .json(&json!({"content": format!("served memory {i}"), "scope": {"user": "carol"}}))
            .send()
            .await?;
        assert_eq!(r.status(), 201);
        ids.push(
            r.json::<Value>().await?["id"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        );
    }
    assert_eq!(server.stop(), Some(0), "a clean stop");
    let stats = b.stats();
    assert_eq!(stats["store"]["memories"], 20, "{stats}");
    let found = b.run(&[
        "--json",
        "recall",
        "served memory",
        "--user",
        "carol",
        "--k",
        "20",
    ]);
    let out = found.ok();
    for id in ids {
        assert!(out.contains(&id), "acknowledged {id} is missing");
    }
    Ok(())
}

#[test]
fn serving_beyond_loopback_without_tokens_is_refused() {
    let b = TestBrain::new();
    let run = b.run(&["serve", "--http", "0.0.0.0:0"]);
    run.fails(4, "without a bearer token");
    assert!(
        !b.data().join("brain.db").exists(),
        "refused before creating anything"
    );
    let run = b.run(&["serve"]);
    assert_eq!(run.code, 2, "--mcp or --http is required: {run:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_token_works_once_configured() -> TestResult {
    let b = TestBrain::new();
    let made = b
        .run(&[
            "--json", "token", "new", "--name", "ci-agent", "--user", "dave",
        ])
        .json();
    let token = made["token"].as_str().ok_or("no token")?.to_owned();
    let entry = made["config"].as_str().ok_or("no config")?;
    assert!(
        !entry.contains(&token),
        "the config entry holds the digest, not the token"
    );
    assert!(entry.contains("user = \"dave\""), "{entry}");
    let config = b.path("brain.toml");
    std::fs::write(&config, entry)?;
    let config = config.to_string_lossy().into_owned();
    let server = b.serve_http(&["--config", &config]);
    let addr = server.addr.clone();
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/v1/memories");
    let denied = client
        .post(&url)
        .json(&json!({"content": "x"}))
        .send()
        .await?;
    assert_eq!(denied.status(), 401);
    let ok = client
        .post(&url)
        .bearer_auth(&token)
        .json(&json!({"content": "dave's note"}))
        .send()
        .await?;
    assert_eq!(ok.status(), 201);
    assert_eq!(ok.json::<Value>().await?["scope"]["user"], "dave");
    assert_eq!(server.stop(), Some(0));
    Ok(())
}

#[test]
fn a_broken_serve_section_is_a_config_error() {
    let b = TestBrain::new();
    let config = b.path("brain.toml");
    std::fs::write(&config, "[serve]\nmax_body_bytez = 10\n").unwrap();
    let run = b.run(&[
        "--config",
        config.to_str().unwrap(),
        "serve",
        "--http",
        "127.0.0.1:0",
    ]);
    run.fails(4, "max_body_bytez");
}

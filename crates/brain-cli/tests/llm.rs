//! `brain llm` end to end: the binary against a local HTTP server speaking Ollama's
//! protocol, and without any provider.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

mod common;

use common::TestBrain;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn config_file(b: &TestBrain, ollama: &str) -> String {
    let file = b.path("brain.toml");
    std::fs::write(
        &file,
        format!(
            "[llm]\nlocal_model = \"llama3.1:8b\"\n\n[[llm.providers]]\nkind = \"ollama\"\nbase_url = \"{ollama}\"\n\n\
             [llm.resilience]\nmax_retries = 0\ntimeout_secs = 5\n"
        ),
    )
    .unwrap();
    file.display().to_string()
}

#[test]
fn without_a_provider_ask_says_so_and_route_still_works() {
    let b = TestBrain::new();
    let run = b.run(&["llm", "ask", "hello"]);
    run.fails(6, "no LLM provider is configured");

    let route = b
        .run(&[
            "--json",
            "llm",
            "route",
            "--task",
            "reasoning",
            "--complexity",
            "complex",
        ])
        .json();
    assert_eq!(route["rule"], "complex_reasoning");
    assert_eq!(route["candidates"][0]["provider"], "anthropic");
    assert_eq!(route["candidates"][0]["model"], "claude-sonnet-4-20250514");
    assert_eq!(route["candidates"][0]["configured"], false);
    assert_eq!(route["candidates"][1]["model"], "gpt-4o");

    let text = b.run(&["llm", "route", "--task", "embedding"]);
    assert!(text.ok().contains("ollama/nomic-embed-text"), "{text:?}");
    b.run(&["llm", "route", "--task", "dreaming"])
        .fails(2, "unknown task type");
    // Nothing about LLMs creates a brain.
    assert!(!b.data().exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn ask_goes_to_the_routed_model_and_reports_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "model": "llama3.1:8b", "created_at": "2025-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": "yes"},
            "done": true, "done_reason": "stop", "prompt_eval_count": 21, "eval_count": 1
        })))
        .mount(&server)
        .await;
    let b = TestBrain::new();
    let config = config_file(&b, &server.uri());
    let run = tokio::task::spawn_blocking(move || {
        b.run(&[
            "--config",
            &config,
            "llm",
            "ask",
            "--task",
            "classification",
            "--complexity",
            "simple",
            "good news?",
        ])
    })
    .await
    .unwrap();
    assert_eq!(run.ok().trim(), "yes");
    assert!(
        run.stderr
            .contains("ollama/llama3.1:8b (classification), 21 + 1 tokens"),
        "{run:?}"
    );
    let sent = server.received_requests().await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(body["model"], "llama3.1:8b");
    assert_eq!(body["messages"][0]["content"], "good news?");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_server_is_an_unavailable_error_naming_every_attempt() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(
            ResponseTemplate::new(500).set_body_string("{\"error\":\"model runner crashed\"}"),
        )
        .mount(&server)
        .await;
    let b = TestBrain::new();
    let config = config_file(&b, &server.uri());
    let run = tokio::task::spawn_blocking(move || {
        b.run(&["--config", &config, "llm", "ask", "--task", "chat", "hi"])
    })
    .await
    .unwrap();
    // The default rule falls back to Claude, which is not configured here.
    run.fails(6, "model runner crashed");
    assert!(
        run.stderr
            .contains("provider `anthropic` is not configured"),
        "{run:?}"
    );
}

#[test]
fn models_lists_the_registry() {
    let b = TestBrain::new();
    let out = b.run(&["--json", "llm", "models"]).json();
    let models = out["models"].as_array().unwrap();
    let claude = models
        .iter()
        .find(|m| m["model"] == "claude-sonnet-4-20250514")
        .unwrap();
    assert_eq!(claude["context_window"], 200_000);
    assert_eq!(claude["input_usd_per_mtok"], 3.0);
    assert_eq!(out["configured_providers"], json!([]));
}

#[test]
fn feedback_and_recommend_work_without_an_llm() {
    let b = TestBrain::new();
    let learned = b
        .run(&[
            "--json",
            "feedback",
            "great job, thanks",
            "--context",
            "refactor",
            "--success",
        ])
        .json();
    assert_eq!(learned["source"], "offline");
    assert!(learned["reward"].as_f64().unwrap() > 0.5, "{learned}");
    assert_eq!(
        learned["learned"]["kind"], "learned_preference",
        "{learned}"
    );
    let prefs = b.run(&["--json", "pref", "list"]).json();
    assert_eq!(
        prefs.as_array().map(Vec::len),
        Some(0),
        "not a setting: {prefs}"
    );

    let did = b
        .run(&[
            "decision",
            "record",
            "--agent-type",
            "tester",
            "--context",
            "run tests",
            "--option",
            "nextest",
            "--option",
            "cargo test",
            "--chosen",
            "cargo test",
        ])
        .ok()
        .trim()
        .to_owned();
    let fed = b
        .run(&[
            "--json",
            "feedback",
            "that worked perfectly",
            "--decision",
            &did,
            "--tests-passed",
            "40",
        ])
        .json();
    assert_eq!(fed["outcome"]["id"].to_string(), did);
    let ranked = b
        .run(&[
            "--json",
            "recommend",
            "--agent-type",
            "tester",
            "--no-explore",
            "nextest",
            "cargo test",
        ])
        .json();
    assert_eq!(ranked["ranked"][0]["option"], "cargo test", "{ranked}");
    let text = b.run(&[
        "recommend",
        "--agent-type",
        "tester",
        "--no-explore",
        "nextest",
        "cargo test",
    ]);
    assert!(text.ok().starts_with("1. cargo test"), "{text:?}");

    b.run(&["reason", "deploy the release"])
        .fails(6, "no LLM provider is configured");
}

#[tokio::test(flavor = "multi_thread")]
async fn reason_prints_the_plan_and_records_the_decision() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "model": "llama3.1:8b", "created_at": "2025-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": "1. Build\n   - run cargo build\n2. Ship\n\nDecision: ship it"},
            "done": true, "done_reason": "stop", "prompt_eval_count": 50, "eval_count": 20
        })))
        .mount(&server)
        .await;
    let b = TestBrain::new();
    let config = config_file(&b, &server.uri());
    let run = tokio::task::spawn_blocking(move || {
        let text = b.run(&[
            "--config",
            &config,
            "reason",
            "ship the release",
            "--complexity",
            "medium",
        ]);
        let listed = b.run(&["--json", "decision", "list"]).json();
        (text, listed)
    })
    .await
    .unwrap();
    let (text, listed) = run;
    let out = text.ok();
    assert!(
        out.contains("1. Build") && out.contains("   1. run cargo build"),
        "{out}"
    );
    assert!(out.contains("decision: ship it (answer)"), "{out}");
    assert!(out.contains("thinking: ollama/llama3.1:8b"), "{out}");
    assert_eq!(listed[0]["chosen_option"], "ship it");
    assert_eq!(listed[0]["agent_type"], "reasoner");
}

#[test]
fn distill_groups_patterns_offline_and_needs_a_provider_for_llm() {
    let b = TestBrain::new();
    for port in ["8080", "3000", "5432"] {
        b.run(&[
            "pattern",
            "add",
            "--type",
            "error_fix",
            "--context",
            &format!("address already in use port {port} when starting the dev server"),
            "--solution",
            &format!("kill the process holding port {port} with fuser -k {port}/tcp"),
        ])
        .ok();
    }
    let reports = b.run(&["--json", "distill", "--type", "error_fix"]).json();
    assert_eq!(
        reports[0]["created"].as_array().unwrap().len(),
        1,
        "{reports}"
    );
    assert_eq!(reports[0]["llm_calls"], 0);
    let text = b.run(&["distill"]);
    assert!(
        text.ok()
            .contains("error_fix: 3 patterns, 1 groups: 0 created, 0 updated, 1 unchanged"),
        "{text:?}"
    );
    b.run(&["distill", "--llm"])
        .fails(6, "no LLM provider is configured");
}

/// With only Ollama configured, a task whose rule names cloud models is served locally
/// (and `llm route` shows it); `--model` asks a named deployment; `--json` gives the
/// latency in milliseconds.
#[tokio::test(flavor = "multi_thread")]
async fn a_local_only_setup_serves_every_task_and_model_names_one() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "model": "llama3.1:8b", "created_at": "2025-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": "local answer"},
            "done": true, "done_reason": "stop", "prompt_eval_count": 5, "eval_count": 2
        })))
        .mount(&server)
        .await;
    let b = TestBrain::new();
    let config = config_file(&b, &server.uri());
    let (route, ask, named, unknown) = tokio::task::spawn_blocking(move || {
        let hard = ["--task", "reasoning", "--complexity", "complex"];
        let route = b.run(&[&["--json", "--config", &config, "llm", "route"], &hard[..]].concat());
        let ask = b.run(
            &[
                &["--json", "--config", &config, "llm", "ask"],
                &hard[..],
                &["why?"],
            ]
            .concat(),
        );
        let named = b.run(&[
            "--config",
            &config,
            "llm",
            "ask",
            "--model",
            "ollama/qwen3:4b",
            "hi",
        ]);
        let unknown = b.run(&[
            "--config",
            &config,
            "llm",
            "ask",
            "--model",
            "openai/gpt-4o",
            "hi",
        ]);
        (route, ask, named, unknown)
    })
    .await
    .unwrap();
    let route = route.json();
    assert_eq!(route["rule"], "complex_reasoning");
    assert_eq!(route["candidates"][0]["provider"], "ollama");
    assert_eq!(route["candidates"][0]["configured"], true);
    assert!(
        route["reason"].as_str().unwrap().contains("falls back"),
        "{route}"
    );
    let ask = ask.json();
    assert_eq!(ask["completion"]["text"], "local answer");
    assert!(ask["completion"]["latency_ms"].is_u64(), "{ask}");
    assert_eq!(named.ok().trim(), "local answer");
    let sent = server.received_requests().await.unwrap();
    let models: Vec<String> = sent
        .iter()
        .map(|r| {
            serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["model"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(models, ["llama3.1:8b", "qwen3:4b"]);
    unknown.fails(6, "provider `openai` is not configured");
    assert!(
        unknown.stderr.contains("--model"),
        "the hint names the way out: {unknown:?}"
    );
}

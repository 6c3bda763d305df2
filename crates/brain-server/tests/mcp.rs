//! The MCP server driven by rmcp's own client over streamable HTTP on loopback.

mod common;

use common::*;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};

async fn connect(s: &Running, token: &str) -> TestResult<RunningService<RoleClient, ()>> {
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(s.url("/mcp")).auth_header(token),
    );
    Ok(().serve(transport).await?)
}

async fn call(
    client: &RunningService<RoleClient, ()>,
    tool: &str,
    args: Value,
) -> TestResult<CallToolResult> {
    let args = args.as_object().cloned().unwrap_or_default();
    Ok(client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(args))
        .await?)
}

fn structured(r: &CallToolResult) -> Value {
    assert_ne!(r.is_error, Some(true), "tool error: {:?}", r.content);
    r.structured_content.clone().unwrap_or(Value::Null)
}

fn error_text(r: &CallToolResult) -> String {
    assert_eq!(r.is_error, Some(true), "expected a tool error: {r:?}");
    r.content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_remembers_recalls_and_learns_over_mcp() -> TestResult {
    let s = start().await?;
    let client = connect(&s, ALICE).await?;

    let tools = client.list_all_tools().await?;
    let names: Vec<String> = tools.iter().map(|t| t.name.to_string()).collect();
    for expected in [
        "remember",
        "recall",
        "forget",
        "set_preference",
        "get_preferences",
        "add_pattern",
        "pattern_outcome",
        "search_patterns",
        "record_decision",
        "decision_outcome",
        "list_decisions",
        "feedback",
        "recommend",
        "add_message",
        "get_context",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(
        !names.iter().any(|n| n == "reason"),
        "reason is offered only with an LLM"
    );
    for t in &tools {
        assert!(
            t.description.as_deref().is_some_and(|d| d.len() > 40),
            "{} needs a description",
            t.name
        );
        assert_eq!(
            t.input_schema.get("type"),
            Some(&json!("object")),
            "{}",
            t.name
        );
        assert!(t.output_schema.is_some(), "{} has no output schema", t.name);
    }
    let recall_tool = tools.iter().find(|t| t.name == "recall");
    let props = recall_tool
        .and_then(|t| t.input_schema.get("properties"))
        .cloned()
        .unwrap_or_default();
    assert!(
        props.get("query").is_some() && props.get("scope").is_some(),
        "{props}"
    );

    let m = structured(
        &call(
            &client,
            "remember",
            json!({"content": "The staging database is Postgres 16", "importance": 0.8}),
        )
        .await?,
    );
    assert_eq!(m["scope"]["user"], "alice");
    let r = structured(
        &call(
            &client,
            "recall",
            json!({"query": "which postgres version on staging?"}),
        )
        .await?,
    );
    assert_eq!(
        r["hits"][0]["memory"]["content"],
        "The staging database is Postgres 16"
    );

    let d = structured(
        &call(
            &client,
            "record_decision",
            json!({"agent_type": "deployer", "context": "migrate staging", "options": ["blue-green", "in-place"], "chosen_option": "blue-green"}),
        )
        .await?,
    );
    let f = structured(
        &call(&client, "feedback", json!({"feedback": "great, worked first time", "decision_id": d["id"], "success": true})).await?,
    );
    assert!(f["reward"].as_f64().is_some_and(|x| x > 0.0), "{f}");
    let rec = structured(
        &call(
            &client,
            "recommend",
            json!({"agent_type": "deployer", "options": ["in-place", "blue-green"]}),
        )
        .await?,
    );
    assert_eq!(rec["ranked"][0]["option"], "blue-green", "{rec}");

    // Failures come back as tool errors the agent can read; nothing is written.
    let e = error_text(
        &call(
            &client,
            "recall",
            json!({"query": "x", "scope": {"user": "bob"}}),
        )
        .await?,
    );
    assert!(e.contains("forbidden") && e.contains("bob"), "{e}");
    let e = error_text(&call(&client, "remember", json!({"content": ""})).await?);
    assert!(e.contains("invalid_input"), "{e}");
    let e = error_text(
        &call(
            &client,
            "decision_outcome",
            json!({"id": 999_999, "outcome": "x", "reward": 1.0}),
        )
        .await?,
    );
    assert!(e.contains("not_found"), "{e}");
    // Arguments that do not match the schema are refused by the protocol layer.
    let bad = call(&client, "remember", json!({"contents": "typo"})).await;
    assert!(bad.is_err() || bad.is_ok_and(|r| r.is_error == Some(true)));

    client.cancel().await?;
    s.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_over_http_needs_a_known_token_and_keeps_users_apart() -> TestResult {
    let s = start().await?;
    assert!(
        connect(&s, "wrong-token-wrong-token-wrong").await.is_err(),
        "an unknown token cannot even initialise"
    );

    let bob = connect(&s, BOB).await?;
    structured(
        &call(
            &bob,
            "remember",
            json!({"content": "Bob's API key lives in vault path secret/bob"}),
        )
        .await?,
    );
    let alice = connect(&s, ALICE).await?;
    let r = structured(&call(&alice, "recall", json!({"query": "API key vault path"})).await?);
    assert_eq!(
        r["hits"].as_array().map(Vec::len),
        Some(0),
        "alice sees none of bob's memories: {r}"
    );
    let r = structured(&call(&bob, "recall", json!({"query": "API key vault path"})).await?);
    assert_eq!(r["hits"].as_array().map(Vec::len), Some(1));

    let reader = connect(&s, ALICE_READER).await?;
    let e = error_text(&call(&reader, "remember", json!({"content": "x"})).await?);
    assert!(e.contains("read-only"), "{e}");
    for c in [bob, alice, reader] {
        c.cancel().await?;
    }
    s.shutdown().await?;
    Ok(())
}

/// Ollama's `/api/chat`, answering a thinking prompt with a plan and a deciding prompt
/// with a choice.
struct Ollama;

impl wiremock::Respond for Ollama {
    fn respond(&self, request: &wiremock::Request) -> wiremock::ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        let prompt = body["messages"]
            .as_array()
            .and_then(|m| m.last())
            .and_then(|m| m["content"].as_str())
            .unwrap_or("")
            .to_owned();
        let text = if prompt.contains("Chosen:") {
            "1. blue-green\n   Pros: instant rollback\n   Score: 8\n2. rolling\n   Score: 5\n\nChosen: blue-green"
        } else {
            "Let me think step by step.\n1. Check staging\n2. Roll out\n\nDecision: use blue-green"
        };
        wiremock::ResponseTemplate::new(200).set_body_json(json!({
            "model": body["model"], "created_at": "2025-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": text},
            "done": true, "done_reason": "stop", "prompt_eval_count": 100, "eval_count": 20
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reason_is_a_tool_when_an_llm_is_configured() -> TestResult {
    let ollama = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/api/chat"))
        .respond_with(Ollama)
        .mount(&ollama)
        .await;
    let dir = tempfile::tempdir()?;
    let mut c = config(dir.path());
    c.llm.providers = vec![brain::llm_router::ProviderConfig::Ollama(
        brain::llm_router::providers::ollama::OllamaConfig {
            name: "ollama".into(),
            base_url: ollama.uri(),
        },
    )];
    c.llm.resilience.max_retries = 0;
    let s = start_brain(dir, c, serve_config()).await?;
    let client = connect(&s, ALICE).await?;
    let tools = client.list_all_tools().await?;
    assert!(tools.iter().any(|t| t.name == "reason"));
    let out = structured(
        &call(
            &client,
            "reason",
            json!({"goal": "deploy the release to staging", "options": ["blue-green", "rolling"], "complexity": "medium"}),
        )
        .await?,
    );
    assert_eq!(out["decision"], "blue-green", "{out}");
    assert!(
        out["plan"].as_array().is_some_and(|p| p.len() >= 2),
        "{out}"
    );
    // The decision was recorded in alice's scope and its outcome can be reported.
    let o = structured(
        &call(
            &client,
            "decision_outcome",
            json!({"id": out["decision_id"], "outcome": "smooth", "reward": 1.0}),
        )
        .await?,
    );
    assert_eq!(o["decision"]["scope"]["user"], "alice");
    client.cancel().await?;
    s.shutdown().await?;
    Ok(())
}

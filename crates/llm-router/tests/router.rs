//! The router over real local HTTP servers speaking Ollama's, OpenAI's and Anthropic's
//! protocols (wiremock): the seed's table falls back as it says, keeps to context
//! windows, honours Retry-After, times out, opens circuits, never falls back for
//! embeddings, and never logs a key.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use llm_router::providers::anthropic::AnthropicConfig;
use llm_router::providers::ollama::OllamaConfig;
use llm_router::providers::openai::OpenAiConfig;
use llm_router::routing::{SEED_CLAUDE, SEED_LOCAL_MODEL};
use llm_router::{
    Complexity, LlmConfig, LlmError, ProviderConfig, Resilience, RouteRequest, Router, StreamEvent,
    Target, TaskType, collect_stream,
};
use memory_core::CompletionRequest;
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const OPENAI_KEY: &str = "sk-test-OPENAI-never-logged";
const ANTHROPIC_KEY: &str = "sk-ant-test-ANTHROPIC-never-logged";

struct Servers {
    ollama: MockServer,
    openai: MockServer,
    lmstudio: MockServer,
    anthropic: MockServer,
}

impl Servers {
    async fn start() -> Self {
        Servers {
            ollama: MockServer::start().await,
            openai: MockServer::start().await,
            lmstudio: MockServer::start().await,
            anthropic: MockServer::start().await,
        }
    }

    fn config(&self, resilience: Resilience) -> LlmConfig {
        LlmConfig {
            providers: vec![
                ProviderConfig::Ollama(OllamaConfig {
                    name: "ollama".into(),
                    base_url: self.ollama.uri(),
                }),
                ProviderConfig::Openai(OpenAiConfig {
                    name: "openai".into(),
                    base_url: format!("{}/v1", self.openai.uri()),
                    api_key: Some(SecretString::from(OPENAI_KEY)),
                    api_key_env: None,
                }),
                ProviderConfig::Openai(OpenAiConfig {
                    base_url: format!("{}/v1", self.lmstudio.uri()),
                    ..OpenAiConfig::lm_studio()
                }),
                ProviderConfig::Anthropic(AnthropicConfig {
                    base_url: self.anthropic.uri(),
                    api_key: Some(SecretString::from(ANTHROPIC_KEY)),
                    api_key_env: None,
                    ..AnthropicConfig::default()
                }),
            ],
            resilience,
            ..LlmConfig::default()
        }
    }

    fn router(&self) -> Router {
        self.config(fast()).build().unwrap()
    }
}

/// Short limits so that the tests run in about a second.
fn fast() -> Resilience {
    Resilience {
        timeout_secs: 1.0,
        first_token_secs: 1.0,
        between_tokens_secs: 1.0,
        max_retries: 1,
        base_delay_ms: 10,
        max_delay_ms: 50,
        max_retry_after_secs: 2.0,
        breaker_failures: 5,
        breaker_cooldown_secs: 60.0,
    }
}

fn ollama_answer(model: &str, text: &str) -> Value {
    json!({
        "model": model, "created_at": "2025-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": text},
        "done": true, "done_reason": "stop", "prompt_eval_count": 5, "eval_count": 2
    })
}

fn openai_answer(model: &str, text: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}
    })
}

fn anthropic_answer(text: &str) -> Value {
    json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-20250514",
        "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
        "usage": {"input_tokens": 1000, "output_tokens": 100}
    })
}

fn anthropic_stream(text: &[&str]) -> ResponseTemplate {
    let mut body = String::from(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-20250514\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n\
         event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    );
    for t in text {
        body.push_str(&format!(
            "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{t}\"}}}}\n\n"
        ));
    }
    body.push_str(
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n\
         event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":4}}\n\n\
         event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    );
    ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")
}

async fn mount(server: &MockServer, verb: &str, route: &str, response: ResponseTemplate) {
    Mock::given(method(verb))
        .and(path(route))
        .respond_with(response)
        .mount(server)
        .await;
}

/// `response` for the first `n` calls only; later mounts answer the rest.
async fn mount_times(server: &MockServer, route: &str, n: u64, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(response)
        .up_to_n_times(n)
        .with_priority(1)
        .mount(server)
        .await;
}

async fn hits(server: &MockServer) -> usize {
    server.received_requests().await.map_or(0, |r| r.len())
}

async fn models_requested(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .filter_map(|v| v["model"].as_str().map(str::to_owned))
        .collect()
}

fn prompt(text: &str) -> CompletionRequest {
    CompletionRequest::prompt(text)
}

fn route(task: TaskType, complexity: Complexity) -> RouteRequest {
    RouteRequest::new(task, complexity)
}

#[tokio::test]
async fn complex_reasoning_goes_to_claude() {
    let s = Servers::start().await;
    mount(
        &s.anthropic,
        "POST",
        "/v1/messages",
        ResponseTemplate::new(200).set_body_json(anthropic_answer("deep")),
    )
    .await;
    let r = s
        .router()
        .chat(
            &route(TaskType::Reasoning, Complexity::Complex),
            prompt("why?"),
        )
        .await
        .unwrap();
    assert_eq!(r.completion.text, "deep");
    assert_eq!(
        r.served_by,
        Target::new("anthropic", "claude-sonnet-4-20250514")
    );
    assert_eq!(r.decision.rule, "complex_reasoning");
    // $3 and $15 per million tokens.
    let cost = r.cost_usd.unwrap();
    assert!(
        (cost - (1000.0 * 3.0 + 100.0 * 15.0) / 1e6).abs() < 1e-12,
        "{cost}"
    );
    assert_eq!(hits(&s.openai).await, 0);
}

#[tokio::test]
async fn a_long_retry_after_falls_back_at_once_to_gpt4o() {
    let s = Servers::start().await;
    mount(
        &s.anthropic,
        "POST",
        "/v1/messages",
        ResponseTemplate::new(429).insert_header("retry-after", "60"),
    )
    .await;
    mount(
        &s.openai,
        "POST",
        "/v1/chat/completions",
        ResponseTemplate::new(200).set_body_json(openai_answer("gpt-4o", "fallback")),
    )
    .await;
    let started = Instant::now();
    let r = s
        .router()
        .chat(
            &route(TaskType::Reasoning, Complexity::Complex),
            prompt("why?"),
        )
        .await
        .unwrap();
    assert_eq!(r.served_by, Target::new("openai", "gpt-4o"));
    assert_eq!(r.completion.text, "fallback");
    assert_eq!(r.attempts.len(), 2);
    assert!(
        r.attempts[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("rate-limited")
    );
    assert_eq!(
        hits(&s.anthropic).await,
        1,
        "a 60 s Retry-After is not waited for"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(models_requested(&s.openai).await, vec!["gpt-4o"]);
}

#[tokio::test]
async fn a_short_retry_after_is_waited_for_and_retried() {
    let s = Servers::start().await;
    mount_times(
        &s.anthropic,
        "/v1/messages",
        1,
        ResponseTemplate::new(429).insert_header("retry-after", "1"),
    )
    .await;
    mount(
        &s.anthropic,
        "POST",
        "/v1/messages",
        ResponseTemplate::new(200).set_body_json(anthropic_answer("after waiting")),
    )
    .await;
    let started = Instant::now();
    let r = s
        .router()
        .chat(
            &route(TaskType::Reasoning, Complexity::Complex),
            prompt("why?"),
        )
        .await
        .unwrap();
    assert_eq!(r.completion.text, "after waiting");
    assert_eq!(hits(&s.anthropic).await, 2);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(hits(&s.openai).await, 0);
}

#[tokio::test]
async fn a_failing_local_model_is_retried_then_falls_back_to_claude() {
    let s = Servers::start().await;
    mount(
        &s.ollama,
        "POST",
        "/api/chat",
        ResponseTemplate::new(500).set_body_string("{\"error\":\"out of memory\"}"),
    )
    .await;
    mount(
        &s.anthropic,
        "POST",
        "/v1/messages",
        ResponseTemplate::new(200).set_body_json(anthropic_answer("cloud")),
    )
    .await;
    let r = s
        .router()
        .chat(&route(TaskType::Chat, Complexity::Medium), prompt("hello"))
        .await
        .unwrap();
    assert_eq!(r.decision.rule, "default");
    assert_eq!(r.served_by.provider, "anthropic");
    assert_eq!(hits(&s.ollama).await, 2, "one call and one retry");
    assert!(
        r.attempts[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("out of memory")
    );
}

#[tokio::test]
async fn a_timeout_falls_back_from_ollama_to_lm_studio() {
    let s = Servers::start().await;
    mount(
        &s.ollama,
        "POST",
        "/api/chat",
        ResponseTemplate::new(200)
            .set_body_json(ollama_answer("llama3.1:8b", "too late"))
            .set_delay(Duration::from_secs(3)),
    )
    .await;
    mount(
        &s.lmstudio,
        "POST",
        "/v1/chat/completions",
        ResponseTemplate::new(200).set_body_json(openai_answer("local-model", "positive")),
    )
    .await;
    let r = s
        .router()
        .chat(
            &route(TaskType::Classification, Complexity::Simple),
            prompt("good or bad?"),
        )
        .await
        .unwrap();
    assert_eq!(r.served_by, Target::new("lmstudio", "local-model"));
    assert_eq!(r.completion.text, "positive");
    assert!(
        r.attempts[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("timed out"),
        "{:?}",
        r.attempts
    );
    assert_eq!(r.cost_usd, Some(0.0), "local models cost nothing");
}

#[tokio::test]
async fn an_unknown_model_falls_back_from_claude_to_deepseek_coder() {
    let s = Servers::start().await;
    mount(
        &s.anthropic,
        "POST",
        "/v1/messages",
        ResponseTemplate::new(404).set_body_json(json!({"type":"error","error":{"type":"not_found_error","message":"model: claude-sonnet-4-20250514"}})),
    )
    .await;
    mount(
        &s.ollama,
        "POST",
        "/api/chat",
        ResponseTemplate::new(200)
            .set_body_json(ollama_answer("deepseek-coder:33b", "fn main() {}")),
    )
    .await;
    let r = s
        .router()
        .chat(
            &route(TaskType::CodeGeneration, Complexity::Medium),
            prompt("write main"),
        )
        .await
        .unwrap();
    assert_eq!(r.served_by, Target::new("ollama", "deepseek-coder:33b"));
    assert_eq!(
        models_requested(&s.ollama).await,
        vec!["deepseek-coder:33b"]
    );
    assert_eq!(
        hits(&s.anthropic).await,
        1,
        "an unknown model is not retried"
    );
}

#[tokio::test]
async fn a_malformed_answer_falls_back() {
    let s = Servers::start().await;
    mount(
        &s.ollama,
        "POST",
        "/api/chat",
        ResponseTemplate::new(200).set_body_string("<html>proxy error</html>"),
    )
    .await;
    mount(
        &s.anthropic,
        "POST",
        "/v1/messages",
        ResponseTemplate::new(200).set_body_json(anthropic_answer("ok")),
    )
    .await;
    let r = s
        .router()
        .chat(
            &route(TaskType::Summarization, Complexity::Simple),
            prompt("sum up"),
        )
        .await
        .unwrap();
    assert_eq!(r.served_by.provider, "anthropic");
    assert!(
        r.attempts[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("malformed")
    );
}

#[tokio::test]
async fn a_rule_without_fallback_fails_with_the_typed_error() {
    let s = Servers::start().await;
    mount(
        &s.anthropic,
        "POST",
        "/v1/messages",
        ResponseTemplate::new(500).set_body_string(
            "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"internal\"}}",
        ),
    )
    .await;
    let r = s
        .router()
        .chat(
            &route(TaskType::Summarization, Complexity::Simple).with_context_length(50_000),
            prompt("long"),
        )
        .await;
    match r {
        Err(LlmError::Server {
            status: 500,
            provider,
            ..
        }) => assert_eq!(provider, "anthropic"),
        other => panic!("expected a 500 from anthropic, got {other:?}"),
    }
    assert_eq!(hits(&s.ollama).await, 0, "long context has no fallback");
}

#[tokio::test]
async fn every_deployment_failing_lists_each_error() {
    let s = Servers::start().await;
    mount(&s.anthropic, "POST", "/v1/messages", ResponseTemplate::new(401).set_body_json(json!({"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}))).await;
    mount(
        &s.openai,
        "POST",
        "/v1/chat/completions",
        ResponseTemplate::new(503),
    )
    .await;
    let e = s
        .router()
        .chat(
            &route(TaskType::Reasoning, Complexity::Complex),
            prompt("why?"),
        )
        .await
        .unwrap_err();
    match &e {
        LlmError::AllFailed(list) => {
            assert!(
                matches!(list[0].1, LlmError::Unauthorized { status: 401, .. }),
                "{list:?}"
            );
            assert!(
                matches!(list[1].1, LlmError::Server { status: 503, .. }),
                "{list:?}"
            );
        }
        other => panic!("expected AllFailed, got {other:?}"),
    }
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains(ANTHROPIC_KEY) && !shown.contains(OPENAI_KEY));
}

#[tokio::test]
async fn fallbacks_that_cannot_hold_the_request_are_skipped() {
    let s = Servers::start().await;
    mount(&s.ollama, "POST", "/api/chat", ResponseTemplate::new(500)).await;
    // About 10 000 tokens: under the long-context threshold, over LM Studio's 8 192 window.
    let long = "word ".repeat(8_000);
    let e = s
        .router()
        .chat(
            &route(TaskType::Classification, Complexity::Simple),
            prompt(&long),
        )
        .await
        .unwrap_err();
    match &e {
        LlmError::AllFailed(list) => {
            assert!(
                matches!(
                    list[1].1,
                    LlmError::ContextWindowExceeded { window: 8_192, .. }
                ),
                "{list:?}"
            );
        }
        other => panic!("expected AllFailed, got {other:?}"),
    }
    assert_eq!(
        hits(&s.lmstudio).await,
        0,
        "a model too small is never called"
    );
}

#[tokio::test]
async fn an_unconfigured_provider_is_a_clear_error_and_the_next_is_tried() {
    let s = Servers::start().await;
    mount(
        &s.openai,
        "POST",
        "/v1/chat/completions",
        ResponseTemplate::new(200).set_body_json(openai_answer("gpt-4o", "from openai")),
    )
    .await;
    let mut config = s.config(fast());
    config
        .providers
        .retain(|p| !matches!(p, ProviderConfig::Anthropic(_)));
    let r = config
        .build()
        .unwrap()
        .chat(
            &route(TaskType::Reasoning, Complexity::Complex),
            prompt("why?"),
        )
        .await
        .unwrap();
    assert_eq!(r.served_by.provider, "openai");
    assert!(
        r.attempts[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("provider `anthropic` is not configured")
    );
}

#[tokio::test]
async fn an_open_circuit_skips_the_deployment_without_calling_it() {
    let s = Servers::start().await;
    mount(&s.ollama, "POST", "/api/chat", ResponseTemplate::new(500)).await;
    mount(
        &s.anthropic,
        "POST",
        "/v1/messages",
        ResponseTemplate::new(200).set_body_json(anthropic_answer("cloud")),
    )
    .await;
    let router = s
        .config(Resilience {
            max_retries: 0,
            breaker_failures: 2,
            ..fast()
        })
        .build()
        .unwrap();
    for _ in 0..4 {
        let r = router
            .chat(&route(TaskType::Chat, Complexity::Simple), prompt("hi"))
            .await
            .unwrap();
        assert_eq!(r.served_by.provider, "anthropic");
    }
    assert_eq!(
        hits(&s.ollama).await,
        2,
        "after two failures the circuit is open"
    );
    let ledger = router.ledger();
    assert_eq!(ledger[&Target::new("ollama", "llama3.1:8b")].failures, 4);
    let claude = &ledger[&Target::new("anthropic", "claude-sonnet-4-20250514")];
    assert_eq!(
        (claude.calls, claude.input_tokens, claude.output_tokens),
        (4, 4000, 400)
    );
    assert!((claude.cost_usd - 4.0 * (1000.0 * 3.0 + 100.0 * 15.0) / 1e6).abs() < 1e-12);
}

#[tokio::test]
async fn streams_fall_back_before_the_first_token() {
    let s = Servers::start().await;
    mount(&s.ollama, "POST", "/api/chat", ResponseTemplate::new(500)).await;
    mount(
        &s.anthropic,
        "POST",
        "/v1/messages",
        anthropic_stream(&["Hel", "lo"]),
    )
    .await;
    let router = s.router();
    let routed = router
        .chat_stream(&route(TaskType::Chat, Complexity::Simple), prompt("hi"))
        .await
        .unwrap();
    assert_eq!(routed.served_by.provider, "anthropic");
    let c = collect_stream("anthropic", routed.stream, Instant::now())
        .await
        .unwrap();
    assert_eq!(c.text, "Hello");
    // The stream's usage reaches the ledger when its final event arrives.
    let ledger = router.ledger();
    let claude = &ledger[&Target::new("anthropic", "claude-sonnet-4-20250514")];
    assert_eq!(
        (claude.calls, claude.input_tokens, claude.output_tokens),
        (1, 10, 4)
    );
    assert!((claude.cost_usd - (10.0 * 3.0 + 4.0 * 15.0) / 1e6).abs() < 1e-12);
    assert_eq!(ledger[&Target::new("ollama", "llama3.1:8b")].failures, 1);
}

#[tokio::test]
async fn a_slow_first_token_falls_back() {
    let s = Servers::start().await;
    let line = ollama_answer("llama3.1:8b", "late").to_string() + "\n";
    mount(
        &s.ollama,
        "POST",
        "/api/chat",
        ResponseTemplate::new(200)
            .set_body_raw(line, "application/x-ndjson")
            .set_delay(Duration::from_secs(3)),
    )
    .await;
    mount(
        &s.anthropic,
        "POST",
        "/v1/messages",
        anthropic_stream(&["on ", "time"]),
    )
    .await;
    let routed = s
        .router()
        .chat_stream(&route(TaskType::Chat, Complexity::Simple), prompt("hi"))
        .await
        .unwrap();
    assert!(
        routed.attempts[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("first token"),
        "{:?}",
        routed.attempts
    );
    let events: Vec<_> = routed.stream.collect().await;
    assert!(matches!(events.last(), Some(Ok(StreamEvent::Done { .. }))));
}

#[tokio::test]
async fn embeddings_never_fall_back() {
    let s = Servers::start().await;
    mount(&s.ollama, "POST", "/api/embed", ResponseTemplate::new(500)).await;
    mount(
        &s.lmstudio,
        "POST",
        "/v1/embeddings",
        ResponseTemplate::new(200),
    )
    .await;
    // A table whose embedding rule names a fallback: the router still must not use it.
    let mut config = s.config(fast());
    let mut table = config.table();
    for rule in &mut table.rules {
        if rule.name == "embeddings" {
            rule.fallbacks = vec![Target::new("lmstudio", "some-other-embedder")];
        }
    }
    config.routes = Some(table.rules);
    let router = Arc::new(config.build().unwrap());
    let e = router.embed(&["a".to_owned()]).await.unwrap_err();
    assert!(matches!(e, LlmError::Server { status: 500, .. }), "{e:?}");
    assert_eq!(hits(&s.lmstudio).await, 0);
}

#[tokio::test]
async fn the_embedder_port_is_pinned_and_normalised() {
    let s = Servers::start().await;
    let v: Vec<f32> = (0..768)
        .map(|i| {
            if i == 0 {
                3.0
            } else if i == 1 {
                4.0
            } else {
                0.0
            }
        })
        .collect();
    mount(
        &s.ollama,
        "POST",
        "/api/embed",
        ResponseTemplate::new(200)
            .set_body_json(json!({"model": "nomic-embed-text", "embeddings": [v]})),
    )
    .await;
    let router = Arc::new(s.router());
    let embedder = router.embedder().await.unwrap();
    use memory_core::Embedder;
    assert_eq!(embedder.info().model_id, "ollama/nomic-embed-text");
    assert_eq!(embedder.info().dimension, 768);
    let out = embedder.embed(&["x".to_owned()]).await.unwrap();
    assert!((out[0][0] - 0.6).abs() < 1e-6 && (out[0][1] - 0.8).abs() < 1e-6);
}

#[tokio::test]
async fn a_wrong_dimension_is_refused_not_mixed() {
    let s = Servers::start().await;
    mount(
        &s.ollama,
        "POST",
        "/api/embed",
        ResponseTemplate::new(200)
            .set_body_json(json!({"model": "nomic-embed-text", "embeddings": [[1.0, 0.0, 0.0]]})),
    )
    .await;
    let router = Arc::new(s.router());
    let embedder = router.embedder().await.unwrap();
    use memory_core::Embedder;
    let e = embedder.embed(&["x".to_owned()]).await.unwrap_err();
    assert!(e.to_string().contains("pinned at 768"), "{e}");
}

#[tokio::test]
async fn the_text_model_port_routes_through_the_table() {
    let s = Servers::start().await;
    mount(
        &s.ollama,
        "POST",
        "/api/chat",
        ResponseTemplate::new(200).set_body_json(ollama_answer("llama3.1:8b", "local")),
    )
    .await;
    let router = Arc::new(s.router());
    let model = router.text_model(route(TaskType::Classification, Complexity::Simple));
    use memory_core::TextModel;
    let c = model.complete(prompt("label")).await.unwrap();
    assert_eq!(c.text, "local");
    assert_eq!(model.name(), "router:classification/simple");
}

/// Collects what the tracing subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn spans_carry_gen_ai_fields_and_never_a_key() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_ansi(false)
        .finish();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        rt.block_on(async {
            let s = Servers::start().await;
            mount(&s.anthropic, "POST", "/v1/messages", ResponseTemplate::new(401).set_body_string("{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",\"message\":\"bad key\"}}")).await;
            mount(&s.openai, "POST", "/v1/chat/completions", ResponseTemplate::new(200).set_body_json(openai_answer("gpt-4o", "ok"))).await;
            let router = s.router();
            tracing::debug!(config = ?s.config(fast()), "configured");
            router.chat(&route(TaskType::Reasoning, Complexity::Complex), prompt("why?")).await.unwrap();
        });
    });
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for field in [
        "gen_ai.system",
        "gen_ai.request.model",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "brain.cost_usd",
        "error.type",
    ] {
        assert!(log.contains(field), "missing {field} in:\n{log}");
    }
    assert!(log.contains("gen_ai.usage.input_tokens=1000"), "{log}");
    assert!(
        !log.contains(OPENAI_KEY) && !log.contains(ANTHROPIC_KEY),
        "a key was logged:\n{log}"
    );
}

#[tokio::test]
async fn an_explicit_decision_is_tried_in_its_order() {
    let s = Servers::start().await;
    mount(
        &s.lmstudio,
        "POST",
        "/v1/chat/completions",
        ResponseTemplate::new(200).set_body_json(openai_answer("local-model", "from lm studio")),
    )
    .await;
    let router = s.router();
    let request = prompt("label this");
    let mut decision = router
        .decide(
            &route(TaskType::Classification, Complexity::Simple),
            &request,
        )
        .unwrap();
    // A learner preferred the rule's fallback: it goes first, the target second.
    let first = decision.fallbacks.remove(0);
    decision
        .fallbacks
        .insert(0, std::mem::replace(&mut decision.target, first));
    let r = router.chat_with(decision, request).await.unwrap();
    assert_eq!(r.served_by, Target::new("lmstudio", "local-model"));
    assert_eq!(r.decision.rule, "classification");
    assert_eq!(hits(&s.ollama).await, 0);
}

fn openai_stream(model: &str, parts: &[&str]) -> ResponseTemplate {
    let mut body = String::new();
    for p in parts {
        body.push_str(&format!(
            "data: {{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"{model}\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{p}\"}},\"finish_reason\":null}}]}}\n\n"
        ));
    }
    body.push_str(&format!(
        "data: {{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"{model}\",\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}]}}\n\n\
         data: {{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"{model}\",\"choices\":[],\"usage\":{{\"prompt_tokens\":7,\"completion_tokens\":2,\"total_tokens\":9}}}}\n\n\
         data: [DONE]\n\n"
    ));
    ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")
}

#[tokio::test]
async fn a_slow_anthropic_call_times_out_and_falls_back_to_gpt4o() {
    let s = Servers::start().await;
    mount(
        &s.anthropic,
        "POST",
        "/v1/messages",
        ResponseTemplate::new(200)
            .set_body_json(anthropic_answer("late"))
            .set_delay(Duration::from_secs(3)),
    )
    .await;
    mount(
        &s.openai,
        "POST",
        "/v1/chat/completions",
        ResponseTemplate::new(200).set_body_json(openai_answer("gpt-4o", "in time")),
    )
    .await;
    let r = s
        .router()
        .chat(
            &route(TaskType::Reasoning, Complexity::Complex),
            prompt("why?"),
        )
        .await
        .unwrap();
    assert_eq!(r.served_by, Target::new("openai", "gpt-4o"));
    assert!(
        r.attempts[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("timed out"),
        "{:?}",
        r.attempts
    );
    assert!(r.attempts[0].deployment_failed);
}

#[tokio::test]
async fn a_slow_openai_compatible_server_times_out_with_a_typed_error() {
    let s = Servers::start().await;
    mount(&s.ollama, "POST", "/api/chat", ResponseTemplate::new(500)).await;
    mount(
        &s.lmstudio,
        "POST",
        "/v1/chat/completions",
        ResponseTemplate::new(200)
            .set_body_json(openai_answer("local-model", "late"))
            .set_delay(Duration::from_secs(3)),
    )
    .await;
    let e = s
        .router()
        .chat(
            &route(TaskType::Classification, Complexity::Simple),
            prompt("label"),
        )
        .await
        .unwrap_err();
    match &e {
        LlmError::AllFailed(list) => {
            assert!(
                matches!(list[0].1, LlmError::Server { status: 500, .. }),
                "{list:?}"
            );
            assert!(
                matches!(list[1].1, LlmError::Timeout { stage: "call", .. }),
                "{list:?}"
            );
        }
        other => panic!("expected AllFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn a_slow_first_token_from_claude_falls_back_to_a_gpt4o_stream() {
    let s = Servers::start().await;
    mount(
        &s.anthropic,
        "POST",
        "/v1/messages",
        anthropic_stream(&["late"]).set_delay(Duration::from_secs(3)),
    )
    .await;
    mount(
        &s.openai,
        "POST",
        "/v1/chat/completions",
        openai_stream("gpt-4o", &["Hi", " there"]),
    )
    .await;
    let routed = s
        .router()
        .chat_stream(
            &route(TaskType::Reasoning, Complexity::Complex),
            prompt("why?"),
        )
        .await
        .unwrap();
    assert_eq!(routed.served_by, Target::new("openai", "gpt-4o"));
    assert!(
        routed.attempts[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("first token"),
        "{:?}",
        routed.attempts
    );
    let c = collect_stream("openai", routed.stream, Instant::now())
        .await
        .unwrap();
    assert_eq!(c.text, "Hi there");
    assert_eq!((c.usage.input_tokens, c.usage.output_tokens), (7, 2));
}

#[tokio::test]
async fn an_unknown_model_on_an_openai_compatible_server_falls_through_the_table() {
    let s = Servers::start().await;
    mount(
        &s.anthropic,
        "POST",
        "/v1/messages",
        ResponseTemplate::new(503),
    )
    .await;
    mount(
        &s.openai,
        "POST",
        "/v1/chat/completions",
        ResponseTemplate::new(404).set_body_json(json!({"error":{"message":"The model `gpt-4o` does not exist or you do not have access to it.","type":"invalid_request_error","param":null,"code":"model_not_found"}})),
    )
    .await;
    let e = s
        .router()
        .chat(
            &route(TaskType::Reasoning, Complexity::Complex),
            prompt("why?"),
        )
        .await
        .unwrap_err();
    match &e {
        LlmError::AllFailed(list) => {
            assert!(
                matches!(&list[1].1, LlmError::UnknownModel { model, .. } if model == "gpt-4o"),
                "{list:?}"
            );
        }
        other => panic!("expected AllFailed, got {other:?}"),
    }
}

/// Answers Ollama's `/api/embed` with one vector per input text, derived from the text
/// (so equal texts embed equally and different ones differ).
struct EmbedByText;

impl wiremock::Respond for EmbedByText {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let inputs: Vec<String> = match &body["input"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
            other => panic!("unexpected input {other}"),
        };
        let embeddings: Vec<Vec<f32>> = inputs
            .iter()
            .map(|t| {
                let mut h: u64 = 0xcbf2_9ce4_8422_2325;
                for b in t.bytes() {
                    h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
                }
                (0..768u64)
                    .map(|i| {
                        let mut z = h.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
                        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                        z ^= z >> 27;
                        (z >> 11) as f32 / (1u64 << 53) as f32 - 0.5
                    })
                    .collect()
            })
            .collect();
        ResponseTemplate::new(200)
            .set_body_json(json!({"model": "nomic-embed-text", "embeddings": embeddings}))
    }
}

/// The router's ports against memory-core's shared suites, over local servers that speak
/// the providers' protocols.
mod suites {
    use super::*;

    async fn embedder() -> (Servers, llm_router::RoutedEmbedder) {
        let s = Servers::start().await;
        Mock::given(method("POST"))
            .and(path("/api/embed"))
            .respond_with(EmbedByText)
            .mount(&s.ollama)
            .await;
        let embedder = Arc::new(s.router()).embedder().await.unwrap();
        (s, embedder)
    }
    memory_core::embedder_suite!(embedder);

    async fn model() -> (Servers, llm_router::RoutedModel) {
        let s = Servers::start().await;
        mount(
            &s.ollama,
            "POST",
            "/api/chat",
            ResponseTemplate::new(200).set_body_json(ollama_answer("llama3.1:8b", "hello")),
        )
        .await;
        let model =
            Arc::new(s.router()).text_model(route(TaskType::Classification, Complexity::Simple));
        (s, model)
    }
    memory_core::text_model_suite!(model);
}

/// A local-only setup: complex reasoning names only cloud models, so it is served by the
/// configured local deployments the table names elsewhere, in table order, and says so.
#[tokio::test]
async fn a_rule_with_no_configured_model_serves_what_is_configured() {
    let s = Servers::start().await;
    mount(
        &s.ollama,
        "POST",
        "/api/chat",
        ResponseTemplate::new(200).set_body_json(ollama_answer(SEED_LOCAL_MODEL, "local")),
    )
    .await;
    let mut config = s.config(fast());
    config
        .providers
        .retain(|p| matches!(p, ProviderConfig::Ollama(_)));
    let router = config.build().unwrap();
    let req = route(TaskType::Reasoning, Complexity::Complex);
    let d = router.decide(&req, &prompt("why?")).unwrap();
    assert_eq!(d.rule, "complex_reasoning");
    assert_eq!(d.target, Target::new("ollama", SEED_LOCAL_MODEL));
    assert!(
        d.candidates().all(|t| t.provider == "ollama"),
        "only configured deployments: {d:?}"
    );
    assert!(
        d.candidates().all(|t| t.model != "nomic-embed-text"),
        "an embedding model never serves a chat: {d:?}"
    );
    assert!(d.reason.contains("falls back"), "{}", d.reason);
    let r = router.chat(&req, prompt("why?")).await.unwrap();
    assert_eq!(r.served_by, Target::new("ollama", SEED_LOCAL_MODEL));
    assert_eq!(r.completion.text, "local");

    // A rule with a configured deployment keeps its own order.
    let d = router
        .decide(&route(TaskType::Chat, Complexity::Simple), &prompt("hi"))
        .unwrap();
    assert_eq!(d.rule, "default");
    assert!(!d.reason.contains("falls back"));

    // Embeddings never change model; with nothing configured nothing changes either.
    let embed = router
        .decide(
            &route(TaskType::Embedding, Complexity::Simple),
            &prompt("x"),
        )
        .unwrap();
    assert_eq!(embed.target, Target::new("ollama", "nomic-embed-text"));
    let mut none = s.config(fast());
    none.providers
        .retain(|p| matches!(p, ProviderConfig::Anthropic(_)));
    let only_cloud = none.build().unwrap();
    let d = only_cloud
        .decide(&route(TaskType::Chat, Complexity::Simple), &prompt("hi"))
        .unwrap();
    assert_eq!(
        d.candidates().cloned().collect::<Vec<_>>(),
        vec![
            Target::new("ollama", SEED_LOCAL_MODEL),
            Target::new("anthropic", SEED_CLAUDE)
        ],
        "a configured fallback keeps the rule's own order (the unconfigured one is skipped)"
    );
    let only_ollama_rule = only_cloud
        .decide(
            &route(TaskType::Classification, Complexity::Simple),
            &prompt("x"),
        )
        .unwrap();
    assert_eq!(only_ollama_rule.target.provider, "anthropic");
    assert!(only_ollama_rule.reason.contains("falls back"));
}

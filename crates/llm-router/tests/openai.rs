//! The OpenAI-compatible provider against a real local HTTP server (wiremock).

#![cfg(feature = "openai")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use llm_router::http::HttpOptions;
use llm_router::providers::openai::{OpenAiConfig, OpenAiProvider};
use llm_router::{LlmError, Provider, StreamEvent, collect_stream};
use memory_core::{ChatMessage, CompletionRequest, FinishReason, Role, Usage};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk-test-SECRET-0123456789";

fn config(server: &MockServer, key: Option<&str>) -> OpenAiConfig {
    OpenAiConfig {
        name: "openai".to_owned(),
        base_url: format!("{}/v1", server.uri()),
        api_key: key.map(|k| SecretString::from(k.to_owned())),
        api_key_env: None,
    }
}

fn provider(server: &MockServer) -> OpenAiProvider {
    OpenAiProvider::new(config(server, Some(KEY)), &HttpOptions::default()).unwrap()
}

fn request() -> CompletionRequest {
    CompletionRequest {
        model: Some("gpt-test".to_owned()),
        system: Some("Be brief.".to_owned()),
        messages: vec![
            ChatMessage {
                role: Role::User,
                content: "Hi".to_owned(),
            },
            ChatMessage {
                role: Role::Assistant,
                content: "Hello.".to_owned(),
            },
            ChatMessage {
                role: Role::Tool,
                content: "42".to_owned(),
            },
        ],
        temperature: Some(0.25),
        max_tokens: Some(64),
        stop: vec!["END".to_owned()],
        json_mode: true,
    }
}

fn completion_body() -> Value {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-test-2024",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": "{\"answer\": 42}"},
            "finish_reason": "length"
        }],
        "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}
    })
}

async fn mount(server: &MockServer, route: &str, response: ResponseTemplate) {
    Mock::given(method(if route == "/v1/models" { "GET" } else { "POST" }))
        .and(path(route))
        .respond_with(response)
        .mount(server)
        .await;
}

async fn only_request(server: &MockServer) -> wiremock::Request {
    let mut requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    requests.remove(0)
}

#[tokio::test]
async fn chat_sends_the_request_and_parses_the_answer() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/v1/chat/completions",
        ResponseTemplate::new(200).set_body_json(completion_body()),
    )
    .await;
    let p = provider(&server);

    let started = Instant::now();
    let c = p.chat(&request()).await.unwrap();
    assert_eq!(c.text, "{\"answer\": 42}");
    assert_eq!(c.model, "gpt-test-2024");
    assert_eq!(c.finish_reason, FinishReason::Length);
    assert_eq!(
        c.usage,
        Usage {
            input_tokens: 12,
            output_tokens: 5
        }
    );
    assert!(c.latency <= started.elapsed());

    let sent = only_request(&server).await;
    assert_eq!(
        sent.headers.get("authorization").unwrap(),
        &format!("Bearer {KEY}")
    );
    let body: Value = sent.body_json().unwrap();
    assert_eq!(body["model"], "gpt-test");
    assert_eq!(
        body["messages"],
        json!([
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "Tool result:\n42"},
        ])
    );
    assert_eq!(body["temperature"], json!(0.25));
    // Not api.openai.com: the field every compatible server knows.
    assert_eq!(body["max_tokens"], json!(64));
    assert!(body.get("max_completion_tokens").is_none());
    assert_eq!(body["stop"], json!(["END"]));
    assert_eq!(body["response_format"], json!({"type": "json_object"}));
    assert!(body.get("stream").is_none_or(|s| s == false));
}

#[tokio::test]
async fn chat_without_choices_is_malformed() {
    let server = MockServer::start().await;
    let mut body = completion_body();
    body["choices"] = json!([]);
    mount(
        &server,
        "/v1/chat/completions",
        ResponseTemplate::new(200).set_body_json(body),
    )
    .await;
    let e = provider(&server).chat(&request()).await.unwrap_err();
    assert!(matches!(e, LlmError::Malformed { .. }), "{e:?}");
}

#[tokio::test]
async fn chat_with_a_malformed_body_is_malformed() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/v1/chat/completions",
        ResponseTemplate::new(200)
            .set_body_raw("{\"id\": \"x\", \"choices\": [", "application/json"),
    )
    .await;
    let e = provider(&server).chat(&request()).await.unwrap_err();
    assert!(matches!(e, LlmError::Malformed { .. }), "{e:?}");
}

#[tokio::test]
async fn chat_reads_a_lenient_answer_with_an_unknown_finish_reason() {
    let server = MockServer::start().await;
    // No id, created or object, and a finish reason outside OpenAI's set.
    mount(
        &server,
        "/v1/chat/completions",
        ResponseTemplate::new(200).set_body_json(json!({
            "model": "local",
            "choices": [{"message": {"role": "assistant", "content": "ok"}, "finish_reason": "eos"}]
        })),
    )
    .await;
    let c = provider(&server).chat(&request()).await.unwrap();
    assert_eq!(c.text, "ok");
    assert_eq!(c.finish_reason, FinishReason::Other("eos".to_owned()));
    assert_eq!(c.usage, Usage::default());
}

fn sse(events: &[Value]) -> String {
    let mut body = String::new();
    for e in events {
        body.push_str(&format!("data: {e}\n\n"));
    }
    body.push_str("data: [DONE]\n\n");
    body
}

fn chunk(content: Option<&str>, finish: Option<&str>) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test-2024",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}],
        "usage": null
    })
}

fn usage_chunk() -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test-2024",
        "choices": [],
        "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
    })
}

async fn streaming_server(body: String) -> MockServer {
    let server = MockServer::start().await;
    mount(
        &server,
        "/v1/chat/completions",
        ResponseTemplate::new(200).set_body_raw(body, "text/event-stream"),
    )
    .await;
    server
}

#[tokio::test]
async fn chat_stream_yields_deltas_then_done_with_usage() {
    let server = streaming_server(sse(&[
        json!({
            "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test-2024",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]
        }),
        chunk(Some("Hel"), None),
        chunk(Some("lo"), None),
        chunk(None, Some("stop")),
        usage_chunk(),
    ]))
    .await;
    let p = provider(&server);

    let events: Vec<_> = p.chat_stream(&request()).await.unwrap().collect().await;
    let events: Vec<StreamEvent> = events.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        events,
        vec![
            StreamEvent::Delta("Hel".to_owned()),
            StreamEvent::Delta("lo".to_owned()),
            StreamEvent::Done {
                model: "gpt-test-2024".to_owned(),
                finish_reason: FinishReason::Stop,
                usage: Usage {
                    input_tokens: 9,
                    output_tokens: 3
                },
            },
        ]
    );

    let body: Value = only_request(&server).await.body_json().unwrap();
    assert_eq!(body["stream"], json!(true));
    assert_eq!(body["stream_options"], json!({"include_usage": true}));

    let c = collect_stream(
        "openai",
        p.chat_stream(&request()).await.unwrap(),
        Instant::now(),
    )
    .await
    .unwrap();
    assert_eq!(c.text, "Hello");
    assert_eq!(c.finish_reason, FinishReason::Stop);
    assert_eq!(c.usage.output_tokens, 3);
}

#[tokio::test]
async fn chat_stream_with_malformed_data_ends_in_malformed() {
    let mut body = format!("data: {}\n\n", chunk(Some("a"), None));
    body.push_str("data: {not json\n\n");
    body.push_str(&sse(&[chunk(Some("b"), Some("stop"))]));
    let server = streaming_server(body).await;

    let events: Vec<_> = provider(&server)
        .chat_stream(&request())
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0], Ok(StreamEvent::Delta("a".to_owned())));
    assert!(
        matches!(events[1], Err(LlmError::Malformed { .. })),
        "{events:?}"
    );
}

#[tokio::test]
async fn chat_stream_without_finish_reason_ends_in_malformed() {
    let server = streaming_server(sse(&[chunk(Some("a"), None)])).await;
    let events: Vec<_> = provider(&server)
        .chat_stream(&request())
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(matches!(events[1], Err(LlmError::Malformed { .. })));
}

#[tokio::test]
async fn rate_limits_keep_retry_after() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/v1/chat/completions",
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "2")
            .set_body_json(json!({"error": {"message": "slow down", "type": "rate_limit_error"}})),
    )
    .await;
    let e = provider(&server).chat(&request()).await.unwrap_err();
    assert_eq!(
        e,
        LlmError::RateLimited {
            provider: "openai".to_owned(),
            retry_after: Some(Duration::from_secs(2)),
        }
    );
    // The stream's opening request is mapped the same way.
    let e = provider(&server)
        .chat_stream(&request())
        .await
        .err()
        .unwrap();
    assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
}

#[tokio::test]
async fn rate_limits_keep_retry_after_ms() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/v1/chat/completions",
        ResponseTemplate::new(429).insert_header("retry-after-ms", "1500"),
    )
    .await;
    let e = provider(&server).chat(&request()).await.unwrap_err();
    assert!(
        matches!(e, LlmError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_millis(1500)),
        "{e:?}"
    );
}

#[tokio::test]
async fn server_errors_keep_their_status() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/v1/chat/completions",
        ResponseTemplate::new(500).set_body_string("upstream exploded"),
    )
    .await;
    let e = provider(&server).chat(&request()).await.unwrap_err();
    assert!(
        matches!(&e, LlmError::Server { status: 500, message, .. } if message == "upstream exploded"),
        "{e:?}"
    );
    assert!(e.is_retryable());
}

#[tokio::test]
async fn an_unknown_model_is_unknown_model() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/v1/chat/completions",
        ResponseTemplate::new(404).set_body_json(json!({"error": {
            "message": "The model `x` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": null,
            "code": "model_not_found"
        }})),
    )
    .await;
    let mut req = request();
    req.model = Some("x".to_owned());
    let e = provider(&server).chat(&req).await.unwrap_err();
    assert_eq!(
        e,
        LlmError::UnknownModel {
            provider: "openai".to_owned(),
            model: "x".to_owned(),
            message: "The model `x` does not exist or you do not have access to it.".to_owned(),
        }
    );
}

#[tokio::test]
async fn refused_credentials_never_show_the_key() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/v1/chat/completions",
        ResponseTemplate::new(401).set_body_json(json!({"error": {
            "message": "Incorrect API key provided: sk-test-***6789.",
            "type": "invalid_request_error",
            "param": null,
            "code": "invalid_api_key"
        }})),
    )
    .await;
    let p = provider(&server);
    let e = p.chat(&request()).await.unwrap_err();
    assert!(
        matches!(e, LlmError::Unauthorized { status: 401, .. }),
        "{e:?}"
    );
    assert!(!e.to_string().contains(KEY));
    assert!(!format!("{e:?}").contains(KEY));
    let shown = format!("{p:?}");
    assert!(!shown.contains(KEY), "{shown}");
    assert!(!shown.contains("SECRET"), "{shown}");
}

#[tokio::test]
async fn a_server_echoing_the_key_has_it_redacted() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/v1/chat/completions",
        ResponseTemplate::new(401).set_body_string(format!("bad token: Bearer {KEY}")),
    )
    .await;
    let e = provider(&server).chat(&request()).await.unwrap_err();
    assert!(matches!(e, LlmError::Unauthorized { .. }), "{e:?}");
    assert!(!e.to_string().contains(KEY), "{e}");
    assert!(e.to_string().contains("[REDACTED]"), "{e}");
}

fn embedding(index: u32, v: &[f32]) -> Value {
    json!({"object": "embedding", "index": index, "embedding": v})
}

fn embeddings_body(data: Vec<Value>) -> Value {
    json!({
        "object": "list",
        "model": "text-embedding-3-small",
        "data": data,
        "usage": {"prompt_tokens": 4, "total_tokens": 4}
    })
}

#[tokio::test]
async fn embeddings_come_back_in_input_order() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/v1/embeddings",
        ResponseTemplate::new(200).set_body_json(embeddings_body(vec![
            embedding(1, &[0.0, 1.0]),
            embedding(0, &[1.0, 0.0]),
        ])),
    )
    .await;
    let texts = vec!["first".to_owned(), "second".to_owned()];
    let vectors = provider(&server)
        .embed("text-embedding-3-small", &texts)
        .await
        .unwrap();
    assert_eq!(vectors, vec![vec![1.0, 0.0], vec![0.0, 1.0]]);

    let body: Value = only_request(&server).await.body_json().unwrap();
    assert_eq!(body["model"], "text-embedding-3-small");
    assert_eq!(body["input"], json!(["first", "second"]));
}

#[tokio::test]
async fn embeddings_of_nothing_ask_nothing() {
    let server = MockServer::start().await;
    let vectors = provider(&server).embed("m", &[]).await.unwrap();
    assert!(vectors.is_empty());
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_wrong_number_of_embeddings_is_malformed() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/v1/embeddings",
        ResponseTemplate::new(200).set_body_json(embeddings_body(vec![embedding(0, &[1.0])])),
    )
    .await;
    let texts = vec!["a".to_owned(), "b".to_owned()];
    let e = provider(&server).embed("m", &texts).await.unwrap_err();
    assert!(matches!(e, LlmError::Malformed { .. }), "{e:?}");
}

#[tokio::test]
async fn embeddings_of_different_lengths_are_malformed() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/v1/embeddings",
        ResponseTemplate::new(200).set_body_json(embeddings_body(vec![
            embedding(0, &[1.0]),
            embedding(1, &[1.0, 2.0]),
        ])),
    )
    .await;
    let texts = vec!["a".to_owned(), "b".to_owned()];
    let e = provider(&server).embed("m", &texts).await.unwrap_err();
    assert!(matches!(e, LlmError::Malformed { .. }), "{e:?}");
}

#[tokio::test]
async fn list_models_returns_ids() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/v1/models",
        ResponseTemplate::new(200).set_body_json(json!({
            "object": "list",
            "data": [
                {"id": "gpt-a", "object": "model", "created": 1, "owned_by": "openai"},
                {"id": "gpt-b", "object": "model", "created": 2, "owned_by": "openai"}
            ]
        })),
    )
    .await;
    let models = provider(&server).list_models().await.unwrap();
    assert_eq!(models, vec!["gpt-a", "gpt-b"]);
}

#[tokio::test]
async fn list_models_accepts_a_sparse_list() {
    let server = MockServer::start().await;
    // No `created` nor `owned_by`, as some local servers answer.
    mount(
        &server,
        "/v1/models",
        ResponseTemplate::new(200).set_body_json(json!({
            "object": "list",
            "data": [{"id": "qwen2.5-7b-instruct", "object": "model"}]
        })),
    )
    .await;
    let models = provider(&server).list_models().await.unwrap();
    assert_eq!(models, vec!["qwen2.5-7b-instruct"]);
}

#[tokio::test]
async fn lm_studio_gets_max_tokens_and_no_key() {
    let server = MockServer::start().await;
    mount(
        &server,
        "/v1/chat/completions",
        ResponseTemplate::new(200).set_body_json(completion_body()),
    )
    .await;
    let config = OpenAiConfig {
        base_url: format!("{}/v1/", server.uri()),
        ..OpenAiConfig::lm_studio()
    };
    let p = OpenAiProvider::new(config, &HttpOptions::default()).unwrap();
    assert_eq!(p.name(), "lmstudio");
    let c = p.chat(&request()).await.unwrap();
    assert_eq!(c.text, "{\"answer\": 42}");

    let sent = only_request(&server).await;
    assert!(sent.headers.get("authorization").is_none());
    let body: Value = sent.body_json().unwrap();
    assert_eq!(body["max_tokens"], json!(64));
    assert!(body.get("max_completion_tokens").is_none());
}

#[test]
fn bad_base_urls_are_configuration_errors() {
    let config = OpenAiConfig {
        base_url: "not a url".to_owned(),
        ..OpenAiConfig::lm_studio()
    };
    let e = OpenAiProvider::new(config, &HttpOptions::default()).unwrap_err();
    assert!(matches!(e, LlmError::Config(_)), "{e:?}");
}

#[test]
fn keys_that_cannot_be_sent_are_configuration_errors() {
    let config = OpenAiConfig {
        api_key: Some(SecretString::from("sk-bad\nkey-0123456789".to_owned())),
        api_key_env: None,
        ..OpenAiConfig::default()
    };
    let e = OpenAiProvider::new(config, &HttpOptions::default()).unwrap_err();
    assert!(matches!(e, LlmError::Config(_)), "{e:?}");
    assert!(!e.to_string().contains("sk-bad"));
}

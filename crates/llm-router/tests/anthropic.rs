#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The Anthropic provider against a local HTTP server (wiremock) speaking the Messages
//! API, and its parsers on arbitrary input.
#![cfg(feature = "anthropic")]

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use llm_router::providers::anthropic::{
    AnthropicConfig, AnthropicProvider, JSON_INSTRUCTION, StreamDecoder, event_stream,
    parse_message, parse_models,
};
use llm_router::{LlmError, Provider, StreamEvent, collect_stream};
use memory_core::{ChatMessage, CompletionRequest, FinishReason, Role, Usage};
use proptest::prelude::*;
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk-ant-test-7f3a9c-secret";
const MODEL: &str = "claude-test-1";

fn config(server: &MockServer) -> AnthropicConfig {
    AnthropicConfig {
        base_url: server.uri(),
        api_key: Some(SecretString::from(KEY)),
        api_key_env: None,
        ..AnthropicConfig::default()
    }
}

fn provider(server: &MockServer) -> AnthropicProvider {
    AnthropicProvider::new(config(server), &Default::default()).unwrap()
}

fn msg(role: Role, content: &str) -> ChatMessage {
    ChatMessage {
        role,
        content: content.to_owned(),
    }
}

fn base_request() -> CompletionRequest {
    CompletionRequest {
        model: Some(MODEL.to_owned()),
        ..CompletionRequest::prompt("Say hello.")
    }
}

fn answer(text: &str, stop_reason: &str) -> Value {
    json!({
        "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
        "type": "message",
        "role": "assistant",
        "model": "claude-test-1-20250101",
        "content": [{"type": "text", "text": text}],
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": {"input_tokens": 12, "output_tokens": 6}
    })
}

async fn mount_messages(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(response)
        .mount(server)
        .await;
}

async fn sent_body(server: &MockServer) -> Value {
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    requests[0].body_json().unwrap()
}

/// A realistic streamed answer, as Anthropic sends it.
fn sse(deltas: &[&str], stop_reason: &str) -> String {
    let mut body = String::new();
    let mut event = |name: &str, data: Value| {
        body.push_str(&format!("event: {name}\ndata: {data}\n\n"));
    };
    event(
        "message_start",
        json!({"type": "message_start", "message": {
            "id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "type": "message",
            "role": "assistant", "content": [], "model": "claude-test-1-20250101",
            "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 25, "output_tokens": 1}}}),
    );
    event(
        "content_block_start",
        json!({"type": "content_block_start", "index": 0,
               "content_block": {"type": "text", "text": ""}}),
    );
    event("ping", json!({"type": "ping"}));
    for d in deltas {
        event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
                   "delta": {"type": "text_delta", "text": d}}),
        );
    }
    event(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    );
    event(
        "message_delta",
        json!({"type": "message_delta",
               "delta": {"stop_reason": stop_reason, "stop_sequence": null},
               "usage": {"output_tokens": 15}}),
    );
    event("message_stop", json!({"type": "message_stop"}));
    body
}

fn event_stream_response(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")
}

async fn stream_items(
    provider: &AnthropicProvider,
    request: &CompletionRequest,
) -> Vec<Result<StreamEvent, LlmError>> {
    provider.chat_stream(request).await.unwrap().collect().await
}

#[tokio::test]
async fn chat_sends_headers_and_body_and_parses_the_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(header("x-api-key", KEY))
        .and(header("anthropic-version", "2023-06-01"))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer("Hello!", "end_turn")))
        .expect(1)
        .mount(&server)
        .await;
    let request = CompletionRequest {
        model: Some(MODEL.to_owned()),
        system: Some("You are terse.".to_owned()),
        messages: vec![
            msg(Role::System, "Answer in English."),
            msg(Role::User, "Hi."),
            msg(Role::User, "Are you there?"),
            msg(Role::Assistant, "Yes."),
            msg(Role::Tool, "tool output: 42"),
            msg(Role::User, "What did the tool say?"),
            msg(Role::System, "Be brief."),
        ],
        temperature: Some(0.25),
        max_tokens: Some(300),
        stop: vec!["\n\nHuman:".to_owned()],
        json_mode: false,
    };

    let completion = provider(&server).chat(&request).await.unwrap();

    assert_eq!(completion.text, "Hello!");
    assert_eq!(completion.model, "claude-test-1-20250101");
    assert_eq!(completion.finish_reason, FinishReason::Stop);
    assert_eq!(
        completion.usage,
        Usage {
            input_tokens: 12,
            output_tokens: 6
        }
    );
    let body = sent_body(&server).await;
    assert_eq!(
        body,
        json!({
            "model": MODEL,
            "max_tokens": 300,
            "system": "You are terse.\n\nAnswer in English.\n\nBe brief.",
            "messages": [
                {"role": "user", "content": "Hi.\n\nAre you there?"},
                {"role": "assistant", "content": "Yes."},
                {"role": "user", "content": "tool output: 42\n\nWhat did the tool say?"},
            ],
            "temperature": 0.25,
            "stop_sequences": ["\n\nHuman:"],
        })
    );
}

#[tokio::test]
async fn json_mode_appends_the_instruction_and_defaults_fill_max_tokens() {
    let server = MockServer::start().await;
    mount_messages(
        &server,
        ResponseTemplate::new(200).set_body_json(answer("{\"ok\":true}", "end_turn")),
    )
    .await;
    let request = CompletionRequest {
        json_mode: true,
        messages: vec![
            msg(Role::System, "Extract facts."),
            msg(Role::User, "Alice lives in Paris."),
        ],
        ..base_request()
    };

    let completion = provider(&server).chat(&request).await.unwrap();

    assert_eq!(completion.text, "{\"ok\":true}");
    let body = sent_body(&server).await;
    assert_eq!(body["max_tokens"], 4096);
    assert_eq!(
        body["system"],
        format!("Extract facts.\n\n{JSON_INSTRUCTION}")
    );
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": "Alice lives in Paris."}])
    );
    assert!(body.get("temperature").is_none());
    assert!(body.get("stop_sequences").is_none());
    assert!(body.get("stream").is_none());

    // With no other system prompt, the instruction is the system prompt.
    let server = MockServer::start().await;
    mount_messages(
        &server,
        ResponseTemplate::new(200).set_body_json(answer("{}", "end_turn")),
    )
    .await;
    let bare = CompletionRequest {
        json_mode: true,
        ..base_request()
    };
    provider(&server).chat(&bare).await.unwrap();
    assert_eq!(sent_body(&server).await["system"], JSON_INSTRUCTION);
}

#[tokio::test]
async fn chat_joins_text_blocks_and_maps_stop_reasons() {
    let server = MockServer::start().await;
    let mut body = answer("Part one. ", "max_tokens");
    body["content"] = json!([
        {"type": "thinking", "thinking": "hmm", "signature": "x"},
        {"type": "text", "text": "Part one. "},
        {"type": "text", "text": "Part two."}
    ]);
    mount_messages(&server, ResponseTemplate::new(200).set_body_json(body)).await;

    let completion = provider(&server).chat(&base_request()).await.unwrap();

    assert_eq!(completion.text, "Part one. Part two.");
    assert_eq!(completion.finish_reason, FinishReason::Length);

    for (reason, expected) in [
        ("end_turn", FinishReason::Stop),
        ("stop_sequence", FinishReason::Stop),
        ("max_tokens", FinishReason::Length),
        ("refusal", FinishReason::ContentFilter),
        ("tool_use", FinishReason::Other("tool_use".to_owned())),
    ] {
        let body = answer("x", reason).to_string();
        let parsed = parse_message("anthropic", body.as_bytes()).unwrap();
        assert_eq!(parsed.finish_reason, expected, "{reason}");
    }
}

#[tokio::test]
async fn stream_yields_deltas_then_done() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(header("x-api-key", KEY))
        .and(header("anthropic-version", "2023-06-01"))
        .respond_with(event_stream_response(sse(
            &["Hello", ", wor", "ld!"],
            "end_turn",
        )))
        .mount(&server)
        .await;
    let provider = provider(&server);

    let items = stream_items(&provider, &base_request()).await;

    let items: Vec<StreamEvent> = items.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        items,
        vec![
            StreamEvent::Delta("Hello".to_owned()),
            StreamEvent::Delta(", wor".to_owned()),
            StreamEvent::Delta("ld!".to_owned()),
            StreamEvent::Done {
                model: "claude-test-1-20250101".to_owned(),
                finish_reason: FinishReason::Stop,
                usage: Usage {
                    input_tokens: 25,
                    output_tokens: 15
                },
            },
        ]
    );
    let body = sent_body(&server).await;
    assert_eq!(body["stream"], true);
    assert_eq!(body["model"], MODEL);
}

#[tokio::test]
async fn stream_collects_into_a_completion() {
    let server = MockServer::start().await;
    mount_messages(
        &server,
        event_stream_response(sse(&["The answer", " is 42."], "max_tokens")),
    )
    .await;
    let provider = provider(&server);

    let stream = provider.chat_stream(&base_request()).await.unwrap();
    let completion = collect_stream("anthropic", stream, Instant::now())
        .await
        .unwrap();

    assert_eq!(completion.text, "The answer is 42.");
    assert_eq!(completion.finish_reason, FinishReason::Length);
    assert_eq!(completion.usage.output_tokens, 15);
}

#[tokio::test]
async fn stream_split_across_arbitrary_chunks_decodes_the_same() {
    let body = sse(&["é", "ü", " done"], "end_turn").into_bytes();
    let chunks: Vec<Result<Bytes, reqwest::Error>> = body
        .chunks(7)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let stream = event_stream("anthropic", MODEL, futures_util::stream::iter(chunks));
    let completion = collect_stream("anthropic", stream, Instant::now())
        .await
        .unwrap();
    assert_eq!(completion.text, "éü done");
}

#[tokio::test]
async fn rate_limit_carries_retry_after() {
    let server = MockServer::start().await;
    mount_messages(
        &server,
        ResponseTemplate::new(429)
            .insert_header("retry-after", "2")
            .set_body_json(json!({"type": "error", "error": {
                "type": "rate_limit_error", "message": "Number of requests has exceeded your rate limit"}})),
    )
    .await;

    let err = provider(&server).chat(&base_request()).await.unwrap_err();

    assert_eq!(
        err,
        LlmError::RateLimited {
            provider: "anthropic".to_owned(),
            retry_after: Some(Duration::from_secs(2)),
        }
    );
}

#[tokio::test]
async fn overloaded_529_is_a_rate_limit() {
    let server = MockServer::start().await;
    mount_messages(
        &server,
        ResponseTemplate::new(529).set_body_json(
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ),
    )
    .await;

    let err = provider(&server).chat(&base_request()).await.unwrap_err();

    assert!(
        matches!(
            err,
            LlmError::RateLimited {
                retry_after: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
}

#[tokio::test]
async fn server_error_500() {
    let server = MockServer::start().await;
    mount_messages(
        &server,
        ResponseTemplate::new(500).set_body_json(json!({"type": "error", "error": {
            "type": "api_error", "message": "Internal server error"}})),
    )
    .await;

    let err = provider(&server).chat(&base_request()).await.unwrap_err();

    assert_eq!(
        err,
        LlmError::Server {
            provider: "anthropic".to_owned(),
            status: 500,
            message: "Internal server error".to_owned(),
        }
    );
}

#[tokio::test]
async fn malformed_success_bodies() {
    let server = MockServer::start().await;
    mount_messages(
        &server,
        ResponseTemplate::new(200).set_body_raw("<html>proxy says hi</html>", "text/html"),
    )
    .await;
    let err = provider(&server).chat(&base_request()).await.unwrap_err();
    assert!(matches!(err, LlmError::Malformed { .. }), "{err:?}");

    // JSON, but with no text block.
    let server = MockServer::start().await;
    let mut body = answer("", "end_turn");
    body["content"] = json!([{"type": "tool_use", "id": "t", "name": "f", "input": {}}]);
    mount_messages(&server, ResponseTemplate::new(200).set_body_json(body)).await;
    let err = provider(&server).chat(&base_request()).await.unwrap_err();
    assert!(matches!(err, LlmError::Malformed { .. }), "{err:?}");
    assert!(err.counts_as_failure());
}

#[tokio::test]
async fn malformed_event_data_mid_stream_ends_the_stream_with_an_error() {
    let server = MockServer::start().await;
    let mut body = sse(&["Hello"], "end_turn");
    let cut = body.find("event: content_block_stop").unwrap();
    body.insert_str(
        cut,
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":\n\n",
    );
    mount_messages(&server, event_stream_response(body)).await;

    let items = stream_items(&provider(&server), &base_request()).await;

    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(
        items[0].as_ref().unwrap(),
        &StreamEvent::Delta("Hello".to_owned())
    );
    assert!(
        matches!(items[1], Err(LlmError::Malformed { .. })),
        "{items:?}"
    );
}

#[tokio::test]
async fn error_event_mid_stream_is_typed() {
    let server = MockServer::start().await;
    let mut body = sse(&["Hel"], "end_turn");
    let cut = body.find("event: content_block_stop").unwrap();
    body.truncate(cut);
    body.push_str(
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
    );
    mount_messages(&server, event_stream_response(body)).await;

    let items = stream_items(&provider(&server), &base_request()).await;

    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(
        items[1],
        Err(LlmError::RateLimited {
            provider: "anthropic".to_owned(),
            retry_after: None
        })
    );

    // The other error types, through the decoder.
    let decode = |kind: &str| {
        let mut d = StreamDecoder::new("anthropic", MODEL);
        let data = json!({"type": "error", "error": {"type": kind, "message": "boom"}});
        let item = d.decode(&data.to_string());
        assert!(d.is_finished());
        assert_eq!(d.decode(r#"{"type":"message_stop"}"#), None);
        item.unwrap().unwrap_err()
    };
    assert!(matches!(
        decode("rate_limit_error"),
        LlmError::RateLimited { .. }
    ));
    assert_eq!(
        decode("api_error"),
        LlmError::Server {
            provider: "anthropic".to_owned(),
            status: 500,
            message: "boom".to_owned()
        }
    );
    assert!(matches!(
        decode("invalid_request_error"),
        LlmError::InvalidRequest { status: 400, .. }
    ));
    assert!(matches!(
        decode("authentication_error"),
        LlmError::Unauthorized { status: 401, .. }
    ));
    assert!(matches!(
        decode("something_new"),
        LlmError::Server { status: 500, .. }
    ));
}

#[tokio::test]
async fn stream_ending_without_message_stop_is_malformed() {
    let server = MockServer::start().await;
    let mut body = sse(&["Hello"], "end_turn");
    let cut = body.find("event: message_stop").unwrap();
    body.truncate(cut);
    mount_messages(&server, event_stream_response(body)).await;

    let items = stream_items(&provider(&server), &base_request()).await;

    assert_eq!(items.len(), 2, "{items:?}");
    assert!(
        matches!(items[1], Err(LlmError::Malformed { .. })),
        "{items:?}"
    );
}

#[tokio::test]
async fn unknown_model_404() {
    let server = MockServer::start().await;
    mount_messages(
        &server,
        ResponseTemplate::new(404).set_body_json(json!({"type": "error", "error": {
            "type": "not_found_error", "message": "model: claude-x"}})),
    )
    .await;
    let request = CompletionRequest {
        model: Some("claude-x".to_owned()),
        ..base_request()
    };

    let err = provider(&server).chat(&request).await.unwrap_err();

    assert_eq!(
        err,
        LlmError::UnknownModel {
            provider: "anthropic".to_owned(),
            model: "claude-x".to_owned(),
            message: "model: claude-x".to_owned(),
        }
    );
    // Streams fail the same way, before the first event.
    let err = provider(&server).chat_stream(&request).await.err().unwrap();
    assert!(matches!(err, LlmError::UnknownModel { .. }), "{err:?}");
}

#[tokio::test]
async fn unauthorized_never_shows_the_key() {
    let server = MockServer::start().await;
    mount_messages(
        &server,
        ResponseTemplate::new(401).set_body_json(json!({"type": "error", "error": {
            "type": "authentication_error", "message": "invalid x-api-key"}})),
    )
    .await;
    let provider = provider(&server);

    let err = provider.chat(&base_request()).await.unwrap_err();

    assert!(
        matches!(err, LlmError::Unauthorized { status: 401, ref message, .. } if message == "invalid x-api-key"),
        "{err:?}"
    );
    assert!(!err.to_string().contains(KEY));
    assert!(!format!("{err:?}").contains(KEY));
    let debug = format!("{provider:?}");
    assert!(!debug.contains(KEY), "{debug}");
    assert!(debug.contains("[REDACTED]"), "{debug}");
    assert!(!format!("{:?}", config(&server)).contains(KEY));
}

#[tokio::test]
async fn no_key_is_a_config_error_and_sends_nothing() {
    let server = MockServer::start().await;
    mount_messages(
        &server,
        ResponseTemplate::new(200).set_body_json(answer("x", "end_turn")),
    )
    .await;
    let config = AnthropicConfig {
        api_key: None,
        api_key_env: Some("BRAIN_TEST_ANTHROPIC_KEY_THAT_IS_NEVER_SET".to_owned()),
        ..config(&server)
    };
    let provider = AnthropicProvider::new(config, &Default::default()).unwrap();

    let err = provider.chat(&base_request()).await.unwrap_err();
    let LlmError::Config(message) = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.starts_with("no API key for anthropic: set "),
        "{message}"
    );
    assert!(
        message.contains("BRAIN_TEST_ANTHROPIC_KEY_THAT_IS_NEVER_SET"),
        "{message}"
    );
    assert!(matches!(
        provider.chat_stream(&base_request()).await.err(),
        Some(LlmError::Config(_))
    ));
    assert!(matches!(
        provider.list_models().await,
        Err(LlmError::Config(_))
    ));
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_request_without_a_model_is_a_config_error() {
    let server = MockServer::start().await;
    let err = provider(&server)
        .chat(&CompletionRequest::prompt("hi"))
        .await
        .unwrap_err();
    assert!(matches!(err, LlmError::Config(_)), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn list_models_follows_pages() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .and(header("x-api-key", KEY))
        .and(header("anthropic-version", "2023-06-01"))
        .and(wiremock::matchers::query_param("after_id", "claude-b"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": "claude-c", "type": "model", "display_name": "C",
                      "created_at": "2025-01-01T00:00:00Z"}],
            "has_more": false, "first_id": "claude-c", "last_id": "claude-c"
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .and(wiremock::matchers::query_param_is_missing("after_id"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                {"id": "claude-a", "type": "model", "display_name": "A",
                 "created_at": "2025-02-01T00:00:00Z"},
                {"id": "claude-b", "type": "model", "display_name": "B",
                 "created_at": "2025-01-15T00:00:00Z"}
            ],
            "has_more": true, "first_id": "claude-a", "last_id": "claude-b"
        })))
        .expect(1)
        .mount(&server)
        .await;

    let models = provider(&server).list_models().await.unwrap();

    assert_eq!(models, vec!["claude-a", "claude-b", "claude-c"]);
}

#[tokio::test]
async fn embed_is_unsupported() {
    let server = MockServer::start().await;
    let err = provider(&server)
        .embed("any", &["text".to_owned()])
        .await
        .unwrap_err();
    assert_eq!(
        err,
        LlmError::Unsupported {
            provider: "anthropic".to_owned(),
            what: "embeddings".to_owned()
        }
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[test]
fn the_decoder_skips_unknown_events_and_fields() {
    let mut d = StreamDecoder::new("anthropic", MODEL);
    assert_eq!(d.decode(r#"{"type":"ping"}"#), None);
    assert_eq!(d.decode(r#"{"type":"some_future_event","x":[1,2]}"#), None);
    assert_eq!(
        d.decode(r#"{"type":"content_block_delta","index":1,"delta":{"type":"thinking_delta","thinking":"hm"}}"#),
        None
    );
    assert_eq!(
        d.decode(r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi","new":true}}"#),
        Some(Ok(StreamEvent::Delta("hi".to_owned())))
    );
    assert_eq!(
        d.decode(r#"{"type":"message_delta","delta":{"stop_reason":"refusal"},"usage":{"input_tokens":3,"output_tokens":4}}"#),
        None
    );
    assert_eq!(
        d.decode(r#"{"type":"message_stop","amazon-bedrock-invocationMetrics":{"n":1}}"#),
        Some(Ok(StreamEvent::Done {
            model: MODEL.to_owned(),
            finish_reason: FinishReason::ContentFilter,
            usage: Usage {
                input_tokens: 3,
                output_tokens: 4
            },
        }))
    );
    assert_eq!(d.end(), None);
    // Data that is not an event at all.
    let mut d = StreamDecoder::new("anthropic", MODEL);
    assert!(matches!(
        d.decode(r#"{"no_type":1}"#),
        Some(Err(LlmError::Malformed { .. }))
    ));
}

/// Strings shaped like Anthropic's JSON, to reach past the first parse error.
fn jsonish() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[{}\\[\\]\",:a-z_0-9 ]{0,80}",
        (
            prop::sample::select(vec![
                "message_start",
                "content_block_delta",
                "message_delta",
                "message_stop",
                "error",
                "ping",
                "message",
                "text",
            ]),
            "[{}\\[\\]\",:a-z_0-9 ]{0,60}",
        )
            .prop_map(|(t, rest)| format!("{{\"type\":\"{t}\",{rest}")),
        any::<Option<u64>>().prop_map(|n| format!(
            r#"{{"type":"message_delta","delta":{{"stop_reason":null}},"usage":{{"output_tokens":{}}}}}"#,
            n.map_or("null".to_owned(), |n| n.to_string())
        )),
    ]
}

proptest! {
    #[test]
    fn parsers_never_panic(body in jsonish(), bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_message("anthropic", body.as_bytes());
        let _ = parse_message("anthropic", &bytes);
        let _ = parse_models("anthropic", body.as_bytes());
        let _ = parse_models("anthropic", &bytes);
    }

    #[test]
    fn the_decoder_never_panics_and_ends_once(events in prop::collection::vec(jsonish(), 0..12)) {
        let mut decoder = StreamDecoder::new("anthropic", MODEL);
        let mut terminal = 0;
        for data in &events {
            match decoder.decode(data) {
                Some(Ok(StreamEvent::Done { .. }) | Err(_)) => terminal += 1,
                Some(Ok(StreamEvent::Delta(d))) => prop_assert!(!d.is_empty()),
                None => {}
            }
        }
        if decoder.end().is_some() {
            terminal += 1;
        }
        prop_assert_eq!(terminal, 1);
        prop_assert!(decoder.is_finished());
    }

    #[test]
    fn event_streams_never_panic_and_end_once(
        raw in prop::collection::vec(any::<u8>(), 0..300),
        prefix in prop::sample::select(vec![0usize, 1, 3, 8]),
        chunk in 1usize..40,
    ) {
        // Arbitrary bytes, optionally after a valid start of a stream.
        let valid = sse(&["a", "b"], "end_turn");
        let mut body: Vec<u8> = valid
            .split_inclusive("\n\n")
            .take(prefix)
            .collect::<String>()
            .into_bytes();
        body.extend_from_slice(&raw);
        let chunks: Vec<Result<Bytes, reqwest::Error>> = body
            .chunks(chunk)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let items: Vec<_> = runtime.block_on(
            event_stream("anthropic", MODEL, futures_util::stream::iter(chunks)).collect(),
        );
        let terminal = items
            .iter()
            .filter(|i| matches!(i, Ok(StreamEvent::Done { .. }) | Err(_)))
            .count();
        prop_assert_eq!(terminal, 1);
        let ends_with_terminal =
            matches!(items.last(), Some(Ok(StreamEvent::Done { .. }) | Err(_)));
        prop_assert!(ends_with_terminal);
    }
}

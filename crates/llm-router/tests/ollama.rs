//! The Ollama provider against a local HTTP server speaking Ollama's API (wiremock).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use llm_router::http::HttpOptions;
use llm_router::providers::ollama::{
    OllamaConfig, OllamaProvider, parse_chat_line, parse_chat_response,
};
use llm_router::{LlmError, Provider, StreamEvent, collect_stream};
use memory_core::{ChatMessage, CompletionRequest, FinishReason, Role, Usage};
use proptest::prelude::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn provider(server: &MockServer) -> OllamaProvider {
    OllamaProvider::new(
        OllamaConfig {
            name: "ollama".to_owned(),
            // A trailing slash must not double in the URL.
            base_url: format!("{}/", server.uri()),
        },
        &HttpOptions::default(),
    )
    .unwrap()
}

fn request(model: &str) -> CompletionRequest {
    CompletionRequest {
        model: Some(model.to_owned()),
        ..CompletionRequest::prompt("Say hello.")
    }
}

/// One streamed line: `content`, not done.
fn delta_line(content: &str) -> String {
    json!({
        "model": "llama3.2",
        "created_at": "2025-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": content},
        "done": false
    })
    .to_string()
}

/// The final streamed line.
fn done_line(reason: &str) -> String {
    json!({
        "model": "llama3.2",
        "created_at": "2025-01-01T00:00:01Z",
        "message": {"role": "assistant", "content": ""},
        "done": true,
        "done_reason": reason,
        "total_duration": 1000,
        "load_duration": 10,
        "prompt_eval_count": 11,
        "prompt_eval_duration": 100,
        "eval_count": 7,
        "eval_duration": 800
    })
    .to_string()
}

fn ndjson(lines: &[String]) -> ResponseTemplate {
    let mut body = lines.join("\n");
    body.push('\n');
    ResponseTemplate::new(200).set_body_raw(body, "application/x-ndjson")
}

async fn mount(server: &MockServer, verb: &str, route: &str, response: ResponseTemplate) {
    Mock::given(method(verb))
        .and(path(route))
        .respond_with(response)
        .mount(server)
        .await;
}

async fn only_request_body(server: &MockServer) -> Value {
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    requests[0].body_json::<Value>().unwrap()
}

#[tokio::test]
async fn chat_sends_options_and_parses_the_answer() {
    let server = MockServer::start().await;
    mount(
        &server,
        "POST",
        "/api/chat",
        ResponseTemplate::new(200).set_body_json(json!({
            "model": "llama3.2",
            "created_at": "2025-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": "{\"greeting\":\"hello\"}"},
            "done": true,
            "done_reason": "stop",
            "total_duration": 1000,
            "load_duration": 10,
            "prompt_eval_count": 26,
            "prompt_eval_duration": 100,
            "eval_count": 9,
            "eval_duration": 800
        })),
    )
    .await;

    let mut req = request("llama3.2");
    req.system = Some("Answer in JSON.".to_owned());
    req.messages.push(ChatMessage {
        role: Role::Assistant,
        content: "Which greeting?".to_owned(),
    });
    req.messages.push(ChatMessage {
        role: Role::Tool,
        content: "hello".to_owned(),
    });
    req.temperature = Some(0.25);
    req.max_tokens = Some(64);
    req.stop = vec!["\n\n".to_owned(), "END".to_owned()];
    req.json_mode = true;

    let completion = provider(&server).chat(&req).await.unwrap();
    assert_eq!(completion.text, "{\"greeting\":\"hello\"}");
    assert_eq!(completion.model, "llama3.2");
    assert_eq!(completion.finish_reason, FinishReason::Stop);
    assert_eq!(
        completion.usage,
        Usage {
            input_tokens: 26,
            output_tokens: 9
        }
    );

    let body = only_request_body(&server).await;
    assert_eq!(body["model"], "llama3.2");
    assert_eq!(body["stream"], false);
    assert_eq!(body["format"], "json");
    let roles_and_contents: Vec<(String, String)> = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_owned(),
                m["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        roles_and_contents,
        vec![
            ("system".to_owned(), "Answer in JSON.".to_owned()),
            ("user".to_owned(), "Say hello.".to_owned()),
            ("assistant".to_owned(), "Which greeting?".to_owned()),
            ("tool".to_owned(), "hello".to_owned()),
        ]
    );
    assert_eq!(body["options"]["temperature"], 0.25);
    assert_eq!(body["options"]["num_predict"], 64);
    assert_eq!(body["options"]["stop"], json!(["\n\n", "END"]));
}

#[tokio::test]
async fn chat_reads_length_and_missing_counts() {
    let server = MockServer::start().await;
    // A cached prompt: Ollama omits the zero prompt_eval_count (and other zero fields).
    mount(
        &server,
        "POST",
        "/api/chat",
        ResponseTemplate::new(200).set_body_json(json!({
            "model": "llama3.2",
            "created_at": "2025-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": "Hel"},
            "done": true,
            "done_reason": "length",
            "eval_count": 1
        })),
    )
    .await;
    let completion = provider(&server).chat(&request("llama3.2")).await.unwrap();
    assert_eq!(completion.finish_reason, FinishReason::Length);
    assert_eq!(
        completion.usage,
        Usage {
            input_tokens: 0,
            output_tokens: 1
        }
    );
    let body = only_request_body(&server).await;
    assert!(body.get("options").is_none());
    assert!(body.get("format").is_none());
}

#[tokio::test]
async fn chat_stream_yields_deltas_then_done() {
    let server = MockServer::start().await;
    mount(
        &server,
        "POST",
        "/api/chat",
        ndjson(&[
            delta_line("Hel"),
            delta_line(""),
            delta_line("lo, "),
            delta_line("wörld"),
            done_line("stop"),
        ]),
    )
    .await;
    let p = provider(&server);

    let events: Vec<_> = p
        .chat_stream(&request("llama3.2"))
        .await
        .unwrap()
        .collect()
        .await;
    let events: Vec<StreamEvent> = events.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        events,
        vec![
            StreamEvent::Delta("Hel".to_owned()),
            StreamEvent::Delta("lo, ".to_owned()),
            StreamEvent::Delta("wörld".to_owned()),
            StreamEvent::Done {
                model: "llama3.2".to_owned(),
                finish_reason: FinishReason::Stop,
                usage: Usage {
                    input_tokens: 11,
                    output_tokens: 7
                },
            },
        ]
    );
    let body = only_request_body(&server).await;
    assert_eq!(body["stream"], true);

    let stream = p.chat_stream(&request("llama3.2")).await.unwrap();
    let completion = collect_stream(p.name(), stream, Instant::now())
        .await
        .unwrap();
    assert_eq!(completion.text, "Hello, wörld");
    assert_eq!(completion.finish_reason, FinishReason::Stop);
    assert_eq!(completion.usage.output_tokens, 7);
}

#[tokio::test]
async fn chat_stream_keeps_text_on_the_done_line_and_stops_there() {
    let server = MockServer::start().await;
    let mut last: Value = serde_json::from_str(&done_line("length")).unwrap();
    last["message"]["content"] = json!("!");
    mount(
        &server,
        "POST",
        "/api/chat",
        // Anything after the done line is not read.
        ndjson(&[delta_line("Hi"), last.to_string(), "garbage".to_owned()]),
    )
    .await;
    let events: Vec<_> = provider(&server)
        .chat_stream(&request("llama3.2"))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[0], Ok(StreamEvent::Delta("Hi".to_owned())));
    assert_eq!(events[1], Ok(StreamEvent::Delta("!".to_owned())));
    assert!(matches!(
        &events[2],
        Ok(StreamEvent::Done {
            finish_reason: FinishReason::Length,
            ..
        })
    ));
}

#[tokio::test]
async fn rate_limit_carries_retry_after() {
    let server = MockServer::start().await;
    mount(
        &server,
        "POST",
        "/api/chat",
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "2")
            .set_body_json(json!({"error": "too many requests"})),
    )
    .await;
    let e = provider(&server)
        .chat(&request("llama3.2"))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        LlmError::RateLimited {
            provider: "ollama".to_owned(),
            retry_after: Some(Duration::from_secs(2)),
        }
    );
}

#[tokio::test]
async fn server_error_is_server() {
    let server = MockServer::start().await;
    mount(
        &server,
        "POST",
        "/api/chat",
        ResponseTemplate::new(500).set_body_json(json!({"error": "llama runner crashed"})),
    )
    .await;
    let p = provider(&server);
    let e = p.chat(&request("llama3.2")).await.unwrap_err();
    assert!(
        matches!(&e, LlmError::Server { status: 500, message, .. } if message == "llama runner crashed"),
        "{e:?}"
    );
    // A stream fails before it starts.
    let e = p.chat_stream(&request("llama3.2")).await.err().unwrap();
    assert!(matches!(e, LlmError::Server { status: 500, .. }), "{e:?}");
}

#[tokio::test]
async fn unknown_model_is_unknown_model() {
    let server = MockServer::start().await;
    mount(
        &server,
        "POST",
        "/api/chat",
        ResponseTemplate::new(404)
            .set_body_json(json!({"error": "model \"nope\" not found, try pulling it first"})),
    )
    .await;
    let e = provider(&server).chat(&request("nope")).await.unwrap_err();
    match e {
        LlmError::UnknownModel {
            provider,
            model,
            message,
        } => {
            assert_eq!(provider, "ollama");
            assert_eq!(model, "nope");
            assert!(message.contains("try pulling it first"), "{message}");
        }
        other => panic!("expected UnknownModel, got {other:?}"),
    }
}

#[tokio::test]
async fn a_request_without_a_model_is_a_config_error() {
    let server = MockServer::start().await;
    let e = provider(&server)
        .chat(&CompletionRequest::prompt("hi"))
        .await
        .unwrap_err();
    assert!(matches!(e, LlmError::Config(_)), "{e:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn malformed_body_is_malformed() {
    let server = MockServer::start().await;
    mount(
        &server,
        "POST",
        "/api/chat",
        ResponseTemplate::new(200).set_body_string("<html>proxy error</html>"),
    )
    .await;
    let e = provider(&server)
        .chat(&request("llama3.2"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, LlmError::Malformed { message, .. } if message.contains("proxy error")),
        "{e:?}"
    );
}

#[tokio::test]
async fn error_object_in_a_200_body_is_a_server_error() {
    let server = MockServer::start().await;
    mount(
        &server,
        "POST",
        "/api/chat",
        ResponseTemplate::new(200).set_body_json(json!({"error": "out of memory"})),
    )
    .await;
    let e = provider(&server)
        .chat(&request("llama3.2"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, LlmError::Server { message, .. } if message == "out of memory"),
        "{e:?}"
    );
    assert!(e.is_retryable());
}

#[tokio::test]
async fn malformed_line_ends_the_stream_with_malformed() {
    let server = MockServer::start().await;
    mount(
        &server,
        "POST",
        "/api/chat",
        ndjson(&[
            delta_line("Hel"),
            "{\"model\": truncated".to_owned(),
            delta_line("never seen"),
            done_line("stop"),
        ]),
    )
    .await;
    let events: Vec<_> = provider(&server)
        .chat_stream(&request("llama3.2"))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0], Ok(StreamEvent::Delta("Hel".to_owned())));
    assert!(
        matches!(events[1], Err(LlmError::Malformed { .. })),
        "{events:?}"
    );
}

#[tokio::test]
async fn error_line_mid_stream_is_an_error_item() {
    let server = MockServer::start().await;
    mount(
        &server,
        "POST",
        "/api/chat",
        ndjson(&[
            delta_line("Hel"),
            json!({"error": "an error was encountered while running the model"}).to_string(),
            delta_line("never seen"),
        ]),
    )
    .await;
    let p = provider(&server);
    let events: Vec<_> = p
        .chat_stream(&request("llama3.2"))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0], Ok(StreamEvent::Delta("Hel".to_owned())));
    assert!(
        matches!(&events[1], Err(LlmError::Server { message, .. }) if message.contains("running the model")),
        "{events:?}"
    );

    let stream = p.chat_stream(&request("llama3.2")).await.unwrap();
    let e = collect_stream(p.name(), stream, Instant::now())
        .await
        .unwrap_err();
    assert!(matches!(e, LlmError::Server { .. }), "{e:?}");
}

#[tokio::test]
async fn a_stream_that_ends_before_done_is_malformed() {
    let server = MockServer::start().await;
    mount(
        &server,
        "POST",
        "/api/chat",
        ndjson(&[delta_line("Hel"), delta_line("lo")]),
    )
    .await;
    let events: Vec<_> = provider(&server)
        .chat_stream(&request("llama3.2"))
        .await
        .unwrap()
        .collect()
        .await;
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(
        matches!(events[2], Err(LlmError::Malformed { .. })),
        "{events:?}"
    );
}

#[tokio::test]
async fn embed_sends_the_texts_and_returns_one_vector_each() {
    let server = MockServer::start().await;
    mount(
        &server,
        "POST",
        "/api/embed",
        ResponseTemplate::new(200).set_body_json(json!({
            "model": "nomic-embed-text",
            "embeddings": [[0.1, 0.2, 0.3], [-0.5, 0.0, 1.0]]
        })),
    )
    .await;
    let texts = vec!["first".to_owned(), "second".to_owned()];
    let vectors = provider(&server)
        .embed("nomic-embed-text", &texts)
        .await
        .unwrap();
    assert_eq!(vectors, vec![vec![0.1, 0.2, 0.3], vec![-0.5, 0.0, 1.0]]);
    let body = only_request_body(&server).await;
    assert_eq!(body["model"], "nomic-embed-text");
    assert_eq!(body["input"], json!(["first", "second"]));
}

#[tokio::test]
async fn embed_with_the_wrong_count_is_malformed() {
    let server = MockServer::start().await;
    mount(
        &server,
        "POST",
        "/api/embed",
        ResponseTemplate::new(200).set_body_json(json!({
            "model": "nomic-embed-text",
            "embeddings": [[0.1, 0.2, 0.3]]
        })),
    )
    .await;
    let texts = vec!["first".to_owned(), "second".to_owned()];
    let e = provider(&server)
        .embed("nomic-embed-text", &texts)
        .await
        .unwrap_err();
    assert!(matches!(e, LlmError::Malformed { .. }), "{e:?}");
}

#[tokio::test]
async fn embed_of_nothing_sends_nothing() {
    let server = MockServer::start().await;
    let vectors = provider(&server)
        .embed("nomic-embed-text", &[])
        .await
        .unwrap();
    assert!(vectors.is_empty());
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn embed_with_an_unknown_model_is_unknown_model() {
    let server = MockServer::start().await;
    mount(
        &server,
        "POST",
        "/api/embed",
        ResponseTemplate::new(404)
            .set_body_json(json!({"error": "model \"x\" not found, try pulling it first"})),
    )
    .await;
    let e = provider(&server)
        .embed("x", &["a".to_owned()])
        .await
        .unwrap_err();
    assert!(
        matches!(&e, LlmError::UnknownModel { model, .. } if model == "x"),
        "{e:?}"
    );
}

#[tokio::test]
async fn list_models_returns_names() {
    let server = MockServer::start().await;
    mount(
        &server,
        "GET",
        "/api/tags",
        ResponseTemplate::new(200).set_body_json(json!({
            "models": [
                {
                    "name": "llama3.2:latest",
                    "model": "llama3.2:latest",
                    "modified_at": "2025-01-01T00:00:00Z",
                    "size": 2019393189u64,
                    "digest": "a80c4f17acd5",
                    "details": {"format": "gguf", "family": "llama"}
                },
                {
                    "name": "nomic-embed-text:latest",
                    "model": "nomic-embed-text:latest",
                    "modified_at": "2025-01-01T00:00:00Z",
                    "size": 274302450u64,
                    "digest": "0a109f422b47",
                    "details": {}
                }
            ]
        })),
    )
    .await;
    let names = provider(&server).list_models().await.unwrap();
    assert_eq!(names, vec!["llama3.2:latest", "nomic-embed-text:latest"]);
}

#[tokio::test]
async fn an_unreachable_server_is_a_transport_error() {
    // A port that was just free: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let p = OllamaProvider::new(
        OllamaConfig {
            name: "ollama".to_owned(),
            base_url: format!("http://127.0.0.1:{port}"),
        },
        &HttpOptions::default(),
    )
    .unwrap();
    let e = p.list_models().await.unwrap_err();
    assert!(matches!(e, LlmError::Transport { .. }), "{e:?}");
}

/// Whether a parse result is one a 2xx body may give: a chat answer, a malformed body,
/// or the server error the body itself reports.
fn acceptable(body: &[u8], result: &Result<impl std::fmt::Debug, LlmError>) -> bool {
    match result {
        Ok(_) | Err(LlmError::Malformed { .. }) => true,
        Err(LlmError::Server { .. }) => serde_json::from_slice::<Value>(body)
            .is_ok_and(|v| v.get("error").is_some_and(|e| !e.is_null())),
        Err(_) => false,
    }
}

fn valid_answer() -> Vec<u8> {
    let mut v: Value = serde_json::from_str(&done_line("stop")).unwrap();
    v["message"]["content"] = json!("héllo");
    v.to_string().into_bytes()
}

proptest! {
    #[test]
    fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let r = parse_chat_response("ollama", &body);
        prop_assert!(acceptable(&body, &r), "{r:?}");
        let r = parse_chat_line("ollama", &body);
        prop_assert!(acceptable(&body, &r), "{r:?}");
    }

    #[test]
    fn truncated_or_corrupted_answers_never_panic(cut in any::<prop::sample::Index>(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let valid = valid_answer();
        let truncated = &valid[..cut.index(valid.len() + 1)];
        let r = parse_chat_response("ollama", truncated);
        prop_assert!(acceptable(truncated, &r), "{r:?}");

        let mut corrupted = valid.clone();
        let i = at.index(corrupted.len());
        corrupted[i] = byte;
        let r = parse_chat_response("ollama", &corrupted);
        prop_assert!(acceptable(&corrupted, &r), "{r:?}");
    }

    #[test]
    fn json_objects_with_wrong_fields_never_panic(
        fields in proptest::collection::vec(
            ("(model|created_at|message|done|done_reason|eval_count|prompt_eval_count|error|role|content)",
             prop_oneof![
                Just(json!(null)), any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from), any::<f64>().prop_map(Value::from),
                ".{0,8}".prop_map(Value::from),
                Just(json!({"role": "assistant", "content": "x"})),
                Just(json!({"role": "robot", "content": 1})),
             ]),
            0..8,
        )
    ) {
        let object: serde_json::Map<String, Value> = fields.into_iter().collect();
        let body = Value::Object(object).to_string().into_bytes();
        let r = parse_chat_response("ollama", &body);
        prop_assert!(acceptable(&body, &r), "{r:?}");
    }
}

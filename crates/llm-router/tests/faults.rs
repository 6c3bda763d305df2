//! Every provider kind against a raw TCP server that breaks the connection: accepts and
//! resets it, answers half a response and closes, or breaks a stream after its first
//! delta. Each call ends in a typed error naming the provider, never a hang, a panic or
//! a half answer passed off as whole.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use std::time::Duration;

use futures_util::StreamExt;
use llm_router::http::HttpOptions;
use llm_router::providers::anthropic::{AnthropicConfig, AnthropicProvider};
use llm_router::providers::ollama::{OllamaConfig, OllamaProvider};
use llm_router::providers::openai::{OpenAiConfig, OpenAiProvider};
use llm_router::{LlmError, Provider, StreamEvent};
use memory_core::CompletionRequest;
use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the raw server does with each connection.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Reads the request, then resets the connection (RST, linger 0) without a byte.
    Reset,
    /// Answers a 200 with a `Content-Length` far beyond the half body it sends, then
    /// closes.
    HalfBody,
    /// Answers a 200 chunked stream with one well-formed event, then resets.
    HalfStream,
}

/// The first streamed event of each provider's protocol, one delta `Hel`.
fn first_event(kind: &str) -> &'static str {
    match kind {
        "ollama" => {
            "{\"model\":\"m\",\"created_at\":\"2025-01-01T00:00:00Z\",\"message\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"done\":false}\n"
        }
        "openai" => {
            "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n"
        }
        _ => {
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"m\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":1,\"output_tokens\":0}}}\n\nevent: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n"
        }
    }
}

/// Starts a server applying `fault` to every connection; returns its base URL.
async fn faulty_server(fault: Fault, kind: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                // Read the request head (and whatever of the body came with it).
                let mut buf = vec![0u8; 64 * 1024];
                let _ = tokio::time::timeout(Duration::from_millis(500), sock.read(&mut buf)).await;
                match fault {
                    Fault::Reset => {}
                    Fault::HalfBody => {
                        let _ = sock
                            .write_all(
                                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 4096\r\n\r\n{\"id\":\"x\",\"choi",
                            )
                            .await;
                        let _ = sock.flush().await;
                    }
                    Fault::HalfStream => {
                        let ctype = if kind == "ollama" {
                            "application/x-ndjson"
                        } else {
                            "text/event-stream"
                        };
                        let event = first_event(kind);
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: {ctype}\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{event}\r\n",
                            event.len()
                        );
                        let _ = sock.write_all(head.as_bytes()).await;
                        let _ = sock.flush().await;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
                // Linger 0: closing sends a reset rather than a clean FIN.
                #[allow(deprecated)] // A zero linger does not block: it resets at once.
                let _ = sock.set_linger(Some(Duration::ZERO));
                drop(sock);
            });
        }
    });
    format!("http://{addr}")
}

fn provider(kind: &str, base: &str) -> Box<dyn Provider> {
    let http = HttpOptions::default();
    match kind {
        "ollama" => Box::new(
            OllamaProvider::new(
                OllamaConfig {
                    name: "ollama".into(),
                    base_url: base.to_owned(),
                },
                &http,
            )
            .unwrap(),
        ),
        "openai" => Box::new(
            OpenAiProvider::new(
                OpenAiConfig {
                    name: "openai".into(),
                    base_url: format!("{base}/v1"),
                    api_key: Some(SecretString::from("sk-test")),
                    api_key_env: None,
                },
                &http,
            )
            .unwrap(),
        ),
        _ => Box::new(
            AnthropicProvider::new(
                AnthropicConfig {
                    base_url: base.to_owned(),
                    api_key: Some(SecretString::from("sk-ant-test")),
                    api_key_env: None,
                    ..AnthropicConfig::default()
                },
                &http,
            )
            .unwrap(),
        ),
    }
}

fn request() -> CompletionRequest {
    CompletionRequest {
        model: Some("m".to_owned()),
        ..CompletionRequest::prompt("Say hello.")
    }
}

const KINDS: [&str; 3] = ["ollama", "openai", "anthropic"];

/// A broken connection is `Transport` (or `Malformed` when the half body reached the
/// parser), names the provider, and is retryable-shaped rather than a panic.
fn assert_broken(kind: &str, fault: Fault, e: &LlmError) {
    assert!(
        matches!(e, LlmError::Transport { .. } | LlmError::Malformed { .. }),
        "{kind} {fault:?}: {e:?}"
    );
    assert!(e.to_string().contains(kind), "{kind} {fault:?}: {e}");
}

#[tokio::test]
async fn a_reset_connection_is_a_transport_error_for_every_provider() {
    for kind in KINDS {
        let base = faulty_server(Fault::Reset, kind).await;
        let p = provider(kind, &base);
        let e = tokio::time::timeout(Duration::from_secs(30), p.chat(&request()))
            .await
            .expect("no hang")
            .unwrap_err();
        assert!(matches!(e, LlmError::Transport { .. }), "{kind}: {e:?}");
        assert!(e.to_string().contains(kind), "{kind}: {e}");
        // A stream opened on a reset connection fails the same way, at open or as its
        // first item.
        match tokio::time::timeout(Duration::from_secs(30), p.chat_stream(&request()))
            .await
            .expect("no hang")
        {
            Err(e) => assert!(matches!(e, LlmError::Transport { .. }), "{kind}: {e:?}"),
            Ok(mut s) => {
                let first = s.next().await.expect("an item");
                assert!(
                    matches!(first, Err(LlmError::Transport { .. })),
                    "{kind}: {first:?}"
                );
            }
        }
    }
}

#[tokio::test]
async fn half_a_response_then_close_is_an_error_for_every_provider() {
    for kind in KINDS {
        let base = faulty_server(Fault::HalfBody, kind).await;
        let p = provider(kind, &base);
        let e = tokio::time::timeout(Duration::from_secs(30), p.chat(&request()))
            .await
            .expect("no hang")
            .unwrap_err();
        assert_broken(kind, Fault::HalfBody, &e);
    }
}

#[tokio::test]
async fn a_stream_reset_after_its_first_delta_ends_with_an_error_not_done() {
    for kind in KINDS {
        let base = faulty_server(Fault::HalfStream, kind).await;
        let p = provider(kind, &base);
        let mut s = tokio::time::timeout(Duration::from_secs(30), p.chat_stream(&request()))
            .await
            .expect("no hang")
            .unwrap_or_else(|e| panic!("{kind}: the stream opens: {e:?}"));
        let mut items = Vec::new();
        while let Some(item) = tokio::time::timeout(Duration::from_secs(30), s.next())
            .await
            .expect("no hang")
        {
            let end = item.is_err();
            items.push(item);
            if end {
                break;
            }
        }
        assert!(
            !items
                .iter()
                .any(|i| matches!(i, Ok(StreamEvent::Done { .. }))),
            "{kind}: a broken stream must not claim to be done: {items:?}"
        );
        match items.last() {
            Some(Err(e)) => assert_broken(kind, Fault::HalfStream, e),
            other => panic!("{kind}: the stream must end with an error, got {other:?}"),
        }
    }
}

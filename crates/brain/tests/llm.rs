//! The brain with a language-model provider: completions routed by the table, and
//! embeddings through Ollama's protocol (a local wiremock server), pinned like any
//! embedder.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use brain::config::EmbedderKind;
use brain::{BrainConfig, BrainError, RecallQuery};
use llm_router::providers::ollama::OllamaConfig;
use llm_router::{Complexity, LlmError, ProviderConfig, RouteRequest, TaskType};
use memory_core::{CompletionRequest, ErrorKind, NewMemory, Scope};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Ollama's `/api/embed`: a 768-dimensional bag of hashed words per input, so texts that
/// share words are near.
struct Embeddings;

impl Respond for Embeddings {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let inputs: Vec<String> = match &body["input"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
            other => panic!("unexpected input {other}"),
        };
        let vectors: Vec<Vec<f32>> = inputs
            .iter()
            .map(|t| {
                let mut v = vec![0.0f32; 768];
                v[767] = 0.01;
                for w in t
                    .to_lowercase()
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| w.len() > 2)
                {
                    let h = w.bytes().fold(1469598103934665603u64, |h, b| {
                        (h ^ u64::from(b)).wrapping_mul(1099511628211)
                    });
                    v[(h % 767) as usize] += 1.0;
                }
                v
            })
            .collect();
        ResponseTemplate::new(200)
            .set_body_json(json!({"model": "nomic-embed-text", "embeddings": vectors}))
    }
}

fn config(dir: &std::path::Path, ollama: &str) -> BrainConfig {
    let mut c = BrainConfig {
        data_dir: dir.to_path_buf(),
        ..Default::default()
    };
    c.embedder.kind = EmbedderKind::Llm;
    c.llm.providers = vec![ProviderConfig::Ollama(OllamaConfig {
        name: "ollama".into(),
        base_url: ollama.to_owned(),
    })];
    c.llm.resilience.max_retries = 0;
    c
}

#[tokio::test]
async fn without_a_provider_completion_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = BrainConfig {
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    c.embedder.kind = EmbedderKind::Hashing;
    let brain = brain_engines::open(c).await.unwrap();
    let e = brain
        .complete(
            &RouteRequest::new(TaskType::Chat, Complexity::Simple),
            CompletionRequest::prompt("hi"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, BrainError::Llm(LlmError::NotConfigured)),
        "{e:?}"
    );
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(e.to_string().contains("[llm]"));
}

#[tokio::test]
async fn an_llm_embedder_without_a_provider_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = BrainConfig {
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    c.embedder.kind = EmbedderKind::Llm;
    let e = brain_engines::open(c).await.unwrap_err();
    assert!(matches!(e, BrainError::Config(_)), "{e:?}");
}

#[tokio::test]
async fn memories_embedded_by_ollama_are_recalled_and_pinned() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/embed"))
        .respond_with(Embeddings)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "model": "llama3.1:8b", "created_at": "2025-01-01T00:00:00Z",
            "message": {"role": "assistant", "content": "tabs"},
            "done": true, "done_reason": "stop", "prompt_eval_count": 9, "eval_count": 1
        })))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().unwrap();
    let brain = brain_engines::open(config(dir.path(), &server.uri()))
        .await
        .unwrap();
    assert_eq!(brain.embedder_info().model_id, "ollama/nomic-embed-text");
    assert_eq!(brain.embedder_info().dimension, 768);
    let scope = Scope::user("ada");
    brain
        .remember(
            NewMemory::new("The user prefers tabs for indentation in Rust")
                .with_scope(scope.clone()),
        )
        .await
        .unwrap();
    brain
        .remember(
            NewMemory::new("Deploys go out on Thursdays after the standup")
                .with_scope(scope.clone()),
        )
        .await
        .unwrap();
    let hits = brain
        .recall(&RecallQuery::new(
            "indentation preference tabs",
            scope.clone(),
        ))
        .await
        .unwrap();
    assert!(hits[0].memory.content.contains("tabs"), "{hits:?}");

    let answer = brain
        .complete(
            &RouteRequest::new(TaskType::Classification, Complexity::Simple),
            CompletionRequest::prompt("tabs or spaces?"),
        )
        .await
        .unwrap();
    assert_eq!(answer.routed.completion.text, "tabs");
    assert_eq!(answer.routed.served_by.to_string(), "ollama/llama3.1:8b");
    brain.close().await.unwrap();

    // The vectors were written by Ollama's model: another embedder is refused.
    let mut other = config(dir.path(), &server.uri());
    other.embedder.kind = EmbedderKind::Hashing;
    let e = brain_engines::open(other).await.unwrap_err();
    assert!(matches!(e, BrainError::EmbedderMismatch { .. }), "{e:?}");
}

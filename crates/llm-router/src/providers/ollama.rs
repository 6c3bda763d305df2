//! Ollama: chat (plain and streamed NDJSON), embeddings and the model list, speaking
//! Ollama's HTTP API with ollama-rs's protocol types.
//!
//! # What is spoken
//!
//! - `POST {base_url}/api/chat` with `stream: false` for [`Provider::chat`]: one JSON
//!   object back. The system prompt becomes a leading `system` message; temperature, max
//!   tokens (`num_predict`) and stop sequences go in `options`; JSON mode is
//!   `format: "json"`.
//! - The same with `stream: true` for [`Provider::chat_stream`]: newline-delimited JSON,
//!   one object per line, each with a piece of the answer in `message.content`, the last
//!   one with `done: true`, `done_reason` and the token counts.
//! - `POST {base_url}/api/embed` with `input` as a list of texts for
//!   [`Provider::embed`]: `embeddings`, one vector per text.
//! - `GET {base_url}/api/tags` for [`Provider::list_models`].
//!
//! Errors come back as a non-2xx status with `{"error": "..."}` (an unknown model is
//! HTTP 404, "model \"x\" not found, try pulling it first", hence
//! [`LlmError::UnknownModel`]), or, once a stream has started with 200, as an
//! `{"error": "..."}` line, which is a [`LlmError::Server`] error.
//!
//! # Why ollama-rs is used for types only
//!
//! The request and response bodies are ollama-rs's serde types
//! ([`ChatMessageRequest`], [`ChatMessageResponse`], [`GenerateEmbeddingsRequest`],
//! [`GenerateEmbeddingsResponse`], [`LocalModel`], [`ModelOptions`]), so the wire format
//! follows a maintained description of Ollama's API. Its client is not used, because it
//! loses what the router's layers need:
//!
//! - every non-2xx answer becomes an untyped string error: the HTTP status and
//!   `Retry-After` are gone, so a rate limit, an unknown model and a crash look alike;
//! - it prints to stderr (`eprintln!`) instead of returning or logging errors;
//! - its stream drops any network chunk that splits a UTF-8 character (and skips lines
//!   that do not parse), so a streamed answer can silently lose text.
//!
//! Requests go out through this crate's reqwest client and [`crate::http::send`], which
//! map statuses to typed errors; streamed bodies are split by [`crate::http::lines`].
//!
//! Two things are read from the JSON beside ollama-rs's types: `done_reason`, which
//! [`ChatMessageResponse`] lacks, and the token counts, because ollama-rs reads them
//! only when all six timing and count fields are present, while Ollama omits each one
//! that is zero (`omitempty`). Two gaps in ollama-rs are filled here too: its request's
//! `stream` field is private (it is set in the encoded JSON), and so is its `/api/tags`
//! wrapper (a small one here holds its [`LocalModel`]s).

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_core::Stream;
use futures_util::StreamExt;
use memory_core::{Completion, CompletionRequest, FinishReason, Role, Usage};
use ollama_rs::generation::chat::request::ChatMessageRequest;
use ollama_rs::generation::chat::{ChatMessage, ChatMessageResponse, MessageRole};
use ollama_rs::generation::embeddings::GenerateEmbeddingsResponse;
use ollama_rs::generation::embeddings::request::{EmbeddingsInput, GenerateEmbeddingsRequest};
use ollama_rs::generation::parameters::FormatType;
use ollama_rs::models::{LocalModel, ModelOptions};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{LlmError, Result};
use crate::http::HttpOptions;
use crate::provider::{ChatStream, Provider, StreamEvent, required_model};

/// The status reported for an `{"error": ...}` object found in a successful answer:
/// Ollama sends it with 200 once a stream has started.
const IN_BODY_ERROR_STATUS: u16 = 200;

/// How to reach an Ollama server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OllamaConfig {
    /// The provider's name in the routing table.
    pub name: String,
    /// The server, e.g. `http://localhost:11434`.
    pub base_url: String,
}

impl Default for OllamaConfig {
    fn default() -> Self {
        OllamaConfig {
            name: "ollama".to_owned(),
            base_url: "http://localhost:11434".to_owned(),
        }
    }
}

/// An Ollama server as a [`crate::Provider`].
#[derive(Debug, Clone)]
pub struct OllamaProvider {
    config: OllamaConfig,
    client: reqwest::Client,
}

impl OllamaProvider {
    /// A provider for the server in `config`.
    pub fn new(config: OllamaConfig, http: &HttpOptions) -> Result<Self> {
        Ok(OllamaProvider {
            client: crate::http::client(http)?,
            config,
        })
    }

    /// `{base_url}{path}`, with no doubled slash.
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url.trim_end_matches('/'))
    }

    /// Sends a chat request and returns the successful response.
    async fn post_chat(
        &self,
        model: &str,
        request: &CompletionRequest,
        stream: bool,
    ) -> Result<reqwest::Response> {
        let body = chat_body(self.name(), model, request, stream)?;
        let builder = self.client.post(self.url("/api/chat")).json(&body);
        crate::http::send(self.name(), model, builder).await
    }

    /// The whole body of a successful response.
    async fn body(&self, response: reqwest::Response) -> Result<bytes::Bytes> {
        response
            .bytes()
            .await
            .map_err(|e| crate::http::transport_error(self.name(), e))
    }
}

#[async_trait]
impl Provider for OllamaProvider {
    fn name(&self) -> &str {
        &self.config.name
    }

    async fn chat(&self, request: &CompletionRequest) -> Result<Completion> {
        let started = Instant::now();
        let model = required_model(self.name(), request)?;
        let response = self.post_chat(model, request, false).await?;
        let body = self.body(response).await?;
        let mut completion = parse_chat_response(self.name(), &body)?;
        completion.latency = started.elapsed();
        Ok(completion)
    }

    async fn chat_stream(&self, request: &CompletionRequest) -> Result<ChatStream> {
        let model = required_model(self.name(), request)?;
        let response = self.post_chat(model, request, true).await?;
        let lines = crate::http::lines(self.name(), response.bytes_stream());
        Ok(chat_events(self.name(), Box::pin(lines)))
    }

    async fn embed(&self, model: &str, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        if model.trim().is_empty() {
            return Err(LlmError::Config(format!(
                "an embedding request to {} must name its model",
                self.name()
            )));
        }
        let request = GenerateEmbeddingsRequest::new(
            model.to_owned(),
            EmbeddingsInput::Multiple(texts.to_vec()),
        );
        let builder = self.client.post(self.url("/api/embed")).json(&request);
        let response = crate::http::send(self.name(), model, builder).await?;
        let body = self.body(response).await?;
        parse_embeddings(self.name(), texts.len(), &body)
    }

    async fn list_models(&self) -> Result<Vec<String>> {
        let builder = self.client.get(self.url("/api/tags"));
        let response = crate::http::send(self.name(), "", builder)
            .await
            .map_err(|e| match e {
                // No model was asked for: a 404 here means the server has no /api/tags.
                LlmError::UnknownModel {
                    provider, message, ..
                } => LlmError::InvalidRequest {
                    provider,
                    status: 404,
                    message,
                },
                other => other,
            })?;
        let body = self.body(response).await?;
        let tags: Tags = parse_json(self.name(), &body)?;
        Ok(tags.models.into_iter().map(|m| m.name).collect())
    }
}

/// Ollama's `/api/tags` answer (ollama-rs's own wrapper is private).
#[derive(Deserialize)]
struct Tags {
    models: Vec<LocalModel>,
}

/// What ollama-rs's [`ChatMessageResponse`] does not read reliably (see the module
/// documentation).
#[derive(Deserialize)]
struct ChatExtras {
    #[serde(default)]
    done_reason: Option<String>,
    #[serde(default)]
    prompt_eval_count: Option<u64>,
    #[serde(default)]
    eval_count: Option<u64>,
}

/// One answer of Ollama's chat endpoint, parsed: the whole answer of a plain call, or
/// one line of a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatChunk {
    /// The model that answered, as Ollama names it.
    pub model: String,
    /// The text of this answer or line (empty for a line with no new text).
    pub content: String,
    /// Whether this is the last line: the answer is complete.
    pub done: bool,
    /// Why the model stopped: `Some` exactly when [`ChatChunk::done`]. `done_reason`
    /// `stop` is [`FinishReason::Stop`], `length` is [`FinishReason::Length`], anything
    /// else [`FinishReason::Other`]; a server too old to send it is taken as `Stop`.
    pub finish_reason: Option<FinishReason>,
    /// `prompt_eval_count` and `eval_count`, zero where absent.
    pub usage: Usage,
}

/// Parses one JSON object from Ollama's chat endpoint (a whole answer or one streamed
/// line).
///
/// An `{"error": ...}` object is [`LlmError::Server`] with status 200, the status Ollama
/// sends it with; anything that is not a chat answer is [`LlmError::Malformed`].
pub fn parse_chat_line(provider: &str, line: &[u8]) -> Result<ChatChunk> {
    let (response, extras): (ChatMessageResponse, ChatExtras) = parse_json_pair(provider, line)?;
    let finish_reason = response.done.then(|| match extras.done_reason.as_deref() {
        None | Some("stop") => FinishReason::Stop,
        Some("length") => FinishReason::Length,
        Some(other) => FinishReason::Other(other.to_owned()),
    });
    Ok(ChatChunk {
        model: response.model,
        content: response.message.content,
        done: response.done,
        finish_reason,
        usage: Usage {
            input_tokens: extras.prompt_eval_count.unwrap_or(0),
            output_tokens: extras.eval_count.unwrap_or(0),
        },
    })
}

/// Parses the body of a non-streamed chat answer into a [`Completion`] whose latency is
/// zero (the caller times the call).
///
/// Errors as [`parse_chat_line`]; an answer that is not `done` is also
/// [`LlmError::Malformed`].
pub fn parse_chat_response(provider: &str, body: &[u8]) -> Result<Completion> {
    let chunk = parse_chat_line(provider, body)?;
    match chunk.finish_reason {
        Some(finish_reason) => Ok(Completion {
            text: chunk.content,
            model: chunk.model,
            finish_reason,
            usage: chunk.usage,
            latency: Duration::ZERO,
        }),
        None => Err(LlmError::Malformed {
            provider: provider.to_owned(),
            message: "a non-streamed answer is not marked done".to_owned(),
        }),
    }
}

/// Parses an `/api/embed` answer and checks it: one vector per text, all of the same
/// non-zero length, every value finite.
fn parse_embeddings(provider: &str, expected: usize, body: &[u8]) -> Result<Vec<Vec<f32>>> {
    let response: GenerateEmbeddingsResponse = parse_json(provider, body)?;
    let vectors = response.embeddings;
    let malformed = |message: String| LlmError::Malformed {
        provider: provider.to_owned(),
        message,
    };
    if vectors.len() != expected {
        return Err(malformed(format!(
            "{} embeddings for {expected} texts",
            vectors.len()
        )));
    }
    let dimension = vectors.first().map_or(0, Vec::len);
    if dimension == 0 {
        return Err(malformed("an empty embedding".to_owned()));
    }
    for (i, v) in vectors.iter().enumerate() {
        if v.len() != dimension {
            return Err(malformed(format!(
                "embedding {i} has {} dimensions, the first has {dimension}",
                v.len()
            )));
        }
        if v.iter().any(|x| !x.is_finite()) {
            return Err(malformed(format!("embedding {i} has a non-finite value")));
        }
    }
    Ok(vectors)
}

/// Parses a JSON body as `T`, after turning an `{"error": ...}` object into
/// [`LlmError::Server`].
fn parse_json<T: DeserializeOwned>(provider: &str, body: &[u8]) -> Result<T> {
    let value = parse_value(provider, body)?;
    T::deserialize(&value).map_err(|e| crate::http::malformed(provider, &e, body))
}

/// [`parse_json`] for two views of the same body.
fn parse_json_pair<A: DeserializeOwned, B: DeserializeOwned>(
    provider: &str,
    body: &[u8],
) -> Result<(A, B)> {
    let value = parse_value(provider, body)?;
    let a = A::deserialize(&value).map_err(|e| crate::http::malformed(provider, &e, body))?;
    let b = B::deserialize(&value).map_err(|e| crate::http::malformed(provider, &e, body))?;
    Ok((a, b))
}

/// The body as JSON, or the error it reports.
fn parse_value(provider: &str, body: &[u8]) -> Result<Value> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| crate::http::malformed(provider, &e, body))?;
    match value.get("error") {
        None | Some(Value::Null) => Ok(value),
        Some(error) => Err(LlmError::Server {
            provider: provider.to_owned(),
            status: IN_BODY_ERROR_STATUS,
            message: crate::http::truncate(
                error
                    .as_str()
                    .map_or_else(|| error.to_string(), str::to_owned)
                    .trim(),
            ),
        }),
    }
}

/// The body of a chat request, with `stream` set (ollama-rs keeps that field private).
fn chat_body(
    provider: &str,
    model: &str,
    request: &CompletionRequest,
    stream: bool,
) -> Result<Value> {
    let mut messages = Vec::with_capacity(request.messages.len() + 1);
    if let Some(system) = &request.system {
        messages.push(ChatMessage::system(system.clone()));
    }
    messages.extend(request.messages.iter().map(|m| {
        let role = match m.role {
            Role::System => MessageRole::System,
            Role::User => MessageRole::User,
            Role::Assistant => MessageRole::Assistant,
            Role::Tool => MessageRole::Tool,
        };
        ChatMessage::new(role, m.content.clone())
    }));

    let mut options = ModelOptions::default();
    if let Some(t) = request.temperature {
        options = options.temperature(t);
    }
    if let Some(max) = request.max_tokens {
        options = options.num_predict(i32::try_from(max).unwrap_or(i32::MAX));
    }
    if !request.stop.is_empty() {
        options = options.stop(request.stop.clone());
    }

    let mut body = ChatMessageRequest::new(model.to_owned(), messages);
    if options != ModelOptions::default() {
        body = body.options(options);
    }
    if request.json_mode {
        body = body.format(FormatType::Json);
    }
    let mut value = serde_json::to_value(&body).map_err(|e| {
        LlmError::Config(format!("cannot encode a chat request to {provider}: {e}"))
    })?;
    if let Some(object) = value.as_object_mut() {
        object.insert("stream".to_owned(), Value::Bool(stream));
    }
    Ok(value)
}

/// The lines of a streamed body, boxed so the stream's state can hold them.
type Lines = Pin<Box<dyn Stream<Item = Result<String>> + Send>>;

/// Where a streamed answer is: events parsed but not yet given out, and whether the
/// stream is over (after `done`, an error, or the end of the body).
struct StreamState {
    provider: String,
    lines: Lines,
    pending: VecDeque<Result<StreamEvent>>,
    finished: bool,
}

/// Turns the lines of a streamed chat answer into [`StreamEvent`]s: a
/// [`StreamEvent::Delta`] for every line with text, then [`StreamEvent::Done`] for the
/// `done` line, after which the body is not read further. A line that does not parse,
/// an error line, a broken connection, or a body that ends before `done`, is one
/// error item that ends the stream.
fn chat_events(provider: &str, lines: Lines) -> ChatStream {
    let state = StreamState {
        provider: provider.to_owned(),
        lines,
        pending: VecDeque::new(),
        finished: false,
    };
    Box::pin(futures_util::stream::unfold(state, |mut st| async move {
        loop {
            if let Some(event) = st.pending.pop_front() {
                return Some((event, st));
            }
            if st.finished {
                return None;
            }
            match st.lines.next().await {
                None => {
                    st.finished = true;
                    st.pending.push_back(Err(LlmError::Malformed {
                        provider: st.provider.clone(),
                        message: "the stream ended before its final (done) line".to_owned(),
                    }));
                }
                Some(Err(e)) => {
                    st.finished = true;
                    st.pending.push_back(Err(e));
                }
                Some(Ok(line)) => match parse_chat_line(&st.provider, line.as_bytes()) {
                    Err(e) => {
                        st.finished = true;
                        st.pending.push_back(Err(e));
                    }
                    Ok(chunk) => {
                        if !chunk.content.is_empty() {
                            st.pending.push_back(Ok(StreamEvent::Delta(chunk.content)));
                        }
                        if let Some(finish_reason) = chunk.finish_reason {
                            st.finished = true;
                            st.pending.push_back(Ok(StreamEvent::Done {
                                model: chunk.model,
                                finish_reason,
                                usage: chunk.usage,
                            }));
                        }
                    }
                },
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> CompletionRequest {
        CompletionRequest {
            model: Some("m".to_owned()),
            ..CompletionRequest::prompt("hi")
        }
    }

    #[test]
    fn a_plain_request_sends_no_options_and_sets_stream() {
        let body = chat_body("ollama", "m", &request(), true).unwrap();
        assert_eq!(body["stream"], Value::Bool(true));
        assert!(body.get("options").is_none());
        assert!(body.get("format").is_none());
        assert_eq!(body["messages"][0]["role"], "user");
    }

    #[test]
    fn tool_messages_keep_their_role() {
        let mut r = request();
        r.messages.push(memory_core::ChatMessage {
            role: Role::Tool,
            content: "42".to_owned(),
        });
        let body = chat_body("ollama", "m", &r, false).unwrap();
        assert_eq!(body["messages"][1]["role"], "tool");
        assert_eq!(body["stream"], Value::Bool(false));
    }

    #[test]
    fn huge_max_tokens_saturate() {
        let mut r = request();
        r.max_tokens = Some(u32::MAX);
        let body = chat_body("ollama", "m", &r, false).unwrap();
        assert_eq!(body["options"]["num_predict"], i32::MAX);
    }

    #[test]
    fn done_without_counts_or_reason() {
        let chunk = parse_chat_line(
            "ollama",
            br#"{"model":"m","created_at":"t","message":{"role":"assistant","content":""},"done":true}"#,
        )
        .unwrap();
        assert_eq!(chunk.finish_reason, Some(FinishReason::Stop));
        assert_eq!(chunk.usage, Usage::default());
    }

    #[test]
    fn an_unfinished_plain_answer_is_malformed() {
        let e = parse_chat_response(
            "ollama",
            br#"{"model":"m","created_at":"t","message":{"role":"assistant","content":"x"},"done":false}"#,
        );
        assert!(matches!(e, Err(LlmError::Malformed { .. })));
    }

    #[test]
    fn embeddings_are_checked() {
        let ok = parse_embeddings("o", 2, br#"{"embeddings":[[1,2],[3,4]]}"#).unwrap();
        assert_eq!(ok, vec![vec![1.0, 2.0], vec![3.0, 4.0]]);
        for bad in [
            &br#"{"embeddings":[[1,2]]}"#[..],
            br#"{"embeddings":[[1,2],[3]]}"#,
            br#"{"embeddings":[[],[]]}"#,
            br#"{"embeddings":[[1e300,2],[3,4]]}"#,
            br#"{"embeddings":"no"}"#,
        ] {
            assert!(
                matches!(
                    parse_embeddings("o", 2, bad),
                    Err(LlmError::Malformed { .. })
                ),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}

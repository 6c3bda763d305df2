//! Anthropic's Messages API over reqwest (there is no maintained Rust SDK): chat, and
//! streaming over server-sent events.
//!
//! What is spoken:
//!
//! - **Chat**: `POST {base_url}/v1/messages` with the headers `x-api-key` (marked
//!   sensitive, so it is never logged by the HTTP stack), `anthropic-version` and
//!   `content-type: application/json`. The body carries `model`, `max_tokens` (the API
//!   requires it: the request's, else [`AnthropicConfig::default_max_tokens`]), `system`,
//!   `messages`, `temperature` and `stop_sequences`. The answer's `text` content blocks
//!   are joined; its `stop_reason` and `usage` become the [`Completion`]'s finish reason
//!   and token counts.
//! - **Streaming**: the same request with `"stream": true`, answered with server-sent
//!   events: `message_start` (the model, prompt tokens), `content_block_delta` with a
//!   `text_delta` (a [`StreamEvent::Delta`]), `message_delta` (the stop reason, generated
//!   tokens), `message_stop` (the [`StreamEvent::Done`]). `ping` and event types this
//!   module does not know are skipped, as Anthropic's versioning policy asks; an `error`
//!   event becomes the typed error its HTTP status would have given.
//! - **Models**: `GET {base_url}/v1/models`, following its pages.
//! - **Embeddings**: Anthropic has none, so [`Provider::embed`] keeps its default
//!   ([`LlmError::Unsupported`]).
//!
//! How provider-neutral requests are translated:
//!
//! - The API has no system role inside `messages`: the request's system prompt and every
//!   [`Role::System`] message, in order, are joined with blank lines into `system`.
//! - The API has `user` and `assistant` roles only, and requires them to alternate:
//!   [`Role::Tool`] output is sent as `user`, and consecutive messages of the same role
//!   are merged into one, their texts joined with blank lines.
//! - A conversation that starts with an assistant message is sent as it is (the API
//!   decides whether to accept it); a conversation that *ends* with one is, for
//!   Anthropic, a prefill: the model continues that message's text.
//! - Anthropic has no JSON mode: with [`CompletionRequest::json_mode`] an instruction to
//!   answer with a single JSON object and nothing else is appended to the system prompt.
//!   The model usually obeys, but nothing enforces it; callers must still parse
//!   defensively.
//! - Temperatures are passed as given; Anthropic accepts 0 to 1 and rejects more with
//!   HTTP 400 ([`LlmError::InvalidRequest`]).
//!
//! The parsers ([`parse_message`], [`StreamDecoder`], [`event_stream`], [`parse_models`])
//! are public so that they can be tested without a server.

use std::fmt;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use eventsource_stream::{EventStreamError, Eventsource};
use futures_core::Stream;
use futures_util::StreamExt;
use memory_core::{ChatMessage, Completion, CompletionRequest, FinishReason, Role, Usage};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::{LlmError, Result};
use crate::http::HttpOptions;
use crate::provider::{ChatStream, Provider, StreamEvent, required_model};

/// What [`CompletionRequest::json_mode`] appends to the system prompt, since Anthropic
/// has no JSON mode.
pub const JSON_INSTRUCTION: &str = "Answer with a single JSON object and nothing else: \
     no prose before or after it, and no Markdown code fence.";

/// The most pages of `/v1/models` read, against a server that never stops paging.
const MAX_MODEL_PAGES: usize = 100;

/// How to reach Anthropic.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnthropicConfig {
    /// The provider's name in the routing table.
    pub name: String,
    /// The API base, `https://api.anthropic.com`.
    pub base_url: String,
    /// The API key; prefer `api_key_env`.
    #[serde(skip_serializing)]
    pub api_key: Option<SecretString>,
    /// The environment variable holding the API key.
    pub api_key_env: Option<String>,
    /// The `anthropic-version` header.
    pub version: String,
    /// `max_tokens` when a request sets none (the API requires one).
    pub default_max_tokens: u32,
}

impl Default for AnthropicConfig {
    fn default() -> Self {
        AnthropicConfig {
            name: "anthropic".to_owned(),
            base_url: "https://api.anthropic.com".to_owned(),
            api_key: None,
            api_key_env: Some("ANTHROPIC_API_KEY".to_owned()),
            version: "2023-06-01".to_owned(),
            default_max_tokens: 4096,
        }
    }
}

/// Anthropic as a [`crate::Provider`].
///
/// Its `Debug` output names the endpoint and whether a key is configured, never the key.
#[derive(Clone)]
pub struct AnthropicProvider {
    config: AnthropicConfig,
    client: reqwest::Client,
}

impl fmt::Debug for AnthropicProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnthropicProvider")
            .field("name", &self.config.name)
            .field("base_url", &self.config.base_url)
            .field(
                "api_key",
                &self.config.api_key.as_ref().map(|_| "[REDACTED]"),
            )
            .field("api_key_env", &self.config.api_key_env)
            .field("version", &self.config.version)
            .field("default_max_tokens", &self.config.default_max_tokens)
            .finish_non_exhaustive()
    }
}

impl AnthropicProvider {
    /// A provider for `config`.
    pub fn new(config: AnthropicConfig, http: &HttpOptions) -> Result<Self> {
        Ok(AnthropicProvider {
            client: crate::http::client(http)?,
            config,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url.trim_end_matches('/'))
    }

    /// The headers every call carries: the key (sensitive) and the API version.
    fn headers(&self) -> Result<HeaderMap> {
        let name = &self.config.name;
        let key = crate::providers::resolve_key(
            self.config.api_key.as_ref(),
            self.config.api_key_env.as_deref(),
        )
        .ok_or_else(|| {
            let hint = match self.config.api_key_env.as_deref() {
                Some(env) => format!("set {env} or `api_key` in its configuration"),
                None => "set `api_key_env` or `api_key` in its configuration".to_owned(),
            };
            LlmError::Config(format!("no API key for {name}: {hint}"))
        })?;
        // The error is not shown: it could quote the key.
        let mut key = HeaderValue::from_str(key.expose_secret()).map_err(|_| {
            LlmError::Config(format!(
                "the API key for {name} is not a valid HTTP header value"
            ))
        })?;
        key.set_sensitive(true);
        let version = HeaderValue::from_str(&self.config.version).map_err(|_| {
            LlmError::Config(format!(
                "the anthropic-version for {name} is not a valid HTTP header value: {:?}",
                self.config.version
            ))
        })?;
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", key);
        headers.insert("anthropic-version", version);
        Ok(headers)
    }

    /// Sends a Messages request; the response has a success status.
    async fn post_messages(
        &self,
        request: &CompletionRequest,
        stream: bool,
    ) -> Result<(String, reqwest::Response)> {
        let name = &self.config.name;
        let model = required_model(name, request)?.to_owned();
        let headers = self.headers()?;
        let body = MessagesRequest::new(request, &model, self.config.default_max_tokens, stream);
        let builder = self
            .client
            .post(self.url("/v1/messages"))
            .headers(headers)
            .json(&body);
        tracing::debug!(provider = %name, model = %model, stream, "anthropic messages request");
        let response = crate::http::send(name, &model, builder).await?;
        Ok((model, response))
    }
}

#[async_trait]
impl Provider for AnthropicProvider {
    fn name(&self) -> &str {
        &self.config.name
    }

    async fn chat(&self, request: &CompletionRequest) -> Result<Completion> {
        let started = Instant::now();
        let (_, response) = self.post_messages(request, false).await?;
        let body = response
            .bytes()
            .await
            .map_err(|e| crate::http::transport_error(&self.config.name, e))?;
        let mut completion = parse_message(&self.config.name, &body)?;
        completion.latency = started.elapsed();
        Ok(completion)
    }

    async fn chat_stream(&self, request: &CompletionRequest) -> Result<ChatStream> {
        let (model, response) = self.post_messages(request, true).await?;
        Ok(event_stream(
            &self.config.name,
            &model,
            response.bytes_stream(),
        ))
    }

    async fn list_models(&self) -> Result<Vec<String>> {
        let name = &self.config.name;
        let headers = self.headers()?;
        let mut ids = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_MODEL_PAGES {
            let mut url = reqwest::Url::parse(&self.url("/v1/models")).map_err(|e| {
                LlmError::Config(format!(
                    "the base URL for {name} is not a URL: {e}: {:?}",
                    self.config.base_url
                ))
            })?;
            url.query_pairs_mut().append_pair("limit", "1000");
            if let Some(after) = &after {
                url.query_pairs_mut().append_pair("after_id", after);
            }
            let builder = self.client.get(url).headers(headers.clone());
            let response = crate::http::send(name, "", builder).await?;
            let body = response
                .bytes()
                .await
                .map_err(|e| crate::http::transport_error(name, e))?;
            let page = parse_models(name, &body)?;
            ids.extend(page.ids);
            match page.next_after {
                Some(next) if after.as_deref() != Some(next.as_str()) => after = Some(next),
                _ => return Ok(ids),
            }
        }
        Ok(ids)
    }
}

// ---------------------------------------------------------------------------------------
// The request.

#[derive(Debug, Serialize)]
struct MessagesRequest<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<String>,
    messages: Vec<WireMessage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
}

#[derive(Debug, Serialize)]
struct WireMessage {
    role: &'static str,
    content: String,
}

impl<'a> MessagesRequest<'a> {
    fn new(
        request: &'a CompletionRequest,
        model: &'a str,
        default_max_tokens: u32,
        stream: bool,
    ) -> Self {
        let mut system: Vec<&str> = request
            .system
            .as_deref()
            .into_iter()
            .chain(
                request
                    .messages
                    .iter()
                    .filter(|m| m.role == Role::System)
                    .map(|m| m.content.as_str()),
            )
            .filter(|s| !s.trim().is_empty())
            .collect();
        if request.json_mode {
            system.push(JSON_INSTRUCTION);
        }
        MessagesRequest {
            model,
            max_tokens: request.max_tokens.unwrap_or(default_max_tokens),
            system: (!system.is_empty()).then(|| system.join("\n\n")),
            messages: alternate(&request.messages),
            temperature: request.temperature,
            stop_sequences: &request.stop,
            stream,
        }
    }
}

/// The conversation as the API takes it: no system messages, tool output as `user`,
/// consecutive messages of one role merged.
fn alternate(messages: &[ChatMessage]) -> Vec<WireMessage> {
    let mut out: Vec<WireMessage> = Vec::new();
    for m in messages {
        let role = match m.role {
            Role::System => continue,
            Role::User | Role::Tool => "user",
            Role::Assistant => "assistant",
        };
        match out.last_mut() {
            Some(last) if last.role == role => {
                if last.content.is_empty() {
                    last.content.clone_from(&m.content);
                } else if !m.content.is_empty() {
                    last.content.push_str("\n\n");
                    last.content.push_str(&m.content);
                }
            }
            _ => out.push(WireMessage {
                role,
                content: m.content.clone(),
            }),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// The answer.

#[derive(Debug, Deserialize)]
struct WireAnswer {
    #[serde(default)]
    id: String,
    model: String,
    content: Vec<WireBlock>,
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    usage: WireUsage,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireBlock {
    Text {
        text: String,
    },
    #[serde(other)]
    Other,
}

/// Token counts. `input_tokens` excludes prompt-cache reads and writes, which this crate
/// never asks for.
#[derive(Debug, Default, Deserialize)]
struct WireUsage {
    #[serde(default)]
    input_tokens: Option<u64>,
    #[serde(default)]
    output_tokens: Option<u64>,
}

/// Parses a Messages API answer (a 2xx body) into a [`Completion`] with zero latency.
///
/// Text content blocks are joined; other blocks (tool use, thinking) are skipped. A body
/// that does not parse, or that has no text block, is [`LlmError::Malformed`], except a
/// refusal (`stop_reason: "refusal"`), which may legitimately carry no text.
pub fn parse_message(provider: &str, body: &[u8]) -> Result<Completion> {
    let answer: WireAnswer =
        serde_json::from_slice(body).map_err(|e| crate::http::malformed(provider, &e, body))?;
    let mut text = String::new();
    let mut any_text = false;
    for block in &answer.content {
        if let WireBlock::Text { text: t } = block {
            text.push_str(t);
            any_text = true;
        }
    }
    let finish_reason = finish_reason(answer.stop_reason.as_deref());
    if !any_text && finish_reason != FinishReason::ContentFilter {
        return Err(LlmError::Malformed {
            provider: provider.to_owned(),
            message: format!(
                "the answer has no text content block; body starts {:?}",
                crate::http::truncate(&String::from_utf8_lossy(body))
            ),
        });
    }
    tracing::debug!(provider, id = %answer.id, "anthropic answered");
    Ok(Completion {
        text,
        model: answer.model,
        finish_reason,
        usage: Usage {
            input_tokens: answer.usage.input_tokens.unwrap_or(0),
            output_tokens: answer.usage.output_tokens.unwrap_or(0),
        },
        latency: Duration::ZERO,
    })
}

/// The neutral finish reason for an Anthropic `stop_reason`: `end_turn` and
/// `stop_sequence` stop, `max_tokens` and `model_context_window_exceeded` are the length
/// limit, `refusal` the content filter, anything else (`tool_use`, `pause_turn`, none)
/// [`FinishReason::Other`].
pub fn finish_reason(stop_reason: Option<&str>) -> FinishReason {
    match stop_reason {
        Some("end_turn" | "stop_sequence") => FinishReason::Stop,
        Some("max_tokens" | "model_context_window_exceeded") => FinishReason::Length,
        Some("refusal") => FinishReason::ContentFilter,
        Some(other) => FinishReason::Other(other.to_owned()),
        None => FinishReason::Other("none".to_owned()),
    }
}

// ---------------------------------------------------------------------------------------
// Streaming.

/// One server-sent event's data, by its `type`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireEvent {
    MessageStart {
        message: WireStart,
    },
    ContentBlockDelta {
        delta: WireDelta,
    },
    MessageDelta {
        delta: WireStop,
        #[serde(default)]
        usage: WireUsage,
    },
    MessageStop,
    Error {
        error: WireError,
    },
    /// `ping`, `content_block_start`, `content_block_stop` and types added later.
    #[serde(other)]
    Ignored,
}

#[derive(Debug, Deserialize)]
struct WireStart {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: WireUsage,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireDelta {
    TextDelta {
        text: String,
    },
    /// Tool input, thinking, signatures, citations.
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
struct WireStop {
    #[serde(default)]
    stop_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireError {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    message: String,
}

/// Follows one streamed answer event by event: feed it each event's data with
/// [`StreamDecoder::decode`]; it yields the deltas, then the final [`StreamEvent::Done`]
/// or an error. After either it is finished and yields nothing more.
#[derive(Debug, Clone)]
pub struct StreamDecoder {
    provider: String,
    model: String,
    usage: Usage,
    stop_reason: Option<String>,
    finished: bool,
}

impl StreamDecoder {
    /// A decoder for a stream from `provider`, answering a request for `model` (the
    /// model reported until `message_start` names the one that answers).
    pub fn new(provider: &str, model: &str) -> Self {
        StreamDecoder {
            provider: provider.to_owned(),
            model: model.to_owned(),
            usage: Usage::default(),
            stop_reason: None,
            finished: false,
        }
    }

    /// Whether the stream is over: its `message_stop` or an error was decoded.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Decodes one event's data (JSON whose `type` names the event; the SSE `event:`
    /// line repeats it and is not needed). `None` when the event yields nothing (a
    /// `ping`, a block boundary, an unknown type, or anything after the end).
    ///
    /// Data that is not JSON or does not have its type's shape is
    /// [`LlmError::Malformed`]; an `error` event is the error its HTTP status would have
    /// been (`overloaded_error` and `rate_limit_error` rate limits, `api_error` a server
    /// failure, `invalid_request_error` an invalid request, …).
    pub fn decode(&mut self, data: &str) -> Option<Result<StreamEvent>> {
        if self.finished {
            return None;
        }
        let event: WireEvent = match serde_json::from_str(data) {
            Ok(event) => event,
            Err(e) => {
                return Some(self.fail(crate::http::malformed(
                    &self.provider,
                    &e,
                    data.as_bytes(),
                )));
            }
        };
        match event {
            WireEvent::MessageStart { message } => {
                if let Some(model) = message.model.filter(|m| !m.is_empty()) {
                    self.model = model;
                }
                self.merge_usage(&message.usage);
                None
            }
            WireEvent::ContentBlockDelta {
                delta: WireDelta::TextDelta { text },
            } => (!text.is_empty()).then_some(Ok(StreamEvent::Delta(text))),
            WireEvent::ContentBlockDelta { .. } | WireEvent::Ignored => None,
            WireEvent::MessageDelta { delta, usage } => {
                if delta.stop_reason.is_some() {
                    self.stop_reason = delta.stop_reason;
                }
                self.merge_usage(&usage);
                None
            }
            WireEvent::MessageStop => {
                self.finished = true;
                Some(Ok(StreamEvent::Done {
                    model: self.model.clone(),
                    finish_reason: finish_reason(self.stop_reason.as_deref()),
                    usage: self.usage,
                }))
            }
            WireEvent::Error { error } => {
                let e = stream_error(&self.provider, &self.model, &error, data);
                Some(self.fail(e))
            }
        }
    }

    /// The error for a stream that ended here: [`LlmError::Malformed`] unless it was
    /// already finished, when `None`.
    pub fn end(&mut self) -> Option<LlmError> {
        if self.finished {
            return None;
        }
        self.finished = true;
        Some(LlmError::Malformed {
            provider: self.provider.clone(),
            message: "the stream ended before message_stop".to_owned(),
        })
    }

    fn fail(&mut self, e: LlmError) -> Result<StreamEvent> {
        self.finished = true;
        Err(e)
    }

    /// Counts are cumulative: a later report replaces an earlier one.
    fn merge_usage(&mut self, usage: &WireUsage) {
        if let Some(n) = usage.input_tokens {
            self.usage.input_tokens = n;
        }
        if let Some(n) = usage.output_tokens {
            self.usage.output_tokens = n;
        }
    }
}

/// The typed error for an `error` event: the HTTP status Anthropic documents for its
/// type, mapped as [`crate::http::status_error`] maps statuses (without a `Retry-After`,
/// which a stream cannot carry). Unknown types are server failures.
fn stream_error(provider: &str, model: &str, error: &WireError, data: &str) -> LlmError {
    let status = match error.kind.as_str() {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "timeout_error" => 504,
        "overloaded_error" => 529,
        _ => 500,
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut e = crate::http::status_error(provider, model, status, &HeaderMap::new(), data);
    if error.message.is_empty() && !error.kind.is_empty() {
        // The message names the error's type when the server gave no message.
        if let LlmError::Server { message, .. }
        | LlmError::InvalidRequest { message, .. }
        | LlmError::Unauthorized { message, .. }
        | LlmError::UnknownModel { message, .. } = &mut e
        {
            *message = crate::http::truncate(&error.kind);
        }
    }
    e
}

/// Decodes a streamed Messages answer (the response body's bytes) into a
/// [`ChatStream`]: deltas, then [`StreamEvent::Done`] or one error, then the end.
///
/// Bytes that are not UTF-8 or not server-sent events, and a body that ends before
/// `message_stop`, are [`LlmError::Malformed`]; a broken connection is
/// [`LlmError::Transport`].
pub fn event_stream<S>(provider: &str, model: &str, body: S) -> ChatStream
where
    S: Stream<Item = Result<Bytes, reqwest::Error>> + Send + 'static,
{
    let events = Box::pin(body.eventsource());
    let decoder = StreamDecoder::new(provider, model);
    Box::pin(futures_util::stream::unfold(
        (events, decoder),
        |(mut events, mut decoder)| async move {
            loop {
                if decoder.is_finished() {
                    return None;
                }
                match events.next().await {
                    Some(Ok(event)) => {
                        if let Some(item) = decoder.decode(&event.data) {
                            return Some((item, (events, decoder)));
                        }
                    }
                    Some(Err(e)) => {
                        let e = match e {
                            EventStreamError::Transport(e) => {
                                crate::http::transport_error(&decoder.provider, e)
                            }
                            other => LlmError::Malformed {
                                provider: decoder.provider.clone(),
                                message: format!("not a server-sent event stream: {other}"),
                            },
                        };
                        let item = decoder.fail(e);
                        return Some((item, (events, decoder)));
                    }
                    None => {
                        let e = decoder.end()?;
                        return Some((Err(e), (events, decoder)));
                    }
                }
            }
        },
    ))
}

// ---------------------------------------------------------------------------------------
// Models.

#[derive(Debug, Deserialize)]
struct WireModels {
    data: Vec<WireModel>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    last_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireModel {
    id: String,
}

/// One page of `GET /v1/models`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPage {
    /// The models' ids, e.g. `claude-sonnet-4-5`.
    pub ids: Vec<String>,
    /// The `after_id` of the next page, when there is one.
    pub next_after: Option<String>,
}

/// Parses one page of `GET /v1/models`; a body that does not parse is
/// [`LlmError::Malformed`].
pub fn parse_models(provider: &str, body: &[u8]) -> Result<ModelPage> {
    let page: WireModels =
        serde_json::from_slice(body).map_err(|e| crate::http::malformed(provider, &e, body))?;
    Ok(ModelPage {
        ids: page.data.into_iter().map(|m| m.id).collect(),
        next_after: page.last_id.filter(|_| page.has_more),
    })
}

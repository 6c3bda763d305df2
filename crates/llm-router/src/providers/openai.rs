//! OpenAI and OpenAI-compatible servers (LM Studio, vLLM, llama.cpp's server) through
//! async-openai, with a configurable base URL.
//!
//! # Design
//!
//! [async-openai](https://docs.rs/async-openai) provides the protocol (request and
//! response types for chat completions, streamed chunks, embeddings and the model
//! list) and the client that builds requests, decodes JSON and splits the SSE stream.
//! This module maps the router's provider-neutral [`CompletionRequest`] onto it and its
//! answers and errors back onto [`Completion`], [`StreamEvent`] and [`LlmError`].
//!
//! ## The status-capturing service
//!
//! async-openai turns a non-2xx answer into `OpenAIError::ApiError`, which keeps the
//! status but drops the headers, so a 429's `Retry-After` / `retry-after-ms` would be
//! lost. The client is therefore given, with `Client::with_http_service`, a small
//! `tower::Service` that wraps async-openai's own `ReqwestService`: on a non-2xx answer
//! it reads the body and returns the typed error built by [`crate::http::status_error`]
//! from status, headers and body, boxed in `OpenAIError::Boxed`. The provider unboxes
//! it unchanged, so rate limits keep the server's wait and every provider of the router
//! classifies statuses the same way. Installing this service also replaces
//! async-openai's built-in retry layer: retries belong to the router's own layers,
//! which see the typed errors.
//!
//! The same service removes the `Authorization` header when no API key is configured
//! (async-openai would otherwise send `Bearer ` with an empty key). The client never
//! falls back on async-openai's environment defaults (`OPENAI_API_KEY`,
//! `OPENAI_BASE_URL`, `OPENAI_ORG_ID`, `OPENAI_PROJECT_ID`): the base URL and key come
//! from [`OpenAiConfig`] only, so a local server is never sent an OpenAI key by
//! accident.
//!
//! ## Compatible servers
//!
//! - `max_tokens`: requests to `api.openai.com` send `max_completion_tokens` (OpenAI's
//!   current field, required by its reasoning models); every other host gets the older
//!   `max_tokens`, which compatible servers understand and the new field may not be.
//! - async-openai's response types are strict (e.g. a closed set of finish reasons,
//!   required `created` and `object` fields). When a 2xx body or a streamed event does
//!   not fit them, it is read again leniently (only the text, model, finish reason and
//!   usage, or the ids of a model list, or the vectors of an embedding answer); only
//!   what fails that too is [`LlmError::Malformed`]. An unknown finish reason becomes
//!   [`FinishReason::Other`].
//! - Tool messages ([`Role::Tool`]) are sent as user messages prefixed `Tool result:`,
//!   since OpenAI's `tool` role needs the `tool_call_id` of a call this request type
//!   does not carry.
//!
//! ## Keys
//!
//! The key stays a [`SecretString`]; the provider's `Debug` shows only whether one is
//! set, and any error message that would contain it (a server echoing it back) has it
//! replaced by `[REDACTED]` (keys shorter than 8 characters are not real secrets and are
//! left alone).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::{OpenAIError, StreamError, WrappedError};
use async_openai::middleware::{HttpRequestFactory, ReqwestService};
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    ChatCompletionStreamOptions, CreateChatCompletionRequest, CreateChatCompletionResponse,
    CreateChatCompletionStreamResponse, FinishReason as OpenAiFinishReason, ResponseFormat,
    StopConfiguration,
};
use async_openai::types::embeddings::{CreateEmbeddingRequest, EmbeddingInput};
use async_trait::async_trait;
use futures_util::StreamExt;
use memory_core::{Completion, CompletionRequest, FinishReason, Role, Usage};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::{LlmError, Result};
use crate::http::HttpOptions;
use crate::provider::{ChatStream, Provider, StreamEvent, required_model};

/// The host whose chat endpoint takes `max_completion_tokens` instead of `max_tokens`.
const OPENAI_HOST: &str = "api.openai.com";

/// Keys shorter than this are not redacted from error messages (they would match
/// ordinary words).
const MIN_REDACTED_KEY: usize = 8;

/// How to reach an OpenAI-compatible server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenAiConfig {
    /// The provider's name in the routing table, e.g. `openai` or `lmstudio`.
    pub name: String,
    /// The API base, e.g. `https://api.openai.com/v1` or `http://localhost:1234/v1`.
    pub base_url: String,
    /// The API key; prefer `api_key_env`. Local servers need none.
    #[serde(skip_serializing)]
    pub api_key: Option<SecretString>,
    /// The environment variable holding the API key.
    pub api_key_env: Option<String>,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        OpenAiConfig {
            name: "openai".to_owned(),
            base_url: "https://api.openai.com/v1".to_owned(),
            api_key: None,
            api_key_env: Some("OPENAI_API_KEY".to_owned()),
        }
    }
}

impl OpenAiConfig {
    /// LM Studio's local server at its default address, with no key.
    pub fn lm_studio() -> Self {
        OpenAiConfig {
            name: "lmstudio".to_owned(),
            base_url: "http://localhost:1234/v1".to_owned(),
            api_key: None,
            api_key_env: None,
        }
    }
}

/// An OpenAI-compatible server as a [`crate::Provider`]: chat (plain and streamed),
/// embeddings and the model list.
#[derive(Clone)]
pub struct OpenAiProvider {
    shared: Arc<Shared>,
    base_url: String,
    client: Client<OpenAIConfig>,
    /// Send `max_completion_tokens` (OpenAI itself) rather than `max_tokens`.
    max_completion_tokens: bool,
}

/// What the provider and its streams need to turn failures into errors.
struct Shared {
    name: String,
    key: Option<SecretString>,
}

impl fmt::Debug for OpenAiProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiProvider")
            .field("name", &self.shared.name)
            .field("base_url", &self.base_url)
            .field(
                "api_key",
                &if self.shared.key.is_some() {
                    "[set]"
                } else {
                    "none"
                },
            )
            .field("max_completion_tokens", &self.max_completion_tokens)
            .finish_non_exhaustive()
    }
}

impl OpenAiProvider {
    /// A provider for the server in `config`, with the key from `config.api_key` or the
    /// environment variable `config.api_key_env` (none if neither is set).
    ///
    /// Fails with [`LlmError::Config`] when the base URL is not an http(s) URL or the key
    /// cannot be sent in a header.
    pub fn new(config: OpenAiConfig, http: &HttpOptions) -> Result<Self> {
        let base_url = config.base_url.trim().trim_end_matches('/').to_owned();
        let url = reqwest::Url::parse(&base_url).map_err(|e| {
            LlmError::Config(format!(
                "{}: the base URL {base_url:?} is not a URL: {e}",
                config.name
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(LlmError::Config(format!(
                "{}: the base URL {base_url:?} is not http(s)",
                config.name
            )));
        }
        let max_completion_tokens = url.host_str() == Some(OPENAI_HOST);

        let key =
            crate::providers::resolve_key(config.api_key.as_ref(), config.api_key_env.as_deref())
                .filter(|k| !k.expose_secret().is_empty());
        if let Some(key) = &key {
            // async-openai builds this header with `unwrap`: check it here instead.
            HeaderValue::from_str(&format!("Bearer {}", key.expose_secret())).map_err(|_| {
                LlmError::Config(format!(
                    "{}: the API key holds characters that cannot be sent in a header",
                    config.name
                ))
            })?;
        }

        let openai_config = OpenAIConfig::new()
            .with_api_base(base_url.clone())
            .with_api_key(
                key.as_ref()
                    .map(|k| k.expose_secret().to_owned())
                    .unwrap_or_default(),
            )
            .with_org_id("")
            .with_project_id("");
        let http_client = crate::http::client(http)?;
        let service = StatusService {
            inner: ReqwestService::new(http_client.clone()),
            provider: Arc::from(config.name.as_str()),
            strip_auth: key.is_none(),
        };
        let client = Client::build(http_client, openai_config).with_http_service(service);

        Ok(OpenAiProvider {
            shared: Arc::new(Shared {
                name: config.name,
                key,
            }),
            base_url,
            client,
            max_completion_tokens,
        })
    }

    /// The chat request for `request`, with the model already resolved.
    #[allow(deprecated)] // `max_tokens`: deprecated by OpenAI, still what compatible servers read.
    fn chat_request(
        &self,
        model: &str,
        request: &CompletionRequest,
    ) -> CreateChatCompletionRequest {
        let mut messages = Vec::with_capacity(request.messages.len() + 1);
        if let Some(system) = request.system.as_deref().filter(|s| !s.is_empty()) {
            messages.push(ChatCompletionRequestMessage::from(
                ChatCompletionRequestSystemMessage::from(system),
            ));
        }
        for m in &request.messages {
            let content = m.content.as_str();
            messages.push(match m.role {
                Role::System => ChatCompletionRequestSystemMessage::from(content).into(),
                Role::User => ChatCompletionRequestUserMessage::from(content).into(),
                Role::Assistant => ChatCompletionRequestAssistantMessage::from(content).into(),
                Role::Tool => {
                    ChatCompletionRequestUserMessage::from(format!("Tool result:\n{content}"))
                        .into()
                }
            });
        }
        let (max_tokens, max_completion_tokens) = if self.max_completion_tokens {
            (None, request.max_tokens)
        } else {
            (request.max_tokens, None)
        };
        CreateChatCompletionRequest {
            model: model.to_owned(),
            messages,
            temperature: request.temperature,
            max_tokens,
            max_completion_tokens,
            stop: (!request.stop.is_empty())
                .then(|| StopConfiguration::StringArray(request.stop.clone())),
            response_format: request.json_mode.then_some(ResponseFormat::JsonObject),
            ..CreateChatCompletionRequest::default()
        }
    }
}

#[async_trait]
impl Provider for OpenAiProvider {
    fn name(&self) -> &str {
        &self.shared.name
    }

    async fn chat(&self, request: &CompletionRequest) -> Result<Completion> {
        let started = Instant::now();
        let model = required_model(&self.shared.name, request)?;
        let body = self.chat_request(model, request);
        let parsed = match self.client.chat().create(body).await {
            Ok(response) => Parsed::from_response(response),
            Err(OpenAIError::JSONDeserialize(e, content)) => self.shared.loose(&e, &content)?,
            Err(e) => return Err(self.shared.error(model, e)),
        };
        if !parsed.has_choice {
            return Err(self.shared.malformed("the answer holds no choices"));
        }
        Ok(Completion {
            text: parsed.text.unwrap_or_default(),
            model: parsed
                .model
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| model.to_owned()),
            finish_reason: parsed
                .finish_reason
                .unwrap_or_else(|| FinishReason::Other("unknown".to_owned())),
            usage: parsed.usage.unwrap_or_default(),
            latency: started.elapsed(),
        })
    }

    async fn chat_stream(&self, request: &CompletionRequest) -> Result<ChatStream> {
        let model = required_model(&self.shared.name, request)?;
        let mut body = self.chat_request(model, request);
        body.stream = Some(true);
        body.stream_options = Some(ChatCompletionStreamOptions {
            include_usage: Some(true),
            include_obfuscation: None,
        });
        let inner = self
            .client
            .chat()
            .create_stream(body)
            .await
            .map_err(|e| self.shared.error(model, e))?;
        let mapper = StreamMapper::new(self.shared.clone(), model);
        let stream = futures_util::stream::unfold(Some((inner, mapper)), |state| async move {
            let (mut inner, mut mapper) = state?;
            loop {
                match inner.next().await {
                    Some(item) => match mapper.push(item) {
                        Ok(Some(delta)) => {
                            return Some((Ok(StreamEvent::Delta(delta)), Some((inner, mapper))));
                        }
                        Ok(None) => {}
                        Err(e) => return Some((Err(e), None)),
                    },
                    None => return Some((mapper.finish(), None)),
                }
            }
        });
        Ok(Box::pin(stream))
    }

    async fn embed(&self, model: &str, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let request = CreateEmbeddingRequest {
            model: model.to_owned(),
            input: EmbeddingInput::StringArray(texts.to_vec()),
            encoding_format: None,
            user: None,
            dimensions: None,
        };
        let items: Vec<(Option<u32>, Vec<f32>)> =
            match self.client.embeddings().create(request).await {
                Ok(response) => response
                    .data
                    .into_iter()
                    .map(|e| (Some(e.index), e.embedding))
                    .collect(),
                Err(OpenAIError::JSONDeserialize(e, content)) => {
                    let loose: LooseEmbeddings = serde_json::from_str(&content)
                        .map_err(|_| {
                            crate::http::malformed(&self.shared.name, &e, content.as_bytes())
                        })
                        .map_err(|err| self.shared.redact(err))?;
                    loose
                        .data
                        .into_iter()
                        .map(|e| (e.index, e.embedding))
                        .collect()
                }
                Err(e) => return Err(self.shared.error(model, e)),
            };
        order_embeddings(items, texts.len()).map_err(|message| self.shared.malformed(&message))
    }

    async fn list_models(&self) -> Result<Vec<String>> {
        match self.client.models().list().await {
            Ok(response) => Ok(response.data.into_iter().map(|m| m.id).collect()),
            Err(OpenAIError::JSONDeserialize(e, content)) => {
                let loose: LooseModels = serde_json::from_str(&content)
                    .map_err(|_| crate::http::malformed(&self.shared.name, &e, content.as_bytes()))
                    .map_err(|err| self.shared.redact(err))?;
                Ok(loose.data.into_iter().map(|m| m.id).collect())
            }
            Err(e) => Err(self.shared.error("", e)),
        }
    }
}

/// The vectors of an embedding answer in input order: one per text (by `index`, or by
/// position where the server gives none), all of one non-zero length, all finite.
fn order_embeddings(
    items: Vec<(Option<u32>, Vec<f32>)>,
    expected: usize,
) -> std::result::Result<Vec<Vec<f32>>, String> {
    if items.len() != expected {
        return Err(format!(
            "asked for {expected} embeddings, got {}",
            items.len()
        ));
    }
    let mut slots: Vec<Option<Vec<f32>>> = vec![None; expected];
    for (position, (index, vector)) in items.into_iter().enumerate() {
        let at = index.map_or(position, |i| i as usize);
        match slots.get_mut(at) {
            Some(slot @ None) => *slot = Some(vector),
            Some(Some(_)) => return Err(format!("embedding index {at} appears twice")),
            None => return Err(format!("embedding index {at} is out of range")),
        }
    }
    let vectors: Vec<Vec<f32>> = slots.into_iter().flatten().collect();
    let dimension = vectors.first().map_or(0, Vec::len);
    if dimension == 0 {
        return Err("an embedding is empty".to_owned());
    }
    if vectors.iter().any(|v| v.len() != dimension) {
        return Err("embeddings differ in length".to_owned());
    }
    if vectors.iter().flatten().any(|x| !x.is_finite()) {
        return Err("an embedding holds a non-finite number".to_owned());
    }
    Ok(vectors)
}

impl Shared {
    /// Maps an async-openai failure of a call for `model` to a typed error.
    fn error(&self, model: &str, e: OpenAIError) -> LlmError {
        let name = self.name.as_str();
        let error = match e {
            OpenAIError::Boxed(boxed) => match boxed.downcast::<LlmError>() {
                Ok(typed) => with_model(*typed, model),
                Err(other) => LlmError::Transport {
                    provider: name.to_owned(),
                    message: other.to_string(),
                },
            },
            OpenAIError::Reqwest(e) => crate::http::transport_error(name, e),
            OpenAIError::JSONDeserialize(e, content) => {
                crate::http::malformed(name, &e, content.as_bytes())
            }
            OpenAIError::StreamError(e) => stream_error(name, *e),
            OpenAIError::ApiError(response) => {
                // Only reached if a status error bypassed the service: no headers then.
                let body = serde_json::to_string(&WrappedError {
                    error: response.api_error,
                })
                .unwrap_or_default();
                crate::http::status_error(
                    name,
                    model,
                    response.status_code,
                    &HeaderMap::new(),
                    &body,
                )
            }
            OpenAIError::InvalidArgument(message) => LlmError::InvalidRequest {
                provider: name.to_owned(),
                status: 400,
                message,
            },
            other => LlmError::Transport {
                provider: name.to_owned(),
                message: other.to_string(),
            },
        };
        self.redact(error)
    }

    /// Reads a 2xx body or streamed event that async-openai's strict types refused
    /// (`e`) with the lenient ones; [`LlmError::Malformed`] if that fails too.
    fn loose(&self, e: &serde_json::Error, content: &str) -> Result<Parsed> {
        parse_loose(&self.name, e, content).map_err(|err| self.redact(err))
    }

    fn malformed(&self, message: &str) -> LlmError {
        LlmError::Malformed {
            provider: self.name.clone(),
            message: message.to_owned(),
        }
    }

    /// `e` with the API key replaced by `[REDACTED]` in its message.
    fn redact(&self, e: LlmError) -> LlmError {
        match &self.key {
            Some(key) if key.expose_secret().len() >= MIN_REDACTED_KEY => {
                redact_error(e, key.expose_secret())
            }
            _ => e,
        }
    }
}

/// Puts the requested model into an [`LlmError::UnknownModel`] built by the service,
/// which does not know it.
fn with_model(e: LlmError, model: &str) -> LlmError {
    match e {
        LlmError::UnknownModel {
            provider, message, ..
        } => LlmError::UnknownModel {
            provider,
            model: model.to_owned(),
            message,
        },
        other => other,
    }
}

/// A failure of the SSE stream: a broken connection is a transport error, anything
/// else (bad UTF-8, an unparsable event) a malformed answer.
fn stream_error(provider: &str, e: StreamError) -> LlmError {
    match e {
        StreamError::EventStream(message) if message.starts_with("Transport") => {
            LlmError::Transport {
                provider: provider.to_owned(),
                message,
            }
        }
        other => LlmError::Malformed {
            provider: provider.to_owned(),
            message: crate::http::truncate(&other.to_string()),
        },
    }
}

fn redact_error(e: LlmError, key: &str) -> LlmError {
    let r = |s: String| {
        if s.contains(key) {
            s.replace(key, "[REDACTED]")
        } else {
            s
        }
    };
    match e {
        LlmError::Server {
            provider,
            status,
            message,
        } => LlmError::Server {
            provider,
            status,
            message: r(message),
        },
        LlmError::UnknownModel {
            provider,
            model,
            message,
        } => LlmError::UnknownModel {
            provider,
            model,
            message: r(message),
        },
        LlmError::Unauthorized {
            provider,
            status,
            message,
        } => LlmError::Unauthorized {
            provider,
            status,
            message: r(message),
        },
        LlmError::InvalidRequest {
            provider,
            status,
            message,
        } => LlmError::InvalidRequest {
            provider,
            status,
            message: r(message),
        },
        LlmError::Malformed { provider, message } => LlmError::Malformed {
            provider,
            message: r(message),
        },
        LlmError::Transport { provider, message } => LlmError::Transport {
            provider,
            message: r(message),
        },
        other => other,
    }
}

/// The `tower::Service` installed in the client: async-openai's [`ReqwestService`],
/// except that a non-2xx answer becomes the typed error of
/// [`crate::http::status_error`] (boxed in `OpenAIError::Boxed`), with the headers
/// async-openai would drop, and that the `Authorization` header is removed when there
/// is no key.
#[derive(Clone)]
struct StatusService {
    inner: ReqwestService,
    provider: Arc<str>,
    strip_auth: bool,
}

type ServiceFuture =
    Pin<Box<dyn Future<Output = std::result::Result<reqwest::Response, OpenAIError>> + Send>>;

impl tower::Service<HttpRequestFactory> for StatusService {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = ServiceFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), OpenAIError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequestFactory) -> Self::Future {
        let request = if self.strip_auth {
            without_authorization(request)
        } else {
            request
        };
        let sent = self.inner.call(request);
        let provider = self.provider.clone();
        Box::pin(async move {
            let response = sent.await?;
            let status = response.status();
            if status.is_success() {
                return Ok(response);
            }
            let headers = response.headers().clone();
            let body = response.text().await.unwrap_or_default();
            // The model is not known here; the provider fills it in (`with_model`).
            let error = crate::http::status_error(&provider, "", status, &headers, &body);
            Err(OpenAIError::Boxed(Box::new(error)))
        })
    }
}

/// `request` without its `Authorization` header.
fn without_authorization(request: HttpRequestFactory) -> HttpRequestFactory {
    HttpRequestFactory::new(move || {
        let request = request.clone();
        async move {
            let mut built = request.build().await?;
            built.headers_mut().remove(AUTHORIZATION);
            Ok(built)
        }
    })
}

/// What the router needs of an answer or a streamed chunk, from async-openai's types
/// or the lenient ones.
#[derive(Debug, Default)]
struct Parsed {
    model: Option<String>,
    /// Whether the answer held a choice (a chat answer without one is malformed).
    has_choice: bool,
    /// The first choice's text (content, else refusal).
    text: Option<String>,
    finish_reason: Option<FinishReason>,
    usage: Option<Usage>,
}

impl Parsed {
    fn from_response(response: CreateChatCompletionResponse) -> Self {
        let usage = response.usage.map(|u| Usage {
            input_tokens: u64::from(u.prompt_tokens),
            output_tokens: u64::from(u.completion_tokens),
        });
        let choice = response.choices.into_iter().find(|c| c.index == 0);
        let has_choice = choice.is_some();
        let (text, finish_reason) = match choice {
            Some(c) => (
                c.message.content.or(c.message.refusal),
                c.finish_reason.map(finish_reason),
            ),
            None => (None, None),
        };
        Parsed {
            model: Some(response.model),
            has_choice,
            text,
            finish_reason,
            usage,
        }
    }

    fn from_chunk(chunk: CreateChatCompletionStreamResponse) -> Self {
        let usage = chunk.usage.map(|u| Usage {
            input_tokens: u64::from(u.prompt_tokens),
            output_tokens: u64::from(u.completion_tokens),
        });
        let mut parsed = Parsed {
            model: Some(chunk.model),
            usage,
            ..Parsed::default()
        };
        for c in chunk.choices.into_iter().filter(|c| c.index == 0) {
            parsed.has_choice = true;
            if let Some(text) = c.delta.content.or(c.delta.refusal) {
                parsed.text.get_or_insert_with(String::new).push_str(&text);
            }
            if let Some(reason) = c.finish_reason {
                parsed.finish_reason = Some(finish_reason(reason));
            }
        }
        parsed
    }
}

fn finish_reason(reason: OpenAiFinishReason) -> FinishReason {
    match reason {
        OpenAiFinishReason::Stop => FinishReason::Stop,
        OpenAiFinishReason::Length => FinishReason::Length,
        OpenAiFinishReason::ContentFilter => FinishReason::ContentFilter,
        OpenAiFinishReason::ToolCalls => FinishReason::Other("tool_calls".to_owned()),
        OpenAiFinishReason::FunctionCall => FinishReason::Other("function_call".to_owned()),
    }
}

fn finish_reason_named(name: &str) -> FinishReason {
    match name {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "content_filter" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// A chat answer or streamed chunk, read leniently.
#[derive(Deserialize)]
struct LooseAnswer {
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    choices: Option<Vec<LooseChoice>>,
    #[serde(default)]
    usage: Option<LooseUsage>,
}

#[derive(Deserialize)]
struct LooseChoice {
    #[serde(default)]
    index: Option<u32>,
    #[serde(default)]
    message: Option<LooseMessage>,
    #[serde(default)]
    delta: Option<LooseMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct LooseMessage {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Deserialize)]
struct LooseUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
}

#[derive(Deserialize)]
struct LooseEmbeddings {
    data: Vec<LooseEmbedding>,
}

#[derive(Deserialize)]
struct LooseEmbedding {
    #[serde(default)]
    index: Option<u32>,
    embedding: Vec<f32>,
}

#[derive(Deserialize)]
struct LooseModels {
    data: Vec<LooseModel>,
}

#[derive(Deserialize)]
struct LooseModel {
    id: String,
}

/// Reads `content` with the lenient types; `strict` is async-openai's complaint, kept
/// for the error. An object with neither `choices` nor `usage` (e.g. an `error` object
/// sent inside a stream) is malformed.
fn parse_loose(provider: &str, strict: &serde_json::Error, content: &str) -> Result<Parsed> {
    let loose: LooseAnswer = match serde_json::from_str(content) {
        Ok(loose) => loose,
        Err(_) => return Err(crate::http::malformed(provider, strict, content.as_bytes())),
    };
    if loose.choices.is_none() && loose.usage.is_none() {
        let value: Option<serde_json::Value> = serde_json::from_str(content).ok();
        let message = if value.as_ref().is_some_and(|v| v.get("error").is_some()) {
            format!(
                "the server reported an error: {}",
                crate::http::error_message(content)
            )
        } else {
            format!(
                "neither choices nor usage in {:?}",
                crate::http::truncate(content)
            )
        };
        return Err(LlmError::Malformed {
            provider: provider.to_owned(),
            message,
        });
    }
    let mut parsed = Parsed {
        model: loose.model,
        usage: loose.usage.map(|u| Usage {
            input_tokens: u.prompt_tokens.unwrap_or(0),
            output_tokens: u.completion_tokens.unwrap_or(0),
        }),
        ..Parsed::default()
    };
    for c in loose
        .choices
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.index.unwrap_or(0) == 0)
    {
        parsed.has_choice = true;
        if let Some(text) = c.message.or(c.delta).and_then(|m| m.content.or(m.refusal)) {
            parsed.text.get_or_insert_with(String::new).push_str(&text);
        }
        if let Some(reason) = c.finish_reason {
            parsed.finish_reason = Some(finish_reason_named(&reason));
        }
    }
    Ok(parsed)
}

/// Turns the items of async-openai's chunk stream into [`StreamEvent`]s: a delta per
/// chunk with text, then (at the end) one `Done` with the model, the last finish reason
/// and the usage seen.
struct StreamMapper {
    shared: Arc<Shared>,
    requested_model: String,
    model: Option<String>,
    finish_reason: Option<FinishReason>,
    usage: Option<Usage>,
}

impl StreamMapper {
    fn new(shared: Arc<Shared>, requested_model: &str) -> Self {
        StreamMapper {
            shared,
            requested_model: requested_model.to_owned(),
            model: None,
            finish_reason: None,
            usage: None,
        }
    }

    /// Takes one item; the text to emit, if any, or the error that ends the stream.
    fn push(
        &mut self,
        item: std::result::Result<CreateChatCompletionStreamResponse, OpenAIError>,
    ) -> Result<Option<String>> {
        let parsed = match item {
            Ok(chunk) => Parsed::from_chunk(chunk),
            Err(OpenAIError::JSONDeserialize(e, content)) => self.shared.loose(&e, &content)?,
            Err(e) => return Err(self.shared.error(&self.requested_model, e)),
        };
        if let Some(model) = parsed.model.filter(|m| !m.is_empty()) {
            self.model = Some(model);
        }
        if parsed.finish_reason.is_some() {
            self.finish_reason = parsed.finish_reason;
        }
        if parsed.usage.is_some() {
            self.usage = parsed.usage;
        }
        Ok(parsed.text.filter(|t| !t.is_empty()))
    }

    /// The final event once the stream has ended: `Done`, or [`LlmError::Malformed`]
    /// if no finish reason came.
    fn finish(self) -> Result<StreamEvent> {
        match self.finish_reason {
            Some(finish_reason) => Ok(StreamEvent::Done {
                model: self.model.unwrap_or(self.requested_model),
                finish_reason,
                usage: self.usage.unwrap_or_default(),
            }),
            None => Err(self
                .shared
                .malformed("the stream ended without a finish reason")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mapper() -> StreamMapper {
        StreamMapper::new(
            Arc::new(Shared {
                name: "openai".to_owned(),
                key: Some(SecretString::from("sk-secret-key-1234".to_owned())),
            }),
            "gpt-test",
        )
    }

    /// Parses SSE data as async-openai does (strict type, `JSONDeserialize` on failure).
    fn item(data: &str) -> std::result::Result<CreateChatCompletionStreamResponse, OpenAIError> {
        serde_json::from_str(data).map_err(|e| OpenAIError::JSONDeserialize(e, data.to_owned()))
    }

    /// Feeds SSE data payloads through the mapper as the stream does; the events
    /// emitted, ending at the first error or with the final event.
    fn run(data: &[String]) -> Vec<Result<StreamEvent>> {
        let mut m = mapper();
        let mut out = Vec::new();
        for d in data {
            match m.push(item(d)) {
                Ok(Some(delta)) => out.push(Ok(StreamEvent::Delta(delta))),
                Ok(None) => {}
                Err(e) => {
                    out.push(Err(e));
                    return out;
                }
            }
        }
        out.push(m.finish());
        out
    }

    fn chunk(content: Option<&str>, finish: Option<&str>, usage: bool) -> String {
        let mut choices = vec![];
        if content.is_some() || finish.is_some() {
            choices.push(serde_json::json!({
                "index": 0,
                "delta": {"content": content},
                "finish_reason": finish,
            }));
        }
        serde_json::json!({
            "id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m-1",
            "choices": choices,
            "usage": usage.then(|| serde_json::json!({
                "prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7
            })),
        })
        .to_string()
    }

    #[test]
    fn unknown_finish_reasons_are_read_leniently() {
        let events = run(&[
            chunk(Some("hi"), None, false),
            chunk(None, Some("abort"), true),
        ]);
        assert_eq!(events.len(), 2);
        assert!(matches!(&events[0], Ok(StreamEvent::Delta(d)) if d == "hi"));
        assert!(matches!(
            &events[1],
            Ok(StreamEvent::Done { finish_reason: FinishReason::Other(r), usage, .. })
                if r == "abort" && usage.output_tokens == 4
        ));
    }

    #[test]
    fn an_error_object_in_the_stream_is_malformed_and_redacted() {
        let events = run(&[
            chunk(Some("a"), None, false),
            r#"{"error":{"message":"bad key sk-secret-key-1234"}}"#.to_owned(),
            chunk(Some("b"), None, false),
        ]);
        assert_eq!(events.len(), 2);
        let Err(LlmError::Malformed { message, .. }) = &events[1] else {
            panic!("expected malformed, got {:?}", events[1]);
        };
        assert!(message.contains("reported an error"));
        assert!(!message.contains("sk-secret-key-1234"));
    }

    #[test]
    fn a_stream_without_finish_reason_is_malformed() {
        let events = run(&[chunk(Some("a"), None, true)]);
        assert!(matches!(
            events.last(),
            Some(Err(LlmError::Malformed { .. }))
        ));
    }

    #[test]
    fn openai_itself_gets_max_completion_tokens() {
        let config = OpenAiConfig {
            api_key: Some(SecretString::from("sk-unit-test-key".to_owned())),
            api_key_env: None,
            ..OpenAiConfig::default()
        };
        let p = OpenAiProvider::new(config, &HttpOptions::default()).unwrap();
        let request = CompletionRequest {
            max_tokens: Some(10),
            ..CompletionRequest::prompt("hi")
        };
        let body = serde_json::to_value(p.chat_request("gpt-test", &request)).unwrap();
        assert_eq!(body["max_completion_tokens"], 10);
        assert!(body.get("max_tokens").is_none());
        assert!(!format!("{p:?}").contains("sk-unit-test-key"));
    }

    #[test]
    fn embeddings_are_ordered_and_checked() {
        let ok = order_embeddings(vec![(Some(1), vec![2.0]), (Some(0), vec![1.0])], 2);
        assert_eq!(ok, Ok(vec![vec![1.0], vec![2.0]]));
        assert!(order_embeddings(vec![(Some(0), vec![1.0])], 2).is_err());
        assert!(order_embeddings(vec![(Some(0), vec![1.0]), (Some(0), vec![1.0])], 2).is_err());
        assert!(
            order_embeddings(vec![(Some(0), vec![1.0]), (Some(1), vec![1.0, 2.0])], 2).is_err()
        );
        assert!(order_embeddings(vec![(Some(0), vec![])], 1).is_err());
        assert!(order_embeddings(vec![(Some(0), vec![f32::INFINITY])], 1).is_err());
        assert!(order_embeddings(vec![(Some(5), vec![1.0])], 1).is_err());
    }

    fn arb_chunk() -> impl Strategy<Value = String> {
        (
            proptest::option::of(".{0,12}"),
            proptest::option::of(prop_oneof![
                Just("stop".to_owned()),
                Just("length".to_owned()),
                Just("tool_calls".to_owned()),
                "[a-z_]{0,10}",
            ]),
            any::<bool>(),
        )
            .prop_map(|(c, f, u)| chunk(c.as_deref(), f.as_deref(), u))
    }

    proptest! {
        /// Whatever the server sends as SSE data, the mapper neither panics nor emits
        /// anything after an error or the final event, and emits at most one `Done`,
        /// last.
        #[test]
        fn stream_mapping_never_panics(
            data in proptest::collection::vec(
                prop_oneof![any::<String>(), arb_chunk(), Just("{}".to_owned())],
                0..8,
            )
        ) {
            let events = run(&data);
            prop_assert!(!events.is_empty());
            let (last, rest) = events.split_last().map_or((None, &[][..]), |(l, r)| (Some(l), r));
            for e in rest {
                let delta = matches!(e, Ok(StreamEvent::Delta(d)) if !d.is_empty());
                prop_assert!(delta, "only non-empty deltas before the end: {:?}", e);
            }
            let ends = matches!(
                last,
                Some(Ok(StreamEvent::Done { .. }) | Err(LlmError::Malformed { .. }))
            );
            prop_assert!(ends, "the last event is Done or Malformed: {:?}", last);
        }

        /// Well-formed chunks join to their text, and the final event is `Done` exactly
        /// when some chunk carried a finish reason.
        #[test]
        fn well_formed_chunks_join(data in proptest::collection::vec(arb_chunk(), 0..8)) {
            let events = run(&data);
            let text: String = events.iter().filter_map(|e| match e {
                Ok(StreamEvent::Delta(d)) => Some(d.as_str()),
                _ => None,
            }).collect();
            let expected: String = data.iter().filter_map(|d| {
                let v: serde_json::Value = serde_json::from_str(d).ok()?;
                v.pointer("/choices/0/delta/content")?.as_str().map(str::to_owned)
            }).collect();
            prop_assert_eq!(text, expected);
            let finished = data.iter().any(|d| d.contains("\"finish_reason\":\""));
            let done = matches!(events.last(), Some(Ok(StreamEvent::Done { .. })));
            prop_assert_eq!(done, finished);
        }
    }
}

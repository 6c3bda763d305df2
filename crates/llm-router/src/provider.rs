//! The provider trait: one object-safe interface over every LLM server.

use std::pin::Pin;
use std::time::Instant;

use async_trait::async_trait;
use futures_core::Stream;
use futures_util::StreamExt;
use memory_core::{Completion, CompletionRequest, FinishReason, Usage};

use crate::error::{LlmError, Result};

/// One piece of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// More generated text.
    Delta(String),
    /// The end of the answer: always the last event of a stream that did not fail.
    Done {
        /// The model that answered, as the server named it.
        model: String,
        /// Why it stopped.
        finish_reason: FinishReason,
        /// Tokens used (zero where the server does not report them).
        usage: Usage,
    },
}

/// A streamed answer: [`StreamEvent::Delta`]s, then one [`StreamEvent::Done`], or an
/// error. Nothing follows an error or the `Done` event.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<StreamEvent>> + Send>>;

/// An LLM server: Ollama, an OpenAI-compatible server, Anthropic, or a layer around one.
///
/// Requests and answers are provider-neutral ([`CompletionRequest`], [`Completion`]):
/// messages, system prompt, temperature, max tokens, stop sequences and JSON mode in;
/// text, finish reason, token usage and latency out. The model is the request's
/// [`CompletionRequest::model`]; a provider without one fails with [`LlmError::Config`].
///
/// Object-safe, so a router holds `Arc<dyn Provider>`; the layers in [`crate::layers`]
/// implement it around another provider.
#[async_trait]
pub trait Provider: Send + Sync {
    /// The provider's name as the routing table uses it, e.g. `ollama` or `lmstudio`.
    fn name(&self) -> &str;

    /// Completes the request in one answer.
    async fn chat(&self, request: &CompletionRequest) -> Result<Completion>;

    /// Completes the request as a stream of text deltas.
    async fn chat_stream(&self, request: &CompletionRequest) -> Result<ChatStream>;

    /// Embeds texts with `model`: one vector per text, in order.
    async fn embed(&self, model: &str, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        let _ = (model, texts);
        Err(LlmError::Unsupported {
            provider: self.name().to_owned(),
            what: "embeddings".to_owned(),
        })
    }

    /// The models the server offers.
    async fn list_models(&self) -> Result<Vec<String>>;
}

/// The model a request names, or a [`LlmError::Config`] naming the provider.
pub fn required_model<'a>(provider: &str, request: &'a CompletionRequest) -> Result<&'a str> {
    match request.model.as_deref() {
        Some(m) if !m.trim().is_empty() => Ok(m),
        _ => Err(LlmError::Config(format!(
            "a request to {provider} must name its model"
        ))),
    }
}

/// Reads a stream to its end and joins it into one [`Completion`], timing it from
/// `started`. A stream that ends without [`StreamEvent::Done`] is
/// [`LlmError::Malformed`].
pub async fn collect_stream(
    provider: &str,
    mut stream: ChatStream,
    started: Instant,
) -> Result<Completion> {
    let mut text = String::new();
    while let Some(event) = stream.next().await {
        match event? {
            StreamEvent::Delta(d) => text.push_str(&d),
            StreamEvent::Done {
                model,
                finish_reason,
                usage,
            } => {
                return Ok(Completion {
                    text,
                    model,
                    finish_reason,
                    usage,
                    latency: started.elapsed(),
                });
            }
        }
    }
    Err(LlmError::Malformed {
        provider: provider.to_owned(),
        message: "the stream ended before its final event".to_owned(),
    })
}

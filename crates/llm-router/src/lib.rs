//! An LLM router for agents: one object-safe [`Provider`] trait over Ollama, OpenAI and
//! OpenAI-compatible servers (LM Studio, vLLM, llama.cpp's server) and Anthropic; a
//! routing table that sends each task to the right model; a model registry with context
//! windows and prices; and resilience as composable layers.
//!
//! # Routing
//!
//! A [`RoutingTable`] is data: ordered [`Rule`]s, each a [`Condition`] on a
//! [`RouteRequest`] (task type, complexity, context length, fast, cheap), a [`Target`]
//! (provider and model), fallbacks and a reason. [`RoutingTable::seed`] is the seed
//! design's `SmartRouter` rule for rule: fast and cheap → local; complex reasoning →
//! Claude, falling back to GPT-4o; code generation beyond simple → Claude, falling back
//! to DeepSeek Coder on Ollama; context over 32k tokens → Claude; embeddings → Ollama's
//! nomic-embed-text; classification → local, falling back to LM Studio; everything else
//! → local, falling back to Claude. Configuration can replace it.
//!
//! ```
//! use llm_router::{Complexity, RouteRequest, RoutingTable, TaskType};
//!
//! let table = RoutingTable::seed("llama3.1:8b");
//! let d = table.route(&RouteRequest::new(TaskType::Reasoning, Complexity::Complex))?;
//! assert_eq!(d.target.to_string(), "anthropic/claude-sonnet-4-20250514");
//! assert_eq!(d.fallbacks[0].to_string(), "openai/gpt-4o");
//! assert_eq!(d.reason, "Complex reasoning requires best chain-of-thought capability");
//! # Ok::<(), llm_router::LlmError>(())
//! ```
//!
//! # Calling
//!
//! A [`Router`] holds one provider per name, each wrapped in the [`layers`]: a timeout
//! per call (and to the first token and between tokens of a stream), retries with
//! backoff that wait exactly as long as `Retry-After` asks (or fall back at once when it
//! asks too much), and a circuit breaker per deployment. [`Router::chat`] tries the
//! decision's target, then its fallbacks, skipping any whose context window cannot hold
//! the request and stopping at errors that no other model would avoid (an invalid
//! request). Each answer says which deployment served it, which were tried and why they
//! failed, and what it cost; [`Router::ledger`] keeps running totals. Embeddings never
//! fall back: vectors of two models must not be mixed.
//!
//! ```no_run
//! use llm_router::{Complexity, LlmConfig, ProviderConfig, RouteRequest, TaskType};
//! use llm_router::providers::ollama::OllamaConfig;
//! use memory_core::CompletionRequest;
//!
//! # async fn run() -> llm_router::Result<()> {
//! let config = LlmConfig {
//!     providers: vec![ProviderConfig::Ollama(OllamaConfig::default())],
//!     ..LlmConfig::default()
//! };
//! let router = config.build()?;
//! let answer = router
//!     .chat(
//!         &RouteRequest::new(TaskType::Classification, Complexity::Simple),
//!         CompletionRequest::prompt("Is 'the build is green' good news? Answer yes or no."),
//!     )
//!     .await?;
//! println!("{} (from {}, ${:.6})", answer.completion.text, answer.served_by, answer.cost_usd.unwrap_or(0.0));
//! # Ok(()) }
//! ```
//!
//! # Errors and secrets
//!
//! Every failure is an [`LlmError`] that says what happened (rate limited with the
//! server's wait, timed out and where, server error, unknown model, refused key, context
//! too long, malformed answer, unreachable, circuit open) and whether retrying or
//! falling back can help. API keys come from configuration or the environment, are kept
//! as [`secrecy::SecretString`], are sent only in request headers marked sensitive, and
//! never appear in an error, a `Debug` output or a log.
//!
//! # Observability
//!
//! Each attempt runs in a `chat` (or `embeddings`) span with the OpenTelemetry GenAI
//! fields: `gen_ai.operation.name`, `gen_ai.system`, `gen_ai.request.model`,
//! `gen_ai.request.temperature`, `gen_ai.request.max_tokens`, `gen_ai.response.model`,
//! `gen_ai.response.finish_reasons`, `gen_ai.usage.input_tokens`,
//! `gen_ai.usage.output_tokens`, `error.type`, plus `brain.route.rule`,
//! `brain.cost_usd` and `brain.latency_ms`. The crate only emits through `tracing`.
//!
//! # Features
//!
//! `ollama`, `openai` and `anthropic` (all default) each compile one provider.

pub mod config;
pub mod error;
pub mod http;
pub mod layers;
pub mod provider;
pub mod providers;
pub mod registry;
pub mod router;
pub mod routing;

pub use config::{LlmConfig, ProviderConfig};
pub use error::{LlmError, Result};
pub use layers::{CircuitBreakerLayer, Layer, Resilience, RetryLayer, TimeoutLayer};
pub use provider::{ChatStream, Provider, StreamEvent, collect_stream, required_model};
pub use registry::{Capability, ModelInfo, Registry};
pub use router::{
    Attempt, DeploymentStats, ModelRouter, Routed, RoutedEmbedder, RoutedModel, RoutedStream,
    Router, RouterBuilder,
};
pub use routing::{
    Complexity, Condition, RouteRequest, RoutingDecision, RoutingTable, Rule, Target, TaskType,
};

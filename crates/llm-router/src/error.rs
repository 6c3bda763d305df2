//! The router's one error type, and what each error means for retries and fallback.

use std::time::Duration;

/// What went wrong in a call to a model, typed so that layers can decide what to do:
/// retry ([`LlmError::is_retryable`]), fall back to another model
/// ([`LlmError::allows_fallback`]) or give up.
///
/// No variant ever carries an API key: providers build messages from status codes and
/// response bodies, never from request headers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum LlmError {
    /// The server rate-limited the call (HTTP 429, or 503/529 "overloaded").
    #[error("{provider} rate-limited the call{}", retry_after_text(*.retry_after))]
    RateLimited {
        /// The provider, e.g. `openai`.
        provider: String,
        /// How long the server asked us to wait (`Retry-After`, `retry-after-ms`).
        retry_after: Option<Duration>,
    },
    /// The call took longer than its timeout (or its first token did, for a stream).
    #[error("{provider} timed out after {after:?} ({stage})")]
    Timeout {
        /// The provider.
        provider: String,
        /// The limit that passed.
        after: Duration,
        /// `call`, `first token` or `between tokens`.
        stage: &'static str,
    },
    /// The server failed (HTTP 5xx).
    #[error("{provider} failed with HTTP {status}: {message}")]
    Server {
        /// The provider.
        provider: String,
        /// The HTTP status.
        status: u16,
        /// The server's message, truncated.
        message: String,
    },
    /// The server does not know the model.
    #[error("{provider} does not know the model `{model}`: {message}")]
    UnknownModel {
        /// The provider.
        provider: String,
        /// The model asked for.
        model: String,
        /// The server's message.
        message: String,
    },
    /// The API key was missing or refused (HTTP 401/403).
    #[error("{provider} refused the credentials (HTTP {status}): {message}")]
    Unauthorized {
        /// The provider.
        provider: String,
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The request does not fit the model's context window.
    #[error("the request needs about {needed} tokens but {model} holds {window}")]
    ContextWindowExceeded {
        /// The model.
        model: String,
        /// Estimated prompt plus requested output tokens.
        needed: u64,
        /// The model's context window.
        window: u64,
    },
    /// The server rejected the request as malformed (HTTP 400/404/422 other than an unknown
    /// model). Sending it elsewhere would not help.
    #[error("{provider} rejected the request (HTTP {status}): {message}")]
    InvalidRequest {
        /// The provider.
        provider: String,
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The server answered 2xx with a body that does not follow its protocol.
    #[error("{provider} sent a malformed response: {message}")]
    Malformed {
        /// The provider.
        provider: String,
        /// What was wrong, with the start of the body.
        message: String,
    },
    /// The server could not be reached, or the connection broke.
    #[error("{provider} is unreachable: {message}")]
    Transport {
        /// The provider.
        provider: String,
        /// The underlying error.
        message: String,
    },
    /// The deployment's circuit breaker is open after repeated failures.
    #[error("{deployment} is cooling down for {remaining:?} after repeated failures")]
    CircuitOpen {
        /// `provider/model`.
        deployment: String,
        /// Until the next trial call.
        remaining: Duration,
    },
    /// The provider cannot do this (e.g. embeddings on Anthropic).
    #[error("{provider} does not support {what}")]
    Unsupported {
        /// The provider.
        provider: String,
        /// The operation.
        what: String,
    },
    /// The configuration is wrong: an unknown provider in the routing table, a missing
    /// API key, a bad URL.
    #[error("LLM configuration: {0}")]
    Config(String),
    /// The routing table names a provider that is not configured; the router moves on
    /// to the next candidate.
    #[error("provider `{provider}` is not configured")]
    ProviderNotConfigured {
        /// The provider's name in the table.
        provider: String,
    },
    /// No LLM provider is configured, so nothing that needs a model can run.
    #[error(
        "no LLM provider is configured: add an [llm] section to the configuration \
         (see docs/llm.md); memory works without one"
    )]
    NotConfigured,
    /// Every deployment of a route failed; the errors in the order tried.
    #[error("every model for this task failed: {}", join_attempts(.0))]
    AllFailed(Vec<(String, LlmError)>),
}

fn retry_after_text(d: Option<Duration>) -> String {
    d.map(|d| format!(" (retry after {d:?})"))
        .unwrap_or_default()
}

fn join_attempts(attempts: &[(String, LlmError)]) -> String {
    attempts
        .iter()
        .map(|(who, e)| format!("{who}: {e}"))
        .collect::<Vec<_>>()
        .join("; ")
}

impl LlmError {
    /// Whether the same call may succeed if tried again on the same deployment: rate
    /// limits, server errors, timeouts and broken connections.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            LlmError::RateLimited { .. }
                | LlmError::Server { .. }
                | LlmError::Timeout { .. }
                | LlmError::Transport { .. }
        )
    }

    /// Whether another deployment may succeed where this one failed. Everything except
    /// a request that is wrong everywhere (invalid, unsupported, misconfigured).
    pub fn allows_fallback(&self) -> bool {
        !matches!(
            self,
            LlmError::InvalidRequest { .. } | LlmError::Config(_) | LlmError::NotConfigured
        )
    }

    /// Whether this failure counts against a deployment's circuit breaker: the
    /// deployment misbehaved, rather than the request being wrong.
    pub fn counts_as_failure(&self) -> bool {
        self.is_retryable() || matches!(self, LlmError::Malformed { .. })
    }

    /// Whether the deployment failed to serve (it misbehaved, is cooling down, refused
    /// the key or does not have the model), as opposed to being skipped or given a bad
    /// request: what a learner should hold against it.
    pub fn is_deployment_failure(&self) -> bool {
        self.counts_as_failure()
            || matches!(
                self,
                LlmError::CircuitOpen { .. }
                    | LlmError::Unauthorized { .. }
                    | LlmError::UnknownModel { .. }
            )
    }

    /// The wait the server asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            LlmError::RateLimited { retry_after, .. } => *retry_after,
            LlmError::CircuitOpen { remaining, .. } => Some(*remaining),
            _ => None,
        }
    }
}

impl From<LlmError> for memory_core::Error {
    fn from(e: LlmError) -> Self {
        let message = e.to_string();
        match &e {
            LlmError::InvalidRequest { .. }
            | LlmError::ContextWindowExceeded { .. }
            | LlmError::Config(_) => {
                memory_core::Error::InvalidInput(memory_core::ValidationError::Other(message))
            }
            LlmError::UnknownModel { model, .. } => {
                memory_core::Error::not_found(format!("model {model}"))
            }
            LlmError::Malformed { .. } | LlmError::Unsupported { .. } => {
                memory_core::Error::Backend {
                    message,
                    source: Some(Box::new(e)),
                }
            }
            _ => memory_core::Error::Unavailable {
                message,
                source: Some(Box::new(e)),
            },
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = LlmError> = std::result::Result<T, E>;

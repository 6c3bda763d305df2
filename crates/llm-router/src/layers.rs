//! Resilience as layers around a [`Provider`], in the manner of tower: each layer is a
//! [`Provider`] that wraps another, so they compose in any order and a router holds the
//! result as one `Arc<dyn Provider>`.
//!
//! - [`TimeoutLayer`]: a limit per call, and for streams a limit to the first token and
//!   between tokens.
//! - [`RetryLayer`]: retries what may succeed on a second try (rate limits, 5xx,
//!   timeouts, broken connections) with exponential backoff and jitter, waiting exactly
//!   as long as the server's `Retry-After` asks, and giving up at once when it asks for
//!   longer than the layer allows, so that the router can fall back instead.
//! - [`CircuitBreakerLayer`]: per deployment (provider and model), opens after
//!   consecutive failures and refuses calls for a cooldown (or the server's
//!   `Retry-After`, if longer), then lets one trial call through.
//!
//! A stream is retried and counted only up to its first event: once text has reached the
//! caller, a failure is the caller's to handle.
//!
//! tower itself is not used: its `Service` takes `&mut self` and a readiness protocol
//! that an object-safe, shared `&self` provider does not need, and its retry policy
//! cannot see a stream's first event.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::StreamExt;
use memory_core::{Completion, CompletionRequest};
use serde::{Deserialize, Serialize};

use crate::error::{LlmError, Result};
use crate::provider::{ChatStream, Provider, StreamEvent};

/// Wraps a provider in another.
pub trait Layer: Send + Sync {
    /// `inner`, wrapped.
    fn layer(&self, inner: Arc<dyn Provider>) -> Arc<dyn Provider>;
}

/// Opens a stream and waits for its first event, so that a failure to start is an error
/// of the call (which can be retried or fall back) rather than of the stream.
pub async fn open_stream(
    provider: &dyn Provider,
    request: &CompletionRequest,
) -> Result<ChatStream> {
    let mut stream = provider.chat_stream(request).await?;
    match stream.next().await {
        Some(Ok(first)) => Ok(Box::pin(
            futures_util::stream::once(async move { Ok(first) }).chain(stream),
        )),
        Some(Err(e)) => Err(e),
        None => Err(LlmError::Malformed {
            provider: provider.name().to_owned(),
            message: "the stream ended before its first event".into(),
        }),
    }
}

// ---------------------------------------------------------------------------------------
// Timeout

/// Time limits for calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeoutLayer {
    /// A whole non-streamed call (chat, embeddings, model list).
    pub call: Duration,
    /// From opening a stream to its first event.
    pub first_token: Duration,
    /// Between two events of a stream.
    pub between_tokens: Duration,
}

impl Layer for TimeoutLayer {
    fn layer(&self, inner: Arc<dyn Provider>) -> Arc<dyn Provider> {
        Arc::new(Timeout {
            inner,
            limits: *self,
        })
    }
}

struct Timeout {
    inner: Arc<dyn Provider>,
    limits: TimeoutLayer,
}

impl Timeout {
    async fn limit<T>(
        &self,
        after: Duration,
        stage: &'static str,
        f: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        tokio::time::timeout(after, f)
            .await
            .map_err(|_| LlmError::Timeout {
                provider: self.inner.name().to_owned(),
                after,
                stage,
            })?
    }
}

#[async_trait]
impl Provider for Timeout {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn chat(&self, request: &CompletionRequest) -> Result<Completion> {
        self.limit(self.limits.call, "call", self.inner.chat(request))
            .await
    }

    async fn chat_stream(&self, request: &CompletionRequest) -> Result<ChatStream> {
        let first = self.limits.first_token;
        let stream = self
            .limit(
                first,
                "first token",
                open_stream(self.inner.as_ref(), request),
            )
            .await?;
        let idle = self.limits.between_tokens;
        let provider = self.inner.name().to_owned();
        let limited = futures_util::stream::unfold((stream, false), move |(mut s, finished)| {
            let provider = provider.clone();
            async move {
                if finished {
                    return None;
                }
                match tokio::time::timeout(idle, s.next()).await {
                    Ok(Some(Ok(event))) => {
                        let end = matches!(event, StreamEvent::Done { .. });
                        Some((Ok(event), (s, end)))
                    }
                    Ok(Some(Err(e))) => Some((Err(e), (s, true))),
                    Ok(None) => None,
                    Err(_) => Some((
                        Err(LlmError::Timeout {
                            provider,
                            after: idle,
                            stage: "between tokens",
                        }),
                        (s, true),
                    )),
                }
            }
        });
        Ok(Box::pin(limited))
    }

    async fn embed(&self, model: &str, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        self.limit(self.limits.call, "call", self.inner.embed(model, texts))
            .await
    }

    async fn list_models(&self) -> Result<Vec<String>> {
        self.limit(self.limits.call, "call", self.inner.list_models())
            .await
    }
}

// ---------------------------------------------------------------------------------------
// Retry

/// Retries with exponential backoff, honouring `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryLayer {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff; each retry doubles it.
    pub base_delay: Duration,
    /// The longest backoff.
    pub max_delay: Duration,
    /// The longest `Retry-After` waited for; a longer one ends the retries at once.
    pub max_retry_after: Duration,
}

impl RetryLayer {
    /// The wait before retry number `attempt` (0-based) after `error`, or `None` to give up.
    pub fn delay(&self, attempt: u32, error: &LlmError) -> Option<Duration> {
        if attempt >= self.max_retries || !error.is_retryable() {
            return None;
        }
        if let Some(asked) = error.retry_after() {
            return (asked <= self.max_retry_after).then_some(asked);
        }
        let full = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt))
            .min(self.max_delay);
        // Equal jitter: half fixed, half random, so clients that failed together spread out.
        let half = full / 2;
        let jitter = half.mul_f64(rand::random::<f64>());
        Some(half + jitter)
    }
}

impl Layer for RetryLayer {
    fn layer(&self, inner: Arc<dyn Provider>) -> Arc<dyn Provider> {
        Arc::new(Retry {
            inner,
            policy: *self,
        })
    }
}

struct Retry {
    inner: Arc<dyn Provider>,
    policy: RetryLayer,
}

impl Retry {
    async fn run<T, F, Fut>(&self, mut f: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut attempt = 0;
        loop {
            match f().await {
                Ok(v) => return Ok(v),
                Err(e) => match self.policy.delay(attempt, &e) {
                    Some(wait) => {
                        tracing::debug!(provider = self.inner.name(), attempt, ?wait, error = %e, "retrying");
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                    }
                    None => return Err(e),
                },
            }
        }
    }
}

#[async_trait]
impl Provider for Retry {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn chat(&self, request: &CompletionRequest) -> Result<Completion> {
        self.run(|| self.inner.chat(request)).await
    }

    async fn chat_stream(&self, request: &CompletionRequest) -> Result<ChatStream> {
        self.run(|| open_stream(self.inner.as_ref(), request)).await
    }

    async fn embed(&self, model: &str, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        self.run(|| self.inner.embed(model, texts)).await
    }

    async fn list_models(&self) -> Result<Vec<String>> {
        self.run(|| self.inner.list_models()).await
    }
}

// ---------------------------------------------------------------------------------------
// Circuit breaker

/// Opens a deployment's circuit after consecutive failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitBreakerLayer {
    /// Consecutive failures that open the circuit.
    pub failures: u32,
    /// How long an open circuit refuses calls (longer if the server's `Retry-After` says so).
    pub cooldown: Duration,
}

impl Layer for CircuitBreakerLayer {
    fn layer(&self, inner: Arc<dyn Provider>) -> Arc<dyn Provider> {
        Arc::new(Breaker {
            inner,
            policy: *self,
            states: Mutex::new(HashMap::new()),
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum BreakerState {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One trial call is out; everyone else waits for its outcome.
    HalfOpen,
}

struct Breaker {
    inner: Arc<dyn Provider>,
    policy: CircuitBreakerLayer,
    states: Mutex<HashMap<String, BreakerState>>,
}

impl Breaker {
    fn states(&self) -> std::sync::MutexGuard<'_, HashMap<String, BreakerState>> {
        // A poisoned map only means a panic elsewhere mid-update; its states are still valid.
        self.states.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn admit(&self, model: &str) -> Result<()> {
        let mut states = self.states();
        let state = states
            .entry(model.to_owned())
            .or_insert(BreakerState::Closed { failures: 0 });
        let now = Instant::now();
        match *state {
            BreakerState::Closed { .. } => Ok(()),
            BreakerState::Open { until } if now >= until => {
                *state = BreakerState::HalfOpen;
                Ok(())
            }
            BreakerState::Open { until } => Err(self.open_error(model, until - now)),
            BreakerState::HalfOpen => Err(self.open_error(model, Duration::ZERO)),
        }
    }

    fn open_error(&self, model: &str, remaining: Duration) -> LlmError {
        LlmError::CircuitOpen {
            deployment: format!("{}/{model}", self.inner.name()),
            remaining,
        }
    }

    fn record<T>(&self, model: &str, outcome: &Result<T>) {
        let mut states = self.states();
        let state = states
            .entry(model.to_owned())
            .or_insert(BreakerState::Closed { failures: 0 });
        match outcome {
            Err(e) if e.counts_as_failure() => {
                let failures = match *state {
                    BreakerState::Closed { failures } => failures + 1,
                    // A failed trial reopens at once.
                    _ => self.policy.failures,
                };
                if failures >= self.policy.failures {
                    let cooldown = self
                        .policy
                        .cooldown
                        .max(e.retry_after().unwrap_or_default());
                    tracing::warn!(deployment = %format!("{}/{model}", self.inner.name()), ?cooldown, error = %e, "circuit opened");
                    *state = BreakerState::Open {
                        until: Instant::now() + cooldown,
                    };
                } else {
                    *state = BreakerState::Closed { failures };
                }
            }
            Err(_) => {
                // The request was at fault, not the deployment; a trial still ends.
                if matches!(*state, BreakerState::HalfOpen) {
                    *state = BreakerState::Closed { failures: 0 };
                }
            }
            Ok(_) => *state = BreakerState::Closed { failures: 0 },
        }
    }

    async fn guarded<T>(&self, model: &str, f: impl Future<Output = Result<T>>) -> Result<T> {
        self.admit(model)?;
        let outcome = f.await;
        self.record(model, &outcome);
        outcome
    }
}

#[async_trait]
impl Provider for Breaker {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn chat(&self, request: &CompletionRequest) -> Result<Completion> {
        let model = request.model.clone().unwrap_or_default();
        self.guarded(&model, self.inner.chat(request)).await
    }

    async fn chat_stream(&self, request: &CompletionRequest) -> Result<ChatStream> {
        let model = request.model.clone().unwrap_or_default();
        self.guarded(&model, open_stream(self.inner.as_ref(), request))
            .await
    }

    async fn embed(&self, model: &str, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        self.guarded(model, self.inner.embed(model, texts)).await
    }

    async fn list_models(&self) -> Result<Vec<String>> {
        self.inner.list_models().await
    }
}

// ---------------------------------------------------------------------------------------
// The standard stack

/// The resilience settings every configured provider gets, as configuration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Resilience {
    /// Seconds a non-streamed call may take.
    pub timeout_secs: f64,
    /// Seconds to a stream's first event.
    pub first_token_secs: f64,
    /// Seconds between two stream events.
    pub between_tokens_secs: f64,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff, in milliseconds.
    pub base_delay_ms: u64,
    /// The longest backoff, in milliseconds.
    pub max_delay_ms: u64,
    /// The longest `Retry-After`, in seconds, that is waited for rather than falling back.
    pub max_retry_after_secs: f64,
    /// Consecutive failures that open a deployment's circuit.
    pub breaker_failures: u32,
    /// Seconds an open circuit refuses calls.
    pub breaker_cooldown_secs: f64,
}

impl Default for Resilience {
    fn default() -> Self {
        Resilience {
            timeout_secs: 120.0,
            first_token_secs: 30.0,
            between_tokens_secs: 30.0,
            max_retries: 2,
            base_delay_ms: 250,
            max_delay_ms: 10_000,
            max_retry_after_secs: 30.0,
            breaker_failures: 3,
            breaker_cooldown_secs: 30.0,
        }
    }
}

fn secs(field: &str, v: f64) -> Result<Duration> {
    if (0.0..1e9).contains(&v) {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(LlmError::Config(format!(
            "resilience.{field} must be a non-negative number of seconds, got {v}"
        )))
    }
}

impl Resilience {
    /// The timeout layer of these settings.
    pub fn timeout(&self) -> Result<TimeoutLayer> {
        Ok(TimeoutLayer {
            call: secs("timeout_secs", self.timeout_secs)?,
            first_token: secs("first_token_secs", self.first_token_secs)?,
            between_tokens: secs("between_tokens_secs", self.between_tokens_secs)?,
        })
    }

    /// The retry layer of these settings.
    pub fn retry(&self) -> Result<RetryLayer> {
        Ok(RetryLayer {
            max_retries: self.max_retries,
            base_delay: Duration::from_millis(self.base_delay_ms),
            max_delay: Duration::from_millis(self.max_delay_ms),
            max_retry_after: secs("max_retry_after_secs", self.max_retry_after_secs)?,
        })
    }

    /// The circuit breaker of these settings.
    pub fn breaker(&self) -> Result<CircuitBreakerLayer> {
        if self.breaker_failures == 0 {
            return Err(LlmError::Config(
                "resilience.breaker_failures must be at least 1".into(),
            ));
        }
        Ok(CircuitBreakerLayer {
            failures: self.breaker_failures,
            cooldown: secs("breaker_cooldown_secs", self.breaker_cooldown_secs)?,
        })
    }

    /// Checks every setting.
    pub fn validate(&self) -> Result<()> {
        self.timeout()?;
        self.retry()?;
        self.breaker()?;
        Ok(())
    }

    /// `provider` wrapped as retry(breaker(timeout(provider))): every attempt is timed,
    /// every attempt counts towards the breaker, and an open breaker ends the retries.
    pub fn apply(&self, provider: Arc<dyn Provider>) -> Result<Arc<dyn Provider>> {
        let p = self.timeout()?.layer(provider);
        let p = self.breaker()?.layer(p);
        Ok(self.retry()?.layer(p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memory_core::{FinishReason, Usage};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Fails with the scripted errors in order, then answers.
    struct Scripted {
        errors: Mutex<Vec<LlmError>>,
        calls: AtomicUsize,
    }

    impl Scripted {
        fn new(mut errors: Vec<LlmError>) -> Arc<Self> {
            errors.reverse();
            Arc::new(Scripted {
                errors: Mutex::new(errors),
                calls: AtomicUsize::new(0),
            })
        }
        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
        fn next(&self) -> Result<Completion> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            match self.errors.lock().unwrap_or_else(|p| p.into_inner()).pop() {
                Some(e) => Err(e),
                None => Ok(Completion {
                    text: "ok".into(),
                    model: "m".into(),
                    finish_reason: FinishReason::Stop,
                    usage: Usage::default(),
                    latency: Duration::ZERO,
                }),
            }
        }
    }

    #[async_trait]
    impl Provider for Scripted {
        fn name(&self) -> &str {
            "scripted"
        }
        async fn chat(&self, _: &CompletionRequest) -> Result<Completion> {
            self.next()
        }
        async fn chat_stream(&self, _: &CompletionRequest) -> Result<ChatStream> {
            let c = self.next()?;
            let events = vec![
                Ok(StreamEvent::Delta(c.text)),
                Ok(StreamEvent::Done {
                    model: c.model,
                    finish_reason: c.finish_reason,
                    usage: c.usage,
                }),
            ];
            Ok(Box::pin(futures_util::stream::iter(events)))
        }
        async fn list_models(&self) -> Result<Vec<String>> {
            Ok(vec![])
        }
    }

    fn limited(after: Option<Duration>) -> LlmError {
        LlmError::RateLimited {
            provider: "scripted".into(),
            retry_after: after,
        }
    }
    fn server() -> LlmError {
        LlmError::Server {
            provider: "scripted".into(),
            status: 500,
            message: "boom".into(),
        }
    }
    fn req() -> CompletionRequest {
        let mut r = CompletionRequest::prompt("hi");
        r.model = Some("m".into());
        r
    }
    const RETRY: RetryLayer = RetryLayer {
        max_retries: 2,
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(1),
        max_retry_after: Duration::from_secs(5),
    };

    #[tokio::test(start_paused = true)]
    async fn retry_waits_as_long_as_retry_after_asks() {
        let inner = Scripted::new(vec![limited(Some(Duration::from_secs(3)))]);
        let p = RETRY.layer(inner.clone());
        let started = tokio::time::Instant::now();
        let c = p.chat(&req()).await;
        assert!(c.is_ok(), "{c:?}");
        assert_eq!(inner.calls(), 2);
        assert_eq!(started.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn retry_gives_up_at_once_when_retry_after_is_too_long() {
        let inner = Scripted::new(vec![limited(Some(Duration::from_secs(60)))]);
        let p = RETRY.layer(inner.clone());
        let started = tokio::time::Instant::now();
        assert!(matches!(
            p.chat(&req()).await,
            Err(LlmError::RateLimited { .. })
        ));
        assert_eq!(inner.calls(), 1);
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_backs_off_and_stops_after_max_retries() {
        let inner = Scripted::new(vec![server(), server(), server(), server()]);
        let p = RETRY.layer(inner.clone());
        let started = tokio::time::Instant::now();
        assert!(matches!(p.chat(&req()).await, Err(LlmError::Server { .. })));
        assert_eq!(inner.calls(), 3, "one call and two retries");
        // Equal jitter: 50..100 ms, then 100..200 ms.
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(150) && waited <= Duration::from_millis(300),
            "{waited:?}"
        );
    }

    #[tokio::test]
    async fn retry_does_not_retry_what_cannot_succeed() {
        let bad = LlmError::InvalidRequest {
            provider: "scripted".into(),
            status: 400,
            message: "no".into(),
        };
        let inner = Scripted::new(vec![bad]);
        assert!(RETRY.layer(inner.clone()).chat(&req()).await.is_err());
        assert_eq!(inner.calls(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn retry_covers_a_stream_up_to_its_first_event() {
        let inner = Scripted::new(vec![server()]);
        let p = RETRY.layer(inner.clone());
        let s = p.chat_stream(&req()).await;
        let c = crate::collect_stream(
            "scripted",
            s.unwrap_or_else(|e| panic!("{e}")),
            std::time::Instant::now(),
        )
        .await;
        assert_eq!(c.map(|c| c.text).ok().as_deref(), Some("ok"));
        assert_eq!(inner.calls(), 2);
    }

    #[tokio::test]
    async fn breaker_opens_after_consecutive_failures_and_recovers_after_cooldown() {
        let breaker = CircuitBreakerLayer {
            failures: 2,
            cooldown: Duration::from_millis(200),
        };
        let inner = Scripted::new(vec![server(), server()]);
        let p = breaker.layer(inner.clone());
        assert!(matches!(p.chat(&req()).await, Err(LlmError::Server { .. })));
        assert!(matches!(p.chat(&req()).await, Err(LlmError::Server { .. })));
        // Open: refused without calling the provider.
        assert!(matches!(
            p.chat(&req()).await,
            Err(LlmError::CircuitOpen { .. })
        ));
        assert_eq!(inner.calls(), 2);
        // Another model of the same provider is a different deployment.
        let mut other = req();
        other.model = Some("other".into());
        assert!(p.chat(&other).await.is_ok());
        tokio::time::sleep(Duration::from_millis(250)).await;
        // Half-open: one trial, which succeeds and closes the circuit.
        assert!(p.chat(&req()).await.is_ok());
        assert!(p.chat(&req()).await.is_ok());
        assert_eq!(inner.calls(), 5);
    }

    #[tokio::test]
    async fn a_failed_trial_reopens_the_circuit() {
        let breaker = CircuitBreakerLayer {
            failures: 1,
            cooldown: Duration::from_millis(100),
        };
        let inner = Scripted::new(vec![server(), server()]);
        let p = breaker.layer(inner.clone());
        assert!(p.chat(&req()).await.is_err());
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(
            matches!(p.chat(&req()).await, Err(LlmError::Server { .. })),
            "the trial"
        );
        assert!(matches!(
            p.chat(&req()).await,
            Err(LlmError::CircuitOpen { .. })
        ));
        assert_eq!(inner.calls(), 2);
    }

    #[tokio::test]
    async fn breaker_honours_a_longer_retry_after() {
        let breaker = CircuitBreakerLayer {
            failures: 1,
            cooldown: Duration::from_millis(10),
        };
        let inner = Scripted::new(vec![limited(Some(Duration::from_secs(60)))]);
        let p = breaker.layer(inner.clone());
        assert!(p.chat(&req()).await.is_err());
        tokio::time::sleep(Duration::from_millis(30)).await;
        match p.chat(&req()).await {
            Err(LlmError::CircuitOpen { remaining, .. }) => {
                assert!(remaining > Duration::from_secs(50))
            }
            other => panic!("expected an open circuit, got {other:?}"),
        }
    }

    proptest::proptest! {
        /// Backoff never exceeds its cap, never retries past the limit, and always waits
        /// exactly the Retry-After it honours.
        #[test]
        fn retry_delays_are_bounded(attempt in 0u32..40, base in 0u64..5_000, cap in 0u64..60_000, asked in proptest::option::of(0u64..100_000)) {
            let policy = RetryLayer {
                max_retries: 5,
                base_delay: Duration::from_millis(base),
                max_delay: Duration::from_millis(cap),
                max_retry_after: Duration::from_secs(30),
            };
            let e = limited(asked.map(Duration::from_millis));
            match policy.delay(attempt, &e) {
                None => proptest::prop_assert!(attempt >= 5 || asked.is_some_and(|a| a > 30_000)),
                Some(d) => {
                    proptest::prop_assert!(attempt < 5);
                    match asked {
                        Some(a) => proptest::prop_assert_eq!(d, Duration::from_millis(a)),
                        None => proptest::prop_assert!(d <= Duration::from_millis(cap)),
                    }
                }
            }
        }
    }
}

//! The router: routes a task through the table, calls the deployments in order until one
//! answers, keeps to context windows, and accounts for tokens, cost and latency.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use memory_core::{
    Completion, CompletionRequest, Embedder, EmbedderInfo, TextModel, Usage, estimate_tokens,
};
use serde::Serialize;
use tracing::Instrument;

use crate::error::{LlmError, Result};
use crate::layers::open_stream;
use crate::provider::{ChatStream, Provider, StreamEvent};
use crate::registry::{Capability, Registry};
use crate::routing::{RouteRequest, RoutingDecision, RoutingTable, Target, TaskType};
use futures_util::StreamExt;

/// One deployment tried for a call, and how it went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    /// The deployment.
    pub target: Target,
    /// `None` if it answered; else why not.
    pub error: Option<String>,
    /// Whether the deployment itself misbehaved (rate limit, server error, timeout,
    /// broken connection, malformed answer), as opposed to being skipped (not
    /// configured, too small a window) or refusing a bad request.
    pub deployment_failed: bool,
}

/// A routed answer: the completion, where it came from and why, and what it cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Routed {
    /// The answer.
    pub completion: Completion,
    /// What the table decided.
    pub decision: RoutingDecision,
    /// The deployment that answered (the target, or a fallback).
    pub served_by: Target,
    /// Every deployment tried, in order; the last answered.
    pub attempts: Vec<Attempt>,
    /// US dollars, from the registry's prices; `None` for an unregistered model.
    pub cost_usd: Option<f64>,
}

/// A routed stream: the events, where they come from and why.
pub struct RoutedStream {
    /// The answer's events.
    pub stream: ChatStream,
    /// What the table decided.
    pub decision: RoutingDecision,
    /// The deployment streaming the answer.
    pub served_by: Target,
    /// Every deployment tried, in order; the last is streaming.
    pub attempts: Vec<Attempt>,
}

impl std::fmt::Debug for RoutedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoutedStream")
            .field("decision", &self.decision)
            .field("served_by", &self.served_by)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// Running totals for one deployment.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeploymentStats {
    /// Calls that answered.
    pub calls: u64,
    /// Calls that failed.
    pub failures: u64,
    /// Prompt tokens of answered calls.
    pub input_tokens: u64,
    /// Generated tokens of answered calls.
    pub output_tokens: u64,
    /// US dollars of answered calls.
    pub cost_usd: f64,
    /// Wall time of answered calls; `latency_ms` in JSON.
    #[serde(rename = "latency_ms", with = "memory_core::duration_ms")]
    pub latency: Duration,
}

/// The running totals, shared with the streams that are still reporting.
#[derive(Debug, Default)]
struct Ledger(Mutex<BTreeMap<Target, DeploymentStats>>);

impl Ledger {
    fn record(
        &self,
        target: &Target,
        outcome: std::result::Result<(&Usage, Duration), ()>,
        cost: Option<f64>,
    ) {
        let mut ledger = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let stats = ledger.entry(target.clone()).or_default();
        match outcome {
            Ok((usage, latency)) => {
                stats.calls += 1;
                stats.input_tokens += usage.input_tokens;
                stats.output_tokens += usage.output_tokens;
                stats.cost_usd += cost.unwrap_or(0.0);
                stats.latency += latency;
            }
            Err(()) => stats.failures += 1,
        }
    }
}

/// Routes tasks to deployments. Cheap to share: hold it in an `Arc`.
pub struct Router {
    table: RoutingTable,
    registry: Registry,
    providers: BTreeMap<String, Arc<dyn Provider>>,
    ledger: Arc<Ledger>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("providers", &self.providers.keys().collect::<Vec<_>>())
            .field("rules", &self.table.rules.len())
            .finish_non_exhaustive()
    }
}

/// Builds a [`Router`].
#[derive(Default)]
pub struct RouterBuilder {
    table: Option<RoutingTable>,
    registry: Option<Registry>,
    providers: BTreeMap<String, Arc<dyn Provider>>,
}

impl RouterBuilder {
    /// The routing table ([`RoutingTable::seed`] by default).
    pub fn table(mut self, table: RoutingTable) -> Self {
        self.table = Some(table);
        self
    }

    /// The model registry ([`Registry::seed`] by default).
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Adds a provider under its [`Provider::name`], already wrapped in whatever layers
    /// it should have (see [`crate::layers::Resilience::apply`]).
    pub fn provider(mut self, provider: Arc<dyn Provider>) -> Self {
        self.providers.insert(provider.name().to_owned(), provider);
        self
    }

    /// The router. Fails if the table or registry is invalid.
    pub fn build(self) -> Result<Router> {
        let table = self.table.unwrap_or_default();
        table.validate()?;
        let registry = self
            .registry
            .unwrap_or_else(|| Registry::seed(crate::routing::SEED_LOCAL_MODEL));
        registry.validate()?;
        Ok(Router {
            table,
            registry,
            providers: self.providers,
            ledger: Arc::new(Ledger::default()),
        })
    }
}

/// The tokens a request needs: its text, estimated, plus the answer it asks room for.
pub fn tokens_needed(request: &CompletionRequest) -> u64 {
    let prompt: usize = request.system.as_deref().map_or(0, estimate_tokens)
        + request
            .messages
            .iter()
            .map(|m| estimate_tokens(&m.content))
            .sum::<usize>();
    prompt as u64 + u64::from(request.max_tokens.unwrap_or(0))
}

impl Router {
    /// A builder.
    pub fn builder() -> RouterBuilder {
        RouterBuilder::default()
    }

    /// The routing table.
    pub fn table(&self) -> &RoutingTable {
        &self.table
    }

    /// The model registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The configured providers' names.
    pub fn providers(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(String::as_str)
    }

    /// The provider named `name`.
    pub fn provider(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.get(name)
    }

    /// What the table decides for `route`, without calling anything.
    pub fn route(&self, route: &RouteRequest) -> Result<RoutingDecision> {
        self.table.route(route)
    }

    /// Running totals per deployment since the router was built.
    pub fn ledger(&self) -> BTreeMap<Target, DeploymentStats> {
        self.ledger
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn account(
        &self,
        target: &Target,
        outcome: std::result::Result<(&Usage, Duration), ()>,
    ) -> Option<f64> {
        let cost = outcome
            .ok()
            .and_then(|(usage, _)| self.registry.cost(target, usage));
        self.ledger.record(target, outcome, cost);
        cost
    }

    /// `stream`, recording its usage, cost and latency in the ledger and its span when
    /// the final event arrives, or a failure if it breaks.
    fn accounted(
        &self,
        stream: ChatStream,
        target: &Target,
        span: tracing::Span,
        started: Instant,
    ) -> ChatStream {
        let ledger = Arc::clone(&self.ledger);
        let info = self.registry.get(target).cloned();
        let target = target.clone();
        Box::pin(stream.inspect(move |event| match event {
            Ok(StreamEvent::Done {
                model,
                finish_reason,
                usage,
            }) => {
                let cost = info.as_ref().map(|m| m.cost(usage));
                ledger.record(&target, Ok((usage, started.elapsed())), cost);
                let completion = Completion {
                    text: String::new(),
                    model: model.clone(),
                    finish_reason: finish_reason.clone(),
                    usage: *usage,
                    latency: started.elapsed(),
                };
                record_answer(&span, &completion, cost, started.elapsed());
            }
            Ok(StreamEvent::Delta(_)) => {}
            Err(e) => {
                ledger.record(&target, Err(()), None);
                span.record("error.type", error_type(e));
            }
        }))
    }

    /// The decision for `route` and `request`, with the context length raised to the
    /// request's own estimate.
    /// Why `target` cannot take the call before trying it: no such provider, or a
    /// window too small.
    fn precheck(&self, target: &Target, needed: u64) -> Result<&Arc<dyn Provider>> {
        let provider = self.providers.get(&target.provider).ok_or_else(|| {
            LlmError::ProviderNotConfigured {
                provider: target.provider.clone(),
            }
        })?;
        self.registry.check_fits(target, needed)?;
        Ok(provider)
    }

    /// Completes `request` on the deployment the table picks for `route`, falling back
    /// in the table's order when a deployment fails in a way another may not (see
    /// [`LlmError::allows_fallback`]) or cannot hold the request. One failed deployment
    /// gives its own error; several give [`LlmError::AllFailed`].
    pub async fn chat(&self, route: &RouteRequest, request: CompletionRequest) -> Result<Routed> {
        let decision = self.decide(route, &request)?;
        self.chat_with(decision, request).await
    }

    /// The decision the table makes for `route` and this request: the context length is
    /// raised to the request's own estimate first. When none of the rule's deployments is
    /// on a configured provider, the decision serves what is configured instead (see
    /// [`Router::serve_configured`]).
    pub fn decide(
        &self,
        route: &RouteRequest,
        request: &CompletionRequest,
    ) -> Result<RoutingDecision> {
        let mut route = *route;
        route.context_length = route.context_length.max(tokens_needed(request));
        let decision = self.table.route(&route)?;
        Ok(self.serve_configured(decision, route.task))
    }

    /// `decision` unchanged when any of its deployments is on a configured provider.
    /// Otherwise (a local-only setup meeting a rule that names cloud models, say) its
    /// candidates become the configured deployments that can do `task`, in this order:
    /// first those the routing table names in its other rules, in table order, then the
    /// registry's models, in registry order; the reason says so. Embeddings never fall
    /// back (vectors of two models must not mix). With no configured provider that can
    /// chat, the decision is unchanged and fails with the unconfigured providers named.
    pub fn serve_configured(&self, decision: RoutingDecision, task: TaskType) -> RoutingDecision {
        let configured = |t: &Target| self.providers.contains_key(&t.provider);
        // Embeddings never change model behind the caller's back: stored vectors of two
        // models must not mix.
        if task == TaskType::Embedding || decision.candidates().any(configured) {
            return decision;
        }
        // A model the registry does not know is taken on the table's word, unless it is
        // the target of an embeddings rule.
        let can = |t: &Target, rule_task: Option<TaskType>| match self.registry.get(t) {
            Some(info) => info.capabilities.contains(&Capability::Chat),
            None => rule_task != Some(TaskType::Embedding),
        };
        let mut seen = std::collections::BTreeSet::new();
        let mut picked: Vec<Target> = Vec::new();
        for rule in &self.table.rules {
            let rule_task = match rule.when.tasks.as_slice() {
                [only] => Some(*only),
                _ => None,
            };
            for t in std::iter::once(&rule.target).chain(&rule.fallbacks) {
                if configured(t) && can(t, rule_task) && seen.insert(t.clone()) {
                    picked.push(t.clone());
                }
            }
        }
        for info in self.registry.models() {
            let t = info.target();
            if configured(&t)
                && info.capabilities.contains(&Capability::Chat)
                && seen.insert(t.clone())
            {
                picked.push(t);
            }
        }
        let Some((target, fallbacks)) = picked.split_first() else {
            return decision;
        };
        let named: Vec<String> = decision.candidates().map(Target::to_string).collect();
        let reason = format!(
            "{}; none of rule `{}`'s models ({}) is on a configured provider, so it falls back \
             to the configured {}",
            decision.reason,
            decision.rule,
            named.join(", "),
            picked
                .iter()
                .map(Target::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
        tracing::info!(target: "llm_router", rule = %decision.rule, served = %target, "rule's models not configured; falling back");
        RoutingDecision {
            rule: decision.rule,
            target: target.clone(),
            fallbacks: fallbacks.to_vec(),
            reason,
        }
    }

    /// Completes `request` with an explicit decision, for callers that reorder the
    /// table's candidates (a learned preference among the models a rule allows) — the
    /// candidates are tried in the decision's order, with the same checks and fallback
    /// as [`Router::chat`].
    pub async fn chat_with(
        &self,
        decision: RoutingDecision,
        request: CompletionRequest,
    ) -> Result<Routed> {
        let rule = decision.rule.clone();
        let (completion, served_by, attempts) = self
            .first_success(&decision, &request, |provider, req, target| {
                let rule = rule.clone();
                async move {
                    let span = chat_span(&target, &req, &rule, "chat");
                    let started = Instant::now();
                    let result = provider.chat(&req).instrument(span.clone()).await;
                    match &result {
                        Ok(c) => {
                            let cost = self.account(&target, Ok((&c.usage, c.latency)));
                            record_answer(&span, c, cost, started.elapsed());
                        }
                        Err(e) => {
                            self.account(&target, Err(()));
                            span.record("error.type", error_type(e));
                        }
                    }
                    result
                }
            })
            .await?;
        let cost_usd = self.registry.cost(&served_by, &completion.usage);
        Ok(Routed {
            completion,
            served_by,
            decision,
            attempts,
            cost_usd,
        })
    }

    /// Tries the decision's candidates in order with `call` until one succeeds: skips a
    /// provider that is not configured or a window too small, stops at an error no other
    /// model would avoid, and returns the value, the deployment that gave it and every
    /// attempt.
    async fn first_success<T, F, Fut>(
        &self,
        decision: &RoutingDecision,
        request: &CompletionRequest,
        mut call: F,
    ) -> Result<(T, Target, Vec<Attempt>)>
    where
        F: FnMut(Arc<dyn Provider>, CompletionRequest, Target) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let needed = tokens_needed(request);
        let mut attempts = Vec::new();
        let mut errors = Vec::new();
        for target in decision.candidates() {
            let mut req = request.clone();
            req.model = Some(target.model.clone());
            let result = match self.precheck(target, needed) {
                Ok(provider) => call(Arc::clone(provider), req, target.clone()).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(value) => {
                    attempts.push(Attempt {
                        target: target.clone(),
                        error: None,
                        deployment_failed: false,
                    });
                    return Ok((value, target.clone(), attempts));
                }
                Err(e) => {
                    tracing::warn!(deployment = %target, error = %e, "deployment failed");
                    attempts.push(Attempt {
                        target: target.clone(),
                        error: Some(e.to_string()),
                        deployment_failed: e.is_deployment_failure(),
                    });
                    let stop = !e.allows_fallback();
                    errors.push((target.to_string(), e));
                    if stop {
                        break;
                    }
                }
            }
        }
        Err(combine(errors))
    }

    /// Streams the answer, with the same routing and fallback as [`Router::chat`] up to
    /// the first event; after that, errors arrive in the stream.
    pub async fn chat_stream(
        &self,
        route: &RouteRequest,
        request: CompletionRequest,
    ) -> Result<RoutedStream> {
        let decision = self.decide(route, &request)?;
        self.chat_stream_with(decision, request).await
    }

    /// Streams the answer with an explicit decision (see [`Router::chat_with`]).
    pub async fn chat_stream_with(
        &self,
        decision: RoutingDecision,
        request: CompletionRequest,
    ) -> Result<RoutedStream> {
        let rule = decision.rule.clone();
        let (stream, served_by, attempts) = self
            .first_success(&decision, &request, |provider, req, target| {
                let rule = rule.clone();
                async move {
                    let span = chat_span(&target, &req, &rule, "chat");
                    let started = Instant::now();
                    match open_stream(provider.as_ref(), &req)
                        .instrument(span.clone())
                        .await
                    {
                        Ok(s) => Ok(self.accounted(s, &target, span, started)),
                        Err(e) => {
                            self.account(&target, Err(()));
                            span.record("error.type", error_type(&e));
                            Err(e)
                        }
                    }
                }
            })
            .await?;
        Ok(RoutedStream {
            stream,
            served_by,
            decision,
            attempts,
        })
    }

    /// Embeds `texts` with the table's embedding deployment. Never falls back: vectors of
    /// two models must not be mixed, so a failure is returned as it is.
    pub async fn embed(&self, texts: &[String]) -> Result<(Target, Vec<Vec<f32>>)> {
        let target = self.embedding_target()?;
        let provider = self.precheck(&target, 0)?;
        let span = tracing::info_span!(
            "embeddings",
            gen_ai.operation.name = "embeddings",
            gen_ai.system = %target.provider,
            gen_ai.request.model = %target.model,
            error.type = tracing::field::Empty,
        );
        let started = Instant::now();
        let result = provider
            .embed(&target.model, texts)
            .instrument(span.clone())
            .await;
        match &result {
            Ok(_) => {
                self.account(&target, Ok((&Usage::default(), started.elapsed())));
            }
            Err(e) => {
                self.account(&target, Err(()));
                span.record("error.type", error_type(e));
            }
        }
        Ok((target, result?))
    }

    /// The deployment that embeds, as the table routes an embedding task.
    pub fn embedding_target(&self) -> Result<Target> {
        Ok(self
            .table
            .route(&RouteRequest::new(
                TaskType::Embedding,
                crate::routing::Complexity::Simple,
            ))?
            .target)
    }

    /// A [`TextModel`] that routes every call as `route`, for code that takes
    /// memory-core's port.
    pub fn text_model(self: &Arc<Self>, route: RouteRequest) -> RoutedModel {
        RoutedModel::new(Arc::clone(self) as Arc<dyn ModelRouter>, route)
    }

    /// An [`Embedder`] over the table's embedding deployment. Its dimension comes from
    /// the registry, or from embedding one probe text when the registry does not say.
    pub async fn embedder(self: &Arc<Self>) -> Result<RoutedEmbedder> {
        let target = self.embedding_target()?;
        let dimension = match self
            .registry
            .get(&target)
            .and_then(|m| m.embedding_dimension)
        {
            Some(d) => d,
            None => {
                let (_, v) = self.embed(&["dimension probe".to_owned()]).await?;
                v.first()
                    .map(Vec::len)
                    .filter(|d| *d > 0)
                    .ok_or_else(|| LlmError::Malformed {
                        provider: target.provider.clone(),
                        message: "the probe embedding was empty".into(),
                    })?
            }
        };
        Ok(RoutedEmbedder {
            router: Arc::clone(self),
            info: EmbedderInfo {
                model_id: target.to_string(),
                dimension,
            },
        })
    }
}

fn combine(mut errors: Vec<(String, LlmError)>) -> LlmError {
    if errors.len() == 1
        && let Some((_, e)) = errors.pop()
    {
        return e;
    }
    if errors.is_empty() {
        return LlmError::Config("the routing decision named no deployment".into());
    }
    LlmError::AllFailed(errors)
}

fn chat_span(
    target: &Target,
    request: &CompletionRequest,
    rule: &str,
    operation: &'static str,
) -> tracing::Span {
    tracing::info_span!(
        "chat",
        gen_ai.operation.name = operation,
        gen_ai.system = %target.provider,
        gen_ai.request.model = %target.model,
        gen_ai.request.temperature = request.temperature.map(f64::from),
        gen_ai.request.max_tokens = request.max_tokens,
        gen_ai.response.model = tracing::field::Empty,
        gen_ai.response.finish_reasons = tracing::field::Empty,
        gen_ai.usage.input_tokens = tracing::field::Empty,
        gen_ai.usage.output_tokens = tracing::field::Empty,
        brain.route.rule = rule,
        brain.cost_usd = tracing::field::Empty,
        brain.latency_ms = tracing::field::Empty,
        error.type = tracing::field::Empty,
    )
}

fn record_answer(span: &tracing::Span, c: &Completion, cost: Option<f64>, elapsed: Duration) {
    span.record("gen_ai.response.model", c.model.as_str());
    span.record(
        "gen_ai.response.finish_reasons",
        tracing::field::debug(&c.finish_reason),
    );
    span.record("gen_ai.usage.input_tokens", c.usage.input_tokens);
    span.record("gen_ai.usage.output_tokens", c.usage.output_tokens);
    if let Some(cost) = cost {
        span.record("brain.cost_usd", cost);
    }
    span.record("brain.latency_ms", elapsed.as_secs_f64() * 1000.0);
}

fn error_type(e: &LlmError) -> &'static str {
    match e {
        LlmError::RateLimited { .. } => "rate_limited",
        LlmError::Timeout { .. } => "timeout",
        LlmError::Server { .. } => "server_error",
        LlmError::UnknownModel { .. } => "unknown_model",
        LlmError::Unauthorized { .. } => "unauthorized",
        LlmError::ContextWindowExceeded { .. } => "context_window_exceeded",
        LlmError::InvalidRequest { .. } => "invalid_request",
        LlmError::Malformed { .. } => "malformed_response",
        LlmError::Transport { .. } => "transport",
        LlmError::CircuitOpen { .. } => "circuit_open",
        LlmError::Unsupported { .. } => "unsupported",
        LlmError::Config(_) | LlmError::NotConfigured | LlmError::ProviderNotConfigured { .. } => {
            "config"
        }
        LlmError::AllFailed(_) => "all_failed",
    }
}

/// The routed language models as a port: what a caller that orders the candidates itself
/// (the brain's learned routing) needs of a router. [`Router`] implements it; a test
/// double or another routing layer can stand in for it.
#[async_trait]
pub trait ModelRouter: Send + Sync {
    /// The decision the table makes for `route` and this request (see [`Router::decide`]).
    fn decide(&self, route: &RouteRequest, request: &CompletionRequest) -> Result<RoutingDecision>;

    /// Completes `request` trying the decision's candidates in order, with fallback
    /// (see [`Router::chat_with`]).
    async fn chat_with(
        &self,
        decision: RoutingDecision,
        request: CompletionRequest,
    ) -> Result<Routed>;

    /// Streams the answer trying the decision's candidates in order (see
    /// [`Router::chat_stream_with`]).
    async fn chat_stream_with(
        &self,
        decision: RoutingDecision,
        request: CompletionRequest,
    ) -> Result<RoutedStream>;
}

#[async_trait]
impl ModelRouter for Router {
    fn decide(&self, route: &RouteRequest, request: &CompletionRequest) -> Result<RoutingDecision> {
        Router::decide(self, route, request)
    }

    async fn chat_with(
        &self,
        decision: RoutingDecision,
        request: CompletionRequest,
    ) -> Result<Routed> {
        Router::chat_with(self, decision, request).await
    }

    async fn chat_stream_with(
        &self,
        decision: RoutingDecision,
        request: CompletionRequest,
    ) -> Result<RoutedStream> {
        Router::chat_stream_with(self, decision, request).await
    }
}

/// A [`ModelRouter`] as memory-core's [`TextModel`], with one fixed route.
#[derive(Clone)]
pub struct RoutedModel {
    name: String,
    router: Arc<dyn ModelRouter>,
    route: RouteRequest,
}

impl std::fmt::Debug for RoutedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoutedModel")
            .field("name", &self.name)
            .field("route", &self.route)
            .finish_non_exhaustive()
    }
}

impl RoutedModel {
    /// A [`TextModel`] that routes every call through `router` as `route`.
    pub fn new(router: Arc<dyn ModelRouter>, route: RouteRequest) -> Self {
        RoutedModel {
            name: format!(
                "router:{}/{}",
                route.task.as_str(),
                route.complexity.as_str()
            ),
            router,
            route,
        }
    }
}

#[async_trait]
impl TextModel for RoutedModel {
    fn name(&self) -> &str {
        &self.name
    }

    async fn complete(&self, request: CompletionRequest) -> memory_core::Result<Completion> {
        let decision = self.router.decide(&self.route, &request)?;
        Ok(self.router.chat_with(decision, request).await?.completion)
    }
}

/// The router's embedding deployment as memory-core's [`Embedder`]. Every answer is
/// checked against the pinned dimension.
#[derive(Debug, Clone)]
pub struct RoutedEmbedder {
    router: Arc<Router>,
    info: EmbedderInfo,
}

#[async_trait]
impl Embedder for RoutedEmbedder {
    fn info(&self) -> &EmbedderInfo {
        &self.info
    }

    async fn embed(&self, texts: &[String]) -> memory_core::Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let (target, mut vectors) = self.router.embed(texts).await?;
        let malformed = |message: String| LlmError::Malformed {
            provider: target.provider.clone(),
            message,
        };
        if vectors.len() != texts.len() {
            return Err(malformed(format!(
                "{} vectors for {} texts",
                vectors.len(),
                texts.len()
            ))
            .into());
        }
        for v in &mut vectors {
            if v.len() != self.info.dimension {
                return Err(malformed(format!(
                    "a vector of {} dimensions from {}, which is pinned at {}",
                    v.len(),
                    self.info.model_id,
                    self.info.dimension
                ))
                .into());
            }
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            if !norm.is_finite() || norm == 0.0 {
                return Err(malformed("a zero or non-finite vector".into()).into());
            }
            // The port promises unit vectors; servers do not all normalise.
            v.iter_mut().for_each(|x| *x /= norm);
        }
        Ok(vectors)
    }
}

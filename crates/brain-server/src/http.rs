//! The HTTP server: a JSON REST API (axum) and the MCP streamable HTTP endpoint at `/mcp`,
//! behind one bearer-token check, one body limit and one request timeout.
//!
//! Errors are JSON, `{"error": {"kind", "message"}}`, including those axum's extractors
//! raise (malformed JSON is a 400 that says where, an oversized body a 413) and those
//! raised below the handlers (405, 415, a timeout's 503). Every route, `/health` and
//! unknown ones included, first passes [`HostGuard`]: `Host` and any `Origin` must name
//! this server (DNS-rebinding guard), else 403.
//! [`serve`] shuts down gracefully: it stops accepting, lets in-flight requests finish
//! (up to the grace period), then closes the brain, so every write that was acknowledged
//! is in the store.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::api::Api;
use crate::auth::{Principal, Tokens};
use crate::config::ServeConfig;
use crate::error::{ApiError, ErrorBody};
use crate::mcp::BrainMcp;
use crate::wire::*;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(kind = self.kind, message = %self.message, "request failed");
        }
        let mut res = (status, Json(ErrorBody::from(&self))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        res
    }
}

/// A JSON body whose rejections are [`ApiError`]s: 400 with serde's message for
/// malformed or mistyped JSON, 413 for an oversized body, 415 without a JSON content type.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rej) => Err(json_rejection(&rej)),
        }
    }
}

fn json_rejection(rej: &JsonRejection) -> ApiError {
    match rej.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(
            "the request body is larger than this server accepts (serve.max_body_bytes)",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::unsupported_media_type(
            "send the body as JSON with `Content-Type: application/json`",
        ),
        _ => ApiError::invalid(rej.body_text()),
    }
}

/// Query parameters whose rejection is a 400 [`ApiError`].
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::invalid(e.body_text()))
    }
}

/// A path parameter whose rejection is a 400 [`ApiError`].
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e| ApiError::invalid(e.body_text()))
    }
}

/// The host names a request may name in `Host` and `Origin`: loopback, the bound address
/// and `serve.allowed_hosts`. MCP's own check (rmcp) gets exactly this list too.
pub fn allowed_hosts(config: &ServeConfig, addr: Option<SocketAddr>) -> Vec<String> {
    let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    hosts.extend(config.allowed_hosts.iter().cloned());
    if let Some(addr) = addr {
        hosts.push(addr.ip().to_string());
        hosts.push(addr.to_string());
    }
    hosts
}

/// A host and an optional port, lowercased, IPv6 without brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Authority {
    host: String,
    port: Option<u16>,
}

/// Parses `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address; `None` for
/// anything else (a bad port, an empty host, userinfo).
fn parse_authority(s: &str) -> Option<Authority> {
    let s = s.trim();
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?.parse().ok()?),
        };
        (host, port)
    } else if s.matches(':').count() == 1 {
        let (host, port) = s.split_once(':')?;
        (host, Some(port.parse().ok()?))
    } else {
        (s, None)
    };
    if host.is_empty() || host.contains(['@', '/', ' ']) {
        return None;
    }
    Some(Authority {
        host: host.to_ascii_lowercase(),
        port,
    })
}

/// The DNS-rebinding guard: a browser tricked into sending a request to this server
/// carries the attacker's name in `Host` (and a foreign `Origin`), so both must name
/// this server. An allowed entry without a port accepts any port (as rmcp's check does);
/// one with a port accepts only that port.
#[derive(Debug, Clone)]
pub struct HostGuard {
    allowed: Vec<Authority>,
}

impl HostGuard {
    /// A guard accepting `hosts` (see [`allowed_hosts`]).
    pub fn new(hosts: &[String]) -> Self {
        HostGuard {
            allowed: hosts.iter().filter_map(|h| parse_authority(h)).collect(),
        }
    }

    fn allows(&self, a: &Authority) -> bool {
        self.allowed
            .iter()
            .any(|ok| ok.host == a.host && ok.port.is_none_or(|p| a.port == Some(p)))
    }

    /// Why a request with these headers is refused, if it is.
    pub fn check(&self, headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
        let host = headers
            .get(header::HOST)
            .ok_or_else(|| ApiError::forbidden("a Host header is required"))?;
        let host_ok = host
            .to_str()
            .ok()
            .and_then(parse_authority)
            .is_some_and(|a| self.allows(&a));
        if !host_ok {
            return Err(ApiError::forbidden(
                "the Host header names a host this server does not answer to (add it to serve.allowed_hosts)",
            ));
        }
        let Some(origin) = headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let allowed = origin
            .to_str()
            .ok()
            .and_then(|o| {
                let (scheme, rest) = o.trim().split_once("://")?;
                (scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https"))
                    .then_some(())?;
                parse_authority(rest)
            })
            .is_some_and(|a| self.allows(&a));
        if allowed {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "the Origin header names a site this server does not answer to (add its host to serve.allowed_hosts)",
            ))
        }
    }
}

async fn guard_host(State(guard): State<Arc<HostGuard>>, req: Request, next: Next) -> Response {
    match guard.check(req.headers()) {
        Ok(()) => next.run(req).await,
        Err(e) => {
            tracing::warn!(message = %e.message, "refused a request (possible DNS rebinding)");
            e.into_response()
        }
    }
}

/// Gives every error the JSON body, including those produced below the handlers: axum's
/// 405, rmcp's 405/406/415 and the timeout layer's 503 come with plain text or nothing.
async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let text = axum::body::to_bytes(body, 4096)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty());
    let allow = parts
        .headers
        .get(header::ALLOW)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let e = match status {
        StatusCode::METHOD_NOT_ALLOWED => ApiError::method_not_allowed(match allow {
            Some(a) if !a.is_empty() => format!("this path accepts only {a}"),
            _ => "this path does not accept that method".to_owned(),
        }),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::unsupported_media_type(text.unwrap_or_else(
            || "send the body as JSON with `Content-Type: application/json`".to_owned(),
        )),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::too_large(
            "the request body is larger than this server accepts (serve.max_body_bytes)",
        ),
        StatusCode::SERVICE_UNAVAILABLE => ApiError::unavailable(text.unwrap_or_else(|| {
            "the request did not finish in time (serve.request_timeout_secs) or a backend is unavailable".to_owned()
        })),
        s => {
            let message = text.unwrap_or_else(|| s.canonical_reason().unwrap_or("error").to_owned());
            match s {
                StatusCode::UNAUTHORIZED => ApiError::unauthorized(message),
                StatusCode::FORBIDDEN => ApiError::forbidden(message),
                StatusCode::NOT_FOUND => ApiError::not_found(message),
                StatusCode::NOT_ACCEPTABLE => ApiError::not_acceptable(message),
                s if s.is_client_error() => ApiError::invalid(message),
                _ => ApiError::internal(message),
            }
        }
    };
    let mut fixed = e.into_response();
    // Keep what the original said besides its body (Allow, WWW-Authenticate, ...).
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::TRANSFER_ENCODING);
    for (name, value) in parts.headers.iter() {
        fixed.headers_mut().insert(name.clone(), value.clone());
    }
    *fixed.status_mut() = status;
    fixed
}

/// Who may call: the configured tokens, or without them everyone as `local`.
struct Gate {
    tokens: Tokens,
    local: Principal,
}

impl Gate {
    fn principal(&self, headers: &axum::http::HeaderMap) -> Result<Principal, ApiError> {
        if self.tokens.is_empty() {
            return Ok(self.local.clone());
        }
        let value = headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized("this server needs `Authorization: Bearer <token>`")
        })?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                let (scheme, rest) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
            })?;
        self.tokens
            .verify(token)
            .ok_or_else(|| ApiError::unauthorized("the bearer token is not one this server knows"))
    }
}

async fn authenticate(State(gate): State<Arc<Gate>>, mut req: Request, next: Next) -> Response {
    match gate.principal(req.headers()) {
        Ok(p) => {
            tracing::debug!(principal = %p.name, "authenticated");
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

type Reply<T> = Result<Json<T>, ApiError>;
type Created<T> = Result<(StatusCode, Json<T>), ApiError>;

async fn health() -> Json<HealthOut> {
    Json(HealthOut {
        status: "ok".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}

async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such route; the API is described at /openapi.json")
}

async fn remember(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    ApiJson(a): ApiJson<RememberArgs>,
) -> Created<MemoryOut> {
    Ok((StatusCode::CREATED, Json(api.remember(&p, a).await?)))
}

async fn recall(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    ApiJson(a): ApiJson<RecallArgs>,
) -> Reply<RecallOut> {
    Ok(Json(api.recall(&p, a).await?))
}

async fn get_memory(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
) -> Reply<MemoryOut> {
    Ok(Json(api.get_memory(&p, &id).await?))
}

async fn forget(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<String>,
) -> Reply<ForgetOut> {
    Ok(Json(api.forget(&p, ForgetArgs { id }).await?))
}

async fn set_preference(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    ApiJson(a): ApiJson<SetPreferenceArgs>,
) -> Reply<PreferenceOut> {
    Ok(Json(api.set_preference(&p, a).await?))
}

async fn preferences(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<PreferencesQuery>,
) -> Reply<PreferencesOut> {
    let a = GetPreferencesArgs {
        key: q.key,
        category: q.category,
        scope: query_scope(q.user, q.agent, q.session),
    };
    Ok(Json(api.preferences(&p, a).await?))
}

async fn add_pattern(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    ApiJson(a): ApiJson<AddPatternArgs>,
) -> Reply<PatternWriteOut> {
    Ok(Json(api.add_pattern(&p, a).await?))
}

async fn search_patterns(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    ApiJson(a): ApiJson<SearchPatternsArgs>,
) -> Reply<PatternsOut> {
    Ok(Json(api.search_patterns(&p, a).await?))
}

async fn pattern_outcome(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<PatternOutcomeBody>,
) -> Reply<PatternOut> {
    let a = PatternOutcomeArgs {
        id,
        success: b.success,
    };
    Ok(Json(api.pattern_outcome(&p, a).await?))
}

async fn record_decision(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    ApiJson(a): ApiJson<RecordDecisionArgs>,
) -> Created<DecisionOut> {
    Ok((StatusCode::CREATED, Json(api.record_decision(&p, a).await?)))
}

async fn decisions(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<DecisionsQuery>,
) -> Reply<DecisionsOut> {
    let a = ListDecisionsArgs {
        agent_type: q.agent_type,
        pending: q.pending,
        limit: q.limit,
        scope: query_scope(q.user, q.agent, q.session),
    };
    Ok(Json(api.decisions(&p, a).await?))
}

async fn decision_outcome(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(b): ApiJson<DecisionOutcomeBody>,
) -> Reply<OutcomeOut> {
    let a = DecisionOutcomeArgs {
        id,
        outcome: b.outcome,
        reward: b.reward,
    };
    Ok(Json(api.decision_outcome(&p, a).await?))
}

async fn feedback(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    ApiJson(a): ApiJson<FeedbackArgs>,
) -> Reply<FeedbackOut> {
    Ok(Json(api.feedback(&p, a).await?))
}

async fn recommend(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    ApiJson(a): ApiJson<RecommendArgs>,
) -> Reply<RecommendOut> {
    Ok(Json(api.recommend(&p, a).await?))
}

async fn add_message(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    ApiJson(a): ApiJson<AddMessageArgs>,
) -> Reply<ContextOut> {
    Ok(Json(api.add_message(&p, a).await?))
}

async fn context(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    ApiQuery(q): ApiQuery<ContextQuery>,
) -> Reply<ContextOut> {
    let a = GetContextArgs {
        scope: query_scope(q.user, q.agent, q.session),
    };
    Ok(Json(api.context(&p, a).await?))
}

async fn reason(
    State(api): State<Api>,
    Extension(p): Extension<Principal>,
    ApiJson(a): ApiJson<ReasonArgs>,
) -> Reply<ReasonOut> {
    Ok(Json(api.reason(&p, a).await?))
}

/// Everything [`router`] needs.
#[derive(Debug)]
pub struct HttpOptions {
    /// Limits and timeouts.
    pub config: ServeConfig,
    /// The tokens; empty means no authentication (loopback only, see
    /// [`crate::check_bind`]).
    pub tokens: Tokens,
    /// The principal of unauthenticated requests when there are no tokens.
    pub local: Principal,
    /// The address served, whose host every route accepts in `Host` and `Origin`.
    pub addr: Option<SocketAddr>,
}

/// The application: REST routes under `/v1`, MCP at `/mcp`, `/health` and
/// `/openapi.json`. Cancelling `shutdown` ends MCP streams so shutdown is not held up.
pub fn router(api: Api, opts: HttpOptions, shutdown: CancellationToken) -> Router {
    let HttpOptions {
        config,
        tokens,
        local,
        addr,
    } = opts;
    let hosts = allowed_hosts(&config, addr);
    let host_guard = Arc::new(HostGuard::new(&hosts));
    let mcp_api = api.clone();
    let mcp = StreamableHttpService::new(
        move || Ok(BrainMcp::new(mcp_api.clone(), None)),
        Arc::new(NeverSessionManager::default()),
        StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_sse_keep_alive(None)
            .with_allowed_hosts(hosts)
            .with_max_request_body_bytes(config.max_body_bytes)
            .with_cancellation_token(shutdown.child_token()),
    );
    let gate = Arc::new(Gate { tokens, local });
    let protected = Router::new()
        .route("/v1/memories", post(remember))
        .route("/v1/memories/recall", post(recall))
        .route("/v1/memories/{id}", get(get_memory).delete(forget))
        .route("/v1/preferences", put(set_preference).get(preferences))
        .route("/v1/patterns", post(add_pattern))
        .route("/v1/patterns/search", post(search_patterns))
        .route("/v1/patterns/{id}/outcome", post(pattern_outcome))
        .route("/v1/decisions", post(record_decision).get(decisions))
        .route("/v1/decisions/{id}/outcome", post(decision_outcome))
        .route("/v1/feedback", post(feedback))
        .route("/v1/recommend", post(recommend))
        .route("/v1/reason", post(reason))
        .route("/v1/context", get(context))
        .route("/v1/context/messages", post(add_message))
        .nest_service("/mcp", mcp)
        .route_layer(middleware::from_fn_with_state(gate, authenticate));
    Router::new()
        .route("/health", get(health))
        .route("/openapi.json", get(openapi))
        .merge(protected)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            config.request_timeout(),
        ))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn_with_state(host_guard, guard_host))
        .layer(TraceLayer::new_for_http())
        .with_state(api)
}

/// Serves `api` on `listener` until `shutdown` completes, then drains in-flight requests
/// (up to `serve.shutdown_grace_secs`) and closes the brain. A failed close (the index
/// snapshot) is logged, not returned: every acknowledged write is already committed.
pub async fn serve(
    api: Api,
    listener: tokio::net::TcpListener,
    mut opts: HttpOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ApiError> {
    let addr = listener
        .local_addr()
        .map_err(|e| ApiError::unavailable(format!("listener: {e}")))?;
    crate::config::check_bind(addr, &opts.tokens)?;
    opts.addr = Some(addr);
    let grace = opts.config.shutdown_grace();
    let ct = CancellationToken::new();
    let app = router(api.clone(), opts, ct.clone());
    let (began_tx, began_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = {
        let ct = ct.clone();
        async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections; finishing in-flight requests");
            ct.cancel();
            let _ = began_tx.send(());
        }
    };
    tracing::info!(%addr, "serving HTTP (REST under /v1, MCP at /mcp)");
    let server = axum::serve(listener, app).with_graceful_shutdown(signal);
    let server = std::future::IntoFuture::into_future(server);
    tokio::pin!(server);
    let served = tokio::select! {
        r = &mut server => Some(r),
        _ = began_rx => None,
    };
    let result = match served {
        Some(r) => r,
        None => match tokio::time::timeout(grace, &mut server).await {
            Ok(r) => r,
            Err(_) => {
                tracing::warn!(
                    grace_secs = grace.as_secs(),
                    "requests still running after the grace period were cut off; they were not acknowledged"
                );
                Ok(())
            }
        },
    };
    // Every acknowledged write is committed in the store by now; the snapshot only saves
    // the next start a catch-up, so failing to write it is not a failed shutdown.
    if let Err(e) = api.brain().close().await {
        tracing::warn!(error = %e, "could not write the index snapshot; the next start catches the index up from the store");
    }
    result.map_err(|e| ApiError::unavailable(format!("server: {e}")))?;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on Ctrl-C or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

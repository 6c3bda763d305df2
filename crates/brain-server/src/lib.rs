//! # brain-server
//!
//! Serves a [`brain::Brain`] to agents: as an **MCP server** (the protocol coding agents
//! speak) over stdio or streamable HTTP, and as a **REST API** (JSON in and out, described
//! by an OpenAPI 3.1 document at `/openapi.json`).
//!
//! - [`Api`]: the operations — remember, recall, forget, preferences, code patterns,
//!   decisions and outcomes, feedback, recommend, reason — each run as a [`Principal`].
//!   Isolation is enforced here, once for both surfaces.
//! - [`mcp::BrainMcp`]: the operations as MCP tools with JSON schemas and descriptions
//!   written for an agent; [`mcp::serve_stdio`].
//! - [`http::router`] and [`http::serve`]: REST routes under `/v1`, MCP at `/mcp`, body
//!   limits, a request timeout, JSON errors, graceful shutdown that loses no
//!   acknowledged write.
//! - [`auth`]: bearer tokens (kept as SHA-256 digests) bound to a scope and an access
//!   level. Without tokens the server only binds to loopback ([`check_bind`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use brain::Brain;
//! use brain_server::{Api, Principal, wire::{RecallArgs, RememberArgs}};
//! use memory_core::Scope;
//!
//! let brain = Brain::builder()
//!     .store(brain_engines::sqlite_in_memory()?)
//!     .embedder(Arc::new(embed::HashingEmbedder::new(256)?))
//!     .index(brain_engines::exact_index(256)?)
//!     .build()
//!     .await?;
//! let api = Api::new(Arc::new(brain));
//! // What a token bound to user `alice` may do.
//! let alice = Principal::local(Scope::user("alice"));
//! api.remember(&alice, RememberArgs {
//!     content: "Alice deploys on Fridays".into(),
//!     kind: None, importance: None, metadata: None, ttl_seconds: None, scope: None,
//! }).await?;
//! let found = api.recall(&alice, RecallArgs {
//!     query: "when does alice deploy?".into(),
//!     k: Some(3), mode: None, kinds: None, scope: None, filters: None, min_score: None,
//! }).await?;
//! assert_eq!(found.hits[0].memory.content, "Alice deploys on Fridays");
//! assert_eq!(found.hits[0].memory.scope.user.as_deref(), Some("alice"));
//!
//! // Reaching for another user's memories is refused.
//! let denied = api.recall(&alice, RecallArgs {
//!     query: "anything".into(), k: None, mode: None, kinds: None, filters: None,
//!     min_score: None, scope: Some(brain_server::wire::ScopeArg { user: Some("bob".into()), ..Default::default() }),
//! }).await;
//! assert_eq!(denied.map_err(|e| e.status).err(), Some(403));
//! # Ok(()) }
//! ```

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod http;
pub mod mcp;
pub mod openapi;
pub mod wire;

pub use api::Api;
pub use auth::{Access, Principal, TokenConfig, Tokens};
pub use config::{ServeConfig, check_bind};
pub use error::ApiError;

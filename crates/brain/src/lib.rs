//! # brain
//!
//! Persistent memory for AI agents, composed from ports: a long-term store (the source of
//! truth, embeddings included), a vector index derived from it, an embedder, and
//! short-term memory. The embedded default is one directory — an SQLite file, an HNSW
//! snapshot and a local BERT model — with no servers and no API keys.
//!
//! - **remember / recall**: a memory, its embedding and its index entry are written as
//!   one logical operation (memory and embedding in one store transaction, then the index
//!   catches up from the store's log), so the store and the index never disagree.
//!   Recall fuses keyword (BM25) and vector candidates by reciprocal rank, re-ranks them
//!   by importance, recency and learned outcome, and every hit carries its
//!   [`ScoreParts`](memory_core::ScoreParts). Scope and filters apply inside both
//!   searches.
//! - **forget and prune**: by id, by filter, by expiry, and by importance and age with a
//!   dry run.
//! - **code patterns**: the seed's `store_code_pattern` and `find_similar_patterns`, the
//!   latter ranked by meaning and by how often each pattern worked.
//! - **the seed's records**: preferences, projects, learning events, conversations,
//!   decisions and their outcomes.
//! - **short-term memory**: working variables with TTL and a context window bounded by
//!   message count and token budget.
//! - **language models** (optional, `[llm]`): [`Brain::complete`] routes through the
//!   `llm-router` table, ordering the models a rule allows by what they earned;
//!   [`Brain::reason`] thinks, reflects and decides with the seed's prompts and records
//!   the decision. Without a provider these fail with a clear "not configured" error.
//! - **learning** ([`learn`]): [`Brain::update_decision_outcome`] and
//!   [`Brain::learn_from_feedback`] turn outcomes into rewards that teach option bandits,
//!   pattern counts and the routing bandit; [`Brain::recommend`] ranks options and says
//!   why. Feedback works offline with a documented estimate.
//!
//! This crate is the facade only: it depends on ports, never on an engine. Configuration
//! ([`BrainConfig`]) comes from defaults, a TOML file and `BRAIN_*` environment variables;
//! the composition root `brain-engines` (`brain_engines::open`) builds the embedded default
//! or the configured servers from it, and [`BrainBuilder`] takes any implementation of
//! each port instead.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use brain::{Brain, RecallQuery};
//! use memory_core::{NewMemory, Scope};
//!
//! // An in-memory brain from ports: SQLite in memory, an exact index, the hashing
//! // embedder (no model needed).
//! let brain = Brain::builder()
//!     .store(Arc::new(store_sqlite::SqliteStore::open_in_memory()?))
//!     .index(Arc::new(store_vector::CaughtUpFlat::new(256)?))
//!     .embedder(Arc::new(embed::HashingEmbedder::new(256)?))
//!     .build()
//!     .await?;
//! let alice = Scope::user("alice");
//! brain.remember(NewMemory::new("Alice prefers tabs over spaces").with_scope(alice.clone())).await?;
//! brain.remember(NewMemory::new("The CI runs on Debian").with_scope(alice.clone())).await?;
//! brain.remember(NewMemory::new("Bob prefers spaces").with_scope(Scope::user("bob"))).await?;
//!
//! let hits = brain.recall(&RecallQuery::new("tabs or spaces?", alice).with_k(5)).await?;
//! assert_eq!(hits[0].memory.content, "Alice prefers tabs over spaces");
//! assert!(hits.iter().all(|h| h.memory.scope.user.as_deref() == Some("alice")));
//! # Ok(()) }
//! ```

mod brain;
pub mod config;
mod config_keys;
mod distilling;
mod error;
mod ingest;
pub mod learn;
mod patterns;
mod ports;
pub mod reason;
pub mod recall;
mod records;
mod short_term;
pub mod transfer;

/// The crates whose types this API speaks, re-exported so a surface (a CLI, a server, a
/// binding) needs no direct dependency on them.
pub use {distill, llm_router, memory_core, reasoning, rl};

pub use brain::{
    Brain, BrainBuilder, BrainStats, LEARNED_KIND, MAX_CONTEXT_BYTES, MAX_NEIGHBOUR_BYTES,
    PATTERN_KIND, PatternMatch, PruneRule, RESERVED_KINDS, RecallHit, RecallMode, RecallQuery,
    pin_embedder,
};
pub use config::BrainConfig;
pub use error::{BrainError, Result};
pub use ingest::{FileOutcome, IngestReport, Skipped};
pub use learn::{
    CandidateWhy, Completed, LearningConfig, MAX_POLICY_ARMS, OutcomeLearned, RankedOption,
    Recommendation,
};
pub use ports::{DocChunk, Splitter, Store};
pub use reason::{
    FeedbackLearned, FeedbackRequest, FeedbackSource, ReasonCall, ReasonOutcome, ReasonRequest,
};
pub use recall::{RecallPipeline, RecallSources, RecallStage, RecallState};
pub use short_term::InProcessShortTerm;
pub use transfer::{
    EXPORT_VERSION, ExportLine, ExportLineError, NoProgress, Progress, TransferCounts,
    parse_export_line,
};

//! # memory-core
//!
//! The vocabulary of the brain: domain types, the port traits that storage engines,
//! vector indexes, embedders and language models implement, and the conformance suites
//! that prove an implementation keeps the contract.
//!
//! This crate does no IO and names no engine. Backends live in their own crates
//! (`store-sqlite` for long-term memory, for example) and the `brain` crate composes them
//! through `Arc<dyn Port>`, so any layer can be swapped.
//!
//! - [`Memory`] is a generic record: content, a [`MemoryKind`], an owning [`Scope`],
//!   [`Metadata`], an [`Importance`] and an optional expiry.
//! - The seed's records: [`Preference`], [`Project`], [`CodePattern`],
//!   [`LearningEvent`], [`ConversationSummary`], [`AgentDecision`].
//! - [`Reward`] only holds finite values in `[-1, 1]`; NaN cannot reach storage.
//! - Ports: [`LongTermStore`] (the roles [`MemoryStore`], [`RecordStore`] — one generic
//!   store over the six record kinds, typed through [`RecordStoreExt`] — and
//!   [`PolicyStore`], plus an atomic batch across them), [`EmbeddingStore`],
//!   [`VectorIndex`] and [`DerivedIndex`], [`Embedder`], [`ShortTermMemory`], [`TextModel`].
//! - Hybrid recall: [`fuse`] merges keyword and vector hits by reciprocal rank fusion and
//!   re-ranks by importance, recency and learned outcome, with the [`ScoreParts`] of each.
//! - Errors: one [`Error`] enum whose [`ErrorKind`] callers branch on, and a typed
//!   [`ValidationError`] for rejected input.
//!
//! ```
//! use memory_core::{MemoryFilter, MemoryKind, Metadata, MetadataCondition, NewMemory,
//!                   Reward, Scope, Timestamp};
//!
//! let alice = Scope::user("alice").with_agent("coder");
//! let m = NewMemory::new("prefers tabs over spaces")
//!     .with_scope(alice.clone())
//!     .with_metadata(Metadata::new().with("lang", "rust"))
//!     .into_memory(Timestamp::now());
//!
//! // Filters say exactly which memories an operation may see.
//! let mine = MemoryFilter::scoped(Scope::user("alice"))
//!     .with_metadata(MetadataCondition::eq("lang", "rust"));
//! assert!(mine.matches(&m, Timestamp::now()));
//! assert!(!MemoryFilter::scoped(Scope::user("bob")).matches(&m, Timestamp::now()));
//!
//! // Bad input is a typed error, not a panic.
//! assert!(Reward::new(f64::NAN).is_err());
//! assert!(MemoryKind::new("no spaces allowed").is_err());
//! ```

mod error;
mod fusion;
mod memory;
mod ports;
mod record_store;
mod records;
mod scope;
mod time;
pub mod validate;

#[cfg(feature = "test-utils")]
pub mod conformance;
#[cfg(feature = "test-utils")]
pub mod testing;

pub use error::{BoxError, Error, ErrorKind, Result, ValidationError};
pub use fusion::{
    FusedHit, ListKind, RankedList, RecallWeights, ScoreParts, Signals, fuse, fuse_lists,
    outcome_from_counts, recency,
};
pub use memory::{
    Importance, KeywordHit, KeywordQuery, ListOrder, Memory, MemoryFilter, MemoryId, MemoryKind,
    MemoryPatch, MemoryQuery, NewMemory, QUESTION_WORDS, STOP_WORDS, is_stop_word, keyword_terms,
    query_terms,
};
pub use ports::{
    ChatMessage, Completion, CompletionRequest, ContextMessage, DerivedIndex, Embedder,
    EmbedderInfo, EmbeddingChange, EmbeddingStore, FinishReason, LongTermStore, MemoryStore,
    PolicyStore, Role, ShortTermMemory, StoreStats, TextModel, Usage, VectorEntry, VectorHit,
    VectorIndex, VectorQuery, WindowLimit, WriteOp, WriteOutcome, estimate_tokens,
};
pub use record_store::{
    NewRecord, RecordChange, RecordKey, RecordKind, RecordQuery, RecordStore, RecordStoreExt,
    RecordType, RecordWrite, order_by_ids,
};
pub use records::{
    AgentDecision, CodePattern, ConversationSummary, DEFAULT_CATEGORY, DEFAULT_PROJECT_STATUS,
    DecisionQuery, EventQuery, LearningEvent, MAX_POLICY_BYTES, NewConversation, NewDecision,
    NewLearningEvent, NewPattern, NewPreference, NewProject, PatternHit, PatternOutcome,
    PatternPatch, PatternQuery, PatternWrite, PolicyState, Preference, Project, Record, RecordId,
    Reward, validate_policy,
};
pub use scope::{Metadata, MetadataCondition, Scope};
pub use time::{ParseTimestampError, Timestamp, duration_ms};

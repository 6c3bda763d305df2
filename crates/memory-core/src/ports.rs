//! The port traits: what the brain needs from storage, indexes, embedders and models.
//!
//! Every trait is object-safe and `Send + Sync`, so the composition root can hold
//! `Arc<dyn Trait>` and swap implementations by configuration.

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Result;
use crate::memory::{
    KeywordHit, KeywordQuery, Memory, MemoryFilter, MemoryId, MemoryKind, MemoryPatch, MemoryQuery,
    NewMemory,
};
use crate::record_store::{NewRecord, RecordChange, RecordStore, RecordWrite};
use crate::records::*;
use crate::scope::{Metadata, Scope};
use crate::time::Timestamp;

/// One write in a [`LongTermStore::write_batch`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// Exhaustive on purpose: a new op must be handled by every backend, so adding one is a
/// compile error there rather than a runtime surprise.
#[serde(tag = "op", rename_all = "snake_case")]
pub enum WriteOp {
    /// [`LongTermStore::put_memory`].
    PutMemory(NewMemory),
    /// [`LongTermStore::delete_memory`].
    DeleteMemory {
        /// The memory to delete.
        id: MemoryId,
    },
    /// [`RecordStore::put_record`]: one of the seed's records.
    PutRecord(NewRecord),
    /// [`EmbeddingStore::put_embeddings`] for one memory, so that a memory and its
    /// embedding are stored in one transaction.
    PutEmbedding {
        /// The memory embedded (written earlier in the batch, or stored before).
        id: MemoryId,
        /// Its embedding, of the pinned embedder's dimension.
        vector: Vec<f32>,
    },
    /// Restores an exported record exactly (id, times, counts, outcome). A record with
    /// the same id, or the same unique key (a preference's scope and key, a pattern's
    /// scope, type and context), is a [`crate::Error::Conflict`].
    Restore(Record),
    /// [`LongTermStore::update_memory`], with the same effects (a content change drops the
    /// memory's stored embedding and logs it; a filter-field change logs it). A missing
    /// memory is [`crate::Error::NotFound`] and fails the batch.
    UpdateMemory {
        /// The memory to change (written earlier in the batch, or stored before).
        id: MemoryId,
        /// What to change.
        patch: MemoryPatch,
    },
    /// [`RecordStore::change_record`]; a missing record is [`crate::Error::NotFound`]
    /// and fails the batch.
    ChangeRecord {
        /// The record (of the change's kind).
        id: RecordId,
        /// What to change.
        change: RecordChange,
    },
    /// [`LongTermStore::put_policy`]: a stored version other than `expected` is a
    /// [`crate::Error::Conflict`] and fails the batch, so a learner's update and the
    /// records it learned from commit together or not at all.
    PutPolicy {
        /// The policy's name.
        name: String,
        /// Its kind (e.g. `q_table`).
        kind: String,
        /// Its whole state.
        state: Value,
        /// The version the caller read (`None`: none may exist yet).
        expected: Option<u64>,
    },
    /// A guard that writes nothing: when the store has a pinned embedder and it is not
    /// this one, the batch fails with [`crate::Error::Conflict`]. Put it first in a batch
    /// holding embeddings, so a process whose embedder was replaced meanwhile (by a
    /// reindex in another process) cannot store vectors of the old model. No pin passes.
    ExpectEmbedder(EmbedderInfo),
}

impl WriteOp {
    /// [`WriteOp::PutRecord`] of any new record.
    pub fn put(record: impl Into<NewRecord>) -> Self {
        WriteOp::PutRecord(record.into())
    }

    /// Checks the operation's input, as the single-write method would.
    pub fn validate(&self) -> std::result::Result<(), crate::ValidationError> {
        match self {
            WriteOp::PutMemory(m) => m.validate(),
            WriteOp::DeleteMemory { .. } => Ok(()),
            WriteOp::PutRecord(r) => r.validate(),
            WriteOp::Restore(r) => r.validate(),
            WriteOp::PutEmbedding { vector, .. } => {
                if vector.is_empty() {
                    return Err(crate::ValidationError::Empty { field: "vector" });
                }
                crate::validate::vector(vector, vector.len())
            }
            WriteOp::UpdateMemory { patch, .. } => patch.validate(),
            WriteOp::ChangeRecord { change, .. } => change.validate(),
            WriteOp::PutPolicy {
                name, kind, state, ..
            } => crate::validate_policy(name, kind, state),
            WriteOp::ExpectEmbedder(info) => info.validate(),
        }
    }
}

/// What one [`WriteOp`] did, in the same position as the op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum WriteOutcome {
    /// The memory as stored.
    Memory(Memory),
    /// Whether a memory was deleted.
    Deleted {
        /// `false` when there was no such memory.
        existed: bool,
    },
    /// The record as stored by [`WriteOp::PutRecord`].
    Record(RecordWrite),
    /// The embedding was stored at this sequence number.
    Embedding {
        /// Its position in the embedding log.
        seq: u64,
    },
    /// The record was restored.
    Restored(Record),
    /// The record after [`WriteOp::ChangeRecord`].
    Changed(Record),
    /// The policy was saved at this version.
    Policy {
        /// Its new version.
        version: u64,
    },
    /// A guard ([`WriteOp::ExpectEmbedder`]) passed.
    Checked,
}

/// Counts of what a store holds, for `stats` and health checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreStats {
    /// Generic memories, expired ones included.
    pub memories: u64,
    /// Preferences.
    pub preferences: u64,
    /// Projects.
    pub projects: u64,
    /// Code patterns.
    pub patterns: u64,
    /// Learning events.
    pub learning_events: u64,
    /// Conversation summaries.
    pub conversations: u64,
    /// Agent decisions.
    pub decisions: u64,
    /// Live stored embeddings.
    pub embeddings: u64,
}

/// Long-term memory: the durable source of truth.
///
/// Holds everything the seed's `Brain` kept in SQLite (its six tables and their
/// operations) plus generic [`Memory`] records with scopes, metadata, keyword search and
/// batch writes. It is three roles, each a trait of its own that a caller can ask for
/// alone — [`MemoryStore`] (memories and keyword search), [`RecordStore`] (the seed's
/// records) and [`PolicyStore`] (learned policies) — plus the atomic batch across all of
/// them and the counts.
///
/// # Contract
///
/// Every implementation passes the conformance suite in `memory_core::conformance`
/// (feature `test-utils`). In short:
/// - input is validated before anything is written; a rejected write changes nothing and
///   returns [`crate::Error::InvalidInput`];
/// - a write whose call has returned is durable and visible to every later read, from any
///   handle or process on the same store;
/// - [`LongTermStore::write_batch`] is atomic: all of it is applied, or none;
/// - filters follow [`MemoryFilter::matches`] and [`Scope::matches`] exactly;
/// - text, metadata and JSON values round-trip unchanged.
#[async_trait]
pub trait LongTermStore: MemoryStore + RecordStore + PolicyStore {
    // ---- everything ----

    /// Applies `ops` atomically, in order, in one transaction; returns one outcome per op.
    /// Every op is validated before any is applied.
    async fn write_batch(&self, ops: Vec<WriteOp>) -> Result<Vec<WriteOutcome>>;

    /// Counts of each record type.
    async fn stats(&self) -> Result<StoreStats>;
}

/// Memories and their keyword index: one role of a [`LongTermStore`].
#[async_trait]
pub trait MemoryStore: Send + Sync {
    // ---- generic memories ----

    /// Stores a new memory. A caller-chosen id that exists already is a
    /// [`crate::Error::Conflict`].
    async fn put_memory(&self, memory: NewMemory) -> Result<Memory>;

    /// The memory with this id, expired or not.
    async fn get_memory(&self, id: MemoryId) -> Result<Option<Memory>>;

    /// The stored memories among `ids`, in the order of `ids`, missing ones left out.
    /// Backends should override this one-by-one default with a single query.
    async fn get_memories(&self, ids: &[MemoryId]) -> Result<Vec<Memory>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(m) = self.get_memory(*id).await? {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// Applies `patch` to a memory; [`crate::Error::NotFound`] when there is none.
    async fn update_memory(&self, id: MemoryId, patch: MemoryPatch) -> Result<Memory>;

    /// Deletes a memory; `false` when there was none.
    async fn delete_memory(&self, id: MemoryId) -> Result<bool>;

    /// Deletes every memory that passes `filter` (expired ones too when the filter
    /// includes them); returns the ids deleted.
    async fn delete_memories(&self, filter: &MemoryFilter) -> Result<Vec<MemoryId>>;

    /// A page of memories passing the query's filter.
    async fn list_memories(&self, query: &MemoryQuery) -> Result<Vec<Memory>>;

    /// How many memories pass `filter`.
    async fn count_memories(&self, filter: &MemoryFilter) -> Result<u64>;

    /// Memories whose content matches the words of the query, best first.
    async fn search_memories(&self, query: &KeywordQuery) -> Result<Vec<KeywordHit>>;

    /// Document frequencies for keyword feedback: how many memories hold each term in
    /// their content (matched as keyword search matches, e.g. stemmed), and how many
    /// memories there are in all. Counts are over the whole store, not a scope.
    async fn keyword_document_counts(&self, terms: &[String]) -> Result<(u64, Vec<u64>)>;

    /// Deletes memories that expired at or before `now`; returns their ids.
    async fn purge_expired(&self, now: Timestamp) -> Result<Vec<MemoryId>>;
}

/// Learned policies (bandit state), saved with optimistic versions: one role of a
/// [`LongTermStore`].
#[async_trait]
pub trait PolicyStore: Send + Sync {
    // ---- learned policies ----

    /// The policy saved under `name`.
    async fn get_policy(&self, name: &str) -> Result<Option<crate::PolicyState>>;

    /// Saves `state` under `name` if the stored version is `expected` (`None`: no policy
    /// of that name may exist yet) and returns the new version; otherwise a
    /// [`crate::Error::Conflict`], so two writers never silently overwrite each other.
    async fn put_policy(
        &self,
        name: &str,
        kind: &str,
        state: &Value,
        expected: Option<u64>,
    ) -> Result<u64>;

    /// The names of the saved policies, sorted.
    async fn list_policies(&self) -> Result<Vec<String>>;

    /// Deletes a policy; `false` when none.
    async fn delete_policy(&self, name: &str) -> Result<bool>;
}

/// One change in the embedding log, in sequence order.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingChange {
    /// Position in the log; strictly increasing.
    pub seq: u64,
    /// The memory concerned.
    pub id: MemoryId,
    /// The memory's current embedding with what filters need, or `None` when the memory
    /// (or its embedding) was deleted.
    pub entry: Option<VectorEntry>,
}

/// Stored embeddings: the source of truth a [`VectorIndex`] is built and caught up from.
///
/// Every change to a memory's embedding, or to what a vector filter reads of the memory
/// (scope, kind, metadata, expiry), or its deletion, takes a new sequence number, so an
/// index that has applied everything up to `seq` catches up by reading the changes after
/// it. Only the latest change of each memory is kept.
#[async_trait]
pub trait EmbeddingStore: Send + Sync {
    /// The embedder the stored vectors came from, if any was pinned.
    async fn embedder(&self) -> Result<Option<EmbedderInfo>>;

    /// Pins `info` as the embedder of this store. Pinning the same one again is a no-op;
    /// a different one while vectors are stored is a [`crate::Error::Conflict`] that
    /// names the way out (reindex).
    async fn pin_embedder(&self, info: &EmbedderInfo) -> Result<()>;

    /// Stores embeddings of existing memories (replacing earlier ones), in one
    /// transaction. Vectors must match the pinned embedder's dimension and be finite and
    /// non-zero; a missing memory is [`crate::Error::NotFound`]. Returns the last
    /// sequence number written.
    async fn put_embeddings(&self, items: Vec<(MemoryId, Vec<f32>)>) -> Result<u64>;

    /// The stored embedding of a memory.
    async fn get_embedding(&self, id: MemoryId) -> Result<Option<Vec<f32>>>;

    /// Up to `limit` changes with sequence numbers greater than `after`, in order.
    async fn embedding_changes(&self, after: u64, limit: usize) -> Result<Vec<EmbeddingChange>>;

    /// The greatest sequence number written (0 when none).
    async fn last_embedding_seq(&self) -> Result<u64>;

    /// Drops every stored embedding and the pinned embedder (for a reindex with another
    /// model); each drop is logged as a deletion.
    async fn clear_embeddings(&self) -> Result<()>;
}

/// A vector to index, with what filters need to know of its memory.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorEntry {
    /// The memory it embeds.
    pub id: MemoryId,
    /// The embedding.
    pub vector: Vec<f32>,
    /// The memory's owner.
    pub scope: Scope,
    /// The memory's kind.
    pub kind: MemoryKind,
    /// The memory's metadata.
    pub metadata: Metadata,
    /// The memory's creation time.
    pub created_at: Timestamp,
    /// The memory's expiry.
    pub expires_at: Option<Timestamp>,
}

/// A nearest-neighbour query.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorQuery {
    /// The query embedding.
    pub vector: Vec<f32>,
    /// How many neighbours.
    pub k: usize,
    /// Which entries may be returned; applied inside the search.
    pub filter: MemoryFilter,
    /// The time against which expiry is judged.
    pub now: Timestamp,
}

/// A neighbour found by a [`VectorIndex`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VectorHit {
    /// The memory.
    pub id: MemoryId,
    /// Cosine similarity to the query, in `[-1, 1]`; higher is nearer.
    pub similarity: f32,
}

/// A nearest-neighbour index over memory embeddings (semantic memory).
///
/// The index is derived data: the [`LongTermStore`] is the source of truth it is built
/// and caught up from. Vectors are checked with [`crate::validate::vector`] before they
/// reach the engine.
#[async_trait]
pub trait VectorIndex: Send + Sync {
    /// The dimension every vector must have.
    fn dimension(&self) -> usize;

    /// Inserts or replaces entries by id.
    async fn upsert(&self, entries: Vec<VectorEntry>) -> Result<()>;

    /// Removes entries; returns how many existed.
    async fn delete(&self, ids: &[MemoryId]) -> Result<usize>;

    /// The `k` nearest entries that pass the filter, nearest first. Returns `k` hits
    /// whenever `k` entries pass the filter.
    async fn search(&self, query: &VectorQuery) -> Result<Vec<VectorHit>>;

    /// How many live entries the index holds.
    async fn len(&self) -> Result<usize>;

    /// Whether the index holds no live entries.
    async fn is_empty(&self) -> Result<bool> {
        Ok(self.len().await? == 0)
    }
}

/// A [`VectorIndex`] derived from an [`EmbeddingStore`]'s change log: it knows how far
/// it has caught up, applies what the store logged since, and persists itself so the next
/// open need not rebuild.
///
/// This is the lifecycle the composition root drives: write to the store (memory and
/// embedding in one transaction), then `catch_up`, so the store and the index never
/// disagree for longer than one call, and a crash between the two is repaired by the
/// next `catch_up`.
#[async_trait]
pub trait DerivedIndex: VectorIndex {
    /// Applies the store's changes after [`DerivedIndex::applied_seq`]; returns how many.
    async fn catch_up(&self, store: &dyn EmbeddingStore) -> Result<usize>;

    /// The last store sequence number the index reflects.
    fn applied_seq(&self) -> u64;

    /// Persists the index (a snapshot), or does nothing for an index kept in memory.
    async fn persist(&self) -> Result<()>;
}

/// Which model wrote a set of vectors. A brain pins it: vectors from two models are
/// never mixed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EmbedderInfo {
    /// The model's id, e.g. `sentence-transformers/all-MiniLM-L6-v2`.
    pub model_id: String,
    /// Its output dimension.
    pub dimension: usize,
}

impl EmbedderInfo {
    /// Checks the model id is a key and the dimension is not zero, as a pin requires.
    pub fn validate(&self) -> std::result::Result<(), crate::ValidationError> {
        crate::validate::key("embedder model_id", &self.model_id)?;
        if self.dimension == 0 {
            return Err(crate::ValidationError::Empty {
                field: "embedder dimension",
            });
        }
        Ok(())
    }

    /// What [`WriteOp::ExpectEmbedder`] reports when the store's `pinned` embedder is not
    /// `self`; `None` when it is, or when nothing is pinned. Shared so every backend
    /// names both models the same way.
    pub fn mismatch(&self, pinned: Option<&EmbedderInfo>) -> Option<String> {
        match pinned {
            Some(p) if p != self => Some(format!(
                "this brain's embedder is now {} ({} dimensions) but this process embeds with \
                 {} ({} dimensions); it was probably reindexed by another process: restart \
                 brain with the new embedder",
                p.model_id, p.dimension, self.model_id, self.dimension
            )),
            _ => None,
        }
    }
}

/// Turns text into vectors.
#[async_trait]
pub trait Embedder: Send + Sync {
    /// The model and dimension.
    fn info(&self) -> &EmbedderInfo;

    /// One unit-length vector of [`EmbedderInfo::dimension`] per text, in order.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>>;
}

/// Who said a message in a context window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions to the model.
    System,
    /// The person.
    User,
    /// The model or agent.
    Assistant,
    /// A tool's output.
    Tool,
}

/// A message in a context window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextMessage {
    /// Who said it.
    pub role: Role,
    /// What was said.
    pub content: String,
    /// When.
    pub at: Timestamp,
}

/// How much of a conversation a context window keeps: the newest messages within both
/// bounds. The seed keeps the last 50 messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowLimit {
    /// At most this many messages.
    pub max_messages: usize,
    /// At most this many tokens, estimated by [`estimate_tokens`]; unbounded if `None`.
    pub max_tokens: Option<usize>,
}

impl Default for WindowLimit {
    fn default() -> Self {
        WindowLimit {
            max_messages: 50,
            max_tokens: None,
        }
    }
}

/// A cheap, tokenizer-free token estimate: about four bytes of English per token,
/// never less than one per message.
pub fn estimate_tokens(text: &str) -> usize {
    text.len().div_ceil(4).max(1)
}

/// Short-term memory: working variables and the context window of a session.
///
/// Keyed by the owning [`Scope`] (usually a session); nothing is shared between scopes.
#[async_trait]
pub trait ShortTermMemory: Send + Sync {
    /// Sets a working variable, expiring after `ttl` if given.
    async fn set(
        &self,
        scope: &Scope,
        key: &str,
        value: Value,
        ttl: Option<Duration>,
    ) -> Result<()>;

    /// A working variable, unless absent or expired.
    async fn get(&self, scope: &Scope, key: &str) -> Result<Option<Value>>;

    /// Removes a working variable; `false` when absent.
    async fn remove(&self, scope: &Scope, key: &str) -> Result<bool>;

    /// The keys of live working variables, sorted.
    async fn keys(&self, scope: &Scope) -> Result<Vec<String>>;

    /// Appends a message to the context window, trimming the oldest to fit `limit`.
    async fn push_message(
        &self,
        scope: &Scope,
        message: ContextMessage,
        limit: WindowLimit,
    ) -> Result<()>;

    /// The context window, oldest first.
    async fn window(&self, scope: &Scope) -> Result<Vec<ContextMessage>>;

    /// Forgets every variable and message of the scope.
    async fn clear(&self, scope: &Scope) -> Result<()>;
}

/// A message to a text model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who says it.
    pub role: Role,
    /// What is said.
    pub content: String,
}

/// A provider-neutral completion request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionRequest {
    /// The model to use; the provider's default when `None`.
    #[serde(default)]
    pub model: Option<String>,
    /// The system prompt.
    #[serde(default)]
    pub system: Option<String>,
    /// The conversation so far.
    pub messages: Vec<ChatMessage>,
    /// Sampling temperature.
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Most tokens to generate.
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Stop sequences.
    #[serde(default)]
    pub stop: Vec<String>,
    /// Ask for a JSON object, where the provider supports it.
    #[serde(default)]
    pub json_mode: bool,
}

impl CompletionRequest {
    /// A single user prompt, as the seed's `complete(prompt=...)`.
    pub fn prompt(text: impl Into<String>) -> Self {
        CompletionRequest {
            messages: vec![ChatMessage {
                role: Role::User,
                content: text.into(),
            }],
            ..Self::default()
        }
    }
}

/// Why a model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// It finished its answer or hit a stop sequence.
    Stop,
    /// It hit the token limit.
    Length,
    /// A content filter stopped it.
    ContentFilter,
    /// Something else, as the provider named it.
    Other(String),
}

/// Tokens a call used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
}

/// A model's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// The generated text.
    pub text: String,
    /// The model that answered.
    pub model: String,
    /// Why it stopped.
    pub finish_reason: FinishReason,
    /// Tokens used.
    pub usage: Usage,
    /// Wall time of the call; `latency_ms` in JSON.
    #[serde(rename = "latency_ms", with = "crate::time::duration_ms")]
    pub latency: Duration,
}

/// A text model (an LLM) that completes prompts.
#[async_trait]
pub trait TextModel: Send + Sync {
    /// A name for logs and routing, e.g. `ollama/llama3.1:8b`.
    fn name(&self) -> &str;

    /// Completes the request.
    async fn complete(&self, request: CompletionRequest) -> Result<Completion>;
}

//! The facade: one `Brain` over the ports.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use memory_core::{
    CodePattern, ContextMessage, DerivedIndex, Embedder, EmbedderInfo, ListOrder, Memory,
    MemoryFilter, MemoryId, MemoryKind, MemoryPatch, MemoryQuery, Metadata, NewMemory,
    RecallWeights, Role, Scope, ScoreParts, ShortTermMemory, StoreStats, Timestamp, WindowLimit,
    WriteOp, WriteOutcome,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::BrainConfig;
use crate::error::{BrainError, Result};
use crate::ports::{Splitter, Store};
use crate::recall::{RecallPipeline, RecallSources};
use crate::short_term::InProcessShortTerm;

/// The kind of the memories that index code patterns for semantic search.
pub const PATTERN_KIND: &str = "code_pattern";

/// Most memories written in one store transaction by the bulk operations.
pub(crate) const BATCH: usize = 256;

/// The kind of the memories the brain keeps of what clearly positive feedback taught
/// ([`Brain::learn_from_feedback`]): recallable by meaning, and apart from the user's own
/// preferences.
pub const LEARNED_KIND: &str = "learned_preference";

/// Kinds the brain writes and reads back itself; callers cannot write them, so a link
/// such as a pattern memory's `pattern_id` is only ever the brain's own, and a learned
/// preference is only ever what feedback taught.
pub const RESERVED_KINDS: &[&str] = &[PATTERN_KIND, LEARNED_KIND];

/// Most bytes one neighbouring memory adds to a thread memory's context (and to the text
/// it is embedded from): a long neighbour is cut, never the memory itself.
pub const MAX_NEIGHBOUR_BYTES: usize = 2048;
/// Most bytes of a memory's context built from its neighbours.
pub const MAX_CONTEXT_BYTES: usize = 16 << 10;

/// Which lists recall draws from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecallMode {
    /// Keyword and vector lists fused, then re-ranked (the default).
    #[default]
    Hybrid,
    /// Vector (semantic) list only, re-ranked.
    Vector,
    /// Keyword (BM25) list only, re-ranked.
    Keyword,
}

/// What to recall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecallQuery {
    /// The query text.
    pub text: String,
    /// Which memories may be returned (scope, kinds, metadata, time); applied inside
    /// both searches.
    #[serde(default)]
    pub filter: MemoryFilter,
    /// How many hits; the configured default when absent.
    #[serde(default)]
    pub k: Option<usize>,
    /// Which lists to draw from.
    #[serde(default)]
    pub mode: RecallMode,
    /// Leave out hits whose total score is below this. Scores are relative (about 1 for
    /// a memory first in both lists, toward 0 for one barely in either), so a threshold
    /// such as 0.1 drops the unrelated hits that would otherwise fill `k`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_score: Option<f64>,
}

impl RecallQuery {
    /// A hybrid query over everything `scope` may see.
    pub fn new(text: impl Into<String>, scope: Scope) -> Self {
        RecallQuery {
            text: text.into(),
            filter: MemoryFilter::scoped(scope),
            k: None,
            mode: RecallMode::Hybrid,
            min_score: None,
        }
    }

    /// Sets the score threshold.
    pub fn with_min_score(mut self, min_score: f64) -> Self {
        self.min_score = Some(min_score);
        self
    }

    /// Sets `k`.
    pub fn with_k(mut self, k: usize) -> Self {
        self.k = Some(k);
        self
    }

    /// Sets the mode.
    pub fn with_mode(mut self, mode: RecallMode) -> Self {
        self.mode = mode;
        self
    }

    /// Sets the filter.
    pub fn with_filter(mut self, filter: MemoryFilter) -> Self {
        self.filter = filter;
        self
    }
}

/// A recalled memory and why it ranked where it did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecallHit {
    /// The memory.
    pub memory: Memory,
    /// The parts of its score.
    pub score: ScoreParts,
}

/// A code pattern found by [`Brain::find_similar_patterns`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternMatch {
    /// The pattern, with its counts.
    pub pattern: CodePattern,
    /// Its success rate, `(s + 1) / (s + f + 2)`.
    pub success_rate: f64,
    /// The parts of its score.
    pub score: ScoreParts,
}

/// Which memories [`Brain::prune`] removes: those passing `filter`, created before
/// `older_than` ago, with importance at most `max_importance`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PruneRule {
    /// The memories considered.
    pub filter: MemoryFilter,
    /// Only memories at most this important (`[0, 1]`).
    pub max_importance: f64,
    /// Only memories older than this.
    pub older_than: Duration,
}

/// What a brain holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BrainStats {
    /// The store's counts.
    pub store: StoreStats,
    /// Live vectors in the index.
    pub indexed: usize,
    /// The last store change the index reflects.
    pub index_seq: u64,
    /// The embedder.
    pub embedder: EmbedderInfo,
}

/// Assembles a [`Brain`] from ports. `brain_engines::open` does it from configuration
/// with the embedded default engines; use the builder to bring your own.
#[derive(Default)]
pub struct BrainBuilder {
    store: Option<Arc<dyn Store>>,
    index: Option<Arc<dyn DerivedIndex>>,
    embedder: Option<Arc<dyn Embedder>>,
    short_term: Option<Arc<dyn ShortTermMemory>>,
    splitter: Option<Arc<dyn Splitter>>,
    recall_pipeline: Option<RecallPipeline>,
    config: BrainConfig,
    llm: Option<Arc<dyn llm_router::ModelRouter>>,
    embedder_pinned: bool,
}

impl BrainBuilder {
    /// A builder with the default configuration and no ports chosen.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses `config` for recall, the context window and snapshots.
    pub fn config(mut self, config: BrainConfig) -> Self {
        self.config = config;
        self
    }

    /// The LLM router for what needs a model. Optional: without one, memory works and
    /// LLM calls fail with [`llm_router::LlmError::NotConfigured`].
    pub fn llm(mut self, router: Arc<dyn llm_router::ModelRouter>) -> Self {
        self.llm = Some(router);
        self
    }

    /// The long-term store (also the embedding store). Required.
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The vector index, derived from the store's embeddings. Required
    /// (`store_vector::CaughtUpFlat` is an exact one kept in memory).
    pub fn index(mut self, index: Arc<dyn DerivedIndex>) -> Self {
        self.index = Some(index);
        self
    }

    /// The embedder. Required.
    pub fn embedder(mut self, embedder: Arc<dyn Embedder>) -> Self {
        self.embedder = Some(embedder);
        self
    }

    /// The document splitter behind [`Brain::ingest`]. Optional: without one, ingest
    /// fails with a configuration error that says so.
    pub fn splitter(mut self, splitter: Arc<dyn Splitter>) -> Self {
        self.splitter = Some(splitter);
        self
    }

    /// The recall pipeline. Default: [`RecallPipeline::standard`].
    pub fn recall_pipeline(mut self, pipeline: RecallPipeline) -> Self {
        self.recall_pipeline = Some(pipeline);
        self
    }

    /// Says the caller has already pinned the embedder in the store ([`pin_embedder`]), as
    /// a composition root does before it opens an index that depends on the embedder.
    /// [`BrainBuilder::build`] then only reads the pin to check it, instead of writing it
    /// a second time.
    pub fn embedder_pinned(mut self) -> Self {
        self.embedder_pinned = true;
        self
    }

    /// Short-term memory. Default: kept in this process.
    pub fn short_term(mut self, short_term: Arc<dyn ShortTermMemory>) -> Self {
        self.short_term = Some(short_term);
        self
    }

    /// Checks the parts fit (the configuration is valid, the embedder is the one that wrote
    /// the stored vectors, the index has its dimension), pins the embedder (or, after
    /// [`BrainBuilder::embedder_pinned`], checks the pin), and catches the index up.
    pub async fn build(self) -> Result<Brain> {
        self.config.validate()?;
        let store = self
            .store
            .ok_or_else(|| BrainError::Config("the brain builder needs a store".into()))?;
        let embedder = self
            .embedder
            .ok_or_else(|| BrainError::Config("the brain builder needs an embedder".into()))?;
        let index = self
            .index
            .ok_or_else(|| BrainError::Config("the brain builder needs an index".into()))?;
        let info = embedder.info().clone();
        if !self.embedder_pinned {
            pin_embedder(store.as_ref(), &info).await?;
        } else {
            let pinned = store.embedder().await?;
            if pinned.as_ref() != Some(&info) {
                return Err(BrainError::Config(format!(
                    "the builder was told embedder {} is pinned, but the store's pin is {}",
                    info.model_id,
                    pinned.map_or_else(|| "missing".to_owned(), |p| p.model_id)
                )));
            }
        }
        if index.dimension() != info.dimension {
            return Err(BrainError::Config(format!(
                "the index holds {}-dimensional vectors but the embedder {} writes {}",
                index.dimension(),
                info.model_id,
                info.dimension
            )));
        }
        index.catch_up(store.as_embeddings()).await?;
        let persisted = index.applied_seq();
        let short_term = self
            .short_term
            .unwrap_or_else(|| Arc::new(InProcessShortTerm::new()));
        Ok(Brain {
            store,
            index,
            embedder,
            short_term,
            config: self.config,
            persisted_seq: AtomicU64::new(persisted),
            llm: self.llm,
            splitter: self.splitter,
            recall_pipeline: self.recall_pipeline.unwrap_or_default(),
        })
    }
}

/// Upcasts a store to its embedding side.
trait AsEmbeddings {
    fn as_embeddings(&self) -> &dyn memory_core::EmbeddingStore;
}

impl AsEmbeddings for dyn Store {
    fn as_embeddings(&self) -> &dyn memory_core::EmbeddingStore {
        self
    }
}

/// Checks that `info` is the embedder that wrote the store's vectors (none yet is fine)
/// and pins it, so vectors of two models are never mixed: a different one is
/// [`BrainError::EmbedderMismatch`]. [`BrainBuilder::build`] does it; a composition root
/// calls it first when the index it opens depends on the embedder.
pub async fn pin_embedder(store: &dyn Store, info: &EmbedderInfo) -> Result<()> {
    if let Some(pinned) = store.embedder().await?
        && pinned != *info
    {
        return Err(BrainError::EmbedderMismatch {
            stored: format!("{} ({} dimensions)", pinned.model_id, pinned.dimension),
            configured: format!("{} ({} dimensions)", info.model_id, info.dimension),
        });
    }
    store.pin_embedder(info).await?;
    Ok(())
}

/// Persistent memory for an agent: long-term records, semantic recall, short-term
/// memory, code patterns, composed from ports.
///
/// The store is the source of truth; every write goes to it first (a memory and its
/// embedding in one transaction) and the index then catches up from the store's log, so
/// the two never disagree for longer than one call, and a crash in between is repaired
/// on the next open. Recall also catches up first, so a brain sees what other processes
/// sharing its store wrote.
pub struct Brain {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) index: Arc<dyn DerivedIndex>,
    pub(crate) embedder: Arc<dyn Embedder>,
    pub(crate) short_term: Arc<dyn ShortTermMemory>,
    pub(crate) config: BrainConfig,
    pub(crate) persisted_seq: AtomicU64,
    pub(crate) llm: Option<Arc<dyn llm_router::ModelRouter>>,
    pub(crate) splitter: Option<Arc<dyn Splitter>>,
    pub(crate) recall_pipeline: RecallPipeline,
}

impl std::fmt::Debug for Brain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Brain")
            .field("embedder", self.embedder.info())
            .field("index_seq", &self.index.applied_seq())
            .finish_non_exhaustive()
    }
}

impl Brain {
    /// The document splitter, or a configuration error naming the builder call to add.
    pub(crate) fn splitter(&self) -> Result<&Arc<dyn Splitter>> {
        self.splitter.as_ref().ok_or_else(|| {
            BrainError::Config(
                "ingest needs a document splitter: BrainBuilder::splitter (brain_engines::ChunkSplitter)".into(),
            )
        })
    }

    /// A builder, to choose the ports.
    pub fn builder() -> BrainBuilder {
        BrainBuilder::new()
    }

    /// The LLM router, or [`llm_router::LlmError::NotConfigured`] (which names the
    /// configuration to add) when the brain has none.
    pub fn llm(&self) -> Result<&Arc<dyn llm_router::ModelRouter>> {
        self.llm
            .as_ref()
            .ok_or(BrainError::Llm(llm_router::LlmError::NotConfigured))
    }

    /// The embedder as a shared handle.
    pub(crate) fn embedder_arc(&self) -> Arc<dyn Embedder> {
        self.embedder.clone()
    }

    /// The long-term store as a shared handle, for learners that keep their state in it.
    pub(crate) fn store_arc(&self) -> Arc<dyn memory_core::LongTermStore> {
        self.store.clone()
    }

    /// The configuration.
    pub fn config(&self) -> &BrainConfig {
        &self.config
    }

    /// The embedder's identity.
    pub fn embedder_info(&self) -> &EmbedderInfo {
        self.embedder.info()
    }

    /// The long-term store, for operations the facade does not wrap.
    pub fn store(&self) -> &dyn memory_core::LongTermStore {
        self.store.as_ref()
    }

    /// Short-term memory.
    pub fn short_term(&self) -> &dyn ShortTermMemory {
        self.short_term.as_ref()
    }

    /// Persists the index if it changed since the last snapshot. Call before exit;
    /// skipping it loses nothing (the next open catches up from the store), it only
    /// makes that open slower.
    pub async fn close(&self) -> Result<()> {
        if self.index.applied_seq() > self.persisted_seq.load(Ordering::Acquire) {
            self.persist().await?;
        }
        Ok(())
    }

    async fn persist(&self) -> Result<()> {
        let seq = self.index.applied_seq();
        self.index.persist().await?;
        self.persisted_seq.fetch_max(seq, Ordering::AcqRel);
        Ok(())
    }

    /// Applies the store's new changes to the index, and snapshots it when enough piled up.
    async fn sync_index(&self) -> Result<()> {
        self.index.catch_up(self.store.as_embeddings()).await?;
        let behind = self
            .index
            .applied_seq()
            .saturating_sub(self.persisted_seq.load(Ordering::Acquire));
        if behind >= self.config.index.snapshot_every {
            self.persist().await?;
        }
        Ok(())
    }

    /// Brings the index up to a write that has committed. The write stands whatever
    /// happens here: a failure (a snapshot racing another process's, a full disk) is
    /// logged, and the next call or open catches up from the store.
    pub(crate) async fn after_commit(&self) {
        if let Err(e) = self.sync_index().await {
            tracing::warn!(error = %e, "the index could not catch up after a committed write; it will on the next call");
        }
    }

    // ---- memories -------------------------------------------------------------------

    /// Stores a memory, its embedding and its index entry as one logical operation.
    #[tracing::instrument(skip_all)]
    pub async fn remember(&self, memory: NewMemory) -> Result<Memory> {
        let mut stored = self.remember_many(vec![memory]).await?;
        stored.pop().ok_or_else(|| {
            BrainError::Core(memory_core::Error::Backend {
                message: "the store returned no memory for a write".into(),
                source: None,
            })
        })
    }

    /// Stores many memories: embedded in batches, then all of them with their embeddings
    /// (and their thread predecessors' new context) in one transaction. Every memory is
    /// checked before anything is written; kinds the brain reserves
    /// ([`RESERVED_KINDS`]) are refused.
    #[tracing::instrument(skip_all, fields(n = memories.len()))]
    pub async fn remember_many(&self, memories: Vec<NewMemory>) -> Result<Vec<Memory>> {
        for m in &memories {
            if RESERVED_KINDS.contains(&m.kind.as_str()) {
                return Err(reserved_kind(m.kind.as_str()));
            }
        }
        self.remember_unchecked(memories).await
    }

    /// [`Brain::remember_many`] without the reserved-kind check, for the brain's own
    /// memories (pattern entries).
    pub(crate) async fn remember_unchecked(&self, memories: Vec<NewMemory>) -> Result<Vec<Memory>> {
        let mut memories = memories;
        for m in &mut memories {
            m.validate()?;
            m.id.get_or_insert_with(MemoryId::new);
        }
        let (texts, predecessor_updates) = self.thread_context(&mut memories).await?;
        let mut out = Vec::with_capacity(memories.len());
        // Embedded a batch at a time, written in one transaction: all of them, with the
        // predecessors' new neighbours, or none.
        let mut ops = Vec::with_capacity(memories.len() * 2 + 1);
        for (chunk, texts) in memories.chunks(BATCH).zip(texts.chunks(BATCH)) {
            ops.extend(self.put_ops(chunk, texts).await?);
        }
        // A predecessor's new neighbour commits with the memory it names.
        ops.extend(
            predecessor_updates
                .into_iter()
                .map(|(id, context)| WriteOp::UpdateMemory {
                    id,
                    patch: MemoryPatch {
                        context: Some(context),
                        ..MemoryPatch::default()
                    },
                }),
        );
        let new: std::collections::HashSet<MemoryId> =
            memories.iter().filter_map(|m| m.id).collect();
        for outcome in self.write_missing_tolerant(ops).await? {
            if let WriteOutcome::Memory(m) = outcome
                && new.contains(&m.id)
            {
                out.push(m);
            }
        }
        self.after_commit().await;
        Ok(out)
    }

    /// Writes `ops`; when a predecessor named by an `UpdateMemory` was forgotten
    /// meanwhile, writes the batch again without those updates (there is nothing to add
    /// context to).
    async fn write_missing_tolerant(&self, ops: Vec<WriteOp>) -> Result<Vec<WriteOutcome>> {
        let is_update = |o: &WriteOp| matches!(o, WriteOp::UpdateMemory { .. });
        if !ops.iter().any(is_update) {
            return Ok(self.store.write_batch(ops).await?);
        }
        // Kept for a second try only when the batch has updates (vectors are large).
        match self.store.write_batch(ops.clone()).await {
            Err(e) if e.kind() == memory_core::ErrorKind::NotFound => {
                let ops = ops.into_iter().filter(|o| !is_update(o)).collect();
                Ok(self.store.write_batch(ops).await?)
            }
            other => Ok(other?),
        }
    }

    /// `PutMemory` and `PutEmbedding` for each memory (which has its id), embedded from
    /// `texts` as [`embed_blended`] does.
    pub(crate) async fn put_ops(
        &self,
        memories: &[NewMemory],
        texts: &[String],
    ) -> Result<Vec<WriteOp>> {
        let own: Vec<String> = memories.iter().map(|m| m.content.clone()).collect();
        let vectors = embed_blended(self.embedder.as_ref(), &own, texts).await?;
        let mut ops = Vec::with_capacity(memories.len() * 2 + 1);
        // Vectors of this brain's embedder only: if another process re-embedded the store
        // with another model meanwhile, the batch fails whole.
        ops.push(WriteOp::ExpectEmbedder(self.embedder.info().clone()));
        for (m, vector) in memories.iter().zip(vectors) {
            let id =
                m.id.ok_or_else(|| BrainError::Config("a memory to write has no id".into()))?;
            ops.push(WriteOp::PutMemory(m.clone()));
            ops.push(WriteOp::PutEmbedding { id, vector });
        }
        Ok(ops)
    }

    /// The newest `n` memories of a thread (exactly `scope`), created before `before`
    /// when given, oldest first.
    pub(crate) async fn thread_tail(
        &self,
        scope: &Scope,
        before: Option<Timestamp>,
        n: usize,
    ) -> Result<Vec<Memory>> {
        let mut filter = MemoryFilter::scoped(scope.clone());
        filter.created_before = before;
        // A few more than `n`: the filter also matches scopes with more parts set.
        let mut q = MemoryQuery::new(filter, n + 8);
        q.order = ListOrder::NewestFirst;
        let mut tail: Vec<Memory> = self
            .store
            .list_memories(&q)
            .await?
            .into_iter()
            .filter(|m| is_thread_member(&m.scope, &m.kind) && m.scope == *scope)
            .take(n)
            .collect();
        tail.reverse();
        Ok(tail)
    }

    /// Fills the context of memories in threads (a session scope) from their neighbours,
    /// and returns the text to embed for each memory plus the context updates of stored
    /// predecessors that gain a next neighbour.
    async fn thread_context(
        &self,
        memories: &mut [NewMemory],
    ) -> Result<(Vec<String>, Vec<(MemoryId, String)>)> {
        let mut texts: Vec<String> = memories.iter().map(|m| m.content.clone()).collect();
        let t = self.config.threads;
        if !t.enabled || (t.previous == 0 && t.next == 0) {
            return Ok((texts, Vec::new()));
        }
        let mut threads: Vec<(Scope, Vec<usize>)> = Vec::new();
        for (i, m) in memories.iter().enumerate() {
            if !is_thread_member(&m.scope, &m.kind) {
                continue;
            }
            match threads.iter_mut().find(|(s, _)| *s == m.scope) {
                Some((_, v)) => v.push(i),
                None => threads.push((m.scope.clone(), vec![i])),
            }
        }
        let mut updates = Vec::new();
        for (scope, members) in threads {
            let stored = self.thread_tail(&scope, None, t.previous.max(1)).await?;
            // Neighbours are cut to a bounded size, so context stays bounded however long
            // the memories of a session are.
            let mut seq: Vec<String> = stored
                .iter()
                .map(|m| cut(&m.content, MAX_NEIGHBOUR_BYTES))
                .collect();
            let base = seq.len();
            seq.extend(
                members
                    .iter()
                    .map(|&i| cut(&memories[i].content, MAX_NEIGHBOUR_BYTES)),
            );
            if let (Some(last), Some(&first)) = (stored.last(), members.first())
                && t.next > 0
            {
                let next = cut(&memories[first].content, MAX_NEIGHBOUR_BYTES);
                if !last.context.ends_with(next.as_str())
                    && last.context.len() + 1 + next.len() <= MAX_CONTEXT_BYTES
                {
                    let context = if last.context.is_empty() {
                        next
                    } else {
                        format!("{}\n{next}", last.context)
                    };
                    updates.push((last.id, context));
                }
            }
            let now = Timestamp::now();
            for (j, &i) in members.iter().enumerate() {
                let at = base + j;
                let prev = &seq[at.saturating_sub(t.previous)..at];
                let next = &seq[(at + 1).min(seq.len())..(at + 1 + t.next).min(seq.len())];
                let m = &mut memories[i];
                texts[i] = thread_text(&m.content, prev);
                if m.context.is_empty() {
                    let (y, mo, d) = m.created_at.unwrap_or(now).date();
                    let mut parts = vec![format!("[{d} {} {y}]", month_name(mo))];
                    parts.extend(prev.iter().cloned());
                    parts.extend(next.iter().cloned());
                    m.context = cut(&parts.join("\n"), MAX_CONTEXT_BYTES);
                }
            }
        }
        Ok((texts, updates))
    }

    /// Deletes and stores memories in one store transaction (the new ones embedded
    /// first), then catches the index up: a replaced document is never half old, half new.
    pub(crate) async fn replace_atomically(
        &self,
        mut ops: Vec<WriteOp>,
        memories: Vec<NewMemory>,
    ) -> Result<()> {
        for m in &memories {
            m.validate()?;
        }
        for chunk in memories.chunks(BATCH) {
            let texts: Vec<String> = chunk.iter().map(|m| m.content.clone()).collect();
            ops.extend(self.put_ops(chunk, &texts).await?);
        }
        if !ops.is_empty() {
            self.store.write_batch(ops).await?;
        }
        self.after_commit().await;
        Ok(())
    }

    /// A memory by id.
    pub async fn get(&self, id: MemoryId) -> Result<Option<Memory>> {
        Ok(self.store.get_memory(id).await?)
    }

    /// Changes a memory. New content drops the old embedding in the same transaction (a
    /// store trigger) and the new one is stored right after, so the index never serves a
    /// vector of the old text.
    pub async fn update(&self, id: MemoryId, patch: MemoryPatch) -> Result<Memory> {
        patch.validate()?;
        if let Some(kind) = &patch.kind
            && RESERVED_KINDS.contains(&kind.as_str())
        {
            return Err(reserved_kind(kind.as_str()));
        }
        let current =
            self.store
                .get_memory(id)
                .await?
                .ok_or_else(|| memory_core::Error::NotFound {
                    what: format!("memory {id}"),
                })?;
        if RESERVED_KINDS.contains(&current.kind.as_str()) {
            return Err(reserved_kind(current.kind.as_str()));
        }
        let mut ops = Vec::with_capacity(3);
        if let Some(content) = &patch.content {
            // Embedded as remember embeds: a thread memory with the turns before it.
            let kind = patch.kind.as_ref().unwrap_or(&current.kind);
            let t = self.config.threads;
            let prev: Vec<String> =
                if t.enabled && t.previous > 0 && is_thread_member(&current.scope, kind) {
                    self.thread_tail(&current.scope, Some(current.created_at), t.previous)
                        .await?
                        .into_iter()
                        .map(|p| cut(&p.content, MAX_NEIGHBOUR_BYTES))
                        .collect()
                } else {
                    Vec::new()
                };
            let text = thread_text(content, &prev);
            let own = [content.clone()];
            let v = embed_blended(self.embedder.as_ref(), &own, &[text]).await?;
            ops.push(WriteOp::ExpectEmbedder(self.embedder.info().clone()));
            ops.push(WriteOp::UpdateMemory { id, patch });
            // The new text's vector commits with it: the index never serves the old one.
            if let Some(vector) = v.into_iter().next() {
                ops.push(WriteOp::PutEmbedding { id, vector });
            }
        } else {
            ops.push(WriteOp::UpdateMemory { id, patch });
        }
        let m = self
            .store
            .write_batch(ops)
            .await?
            .into_iter()
            .find_map(|o| match o {
                WriteOutcome::Memory(m) => Some(m),
                _ => None,
            })
            .ok_or_else(|| {
                BrainError::Core(memory_core::Error::Backend {
                    message: "the store returned no memory for an update".into(),
                    source: None,
                })
            })?;
        self.after_commit().await;
        Ok(m)
    }

    /// Memories passing a filter, in order, paged.
    pub async fn list(&self, query: &MemoryQuery) -> Result<Vec<Memory>> {
        Ok(self.store.list_memories(query).await?)
    }

    /// Every memory passing a filter, in `order`, read a page at a time.
    pub(crate) async fn list_all(
        &self,
        filter: &MemoryFilter,
        order: ListOrder,
    ) -> Result<Vec<Memory>> {
        const PAGE: usize = 1_000;
        let mut out = Vec::new();
        loop {
            let mut q = MemoryQuery::new(filter.clone(), PAGE);
            q.order = order;
            q.offset = out.len();
            let page = self.store.list_memories(&q).await?;
            let n = page.len();
            out.extend(page);
            if n < PAGE {
                return Ok(out);
            }
        }
    }

    /// How many memories pass a filter.
    pub async fn count(&self, filter: &MemoryFilter) -> Result<u64> {
        Ok(self.store.count_memories(filter).await?)
    }

    /// Forgets a memory: from the store and the index. `false` when there was none.
    #[tracing::instrument(skip(self))]
    pub async fn forget(&self, id: MemoryId) -> Result<bool> {
        let existed = self.store.delete_memory(id).await?;
        self.after_commit().await;
        Ok(existed)
    }

    /// Forgets every memory passing `filter`; returns their ids.
    #[tracing::instrument(skip_all)]
    pub async fn forget_where(&self, filter: &MemoryFilter) -> Result<Vec<MemoryId>> {
        filter.validate()?;
        let ids = self.store.delete_memories(filter).await?;
        self.after_commit().await;
        Ok(ids)
    }

    /// Removes expired memories for good (recall already ignores them).
    pub async fn purge_expired(&self) -> Result<Vec<MemoryId>> {
        let ids = self.store.purge_expired(Timestamp::now()).await?;
        self.after_commit().await;
        Ok(ids)
    }

    /// Prunes unimportant old memories; with `dry_run`, only says which would go.
    #[tracing::instrument(skip_all, fields(dry_run))]
    pub async fn prune(&self, rule: &PruneRule, dry_run: bool) -> Result<Vec<Memory>> {
        rule.filter.validate()?;
        if !(0.0..=1.0).contains(&rule.max_importance) {
            return Err(memory_core::ValidationError::OutOfRange {
                field: "max_importance",
                value: rule.max_importance,
                min: 0.0,
                max: 1.0,
            }
            .into());
        }
        let cutoff = Timestamp::now().saturating_sub(rule.older_than);
        let mut filter = rule.filter.clone();
        filter.created_before = Some(match filter.created_before {
            Some(t) if t < cutoff => t,
            _ => cutoff,
        });
        let doomed: Vec<Memory> = self
            .list_all(&filter, ListOrder::OldestFirst)
            .await?
            .into_iter()
            .filter(|m| m.importance.get() <= rule.max_importance)
            .collect();
        if !dry_run && !doomed.is_empty() {
            // One transaction: a prune that fails removes nothing.
            let ops = doomed
                .iter()
                .map(|m| WriteOp::DeleteMemory { id: m.id })
                .collect();
            self.store.write_batch(ops).await?;
            self.after_commit().await;
        }
        Ok(doomed)
    }

    /// Hybrid recall: keyword and vector candidates within the filter, fused by
    /// reciprocal rank, re-ranked by importance, recency and learned outcome.
    #[tracing::instrument(skip_all, fields(mode = ?query.mode, k = query.k))]
    pub async fn recall(&self, query: &RecallQuery) -> Result<Vec<RecallHit>> {
        let vector = match query.mode {
            RecallMode::Keyword => None,
            _ => {
                memory_core::validate::non_empty_text("query", &query.text)?;
                let mut v = self
                    .embedder
                    .embed(std::slice::from_ref(&query.text))
                    .await?;
                v.pop()
            }
        };
        self.recall_with_vector(query, vector).await
    }

    /// Recalls for several queries, embedding all their texts in one embedder call (the
    /// embedder batches them), which is much faster than one [`Brain::recall`] each.
    /// One result per query, in order; a bad query fails alone.
    pub async fn recall_many(
        &self,
        queries: &[RecallQuery],
    ) -> Result<Vec<Result<Vec<RecallHit>>>> {
        let wanted: Vec<usize> = queries
            .iter()
            .enumerate()
            .filter(|(_, q)| q.mode != RecallMode::Keyword && !q.text.trim().is_empty())
            .map(|(i, _)| i)
            .collect();
        let texts: Vec<String> = wanted.iter().map(|&i| queries[i].text.clone()).collect();
        let mut vectors: Vec<Option<Vec<f32>>> = vec![None; queries.len()];
        if !texts.is_empty() {
            for (i, v) in wanted.into_iter().zip(self.embedder.embed(&texts).await?) {
                vectors[i] = Some(v);
            }
        }
        let mut out = Vec::with_capacity(queries.len());
        for (q, v) in queries.iter().zip(vectors) {
            out.push(match (q.mode, v) {
                (RecallMode::Keyword, _) => self.recall_with_vector(q, None).await,
                (_, Some(v)) => self.recall_with_vector(q, Some(v)).await,
                // An empty query: recall says why.
                (_, None) => self.recall(q).await,
            });
        }
        Ok(out)
    }

    /// Recall with the query's embedding given (computed by the caller, or `None` for
    /// keyword only); the same ranking as [`Brain::recall`] without the embedding step.
    pub async fn recall_with_vector(
        &self,
        query: &RecallQuery,
        vector: Option<Vec<f32>>,
    ) -> Result<Vec<RecallHit>> {
        if let Some(min) = query.min_score {
            memory_core::validate::range("min_score", min, f64::MIN, f64::MAX)?;
        }
        let sources = RecallSources {
            store: self.store.as_ref(),
            index: self.index.as_ref(),
        };
        let mut hits = self
            .recall_pipeline
            .run(sources, &self.config.recall, query, vector)
            .await?;
        if let Some(min) = query.min_score {
            hits.retain(|h| h.score.total >= min);
        }
        Ok(hits)
    }

    /// The recall pipeline's stages, in order.
    pub fn recall_stages(&self) -> Vec<&'static str> {
        self.recall_pipeline.stage_names()
    }

    /// The recall weights in force.
    pub fn recall_weights(&self) -> &RecallWeights {
        &self.config.recall.weights
    }

    // ---- short-term -----------------------------------------------------------------

    /// Appends a message to the scope's context window (bounded by the configuration).
    pub async fn add_message(&self, scope: &Scope, role: Role, content: &str) -> Result<()> {
        self.add_message_with_limit(scope, role, content, self.config.context.limit())
            .await
    }

    /// Appends a message with an explicit window limit.
    pub async fn add_message_with_limit(
        &self,
        scope: &Scope,
        role: Role,
        content: &str,
        limit: WindowLimit,
    ) -> Result<()> {
        let message = ContextMessage {
            role,
            content: content.to_owned(),
            at: Timestamp::now(),
        };
        Ok(self.short_term.push_message(scope, message, limit).await?)
    }

    /// The scope's context window, oldest first.
    pub async fn context_window(&self, scope: &Scope) -> Result<Vec<ContextMessage>> {
        Ok(self.short_term.window(scope).await?)
    }

    /// Sets a working variable, expiring after `ttl` if given.
    pub async fn set_working(
        &self,
        scope: &Scope,
        key: &str,
        value: Value,
        ttl: Option<Duration>,
    ) -> Result<()> {
        Ok(self.short_term.set(scope, key, value, ttl).await?)
    }

    /// A working variable.
    pub async fn get_working(&self, scope: &Scope, key: &str) -> Result<Option<Value>> {
        Ok(self.short_term.get(scope, key).await?)
    }

    /// What the brain holds.
    pub async fn stats(&self) -> Result<BrainStats> {
        Ok(BrainStats {
            store: self.store.stats().await?,
            indexed: self.index.len().await?,
            index_seq: self.index.applied_seq(),
            embedder: self.embedder.info().clone(),
        })
    }
}

/// The error for a caller writing a kind the brain reserves.
fn reserved_kind(kind: &str) -> BrainError {
    BrainError::Core(memory_core::Error::InvalidInput(
        memory_core::ValidationError::Other(format!(
            "kind `{kind}` is reserved for the brain's own memories (use `brain pattern add` / add_pattern for code patterns)"
        )),
    ))
}

/// `s` cut to at most `max` bytes at a character boundary.
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// The memory that puts a pattern into the patterns collection (a new id each time).
pub(crate) fn pattern_memory(p: &CodePattern) -> Result<NewMemory> {
    let mut metadata = Metadata::new()
        .with("pattern_id", p.id)
        .with("pattern_type", p.pattern_type.clone());
    if let Some(l) = &p.language {
        metadata = metadata.with("language", l.clone());
    }
    let kind = MemoryKind::new(PATTERN_KIND)?;
    let memory = NewMemory::new(format!("{}\n{}", p.context, p.solution))
        .with_kind(kind)
        .with_scope(p.scope.clone())
        .with_metadata(metadata);
    Ok(memory)
}

pub(crate) fn pattern_memories(scope: Scope) -> MemoryFilter {
    let mut f = MemoryFilter::scoped(scope);
    if let Ok(kind) = MemoryKind::new(PATTERN_KIND) {
        f = f.with_kind(kind);
    }
    f
}

/// Whether a memory of this scope and kind belongs to a conversation thread: it has a
/// session, and it is not a document chunk or a code pattern (those carry their own
/// context).
pub(crate) fn is_thread_member(scope: &Scope, kind: &MemoryKind) -> bool {
    scope.session.is_some() && kind.as_str() != PATTERN_KIND && *kind != MemoryKind::doc_chunk()
}

/// The text a thread memory is embedded from: itself, then the turns before it (itself
/// first, so the model's token limit cuts the context, never the memory).
pub(crate) fn thread_text(content: &str, prev: &[String]) -> String {
    if prev.is_empty() {
        content.to_owned()
    } else {
        format!("{content}\n{}", prev.join("\n"))
    }
}

/// Embeds `texts`; where a text is not just the memory's own content (`own`), the vector
/// is the normalised sum of the two embeddings, so one vector answers both for what a
/// thread memory says and for what it answers.
pub(crate) async fn embed_blended(
    embedder: &dyn Embedder,
    own: &[String],
    texts: &[String],
) -> Result<Vec<Vec<f32>>> {
    let mut vectors = embedder.embed(texts).await?;
    let differ: Vec<usize> = (0..texts.len()).filter(|&i| texts[i] != own[i]).collect();
    if differ.is_empty() {
        return Ok(vectors);
    }
    let own_texts: Vec<String> = differ.iter().map(|&i| own[i].clone()).collect();
    let own_vectors = embedder.embed(&own_texts).await?;
    for (&i, v) in differ.iter().zip(own_vectors) {
        vectors[i] = blend(&vectors[i], &v);
    }
    Ok(vectors)
}

/// The normalised sum of two unit vectors (the first when they cancel out).
pub(crate) fn blend(a: &[f32], b: &[f32]) -> Vec<f32> {
    let sum: Vec<f32> = a.iter().zip(b).map(|(x, y)| x + y).collect();
    let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 1e-6 {
        sum.into_iter().map(|x| x / norm).collect()
    } else {
        a.to_vec()
    }
}

fn month_name(m: u32) -> &'static str {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    NAMES
        .get((m as usize).wrapping_sub(1))
        .copied()
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blend_is_unit_length_and_total() {
        let v = blend(&[1.0, 0.0], &[0.0, 1.0]);
        assert!((v[0] - v[1]).abs() < 1e-6 && (v[0] * v[0] + v[1] * v[1] - 1.0).abs() < 1e-5);
        assert_eq!(
            blend(&[1.0, 0.0], &[-1.0, 0.0]),
            vec![1.0, 0.0],
            "opposites: the first"
        );
        assert_eq!(month_name(5), "May");
        assert_eq!(month_name(0), "");
        assert_eq!(month_name(13), "");
    }
}

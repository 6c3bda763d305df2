//! Test doubles for the ports (feature `test-utils`).
//!
//! [`FaultyStore`] wraps a real store and makes chosen write calls fail, so a caller's
//! multi-step operation can be tried with a failure at every one of its write steps.
//! [`MemoryEmbeddings`] is an in-memory [`EmbeddingStore`] to catch indexes up from, and
//! [`ScriptedModel`] a [`TextModel`] that answers from a script.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use serde_json::Value;

use crate::*;

#[derive(Debug, Default)]
struct Plan {
    /// Write calls seen so far.
    seen: u64,
    /// Absolute indices of the write calls that fail.
    fail: BTreeSet<u64>,
}

/// A [`LongTermStore`] + [`EmbeddingStore`] that delegates to `S`, except that planned
/// write calls fail.
///
/// Every method that may change state (`put_*`, `update_*`, `delete_*`, `store_*`,
/// `record_*`, `add_*`, `touch_project`, `set_project_status`, `purge_expired`,
/// `write_batch`, `pin_embedder`, `put_embeddings`, `clear_embeddings`) counts as one
/// write call, whether it fails or not; reads are passed through uncounted. A planned
/// failure returns [`Error::Unavailable`] without calling the inner store, so the store
/// is left exactly as it was. Clones share the plan and the count.
#[derive(Debug, Clone)]
pub struct FaultyStore<S> {
    inner: S,
    plan: Arc<Mutex<Plan>>,
}

impl<S> FaultyStore<S> {
    /// Wraps `inner`, with no failure planned.
    pub fn new(inner: S) -> Self {
        FaultyStore {
            inner,
            plan: Arc::default(),
        }
    }

    /// The wrapped store (calls on it are neither counted nor failed).
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn plan(&self) -> MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the `n`-th write call from now fail (0 = the next one). May be called
    /// several times to plan several failures.
    pub fn fail_write(&self, n: u64) {
        let mut plan = self.plan();
        let at = plan.seen + n;
        plan.fail.insert(at);
    }

    /// Forgets every planned failure that has not happened yet.
    pub fn clear_faults(&self) {
        self.plan().fail.clear();
    }

    /// How many write calls were seen (failed ones included).
    pub fn writes(&self) -> u64 {
        self.plan().seen
    }

    /// Counts one write call; the error when it is planned to fail.
    fn gate(&self, what: &str) -> Result<()> {
        let mut plan = self.plan();
        let at = plan.seen;
        plan.seen += 1;
        if plan.fail.remove(&at) {
            return Err(Error::Unavailable {
                message: format!("injected failure of write call #{at} ({what})"),
                source: None,
            });
        }
        Ok(())
    }
}

#[async_trait]
impl<S: LongTermStore + EmbeddingStore> LongTermStore for FaultyStore<S> {
    async fn write_batch(&self, ops: Vec<WriteOp>) -> Result<Vec<WriteOutcome>> {
        self.gate("write_batch")?;
        self.inner.write_batch(ops).await
    }

    async fn stats(&self) -> Result<StoreStats> {
        self.inner.stats().await
    }
}

#[async_trait]
impl<S: LongTermStore + EmbeddingStore> MemoryStore for FaultyStore<S> {
    async fn put_memory(&self, memory: NewMemory) -> Result<Memory> {
        self.gate("put_memory")?;
        self.inner.put_memory(memory).await
    }

    async fn get_memory(&self, id: MemoryId) -> Result<Option<Memory>> {
        self.inner.get_memory(id).await
    }

    async fn get_memories(&self, ids: &[MemoryId]) -> Result<Vec<Memory>> {
        self.inner.get_memories(ids).await
    }

    async fn update_memory(&self, id: MemoryId, patch: MemoryPatch) -> Result<Memory> {
        self.gate("update_memory")?;
        self.inner.update_memory(id, patch).await
    }

    async fn delete_memory(&self, id: MemoryId) -> Result<bool> {
        self.gate("delete_memory")?;
        self.inner.delete_memory(id).await
    }

    async fn delete_memories(&self, filter: &MemoryFilter) -> Result<Vec<MemoryId>> {
        self.gate("delete_memories")?;
        self.inner.delete_memories(filter).await
    }

    async fn list_memories(&self, query: &MemoryQuery) -> Result<Vec<Memory>> {
        self.inner.list_memories(query).await
    }

    async fn count_memories(&self, filter: &MemoryFilter) -> Result<u64> {
        self.inner.count_memories(filter).await
    }

    async fn search_memories(&self, query: &KeywordQuery) -> Result<Vec<KeywordHit>> {
        self.inner.search_memories(query).await
    }

    async fn keyword_document_counts(&self, terms: &[String]) -> Result<(u64, Vec<u64>)> {
        self.inner.keyword_document_counts(terms).await
    }

    async fn purge_expired(&self, now: Timestamp) -> Result<Vec<MemoryId>> {
        self.gate("purge_expired")?;
        self.inner.purge_expired(now).await
    }
}

#[async_trait]
impl<S: LongTermStore + EmbeddingStore> RecordStore for FaultyStore<S> {
    async fn put_record(&self, record: NewRecord) -> Result<RecordWrite> {
        self.gate("put_record")?;
        self.inner.put_record(record).await
    }

    async fn get_record(&self, key: &RecordKey) -> Result<Option<Record>> {
        self.inner.get_record(key).await
    }

    async fn get_records(&self, kind: RecordKind, ids: &[RecordId]) -> Result<Vec<Record>> {
        self.inner.get_records(kind, ids).await
    }

    async fn list_records(&self, query: &RecordQuery) -> Result<Vec<Record>> {
        self.inner.list_records(query).await
    }

    async fn change_record(&self, id: RecordId, change: RecordChange) -> Result<Record> {
        self.gate("change_record")?;
        self.inner.change_record(id, change).await
    }

    async fn delete_record(&self, key: &RecordKey) -> Result<bool> {
        self.gate("delete_record")?;
        self.inner.delete_record(key).await
    }

    async fn search_patterns(&self, text: &str, query: &PatternQuery) -> Result<Vec<PatternHit>> {
        self.inner.search_patterns(text, query).await
    }
}

#[async_trait]
impl<S: LongTermStore + EmbeddingStore> PolicyStore for FaultyStore<S> {
    async fn get_policy(&self, name: &str) -> Result<Option<PolicyState>> {
        self.inner.get_policy(name).await
    }

    async fn put_policy(
        &self,
        name: &str,
        kind: &str,
        state: &Value,
        expected: Option<u64>,
    ) -> Result<u64> {
        self.gate("put_policy")?;
        self.inner.put_policy(name, kind, state, expected).await
    }

    async fn list_policies(&self) -> Result<Vec<String>> {
        self.inner.list_policies().await
    }

    async fn delete_policy(&self, name: &str) -> Result<bool> {
        self.gate("delete_policy")?;
        self.inner.delete_policy(name).await
    }
}

#[async_trait]
impl<S: LongTermStore + EmbeddingStore> EmbeddingStore for FaultyStore<S> {
    async fn embedder(&self) -> Result<Option<EmbedderInfo>> {
        self.inner.embedder().await
    }
    async fn pin_embedder(&self, info: &EmbedderInfo) -> Result<()> {
        self.gate("pin_embedder")?;
        self.inner.pin_embedder(info).await
    }
    async fn put_embeddings(&self, items: Vec<(MemoryId, Vec<f32>)>) -> Result<u64> {
        self.gate("put_embeddings")?;
        self.inner.put_embeddings(items).await
    }
    async fn get_embedding(&self, id: MemoryId) -> Result<Option<Vec<f32>>> {
        self.inner.get_embedding(id).await
    }
    async fn embedding_changes(&self, after: u64, limit: usize) -> Result<Vec<EmbeddingChange>> {
        self.inner.embedding_changes(after, limit).await
    }
    async fn last_embedding_seq(&self) -> Result<u64> {
        self.inner.last_embedding_seq().await
    }
    async fn clear_embeddings(&self) -> Result<()> {
        self.gate("clear_embeddings")?;
        self.inner.clear_embeddings().await
    }
}

// ---------------------------------------------------------------- embeddings

/// An in-memory [`EmbeddingStore`] that keeps the trait's contract: every change takes a
/// new, strictly increasing sequence number and only the latest change of each id is kept
/// in the log. For testing a [`DerivedIndex`] without a database; memories are put and
/// removed directly ([`MemoryEmbeddings::put`], [`MemoryEmbeddings::remove`]).
#[derive(Default)]
pub struct MemoryEmbeddings {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    embedder: Option<EmbedderInfo>,
    seq: u64,
    /// The memories (filter fields and current vector), whether embedded or not.
    memories: HashMap<MemoryId, VectorEntry>,
    /// Which memories have an embedding.
    embedded: BTreeSet<MemoryId>,
    /// The log: latest change per id.
    log: HashMap<MemoryId, (u64, Option<VectorEntry>)>,
}

impl State {
    fn record(&mut self, id: MemoryId, entry: Option<VectorEntry>) -> u64 {
        self.seq += 1;
        self.log.insert(id, (self.seq, entry));
        self.seq
    }
}

impl MemoryEmbeddings {
    /// An empty store with no embedder pinned.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store with a test embedder of `dimension` pinned.
    pub fn pinned(dimension: usize) -> Self {
        let s = Self::default();
        s.state.lock().unwrap().embedder = Some(EmbedderInfo {
            model_id: "test-model".into(),
            dimension,
        });
        s
    }

    /// Stores (or replaces) a memory together with its embedding.
    pub fn put(&self, e: VectorEntry) -> u64 {
        let mut s = self.state.lock().unwrap();
        s.memories.insert(e.id, e.clone());
        s.embedded.insert(e.id);
        s.record(e.id, Some(e))
    }

    /// Stores each entry; the last sequence number.
    pub fn put_all(&self, es: impl IntoIterator<Item = VectorEntry>) -> u64 {
        es.into_iter().map(|e| self.put(e)).max().unwrap_or(0)
    }

    /// Deletes a memory (and so its embedding).
    pub fn remove(&self, id: MemoryId) -> u64 {
        let mut s = self.state.lock().unwrap();
        s.memories.remove(&id);
        s.embedded.remove(&id);
        s.record(id, None)
    }

    /// The live entries, by id.
    pub fn live(&self) -> HashMap<MemoryId, VectorEntry> {
        let s = self.state.lock().unwrap();
        s.embedded
            .iter()
            .map(|id| (*id, s.memories[id].clone()))
            .collect()
    }

    /// The log's last sequence number.
    pub fn seq(&self) -> u64 {
        self.state.lock().unwrap().seq
    }
}

#[async_trait]
impl EmbeddingStore for MemoryEmbeddings {
    async fn embedder(&self) -> crate::Result<Option<EmbedderInfo>> {
        Ok(self.state.lock().unwrap().embedder.clone())
    }

    async fn pin_embedder(&self, info: &EmbedderInfo) -> crate::Result<()> {
        let mut s = self.state.lock().unwrap();
        match &s.embedder {
            Some(e) if e == info => Ok(()),
            Some(e) if !s.embedded.is_empty() => Err(Error::Conflict(format!(
                "vectors of {} are stored; reindex to switch to {}",
                e.model_id, info.model_id
            ))),
            _ => {
                s.embedder = Some(info.clone());
                Ok(())
            }
        }
    }

    async fn put_embeddings(&self, items: Vec<(MemoryId, Vec<f32>)>) -> crate::Result<u64> {
        let mut s = self.state.lock().unwrap();
        let dim = s.embedder.as_ref().map(|e| e.dimension);
        for (id, v) in &items {
            if !s.memories.contains_key(id) {
                return Err(Error::not_found(format!("memory {id}")));
            }
            let d = dim.unwrap_or(v.len());
            crate::validate::vector(v, d)?;
        }
        let mut last = s.seq;
        for (id, v) in items {
            let mut e = s.memories[&id].clone();
            e.vector = v;
            s.memories.insert(id, e.clone());
            s.embedded.insert(id);
            last = s.record(id, Some(e));
        }
        Ok(last)
    }

    async fn get_embedding(&self, id: MemoryId) -> crate::Result<Option<Vec<f32>>> {
        let s = self.state.lock().unwrap();
        Ok(s.embedded
            .contains(&id)
            .then(|| s.memories[&id].vector.clone()))
    }

    async fn embedding_changes(
        &self,
        after: u64,
        limit: usize,
    ) -> crate::Result<Vec<EmbeddingChange>> {
        let s = self.state.lock().unwrap();
        let mut out: Vec<EmbeddingChange> = s
            .log
            .iter()
            .filter(|(_, (seq, _))| *seq > after)
            .map(|(id, (seq, entry))| EmbeddingChange {
                seq: *seq,
                id: *id,
                entry: entry.clone(),
            })
            .collect();
        out.sort_by_key(|c| c.seq);
        out.truncate(limit);
        Ok(out)
    }

    async fn last_embedding_seq(&self) -> crate::Result<u64> {
        Ok(self.state.lock().unwrap().seq)
    }

    async fn clear_embeddings(&self) -> crate::Result<()> {
        let mut s = self.state.lock().unwrap();
        let ids: Vec<MemoryId> = s.embedded.iter().copied().collect();
        for id in ids {
            s.record(id, None);
        }
        s.embedded.clear();
        s.embedder = None;
        Ok(())
    }
}

// ---------------------------------------------------------------- a text model

/// A [`TextModel`] that answers each call with the next scripted reply (the last one
/// again once the script is used up) and records the prompts it was given.
#[derive(Debug)]
pub struct ScriptedModel {
    name: String,
    replies: Mutex<VecDeque<String>>,
    last: Mutex<String>,
    prompts: Mutex<Vec<CompletionRequest>>,
}

impl ScriptedModel {
    /// A model named `name` that answers with `replies` in order.
    pub fn new(
        name: impl Into<String>,
        replies: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        let replies: VecDeque<String> = replies.into_iter().map(Into::into).collect();
        let last = replies.back().cloned().unwrap_or_default();
        ScriptedModel {
            name: name.into(),
            replies: Mutex::new(replies),
            last: Mutex::new(last),
            prompts: Mutex::new(Vec::new()),
        }
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<CompletionRequest> {
        self.prompts.lock().unwrap().clone()
    }
}

#[async_trait]
impl TextModel for ScriptedModel {
    fn name(&self) -> &str {
        &self.name
    }

    async fn complete(&self, request: CompletionRequest) -> Result<Completion> {
        self.prompts.lock().unwrap().push(request);
        let text = match self.replies.lock().unwrap().pop_front() {
            Some(t) => t,
            None => self.last.lock().unwrap().clone(),
        };
        let output_tokens = text.split_whitespace().count() as u64;
        Ok(Completion {
            text,
            model: self.name.clone(),
            finish_reason: FinishReason::Stop,
            usage: Usage {
                input_tokens: 0,
                output_tokens,
            },
            latency: std::time::Duration::ZERO,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn scripted() -> ((), ScriptedModel) {
        ((), ScriptedModel::new("scripted", ["hello", "again"]))
    }
    crate::text_model_suite!(scripted);

    #[tokio::test]
    async fn scripted_replies_in_order_then_repeats_the_last() {
        let m = ScriptedModel::new("m", ["a", "b"]);
        for want in ["a", "b", "b"] {
            let c = m.complete(CompletionRequest::prompt("q")).await.unwrap();
            assert_eq!(c.text, want);
        }
        assert_eq!(m.requests().len(), 3);
    }
}

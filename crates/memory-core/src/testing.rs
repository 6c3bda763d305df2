//! Test doubles for the ports (feature `test-utils`).
//!
//! [`FaultyStore`] wraps a real store and makes chosen write calls fail, so a caller's
//! multi-step operation can be tried with a failure at every one of its write steps.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
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
    async fn store_preference(&self, pref: NewPreference) -> Result<Preference> {
        self.gate("store_preference")?;
        self.inner.store_preference(pref).await
    }
    async fn get_preference(&self, scope: &Scope, key: &str) -> Result<Option<Preference>> {
        self.inner.get_preference(scope, key).await
    }
    async fn list_preferences(
        &self,
        scope: &Scope,
        category: Option<&str>,
    ) -> Result<Vec<Preference>> {
        self.inner.list_preferences(scope, category).await
    }
    async fn delete_preference(&self, scope: &Scope, key: &str) -> Result<bool> {
        self.gate("delete_preference")?;
        self.inner.delete_preference(scope, key).await
    }
    async fn add_project(&self, project: NewProject) -> Result<Project> {
        self.gate("add_project")?;
        self.inner.add_project(project).await
    }
    async fn get_project(&self, id: RecordId) -> Result<Option<Project>> {
        self.inner.get_project(id).await
    }
    async fn list_projects(&self, scope: &Scope, status: Option<&str>) -> Result<Vec<Project>> {
        self.inner.list_projects(scope, status).await
    }
    async fn touch_project(&self, id: RecordId) -> Result<Project> {
        self.gate("touch_project")?;
        self.inner.touch_project(id).await
    }
    async fn set_project_status(&self, id: RecordId, status: &str) -> Result<Project> {
        self.gate("set_project_status")?;
        self.inner.set_project_status(id, status).await
    }
    async fn store_pattern(&self, pattern: NewPattern) -> Result<PatternWrite> {
        self.gate("store_pattern")?;
        self.inner.store_pattern(pattern).await
    }
    async fn record_pattern_outcome(
        &self,
        id: RecordId,
        outcome: PatternOutcome,
    ) -> Result<CodePattern> {
        self.gate("record_pattern_outcome")?;
        self.inner.record_pattern_outcome(id, outcome).await
    }
    async fn get_pattern(&self, id: RecordId) -> Result<Option<CodePattern>> {
        self.inner.get_pattern(id).await
    }
    async fn list_patterns(&self, query: &PatternQuery) -> Result<Vec<CodePattern>> {
        self.inner.list_patterns(query).await
    }
    async fn search_patterns(&self, text: &str, query: &PatternQuery) -> Result<Vec<PatternHit>> {
        self.inner.search_patterns(text, query).await
    }
    async fn delete_pattern(&self, id: RecordId) -> Result<bool> {
        self.gate("delete_pattern")?;
        self.inner.delete_pattern(id).await
    }
    async fn update_pattern(&self, id: RecordId, patch: PatternPatch) -> Result<CodePattern> {
        self.gate("update_pattern")?;
        self.inner.update_pattern(id, patch).await
    }
    async fn record_learning_event(&self, event: NewLearningEvent) -> Result<LearningEvent> {
        self.gate("record_learning_event")?;
        self.inner.record_learning_event(event).await
    }
    async fn list_learning_events(&self, query: &EventQuery) -> Result<Vec<LearningEvent>> {
        self.inner.list_learning_events(query).await
    }
    async fn add_conversation(&self, conversation: NewConversation) -> Result<ConversationSummary> {
        self.gate("add_conversation")?;
        self.inner.add_conversation(conversation).await
    }
    async fn list_conversations(
        &self,
        scope: &Scope,
        limit: usize,
    ) -> Result<Vec<ConversationSummary>> {
        self.inner.list_conversations(scope, limit).await
    }
    async fn record_decision(&self, decision: NewDecision) -> Result<AgentDecision> {
        self.gate("record_decision")?;
        self.inner.record_decision(decision).await
    }
    async fn update_decision_outcome(
        &self,
        id: RecordId,
        outcome: &str,
        reward: Reward,
    ) -> Result<AgentDecision> {
        self.gate("update_decision_outcome")?;
        self.inner
            .update_decision_outcome(id, outcome, reward)
            .await
    }
    async fn get_decision(&self, id: RecordId) -> Result<Option<AgentDecision>> {
        self.inner.get_decision(id).await
    }
    async fn list_decisions(&self, query: &DecisionQuery) -> Result<Vec<AgentDecision>> {
        self.inner.list_decisions(query).await
    }
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
    async fn write_batch(&self, ops: Vec<WriteOp>) -> Result<Vec<WriteOutcome>> {
        self.gate("write_batch")?;
        self.inner.write_batch(ops).await
    }
    async fn stats(&self) -> Result<StoreStats> {
        self.inner.stats().await
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

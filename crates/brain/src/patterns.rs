//! The facade's code patterns: the seed's `store_code_pattern` and
//! `find_similar_patterns`, with a pattern's entry in the patterns collection kept in step.

use memory_core::*;
use serde_json::Value;

use crate::brain::*;
use crate::error::{BrainError, Result};

impl Brain {
    // ---- code patterns ----------------------------------------------------------------

    /// Stores a code pattern (the seed's `store_code_pattern`): a new one is also embedded
    /// into the patterns collection; storing the same one again counts a success.
    #[tracing::instrument(skip_all)]
    pub async fn add_pattern(&self, pattern: NewPattern) -> Result<PatternWrite> {
        pattern.validate()?;
        let write = self.store.store_pattern(pattern).await?;
        if write.inserted {
            // The entry needs the new pattern's id, so it cannot share the pattern's
            // transaction; if it fails, the pattern is taken back, so the call commits
            // nothing and fails.
            if let Err(e) = self.index_pattern(&write.pattern).await {
                if let Err(undo) = self.store.delete_pattern(write.pattern.id).await {
                    tracing::error!(pattern = write.pattern.id, error = %undo, "could not take back a pattern whose entry failed");
                }
                return Err(e);
            }
            // Distilling follows from the stored pattern; the pattern stands whatever
            // happens to it.
            if let Err(e) = self.auto_distill(&write.pattern).await {
                tracing::warn!(pattern = write.pattern.id, error = %e, "automatic distillation failed");
            }
        }
        Ok(write)
    }

    pub(crate) async fn index_pattern(&self, p: &CodePattern) -> Result<Memory> {
        self.remember_unchecked(vec![pattern_memory(p)?])
            .await?
            .pop()
            .ok_or_else(|| {
                BrainError::Core(memory_core::Error::Backend {
                    message: "the store returned no memory for a pattern entry".into(),
                    source: None,
                })
            })
    }

    /// Counts an outcome on a pattern.
    pub async fn pattern_outcome(
        &self,
        id: RecordId,
        outcome: PatternOutcome,
    ) -> Result<CodePattern> {
        Ok(self.store.record_pattern_outcome(id, outcome).await?)
    }

    /// Deletes a pattern and its entry in the patterns collection.
    /// Distilled patterns made from it are marked stale.
    pub async fn delete_pattern(&self, id: RecordId) -> Result<bool> {
        let scope = self.store.get_pattern(id).await?.map(|p| p.scope);
        let existed = self.store.delete_pattern(id).await?;
        if let Some(scope) = &scope {
            self.mark_distilled_stale(scope, id).await?;
        }
        if let Some(scope) = scope {
            self.forget_where(
                &pattern_memories(scope).with_metadata(MetadataCondition::eq("pattern_id", id)),
            )
            .await?;
        }
        Ok(existed)
    }

    /// The seed's `find_similar_patterns`: patterns whose problem is like `text`, ranked
    /// by hybrid recall over the patterns collection and their success counts.
    #[tracing::instrument(skip_all)]
    pub async fn find_similar_patterns(
        &self,
        text: &str,
        query: &PatternQuery,
    ) -> Result<Vec<PatternMatch>> {
        let mut filter = pattern_memories(query.scope.clone());
        if let Some(t) = &query.pattern_type {
            filter = filter.with_metadata(MetadataCondition::eq("pattern_type", t.clone()));
        }
        if let Some(l) = &query.language {
            filter = filter.with_metadata(MetadataCondition::eq("language", l.clone()));
        }
        let hits = self
            .recall(&RecallQuery {
                text: text.to_owned(),
                filter,
                k: Some(query.limit.clamp(1, 1_000)),
                mode: RecallMode::Hybrid,
                min_score: None,
            })
            .await?;
        let mut out = Vec::with_capacity(hits.len());
        for h in hits {
            let Some(pid) = h.memory.metadata.get("pattern_id").and_then(Value::as_i64) else {
                continue;
            };
            // A pattern entry is the brain's own, written in its pattern's exact scope;
            // anything else is not a link to honour.
            if let Some(pattern) = self
                .store
                .get_pattern(pid)
                .await?
                .filter(|p| p.scope == h.memory.scope && query.scope.matches(&p.scope))
            {
                out.push(PatternMatch {
                    success_rate: pattern.success_rate(),
                    pattern,
                    score: h.score,
                });
            }
        }
        Ok(out)
    }

    /// Patterns, most successful first.
    pub async fn list_patterns(&self, query: &PatternQuery) -> Result<Vec<CodePattern>> {
        Ok(self.store.list_patterns(query).await?)
    }
}

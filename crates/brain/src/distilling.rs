//! Knowledge distillation through the brain: the `distill` crate's distiller over the
//! brain's store and embedder, with the routed LLM when asked, keeping the patterns
//! collection (semantic pattern search) in step and marking distilled patterns stale
//! when a source is deleted.

use memory_core::RecordStoreExt;
use std::sync::Arc;

use llm_router::{Complexity, RouteRequest, TaskType};
use memory_core::{CodePattern, MetadataCondition, PatternQuery, RecordId, Scope, TextModel};

use crate::Brain;
use crate::error::{BrainError, Result};

impl From<distill::DistillError> for BrainError {
    fn from(e: distill::DistillError) -> Self {
        match e {
            distill::DistillError::Memory(m) => BrainError::Core(m),
            distill::DistillError::InvalidOptions(m) => BrainError::Config(m),
            other => BrainError::Core(memory_core::Error::Backend {
                message: other.to_string(),
                source: None,
            }),
        }
    }
}

impl Brain {
    /// Distils the patterns of `pattern_type` visible through `scope` (the seed's
    /// KnowledgeDistiller; see the `distill` crate): groups of similar patterns become
    /// `distilled_<type>` patterns with provenance. With `use_llm`, the routed model
    /// (a summarization task, local in the seed's table) writes each distillation and,
    /// when `options.use_llm_grouping`, forms the groups; without, it is extractive and
    /// offline. `use_llm` without a configured provider is
    /// [`llm_router::LlmError::NotConfigured`].
    pub async fn distill(
        &self,
        scope: &Scope,
        pattern_type: &str,
        use_llm: bool,
        options: &distill::DistillOptions,
    ) -> Result<distill::DistillReport> {
        let llm: Option<Arc<dyn TextModel>> = if use_llm {
            let router = Arc::clone(self.llm()?);
            Some(Arc::new(llm_router::RoutedModel::new(
                router,
                RouteRequest::new(TaskType::Summarization, Complexity::Simple),
            )))
        } else {
            None
        };
        let mut options = options.clone();
        options.use_llm_grouping &= use_llm;
        let distiller =
            distill::KnowledgeDistiller::new(self.store_arc(), self.embedder_arc(), llm);
        let report = distiller.distill(scope, pattern_type, &options).await?;
        for id in report.created.iter().chain(&report.updated) {
            if let Some(p) = self.store().get_pattern(*id).await? {
                self.reindex_pattern(&p).await?;
            }
        }
        Ok(report)
    }

    /// Distils every pattern type visible through `scope` (distilled types excepted).
    pub async fn distill_all(
        &self,
        scope: &Scope,
        use_llm: bool,
        options: &distill::DistillOptions,
    ) -> Result<Vec<distill::DistillReport>> {
        let mut types: Vec<String> = self
            .store()
            .list_patterns(&PatternQuery::new(scope.clone(), 100_000))
            .await?
            .into_iter()
            .map(|p| p.pattern_type)
            .filter(|t| !t.starts_with(distill::DISTILLED_PREFIX))
            .collect();
        types.sort();
        types.dedup();
        let mut reports = Vec::with_capacity(types.len());
        for t in types {
            reports.push(self.distill(scope, &t, use_llm, options).await?);
        }
        Ok(reports)
    }

    /// With `distill.auto_after = N`, distils a pattern's type (offline) each time the
    /// type reaches another multiple of N patterns in the pattern's scope.
    pub(crate) async fn auto_distill(&self, p: &CodePattern) -> Result<()> {
        let Some(n) = self.config().distill.auto_after.filter(|n| *n > 0) else {
            return Ok(());
        };
        if p.pattern_type.starts_with(distill::DISTILLED_PREFIX) {
            return Ok(());
        }
        let mut q = PatternQuery::new(p.scope.clone(), 100_000);
        q.pattern_type = Some(p.pattern_type.clone());
        let count = self.store().list_patterns(&q).await?.len() as u64;
        if count.is_multiple_of(n) {
            let report = self
                .distill(
                    &p.scope,
                    &p.pattern_type,
                    false,
                    &distill::DistillOptions::default(),
                )
                .await?;
            tracing::info!(
                pattern_type = %p.pattern_type,
                created = report.created.len(),
                updated = report.updated.len(),
                "distilled automatically"
            );
        }
        Ok(())
    }

    /// Replaces a pattern's entry in the patterns collection.
    async fn reindex_pattern(&self, p: &CodePattern) -> Result<()> {
        self.forget_where(
            &crate::brain::pattern_memories(p.scope.clone())
                .with_metadata(MetadataCondition::eq("pattern_id", p.id)),
        )
        .await?;
        self.index_pattern(p).await?;
        Ok(())
    }

    /// Marks stale the distilled patterns made from `deleted` (see
    /// [`distill::mark_stale`]).
    pub(crate) async fn mark_distilled_stale(
        &self,
        scope: &Scope,
        deleted: RecordId,
    ) -> Result<Vec<RecordId>> {
        Ok(distill::mark_stale(self.store(), scope, deleted).await?)
    }
}

//! The operations both surfaces offer, over one [`Brain`], each run as a [`Principal`].
//!
//! This is where isolation is enforced, once for HTTP and MCP alike: a request's scope is
//! narrowed to its token's ([`Principal::narrow`]), and a record named by id is looked up
//! first and treated as absent when it lies outside the token's scope, so ids of other
//! users' records reveal nothing. Writes need a read-write token.

use memory_core::RecordStoreExt;
use std::sync::Arc;
use std::time::Duration;

use brain::reasoning::CodeQuality;
use brain::{Brain, FeedbackRequest, ReasonRequest, RecallMode, RecallQuery};
use memory_core::{
    DecisionQuery, Importance, MemoryId, MemoryKind, Metadata, NewDecision, NewMemory, NewPattern,
    NewPreference, PatternOutcome, PatternQuery, RecordId, Reward, Timestamp,
};
use serde_json::Value;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::wire::*;

/// The most hits one recall returns, and the most decisions one list returns.
pub const MAX_K: usize = 1000;
/// The most patterns one pattern search returns.
pub const MAX_PATTERN_K: usize = 100;

/// The brain's operations, checked against the caller's token.
#[derive(Clone)]
pub struct Api {
    brain: Arc<Brain>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").finish_non_exhaustive()
    }
}

fn bounded_k(k: Option<usize>, default: usize, max: usize) -> Result<Option<usize>, ApiError> {
    match k {
        Some(0) => Err(ApiError::invalid("k must be at least 1")),
        Some(k) if k > max => Err(ApiError::invalid(format!(
            "k must be at most {max}, not {k}"
        ))),
        Some(k) => Ok(Some(k)),
        None => Ok(Some(default).filter(|d| *d > 0)),
    }
}

impl Api {
    /// Serves `brain`.
    pub fn new(brain: Arc<Brain>) -> Self {
        Api { brain }
    }

    /// The brain served.
    pub fn brain(&self) -> &Arc<Brain> {
        &self.brain
    }

    /// Whether an LLM is configured (so `reason` can work).
    pub fn llm_configured(&self) -> bool {
        self.brain.llm().is_ok()
    }

    /// Stores a memory.
    pub async fn remember(&self, p: &Principal, a: RememberArgs) -> Result<MemoryOut, ApiError> {
        p.require_write()?;
        let scope = p.narrow(a.scope.map(Into::into))?;
        let mut m = NewMemory::new(a.content).with_scope(scope);
        if let Some(kind) = a.kind {
            m = m.with_kind(MemoryKind::new(kind)?);
        }
        if let Some(i) = a.importance {
            m = m.with_importance(Importance::new(i)?);
        }
        if let Some(meta) = a.metadata {
            m = m.with_metadata(Metadata::from_value(Value::Object(meta))?);
        }
        if let Some(ttl) = a.ttl_seconds {
            m = m.with_expiry(Timestamp::now().saturating_add(Duration::from_secs(ttl)));
        }
        let stored = self.brain.remember(m).await?;
        Ok((&stored).into())
    }

    /// Recalls memories by meaning and keywords within the caller's reach.
    pub async fn recall(&self, p: &Principal, a: RecallArgs) -> Result<RecallOut, ApiError> {
        let scope = p.narrow(a.scope.map(Into::into))?;
        let mut q = RecallQuery::new(a.query, scope);
        q.k = bounded_k(a.k, 0, MAX_K)?;
        q.mode = match a.mode.unwrap_or_default() {
            RecallModeArg::Hybrid => RecallMode::Hybrid,
            RecallModeArg::Vector => RecallMode::Vector,
            RecallModeArg::Keyword => RecallMode::Keyword,
        };
        let filters = a.filters.unwrap_or_default();
        for kind in a.kinds.into_iter().chain(filters.kinds).flatten() {
            q.filter.kinds.push(MemoryKind::new(kind)?);
        }
        for (key, value) in filters.metadata.unwrap_or_default() {
            q.filter
                .metadata
                .push(memory_core::MetadataCondition::eq(key, value));
        }
        let time = |t: Option<String>, field: &str| -> Result<_, ApiError> {
            t.map(|t| {
                t.parse::<memory_core::Timestamp>()
                    .map_err(|e| ApiError::invalid(format!("filters.{field}: {e}")))
            })
            .transpose()
        };
        q.filter.created_after = time(filters.created_after, "created_after")?;
        q.filter.created_before = time(filters.created_before, "created_before")?;
        q.filter.validate()?;
        q.min_score = a.min_score;
        let hits = self.brain.recall(&q).await?;
        Ok(RecallOut {
            hits: hits
                .iter()
                .map(|h| RecallHitOut {
                    memory: (&h.memory).into(),
                    score: h.score.total,
                    parts: serde_json::to_value(h.score).unwrap_or(Value::Null),
                })
                .collect(),
        })
    }

    fn memory_id(id: &str) -> Result<MemoryId, ApiError> {
        id.parse()
            .map_err(|e: memory_core::ValidationError| ApiError::invalid(e.to_string()))
    }

    /// A memory by id, if it is within reach.
    pub async fn get_memory(&self, p: &Principal, id: &str) -> Result<MemoryOut, ApiError> {
        let id = Self::memory_id(id)?;
        match self.brain.get(id).await? {
            Some(m) if p.can_see(&m.scope) => Ok((&m).into()),
            _ => Err(ApiError::not_found(format!("memory {id} not found"))),
        }
    }

    /// Forgets a memory within reach; `false` when there is none.
    pub async fn forget(&self, p: &Principal, a: ForgetArgs) -> Result<ForgetOut, ApiError> {
        p.require_write()?;
        let id = Self::memory_id(&a.id)?;
        let forgotten = match self.brain.get(id).await? {
            Some(m) if p.can_see(&m.scope) => self.brain.forget(id).await?,
            _ => false,
        };
        Ok(ForgetOut { forgotten })
    }

    /// Sets a preference.
    pub async fn set_preference(
        &self,
        p: &Principal,
        a: SetPreferenceArgs,
    ) -> Result<PreferenceOut, ApiError> {
        p.require_write()?;
        let scope = p.narrow(a.scope.map(Into::into))?;
        let pref = self
            .brain
            .set_preference(NewPreference {
                scope,
                key: a.key,
                value: a.value,
                category: a.category,
            })
            .await?;
        Ok((&pref).into())
    }

    /// Preferences: one by key (in exactly the scope given), or all visible.
    pub async fn preferences(
        &self,
        p: &Principal,
        a: GetPreferencesArgs,
    ) -> Result<PreferencesOut, ApiError> {
        let scope = p.narrow(a.scope.map(Into::into))?;
        let prefs = match &a.key {
            Some(key) => self
                .brain
                .preference(&scope, key)
                .await?
                .into_iter()
                .filter(|pr| a.category.as_ref().is_none_or(|c| *c == pr.category))
                .collect(),
            None => {
                self.brain
                    .preferences(&scope, a.category.as_deref())
                    .await?
            }
        };
        Ok(PreferencesOut {
            preferences: prefs.iter().map(Into::into).collect(),
        })
    }

    /// Stores a code pattern (the same one again counts a success).
    pub async fn add_pattern(
        &self,
        p: &Principal,
        a: AddPatternArgs,
    ) -> Result<PatternWriteOut, ApiError> {
        p.require_write()?;
        let scope = p.narrow(a.scope.map(Into::into))?;
        let w = self
            .brain
            .add_pattern(NewPattern {
                scope,
                pattern_type: a.pattern_type,
                context: a.context,
                solution: a.solution,
                language: a.language,
                metadata: Metadata::new(),
            })
            .await?;
        Ok(PatternWriteOut {
            pattern: (&w.pattern).into(),
            inserted: w.inserted,
        })
    }

    async fn visible_pattern(&self, p: &Principal, id: RecordId) -> Result<(), ApiError> {
        match self
            .brain
            .store()
            .get_pattern(id)
            .await
            .map_err(brain::BrainError::from)?
        {
            Some(pat) if p.can_see(&pat.scope) => Ok(()),
            _ => Err(ApiError::not_found(format!("pattern {id} not found"))),
        }
    }

    /// Counts a success or failure of a pattern within reach.
    pub async fn pattern_outcome(
        &self,
        p: &Principal,
        a: PatternOutcomeArgs,
    ) -> Result<PatternOut, ApiError> {
        p.require_write()?;
        self.visible_pattern(p, a.id).await?;
        let outcome = if a.success {
            PatternOutcome::Success
        } else {
            PatternOutcome::Failure
        };
        let pat = self.brain.pattern_outcome(a.id, outcome).await?;
        Ok((&pat).into())
    }

    /// Patterns for a problem, by meaning and success.
    pub async fn search_patterns(
        &self,
        p: &Principal,
        a: SearchPatternsArgs,
    ) -> Result<PatternsOut, ApiError> {
        let scope = p.narrow(a.scope.map(Into::into))?;
        let limit = bounded_k(a.k, 5, MAX_PATTERN_K)?.unwrap_or(5);
        let q = PatternQuery {
            scope,
            pattern_type: a.pattern_type,
            language: a.language,
            limit,
        };
        let found = self.brain.find_similar_patterns(&a.query, &q).await?;
        Ok(PatternsOut {
            matches: found
                .iter()
                .map(|m| PatternMatchOut {
                    pattern: (&m.pattern).into(),
                    score: m.score.total,
                })
                .collect(),
        })
    }

    /// Records a decision.
    pub async fn record_decision(
        &self,
        p: &Principal,
        a: RecordDecisionArgs,
    ) -> Result<DecisionOut, ApiError> {
        p.require_write()?;
        let scope = p.narrow(a.scope.map(Into::into))?;
        // The brain refuses these too; checking here first answers 400 before any
        // lookup, whatever brain version serves.
        if a.options.is_empty() {
            return Err(ApiError::invalid(
                "options must list at least one option (the one chosen among them)",
            ));
        }
        for o in &a.options {
            memory_core::validate::non_empty_text("option", o)?;
        }
        if !a.options.contains(&a.chosen_option) {
            return Err(ApiError::invalid("chosen_option must be one of options"));
        }
        let mut metadata = Metadata::new();
        if let Some(bucket) = a.task_bucket {
            // The bucket becomes part of a policy name when the outcome arrives; a bad
            // one must fail now, not then.
            memory_core::validate::key("task bucket", &bucket)?;
            metadata = metadata.with("task_bucket", bucket);
        }
        if let Some(id) = a.pattern_id {
            self.visible_pattern(p, id).await?;
            metadata = metadata.with("pattern_id", id);
        }
        let d = self
            .brain
            .record_decision(NewDecision {
                scope,
                agent_type: a.agent_type,
                context: a.context,
                options: a.options,
                chosen_option: a.chosen_option,
                reasoning: a.reasoning.unwrap_or_default(),
                metadata,
            })
            .await?;
        Ok((&d).into())
    }

    async fn visible_decision(&self, p: &Principal, id: RecordId) -> Result<(), ApiError> {
        match self
            .brain
            .store()
            .get_decision(id)
            .await
            .map_err(brain::BrainError::from)?
        {
            Some(d) if p.can_see(&d.scope) => Ok(()),
            _ => Err(ApiError::not_found(format!("decision {id} not found"))),
        }
    }

    /// Records a decision's outcome and learns from it.
    pub async fn decision_outcome(
        &self,
        p: &Principal,
        a: DecisionOutcomeArgs,
    ) -> Result<OutcomeOut, ApiError> {
        p.require_write()?;
        let reward = Reward::new(a.reward)?;
        memory_core::validate::non_empty_text("outcome", &a.outcome)?;
        self.visible_decision(p, a.id).await?;
        let learned = self
            .brain
            .update_decision_outcome(a.id, &a.outcome, reward)
            .await?;
        Ok(OutcomeOut {
            decision: (&learned.decision).into(),
            policies: learned.policies,
            pattern_id: learned.pattern,
        })
    }

    /// Recent decisions within reach.
    pub async fn decisions(
        &self,
        p: &Principal,
        a: ListDecisionsArgs,
    ) -> Result<DecisionsOut, ApiError> {
        let scope = p.narrow(a.scope.map(Into::into))?;
        let limit = bounded_k(a.limit, 20, MAX_K)?.unwrap_or(20);
        let ds = self
            .brain
            .decisions(&DecisionQuery {
                scope,
                agent_type: a.agent_type,
                with_outcome: a.pending.map(|p| !p),
                limit,
            })
            .await?;
        Ok(DecisionsOut {
            decisions: ds.iter().map(Into::into).collect(),
        })
    }

    /// Learns from feedback (a model's rating when an LLM is configured, the offline
    /// estimate otherwise).
    pub async fn feedback(&self, p: &Principal, a: FeedbackArgs) -> Result<FeedbackOut, ApiError> {
        p.require_write()?;
        let scope = p.narrow(a.scope.map(Into::into))?;
        if let Some(id) = a.decision_id {
            self.visible_decision(p, id).await?;
        }
        let metrics = a.tests_passed.is_some()
            || a.tests_failed.is_some()
            || a.lint_warnings.is_some()
            || a.build_failed.is_some();
        let quality = metrics.then(|| CodeQuality {
            tests_passed: a.tests_passed.unwrap_or(0),
            tests_failed: a.tests_failed.unwrap_or(0),
            lint_warnings: a.lint_warnings.unwrap_or(0),
            build_warnings: 0,
            build_failed: a.build_failed.unwrap_or(false),
        });
        let learned = self
            .brain
            .learn_from_feedback(&FeedbackRequest {
                feedback: a.feedback,
                task_context: a.task_context.unwrap_or_default(),
                scope,
                decision: a.decision_id,
                success: a.success,
                quality,
            })
            .await?;
        Ok(FeedbackOut {
            reward: learned.reward,
            rating: learned.rating,
            source: match learned.source {
                brain::FeedbackSource::Llm => "llm",
                brain::FeedbackSource::Offline => "offline",
            }
            .to_owned(),
            fallback_reason: learned.fallback_reason,
            outcome: learned.outcome.map(|o| OutcomeOut {
                decision: (&o.decision).into(),
                policies: o.policies,
                pattern_id: o.pattern,
            }),
            learned: learned.learned.as_ref().map(Into::into),
        })
    }

    /// Ranks options by what worked for this user before.
    pub async fn recommend(
        &self,
        p: &Principal,
        a: RecommendArgs,
    ) -> Result<RecommendOut, ApiError> {
        let scope = p.narrow(a.scope.map(Into::into))?;
        let bucket = a.task_bucket.unwrap_or_else(|| "default".to_owned());
        let r = self
            .brain
            .recommend(&scope, &a.agent_type, &bucket, &a.options, a.explore)
            .await?;
        Ok(RecommendOut {
            ranked: r
                .ranked
                .into_iter()
                .map(|o| RankedOut {
                    option: o.option,
                    score: o.score,
                    observations: o.observations,
                    why: o.why,
                })
                .collect(),
            explored: r.explored,
        })
    }

    /// Appends a message to a context window and returns the window as kept.
    pub async fn add_message(
        &self,
        p: &Principal,
        a: AddMessageArgs,
    ) -> Result<ContextOut, ApiError> {
        p.require_write()?;
        let scope = p.narrow(a.scope.map(Into::into))?;
        memory_core::validate::non_empty_text("message", &a.content)?;
        self.brain
            .add_message(&scope, a.role.into(), &a.content)
            .await?;
        let window = self.brain.context_window(&scope).await?;
        Ok(window.as_slice().into())
    }

    /// A context window, oldest first.
    pub async fn context(&self, p: &Principal, a: GetContextArgs) -> Result<ContextOut, ApiError> {
        let scope = p.narrow(a.scope.map(Into::into))?;
        let window = self.brain.context_window(&scope).await?;
        Ok(window.as_slice().into())
    }

    /// Reasons about a goal with the configured LLM and records the decision.
    pub async fn reason(&self, p: &Principal, a: ReasonArgs) -> Result<ReasonOut, ApiError> {
        p.require_write()?;
        let scope = p.narrow(a.scope.map(Into::into))?;
        let mut req = ReasonRequest::new(a.goal, scope);
        req.options = a.options;
        req.constraints = a.constraints;
        req.reflect = a.reflect;
        if let Some(c) = a.complexity {
            req.complexity = c.into();
        }
        if let Some(t) = a.agent_type {
            req.agent_type = t;
        }
        if let Some(b) = a.task_bucket {
            req.task_bucket = b;
        }
        let out = self.brain.reason(&req).await?;
        Ok(ReasonOut {
            reasoning: out.reasoning,
            plan: serde_json::to_value(&out.plan).unwrap_or(Value::Null),
            critique: out.critique,
            decision: out.decision,
            decision_id: out.decision_id,
            calls: serde_json::to_value(&out.calls).unwrap_or(Value::Null),
        })
    }
}

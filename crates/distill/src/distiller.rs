//! The distiller: list, group, distil, store with provenance, and mark stale.

use memory_core::RecordStoreExt;
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use memory_core::{
    CodePattern, CompletionRequest, Embedder, LongTermStore, Metadata, NewPattern, PatternPatch,
    PatternQuery, RecordId, Scope, TextModel,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::cluster::{average_linkage, medoid, similarity_matrix};
use crate::error::{DistillError, Result};
use crate::extract::shared_words;
use crate::parse::{Distilled, parse_distilled, parse_groups};
use crate::prompt::{distill_prompt, grouping_prompt};

/// The prefix of a distilled pattern's type: patterns of type `T` distil into
/// `distilled_T`, as in the seed's `store_distilled`.
pub const DISTILLED_PREFIX: &str = "distilled_";

/// How many existing distilled patterns are read back, per type, to match re-runs and
/// to mark stale ones.
pub const DISTILLED_SCAN_LIMIT: usize = 100_000;

/// The distilled type of `pattern_type`: `distilled_<pattern_type>`.
pub fn distilled_type(pattern_type: &str) -> String {
    format!("{DISTILLED_PREFIX}{pattern_type}")
}

/// How a [`KnowledgeDistiller::distill`] run behaves. The defaults are the seed's
/// (3 and 100) plus this crate's grouping threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DistillOptions {
    /// Fewer patterns of the type than this: nothing to do (the seed's 3).
    pub min_patterns: usize,
    /// The most successful this many patterns are considered (the seed's 100).
    pub max_patterns: usize,
    /// Embedding grouping merges clusters while their average cosine similarity is at
    /// least this.
    pub similarity_threshold: f64,
    /// Group with the LLM (the seed's grouping prompt) instead of by embedding, when an
    /// LLM is configured; an invalid answer falls back to the embedding groups.
    pub use_llm_grouping: bool,
    /// Groups smaller than this are not distilled (at least 2).
    pub min_group_size: usize,
    /// A group whose source ids overlap an existing distilled pattern's
    /// `distilled_from` by at least this Jaccard index updates that pattern.
    pub overlap_threshold: f64,
    /// Distil again even a group whose sources are exactly those of a fresh (not stale)
    /// distilled pattern; by default such a group is left unchanged with no LLM call.
    pub force: bool,
}

impl Default for DistillOptions {
    fn default() -> Self {
        DistillOptions {
            min_patterns: 3,
            max_patterns: 100,
            similarity_threshold: 0.6,
            use_llm_grouping: false,
            min_group_size: 2,
            overlap_threshold: 0.5,
            force: false,
        }
    }
}

impl DistillOptions {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(DistillError::InvalidOptions(m));
        if self.max_patterns == 0 {
            return bad("max_patterns must be at least 1".into());
        }
        if self.min_group_size < 2 {
            return bad(format!(
                "min_group_size must be at least 2, got {}",
                self.min_group_size
            ));
        }
        if !(self.similarity_threshold.is_finite()
            && (-1.0..=1.0).contains(&self.similarity_threshold))
        {
            return bad(format!(
                "similarity_threshold must be in [-1, 1], got {}",
                self.similarity_threshold
            ));
        }
        if !(self.overlap_threshold.is_finite()
            && self.overlap_threshold > 0.0
            && self.overlap_threshold <= 1.0)
        {
            return bad(format!(
                "overlap_threshold must be in (0, 1], got {}",
                self.overlap_threshold
            ));
        }
        Ok(())
    }
}

/// How the groups were formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Grouping {
    /// Average-linkage clustering of embeddings.
    #[serde(rename = "embedding")]
    Embedding,
    /// The LLM's answer to the seed's grouping prompt.
    #[serde(rename = "llm")]
    Llm,
    /// The LLM was asked but its answer was invalid or the call failed; the embedding
    /// groups were used.
    #[serde(rename = "llm-fallback")]
    LlmFallback,
}

/// How a group was distilled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The LLM's answer to the seed's distillation prompt.
    Llm,
    /// The group's medoid and shared context words, no LLM.
    Extractive,
}

impl Method {
    /// The name stored in metadata: `llm` or `extractive`.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Llm => "llm",
            Method::Extractive => "extractive",
        }
    }
}

/// What a group's distillation did to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A new distilled pattern was stored.
    Created,
    /// An existing distilled pattern (overlapping sources) was updated.
    Updated,
    /// An existing distilled pattern already said the same.
    Unchanged,
}

/// One distilled group in a [`DistillReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupOutcome {
    /// The source patterns, by id.
    pub sources: Vec<RecordId>,
    /// The distilled pattern.
    pub distilled_id: RecordId,
    /// Created, updated or unchanged.
    pub action: Action,
    /// How it was distilled (for an unchanged group skipped without distilling, the
    /// method stored earlier).
    pub method: Method,
    /// The confidence stored.
    pub confidence: f64,
    /// Why the LLM's distillation was not used, if it was asked and failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

/// What a [`KnowledgeDistiller::distill`] run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistillReport {
    /// The type distilled.
    pub pattern_type: String,
    /// The type the distilled patterns are stored as (`distilled_<type>`).
    pub distilled_type: String,
    /// How many patterns were considered.
    pub considered: usize,
    /// Why nothing was done (too few patterns), if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// How the groups were formed.
    pub grouping: Grouping,
    /// Why the LLM grouping was not used, when `grouping` is `llm-fallback`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grouping_note: Option<String>,
    /// The groups distilled (at least `min_group_size` patterns each), source ids sorted.
    pub groups: Vec<Vec<RecordId>>,
    /// Patterns in groups too small to distil: left as they are.
    pub singletons: Vec<RecordId>,
    /// Distilled patterns stored by this run.
    pub created: Vec<RecordId>,
    /// Distilled patterns updated by this run.
    pub updated: Vec<RecordId>,
    /// Distilled patterns that already said the same.
    pub unchanged: Vec<RecordId>,
    /// LLM calls made, failed ones included.
    pub llm_calls: usize,
    /// One entry per distilled group, in the order of `groups`.
    pub outcomes: Vec<GroupOutcome>,
}

impl DistillReport {
    fn empty(pattern_type: &str) -> Self {
        DistillReport {
            pattern_type: pattern_type.to_owned(),
            distilled_type: distilled_type(pattern_type),
            considered: 0,
            skipped: None,
            grouping: Grouping::Embedding,
            grouping_note: None,
            groups: Vec::new(),
            singletons: Vec::new(),
            created: Vec::new(),
            updated: Vec::new(),
            unchanged: Vec::new(),
            llm_calls: 0,
            outcomes: Vec::new(),
        }
    }
}

/// The provenance a distilled pattern carries in its metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The source patterns' ids.
    pub distilled_from: Vec<RecordId>,
    /// The confidence in `[0, 1]`.
    pub confidence: f64,
    /// How many sources.
    pub source_count: usize,
    /// `llm` or `extractive`.
    pub method: String,
    /// Whether a source was deleted since.
    pub stale: bool,
}

impl Provenance {
    /// Reads provenance from a pattern's metadata; `None` when `distilled_from` is
    /// missing or not an array of ids. Other fields default.
    pub fn from_metadata(m: &Metadata) -> Option<Provenance> {
        let ids = m.get("distilled_from")?.as_array()?;
        let distilled_from: Vec<RecordId> = ids.iter().filter_map(Value::as_i64).collect();
        Some(Provenance {
            source_count: m
                .get("source_count")
                .and_then(Value::as_u64)
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(distilled_from.len()),
            distilled_from,
            confidence: m.get("confidence").and_then(Value::as_f64).unwrap_or(0.0),
            method: m
                .get("method")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            stale: m.get("stale").and_then(Value::as_bool).unwrap_or(false),
        })
    }

    /// The metadata written for a distilled pattern; other keys of `base` are kept.
    pub fn to_metadata(&self, base: &Metadata) -> Metadata {
        let mut map = base.as_map().clone();
        map.insert("distilled_from".into(), json!(self.distilled_from));
        map.insert("confidence".into(), json!(self.confidence));
        map.insert("source_count".into(), json!(self.source_count));
        map.insert("method".into(), json!(self.method));
        map.insert("stale".into(), json!(self.stale));
        Metadata::from(map)
    }
}

/// The Jaccard index of two id sets (0 when both are empty).
pub fn jaccard(a: &[RecordId], b: &[RecordId]) -> f64 {
    let a: BTreeSet<_> = a.iter().collect();
    let b: BTreeSet<_> = b.iter().collect();
    let union = a.union(&b).count();
    if union == 0 {
        return 0.0;
    }
    a.intersection(&b).count() as f64 / union as f64
}

/// Compresses stored patterns of a type into general ones; see the crate docs.
pub struct KnowledgeDistiller {
    store: Arc<dyn LongTermStore>,
    embedder: Arc<dyn Embedder>,
    llm: Option<Arc<dyn TextModel>>,
}

impl std::fmt::Debug for KnowledgeDistiller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnowledgeDistiller")
            .field("embedder", &self.embedder.info())
            .field("llm", &self.llm.as_ref().map(|m| m.name().to_owned()))
            .finish_non_exhaustive()
    }
}

/// An existing distilled pattern and what its metadata says.
struct Existing {
    pattern: CodePattern,
    provenance: Provenance,
    claimed: bool,
}

impl KnowledgeDistiller {
    /// A distiller over `store`, grouping with `embedder`, distilling with `llm` when
    /// given (extractively otherwise).
    pub fn new(
        store: Arc<dyn LongTermStore>,
        embedder: Arc<dyn Embedder>,
        llm: Option<Arc<dyn TextModel>>,
    ) -> Self {
        KnowledgeDistiller {
            store,
            embedder,
            llm,
        }
    }

    /// Distils the patterns of `pattern_type` visible through `scope` and stores the
    /// results as `distilled_<pattern_type>` patterns owned by `scope`.
    ///
    /// Fails only on a store or embedder error or invalid options; LLM failures fall
    /// back (and are counted and noted in the report).
    pub async fn distill(
        &self,
        scope: &Scope,
        pattern_type: &str,
        options: &DistillOptions,
    ) -> Result<DistillReport> {
        options.validate()?;
        let mut report = DistillReport::empty(pattern_type);
        let mut query = PatternQuery::new(scope.clone(), options.max_patterns);
        query.pattern_type = Some(pattern_type.to_owned());
        let listed = self.store.list_patterns(&query).await?;
        report.considered = listed.len();
        if listed.len() < options.min_patterns.max(1) {
            report.skipped = Some(format!(
                "{} pattern(s) of type {pattern_type:?}, fewer than {}: nothing to distil",
                listed.len(),
                options.min_patterns
            ));
            return Ok(report);
        }
        // Clustering works in id order, so ties go to the older record.
        let mut patterns = listed;
        patterns.sort_by_key(|p| p.id);
        let texts: Vec<String> = patterns
            .iter()
            .map(|p| format!("{}\n{}", p.context, p.solution))
            .collect();
        let vectors = self.embed(&texts).await?;
        if vectors.len() != patterns.len() {
            return Err(DistillError::Embedder(format!(
                "{} vectors for {} texts",
                vectors.len(),
                patterns.len()
            )));
        }
        let sim = similarity_matrix(&vectors);
        let mut groups = average_linkage(&sim, options.similarity_threshold);

        if options.use_llm_grouping {
            if let Some(llm) = &self.llm {
                let refs: Vec<&CodePattern> = patterns.iter().collect();
                report.llm_calls += 1;
                let answer = llm
                    .complete(CompletionRequest {
                        temperature: Some(0.0),
                        json_mode: true,
                        ..CompletionRequest::prompt(grouping_prompt(&refs))
                    })
                    .await;
                match answer {
                    Ok(c) => match parse_groups(&c.text, patterns.len()) {
                        Ok(g) => {
                            groups = g;
                            report.grouping = Grouping::Llm;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "LLM grouping rejected; using embedding groups");
                            report.grouping = Grouping::LlmFallback;
                            report.grouping_note = Some(format!("invalid grouping answer: {e}"));
                        }
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "LLM grouping failed; using embedding groups");
                        report.grouping = Grouping::LlmFallback;
                        report.grouping_note = Some(format!("grouping call failed: {e}"));
                    }
                }
            } else {
                report.grouping_note = Some("no LLM configured: embedding groups".into());
            }
        }

        let dtype = distilled_type(pattern_type);
        // Every context of the type is taken (the store's key is scope, type and
        // context), provenance or not; only those with provenance can be continued.
        let (mut existing, mut taken) = self.existing(scope, &dtype).await?;

        for group in groups {
            if group.len() < options.min_group_size {
                report
                    .singletons
                    .extend(group.iter().filter_map(|&i| patterns.get(i)).map(|p| p.id));
                continue;
            }
            let outcome = self
                .distill_group(
                    scope,
                    &dtype,
                    &patterns,
                    &sim,
                    &group,
                    options,
                    &mut existing,
                    &mut taken,
                    &mut report.llm_calls,
                )
                .await?;
            match outcome.action {
                Action::Created => report.created.push(outcome.distilled_id),
                Action::Updated => report.updated.push(outcome.distilled_id),
                Action::Unchanged => report.unchanged.push(outcome.distilled_id),
            }
            report.groups.push(outcome.sources.clone());
            report.outcomes.push(outcome);
        }
        report.singletons.sort_unstable();
        tracing::info!(
            pattern_type,
            considered = report.considered,
            groups = report.groups.len(),
            created = report.created.len(),
            updated = report.updated.len(),
            unchanged = report.unchanged.len(),
            llm_calls = report.llm_calls,
            "distilled"
        );
        Ok(report)
    }

    /// Marks stale every distilled pattern in `scope` made from `deleted`; see
    /// [`mark_stale`].
    pub async fn mark_stale(&self, scope: &Scope, deleted: RecordId) -> Result<Vec<RecordId>> {
        mark_stale(self.store.as_ref(), scope, deleted).await
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>> {
        const BATCH: usize = 256;
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(BATCH) {
            out.extend(self.embedder.embed(chunk).await?);
        }
        Ok(out)
    }

    async fn existing(
        &self,
        scope: &Scope,
        dtype: &str,
    ) -> Result<(Vec<Existing>, HashSet<String>)> {
        let mut q = PatternQuery::new(scope.clone(), DISTILLED_SCAN_LIMIT);
        q.pattern_type = Some(dtype.to_owned());
        let listed = self.store.list_patterns(&q).await?;
        let taken = listed.iter().map(|p| p.context.clone()).collect();
        let mut found: Vec<Existing> = listed
            .into_iter()
            .filter_map(|p| {
                Provenance::from_metadata(&p.metadata).map(|provenance| Existing {
                    pattern: p,
                    provenance,
                    claimed: false,
                })
            })
            .collect();
        found.sort_by_key(|e| e.pattern.id);
        Ok((found, taken))
    }

    #[allow(clippy::too_many_arguments)]
    async fn distill_group(
        &self,
        scope: &Scope,
        dtype: &str,
        patterns: &[CodePattern],
        sim: &[Vec<f64>],
        group: &[usize],
        options: &DistillOptions,
        existing: &mut [Existing],
        taken: &mut HashSet<String>,
        llm_calls: &mut usize,
    ) -> Result<GroupOutcome> {
        let members: Vec<&CodePattern> = group.iter().filter_map(|&i| patterns.get(i)).collect();
        let mut sources: Vec<RecordId> = members.iter().map(|p| p.id).collect();
        sources.sort_unstable();

        // The existing distilled pattern this group continues: best overlap, then oldest.
        let mut matched: Option<(usize, f64)> = None;
        for (k, e) in existing.iter().enumerate() {
            if e.claimed {
                continue;
            }
            let j = jaccard(&sources, &e.provenance.distilled_from);
            if j >= options.overlap_threshold && matched.is_none_or(|(_, b)| j > b) {
                matched = Some((k, j));
            }
        }
        if let Some((k, j)) = matched
            && let Some(e) = existing.get_mut(k)
        {
            e.claimed = true;
            let same_sources = j >= 1.0;
            if same_sources && !e.provenance.stale && !options.force {
                return Ok(GroupOutcome {
                    sources,
                    distilled_id: e.pattern.id,
                    action: Action::Unchanged,
                    method: if e.provenance.method == "llm" {
                        Method::Llm
                    } else {
                        Method::Extractive
                    },
                    confidence: e.provenance.confidence,
                    fallback: None,
                });
            }
        }

        // Distil: the LLM when there is one, extractive otherwise or on failure.
        let mut fallback = None;
        let mut result: Option<(Distilled, Method)> = None;
        if let Some(llm) = &self.llm {
            // The seed's prompt shows the most successful examples first.
            let mut by_success = members.clone();
            by_success.sort_by(|a, b| b.success_count.cmp(&a.success_count).then(a.id.cmp(&b.id)));
            *llm_calls += 1;
            let answer = llm
                .complete(CompletionRequest {
                    temperature: Some(0.0),
                    ..CompletionRequest::prompt(distill_prompt(&by_success))
                })
                .await;
            match answer {
                Ok(c) => match parse_distilled(&c.text.replace('\0', "")) {
                    Some(d) => result = Some((d, Method::Llm)),
                    None => {
                        tracing::warn!(?sources, "unparsable distillation; extractive instead");
                        fallback = Some(
                            "the answer lacked PATTERN, APPLICABILITY or a numeric CONFIDENCE"
                                .to_owned(),
                        );
                    }
                },
                Err(e) => {
                    tracing::warn!(error = %e, ?sources, "distillation call failed; extractive instead");
                    fallback = Some(format!("distillation call failed: {e}"));
                }
            }
        }
        let (distilled, method) = match result {
            Some(r) => r,
            None => (extractive(sim, group, patterns), Method::Extractive),
        };

        let provenance = Provenance {
            distilled_from: sources.clone(),
            confidence: distilled.confidence,
            source_count: sources.len(),
            method: method.as_str().to_owned(),
            stale: false,
        };
        let success_count = sources.len() as u64;

        if let Some((k, _)) = matched
            && let Some(e) = existing.get_mut(k)
        {
            let id = e.pattern.id;
            taken.remove(&e.pattern.context);
            let context = unique_context(&distilled.applicability, &sources, taken);
            taken.insert(context.clone());
            let metadata = provenance.to_metadata(&e.pattern.metadata);
            let action = if e.pattern.context == context
                && e.pattern.solution == distilled.pattern
                && e.pattern.success_count == success_count
                && e.pattern.metadata == metadata
            {
                Action::Unchanged
            } else {
                let patch = PatternPatch {
                    context: Some(context),
                    solution: Some(distilled.pattern.clone()),
                    success_count: Some(success_count),
                    metadata: Some(metadata),
                };
                e.pattern = self.store.update_pattern(id, patch).await?;
                Action::Updated
            };
            return Ok(GroupOutcome {
                sources,
                distilled_id: id,
                action,
                method,
                confidence: distilled.confidence,
                fallback,
            });
        }

        let language = common_language(&members);
        let mut context = unique_context(&distilled.applicability, &sources, taken);
        let metadata = provenance.to_metadata(&Metadata::new());
        let mut attempt = 0;
        let stored = loop {
            let write = self
                .store
                .store_pattern(NewPattern {
                    scope: scope.clone(),
                    pattern_type: dtype.to_owned(),
                    context: context.clone(),
                    solution: distilled.pattern.clone(),
                    language: language.clone(),
                    metadata: metadata.clone(),
                })
                .await?;
            if write.inserted {
                break write.pattern;
            }
            // Another pattern (written concurrently, or beyond the scan) has this context
            // and was counted once more: undo the count and try a distinct context.
            attempt += 1;
            let other = write.pattern;
            self.store
                .update_pattern(
                    other.id,
                    PatternPatch {
                        success_count: Some(other.success_count.saturating_sub(1)),
                        ..PatternPatch::default()
                    },
                )
                .await?;
            if attempt > 3 {
                return Err(DistillError::Conflict(format!(
                    "could not find a free context for the distilled pattern of {sources:?} \
                     (last tried {context:?}, held by pattern {})",
                    other.id
                )));
            }
            taken.insert(context.clone());
            context = unique_context(&format!("{context} ({attempt})"), &sources, taken);
        };
        taken.insert(context);
        let stored = self
            .store
            .update_pattern(
                stored.id,
                PatternPatch {
                    success_count: Some(success_count),
                    metadata: Some(metadata),
                    ..PatternPatch::default()
                },
            )
            .await?;
        Ok(GroupOutcome {
            sources,
            distilled_id: stored.id,
            action: Action::Created,
            method,
            confidence: distilled.confidence,
            fallback,
        })
    }
}

/// Extractive distillation of `group` (indices into `patterns` and `sim`): the medoid's
/// solution; the words at least half the contexts share, or else the medoid's context;
/// the mean Laplace success rate.
pub(crate) fn extractive(sim: &[Vec<f64>], group: &[usize], patterns: &[CodePattern]) -> Distilled {
    let members: Vec<&CodePattern> = group.iter().filter_map(|&i| patterns.get(i)).collect();
    let center = medoid(sim, group)
        .and_then(|i| patterns.get(i))
        .or_else(|| members.first().copied());
    let contexts: Vec<&str> = members.iter().map(|p| p.context.as_str()).collect();
    let shared = shared_words(&contexts);
    let applicability = if shared.is_empty() {
        center.map(|p| p.context.clone()).unwrap_or_default()
    } else {
        shared.join(", ")
    };
    let confidence = if members.is_empty() {
        0.0
    } else {
        members.iter().map(|p| p.success_rate()).sum::<f64>() / members.len() as f64
    };
    Distilled {
        pattern: center.map(|p| p.solution.clone()).unwrap_or_default(),
        applicability,
        confidence: confidence.clamp(0.0, 1.0),
    }
}

/// The members' language when they all share one.
fn common_language(members: &[&CodePattern]) -> Option<String> {
    let first = members.first()?.language.clone()?;
    members
        .iter()
        .all(|p| p.language.as_deref() == Some(first.as_str()))
        .then_some(first)
}

/// `applicability`, or, when another distilled pattern of the type already has that
/// context (the store's key is scope, type and context), it with the sources appended.
fn unique_context(applicability: &str, sources: &[RecordId], taken: &HashSet<String>) -> String {
    let base = applicability.trim();
    let base = if base.is_empty() { "distilled" } else { base };
    if !taken.contains(base) {
        return base.to_owned();
    }
    let ids: Vec<String> = sources.iter().map(|id| format!("#{id}")).collect();
    let with_ids = format!("{base} (from {})", ids.join(", "));
    let mut candidate = with_ids.clone();
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = format!("{with_ids} [{n}]");
        n += 1;
    }
    candidate
}

/// Marks stale every distilled pattern visible through `scope` whose `distilled_from`
/// holds `deleted` (call it after deleting a source pattern): sets `"stale": true` in
/// its metadata, keeping everything else. Returns the ids of every such pattern, sorted,
/// whether newly marked or stale already. The next [`KnowledgeDistiller::distill`] of the
/// type refreshes a stale pattern whose group still overlaps it.
pub async fn mark_stale(
    store: &dyn LongTermStore,
    scope: &Scope,
    deleted: RecordId,
) -> Result<Vec<RecordId>> {
    let q = PatternQuery::new(scope.clone(), DISTILLED_SCAN_LIMIT);
    let mut marked = Vec::new();
    for p in store.list_patterns(&q).await? {
        if !p.pattern_type.starts_with(DISTILLED_PREFIX) {
            continue;
        }
        let Some(prov) = Provenance::from_metadata(&p.metadata) else {
            continue;
        };
        if !prov.distilled_from.contains(&deleted) {
            continue;
        }
        if !prov.stale {
            let mut map = p.metadata.as_map().clone();
            map.insert("stale".into(), Value::Bool(true));
            store
                .update_pattern(
                    p.id,
                    PatternPatch {
                        metadata: Some(Metadata::from(map)),
                        ..PatternPatch::default()
                    },
                )
                .await?;
        }
        marked.push(p.id);
    }
    marked.sort_unstable();
    Ok(marked)
}

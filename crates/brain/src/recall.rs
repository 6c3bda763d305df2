//! Recall as a pipeline of named stages over the ports, testable and benchmarkable
//! without a [`crate::Brain`].
//!
//! A [`RecallState`] flows through the stages; each may add candidate memories and a
//! ranked list. The standard pipeline ([`RecallPipeline::standard`]) is
//!
//! 1. `catch_up` — the index applies the store's embedding log, so writes of other
//!    processes sharing the store are seen;
//! 2. `keyword` — BM25 over the store's keyword index, scoped and filtered (not in
//!    vector mode);
//! 3. `vector` — nearest neighbours of the query embedding in the index, filtered inside
//!    the search; hits are read back from the store in one call and judged again by the
//!    filter (a memory changed or deleted since the index caught up) (not in keyword mode);
//! 4. `feedback` — the words that best characterise the first fusion's top keyword
//!    matches expand the query for a second keyword list (not in vector mode);
//!
//! then [`rank`]: the learned outcomes of all candidates (pattern counts read in one
//! call, or `successes`/`failures` metadata), the speaker boost, and reciprocal rank fusion
//! with importance, recency and outcome re-ranking ([`memory_core::fuse_lists`]). A new
//! signal (a derived keyword index, validity, event time) is one new stage.

use memory_core::RecordStoreExt;
use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use memory_core::{
    DerivedIndex, KeywordQuery, ListKind, Memory, MemoryFilter, MemoryId, QUESTION_WORDS,
    RankedList, Signals, Timestamp, VectorQuery, fuse_lists, is_stop_word, keyword_terms,
    outcome_from_counts, query_terms,
};
use serde_json::Value;

use crate::brain::{PATTERN_KIND, RecallHit, RecallMode, RecallQuery};
use crate::config::RecallConfig;
use crate::error::Result;
use crate::ports::Store;

/// What the stages read: the store (keyword search, memories, patterns) and the index.
#[derive(Clone, Copy)]
pub struct RecallSources<'a> {
    /// The long-term store, the source of truth.
    pub store: &'a dyn Store,
    /// The vector index derived from the store's embeddings.
    pub index: &'a dyn DerivedIndex,
}

/// One recall in progress.
#[derive(Debug, Clone)]
pub struct RecallState {
    /// The query (text, filter, mode).
    pub query: RecallQuery,
    /// The query's embedding, when there is one.
    pub vector: Option<Vec<f32>>,
    /// Candidates taken from each list.
    pub depth: usize,
    /// The time filters and recency are judged at.
    pub now: Timestamp,
    /// Every candidate memory found so far, by id.
    pub memories: HashMap<MemoryId, Memory>,
    /// The ranked lists produced so far, fused at the end.
    pub lists: Vec<RankedList>,
}

/// One step of recall: reads the sources and adds candidates and lists to the state.
#[async_trait]
pub trait RecallStage: Send + Sync {
    /// A short name, for traces and the architecture's map.
    fn name(&self) -> &'static str;

    /// Runs the stage.
    async fn run(
        &self,
        sources: RecallSources<'_>,
        config: &RecallConfig,
        state: &mut RecallState,
    ) -> Result<()>;
}

/// The index applies the store's embedding log.
#[derive(Debug, Clone, Copy, Default)]
pub struct CatchUpStage;

#[async_trait]
impl RecallStage for CatchUpStage {
    fn name(&self) -> &'static str {
        "catch_up"
    }

    async fn run(
        &self,
        sources: RecallSources<'_>,
        _: &RecallConfig,
        _: &mut RecallState,
    ) -> Result<()> {
        let store: &dyn memory_core::EmbeddingStore = sources.store;
        sources.index.catch_up(store).await?;
        Ok(())
    }
}

/// BM25 over the store's keyword index (skipped in vector mode).
#[derive(Debug, Clone, Copy, Default)]
pub struct KeywordStage;

#[async_trait]
impl RecallStage for KeywordStage {
    fn name(&self) -> &'static str {
        "keyword"
    }

    async fn run(
        &self,
        sources: RecallSources<'_>,
        config: &RecallConfig,
        state: &mut RecallState,
    ) -> Result<()> {
        if state.query.mode == RecallMode::Vector {
            return Ok(());
        }
        let hits =
            keyword_hits(sources, &state.query.text, &state.query.filter, state.depth).await?;
        state.lists.push(RankedList {
            kind: ListKind::Keyword,
            weight: config.weights.keyword,
            hits: take_memories(hits, &mut state.memories),
        });
        Ok(())
    }
}

/// Nearest neighbours of the query embedding (skipped in keyword mode or without one).
#[derive(Debug, Clone, Copy, Default)]
pub struct VectorStage;

#[async_trait]
impl RecallStage for VectorStage {
    fn name(&self) -> &'static str {
        "vector"
    }

    async fn run(
        &self,
        sources: RecallSources<'_>,
        config: &RecallConfig,
        state: &mut RecallState,
    ) -> Result<()> {
        if state.query.mode == RecallMode::Keyword {
            return Ok(());
        }
        let Some(vector) = state.vector.clone() else {
            return Ok(());
        };
        let hits = sources
            .index
            .search(&VectorQuery {
                vector,
                k: state.depth,
                filter: state.query.filter.clone(),
                now: state.now,
            })
            .await?;
        let missing: Vec<MemoryId> = hits
            .iter()
            .map(|h| h.id)
            .filter(|id| !state.memories.contains_key(id))
            .collect();
        for m in sources.store.get_memories(&missing).await? {
            // Changed or deleted since the index caught up: judged again here.
            if state.query.filter.matches(&m, state.now) {
                state.memories.insert(m.id, m);
            }
        }
        state.lists.push(RankedList {
            kind: ListKind::Vector,
            weight: config.weights.vector,
            hits: hits
                .into_iter()
                .filter(|h| state.memories.contains_key(&h.id))
                .map(|h| (h.id, Some(h.similarity)))
                .collect(),
        });
        Ok(())
    }
}

/// Keyword feedback: words of the first fusion's best keyword matches expand the query
/// for a second keyword list (skipped in vector mode or when configured off).
#[derive(Debug, Clone, Copy, Default)]
pub struct FeedbackStage;

#[async_trait]
impl RecallStage for FeedbackStage {
    fn name(&self) -> &'static str {
        "feedback"
    }

    async fn run(
        &self,
        sources: RecallSources<'_>,
        config: &RecallConfig,
        state: &mut RecallState,
    ) -> Result<()> {
        let weights = &config.weights;
        if state.query.mode == RecallMode::Vector
            || config.feedback_docs == 0
            || config.feedback_terms == 0
            || weights.feedback <= 0.0
        {
            return Ok(());
        }
        let memories = &state.memories;
        let first = fuse_lists(
            &state.lists,
            |id| signals(memories.get(&id), None, 1.0),
            weights,
            state.now,
        );
        // Only hits that matched the query's words: feedback from hits found by meaning
        // alone drifts (in a small brain, the top five are everything).
        let top: Vec<&Memory> = first
            .iter()
            .filter(|h| h.parts.keyword_rank.is_some())
            .take(config.feedback_docs)
            .filter_map(|h| memories.get(&h.id))
            .collect();
        let expansion =
            feedback_terms(sources, &state.query.text, &top, config.feedback_terms).await?;
        if expansion.is_empty() {
            return Ok(());
        }
        let mut terms = keyword_terms(&state.query.text);
        terms.extend(expansion);
        let hits =
            keyword_hits(sources, &terms.join(" "), &state.query.filter, state.depth).await?;
        state.lists.push(RankedList {
            kind: ListKind::Feedback,
            weight: weights.feedback,
            hits: take_memories(hits, &mut state.memories),
        });
        Ok(())
    }
}

/// Named stages run in order, then [`rank`].
pub struct RecallPipeline {
    stages: Vec<Box<dyn RecallStage>>,
}

impl std::fmt::Debug for RecallPipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.stage_names()).finish()
    }
}

impl Default for RecallPipeline {
    fn default() -> Self {
        Self::standard()
    }
}

impl RecallPipeline {
    /// `catch_up`, `keyword`, `vector`, `feedback`.
    pub fn standard() -> Self {
        RecallPipeline {
            stages: vec![
                Box::new(CatchUpStage),
                Box::new(KeywordStage),
                Box::new(VectorStage),
                Box::new(FeedbackStage),
            ],
        }
    }

    /// No stage at all (build one with [`RecallPipeline::then`]).
    pub fn empty() -> Self {
        RecallPipeline { stages: Vec::new() }
    }

    /// This pipeline with `stage` appended.
    pub fn then(mut self, stage: impl RecallStage + 'static) -> Self {
        self.stages.push(Box::new(stage));
        self
    }

    /// The stages' names, in order.
    pub fn stage_names(&self) -> Vec<&'static str> {
        self.stages.iter().map(|s| s.name()).collect()
    }

    /// Recalls for `query` with its embedding `vector` (`None` for keyword only): checks
    /// the query, runs the stages, ranks. `k` defaults to `config.k` and must be in
    /// `1..=1000`.
    pub async fn run(
        &self,
        sources: RecallSources<'_>,
        config: &RecallConfig,
        query: &RecallQuery,
        vector: Option<Vec<f32>>,
    ) -> Result<Vec<RecallHit>> {
        memory_core::validate::non_empty_text("query", &query.text)?;
        query.filter.validate()?;
        let k = query.k.unwrap_or(config.k);
        if !(1..=1_000).contains(&k) {
            return Err(memory_core::ValidationError::OutOfRange {
                field: "k",
                value: k as f64,
                min: 1.0,
                max: 1_000.0,
            }
            .into());
        }
        let mut state = RecallState {
            query: query.clone(),
            vector,
            depth: config.depth.max(k),
            now: Timestamp::now(),
            memories: HashMap::new(),
            lists: Vec::new(),
        };
        for stage in &self.stages {
            tracing::trace!(stage = stage.name(), "recall stage");
            stage.run(sources, config, &mut state).await?;
        }
        rank(sources, config, state, k).await
    }
}

/// The last step: learned outcomes of every candidate, the speaker boost, fusion, and
/// the top `k` with their score parts.
pub async fn rank(
    sources: RecallSources<'_>,
    config: &RecallConfig,
    mut state: RecallState,
    k: usize,
) -> Result<Vec<RecallHit>> {
    let outcomes = outcomes(sources, state.memories.values()).await?;
    let named = named_speaker(&state.query.text, state.memories.values());
    let memories = &state.memories;
    let fused = fuse_lists(
        &state.lists,
        |id| {
            let m = memories.get(&id);
            let boost = match (&named, m.and_then(speaker_of)) {
                (Some(n), Some(s)) if s.eq_ignore_ascii_case(n) => config.speaker_boost,
                _ => 1.0,
            };
            signals(m, outcomes.get(&id).copied(), boost)
        },
        &config.weights,
        state.now,
    );
    Ok(fused
        .into_iter()
        .take(k)
        .filter_map(|h| {
            state.memories.remove(&h.id).map(|memory| RecallHit {
                memory,
                score: h.parts,
            })
        })
        .collect())
}

async fn keyword_hits(
    sources: RecallSources<'_>,
    text: &str,
    filter: &MemoryFilter,
    depth: usize,
) -> Result<Vec<memory_core::KeywordHit>> {
    Ok(sources
        .store
        .search_memories(&KeywordQuery {
            text: text.to_owned(),
            filter: filter.clone(),
            limit: depth,
        })
        .await?)
}

/// The `n` words that best characterise `top` against the whole store: each word of
/// their content (not a stop word, a question word, a query word, or shorter than three
/// letters) scores `Σ idf / words-in-memory` over the memories holding it.
async fn feedback_terms(
    sources: RecallSources<'_>,
    query: &str,
    top: &[&Memory],
    n: usize,
) -> Result<Vec<String>> {
    let asked: HashSet<String> = query_terms(query).into_iter().collect();
    let mut per_doc: Vec<Vec<String>> = Vec::new();
    let mut candidates: Vec<String> = Vec::new();
    for m in top {
        let words = query_terms(&m.content);
        for w in &words {
            if w.chars().count() >= 3
                && !is_stop_word(w)
                && !QUESTION_WORDS.contains(&w.as_str())
                && !asked.contains(w)
                && !candidates.contains(w)
            {
                candidates.push(w.clone());
            }
        }
        per_doc.push(words);
    }
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    candidates.truncate(256);
    let (total, df) = sources.store.keyword_document_counts(&candidates).await?;
    let idf: HashMap<&str, f64> = candidates
        .iter()
        .zip(df)
        .map(|(w, d)| (w.as_str(), ((total as f64 + 1.0) / (d as f64 + 0.5)).ln()))
        .collect();
    let mut score: HashMap<&str, f64> = HashMap::new();
    for words in &per_doc {
        let len = words.len().max(1) as f64;
        for w in words {
            if let Some(i) = idf.get(w.as_str()) {
                *score.entry(w.as_str()).or_default() += i / len;
            }
        }
    }
    let mut ranked: Vec<(&str, f64)> = score.into_iter().collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
    Ok(ranked
        .into_iter()
        .take(n)
        .map(|(w, _)| w.to_owned())
        .collect())
}

/// The learned outcome of each memory that has one: a code pattern's counts (the
/// patterns of all candidates read in one call, each followed only when it has the
/// memory's exact scope), or `successes` / `failures` numbers in its metadata.
async fn outcomes<'a>(
    sources: RecallSources<'_>,
    memories: impl Iterator<Item = &'a Memory>,
) -> Result<HashMap<MemoryId, f64>> {
    let mut out = HashMap::new();
    let mut linked: Vec<(&Memory, memory_core::RecordId)> = Vec::new();
    for m in memories {
        if m.kind.as_str() == PATTERN_KIND {
            if let Some(pid) = m.metadata.get("pattern_id").and_then(Value::as_i64) {
                linked.push((m, pid));
            }
            continue;
        }
        let count = |k: &str| m.metadata.get(k).and_then(Value::as_u64);
        if let (s, f) = (count("successes"), count("failures"))
            && (s.is_some() || f.is_some())
        {
            out.insert(m.id, outcome_from_counts(s.unwrap_or(0), f.unwrap_or(0)));
        }
    }
    if !linked.is_empty() {
        let ids: Vec<memory_core::RecordId> = linked.iter().map(|(_, id)| *id).collect();
        let patterns: HashMap<memory_core::RecordId, memory_core::CodePattern> = sources
            .store
            .get_patterns(&ids)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        for (m, pid) in linked {
            if let Some(p) = patterns.get(&pid).filter(|p| p.scope == m.scope) {
                out.insert(m.id, outcome_from_counts(p.success_count, p.failure_count));
            }
        }
    }
    Ok(out)
}

fn signals(m: Option<&Memory>, outcome: Option<f64>, boost: f64) -> Signals {
    match m {
        Some(m) => Signals {
            outcome,
            boost,
            ..Signals::new(m.importance.get(), m.updated_at)
        },
        None => Signals::new(0.0, Timestamp::from_millis(0)),
    }
}

/// Hits with their memories moved into `memories`.
fn take_memories(
    hits: Vec<memory_core::KeywordHit>,
    memories: &mut HashMap<MemoryId, Memory>,
) -> Vec<(MemoryId, Option<f32>)> {
    hits.into_iter()
        .map(|h| {
            let id = h.memory.id;
            memories.entry(id).or_insert(h.memory);
            (id, None)
        })
        .collect()
}

fn speaker_of(m: &Memory) -> Option<&str> {
    m.metadata.get("speaker").and_then(Value::as_str)
}

/// The one `speaker` (metadata) among `memories` that the query names, if exactly one is.
fn named_speaker<'a>(query: &str, memories: impl Iterator<Item = &'a Memory>) -> Option<String> {
    let words: HashSet<String> = query_terms(query).into_iter().collect();
    let mut named: Vec<String> = Vec::new();
    for m in memories {
        let Some(s) = speaker_of(m) else { continue };
        let parts = query_terms(s);
        if !parts.is_empty()
            && parts.iter().all(|p| words.contains(p))
            && !named.iter().any(|n| n.eq_ignore_ascii_case(s))
        {
            named.push(s.to_owned());
        }
    }
    if named.len() == 1 { named.pop() } else { None }
}

//! Export and import as JSONL, and reindexing with another embedder.
//!
//! An export is one JSON object per line: a header, then every memory (ids, scopes,
//! metadata, importance, times and expiry exactly), then every seed record (ids, times,
//! counts, outcomes exactly). Embeddings are not exported: they are derived, and the
//! importing brain embeds with its own model. The patterns collection is derived from
//! the patterns too, so its memories are rebuilt on import rather than copied.

use std::io::{BufRead, Write};

use memory_core::{
    DecisionQuery, EmbedderInfo, EventQuery, ListOrder, Memory, MemoryFilter, MemoryId,
    MemoryQuery, NewMemory, PatternQuery, Record, Scope, Timestamp, WriteOp,
};
use serde::{Deserialize, Serialize};

use crate::brain::{Brain, PATTERN_KIND, embed_blended, is_thread_member, thread_text};
use crate::config::BrainConfig;
use crate::engines;
use crate::error::{BrainError, Result};

/// The export format's version, in the header line.
pub const EXPORT_VERSION: u32 = 1;

/// Most records listed per table by an export.
const MAX_RECORDS: usize = 100_000_000;

/// Reports the progress of long operations (a CLI draws a bar from it).
pub trait Progress: Send + Sync {
    /// A stage starts, with its total when known.
    fn start(&self, stage: &str, total: Option<u64>);
    /// `n` more units of the current stage are done.
    fn advance(&self, n: u64);
    /// The current stage is done.
    fn finish(&self);
}

/// A [`Progress`] that reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// One line of an export.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExportLine {
    /// The first line.
    Header {
        /// [`EXPORT_VERSION`].
        version: u32,
        /// When the export was taken.
        exported_at: Timestamp,
        /// The embedder of the exporting brain (informative: imports re-embed).
        embedder: EmbedderInfo,
    },
    /// A memory.
    Memory(Memory),
    /// A seed record.
    Record(Record),
    /// A learned policy (a bandit or Q-table). Imported as a new save of the same
    /// state: its version starts again at 1 and its time is the import's.
    Policy(memory_core::PolicyState),
}

/// What an export or import moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferCounts {
    /// Memories.
    pub memories: u64,
    /// Seed records.
    pub records: u64,
    /// Learned policies.
    #[serde(default)]
    pub policies: u64,
}

/// Why one line of an export cannot be imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportLineError {
    /// Not a JSON export line (bad JSON, unknown `type`, missing or mistyped fields).
    #[error("{0}")]
    Json(String),
    /// The header announces a format newer than [`EXPORT_VERSION`].
    #[error("export format {0} is newer than this brain reads ({EXPORT_VERSION})")]
    NewerVersion(u32),
    /// A memory, record or policy that parses but breaks a limit or invariant.
    #[error("{0}")]
    Invalid(String),
}

/// Parses and validates one line of a JSONL export (surrounding whitespace ignored), as
/// [`Brain::import_jsonl`] does for every line before writing anything. Total: any
/// string gives a line or an error, never a panic. Checks against what is stored
/// (clashing ids, existing policies) are the import's, not this function's.
///
/// ```
/// use brain::transfer::{parse_export_line, ExportLineError};
/// assert!(matches!(parse_export_line("{"), Err(ExportLineError::Json(_))));
/// let header = |v: u32| {
///     format!(r#"{{"type":"header","version":{v},"exported_at":0,"embedder":{{"model_id":"x","dimension":8}}}}"#)
/// };
/// assert!(matches!(parse_export_line(&header(1)), Ok(brain::ExportLine::Header { .. })));
/// assert_eq!(parse_export_line(&header(99)), Err(ExportLineError::NewerVersion(99)));
/// ```
pub fn parse_export_line(text: &str) -> std::result::Result<ExportLine, ExportLineError> {
    let parsed: ExportLine =
        serde_json::from_str(text.trim()).map_err(|e| ExportLineError::Json(e.to_string()))?;
    match &parsed {
        ExportLine::Header { version, .. } if *version > EXPORT_VERSION => {
            return Err(ExportLineError::NewerVersion(*version));
        }
        ExportLine::Header { .. } => {}
        ExportLine::Memory(m) => memory_to_new(m.clone())
            .validate()
            .map_err(|e| ExportLineError::Invalid(e.to_string()))?,
        ExportLine::Record(r) => r
            .validate()
            .map_err(|e| ExportLineError::Invalid(e.to_string()))?,
        ExportLine::Policy(p) => {
            memory_core::validate_policy(&p.name, &p.kind, &p.state)
                .map_err(|e| ExportLineError::Invalid(e.to_string()))?;
        }
    }
    Ok(parsed)
}

/// The write that restores an exported memory exactly (id, times, expiry).
fn memory_to_new(m: Memory) -> NewMemory {
    NewMemory {
        id: Some(m.id),
        content: m.content,
        context: m.context,
        kind: m.kind,
        scope: m.scope,
        metadata: m.metadata,
        importance: m.importance,
        expires_at: m.expires_at,
        created_at: Some(m.created_at),
        updated_at: Some(m.updated_at),
    }
}

impl Brain {
    /// Writes every memory and record as JSONL.
    #[tracing::instrument(skip_all)]
    pub async fn export_jsonl(
        &self,
        out: &mut (dyn Write + Send),
        progress: &dyn Progress,
    ) -> Result<TransferCounts> {
        let io = |e| BrainError::io("export output", e);
        let mut counts = TransferCounts::default();
        let line = |out: &mut (dyn Write + Send), l: &ExportLine| -> Result<()> {
            let s = serde_json::to_string(l).map_err(|e| {
                BrainError::Core(memory_core::Error::Backend {
                    message: format!("cannot serialise an export line: {e}"),
                    source: None,
                })
            })?;
            out.write_all(s.as_bytes()).map_err(io)?;
            out.write_all(b"\n").map_err(io)
        };
        line(
            out,
            &ExportLine::Header {
                version: EXPORT_VERSION,
                exported_at: Timestamp::now(),
                embedder: self.embedder_info().clone(),
            },
        )?;
        let all = MemoryFilter {
            include_expired: true,
            ..MemoryFilter::default()
        };
        let total = self.count(&all).await?;
        progress.start("memories", Some(total));
        let mut offset = 0;
        loop {
            let mut q = MemoryQuery::new(all.clone(), 1_000);
            q.order = ListOrder::OldestFirst;
            q.offset = offset;
            let page = self.list(&q).await?;
            let n = page.len();
            for m in page {
                if m.kind.as_str() != PATTERN_KIND {
                    line(out, &ExportLine::Memory(m))?;
                    counts.memories += 1;
                }
            }
            progress.advance(n as u64);
            if n < 1_000 {
                break;
            }
            offset += n;
        }
        progress.finish();
        progress.start("records", None);
        for r in self.all_records().await? {
            line(out, &ExportLine::Record(r))?;
            counts.records += 1;
            progress.advance(1);
        }
        for name in self.store().list_policies().await? {
            if let Some(p) = self.store().get_policy(&name).await? {
                line(out, &ExportLine::Policy(p))?;
                counts.policies += 1;
            }
        }
        progress.finish();
        out.flush().map_err(io)?;
        Ok(counts)
    }

    async fn all_records(&self) -> Result<Vec<Record>> {
        let s = self.store();
        let any = Scope::default();
        let mut out: Vec<Record> = Vec::new();
        out.extend(
            s.list_preferences(&any, None)
                .await?
                .into_iter()
                .map(Record::Preference),
        );
        out.extend(
            s.list_projects(&any, None)
                .await?
                .into_iter()
                .map(Record::Project),
        );
        out.extend(
            s.list_patterns(&PatternQuery::new(any.clone(), MAX_RECORDS))
                .await?
                .into_iter()
                .map(Record::Pattern),
        );
        out.extend(
            s.list_learning_events(&EventQuery {
                scope: any.clone(),
                event_type: None,
                since: None,
                limit: MAX_RECORDS,
            })
            .await?
            .into_iter()
            .map(Record::LearningEvent),
        );
        out.extend(
            s.list_conversations(&any, MAX_RECORDS)
                .await?
                .into_iter()
                .map(Record::Conversation),
        );
        out.extend(
            s.list_decisions(&DecisionQuery {
                scope: any,
                agent_type: None,
                with_outcome: None,
                limit: MAX_RECORDS,
            })
            .await?
            .into_iter()
            .map(Record::Decision),
        );
        out.sort_by_key(|r| (r.kind(), r.id()));
        Ok(out)
    }

    /// Reads a JSONL export. Every line is parsed and checked, and every id checked
    /// against what is stored, before anything is written: a bad line or a clashing id
    /// is an error naming the line, and nothing is imported. Memories are re-embedded
    /// with this brain's embedder; restored patterns rejoin the patterns collection.
    #[tracing::instrument(skip_all)]
    pub async fn import_jsonl(
        &self,
        input: &mut (dyn BufRead + Send),
        progress: &dyn Progress,
    ) -> Result<TransferCounts> {
        let mut memories: Vec<(usize, NewMemory)> = Vec::new();
        let mut records: Vec<(usize, Record)> = Vec::new();
        let mut policies: Vec<memory_core::PolicyState> = Vec::new();
        let mut buf = String::new();
        let mut n = 0usize;
        loop {
            buf.clear();
            n += 1;
            let read = input.read_line(&mut buf).map_err(|e| BrainError::Import {
                line: n,
                message: format!("cannot read: {e}"),
            })?;
            if read == 0 {
                break;
            }
            let text = buf.trim();
            if text.is_empty() {
                continue;
            }
            let bad = |m: String| BrainError::Import {
                line: n,
                message: m,
            };
            match parse_export_line(text).map_err(|e| bad(e.to_string()))? {
                ExportLine::Header { .. } => {}
                ExportLine::Memory(m) => memories.push((n, memory_to_new(m))),
                ExportLine::Record(r) => records.push((n, r)),
                ExportLine::Policy(p) => {
                    if self.store().get_policy(&p.name).await?.is_some() {
                        return Err(bad(format!("policy `{}` is already in this brain", p.name)));
                    }
                    policies.push(p);
                }
            }
        }
        progress.start("checking ids", Some(memories.len() as u64));
        let mut seen = std::collections::HashSet::new();
        for (line, m) in &memories {
            let id = m.id.unwrap_or_default();
            if !seen.insert(id) || self.get(id).await?.is_some() {
                return Err(BrainError::Import {
                    line: *line,
                    message: format!("memory {} is already in this brain", uuid_of(id)),
                });
            }
            progress.advance(1);
        }
        progress.finish();

        // Records first, in one transaction: a clash there writes nothing at all.
        let mut counts = TransferCounts::default();
        if !records.is_empty() {
            let lines: Vec<usize> = records.iter().map(|(l, _)| *l).collect();
            let ops = records
                .iter()
                .map(|(_, r)| WriteOp::Restore(r.clone()))
                .collect();
            self.store().write_batch(ops).await.map_err(|e| {
                let line = lines.first().copied().unwrap_or(0);
                match e.kind() {
                    memory_core::ErrorKind::Conflict => BrainError::Import {
                        line,
                        message: format!("{e} (records start at this line)"),
                    },
                    _ => BrainError::Core(e),
                }
            })?;
            counts.records = records.len() as u64;
        }
        for p in &policies {
            self.store()
                .put_policy(&p.name, &p.kind, &p.state, None)
                .await?;
            counts.policies += 1;
        }
        progress.start("memories", Some(memories.len() as u64));
        for chunk in memories.chunks(256) {
            let batch: Vec<NewMemory> = chunk.iter().map(|(_, m)| m.clone()).collect();
            let stored = self.remember_many(batch).await?;
            counts.memories += stored.len() as u64;
            progress.advance(stored.len() as u64);
        }
        progress.finish();
        let patterns: Vec<_> = records
            .into_iter()
            .filter_map(|(_, r)| match r {
                Record::Pattern(p) => Some(p),
                _ => None,
            })
            .collect();
        if !patterns.is_empty() {
            progress.start("patterns", Some(patterns.len() as u64));
            for p in &patterns {
                self.index_pattern(p).await?;
                progress.advance(1);
            }
            progress.finish();
        }
        Ok(counts)
    }
}

impl Brain {
    /// Re-embeds every memory of the brain `config` describes with the configured
    /// embedder, pins it, and rebuilds the index: the way out of an embedder mismatch,
    /// and the repair for memories stored without an embedding. Stopping half-way loses
    /// no memory; running it again finishes the job. With the embedder unchanged the old
    /// embeddings are replaced in place, so even a crash part-way leaves every memory
    /// searchable; after a change of embedder, memories not yet re-embedded when it
    /// stopped have no embedding until it runs again.
    #[tracing::instrument(skip_all, fields(data_dir = %config.data_dir.display()))]
    pub async fn reindex(config: BrainConfig, progress: &dyn Progress) -> Result<Brain> {
        config.validate()?;
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| BrainError::io(&config.data_dir, e))?;
        let llm = engines::configured_llm(&config)?;
        let embedder = engines::configured_embedder(&config, llm.as_ref()).await?;
        let store = engines::configured_store(&config).await?;
        // With the pinned embedder unchanged, each page's embeddings replace the old ones
        // in place, so a crash part-way leaves every memory with a valid embedding. Only a
        // change of embedder has to clear them first (the old vectors are unusable).
        if store.embedder().await?.as_ref() != Some(embedder.info()) {
            store.clear_embeddings().await?;
        }
        store.pin_embedder(embedder.info()).await?;
        let vectors = config.vectors_dir();
        if vectors.exists() {
            std::fs::remove_dir_all(&vectors).map_err(|e| BrainError::io(&vectors, e))?;
        }
        let all = MemoryFilter {
            include_expired: true,
            ..MemoryFilter::default()
        };
        let total = store.count_memories(&all).await?;
        progress.start("embedding", Some(total));
        let mut recent: std::collections::HashMap<Scope, std::collections::VecDeque<String>> =
            std::collections::HashMap::new();
        let mut offset = 0;
        loop {
            let mut q = MemoryQuery::new(all.clone(), 256);
            q.order = ListOrder::OldestFirst;
            q.offset = offset;
            let page = store.list_memories(&q).await?;
            let n = page.len();
            if n > 0 {
                // Embedded as remember embeds: thread memories with the turns before them
                // (the list is oldest first, so each thread's turns come in order), blended.
                let t = config.threads;
                let texts: Vec<String> = page
                    .iter()
                    .map(|m| {
                        if !(t.enabled && t.previous > 0 && is_thread_member(&m.scope, &m.kind)) {
                            return m.content.clone();
                        }
                        let prev = recent.entry(m.scope.clone()).or_default();
                        let text = thread_text(&m.content, prev.make_contiguous());
                        prev.push_back(m.content.clone());
                        if prev.len() > t.previous {
                            prev.pop_front();
                        }
                        text
                    })
                    .collect();
                let own: Vec<String> = page.iter().map(|m| m.content.clone()).collect();
                let vectors = embed_blended(embedder.as_ref(), &own, &texts).await?;
                store
                    .put_embeddings(page.iter().map(|m| m.id).zip(vectors).collect())
                    .await?;
            }
            progress.advance(n as u64);
            if n < 256 {
                break;
            }
            offset += n;
        }
        progress.finish();
        progress.start("building the index", None);
        drop(store);
        let brain = Brain::open(config).await?;
        brain.close().await?;
        progress.finish();
        Ok(brain)
    }
}

fn uuid_of(id: MemoryId) -> String {
    id.as_uuid().to_string()
}

//! Export and import as JSONL, and reindexing with another embedder.
//!
//! An export is one JSON object per line: a header, then every memory (ids, scopes,
//! metadata, importance, times and expiry exactly), then every seed record (ids, times,
//! counts, outcomes exactly). Embeddings are not exported: they are derived, and the
//! importing brain embeds with its own model. The patterns collection is derived from
//! the patterns too, so its memories are rebuilt on import rather than copied.

use memory_core::RecordStoreExt;
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, Write};

use memory_core::{
    DecisionQuery, EmbedderInfo, EventQuery, ListOrder, Memory, MemoryFilter, MemoryId,
    MemoryQuery, NewMemory, PatternQuery, Record, Scope, Timestamp, WriteOp,
};
use serde::{Deserialize, Serialize};

use crate::brain::{
    BATCH, Brain, PATTERN_KIND, embed_blended, is_thread_member, pattern_memory, thread_text,
};
use crate::config::BrainConfig;
use crate::error::{BrainError, Result};
use crate::ports::Store;
use memory_core::Embedder;

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

    /// Reads a JSONL export and writes it in one store transaction.
    ///
    /// The whole file is checked before anything is written: every line parsed and
    /// validated ([`parse_export_line`]); no record id, memory id, policy name, preference
    /// (scope, key) or pattern (scope, type, context) twice in the file; none of them
    /// already stored. A failure is an error naming the line, and nothing is imported.
    /// Then memories are embedded with this brain's embedder (thread members with the
    /// turns before them, as remember does) and everything — records, policies (as new
    /// saves), memories with their embeddings, and the patterns' entries in the patterns
    /// collection — is one `write_batch`, so a clash only the store sees (or any store
    /// failure) leaves the brain exactly as it was. Memories are restored exactly: their
    /// context is not filled and stored neighbours are not changed.
    #[tracing::instrument(skip_all)]
    pub async fn import_jsonl(
        &self,
        input: &mut (dyn BufRead + Send),
        progress: &dyn Progress,
    ) -> Result<TransferCounts> {
        let file = read_export(input)?;
        progress.start("checking", None);
        self.check_against_store(&file).await?;
        progress.finish();

        let mut ops: Vec<WriteOp> = file
            .records
            .iter()
            .map(|(_, r)| WriteOp::Restore(r.clone()))
            .collect();
        let mut memories: Vec<NewMemory> = file.memories.iter().map(|(_, m)| m.clone()).collect();
        let texts = self.import_texts(&memories).await?;
        for (_, r) in &file.records {
            if let Record::Pattern(p) = r {
                let mut m = pattern_memory(p)?;
                m.id = Some(MemoryId::new());
                memories.push(m);
            }
        }
        let texts: Vec<String> = texts
            .into_iter()
            .chain(
                memories[file.memories.len()..]
                    .iter()
                    .map(|m| m.content.clone()),
            )
            .collect();
        progress.start("embedding", Some(memories.len() as u64));
        for (chunk, texts) in memories.chunks(BATCH).zip(texts.chunks(BATCH)) {
            let own: Vec<String> = chunk.iter().map(|m| m.content.clone()).collect();
            let vectors = embed_blended(self.embedder_arc().as_ref(), &own, texts).await?;
            for (m, vector) in chunk.iter().zip(vectors) {
                let id = m.id.unwrap_or_default();
                ops.push(WriteOp::PutMemory(m.clone()));
                ops.push(WriteOp::PutEmbedding { id, vector });
            }
            progress.advance(chunk.len() as u64);
        }
        progress.finish();

        // Policies as new saves (none of these names is stored: checked above).
        ops.extend(file.policies.iter().map(|(_, p)| WriteOp::PutPolicy {
            name: p.name.clone(),
            kind: p.kind.clone(),
            state: p.state.clone(),
            expected: None,
        }));
        progress.start("writing", None);
        if !ops.is_empty() {
            // First: vectors of this embedder only, should another process have
            // reindexed the brain with another one meanwhile.
            ops.insert(0, WriteOp::ExpectEmbedder(self.embedder_info().clone()));
            self.store()
                .write_batch(ops)
                .await
                .map_err(|e| store_refusal(e, &file))?;
        }
        progress.finish();
        self.after_commit().await;
        Ok(TransferCounts {
            memories: file.memories.len() as u64,
            records: file.records.len() as u64,
            policies: file.policies.len() as u64,
        })
    }

    /// Fails on the first line whose id or unique key is already stored.
    async fn check_against_store(&self, file: &ExportFile) -> Result<()> {
        let s = self.store();
        let ids: Vec<MemoryId> = file
            .memories
            .iter()
            .map(|(_, m)| m.id.unwrap_or_default())
            .collect();
        for chunk in ids.chunks(1_000) {
            let stored: std::collections::HashSet<MemoryId> = s
                .get_memories(chunk)
                .await?
                .into_iter()
                .map(|m| m.id)
                .collect();
            if let Some((line, m)) = file
                .memories
                .iter()
                .find(|(_, m)| stored.contains(&m.id.unwrap_or_default()))
            {
                return Err(BrainError::Import {
                    line: *line,
                    message: format!(
                        "memory {} is already in this brain",
                        uuid_of(m.id.unwrap_or_default())
                    ),
                });
            }
        }
        for (line, p) in &file.policies {
            if s.get_policy(&p.name).await?.is_some() {
                return Err(BrainError::Import {
                    line: *line,
                    message: format!("policy `{}` is already in this brain", p.name),
                });
            }
        }
        for (line, r) in &file.records {
            let clash = match r {
                Record::Preference(p) => s
                    .get_preference(&p.scope, &p.key)
                    .await?
                    .map(|_| format!("a preference `{}` of this scope", p.key)),
                Record::Project(p) => s
                    .get_project(p.id)
                    .await?
                    .map(|_| format!("project {}", p.id)),
                Record::Decision(d) => s
                    .get_decision(d.id)
                    .await?
                    .map(|_| format!("decision {}", d.id)),
                Record::Pattern(p) => {
                    if s.get_pattern(p.id).await?.is_some() {
                        Some(format!("pattern {}", p.id))
                    } else {
                        let q = PatternQuery {
                            pattern_type: Some(p.pattern_type.clone()),
                            ..PatternQuery::new(p.scope.clone(), MAX_RECORDS)
                        };
                        s.list_patterns(&q)
                            .await?
                            .iter()
                            .any(|x| x.scope == p.scope && x.context == p.context)
                            .then(|| {
                                format!(
                                    "a `{}` pattern with this scope and context",
                                    p.pattern_type
                                )
                            })
                    }
                }
                // No lookup by id in the port: the store refuses these inside the batch.
                Record::LearningEvent(_) | Record::Conversation(_) => None,
            };
            if let Some(what) = clash {
                return Err(BrainError::Import {
                    line: *line,
                    message: format!("{what} is already in this brain"),
                });
            }
        }
        Ok(())
    }

    /// The text each imported memory is embedded from: its content, or for a thread
    /// member the content with the turns before it (stored ones first), as remember and
    /// reindex embed it.
    async fn import_texts(&self, memories: &[NewMemory]) -> Result<Vec<String>> {
        let mut texts: Vec<String> = memories.iter().map(|m| m.content.clone()).collect();
        let t = self.config().threads;
        if !t.enabled || t.previous == 0 {
            return Ok(texts);
        }
        let mut order: Vec<usize> = (0..memories.len())
            .filter(|&i| is_thread_member(&memories[i].scope, &memories[i].kind))
            .collect();
        order.sort_by_key(|&i| (memories[i].created_at, memories[i].id));
        let mut recent: HashMap<Scope, VecDeque<String>> = HashMap::new();
        for i in order {
            let m = &memories[i];
            let prev = match recent.entry(m.scope.clone()) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => {
                    let stored = self.thread_tail(&m.scope, m.created_at, t.previous).await?;
                    e.insert(stored.into_iter().map(|m| m.content).collect())
                }
            };
            texts[i] = thread_text(&m.content, prev.make_contiguous());
            prev.push_back(m.content.clone());
            if prev.len() > t.previous {
                prev.pop_front();
            }
        }
        Ok(texts)
    }
}

/// A parsed export file: what it holds, each item with its 1-based line.
struct ExportFile {
    memories: Vec<(usize, NewMemory)>,
    records: Vec<(usize, Record)>,
    policies: Vec<(usize, memory_core::PolicyState)>,
}

/// Reads and checks every line of an export: each parsed and validated, and no id or
/// unique key twice in the file.
fn read_export(input: &mut (dyn BufRead + Send)) -> Result<ExportFile> {
    let mut file = ExportFile {
        memories: Vec::new(),
        records: Vec::new(),
        policies: Vec::new(),
    };
    // Every id and unique key seen, with the line that had it first.
    let mut seen: HashMap<String, usize> = HashMap::new();
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
        let line = parse_export_line(text).map_err(|e| BrainError::Import {
            line: n,
            message: e.to_string(),
        })?;
        if let ExportLine::Memory(m) = &line
            && crate::brain::RESERVED_KINDS.contains(&m.kind.as_str())
        {
            // The brain writes its own pattern entries (from the pattern records).
            return Err(BrainError::Import {
                line: n,
                message: format!(
                    "memory {} has kind `{}`, which only the brain itself writes",
                    m.id.as_uuid(),
                    m.kind.as_str()
                ),
            });
        }
        let keys: Vec<(String, String)> = match &line {
            ExportLine::Header { .. } => Vec::new(),
            ExportLine::Memory(m) => vec![(
                format!("memory {}", m.id.as_uuid()),
                format!("memory {}", m.id.as_uuid()),
            )],
            ExportLine::Policy(p) => vec![(
                format!("policy {:?}", p.name),
                format!("policy `{}`", p.name),
            )],
            ExportLine::Record(r) => {
                let mut keys = vec![(
                    format!("{} {}", r.kind(), r.id()),
                    format!("{} {}", r.kind(), r.id()),
                )];
                match r {
                    Record::Preference(p) => keys.push((
                        format!("preference key {:?}", (&p.scope, &p.key)),
                        format!("preference `{}` of this scope", p.key),
                    )),
                    Record::Pattern(p) => keys.push((
                        format!("pattern key {:?}", (&p.scope, &p.pattern_type, &p.context)),
                        format!("a `{}` pattern with this scope and context", p.pattern_type),
                    )),
                    _ => {}
                }
                keys
            }
        };
        for (key, what) in keys {
            if let Some(first) = seen.insert(key, n) {
                return Err(BrainError::Import {
                    line: n,
                    message: format!("{what} is in the file twice (first at line {first})"),
                });
            }
        }
        match line {
            ExportLine::Header { .. } => {}
            ExportLine::Memory(m) => file.memories.push((n, memory_to_new(m))),
            ExportLine::Record(r) => file.records.push((n, r)),
            ExportLine::Policy(p) => file.policies.push((n, p)),
        }
    }
    Ok(file)
}

/// The import error for a batch the store refused: a conflict names the line of the
/// record or policy the store's message names; other refusals pass through.
fn store_refusal(e: memory_core::Error, file: &ExportFile) -> BrainError {
    if e.kind() != memory_core::ErrorKind::Conflict {
        return BrainError::Core(e);
    }
    let message = e.to_string();
    let line = file
        .records
        .iter()
        .find(|(_, r)| {
            let named = format!("{} {}", r.kind(), r.id());
            message.match_indices(&named).any(|(at, _)| {
                !message[at + named.len()..].starts_with(|c: char| c.is_ascii_digit())
            })
        })
        .map(|(l, _)| *l)
        .or_else(|| {
            file.policies
                .iter()
                .find(|(_, p)| message.contains(&format!("`{}`", p.name)))
                .map(|(l, _)| *l)
        });
    match line {
        Some(line) => BrainError::Import {
            line,
            message: format!("the store refused the import: {message}"),
        },
        // Not about a line (e.g. the brain was reindexed with another embedder meanwhile).
        None => BrainError::Core(e),
    }
}
impl Brain {
    /// Re-embeds every memory in `store` with `embedder` and pins it: the way out of an
    /// embedder mismatch, and the repair for memories stored without an embedding.
    /// Memories are embedded as [`Brain::remember`] embeds them under `config` (thread
    /// turns with the turns before them). Stopping half-way loses no memory; running it
    /// again finishes the job. With the embedder unchanged the old embeddings are replaced
    /// in place, so even a crash part-way leaves every memory searchable; after a change of
    /// embedder, memories not yet re-embedded when it stopped have no embedding until it
    /// runs again. Indexes catch up from the store's log when next opened
    /// (`brain_engines::reindex` does all of it from configuration).
    pub async fn reembed(
        store: &dyn Store,
        embedder: &dyn Embedder,
        config: &BrainConfig,
        progress: &dyn Progress,
    ) -> Result<()> {
        // With the pinned embedder unchanged, each page's embeddings replace the old ones
        // in place, so a crash part-way leaves every memory with a valid embedding. Only a
        // change of embedder has to clear them first (the old vectors are unusable).
        if store.embedder().await?.as_ref() != Some(embedder.info()) {
            store.clear_embeddings().await?;
        }
        store.pin_embedder(embedder.info()).await?;
        // The index directory is left alone: servers sharing it may be writing snapshots.
        // Every re-embedding is a change in the store's log, which each index (theirs, and
        // the one opened below) catches up from; a snapshot of another dimension is
        // rebuilt from the store when opened.
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
                let vectors = embed_blended(embedder, &own, &texts).await?;
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
        Ok(())
    }
}

fn uuid_of(id: MemoryId) -> String {
    id.as_uuid().to_string()
}

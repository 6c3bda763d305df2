//! The documentation collection: files split into chunks that follow their headings and
//! functions (crate `chunk`), each chunk a memory of kind `doc_chunk`.
//!
//! A file is identified by its canonical path. Re-ingesting it replaces its chunks in one
//! store transaction when its content (or the chunker's format) changed, and does nothing
//! when it did not. Re-ingesting a directory also removes the chunks of files that are no
//! longer in it. Walking honours `.gitignore` and skips hidden files, binary files and
//! files over the size limit (each skip reported with its reason).

use std::path::{Path, PathBuf};

use memory_core::{
    ListOrder, MemoryFilter, MemoryId, MemoryKind, Metadata, MetadataCondition, NewMemory, Scope,
    WriteOp,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::brain::Brain;
use crate::error::{BrainError, Result};
use crate::transfer::Progress;

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileOutcome {
    /// Chunked and stored for the first time.
    Added {
        /// Chunks stored.
        chunks: usize,
    },
    /// Changed since it was ingested: its chunks were replaced.
    Replaced {
        /// Chunks stored.
        chunks: usize,
        /// Old chunks removed.
        removed: usize,
    },
    /// Same content as ingested: nothing written.
    Unchanged,
}

/// What an ingest did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestReport {
    /// Files chunked and stored for the first time.
    pub added: usize,
    /// Files whose chunks were replaced.
    pub replaced: usize,
    /// Files unchanged since the last ingest.
    pub unchanged: usize,
    /// Files gone from an ingested directory, whose chunks were removed.
    pub removed_files: usize,
    /// Chunks stored.
    pub chunks: usize,
    /// Files skipped, with why.
    pub skipped: Vec<(PathBuf, String)>,
}

impl Brain {
    /// Ingests files and directories (recursively) into the documentation collection,
    /// owned by `scope`.
    #[tracing::instrument(skip_all, fields(paths = paths.len()))]
    pub async fn ingest_paths(
        &self,
        paths: &[PathBuf],
        scope: &Scope,
        progress: &dyn Progress,
    ) -> Result<IngestReport> {
        scope.validate()?;
        let mut report = IngestReport::default();
        for root in paths {
            let canonical = root.canonicalize().map_err(|e| BrainError::io(root, e))?;
            let files = walk(root, &mut report.skipped)?;
            progress.start(
                &format!("ingesting {}", root.display()),
                Some(files.len() as u64),
            );
            let mut seen = std::collections::HashSet::new();
            for file in files {
                let key = file.canonicalize().map_err(|e| BrainError::io(&file, e))?;
                seen.insert(key.to_string_lossy().into_owned());
                let bytes = std::fs::read(&file).map_err(|e| BrainError::io(&file, e))?;
                if bytes.len() as u64 > self.config().ingest.max_file_bytes {
                    report.skipped.push((
                        file.clone(),
                        format!(
                            "{} bytes, over ingest.max_file_bytes ({})",
                            bytes.len(),
                            self.config().ingest.max_file_bytes
                        ),
                    ));
                    progress.advance(1);
                    continue;
                }
                let Ok(text) = String::from_utf8(bytes) else {
                    report.skipped.push((file.clone(), "not UTF-8 text".into()));
                    progress.advance(1);
                    continue;
                };
                if text.contains('\0') {
                    report
                        .skipped
                        .push((file.clone(), "binary (holds NUL bytes)".into()));
                    progress.advance(1);
                    continue;
                }
                let display = file.to_string_lossy().into_owned();
                let outcome = self
                    .ingest_document(&key, &display, &canonical, &text, scope)
                    .await?;
                match outcome {
                    FileOutcome::Added { chunks } => {
                        report.added += 1;
                        report.chunks += chunks;
                    }
                    FileOutcome::Replaced { chunks, .. } => {
                        report.replaced += 1;
                        report.chunks += chunks;
                    }
                    FileOutcome::Unchanged => report.unchanged += 1,
                }
                progress.advance(1);
            }
            progress.finish();
            if canonical.is_dir() {
                report.removed_files += self.drop_missing(&canonical, &seen, scope).await?;
            }
        }
        Ok(report)
    }

    /// Ingests one document's text. `key` identifies it (re-ingesting the same key
    /// replaces its chunks), `display` is the path shown in chunk context lines, and
    /// `root` the directory it was found under.
    pub async fn ingest_document(
        &self,
        key: &Path,
        display: &str,
        root: &Path,
        text: &str,
        scope: &Scope,
    ) -> Result<FileOutcome> {
        let key_s = key.to_string_lossy().into_owned();
        let hash = chunk::content_hash(text);
        let existing = self
            .list_all(&source_filter(scope, &key_s), ListOrder::NewestFirst)
            .await?;
        let current = !existing.is_empty()
            && existing.iter().all(|m| {
                m.metadata.get("content_hash").and_then(Value::as_str) == Some(hash.as_str())
                    && m.metadata.get("chunk_format").and_then(Value::as_u64)
                        == Some(u64::from(chunk::FORMAT_VERSION))
            });
        if current {
            return Ok(FileOutcome::Unchanged);
        }
        let options = chunk::ChunkOptions::with_max_chars(self.config().ingest.max_chunk_chars);
        let chunks = chunk::chunk(display, text, &options)
            .map_err(|e| BrainError::Config(format!("ingest: {e}")))?;
        let language = chunk::Language::from_path(display);
        let kind = MemoryKind::doc_chunk();
        let news: Vec<NewMemory> = chunks
            .iter()
            .filter(|c| !c.body().trim().is_empty())
            .map(|c| {
                let mut md = Metadata::new()
                    .with("source", key_s.clone())
                    .with("path", display.to_owned())
                    .with("root", root.to_string_lossy().into_owned())
                    .with("content_hash", hash.clone())
                    .with("chunk_format", chunk::FORMAT_VERSION)
                    .with("start_line", c.start_line)
                    .with("end_line", c.end_line)
                    .with("chunk_kind", c.kind.name())
                    .with("language", language.name());
                if !c.heading_path.is_empty() {
                    md = md.with("heading", c.heading_path.join(" > "));
                }
                if let Some(s) = &c.symbol {
                    md = md.with("symbol", s.clone());
                }
                NewMemory::new(c.text.clone())
                    .with_kind(kind.clone())
                    .with_scope(scope.clone())
                    .with_metadata(md)
                    .with_id(MemoryId::new())
            })
            .collect();
        let removed = existing.len();
        let deletes: Vec<WriteOp> = existing
            .iter()
            .map(|m| WriteOp::DeleteMemory { id: m.id })
            .collect();
        self.replace_atomically(deletes, news.clone()).await?;
        Ok(if removed == 0 {
            FileOutcome::Added { chunks: news.len() }
        } else {
            FileOutcome::Replaced {
                chunks: news.len(),
                removed,
            }
        })
    }

    /// Removes the chunks of files under `root` that were not seen in this walk.
    async fn drop_missing(
        &self,
        root: &Path,
        seen: &std::collections::HashSet<String>,
        scope: &Scope,
    ) -> Result<usize> {
        let filter = doc_filter(scope).with_metadata(MetadataCondition::eq(
            "root",
            root.to_string_lossy().into_owned(),
        ));
        let mut gone_files = std::collections::HashSet::new();
        let mut gone = Vec::new();
        for m in self.list_all(&filter, ListOrder::NewestFirst).await? {
            let source = m
                .metadata
                .get("source")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            if !seen.contains(&source) {
                gone_files.insert(source);
                gone.push(WriteOp::DeleteMemory { id: m.id });
            }
        }
        if !gone.is_empty() {
            self.replace_atomically(gone, Vec::new()).await?;
        }
        Ok(gone_files.len())
    }
}

fn doc_filter(scope: &Scope) -> MemoryFilter {
    MemoryFilter {
        include_expired: true,
        ..MemoryFilter::scoped(scope.clone()).with_kind(MemoryKind::doc_chunk())
    }
}

fn source_filter(scope: &Scope, key: &str) -> MemoryFilter {
    doc_filter(scope).with_metadata(MetadataCondition::eq("source", key.to_owned()))
}

/// The files under `root` (or `root` itself), sorted; hidden and git-ignored ones left out.
fn walk(root: &Path, skipped: &mut Vec<(PathBuf, String)>) -> Result<Vec<PathBuf>> {
    if !root.exists() {
        return Err(BrainError::io(
            root,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        ));
    }
    if root.is_file() {
        return Ok(vec![root.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in ignore::WalkBuilder::new(root)
        .require_git(false)
        .sort_by_file_path(|a, b| a.cmp(b))
        .build()
    {
        match entry {
            Ok(e) if e.file_type().is_some_and(|t| t.is_file()) => files.push(e.into_path()),
            Ok(_) => {}
            Err(e) => skipped.push((root.to_path_buf(), e.to_string())),
        }
    }
    Ok(files)
}

//! The documentation collection: files split into chunks that follow their headings and
//! functions (the [`Splitter`](crate::Splitter) port; crate `chunk` by default), each chunk a memory of kind `doc_chunk`.
//!
//! A file is identified by its canonical path. Re-ingesting it replaces its chunks in one
//! store transaction when its content (or the chunker's format) changed, and does nothing
//! when it did not. Re-ingesting a directory also removes the chunks of files that are no
//! longer in it. Walking honours `.gitignore` and skips hidden files; binary files, files
//! over the size limit, files that cannot be read, symbolic links (not followed; dangling
//! and looping ones named as such), FIFOs, sockets and devices are skipped and reported
//! with their reason, and the walk goes on.

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
    /// Paths skipped, with why, in walk order.
    pub skipped: Vec<Skipped>,
}

/// A path an ingest skipped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// The path as walked.
    pub path: PathBuf,
    /// Why, for a person (e.g. "not UTF-8 text", "cannot read: …", "FIFO").
    pub reason: String,
}

impl Skipped {
    fn new(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Skipped {
            path: path.into(),
            reason: reason.into(),
        }
    }
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
        self.splitter()?;
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
                // Resolved first: a file that cannot be read now but is still there keeps
                // its chunks (it is seen); one that vanished loses them.
                let key = match file.canonicalize() {
                    Ok(k) => k,
                    Err(e) => {
                        report
                            .skipped
                            .push(Skipped::new(file, format!("cannot read: {e}")));
                        progress.advance(1);
                        continue;
                    }
                };
                seen.insert(key.to_string_lossy().into_owned());
                let text = match self.read_text(&file) {
                    Ok(t) => t,
                    Err(reason) => {
                        report.skipped.push(Skipped::new(file, reason));
                        progress.advance(1);
                        continue;
                    }
                };
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

    /// The text of a file the walk listed, or why it is skipped. Only a regular file is
    /// opened (a FIFO that became one meanwhile would block the read).
    fn read_text(&self, file: &Path) -> std::result::Result<String, String> {
        let meta = std::fs::symlink_metadata(file).map_err(|e| format!("cannot read: {e}"))?;
        if !meta.is_file() {
            return Err(special_file(file, &meta.file_type()));
        }
        let max = self.config().ingest.max_file_bytes;
        if meta.len() > max {
            return Err(format!(
                "{} bytes, over ingest.max_file_bytes ({max})",
                meta.len()
            ));
        }
        let bytes = std::fs::read(file).map_err(|e| format!("cannot read: {e}"))?;
        if bytes.len() as u64 > max {
            return Err(format!(
                "{} bytes, over ingest.max_file_bytes ({max})",
                bytes.len()
            ));
        }
        let text = String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_owned())?;
        if text.contains('\0') {
            return Err("binary (holds NUL bytes)".into());
        }
        Ok(text)
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
        let splitter = self.splitter()?;
        let format = splitter.format_version();
        let key_s = key.to_string_lossy().into_owned();
        let hash = content_hash(text);
        let existing = self
            .list_all(&source_filter(scope, &key_s), ListOrder::NewestFirst)
            .await?;
        let current = !existing.is_empty()
            && existing.iter().all(|m| {
                m.metadata.get("content_hash").and_then(Value::as_str) == Some(hash.as_str())
                    && m.metadata.get("chunk_format").and_then(Value::as_u64)
                        == Some(u64::from(format))
            });
        if current {
            return Ok(FileOutcome::Unchanged);
        }
        let chunks = splitter
            .split(display, text, self.config().ingest.max_chunk_chars)
            .map_err(|e| BrainError::Config(format!("ingest: {e}")))?;
        let language = splitter.language(display);
        let kind = MemoryKind::doc_chunk();
        let news: Vec<NewMemory> = chunks
            .iter()
            .map(|c| {
                let mut md = Metadata::new()
                    .with("source", key_s.clone())
                    .with("path", display.to_owned())
                    .with("root", root.to_string_lossy().into_owned())
                    .with("content_hash", hash.clone())
                    .with("chunk_format", format)
                    .with("start_line", c.start_line)
                    .with("end_line", c.end_line)
                    .with("chunk_kind", c.kind.clone())
                    .with("language", language.clone());
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

/// The regular files under `root` (or `root` itself), sorted; hidden and git-ignored ones
/// left out. Everything else met on the way that is not a directory, and every entry the
/// walk could not read, goes to `skipped` with its reason.
fn walk(root: &Path, skipped: &mut Vec<Skipped>) -> Result<Vec<PathBuf>> {
    // `exists` follows links: a dangling root is reported as what it is below.
    if std::fs::symlink_metadata(root).is_err() {
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
            Ok(e) => match e.file_type() {
                Some(t) if t.is_file() => files.push(e.into_path()),
                Some(t) if t.is_dir() => {}
                Some(t) => {
                    let reason = special_file(e.path(), &t);
                    skipped.push(Skipped::new(e.into_path(), reason));
                }
                // Only stdin has no file type; the walker never yields it here.
                None => {}
            },
            Err(e) => {
                let path = error_path(&e).unwrap_or(root).to_path_buf();
                skipped.push(Skipped::new(
                    path,
                    format!("cannot read: {}", bare_error(&e)),
                ));
            }
        }
    }
    Ok(files)
}

/// Why a path that is not a regular file or directory is skipped.
fn special_file(path: &Path, t: &std::fs::FileType) -> String {
    if t.is_symlink() {
        return match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => "symbolic link to a directory (not followed)".into(),
            Ok(_) => "symbolic link (not followed)".into(),
            Err(e) if e.raw_os_error() == Some(ELOOP) => {
                "symbolic link loop (it resolves to itself)".into()
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                "dangling symbolic link (its target does not exist)".into()
            }
            Err(e) => format!("symbolic link that cannot be resolved: {e}"),
        };
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "FIFO (named pipe), not a regular file".into();
        }
        if t.is_socket() {
            return "socket, not a regular file".into();
        }
        if t.is_block_device() || t.is_char_device() {
            return "device, not a regular file".into();
        }
    }
    if t.is_dir() {
        return "a directory, not a regular file".into();
    }
    "not a regular file".into()
}

/// `ELOOP` ("too many levels of symbolic links"), the same on Linux and macOS for our
/// purpose of naming a loop; elsewhere the message says it anyway.
#[cfg(target_os = "linux")]
const ELOOP: i32 = 40;
#[cfg(not(target_os = "linux"))]
const ELOOP: i32 = 62;

/// The path a walk error is about, if it names one.
fn error_path(e: &ignore::Error) -> Option<&Path> {
    match e {
        ignore::Error::WithPath { path, .. } => Some(path),
        ignore::Error::Loop { child, .. } => Some(child),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Partial(errs) => errs.iter().find_map(error_path),
        _ => None,
    }
}

/// A walk error's message without the path (reported beside it).
fn bare_error(e: &ignore::Error) -> String {
    match e {
        ignore::Error::WithPath { err, .. } | ignore::Error::WithDepth { err, .. } => {
            bare_error(err)
        }
        other => other.to_string(),
    }
}

/// The SHA-256 of `text`, in hex: a document is chunked again only when it changes.
fn content_hash(text: &str) -> String {
    use sha2::{Digest, Sha256};
    use std::fmt::Write;
    let digest = Sha256::digest(text.as_bytes());
    let mut hex = String::with_capacity(64);
    for b in digest {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

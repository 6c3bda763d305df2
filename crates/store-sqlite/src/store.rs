//! The async store: connections, the blocking pool, and the port implementation.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use memory_core::*;
use rusqlite::{Connection, OpenFlags};

use crate::error::{Result as SResult, SqliteError};
use crate::{ops, schema, writer};

/// How hard a commit works to survive failures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous = NORMAL` in WAL mode: a returned write survives a crash or `kill -9`
    /// of the process; the last commits may be lost if the machine loses power.
    #[default]
    Process,
    /// `synchronous = FULL`: every commit is fsynced, so it survives power loss too.
    Full,
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Commit durability.
    pub durability: Durability,
    /// How long a writer waits for another writer's lock before giving up.
    pub busy_timeout: Duration,
    /// Most idle read connections kept open.
    pub max_readers: usize,
    /// Create the file (and its parent directory) if missing.
    pub create: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            durability: Durability::default(),
            busy_timeout: Duration::from_secs(10),
            max_readers: 4,
            create: true,
        }
    }
}

pub(crate) struct Inner {
    path: PathBuf,
    pub(crate) options: SqliteOptions,
    pub(crate) writer: Mutex<Connection>,
    /// Writes waiting for the group-commit drainer.
    pub(crate) queue: Mutex<writer::Queue>,
    /// Idle read connections; `None` for in-memory stores, which read through the writer
    /// (another connection would see another, empty database).
    readers: Option<Mutex<Vec<Connection>>>,
    /// Whether single writes may run inline (see [`SqliteStore::write`]).
    inline_writes: bool,
    /// Commits through this handle, to pace checkpoints.
    commits: AtomicU64,
    /// Whether a background checkpoint is running.
    checkpointing: AtomicBool,
}

/// Commits between background checkpoints. The writer's own automatic checkpoint is off,
/// so no commit ever pays for one (with its fsyncs) on the caller's thread.
const CHECKPOINT_EVERY: u64 = 512;

/// Longest a background checkpoint waits for readers while holding the writer.
const CHECKPOINT_WAIT: Duration = Duration::from_millis(50);

/// Long-term memory in one SQLite file. Cheap to clone: clones share connections.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a half-done transaction: rusqlite
    // rolls back on drop. The connection stays usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn configure(conn: &Connection, path: &Path, options: &SqliteOptions) -> SResult<()> {
    conn.busy_timeout(options.busy_timeout)?;
    conn.set_prepared_statement_cache_capacity(64);
    // The first statement to read the file: a non-database fails here.
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| not_a_database(e, path))?;
    if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
        tracing::warn!(target: "store_sqlite", %mode, "WAL mode unavailable; concurrent readers will wait for writers");
    }
    let sync = match options.durability {
        Durability::Process => "NORMAL",
        Durability::Full => "FULL",
    };
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;"
    ))?;
    Ok(())
}

/// Refuses a database that is neither a brain nor empty, reading only: a brain's
/// `application_id`, or no schema objects with `user_version` and `application_id` 0.
fn refuse_foreign(conn: &Connection, path: &Path) -> SResult<()> {
    let read = |sql: &str| -> SResult<i64> {
        conn.query_row(sql, [], |r| r.get(0))
            .map_err(|e| not_a_database(e, path))
    };
    let app = read("PRAGMA application_id")?;
    if app == schema::APPLICATION_ID {
        return Ok(());
    }
    if app != 0 {
        return Err(SqliteError::ForeignDatabase {
            path: path.to_owned(),
            found: app,
        });
    }
    let version = read("PRAGMA user_version")?;
    let objects = read("SELECT count(*) FROM sqlite_master")?;
    if version == 0 && objects == 0 {
        return Ok(());
    }
    let tables = read("SELECT count(*) FROM sqlite_master WHERE type = 'table'")?;
    let mut reason = format!(
        "application_id 0, {tables} table{}",
        if tables == 1 { "" } else { "s" }
    );
    if version != 0 {
        reason.push_str(&format!(", user_version {version}"));
    }
    Err(SqliteError::NotABrain {
        path: path.to_owned(),
        reason,
    })
}

/// Creates a new brain at `path`, which did not exist: built under a temporary name and
/// hard-linked into place, which fails if the path appeared meanwhile. So no opener ever
/// sees a half-made brain, and a 0-byte file at the path is never one being created.
fn create_brain(path: &Path, flags: OpenFlags, options: &SqliteOptions) -> SResult<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let tmp = path.with_file_name(format!(".{name}.new-{}-{nanos}", std::process::id()));
    let built = (|| -> SResult<()> {
        let mut conn = Connection::open_with_flags(&tmp, flags)?;
        configure(&conn, &tmp, options)?;
        schema::migrate(&mut conn, &tmp)?;
        Ok(())
    })();
    let linked = built.and_then(|()| match std::fs::hard_link(&tmp, path) {
        Ok(()) => Ok(()),
        // Another opener created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(SqliteError::Sqlite(rusqlite::Error::InvalidPath(
            format!("{}: {e}", path.display()).into(),
        ))),
    });
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = tmp.clone().into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
    linked
}

fn not_a_database(e: rusqlite::Error, path: &Path) -> SqliteError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => SqliteError::NotADatabase {
            path: path.to_owned(),
        },
        _ => e.into(),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` with default options, migrating
    /// its schema to the current version.
    pub async fn open(path: impl AsRef<Path>) -> SResult<Self> {
        Self::open_with(path, SqliteOptions::default()).await
    }

    /// Opens the store at `path` with `options`.
    pub async fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> SResult<Self> {
        let path = path.as_ref().to_owned();
        tokio::task::spawn_blocking(move || Self::open_blocking(&path, options))
            .await
            .map_err(|e| SqliteError::Task(e.to_string()))?
    }

    /// Opens the store at `path` on the current thread (for synchronous callers; the
    /// store's methods still need a tokio runtime).
    #[tracing::instrument(level = "debug", skip(options), fields(path = %path.display()))]
    pub fn open_blocking(path: &Path, options: SqliteOptions) -> SResult<Self> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        if options.create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    SqliteError::Sqlite(rusqlite::Error::InvalidPath(
                        format!("{}: {e}", dir.display()).into(),
                    ))
                })?;
            }
        }
        let plain_file = !path.to_string_lossy().starts_with("file:");
        if plain_file && options.create && !path.exists() {
            create_brain(path, flags, &options)?;
        }
        if plain_file && std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
            return Err(SqliteError::EmptyFile {
                path: path.to_owned(),
            });
        }
        let mut writer = Connection::open_with_flags(path, flags)?;
        // Before any statement that writes (journal_mode = WAL persists in the file).
        refuse_foreign(&writer, path)?;
        configure(&writer, path, &options)?;
        writer.execute_batch("PRAGMA wal_autocheckpoint = 0;")?;
        schema::migrate(&mut writer, path).map_err(|e| match e {
            SqliteError::Sqlite(inner) | SqliteError::Busy(inner) => not_a_database(inner, path),
            other => other,
        })?;
        tracing::debug!(target: "store_sqlite", schema = schema::SCHEMA_VERSION, "opened");
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                inline_writes: options.durability == Durability::Process,
                options,
                writer: Mutex::new(writer),
                queue: Mutex::default(),
                readers: Some(Mutex::new(Vec::new())),
                commits: AtomicU64::new(0),
                checkpointing: AtomicBool::new(false),
            }),
        })
    }

    /// A private in-memory store, for tests and scratch work; gone when dropped.
    pub fn open_in_memory() -> SResult<Self> {
        let mut conn = Connection::open_in_memory()?;
        let path = PathBuf::from(":memory:");
        let options = SqliteOptions::default();
        configure(&conn, &path, &options)?;
        schema::migrate(&mut conn, &path)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                options,
                writer: Mutex::new(conn),
                queue: Mutex::default(),
                readers: None,
                inline_writes: true,
                commits: AtomicU64::new(0),
                checkpointing: AtomicBool::new(false),
            }),
        })
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Runs a single-record write (see [`crate::writer`]): inline when nothing waits,
    /// otherwise through the group-commit queue.
    async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, Timestamp) -> SResult<T> + Send + 'static,
    {
        let f = if self.inner.inline_writes && self.inner.queue_idle() {
            match self.inner.try_write_inline(f) {
                Ok(out) => {
                    if out.is_ok() {
                        self.inner.committed(1);
                    }
                    return Ok(out?);
                }
                Err(f) => f,
            }
        } else {
            f
        };
        self.write_bulk(f).await
    }

    /// Runs a write through the group-commit queue, never inline (for batches and
    /// bulk deletes, which may take long).
    async fn write_bulk<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, Timestamp) -> SResult<T> + Send + 'static,
    {
        let (job, rx) = writer::job(f);
        self.inner.enqueue(job);
        let out = rx
            .await
            .map_err(|_| SqliteError::Task("the writer stopped before answering".into()))?;
        Ok(out?)
    }

    /// Runs `f` on a read connection, on the blocking pool.
    async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, Timestamp) -> SResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        let out = tokio::task::spawn_blocking(move || -> SResult<T> {
            let Some(pool) = &inner.readers else {
                return f(&lock(&inner.writer), Timestamp::now());
            };
            let conn = lock(pool).pop();
            let conn = match conn {
                Some(c) => c,
                None => inner.open_reader()?,
            };
            let out = f(&conn, Timestamp::now());
            let mut idle = lock(pool);
            if idle.len() < inner.options.max_readers {
                idle.push(conn);
            }
            out
        })
        .await
        .map_err(|e| SqliteError::Task(e.to_string()))?;
        Ok(out?)
    }
}

impl Inner {
    /// Counts `n` committed writes and, every [`CHECKPOINT_EVERY`], starts a background
    /// checkpoint.
    pub(crate) fn committed(self: &Arc<Self>, n: u64) {
        let before = self.commits.fetch_add(n, Ordering::Relaxed);
        if before / CHECKPOINT_EVERY == (before + n) / CHECKPOINT_EVERY
            || self.readers.is_none()
            || self.checkpointing.swap(true, Ordering::AcqRel)
        {
            return;
        }
        let inner = self.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = inner.checkpoint() {
                tracing::warn!(target: "store_sqlite", error = %e, "background checkpoint failed");
            }
            inner.checkpointing.store(false, Ordering::Release);
        });
    }

    /// Copies committed WAL pages into the database file and restarts the WAL from its
    /// beginning, so it stays bounded under sustained writes (a checkpoint running beside
    /// the writer never catches up with it, and the WAL would only grow). It holds the
    /// writer connection meanwhile: writes arriving then wait on the blocking pool, never
    /// inline.
    fn checkpoint(&self) -> SResult<()> {
        let conn = lock(&self.writer);
        // Waiting for readers to leave the WAL stalls this process's writes, so wait
        // briefly; if readers stay, the checkpoint degrades to a passive one and the next
        // try restarts the WAL.
        conn.busy_timeout(CHECKPOINT_WAIT)?;
        let busy = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0));
        conn.busy_timeout(self.options.busy_timeout)?;
        if busy? != 0 {
            tracing::debug!(target: "store_sqlite", "checkpoint could not restart the WAL: readers active");
        }
        Ok(())
    }

    fn open_reader(&self) -> SResult<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        conn.busy_timeout(self.options.busy_timeout)?;
        conn.set_prepared_statement_cache_capacity(64);
        conn.execute_batch("PRAGMA query_only = ON; PRAGMA temp_store = MEMORY;")?;
        Ok(conn)
    }
}

#[async_trait]
impl LongTermStore for SqliteStore {
    #[tracing::instrument(level = "debug", skip_all, fields(ops = ops_in.len()))]
    async fn write_batch(&self, ops_in: Vec<WriteOp>) -> Result<Vec<WriteOutcome>> {
        for op in &ops_in {
            op.validate()?;
        }
        if ops_in.is_empty() {
            return Ok(Vec::new());
        }
        self.write_bulk(move |c, now| {
            ops_in
                .into_iter()
                .map(|op| ops::apply(c, op, now))
                .collect::<SResult<Vec<_>>>()
        })
        .await
    }

    async fn stats(&self) -> Result<StoreStats> {
        self.read(|c, _| ops::stats(c)).await
    }
}

#[async_trait]
impl MemoryStore for SqliteStore {
    async fn put_memory(&self, memory: NewMemory) -> Result<Memory> {
        memory.validate()?;
        self.write(move |c, now| ops::put_memory(c, memory, now))
            .await
    }

    async fn get_memory(&self, id: MemoryId) -> Result<Option<Memory>> {
        self.read(move |c, _| ops::get_memory(c, id)).await
    }

    async fn get_memories(&self, ids: &[MemoryId]) -> Result<Vec<Memory>> {
        let ids = ids.to_vec();
        self.read(move |c, _| ops::get_memories(c, &ids)).await
    }

    async fn keyword_document_counts(&self, terms: &[String]) -> Result<(u64, Vec<u64>)> {
        let terms = terms.to_vec();
        self.read(move |c, _| ops::keyword_document_counts(c, &terms))
            .await
    }

    async fn update_memory(&self, id: MemoryId, patch: MemoryPatch) -> Result<Memory> {
        patch.validate()?;
        self.write(move |c, now| ops::update_memory(c, id, patch, now))
            .await
    }

    async fn delete_memory(&self, id: MemoryId) -> Result<bool> {
        self.write(move |c, _| ops::delete_memory(c, id)).await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_memories(&self, filter: &MemoryFilter) -> Result<Vec<MemoryId>> {
        filter.validate()?;
        let filter = filter.clone();
        self.write_bulk(move |c, now| ops::delete_memories(c, &filter, now))
            .await
    }

    async fn list_memories(&self, query: &MemoryQuery) -> Result<Vec<Memory>> {
        query.filter.validate()?;
        let query = query.clone();
        self.read(move |c, now| ops::list_memories(c, &query, now))
            .await
    }

    async fn count_memories(&self, filter: &MemoryFilter) -> Result<u64> {
        filter.validate()?;
        let filter = filter.clone();
        self.read(move |c, now| ops::count_memories(c, &filter, now))
            .await
    }

    async fn search_memories(&self, query: &KeywordQuery) -> Result<Vec<KeywordHit>> {
        query.filter.validate()?;
        let query = query.clone();
        self.read(move |c, now| ops::search_memories(c, &query, now))
            .await
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn purge_expired(&self, now: Timestamp) -> Result<Vec<MemoryId>> {
        self.write_bulk(move |c, _| ops::purge_expired(c, now))
            .await
    }
}

#[async_trait]
impl RecordStore for SqliteStore {
    async fn put_record(&self, record: NewRecord) -> Result<RecordWrite> {
        record.validate()?;
        self.write(move |c, now| ops::put_record(c, record, now))
            .await
    }

    async fn get_record(&self, key: &RecordKey) -> Result<Option<Record>> {
        let key = key.clone();
        self.read(move |c, _| ops::get_record(c, &key)).await
    }

    async fn get_records(&self, kind: RecordKind, ids: &[RecordId]) -> Result<Vec<Record>> {
        let ids = ids.to_vec();
        self.read(move |c, _| ops::get_records(c, kind, &ids)).await
    }

    async fn list_records(&self, query: &RecordQuery) -> Result<Vec<Record>> {
        let query = query.clone();
        self.read(move |c, _| ops::list_records(c, &query)).await
    }

    async fn change_record(&self, id: RecordId, change: RecordChange) -> Result<Record> {
        change.validate()?;
        self.write(move |c, now| ops::change_record(c, id, &change, now))
            .await
    }

    async fn delete_record(&self, key: &RecordKey) -> Result<bool> {
        let key = key.clone();
        self.write(move |c, _| ops::delete_record(c, &key)).await
    }

    async fn search_patterns(&self, text: &str, query: &PatternQuery) -> Result<Vec<PatternHit>> {
        let (text, query) = (text.to_owned(), query.clone());
        self.read(move |c, _| ops::search_patterns(c, &text, &query))
            .await
    }
}

#[async_trait]
impl PolicyStore for SqliteStore {
    async fn get_policy(&self, name: &str) -> Result<Option<PolicyState>> {
        let name = name.to_owned();
        self.read(move |c, _| ops::get_policy(c, &name)).await
    }

    async fn put_policy(
        &self,
        name: &str,
        kind: &str,
        state: &serde_json::Value,
        expected: Option<u64>,
    ) -> Result<u64> {
        memory_core::validate_policy(name, kind, state)?;
        let (name, kind, state) = (name.to_owned(), kind.to_owned(), state.clone());
        self.write(move |c, now| ops::put_policy(c, &name, &kind, &state, expected, now))
            .await
    }

    async fn list_policies(&self) -> Result<Vec<String>> {
        self.read(move |c, _| ops::list_policies(c)).await
    }

    async fn delete_policy(&self, name: &str) -> Result<bool> {
        let name = name.to_owned();
        self.write(move |c, _| ops::delete_policy(c, &name)).await
    }
}

#[async_trait]
impl EmbeddingStore for SqliteStore {
    async fn embedder(&self) -> Result<Option<EmbedderInfo>> {
        self.read(|c, _| ops::embedder(c)).await
    }

    async fn pin_embedder(&self, info: &EmbedderInfo) -> Result<()> {
        let info = info.clone();
        self.write(move |c, _| ops::pin_embedder(c, &info)).await
    }

    async fn put_embeddings(&self, items: Vec<(MemoryId, Vec<f32>)>) -> Result<u64> {
        if items.is_empty() {
            return self.last_embedding_seq().await;
        }
        self.write_bulk(move |c, _| {
            let mut last = 0;
            for (id, v) in &items {
                last = ops::put_embedding(c, *id, v)?;
            }
            Ok(last)
        })
        .await
    }

    async fn get_embedding(&self, id: MemoryId) -> Result<Option<Vec<f32>>> {
        self.read(move |c, _| ops::get_embedding(c, id)).await
    }

    async fn embedding_changes(&self, after: u64, limit: usize) -> Result<Vec<EmbeddingChange>> {
        self.read(move |c, _| ops::embedding_changes(c, after, limit))
            .await
    }

    async fn last_embedding_seq(&self) -> Result<u64> {
        self.read(|c, _| ops::last_embedding_seq(c)).await
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn clear_embeddings(&self) -> Result<()> {
        self.write_bulk(|c, _| ops::clear_embeddings(c)).await
    }
}

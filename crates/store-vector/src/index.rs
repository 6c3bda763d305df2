//! [`HnswIndex`]: the engine behind the [`VectorIndex`] port, with background rebuilds,
//! snapshots and catch-up from the [`EmbeddingStore`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, RwLock};

use async_trait::async_trait;
use memory_core::{
    EmbeddingChange, EmbeddingStore, MemoryId, ValidationError, VectorEntry, VectorHit,
    VectorIndex, VectorQuery,
};

use crate::distance::normalized;
use crate::engine::{Engine, Prepared, panic_message};
use crate::error::{Result, VectorError};
use crate::filter::{EntryMeta, FilterPlan};
use crate::params::HnswParams;
use crate::snapshot::{self, SnapshotInfo};
use crate::util::{lock, read, write};

/// Changes read from the embedding store per call while catching up.
pub const CATCH_UP_PAGE: usize = 1024;

/// A filtered, persistent HNSW index over memory embeddings. See the crate docs for the
/// design.
///
/// Cloning is cheap and shares the index. The `*_blocking` methods do the work on the
/// calling thread; the async [`VectorIndex`] methods and the async inherent methods move
/// it to tokio's blocking pool.
#[derive(Clone)]
pub struct HnswIndex {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for HnswIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HnswIndex")
            .field("params", &self.shared.params)
            .field("stats", &self.stats())
            .finish()
    }
}

struct Shared {
    params: HnswParams,
    /// The engine searches use; swapped whole by a rebuild.
    current: RwLock<Arc<Engine>>,
    /// Serialises writers (and snapshots, which must see no write half done).
    writer: Mutex<Writer>,
    /// Signalled when a rebuild ends.
    idle: Condvar,
    applied_seq: AtomicU64,
    rebuilds: AtomicU64,
    /// Serialises catch-ups, so pages are applied once and in order.
    catch_up: tokio::sync::Mutex<()>,
    opened_from: OpenedFrom,
}

#[derive(Default)]
struct Writer {
    /// `Some` while a rebuild runs: every write applied to the current engine since the
    /// rebuild began, to replay onto the new engine before it is swapped in.
    journal: Option<Vec<JournalOp>>,
}

enum JournalOp {
    Upsert(Vec<Prepared>),
    Delete(Vec<MemoryId>),
}

/// Where an index's contents came from when it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpenedFrom {
    /// Made empty or from entries ([`HnswIndex::new`], [`HnswIndex::build`]).
    New,
    /// Loaded from a verified snapshot, then caught up.
    Snapshot {
        /// The snapshot directory.
        path: PathBuf,
        /// The sequence number it covered.
        seq: u64,
    },
    /// Built from the whole embedding log, because there was no usable snapshot.
    Rebuilt {
        /// Why the snapshot was not used (missing, damaged, another dimension…).
        reason: String,
    },
}

/// Counts describing an index at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IndexStats {
    /// Live entries.
    pub live: usize,
    /// Deleted or replaced entries still in the graph.
    pub tombstones: usize,
    /// Points in the graph (live + tombstones).
    pub points: usize,
    /// The embedding-log sequence number applied.
    pub applied_seq: u64,
    /// Whether a rebuild is running.
    pub rebuilding: bool,
    /// Rebuilds completed since the index was made.
    pub rebuilds: u64,
}

impl HnswIndex {
    fn from_engine(engine: Engine, seq: u64, opened_from: OpenedFrom) -> Self {
        let params = engine.params;
        HnswIndex {
            shared: Arc::new(Shared {
                params,
                current: RwLock::new(Arc::new(engine)),
                writer: Mutex::new(Writer::default()),
                idle: Condvar::new(),
                applied_seq: AtomicU64::new(seq),
                rebuilds: AtomicU64::new(0),
                catch_up: tokio::sync::Mutex::new(()),
                opened_from,
            }),
        }
    }

    /// An empty index. Fails on parameters out of range.
    pub fn new(params: HnswParams) -> Result<Self> {
        Ok(Self::from_engine(
            Engine::empty(params, 1024)?,
            0,
            OpenedFrom::New,
        ))
    }

    /// An index over `entries`, built in bulk with all cores (a later entry with the
    /// same id replaces an earlier one). Every vector is checked first.
    pub fn build(params: HnswParams, entries: Vec<VectorEntry>) -> Result<Self> {
        params.validate()?;
        let prepared = prepare(params.dimension, entries)?;
        check_capacity(&params, 0, prepared.len())?;
        Ok(Self::from_engine(
            Engine::build(params, prepared)?,
            0,
            OpenedFrom::New,
        ))
    }

    /// Opens the index kept in `dir`, consistent with `store`.
    ///
    /// Loads the current snapshot if there is one and it verifies (checksums, format,
    /// dimension, parameters, and a sequence number the store has reached), then applies
    /// the store's changes after it. Otherwise — no snapshot, or one that cannot be
    /// trusted — logs why and builds from the whole embedding log. Fails when the store's
    /// pinned embedder has another dimension than `params` (the brain needs a reindex),
    /// or when the store fails.
    #[tracing::instrument(skip_all, fields(dir = %dir.as_ref().display(), dimension = params.dimension))]
    pub async fn open(
        dir: impl AsRef<Path>,
        params: HnswParams,
        store: &dyn EmbeddingStore,
    ) -> Result<Self> {
        params.validate()?;
        if let Some(info) = store.embedder().await.map_err(VectorError::Store)?
            && info.dimension != params.dimension
        {
            return Err(VectorError::DimensionMismatch {
                index: params.dimension,
                store: info.dimension,
            });
        }
        let last = store
            .last_embedding_seq()
            .await
            .map_err(VectorError::Store)?;
        let dir = dir.as_ref().to_path_buf();
        let loaded = blocking(move || Ok(snapshot::load(&dir, &params))).await?;
        let reason = match loaded {
            Ok(Some(l)) if l.seq <= last => {
                tracing::info!(path = %l.path.display(), seq = l.seq, "loaded the vector index snapshot");
                let index = Self::from_engine(
                    l.engine,
                    l.seq,
                    OpenedFrom::Snapshot {
                        path: l.path,
                        seq: l.seq,
                    },
                );
                index.catch_up(store).await?;
                return Ok(index);
            }
            Ok(Some(l)) => format!(
                "snapshot {} covers sequence {} but the store's log ends at {last}",
                l.path.display(),
                l.seq
            ),
            Ok(None) => "no snapshot".to_owned(),
            Err(e) => e.to_string(),
        };
        if reason == "no snapshot" {
            // A new brain, or one never closed: expected, not worth a warning.
            tracing::info!("no vector index snapshot yet; building from the embedding store");
        } else {
            tracing::warn!(%reason, "not using a vector index snapshot; rebuilding from the embedding store");
        }
        let (engine, seq) = build_from_store(params, store).await?;
        let index = Self::from_engine(engine, seq, OpenedFrom::Rebuilt { reason });
        index.catch_up(store).await?;
        Ok(index)
    }

    /// The parameters.
    pub fn params(&self) -> HnswParams {
        self.shared.params
    }

    /// The greatest embedding-log sequence number applied: every change up to it is
    /// reflected in the index.
    pub fn applied_seq(&self) -> u64 {
        self.shared.applied_seq.load(Ordering::Acquire)
    }

    /// Where the index came from.
    pub fn opened_from(&self) -> &OpenedFrom {
        &self.shared.opened_from
    }

    /// Counts, now.
    pub fn stats(&self) -> IndexStats {
        let c = self.engine().counts();
        IndexStats {
            live: c.live,
            tombstones: c.tombstones,
            points: c.internal,
            applied_seq: self.applied_seq(),
            rebuilding: lock(&self.shared.writer).journal.is_some(),
            rebuilds: self.shared.rebuilds.load(Ordering::Acquire),
        }
    }

    /// Whether a live entry has this id.
    pub fn contains(&self, id: MemoryId) -> bool {
        self.engine().contains(&id)
    }

    fn engine(&self) -> Arc<Engine> {
        Arc::clone(&read(&self.shared.current))
    }

    fn writer(&self) -> MutexGuard<'_, Writer> {
        lock(&self.shared.writer)
    }

    /// Inserts or replaces entries by id. Every vector is checked first (on error
    /// nothing changes); large batches are inserted in parallel.
    pub fn upsert_blocking(&self, entries: Vec<VectorEntry>) -> Result<()> {
        let prepared = prepare(self.shared.params.dimension, entries)?;
        let mut w = self.writer();
        self.apply(&mut w, prepared, Vec::new())
    }

    /// Removes entries (they become tombstones); returns how many existed.
    pub fn delete_blocking(&self, ids: &[MemoryId]) -> usize {
        let mut w = self.writer();
        let engine = self.engine();
        let n = engine.delete(ids);
        if n > 0 {
            if let Some(j) = &mut w.journal {
                j.push(JournalOp::Delete(ids.to_vec()));
            }
            self.maybe_rebuild(&mut w, &engine);
        }
        n
    }

    /// Applies deletions then upserts (disjoint ids) under the writer lock.
    fn apply(&self, w: &mut Writer, upserts: Vec<Prepared>, deletes: Vec<MemoryId>) -> Result<()> {
        let engine = self.engine();
        let adding = engine.count_new(upserts.iter().map(|p| p.id));
        let live = engine.counts().live.saturating_sub(deletes.len());
        check_capacity(&self.shared.params, live, adding)?;
        if !deletes.is_empty() {
            engine.delete(&deletes);
            if let Some(j) = &mut w.journal {
                j.push(JournalOp::Delete(deletes));
            }
        }
        if !upserts.is_empty() {
            let copy = w.journal.is_some().then(|| upserts.clone());
            engine.insert(upserts)?;
            if let (Some(j), Some(copy)) = (&mut w.journal, copy) {
                j.push(JournalOp::Upsert(copy));
            }
            maybe_freeze(&engine);
        }
        self.maybe_rebuild(w, &engine);
        Ok(())
    }

    /// The `k` nearest live entries passing the query's filter, nearest first. Searches
    /// the graph with `ef = max(ef_search, 2k)`: recall at a large `k` needs room beyond
    /// `k` itself.
    pub fn search_blocking(&self, query: &VectorQuery) -> Result<Vec<VectorHit>> {
        let ef = self.shared.params.ef_search.max(query.k.saturating_mul(2));
        self.search_with_ef_blocking(query, ef)
    }

    /// [`HnswIndex::search_blocking`] with another `ef` (raised to `k`, clamped to
    /// `1..=16384`).
    pub fn search_with_ef_blocking(
        &self,
        query: &VectorQuery,
        ef: usize,
    ) -> Result<Vec<VectorHit>> {
        let q = normalized(&query.vector, self.shared.params.dimension, None)?;
        query
            .filter
            .validate()
            .map_err(VectorError::InvalidFilter)?;
        let plan = FilterPlan::new(&query.filter, query.now);
        let ef = ef.clamp(1, crate::params::MAX_EF);
        Ok(self.engine().search(&q, query.k, &plan, ef))
    }

    /// Applies a page of the embedding log (as [`EmbeddingStore::embedding_changes`]
    /// returns it) and records its greatest sequence number as applied.
    pub fn apply_changes_blocking(&self, changes: &[EmbeddingChange]) -> Result<()> {
        let Some(max_seq) = changes.iter().map(|c| c.seq).max() else {
            return Ok(());
        };
        // The latest change of each id in the page wins.
        let mut latest: HashMap<MemoryId, &EmbeddingChange> = HashMap::new();
        for c in changes {
            latest
                .entry(c.id)
                .and_modify(|old| {
                    if c.seq > old.seq {
                        *old = c;
                    }
                })
                .or_insert(c);
        }
        let mut deletes = Vec::new();
        let mut entries = Vec::new();
        for (id, c) in latest {
            match &c.entry {
                Some(e) => {
                    let mut e = e.clone();
                    e.id = id;
                    entries.push(e);
                }
                None => deletes.push(id),
            }
        }
        let (upserts, skipped) = prepare_from_store(self.shared.params.dimension, entries)?;
        deletes.extend(skipped);
        let mut w = self.writer();
        let engine = self.engine();
        let live_deletes: Vec<MemoryId> = deletes
            .into_iter()
            .filter(|id| engine.contains(id))
            .collect();
        self.apply(&mut w, upserts, live_deletes)?;
        self.shared.applied_seq.fetch_max(max_seq, Ordering::AcqRel);
        Ok(())
    }

    /// Applies every change the store logged after [`HnswIndex::applied_seq`], in pages
    /// of [`CATCH_UP_PAGE`]; returns how many changes were applied.
    #[tracing::instrument(skip_all, fields(from = self.applied_seq()))]
    pub async fn catch_up(&self, store: &dyn EmbeddingStore) -> Result<usize> {
        let _one_at_a_time = self.shared.catch_up.lock().await;
        let mut total = 0;
        loop {
            let after = self.applied_seq();
            let changes = store
                .embedding_changes(after, CATCH_UP_PAGE)
                .await
                .map_err(VectorError::Store)?;
            let n = changes.len();
            if n == 0 {
                break;
            }
            if changes.iter().any(|c| c.seq <= after) {
                return Err(VectorError::Store(memory_core::Error::Backend {
                    message: format!(
                        "embedding_changes(after = {after}) returned a change at or before {after}"
                    ),
                    source: None,
                }));
            }
            let this = self.clone();
            blocking(move || this.apply_changes_blocking(&changes)).await?;
            total += n;
            if n < CATCH_UP_PAGE {
                break;
            }
        }
        if total > 0 {
            tracing::debug!(total, seq = self.applied_seq(), "caught up");
        }
        Ok(total)
    }

    /// Writes a snapshot of the index into `dir` (see the crate docs for the layout and
    /// the crash-safety argument). Writers wait meanwhile; searches do not.
    #[tracing::instrument(skip_all, fields(dir = %dir.as_ref().display()))]
    pub fn snapshot_blocking(&self, dir: impl AsRef<Path>) -> Result<SnapshotInfo> {
        let _w = self.writer();
        let engine = self.engine();
        let seq = self.applied_seq();
        let info = snapshot::write(dir.as_ref(), &engine, seq)?;
        tracing::info!(path = %info.path.display(), seq, live = info.live, bytes = info.bytes, "wrote a vector index snapshot");
        Ok(info)
    }

    /// [`HnswIndex::snapshot_blocking`] on the blocking pool.
    pub async fn snapshot(&self, dir: impl AsRef<Path>) -> Result<SnapshotInfo> {
        let this = self.clone();
        let dir = dir.as_ref().to_path_buf();
        blocking(move || this.snapshot_blocking(dir)).await
    }

    /// Rebuilds the graph from the live entries now, dropping every tombstone, and
    /// swaps it in; searches go on meanwhile and writes are not lost. Waits for a
    /// background rebuild that is running first.
    #[tracing::instrument(skip_all)]
    pub fn rebuild_blocking(&self) -> Result<()> {
        self.writer_when_idle().journal = Some(Vec::new());
        run_rebuild(&self.shared)
    }

    /// [`HnswIndex::rebuild_blocking`] on the blocking pool.
    pub async fn rebuild(&self) -> Result<()> {
        let this = self.clone();
        blocking(move || this.rebuild_blocking()).await
    }

    /// Blocks until no rebuild is running.
    pub fn wait_for_rebuild(&self) {
        drop(self.writer_when_idle());
    }

    /// The writer lock, taken once no rebuild is running.
    fn writer_when_idle(&self) -> MutexGuard<'_, Writer> {
        let mut w = self.writer();
        while w.journal.is_some() {
            w = self
                .shared
                .idle
                .wait(w)
                .unwrap_or_else(PoisonError::into_inner);
        }
        w
    }

    /// Starts a background rebuild when a fifth of the graph is tombstones.
    fn maybe_rebuild(&self, w: &mut Writer, engine: &Engine) {
        if w.journal.is_some() || !engine.needs_rebuild() {
            return;
        }
        let c = engine.counts();
        tracing::info!(
            tombstones = c.tombstones,
            points = c.internal,
            "starting a background rebuild"
        );
        w.journal = Some(Vec::new());
        let shared = Arc::clone(&self.shared);
        let spawned = std::thread::Builder::new()
            .name("store-vector-rebuild".into())
            .spawn(move || {
                if let Err(e) = run_rebuild(&shared) {
                    tracing::warn!(error = %e, "background rebuild failed; keeping the current graph");
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "could not start a background rebuild");
            w.journal = None;
        }
    }
}

/// Starts a background freeze of the engine's graph when enough points have been added
/// since the last one (searches scan those exactly meanwhile).
fn maybe_freeze(engine: &Arc<Engine>) {
    if !engine.claim_freeze() {
        return;
    }
    let e = Arc::clone(engine);
    let spawned = std::thread::Builder::new()
        .name("store-vector-freeze".into())
        .spawn(move || {
            if let Err(err) = e.freeze() {
                tracing::warn!(error = %err, "could not freeze the graph; the delta stays exact");
            }
            e.freeze_done();
        });
    if let Err(err) = spawned {
        tracing::warn!(error = %err, "could not start a background freeze");
        engine.freeze_done();
    }
}

/// Builds a fresh engine from the live entries, replays the writes that arrived
/// meanwhile, and swaps it in. The caller has set the journal; this always clears it.
fn run_rebuild(shared: &Arc<Shared>) -> Result<()> {
    let outcome =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rebuild_and_swap(shared)))
            .unwrap_or_else(|p| {
                Err(VectorError::Engine(format!(
                    "rebuild: {}",
                    panic_message(p.as_ref())
                )))
            });
    let mut w = lock(&shared.writer);
    w.journal = None;
    shared.idle.notify_all();
    outcome
}

fn rebuild_and_swap(shared: &Arc<Shared>) -> Result<()> {
    let old = Arc::clone(&read(&shared.current));
    // Copying the live entries without the writer lock is safe: a write that lands in
    // both the copy and the journal is replayed again, and every journal op (set or
    // remove one id's entry) is idempotent, so the final state per id is the last write.
    let live = old.live_entries();
    let new = Engine::build(shared.params, live)?;
    // Replay the journal outside the writer lock while it is long, then the rest under it.
    for _ in 0..4 {
        let ops = {
            let mut w = lock(&shared.writer);
            match &mut w.journal {
                Some(j) if j.len() > 8 => std::mem::take(j),
                _ => break,
            }
        };
        replay(&new, ops)?;
    }
    // Freeze what was replayed so far, still outside the writer lock.
    new.freeze()?;
    let mut w = lock(&shared.writer);
    let ops = w.journal.as_mut().map(std::mem::take).unwrap_or_default();
    replay(&new, ops)?;
    let c = new.counts();
    *write(&shared.current) = Arc::new(new);
    shared.rebuilds.fetch_add(1, Ordering::AcqRel);
    drop(w);
    tracing::info!(
        live = c.live,
        tombstones = c.tombstones,
        "rebuilt the vector index"
    );
    // `old` is dropped here, on the rebuild thread, unless a search still holds it.
    drop(old);
    Ok(())
}

fn replay(engine: &Engine, ops: Vec<JournalOp>) -> Result<()> {
    for op in ops {
        match op {
            JournalOp::Upsert(entries) => engine.insert(entries)?,
            JournalOp::Delete(ids) => {
                engine.delete(&ids);
            }
        }
    }
    Ok(())
}

fn check_capacity(params: &HnswParams, live: usize, adding: usize) -> Result<()> {
    if live.saturating_add(adding) > params.max_elements {
        return Err(VectorError::Full {
            live,
            adding,
            max: params.max_elements,
        });
    }
    Ok(())
}

/// Validates and normalises entries; a later entry with the same id replaces an earlier
/// one. Any invalid vector fails the whole batch.
fn prepare(dimension: usize, entries: Vec<VectorEntry>) -> Result<Vec<Prepared>> {
    let mut out = Prepared::dedup(entries.len());
    for e in entries {
        let vector = normalized(&e.vector, dimension, Some(e.id))?;
        out.push(e, vector);
    }
    Ok(out.into_vec())
}

/// [`prepare`] for entries read from the embedding store, which validated them on the
/// way in. A vector of another dimension means the embedder changed: an error that
/// names the way out (reindex). Any other invalid vector (which the store should never
/// have accepted) is logged and skipped — returned among the ids to remove — so one bad
/// row cannot stop the index from ever catching up.
fn prepare_from_store(
    dimension: usize,
    entries: Vec<VectorEntry>,
) -> Result<(Vec<Prepared>, Vec<MemoryId>)> {
    let mut out = Prepared::dedup(entries.len());
    let mut skipped = Vec::new();
    for e in entries {
        match normalized(&e.vector, dimension, Some(e.id)) {
            Ok(vector) => out.push(e, vector),
            Err(VectorError::InvalidVector {
                source: ValidationError::WrongDimension { expected, got },
                ..
            }) => {
                return Err(VectorError::DimensionMismatch {
                    index: expected,
                    store: got,
                });
            }
            Err(err) => {
                tracing::warn!(id = %e.id, error = %err, "skipping an invalid stored embedding");
                out.forget(&e.id);
                skipped.push(e.id);
            }
        }
    }
    Ok((out.into_vec(), skipped))
}

/// Entries keyed by id, the last of each id winning, in first-seen order.
struct Dedup {
    out: Vec<Option<Prepared>>,
    seen: HashMap<MemoryId, usize>,
}

impl Prepared {
    fn dedup(capacity: usize) -> Dedup {
        Dedup {
            out: Vec::with_capacity(capacity),
            seen: HashMap::with_capacity(capacity),
        }
    }
}

impl Dedup {
    fn push(&mut self, e: VectorEntry, vector: Vec<f32>) {
        let p = Prepared {
            id: e.id,
            vector,
            meta: Arc::new(EntryMeta::of(&e)),
        };
        match self.seen.get(&e.id) {
            Some(&i) => self.out[i] = Some(p),
            None => {
                self.seen.insert(e.id, self.out.len());
                self.out.push(Some(p));
            }
        }
    }

    fn forget(&mut self, id: &MemoryId) {
        if let Some(i) = self.seen.remove(id) {
            self.out[i] = None;
        }
    }

    fn into_vec(self) -> Vec<Prepared> {
        self.out.into_iter().flatten().collect()
    }
}

/// The live entries of the whole embedding log, built into an engine.
async fn build_from_store(params: HnswParams, store: &dyn EmbeddingStore) -> Result<(Engine, u64)> {
    let mut latest: HashMap<MemoryId, (u64, VectorEntry)> = HashMap::new();
    let mut seq = 0;
    loop {
        let page = store
            .embedding_changes(seq, CATCH_UP_PAGE)
            .await
            .map_err(VectorError::Store)?;
        let n = page.len();
        for c in page {
            if c.seq <= seq {
                return Err(VectorError::Store(memory_core::Error::Backend {
                    message: format!(
                        "embedding_changes(after = {seq}) returned sequence {}",
                        c.seq
                    ),
                    source: None,
                }));
            }
            seq = c.seq;
            match c.entry {
                Some(mut e) => {
                    e.id = c.id;
                    latest.insert(c.id, (c.seq, e));
                }
                None => {
                    latest.remove(&c.id);
                }
            }
        }
        if n < CATCH_UP_PAGE {
            break;
        }
    }
    let mut entries: Vec<(u64, VectorEntry)> = latest.into_values().collect();
    entries.sort_unstable_by_key(|(s, _)| *s);
    let entries: Vec<VectorEntry> = entries.into_iter().map(|(_, e)| e).collect();
    let engine = blocking(move || {
        let (prepared, _skipped) = prepare_from_store(params.dimension, entries)?;
        check_capacity(&params, 0, prepared.len())?;
        Engine::build(params, prepared)
    })
    .await?;
    Ok((engine, seq))
}

/// Runs `f` on tokio's blocking pool, or inline when there is no tokio runtime.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle
            .spawn_blocking(f)
            .await
            .map_err(|e| VectorError::Task(e.to_string()))?,
        Err(_) => f(),
    }
}

#[async_trait]
impl VectorIndex for HnswIndex {
    fn dimension(&self) -> usize {
        self.shared.params.dimension
    }

    async fn upsert(&self, entries: Vec<VectorEntry>) -> memory_core::Result<()> {
        let this = self.clone();
        Ok(blocking(move || this.upsert_blocking(entries)).await?)
    }

    async fn delete(&self, ids: &[MemoryId]) -> memory_core::Result<usize> {
        let this = self.clone();
        let ids = ids.to_vec();
        Ok(blocking(move || Ok(this.delete_blocking(&ids))).await?)
    }

    async fn search(&self, query: &VectorQuery) -> memory_core::Result<Vec<VectorHit>> {
        let this = self.clone();
        let query = query.clone();
        Ok(blocking(move || this.search_blocking(&query)).await?)
    }

    async fn len(&self) -> memory_core::Result<usize> {
        Ok(self.engine().counts().live)
    }
}

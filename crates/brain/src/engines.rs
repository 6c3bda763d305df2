//! The concrete engines of the embedded default, behind the ports.
//!
//! Every constructor here returns a port (`Arc<dyn …>`), so callers of [`crate::Brain`]
//! never name an engine type: swap any of them through [`crate::BrainBuilder`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use memory_core::{
    DerivedIndex, Embedder, EmbeddingStore, LongTermStore, MemoryId, Result, ShortTermMemory,
    VectorEntry, VectorHit, VectorIndex, VectorQuery,
};
use store_vector::{FlatIndex, HnswIndex, HnswParams};
use tokio::sync::Mutex;

use crate::config::{BrainConfig, DurabilityConfig, EmbedderKind, ShortTermKind, StoreKind};
use crate::error::BrainError;

/// A long-term store that also keeps the embeddings (the source of truth of the index).
pub trait Store: LongTermStore + EmbeddingStore {}

impl<T: LongTermStore + EmbeddingStore + ?Sized> Store for T {}

/// Opens (creating if needed) the SQLite store at `path`.
pub async fn sqlite_store(
    path: &Path,
    durability: DurabilityConfig,
) -> crate::Result<Arc<dyn Store>> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent).map_err(|e| BrainError::io(parent, e))?;
    }
    let options = store_sqlite::SqliteOptions {
        durability: match durability {
            DurabilityConfig::Process => store_sqlite::Durability::Process,
            DurabilityConfig::Full => store_sqlite::Durability::Full,
        },
        ..Default::default()
    };
    let store = store_sqlite::SqliteStore::open_with(path, options).await?;
    Ok(Arc::new(store))
}

/// The long-term store the configuration names: the SQLite file in the data directory,
/// or the PostgreSQL database at `store.url` (migrated on connect).
pub async fn configured_store(config: &BrainConfig) -> crate::Result<Arc<dyn Store>> {
    match config.store.kind {
        StoreKind::Sqlite => sqlite_store(&config.store_path(), config.durability).await,
        StoreKind::Postgres => {
            let url = config.store.url.as_ref().ok_or_else(|| {
                BrainError::Config("store.kind = \"postgres\" needs store.url".into())
            })?;
            postgres_store(
                url.expose(),
                config.store.pool_size,
                config.store.schema.as_deref(),
            )
            .await
        }
    }
}

/// Connects to the PostgreSQL store at `url` with `pool_size` connections, its tables in
/// `schema` (created if missing; the connection's default otherwise), migrating it.
#[cfg(feature = "postgres")]
pub async fn postgres_store(
    url: &str,
    pool_size: usize,
    schema: Option<&str>,
) -> crate::Result<Arc<dyn Store>> {
    let options = store_postgres::PostgresOptions {
        max_connections: pool_size,
        schema: schema.map(str::to_owned),
        ..Default::default()
    };
    let store = store_postgres::PostgresStore::connect_with(url, options)
        .await
        .map_err(|e| BrainError::Core(e.into()))?;
    Ok(Arc::new(store))
}

/// Without the `postgres` feature: a configuration error that says so.
#[cfg(not(feature = "postgres"))]
pub async fn postgres_store(
    _url: &str,
    _pool_size: usize,
    _schema: Option<&str>,
) -> crate::Result<Arc<dyn Store>> {
    Err(BrainError::Config(
        "store.kind = \"postgres\" but this build of brain has no PostgreSQL support (cargo feature `postgres`)".into(),
    ))
}

/// The short-term memory the configuration names: in this process, or Redis at
/// `short_term.url` under `short_term.prefix`.
pub async fn configured_short_term(
    config: &BrainConfig,
) -> crate::Result<Arc<dyn ShortTermMemory>> {
    match config.short_term.kind {
        ShortTermKind::Memory => Ok(Arc::new(crate::InProcessShortTerm::new())),
        ShortTermKind::Redis => {
            let url = config.short_term.url.as_ref().ok_or_else(|| {
                BrainError::Config("short_term.kind = \"redis\" needs short_term.url".into())
            })?;
            redis_short_term(url.expose(), &config.short_term.prefix).await
        }
    }
}

/// Connects to Redis at `url`, every key under `prefix`.
#[cfg(feature = "redis")]
pub async fn redis_short_term(url: &str, prefix: &str) -> crate::Result<Arc<dyn ShortTermMemory>> {
    let options = store_redis::RedisOptions {
        prefix: prefix.to_owned(),
        ..Default::default()
    };
    let stm = store_redis::RedisShortTerm::connect_with(url, options).await?;
    Ok(Arc::new(stm))
}

/// Without the `redis` feature: a configuration error that says so.
#[cfg(not(feature = "redis"))]
pub async fn redis_short_term(
    _url: &str,
    _prefix: &str,
) -> crate::Result<Arc<dyn ShortTermMemory>> {
    Err(BrainError::Config(
        "short_term.kind = \"redis\" but this build of brain has no Redis support (cargo feature `redis`)".into(),
    ))
}

/// An SQLite store in memory (tests, throwaway brains).
pub fn sqlite_in_memory() -> crate::Result<Arc<dyn Store>> {
    Ok(Arc::new(store_sqlite::SqliteStore::open_in_memory()?))
}

/// The embedder the configuration names. A missing BERT model is
/// [`BrainError::ModelMissing`], which names `brain model fetch`.
pub async fn configured_embedder(
    config: &BrainConfig,
    llm: Option<&Arc<llm_router::Router>>,
) -> crate::Result<Arc<dyn Embedder>> {
    match config.embedder.kind {
        EmbedderKind::Llm => {
            let router = llm.ok_or(BrainError::Llm(llm_router::LlmError::NotConfigured))?;
            Ok(Arc::new(router.embedder().await?))
        }
        EmbedderKind::Hashing => Ok(Arc::new(embed::HashingEmbedder::new(
            config.embedder.dimension,
        )?)),
        EmbedderKind::Bert => {
            let dir = match &config.embedder.model_dir {
                Some(d) => d.clone(),
                // Not `resolve_model_dir`, which fails on a missing model before the
                // check below can name the fetch command.
                None => embed::default_model_dir()?,
            };
            if !dir.join("config.json").is_file() {
                return Err(BrainError::ModelMissing { dir });
            }
            Ok(Arc::new(embed::BertEmbedder::load(&dir)?))
        }
    }
}

/// The LLM router that `config.llm` describes, or `None` when no provider is
/// configured. Building it makes no network call.
pub fn configured_llm(config: &BrainConfig) -> crate::Result<Option<Arc<llm_router::Router>>> {
    if !config.llm.is_configured() {
        return Ok(None);
    }
    Ok(Some(Arc::new(config.llm.build()?)))
}

/// The HNSW index kept in `dir`: its snapshot loaded and caught up, or rebuilt from the
/// store when missing or damaged.
pub async fn hnsw_index(
    dir: &Path,
    params: HnswParams,
    store: &dyn EmbeddingStore,
) -> crate::Result<Arc<dyn DerivedIndex>> {
    let index = HnswIndex::open(dir, params, store).await?;
    tracing::debug!(opened_from = ?index.opened_from(), seq = index.applied_seq(), "vector index open");
    Ok(Arc::new(HnswDerived {
        index,
        dir: dir.to_path_buf(),
    }))
}

/// An exact index kept in memory and caught up from the store (small brains, tests).
pub fn exact_index(dimension: usize) -> crate::Result<Arc<dyn DerivedIndex>> {
    Ok(Arc::new(ExactDerived {
        index: FlatIndex::new(dimension)?,
        applied: AtomicU64::new(0),
        catching_up: Mutex::new(()),
    }))
}

/// `VectorIndex` by delegation to the wrapped engine's `index` field.
macro_rules! delegate_vector_index {
    ($t:ty) => {
        #[async_trait]
        impl VectorIndex for $t {
            fn dimension(&self) -> usize {
                self.index.dimension()
            }
            async fn upsert(&self, entries: Vec<VectorEntry>) -> Result<()> {
                self.index.upsert(entries).await
            }
            async fn delete(&self, ids: &[MemoryId]) -> Result<usize> {
                self.index.delete(ids).await
            }
            async fn search(&self, query: &VectorQuery) -> Result<Vec<VectorHit>> {
                self.index.search(query).await
            }
            async fn len(&self) -> Result<usize> {
                self.index.len().await
            }
        }
    };
}

delegate_vector_index!(HnswDerived);
delegate_vector_index!(ExactDerived);

struct HnswDerived {
    index: HnswIndex,
    dir: PathBuf,
}

#[async_trait]
impl DerivedIndex for HnswDerived {
    async fn catch_up(&self, store: &dyn EmbeddingStore) -> Result<usize> {
        Ok(self.index.catch_up(store).await?)
    }
    fn applied_seq(&self) -> u64 {
        self.index.applied_seq()
    }
    async fn persist(&self) -> Result<()> {
        self.index.snapshot(&self.dir).await?;
        Ok(())
    }
}

struct ExactDerived {
    index: FlatIndex,
    applied: AtomicU64,
    catching_up: Mutex<()>,
}

#[async_trait]
impl DerivedIndex for ExactDerived {
    async fn catch_up(&self, store: &dyn EmbeddingStore) -> Result<usize> {
        // One catch-up at a time, so changes are applied in log order.
        let _guard = self.catching_up.lock().await;
        let mut applied = 0;
        loop {
            let after = self.applied.load(Ordering::Acquire);
            let changes = store.embedding_changes(after, 1_000).await?;
            let Some(last) = changes.last().map(|c| c.seq) else {
                return Ok(applied);
            };
            applied += changes.len();
            let mut upserts = Vec::new();
            let mut deletes = Vec::new();
            for c in changes {
                match c.entry {
                    Some(e) => upserts.push(e),
                    None => deletes.push(c.id),
                }
            }
            self.index.delete(&deletes).await?;
            self.index.upsert(upserts).await?;
            self.applied.store(last, Ordering::Release);
        }
    }
    fn applied_seq(&self) -> u64 {
        self.applied.load(Ordering::Acquire)
    }
    async fn persist(&self) -> Result<()> {
        Ok(())
    }
}

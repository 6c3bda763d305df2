//! # brain-engines
//!
//! The composition root of brain: it reads a [`BrainConfig`] and builds the engines behind
//! the facade's ports — the long-term store (SQLite, or PostgreSQL), the HNSW index kept in
//! the data directory, the embedder (local BERT, hashing, or the LLM provider's),
//! short-term memory (in process, or Redis), the document splitter (`chunk`) and the LLM
//! router — then assembles a [`Brain`] from them with [`brain::BrainBuilder`].
//!
//! The `brain` crate knows none of these engines; a program that brings its own ports
//! uses the builder directly and compiles none of them. The CLI and the server open their
//! brains here.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use brain::{BrainConfig, RecallQuery};
//! use brain::config::EmbedderKind;
//! use memory_core::{NewMemory, Scope};
//!
//! let dir = tempfile::tempdir()?;
//! let mut config = BrainConfig::default();
//! config.data_dir = dir.path().to_path_buf();
//! config.embedder.kind = EmbedderKind::Hashing; // no model download
//! let brain = brain_engines::open(config).await?;
//! let me = Scope::user("me");
//! brain.remember(NewMemory::new("the staging DB is on port 5433").with_scope(me.clone())).await?;
//! let hits = brain.recall(&RecallQuery::new("staging port", me)).await?;
//! assert_eq!(hits[0].memory.content, "the staging DB is on port 5433");
//! brain.close().await?;
//! # Ok(()) }
//! ```

/// The embedder crate, for model management (`embed::fetch_default_model`, …) by surfaces
/// that open brains here.
pub use embed;

use std::path::Path;
use std::sync::Arc;

use brain::config::{DurabilityConfig, EmbedderKind, ShortTermKind, StoreKind};
use brain::{Brain, BrainConfig, BrainError, DocChunk, Progress, Result, Splitter, Store};
use memory_core::{DerivedIndex, Embedder, EmbeddingStore, ShortTermMemory};
use store_vector::{CaughtUpFlat, HnswParams, PersistedHnsw};

fn core(e: impl Into<memory_core::Error>) -> BrainError {
    BrainError::Core(e.into())
}

/// Checks `config` as a whole: what the facade checks ([`BrainConfig::validate`]) and
/// what only the engines know (the HNSW parameters).
pub fn validate(config: &BrainConfig) -> Result<()> {
    config.validate()?;
    hnsw_params(config, config.embedder.dimension)
        .validate()
        .map_err(|e| BrainError::Config(format!("index: {e}")))
}

/// Opens the brain that `config` describes: the configured store (the SQLite file in the
/// data directory, or PostgreSQL), the HNSW snapshot in the data directory (created if
/// missing; with a shared store each brain keeps its own index and catches it up from the
/// store's embedding log), the configured short-term memory (in the process, or Redis),
/// the configured embedder, the `chunk` splitter and, when `[llm]` names a provider, the
/// LLM router.
#[tracing::instrument(skip_all, fields(data_dir = %config.data_dir.display()))]
pub async fn open(config: BrainConfig) -> Result<Brain> {
    validate(&config)?;
    open_checked(config).await
}

/// [`open`] for a configuration [`validate`] has passed.
async fn open_checked(config: BrainConfig) -> Result<Brain> {
    std::fs::create_dir_all(&config.data_dir).map_err(|e| BrainError::io(&config.data_dir, e))?;
    let llm = configured_llm(&config)?;
    let embedder = configured_embedder(&config, llm.as_ref()).await?;
    let store = configured_store(&config).await?;
    let short_term = configured_short_term(&config).await?;
    // The index opened below is built for the embedder's dimension: check the store was
    // embedded by this embedder first.
    brain::pin_embedder(store.as_ref(), embedder.info()).await?;
    let index = hnsw_index(
        &config.vectors_dir(),
        hnsw_params(&config, embedder.info().dimension),
        as_embeddings(store.as_ref()),
    )
    .await?;
    let mut builder = Brain::builder()
        .config(config)
        .store(store)
        .embedder(embedder)
        .index(index)
        .short_term(short_term)
        .splitter(Arc::new(ChunkSplitter))
        .embedder_pinned();
    if let Some(llm) = llm {
        builder = builder.llm(llm);
    }
    builder.build().await
}

/// Re-embeds every memory of the brain `config` describes with the configured embedder
/// ([`Brain::reembed`]), pins it, and brings the index up to date: the way out of an
/// embedder mismatch, and the repair for memories stored without an embedding. Returns the
/// brain, closed.
#[tracing::instrument(skip_all, fields(data_dir = %config.data_dir.display()))]
pub async fn reindex(config: BrainConfig, progress: &dyn Progress) -> Result<Brain> {
    validate(&config)?;
    std::fs::create_dir_all(&config.data_dir).map_err(|e| BrainError::io(&config.data_dir, e))?;
    let llm = configured_llm(&config)?;
    let embedder = configured_embedder(&config, llm.as_ref()).await?;
    {
        let store = configured_store(&config).await?;
        Brain::reembed(store.as_ref(), embedder.as_ref(), &config, progress).await?;
    }
    progress.start("updating the index", None);
    let brain = open_checked(config).await?;
    brain.close().await?;
    progress.finish();
    Ok(brain)
}

fn as_embeddings(store: &dyn Store) -> &dyn EmbeddingStore {
    store
}

/// The HNSW parameters `config.index` gives, for vectors of `dimension`.
pub fn hnsw_params(config: &BrainConfig, dimension: usize) -> HnswParams {
    HnswParams::new(dimension)
        .with_m(config.index.m)
        .with_ef_construction(config.index.ef_construction)
        .with_ef_search(config.index.ef_search)
}

/// Opens (creating if needed) the SQLite store at `path`.
pub async fn sqlite_store(path: &Path, durability: DurabilityConfig) -> Result<Arc<dyn Store>> {
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
    let store = store_sqlite::SqliteStore::open_with(path, options)
        .await
        .map_err(core)?;
    Ok(Arc::new(store))
}

/// The long-term store the configuration names: the SQLite file in the data directory,
/// or the PostgreSQL database at `store.url` (migrated on connect).
pub async fn configured_store(config: &BrainConfig) -> Result<Arc<dyn Store>> {
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
) -> Result<Arc<dyn Store>> {
    let options = store_postgres::PostgresOptions {
        max_connections: pool_size,
        schema: schema.map(str::to_owned),
        ..Default::default()
    };
    let store = store_postgres::PostgresStore::connect_with(url, options)
        .await
        .map_err(core)?;
    Ok(Arc::new(store))
}

/// Without the `postgres` feature: a configuration error that says so.
#[cfg(not(feature = "postgres"))]
pub async fn postgres_store(
    _url: &str,
    _pool_size: usize,
    _schema: Option<&str>,
) -> Result<Arc<dyn Store>> {
    Err(BrainError::Config(
        "store.kind = \"postgres\" but this build has no PostgreSQL support (cargo feature `postgres` of brain-engines)".into(),
    ))
}

/// The short-term memory the configuration names: in this process, or Redis at
/// `short_term.url` under `short_term.prefix`.
pub async fn configured_short_term(config: &BrainConfig) -> Result<Arc<dyn ShortTermMemory>> {
    match config.short_term.kind {
        ShortTermKind::Memory => Ok(Arc::new(brain::InProcessShortTerm::new())),
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
pub async fn redis_short_term(url: &str, prefix: &str) -> Result<Arc<dyn ShortTermMemory>> {
    let options = store_redis::RedisOptions {
        prefix: prefix.to_owned(),
        ..Default::default()
    };
    let stm = store_redis::RedisShortTerm::connect_with(url, options)
        .await
        .map_err(core)?;
    Ok(Arc::new(stm))
}

/// Without the `redis` feature: a configuration error that says so.
#[cfg(not(feature = "redis"))]
pub async fn redis_short_term(_url: &str, _prefix: &str) -> Result<Arc<dyn ShortTermMemory>> {
    Err(BrainError::Config(
        "short_term.kind = \"redis\" but this build has no Redis support (cargo feature `redis` of brain-engines)".into(),
    ))
}

/// An SQLite store in memory (tests, throwaway brains).
pub fn sqlite_in_memory() -> Result<Arc<dyn Store>> {
    Ok(Arc::new(
        store_sqlite::SqliteStore::open_in_memory().map_err(core)?,
    ))
}

/// The embedder the configuration names. A missing BERT model is
/// [`BrainError::ModelMissing`], which names `brain model fetch`.
pub async fn configured_embedder(
    config: &BrainConfig,
    llm: Option<&Arc<llm_router::Router>>,
) -> Result<Arc<dyn Embedder>> {
    match config.embedder.kind {
        EmbedderKind::Llm => {
            let router = llm.ok_or(BrainError::Llm(llm_router::LlmError::NotConfigured))?;
            Ok(Arc::new(router.embedder().await?))
        }
        EmbedderKind::Hashing => Ok(Arc::new(
            embed::HashingEmbedder::new(config.embedder.dimension).map_err(core)?,
        )),
        EmbedderKind::Bert => {
            let dir = match &config.embedder.model_dir {
                Some(d) => d.clone(),
                // Not `resolve_model_dir`, which fails on a missing model before the
                // check below can name the fetch command.
                None => embed::default_model_dir().map_err(core)?,
            };
            if !dir.join("config.json").is_file() {
                return Err(BrainError::ModelMissing { dir });
            }
            Ok(Arc::new(embed::BertEmbedder::load(&dir).map_err(core)?))
        }
    }
}

/// The LLM router that `config.llm` describes, or `None` when no provider is
/// configured. Building it makes no network call.
pub fn configured_llm(config: &BrainConfig) -> Result<Option<Arc<llm_router::Router>>> {
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
) -> Result<Arc<dyn DerivedIndex>> {
    Ok(Arc::new(
        PersistedHnsw::open(dir, params, store)
            .await
            .map_err(core)?,
    ))
}

/// An exact index kept in memory and caught up from the store (small brains, tests).
pub fn exact_index(dimension: usize) -> Result<Arc<dyn DerivedIndex>> {
    Ok(Arc::new(CaughtUpFlat::new(dimension).map_err(core)?))
}

/// The `chunk` crate behind the [`Splitter`] port: markdown cut at its headings, source
/// code at its functions, types and impl blocks (tree-sitter), anything else at blank
/// lines.
#[derive(Debug, Clone, Copy, Default)]
pub struct ChunkSplitter;

impl Splitter for ChunkSplitter {
    fn format_version(&self) -> u32 {
        chunk::FORMAT_VERSION
    }

    fn language(&self, path: &str) -> String {
        chunk::Language::from_path(path).name().to_owned()
    }

    fn split(
        &self,
        path: &str,
        text: &str,
        max_chars: usize,
    ) -> std::result::Result<Vec<DocChunk>, String> {
        let options = chunk::ChunkOptions::with_max_chars(max_chars);
        let chunks = chunk::chunk(path, text, &options).map_err(|e| e.to_string())?;
        Ok(chunks
            .into_iter()
            .filter(|c| !c.body().trim().is_empty())
            .map(|c| DocChunk {
                start_line: c.start_line,
                end_line: c.end_line,
                kind: c.kind.name().to_owned(),
                heading_path: c.heading_path.clone(),
                symbol: c.symbol.clone(),
                text: c.text,
            })
            .collect())
    }
}

//! Configuration: defaults, then a TOML file, then `BRAIN_*` environment variables.
//!
//! ```toml
//! data_dir = "/home/me/.local/share/brain"
//!
//! [embedder]
//! kind = "bert"            # or "hashing" (no model needed)
//! # model_dir = "/models/all-MiniLM-L6-v2"
//!
//! [recall]
//! k = 10
//! depth = 100
//! feedback_docs = 5
//! speaker_boost = 1.5
//! [recall.weights]
//! rrf_k = 10.0
//! outcome = 0.15
//!
//! [index]
//! m = 16
//! ef_search = 64
//!
//! [context]
//! max_messages = 50
//! max_tokens = 4000
//! ```
//!
//! Environment overrides use the key path with `__` between levels:
//! `BRAIN_DATA_DIR`, `BRAIN_EMBEDDER__KIND`, `BRAIN_RECALL__K`,
//! `BRAIN_RECALL__WEIGHTS__OUTCOME`, … (`BRAIN_MODEL_DIR` is also honoured, as the
//! `embed` crate does). Unknown keys in the file are errors, so a typo is never ignored.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use memory_core::{RecallWeights, WindowLimit};
use serde::{Deserialize, Serialize};

use crate::error::{BrainError, Result};

/// Everything a brain is opened with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrainConfig {
    /// The directory holding the store (`brain.db`) and the index snapshots (`vectors/`).
    pub data_dir: PathBuf,
    /// Which embedder turns text into vectors.
    pub embedder: EmbedderConfig,
    /// How recall ranks.
    pub recall: RecallConfig,
    /// The HNSW index.
    pub index: IndexConfig,
    /// The short-term context window.
    pub context: ContextConfig,
    /// Document ingestion.
    pub ingest: IngestConfig,
    /// Conversation threads: how a memory's neighbours in its session help find it.
    pub threads: ThreadConfig,
    /// `full` syncs every commit to disk (survives power loss); `process` (default)
    /// survives a crash of the process.
    pub durability: DurabilityConfig,
    /// The LLM providers, routing table and resilience, for what needs a model
    /// (reasoning, LLM feedback, distillation). Memory works without any.
    pub llm: llm_router::LlmConfig,
    /// The learning loop: learned LLM routing, exploration, cost and latency weights.
    pub learning: crate::learn::LearningConfig,
    /// Knowledge distillation.
    pub distill: DistillConfig,
    /// Where long-term memory lives: the embedded SQLite file (default) or a PostgreSQL
    /// database shared by several brains.
    pub store: StoreConfig,
    /// Where short-term memory lives: in the process (default) or in Redis, shared by
    /// several brain processes.
    pub short_term: ShortTermConfig,
    /// The `[serve]` section, kept as read for the server that owns it (`brain-server`'s
    /// `ServeConfig`): the brain itself does not serve.
    #[serde(skip_serializing_if = "serde_json::Map::is_empty")]
    pub serve: serde_json::Map<String, serde_json::Value>,
}

/// Knowledge distillation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistillConfig {
    /// Distil a pattern type automatically (offline) each time it reaches another
    /// multiple of this many patterns; off when unset.
    pub auto_after: Option<u64>,
}

impl Default for BrainConfig {
    fn default() -> Self {
        BrainConfig {
            data_dir: default_data_dir(),
            embedder: EmbedderConfig::default(),
            recall: RecallConfig::default(),
            index: IndexConfig::default(),
            context: ContextConfig::default(),
            ingest: IngestConfig::default(),
            threads: ThreadConfig::default(),
            durability: DurabilityConfig::Process,
            llm: llm_router::LlmConfig::default(),
            learning: crate::learn::LearningConfig::default(),
            distill: DistillConfig::default(),
            store: StoreConfig::default(),
            short_term: ShortTermConfig::default(),
            serve: serde_json::Map::new(),
        }
    }
}

/// The platform's data directory plus `brain` (`~/.local/share/brain` on Linux), or
/// `./brain-data` where there is none.
pub fn default_data_dir() -> PathBuf {
    dirs::data_dir()
        .map(|d| d.join("brain"))
        .unwrap_or_else(|| PathBuf::from("brain-data"))
}

/// Which embedder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmbedderKind {
    /// all-MiniLM-L6-v2 (or another sentence-transformers BERT) on candle.
    Bert,
    /// Hashed word and character n-grams: no model, lower quality.
    Hashing,
    /// The LLM router's embedding deployment (the routing table's embedding rule:
    /// Ollama's nomic-embed-text by default). Needs an `[llm]` provider.
    Llm,
}

/// The embedder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbedderConfig {
    /// Which one. Default `bert`.
    pub kind: EmbedderKind,
    /// The BERT model directory; default: `BRAIN_MODEL_DIR`, else the fetched model in
    /// the user's cache.
    pub model_dir: Option<PathBuf>,
    /// The hashing embedder's dimension. Default 384.
    pub dimension: usize,
}

impl Default for EmbedderConfig {
    fn default() -> Self {
        EmbedderConfig {
            kind: EmbedderKind::Bert,
            model_dir: None,
            dimension: 384,
        }
    }
}

/// Recall.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecallConfig {
    /// Hits returned when the caller does not say. Default 10.
    pub k: usize,
    /// Candidates taken from each of the keyword and vector lists before fusion.
    /// Default 100.
    pub depth: usize,
    /// The fusion and re-ranking weights.
    pub weights: RecallWeights,
    /// Keyword feedback: the first pass's top hits (among those that matched the
    /// query's words) whose words expand the query. Default 5; 0 turns feedback off.
    pub feedback_docs: usize,
    /// Keyword feedback: how many words are added to the query. Default 5.
    pub feedback_terms: usize,
    /// When a query names exactly one of the candidates' `speaker` metadata values,
    /// that speaker's memories get their relevance multiplied by this. Default 1.5
    /// (on LoCoMo 96% of the evidence of such questions is that speaker's).
    pub speaker_boost: f64,
}

impl Default for RecallConfig {
    fn default() -> Self {
        RecallConfig {
            k: 10,
            depth: 100,
            weights: RecallWeights::default(),
            feedback_docs: 5,
            feedback_terms: 5,
            speaker_boost: 1.5,
        }
    }
}

/// The HNSW index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IndexConfig {
    /// Links per node. Default 16.
    pub m: usize,
    /// Candidates per insertion. Default 200.
    pub ef_construction: usize,
    /// Candidates per search. Default 64.
    pub ef_search: usize,
    /// Write a snapshot once this many changes were applied since the last one (and when
    /// the brain is closed with any). Default 1000.
    pub snapshot_every: u64,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            m: 16,
            ef_construction: 200,
            ef_search: 64,
            snapshot_every: 1_000,
        }
    }
}

/// The context window of short-term memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContextConfig {
    /// Newest messages kept. Default 50 (the seed's).
    pub max_messages: usize,
    /// Token budget of the window (estimated); unbounded when absent.
    pub max_tokens: Option<usize>,
}

impl Default for ContextConfig {
    fn default() -> Self {
        let d = WindowLimit::default();
        ContextConfig {
            max_messages: d.max_messages,
            max_tokens: d.max_tokens,
        }
    }
}

impl ContextConfig {
    /// As a window limit.
    pub fn limit(&self) -> WindowLimit {
        WindowLimit {
            max_messages: self.max_messages,
            max_tokens: self.max_tokens,
        }
    }
}

/// Document ingestion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Largest chunk, in characters. Default 1000: all-MiniLM-L6-v2 reads 256 tokens,
    /// about a thousand characters of English, and ignores the rest.
    pub max_chunk_chars: usize,
    /// Files larger than this are skipped (bytes). Default 1 MiB.
    pub max_file_bytes: u64,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_chunk_chars: 1_000,
            max_file_bytes: 1 << 20,
        }
    }
}

/// Memories that share a session scope form a thread (a conversation, a task log). Each
/// one's context holds its date and its neighbours, searched by keyword recall at a lower
/// weight, and its vector is the normalised sum of its own embedding and the embedding of
/// it with the turns before it (measured on LoCoMo: evidence recall@10 0.63 to 0.80 with
/// the recall changes that came with it; the blend rather than the context embedding
/// alone, 0.804 against 0.799). Thread memories cost two embeddings each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThreadConfig {
    /// Whether threads get context at all. Default true.
    pub enabled: bool,
    /// Earlier memories of the thread in a memory's context and embedding. Default 2.
    pub previous: usize,
    /// Later memories of the thread in a memory's (keyword) context. Default 1.
    pub next: usize,
}

impl Default for ThreadConfig {
    fn default() -> Self {
        ThreadConfig {
            enabled: true,
            previous: 2,
            next: 1,
        }
    }
}

/// A connection URL, which may hold a password: never printed, never serialised.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct ConnectionUrl(secrecy::SecretString);

impl ConnectionUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        ConnectionUrl(secrecy::SecretString::from(url.into()))
    }

    /// The URL itself, for the driver that connects with it.
    pub fn expose(&self) -> &str {
        secrecy::ExposeSecret::expose_secret(&self.0)
    }
}

impl ConnectionUrl {
    /// The URL without its credentials: the scheme and host say which server.
    pub fn redacted(&self) -> String {
        let url = self.expose();
        match (url.split_once("://"), url.rsplit_once('@')) {
            (Some((scheme, _)), Some((_, host))) => format!("{scheme}://***@{host}"),
            _ => url.to_owned(),
        }
    }
}

impl std::fmt::Debug for ConnectionUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ConnectionUrl({:?})", self.redacted())
    }
}

impl PartialEq for ConnectionUrl {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

/// Which long-term store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// `brain.db` in the data directory.
    #[default]
    Sqlite,
    /// A PostgreSQL database (`store.url`), shared by every brain that names it.
    Postgres,
}

/// The long-term store.
///
/// ```toml
/// [store]
/// kind = "postgres"
/// url = "postgres://brain:secret@db.internal/brain"   # or BRAIN_STORE__URL
/// pool_size = 16
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite` (default) or `postgres`.
    pub kind: StoreKind,
    /// PostgreSQL's connection URL. Never logged.
    #[serde(skip_serializing)]
    pub url: Option<ConnectionUrl>,
    /// PostgreSQL: connections in the pool.
    pub pool_size: usize,
    /// PostgreSQL: the schema holding the brain's tables (created if missing), so several
    /// brains can share one database.
    pub schema: Option<String>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            kind: StoreKind::Sqlite,
            url: None,
            pool_size: 16,
            schema: None,
        }
    }
}

/// Which short-term memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShortTermKind {
    /// In this process: gone when it exits, not shared.
    #[default]
    Memory,
    /// Redis (`short_term.url`): shared by every brain process that names it.
    Redis,
}

/// Short-term memory.
///
/// ```toml
/// [short_term]
/// kind = "redis"
/// url = "redis://127.0.0.1:6379"   # or BRAIN_SHORT_TERM__URL
/// prefix = "brain"
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShortTermConfig {
    /// `memory` (default) or `redis`.
    pub kind: ShortTermKind,
    /// Redis's connection URL. Never logged.
    #[serde(skip_serializing)]
    pub url: Option<ConnectionUrl>,
    /// Redis: the prefix of every key, so several brains can share one server.
    pub prefix: String,
}

impl Default for ShortTermConfig {
    fn default() -> Self {
        ShortTermConfig {
            kind: ShortTermKind::Memory,
            url: None,
            prefix: "brain".to_owned(),
        }
    }
}

/// How hard commits are pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DurabilityConfig {
    /// Survives a crash of the process (WAL, no fsync per commit).
    Process,
    /// Survives power loss (fsync per commit).
    Full,
}

/// The keys environment variables may set (`BRAIN_` + the key, `__` between levels).
const ENV_KEYS: &[&str] = &[
    "data_dir",
    "durability",
    "embedder.kind",
    "embedder.model_dir",
    "embedder.dimension",
    "recall.k",
    "recall.depth",
    "recall.weights.rrf_k",
    "recall.weights.keyword",
    "recall.weights.vector",
    "recall.weights.feedback",
    "recall.feedback_docs",
    "recall.feedback_terms",
    "recall.speaker_boost",
    "threads.enabled",
    "threads.previous",
    "threads.next",
    "recall.weights.importance",
    "recall.weights.recency",
    "recall.weights.recency_half_life_days",
    "recall.weights.outcome",
    "index.m",
    "index.ef_construction",
    "index.ef_search",
    "index.snapshot_every",
    "context.max_messages",
    "context.max_tokens",
    "ingest.max_chunk_chars",
    "ingest.max_file_bytes",
    "llm.local_model",
    "llm.connect_timeout_secs",
    "llm.resilience.timeout_secs",
    "llm.resilience.first_token_secs",
    "llm.resilience.between_tokens_secs",
    "llm.resilience.max_retries",
    "llm.resilience.base_delay_ms",
    "llm.resilience.max_delay_ms",
    "llm.resilience.max_retry_after_secs",
    "llm.resilience.breaker_failures",
    "llm.resilience.breaker_cooldown_secs",
    "learning.route_llm",
    "learning.explore",
    "learning.cost_weight",
    "learning.latency_weight",
    "distill.auto_after",
    "store.kind",
    "store.url",
    "store.pool_size",
    "store.schema",
    "short_term.kind",
    "short_term.url",
    "short_term.prefix",
    "serve.max_body_bytes",
    "serve.request_timeout_secs",
    "serve.shutdown_grace_secs",
];

impl BrainConfig {
    /// Defaults, then `file` if given (it must exist), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self> {
        Self::load_with_env(file, std::env::vars())
    }

    /// Like [`BrainConfig::load`] with the environment given explicitly (for tests).
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self> {
        let mut fig = Figment::from(Serialized::defaults(BrainConfig::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(BrainError::Config(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            fig = fig.merge(Toml::file_exact(path));
        }
        // Read from the given pairs (not figment's `Env`, which reads the process
        // environment) so that tests can pass their own; only known keys are taken, as
        // other `BRAIN_*` variables belong to other tools.
        let vars: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("BRAIN_"))
            .collect();
        let mut dict = figment::value::Dict::new();
        for (k, v) in &vars {
            let key = k["BRAIN_".len()..].to_ascii_lowercase().replace("__", ".");
            if ENV_KEYS.contains(&key.as_str()) {
                let value = env_value(v);
                dict.insert(key, value);
            }
        }
        fig = fig.merge(Serialized::defaults(unflatten(dict)));
        if let Some((_, dir)) = vars.iter().find(|(k, _)| k == "BRAIN_MODEL_DIR") {
            fig = fig.merge(Serialized::default("embedder.model_dir", dir.clone()));
        }
        let config: BrainConfig = fig
            .extract()
            .map_err(|e| BrainError::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Rejects values no brain can run with.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(BrainError::Config(m));
        if self.data_dir.as_os_str().is_empty() {
            return bad("data_dir is empty".into());
        }
        if !(1..=1_000).contains(&self.recall.k) {
            return bad(format!(
                "recall.k must be in 1..=1000, not {}",
                self.recall.k
            ));
        }
        if !(1..=10_000).contains(&self.recall.depth) {
            return bad(format!(
                "recall.depth must be in 1..=10000, not {}",
                self.recall.depth
            ));
        }
        self.recall
            .weights
            .validate()
            .map_err(|e| BrainError::Config(format!("recall.weights: {e}")))?;
        if self.recall.feedback_docs > 100 || self.recall.feedback_terms > 100 {
            return bad(
                "recall.feedback_docs and recall.feedback_terms must be at most 100".into(),
            );
        }
        if !(0.0..=10.0).contains(&self.recall.speaker_boost) {
            return bad(format!(
                "recall.speaker_boost must be in [0, 10], not {}",
                self.recall.speaker_boost
            ));
        }
        if self.threads.previous > 16 || self.threads.next > 16 {
            return bad("threads.previous and threads.next must be at most 16".into());
        }
        if !(8..=8192).contains(&self.embedder.dimension) {
            return bad(format!(
                "embedder.dimension must be in 8..=8192, not {}",
                self.embedder.dimension
            ));
        }
        if self.context.max_messages == 0 {
            return bad("context.max_messages must be at least 1".into());
        }
        if self.ingest.max_chunk_chars < 100 {
            return bad("ingest.max_chunk_chars must be at least 100".into());
        }
        self.llm
            .table()
            .validate()
            .and_then(|()| self.llm.registry().validate())
            .and_then(|()| self.llm.resilience.validate())
            .map_err(|e| BrainError::Config(format!("llm: {e}")))?;
        self.learning.validate().map_err(BrainError::Config)?;
        if self.store.kind == StoreKind::Postgres && self.store.url.is_none() {
            return bad(
                "store.kind = \"postgres\" needs store.url (or BRAIN_STORE__URL), e.g. postgres://user:password@host/db".into(),
            );
        }
        if !(1..=1024).contains(&self.store.pool_size) {
            return bad(format!(
                "store.pool_size must be in 1..=1024, not {}",
                self.store.pool_size
            ));
        }
        if self.short_term.kind == ShortTermKind::Redis && self.short_term.url.is_none() {
            return bad(
                "short_term.kind = \"redis\" needs short_term.url (or BRAIN_SHORT_TERM__URL), e.g. redis://127.0.0.1:6379".into(),
            );
        }
        if self.short_term.prefix.is_empty() || self.short_term.prefix.len() > 64 {
            return bad("short_term.prefix must be 1 to 64 characters".into());
        }
        if self.embedder.kind == EmbedderKind::Llm && !self.llm.is_configured() {
            return bad("embedder.kind = \"llm\" needs an [llm] provider".into());
        }
        Ok(())
    }

    /// The store file.
    pub fn store_path(&self) -> PathBuf {
        self.data_dir.join("brain.db")
    }

    /// The index snapshot directory.
    pub fn vectors_dir(&self) -> PathBuf {
        self.data_dir.join("vectors")
    }
}

/// An environment string as the TOML scalar it spells, else as a string.
fn env_value(v: &str) -> figment::value::Value {
    use figment::value::Value;
    if let Ok(i) = v.parse::<i64>() {
        Value::from(i)
    } else if let Ok(f) = v.parse::<f64>() {
        Value::from(f)
    } else if let Ok(b) = v.parse::<bool>() {
        Value::from(b)
    } else {
        Value::from(v.to_owned())
    }
}

/// `{"a.b": v}` to `{"a": {"b": v}}`.
fn unflatten(flat: figment::value::Dict) -> figment::value::Dict {
    use figment::value::{Dict, Value};
    let mut root = Dict::new();
    for (key, value) in flat {
        let parts: Vec<&str> = key.split('.').collect();
        let mut cur = &mut root;
        for (i, p) in parts.iter().enumerate() {
            if i + 1 == parts.len() {
                cur.insert((*p).to_owned(), value.clone());
            } else {
                let entry = cur
                    .entry((*p).to_owned())
                    .or_insert_with(|| Value::from(Dict::new()));
                if !matches!(entry, Value::Dict(..)) {
                    *entry = Value::from(Dict::new());
                }
                match entry {
                    Value::Dict(_, d) => cur = d,
                    _ => break,
                }
            }
        }
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_are_valid() {
        let c = BrainConfig::load_with_env(None, env(&[])).unwrap();
        assert_eq!(c.recall.k, 10);
        assert_eq!(c.embedder.kind, EmbedderKind::Bert);
    }

    #[test]
    fn file_then_env() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("brain.toml");
        std::fs::write(
            &f,
            "data_dir = \"/tmp/x\"\n[recall]\nk = 7\n[recall.weights]\noutcome = 0.3\n",
        )
        .unwrap();
        let c = BrainConfig::load_with_env(
            Some(&f),
            env(&[
                ("BRAIN_RECALL__K", "3"),
                ("BRAIN_EMBEDDER__KIND", "hashing"),
                ("BRAIN_MODEL_DIR", "/models/m"),
                ("BRAIN_CRASH_KILLS", "9"),
            ]),
        )
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.recall.k, 3, "env overrides the file");
        assert_eq!(c.recall.weights.outcome, 0.3);
        assert_eq!(c.recall.weights.rrf_k, 10.0, "unset keys keep defaults");
        assert_eq!(c.embedder.kind, EmbedderKind::Hashing);
        assert_eq!(c.embedder.model_dir, Some(PathBuf::from("/models/m")));
    }

    #[test]
    fn backends_come_from_the_environment_and_urls_stay_secret() {
        let e = BrainConfig::load_with_env(None, env(&[("BRAIN_STORE__KIND", "postgres")]));
        assert!(e.is_err_and(|e| e.to_string().contains("store.url")));
        let e = BrainConfig::load_with_env(None, env(&[("BRAIN_SHORT_TERM__KIND", "redis")]));
        assert!(e.is_err_and(|e| e.to_string().contains("short_term.url")));
        let c = BrainConfig::load_with_env(
            None,
            env(&[
                ("BRAIN_STORE__KIND", "postgres"),
                (
                    "BRAIN_STORE__URL",
                    "postgres://brain:hunter2@db.internal:5432/brain",
                ),
                ("BRAIN_STORE__SCHEMA", "team_a"),
                ("BRAIN_SHORT_TERM__KIND", "redis"),
                ("BRAIN_SHORT_TERM__URL", "redis://:hunter2@cache:6379"),
            ]),
        )
        .unwrap();
        assert_eq!(c.store.kind, StoreKind::Postgres);
        assert_eq!(c.store.schema.as_deref(), Some("team_a"));
        assert_eq!(
            c.store.url.as_ref().map(ConnectionUrl::expose),
            Some("postgres://brain:hunter2@db.internal:5432/brain")
        );
        assert_eq!(c.short_term.kind, ShortTermKind::Redis);
        let debug = format!("{c:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("db.internal"), "the host is still shown");
        let json = serde_json::to_string(&c).unwrap();
        assert!(!json.contains("hunter2"));
    }

    #[test]
    fn broken_config_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("brain.toml");
        for (text, needle) in [
            ("[recall\nk = 1", "brain.toml"),
            ("[recall]\nkk = 1", "kk"),
            ("[recall]\nk = \"ten\"", "k"),
            ("[recall]\nk = 0", "recall.k"),
            ("[recall.weights]\nrrf_k = -1.0", "rrf_k"),
            ("[embedder]\nkind = \"gpt\"", "gpt"),
        ] {
            std::fs::write(&f, text).unwrap();
            let e = BrainConfig::load_with_env(Some(&f), env(&[])).unwrap_err();
            assert!(
                matches!(e, BrainError::Config(_)) && e.to_string().contains(needle),
                "{text:?}: {e}"
            );
        }
        let e =
            BrainConfig::load_with_env(Some(&dir.path().join("none.toml")), env(&[])).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        let e = BrainConfig::load_with_env(None, env(&[("BRAIN_RECALL__K", "many")])).unwrap_err();
        assert!(matches!(e, BrainError::Config(_)), "{e}");
    }
}

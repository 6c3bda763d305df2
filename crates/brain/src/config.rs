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
//! `embed` crate does). Unknown keys in the file are errors, so a typo is never ignored; a
//! `BRAIN_*` variable that looks like a misspelt key is a warning ([`Loaded::warnings`]).
//! [`KEYS`] lists every key with its meaning; without a file named, the default file
//! ([`default_config_file`], `~/.config/brain/config.toml` on Linux) is read when it
//! exists.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use memory_core::{RecallWeights, WindowLimit};
use serde::{Deserialize, Serialize};

pub use crate::config_keys::{ConfigKey, ConfigValue, KEYS, Loaded, Source, default_config_file};
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

/// The process environment's variables that are text (`std::env::vars` panics on one
/// that is not).
pub fn process_env() -> impl Iterator<Item = (String, String)> {
    std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
}

impl BrainConfig {
    /// Defaults, then `file` if given (it must exist) or else the default file
    /// ([`default_config_file`]) if there is one, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self> {
        Self::load_explained(file, process_env()).map(|l| l.config)
    }

    /// Like [`BrainConfig::load`], and says where each value came from and which
    /// `BRAIN_*` variables were not understood.
    pub fn load_explained(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Loaded> {
        let default = default_config_file().filter(|f| f.is_file());
        Self::load_from(file.or(default.as_deref()), env)
    }

    /// Like [`BrainConfig::load`] with the environment given explicitly and no default
    /// file (for tests).
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self> {
        Self::load_from(file, env).map(|l| l.config)
    }

    fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Loaded> {
        let mut fig = Figment::from(Serialized::defaults(BrainConfig::default()));
        let mut sources = std::collections::BTreeMap::new();
        if let Some(path) = file {
            if !path.is_file() {
                return Err(BrainError::Config(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            fig = fig.merge(Toml::file_exact(path));
            for key in crate::config_keys::keys_in_file(path) {
                sources.insert(
                    key,
                    Source::File {
                        path: path.to_owned(),
                    },
                );
            }
        }
        // Read from the given pairs (not figment's `Env`, which reads the process
        // environment) so that tests can pass their own. Only known keys are taken; a
        // variable that looks like a misspelt key is a warning, and other `BRAIN_*`
        // variables belong to other tools.
        let vars: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("BRAIN_"))
            .collect();
        let mut dict = figment::value::Dict::new();
        let mut from_env = std::collections::BTreeMap::new();
        let mut warnings = Vec::new();
        for (k, v) in &vars {
            match crate::config_keys::key_of_var(k) {
                Some(key) => {
                    dict.insert(key.to_owned(), env_value(v));
                    from_env.insert(key, k.clone());
                    sources.insert(key, Source::Env { var: k.clone() });
                }
                None => warnings.extend(crate::config_keys::unknown_var(k)),
            }
        }
        fig = fig.merge(Serialized::defaults(unflatten(dict)));
        if let Some((_, dir)) = vars.iter().find(|(k, _)| k == "BRAIN_MODEL_DIR") {
            fig = fig.merge(Serialized::default("embedder.model_dir", dir.clone()));
            if !from_env.contains_key("embedder.model_dir") {
                sources.insert(
                    "embedder.model_dir",
                    Source::Env {
                        var: "BRAIN_MODEL_DIR".to_owned(),
                    },
                );
            }
        }
        let config: BrainConfig = fig.extract().map_err(|e| {
            let what = crate::config_keys::explain(e, &from_env, file);
            BrainError::Config(what)
        })?;
        config.validate()?;
        Ok(Loaded {
            config,
            file: file.map(Path::to_owned),
            sources,
            warnings,
        })
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

    /// Bad values are told in the key's terms: the key, the value, where it came from and
    /// what it must be; never a source path of this crate or a Rust type name.
    #[test]
    fn bad_values_are_explained_in_user_terms() {
        let e = BrainConfig::load_with_env(None, env(&[("BRAIN_RECALL__K", "many")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("recall.k (from BRAIN_RECALL__K)"), "{e}");
        assert!(e.contains("\"many\""), "{e}");
        assert!(e.contains("a whole number of 0 or more"), "{e}");
        assert!(!e.contains("usize") && !e.contains(".rs"), "{e}");

        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("brain.toml");
        std::fs::write(&f, "[recall]\nkk = 1\n").unwrap();
        let e = BrainConfig::load_with_env(Some(&f), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown key `recall.kk`"), "{e}");
        assert!(e.contains("did you mean `recall.k`?"), "{e}");
        std::fs::write(&f, "[embedder]\nkind = \"gpt\"\n").unwrap();
        let e = BrainConfig::load_with_env(Some(&f), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("`gpt` is not one of `bert`, `hashing`, `llm`"),
            "{e}"
        );
        assert!(e.contains("brain.toml"), "names the file: {e}");
    }

    /// Each value says where it came from; a misspelt variable is a warning.
    #[test]
    fn sources_and_warnings_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("brain.toml");
        std::fs::write(&f, "[recall]\nk = 7\ndepth = 50\n").unwrap();
        let loaded = BrainConfig::load_from(
            Some(&f),
            env(&[
                ("BRAIN_RECALL__DEPTH", "60"),
                ("BRAIN_RECAL__K", "3"),
                ("BRAIN_STORE__URL", "postgres://u:secret@db/brain"),
            ]),
        )
        .unwrap();
        assert_eq!(loaded.config.recall.k, 7);
        assert_eq!(loaded.config.recall.depth, 60);
        assert_eq!(loaded.sources["recall.k"], Source::File { path: f.clone() });
        assert_eq!(
            loaded.sources["recall.depth"],
            Source::Env {
                var: "BRAIN_RECALL__DEPTH".into()
            }
        );
        assert!(!loaded.sources.contains_key("index.m"));
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].contains("did you mean BRAIN_RECALL__K?"));
        let entries = loaded.entries();
        assert_eq!(entries.len(), KEYS.len());
        let k = entries.iter().find(|e| e.key == "recall.k").unwrap();
        assert_eq!(k.value, Some(serde_json::json!(7)));
        let url = entries.iter().find(|e| e.key == "store.url").unwrap();
        assert!(url.secret && url.value.is_none(), "{url:?}");
        let m = entries.iter().find(|e| e.key == "index.m").unwrap();
        assert_eq!(
            (m.value.clone(), &m.source),
            (Some(serde_json::json!(16)), &Source::Default)
        );
        let shown = serde_json::to_string(&entries).unwrap();
        assert!(
            !shown.contains("u:secret"),
            "no credential is ever shown: {shown}"
        );
    }
}

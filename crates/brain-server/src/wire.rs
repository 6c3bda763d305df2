//! What goes over the wire: the arguments and results of every operation, shared by the
//! MCP tools and the HTTP API so both describe them with one JSON schema. Field docs are
//! the descriptions an agent reads.

pub use memory_core::validate::{MAX_JSON_BYTES, MAX_JSON_DEPTH, MAX_KEY_BYTES, MAX_TEXT_BYTES};
use memory_core::{
    AgentDecision, CodePattern, Memory, Preference, RecordId, Reward, Scope, Timestamp,
};
use schemars::JsonSchema;

pub use crate::api::{MAX_K, MAX_PATTERN_K};

/// The longest memory kind, in bytes. `memory_core::MemoryKind::new` holds the same
/// number as a literal; a test keeps the two equal.
pub const MAX_KIND_BYTES: usize = 64;
/// The characters a memory kind may hold (`memory_core::MemoryKind::new`'s rule).
pub const KIND_PATTERN: &str = "^[A-Za-z0-9_.:-]+$";
/// The importance range `memory_core::Importance::new` accepts (a test keeps them equal).
pub const IMPORTANCE_RANGE: (f64, f64) = (0.0, 1.0);

// Limits in the schemas: JSON Schema counts string lengths in characters, the server in
// UTF-8 bytes, so a `maxLength` is the byte limit (never looser than the server for
// ASCII, and the descriptions say bytes). Sizes JSON Schema cannot state (a JSON
// value's serialised bytes and nesting) are the extensions `x-maxBytes`/`x-maxDepth`.
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Whose records: a user, an agent, a session. Parts left out are open (or filled from the
/// token the server was reached with).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScopeArg {
    /// The user, e.g. `alice`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = MAX_KEY_BYTES))]
    pub user: Option<String>,
    /// The agent, e.g. `coder`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = MAX_KEY_BYTES))]
    pub agent: Option<String>,
    /// The session (a run or conversation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = MAX_KEY_BYTES))]
    pub session: Option<String>,
}

impl From<ScopeArg> for Scope {
    fn from(s: ScopeArg) -> Self {
        Scope {
            user: s.user,
            agent: s.agent,
            session: s.session,
        }
    }
}

impl From<&Scope> for ScopeArg {
    fn from(s: &Scope) -> Self {
        ScopeArg {
            user: s.user.clone(),
            agent: s.agent.clone(),
            session: s.session.clone(),
        }
    }
}

fn time(t: Timestamp) -> String {
    t.to_string()
}

// ---- memories ------------------------------------------------------------------------

/// Remember a piece of text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RememberArgs {
    /// What to remember: a fact, a preference in words, an event, a lesson learned (at
    /// most 1 MiB of UTF-8).
    #[schemars(length(min = 1, max = MAX_TEXT_BYTES))]
    pub content: String,
    /// The kind of memory: `fact` (default), `episode`, `doc_chunk` or your own word
    /// (letters, digits, `_ - . :`; at most 64 bytes).
    #[serde(default)]
    #[schemars(length(min = 1, max = MAX_KIND_BYTES), pattern(KIND_PATTERN))]
    pub kind: Option<String>,
    /// How much it matters, 0 to 1 (default 0.5); important memories rank higher.
    #[serde(default)]
    #[schemars(range(min = IMPORTANCE_RANGE.0, max = IMPORTANCE_RANGE.1))]
    pub importance: Option<f64>,
    /// Free-form facts about it as a JSON object, e.g. `{"project": "brain"}` (at most
    /// 256 KiB serialised and 32 levels deep).
    #[serde(default)]
    #[schemars(extend("x-maxBytes" = MAX_JSON_BYTES, "x-maxDepth" = MAX_JSON_DEPTH))]
    pub metadata: Option<Map<String, Value>>,
    /// Forget it automatically after this many seconds.
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
    /// Who owns it; defaults to the scope of the caller's token.
    #[serde(default)]
    pub scope: Option<ScopeArg>,
}

/// A stored memory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MemoryOut {
    /// Its id, for `forget`.
    pub id: String,
    /// The remembered text.
    pub content: String,
    /// Its kind.
    pub kind: String,
    /// Its owner.
    pub scope: ScopeArg,
    /// Its metadata.
    pub metadata: Map<String, Value>,
    /// Its importance, 0 to 1.
    pub importance: f64,
    /// When it was stored (RFC 3339).
    pub created_at: String,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
    /// When it expires (RFC 3339), if ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

impl From<&Memory> for MemoryOut {
    fn from(m: &Memory) -> Self {
        MemoryOut {
            id: m.id.to_string(),
            content: m.content.clone(),
            kind: m.kind.as_str().to_owned(),
            scope: (&m.scope).into(),
            metadata: m.metadata.as_map().clone(),
            importance: m.importance.get(),
            created_at: time(m.created_at),
            updated_at: time(m.updated_at),
            expires_at: m.expires_at.map(time),
        }
    }
}

/// Which lists recall draws from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RecallModeArg {
    /// Meaning and keywords, fused (best for most questions).
    #[default]
    Hybrid,
    /// Meaning only.
    Vector,
    /// Keywords only (exact names, error codes).
    Keyword,
}

/// Recall memories by meaning and keywords.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecallArgs {
    /// The question or topic, in natural language.
    #[schemars(length(min = 1, max = MAX_TEXT_BYTES))]
    pub query: String,
    /// How many memories to return (default: the server's, usually 10; at most 1000).
    #[serde(default)]
    #[schemars(range(min = 1, max = MAX_K))]
    pub k: Option<usize>,
    /// `hybrid` (default), `vector` or `keyword`.
    #[serde(default)]
    pub mode: Option<RecallModeArg>,
    /// Only these kinds of memory, e.g. `["fact"]`.
    #[serde(default)]
    #[schemars(inner(length(min = 1, max = MAX_KIND_BYTES), pattern(KIND_PATTERN)))]
    pub kinds: Option<Vec<String>>,
    /// Whose memories to search; defaults to the scope of the caller's token.
    #[serde(default)]
    pub scope: Option<ScopeArg>,
    /// Which memories may come back (applied inside both searches, so `k` still fills).
    #[serde(default)]
    pub filters: Option<RecallFilters>,
    /// Leave out hits whose score is below this. Scores are relative: about 1 for a
    /// memory first by meaning and by keywords, toward 0 for an unrelated one; 0.1 drops
    /// what merely fills `k`.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 10.0))]
    pub min_score: Option<f64>,
}

/// Which memories recall may return, besides the scope (every condition must hold).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecallFilters {
    /// Only these kinds of memory, e.g. `["fact"]`.
    #[serde(default)]
    #[schemars(inner(length(min = 1, max = MAX_KIND_BYTES), pattern(KIND_PATTERN)))]
    pub kinds: Option<Vec<String>>,
    /// Only memories whose metadata holds each of these keys with exactly this value (a
    /// string, number or boolean; `"12"` never equals `12`).
    #[serde(default)]
    pub metadata: Option<serde_json::Map<String, Value>>,
    /// Only memories stored at or after this time (RFC 3339, e.g.
    /// `2026-11-25T00:00:00Z`).
    #[serde(default)]
    pub created_after: Option<String>,
    /// Only memories stored before this time (RFC 3339).
    #[serde(default)]
    pub created_before: Option<String>,
}

/// A recalled memory with its score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecallHitOut {
    /// The memory.
    pub memory: MemoryOut,
    /// The score hits are ordered by (higher is better).
    pub score: f64,
    /// Why it scored that: keyword, vector, importance, recency and outcome parts.
    pub parts: Value,
}

/// Recalled memories, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecallOut {
    /// Best first.
    pub hits: Vec<RecallHitOut>,
}

/// Forget a memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgetArgs {
    /// The memory's id, as returned by `remember` or `recall`.
    pub id: String,
}

/// Whether a memory was forgotten.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ForgetOut {
    /// `true` when it existed and is gone; `false` when there was no such memory.
    pub forgotten: bool,
}

// ---- preferences ---------------------------------------------------------------------

/// Set a user preference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPreferenceArgs {
    /// Its name, e.g. `editor.indent` (at most 512 bytes).
    #[schemars(length(min = 1, max = MAX_KEY_BYTES))]
    pub key: String,
    /// Its value, any JSON, e.g. `"tabs"` or `4` (at most 256 KiB serialised and 32
    /// levels deep).
    #[schemars(extend("x-maxBytes" = MAX_JSON_BYTES, "x-maxDepth" = MAX_JSON_DEPTH))]
    pub value: Value,
    /// A category to group it (default `general`).
    #[serde(default)]
    #[schemars(length(min = 1, max = MAX_KEY_BYTES))]
    pub category: Option<String>,
    /// Whose preference; defaults to the scope of the caller's token.
    #[serde(default)]
    pub scope: Option<ScopeArg>,
}

/// Read preferences.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetPreferencesArgs {
    /// One preference by name; all of them when absent.
    #[serde(default)]
    pub key: Option<String>,
    /// Only this category.
    #[serde(default)]
    pub category: Option<String>,
    /// Whose preferences; defaults to the scope of the caller's token.
    #[serde(default)]
    pub scope: Option<ScopeArg>,
}

/// A stored preference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PreferenceOut {
    /// Its name.
    pub key: String,
    /// Its value.
    pub value: Value,
    /// Its category.
    pub category: String,
    /// Its owner.
    pub scope: ScopeArg,
    /// When it last changed (RFC 3339).
    pub updated_at: String,
}

impl From<&Preference> for PreferenceOut {
    fn from(p: &Preference) -> Self {
        PreferenceOut {
            key: p.key.clone(),
            value: p.value.clone(),
            category: p.category.clone(),
            scope: (&p.scope).into(),
            updated_at: time(p.updated_at),
        }
    }
}

/// Preferences found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PreferencesOut {
    /// The preferences.
    pub preferences: Vec<PreferenceOut>,
}

// ---- code patterns -------------------------------------------------------------------

/// Store a code pattern: a solution that worked for a kind of problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddPatternArgs {
    /// `error_fix`, `feature`, `optimization` or your own word.
    #[schemars(length(min = 1, max = MAX_KEY_BYTES))]
    pub pattern_type: String,
    /// The problem it solves, e.g. the error message.
    #[schemars(length(min = 1, max = MAX_TEXT_BYTES))]
    pub context: String,
    /// The code or command that solved it.
    #[schemars(length(min = 1, max = MAX_TEXT_BYTES))]
    pub solution: String,
    /// The programming language.
    #[serde(default)]
    #[schemars(length(min = 1, max = MAX_KEY_BYTES))]
    pub language: Option<String>,
    /// Whose pattern; defaults to the scope of the caller's token.
    #[serde(default)]
    pub scope: Option<ScopeArg>,
}

/// A stored code pattern with how often it worked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PatternOut {
    /// Its id, for `pattern_outcome`.
    pub id: RecordId,
    /// Its type.
    pub pattern_type: String,
    /// The problem.
    pub context: String,
    /// The solution.
    pub solution: String,
    /// The language.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Times it worked.
    pub success_count: u64,
    /// Times it failed.
    pub failure_count: u64,
    /// `(successes + 1) / (successes + failures + 2)`.
    pub success_rate: f64,
    /// Its owner.
    pub scope: ScopeArg,
}

impl From<&CodePattern> for PatternOut {
    fn from(p: &CodePattern) -> Self {
        PatternOut {
            id: p.id,
            pattern_type: p.pattern_type.clone(),
            context: p.context.clone(),
            solution: p.solution.clone(),
            language: p.language.clone(),
            success_count: p.success_count,
            failure_count: p.failure_count,
            success_rate: p.success_rate(),
            scope: (&p.scope).into(),
        }
    }
}

/// What storing a pattern did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PatternWriteOut {
    /// The pattern as stored now.
    pub pattern: PatternOut,
    /// `true` for a new pattern; `false` when the same one was stored again and counted
    /// as one more success.
    pub inserted: bool,
}

/// Count a success or a failure of a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatternOutcomeArgs {
    /// The pattern's id.
    pub id: RecordId,
    /// `true` if it worked this time, `false` if it failed.
    pub success: bool,
}

/// Find patterns for a problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchPatternsArgs {
    /// The problem, e.g. an error message.
    #[schemars(length(min = 1, max = MAX_TEXT_BYTES))]
    pub query: String,
    /// Only this type.
    #[serde(default)]
    pub pattern_type: Option<String>,
    /// Only this language.
    #[serde(default)]
    pub language: Option<String>,
    /// How many (default 5, at most 100).
    #[serde(default)]
    #[schemars(range(min = 1, max = MAX_PATTERN_K))]
    pub k: Option<usize>,
    /// Whose patterns; defaults to the scope of the caller's token.
    #[serde(default)]
    pub scope: Option<ScopeArg>,
}

/// A pattern that matches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PatternMatchOut {
    /// The pattern.
    pub pattern: PatternOut,
    /// How well it matches and how often it worked, combined (higher is better).
    pub score: f64,
}

/// Patterns found, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PatternsOut {
    /// Best first.
    pub matches: Vec<PatternMatchOut>,
}

// ---- decisions, outcomes, feedback, recommendations, reasoning -----------------------

/// Record a decision an agent took, so its outcome can teach the brain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordDecisionArgs {
    /// Which sort of agent decided, e.g. `coder`.
    #[schemars(length(min = 1, max = MAX_KEY_BYTES))]
    pub agent_type: String,
    /// The situation.
    #[schemars(length(min = 1, max = MAX_TEXT_BYTES))]
    pub context: String,
    /// The options that were weighed: at least one, none empty.
    #[schemars(length(min = 1), inner(length(min = 1, max = MAX_TEXT_BYTES)))]
    pub options: Vec<String>,
    /// The option taken: one of `options`.
    #[schemars(length(min = 1, max = MAX_TEXT_BYTES))]
    pub chosen_option: String,
    /// Why.
    #[serde(default)]
    #[schemars(length(max = MAX_TEXT_BYTES))]
    pub reasoning: Option<String>,
    /// The kind of task, for learning which options work where (default `default`).
    #[serde(default)]
    #[schemars(length(min = 1, max = MAX_KEY_BYTES))]
    pub task_bucket: Option<String>,
    /// A code pattern the decision applied, whose counts its outcome updates.
    #[serde(default)]
    pub pattern_id: Option<RecordId>,
    /// Whose decision; defaults to the scope of the caller's token.
    #[serde(default)]
    pub scope: Option<ScopeArg>,
}

/// A recorded decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DecisionOut {
    /// Its id, for `decision_outcome` and `feedback`.
    pub id: RecordId,
    /// The agent type.
    pub agent_type: String,
    /// The situation.
    pub context: String,
    /// The options weighed.
    pub options: Vec<String>,
    /// The option taken.
    pub chosen_option: String,
    /// Why.
    pub reasoning: String,
    /// What came of it, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// How good that was, in [-1, 1], once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reward: Option<f64>,
    /// Its owner.
    pub scope: ScopeArg,
    /// When it was decided (RFC 3339).
    pub created_at: String,
}

impl From<&AgentDecision> for DecisionOut {
    fn from(d: &AgentDecision) -> Self {
        DecisionOut {
            id: d.id,
            agent_type: d.agent_type.clone(),
            context: d.context.clone(),
            options: d.options.clone(),
            chosen_option: d.chosen_option.clone(),
            reasoning: d.reasoning.clone(),
            outcome: d.outcome.clone(),
            reward: d.reward.map(|r| r.get()),
            scope: (&d.scope).into(),
            created_at: time(d.created_at),
        }
    }
}

/// Record how a decision turned out; the brain learns from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionOutcomeArgs {
    /// The decision's id.
    pub id: RecordId,
    /// What happened, in words.
    #[schemars(length(min = 1, max = MAX_TEXT_BYTES))]
    pub outcome: String,
    /// How good it was, from -1 (bad) to 1 (good).
    #[schemars(range(min = Reward::MIN.get(), max = Reward::MAX.get()))]
    pub reward: f64,
}

/// What an outcome taught.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct OutcomeOut {
    /// The decision with its outcome.
    pub decision: DecisionOut,
    /// The learned policies that changed.
    pub policies: Vec<String>,
    /// The pattern whose counts changed, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern_id: Option<RecordId>,
}

/// List recent decisions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListDecisionsArgs {
    /// Only this agent type.
    #[serde(default)]
    pub agent_type: Option<String>,
    /// `true`: only those still waiting for an outcome; `false`: only decided ones.
    #[serde(default)]
    pub pending: Option<bool>,
    /// At most this many (default 20, at most 1000).
    #[serde(default)]
    #[schemars(range(min = 1, max = MAX_K))]
    pub limit: Option<usize>,
    /// Whose decisions; defaults to the scope of the caller's token.
    #[serde(default)]
    pub scope: Option<ScopeArg>,
}

/// Decisions, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DecisionsOut {
    /// Newest first.
    pub decisions: Vec<DecisionOut>,
}

/// Tell the brain how a task went, in words and numbers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackArgs {
    /// What the user said, e.g. "perfect, exactly what I wanted" or "7/10".
    #[schemars(length(min = 1, max = MAX_TEXT_BYTES))]
    pub feedback: String,
    /// The task it is about.
    #[serde(default)]
    #[schemars(length(max = MAX_TEXT_BYTES))]
    pub task_context: Option<String>,
    /// The decision it is about; its outcome becomes this feedback.
    #[serde(default)]
    pub decision_id: Option<RecordId>,
    /// Whether the task succeeded.
    #[serde(default)]
    pub success: Option<bool>,
    /// Tests that passed.
    #[serde(default)]
    pub tests_passed: Option<u32>,
    /// Tests that failed.
    #[serde(default)]
    pub tests_failed: Option<u32>,
    /// Linter warnings.
    #[serde(default)]
    pub lint_warnings: Option<u32>,
    /// Whether the build failed.
    #[serde(default)]
    pub build_failed: Option<bool>,
    /// Who gave it; defaults to the scope of the caller's token.
    #[serde(default)]
    pub scope: Option<ScopeArg>,
}

/// What feedback taught.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FeedbackOut {
    /// The combined reward in [-1, 1].
    pub reward: f64,
    /// The feedback's own rating in [-1, 1].
    pub rating: f64,
    /// `llm` (a model rated it) or `offline` (the built-in estimate).
    pub source: String,
    /// Why the offline estimate was used, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<String>,
    /// The decision's outcome, when a decision was named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<OutcomeOut>,
    /// What clearly positive feedback taught, kept as a memory of kind
    /// `learned_preference` (recallable, apart from the user's preferences).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned: Option<MemoryOut>,
}

/// Rank options by what worked before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecommendArgs {
    /// Which sort of agent asks, e.g. `coder`.
    #[schemars(length(min = 1, max = MAX_KEY_BYTES))]
    pub agent_type: String,
    /// The options to rank, e.g. `["retry", "rewrite"]`: at least one.
    #[schemars(length(min = 1))]
    pub options: Vec<String>,
    /// The kind of task (default `default`).
    #[serde(default)]
    #[schemars(length(min = 1, max = MAX_KEY_BYTES))]
    pub task_bucket: Option<String>,
    /// Let the brain sometimes put a less proven option first, to keep learning.
    #[serde(default)]
    pub explore: bool,
    /// Whose experience; defaults to the scope of the caller's token.
    #[serde(default)]
    pub scope: Option<ScopeArg>,
}

/// One ranked option.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RankedOut {
    /// The option.
    pub option: String,
    /// Its score in [0, 1].
    pub score: f64,
    /// Outcomes behind it.
    pub observations: f64,
    /// Why it ranks here.
    pub why: String,
}

/// Options, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RecommendOut {
    /// Best first.
    pub ranked: Vec<RankedOut>,
    /// Whether exploration chose the first.
    pub explored: bool,
}

/// Think a goal through with the configured LLM, using what the brain remembers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonArgs {
    /// The goal.
    #[schemars(length(min = 1, max = MAX_TEXT_BYTES))]
    pub goal: String,
    /// Options to choose among; empty lets the model decide freely.
    #[serde(default)]
    pub options: Vec<String>,
    /// Constraints the plan must respect.
    #[serde(default)]
    pub constraints: Vec<String>,
    /// The agent type the decision is recorded under (default `reasoner`).
    #[serde(default)]
    #[schemars(length(min = 1, max = MAX_KEY_BYTES))]
    pub agent_type: Option<String>,
    /// The kind of task (default `default`).
    #[serde(default)]
    #[schemars(length(min = 1, max = MAX_KEY_BYTES))]
    pub task_bucket: Option<String>,
    /// Critique and revise the plan in a second model call.
    #[serde(default)]
    pub reflect: bool,
    /// How hard the task is; picks the model by the routing table (default `complex`).
    #[serde(default)]
    pub complexity: Option<ComplexityArg>,
    /// Whose memories inform it; defaults to the scope of the caller's token.
    #[serde(default)]
    pub scope: Option<ScopeArg>,
}

/// How hard a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ComplexityArg {
    /// A quick, routine task (a small local model).
    Simple,
    /// An ordinary task.
    Medium,
    /// A hard task (the strongest configured model).
    Complex,
}

impl From<ComplexityArg> for brain::llm_router::Complexity {
    fn from(c: ComplexityArg) -> Self {
        match c {
            ComplexityArg::Simple => brain::llm_router::Complexity::Simple,
            ComplexityArg::Medium => brain::llm_router::Complexity::Medium,
            ComplexityArg::Complex => brain::llm_router::Complexity::Complex,
        }
    }
}

/// What reasoning produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReasonOut {
    /// The chain of thought.
    pub reasoning: String,
    /// The plan as a task tree.
    pub plan: Value,
    /// The critique, when reflection ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critique: Option<String>,
    /// The decision taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// The recorded decision's id: report its outcome to teach the brain.
    pub decision_id: RecordId,
    /// Each model call: stage, model, tokens, cost.
    pub calls: Value,
}

// ---- short-term memory: the session's context window ----------------------------------

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RoleArg {
    /// Instructions.
    System,
    /// The person.
    User,
    /// The agent or model.
    Assistant,
    /// A tool's output.
    Tool,
}

impl From<RoleArg> for memory_core::Role {
    fn from(r: RoleArg) -> Self {
        match r {
            RoleArg::System => memory_core::Role::System,
            RoleArg::User => memory_core::Role::User,
            RoleArg::Assistant => memory_core::Role::Assistant,
            RoleArg::Tool => memory_core::Role::Tool,
        }
    }
}

fn role_arg(r: memory_core::Role) -> RoleArg {
    match r {
        memory_core::Role::System => RoleArg::System,
        memory_core::Role::User => RoleArg::User,
        memory_core::Role::Assistant => RoleArg::Assistant,
        memory_core::Role::Tool => RoleArg::Tool,
    }
}

/// Add a message to the session's context window (the newest messages within the
/// server's message and token limits are kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMessageArgs {
    /// `user`, `assistant`, `system` or `tool`.
    pub role: RoleArg,
    /// The message.
    #[schemars(length(min = 1, max = MAX_TEXT_BYTES))]
    pub content: String,
    /// Whose window: usually names a `session`; defaults to the scope of the caller's token.
    #[serde(default)]
    pub scope: Option<ScopeArg>,
}

/// Read the session's context window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetContextArgs {
    /// Whose window; defaults to the scope of the caller's token.
    #[serde(default)]
    pub scope: Option<ScopeArg>,
}

/// A message of a context window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct MessageOut {
    /// Who said it.
    pub role: RoleArg,
    /// What was said.
    pub content: String,
    /// When (RFC 3339).
    pub at: String,
}

/// A context window, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ContextOut {
    /// Oldest first.
    pub messages: Vec<MessageOut>,
}

impl From<&[memory_core::ContextMessage]> for ContextOut {
    fn from(w: &[memory_core::ContextMessage]) -> Self {
        ContextOut {
            messages: w
                .iter()
                .map(|m| MessageOut {
                    role: role_arg(m.role),
                    content: m.content.clone(),
                    at: time(m.at),
                })
                .collect(),
        }
    }
}

/// The query of `GET /v1/context`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextQuery {
    /// Scope: user.
    pub user: Option<String>,
    /// Scope: agent.
    pub agent: Option<String>,
    /// Scope: session.
    pub session: Option<String>,
}

/// Whether the server is up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HealthOut {
    /// `ok`.
    pub status: String,
    /// The server's version.
    pub version: String,
}

/// The body of `POST /v1/patterns/{id}/outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatternOutcomeBody {
    /// `true` if it worked this time, `false` if it failed.
    pub success: bool,
}

/// The body of `POST /v1/decisions/{id}/outcome`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionOutcomeBody {
    /// What happened, in words.
    #[schemars(length(min = 1, max = MAX_TEXT_BYTES))]
    pub outcome: String,
    /// How good it was, from -1 (bad) to 1 (good).
    #[schemars(range(min = Reward::MIN.get(), max = Reward::MAX.get()))]
    pub reward: f64,
}

/// The query of `GET /v1/preferences`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferencesQuery {
    /// One preference by name.
    pub key: Option<String>,
    /// Only this category.
    pub category: Option<String>,
    /// Scope: user.
    pub user: Option<String>,
    /// Scope: agent.
    pub agent: Option<String>,
    /// Scope: session.
    pub session: Option<String>,
}

/// The query of `GET /v1/decisions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionsQuery {
    /// Only this agent type.
    pub agent_type: Option<String>,
    /// Only pending (true) or decided (false) ones.
    pub pending: Option<bool>,
    /// At most this many.
    pub limit: Option<usize>,
    /// Scope: user.
    pub user: Option<String>,
    /// Scope: agent.
    pub agent: Option<String>,
    /// Scope: session.
    pub session: Option<String>,
}

/// A scope from query parameters, `None` when none is given.
pub(crate) fn query_scope(
    user: Option<String>,
    agent: Option<String>,
    session: Option<String>,
) -> Option<ScopeArg> {
    (user.is_some() || agent.is_some() || session.is_some()).then_some(ScopeArg {
        user,
        agent,
        session,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use memory_core::{Importance, MemoryKind};

    /// The limits written here as numbers are the ones memory-core enforces.
    #[test]
    fn copied_limits_match_memory_core() {
        assert!(MemoryKind::new("k".repeat(MAX_KIND_BYTES)).is_ok());
        assert!(MemoryKind::new("k".repeat(MAX_KIND_BYTES + 1)).is_err());
        assert!(MemoryKind::new("a-b_c.d:e9").is_ok());
        assert!(MemoryKind::new("a b").is_err());
        assert!(MemoryKind::new("a/b").is_err());
        let (lo, hi) = IMPORTANCE_RANGE;
        assert!(Importance::new(lo).is_ok() && Importance::new(hi).is_ok());
        assert!(Importance::new(lo - 1e-9).is_err() && Importance::new(hi + 1e-9).is_err());
    }
}

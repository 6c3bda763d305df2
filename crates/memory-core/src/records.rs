//! The seed's records: preferences, projects, code patterns, learning events,
//! conversation summaries and agent decisions.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ValidationError;
use crate::scope::{Metadata, Scope};
use crate::time::Timestamp;
use crate::validate;

/// A reward in `[-1, 1]`. It cannot hold NaN, an infinity or anything out of range.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Reward(f64);

impl Reward {
    /// The best outcome.
    pub const MAX: Reward = Reward(1.0);
    /// The worst outcome.
    pub const MIN: Reward = Reward(-1.0);
    /// Neither good nor bad.
    pub const NEUTRAL: Reward = Reward(0.0);

    /// A finite value in `[-1, 1]`, or an error saying why not.
    pub fn new(v: f64) -> Result<Self, ValidationError> {
        validate::range("reward", v, -1.0, 1.0)?;
        Ok(Reward(v))
    }

    /// `v` clamped into `[-1, 1]`; `None` for NaN. For numbers read from untrusted text
    /// (an LLM's answer), where out-of-range is expected and NaN means "no answer".
    pub fn clamped(v: f64) -> Option<Self> {
        if v.is_nan() {
            None
        } else {
            Some(Reward(v.clamp(-1.0, 1.0)))
        }
    }

    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Reward {
    type Error = ValidationError;
    fn try_from(v: f64) -> Result<Self, Self::Error> {
        Reward::new(v)
    }
}

impl From<Reward> for f64 {
    fn from(r: Reward) -> f64 {
        r.0
    }
}

impl fmt::Display for Reward {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The id of a row in one of the seed's tables (they use integer keys).
pub type RecordId = i64;

/// A stored user preference. Keys are unique within a scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preference {
    /// Row id.
    pub id: RecordId,
    /// Owner.
    pub scope: Scope,
    /// The preference's name, e.g. `editor.theme`.
    pub key: String,
    /// Its value, any JSON.
    pub value: Value,
    /// Its category (`general` unless given; `learned` for learned ones).
    pub category: String,
    /// When first stored.
    pub created_at: Timestamp,
    /// When last changed.
    pub updated_at: Timestamp,
}

/// A preference to store. Storing the same scope and key again updates the value (and
/// the category, when given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewPreference {
    /// Owner.
    #[serde(default)]
    pub scope: Scope,
    /// Name.
    pub key: String,
    /// Value.
    pub value: Value,
    /// Category; `general` when `None`.
    #[serde(default)]
    pub category: Option<String>,
}

impl NewPreference {
    /// A global preference in the `general` category.
    pub fn new(key: impl Into<String>, value: impl Into<Value>) -> Self {
        NewPreference {
            scope: Scope::default(),
            key: key.into(),
            value: value.into(),
            category: None,
        }
    }

    /// Sets the owner.
    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// Sets the category.
    pub fn with_category(mut self, category: impl Into<String>) -> Self {
        self.category = Some(category.into());
        self
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.scope.validate()?;
        validate::key("preference key", &self.key)?;
        validate::json("preference value", &self.value)?;
        if let Some(c) = &self.category {
            validate::key("category", c)?;
        }
        Ok(())
    }
}

/// The default preference category.
pub const DEFAULT_CATEGORY: &str = "general";

/// A project the agent has worked on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    /// Row id.
    pub id: RecordId,
    /// Owner.
    pub scope: Scope,
    /// Name.
    pub name: String,
    /// Where it lives on disk.
    pub path: Option<String>,
    /// What it is.
    pub description: Option<String>,
    /// Languages and frameworks.
    pub tech_stack: Vec<String>,
    /// `active` unless changed.
    pub status: String,
    /// When first recorded.
    pub created_at: Timestamp,
    /// When last worked on.
    pub last_accessed: Option<Timestamp>,
}

/// A project to record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewProject {
    /// Owner.
    #[serde(default)]
    pub scope: Scope,
    /// Name.
    pub name: String,
    /// Path on disk.
    #[serde(default)]
    pub path: Option<String>,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Tech stack.
    #[serde(default)]
    pub tech_stack: Vec<String>,
    /// Status; `active` when `None`.
    #[serde(default)]
    pub status: Option<String>,
}

impl NewProject {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.scope.validate()?;
        validate::key("project name", &self.name)?;
        if let Some(p) = &self.path {
            validate::text("project path", p)?;
        }
        if let Some(d) = &self.description {
            validate::text("project description", d)?;
        }
        for t in &self.tech_stack {
            validate::key("tech_stack entry", t)?;
        }
        if let Some(s) = &self.status {
            validate::key("project status", s)?;
        }
        Ok(())
    }
}

/// The default project status.
pub const DEFAULT_PROJECT_STATUS: &str = "active";

/// A code pattern: a solution to a kind of problem, with how often it worked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodePattern {
    /// Row id.
    pub id: RecordId,
    /// Owner.
    pub scope: Scope,
    /// `error_fix`, `feature`, `optimization`, or the caller's own.
    pub pattern_type: String,
    /// The problem it solves.
    pub context: String,
    /// The code or command.
    pub solution: String,
    /// Programming language.
    pub language: Option<String>,
    /// Times it worked (1 when first stored, as in the seed).
    pub success_count: u64,
    /// Times it failed.
    pub failure_count: u64,
    /// When first stored.
    pub created_at: Timestamp,
    /// When last stored, succeeded or failed.
    pub updated_at: Timestamp,
    /// What else is known: for a distilled pattern, the patterns it came from.
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

impl CodePattern {
    /// Laplace-smoothed success rate, `(s + 1) / (s + f + 2)`: 0.5 with no evidence.
    pub fn success_rate(&self) -> f64 {
        let s = self.success_count as f64;
        let f = self.failure_count as f64;
        (s + 1.0) / (s + f + 2.0)
    }
}

/// A pattern to store. Storing the same scope, type and context again counts one more
/// success on the stored pattern instead of adding a row (the seed's behaviour).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewPattern {
    /// Owner.
    #[serde(default)]
    pub scope: Scope,
    /// Type.
    pub pattern_type: String,
    /// Problem.
    pub context: String,
    /// Solution.
    pub solution: String,
    /// Language.
    #[serde(default)]
    pub language: Option<String>,
    /// What else is known (kept as first stored when the same pattern is stored again).
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

/// A change to a stored pattern; fields left `None` stay as they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PatternPatch {
    /// A new problem description.
    #[serde(default)]
    pub context: Option<String>,
    /// A new solution.
    #[serde(default)]
    pub solution: Option<String>,
    /// A new success count.
    #[serde(default)]
    pub success_count: Option<u64>,
    /// New metadata, replacing the old.
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

impl PatternPatch {
    /// Checks every field that is set.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if let Some(c) = &self.context {
            validate::non_empty_text("pattern context", c)?;
        }
        if let Some(s) = &self.solution {
            validate::non_empty_text("pattern solution", s)?;
        }
        if let Some(m) = &self.metadata {
            m.validate()?;
        }
        Ok(())
    }
}

impl NewPattern {
    /// A global pattern with no language.
    pub fn new(
        pattern_type: impl Into<String>,
        context: impl Into<String>,
        solution: impl Into<String>,
    ) -> Self {
        NewPattern {
            scope: Scope::default(),
            pattern_type: pattern_type.into(),
            context: context.into(),
            solution: solution.into(),
            language: None,
            metadata: Metadata::new(),
        }
    }

    /// Sets the metadata.
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Sets the language.
    pub fn with_language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    /// Sets the owner.
    pub fn with_scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
        self
    }

    /// Checks every field.
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.scope.validate()?;
        validate::key("pattern_type", &self.pattern_type)?;
        validate::non_empty_text("pattern context", &self.context)?;
        validate::non_empty_text("pattern solution", &self.solution)?;
        if let Some(l) = &self.language {
            validate::key("language", l)?;
        }
        self.metadata.validate()?;
        Ok(())
    }
}

/// What [`crate::LongTermStore::store_pattern`] did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternWrite {
    /// The pattern as stored now.
    pub pattern: CodePattern,
    /// `true` when a new row was added, `false` when an existing one was counted again.
    pub inserted: bool,
}

/// An outcome to count on a pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatternOutcome {
    /// It worked once more.
    Success,
    /// It failed.
    Failure,
}

/// Which patterns to list, and in what order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternQuery {
    /// Scope filter.
    #[serde(default)]
    pub scope: Scope,
    /// Only this type.
    #[serde(default)]
    pub pattern_type: Option<String>,
    /// Only this language.
    #[serde(default)]
    pub language: Option<String>,
    /// At most this many, most successful first (ties: newest first).
    pub limit: usize,
}

impl PatternQuery {
    /// The `limit` most successful patterns visible through `scope`.
    pub fn new(scope: Scope, limit: usize) -> Self {
        PatternQuery {
            scope,
            pattern_type: None,
            language: None,
            limit,
        }
    }
}

/// A pattern found by keyword search over its context and solution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternHit {
    /// The pattern.
    pub pattern: CodePattern,
    /// Relevance; higher is better.
    pub score: f64,
}

/// Something that happened that the brain can learn from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearningEvent {
    /// Row id.
    pub id: RecordId,
    /// Owner.
    pub scope: Scope,
    /// `success`, `failure`, `user_feedback`, or the caller's own.
    pub event_type: String,
    /// The task it concerned.
    pub task_description: String,
    /// What came of it.
    pub outcome: String,
    /// How good that was.
    pub reward: Reward,
    /// Anything else.
    pub metadata: Metadata,
    /// When recorded.
    pub created_at: Timestamp,
}

/// A learning event to record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewLearningEvent {
    /// Owner.
    #[serde(default)]
    pub scope: Scope,
    /// Type.
    pub event_type: String,
    /// Task.
    #[serde(default)]
    pub task_description: String,
    /// Outcome.
    #[serde(default)]
    pub outcome: String,
    /// Reward.
    pub reward: Reward,
    /// Metadata.
    #[serde(default)]
    pub metadata: Metadata,
}

impl NewLearningEvent {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.scope.validate()?;
        validate::key("event_type", &self.event_type)?;
        validate::text("task_description", &self.task_description)?;
        validate::text("outcome", &self.outcome)?;
        self.metadata.validate()
    }
}

/// Which learning events to list, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventQuery {
    /// Scope filter.
    #[serde(default)]
    pub scope: Scope,
    /// Only this type.
    #[serde(default)]
    pub event_type: Option<String>,
    /// Only events at or after this time.
    #[serde(default)]
    pub since: Option<Timestamp>,
    /// At most this many.
    pub limit: usize,
}

/// A summary of a finished conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationSummary {
    /// Row id.
    pub id: RecordId,
    /// Owner.
    pub scope: Scope,
    /// What was said and done.
    pub summary: String,
    /// Decisions taken.
    pub key_decisions: Vec<String>,
    /// What the user thought of it.
    pub user_feedback: Option<String>,
    /// When recorded.
    pub created_at: Timestamp,
}

/// A conversation summary to record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewConversation {
    /// Owner.
    #[serde(default)]
    pub scope: Scope,
    /// Summary.
    pub summary: String,
    /// Key decisions.
    #[serde(default)]
    pub key_decisions: Vec<String>,
    /// Feedback.
    #[serde(default)]
    pub user_feedback: Option<String>,
}

impl NewConversation {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.scope.validate()?;
        validate::non_empty_text("summary", &self.summary)?;
        for d in &self.key_decisions {
            validate::text("key decision", d)?;
        }
        if let Some(f) = &self.user_feedback {
            validate::text("user_feedback", f)?;
        }
        Ok(())
    }
}

/// A decision an agent took, kept so its outcome can teach the brain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentDecision {
    /// Row id.
    pub id: RecordId,
    /// Owner.
    pub scope: Scope,
    /// Which sort of agent decided.
    pub agent_type: String,
    /// The situation.
    pub context: String,
    /// The options weighed.
    pub options: Vec<String>,
    /// The one taken.
    pub chosen_option: String,
    /// Why.
    pub reasoning: String,
    /// What came of it, once known.
    pub outcome: Option<String>,
    /// How good that was, once known.
    pub reward: Option<Reward>,
    /// When decided.
    pub created_at: Timestamp,
    /// When the outcome was recorded.
    pub outcome_at: Option<Timestamp>,
    /// What the learning loop needs to connect the outcome back: the task bucket, the
    /// model that served, a pattern id.
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

/// A decision to record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NewDecision {
    /// Owner.
    #[serde(default)]
    pub scope: Scope,
    /// Agent type.
    pub agent_type: String,
    /// Situation.
    pub context: String,
    /// Options weighed.
    #[serde(default)]
    pub options: Vec<String>,
    /// Option chosen.
    pub chosen_option: String,
    /// Reasoning.
    #[serde(default)]
    pub reasoning: String,
    /// What the learning loop needs later (task bucket, serving model, pattern id).
    #[serde(default, skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata,
}

impl NewDecision {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), ValidationError> {
        self.scope.validate()?;
        validate::key("agent_type", &self.agent_type)?;
        validate::non_empty_text("decision context", &self.context)?;
        validate::options("options", &self.options)?;
        validate::non_empty_text("chosen_option", &self.chosen_option)?;
        if !self.options.contains(&self.chosen_option) {
            return Err(ValidationError::Other(format!(
                "chosen_option {:?} is not one of the {} option(s) given",
                validate::preview(&self.chosen_option),
                self.options.len()
            )));
        }
        validate::text("reasoning", &self.reasoning)?;
        self.metadata.validate()
    }
}

/// Which decisions to list, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionQuery {
    /// Scope filter.
    #[serde(default)]
    pub scope: Scope,
    /// Only this agent type.
    #[serde(default)]
    pub agent_type: Option<String>,
    /// `Some(true)`: only decided outcomes; `Some(false)`: only pending ones.
    #[serde(default)]
    pub with_outcome: Option<bool>,
    /// At most this many.
    pub limit: usize,
}

/// A stored record with everything it holds (ids, times, counts), for a lossless export
/// and restore. Memories travel as [`crate::Memory`] instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Record {
    /// A preference.
    Preference(Preference),
    /// A project.
    Project(Project),
    /// A code pattern, with its counts.
    Pattern(CodePattern),
    /// A learning event.
    LearningEvent(LearningEvent),
    /// A conversation summary.
    Conversation(ConversationSummary),
    /// An agent decision, with its outcome.
    Decision(AgentDecision),
}

impl Record {
    /// The record's id.
    pub fn id(&self) -> RecordId {
        match self {
            Record::Preference(r) => r.id,
            Record::Project(r) => r.id,
            Record::Pattern(r) => r.id,
            Record::LearningEvent(r) => r.id,
            Record::Conversation(r) => r.id,
            Record::Decision(r) => r.id,
        }
    }

    /// What kind of record, for messages (`preference`, `pattern`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Record::Preference(_) => "preference",
            Record::Project(_) => "project",
            Record::Pattern(_) => "pattern",
            Record::LearningEvent(_) => "learning_event",
            Record::Conversation(_) => "conversation",
            Record::Decision(_) => "decision",
        }
    }

    /// Checks every field as the corresponding write would, plus the id.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.id() < 1 {
            return Err(ValidationError::OutOfRange {
                field: "record id",
                value: self.id() as f64,
                min: 1.0,
                max: i64::MAX as f64,
            });
        }
        match self {
            Record::Preference(r) => NewPreference {
                scope: r.scope.clone(),
                key: r.key.clone(),
                value: r.value.clone(),
                category: Some(r.category.clone()),
            }
            .validate(),
            Record::Project(r) => NewProject {
                scope: r.scope.clone(),
                name: r.name.clone(),
                path: r.path.clone(),
                description: r.description.clone(),
                tech_stack: r.tech_stack.clone(),
                status: Some(r.status.clone()),
            }
            .validate(),
            Record::Pattern(r) => {
                NewPattern {
                    scope: r.scope.clone(),
                    pattern_type: r.pattern_type.clone(),
                    context: r.context.clone(),
                    solution: r.solution.clone(),
                    language: r.language.clone(),
                    metadata: r.metadata.clone(),
                }
                .validate()?;
                for (field, n) in [
                    ("success_count", r.success_count),
                    ("failure_count", r.failure_count),
                ] {
                    if n > i64::MAX as u64 {
                        return Err(ValidationError::OutOfRange {
                            field,
                            value: n as f64,
                            min: 0.0,
                            max: i64::MAX as f64,
                        });
                    }
                }
                Ok(())
            }
            Record::LearningEvent(r) => NewLearningEvent {
                scope: r.scope.clone(),
                event_type: r.event_type.clone(),
                task_description: r.task_description.clone(),
                outcome: r.outcome.clone(),
                reward: r.reward,
                metadata: r.metadata.clone(),
            }
            .validate(),
            Record::Conversation(r) => NewConversation {
                scope: r.scope.clone(),
                summary: r.summary.clone(),
                key_decisions: r.key_decisions.clone(),
                user_feedback: r.user_feedback.clone(),
            }
            .validate(),
            Record::Decision(r) => {
                NewDecision {
                    scope: r.scope.clone(),
                    agent_type: r.agent_type.clone(),
                    context: r.context.clone(),
                    options: r.options.clone(),
                    chosen_option: r.chosen_option.clone(),
                    reasoning: r.reasoning.clone(),
                    metadata: Default::default(),
                }
                .validate()?;
                if let Some(o) = &r.outcome {
                    validate::text("outcome", o)?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reward_is_checked() {
        assert!(Reward::new(0.5).is_ok());
        assert!(matches!(
            Reward::new(f64::NAN),
            Err(ValidationError::NotFinite { .. })
        ));
        assert!(matches!(
            Reward::new(1.01),
            Err(ValidationError::OutOfRange { .. })
        ));
        assert!(matches!(
            Reward::new(f64::INFINITY),
            Err(ValidationError::NotFinite { .. })
        ));
        assert_eq!(Reward::clamped(7.0), Some(Reward::MAX));
        assert_eq!(Reward::clamped(f64::NEG_INFINITY), Some(Reward::MIN));
        assert_eq!(Reward::clamped(f64::NAN), None);
        assert!(serde_json::from_str::<Reward>("-1.5").is_err());
    }

    #[test]
    fn success_rate_is_smoothed() {
        let p = CodePattern {
            id: 1,
            scope: Scope::default(),
            pattern_type: "t".into(),
            context: "c".into(),
            solution: "s".into(),
            language: None,
            success_count: 0,
            failure_count: 0,
            created_at: Timestamp::from_millis(0),
            updated_at: Timestamp::from_millis(0),
            metadata: Metadata::new(),
        };
        assert_eq!(p.success_rate(), 0.5);
    }
}

/// The largest serialised policy state a store accepts (8 MiB): a LinUCB over 64
/// features and a dozen arms, or a Q-table of tens of thousands of pairs, fits.
pub const MAX_POLICY_BYTES: usize = 8 << 20;

/// A learner's saved state (a Q-table, a bandit), stored whole under a name so learning
/// survives restarts. Versions give optimistic concurrency: a save names the version it
/// read, and a save over a newer version is a conflict rather than a lost update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyState {
    /// The policy's name, e.g. `router/classification:simple`.
    pub name: String,
    /// What kind of learner wrote it, e.g. `q_learner` or `thompson_beta`.
    pub kind: String,
    /// The learner, serialised.
    pub state: Value,
    /// 1 for the first save, one more for each save after.
    pub version: u64,
    /// When it was last saved.
    pub updated_at: Timestamp,
}

/// Checks a policy's name, kind and state before it is stored.
pub fn validate_policy(name: &str, kind: &str, state: &Value) -> Result<(), ValidationError> {
    validate::key("policy name", name)?;
    validate::key("policy kind", kind)?;
    let depth = validate::json_depth(state);
    if depth > validate::MAX_JSON_DEPTH {
        return Err(ValidationError::TooDeep {
            field: "policy state",
            depth,
            max: validate::MAX_JSON_DEPTH,
        });
    }
    let len = serde_json::to_vec(state)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if len > MAX_POLICY_BYTES {
        return Err(ValidationError::TooLong {
            field: "policy state",
            len,
            max: MAX_POLICY_BYTES,
        });
    }
    Ok(())
}

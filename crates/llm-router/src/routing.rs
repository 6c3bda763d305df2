//! The routing table: the seed's SmartRouter rules as data.
//!
//! A table is an ordered list of [`Rule`]s; the first whose [`Condition`] matches a
//! [`RouteRequest`] decides the target and its fallbacks. [`RoutingTable::seed`] is the
//! seed's `SmartRouter.route` exactly, rule for rule, with its models; configuration may
//! replace it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{LlmError, Result};

/// What a task is, as the seed's `TaskType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskType {
    /// Thinking a problem through.
    Reasoning,
    /// Writing code.
    CodeGeneration,
    /// Sorting text into classes.
    Classification,
    /// Turning text into vectors.
    Embedding,
    /// Shortening text.
    Summarization,
    /// Conversation.
    Chat,
}

impl TaskType {
    /// Every task type.
    pub const ALL: [TaskType; 6] = [
        TaskType::Reasoning,
        TaskType::CodeGeneration,
        TaskType::Classification,
        TaskType::Embedding,
        TaskType::Summarization,
        TaskType::Chat,
    ];

    /// The snake_case name used in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskType::Reasoning => "reasoning",
            TaskType::CodeGeneration => "code_generation",
            TaskType::Classification => "classification",
            TaskType::Embedding => "embedding",
            TaskType::Summarization => "summarization",
            TaskType::Chat => "chat",
        }
    }
}

impl FromStr for TaskType {
    type Err = LlmError;
    fn from_str(s: &str) -> Result<Self> {
        TaskType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| LlmError::Config(format!("unknown task type `{s}` (one of reasoning, code_generation, classification, embedding, summarization, chat)")))
    }
}

/// How hard a task is, as the seed's `TaskComplexity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Complexity {
    /// Simple.
    Simple,
    /// Medium.
    Medium,
    /// Complex.
    Complex,
}

impl Complexity {
    /// Every complexity.
    pub const ALL: [Complexity; 3] = [Complexity::Simple, Complexity::Medium, Complexity::Complex];

    /// The snake_case name used in configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Complexity::Simple => "simple",
            Complexity::Medium => "medium",
            Complexity::Complex => "complex",
        }
    }
}

impl FromStr for Complexity {
    type Err = LlmError;
    fn from_str(s: &str) -> Result<Self> {
        Complexity::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                LlmError::Config(format!(
                    "unknown complexity `{s}` (one of simple, medium, complex)"
                ))
            })
    }
}

/// What the router is asked to route: the arguments of the seed's `SmartRouter.route`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteRequest {
    /// The kind of task.
    pub task: TaskType,
    /// How hard it is.
    pub complexity: Complexity,
    /// Tokens of context the task brings. The router uses the larger of this and its own
    /// estimate of the request.
    #[serde(default)]
    pub context_length: u64,
    /// The caller needs a fast answer.
    #[serde(default)]
    pub require_fast: bool,
    /// The caller needs a cheap answer.
    #[serde(default)]
    pub require_cheap: bool,
}

impl RouteRequest {
    /// A task of this type and complexity, with no other requirement.
    pub fn new(task: TaskType, complexity: Complexity) -> Self {
        RouteRequest {
            task,
            complexity,
            context_length: 0,
            require_fast: false,
            require_cheap: false,
        }
    }

    /// With `tokens` of context.
    pub fn with_context_length(mut self, tokens: u64) -> Self {
        self.context_length = tokens;
        self
    }

    /// Needing a fast and cheap answer (the seed's `require_fast`, `require_cheap`).
    pub fn fast_and_cheap(mut self, fast: bool, cheap: bool) -> Self {
        self.require_fast = fast;
        self.require_cheap = cheap;
        self
    }
}

/// A deployment: a model at a provider.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The provider's configured name, e.g. `ollama`, `lmstudio`, `anthropic`.
    pub provider: String,
    /// The model's name at the provider.
    pub model: String,
}

impl Target {
    /// `model` at `provider`.
    pub fn new(provider: impl Into<String>, model: impl Into<String>) -> Self {
        Target {
            provider: provider.into(),
            model: model.into(),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.provider, self.model)
    }
}

/// When a rule applies. Every field that is set must hold; an empty condition always
/// holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Condition {
    /// Holds when the request's `require_fast` equals this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_fast: Option<bool>,
    /// Holds when the request's `require_cheap` equals this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_cheap: Option<bool>,
    /// Holds when the task is one of these (any task if empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<TaskType>,
    /// Holds when the complexity is one of these (any if empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub complexities: Vec<Complexity>,
    /// Holds when the context is longer than this many tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_longer_than: Option<u64>,
}

impl Condition {
    /// Whether the condition holds for `request`.
    pub fn matches(&self, request: &RouteRequest) -> bool {
        self.require_fast.is_none_or(|f| f == request.require_fast)
            && self
                .require_cheap
                .is_none_or(|c| c == request.require_cheap)
            && (self.tasks.is_empty() || self.tasks.contains(&request.task))
            && (self.complexities.is_empty() || self.complexities.contains(&request.complexity))
            && self
                .context_longer_than
                .is_none_or(|n| request.context_length > n)
    }

    /// Whether it holds for every request.
    pub fn is_always(&self) -> bool {
        self == &Condition::default()
    }
}

/// One routing rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A short name, for logs and explanations.
    pub name: String,
    /// When it applies.
    #[serde(default)]
    pub when: Condition,
    /// Where the task goes.
    pub target: Target,
    /// Where it goes if the target fails, in order.
    #[serde(default)]
    pub fallbacks: Vec<Target>,
    /// Why, for a person.
    pub reason: String,
}

/// What the table decided for one request: the seed's `RoutingDecision`, with a list of
/// fallbacks where the seed has at most one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutingDecision {
    /// The rule that matched.
    pub rule: String,
    /// The first choice.
    pub target: Target,
    /// The fallbacks, in order.
    pub fallbacks: Vec<Target>,
    /// Why.
    pub reason: String,
}

impl RoutingDecision {
    /// The target, then the fallbacks.
    pub fn candidates(&self) -> impl Iterator<Item = &Target> {
        std::iter::once(&self.target).chain(&self.fallbacks)
    }
}

/// An ordered list of rules; the last must always apply, so every request is routed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingTable {
    /// The rules, tried in order.
    pub rules: Vec<Rule>,
}

/// The seed's cloud model.
pub const SEED_CLAUDE: &str = "claude-sonnet-4-20250514";
/// The seed's local model when `ollama_model` is not set.
pub const SEED_LOCAL_MODEL: &str = "llama3.1:8b";

impl RoutingTable {
    /// The seed's `SmartRouter.route`, rule for rule. `local_model` is the seed's
    /// `settings.ollama_model` ([`SEED_LOCAL_MODEL`] when unset).
    pub fn seed(local_model: &str) -> Self {
        let t = Target::new;
        let rule =
            |name: &str, when: Condition, target: Target, fallbacks: Vec<Target>, reason: &str| {
                Rule {
                    name: name.to_owned(),
                    when,
                    target,
                    fallbacks,
                    reason: reason.to_owned(),
                }
            };
        RoutingTable {
            rules: vec![
                rule(
                    "fast_and_cheap",
                    Condition {
                        require_fast: Some(true),
                        require_cheap: Some(true),
                        ..Condition::default()
                    },
                    t("ollama", local_model),
                    vec![],
                    "Fast and cheap requirement - using local LLM",
                ),
                rule(
                    "complex_reasoning",
                    Condition {
                        tasks: vec![TaskType::Reasoning],
                        complexities: vec![Complexity::Complex],
                        ..Condition::default()
                    },
                    t("anthropic", SEED_CLAUDE),
                    vec![t("openai", "gpt-4o")],
                    "Complex reasoning requires best chain-of-thought capability",
                ),
                rule(
                    "code_generation",
                    Condition {
                        tasks: vec![TaskType::CodeGeneration],
                        complexities: vec![Complexity::Medium, Complexity::Complex],
                        ..Condition::default()
                    },
                    t("anthropic", SEED_CLAUDE),
                    vec![t("ollama", "deepseek-coder:33b")],
                    "Code generation benefits from larger model",
                ),
                rule(
                    "long_context",
                    Condition {
                        context_longer_than: Some(32_000),
                        ..Condition::default()
                    },
                    t("anthropic", SEED_CLAUDE),
                    vec![],
                    "Long context requires Claude's 200k window",
                ),
                rule(
                    "embeddings",
                    Condition {
                        tasks: vec![TaskType::Embedding],
                        ..Condition::default()
                    },
                    t("ollama", "nomic-embed-text"),
                    vec![],
                    "Embeddings are efficient locally",
                ),
                rule(
                    "classification",
                    Condition {
                        tasks: vec![TaskType::Classification],
                        ..Condition::default()
                    },
                    t("ollama", local_model),
                    vec![t("lmstudio", "local-model")],
                    "Classification is fast locally",
                ),
                rule(
                    "default",
                    Condition::default(),
                    t("ollama", local_model),
                    vec![t("anthropic", SEED_CLAUDE)],
                    "Default to local for cost efficiency",
                ),
            ],
        }
    }

    /// The decision for `request`: the first matching rule.
    pub fn route(&self, request: &RouteRequest) -> Result<RoutingDecision> {
        let rule = self
            .rules
            .iter()
            .find(|r| r.when.matches(request))
            .ok_or_else(|| {
                LlmError::Config(
                    "no routing rule matches; the last rule must have an empty `when`".into(),
                )
            })?;
        Ok(RoutingDecision {
            rule: rule.name.clone(),
            target: rule.target.clone(),
            fallbacks: rule.fallbacks.clone(),
            reason: rule.reason.clone(),
        })
    }

    /// Checks the table: at least one rule, unique non-empty names, named targets, and a
    /// last rule that always applies.
    pub fn validate(&self) -> Result<()> {
        let last = self
            .rules
            .last()
            .ok_or_else(|| LlmError::Config("the routing table has no rules".into()))?;
        if !last.when.is_always() {
            return Err(LlmError::Config(format!(
                "the last routing rule (`{}`) must have an empty `when`, so that every task is routed",
                last.name
            )));
        }
        let mut names = std::collections::BTreeSet::new();
        for r in &self.rules {
            if r.name.trim().is_empty() || !names.insert(r.name.as_str()) {
                return Err(LlmError::Config(format!(
                    "routing rule names must be unique and non-empty: `{}`",
                    r.name
                )));
            }
            for t in std::iter::once(&r.target).chain(&r.fallbacks) {
                if t.provider.trim().is_empty() || t.model.trim().is_empty() {
                    return Err(LlmError::Config(format!(
                        "routing rule `{}` has a target without provider or model",
                        r.name
                    )));
                }
            }
        }
        Ok(())
    }

    /// Every deployment the table names.
    pub fn targets(&self) -> impl Iterator<Item = &Target> {
        self.rules
            .iter()
            .flat_map(|r| std::iter::once(&r.target).chain(&r.fallbacks))
    }
}

impl Default for RoutingTable {
    fn default() -> Self {
        RoutingTable::seed(SEED_LOCAL_MODEL)
    }
}

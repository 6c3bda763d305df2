//! What the brain learns from outcomes: bandits that rank an agent's options per task
//! bucket, and a bandit that orders the models a routing rule allows.
//!
//! Every learner is an [`rl::AnyBandit`] kept in the store as a policy
//! ([`rl::Persistent`]), so learning survives restarts and several processes learn
//! together without losing an update. Rewards in the brain are in [-1, 1]; the bandits
//! see them mapped onto [0, 1] (`(r + 1) / 2`).
//!
//! **Learned LLM routing.** The routing table stays the hard constraint and the prior: a
//! rule names the models allowed for a task (its target and fallbacks) and their order.
//! Among those, a Beta-Thompson bandit per (task type, complexity) learns from outcomes,
//! with the reward `clamp((r + 1) / 2 − cost_weight · cost_usd − latency_weight ·
//! latency_s, 0, 1)`, so a model that earns more reward per dollar and second gets more
//! traffic. Until a model has evidence its place is the table's. A deployment that fails
//! outright (and the router falls back past it) earns 0 at once.

use memory_core::{Record, RecordChange, RecordStoreExt};
use std::sync::Arc;

use memory_core::{LongTermStore, Scope};
use rl::{AnyBandit, Bandit, BetaThompson, BetaThompsonConfig, Persistent};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// Options (or models) and the bandit that learns among them, stored as one policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct OptionPolicy {
    /// Arm `i` is `options[i]`.
    pub(crate) options: Vec<String>,
    pub(crate) bandit: AnyBandit,
    /// Whose policy this is (recommend policies); checked on open, so a policy is only
    /// ever read or extended for the owner it was made for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) owner: Option<PolicyOwner>,
}

/// The owner of a recommend policy: the exact scope the decisions were recorded in, the
/// agent type and the task bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PolicyOwner {
    pub(crate) scope: Scope,
    pub(crate) agent_type: String,
    pub(crate) bucket: String,
}

/// Most options one policy learns; an outcome that would add more is refused (before
/// anything is written), so no caller can grow a policy without bound.
pub const MAX_POLICY_ARMS: usize = 256;

/// The policy kind recorded in the store.
pub(crate) const OPTION_POLICY: &str = "brain_option_bandit";

impl OptionPolicy {
    fn new(seed: u64) -> Result<Self> {
        let bandit = BetaThompson::new(0, BetaThompsonConfig::default(), rl::seeded(seed))
            .map_err(memory_core::Error::from)?;
        Ok(OptionPolicy {
            options: Vec::new(),
            bandit: bandit.into(),
            owner: None,
        })
    }

    /// The arm of `option`, adding it when new; refused past [`MAX_POLICY_ARMS`].
    pub(crate) fn arm(&mut self, option: &str) -> rl::Result<usize> {
        match self.options.iter().position(|o| o == option) {
            Some(i) => Ok(i),
            None if self.options.len() >= MAX_POLICY_ARMS => Err(rl::RlError::InvalidParameter {
                name: "options learned by one policy",
                expected: "at most 256 (MAX_POLICY_ARMS)",
                value: (self.options.len() + 1) as f64,
            }),
            None => {
                self.options.push(option.to_owned());
                Ok(self.bandit.add_arm())
            }
        }
    }

    /// What the bandit knows of `option`: (posterior mean in [0, 1], observations).
    pub(crate) fn stats(&self, option: &str) -> Option<(f64, f64)> {
        let arm = self.options.iter().position(|o| o == option)?;
        self.bandit
            .values()
            .into_iter()
            .find(|v| v.arm == arm)
            .map(|v| (v.estimate, v.count))
    }
}

/// A seed for a new policy's random source, from its name: reproducible per name.
fn seed_of(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Opens the option policy `name`; with an `owner`, a stored policy made for another
/// owner is an error (defence in depth: names are digests of their owner).
pub(crate) async fn open_policy(
    store: Arc<dyn LongTermStore>,
    name: &str,
    owner: Option<PolicyOwner>,
) -> Result<Persistent<OptionPolicy>> {
    let mut init = OptionPolicy::new(seed_of(name))?;
    init.owner = owner.clone();
    let policy = Persistent::open(store, name, OPTION_POLICY, move || init).await?;
    if let Some(want) = owner
        && policy.get().owner.as_ref() != Some(&want)
    {
        return Err(memory_core::Error::Conflict(format!(
            "policy `{name}` belongs to another owner than the one asked for"
        ))
        .into());
    }
    Ok(policy)
}

/// A seed that differs on every call, for draws that are not saved.
fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// The option a Thompson draw picks among `names`, on a copy of the policy with a fresh
/// random source: nothing is saved, so ranking stays a read.
fn draw(policy: &OptionPolicy, names: &[String]) -> Result<Option<String>> {
    let mut p = policy.clone();
    p.bandit.reseed(rl::seeded(fresh_seed()));
    for n in names {
        // A full policy draws among the options it already knows.
        let _ = p.arm(n);
    }
    let c = p.bandit.select(&[]).map_err(memory_core::Error::from)?;
    Ok(p.options.get(c.arm).cloned())
}

/// Moves the item named `drawn` to the front (noting why) unless it is there already;
/// whether it moved.
fn promote<T>(
    items: &mut Vec<T>,
    drawn: Option<String>,
    name: impl Fn(&T) -> &str,
    why: impl FnOnce(&mut T) -> &mut String,
) -> bool {
    match drawn.and_then(|d| items.iter().position(|x| name(x) == d)) {
        Some(i) if i > 0 => {
            let mut first = items.remove(i);
            why(&mut first).push_str("; explored: a Thompson draw put it first");
            items.insert(0, first);
            true
        }
        _ => false,
    }
}

/// A brain reward in [-1, 1] as a bandit reward in [0, 1].
pub(crate) fn to_unit(reward: f64) -> f64 {
    ((reward + 1.0) / 2.0).clamp(0.0, 1.0)
}

/// The policy name for an agent type's options in a task bucket, owned by exactly
/// `scope`: outcomes of decisions recorded in a scope teach that scope's own policy, so
/// no user, agent or session ranks on another's outcomes. The name is a digest of the
/// JSON array of the parts, so it is injective: no choice of agent type or bucket spells
/// another owner's policy.
pub(crate) fn recommend_policy(owner: &PolicyOwner) -> String {
    use sha2::{Digest, Sha256};
    let parts = serde_json::json!([
        owner.scope.user,
        owner.scope.agent,
        owner.scope.session,
        owner.agent_type,
        owner.bucket
    ]);
    let digest = Sha256::digest(parts.to_string().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{RECOMMEND_PREFIX}{hex}")
}

/// Every recommend policy's name starts with this.
pub(crate) const RECOMMEND_PREFIX: &str = "recommend/v2/";
/// Every routing policy's name starts with this; a decision's `routing_policy` must.
pub(crate) const ROUTING_PREFIX: &str = "routing/";

/// The policy name for the models a routing rule allows for a route.
pub(crate) fn routing_policy(route: &llm_router::RouteRequest, rule: &str) -> String {
    format!(
        "routing/{}:{}/{rule}",
        route.task.as_str(),
        route.complexity.as_str()
    )
}

/// Settings of the learning loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LearningConfig {
    /// Order the models a routing rule allows by what they earned (the table's order
    /// until they have evidence). Default true.
    pub route_llm: bool,
    /// Explore: a Thompson draw may put a less proven option or model first. Default
    /// true; false ranks by posterior mean only.
    pub explore: bool,
    /// Reward lost per US dollar a call cost, for learned routing. Default 10 (a cent
    /// costs 0.1).
    pub cost_weight: f64,
    /// Reward lost per second a call took, for learned routing. Default 0.02.
    pub latency_weight: f64,
}

impl Default for LearningConfig {
    fn default() -> Self {
        LearningConfig {
            route_llm: true,
            explore: true,
            cost_weight: 10.0,
            latency_weight: 0.02,
        }
    }
}

impl LearningConfig {
    /// Checks the weights.
    pub fn validate(&self) -> std::result::Result<(), String> {
        for (name, v) in [
            ("cost_weight", self.cost_weight),
            ("latency_weight", self.latency_weight),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(format!(
                    "learning.{name} must be a non-negative number, got {v}"
                ));
            }
        }
        Ok(())
    }

    /// The routing reward of an outcome `reward` in [-1, 1] that cost `cost_usd` and took
    /// `latency_s`.
    pub fn routing_reward(&self, reward: f64, cost_usd: f64, latency_s: f64) -> f64 {
        (to_unit(reward)
            - self.cost_weight * cost_usd.max(0.0)
            - self.latency_weight * latency_s.max(0.0))
        .clamp(0.0, 1.0)
    }
}

/// Why one candidate stands where it does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateWhy {
    /// The option or model.
    pub name: String,
    /// Its learned value in [0, 1] (posterior mean; 0.5 with no evidence).
    pub value: f64,
    /// Observations behind it (discounted counts).
    pub observations: f64,
    /// One line for a person.
    pub why: String,
}

pub(crate) fn describe(name: &str, stats: Option<(f64, f64)>, table_place: usize) -> CandidateWhy {
    match stats {
        Some((value, n)) if n > 0.0 => CandidateWhy {
            name: name.to_owned(),
            value,
            observations: n,
            why: format!(
                "{name}: learned value {value:.2} from {n:.0} outcome(s); table place {}",
                table_place + 1
            ),
        },
        _ => CandidateWhy {
            name: name.to_owned(),
            value: 0.5,
            observations: 0.0,
            why: format!(
                "{name}: no outcomes yet, so it keeps its table place {}",
                table_place + 1
            ),
        },
    }
}

/// The writes of one outcome, staged.
struct StagedOutcome {
    ops: Vec<WriteOp>,
    policies: Vec<String>,
    pattern: Option<RecordId>,
}

/// The save of policy `name` after `change`, as a write that commits only if the policy
/// is still at the version read (so a concurrent learner's update is never lost).
async fn stage_policy(
    store: Arc<dyn LongTermStore>,
    name: &str,
    owner: Option<PolicyOwner>,
    change: impl FnOnce(&mut OptionPolicy) -> rl::Result<()>,
) -> Result<WriteOp> {
    let policy = open_policy(store, name, owner).await?;
    let mut next = policy.get().clone();
    change(&mut next).map_err(memory_core::Error::from)?;
    let state = serde_json::to_value(&next)
        .map_err(|e| memory_core::Error::from(rl::RlError::State(e.to_string())))?;
    Ok(WriteOp::PutPolicy {
        name: name.to_owned(),
        kind: OPTION_POLICY.to_owned(),
        state,
        expected: policy.version(),
    })
}

// ---- the Brain's learning methods -----------------------------------------------------

use llm_router::{RouteRequest, Routed, RoutingDecision, Target};
use memory_core::{
    AgentDecision, CompletionRequest, Metadata, NewDecision, NewLearningEvent, PatternOutcome,
    RecordId, Reward, WriteOp,
};
use serde_json::json;

use crate::Brain;
use crate::error::BrainError;

/// A completion with the reasons for the model order that produced it.
#[derive(Debug, Clone, Serialize)]
pub struct Completed {
    /// The routed answer: text, the model that served, every attempt, cost.
    pub routed: Routed,
    /// How the candidates were ordered, first tried first.
    pub order: Vec<CandidateWhy>,
    /// Whether a Thompson draw (exploration) chose the first candidate.
    pub explored: bool,
    /// The routing policy that learns from this call's outcome.
    pub policy: String,
    /// The route, to report the outcome against.
    pub route: RouteRequest,
}

impl Completed {
    /// Metadata that connects a decision recorded from this answer back to the model that
    /// served it, so [`Brain::update_decision_outcome`] teaches the routing bandit.
    pub fn decision_metadata(&self) -> Metadata {
        Metadata::new()
            .with("routing_policy", self.policy.clone())
            .with("served_by", self.routed.served_by.to_string())
            .with("cost_usd", self.routed.cost_usd.unwrap_or(0.0))
            .with(
                "latency_ms",
                self.routed.completion.latency.as_secs_f64() * 1000.0,
            )
    }
}

/// One ranked option of [`Brain::recommend`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedOption {
    /// The option, as given.
    pub option: String,
    /// Its score in [0, 1]: the bandit's posterior mean blended with the success rate of
    /// a matching code pattern.
    pub score: f64,
    /// Outcomes behind the bandit's value.
    pub observations: f64,
    /// A matching pattern's successes and failures, if one names this option.
    pub pattern_counts: Option<(u64, u64)>,
    /// Why it ranks here.
    pub why: String,
}

/// What [`Brain::recommend`] says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// Best first.
    pub ranked: Vec<RankedOption>,
    /// Whether exploration put the first option first (a Thompson draw), rather than its
    /// score.
    pub explored: bool,
    /// The policy that learns from the outcomes, for [`NewDecision::metadata`].
    pub policy: String,
}

/// What an outcome taught.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomeLearned {
    /// The decision, with its outcome and reward (its fields at the top level in JSON).
    #[serde(flatten)]
    pub decision: AgentDecision,
    /// The policies updated (option bandits, routing bandits).
    pub policies: Vec<String>,
    /// The pattern whose counts changed, if the decision named one.
    pub pattern: Option<RecordId>,
}

impl Brain {
    /// Records a decision an agent took (the seed's `record_decision`); its outcome,
    /// reported later with [`Brain::update_decision_outcome`], teaches the brain.
    /// `metadata` may name `task_bucket` (for [`Brain::recommend`]), `pattern_id` (a
    /// pattern visible through the decision's scope), and the routing fields of
    /// [`Completed::decision_metadata`]; these links are checked here, since the learning
    /// loop reads them back.
    pub async fn record_decision(&self, decision: NewDecision) -> Result<AgentDecision> {
        decision.validate()?;
        self.check_decision_links(&decision.scope, &decision.metadata)
            .await?;
        Ok(self.store().record_decision(decision).await?)
    }

    /// The links a decision's metadata makes, checked: a task bucket is a key, a pattern
    /// exists and is visible through the decision's scope, a routing policy is one.
    async fn check_decision_links(&self, scope: &Scope, metadata: &Metadata) -> Result<()> {
        let invalid = |m: String| {
            BrainError::Core(memory_core::Error::InvalidInput(
                memory_core::ValidationError::Other(m),
            ))
        };
        if let Some(b) = metadata.get("task_bucket") {
            let b = b
                .as_str()
                .ok_or_else(|| invalid("metadata.task_bucket must be a string".into()))?;
            memory_core::validate::key("task bucket", b)?;
        }
        if let Some(pid) = metadata.get("pattern_id") {
            let pid = pid
                .as_i64()
                .ok_or_else(|| invalid("metadata.pattern_id must be an integer".into()))?;
            if self.linked_pattern(scope, pid).await?.is_none() {
                return Err(memory_core::Error::NotFound {
                    what: format!("pattern {pid} in the decision's scope"),
                }
                .into());
            }
        }
        if let Some(p) = metadata.get("routing_policy")
            && !p.as_str().is_some_and(|p| p.starts_with(ROUTING_PREFIX))
        {
            return Err(invalid(format!(
                "metadata.routing_policy must name a routing policy (`{ROUTING_PREFIX}…`)"
            )));
        }
        Ok(())
    }

    /// The pattern `id` if it is visible through `scope` (a link read back from stored
    /// data is honoured only within the scope of the record that holds it).
    pub(crate) async fn linked_pattern(
        &self,
        scope: &Scope,
        id: RecordId,
    ) -> Result<Option<memory_core::CodePattern>> {
        Ok(self
            .store()
            .get_pattern(id)
            .await?
            .filter(|p| scope.matches(&p.scope)))
    }

    /// Sets a decision's outcome and reward (the seed's `update_decision_outcome`) and
    /// learns from it: a learning event is recorded; the option bandit of the decision's
    /// scope, agent type and task bucket credits the chosen option; a pattern named by
    /// `pattern_id` (and visible through the decision's scope) counts a success (a
    /// positive reward) or failure; the routing bandit credits the model that served, net of cost and
    /// latency. All of it is one store transaction: it all commits, or nothing does.
    pub async fn update_decision_outcome(
        &self,
        id: RecordId,
        outcome: &str,
        reward: Reward,
    ) -> Result<OutcomeLearned> {
        self.commit_outcome(id, outcome, reward, None, Vec::new())
            .await
            .map(|(learned, _)| learned)
    }

    /// Stages a decision's outcome with everything it teaches, prepends `before`, and
    /// commits it all in one batch; retried when a policy changed under it. `visible`:
    /// the decision must be visible through this scope. Returns the learned outcome and
    /// the outcomes of `before`.
    pub(crate) async fn commit_outcome(
        &self,
        id: RecordId,
        outcome: &str,
        reward: Reward,
        visible: Option<&Scope>,
        before: Vec<WriteOp>,
    ) -> Result<(OutcomeLearned, Vec<memory_core::WriteOutcome>)> {
        memory_core::validate::non_empty_text("outcome", outcome)?;
        const ATTEMPTS: usize = 8;
        let mut last = None;
        for _ in 0..ATTEMPTS {
            let decision = self
                .store()
                .get_decision(id)
                .await?
                .filter(|d| visible.is_none_or(|s| s.matches(&d.scope)))
                .ok_or_else(|| memory_core::Error::NotFound {
                    what: format!("decision {id}"),
                })?;
            let staged = self.stage_outcome(&decision, outcome, reward).await?;
            let n_before = before.len();
            let mut ops = before.clone();
            ops.extend(staged.ops);
            match self.store().write_batch(ops).await {
                Ok(mut outs) => {
                    let mine = outs.split_off(n_before);
                    let decision = mine
                        .into_iter()
                        .find_map(|o| match o {
                            memory_core::WriteOutcome::Changed(Record::Decision(d)) => Some(d),
                            _ => None,
                        })
                        .ok_or_else(|| {
                            BrainError::Core(memory_core::Error::Backend {
                                message: "the store returned no decision for an outcome".into(),
                                source: None,
                            })
                        })?;
                    return Ok((
                        OutcomeLearned {
                            decision,
                            policies: staged.policies,
                            pattern: staged.pattern,
                        },
                        outs,
                    ));
                }
                // A policy saved by someone else in between: stage again on top.
                Err(e) if e.kind() == memory_core::ErrorKind::Conflict => last = Some(e),
                Err(e) => return Err(e.into()),
            }
        }
        Err(last
            .unwrap_or_else(|| memory_core::Error::Conflict("outcome kept conflicting".into()))
            .into())
    }

    /// The writes an outcome makes, computed from the stored policies without saving.
    async fn stage_outcome(
        &self,
        decision: &AgentDecision,
        outcome: &str,
        reward: Reward,
    ) -> Result<StagedOutcome> {
        let r = reward.get();
        let mut ops = vec![WriteOp::ChangeRecord {
            id: decision.id,
            change: RecordChange::DecisionOutcome {
                outcome: outcome.to_owned(),
                reward,
            },
        }];
        let mut policies = Vec::new();
        let bucket = decision
            .metadata
            .get("task_bucket")
            .and_then(|v| v.as_str())
            .filter(|b| memory_core::validate::key("task bucket", b).is_ok())
            .unwrap_or("default")
            .to_owned();
        let owner = PolicyOwner {
            scope: decision.scope.clone(),
            agent_type: decision.agent_type.clone(),
            bucket,
        };
        let name = recommend_policy(&owner);
        let chosen = decision.chosen_option.clone();
        ops.push(
            stage_policy(self.store_arc(), &name, Some(owner), |p| {
                let arm = p.arm(&chosen)?;
                p.bandit.update(arm, &[], to_unit(r))
            })
            .await?,
        );
        policies.push(name);
        if let (Some(policy), Some(served)) = (
            decision
                .metadata
                .get("routing_policy")
                .and_then(|v| v.as_str())
                .filter(|p| p.starts_with(ROUTING_PREFIX)),
            decision.metadata.get("served_by").and_then(|v| v.as_str()),
        ) {
            let cost = decision
                .metadata
                .get("cost_usd")
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0);
            let latency_s = decision
                .metadata
                .get("latency_ms")
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0)
                / 1000.0;
            let learned = self.config().learning.routing_reward(r, cost, latency_s);
            let served = served.to_owned();
            ops.push(
                stage_policy(self.store_arc(), policy, None, |p| {
                    let arm = p.arm(&served)?;
                    p.bandit.update(arm, &[], learned)
                })
                .await?,
            );
            policies.push(policy.to_owned());
        }
        let mut pattern = None;
        if let Some(pid) = decision.metadata.get("pattern_id").and_then(|v| v.as_i64())
            && self.linked_pattern(&decision.scope, pid).await?.is_some()
        {
            let outcome = if r > 0.0 {
                PatternOutcome::Success
            } else {
                PatternOutcome::Failure
            };
            ops.push(WriteOp::ChangeRecord {
                id: pid,
                change: RecordChange::PatternOutcome { outcome },
            });
            pattern = Some(pid);
        }
        ops.push(WriteOp::put(NewLearningEvent {
            scope: decision.scope.clone(),
            event_type: "decision_outcome".to_owned(),
            task_description: decision.context.clone(),
            outcome: outcome.to_owned(),
            reward,
            metadata: Metadata::new()
                .with("decision_id", decision.id)
                .with("agent_type", decision.agent_type.clone())
                .with("chosen_option", decision.chosen_option.clone())
                .with("policies", json!(policies)),
        }));
        Ok(StagedOutcome {
            ops,
            policies,
            pattern,
        })
    }

    /// Ranks `options` for an agent type and task bucket by what the brain has learned:
    /// each option's bandit value (the outcomes of decisions recorded in exactly `scope`
    /// that chose it) blended with the success rate of a code pattern visible through
    /// `scope` whose solution is the option. With `explore`, a Thompson draw may put a
    /// less proven option first (the bandit's way of learning); without, the ranking is
    /// by score alone. Options are never invented or dropped. A read: nothing is saved.
    pub async fn recommend(
        &self,
        scope: &memory_core::Scope,
        agent_type: &str,
        task_bucket: &str,
        options: &[String],
        explore: bool,
    ) -> Result<Recommendation> {
        scope.validate()?;
        memory_core::validate::options("options", options)?;
        memory_core::validate::key("agent_type", agent_type)?;
        memory_core::validate::key("task bucket", task_bucket)?;
        let owner = PolicyOwner {
            scope: scope.clone(),
            agent_type: agent_type.to_owned(),
            bucket: task_bucket.to_owned(),
        };
        let name = recommend_policy(&owner);
        let policy = open_policy(self.store_arc(), &name, Some(owner)).await?;
        let drawn = if explore {
            draw(policy.get(), options)?
        } else {
            None
        };
        let mut ranked = Vec::with_capacity(options.len());
        for (place, option) in options.iter().enumerate() {
            let stats = policy.get().stats(option);
            let pattern = self.pattern_counts(scope, option).await?;
            let (mean, n) = stats.filter(|(_, n)| *n > 0.0).unwrap_or((0.5, 0.0));
            let (score, why) = match pattern {
                Some((s, f)) => {
                    let m = (s + f) as f64;
                    let rate = (s as f64 + 1.0) / (m + 2.0);
                    let score = (n * mean + m * rate) / (n + m).max(1.0);
                    (
                        if n + m > 0.0 { score } else { 0.5 },
                        format!(
                            "{option}: value {mean:.2} from {n:.0} outcome(s), pattern {s} success(es) / {f} failure(s)"
                        ),
                    )
                }
                None => (mean, describe(option, stats, place).why),
            };
            ranked.push((
                place,
                RankedOption {
                    option: option.clone(),
                    score,
                    observations: n,
                    pattern_counts: pattern,
                    why,
                },
            ));
        }
        ranked.sort_by(|(pa, a), (pb, b)| b.score.total_cmp(&a.score).then(pa.cmp(pb)));
        let mut ranked: Vec<RankedOption> = ranked.into_iter().map(|(_, r)| r).collect();
        let explored = promote(&mut ranked, drawn, |r| &r.option, |r| &mut r.why);
        Ok(Recommendation {
            ranked,
            explored,
            policy: name,
        })
    }

    /// Successes and failures of the most successful code pattern visible through
    /// `scope` whose solution is `option` (compared case-insensitively, trimmed).
    async fn pattern_counts(
        &self,
        scope: &memory_core::Scope,
        option: &str,
    ) -> Result<Option<(u64, u64)>> {
        let query = memory_core::PatternQuery::new(scope.clone(), 5);
        let hits = self.store().search_patterns(option, &query).await?;
        let wanted = option.trim().to_lowercase();
        Ok(hits
            .into_iter()
            .map(|h| h.pattern)
            .filter(|p| scope.matches(&p.scope))
            .find(|p| p.solution.trim().to_lowercase() == wanted)
            .map(|p| (p.success_count, p.failure_count)))
    }

    /// Credits `model` (a `provider/model` string) in the routing policy `policy` with a
    /// reward in [0, 1].
    async fn credit_model(&self, policy: &str, model: &str, reward: f64) -> Result<()> {
        let model = model.to_owned();
        open_policy(self.store_arc(), policy, None)
            .await?
            .update(|p| {
                let arm = p.arm(&model)?;
                p.bandit.update(arm, &[], reward)
            })
            .await?;
        Ok(())
    }

    /// Orders the decision's candidates by what they have earned (see the module docs);
    /// returns the reasons and whether exploration chose the first.
    async fn order_models(
        &self,
        policy_name: &str,
        decision: &mut RoutingDecision,
    ) -> Result<(Vec<CandidateWhy>, bool)> {
        let table: Vec<Target> = decision.candidates().cloned().collect();
        let names: Vec<String> = table.iter().map(Target::to_string).collect();
        let policy = open_policy(self.store_arc(), policy_name, None).await?;
        let any_evidence = names
            .iter()
            .any(|n| policy.get().stats(n).is_some_and(|(_, c)| c > 0.0));
        let drawn = if self.config().learning.explore && any_evidence && table.len() > 1 {
            draw(policy.get(), &names)?
        } else {
            None
        };
        let mut scored: Vec<(usize, CandidateWhy)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (i, describe(n, policy.get().stats(n), i)))
            .collect();
        scored.sort_by(|(ia, a), (ib, b)| b.value.total_cmp(&a.value).then(ia.cmp(ib)));
        let explored = promote(&mut scored, drawn, |(_, w)| &w.name, |(_, w)| &mut w.why);
        let order: Vec<Target> = scored.iter().map(|(i, _)| table[*i].clone()).collect();
        if let Some((first, rest)) = order.split_first() {
            decision.target = first.clone();
            decision.fallbacks = rest.to_vec();
        }
        Ok((scored.into_iter().map(|(_, w)| w).collect(), explored))
    }

    /// Completes `request` on the models the routing table allows for `route`, tried in
    /// the order learned from outcomes (the table's order until there are some; see the
    /// module docs), with fallback. The answer says why each model stood where it did.
    /// Deployments that failed are credited 0 at once; the served model learns when the
    /// outcome is reported ([`Brain::learn_route`], or a decision recorded with
    /// [`Completed::decision_metadata`]).
    pub async fn complete(
        &self,
        route: &RouteRequest,
        request: CompletionRequest,
    ) -> Result<Completed> {
        let router = self.llm()?;
        let mut decision = router.decide(route, &request)?;
        let policy = routing_policy(route, &decision.rule);
        let (order, explored) = if self.config().learning.route_llm {
            self.order_models(&policy, &mut decision).await?
        } else {
            let why = decision
                .candidates()
                .enumerate()
                .map(|(i, t)| describe(&t.to_string(), None, i))
                .collect();
            (why, false)
        };
        let outcome = router.chat_with(decision, request).await;
        let failed: Vec<String> = match &outcome {
            Ok(r) => r
                .attempts
                .iter()
                .filter(|a| a.deployment_failed)
                .map(|a| a.target.to_string())
                .collect(),
            Err(llm_router::LlmError::AllFailed(list)) => list
                .iter()
                .filter(|(_, e)| e.is_deployment_failure())
                .map(|(t, _)| t.clone())
                .collect(),
            Err(e) if e.is_deployment_failure() => {
                order.first().map(|w| w.name.clone()).into_iter().collect()
            }
            Err(_) => Vec::new(),
        };
        if self.config().learning.route_llm {
            for model in &failed {
                self.credit_model(&policy, model, 0.0).await?;
            }
        }
        let routed = outcome?;
        tracing::debug!(policy, served_by = %routed.served_by, explored, "completed");
        Ok(Completed {
            routed,
            order,
            explored,
            policy,
            route: *route,
        })
    }

    /// Streams the answer to `request`, routed and ordered as [`Brain::complete`] orders.
    pub async fn complete_stream(
        &self,
        route: &RouteRequest,
        request: CompletionRequest,
    ) -> Result<llm_router::RoutedStream> {
        let router = self.llm()?;
        let mut decision = router.decide(route, &request)?;
        if self.config().learning.route_llm {
            let policy = routing_policy(route, &decision.rule);
            self.order_models(&policy, &mut decision).await?;
        }
        Ok(router.chat_stream_with(decision, request).await?)
    }

    /// Completes `request` on the one deployment the caller names, with no routing, no
    /// fallback and nothing learned: for trying a model, or a surface's `--model`.
    pub async fn complete_on(
        &self,
        target: llm_router::Target,
        request: CompletionRequest,
    ) -> Result<llm_router::Routed> {
        Ok(self.llm()?.chat_with(named_model(target), request).await?)
    }

    /// Streams the answer of the one deployment the caller names (see
    /// [`Brain::complete_on`]).
    pub async fn complete_stream_on(
        &self,
        target: llm_router::Target,
        request: CompletionRequest,
    ) -> Result<llm_router::RoutedStream> {
        Ok(self
            .llm()?
            .chat_stream_with(named_model(target), request)
            .await?)
    }

    /// Teaches the routing bandit the outcome of a [`Brain::complete`] answer: `reward`
    /// in [-1, 1], net of the call's cost and latency.
    pub async fn learn_route(&self, completed: &Completed, reward: Reward) -> Result<()> {
        if !self.config().learning.route_llm {
            return Ok(());
        }
        let r = self.config().learning.routing_reward(
            reward.get(),
            completed.routed.cost_usd.unwrap_or(0.0),
            completed.routed.completion.latency.as_secs_f64(),
        );
        self.credit_model(
            &completed.policy,
            &completed.routed.served_by.to_string(),
            r,
        )
        .await
    }
}

/// The decision for a deployment the caller named.
fn named_model(target: llm_router::Target) -> llm_router::RoutingDecision {
    llm_router::RoutingDecision {
        rule: "named".to_owned(),
        reason: format!("the caller named {target}"),
        target,
        fallbacks: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn part() -> impl Strategy<Value = Option<String>> {
        // Separators and the old name's words, to try to spell another owner's name.
        proptest::option::of("[a-c/:\"\\\\ ]{0,6}|user|/user/alice")
    }

    fn owner() -> impl Strategy<Value = PolicyOwner> {
        (
            part(),
            part(),
            part(),
            "[a-c/]{1,4}",
            "[a-c/]{1,6}|x/user/alice",
        )
            .prop_map(|(user, agent, session, agent_type, bucket)| PolicyOwner {
                scope: Scope {
                    user,
                    agent,
                    session,
                },
                agent_type,
                bucket,
            })
    }

    proptest! {
        /// Different owners never share a policy name.
        #[test]
        fn recommend_policy_names_are_injective(a in owner(), b in owner()) {
            prop_assert_eq!(a == b, recommend_policy(&a) == recommend_policy(&b));
            prop_assert!(recommend_policy(&a).starts_with(RECOMMEND_PREFIX));
        }
    }

    #[test]
    fn the_old_spelling_attack_reaches_another_name() {
        // Under the old `recommend/<agent>/<bucket>/user/<user>` names these two were one.
        let alice = PolicyOwner {
            scope: Scope::user("alice"),
            agent_type: "coder".into(),
            bucket: "x".into(),
        };
        let spoof = PolicyOwner {
            scope: Scope::global(),
            agent_type: "coder".into(),
            bucket: "x/user/alice".into(),
        };
        assert_ne!(recommend_policy(&alice), recommend_policy(&spoof));
    }

    #[test]
    fn arms_are_bounded_and_draws_save_nothing() {
        let mut p = OptionPolicy::new(1).unwrap();
        for i in 0..MAX_POLICY_ARMS {
            assert_eq!(p.arm(&format!("o{i}")).unwrap(), i);
        }
        assert!(p.arm("one too many").is_err());
        assert_eq!(p.arm("o3").unwrap(), 3, "a known option still has its arm");
        let before = serde_json::to_value(&p).unwrap();
        let names: Vec<String> = (0..5).map(|i| format!("new{i}")).collect();
        let _ = draw(&p, &names).unwrap();
        assert_eq!(serde_json::to_value(&p).unwrap(), before);
    }
}

//! A log of decisions with their propensities, and off-policy evaluation on it.

use serde::{Deserialize, Serialize};

use super::Choice;
use crate::error::{Result, RlError, finite};

/// One logged decision: what was known, what was done, how likely the logging policy was to
/// do it, and (once known) the reward.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedDecision {
    /// The context the decision was made in (empty for non-contextual decisions).
    pub context: Vec<f64>,
    /// The arm chosen.
    pub action: usize,
    /// The probability, in `(0, 1]`, the logging policy had of choosing `action`.
    pub propensity: f64,
    /// The reward, `None` until it is known.
    pub reward: Option<f64>,
}

/// The identifier of a decision in a [`DecisionLog`]: its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DecisionId(pub usize);

/// An estimate of a target policy's mean reward from a log of another policy's decisions.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OffPolicyEstimate {
    /// Inverse propensity scoring: `(1/n) Σ rᵢ·π(aᵢ|xᵢ)/pᵢ` over the `n` decisions with a
    /// reward. Unbiased when the propensities are exact and every action the target takes had
    /// a positive logging probability; high variance when weights are large.
    pub ips: f64,
    /// Self-normalised IPS: `Σ rᵢwᵢ / Σ wᵢ` with `wᵢ = π(aᵢ|xᵢ)/pᵢ`. Slightly biased, much
    /// lower variance, and always within the range of the rewards. `None` when no logged
    /// action has positive probability under the target (`Σ wᵢ = 0`).
    pub snips: Option<f64>,
    /// The number of rewarded decisions whose logged action the target policy would take with
    /// positive probability (for a deterministic target: the same action).
    pub matched: usize,
    /// The number of rewarded decisions used (`n`).
    pub samples: usize,
    /// Kish's effective sample size `(Σ wᵢ)² / Σ wᵢ²`: how many unweighted samples the
    /// estimate is worth; 0 when nothing matched.
    pub effective_samples: f64,
}

/// Decisions in the order they were made, rewards filled in as they become known.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DecisionLog {
    decisions: Vec<LoggedDecision>,
}

impl DecisionLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Logs a decision a learner made (`choice` from [`super::Bandit::select`]) in
    /// `context`, reward unknown yet.
    ///
    /// # Errors
    /// As [`DecisionLog::push`].
    pub fn record(&mut self, context: &[f64], choice: Choice) -> Result<DecisionId> {
        self.push(LoggedDecision {
            context: context.to_vec(),
            action: choice.arm,
            propensity: choice.propensity,
            reward: None,
        })
    }

    /// Appends a decision and returns its identifier.
    ///
    /// # Errors
    /// [`RlError::InvalidParameter`] for a propensity outside `(0, 1]`;
    /// [`RlError::NotFinite`] for a non-finite context feature or reward.
    pub fn push(&mut self, decision: LoggedDecision) -> Result<DecisionId> {
        if !(decision.propensity > 0.0 && decision.propensity <= 1.0) {
            return Err(RlError::InvalidParameter {
                name: "propensity",
                expected: "in (0, 1]",
                value: decision.propensity,
            });
        }
        for &x in &decision.context {
            finite("context feature", x)?;
        }
        if let Some(r) = decision.reward {
            finite("reward", r)?;
        }
        self.decisions.push(decision);
        Ok(DecisionId(self.decisions.len() - 1))
    }

    /// Fills in (or corrects) the reward of decision `id`.
    ///
    /// # Errors
    /// [`RlError::NotFinite`] for a NaN or infinite reward; [`RlError::InvalidParameter`] for
    /// an id this log did not return.
    pub fn set_reward(&mut self, id: DecisionId, reward: f64) -> Result<()> {
        finite("reward", reward)?;
        let d = self
            .decisions
            .get_mut(id.0)
            .ok_or(RlError::InvalidParameter {
                name: "decision id",
                expected: "an id this log returned",
                value: id.0 as f64,
            })?;
        d.reward = Some(reward);
        Ok(())
    }

    /// The decision `id`, if any.
    pub fn get(&self, id: DecisionId) -> Option<&LoggedDecision> {
        self.decisions.get(id.0)
    }

    /// All decisions in order.
    pub fn decisions(&self) -> &[LoggedDecision] {
        &self.decisions
    }

    /// The number of decisions.
    pub fn len(&self) -> usize {
        self.decisions.len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.decisions.is_empty()
    }

    /// The decisions whose reward is known.
    pub fn rewarded(&self) -> impl Iterator<Item = &LoggedDecision> {
        self.decisions.iter().filter(|d| d.reward.is_some())
    }

    /// Estimates the mean reward of a stochastic target policy: `policy(context)` returns
    /// the target's probability of each action in that context (e.g.
    /// [`super::Bandit::probabilities`] of a learner, frozen or not). Only decisions with a
    /// reward count. Actions beyond the returned vector have probability 0.
    ///
    /// # Errors
    /// [`RlError::InvalidParameter`] if no decision has a reward or the policy returns a
    /// probability outside `[0, 1]`; any error of `policy`.
    pub fn evaluate<F>(&self, mut policy: F) -> Result<OffPolicyEstimate>
    where
        F: FnMut(&[f64]) -> Result<Vec<f64>>,
    {
        let mut acc = Accumulator::default();
        for d in &self.decisions {
            let Some(r) = d.reward else { continue };
            let probs = policy(&d.context)?;
            let p = probs.get(d.action).copied().unwrap_or(0.0);
            if !(0.0..=1.0).contains(&p) {
                return Err(RlError::InvalidParameter {
                    name: "target probability",
                    expected: "in [0, 1]",
                    value: p,
                });
            }
            acc.add(r, p / d.propensity, p > 0.0);
        }
        acc.finish()
    }

    /// Estimates the mean reward of a deterministic target policy: `policy(context)` returns
    /// the action it would take. Matched decisions are those where it agrees with the log.
    ///
    /// # Errors
    /// [`RlError::InvalidParameter`] if no decision has a reward; any error of `policy`.
    pub fn evaluate_deterministic<F>(&self, mut policy: F) -> Result<OffPolicyEstimate>
    where
        F: FnMut(&[f64]) -> Result<usize>,
    {
        let mut acc = Accumulator::default();
        for d in &self.decisions {
            let Some(r) = d.reward else { continue };
            let same = policy(&d.context)? == d.action;
            let w = if same { 1.0 / d.propensity } else { 0.0 };
            acc.add(r, w, same);
        }
        acc.finish()
    }
}

#[derive(Default)]
struct Accumulator {
    weighted_reward: f64,
    weight: f64,
    weight_sq: f64,
    matched: usize,
    samples: usize,
}

impl Accumulator {
    fn add(&mut self, reward: f64, weight: f64, matched: bool) {
        self.samples += 1;
        if matched {
            self.matched += 1;
        }
        self.weighted_reward += reward * weight;
        self.weight += weight;
        self.weight_sq += weight * weight;
    }

    fn finish(self) -> Result<OffPolicyEstimate> {
        if self.samples == 0 {
            return Err(RlError::InvalidParameter {
                name: "rewarded decisions",
                expected: "at least one",
                value: 0.0,
            });
        }
        let positive = self.weight > 0.0;
        Ok(OffPolicyEstimate {
            ips: self.weighted_reward / self.samples as f64,
            snips: positive.then(|| self.weighted_reward / self.weight),
            matched: self.matched,
            samples: self.samples,
            effective_samples: if positive {
                self.weight * self.weight / self.weight_sq
            } else {
                0.0
            },
        })
    }
}

//! Multi-armed and contextual bandits for one-shot agent decisions: "which strategy, prompt
//! or model for this kind of task".
//!
//! # The interface
//!
//! Every learner implements the object-safe [`Bandit`] trait: [`Bandit::select`] returns a
//! [`Choice`], the arm together with the *propensity*, the probability the policy had of
//! choosing it. The caller acts, observes a reward and reports it with [`Bandit::update`].
//! [`Bandit::values`] gives, per arm, an estimate, an effective count and an uncertainty, for
//! explanations ("chose B: 0.82 ± 0.05 over 40 tries"). Non-contextual learners ignore the
//! context; [`LinUcb`] requires it to have its dimension.
//!
//! Propensities make logs usable later: a [`DecisionLog`] records context, action,
//! propensity and (possibly later) reward, and estimates the value of *another* policy on
//! that log by inverse propensity scoring ([`DecisionLog::evaluate`]).
//!
//! ```
//! use rl::{AnyBandit, Bandit, BetaThompson, BetaThompsonConfig, DecisionLog, seeded};
//!
//! // Three models; rewards are 1 for a task done, 0 otherwise.
//! let mut router = BetaThompson::new(3, BetaThompsonConfig::default(), seeded(7))?;
//! let mut log = DecisionLog::new();
//! let choice = router.select(&[])?;
//! let id = log.record(&[], choice)?;
//! // ... route the task to model `choice.arm`, see whether it succeeded ...
//! router.update(choice.arm, &[], 1.0)?;
//! log.set_reward(id, 1.0)?;
//! println!("{:?}", router.values());
//!
//! let saved = AnyBandit::from(router).to_json()?;
//! let restored = AnyBandit::from_json(&saved)?;
//! assert_eq!((restored.name(), restored.arms()), ("beta_thompson", 3));
//! # Ok::<(), rl::RlError>(())
//! ```
//!
//! # The algorithms
//!
//! | learner | rewards | exploration | propensity |
//! | --- | --- | --- | --- |
//! | [`EpsilonGreedy`] | any finite | uniform with probability ε (optionally decaying) | exact |
//! | [`Ucb1`] | in `[0, 1]` | optimism: mean + c·sqrt(2 ln n / nₐ) | exact (1, or the tie share) |
//! | [`BetaThompson`] | in `[0, 1]` (a success probability) | posterior sampling, Beta–Bernoulli | Monte-Carlo estimate |
//! | [`GaussianThompson`] | any finite | posterior sampling, Normal–Inverse-Gamma | Monte-Carlo estimate |
//! | [`LinUcb`] | any finite (best scaled to about `[0, 1]`) | optimism on a ridge regression per arm | exact (1, or the tie share) |
//!
//! Arms never tried come first for ε-greedy's greedy step and for UCB1 (their estimate is
//! unknown, not zero); Thompson sampling and LinUCB handle them through their priors.
//!
//! # Which one
//!
//! Thompson sampling is the default choice: it needs no tuning and had the lowest regret of
//! the non-contextual learners in the crate's tests and routing simulation
//! (`benches/routing_regret.rs`). Use [`BetaThompson`] for success/failure outcomes or
//! scores in `[0, 1]`, and [`GaussianThompson`] for real-valued rewards such as "success
//! minus cost". [`Ucb1`] is deterministic, which makes decisions reproducible and
//! propensities exact, but its Hoeffding bonus assumes the whole `[0, 1]` range and
//! over-explores when rewards vary within a narrow part of it. ε-greedy is the simplest and
//! explains itself easily, but a fixed ε pays for exploration forever (linear regret) unless
//! it decays. When the best arm depends on features of the task, use [`LinUcb`] (for a
//! handful of task kinds, a one-hot context, or one non-contextual learner per kind).
//!
//! # Propensities
//!
//! ε-greedy knows its choice distribution exactly, and UCB1 and LinUCB are deterministic
//! except for ties (broken uniformly), so their propensities are exact. Thompson sampling's
//! probability of choosing an arm has no closed form, so it is a Monte-Carlo estimate: the
//! selection's own posterior draw plus `propensity_samples` further independent draws,
//! counting the share won by the chosen arm. Counting the real draw keeps the estimate above
//! zero (inverse propensity weights stay finite) at the price of a bias of at most
//! `1/(propensity_samples + 1)`; each extra draw costs one posterior sample per arm. With
//! `propensity_samples = 0` no estimate is made and the propensity reported is 1, which is
//! only right for a converged policy: use it when decisions are not logged for offline
//! evaluation.
//!
//! # Drift
//!
//! Every learner takes a `discount` γ ∈ (0, 1] (default 1: no forgetting). On each update,
//! the statistics of *all* arms are multiplied by γ before the new observation is added, so
//! an observation made k updates ago weighs γᵏ and the learner's memory is about 1/(1−γ)
//! observations. This is discounted UCB (Garivier & Moulines, 2011), discounted Thompson
//! sampling (Raj & Kalyani, 2017) and a discounted LinUCB in the spirit of D-LinUCB (Russac
//! et al., 2019; here the exploration width comes from the discounted design matrix itself,
//! a simplification). An arm not played for a while loses its evidence and is explored again,
//! so a learner recovers when the best arm changes.
//!
//! # Growing and persisting
//!
//! [`Bandit::add_arm`] appends an arm (a new model or strategy) with no evidence. Every
//! learner, including its random generator's state, is `Serialize`/`Deserialize`, and
//! [`AnyBandit`] stores any of them under a tag (`"algorithm"`) so that a policy can be
//! restored without knowing its type; [`BanditConfig`] builds one from configuration.
//! Deserialisation validates parameters and statistics again.
//!
//! # Errors
//!
//! Parameters out of range are [`RlError::InvalidParameter`]; NaN or infinite rewards and
//! features are [`RlError::NotFinite`]; an arm index the learner does not have is
//! [`RlError::UnknownArm`]; selecting with no arms is [`RlError::NoArms`]; a context of the
//! wrong length is [`RlError::Dimension`].

mod any;
mod epsilon;
mod linucb;
mod log;
mod stats;
mod thompson;
mod ucb;

pub use any::{AnyBandit, BanditConfig};
pub use epsilon::{EpsilonGreedy, EpsilonGreedyConfig};
pub use linucb::{LinUcb, LinUcbConfig};
pub use log::{DecisionId, DecisionLog, LoggedDecision, OffPolicyEstimate};
pub use thompson::{BetaThompson, BetaThompsonConfig, GaussianThompson, GaussianThompsonConfig};
pub use ucb::{Ucb1, Ucb1Config};

use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::error::{Result, RlError};
use crate::rng::Rng;

/// A decision: the arm chosen and the probability the policy had of choosing it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    /// The arm, an index below [`Bandit::arms`].
    pub arm: usize,
    /// The probability, in `(0, 1]`, that the policy chooses this arm in this state. Exact for
    /// ε-greedy, UCB1 and LinUCB; a Monte-Carlo estimate for Thompson sampling.
    pub propensity: f64,
}

/// What a learner believes about one arm, for explanations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ArmValue {
    /// The arm.
    pub arm: usize,
    /// The estimated expected reward: a (discounted) mean, a posterior mean, or for LinUCB
    /// without a context the arm's mean observed reward. 0 for an arm without evidence or
    /// prior.
    pub estimate: f64,
    /// The effective number of observations: the count of updates, discounted by γ per later
    /// update when discounting.
    pub count: f64,
    /// How unsure the estimate is, in reward units; `None` when the arm has no observation
    /// and the learner has no prior. Each learner documents what it reports.
    pub uncertainty: Option<f64>,
}

/// A bandit learner: choose an arm for a context, learn from the reward.
///
/// Object-safe, so that a caller can hold a `Box<dyn Bandit>` or an [`AnyBandit`].
pub trait Bandit {
    /// The algorithm's name, e.g. `"ucb1"` (the tag [`AnyBandit`] stores).
    fn name(&self) -> &'static str;

    /// The number of arms.
    fn arms(&self) -> usize;

    /// Chooses an arm for `context` (ignored by non-contextual learners).
    ///
    /// # Errors
    /// [`RlError::NoArms`] without arms; for LinUCB, [`RlError::Dimension`] or
    /// [`RlError::NotFinite`] for a bad context.
    fn select(&mut self, context: &[f64]) -> Result<Choice>;

    /// The probability of each arm being chosen for `context` now. Exact for ε-greedy, UCB1
    /// and LinUCB, a Monte-Carlo estimate for Thompson sampling (which draws from the
    /// learner's random generator). Used to evaluate this learner offline on a
    /// [`DecisionLog`].
    ///
    /// # Errors
    /// As [`Bandit::select`].
    fn probabilities(&mut self, context: &[f64]) -> Result<Vec<f64>>;

    /// Learns that `arm` earned `reward` in `context`.
    ///
    /// # Errors
    /// [`RlError::UnknownArm`], [`RlError::NotFinite`] for a NaN or infinite reward,
    /// [`RlError::InvalidParameter`] for a reward outside the learner's range (`[0, 1]` for
    /// UCB1 and Beta-Thompson), and for LinUCB a bad context.
    fn update(&mut self, arm: usize, context: &[f64], reward: f64) -> Result<()>;

    /// What the learner believes about each arm, context-free.
    fn values(&self) -> Vec<ArmValue>;

    /// What the learner believes about each arm in `context`. Non-contextual learners return
    /// [`Bandit::values`]; LinUCB returns its prediction θₐᵀx and exploration width.
    ///
    /// # Errors
    /// For LinUCB, a bad context.
    fn values_for(&self, context: &[f64]) -> Result<Vec<ArmValue>> {
        let _ = context;
        Ok(self.values())
    }

    /// Adds an arm with no evidence (and the prior, for Thompson sampling and LinUCB);
    /// returns its index.
    fn add_arm(&mut self) -> usize;
}

/// `Ok(())` if `discount` is in `(0, 1]`.
pub(crate) fn check_discount(discount: f64) -> Result<()> {
    if discount > 0.0 && discount <= 1.0 {
        Ok(())
    } else {
        Err(RlError::InvalidParameter {
            name: "discount",
            expected: "in (0, 1]",
            value: discount,
        })
    }
}

/// `Ok(())` if `value` is finite and strictly positive.
pub(crate) fn check_positive(name: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(RlError::InvalidParameter {
            name,
            expected: "finite and > 0",
            value,
        })
    }
}

/// `Ok(())` if `value` is finite and not negative.
pub(crate) fn check_non_negative(name: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(RlError::InvalidParameter {
            name,
            expected: "finite and >= 0",
            value,
        })
    }
}

/// `Ok(())` if `arm` is one of `arms`.
pub(crate) fn check_arm(arm: usize, arms: usize) -> Result<()> {
    if arm < arms {
        Ok(())
    } else {
        Err(RlError::UnknownArm(arm.to_string()))
    }
}

/// `Ok(reward)` if finite and in `[0, 1]`.
pub(crate) fn check_unit_reward(reward: f64) -> Result<f64> {
    crate::error::finite("reward", reward)?;
    if (0.0..=1.0).contains(&reward) {
        Ok(reward)
    } else {
        Err(RlError::InvalidParameter {
            name: "reward",
            expected: "in [0, 1]",
            value: reward,
        })
    }
}

/// The indices with the largest score (all of them on a tie). Scores are never NaN here.
pub(crate) fn argmax_set(scores: &[f64]) -> Vec<usize> {
    let mut best = f64::NEG_INFINITY;
    let mut set = Vec::new();
    for (i, &s) in scores.iter().enumerate() {
        if s > best {
            best = s;
            set.clear();
            set.push(i);
        } else if s == best {
            set.push(i);
        }
    }
    set
}

/// One element of `set`, uniformly (the set is non-empty).
pub(crate) fn pick(rng: &mut Rng, set: &[usize]) -> Result<usize> {
    match set.len() {
        0 => Err(RlError::NoArms),
        1 => Ok(set[0]),
        n => Ok(set[rng.random_range(0..n)]),
    }
}

/// The probability vector of a deterministic policy with ties broken uniformly.
pub(crate) fn tie_probabilities(arms: usize, set: &[usize]) -> Vec<f64> {
    let mut p = vec![0.0; arms];
    if !set.is_empty() {
        let share = 1.0 / set.len() as f64;
        for &i in set {
            p[i] = share;
        }
    }
    p
}

/// The serialised form shared by the learners: their parameters, per-arm statistics, the
/// number of updates so far and the random generator's state. Deserialisation goes through
/// it so that a learner's invariants are checked again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Saved<C, A> {
    pub(crate) config: C,
    pub(crate) arms: Vec<A>,
    pub(crate) updates: u64,
    pub(crate) rng: Rng,
}

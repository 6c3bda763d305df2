//! UCB1 (Auer, Cesa-Bianchi & Fischer, 2002), optionally discounted (Garivier & Moulines,
//! 2011).

use serde::{Deserialize, Serialize};

use super::stats::MeanStats;
use super::{
    ArmValue, Bandit, Choice, Saved, argmax_set, check_arm, check_discount, check_non_negative,
    check_unit_reward, pick, tie_probabilities,
};
use crate::error::{Result, RlError};
use crate::rng::Rng;

/// Parameters of [`Ucb1`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ucb1Config {
    /// The exploration factor c in `mean + c·sqrt(2 ln n / nₐ)`; finite, `>= 0`. Default 1
    /// (the classic UCB1 bound for rewards in `[0, 1]`).
    pub exploration: f64,
    /// Discount γ ∈ (0, 1] applied to every arm's statistics on each update. Default 1.
    pub discount: f64,
}

impl Default for Ucb1Config {
    fn default() -> Self {
        Self {
            exploration: 1.0,
            discount: 1.0,
        }
    }
}

impl Ucb1Config {
    /// Checks every parameter.
    ///
    /// # Errors
    /// [`RlError::InvalidParameter`] naming the first one out of range.
    pub fn validate(&self) -> Result<()> {
        check_non_negative("exploration", self.exploration)?;
        check_discount(self.discount)
    }
}

/// UCB1: play the arm with the highest upper confidence bound
/// `meanₐ + c·sqrt(2 ln n / nₐ)`, where `nₐ` is the arm's (discounted) count and `n` the sum
/// over arms. Arms never tried are played first.
///
/// Rewards must lie in `[0, 1]`, the range for which the bound holds; others are rejected
/// with [`RlError::InvalidParameter`] (scale them first). The policy is deterministic except
/// for ties, broken uniformly, so the propensity is exact: 1 or the tie share.
///
/// [`ArmValue::uncertainty`] is the confidence width `c·sqrt(2 ln n / nₐ)` capped at 1 (the
/// width of the reward range), `None` for an arm never tried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    try_from = "Saved<Ucb1Config, MeanStats>",
    into = "Saved<Ucb1Config, MeanStats>"
)]
pub struct Ucb1 {
    config: Ucb1Config,
    arms: Vec<MeanStats>,
    updates: u64,
    rng: Rng,
}

impl Ucb1 {
    /// Replaces the random source (the learned state is unchanged).
    pub(crate) fn set_rng(&mut self, rng: Rng) {
        self.rng = rng;
    }

    /// A learner with `arms` arms (possibly 0, to add later).
    ///
    /// # Errors
    /// [`RlError::InvalidParameter`] for a bad configuration.
    pub fn new(arms: usize, config: Ucb1Config, rng: Rng) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            arms: vec![MeanStats::default(); arms],
            updates: 0,
            rng,
        })
    }

    /// The parameters.
    pub fn config(&self) -> &Ucb1Config {
        &self.config
    }

    /// `2 ln n`, with `n` the arms' total (discounted) count, at least 1.
    fn two_log_total(&self) -> f64 {
        let total: f64 = self.arms.iter().map(|a| a.weight).sum();
        2.0 * total.max(1.0).ln()
    }

    /// The confidence width of an arm that was tried, given [`Self::two_log_total`].
    fn width(&self, s: &MeanStats, two_log_total: f64) -> f64 {
        self.config.exploration * (two_log_total / s.weight).sqrt()
    }

    /// The arms with the best score.
    fn best(&self) -> Vec<usize> {
        let untried: Vec<usize> = (0..self.arms.len())
            .filter(|&i| !self.arms[i].tried())
            .collect();
        if !untried.is_empty() {
            return untried;
        }
        let two_log = self.two_log_total();
        let scores: Vec<f64> = self
            .arms
            .iter()
            .map(|a| a.mean + self.width(a, two_log))
            .collect();
        argmax_set(&scores)
    }
}

impl Bandit for Ucb1 {
    fn name(&self) -> &'static str {
        "ucb1"
    }

    fn arms(&self) -> usize {
        self.arms.len()
    }

    fn select(&mut self, _context: &[f64]) -> Result<Choice> {
        if self.arms.is_empty() {
            return Err(RlError::NoArms);
        }
        let best = self.best();
        let arm = pick(&mut self.rng, &best)?;
        Ok(Choice {
            arm,
            propensity: 1.0 / best.len() as f64,
        })
    }

    fn probabilities(&mut self, _context: &[f64]) -> Result<Vec<f64>> {
        if self.arms.is_empty() {
            return Err(RlError::NoArms);
        }
        Ok(tie_probabilities(self.arms.len(), &self.best()))
    }

    fn update(&mut self, arm: usize, _context: &[f64], reward: f64) -> Result<()> {
        check_arm(arm, self.arms.len())?;
        check_unit_reward(reward)?;
        for a in &mut self.arms {
            a.discount(self.config.discount);
        }
        let a = &mut self.arms[arm];
        a.push(reward);
        // A convex combination of rewards in [0, 1]; the clamp only absorbs rounding.
        a.mean = a.mean.clamp(0.0, 1.0);
        self.updates = self.updates.saturating_add(1);
        Ok(())
    }

    fn values(&self) -> Vec<ArmValue> {
        let two_log = self.two_log_total();
        self.arms
            .iter()
            .enumerate()
            .map(|(arm, s)| ArmValue {
                arm,
                estimate: s.mean,
                count: s.weight,
                uncertainty: s.tried().then(|| self.width(s, two_log).min(1.0)),
            })
            .collect()
    }

    fn add_arm(&mut self) -> usize {
        self.arms.push(MeanStats::default());
        self.arms.len() - 1
    }
}

impl TryFrom<Saved<Ucb1Config, MeanStats>> for Ucb1 {
    type Error = RlError;

    fn try_from(s: Saved<Ucb1Config, MeanStats>) -> Result<Self> {
        s.config.validate()?;
        for a in &s.arms {
            a.validate()?;
            if !(0.0..=1.0).contains(&a.mean) {
                return Err(RlError::State(format!(
                    "UCB1 mean {} outside [0, 1]",
                    a.mean
                )));
            }
        }
        Ok(Self {
            config: s.config,
            arms: s.arms,
            updates: s.updates,
            rng: s.rng,
        })
    }
}

impl From<Ucb1> for Saved<Ucb1Config, MeanStats> {
    fn from(b: Ucb1) -> Self {
        Saved {
            config: b.config,
            arms: b.arms,
            updates: b.updates,
            rng: b.rng,
        }
    }
}

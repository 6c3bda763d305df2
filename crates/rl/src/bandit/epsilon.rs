//! ε-greedy: explore uniformly with probability ε, otherwise play the best mean.

use rand::RngExt;
use serde::{Deserialize, Serialize};

use super::stats::MeanStats;
use super::{
    ArmValue, Bandit, Choice, Saved, argmax_set, check_arm, check_discount, check_non_negative,
    pick,
};
use crate::error::{Result, RlError, finite};
use crate::rng::Rng;

/// Parameters of [`EpsilonGreedy`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EpsilonGreedyConfig {
    /// The exploration rate at the start, in `[0, 1]`. Default 0.1.
    pub epsilon: f64,
    /// Decay: after `t` updates the rate is `max(min_epsilon, epsilon / (1 + decay·t))`.
    /// Finite and `>= 0`; default 0 (a fixed rate).
    pub decay: f64,
    /// The floor of the decayed rate, in `[0, epsilon]`. Default 0.
    pub min_epsilon: f64,
    /// Discount γ ∈ (0, 1] applied to every arm's statistics on each update. Default 1.
    pub discount: f64,
}

impl Default for EpsilonGreedyConfig {
    fn default() -> Self {
        Self {
            epsilon: 0.1,
            decay: 0.0,
            min_epsilon: 0.0,
            discount: 1.0,
        }
    }
}

impl EpsilonGreedyConfig {
    /// Checks every parameter.
    ///
    /// # Errors
    /// [`RlError::InvalidParameter`] naming the first one out of range.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.epsilon) {
            return Err(RlError::InvalidParameter {
                name: "epsilon",
                expected: "in [0, 1]",
                value: self.epsilon,
            });
        }
        check_non_negative("decay", self.decay)?;
        if !(0.0..=self.epsilon).contains(&self.min_epsilon) {
            return Err(RlError::InvalidParameter {
                name: "min_epsilon",
                expected: "in [0, epsilon]",
                value: self.min_epsilon,
            });
        }
        check_discount(self.discount)
    }
}

/// ε-greedy over (discounted) sample means.
///
/// With probability ε an arm is chosen uniformly; otherwise one of the *greedy* arms,
/// uniformly on ties. The greedy arms are the arms never tried, if any (so each arm is tried
/// once before the means decide), else those with the best mean. The propensity is therefore
/// exact: `ε/K + (1−ε)/|greedy|` for a greedy arm and `ε/K` otherwise.
///
/// Rewards may be any finite number. [`ArmValue::uncertainty`] is the standard error of the
/// (weighted) mean, `None` for an arm never tried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    try_from = "Saved<EpsilonGreedyConfig, MeanStats>",
    into = "Saved<EpsilonGreedyConfig, MeanStats>"
)]
pub struct EpsilonGreedy {
    config: EpsilonGreedyConfig,
    arms: Vec<MeanStats>,
    updates: u64,
    rng: Rng,
}

impl EpsilonGreedy {
    /// Replaces the random source (the learned state is unchanged).
    pub(crate) fn set_rng(&mut self, rng: Rng) {
        self.rng = rng;
    }

    /// A learner with `arms` arms (possibly 0, to add later).
    ///
    /// # Errors
    /// [`RlError::InvalidParameter`] for a bad configuration.
    pub fn new(arms: usize, config: EpsilonGreedyConfig, rng: Rng) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            arms: vec![MeanStats::default(); arms],
            updates: 0,
            rng,
        })
    }

    /// The parameters.
    pub fn config(&self) -> &EpsilonGreedyConfig {
        &self.config
    }

    /// The exploration rate now (after decay).
    pub fn epsilon(&self) -> f64 {
        let c = &self.config;
        (c.epsilon / (1.0 + c.decay * self.updates as f64)).max(c.min_epsilon)
    }

    /// The arms the greedy step chooses among.
    fn greedy(&self) -> Vec<usize> {
        let untried: Vec<usize> = (0..self.arms.len())
            .filter(|&i| !self.arms[i].tried())
            .collect();
        if !untried.is_empty() {
            return untried;
        }
        let means: Vec<f64> = self.arms.iter().map(|a| a.mean).collect();
        argmax_set(&means)
    }
}

impl Bandit for EpsilonGreedy {
    fn name(&self) -> &'static str {
        "epsilon_greedy"
    }

    fn arms(&self) -> usize {
        self.arms.len()
    }

    fn select(&mut self, _context: &[f64]) -> Result<Choice> {
        let k = self.arms.len();
        if k == 0 {
            return Err(RlError::NoArms);
        }
        let eps = self.epsilon();
        let greedy = self.greedy();
        let arm = if self.rng.random::<f64>() < eps {
            self.rng.random_range(0..k)
        } else {
            pick(&mut self.rng, &greedy)?
        };
        let mut propensity = eps / k as f64;
        if greedy.contains(&arm) {
            propensity += (1.0 - eps) / greedy.len() as f64;
        }
        Ok(Choice { arm, propensity })
    }

    fn probabilities(&mut self, _context: &[f64]) -> Result<Vec<f64>> {
        let k = self.arms.len();
        if k == 0 {
            return Err(RlError::NoArms);
        }
        let eps = self.epsilon();
        let greedy = self.greedy();
        let mut p = vec![eps / k as f64; k];
        for &g in &greedy {
            p[g] += (1.0 - eps) / greedy.len() as f64;
        }
        Ok(p)
    }

    fn update(&mut self, arm: usize, _context: &[f64], reward: f64) -> Result<()> {
        check_arm(arm, self.arms.len())?;
        finite("reward", reward)?;
        for a in &mut self.arms {
            a.discount(self.config.discount);
        }
        self.arms[arm].push(reward);
        self.updates = self.updates.saturating_add(1);
        Ok(())
    }

    fn values(&self) -> Vec<ArmValue> {
        self.arms
            .iter()
            .enumerate()
            .map(|(arm, s)| ArmValue {
                arm,
                estimate: s.mean,
                count: s.weight,
                uncertainty: s.standard_error(),
            })
            .collect()
    }

    fn add_arm(&mut self) -> usize {
        self.arms.push(MeanStats::default());
        self.arms.len() - 1
    }
}

impl TryFrom<Saved<EpsilonGreedyConfig, MeanStats>> for EpsilonGreedy {
    type Error = RlError;

    fn try_from(s: Saved<EpsilonGreedyConfig, MeanStats>) -> Result<Self> {
        s.config.validate()?;
        for a in &s.arms {
            a.validate()?;
        }
        Ok(Self {
            config: s.config,
            arms: s.arms,
            updates: s.updates,
            rng: s.rng,
        })
    }
}

impl From<EpsilonGreedy> for Saved<EpsilonGreedyConfig, MeanStats> {
    fn from(b: EpsilonGreedy) -> Self {
        Saved {
            config: b.config,
            arms: b.arms,
            updates: b.updates,
            rng: b.rng,
        }
    }
}

//! Any learner behind one serialisable type, and a configuration to build one.

use serde::{Deserialize, Serialize};

use super::{
    ArmValue, Bandit, BetaThompson, BetaThompsonConfig, Choice, EpsilonGreedy, EpsilonGreedyConfig,
    GaussianThompson, GaussianThompsonConfig, LinUcb, LinUcbConfig, Ucb1, Ucb1Config,
};
use crate::error::{Result, RlError};
use crate::rng::Rng;

/// Any of the crate's bandits, serialised with its algorithm under the tag `"algorithm"`
/// (`epsilon_greedy`, `ucb1`, `beta_thompson`, `gaussian_thompson`, `lin_ucb`) next to its
/// parameters, statistics and random state, so that a stored policy is restored without
/// knowing its type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "snake_case")]
pub enum AnyBandit {
    /// [`EpsilonGreedy`].
    EpsilonGreedy(EpsilonGreedy),
    /// [`Ucb1`].
    Ucb1(Ucb1),
    /// [`BetaThompson`].
    BetaThompson(BetaThompson),
    /// [`GaussianThompson`].
    GaussianThompson(GaussianThompson),
    /// [`LinUcb`].
    LinUcb(LinUcb),
}

impl AnyBandit {
    /// Replaces the learner's random source, keeping what it learned: for a draw that
    /// must not repeat the saved stream (a read-only caller that does not save).
    pub fn reseed(&mut self, rng: crate::Rng) {
        match self {
            Self::EpsilonGreedy(b) => b.set_rng(rng),
            Self::Ucb1(b) => b.set_rng(rng),
            Self::BetaThompson(b) => b.set_rng(rng),
            Self::GaussianThompson(b) => b.set_rng(rng),
            Self::LinUcb(b) => b.set_rng(rng),
        }
    }

    /// The learner as a trait object.
    pub fn as_dyn(&self) -> &dyn Bandit {
        match self {
            Self::EpsilonGreedy(b) => b,
            Self::Ucb1(b) => b,
            Self::BetaThompson(b) => b,
            Self::GaussianThompson(b) => b,
            Self::LinUcb(b) => b,
        }
    }

    /// The learner as a mutable trait object.
    pub fn as_dyn_mut(&mut self) -> &mut dyn Bandit {
        match self {
            Self::EpsilonGreedy(b) => b,
            Self::Ucb1(b) => b,
            Self::BetaThompson(b) => b,
            Self::GaussianThompson(b) => b,
            Self::LinUcb(b) => b,
        }
    }

    /// The learner as JSON (floats round-trip exactly).
    ///
    /// # Errors
    /// [`RlError::State`] if serialisation fails.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| RlError::State(e.to_string()))
    }

    /// A learner from [`AnyBandit::to_json`]'s output, parameters and statistics checked.
    ///
    /// # Errors
    /// [`RlError::State`] for unreadable or invalid state.
    pub fn from_json(json: &str) -> Result<Self> {
        serde_json::from_str(json).map_err(|e| RlError::State(e.to_string()))
    }
}

impl Bandit for AnyBandit {
    fn name(&self) -> &'static str {
        self.as_dyn().name()
    }

    fn arms(&self) -> usize {
        self.as_dyn().arms()
    }

    fn select(&mut self, context: &[f64]) -> Result<Choice> {
        self.as_dyn_mut().select(context)
    }

    fn probabilities(&mut self, context: &[f64]) -> Result<Vec<f64>> {
        self.as_dyn_mut().probabilities(context)
    }

    fn update(&mut self, arm: usize, context: &[f64], reward: f64) -> Result<()> {
        self.as_dyn_mut().update(arm, context, reward)
    }

    fn values(&self) -> Vec<ArmValue> {
        self.as_dyn().values()
    }

    fn values_for(&self, context: &[f64]) -> Result<Vec<ArmValue>> {
        self.as_dyn().values_for(context)
    }

    fn add_arm(&mut self) -> usize {
        self.as_dyn_mut().add_arm()
    }
}

impl From<EpsilonGreedy> for AnyBandit {
    fn from(b: EpsilonGreedy) -> Self {
        Self::EpsilonGreedy(b)
    }
}

impl From<Ucb1> for AnyBandit {
    fn from(b: Ucb1) -> Self {
        Self::Ucb1(b)
    }
}

impl From<BetaThompson> for AnyBandit {
    fn from(b: BetaThompson) -> Self {
        Self::BetaThompson(b)
    }
}

impl From<GaussianThompson> for AnyBandit {
    fn from(b: GaussianThompson) -> Self {
        Self::GaussianThompson(b)
    }
}

impl From<LinUcb> for AnyBandit {
    fn from(b: LinUcb) -> Self {
        Self::LinUcb(b)
    }
}

/// Which learner to build, with its parameters, tagged like [`AnyBandit`]; e.g. in TOML
/// `algorithm = "beta_thompson"` with `discount = 0.99`, omitted parameters taking their
/// defaults (LinUCB needs `dimension`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "snake_case")]
pub enum BanditConfig {
    /// [`EpsilonGreedy`].
    EpsilonGreedy(EpsilonGreedyConfig),
    /// [`Ucb1`].
    Ucb1(Ucb1Config),
    /// [`BetaThompson`].
    BetaThompson(BetaThompsonConfig),
    /// [`GaussianThompson`].
    GaussianThompson(GaussianThompsonConfig),
    /// [`LinUcb`].
    LinUcb(LinUcbConfig),
}

impl BanditConfig {
    /// Builds the learner with `arms` arms and random source `rng`.
    ///
    /// # Errors
    /// [`RlError::InvalidParameter`] for a bad configuration.
    pub fn build(&self, arms: usize, rng: Rng) -> Result<AnyBandit> {
        Ok(match *self {
            Self::EpsilonGreedy(c) => EpsilonGreedy::new(arms, c, rng)?.into(),
            Self::Ucb1(c) => Ucb1::new(arms, c, rng)?.into(),
            Self::BetaThompson(c) => BetaThompson::new(arms, c, rng)?.into(),
            Self::GaussianThompson(c) => GaussianThompson::new(arms, c, rng)?.into(),
            Self::LinUcb(c) => LinUcb::new(arms, c, rng)?.into(),
        })
    }
}

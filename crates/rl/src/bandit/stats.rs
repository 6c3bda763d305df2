//! A discounted running mean and variance, shared by ε-greedy, UCB1 and LinUCB's summaries.

use serde::{Deserialize, Serialize};

use crate::error::{Result, RlError};

/// The smallest weight an arm with evidence keeps, so that long neglect under strong
/// discounting never underflows to zero (which would look like "never tried" and divide by
/// zero).
pub(crate) const MIN_WEIGHT: f64 = 1e-300;

/// Weighted (West's) running mean and sum of squared deviations. Discounting multiplies the
/// weight and the squared deviations by γ and leaves the mean unchanged, which is exactly
/// the mean and variance with every past observation weighted γᵏ. The mean is always a
/// convex combination of the rewards seen, so it stays within their range.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct MeanStats {
    /// Effective number of observations (Σ weights).
    pub(crate) weight: f64,
    /// Weighted mean of the rewards.
    pub(crate) mean: f64,
    /// Weighted sum of squared deviations from the mean.
    pub(crate) m2: f64,
    /// Updates ever received (undiscounted): 0 means never tried.
    pub(crate) pulls: u64,
}

impl MeanStats {
    /// Multiplies the evidence by `discount`.
    pub(crate) fn discount(&mut self, discount: f64) {
        if discount < 1.0 && self.pulls > 0 {
            self.weight = (self.weight * discount).max(MIN_WEIGHT);
            self.m2 *= discount;
        }
    }

    /// Adds one observation of weight 1.
    pub(crate) fn push(&mut self, reward: f64) {
        self.pulls = self.pulls.saturating_add(1);
        if self.weight <= 0.0 {
            self.weight = 1.0;
            self.mean = reward;
            self.m2 = 0.0;
            return;
        }
        self.weight += 1.0;
        let delta = reward - self.mean;
        self.mean += delta / self.weight;
        self.m2 = (self.m2 + delta * (reward - self.mean)).max(0.0);
    }

    /// Whether the arm was ever updated.
    pub(crate) fn tried(&self) -> bool {
        self.pulls > 0
    }

    /// The standard error of the mean, `None` before any observation.
    pub(crate) fn standard_error(&self) -> Option<f64> {
        if !self.tried() {
            return None;
        }
        let variance = self.m2 / self.weight;
        Some((variance / self.weight).sqrt())
    }

    /// Checks restored statistics.
    pub(crate) fn validate(&self) -> Result<()> {
        let ok = self.weight.is_finite()
            && self.weight >= 0.0
            && self.mean.is_finite()
            && self.m2.is_finite()
            && self.m2 >= 0.0
            && (self.pulls == 0 || self.weight > 0.0);
        if ok {
            Ok(())
        } else {
            Err(RlError::State(format!("invalid arm statistics {self:?}")))
        }
    }
}

//! LinUCB with disjoint linear models (Li, Chu, Langford & Schapire, 2010), optionally
//! discounted.

use serde::{Deserialize, Serialize};

use super::stats::MeanStats;
use super::{
    ArmValue, Bandit, Choice, Saved, argmax_set, check_arm, check_discount, check_non_negative,
    check_positive, pick, tie_probabilities,
};
use crate::error::{Result, RlError, finite};
use crate::rng::Rng;

fn one() -> f64 {
    1.0
}

/// Parameters of [`LinUcb`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LinUcbConfig {
    /// The context's dimension d, `>= 1`.
    pub dimension: usize,
    /// The exploration factor α in `θᵀx + α·sqrt(xᵀA⁻¹x)`; finite, `>= 0`. Default 1.
    #[serde(default = "one")]
    pub alpha: f64,
    /// The ridge λ in `A = λI + Σ xxᵀ`; finite, `> 0`. Default 1.
    #[serde(default = "one")]
    pub ridge: f64,
    /// Discount γ ∈ (0, 1] applied to every arm's data `Σ xxᵀ` and `Σ rx` on each update
    /// (the ridge λI is kept). Default 1.
    #[serde(default = "one")]
    pub discount: f64,
}

impl LinUcbConfig {
    /// The defaults (α = 1, λ = 1, no discount) for contexts of `dimension` features.
    pub fn new(dimension: usize) -> Self {
        Self {
            dimension,
            alpha: 1.0,
            ridge: 1.0,
            discount: 1.0,
        }
    }

    /// Checks every parameter.
    ///
    /// # Errors
    /// [`RlError::InvalidParameter`] naming the first one out of range.
    pub fn validate(&self) -> Result<()> {
        if self.dimension == 0 {
            return Err(RlError::InvalidParameter {
                name: "dimension",
                expected: ">= 1",
                value: 0.0,
            });
        }
        check_non_negative("alpha", self.alpha)?;
        check_positive("ridge", self.ridge)?;
        check_discount(self.discount)
    }
}

/// One arm's ridge regression.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LinArm {
    /// `A⁻¹ = (λI + G)⁻¹`, row-major d×d.
    a_inv: Vec<f64>,
    /// The data part `G = Σ xxᵀ` (discounted), row-major d×d.
    gram: Vec<f64>,
    /// `b = Σ r x` (discounted).
    b: Vec<f64>,
    /// The arm's rewards, context-free, for [`Bandit::values`].
    rewards: MeanStats,
}

impl LinArm {
    fn new(d: usize, ridge: f64) -> Self {
        let mut a_inv = vec![0.0; d * d];
        for i in 0..d {
            a_inv[i * d + i] = 1.0 / ridge;
        }
        Self {
            a_inv,
            gram: vec![0.0; d * d],
            b: vec![0.0; d],
            rewards: MeanStats::default(),
        }
    }

    /// `A⁻¹ v`.
    fn a_inv_times(&self, v: &[f64]) -> Vec<f64> {
        let d = v.len();
        (0..d)
            .map(|i| dot(&self.a_inv[i * d..(i + 1) * d], v))
            .collect()
    }

    /// θ = A⁻¹ b.
    fn theta(&self) -> Vec<f64> {
        self.a_inv_times(&self.b)
    }

    /// `(θᵀx, sqrt(xᵀA⁻¹x))`.
    fn predict(&self, x: &[f64]) -> (f64, f64) {
        let ax = self.a_inv_times(x);
        (dot(&self.b, &ax), dot(x, &ax).max(0.0).sqrt())
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The inverse of a symmetric positive-definite `d×d` matrix by Cholesky factorisation,
/// `None` if it is not numerically positive definite.
fn spd_inverse(m: &[f64], d: usize) -> Option<Vec<f64>> {
    // m = L Lᵀ.
    let mut l = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let mut s = m[i * d + j];
            for k in 0..j {
                s -= l[i * d + k] * l[j * d + k];
            }
            if i == j {
                if !(s > 0.0 && s.is_finite()) {
                    return None;
                }
                l[i * d + i] = s.sqrt();
            } else {
                l[i * d + j] = s / l[j * d + j];
            }
        }
    }
    // L⁻¹ by forward substitution.
    let mut li = vec![0.0; d * d];
    for i in 0..d {
        li[i * d + i] = 1.0 / l[i * d + i];
        for j in 0..i {
            let mut s = 0.0;
            for k in j..i {
                s -= l[i * d + k] * li[k * d + j];
            }
            li[i * d + j] = s / l[i * d + i];
        }
    }
    // m⁻¹ = L⁻ᵀ L⁻¹.
    let mut inv = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..=i {
            let s: f64 = (i..d).map(|k| li[k * d + i] * li[k * d + j]).sum();
            inv[i * d + j] = s;
            inv[j * d + i] = s;
        }
    }
    Some(inv)
}

/// LinUCB with a disjoint ridge regression per arm.
///
/// Arm `a` keeps `Aₐ = λI + Σ xxᵀ` and `bₐ = Σ r x` over its own observations, estimates
/// `θₐ = Aₐ⁻¹bₐ` and scores a context `x` by `θₐᵀx + α·sqrt(xᵀAₐ⁻¹x)`; the best score wins,
/// ties broken uniformly, so the propensity is exact (1 or the tie share). Every context must
/// have [`LinUcbConfig::dimension`] finite features ([`RlError::Dimension`],
/// [`RlError::NotFinite`]). Include a constant feature 1 for an intercept.
///
/// Without discount, `A⁻¹` is kept by Sherman–Morrison rank-one updates, O(d²) per update.
/// With a discount γ < 1 the data decay while the ridge λI stays, a change of every arm's
/// matrix that is not low-rank, so each arm's `A⁻¹` is recomputed by Cholesky on update,
/// O(K·d³): fine for the small contexts of agent decisions (task kinds, a few features).
///
/// [`Bandit::values`] reports each arm's (discounted) mean observed reward and, as
/// uncertainty, `α·sqrt(trace(A⁻¹)/d)`, the root-mean-square exploration width over unit
/// contexts; [`Bandit::values_for`] reports `θₐᵀx` and `α·sqrt(xᵀAₐ⁻¹x)` for a context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    try_from = "Saved<LinUcbConfig, LinArm>",
    into = "Saved<LinUcbConfig, LinArm>"
)]
pub struct LinUcb {
    config: LinUcbConfig,
    arms: Vec<LinArm>,
    updates: u64,
    rng: Rng,
}

impl LinUcb {
    /// Replaces the random source (the learned state is unchanged).
    pub(crate) fn set_rng(&mut self, rng: Rng) {
        self.rng = rng;
    }

    /// A learner with `arms` arms (possibly 0, to add later).
    ///
    /// # Errors
    /// [`RlError::InvalidParameter`] for a bad configuration.
    pub fn new(arms: usize, config: LinUcbConfig, rng: Rng) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            arms: (0..arms)
                .map(|_| LinArm::new(config.dimension, config.ridge))
                .collect(),
            updates: 0,
            rng,
        })
    }

    /// The parameters.
    pub fn config(&self) -> &LinUcbConfig {
        &self.config
    }

    /// The context dimension.
    pub fn dimension(&self) -> usize {
        self.config.dimension
    }

    /// The estimated parameter θₐ = Aₐ⁻¹bₐ of `arm`.
    ///
    /// # Errors
    /// [`RlError::UnknownArm`].
    pub fn theta(&self, arm: usize) -> Result<Vec<f64>> {
        check_arm(arm, self.arms.len())?;
        Ok(self.arms[arm].theta())
    }

    fn check_context(&self, context: &[f64]) -> Result<()> {
        if context.len() != self.config.dimension {
            return Err(RlError::Dimension {
                expected: self.config.dimension,
                got: context.len(),
            });
        }
        for &x in context {
            finite("context feature", x)?;
        }
        Ok(())
    }

    fn best(&self, context: &[f64]) -> Result<Vec<usize>> {
        self.check_context(context)?;
        if self.arms.is_empty() {
            return Err(RlError::NoArms);
        }
        let scores: Vec<f64> = self
            .arms
            .iter()
            .map(|a| {
                let (mean, width) = a.predict(context);
                let s = mean + self.config.alpha * width;
                if s.is_nan() { f64::NEG_INFINITY } else { s }
            })
            .collect();
        Ok(argmax_set(&scores))
    }
}

impl Bandit for LinUcb {
    fn name(&self) -> &'static str {
        "lin_ucb"
    }

    fn arms(&self) -> usize {
        self.arms.len()
    }

    fn select(&mut self, context: &[f64]) -> Result<Choice> {
        let best = self.best(context)?;
        let arm = pick(&mut self.rng, &best)?;
        Ok(Choice {
            arm,
            propensity: 1.0 / best.len() as f64,
        })
    }

    fn probabilities(&mut self, context: &[f64]) -> Result<Vec<f64>> {
        let best = self.best(context)?;
        Ok(tie_probabilities(self.arms.len(), &best))
    }

    fn update(&mut self, arm: usize, context: &[f64], reward: f64) -> Result<()> {
        check_arm(arm, self.arms.len())?;
        self.check_context(context)?;
        finite("reward", reward)?;
        let d = self.config.dimension;
        let g = self.config.discount;
        if g < 1.0 {
            for a in &mut self.arms {
                a.gram.iter_mut().for_each(|v| *v *= g);
                a.b.iter_mut().for_each(|v| *v *= g);
                a.rewards.discount(g);
            }
        }
        let x = context;
        {
            let a = &mut self.arms[arm];
            for i in 0..d {
                for j in 0..d {
                    a.gram[i * d + j] += x[i] * x[j];
                }
                a.b[i] += reward * x[i];
            }
            a.rewards.push(reward);
            if g >= 1.0 {
                // Sherman–Morrison: (A + xxᵀ)⁻¹ = A⁻¹ − (A⁻¹x)(A⁻¹x)ᵀ / (1 + xᵀA⁻¹x).
                let u = a.a_inv_times(x);
                let denom = 1.0 + dot(x, &u);
                for i in 0..d {
                    for j in 0..d {
                        a.a_inv[i * d + j] -= u[i] * u[j] / denom;
                    }
                }
            }
        }
        if g < 1.0 {
            let ridge = self.config.ridge;
            for a in &mut self.arms {
                let mut m = a.gram.clone();
                for i in 0..d {
                    m[i * d + i] += ridge;
                }
                a.a_inv = spd_inverse(&m, d).ok_or_else(|| {
                    RlError::State("LinUCB design matrix is not positive definite".into())
                })?;
            }
        }
        self.updates = self.updates.saturating_add(1);
        Ok(())
    }

    fn values(&self) -> Vec<ArmValue> {
        let d = self.config.dimension;
        self.arms
            .iter()
            .enumerate()
            .map(|(arm, a)| {
                let trace: f64 = (0..d).map(|i| a.a_inv[i * d + i]).sum();
                ArmValue {
                    arm,
                    estimate: a.rewards.mean,
                    count: a.rewards.weight,
                    uncertainty: Some(self.config.alpha * (trace.max(0.0) / d as f64).sqrt()),
                }
            })
            .collect()
    }

    fn values_for(&self, context: &[f64]) -> Result<Vec<ArmValue>> {
        self.check_context(context)?;
        Ok(self
            .arms
            .iter()
            .enumerate()
            .map(|(arm, a)| {
                let (mean, width) = a.predict(context);
                ArmValue {
                    arm,
                    estimate: mean,
                    count: a.rewards.weight,
                    uncertainty: Some(self.config.alpha * width),
                }
            })
            .collect())
    }

    fn add_arm(&mut self) -> usize {
        self.arms
            .push(LinArm::new(self.config.dimension, self.config.ridge));
        self.arms.len() - 1
    }
}

impl TryFrom<Saved<LinUcbConfig, LinArm>> for LinUcb {
    type Error = RlError;

    fn try_from(s: Saved<LinUcbConfig, LinArm>) -> Result<Self> {
        s.config.validate()?;
        let d = s.config.dimension;
        for a in &s.arms {
            a.rewards.validate()?;
            let shapes = a.a_inv.len() == d * d && a.gram.len() == d * d && a.b.len() == d;
            let finite = a
                .a_inv
                .iter()
                .chain(&a.gram)
                .chain(&a.b)
                .all(|v| v.is_finite());
            if !(shapes && finite) {
                return Err(RlError::State(format!(
                    "LinUCB arm state does not match dimension {d} or is not finite"
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

impl From<LinUcb> for Saved<LinUcbConfig, LinArm> {
    fn from(b: LinUcb) -> Self {
        Saved {
            config: b.config,
            arms: b.arms,
            updates: b.updates,
            rng: b.rng,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::spd_inverse;

    #[test]
    fn cholesky_inverse_inverts() {
        let m = [4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let inv = spd_inverse(&m, 3).unwrap();
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| m[i * 3 + k] * inv[k * 3 + j]).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((v - want).abs() < 1e-12, "{i},{j}: {v}");
            }
        }
        assert!(spd_inverse(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }
}

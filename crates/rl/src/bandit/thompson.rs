//! Thompson sampling: Beta–Bernoulli for rewards in `[0, 1]`, Normal–Inverse-Gamma for
//! real-valued rewards.
//!
//! See the propensity section of the [`crate::bandit`] docs for how propensities are
//! estimated.

use rand::RngExt;
use rand_distr::{Beta, Gamma, StandardNormal};
use serde::{Deserialize, Serialize};

use super::stats::MeanStats;
use super::{
    ArmValue, Bandit, Choice, Saved, argmax_set, check_arm, check_discount, check_positive,
    check_unit_reward, pick,
};
use crate::error::{Result, RlError, finite};
use crate::rng::Rng;

/// Default number of extra posterior draws for the propensity estimate.
const DEFAULT_PROPENSITY_SAMPLES: usize = 100;

/// Chooses by Thompson sampling with `draw(rng, arm)` giving one posterior sample, and
/// estimates the propensity with `samples` further rounds.
fn thompson_select(
    rng: &mut Rng,
    arms: usize,
    samples: usize,
    draw: &dyn Fn(&mut Rng, usize) -> Result<f64>,
) -> Result<Choice> {
    if arms == 0 {
        return Err(RlError::NoArms);
    }
    let round = |rng: &mut Rng| -> Result<Vec<usize>> {
        let mut scores = Vec::with_capacity(arms);
        for a in 0..arms {
            scores.push(draw(rng, a)?);
        }
        Ok(argmax_set(&scores))
    };
    let best = round(rng)?;
    let arm = pick(rng, &best)?;
    if arms == 1 || samples == 0 {
        return Ok(Choice {
            arm,
            propensity: 1.0,
        });
    }
    let mut wins = 1.0;
    for _ in 0..samples {
        let best = round(rng)?;
        if best.contains(&arm) {
            wins += 1.0 / best.len() as f64;
        }
    }
    Ok(Choice {
        arm,
        propensity: wins / (samples as f64 + 1.0),
    })
}

/// The fraction of `samples` (at least 1) Thompson rounds each arm wins.
fn thompson_probabilities(
    rng: &mut Rng,
    arms: usize,
    samples: usize,
    draw: &dyn Fn(&mut Rng, usize) -> Result<f64>,
) -> Result<Vec<f64>> {
    if arms == 0 {
        return Err(RlError::NoArms);
    }
    let samples = samples.max(1);
    let mut p = vec![0.0; arms];
    let mut scores = vec![0.0; arms];
    for _ in 0..samples {
        for (a, s) in scores.iter_mut().enumerate() {
            *s = draw(rng, a)?;
        }
        let best = argmax_set(&scores);
        for &b in &best {
            p[b] += 1.0 / best.len() as f64;
        }
    }
    // Dividing once keeps every probability within [0, 1] exactly.
    Ok(p.into_iter().map(|w| w / samples as f64).collect())
}

// ---------------------------------------------------------------------------------------
// Beta–Bernoulli
// ---------------------------------------------------------------------------------------

/// Parameters of [`BetaThompson`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BetaThompsonConfig {
    /// Prior successes α₀, finite and `> 0`. Default 1 (a uniform prior).
    pub prior_alpha: f64,
    /// Prior failures β₀, finite and `> 0`. Default 1.
    pub prior_beta: f64,
    /// Discount γ ∈ (0, 1] applied to every arm's evidence on each update (the prior is
    /// kept). Default 1.
    pub discount: f64,
    /// Extra posterior draws for the propensity estimate (see the [`crate::bandit`] docs);
    /// 0 reports propensity 1 without estimating. Default 100.
    pub propensity_samples: usize,
}

impl Default for BetaThompsonConfig {
    fn default() -> Self {
        Self {
            prior_alpha: 1.0,
            prior_beta: 1.0,
            discount: 1.0,
            propensity_samples: DEFAULT_PROPENSITY_SAMPLES,
        }
    }
}

impl BetaThompsonConfig {
    /// Checks every parameter.
    ///
    /// # Errors
    /// [`RlError::InvalidParameter`] naming the first one out of range.
    pub fn validate(&self) -> Result<()> {
        check_positive("prior_alpha", self.prior_alpha)?;
        check_positive("prior_beta", self.prior_beta)?;
        check_discount(self.discount)
    }
}

/// The evidence about one Bernoulli arm.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct BetaStats {
    /// Σ r (discounted).
    successes: f64,
    /// Σ (1 − r) (discounted).
    failures: f64,
}

impl BetaStats {
    fn validate(&self) -> Result<()> {
        let ok = self.successes.is_finite()
            && self.failures.is_finite()
            && self.successes >= 0.0
            && self.failures >= 0.0;
        if ok {
            Ok(())
        } else {
            Err(RlError::State(format!("invalid Beta statistics {self:?}")))
        }
    }
}

/// Thompson sampling with a Beta prior on each arm's success probability.
///
/// A reward `r ∈ [0, 1]` counts as a success with probability `r`: the posterior becomes
/// `Beta(α + r, β + 1 − r)`, which is exact for 0/1 rewards and the usual fractional
/// update otherwise. Rewards outside `[0, 1]` are rejected. [`ArmValue::estimate`] is the
/// posterior mean and [`ArmValue::uncertainty`] its standard deviation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    try_from = "Saved<BetaThompsonConfig, BetaStats>",
    into = "Saved<BetaThompsonConfig, BetaStats>"
)]
pub struct BetaThompson {
    config: BetaThompsonConfig,
    arms: Vec<BetaStats>,
    updates: u64,
    rng: Rng,
}

impl BetaThompson {
    /// Replaces the random source (the learned state is unchanged).
    pub(crate) fn set_rng(&mut self, rng: Rng) {
        self.rng = rng;
    }

    /// A learner with `arms` arms (possibly 0, to add later).
    ///
    /// # Errors
    /// [`RlError::InvalidParameter`] for a bad configuration.
    pub fn new(arms: usize, config: BetaThompsonConfig, rng: Rng) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            arms: vec![BetaStats::default(); arms],
            updates: 0,
            rng,
        })
    }

    /// The parameters.
    pub fn config(&self) -> &BetaThompsonConfig {
        &self.config
    }

    /// The posterior `(α, β)` of each arm.
    pub fn posterior(&self) -> Vec<(f64, f64)> {
        self.arms
            .iter()
            .map(|s| {
                (
                    self.config.prior_alpha + s.successes,
                    self.config.prior_beta + s.failures,
                )
            })
            .collect()
    }

    fn draw_fn(&self) -> impl Fn(&mut Rng, usize) -> Result<f64> + use<> {
        let posterior = self.posterior();
        move |rng: &mut Rng, arm: usize| {
            let (a, b) = posterior[arm];
            let beta = Beta::new(a, b).map_err(|_| RlError::State(format!("Beta({a}, {b})")))?;
            let x: f64 = rng.sample(beta);
            // Guard against a degenerate draw for extreme parameters.
            Ok(if x.is_finite() { x } else { a / (a + b) })
        }
    }
}

impl Bandit for BetaThompson {
    fn name(&self) -> &'static str {
        "beta_thompson"
    }

    fn arms(&self) -> usize {
        self.arms.len()
    }

    fn select(&mut self, _context: &[f64]) -> Result<Choice> {
        let draw = self.draw_fn();
        thompson_select(
            &mut self.rng,
            self.arms.len(),
            self.config.propensity_samples,
            &draw,
        )
    }

    fn probabilities(&mut self, _context: &[f64]) -> Result<Vec<f64>> {
        let draw = self.draw_fn();
        thompson_probabilities(
            &mut self.rng,
            self.arms.len(),
            self.config.propensity_samples,
            &draw,
        )
    }

    fn update(&mut self, arm: usize, _context: &[f64], reward: f64) -> Result<()> {
        check_arm(arm, self.arms.len())?;
        check_unit_reward(reward)?;
        let g = self.config.discount;
        if g < 1.0 {
            for a in &mut self.arms {
                a.successes *= g;
                a.failures *= g;
            }
        }
        let a = &mut self.arms[arm];
        a.successes += reward;
        a.failures += 1.0 - reward;
        self.updates = self.updates.saturating_add(1);
        Ok(())
    }

    fn values(&self) -> Vec<ArmValue> {
        self.arms
            .iter()
            .zip(self.posterior())
            .enumerate()
            .map(|(arm, (s, (a, b)))| {
                let n = a + b;
                ArmValue {
                    arm,
                    estimate: a / n,
                    count: s.successes + s.failures,
                    uncertainty: Some((a * b / (n * n * (n + 1.0))).sqrt()),
                }
            })
            .collect()
    }

    fn add_arm(&mut self) -> usize {
        self.arms.push(BetaStats::default());
        self.arms.len() - 1
    }
}

impl TryFrom<Saved<BetaThompsonConfig, BetaStats>> for BetaThompson {
    type Error = RlError;

    fn try_from(s: Saved<BetaThompsonConfig, BetaStats>) -> Result<Self> {
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

impl From<BetaThompson> for Saved<BetaThompsonConfig, BetaStats> {
    fn from(b: BetaThompson) -> Self {
        Saved {
            config: b.config,
            arms: b.arms,
            updates: b.updates,
            rng: b.rng,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Normal–Inverse-Gamma
// ---------------------------------------------------------------------------------------

/// Parameters of [`GaussianThompson`]: the Normal–Inverse-Gamma prior
/// `σ² ~ InvGamma(a₀, b₀)`, `μ | σ² ~ N(m₀, σ²/κ₀)` and the discount.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GaussianThompsonConfig {
    /// Prior mean m₀, finite. Default 0.
    pub prior_mean: f64,
    /// Prior strength κ₀ (pseudo-observations behind m₀), finite and `> 0`. Default 0.01: a
    /// weak prior, so untried arms are drawn far from m₀ and get explored.
    pub prior_strength: f64,
    /// Prior shape a₀ of the noise variance, finite and `> 0`. Default 1.
    pub prior_shape: f64,
    /// Prior scale b₀ of the noise variance, finite and `> 0`. Default 1: noise of about
    /// unit scale. Set it near the rewards' variance times a₀ when their scale is very
    /// different, or exploration is too long (b₀ too big) or too short (too small).
    pub prior_scale: f64,
    /// Discount γ ∈ (0, 1] applied to every arm's evidence on each update (the prior is
    /// kept). Default 1.
    pub discount: f64,
    /// Extra posterior draws for the propensity estimate (see the [`crate::bandit`] docs);
    /// 0 reports propensity 1 without estimating. Default 100.
    pub propensity_samples: usize,
}

impl Default for GaussianThompsonConfig {
    fn default() -> Self {
        Self {
            prior_mean: 0.0,
            prior_strength: 0.01,
            prior_shape: 1.0,
            prior_scale: 1.0,
            discount: 1.0,
            propensity_samples: DEFAULT_PROPENSITY_SAMPLES,
        }
    }
}

impl GaussianThompsonConfig {
    /// Checks every parameter.
    ///
    /// # Errors
    /// [`RlError::InvalidParameter`] naming the first one out of range.
    pub fn validate(&self) -> Result<()> {
        if !self.prior_mean.is_finite() {
            return Err(RlError::InvalidParameter {
                name: "prior_mean",
                expected: "finite",
                value: self.prior_mean,
            });
        }
        check_positive("prior_strength", self.prior_strength)?;
        check_positive("prior_shape", self.prior_shape)?;
        check_positive("prior_scale", self.prior_scale)?;
        check_discount(self.discount)
    }
}

/// One arm's Normal–Inverse-Gamma posterior `(m, κ, a, b)`.
#[derive(Debug, Clone, Copy)]
struct Nig {
    mean: f64,
    strength: f64,
    shape: f64,
    scale: f64,
}

/// Thompson sampling for real-valued rewards with unknown mean *and* variance per arm.
///
/// Each arm has a conjugate Normal–Inverse-Gamma posterior updated from the (discounted)
/// count `n`, mean `x̄` and sum of squared deviations `S`: `κ = κ₀ + n`,
/// `m = (κ₀m₀ + n x̄)/κ`, `a = a₀ + n/2`, `b = b₀ + S/2 + κ₀ n (x̄ − m₀)²/(2κ)`. A draw takes
/// the precision `τ ~ Gamma(a, rate b)` and then `μ ~ N(m, 1/(τκ))`. Unknown variance
/// (rather than a fixed, assumed one) lets arms with noisier rewards be explored longer
/// without having to know the noise level.
///
/// [`ArmValue::estimate`] is the posterior mean `m`; [`ArmValue::uncertainty`] the scale
/// `sqrt(b/(aκ))` of μ's Student-t marginal (its standard deviation when the degrees of
/// freedom are large).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    try_from = "Saved<GaussianThompsonConfig, MeanStats>",
    into = "Saved<GaussianThompsonConfig, MeanStats>"
)]
pub struct GaussianThompson {
    config: GaussianThompsonConfig,
    arms: Vec<MeanStats>,
    updates: u64,
    rng: Rng,
}

impl GaussianThompson {
    /// Replaces the random source (the learned state is unchanged).
    pub(crate) fn set_rng(&mut self, rng: Rng) {
        self.rng = rng;
    }

    /// A learner with `arms` arms (possibly 0, to add later).
    ///
    /// # Errors
    /// [`RlError::InvalidParameter`] for a bad configuration.
    pub fn new(arms: usize, config: GaussianThompsonConfig, rng: Rng) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            config,
            arms: vec![MeanStats::default(); arms],
            updates: 0,
            rng,
        })
    }

    /// The parameters.
    pub fn config(&self) -> &GaussianThompsonConfig {
        &self.config
    }

    fn posterior(&self, s: &MeanStats) -> Nig {
        let c = &self.config;
        let n = s.weight;
        let strength = c.prior_strength + n;
        let mean = (c.prior_strength * c.prior_mean + n * s.mean) / strength;
        let shape = c.prior_shape + n / 2.0;
        let dev = s.mean - c.prior_mean;
        let scale =
            c.prior_scale + s.m2 / 2.0 + c.prior_strength * n * dev * dev / (2.0 * strength);
        Nig {
            mean,
            strength,
            shape,
            scale,
        }
    }

    fn draw_fn(&self) -> impl Fn(&mut Rng, usize) -> Result<f64> + use<> {
        let posteriors: Vec<Nig> = self.arms.iter().map(|s| self.posterior(s)).collect();
        move |rng: &mut Rng, arm: usize| {
            let p = posteriors[arm];
            let gamma = Gamma::new(p.shape, 1.0 / p.scale)
                .map_err(|_| RlError::State(format!("Gamma({}, 1/{})", p.shape, p.scale)))?;
            let precision: f64 = rng.sample(gamma);
            let z: f64 = rng.sample(StandardNormal);
            let sd = (1.0 / (precision.max(f64::MIN_POSITIVE) * p.strength)).sqrt();
            let x = p.mean + z * sd;
            Ok(if x.is_finite() { x } else { p.mean })
        }
    }
}

impl Bandit for GaussianThompson {
    fn name(&self) -> &'static str {
        "gaussian_thompson"
    }

    fn arms(&self) -> usize {
        self.arms.len()
    }

    fn select(&mut self, _context: &[f64]) -> Result<Choice> {
        let draw = self.draw_fn();
        thompson_select(
            &mut self.rng,
            self.arms.len(),
            self.config.propensity_samples,
            &draw,
        )
    }

    fn probabilities(&mut self, _context: &[f64]) -> Result<Vec<f64>> {
        let draw = self.draw_fn();
        thompson_probabilities(
            &mut self.rng,
            self.arms.len(),
            self.config.propensity_samples,
            &draw,
        )
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
            .map(|(arm, s)| {
                let p = self.posterior(s);
                ArmValue {
                    arm,
                    estimate: p.mean,
                    count: s.weight,
                    uncertainty: Some((p.scale / (p.shape * p.strength)).sqrt()),
                }
            })
            .collect()
    }

    fn add_arm(&mut self) -> usize {
        self.arms.push(MeanStats::default());
        self.arms.len() - 1
    }
}

impl TryFrom<Saved<GaussianThompsonConfig, MeanStats>> for GaussianThompson {
    type Error = RlError;

    fn try_from(s: Saved<GaussianThompsonConfig, MeanStats>) -> Result<Self> {
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

impl From<GaussianThompson> for Saved<GaussianThompsonConfig, MeanStats> {
    fn from(b: GaussianThompson) -> Self {
        Saved {
            config: b.config,
            arms: b.arms,
            updates: b.updates,
            rng: b.rng,
        }
    }
}

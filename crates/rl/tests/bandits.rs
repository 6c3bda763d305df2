#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

//! Behaviour of the bandits: regret on a Bernoulli testbed, real-valued and linear rewards,
//! drift, propensities and off-policy evaluation, persistence and validation. Every run is
//! seeded; horizons are kept small so that the file runs in a few seconds unoptimised.

use proptest::prelude::*;
use rand::RngExt;
use rand_distr::StandardNormal;
use rl::{
    AnyBandit, Bandit, BanditConfig, BetaThompson, BetaThompsonConfig, DecisionLog, EpsilonGreedy,
    EpsilonGreedyConfig, GaussianThompson, GaussianThompsonConfig, LinUcb, LinUcbConfig,
    LoggedDecision, RlError, Ucb1, Ucb1Config, seeded,
};

const SEEDS: [u64; 3] = [11, 22, 33];

/// Bernoulli arms with fixed means; the best (0.85) is well separated from the rest, the
/// regime where UCB1's conservative Hoeffding bonus pays off within a few thousand steps.
const TESTBED: [f64; 10] = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.85];

fn bernoulli(rng: &mut rl::Rng, p: f64) -> f64 {
    if rng.random::<f64>() < p { 1.0 } else { 0.0 }
}

/// Cumulative pseudo-regret (Σ μ* − μₐ) after each step on the testbed.
fn testbed_regret(bandit: &mut dyn Bandit, means: &[f64], horizon: usize, seed: u64) -> Vec<f64> {
    let mut env = seeded(seed ^ 0xE17);
    let best = means.iter().copied().fold(f64::MIN, f64::max);
    let mut total = 0.0;
    let mut out = Vec::with_capacity(horizon);
    for _ in 0..horizon {
        let c = bandit.select(&[]).unwrap();
        assert!(c.propensity > 0.0 && c.propensity <= 1.0, "{c:?}");
        let r = bernoulli(&mut env, means[c.arm]);
        bandit.update(c.arm, &[], r).unwrap();
        total += best - means[c.arm];
        out.push(total);
    }
    out
}

fn mean_regret(make: &dyn Fn(u64) -> Box<dyn Bandit>, horizon: usize) -> Vec<f64> {
    let mut sum = vec![0.0; horizon];
    for &seed in &SEEDS {
        let mut b = make(seed);
        for (s, r) in sum
            .iter_mut()
            .zip(testbed_regret(b.as_mut(), &TESTBED, horizon, seed))
        {
            *s += r / SEEDS.len() as f64;
        }
    }
    sum
}

fn eps_greedy(seed: u64, epsilon: f64, discount: f64) -> EpsilonGreedy {
    let config = EpsilonGreedyConfig {
        epsilon,
        discount,
        ..Default::default()
    };
    EpsilonGreedy::new(TESTBED.len(), config, seeded(seed)).unwrap()
}

/// Thompson learners in the regret tests estimate propensities from 10 extra draws, to keep
/// the unoptimised test fast; the estimate does not affect the choices.
fn beta_ts(arms: usize, seed: u64, discount: f64) -> BetaThompson {
    let config = BetaThompsonConfig {
        discount,
        propensity_samples: 10,
        ..Default::default()
    };
    BetaThompson::new(arms, config, seeded(seed)).unwrap()
}

// 1. ------------------------------------------------------------------------------------

#[test]
fn testbed_ucb1_and_beta_thompson_regret_is_sublinear_and_beats_epsilon_greedy() {
    let horizon = 4000;
    let ucb = mean_regret(
        &|s| Box::new(Ucb1::new(TESTBED.len(), Ucb1Config::default(), seeded(s)).unwrap()),
        horizon,
    );
    let ts = mean_regret(&|s| Box::new(beta_ts(TESTBED.len(), s, 1.0)), horizon);
    let eps = mean_regret(&|s| Box::new(eps_greedy(s, 0.1, 1.0)), horizon);

    let quarter = horizon / 4;
    for (name, r) in [("ucb1", &ucb), ("beta_thompson", &ts)] {
        let first_half = r[horizon / 2 - 1];
        let second_half = r[horizon - 1] - first_half;
        assert!(
            second_half < 0.5 * first_half,
            "{name}: second half regret {second_half:.1} vs first half {first_half:.1}"
        );
        // regret(4T) well under 4 × regret(T)
        assert!(
            r[horizon - 1] < 2.0 * r[quarter - 1],
            "{name}: regret {:.1} at {horizon} vs {:.1} at {quarter}",
            r[horizon - 1],
            r[quarter - 1]
        );
        assert!(
            r[horizon - 1] < eps[horizon - 1],
            "{name}: regret {:.1} vs epsilon-greedy {:.1}",
            r[horizon - 1],
            eps[horizon - 1]
        );
    }
    // ε-greedy with a fixed rate keeps paying for exploration: linear regret.
    let eps_second = eps[horizon - 1] - eps[horizon / 2 - 1];
    assert!(eps_second > 0.7 * eps[horizon / 2 - 1], "{eps_second}");
}

#[test]
fn decaying_epsilon_explores_less_over_time() {
    let horizon = 3000;
    let fixed = mean_regret(&|s| Box::new(eps_greedy(s, 0.2, 1.0)), horizon);
    let decaying = mean_regret(
        &|s| {
            let config = EpsilonGreedyConfig {
                epsilon: 0.2,
                decay: 0.01,
                ..Default::default()
            };
            Box::new(EpsilonGreedy::new(TESTBED.len(), config, seeded(s)).unwrap())
        },
        horizon,
    );
    assert!(decaying[horizon - 1] < fixed[horizon - 1]);
    let b = EpsilonGreedy::new(
        2,
        EpsilonGreedyConfig {
            epsilon: 0.5,
            decay: 1.0,
            min_epsilon: 0.1,
            discount: 1.0,
        },
        seeded(1),
    )
    .unwrap();
    assert_eq!(b.epsilon(), 0.5);
}

// 2. ------------------------------------------------------------------------------------

#[test]
fn gaussian_thompson_finds_the_best_arm_on_real_rewards() {
    // Means far from the prior mean 0 and noise of standard deviation 2.
    let means = [10.0, 11.0, 9.0, 12.0, 11.5];
    for &seed in &SEEDS {
        let config = GaussianThompsonConfig {
            propensity_samples: 10,
            ..Default::default()
        };
        let mut b = GaussianThompson::new(means.len(), config, seeded(seed)).unwrap();
        let mut env = seeded(seed + 100);
        let horizon = 2000;
        let mut best_late = 0;
        for t in 0..horizon {
            let c = b.select(&[]).unwrap();
            let noise: f64 = env.sample(StandardNormal);
            b.update(c.arm, &[], means[c.arm] + 2.0 * noise).unwrap();
            if t >= horizon - 500 && c.arm == 3 {
                best_late += 1;
            }
        }
        assert!(best_late > 400, "seed {seed}: best arm {best_late}/500");
        let values = b.values();
        let top = values
            .iter()
            .max_by(|a, b| a.estimate.total_cmp(&b.estimate))
            .unwrap();
        assert_eq!(top.arm, 3);
        assert!((top.estimate - 12.0).abs() < 0.3, "{top:?}");
        assert!(top.uncertainty.unwrap() < 0.2, "{top:?}");
    }
}

// 3. ------------------------------------------------------------------------------------

#[test]
fn linucb_recovers_linear_parameters_and_picks_the_best_arm() {
    let d = 4;
    // Arm a is best when feature a is largest: each arm wins a quarter of the contexts.
    let theta: Vec<Vec<f64>> = (0..4)
        .map(|a| {
            (0..d)
                .map(|i| if i == a { 1.0 } else { 0.1 * (i as f64 - 1.5) })
                .collect()
        })
        .collect();
    for &seed in &SEEDS {
        let mut b = LinUcb::new(
            4,
            LinUcbConfig {
                alpha: 0.5,
                ..LinUcbConfig::new(d)
            },
            seeded(seed),
        )
        .unwrap();
        let mut env = seeded(seed + 7);
        let horizon = 3000;
        let mut right = 0;
        for t in 0..horizon {
            let x: Vec<f64> = (0..d).map(|_| env.sample(StandardNormal)).collect();
            let c = b.select(&x).unwrap();
            // deterministic but for ties (all arms tie before any data)
            assert!([1.0, 0.5, 1.0 / 3.0, 0.25].contains(&c.propensity), "{c:?}");
            let expected: Vec<f64> = theta
                .iter()
                .map(|th| th.iter().zip(&x).map(|(a, b)| a * b).sum())
                .collect();
            let noise: f64 = env.sample(StandardNormal);
            b.update(c.arm, &x, expected[c.arm] + 0.1 * noise).unwrap();
            let best = (0..4)
                .max_by(|&i, &j| expected[i].total_cmp(&expected[j]))
                .unwrap();
            if t >= horizon - 500 && c.arm == best {
                right += 1;
            }
        }
        assert!(right > 450, "seed {seed}: best arm {right}/500");
        for (a, th) in theta.iter().enumerate() {
            let est = b.theta(a).unwrap();
            let dot: f64 = est.iter().zip(th).map(|(x, y)| x * y).sum();
            let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
            let cosine = dot / (norm(&est) * norm(th));
            let err: f64 = norm(&est.iter().zip(th).map(|(x, y)| x - y).collect::<Vec<_>>());
            assert!(
                cosine > 0.95 && err < 0.25,
                "seed {seed} arm {a}: θ̂ {est:?} vs {th:?}"
            );
        }
        // Explanations per context: the predicted values order the arms.
        let v = b.values_for(&[3.0, 0.0, 0.0, 0.0]).unwrap();
        assert!(v[0].estimate > v[1].estimate + 2.0, "{v:?}");
    }
}

// 4. ------------------------------------------------------------------------------------

/// Phase 1 favours arm 0, phase 2 arm 1; the old best stays good (0.6), so a learner that
/// remembers everything keeps trusting it.
const PHASE1: [f64; 3] = [0.9, 0.6, 0.3];
const PHASE2: [f64; 3] = [0.6, 0.8, 0.3];

/// `(share of arm 1 in the final window, share of arm 1 over phase 2)`, averaged over seeds.
fn drift(make: &dyn Fn(u64) -> Box<dyn Bandit>, context: &[f64]) -> (f64, f64) {
    let (t1, t2, window) = (2000, 1000, 300);
    let (mut last, mut phase2) = (0.0, 0.0);
    for &seed in &SEEDS {
        let mut b = make(seed);
        let mut env = seeded(seed + 1);
        for t in 0..t1 + t2 {
            let means = if t < t1 { PHASE1 } else { PHASE2 };
            let c = b.select(context).unwrap();
            let r = bernoulli(&mut env, means[c.arm]);
            b.update(c.arm, context, r).unwrap();
            if c.arm == 1 && t >= t1 {
                phase2 += 1.0 / (t2 * SEEDS.len()) as f64;
                if t >= t1 + t2 - window {
                    last += 1.0 / (window * SEEDS.len()) as f64;
                }
            }
        }
    }
    (last, phase2)
}

fn assert_discount_helps(name: &str, discounted: (f64, f64), plain: (f64, f64)) {
    assert!(
        discounted.0 > 0.6,
        "{name}: discounted picks the new best in {:.2} of the final window",
        discounted.0
    );
    assert!(
        discounted.0 > plain.0,
        "{name}: final window {:.2} (discounted) vs {:.2}",
        discounted.0,
        plain.0
    );
    assert!(
        discounted.1 > plain.1 + 0.1,
        "{name}: after the change {:.2} (discounted) vs {:.2}",
        discounted.1,
        plain.1
    );
}

#[test]
fn discounting_recovers_when_the_best_arm_changes() {
    let eps = |g: f64| {
        move |s: u64| -> Box<dyn Bandit> {
            let config = EpsilonGreedyConfig {
                epsilon: 0.1,
                discount: g,
                ..Default::default()
            };
            Box::new(EpsilonGreedy::new(3, config, seeded(s)).unwrap())
        }
    };
    assert_discount_helps(
        "epsilon_greedy",
        drift(&eps(0.99), &[]),
        drift(&eps(1.0), &[]),
    );

    let ts = |g: f64| move |s: u64| -> Box<dyn Bandit> { Box::new(beta_ts(3, s, g)) };
    assert_discount_helps("beta_thompson", drift(&ts(0.99), &[]), drift(&ts(1.0), &[]));

    // Discounted UCB needs a smaller bonus: with memory 1/(1−γ) every count is small.
    let ucb = |g: f64| {
        move |s: u64| -> Box<dyn Bandit> {
            let config = Ucb1Config {
                exploration: 0.5,
                discount: g,
            };
            Box::new(Ucb1::new(3, config, seeded(s)).unwrap())
        }
    };
    assert_discount_helps("ucb1", drift(&ucb(0.995), &[]), drift(&ucb(1.0), &[]));

    let gts = |g: f64| {
        move |s: u64| -> Box<dyn Bandit> {
            let config = GaussianThompsonConfig {
                discount: g,
                propensity_samples: 10,
                prior_scale: 0.25,
                ..Default::default()
            };
            Box::new(GaussianThompson::new(3, config, seeded(s)).unwrap())
        }
    };
    assert_discount_helps(
        "gaussian_thompson",
        drift(&gts(0.99), &[]),
        drift(&gts(1.0), &[]),
    );

    let lin = |g: f64| {
        move |s: u64| -> Box<dyn Bandit> {
            // A forgotten arm falls back to its prior, 0 ± α/sqrt(λ): α = 1 keeps that
            // optimistic for rewards in [0, 1], so it is tried again.
            let config = LinUcbConfig {
                discount: g,
                ..LinUcbConfig::new(1)
            };
            Box::new(LinUcb::new(3, config, seeded(s)).unwrap())
        }
    };
    assert_discount_helps(
        "lin_ucb",
        drift(&lin(0.99), &[1.0]),
        drift(&lin(1.0), &[1.0]),
    );
}

// 5. ------------------------------------------------------------------------------------

fn all_learners(seed: u64) -> Vec<AnyBandit> {
    vec![
        eps_greedy(seed, 0.2, 1.0).into(),
        Ucb1::new(TESTBED.len(), Ucb1Config::default(), seeded(seed))
            .unwrap()
            .into(),
        beta_ts(TESTBED.len(), seed, 0.995).into(),
        GaussianThompson::new(
            TESTBED.len(),
            GaussianThompsonConfig {
                propensity_samples: 20,
                ..Default::default()
            },
            seeded(seed),
        )
        .unwrap()
        .into(),
        LinUcb::new(TESTBED.len(), LinUcbConfig::new(2), seeded(seed))
            .unwrap()
            .into(),
    ]
}

fn context_for(b: &AnyBandit, t: usize) -> Vec<f64> {
    match b {
        AnyBandit::LinUcb(_) => vec![1.0, (t % 3) as f64],
        _ => vec![],
    }
}

#[test]
fn propensities_and_probabilities_are_valid() {
    for mut b in all_learners(5) {
        let mut env = seeded(6);
        for t in 0..300 {
            let x = context_for(&b, t);
            let p = b.probabilities(&x).unwrap();
            assert_eq!(p.len(), b.arms());
            assert!(p.iter().all(|&q| (0.0..=1.0).contains(&q)), "{p:?}");
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{p:?}");
            let c = b.select(&x).unwrap();
            assert!(c.propensity > 0.0 && c.propensity <= 1.0, "{c:?}");
            if matches!(
                b,
                AnyBandit::EpsilonGreedy(_) | AnyBandit::Ucb1(_) | AnyBandit::LinUcb(_)
            ) {
                assert_eq!(c.propensity, p[c.arm], "{}", b.name());
            }
            let r = bernoulli(&mut env, TESTBED[c.arm]);
            b.update(c.arm, &x, r).unwrap();
        }
    }
}

/// Selects `n` times from a fixed state and compares the frequencies with `expected`.
fn assert_frequencies(b: &mut dyn Bandit, expected: &[f64], n: usize, tolerance: f64) {
    let mut counts = vec![0usize; expected.len()];
    for _ in 0..n {
        counts[b.select(&[]).unwrap().arm] += 1;
    }
    for (a, (&c, &p)) in counts.iter().zip(expected).enumerate() {
        let f = c as f64 / n as f64;
        // four binomial standard deviations, plus the tolerance for estimated probabilities
        let sd = (p * (1.0 - p) / n as f64).sqrt();
        assert!(
            (f - p).abs() <= 4.0 * sd + tolerance,
            "arm {a}: frequency {f:.4} vs probability {p:.4}"
        );
    }
}

#[test]
fn epsilon_greedy_propensities_match_its_choices() {
    let mut b = eps_greedy(3, 0.3, 1.0);
    // Two arms tied for best, the rest worse, one never tried.
    for (arm, r) in [(0, 0.9), (1, 0.9), (2, 0.1), (3, 0.5)] {
        b.update(arm, &[], r).unwrap();
    }
    for arm in 5..TESTBED.len() {
        b.update(arm, &[], 0.2).unwrap();
    }
    // Arm 4 never tried: it alone is greedy.
    let p = b.probabilities(&[]).unwrap();
    assert_eq!(p[4], 0.03 + 0.7);
    assert_eq!(p[0], 0.03);
    b.update(4, &[], 0.0).unwrap();
    let p = b.probabilities(&[]).unwrap();
    assert_eq!(p[0], 0.03 + 0.35);
    assert_eq!(p[1], 0.03 + 0.35);
    assert_eq!(p[2], 0.03);
    for _ in 0..1000 {
        let c = b.select(&[]).unwrap();
        assert_eq!(c.propensity, p[c.arm]);
    }
    assert_frequencies(&mut b, &p, 20_000, 0.0);
}

#[test]
fn thompson_propensity_estimates_match_its_choices() {
    let mut b = BetaThompson::new(3, BetaThompsonConfig::default(), seeded(8)).unwrap();
    for (arm, s, f) in [(0, 6, 4), (1, 5, 5), (2, 2, 8)] {
        for _ in 0..s {
            b.update(arm, &[], 1.0).unwrap();
        }
        for _ in 0..f {
            b.update(arm, &[], 0.0).unwrap();
        }
    }
    let p = b.probabilities(&[]).unwrap();
    // propensities reported by select average to the choice frequencies
    let mut reported = [0.0; 3];
    let mut counts = [0.0; 3];
    for _ in 0..3000 {
        let c = b.select(&[]).unwrap();
        reported[c.arm] += c.propensity;
        counts[c.arm] += 1.0;
    }
    for a in 0..3 {
        let mean_reported = reported[a] / counts[a];
        let freq = counts[a] / 3000.0;
        assert!(
            (mean_reported - freq).abs() < 0.04,
            "arm {a}: {mean_reported} vs {freq}"
        );
    }
    assert_frequencies(&mut b, &p, 5000, 0.05);
}

/// Two task kinds (one-hot), four arms; each kind has a different best arm.
const KIND_MEANS: [[f64; 4]; 2] = [[0.2, 0.7, 0.4, 0.1], [0.6, 0.3, 0.2, 0.9]];

fn kind_context(kind: usize) -> Vec<f64> {
    if kind == 0 {
        vec![1.0, 0.0]
    } else {
        vec![0.0, 1.0]
    }
}

fn uniform_log(n: usize, seed: u64) -> DecisionLog {
    let config = EpsilonGreedyConfig {
        epsilon: 1.0,
        ..Default::default()
    };
    // ε = 1: uniform choices with exact propensity 1/4.
    let mut logger = EpsilonGreedy::new(4, config, seeded(seed)).unwrap();
    let mut env = seeded(seed + 1);
    let mut log = DecisionLog::new();
    for _ in 0..n {
        let kind = env.random_range(0..2usize);
        let x = kind_context(kind);
        let c = logger.select(&x).unwrap();
        assert_eq!(c.propensity, 0.25);
        let id = log.record(&x, c).unwrap();
        let r = bernoulli(&mut env, KIND_MEANS[kind][c.arm]);
        log.set_reward(id, r).unwrap();
    }
    log
}

#[test]
fn ips_on_a_uniform_log_estimates_a_fixed_policy() {
    let log = uniform_log(8000, 4);
    // The target: arm 1 for kind 0, arm 3 for kind 1; true value (0.7 + 0.9) / 2.
    let target = |x: &[f64]| -> rl::Result<usize> { Ok(if x[0] > 0.5 { 1 } else { 3 }) };
    let truth = 0.8;
    let est = log.evaluate_deterministic(target).unwrap();
    assert_eq!(est.samples, 8000);
    assert!((est.matched as f64 - 2000.0).abs() < 150.0, "{est:?}");
    assert!((est.ips - truth).abs() < 0.05, "{est:?}");
    assert!((est.snips.unwrap() - truth).abs() < 0.03, "{est:?}");
    assert!(est.effective_samples > 1500.0, "{est:?}");

    // The same policy written as probabilities, and a stochastic one (half each of the best
    // and of arm 0): value ((0.7 + 0.2)/2 + (0.9 + 0.6)/2) / 2 = 0.6.
    let same = log
        .evaluate(|x| {
            Ok(if x[0] > 0.5 {
                vec![0.0, 1.0, 0.0, 0.0]
            } else {
                vec![0.0, 0.0, 0.0, 1.0]
            })
        })
        .unwrap();
    assert!((same.ips - est.ips).abs() < 1e-12);
    let mixed = log
        .evaluate(|x| {
            Ok(if x[0] > 0.5 {
                vec![0.5, 0.5, 0.0, 0.0]
            } else {
                vec![0.5, 0.0, 0.0, 0.5]
            })
        })
        .unwrap();
    assert!((mixed.ips - 0.6).abs() < 0.05, "{mixed:?}");

    // A LinUCB trained on the log's own data, evaluated greedily through its probabilities.
    let mut lin = LinUcb::new(
        4,
        LinUcbConfig {
            alpha: 0.0,
            ..LinUcbConfig::new(2)
        },
        seeded(1),
    )
    .unwrap();
    for d in log.decisions() {
        lin.update(d.action, &d.context, d.reward.unwrap()).unwrap();
    }
    let learned = log.evaluate(|x| lin.probabilities(x)).unwrap();
    assert!((learned.snips.unwrap() - truth).abs() < 0.03, "{learned:?}");
}

#[test]
fn decision_log_validates_and_round_trips() {
    let mut log = DecisionLog::new();
    let bad = LoggedDecision {
        context: vec![],
        action: 0,
        propensity: 0.0,
        reward: None,
    };
    assert!(matches!(
        log.push(bad),
        Err(RlError::InvalidParameter { .. })
    ));
    let id = log
        .push(LoggedDecision {
            context: vec![1.0],
            action: 2,
            propensity: 0.5,
            reward: None,
        })
        .unwrap();
    assert!(matches!(
        log.evaluate_deterministic(|_| Ok(2)),
        Err(RlError::InvalidParameter { .. })
    ));
    assert!(matches!(
        log.set_reward(id, f64::NAN),
        Err(RlError::NotFinite { .. })
    ));
    assert!(log.set_reward(rl::DecisionId(9), 1.0).is_err());
    log.set_reward(id, 1.0).unwrap();
    let est = log.evaluate_deterministic(|_| Ok(2)).unwrap();
    assert_eq!((est.ips, est.snips, est.matched), (2.0, Some(1.0), 1));
    let none = log.evaluate_deterministic(|_| Ok(0)).unwrap();
    assert_eq!((none.ips, none.snips, none.matched), (0.0, None, 0));
    let json = serde_json::to_string(&log).unwrap();
    let back: DecisionLog = serde_json::from_str(&json).unwrap();
    assert_eq!(back, log);
}

// 6. ------------------------------------------------------------------------------------

#[test]
fn serialisation_round_trips_exactly() {
    for mut b in all_learners(9) {
        let mut env = seeded(10);
        for t in 0..200 {
            let x = context_for(&b, t);
            let c = b.select(&x).unwrap();
            b.update(c.arm, &x, bernoulli(&mut env, TESTBED[c.arm]))
                .unwrap();
        }
        let json = b.to_json().unwrap();
        let mut restored = AnyBandit::from_json(&json).unwrap();
        assert_eq!(restored, b, "{}", b.name());
        assert_eq!(restored.name(), b.name());
        for t in 0..50 {
            let x = context_for(&b, t);
            let c1 = b.select(&x).unwrap();
            let c2 = restored.select(&x).unwrap();
            assert_eq!(c1, c2, "{}", b.name());
            b.update(c1.arm, &x, 0.5).unwrap();
            restored.update(c2.arm, &x, 0.5).unwrap();
        }
        assert_eq!(restored.values(), b.values());
    }
    // A concrete type round-trips too, and the tag names the algorithm.
    let b = beta_ts(3, 1, 0.9);
    let json = serde_json::to_string(&AnyBandit::from(b.clone())).unwrap();
    assert!(
        json.starts_with(r#"{"algorithm":"beta_thompson""#),
        "{json}"
    );
    let back: BetaThompson = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
    assert_eq!(back, b);
}

#[test]
fn configs_build_learners_and_state_is_validated_on_restore() {
    let config: BanditConfig =
        serde_json::from_str(r#"{"algorithm":"beta_thompson","discount":0.99}"#).unwrap();
    let b = config.build(3, seeded(1)).unwrap();
    assert_eq!((b.name(), b.arms()), ("beta_thompson", 3));
    let config: BanditConfig =
        serde_json::from_str(r#"{"algorithm":"lin_ucb","dimension":3}"#).unwrap();
    assert_eq!(config.build(2, seeded(1)).unwrap().name(), "lin_ucb");
    let bad: BanditConfig = serde_json::from_str(r#"{"algorithm":"ucb1","discount":1.5}"#).unwrap();
    assert!(matches!(
        bad.build(2, seeded(1)),
        Err(RlError::InvalidParameter {
            name: "discount",
            ..
        })
    ));
    // Tampered state is refused.
    let json = AnyBandit::from(eps_greedy(1, 0.1, 1.0)).to_json().unwrap();
    let tampered = json.replace(r#""epsilon":0.1"#, r#""epsilon":2.0"#);
    assert_ne!(tampered, json);
    assert!(matches!(
        AnyBandit::from_json(&tampered),
        Err(RlError::State(_))
    ));
    let lin = AnyBandit::from(LinUcb::new(1, LinUcbConfig::new(2), seeded(1)).unwrap());
    let tampered = lin
        .to_json()
        .unwrap()
        .replace(r#""dimension":2"#, r#""dimension":3"#);
    assert!(AnyBandit::from_json(&tampered).is_err());
}

#[test]
fn bad_parameters_and_inputs_are_errors() {
    let rng = || seeded(0);
    let invalid = |r: rl::Result<AnyBandit>, name: &str| match r {
        Err(RlError::InvalidParameter { name: n, .. }) => assert_eq!(n, name),
        other => panic!("{name}: {other:?}"),
    };
    let eps = |c| EpsilonGreedy::new(2, c, rng()).map(AnyBandit::from);
    invalid(
        eps(EpsilonGreedyConfig {
            epsilon: 1.5,
            ..Default::default()
        }),
        "epsilon",
    );
    invalid(
        eps(EpsilonGreedyConfig {
            epsilon: f64::NAN,
            ..Default::default()
        }),
        "epsilon",
    );
    invalid(
        eps(EpsilonGreedyConfig {
            decay: -1.0,
            ..Default::default()
        }),
        "decay",
    );
    invalid(
        eps(EpsilonGreedyConfig {
            min_epsilon: 0.5,
            ..Default::default()
        }),
        "min_epsilon",
    );
    invalid(
        eps(EpsilonGreedyConfig {
            discount: 0.0,
            ..Default::default()
        }),
        "discount",
    );
    invalid(
        Ucb1::new(
            2,
            Ucb1Config {
                exploration: -1.0,
                discount: 1.0,
            },
            rng(),
        )
        .map(Into::into),
        "exploration",
    );
    invalid(
        BetaThompson::new(
            2,
            BetaThompsonConfig {
                prior_alpha: 0.0,
                ..Default::default()
            },
            rng(),
        )
        .map(Into::into),
        "prior_alpha",
    );
    invalid(
        GaussianThompson::new(
            2,
            GaussianThompsonConfig {
                prior_scale: f64::INFINITY,
                ..Default::default()
            },
            rng(),
        )
        .map(Into::into),
        "prior_scale",
    );
    invalid(
        LinUcb::new(2, LinUcbConfig::new(0), rng()).map(Into::into),
        "dimension",
    );
    invalid(
        LinUcb::new(
            2,
            LinUcbConfig {
                ridge: 0.0,
                ..LinUcbConfig::new(2)
            },
            rng(),
        )
        .map(Into::into),
        "ridge",
    );

    for mut b in all_learners(1) {
        let x = context_for(&b, 0);
        let name = b.name();
        assert!(
            matches!(b.update(0, &x, f64::NAN), Err(RlError::NotFinite { .. })),
            "{name}"
        );
        assert!(
            matches!(
                b.update(0, &x, f64::INFINITY),
                Err(RlError::NotFinite { .. })
            ),
            "{name}"
        );
        assert!(
            matches!(b.update(99, &x, 0.5), Err(RlError::UnknownArm(_))),
            "{name}"
        );
        if matches!(b, AnyBandit::Ucb1(_) | AnyBandit::BetaThompson(_)) {
            assert!(
                matches!(b.update(0, &x, 1.5), Err(RlError::InvalidParameter { .. })),
                "{name}"
            );
        }
        // Errors leave the learner unchanged.
        assert!(b.values().iter().all(|v| v.count == 0.0), "{name}");
    }
    let mut lin = LinUcb::new(2, LinUcbConfig::new(3), rng()).unwrap();
    assert_eq!(
        lin.select(&[1.0]),
        Err(RlError::Dimension {
            expected: 3,
            got: 1
        })
    );
    assert!(matches!(
        lin.update(0, &[1.0, f64::NAN, 0.0], 1.0),
        Err(RlError::NotFinite { .. })
    ));
    let mut empty = Ucb1::new(0, Ucb1Config::default(), rng()).unwrap();
    assert_eq!(empty.select(&[]), Err(RlError::NoArms));
}

#[test]
fn added_arms_join_and_get_tried() {
    for mut b in all_learners(2) {
        let mut env = seeded(3);
        for t in 0..300 {
            let x = context_for(&b, t);
            let c = b.select(&x).unwrap();
            b.update(c.arm, &x, bernoulli(&mut env, TESTBED[c.arm]))
                .unwrap();
        }
        // A new arm better than all others.
        let new = b.add_arm();
        assert_eq!(new, TESTBED.len());
        assert_eq!(b.values().len(), TESTBED.len() + 1);
        assert_eq!(b.values()[new].count, 0.0);
        let mut picked = 0;
        for t in 0..1500 {
            let x = context_for(&b, t);
            let c = b.select(&x).unwrap();
            let mean = if c.arm == new { 0.95 } else { TESTBED[c.arm] };
            b.update(c.arm, &x, bernoulli(&mut env, mean)).unwrap();
            if t >= 1000 && c.arm == new {
                picked += 1;
            }
        }
        assert!(picked > 300, "{}: new arm {picked}/500", b.name());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any finite rewards: no panic, no NaN, estimates of unit rewards stay in [0, 1] and
    /// means of arbitrary rewards within the rewards' range.
    #[test]
    fn finite_rewards_never_break_learners(
        steps in prop::collection::vec((0usize..4, -1.0e6f64..1.0e6, 0.0f64..1.0), 1..60),
        discount in 0.05f64..=1.0,
        seed in any::<u64>(),
    ) {
        let unit = |r: f64| r.abs() / 1.0e6;
        let mut eps = EpsilonGreedy::new(4, EpsilonGreedyConfig { discount, ..Default::default() }, seeded(seed)).unwrap();
        let mut ucb = Ucb1::new(4, Ucb1Config { exploration: 1.0, discount }, seeded(seed)).unwrap();
        let mut ts = BetaThompson::new(4, BetaThompsonConfig { discount, propensity_samples: 3, ..Default::default() }, seeded(seed)).unwrap();
        let mut gts = GaussianThompson::new(4, GaussianThompsonConfig { discount, propensity_samples: 3, ..Default::default() }, seeded(seed)).unwrap();
        let mut lin = LinUcb::new(4, LinUcbConfig { discount, ..LinUcbConfig::new(2) }, seeded(seed)).unwrap();
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        let (mut ulo, mut uhi) = (f64::INFINITY, f64::NEG_INFINITY);
        for &(arm, r, x) in &steps {
            lo = lo.min(r);
            hi = hi.max(r);
            ulo = ulo.min(unit(r));
            uhi = uhi.max(unit(r));
            eps.update(arm, &[], r).unwrap();
            ucb.update(arm, &[], unit(r)).unwrap();
            ts.update(arm, &[], unit(r)).unwrap();
            gts.update(arm, &[], r).unwrap();
            lin.update(arm, &[1.0, x], r).unwrap();
            let learners: [&mut dyn Bandit; 5] = [&mut eps, &mut ucb, &mut ts, &mut gts, &mut lin];
            for b in learners {
                let ctx: &[f64] = if b.name() == "lin_ucb" { &[1.0, x] } else { &[] };
                let c = b.select(ctx).unwrap();
                prop_assert!(c.propensity > 0.0 && c.propensity <= 1.0);
                for v in b.values().into_iter().chain(b.values_for(ctx).unwrap()) {
                    prop_assert!(v.estimate.is_finite() && v.count.is_finite(), "{} {v:?}", b.name());
                    prop_assert!(v.uncertainty.is_none_or(|u| u.is_finite() && u >= 0.0), "{} {v:?}", b.name());
                }
            }
        }
        for (v, name, (lo, hi)) in eps.values().into_iter().map(|v| (v, "eps", (lo, hi)))
            .chain(ucb.values().into_iter().map(|v| (v, "ucb", (ulo, uhi))))
        {
            if v.count > 0.0 {
                let slack = 1e-9 * (hi - lo).abs().max(1.0);
                prop_assert!(v.estimate >= lo - slack && v.estimate <= hi + slack, "{name} {v:?} not in [{lo}, {hi}]");
            }
        }
        for v in ts.values() {
            prop_assert!((0.0..=1.0).contains(&v.estimate));
        }
        // The Gaussian posterior mean lies between the prior mean (0) and the data.
        for v in gts.values() {
            prop_assert!(v.estimate >= lo.min(0.0) - 1e-6 && v.estimate <= hi.max(0.0) + 1e-6, "{v:?}");
        }
    }
}

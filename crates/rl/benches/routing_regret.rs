//! Model routing as a bandit: a simulation, not a timing.
//!
//! Five models with hidden quality (success probability per task kind), a fixed cost per call
//! and a random latency. Each decision routes one task of a random kind to a model; the reward
//! is
//!
//! ```text
//! reward = success − λ_cost·cost − λ_lat·latency      (λ_cost = 0.2, λ_lat = 0.05 per second)
//! ```
//!
//! a real number, which ε-greedy and Gaussian Thompson sampling take as it is. UCB1 and
//! Beta-Thompson need rewards in `[0, 1]` and LinUCB's default exploration is made for that
//! scale, so they get it mapped affinely: `(reward + P) / (1 + P)` with `P` the largest
//! possible penalty, which changes no ordering of models.
//!
//! Regret is measured in raw reward units against the oracle that knows every model's
//! expected reward for each task kind and routes each task to the best one. Non-contextual
//! learners run in two ways: one learner per task kind ("per kind", the practical way when
//! the kinds are few), and one learner for all tasks ("blind", which can at best find the
//! single best model overall, so its regret against the per-kind oracle grows linearly).
//! LinUCB gets the kind one-hot as its context.
//!
//! Run: `cargo bench -p rl --bench routing_regret`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a simulation: fail loudly

use rand::RngExt;
use rl::{
    Bandit, BetaThompson, BetaThompsonConfig, DecisionLog, EpsilonGreedy, EpsilonGreedyConfig,
    GaussianThompson, GaussianThompsonConfig, LinUcb, LinUcbConfig, Ucb1, Ucb1Config, seeded,
};

/// A model: name, success probability per task kind, cost per call, mean latency (s).
struct Model {
    name: &'static str,
    quality: [f64; KINDS],
    cost: f64,
    latency: f64,
}

const KINDS: usize = 3;
const KIND_NAMES: [&str; KINDS] = ["code", "summary", "reasoning"];
/// How often each kind of task arrives.
const KIND_MIX: [f64; KINDS] = [0.5, 0.3, 0.2];

const MODELS: [Model; 5] = [
    Model {
        name: "small-fast",
        quality: [0.55, 0.82, 0.35],
        cost: 0.1,
        latency: 0.3,
    },
    Model {
        name: "medium",
        quality: [0.74, 0.85, 0.60],
        cost: 0.4,
        latency: 0.8,
    },
    Model {
        name: "large",
        quality: [0.88, 0.88, 0.82],
        cost: 1.0,
        latency: 2.0,
    },
    Model {
        name: "code-specialist",
        quality: [0.93, 0.60, 0.55],
        cost: 0.5,
        latency: 1.0,
    },
    Model {
        name: "reasoner",
        quality: [0.80, 0.70, 0.95],
        cost: 1.2,
        latency: 3.0,
    },
];

const LAMBDA_COST: f64 = 0.2;
const LAMBDA_LATENCY: f64 = 0.05;
/// Latency is uniform in [0.5, 1.5] × the model's mean.
const MAX_LATENCY_FACTOR: f64 = 1.5;

const HORIZON: usize = 10_000;
const CHECKPOINTS: [usize; 3] = [1_000, 5_000, 10_000];
const SEEDS: [u64; 5] = [1, 2, 3, 4, 5];

/// The largest possible penalty, for scaling rewards into [0, 1].
fn max_penalty() -> f64 {
    MODELS
        .iter()
        .map(|m| LAMBDA_COST * m.cost + LAMBDA_LATENCY * m.latency * MAX_LATENCY_FACTOR)
        .fold(0.0, f64::max)
}

fn scale(reward: f64) -> f64 {
    let p = max_penalty();
    ((reward + p) / (1.0 + p)).clamp(0.0, 1.0)
}

/// The expected raw reward of routing a task of `kind` to `model`.
fn expected(model: usize, kind: usize) -> f64 {
    let m = &MODELS[model];
    m.quality[kind] - LAMBDA_COST * m.cost - LAMBDA_LATENCY * m.latency
}

fn oracle(kind: usize) -> usize {
    (0..MODELS.len())
        .max_by(|&a, &b| expected(a, kind).total_cmp(&expected(b, kind)))
        .unwrap()
}

fn one_hot(kind: usize) -> Vec<f64> {
    let mut x = vec![0.0; KINDS];
    x[kind] = 1.0;
    x
}

/// The world: draws task kinds and outcomes.
struct World {
    rng: rl::Rng,
}

impl World {
    fn task(&mut self) -> usize {
        let u: f64 = self.rng.random();
        let mut acc = 0.0;
        for (k, &p) in KIND_MIX.iter().enumerate() {
            acc += p;
            if u < acc {
                return k;
            }
        }
        KINDS - 1
    }

    /// One call: the raw reward.
    fn call(&mut self, model: usize, kind: usize) -> f64 {
        let m = &MODELS[model];
        let success = if self.rng.random::<f64>() < m.quality[kind] {
            1.0
        } else {
            0.0
        };
        let latency = m.latency * self.rng.random_range(0.5..MAX_LATENCY_FACTOR);
        success - LAMBDA_COST * m.cost - LAMBDA_LATENCY * latency
    }
}

/// How a policy is wired to the world.
enum Router {
    /// A random model each time.
    Uniform(rl::Rng),
    /// One learner per task kind; `scaled` feeds it rewards in [0, 1].
    PerKind(Vec<Box<dyn Bandit>>, bool),
    /// One learner for every task.
    Blind(Box<dyn Bandit>, bool),
    /// One contextual learner given the kind one-hot.
    Contextual(Box<dyn Bandit>, bool),
}

impl Router {
    fn choose(&mut self, kind: usize) -> rl::Choice {
        match self {
            Router::Uniform(rng) => rl::Choice {
                arm: rng.random_range(0..MODELS.len()),
                propensity: 1.0 / MODELS.len() as f64,
            },
            Router::PerKind(bs, _) => bs[kind].select(&[]).unwrap(),
            Router::Blind(b, _) => b.select(&[]).unwrap(),
            Router::Contextual(b, _) => b.select(&one_hot(kind)).unwrap(),
        }
    }

    fn learn(&mut self, kind: usize, arm: usize, reward: f64) {
        let r = |scaled: bool| if scaled { scale(reward) } else { reward };
        match self {
            Router::Uniform(_) => {}
            Router::PerKind(bs, s) => bs[kind].update(arm, &[], r(*s)).unwrap(),
            Router::Blind(b, s) => b.update(arm, &[], r(*s)).unwrap(),
            Router::Contextual(b, s) => b.update(arm, &one_hot(kind), r(*s)).unwrap(),
        }
    }
}

type Make = fn(u64) -> Box<dyn Bandit>;

/// A table row: its label and how to build its router for a seed.
type Row = (&'static str, Box<dyn Fn(u64) -> Router>);

fn eps(seed: u64) -> Box<dyn Bandit> {
    let c = EpsilonGreedyConfig {
        epsilon: 0.1,
        ..Default::default()
    };
    Box::new(EpsilonGreedy::new(MODELS.len(), c, seeded(seed)).unwrap())
}

fn ucb(seed: u64) -> Box<dyn Bandit> {
    Box::new(Ucb1::new(MODELS.len(), Ucb1Config::default(), seeded(seed)).unwrap())
}

fn beta(seed: u64) -> Box<dyn Bandit> {
    Box::new(BetaThompson::new(MODELS.len(), BetaThompsonConfig::default(), seeded(seed)).unwrap())
}

fn gauss(seed: u64) -> Box<dyn Bandit> {
    let c = GaussianThompsonConfig::default();
    Box::new(GaussianThompson::new(MODELS.len(), c, seeded(seed)).unwrap())
}

fn per_kind(make: Make, scaled: bool) -> impl Fn(u64) -> Router {
    move |seed| {
        Router::PerKind(
            (0..KINDS as u64).map(|k| make(seed * 100 + k)).collect(),
            scaled,
        )
    }
}

fn blind(make: Make, scaled: bool) -> impl Fn(u64) -> Router {
    move |seed| Router::Blind(make(seed), scaled)
}

struct Outcome {
    /// Mean cumulative regret at each checkpoint.
    regret: [f64; 3],
    /// Standard deviation over seeds of the final regret.
    final_sd: f64,
    /// Fraction of decisions that picked the oracle's model.
    oracle_share: f64,
}

fn simulate(make: &dyn Fn(u64) -> Router, log: Option<&mut DecisionLog>) -> Outcome {
    let mut regret = [0.0; 3];
    let mut finals = Vec::new();
    let mut hits = 0usize;
    let mut log = log;
    for &seed in &SEEDS {
        let mut router = make(seed);
        let mut world = World {
            rng: seeded(seed ^ 0xC0FFEE),
        };
        let mut total = 0.0;
        for t in 1..=HORIZON {
            let kind = world.task();
            let choice = router.choose(kind);
            let best = oracle(kind);
            total += expected(best, kind) - expected(choice.arm, kind);
            if choice.arm == best {
                hits += 1;
            }
            let reward = world.call(choice.arm, kind);
            router.learn(kind, choice.arm, reward);
            if let (Some(log), 1) = (log.as_deref_mut(), seed) {
                let id = log.record(&one_hot(kind), choice).unwrap();
                log.set_reward(id, reward).unwrap();
            }
            if let Some(i) = CHECKPOINTS.iter().position(|&c| c == t) {
                regret[i] += total / SEEDS.len() as f64;
            }
        }
        finals.push(total);
    }
    let mean = finals.iter().sum::<f64>() / finals.len() as f64;
    let var = finals.iter().map(|f| (f - mean).powi(2)).sum::<f64>() / (finals.len() - 1) as f64;
    Outcome {
        regret,
        final_sd: var.sqrt(),
        oracle_share: hits as f64 / (HORIZON * SEEDS.len()) as f64,
    }
}

fn main() {
    println!(
        "Model routing: {} models, {KINDS} task kinds, reward = success − {LAMBDA_COST}·cost − {LAMBDA_LATENCY}·latency",
        MODELS.len()
    );
    println!();
    print!("{:<16} {:>5} {:>6}", "model", "cost", "lat s");
    for k in KIND_NAMES {
        print!(" {k:>10}");
    }
    println!();
    for (i, m) in MODELS.iter().enumerate() {
        print!("{:<16} {:>5.1} {:>6.1}", m.name, m.cost, m.latency);
        for k in 0..KINDS {
            let mark = if oracle(k) == i { "*" } else { " " };
            print!(" {:>9.3}{mark}", expected(i, k));
        }
        println!();
    }
    println!("(expected reward; * = the oracle's model for the kind; kinds arrive {KIND_MIX:?})");
    println!();

    let lin = |seed: u64| -> Router {
        Router::Contextual(
            Box::new(LinUcb::new(MODELS.len(), LinUcbConfig::new(KINDS), seeded(seed)).unwrap()),
            true,
        )
    };
    let rows: Vec<Row> = vec![
        (
            "uniform random",
            Box::new(|seed| Router::Uniform(seeded(seed))),
        ),
        ("eps-greedy 0.1 / kind", Box::new(per_kind(eps, false))),
        ("UCB1 / kind", Box::new(per_kind(ucb, true))),
        ("Beta-TS / kind", Box::new(per_kind(beta, true))),
        ("Gauss-TS / kind", Box::new(per_kind(gauss, false))),
        ("LinUCB one-hot", Box::new(lin)),
        ("eps-greedy blind", Box::new(blind(eps, false))),
        ("UCB1 blind", Box::new(blind(ucb, true))),
        ("Beta-TS blind", Box::new(blind(beta, true))),
        ("Gauss-TS blind", Box::new(blind(gauss, false))),
    ];

    println!(
        "Cumulative regret vs the per-kind oracle (raw reward units), mean of {} seeds:",
        SEEDS.len()
    );
    println!(
        "{:<22} {:>9} {:>9} {:>9} {:>8} {:>8}",
        "policy", "@1k", "@5k", "@10k", "sd@10k", "oracle%"
    );
    let mut uniform_log = DecisionLog::new();
    for (name, make) in &rows {
        let log = (*name == "uniform random").then_some(&mut uniform_log);
        let o = simulate(make.as_ref(), log);
        println!(
            "{:<22} {:>9.1} {:>9.1} {:>9.1} {:>8.1} {:>7.1}%",
            name,
            o.regret[0],
            o.regret[1],
            o.regret[2],
            o.final_sd,
            100.0 * o.oracle_share
        );
    }

    // Off-policy evaluation: the oracle's routing, valued from the uniform policy's log alone.
    let truth: f64 = (0..KINDS)
        .map(|k| KIND_MIX[k] * expected(oracle(k), k))
        .sum();
    let est = uniform_log
        .evaluate_deterministic(|x| {
            let kind = x.iter().position(|&v| v == 1.0).unwrap_or(0);
            Ok(oracle(kind))
        })
        .unwrap();
    println!();
    println!(
        "Off-policy value of the oracle's routing from the uniform log ({} decisions, {} matched): IPS {:.3}, SNIPS {:.3}, true {:.3}",
        est.samples,
        est.matched,
        est.ips,
        est.snips.unwrap_or(f64::NAN),
        truth
    );
}

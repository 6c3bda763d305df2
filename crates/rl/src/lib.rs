//! Reinforcement learning for agent decisions: which strategy, model or action works,
//! learned from rewards.
//!
//! - [`QLearner`]: the seed design's tabular Q-learner (`ReinforcementLearner`), made
//!   correct: states keyed by task type and complexity, ε-greedy over the *available*
//!   actions, episodes learned backwards with terminal states handled, the first visit
//!   to a pair using its reward, and save/load that round-trips exactly.
//! - [`bandit`]: one-shot decisions ("which model for this kind of task"):
//!   [`EpsilonGreedy`], [`Ucb1`], Thompson sampling ([`BetaThompson`] for success and
//!   failure, [`GaussianThompson`] for real-valued rewards) and [`LinUcb`] over a
//!   feature vector, each with optional discounting for drift, behind the object-safe
//!   [`Bandit`] trait; [`AnyBandit`] stores any of them; a [`DecisionLog`] of
//!   (context, action, propensity, reward) evaluates another policy offline (IPS,
//!   self-normalised IPS).
//! - [`Persistent`]: a learner kept in the brain's long-term store, loaded on open and
//!   saved after every change with versioned saves, so learning survives restarts with
//!   no manual save and concurrent learners never lose an update.
//!
//! Everything is pure and synchronous except [`Persistent`]; every learner takes a
//! seeded [`Rng`] (xoshiro256++) and serialises with it, so runs reproduce and a restored
//! learner continues the same random sequence.
//!
//! ```
//! use rl::{Bandit, BetaThompson, BetaThompsonConfig, seeded};
//!
//! // Three models; model 2 succeeds most often.
//! let success = [0.2, 0.5, 0.9];
//! let mut bandit = BetaThompson::new(3, BetaThompsonConfig::default(), seeded(7))?;
//! let mut world = seeded(8);
//! for _ in 0..500 {
//!     let choice = bandit.select(&[])?;
//!     let won = rand::RngExt::random::<f64>(&mut world) < success[choice.arm];
//!     bandit.update(choice.arm, &[], if won { 1.0 } else { 0.0 })?;
//! }
//! let best = bandit
//!     .values()
//!     .into_iter()
//!     .max_by(|a, b| a.estimate.total_cmp(&b.estimate))
//!     .map(|v| v.arm);
//! assert_eq!(best, Some(2));
//! # Ok::<(), rl::RlError>(())
//! ```
//!
//! Errors are one [`RlError`] enum: parameters out of range, non-finite rewards, unknown
//! arms, wrong context dimensions, unreadable saved state.

pub mod bandit;
pub mod error;
pub mod persist;
pub mod qlearning;
pub mod rng;

pub use bandit::{
    AnyBandit, ArmValue, Bandit, BanditConfig, BetaThompson, BetaThompsonConfig, Choice,
    DecisionId, DecisionLog, EpsilonGreedy, EpsilonGreedyConfig, GaussianThompson,
    GaussianThompsonConfig, LinUcb, LinUcbConfig, LoggedDecision, OffPolicyEstimate, Ucb1,
    Ucb1Config,
};
pub use error::{Result, RlError};
pub use persist::Persistent;
pub use qlearning::{Action, QLearner, QParams, State, Step};
pub use rng::{Rng, seeded};

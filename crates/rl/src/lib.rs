//! Reinforcement learning for agent decisions (documentation completed with the crate).

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

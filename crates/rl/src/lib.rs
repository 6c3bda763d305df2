//! Reinforcement learning for agent decisions (documentation completed with the crate).

pub mod error;
pub mod qlearning;
pub mod rng;

pub use error::{Result, RlError};
pub use qlearning::{Action, QLearner, QParams, State, Step};
pub use rng::{Rng, seeded};

//! Reinforcement learning for agent decisions (documentation completed with the crate).

pub mod error;
pub mod persist;
pub mod qlearning;
pub mod rng;

pub use error::{Result, RlError};
pub use persist::Persistent;
pub use qlearning::{Action, QLearner, QParams, State, Step};
pub use rng::{Rng, seeded};

//! Reinforcement learning for agent decisions (documentation completed with the crate).

pub mod error;
pub mod rng;

pub use error::{Result, RlError};
pub use rng::{Rng, seeded};

//! Reinforcement learning for agent decisions (documentation completed with the crate).

pub mod error;
pub mod persist;
pub mod rng;

pub use error::{Result, RlError};
pub use persist::Persistent;
pub use rng::{Rng, seeded};

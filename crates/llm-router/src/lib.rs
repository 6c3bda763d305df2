//! An LLM router for agents.
//!
//! (Crate documentation is completed with the router; see README.md.)

pub mod error;
pub mod http;
pub mod provider;
pub mod providers;

pub use error::{LlmError, Result};
pub use provider::{ChatStream, Provider, StreamEvent, collect_stream, required_model};

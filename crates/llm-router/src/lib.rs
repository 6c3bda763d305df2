//! An LLM router for agents.
//!
//! (Crate documentation is completed with the router; see README.md.)

pub mod config;
pub mod error;
pub mod http;
pub mod layers;
pub mod provider;
pub mod providers;
pub mod registry;
pub mod router;
pub mod routing;

pub use config::{LlmConfig, ProviderConfig};
pub use error::{LlmError, Result};
pub use layers::{CircuitBreakerLayer, Layer, Resilience, RetryLayer, TimeoutLayer};
pub use provider::{ChatStream, Provider, StreamEvent, collect_stream, required_model};
pub use registry::{Capability, ModelInfo, Registry};
pub use router::{
    Attempt, DeploymentStats, Routed, RoutedEmbedder, RoutedModel, RoutedStream, Router,
    RouterBuilder,
};
pub use routing::{
    Complexity, Condition, RouteRequest, RoutingDecision, RoutingTable, Rule, Target, TaskType,
};

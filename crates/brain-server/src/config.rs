//! The `[serve]` section of the brain's configuration file.
//!
//! ```toml
//! [serve]
//! max_body_bytes = 1048576      # larger bodies get 413
//! request_timeout_secs = 300    # a request running longer gets 503
//! shutdown_grace_secs = 30      # in-flight requests get this long to finish on shutdown
//! allowed_hosts = ["brain.internal"]  # Host/Origin names accepted besides loopback
//!
//! [[serve.tokens]]
//! name = "alice-laptop"
//! sha256 = "…"                  # `brain token new` prints it; or env = "BRAIN_TOKEN_ALICE"
//! user = "alice"
//! access = "read_write"
//! ```
//!
//! `BRAIN_SERVE__MAX_BODY_BYTES`, `BRAIN_SERVE__REQUEST_TIMEOUT_SECS` and
//! `BRAIN_SERVE__SHUTDOWN_GRACE_SECS` override the file.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::auth::{TokenConfig, Tokens};
use crate::error::ApiError;

/// How the server runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// The largest request body accepted, in bytes (413 above).
    pub max_body_bytes: usize,
    /// How long one request may run.
    pub request_timeout_secs: u64,
    /// How long in-flight requests may run on after a shutdown signal.
    pub shutdown_grace_secs: u64,
    /// Host names (or `host:port`) every route accepts in `Host` and `Origin` besides
    /// loopback ones and the bound address, for a server reached by name; guards against
    /// DNS rebinding.
    pub allowed_hosts: Vec<String>,
    /// Bearer tokens and the scopes they are bound to.
    pub tokens: Vec<TokenConfig>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            max_body_bytes: 1024 * 1024,
            request_timeout_secs: 300,
            shutdown_grace_secs: 30,
            allowed_hosts: Vec::new(),
            tokens: Vec::new(),
        }
    }
}

impl ServeConfig {
    /// Reads the `[serve]` section as the brain's configuration loaded it
    /// ([`brain::BrainConfig::serve`]).
    pub fn from_section(section: &Map<String, Value>) -> Result<Self, ApiError> {
        let c: ServeConfig = serde_json::from_value(Value::Object(section.clone()))
            .map_err(|e| ApiError::invalid(format!("configuration error: serve: {e}")))?;
        c.validate()?;
        Ok(c)
    }

    /// Rejects values no server can run with.
    pub fn validate(&self) -> Result<(), ApiError> {
        if !(1024..=1024 * 1024 * 1024).contains(&self.max_body_bytes) {
            return Err(ApiError::invalid(format!(
                "configuration error: serve.max_body_bytes must be in 1024..=1073741824, not {}",
                self.max_body_bytes
            )));
        }
        if self.request_timeout_secs == 0 {
            return Err(ApiError::invalid(
                "configuration error: serve.request_timeout_secs must be at least 1",
            ));
        }
        Ok(())
    }

    /// The request timeout.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// The shutdown grace period.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// The configured tokens, with `env` ones read from the process environment.
    pub fn tokens(&self) -> Result<Tokens, ApiError> {
        Tokens::from_config(&self.tokens, |var| std::env::var(var).ok())
    }
}

/// Refuses to serve beyond loopback without tokens: anyone who can reach the port could
/// otherwise read every memory.
pub fn check_bind(addr: SocketAddr, tokens: &Tokens) -> Result<(), ApiError> {
    if !addr.ip().is_loopback() && tokens.is_empty() {
        return Err(ApiError::invalid(format!(
            "refusing to serve on {addr} without a bearer token: bind to 127.0.0.1 or ::1, or add [[serve.tokens]] to the configuration (`brain token new` makes one)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_round_trips_and_rejects_unknown_keys() -> Result<(), ApiError> {
        let mut m = Map::new();
        m.insert("max_body_bytes".into(), Value::from(4096));
        let c = ServeConfig::from_section(&m)?;
        assert_eq!(c.max_body_bytes, 4096);
        assert_eq!(c.request_timeout_secs, 300);
        m.insert("max_body_byte".into(), Value::from(1));
        let e = ServeConfig::from_section(&m);
        assert!(e.is_err_and(|e| e.message.contains("max_body_byte")));
        let mut tiny = Map::new();
        tiny.insert("max_body_bytes".into(), Value::from(10));
        assert!(ServeConfig::from_section(&tiny).is_err());
        Ok(())
    }

    #[test]
    fn beyond_loopback_needs_tokens() -> Result<(), Box<dyn std::error::Error>> {
        let none = Tokens::none();
        assert!(check_bind("127.0.0.1:0".parse()?, &none).is_ok());
        assert!(check_bind("[::1]:0".parse()?, &none).is_ok());
        let e = check_bind("0.0.0.0:7777".parse()?, &none);
        assert!(e.is_err_and(|e| e.message.contains("without a bearer token")));
        Ok(())
    }
}

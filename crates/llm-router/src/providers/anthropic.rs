//! Anthropic's Messages API over reqwest (there is no maintained Rust SDK): chat, and
//! streaming over server-sent events.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::http::HttpOptions;

/// How to reach Anthropic.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnthropicConfig {
    /// The provider's name in the routing table.
    pub name: String,
    /// The API base, `https://api.anthropic.com`.
    pub base_url: String,
    /// The API key; prefer `api_key_env`.
    #[serde(skip_serializing)]
    pub api_key: Option<SecretString>,
    /// The environment variable holding the API key.
    pub api_key_env: Option<String>,
    /// The `anthropic-version` header.
    pub version: String,
    /// `max_tokens` when a request sets none (the API requires one).
    pub default_max_tokens: u32,
}

impl Default for AnthropicConfig {
    fn default() -> Self {
        AnthropicConfig {
            name: "anthropic".to_owned(),
            base_url: "https://api.anthropic.com".to_owned(),
            api_key: None,
            api_key_env: Some("ANTHROPIC_API_KEY".to_owned()),
            version: "2023-06-01".to_owned(),
            default_max_tokens: 4096,
        }
    }
}

/// Anthropic as a [`crate::Provider`].
#[derive(Debug, Clone)]
pub struct AnthropicProvider {
    config: AnthropicConfig,
    client: reqwest::Client,
}

impl AnthropicProvider {
    /// A provider for `config`.
    pub fn new(config: AnthropicConfig, http: &HttpOptions) -> Result<Self> {
        Ok(AnthropicProvider {
            client: crate::http::client(http)?,
            config,
        })
    }
}

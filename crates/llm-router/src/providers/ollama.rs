//! Ollama: chat (plain and streamed NDJSON), embeddings and the model list, speaking
//! Ollama's HTTP API with ollama-rs's protocol types.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::http::HttpOptions;

/// How to reach an Ollama server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OllamaConfig {
    /// The provider's name in the routing table.
    pub name: String,
    /// The server, e.g. `http://localhost:11434`.
    pub base_url: String,
}

impl Default for OllamaConfig {
    fn default() -> Self {
        OllamaConfig {
            name: "ollama".to_owned(),
            base_url: "http://localhost:11434".to_owned(),
        }
    }
}

/// An Ollama server as a [`crate::Provider`].
#[derive(Debug, Clone)]
pub struct OllamaProvider {
    config: OllamaConfig,
    client: reqwest::Client,
}

impl OllamaProvider {
    /// A provider for the server in `config`.
    pub fn new(config: OllamaConfig, http: &HttpOptions) -> Result<Self> {
        Ok(OllamaProvider {
            client: crate::http::client(http)?,
            config,
        })
    }
}

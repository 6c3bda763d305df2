//! OpenAI and OpenAI-compatible servers (LM Studio, vLLM, llama.cpp's server) through
//! async-openai, with a configurable base URL.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::http::HttpOptions;

/// How to reach an OpenAI-compatible server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OpenAiConfig {
    /// The provider's name in the routing table, e.g. `openai` or `lmstudio`.
    pub name: String,
    /// The API base, e.g. `https://api.openai.com/v1` or `http://localhost:1234/v1`.
    pub base_url: String,
    /// The API key; prefer `api_key_env`. Local servers need none.
    #[serde(skip_serializing)]
    pub api_key: Option<SecretString>,
    /// The environment variable holding the API key.
    pub api_key_env: Option<String>,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        OpenAiConfig {
            name: "openai".to_owned(),
            base_url: "https://api.openai.com/v1".to_owned(),
            api_key: None,
            api_key_env: Some("OPENAI_API_KEY".to_owned()),
        }
    }
}

impl OpenAiConfig {
    /// LM Studio's local server at its default address, with no key.
    pub fn lm_studio() -> Self {
        OpenAiConfig {
            name: "lmstudio".to_owned(),
            base_url: "http://localhost:1234/v1".to_owned(),
            api_key: None,
            api_key_env: None,
        }
    }
}

/// An OpenAI-compatible server as a [`crate::Provider`].
#[derive(Debug, Clone)]
pub struct OpenAiProvider {
    name: String,
}

impl OpenAiProvider {
    /// A provider for the server in `config`.
    pub fn new(config: OpenAiConfig, http: &HttpOptions) -> Result<Self> {
        let _ = http;
        Ok(OpenAiProvider { name: config.name })
    }
}

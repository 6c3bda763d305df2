//! Configuration: providers, resilience, the routing table and registry entries, as one
//! serde structure that an application embeds in its own TOML.
//!
//! ```toml
//! [llm]
//! local_model = "llama3.1:8b"          # the seed's settings.ollama_model
//!
//! [[llm.providers]]
//! kind = "ollama"
//! base_url = "http://localhost:11434"
//!
//! [[llm.providers]]
//! kind = "openai"
//! name = "lmstudio"
//! base_url = "http://localhost:1234/v1"
//!
//! [[llm.providers]]
//! kind = "anthropic"                   # key from ANTHROPIC_API_KEY
//!
//! [llm.resilience]
//! max_retries = 2
//! ```

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{LlmError, Result};
use crate::http::HttpOptions;
use crate::layers::Resilience;
use crate::provider::Provider;
use crate::registry::{ModelInfo, Registry};
use crate::router::Router;
use crate::routing::{RoutingTable, Rule, SEED_LOCAL_MODEL};

/// One provider to configure, by kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProviderConfig {
    /// An Ollama server.
    #[cfg(feature = "ollama")]
    Ollama(crate::providers::ollama::OllamaConfig),
    /// OpenAI or an OpenAI-compatible server.
    #[cfg(feature = "openai")]
    Openai(crate::providers::openai::OpenAiConfig),
    /// Anthropic.
    #[cfg(feature = "anthropic")]
    Anthropic(crate::providers::anthropic::AnthropicConfig),
}

impl ProviderConfig {
    /// The provider, unwrapped (no resilience layers).
    pub fn build(&self, http: &HttpOptions) -> Result<Arc<dyn Provider>> {
        #[allow(unreachable_patterns)]
        match self {
            #[cfg(feature = "ollama")]
            ProviderConfig::Ollama(c) => Ok(Arc::new(
                crate::providers::ollama::OllamaProvider::new(c.clone(), http)?,
            )),
            #[cfg(feature = "openai")]
            ProviderConfig::Openai(c) => Ok(Arc::new(
                crate::providers::openai::OpenAiProvider::new(c.clone(), http)?,
            )),
            #[cfg(feature = "anthropic")]
            ProviderConfig::Anthropic(c) => Ok(Arc::new(
                crate::providers::anthropic::AnthropicProvider::new(c.clone(), http)?,
            )),
            _ => {
                let _ = http;
                Err(LlmError::Config(
                    "this provider kind is not compiled in".into(),
                ))
            }
        }
    }
}

/// The router's configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// The local chat model of the seed's table (`settings.ollama_model`);
    /// `llama3.1:8b` when unset.
    pub local_model: Option<String>,
    /// The providers. None means no LLM: memory still works, reasoning says so.
    pub providers: Vec<ProviderConfig>,
    /// Timeouts, retries and circuit breaking for every provider.
    pub resilience: Resilience,
    /// Seconds to connect to a server.
    pub connect_timeout_secs: Option<f64>,
    /// A routing table to use instead of the seed's.
    pub routes: Option<Vec<Rule>>,
    /// Models to add to the seed's registry, or to override in it.
    pub models: Vec<ModelInfo>,
}

impl LlmConfig {
    /// Whether any provider is configured.
    pub fn is_configured(&self) -> bool {
        !self.providers.is_empty()
    }

    /// The local model name in effect.
    pub fn local_model(&self) -> &str {
        self.local_model.as_deref().unwrap_or(SEED_LOCAL_MODEL)
    }

    /// The routing table in effect.
    pub fn table(&self) -> RoutingTable {
        match &self.routes {
            Some(rules) => RoutingTable {
                rules: rules.clone(),
            },
            None => RoutingTable::seed(self.local_model()),
        }
    }

    /// The registry in effect.
    pub fn registry(&self) -> Registry {
        let mut registry = Registry::seed(self.local_model());
        for m in &self.models {
            registry.insert(m.clone());
        }
        registry
    }

    /// The router: every provider wrapped in the resilience layers. Fails with
    /// [`LlmError::NotConfigured`] when there is no provider, and with
    /// [`LlmError::Config`] for two providers of one name or an invalid table.
    pub fn build(&self) -> Result<Router> {
        if !self.is_configured() {
            return Err(LlmError::NotConfigured);
        }
        let mut http = HttpOptions::default();
        if let Some(s) = self.connect_timeout_secs {
            if !(s.is_finite() && s > 0.0 && s < 1e6) {
                return Err(LlmError::Config(format!(
                    "connect_timeout_secs must be positive, got {s}"
                )));
            }
            http.connect_timeout = Duration::from_secs_f64(s);
        }
        let mut builder = Router::builder()
            .table(self.table())
            .registry(self.registry());
        let mut names = std::collections::BTreeSet::new();
        for p in &self.providers {
            let provider = p.build(&http)?;
            if !names.insert(provider.name().to_owned()) {
                return Err(LlmError::Config(format!(
                    "two providers are named `{}`; give one a different `name`",
                    provider.name()
                )));
            }
            builder = builder.provider(self.resilience.apply(provider)?);
        }
        builder.build()
    }
}

#[cfg(any(feature = "openai", feature = "anthropic"))]
fn same_key(a: Option<&secrecy::SecretString>, b: Option<&secrecy::SecretString>) -> bool {
    use secrecy::ExposeSecret;
    a.map(ExposeSecret::expose_secret) == b.map(ExposeSecret::expose_secret)
}

// By hand, because `SecretString` deliberately has no `PartialEq`.
#[cfg(feature = "openai")]
impl PartialEq for crate::providers::openai::OpenAiConfig {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name
            && self.base_url == o.base_url
            && self.api_key_env == o.api_key_env
            && same_key(self.api_key.as_ref(), o.api_key.as_ref())
    }
}

#[cfg(feature = "anthropic")]
impl PartialEq for crate::providers::anthropic::AnthropicConfig {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name
            && self.base_url == o.base_url
            && self.api_key_env == o.api_key_env
            && self.version == o.version
            && self.default_max_tokens == o.default_max_tokens
            && same_key(self.api_key.as_ref(), o.api_key.as_ref())
    }
}

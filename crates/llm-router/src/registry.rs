//! The model registry: what each deployment can hold, what it costs and what it can do.

use std::collections::BTreeMap;

use memory_core::Usage;
use serde::{Deserialize, Serialize};

use crate::error::{LlmError, Result};
use crate::routing::Target;

/// Something a model can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// Chat completions.
    Chat,
    /// Streamed chat.
    Streaming,
    /// A native JSON mode.
    Json,
    /// Text embeddings.
    Embeddings,
    /// Tool calls.
    Tools,
    /// Image input.
    Vision,
}

/// What the router knows about one model of one provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelInfo {
    /// The provider's name, as in the routing table.
    pub provider: String,
    /// The model's name at that provider.
    pub model: String,
    /// Tokens the model holds, prompt and answer together.
    pub context_window: u64,
    /// Most tokens it generates in one answer, if limited below the window.
    #[serde(default)]
    pub max_output_tokens: Option<u64>,
    /// US dollars per million prompt tokens (0 for local models).
    #[serde(default)]
    pub input_usd_per_mtok: f64,
    /// US dollars per million generated tokens (0 for local models).
    #[serde(default)]
    pub output_usd_per_mtok: f64,
    /// Whether it runs on this machine or network (no API cost, no data leaves).
    #[serde(default)]
    pub local: bool,
    /// What it can do.
    #[serde(default)]
    pub capabilities: Vec<Capability>,
    /// The output dimension, for embedding models.
    #[serde(default)]
    pub embedding_dimension: Option<usize>,
}

impl ModelInfo {
    /// The deployment this describes.
    pub fn target(&self) -> Target {
        Target::new(&self.provider, &self.model)
    }

    /// What `usage` costs on this model, in US dollars.
    pub fn cost(&self, usage: &Usage) -> f64 {
        (usage.input_tokens as f64 * self.input_usd_per_mtok
            + usage.output_tokens as f64 * self.output_usd_per_mtok)
            / 1_000_000.0
    }

    /// Whether it can do `capability`.
    pub fn can(&self, capability: Capability) -> bool {
        self.capabilities.contains(&capability)
    }
}

/// The models the router knows, keyed by provider and model.
///
/// [`Registry::seed`] holds the models of the seed's routing table with their published
/// context windows and list prices; configuration adds to it or overrides it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Registry {
    models: BTreeMap<(String, String), ModelInfo>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// The seed's models: Claude Sonnet 4 and GPT-4o in the cloud; Llama 3.1 8B,
    /// DeepSeek Coder 33B and nomic-embed-text on Ollama; LM Studio's loaded model.
    /// `local_model` is the seed's `settings.ollama_model` (Llama 3.1 8B by default).
    pub fn seed(local_model: &str) -> Self {
        use Capability::*;
        let mut r = Registry::new();
        let chat = |provider: &str,
                    model: &str,
                    window: u64,
                    out: Option<u64>,
                    usd: (f64, f64),
                    local: bool,
                    caps: &[Capability]| ModelInfo {
            provider: provider.to_owned(),
            model: model.to_owned(),
            context_window: window,
            max_output_tokens: out,
            input_usd_per_mtok: usd.0,
            output_usd_per_mtok: usd.1,
            local,
            capabilities: caps.to_vec(),
            embedding_dimension: None,
        };
        r.insert(chat(
            "anthropic",
            "claude-sonnet-4-20250514",
            200_000,
            Some(64_000),
            (3.0, 15.0),
            false,
            &[Chat, Streaming, Tools, Vision],
        ));
        r.insert(chat(
            "openai",
            "gpt-4o",
            128_000,
            Some(16_384),
            (2.5, 10.0),
            false,
            &[Chat, Streaming, Json, Tools, Vision],
        ));
        r.insert(chat(
            "ollama",
            "llama3.1:8b",
            131_072,
            None,
            (0.0, 0.0),
            true,
            &[Chat, Streaming, Json, Tools],
        ));
        if local_model != "llama3.1:8b" {
            // Unknown size: assume the common 8k window until configuration says more.
            r.insert(chat(
                "ollama",
                local_model,
                8_192,
                None,
                (0.0, 0.0),
                true,
                &[Chat, Streaming, Json],
            ));
        }
        r.insert(chat(
            "ollama",
            "deepseek-coder:33b",
            16_384,
            None,
            (0.0, 0.0),
            true,
            &[Chat, Streaming, Json],
        ));
        r.insert(chat(
            "lmstudio",
            "local-model",
            8_192,
            None,
            (0.0, 0.0),
            true,
            &[Chat, Streaming, Json],
        ));
        let mut embed = chat(
            "ollama",
            "nomic-embed-text",
            8_192,
            None,
            (0.0, 0.0),
            true,
            &[Embeddings],
        );
        embed.embedding_dimension = Some(768);
        r.insert(embed);
        r
    }

    /// Adds or replaces a model.
    pub fn insert(&mut self, info: ModelInfo) {
        self.models
            .insert((info.provider.clone(), info.model.clone()), info);
    }

    /// What is known about `target`.
    pub fn get(&self, target: &Target) -> Option<&ModelInfo> {
        self.models
            .get(&(target.provider.clone(), target.model.clone()))
    }

    /// Every model, ordered by provider and name.
    pub fn models(&self) -> impl Iterator<Item = &ModelInfo> {
        self.models.values()
    }

    /// The cost of `usage` on `target`; `None` when the model is not registered.
    pub fn cost(&self, target: &Target, usage: &Usage) -> Option<f64> {
        self.get(target).map(|m| m.cost(usage))
    }

    /// Checks that `needed` tokens fit `target`'s window. Unregistered models pass: the
    /// server will say if they do not fit.
    pub fn check_fits(&self, target: &Target, needed: u64) -> Result<()> {
        match self.get(target) {
            Some(info) if needed > info.context_window => Err(LlmError::ContextWindowExceeded {
                model: target.to_string(),
                needed,
                window: info.context_window,
            }),
            _ => Ok(()),
        }
    }

    /// Checks every entry: names present, windows positive, prices finite and not negative.
    pub fn validate(&self) -> Result<()> {
        for m in self.models.values() {
            if m.provider.trim().is_empty() || m.model.trim().is_empty() {
                return Err(LlmError::Config(
                    "a registered model needs a provider and a model name".into(),
                ));
            }
            if m.context_window == 0 {
                return Err(LlmError::Config(format!(
                    "{}: context_window must be positive",
                    m.target()
                )));
            }
            for (field, v) in [
                ("input_usd_per_mtok", m.input_usd_per_mtok),
                ("output_usd_per_mtok", m.output_usd_per_mtok),
            ] {
                if !v.is_finite() || v < 0.0 {
                    return Err(LlmError::Config(format!(
                        "{}: {field} must be a finite non-negative number, got {v}",
                        m.target()
                    )));
                }
            }
        }
        Ok(())
    }
}

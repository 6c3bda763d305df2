//! The providers: Ollama, OpenAI-compatible servers and Anthropic, each behind its
//! cargo feature, each implementing [`crate::Provider`] over HTTP.

use secrecy::SecretString;

#[cfg(feature = "anthropic")]
pub mod anthropic;
#[cfg(feature = "ollama")]
pub mod ollama;
#[cfg(feature = "openai")]
pub mod openai;

/// The API key to use: the one given in configuration, else the environment variable
/// `env` if set and not empty. Keys stay wrapped in [`SecretString`], whose `Debug`
/// prints `[REDACTED]`, so they never reach a log.
pub fn resolve_key(explicit: Option<&SecretString>, env: Option<&str>) -> Option<SecretString> {
    if let Some(key) = explicit {
        return Some(key.clone());
    }
    let value = std::env::var(env?).ok()?;
    (!value.trim().is_empty()).then(|| SecretString::from(value.trim().to_owned()))
}

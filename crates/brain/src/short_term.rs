//! Short-term memory kept in the process: working variables with TTL and context windows.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use memory_core::{
    ContextMessage, Error, Result, Scope, ShortTermMemory, WindowLimit, estimate_tokens,
};
use serde_json::Value;

/// Short-term memory in this process's heap: fast, lost on exit, shared by every task of
/// the process. For memory shared between processes use a Redis backend.
///
/// Expired variables are dropped lazily when read, listed or overwritten.
#[derive(Debug, Default)]
pub struct InProcessShortTerm {
    scopes: Mutex<HashMap<Scope, ScopeState>>,
}

#[derive(Debug, Default)]
struct ScopeState {
    vars: BTreeMap<String, (Value, Option<Instant>)>,
    window: VecDeque<ContextMessage>,
    window_tokens: usize,
}

impl InProcessShortTerm {
    /// An empty short-term memory.
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut HashMap<Scope, ScopeState>) -> T) -> Result<T> {
        let mut guard = self.scopes.lock().map_err(|_| Error::Backend {
            message: "short-term memory lock poisoned by a panicked task".into(),
            source: None,
        })?;
        Ok(f(&mut guard))
    }
}

fn live(expiry: &Option<Instant>, now: Instant) -> bool {
    expiry.is_none_or(|at| at > now)
}

fn check_key(key: &str) -> Result<()> {
    memory_core::validate::key("key", key)?;
    Ok(())
}

#[async_trait]
impl ShortTermMemory for InProcessShortTerm {
    async fn set(
        &self,
        scope: &Scope,
        key: &str,
        value: Value,
        ttl: Option<Duration>,
    ) -> Result<()> {
        scope.validate()?;
        check_key(key)?;
        let expiry = ttl.map(|d| Instant::now() + d);
        self.with(|m| {
            m.entry(scope.clone())
                .or_default()
                .vars
                .insert(key.to_owned(), (value, expiry));
        })
    }

    async fn get(&self, scope: &Scope, key: &str) -> Result<Option<Value>> {
        let now = Instant::now();
        self.with(|m| {
            let s = m.get_mut(scope)?;
            match s.vars.get(key) {
                Some((v, exp)) if live(exp, now) => Some(v.clone()),
                Some(_) => {
                    s.vars.remove(key);
                    None
                }
                None => None,
            }
        })
    }

    async fn remove(&self, scope: &Scope, key: &str) -> Result<bool> {
        let now = Instant::now();
        self.with(|m| {
            m.get_mut(scope)
                .and_then(|s| s.vars.remove(key))
                .is_some_and(|(_, exp)| live(&exp, now))
        })
    }

    async fn keys(&self, scope: &Scope) -> Result<Vec<String>> {
        let now = Instant::now();
        self.with(|m| match m.get_mut(scope) {
            Some(s) => {
                s.vars.retain(|_, (_, exp)| live(exp, now));
                s.vars.keys().cloned().collect()
            }
            None => Vec::new(),
        })
    }

    async fn push_message(
        &self,
        scope: &Scope,
        message: ContextMessage,
        limit: WindowLimit,
    ) -> Result<()> {
        scope.validate()?;
        memory_core::validate::text("message", &message.content)?;
        if limit.max_messages == 0 {
            return Err(Error::InvalidInput(
                memory_core::ValidationError::OutOfRange {
                    field: "max_messages",
                    value: 0.0,
                    min: 1.0,
                    max: usize::MAX as f64,
                },
            ));
        }
        self.with(|m| {
            let s = m.entry(scope.clone()).or_default();
            s.window_tokens += estimate_tokens(&message.content);
            s.window.push_back(message);
            // The newest message always stays, even alone over the token budget.
            while s.window.len() > 1
                && (s.window.len() > limit.max_messages
                    || limit.max_tokens.is_some_and(|t| s.window_tokens > t))
            {
                if let Some(old) = s.window.pop_front() {
                    s.window_tokens -= estimate_tokens(&old.content);
                }
            }
        })
    }

    async fn window(&self, scope: &Scope) -> Result<Vec<ContextMessage>> {
        self.with(|m| {
            m.get(scope)
                .map(|s| s.window.iter().cloned().collect())
                .unwrap_or_default()
        })
    }

    async fn clear(&self, scope: &Scope) -> Result<()> {
        self.with(|m| {
            m.remove(scope);
        })
    }
}

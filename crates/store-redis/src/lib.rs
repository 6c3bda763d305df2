//! # store-redis
//!
//! Short-term memory for AI agents on Redis, behind [`memory_core::ShortTermMemory`]:
//! working variables with TTLs and context windows bounded by message count and token
//! budget, isolated per [`Scope`], and shared by every brain process that connects to the
//! same server with the same key prefix. The in-process implementation in `brain` keeps
//! the same contract in one process's heap; this one lets several processes (workers
//! behind a load balancer, a CLI beside a server) see one session's state.
//!
//! ## Design
//!
//! - **One connection, reconnecting.** [`RedisShortTerm`] holds a redis
//!   [`ConnectionManager`]: one multiplexed connection, cheap to clone, re-established in
//!   the background after it drops. A call that fails because the server is out of reach
//!   returns [`memory_core::ErrorKind::Unavailable`] and is never retried here, since a
//!   push may have been applied before the connection dropped.
//! - **Injective keys.** Every key of a scope starts with `<prefix>:{<tag>}`, where the
//!   tag ([`layout::scope_tag`]) is an injective, brace-free encoding of the scope, so no
//!   two scopes ever share a key, whatever their parts contain. See [`layout`].
//! - **TTLs by Redis.** A variable is one string key, with `PX` expiry when it has a TTL;
//!   a sorted set indexes the names so `keys` lists exactly the live ones (Redis 7.0 has
//!   no per-field expiry in hashes).
//! - **Atomic windows.** A push appends and trims (by count, then by token budget) in one
//!   Lua script, so concurrent pushers in any number of processes never leave a window
//!   over its limits and never lose a message that fits.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use memory_core::{ContextMessage, Role, Scope, ShortTermMemory, Timestamp, WindowLimit};
//! use serde_json::json;
//! use store_redis::{RedisOptions, RedisShortTerm};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let stm = RedisShortTerm::connect_with(
//!     "redis://127.0.0.1:6379",
//!     RedisOptions::default().with_prefix("myapp"),
//! )
//! .await?;
//!
//! let session = Scope::user("alice").with_session("s1");
//! stm.set(&session, "task", json!({"step": 1}), Some(Duration::from_secs(600))).await?;
//! stm.push_message(
//!     &session,
//!     ContextMessage { role: Role::User, content: "deploy to staging".into(), at: Timestamp::now() },
//!     WindowLimit { max_messages: 50, max_tokens: Some(4_000) },
//! )
//! .await?;
//!
//! // Another process connected to the same server and prefix sees both.
//! assert_eq!(stm.get(&session, "task").await?, Some(json!({"step": 1})));
//! assert_eq!(stm.window(&session).await?.len(), 1);
//! stm.clear(&session).await?;
//! # Ok(()) }
//! ```

pub mod layout;
mod scripts;

use std::time::Duration;

use async_trait::async_trait;
use memory_core::{
    ContextMessage, Error, Result, Scope, ShortTermMemory, ValidationError, WindowLimit,
    estimate_tokens,
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, RedisError};
use serde_json::Value;

use crate::layout::ScopeKeys;

/// The longest TTL passed to Redis, in milliseconds (2^50 ms, about 35,000 years);
/// longer ones are clamped to it. It keeps expiry times exact in Lua's doubles.
pub const MAX_TTL_MS: u64 = 1 << 50;

/// How [`RedisShortTerm::connect_with`] connects and names its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// Starts every key, so several applications (or test runs) can share one server.
    /// Non-empty, printable, at most 512 bytes, without `{` or `}`. Default `"brain"`.
    pub prefix: String,
    /// How long one attempt to connect may take. Default 5 s.
    pub connection_timeout: Duration,
    /// How long a command may wait for its reply before failing as unavailable (the
    /// command may still have run). Default 5 s.
    pub response_timeout: Duration,
    /// How many times to retry connecting, with exponential backoff from 100 ms, before
    /// a call fails as unavailable. Default 3.
    pub reconnect_retries: usize,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            prefix: "brain".to_owned(),
            connection_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(5),
            reconnect_retries: 3,
        }
    }
}

impl RedisOptions {
    /// These options with another key prefix.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

/// Short-term memory on a Redis server (7.0 or later), shared by every process that
/// connects to it with the same key prefix.
///
/// Cheap to clone: clones share one multiplexed connection.
#[derive(Clone)]
pub struct RedisShortTerm {
    con: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisShortTerm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The connection's debug output holds the URL, password included: leave it out.
        f.debug_struct("RedisShortTerm")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisShortTerm {
    /// Connects to the server at `url` (`redis://[user:password@]host[:port][/db]`) with
    /// the default options (key prefix `"brain"`).
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, RedisOptions::default()).await
    }

    /// Connects to the server at `url` with `options`.
    ///
    /// A malformed URL or prefix is [`Error::InvalidInput`]; a server out of reach is
    /// [`Error::Unavailable`].
    pub async fn connect_with(url: &str, options: RedisOptions) -> Result<Self> {
        layout::check_prefix(&options.prefix)?;
        let client = redis::Client::open(url).map_err(|e| {
            Error::InvalidInput(ValidationError::Other(format!(
                "invalid Redis URL: {}",
                e.detail().unwrap_or(e.category())
            )))
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.connection_timeout))
            .set_response_timeout(Some(options.response_timeout))
            .set_number_of_retries(options.reconnect_retries);
        let con = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| map_err("connect to Redis", e))?;
        Ok(RedisShortTerm {
            con,
            prefix: options.prefix,
        })
    }

    /// The key prefix in use.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The Redis keys of `scope` under this store's prefix.
    pub fn keys_of(&self, scope: &Scope) -> ScopeKeys {
        ScopeKeys::new(&self.prefix, scope)
    }

    /// Checks the server answers (a `PING`).
    pub async fn ping(&self) -> Result<()> {
        let mut con = self.con.clone();
        let _: String = redis::cmd("PING")
            .query_async(&mut con)
            .await
            .map_err(|e| map_err("ping", e))?;
        Ok(())
    }
}

/// Maps a redis error onto the port's kinds: anything about reaching the server
/// (I/O, timeouts, a server loading or failing over) is unavailable; the rest (a script
/// error, a wrong type at a key, refused authentication) is a backend error.
fn map_err(what: &str, e: RedisError) -> Error {
    use redis::{ErrorKind as K, ServerErrorKind as S};
    let unavailable = e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || matches!(
            e.kind(),
            K::ClusterConnectionNotFound
                | K::Server(
                    S::BusyLoading | S::TryAgain | S::ClusterDown | S::MasterDown | S::ReadOnly
                )
        );
    let message = format!("Redis: {what}: {e}");
    if unavailable {
        Error::unavailable(message, e)
    } else {
        Error::backend(message, e)
    }
}

fn corrupt(what: String, e: serde_json::Error) -> Error {
    Error::backend(
        format!("Redis: {what} holds data that is not valid JSON"),
        e,
    )
}

/// A TTL in Redis milliseconds: `None` for none, 0 for "already expired", sub-millisecond
/// TTLs rounded up to 1 ms, huge ones clamped to [`MAX_TTL_MS`].
fn ttl_millis(ttl: Option<Duration>) -> i64 {
    match ttl {
        None => -1,
        Some(d) if d.is_zero() => 0,
        Some(d) => {
            let ms = d.as_nanos().div_ceil(1_000_000).min(u128::from(MAX_TTL_MS));
            i64::try_from(ms).unwrap_or(i64::MAX)
        }
    }
}

#[async_trait]
impl ShortTermMemory for RedisShortTerm {
    async fn set(
        &self,
        scope: &Scope,
        key: &str,
        value: Value,
        ttl: Option<Duration>,
    ) -> Result<()> {
        scope.validate()?;
        memory_core::validate::key("key", key)?;
        let json = serde_json::to_string(&value)
            .map_err(|e| Error::backend("serialising a variable", e))?;
        let keys = self.keys_of(scope);
        let mut con = self.con.clone();
        let _: i64 = scripts::set()
            .key(keys.variable(key))
            .key(keys.index())
            .arg(key)
            .arg(json)
            .arg(ttl_millis(ttl))
            .invoke_async(&mut con)
            .await
            .map_err(|e| map_err("set a variable", e))?;
        Ok(())
    }

    async fn get(&self, scope: &Scope, key: &str) -> Result<Option<Value>> {
        let keys = self.keys_of(scope);
        let var = keys.variable(key);
        let mut con = self.con.clone();
        let raw: Option<Vec<u8>> = con
            .get(&var)
            .await
            .map_err(|e| map_err("get a variable", e))?;
        match raw {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| corrupt(format!("variable key {var:?}"), e)),
        }
    }

    async fn remove(&self, scope: &Scope, key: &str) -> Result<bool> {
        let keys = self.keys_of(scope);
        let mut con = self.con.clone();
        let removed: i64 = scripts::remove()
            .key(keys.variable(key))
            .key(keys.index())
            .arg(key)
            .invoke_async(&mut con)
            .await
            .map_err(|e| map_err("remove a variable", e))?;
        Ok(removed > 0)
    }

    async fn keys(&self, scope: &Scope) -> Result<Vec<String>> {
        let keys = self.keys_of(scope);
        let mut con = self.con.clone();
        let raw: Vec<Vec<u8>> = scripts::live_keys()
            .key(keys.index())
            .arg(keys.variable_prefix())
            .invoke_async(&mut con)
            .await
            .map_err(|e| map_err("list variables", e))?;
        let mut names = raw
            .into_iter()
            .map(|b| {
                String::from_utf8(b).map_err(|e| {
                    Error::backend(
                        format!("Redis: {} holds a name that is not UTF-8", keys.index()),
                        e,
                    )
                })
            })
            .collect::<Result<Vec<_>>>()?;
        names.sort_unstable();
        Ok(names)
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
            return Err(Error::InvalidInput(ValidationError::OutOfRange {
                field: "max_messages",
                value: 0.0,
                min: 1.0,
                max: usize::MAX as f64,
            }));
        }
        let tokens = estimate_tokens(&message.content);
        let json = serde_json::to_string(&message)
            .map_err(|e| Error::backend("serialising a context message", e))?;
        let keys = self.keys_of(scope);
        let mut con = self.con.clone();
        let _: i64 = scripts::push()
            .key(keys.window())
            .key(keys.window_tokens())
            .arg(json)
            .arg(tokens)
            .arg(i64::try_from(limit.max_messages).unwrap_or(i64::MAX))
            .arg(
                limit
                    .max_tokens
                    .map_or(-1, |t| i64::try_from(t).unwrap_or(i64::MAX)),
            )
            .invoke_async(&mut con)
            .await
            .map_err(|e| map_err("push a message", e))?;
        Ok(())
    }

    async fn window(&self, scope: &Scope) -> Result<Vec<ContextMessage>> {
        let keys = self.keys_of(scope);
        let win = keys.window();
        let mut con = self.con.clone();
        let raw: Vec<Vec<u8>> = con
            .lrange(&win, 0, -1)
            .await
            .map_err(|e| map_err("read the context window", e))?;
        raw.iter()
            .map(|b| serde_json::from_slice(b).map_err(|e| corrupt(format!("window {win:?}"), e)))
            .collect()
    }

    async fn clear(&self, scope: &Scope) -> Result<()> {
        let keys = self.keys_of(scope);
        let mut con = self.con.clone();
        let _: i64 = scripts::clear()
            .key(keys.index())
            .key(keys.window())
            .key(keys.window_tokens())
            .arg(keys.variable_prefix())
            .invoke_async(&mut con)
            .await
            .map_err(|e| map_err("clear a scope", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls() {
        assert_eq!(ttl_millis(None), -1);
        assert_eq!(ttl_millis(Some(Duration::ZERO)), 0);
        assert_eq!(ttl_millis(Some(Duration::from_nanos(1))), 1);
        assert_eq!(ttl_millis(Some(Duration::from_micros(1_500))), 2);
        assert_eq!(ttl_millis(Some(Duration::from_secs(2))), 2_000);
        assert_eq!(ttl_millis(Some(Duration::MAX)), 1 << 50);
    }
}

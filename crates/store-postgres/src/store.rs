//! The async store: the connection pool, transactions with retry, and the port
//! implementation.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Transaction};
use memory_core::*;

use crate::error::{PostgresError, Result as PResult};
use crate::{ops, schema};

/// How a [`PostgresStore`] connects.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// Most connections the pool keeps open (default 16).
    pub max_connections: usize,
    /// The schema holding the brain's tables, created if missing; `None` uses the
    /// connection's default `search_path` (usually `public`). Lower-case ASCII letters,
    /// digits and `_`, starting with a letter or `_`, at most 63 bytes. Several brains
    /// can share one database in separate schemas.
    pub schema: Option<String>,
    /// How long a call waits for a free connection before failing with
    /// [`memory_core::ErrorKind::Unavailable`] (default 30 s).
    pub wait_timeout: Duration,
    /// How long opening a new connection may take (default 10 s).
    pub connect_timeout: Duration,
    /// How many times a transaction aborted by a deadlock or serialisation failure is
    /// run again before the error reaches the caller (default 5).
    pub max_retries: u32,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            max_connections: 16,
            schema: None,
            wait_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_retries: 5,
        }
    }
}

/// Long-term memory on PostgreSQL, behind [`LongTermStore`] and [`EmbeddingStore`].
///
/// Cheap to clone: clones share one connection pool.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    schema: Option<String>,
    max_retries: u32,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.schema)
            .field("pool", &self.pool.status())
            .finish_non_exhaustive()
    }
}

/// `name` as a quoted SQL identifier.
pub(crate) fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn check_schema_name(name: &str) -> PResult<()> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    if !first_ok
        || name.len() > 63
        || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(PostgresError::Config(format!(
            "schema name {name:?} must be 1 to 63 lower-case ASCII letters, digits or `_`, \
             starting with a letter or `_`"
        )));
    }
    Ok(())
}

/// A transaction body: borrows the transaction, gets the time of this attempt.
pub(crate) type TxFuture<'a, T> = Pin<Box<dyn Future<Output = PResult<T>> + Send + 'a>>;

impl PostgresStore {
    /// Connects to the database at `url` (a `postgres://user:pass@host:port/db` URL or a
    /// `key=value` connection string) with default options, and migrates its schema.
    pub async fn connect(url: &str) -> PResult<Self> {
        Self::connect_with(url, PostgresOptions::default()).await
    }

    /// Connects with `options`, and migrates the schema (once, however many processes
    /// connect at the same time).
    #[tracing::instrument(level = "debug", skip(url))]
    pub async fn connect_with(url: &str, options: PostgresOptions) -> PResult<Self> {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| PostgresError::Config(e.to_string()))?;
        if let Some(schema) = &options.schema {
            check_schema_name(schema)?;
            // Every pooled connection resolves unqualified names in the brain's schema.
            let set = format!("-c search_path={schema}");
            let all = match config.get_options() {
                Some(existing) if !existing.is_empty() => format!("{existing} {set}"),
                _ => set,
            };
            config.options(all);
        }
        config.connect_timeout(options.connect_timeout);
        if options.max_connections == 0 {
            return Err(PostgresError::Config(
                "max_connections must be at least 1".into(),
            ));
        }
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_connections)
            .wait_timeout(Some(options.wait_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| PostgresError::Config(e.to_string()))?;
        let store = PostgresStore {
            pool,
            schema: options.schema.clone(),
            max_retries: options.max_retries,
        };
        let mut client = store.pool.get().await?;
        schema::migrate(&mut client, options.schema.as_deref()).await?;
        tracing::debug!(target: "store_postgres", schema = schema::SCHEMA_VERSION, "connected");
        Ok(store)
    }

    /// The connection pool (for health checks and metrics).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The schema holding the brain's tables, if one was chosen.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    async fn client(&self) -> PResult<deadpool_postgres::Client> {
        Ok(self.pool.get().await?)
    }

    /// Runs `f` in a transaction and commits it. With `lock_log`, the transaction first
    /// takes the embedding log's lock (every transaction that may append to the log
    /// does, so they queue on it instead of deadlocking). A transaction PostgreSQL aborts
    /// for a deadlock or serialisation failure is run again, up to `max_retries` times.
    async fn write<T, F>(&self, lock_log: bool, f: F) -> Result<T>
    where
        T: Send,
        F: for<'a> Fn(&'a Transaction<'a>, Timestamp) -> TxFuture<'a, T> + Send + Sync,
    {
        let mut attempt = 0u32;
        loop {
            let out = self.try_write(lock_log, &f).await;
            match out {
                Err(e) if e.is_retryable() && attempt < self.max_retries => {
                    attempt += 1;
                    tracing::debug!(target: "store_postgres", attempt, error = %e, "retrying transaction");
                    tokio::time::sleep(Duration::from_millis(5 << attempt.min(6))).await;
                }
                other => return Ok(other?),
            }
        }
    }

    async fn try_write<T, F>(&self, lock_log: bool, f: &F) -> PResult<T>
    where
        T: Send,
        F: for<'a> Fn(&'a Transaction<'a>, Timestamp) -> TxFuture<'a, T> + Send + Sync,
    {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        if lock_log {
            ops::lock_log(&tx).await?;
        }
        let out = f(&tx, Timestamp::now()).await?;
        tx.commit().await?;
        Ok(out)
    }
}

#[async_trait]
impl LongTermStore for PostgresStore {
    #[tracing::instrument(level = "debug", skip_all, fields(ops = ops_in.len()))]
    async fn write_batch(&self, ops_in: Vec<WriteOp>) -> Result<Vec<WriteOutcome>> {
        for op in &ops_in {
            op.validate()?;
        }
        if ops_in.is_empty() {
            return Ok(Vec::new());
        }
        let lock_log = ops_in.iter().any(ops::logs);
        self.write(lock_log, move |tx, now| {
            let ops_in = ops_in.clone();
            Box::pin(async move {
                let mut out = Vec::with_capacity(ops_in.len());
                for op in ops_in {
                    out.push(ops::apply(tx, op, now).await?);
                }
                Ok(out)
            })
        })
        .await
    }

    async fn stats(&self) -> Result<StoreStats> {
        let c = self.client().await?;
        Ok(ops::stats(&c).await?)
    }
}

#[async_trait]
impl MemoryStore for PostgresStore {
    async fn put_memory(&self, memory: NewMemory) -> Result<Memory> {
        memory.validate()?;
        // Not through `write`: a single statement is its own transaction.
        let c = self.client().await?;
        Ok(ops::put_memory(&c, memory, Timestamp::now()).await?)
    }

    async fn get_memory(&self, id: MemoryId) -> Result<Option<Memory>> {
        let c = self.client().await?;
        Ok(ops::get_memory(&c, id).await?)
    }

    async fn get_memories(&self, ids: &[MemoryId]) -> Result<Vec<Memory>> {
        let c = self.client().await?;
        Ok(ops::get_memories(&c, ids).await?)
    }

    async fn update_memory(&self, id: MemoryId, patch: MemoryPatch) -> Result<Memory> {
        patch.validate()?;
        self.write(true, move |tx, now| {
            let patch = patch.clone();
            Box::pin(async move { ops::update_memory(tx, id, patch, now).await })
        })
        .await
    }

    async fn delete_memory(&self, id: MemoryId) -> Result<bool> {
        self.write(true, move |tx, _| {
            Box::pin(async move { ops::delete_memory(tx, id).await })
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn delete_memories(&self, filter: &MemoryFilter) -> Result<Vec<MemoryId>> {
        filter.validate()?;
        let filter = filter.clone();
        self.write(true, move |tx, now| {
            let filter = filter.clone();
            Box::pin(async move { ops::delete_memories(tx, &filter, now).await })
        })
        .await
    }

    async fn list_memories(&self, query: &MemoryQuery) -> Result<Vec<Memory>> {
        query.filter.validate()?;
        let c = self.client().await?;
        Ok(ops::list_memories(&c, query, Timestamp::now()).await?)
    }

    async fn count_memories(&self, filter: &MemoryFilter) -> Result<u64> {
        filter.validate()?;
        let c = self.client().await?;
        Ok(ops::count_memories(&c, filter, Timestamp::now()).await?)
    }

    async fn search_memories(&self, query: &KeywordQuery) -> Result<Vec<KeywordHit>> {
        query.filter.validate()?;
        let c = self.client().await?;
        Ok(ops::search_memories(&c, query, Timestamp::now()).await?)
    }

    async fn keyword_document_counts(&self, terms: &[String]) -> Result<(u64, Vec<u64>)> {
        // One snapshot for the total and every count.
        let terms = terms.to_vec();
        self.write(false, move |tx, _| {
            let terms = terms.clone();
            Box::pin(async move { ops::keyword_document_counts(tx, &terms).await })
        })
        .await
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn purge_expired(&self, now: Timestamp) -> Result<Vec<MemoryId>> {
        self.write(true, move |tx, _| {
            Box::pin(async move { ops::purge_expired(tx, now).await })
        })
        .await
    }
}

#[async_trait]
impl RecordStore for PostgresStore {
    // Each of these is one statement, atomic on its own: no transaction needed.
    async fn put_record(&self, record: NewRecord) -> Result<RecordWrite> {
        record.validate()?;
        let c = self.client().await?;
        Ok(ops::put_record(&c, record, Timestamp::now()).await?)
    }

    async fn get_record(&self, key: &RecordKey) -> Result<Option<Record>> {
        let c = self.client().await?;
        Ok(ops::get_record(&c, key).await?)
    }

    async fn get_records(&self, kind: RecordKind, ids: &[RecordId]) -> Result<Vec<Record>> {
        let c = self.client().await?;
        Ok(ops::get_records(&c, kind, ids).await?)
    }

    async fn list_records(&self, query: &RecordQuery) -> Result<Vec<Record>> {
        let c = self.client().await?;
        Ok(ops::list_records(&c, query).await?)
    }

    async fn change_record(&self, id: RecordId, change: RecordChange) -> Result<Record> {
        change.validate()?;
        let c = self.client().await?;
        Ok(ops::change_record(&c, id, &change, Timestamp::now()).await?)
    }

    async fn delete_record(&self, key: &RecordKey) -> Result<bool> {
        let c = self.client().await?;
        Ok(ops::delete_record(&c, key).await?)
    }

    async fn search_patterns(&self, text: &str, query: &PatternQuery) -> Result<Vec<PatternHit>> {
        let c = self.client().await?;
        Ok(ops::search_patterns(&c, text, query).await?)
    }
}

#[async_trait]
impl PolicyStore for PostgresStore {
    async fn get_policy(&self, name: &str) -> Result<Option<PolicyState>> {
        let c = self.client().await?;
        Ok(ops::get_policy(&c, name).await?)
    }

    async fn put_policy(
        &self,
        name: &str,
        kind: &str,
        state: &serde_json::Value,
        expected: Option<u64>,
    ) -> Result<u64> {
        memory_core::validate_policy(name, kind, state)?;
        let c = self.client().await?;
        Ok(ops::put_policy(&c, name, kind, state, expected, Timestamp::now()).await?)
    }

    async fn list_policies(&self) -> Result<Vec<String>> {
        let c = self.client().await?;
        Ok(ops::list_policies(&c).await?)
    }

    async fn delete_policy(&self, name: &str) -> Result<bool> {
        let c = self.client().await?;
        Ok(ops::delete_policy(&c, name).await?)
    }
}

#[async_trait]
impl EmbeddingStore for PostgresStore {
    async fn embedder(&self) -> Result<Option<EmbedderInfo>> {
        let c = self.client().await?;
        Ok(ops::embedder(&c).await?)
    }

    async fn pin_embedder(&self, info: &EmbedderInfo) -> Result<()> {
        let info = info.clone();
        self.write(true, move |tx, _| {
            let info = info.clone();
            Box::pin(async move { ops::pin_embedder(tx, &info).await })
        })
        .await
    }

    async fn put_embeddings(&self, items: Vec<(MemoryId, Vec<f32>)>) -> Result<u64> {
        if items.is_empty() {
            return self.last_embedding_seq().await;
        }
        self.write(true, move |tx, _| {
            let items = items.clone();
            Box::pin(async move {
                let mut last = 0;
                for (id, v) in &items {
                    last = ops::put_embedding(tx, *id, v).await?;
                }
                Ok(last)
            })
        })
        .await
    }

    async fn get_embedding(&self, id: MemoryId) -> Result<Option<Vec<f32>>> {
        let c = self.client().await?;
        Ok(ops::get_embedding(&c, id).await?)
    }

    async fn embedding_changes(&self, after: u64, limit: usize) -> Result<Vec<EmbeddingChange>> {
        let c = self.client().await?;
        Ok(ops::embedding_changes(&c, after, limit).await?)
    }

    async fn last_embedding_seq(&self) -> Result<u64> {
        let c = self.client().await?;
        Ok(ops::last_embedding_seq(&c).await?)
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn clear_embeddings(&self) -> Result<()> {
        self.write(true, |tx, _| {
            Box::pin(async move { ops::clear_embeddings(tx).await })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(check_schema_name("brain_test_1").is_ok());
        assert!(check_schema_name("_x").is_ok());
        for bad in ["", "1abc", "Brain", "a b", "a;b", "a\"b", &"x".repeat(64)] {
            assert!(check_schema_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}

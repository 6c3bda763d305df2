//! # store-sqlite
//!
//! Embedded long-term memory for AI agents: the brain's source of truth in one SQLite
//! file, behind [`memory_core::LongTermStore`].
//!
//! It holds the seed's six tables (preferences, projects, code patterns, learning
//! events, conversations, agent decisions) with their columns and meaning, plus generic
//! scoped memories, and an FTS5 keyword (BM25) index over memories and patterns kept in
//! step by triggers.
//!
//! ## Design
//!
//! - **Durable on return.** The file runs in WAL mode. A write's call returns after its
//!   transaction commits, so it survives `kill -9` of the process; with
//!   [`Durability::Full`] it also survives power loss (an fsync per commit).
//! - **Never waits on the runtime.** Reads run on tokio's blocking pool, on a small pool
//!   of read connections that WAL lets run beside the writer. One writer connection takes
//!   writes in `BEGIN IMMEDIATE` transactions. A single write that can start at once and
//!   needs no fsync runs inline (a WAL append into the page cache: microseconds, less
//!   than a thread hand-off); anything that would wait — lock contention, fsync,
//!   checkpoints, batches — runs on the blocking pool. WAL checkpoints run in the
//!   background, never inside a caller's commit.
//! - **Group commit.** Concurrent writes queue and commit together, each in its own
//!   savepoint so one failing write rolls back alone; every caller's future resolves only
//!   after the commit that holds its write.
//! - **No "database is locked".** Writers queue on the lock with a busy timeout (default
//!   10 s) instead of failing, across handles and processes; only a writer stuck past the
//!   timeout yields [`memory_core::ErrorKind::Unavailable`].
//! - **Batches.** [`memory_core::LongTermStore::write_batch`] applies many writes in one
//!   transaction: all or nothing, one commit.
//! - **Versioned schema.** Migrations run under `PRAGMA user_version`; a file from a newer
//!   build, a file of another application and a file that is not SQLite are typed
//!   errors ([`SqliteError`]), never a panic or a silent rewrite.
//!
//! ```
//! use memory_core::{KeywordQuery, MemoryFilter, MemoryStore, NewMemory, NewPattern, RecordStoreExt, Scope};
//! use store_sqlite::SqliteStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let store = SqliteStore::open(dir.path().join("memory.db")).await?;
//!
//! let alice = Scope::user("alice");
//! store.put_memory(NewMemory::new("deploys go through ops/deploy.sh").with_scope(alice.clone())).await?;
//! let hits = store
//!     .search_memories(&KeywordQuery { text: "how do we deploy".into(), filter: MemoryFilter::scoped(alice), limit: 5 })
//!     .await?;
//! assert_eq!(hits.len(), 1);
//!
//! // Storing the same pattern again counts a success, as in the seed.
//! store.store_pattern(NewPattern::new("error_fix", "E0382 use of moved value", "clone it")).await?;
//! let again = store.store_pattern(NewPattern::new("error_fix", "E0382 use of moved value", "clone it")).await?;
//! assert_eq!(again.pattern.success_count, 2);
//! # Ok(()) }
//! ```

mod error;
mod ops;
mod schema;
mod store;
mod writer;

pub use error::{Result, SqliteError};
pub use schema::{APPLICATION_ID, SCHEMA_VERSION};
pub use store::{Durability, SqliteOptions, SqliteStore};

//! # store-postgres
//!
//! Long-term memory for AI agents on PostgreSQL: the brain's source of truth shared by
//! many processes and nodes, behind [`memory_core::LongTermStore`] and
//! [`memory_core::EmbeddingStore`], with the same semantics as `store-sqlite` (both pass
//! the conformance suite in `memory_core::conformance`).
//!
//! It holds the seed's six tables (preferences, projects, code patterns, learning
//! events, conversations, agent decisions), generic scoped memories, learned policies
//! and stored embeddings with their change log.
//!
//! ## Design
//!
//! - **Pool.** Connections come from a [`deadpool_postgres`] pool (size, wait and
//!   connect timeouts in [`PostgresOptions`]); statements are prepared once per
//!   connection and cached. A pool or connection failure is
//!   [`memory_core::ErrorKind::Unavailable`].
//! - **Migrations** are tracked in a `brain_migrations` table and applied at connect in
//!   one transaction holding `pg_advisory_xact_lock`, so processes connecting at once
//!   migrate exactly once. [`PostgresOptions::schema`] puts a brain in its own schema.
//! - **Keyword search** uses PostgreSQL's full-text search: stored generated `tsvector`
//!   columns with GIN indexes, built with a copy of the `english` configuration
//!   (Snowball stemming) whose stop words are dropped on the query side, as
//!   store-sqlite does. A memory's content is weighted above its context, hits are
//!   ranked with `ts_rank`, and queries are built from the text's words only, so no
//!   text is query syntax. Scope and filter conditions run inside the SQL (metadata
//!   conditions through a jsonb projection of the metadata's scalars).
//! - **Embedding log.** Every change to a memory's embedding, or to what vector filters
//!   read of it, takes the next number of a single-row counter; its row lock is held to
//!   commit, so numbers commit in order and an index catching up "after N" never skips
//!   a change that committed late.
//! - **Atomic batches** run in one transaction; transactions PostgreSQL aborts for a
//!   deadlock or serialisation failure are retried.
//!
//! ```no_run
//! use memory_core::{KeywordQuery, MemoryFilter, MemoryStore, NewMemory, Scope};
//! use store_postgres::{PostgresOptions, PostgresStore};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = PostgresStore::connect_with(
//!     "postgres://brain:brain@127.0.0.1:5432/brain",
//!     PostgresOptions { schema: Some("team_a".into()), ..PostgresOptions::default() },
//! )
//! .await?;
//!
//! let alice = Scope::user("alice");
//! store.put_memory(NewMemory::new("deploys go through ops/deploy.sh").with_scope(alice.clone())).await?;
//! let hits = store
//!     .search_memories(&KeywordQuery { text: "how do we deploy".into(), filter: MemoryFilter::scoped(alice), limit: 5 })
//!     .await?;
//! assert_eq!(hits.len(), 1);
//! # Ok(()) }
//! ```

mod error;
mod ops;
mod schema;
mod store;

pub use error::{PostgresError, Result};
pub use schema::SCHEMA_VERSION;
pub use store::{PostgresOptions, PostgresStore};

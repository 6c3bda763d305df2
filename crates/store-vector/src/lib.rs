//! # store-vector
//!
//! The brain's semantic-memory index: approximate nearest-neighbour search over memory
//! embeddings, with scope and metadata filters applied inside the search, behind the
//! [`memory_core::VectorIndex`] port. The index is *derived* data — the
//! [`memory_core::EmbeddingStore`] (SQLite in the embedded brain) is the source of
//! truth — so it is persisted as a verified snapshot, caught up from the store's change
//! log on open, and rebuilt from the store whenever a snapshot cannot be trusted.
//!
//! - [`HnswIndex`]: an HNSW graph built, linked and persisted by
//!   [hnsw_rs](https://crates.io/crates/hnsw_rs) 0.3.5 and searched by our own code over
//!   a frozen flat copy of it; hnsw_rs stays entirely inside this crate (no hnsw_rs type
//!   is part of the API).
//! - [`FlatIndex`]: exact search with the same contract; the ground truth for tests.
//! - [`BareIndex`]: the same engine over plain rows (no ids or filters), for ANN
//!   experiments; the ANN benchmark itself measures [`HnswIndex`].
//!
//! ## Design
//!
//! **Ids and tombstones.** hnsw_rs cannot delete. Each entry gets an internal id (its
//! position in a table beside the graph, which also holds its filter fields and its unit
//! vector); a map takes [`memory_core::MemoryId`]s to live internal ids. An upsert of an
//! existing id inserts a new point and turns the old one into a *tombstone*; a delete
//! only makes a tombstone. Tombstones stay in the graph, keeping it navigable, and are
//! never returned.
//!
//! **Search: a frozen layout.** hnsw_rs's own search walks an `Arc` of each point, whose
//! neighbour list sits behind a `RwLock`, keeps its visited set in a `HashSet`, and with
//! a filter never stops early: on 67k × 384 sentence embeddings it reached about 0.4× of
//! hnswlib's queries per second at equal recall, and a faster distance or 8-bit vectors
//! did not change that (the time went to the pointer chasing). So hnsw_rs only builds,
//! links and persists the graph, and searches walk a *frozen* copy of it (`frozen.rs`),
//! laid out as hnswlib lays out its own: the base layer's links as one contiguous `u32`
//! array with a fixed stride of `2m + 1` (the count, then up to `2m` ids), the few
//! upper-layer lists in maps, the vectors read from the table beside the graph (already
//! contiguous), an epoch-stamped visited array reused per thread, heaps of packed
//! `(distance, id)` `u64` keys, and the whole walk inside one SIMD dispatch so that the
//! dot product inlines. The walk is hnswlib's: greedy descent through the upper layers,
//! then a best-first search of the base layer keeping `ef` results.
//!
//! A frozen layout covers the internal ids that existed when it was made. Points linked
//! later (the *delta*) are scanned exactly by every search and merged into its results;
//! once the delta passes `max(256, 4·√n)` points a background thread freezes the graph
//! again (reading it under hnsw_rs's per-point locks while writes go on) and swaps the
//! new layout in. Builds, rebuilds and snapshot loads freeze before they return. Freezing
//! copies the links in `O(n)`; it adds `(2m + 1) · 4` bytes per point (132 at m 16) and
//! a visited array of 2 bytes per point per searching thread.
//!
//! **Filtered search.** The [`memory_core::MemoryFilter`] of a query (scope, kinds,
//! metadata conditions, creation range, expiry against [`memory_core::VectorQuery::now`])
//! and the tombstones are checked *inside* the graph walk, on every point before it can
//! enter the results — never only afterwards — with exactly the semantics of
//! [`memory_core::MemoryFilter::matches`] (a property test compares them). Points that
//! fail are still walked through (they keep the graph connected); with a filter the walk
//! goes on until it holds `ef` passing points or runs out of candidates (hnswlib's rule),
//! and when nothing can fail the filter and there are no tombstones nothing is checked
//! per point, so an unfiltered search and an all-pass filtered one cost the same.
//! Which path a search takes, with `p` the share of live entries passing the filter (1
//! when nothing can fail it; otherwise estimated on an evenly spaced sample of 512):
//!
//! 1. exact search — brute force over the entries that pass — when
//!    `p² · live ≤ exact_threshold` ([`HnswParams::exact_threshold`], default 5,000): an
//!    unfiltered index of up to 5,000 entries, a filter passing half of 20,000, a fifth
//!    of 125,000, a tenth of 500,000;
//! 2. otherwise the frozen graph walk with `ef = max(ef_search, 2k)`, grown by `1/√p`
//!    (at most 4×) for a filter, plus the exact scan of the delta;
//! 3. a walk that found fewer than `k` hits falls back to exact search.
//!
//! The exact-path thresholds come from measurements with hnsw_rs's own filtered search
//! (384 dimensions, 20,000 clustered vectors, one thread), which cost about 2× a plain
//! search even when everything passed and about `p^-1.5` times as much as `p` shrank
//! (25 ms at `p = 0.1`), while a scan costs one filter check per entry plus one dot
//! product per passing entry (0.4 ms at `p = 0.1`). The frozen walk is cheaper than that
//! filtered search (it stops early and costs a plain search when everything passes), so
//! the thresholds now err towards the exact path, which is always correct.
//!
//! So a search returns `k` hits whenever `k` entries pass its filter.
//!
//! **Validation.** Nothing reaches hnsw_rs unchecked: vectors must have the index's
//! dimension, be finite and not all zeros ([`memory_core::validate::vector`]); every
//! parameter is range-checked ([`HnswParams::validate`]) because hnsw_rs exits the
//! process (`m > 256`), wraps silently (`m = 256` is stored as a `u8`) or allocates
//! without bound on some values. Errors are one [`VectorError`] enum, which maps onto
//! [`memory_core::Error`] kinds: bad vectors and parameters are `InvalidInput`, IO and
//! damaged files `Backend`, an embedder of another dimension `Conflict`.
//!
//! **Distance.** Vectors are normalised to unit length on insert and query (the norm in
//! `f64`, so tiny and huge components are fine), and the graph uses our own
//! [`CosineDistance`], `1 − dot` clamped to `[0, 2]`: hnsw_rs's `DistDot` asserts
//! `1 − dot ≥ 0` and so panics when rounding makes a normalised vector's dot with itself
//! exceed 1. The [`dot`] product is dispatched at run time to AVX-512, AVX2 + FMA or the
//! baseline through [pulp](https://crates.io/crates/pulp), so no `unsafe` (which the
//! workspace forbids) and no `target-cpu` flag is needed: that made graph builds 1.6×
//! faster than an SSE2 loop on 20,000 × 384. The frozen walk dispatches once per search
//! rather than once per vector (and keeps the distance out of closures, which do not
//! reliably inherit the dispatch's target features: with one, the AVX-512 intrinsics
//! stopped inlining). Vectors stay `f32`: 8-bit quantised vectors with exact re-ranking
//! gained nothing with hnsw_rs's search, and the frozen walk already matches hnswlib at
//! equal `ef`.
//!
//! **Parameters.** m 16 (as hnswlib in the benchmark) and ef_construction 150, chosen by
//! measurement: on 100k × 384 clustered vectors, 150 still reaches recall@10 0.95 at
//! `ef` 32 and 0.99 at `ef` 64 for two thirds of the build time of 200, while 100 needs
//! `ef` 48 and 96 (see the README's Performance section).
//!
//! **Bulk builds** ([`HnswIndex::build`], rebuilds, opening without a snapshot, upserts
//! of 32 or more) insert with hnsw_rs's `parallel_insert` on every core.
//!
//! **Snapshots** ([`HnswIndex::snapshot`]) go into a fresh temporary directory inside
//! the target directory: hnsw_rs's dump of the graph and vectors, our entries (internal
//! id, memory id, filter fields) and tombstones, and a `manifest.json` with the format
//! version, the embedding-log sequence number covered, counts, dimension, parameters and
//! the sha256 of every file (and of itself). Files and directory are fsynced, the
//! directory is renamed into place, and a `CURRENT` file naming it is replaced
//! atomically; the previous snapshot is removed only after that. [`HnswIndex::open`]
//! verifies everything before hnsw_rs parses a byte, then catches up with
//! [`memory_core::EmbeddingStore::embedding_changes`] after the snapshot's sequence
//! number; a missing, damaged, foreign or too-new snapshot is logged (`tracing::warn`)
//! and the index is rebuilt from the whole log. [`HnswIndex::applied_seq`] and
//! [`HnswIndex::catch_up`] let callers keep it current later.
//!
//! **Rebuilds.** Once a fifth of the graph is tombstones (and at least 16), a background
//! thread builds a fresh graph from the live entries; writes meanwhile go to the current
//! graph *and* a journal that is replayed onto the new one before it is swapped in (an
//! `RwLock<Arc<…>>` swap), so searches never wait and no write is lost.
//! [`HnswIndex::rebuild`] does the same on demand.
//!
//! **Memory.** Each vector is held twice — by hnsw_rs in its graph points, and in the
//! table beside the graph, contiguous, for the frozen walk, exact search, snapshots and
//! rebuilds — so an entry costs about `8 · dimension` bytes plus its links (up to `2·m`
//! on the base layer, each a pointer-sized reference and a distance, in hnsw_rs, and
//! again as `u32`s in the frozen layout) and its filter fields.
//! Tombstones keep their vector and links until the next rebuild.
//!
//! **Threads.** Internals are synchronous and thread-safe (a writer lock serialises
//! writes; searches only share a read lock, also while a write links a point into the
//! graph). The async [`memory_core::VectorIndex`] methods run the work on tokio's
//! blocking pool (inline when there is no tokio runtime), so they never stall the
//! runtime's threads.
//!
//! ## Example
//!
//! ```
//! use memory_core::{MemoryFilter, MemoryId, MemoryKind, Metadata, Scope, Timestamp,
//!                   VectorEntry, VectorQuery};
//! use store_vector::{HnswIndex, HnswParams};
//!
//! let entry = |v: Vec<f32>, user: &str| VectorEntry {
//!     id: MemoryId::new(),
//!     vector: v,
//!     scope: Scope::user(user),
//!     kind: MemoryKind::fact(),
//!     metadata: Metadata::new(),
//!     created_at: Timestamp::now(),
//!     expires_at: None,
//! };
//! let index = HnswIndex::new(HnswParams::new(3))?;
//! let mine = entry(vec![1.0, 0.1, 0.0], "alice");
//! index.upsert_blocking(vec![mine.clone(), entry(vec![1.0, 0.0, 0.0], "bob")])?;
//!
//! // Bob's memory is nearer, but Alice's search never sees it.
//! let hits = index.search_blocking(&VectorQuery {
//!     vector: vec![1.0, 0.0, 0.0],
//!     k: 5,
//!     filter: MemoryFilter::scoped(Scope::user("alice")),
//!     now: Timestamp::now(),
//! })?;
//! assert_eq!(hits.len(), 1);
//! assert_eq!(hits[0].id, mine.id);
//!
//! // Bad vectors are typed errors, before anything reaches the graph.
//! assert!(index.upsert_blocking(vec![entry(vec![f32::NAN, 0.0, 1.0], "alice")]).is_err());
//!
//! // Snapshots are verified when opened (`HnswIndex::open`, with the embedding store).
//! let dir = tempfile::tempdir()?;
//! let info = index.snapshot_blocking(dir.path())?;
//! assert_eq!(info.live, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bare;
mod derived;
mod distance;
mod engine;
mod error;
mod filter;
mod flat;
mod frozen;
mod index;
pub mod params;
mod snapshot;
mod util;

pub use bare::BareIndex;
pub use derived::{CaughtUpFlat, PersistedHnsw};
pub use distance::{CosineDistance, dot};
pub use error::{Result, VectorError};
pub use flat::FlatIndex;
pub use index::{CATCH_UP_PAGE, HnswIndex, IndexStats, OpenedFrom};
pub use params::HnswParams;
pub use snapshot::SnapshotInfo;

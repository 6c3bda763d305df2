//! Knowledge distillation: compress the code patterns an agent has stored into fewer,
//! general ones, each remembering where it came from.
//!
//! This is the seed design's `KnowledgeDistiller`, made deterministic, total and
//! re-runnable. [`KnowledgeDistiller::distill`] over one pattern type:
//!
//! 1. **Lists** the most successful patterns of the type visible through a scope (up to
//!    [`DistillOptions::max_patterns`], 100); fewer than
//!    [`DistillOptions::min_patterns`] (3) means nothing to do, as in the seed.
//! 2. **Groups** them. By default, deterministically: the embeddings of
//!    `context + "\n" + solution` are clustered by [`cluster::average_linkage`]
//!    (merge the two clusters with the highest *average* cosine similarity while it is at
//!    least [`DistillOptions::similarity_threshold`], 0.6; ties to the older record).
//!    With [`DistillOptions::use_llm_grouping`] and an LLM, the seed's grouping prompt is
//!    asked instead and its JSON is validated by [`parse_groups`] (indices in range,
//!    none repeated, no empty group; unmentioned ones alone); an invalid answer or a
//!    failed call falls back to the embedding groups, and the report says
//!    [`Grouping::LlmFallback`].
//! 3. **Distils** each group of at least two. With an LLM: the seed's prompt, its
//!    `PATTERN:` / `APPLICABILITY:` / `CONFIDENCE:` answer read by [`parse_distilled`]
//!    (any order or case, confidence clamped to `[0, 1]`, all three required). Without an
//!    LLM, or when the answer is unusable: *extractively*, the group's medoid (the member
//!    most similar to the others) as the pattern, the words at least half the contexts
//!    share ([`shared_words`], stop words removed) or else the medoid's context as the
//!    applicability, and the mean Laplace success rate as the confidence. **Singletons**
//!    (groups of one) are not distilled: a lone pattern is already its own best
//!    generalisation, and it stays where it is; the report lists them.
//! 4. **Stores** each as a `distilled_<type>` pattern in the scope: applicability as
//!    context, pattern as solution, success count = group size, and metadata
//!    `{"distilled_from": [ids], "confidence", "source_count", "method": "llm" |
//!    "extractive", "stale": false}` ([`Provenance`]). A group whose sources overlap an
//!    existing distilled pattern's by Jaccard ≥ 0.5 **updates** it instead, so re-runs
//!    never duplicate; a group with exactly the same sources as a fresh one is left
//!    unchanged without asking the LLM again.
//!
//! After deleting a source pattern, [`mark_stale`] flags every distilled pattern made
//! from it (`"stale": true`); the next run refreshes it.
//!
//! ```
//! use std::sync::Arc;
//! use distill::{DistillOptions, KnowledgeDistiller};
//! use memory_core::{NewPattern, RecordStoreExt, Scope};
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let store = Arc::new(store_sqlite::SqliteStore::open_in_memory()?);
//! for (context, solution) in [
//!     ("connection refused retry http client", "retry the http client with backoff"),
//!     ("http client timeout retry connection", "retry the http client with jitter"),
//!     ("retry http client connection reset", "retry the http client, then give up"),
//! ] {
//!     store.store_pattern(NewPattern::new("error_fix", context, solution)).await?;
//! }
//! let embedder = Arc::new(embed::HashingEmbedder::new(256)?);
//! let distiller = KnowledgeDistiller::new(store.clone(), embedder, None);
//! let options = DistillOptions { similarity_threshold: 0.3, ..DistillOptions::default() };
//! let report = distiller.distill(&Scope::global(), "error_fix", &options).await?;
//! assert_eq!(report.created.len(), 1);
//! assert_eq!(report.llm_calls, 0);
//!
//! // Running again changes nothing.
//! let again = distiller.distill(&Scope::global(), "error_fix", &options).await?;
//! assert_eq!((again.created.len(), again.unchanged.len()), (0, 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The parsers never panic on any string (property-tested). LLM failures never fail a
//! run: they are counted in [`DistillReport::llm_calls`] and noted in the report.

pub mod cluster;
pub mod distiller;
pub mod error;
pub mod extract;
pub mod parse;
pub mod prompt;

pub use distiller::{
    Action, DISTILLED_PREFIX, DISTILLED_SCAN_LIMIT, DistillOptions, DistillReport, GroupOutcome,
    Grouping, KnowledgeDistiller, Method, Provenance, distilled_type, jaccard, mark_stale,
};
pub use error::{DistillError, Result};
pub use extract::{STOP_WORDS, shared_words};
pub use parse::{Distilled, GroupingError, parse_distilled, parse_groups};
pub use prompt::{distill_prompt, grouping_prompt};

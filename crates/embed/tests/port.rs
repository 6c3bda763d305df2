#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The hashing embedder through the `Embedder` port.

mod common;

use std::sync::Arc;

use embed::HashingEmbedder;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hashing_embedder_meets_the_port_contract() {
    for dim in [1, 16, 384, 1024] {
        let e = HashingEmbedder::new(dim).unwrap();
        assert_eq!(e.dimension(), dim);
        if dim > 1 {
            common::check_embedder(Arc::new(e), 1e-6).await;
        }
    }
}

/// The hashing embedder against memory-core's shared embedder suite.
mod suite {
    async fn fresh() -> ((), embed::HashingEmbedder) {
        ((), embed::HashingEmbedder::new(384).unwrap())
    }
    memory_core::embedder_suite!(fresh);
}

//! Shutdown succeeds when every acknowledged write is committed, even if the final index
//! snapshot cannot be written (the next start catches the index up from the store).

use std::sync::Arc;

use async_trait::async_trait;
use brain::Brain;
use brain_server::http::{HttpOptions, serve};
use brain_server::{Api, Principal, ServeConfig, Tokens};
use memory_core::{
    DerivedIndex, EmbeddingStore, MemoryId, Scope, VectorEntry, VectorHit, VectorIndex, VectorQuery,
};
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// An exact index whose snapshot always fails, as on a full or read-only disk.
struct UnsnapshottableIndex(Arc<dyn DerivedIndex>);

#[async_trait]
impl VectorIndex for UnsnapshottableIndex {
    fn dimension(&self) -> usize {
        self.0.dimension()
    }
    async fn upsert(&self, entries: Vec<VectorEntry>) -> memory_core::Result<()> {
        self.0.upsert(entries).await
    }
    async fn delete(&self, ids: &[MemoryId]) -> memory_core::Result<usize> {
        self.0.delete(ids).await
    }
    async fn search(&self, query: &VectorQuery) -> memory_core::Result<Vec<VectorHit>> {
        self.0.search(query).await
    }
    async fn len(&self) -> memory_core::Result<usize> {
        self.0.len().await
    }
}

#[async_trait]
impl DerivedIndex for UnsnapshottableIndex {
    async fn catch_up(&self, store: &dyn EmbeddingStore) -> memory_core::Result<usize> {
        self.0.catch_up(store).await
    }
    fn applied_seq(&self) -> u64 {
        self.0.applied_seq()
    }
    async fn persist(&self) -> memory_core::Result<()> {
        Err(memory_core::Error::Unavailable {
            message: "no space left on device".into(),
            source: None,
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_final_snapshot_does_not_fail_shutdown() -> TestResult {
    let brain = Brain::builder()
        .store(brain_engines::sqlite_in_memory()?)
        .embedder(Arc::new(embed::HashingEmbedder::new(64)?))
        .index(Arc::new(UnsnapshottableIndex(brain_engines::exact_index(
            64,
        )?)))
        .build()
        .await?;
    let brain = Arc::new(brain);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let opts = HttpOptions {
        config: ServeConfig::default(),
        tokens: Tokens::none(),
        local: Principal::local(Scope::user("carol")),
        addr: None,
    };
    let done = tokio::spawn(serve(Api::new(brain.clone()), listener, opts, async move {
        let _ = rx.await;
    }));
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = client
            .post(format!("http://{addr}/v1/memories"))
            .json(&json!({"content": format!("acknowledged memory {i}")}))
            .send()
            .await?;
        assert_eq!(r.status(), 201);
        ids.push(
            r.json::<Value>().await?["id"]
                .as_str()
                .unwrap_or("")
                .parse()?,
        );
    }
    // The close the server will do fails, as a direct call shows.
    assert!(
        brain.close().await.is_err(),
        "the snapshot is meant to fail"
    );
    let _ = tx.send(());
    let served = done.await?;
    assert!(served.is_ok(), "shutdown failed: {served:?}");
    for (i, id) in ids.into_iter().enumerate() {
        let m = brain.get(id).await?;
        assert_eq!(
            m.map(|m| m.content),
            Some(format!("acknowledged memory {i}"))
        );
    }
    Ok(())
}

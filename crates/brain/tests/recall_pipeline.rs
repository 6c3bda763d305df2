//! The recall pipeline on its own: ports in, ranked hits out, no `Brain`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use async_trait::async_trait;
use brain::config::RecallConfig;
use brain::{RecallMode, RecallPipeline, RecallQuery, RecallSources, RecallStage, RecallState};
use embed::HashingEmbedder;
use memory_core::{
    DerivedIndex, Embedder, ListKind, MemoryId, NewMemory, RankedList, Scope, WriteOp,
};
use store_sqlite::SqliteStore;
use store_vector::CaughtUpFlat;

async fn filled() -> (SqliteStore, CaughtUpFlat, HashingEmbedder, Vec<MemoryId>) {
    let store = SqliteStore::open_in_memory().unwrap();
    let embedder = HashingEmbedder::new(64).unwrap();
    let texts = [
        "the staging database listens on port 5433",
        "Alice prefers tabs over spaces",
        "deploys go out on Tuesdays after the review",
    ];
    let vectors = embedder
        .embed(&texts.iter().map(|t| (*t).to_owned()).collect::<Vec<_>>())
        .await
        .unwrap();
    memory_core::EmbeddingStore::pin_embedder(&store, embedder.info())
        .await
        .unwrap();
    let mut ops = Vec::new();
    let mut ids = Vec::new();
    for (t, v) in texts.iter().zip(vectors) {
        let id = MemoryId::new();
        ids.push(id);
        ops.push(WriteOp::PutMemory(
            NewMemory::new(*t)
                .with_scope(Scope::user("alice"))
                .with_id(id),
        ));
        ops.push(WriteOp::PutEmbedding { id, vector: v });
    }
    // Bob's memory shares the query's words: scope is applied inside every stage.
    let bob = MemoryId::new();
    ops.push(WriteOp::PutMemory(
        NewMemory::new("the staging database port is secret")
            .with_scope(Scope::user("bob"))
            .with_id(bob),
    ));
    ops.push(WriteOp::PutEmbedding {
        id: bob,
        vector: embedder.embed(&["bob".to_owned()]).await.unwrap().remove(0),
    });
    memory_core::LongTermStore::write_batch(&store, ops)
        .await
        .unwrap();
    (store, CaughtUpFlat::new(64).unwrap(), embedder, ids)
}

#[tokio::test]
async fn the_standard_pipeline_recalls_by_keyword_and_meaning_within_scope() {
    let (store, index, embedder, ids) = filled().await;
    let sources = RecallSources {
        store: &store,
        index: &index,
    };
    let pipeline = RecallPipeline::standard();
    assert_eq!(
        pipeline.stage_names(),
        ["catch_up", "keyword", "vector", "feedback"]
    );
    let query = RecallQuery::new("staging database port", Scope::user("alice"));
    let vector = embedder
        .embed(std::slice::from_ref(&query.text))
        .await
        .unwrap()
        .pop();
    let hits = pipeline
        .run(sources, &RecallConfig::default(), &query, vector)
        .await
        .unwrap();
    assert_eq!(hits[0].memory.id, ids[0], "{hits:?}");
    assert!(hits[0].score.keyword_rank.is_some());
    assert!(
        hits[0].score.vector_rank.is_some(),
        "the catch-up stage indexed it"
    );
    assert!(hits.iter().all(|h| h.memory.scope == Scope::user("alice")));
    assert_eq!(index.applied_seq(), 4);
    // Keyword mode needs no vector and draws no vector list.
    let keyword = RecallQuery {
        mode: RecallMode::Keyword,
        ..query.clone()
    };
    let hits = pipeline
        .run(sources, &RecallConfig::default(), &keyword, None)
        .await
        .unwrap();
    assert_eq!(hits[0].memory.id, ids[0]);
    assert!(hits.iter().all(|h| h.score.vector_rank.is_none()));
}

/// A stage that votes for one memory: a new signal is one more stage.
struct Pin(MemoryId);

#[async_trait]
impl RecallStage for Pin {
    fn name(&self) -> &'static str {
        "pin"
    }

    async fn run(
        &self,
        sources: RecallSources<'_>,
        _: &RecallConfig,
        state: &mut RecallState,
    ) -> brain::Result<()> {
        let m = sources.store.get_memory(self.0).await?.unwrap();
        state.memories.insert(m.id, m);
        state.lists.push(RankedList {
            kind: ListKind::Keyword,
            weight: 10.0,
            hits: vec![(self.0, None)],
        });
        Ok(())
    }
}

#[tokio::test]
async fn a_stage_added_changes_the_ranking() {
    let (store, index, _, ids) = filled().await;
    let sources = RecallSources {
        store: &store,
        index: &index,
    };
    let query = RecallQuery {
        mode: RecallMode::Keyword,
        ..RecallQuery::new("staging database port", Scope::user("alice"))
    };
    let pipeline = RecallPipeline::standard().then(Pin(ids[2]));
    assert_eq!(pipeline.stage_names().last(), Some(&"pin"));
    let hits = pipeline
        .run(sources, &RecallConfig::default(), &query, None)
        .await
        .unwrap();
    assert_eq!(hits[0].memory.id, ids[2], "{hits:?}");
    // Bad queries are refused before any stage runs.
    let empty = RecallQuery::new("  ", Scope::user("alice"));
    assert!(
        RecallPipeline::empty()
            .run(sources, &RecallConfig::default(), &empty, None)
            .await
            .is_err()
    );
}

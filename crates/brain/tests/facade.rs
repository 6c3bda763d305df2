#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The facade over the embedded engines, with the hashing embedder (no model needed).

use std::sync::Arc;
use std::time::Duration;

use brain::config::EmbedderKind;
use brain::{Brain, BrainConfig, BrainError, PruneRule, RecallMode, RecallQuery};
use memory_core::{
    Importance, MemoryFilter, MemoryKind, Metadata, MetadataCondition, NewMemory, NewPattern,
    PatternOutcome, PatternQuery, Role, Scope,
};

async fn mem_brain() -> Brain {
    Brain::builder()
        .store(brain_engines::sqlite_in_memory().unwrap())
        .embedder(Arc::new(embed::HashingEmbedder::new(256).unwrap()))
        .index(brain_engines::exact_index(256).unwrap())
        .build()
        .await
        .unwrap()
}

fn file_config(dir: &std::path::Path, dimension: usize) -> BrainConfig {
    let mut c = BrainConfig {
        data_dir: dir.to_path_buf(),
        ..Default::default()
    };
    c.embedder.kind = EmbedderKind::Hashing;
    c.embedder.dimension = dimension;
    c
}

/// The in-process short-term memory against the shared suite, one test per check.
mod short_term {
    async fn fresh() -> ((), brain::InProcessShortTerm) {
        ((), brain::InProcessShortTerm::new())
    }
    memory_core::short_term_suite!(fresh);
}

#[tokio::test]
async fn remember_recall_is_scoped_and_explained() {
    let b = mem_brain().await;
    let alice = Scope::user("alice");
    let bob = Scope::user("bob");
    b.remember(
        NewMemory::new("deploys go through the staging cluster first").with_scope(alice.clone()),
    )
    .await
    .unwrap();
    b.remember(
        NewMemory::new("the staging cluster password rotates monthly").with_scope(bob.clone()),
    )
    .await
    .unwrap();
    b.remember(NewMemory::new("lunch is at noon").with_scope(alice.clone()))
        .await
        .unwrap();
    for mode in [RecallMode::Hybrid, RecallMode::Vector, RecallMode::Keyword] {
        let hits = b
            .recall(&RecallQuery::new("staging cluster", alice.clone()).with_mode(mode))
            .await
            .unwrap();
        assert!(!hits.is_empty(), "{mode:?}");
        assert_eq!(
            hits[0].memory.content,
            "deploys go through the staging cluster first"
        );
        assert!(
            hits.iter().all(|h| h.memory.scope == alice),
            "{mode:?}: no other user's memory"
        );
        let top = &hits[0].score;
        match mode {
            RecallMode::Hybrid => assert!(top.keyword_rank.is_some() && top.vector_rank.is_some()),
            RecallMode::Vector => assert!(top.keyword_rank.is_none() && top.similarity.is_some()),
            RecallMode::Keyword => {
                assert!(top.vector_rank.is_none() && top.keyword_rank == Some(1))
            }
        }
        assert!(top.total > 0.0);
    }
}

#[tokio::test]
async fn forget_removes_from_store_and_index() {
    let b = mem_brain().await;
    let s = Scope::user("u");
    let m = b
        .remember(NewMemory::new("the API key lives in vault").with_scope(s.clone()))
        .await
        .unwrap();
    b.remember(NewMemory::new("the cache lives in redis").with_scope(s.clone()))
        .await
        .unwrap();
    assert!(b.forget(m.id).await.unwrap());
    assert!(
        !b.forget(m.id).await.unwrap(),
        "second forget finds nothing"
    );
    assert_eq!(b.get(m.id).await.unwrap(), None);
    for mode in [RecallMode::Vector, RecallMode::Keyword, RecallMode::Hybrid] {
        let hits = b
            .recall(&RecallQuery::new("API key vault", s.clone()).with_mode(mode))
            .await
            .unwrap();
        assert!(hits.iter().all(|h| h.memory.id != m.id), "{mode:?}");
    }
    let st = b.stats().await.unwrap();
    assert_eq!(st.indexed, 1);

    // Forget by filter.
    let tagged = Metadata::new().with("topic", "infra");
    for i in 0..3 {
        b.remember(
            NewMemory::new(format!("infra note {i}"))
                .with_scope(s.clone())
                .with_metadata(tagged.clone()),
        )
        .await
        .unwrap();
    }
    let gone = b
        .forget_where(
            &MemoryFilter::scoped(s.clone()).with_metadata(MetadataCondition::eq("topic", "infra")),
        )
        .await
        .unwrap();
    assert_eq!(gone.len(), 3);
    assert_eq!(b.stats().await.unwrap().indexed, 1);
    assert_eq!(b.count(&MemoryFilter::scoped(s)).await.unwrap(), 1);
}

#[tokio::test]
async fn prune_dry_run_then_for_real() {
    let b = mem_brain().await;
    let s = Scope::user("u");
    let old = |text: &str, imp: f64| {
        let mut m = NewMemory::new(text)
            .with_scope(s.clone())
            .with_importance(Importance::new(imp).unwrap());
        m.created_at =
            Some(memory_core::Timestamp::now().saturating_sub(Duration::from_secs(90 * 86_400)));
        m
    };
    b.remember(old("old and trivial", 0.1)).await.unwrap();
    b.remember(old("old but vital", 0.9)).await.unwrap();
    b.remember(
        NewMemory::new("new and trivial")
            .with_scope(s.clone())
            .with_importance(Importance::new(0.1).unwrap()),
    )
    .await
    .unwrap();
    let rule = PruneRule {
        filter: MemoryFilter::scoped(s.clone()),
        max_importance: 0.3,
        older_than: Duration::from_secs(30 * 86_400),
    };
    let would = b.prune(&rule, true).await.unwrap();
    assert_eq!(
        would.iter().map(|m| m.content.as_str()).collect::<Vec<_>>(),
        vec!["old and trivial"]
    );
    assert_eq!(
        b.count(&MemoryFilter::scoped(s.clone())).await.unwrap(),
        3,
        "dry run deletes nothing"
    );
    let gone = b.prune(&rule, false).await.unwrap();
    assert_eq!(gone.len(), 1);
    assert_eq!(b.count(&MemoryFilter::scoped(s.clone())).await.unwrap(), 2);
    assert_eq!(b.stats().await.unwrap().indexed, 2);
    let bad = PruneRule {
        max_importance: f64::NAN,
        ..rule
    };
    assert!(b.prune(&bad, true).await.is_err());
}

#[tokio::test]
async fn patterns_rank_by_meaning_and_outcome() {
    let b = mem_brain().await;
    let s = Scope::user("dev");
    let fix = |sol: &str| {
        NewPattern::new(
            "error_fix",
            "borrow checker error: cannot borrow as mutable",
            sol,
        )
        .with_language("rust")
        .with_scope(s.clone())
    };
    let good = b
        .add_pattern(fix("clone the Arc before the closure"))
        .await
        .unwrap();
    // Same scope, type and context: the seed counts a success instead of a new row.
    let again = b
        .add_pattern(fix("clone the Arc before the closure"))
        .await
        .unwrap();
    assert!(!again.inserted);
    let bad = b
        .add_pattern(
            NewPattern::new(
                "error_fix",
                "borrow checker error: cannot borrow as mutable twice",
                "use unsafe",
            )
            .with_language("rust")
            .with_scope(s.clone()),
        )
        .await
        .unwrap();
    for _ in 0..5 {
        b.pattern_outcome(bad.pattern.id, PatternOutcome::Failure)
            .await
            .unwrap();
    }
    b.add_pattern(
        NewPattern::new("feature", "add a CLI flag", "use clap derive").with_scope(s.clone()),
    )
    .await
    .unwrap();
    let mut q = PatternQuery::new(s.clone(), 5);
    q.pattern_type = Some("error_fix".into());
    let found = b
        .find_similar_patterns("cannot borrow as mutable", &q)
        .await
        .unwrap();
    assert_eq!(found.len(), 2, "only error_fix patterns: {found:?}");
    assert_eq!(
        found[0].pattern.id, good.pattern.id,
        "the one that works ranks first"
    );
    assert!(found[0].score.outcome > 0.0 && found[1].score.outcome < 0.0);
    assert!(found[0].success_rate > found[1].success_rate);

    assert!(b.delete_pattern(bad.pattern.id).await.unwrap());
    let found = b
        .find_similar_patterns("cannot borrow as mutable", &q)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    // Another user's patterns are not visible.
    let other = b
        .find_similar_patterns("cannot borrow", &PatternQuery::new(Scope::user("eve"), 5))
        .await
        .unwrap();
    assert!(other.is_empty());
}

#[tokio::test]
async fn context_window_and_working_memory() {
    let b = mem_brain().await;
    let s = Scope::user("u").with_session("chat");
    for i in 0..60 {
        b.add_message(&s, Role::User, &format!("message {i}"))
            .await
            .unwrap();
    }
    let w = b.context_window(&s).await.unwrap();
    assert_eq!(w.len(), 50, "the seed's 50-message window");
    assert_eq!(w[0].content, "message 10");
    b.set_working(&s, "goal", serde_json::json!("fix CI"), None)
        .await
        .unwrap();
    assert_eq!(
        b.get_working(&s, "goal").await.unwrap(),
        Some(serde_json::json!("fix CI"))
    );
}

#[tokio::test]
async fn bad_input_is_rejected_and_nothing_is_lost() {
    let b = mem_brain().await;
    let s = Scope::user("u");
    b.remember(NewMemory::new("keep me").with_scope(s.clone()))
        .await
        .unwrap();
    // One bad memory in a batch: nothing of the batch is written.
    let batch = vec![
        NewMemory::new("fine").with_scope(s.clone()),
        NewMemory::new("x".repeat(2 << 20)).with_scope(s.clone()),
    ];
    let e = b.remember_many(batch).await.unwrap_err();
    assert_eq!(e.kind(), memory_core::ErrorKind::InvalidInput, "{e}");
    assert!(
        b.recall(&RecallQuery::new("", s.clone())).await.is_err(),
        "empty query"
    );
    assert!(
        b.recall(&RecallQuery::new("q", s.clone()).with_k(0))
            .await
            .is_err()
    );
    assert!(
        b.recall(&RecallQuery::new("AND OR NOT \"( *", s.clone()))
            .await
            .is_ok(),
        "FTS syntax is data"
    );
    assert_eq!(b.count(&MemoryFilter::scoped(s)).await.unwrap(), 1);
}

#[tokio::test]
async fn reopen_uses_snapshot_and_other_handles_see_writes() {
    let dir = tempfile::tempdir().unwrap();
    let config = file_config(dir.path(), 128);
    let s = Scope::user("u");
    {
        let b = brain_engines::open(config.clone()).await.unwrap();
        b.remember(NewMemory::new("the release train leaves on thursdays").with_scope(s.clone()))
            .await
            .unwrap();
        b.close().await.unwrap();
    }
    assert!(
        dir.path().join("vectors").exists(),
        "close wrote a snapshot"
    );
    let a = brain_engines::open(config.clone()).await.unwrap();
    let b = brain_engines::open(config.clone()).await.unwrap();
    a.remember(NewMemory::new("hotfixes skip the release train").with_scope(s.clone()))
        .await
        .unwrap();
    let hits = b
        .recall(&RecallQuery::new("hotfixes", s.clone()).with_mode(RecallMode::Vector))
        .await
        .unwrap();
    assert_eq!(
        hits[0].memory.content, "hotfixes skip the release train",
        "b sees a's write"
    );
    assert_eq!(b.stats().await.unwrap().indexed, 2);
}

#[tokio::test]
async fn another_embedder_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let b = brain_engines::open(file_config(dir.path(), 128))
        .await
        .unwrap();
    b.remember(NewMemory::new("x").with_kind(MemoryKind::fact()))
        .await
        .unwrap();
    b.close().await.unwrap();
    drop(b);
    let e = brain_engines::open(file_config(dir.path(), 256))
        .await
        .unwrap_err();
    assert!(matches!(e, BrainError::EmbedderMismatch { .. }), "{e}");
    assert!(e.to_string().contains("brain reindex"), "{e}");
}

#[tokio::test]
async fn missing_model_names_the_fetch_command() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = file_config(dir.path(), 128);
    c.embedder.kind = EmbedderKind::Bert;
    c.embedder.model_dir = Some(dir.path().join("no-model"));
    let e = brain_engines::open(c).await.unwrap_err();
    assert!(matches!(e, BrainError::ModelMissing { .. }), "{e}");
    assert!(e.to_string().contains("brain model fetch"), "{e}");
}

#[tokio::test]
async fn threads_give_context_and_named_speakers_boost() {
    let b = mem_brain().await;
    let s = Scope::user("conv").with_session("s1");
    let at = memory_core::Timestamp::from_millis(1_683_550_560_000); // 8 May 2023
    let turn = |speaker: &str, text: &str, i: i64| {
        let mut m = NewMemory::new(format!("{speaker}: {text}"))
            .with_scope(s.clone())
            .with_metadata(Metadata::new().with("speaker", speaker));
        m.created_at = Some(memory_core::Timestamp::from_millis(at.as_millis() + i));
        m
    };
    let first = b
        .remember_many(vec![
            turn("Caroline", "I went to a support group yesterday", 0),
            turn("Melanie", "How was it?", 1),
        ])
        .await
        .unwrap();
    assert_eq!(
        first[0].context, "[8 May 2023]\nMelanie: How was it?",
        "date and next turn"
    );
    assert_eq!(
        first[1].context,
        "[8 May 2023]\nCaroline: I went to a support group yesterday"
    );
    // A later turn: its context has the previous two; its predecessor gains it as next.
    let third = b
        .remember(turn("Caroline", "It was powerful, I felt accepted", 2))
        .await
        .unwrap();
    assert_eq!(
        third.context,
        "[8 May 2023]\nCaroline: I went to a support group yesterday\nMelanie: How was it?"
    );
    let second = b.get(first[1].id).await.unwrap().unwrap();
    assert!(
        second
            .context
            .ends_with("Caroline: It was powerful, I felt accepted")
    );
    assert_eq!(
        second.updated_at, first[1].updated_at,
        "context is not an update"
    );
    // New content is re-embedded (with its thread), so recall by meaning follows it.
    b.update(
        third.id,
        memory_core::MemoryPatch {
            content: Some("Caroline: we adopted a puppy named Max".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let hits = b
        .recall(
            &RecallQuery::new("adopted puppy Max", Scope::user("conv"))
                .with_mode(RecallMode::Vector)
                .with_k(1),
        )
        .await
        .unwrap();
    assert_eq!(hits[0].memory.id, third.id);
    assert_eq!(b.stats().await.unwrap().indexed, 3);
    // Memories outside a session get no context.
    let plain = b.remember(NewMemory::new("no thread here")).await.unwrap();
    assert!(plain.context.is_empty());

    // Keyword recall finds a turn by its neighbours' words, below the turn itself.
    let hits = b
        .recall(
            &RecallQuery::new("support group", Scope::user("conv")).with_mode(RecallMode::Keyword),
        )
        .await
        .unwrap();
    assert_eq!(hits[0].memory.id, first[0].id);
    assert!(
        hits.len() >= 2,
        "neighbours found through their context: {hits:?}"
    );
    // A question naming one speaker boosts that speaker's turns.
    let hits = b
        .recall(&RecallQuery::new(
            "What did Melanie ask?",
            Scope::user("conv"),
        ))
        .await
        .unwrap();
    let mel = hits.iter().find(|h| h.memory.id == first[1].id).unwrap();
    assert_eq!(mel.score.boost, 1.5);
    assert!(
        hits.iter()
            .filter(|h| h.memory.id != first[1].id)
            .all(|h| h.score.boost == 1.0)
    );
}

#[tokio::test]
async fn recall_many_answers_as_recall_does_one_by_one() {
    let b = mem_brain().await;
    let s = Scope::user("ada");
    for text in [
        "the staging database listens on 5433",
        "deploys go out on Thursdays",
        "Ada prefers tabs over spaces",
        "the CI runs on Debian",
    ] {
        b.remember(NewMemory::new(text).with_scope(s.clone()))
            .await
            .unwrap();
    }
    let queries = vec![
        RecallQuery::new("which port does staging use", s.clone()),
        RecallQuery::new("when do we deploy", s.clone()).with_mode(RecallMode::Keyword),
        RecallQuery::new("", s.clone()),
        RecallQuery::new("tabs or spaces", s.clone()).with_k(0),
        RecallQuery::new("what OS does CI use", s.clone()).with_mode(RecallMode::Vector),
    ];
    let many = b.recall_many(&queries).await.unwrap();
    assert_eq!(many.len(), queries.len());
    for (q, got) in queries.iter().zip(many) {
        match (b.recall(q).await, got) {
            // Equal but for recency, which moves with the clock between the two calls.
            (Ok(one), Ok(batch)) => {
                let key = |h: &brain::RecallHit| {
                    (
                        h.memory.id,
                        h.score.keyword_rank,
                        h.score.vector_rank,
                        h.score.similarity,
                    )
                };
                assert_eq!(
                    one.iter().map(key).collect::<Vec<_>>(),
                    batch.iter().map(key).collect::<Vec<_>>(),
                    "{q:?}"
                );
            }
            (Err(one), Err(batch)) => assert_eq!(one.to_string(), batch.to_string()),
            (one, batch) => panic!("{q:?}: one by one {one:?}, batched {batch:?}"),
        }
    }
}

/// A builder told the embedder is pinned checks the pin instead of writing it: a store
/// without the pin, or with another model's, is refused; a store with it opens.
#[tokio::test]
async fn a_promised_pin_is_checked() {
    let embedder = Arc::new(embed::HashingEmbedder::new(256).unwrap());
    let build = |store| {
        Brain::builder()
            .store(store)
            .embedder(embedder.clone())
            .index(brain_engines::exact_index(256).unwrap())
            .embedder_pinned()
            .build()
    };
    let store = brain_engines::sqlite_in_memory().unwrap();
    let Err(BrainError::Config(message)) = build(store.clone()).await else {
        panic!("no pin, but the builder was told there is one");
    };
    assert!(message.contains("missing"), "{message}");
    let other = memory_core::EmbedderInfo {
        model_id: "another-model".into(),
        dimension: 256,
    };
    store.pin_embedder(&other).await.unwrap();
    assert!(matches!(build(store).await, Err(BrainError::Config(_))));

    let store = brain_engines::sqlite_in_memory().unwrap();
    brain::pin_embedder(store.as_ref(), embed::Embedder::info(embedder.as_ref()))
        .await
        .unwrap();
    build(store).await.unwrap();
}

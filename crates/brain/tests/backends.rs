#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking
//! A brain on PostgreSQL and Redis behaves as the embedded one does: one scenario of
//! remember, recall (hybrid, keyword, vector), filters, forget, patterns, preferences,
//! decisions and recommendations, context windows and working memory, run on both, with
//! every observation compared.
//!
//! Needs `BRAIN_TEST_POSTGRES_URL` and `BRAIN_TEST_REDIS_URL` (`cargo xtask test` starts
//! throwaway servers and sets them).

use std::time::Duration;

use brain::config::{ConnectionUrl, EmbedderKind, ShortTermKind, StoreKind};
use brain::{Brain, BrainConfig, RecallMode, RecallQuery};
use memory_core::{
    MemoryFilter, MemoryKind, Metadata, MetadataCondition, NewDecision, NewMemory, NewPattern,
    NewPreference, PatternOutcome, PatternQuery, Reward, Role, Scope, WindowLimit,
};

fn url(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: `cargo xtask test -- -p brain` starts throwaway PostgreSQL and Redis servers on loopback and sets it")
    })
}

fn unique(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{tag}_{}_{nanos}", std::process::id())
}

fn embedded(dir: &std::path::Path) -> BrainConfig {
    let mut c = BrainConfig {
        data_dir: dir.to_path_buf(),
        ..Default::default()
    };
    c.embedder.kind = EmbedderKind::Hashing;
    c
}

fn shared(dir: &std::path::Path, schema: &str, prefix: &str) -> BrainConfig {
    let mut c = embedded(dir);
    c.store.kind = StoreKind::Postgres;
    c.store.url = Some(ConnectionUrl::new(url("BRAIN_TEST_POSTGRES_URL")));
    c.store.schema = Some(schema.to_owned());
    c.store.pool_size = 4;
    c.short_term.kind = ShortTermKind::Redis;
    c.short_term.url = Some(ConnectionUrl::new(url("BRAIN_TEST_REDIS_URL")));
    c.short_term.prefix = prefix.to_owned();
    c
}

fn contents(hits: &[brain::RecallHit]) -> Vec<String> {
    hits.iter().map(|h| h.memory.content.clone()).collect()
}

/// Everything the scenario observed, in order.
async fn scenario(b: &Brain) -> Vec<String> {
    let mut seen = Vec::new();
    let alice = Scope::user("alice");
    let bob = Scope::user("bob");
    let facts = [
        (
            "deploys go through the staging cluster first",
            &alice,
            "ops",
        ),
        ("the staging cluster runs PostgreSQL 16", &alice, "ops"),
        ("Alice prefers tabs over spaces in Rust", &alice, "style"),
        ("lunch is at noon on Fridays", &alice, "life"),
        ("the staging cluster password rotates monthly", &bob, "ops"),
        ("Bob reviews every migration", &bob, "ops"),
    ];
    let mut ids = Vec::new();
    for (text, scope, topic) in facts {
        let m = b
            .remember(
                NewMemory::new(text)
                    .with_scope(scope.clone())
                    .with_metadata(Metadata::new().with("topic", topic)),
            )
            .await
            .unwrap();
        ids.push(m.id);
    }
    for mode in [RecallMode::Hybrid, RecallMode::Keyword, RecallMode::Vector] {
        let hits = b
            .recall(
                &RecallQuery::new("staging cluster", alice.clone())
                    .with_k(2)
                    .with_mode(mode),
            )
            .await
            .unwrap();
        let mut c = contents(&hits);
        c.sort();
        seen.push(format!("{mode:?} top-2 as a set: {c:?}"));
    }
    let hit = b
        .recall(&RecallQuery::new("tabs or spaces", alice.clone()).with_k(1))
        .await
        .unwrap();
    seen.push(format!("tabs: {:?}", contents(&hit)));
    let ops =
        MemoryFilter::scoped(alice.clone()).with_metadata(MetadataCondition::eq("topic", "ops"));
    seen.push(format!("alice ops: {}", b.count(&ops).await.unwrap()));
    seen.push(format!(
        "everyone: {}",
        b.count(&MemoryFilter::default()).await.unwrap()
    ));
    seen.push(format!("forgot: {}", b.forget(ids[1]).await.unwrap()));
    let hits = b
        .recall(&RecallQuery::new("PostgreSQL 16", alice.clone()).with_k(5))
        .await
        .unwrap();
    seen.push(format!(
        "after forget: {}",
        contents(&hits).iter().any(|c| c.contains("PostgreSQL"))
    ));
    let facts_only = b
        .recall(
            &RecallQuery::new("staging", bob.clone())
                .with_filter(MemoryFilter::scoped(bob.clone()).with_kind(MemoryKind::fact())),
        )
        .await
        .unwrap();
    seen.push(format!("bob facts: {}", facts_only.len()));

    // Code patterns.
    let fix = |ctx: &str, sol: &str| NewPattern {
        scope: alice.clone(),
        pattern_type: "error_fix".into(),
        context: ctx.into(),
        solution: sol.into(),
        language: Some("rust".into()),
        metadata: Metadata::new(),
    };
    let p1 = b
        .add_pattern(fix("E0502 cannot borrow as mutable", "clone the key first"))
        .await
        .unwrap();
    b.add_pattern(fix("E0382 use of moved value", "borrow instead of moving"))
        .await
        .unwrap();
    let again = b
        .add_pattern(fix("E0502 cannot borrow as mutable", "clone the key first"))
        .await
        .unwrap();
    seen.push(format!(
        "pattern again inserted: {} successes {}",
        again.inserted, again.pattern.success_count
    ));
    let after = b
        .pattern_outcome(p1.pattern.id, PatternOutcome::Failure)
        .await
        .unwrap();
    seen.push(format!("failures: {}", after.failure_count));
    let found = b
        .find_similar_patterns(
            "cannot borrow as mutable",
            &PatternQuery::new(alice.clone(), 1),
        )
        .await
        .unwrap();
    seen.push(format!(
        "similar: {:?}",
        found
            .iter()
            .map(|m| m.pattern.solution.clone())
            .collect::<Vec<_>>()
    ));

    // Preferences.
    b.set_preference(NewPreference::new("editor.indent", "tabs").with_scope(alice.clone()))
        .await
        .unwrap();
    b.set_preference(NewPreference::new("editor.indent", "spaces").with_scope(alice.clone()))
        .await
        .unwrap();
    let p = b
        .preference(&alice, "editor.indent")
        .await
        .unwrap()
        .map(|p| p.value);
    seen.push(format!("indent: {p:?}"));
    seen.push(format!(
        "bob prefs: {}",
        b.preferences(&bob, None).await.unwrap().len()
    ));

    // Decisions teach recommendations.
    for (chosen, reward) in [("rewrite", 1.0), ("retry", -1.0), ("rewrite", 0.8)] {
        let d = b
            .record_decision(NewDecision {
                scope: alice.clone(),
                agent_type: "coder".into(),
                context: "flaky test".into(),
                options: vec!["retry".into(), "rewrite".into()],
                chosen_option: chosen.into(),
                reasoning: String::new(),
                metadata: Metadata::new(),
            })
            .await
            .unwrap();
        b.update_decision_outcome(d.id, "done", Reward::new(reward).unwrap())
            .await
            .unwrap();
    }
    let rec = b
        .recommend(
            &alice,
            "coder",
            "default",
            &["retry".into(), "rewrite".into()],
            false,
        )
        .await
        .unwrap();
    seen.push(format!(
        "recommend: {:?}",
        rec.ranked
            .iter()
            .map(|r| r.option.clone())
            .collect::<Vec<_>>()
    ));

    // Short-term memory.
    let session = alice.clone().with_session("s1");
    let limit = WindowLimit {
        max_messages: 3,
        max_tokens: None,
    };
    for i in 0..5 {
        b.add_message_with_limit(&session, Role::User, &format!("message {i}"), limit)
            .await
            .unwrap();
    }
    let window = b.context_window(&session).await.unwrap();
    seen.push(format!(
        "window: {:?}",
        window.iter().map(|m| m.content.clone()).collect::<Vec<_>>()
    ));
    b.set_working(
        &session,
        "step",
        serde_json::json!(3),
        Some(Duration::from_secs(60)),
    )
    .await
    .unwrap();
    seen.push(format!(
        "working: {:?}",
        b.get_working(&session, "step").await.unwrap()
    ));
    seen.push(format!(
        "other session: {:?}",
        b.context_window(&alice.clone().with_session("s2"))
            .await
            .unwrap()
            .len()
    ));
    b.short_term().clear(&session).await.unwrap();

    let stats = b.stats().await.unwrap();
    seen.push(format!(
        "stats: {} memories, {} patterns, {} decisions",
        stats.store.memories, stats.store.patterns, stats.store.decisions
    ));
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_and_redis_behave_as_the_embedded_brain() {
    let dir = tempfile::tempdir().unwrap();
    let local = brain_engines::open(embedded(&dir.path().join("local")))
        .await
        .unwrap();
    let expected = scenario(&local).await;
    local.close().await.unwrap();

    let schema = unique("brain_backends");
    let brain = brain_engines::open(shared(
        &dir.path().join("shared"),
        &schema,
        &unique("backends"),
    ))
    .await
    .unwrap();
    let observed = scenario(&brain).await;
    brain.close().await.unwrap();
    drop_schema(&schema).await;
    eprintln!("{}", observed.join("\n"));
    for (e, o) in expected.iter().zip(&observed) {
        assert_eq!(e, o, "PostgreSQL + Redis differ from SQLite + in-process");
    }
    assert_eq!(expected.len(), observed.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_brain_on_the_same_postgres_sees_the_first_ones_memories() {
    let dir = tempfile::tempdir().unwrap();
    let schema = unique("brain_pair");
    let prefix = unique("pair");
    let a = brain_engines::open(shared(&dir.path().join("a"), &schema, &prefix))
        .await
        .unwrap();
    let b = brain_engines::open(shared(&dir.path().join("b"), &schema, &prefix))
        .await
        .unwrap();
    let team = Scope::user("team");
    a.remember(NewMemory::new("the release train leaves on Tuesdays").with_scope(team.clone()))
        .await
        .unwrap();
    // B's index catches up from the store's embedding log before recalling.
    let hits = b
        .recall(
            &RecallQuery::new("when does the release train leave?", team.clone())
                .with_mode(RecallMode::Vector),
        )
        .await
        .unwrap();
    assert_eq!(contents(&hits), ["the release train leaves on Tuesdays"]);
    a.add_message(&team, Role::User, "hello from a")
        .await
        .unwrap();
    let w = b.context_window(&team).await.unwrap();
    assert_eq!(w.len(), 1);
    assert_eq!(w[0].content, "hello from a");
    b.short_term().clear(&team).await.unwrap();
    a.close().await.unwrap();
    b.close().await.unwrap();
    drop_schema(&schema).await;
}

async fn drop_schema(schema: &str) {
    let (client, conn) =
        tokio_postgres::connect(&url("BRAIN_TEST_POSTGRES_URL"), tokio_postgres::NoTls)
            .await
            .unwrap();
    let task = tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .await
        .unwrap();
    drop(client);
    let _ = task.await;
}

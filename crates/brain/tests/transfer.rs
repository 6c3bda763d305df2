#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Export, import and reindex.

use brain::config::EmbedderKind;
use brain::{Brain, BrainConfig, BrainError, NoProgress, RecallMode, RecallQuery};
use memory_core::{
    EventQuery, Importance, MemoryFilter, Metadata, NewDecision, NewLearningEvent, NewMemory,
    NewPattern, NewPreference, PatternOutcome, PatternQuery, Reward, Scope, Timestamp,
};

fn config(dir: &std::path::Path, dimension: usize) -> BrainConfig {
    let mut c = BrainConfig {
        data_dir: dir.to_path_buf(),
        ..Default::default()
    };
    c.embedder.kind = EmbedderKind::Hashing;
    c.embedder.dimension = dimension;
    c
}

async fn filled(dir: &std::path::Path) -> Brain {
    let b = Brain::open(config(dir, 128)).await.unwrap();
    let s = Scope::user("alice").with_agent("coder");
    b.remember(
        NewMemory::new("the staging database listens on 5433")
            .with_scope(s.clone())
            .with_metadata(Metadata::new().with("source", "ops").with("n", 1.5))
            .with_importance(Importance::new(0.8).unwrap())
            .with_expiry(Timestamp::from_millis(i64::MAX / 4)),
    )
    .await
    .unwrap();
    b.remember(NewMemory::new("bob likes long names").with_scope(Scope::user("bob")))
        .await
        .unwrap();
    b.set_preference(NewPreference::new("indent", "tabs").with_scope(s.clone()))
        .await
        .unwrap();
    let p = b
        .add_pattern(
            NewPattern::new("error_fix", "port already in use", "kill the old server")
                .with_scope(s.clone()),
        )
        .await
        .unwrap();
    b.pattern_outcome(p.pattern.id, PatternOutcome::Failure)
        .await
        .unwrap();
    b.pattern_outcome(p.pattern.id, PatternOutcome::Success)
        .await
        .unwrap();
    b.record_event(NewLearningEvent {
        scope: s.clone(),
        event_type: "success".into(),
        task_description: "deploy".into(),
        outcome: "ok".into(),
        reward: Reward::new(0.5).unwrap(),
        metadata: Metadata::new(),
    })
    .await
    .unwrap();
    let d = b
        .record_decision(NewDecision {
            scope: s.clone(),
            agent_type: "coder".into(),
            context: "which port".into(),
            options: vec!["5432".into(), "5433".into()],
            chosen_option: "5433".into(),
            reasoning: "staging".into(),
            metadata: Default::default(),
        })
        .await
        .unwrap();
    b.update_decision_outcome(d.id, "worked", Reward::new(1.0).unwrap())
        .await
        .unwrap();
    b
}

async fn memories(brain: &Brain) -> Vec<memory_core::Memory> {
    let all = MemoryFilter {
        include_expired: true,
        ..Default::default()
    };
    let mut v = brain
        .list(&memory_core::MemoryQuery::new(all, 100))
        .await
        .unwrap();
    v.retain(|m| m.kind.as_str() != brain::PATTERN_KIND);
    v.sort_by_key(|m| m.id);
    v
}

#[tokio::test]
async fn export_import_round_trip_is_lossless() {
    let a_dir = tempfile::tempdir().unwrap();
    let a = filled(a_dir.path()).await;
    let mut out = Vec::new();
    let sent = a.export_jsonl(&mut out, &NoProgress).await.unwrap();
    // The decision's outcome added a learning event and taught a policy.
    assert_eq!((sent.memories, sent.records, sent.policies), (2, 5, 1));

    let b_dir = tempfile::tempdir().unwrap();
    let b = Brain::open(config(b_dir.path(), 256)).await.unwrap();
    let got = b
        .import_jsonl(&mut out.as_slice(), &NoProgress)
        .await
        .unwrap();
    assert_eq!(got, sent);

    // Memories: every field.
    assert_eq!(memories(&a).await, memories(&b).await);
    // Records: the same export again (ids, counts, outcomes), apart from the header.
    let mut again = Vec::new();
    b.export_jsonl(&mut again, &NoProgress).await.unwrap();
    let body = |v: &[u8]| {
        String::from_utf8(v.to_vec())
            .unwrap()
            .lines()
            .skip(1)
            // A policy is imported as a new save: same state, its own version and time.
            .map(
                |l| match serde_json::from_str::<brain::ExportLine>(l).unwrap() {
                    brain::ExportLine::Policy(p) => {
                        format!("policy {} {} {}", p.name, p.kind, p.state)
                    }
                    _ => l.to_owned(),
                },
            )
            .collect::<Vec<_>>()
    };
    assert_eq!(body(&out), body(&again));
    // Recall works in the new brain, patterns included.
    let s = Scope::user("alice");
    let hits = b
        .recall(&RecallQuery::new("staging database port", s.clone()).with_mode(RecallMode::Vector))
        .await
        .unwrap();
    assert_eq!(
        hits[0].memory.content,
        "the staging database listens on 5433"
    );
    let pats = b
        .find_similar_patterns("port in use", &PatternQuery::new(s.clone(), 3))
        .await
        .unwrap();
    assert_eq!(
        (pats[0].pattern.success_count, pats[0].pattern.failure_count),
        (2, 1)
    );
    let ev = b
        .events(&EventQuery {
            scope: s,
            event_type: None,
            since: None,
            limit: 10,
        })
        .await
        .unwrap();
    // The recorded event, and the one the decision's outcome added.
    assert_eq!(ev.len(), 2);

    // Importing the same file again clashes and changes nothing.
    let before = b.stats().await.unwrap();
    let e = b
        .import_jsonl(&mut out.as_slice(), &NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(e, BrainError::Import { .. }), "{e}");
    assert_eq!(b.stats().await.unwrap(), before);
}

#[tokio::test]
async fn a_bad_line_imports_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let b = Brain::open(config(dir.path(), 128)).await.unwrap();
    b.remember(NewMemory::new("already here")).await.unwrap();
    let good = serde_json::to_string(&brain::ExportLine::Memory(
        NewMemory::new("fine").into_memory(Timestamp::now()),
    ))
    .unwrap();
    for (bad, line) in [
        (format!("{good}\n{{\"type\":\"memory\"\n"), 2),
        (format!("{good}\n{{\"type\":\"spaceship\"}}\n"), 2),
        (format!("\n\n{}\n", good.replace("\"fine\"", "\"\"")), 3),
        (
            format!(
                "{good}\n{}\n",
                good.replace("\"importance\":0.5", "\"importance\":7.0")
            ),
            2,
        ),
        (
            format!(
                "{}\n",
                good.replace("\"scope\":{", "\"scope\":{\"user\":\"a\\u0000b\",")
            ),
            1,
        ),
    ] {
        let e = b
            .import_jsonl(&mut bad.as_bytes(), &NoProgress)
            .await
            .unwrap_err();
        match &e {
            BrainError::Import { line: l, .. } => assert_eq!(*l, line, "{bad}: {e}"),
            other => panic!("{bad}: {other}"),
        }
        assert!(e.to_string().contains("nothing was imported"));
    }
    let mut invalid_utf8 = good.clone().into_bytes();
    invalid_utf8.extend_from_slice(b"\n\xff\xfe\n");
    assert!(
        b.import_jsonl(&mut invalid_utf8.as_slice(), &NoProgress)
            .await
            .is_err()
    );
    assert_eq!(
        b.count(&MemoryFilter::default()).await.unwrap(),
        1,
        "nothing imported, nothing lost"
    );
}

#[tokio::test]
async fn reindex_moves_a_brain_to_another_embedder() {
    let dir = tempfile::tempdir().unwrap();
    let b = filled(dir.path()).await;
    b.close().await.unwrap();
    drop(b);
    let e = Brain::open(config(dir.path(), 64)).await.unwrap_err();
    assert!(matches!(e, BrainError::EmbedderMismatch { .. }));
    let b = Brain::reindex(config(dir.path(), 64), &NoProgress)
        .await
        .unwrap();
    assert_eq!(b.embedder_info().dimension, 64);
    let st = b.stats().await.unwrap();
    assert_eq!(
        st.indexed as u64, st.store.memories,
        "every memory re-embedded and indexed"
    );
    drop(b);
    let b = Brain::open(config(dir.path(), 64)).await.unwrap();
    let hits = b
        .recall(
            &RecallQuery::new("staging database", Scope::user("alice"))
                .with_mode(RecallMode::Vector),
        )
        .await
        .unwrap();
    assert_eq!(
        hits[0].memory.content,
        "the staging database listens on 5433"
    );
}

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
    let b = brain_engines::open(config(dir, 128)).await.unwrap();
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
    let b = brain_engines::open(config(b_dir.path(), 256))
        .await
        .unwrap();
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
    let b = brain_engines::open(config(dir.path(), 128)).await.unwrap();
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
    let e = brain_engines::open(config(dir.path(), 64))
        .await
        .unwrap_err();
    assert!(matches!(e, BrainError::EmbedderMismatch { .. }));
    let b = brain_engines::reindex(config(dir.path(), 64), &NoProgress)
        .await
        .unwrap();
    assert_eq!(b.embedder_info().dimension, 64);
    let st = b.stats().await.unwrap();
    assert_eq!(
        st.indexed as u64, st.store.memories,
        "every memory re-embedded and indexed"
    );
    drop(b);
    let b = brain_engines::open(config(dir.path(), 64)).await.unwrap();
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

/// Everything a brain holds, as its export without the header (which has the time).
async fn everything(b: &Brain) -> Vec<String> {
    let mut out = Vec::new();
    b.export_jsonl(&mut out, &NoProgress).await.unwrap();
    let mut lines: Vec<String> = String::from_utf8(out)
        .unwrap()
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect();
    // The patterns collection is not exported: count its memories too.
    lines.push(format!("stats {:?}", b.stats().await.unwrap().store));
    lines
}

/// An export of a filled brain, as lines (header first).
async fn export_lines() -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let a = filled(dir.path()).await;
    let mut out = Vec::new();
    a.export_jsonl(&mut out, &NoProgress).await.unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A brain that holds something already, to import into.
async fn target(dir: &std::path::Path) -> Brain {
    let b = brain_engines::open(config(dir, 128)).await.unwrap();
    b.remember(NewMemory::new("already here").with_scope(Scope::user("carol")))
        .await
        .unwrap();
    b
}

/// The index of the first line of this type (`memory`, `policy`) or record kind.
fn position(lines: &[String], ty: &str) -> usize {
    lines
        .iter()
        .position(|l| {
            l.contains(&format!("\"type\":\"{ty}\"")) || l.contains(&format!("\"record\":\"{ty}\""))
        })
        .unwrap()
}

/// Imports `lines`, expecting an import error on `line` whose message holds `needle`,
/// and checks the brain is exactly as before.
async fn refused(b: &Brain, lines: &[String], line: usize, needle: &str) {
    let before = everything(b).await;
    let text = lines.join("\n") + "\n";
    let e = b
        .import_jsonl(&mut text.as_bytes(), &NoProgress)
        .await
        .unwrap_err();
    match &e {
        BrainError::Import { line: l, message } => {
            assert_eq!(*l, line, "{e}");
            assert!(message.contains(needle), "{e}");
        }
        other => panic!("not an import error: {other}"),
    }
    assert!(e.to_string().contains("nothing was imported"), "{e}");
    assert_eq!(everything(b).await, before, "the store changed");
}

#[tokio::test]
async fn a_policy_line_twice_imports_nothing() {
    let mut lines = export_lines().await;
    let p = position(&lines, "policy");
    lines.push(lines[p].clone());
    let dir = tempfile::tempdir().unwrap();
    let b = target(dir.path()).await;
    refused(&b, &lines, lines.len(), &format!("first at line {}", p + 1)).await;
}

#[tokio::test]
async fn a_preference_key_twice_imports_nothing() {
    let mut lines = export_lines().await;
    let p = position(&lines, "preference");
    // Another id, the same scope and key.
    let mut v: serde_json::Value = serde_json::from_str(&lines[p]).unwrap();
    v["id"] = 99.into();
    v["value"] = "spaces".into();
    lines.push(v.to_string());
    let dir = tempfile::tempdir().unwrap();
    let b = target(dir.path()).await;
    refused(&b, &lines, lines.len(), "twice").await;
}

#[tokio::test]
async fn a_memory_id_twice_imports_nothing() {
    let mut lines = export_lines().await;
    let m = position(&lines, "memory");
    lines.push(lines[m].replace("the staging database", "another text, same id"));
    let dir = tempfile::tempdir().unwrap();
    let b = target(dir.path()).await;
    refused(&b, &lines, lines.len(), &format!("first at line {}", m + 1)).await;
}

#[tokio::test]
async fn a_bad_last_line_imports_nothing() {
    let mut lines = export_lines().await;
    lines.push("{\"type\":\"record\",\"kind\":".into());
    let dir = tempfile::tempdir().unwrap();
    let b = target(dir.path()).await;
    refused(&b, &lines, lines.len(), "EOF").await;
}

#[tokio::test]
async fn a_clash_only_the_store_sees_imports_nothing() {
    let lines = export_lines().await;
    let dir = tempfile::tempdir().unwrap();
    let b = target(dir.path()).await;
    // Learning event 1 exists here; the port has no lookup of events by id, so the
    // store refuses it inside the import's transaction.
    b.record_event(NewLearningEvent {
        scope: Scope::user("carol"),
        event_type: "note".into(),
        task_description: "before the import".into(),
        outcome: "ok".into(),
        reward: Reward::new(0.1).unwrap(),
        metadata: Metadata::new(),
    })
    .await
    .unwrap();
    let first_event = lines
        .iter()
        .position(|l| l.contains("\"learning_event\"") && l.contains("\"id\":1,"))
        .unwrap();
    refused(&b, &lines, first_event + 1, "the store refused").await;
}

/// An embedder that fails on one text, as a model or network can half-way.
struct FailsOn(embed::HashingEmbedder, &'static str);

#[async_trait::async_trait]
impl memory_core::Embedder for FailsOn {
    fn info(&self) -> &memory_core::EmbedderInfo {
        self.0.info()
    }
    async fn embed(&self, texts: &[String]) -> memory_core::Result<Vec<Vec<f32>>> {
        if texts.iter().any(|t| t.contains(self.1)) {
            return Err(memory_core::Error::Unavailable {
                message: "the embedder failed".into(),
                source: None,
            });
        }
        self.0.embed(texts).await
    }
}

#[tokio::test]
async fn an_embedder_failing_mid_import_imports_nothing() {
    let lines = export_lines().await;
    let b = Brain::builder()
        .store(brain_engines::sqlite_in_memory().unwrap())
        .embedder(std::sync::Arc::new(FailsOn(
            embed::HashingEmbedder::new(128).unwrap(),
            "bob likes",
        )))
        .index(brain_engines::exact_index(128).unwrap())
        .build()
        .await
        .unwrap();
    let before = everything(&b).await;
    let text = lines.join("\n") + "\n";
    let e = b
        .import_jsonl(&mut text.as_bytes(), &NoProgress)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("the embedder failed"), "{e}");
    assert_eq!(everything(&b).await, before, "the store changed");
}

#[tokio::test]
async fn a_good_file_imports_everything_beside_what_is_there() {
    let lines = export_lines().await;
    let dir = tempfile::tempdir().unwrap();
    let b = target(dir.path()).await;
    let before = everything(&b).await;
    let text = lines.join("\n") + "\n";
    let got = b
        .import_jsonl(&mut text.as_bytes(), &NoProgress)
        .await
        .unwrap();
    assert_eq!((got.memories, got.records, got.policies), (2, 5, 1));
    let after = everything(&b).await;
    // Every line of the file is there now (policies as new saves), and what was there.
    for l in &lines[1..] {
        let l = match serde_json::from_str::<brain::ExportLine>(l).unwrap() {
            brain::ExportLine::Policy(p) => format!("\"name\":{}", serde_json::json!(p.name)),
            _ => l.clone(),
        };
        assert!(after.iter().any(|a| a.contains(&l)), "missing {l}");
    }
    for l in &before[..before.len() - 1] {
        assert!(after.contains(l), "lost {l}");
    }
    let st = b.stats().await.unwrap();
    assert_eq!(
        st.indexed as u64, st.store.memories,
        "every memory embedded and indexed, patterns included"
    );
}

#[tokio::test]
async fn reindex_leaves_the_index_directory_to_the_servers_sharing_it() {
    let dir = tempfile::tempdir().unwrap();
    let b = filled(dir.path()).await;
    b.close().await.unwrap();
    // Another server's snapshot in progress, as it names its temporary directory.
    let vectors = b.config().vectors_dir();
    let theirs = vectors.join(format!(
        ".tmp-snapshot-00000000000000000001-1-{}-1-0123456789abcdef",
        std::process::id()
    ));
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("entries.jsonl"), "").unwrap();

    // Same embedder: embeddings replaced in place; the open server catches up.
    let r = brain_engines::reindex(config(dir.path(), 128), &NoProgress)
        .await
        .unwrap();
    assert!(
        theirs.join("entries.jsonl").exists(),
        "removed under a server"
    );
    let st = r.stats().await.unwrap();
    assert_eq!(st.indexed as u64, st.store.memories);
    let q =
        RecallQuery::new("staging database", Scope::user("alice")).with_mode(RecallMode::Vector);
    assert_eq!(
        b.recall(&q).await.unwrap()[0].memory.content,
        "the staging database listens on 5433"
    );
    b.close().await.unwrap();
    drop((b, r));

    // Another embedder: the old snapshot (128 dimensions) is rebuilt from the store.
    let r = brain_engines::reindex(config(dir.path(), 64), &NoProgress)
        .await
        .unwrap();
    assert!(
        theirs.join("entries.jsonl").exists(),
        "removed under a server"
    );
    let st = r.stats().await.unwrap();
    assert_eq!(st.indexed as u64, st.store.memories);
    drop(r);
    let b = brain_engines::open(config(dir.path(), 64)).await.unwrap();
    assert_eq!(
        b.recall(&q).await.unwrap()[0].memory.content,
        "the staging database listens on 5433"
    );
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The all-or-nothing rule, by failure injection: every multi-step operation of the
//! facade is run once cleanly to count its store writes, then again with a failure
//! injected at each of those writes in turn. Each run must either fail with the store
//! exactly as it was before the operation (compared as a full export), or succeed with
//! everything the clean run wrote.

use memory_core::RecordStoreExt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use brain::{Brain, FeedbackRequest, NoProgress};
use memory_core::testing::FaultyStore;
use memory_core::{
    MemoryPatch, Metadata, NewDecision, NewMemory, NewPattern, PatternQuery, Reward, Scope,
};

type Op = for<'a> fn(&'a Brain, &'a Ids) -> Pin<Box<dyn Future<Output = brain::Result<()>> + 'a>>;

/// What a scenario's setup made, for its operation to use.
#[derive(Default)]
struct Ids {
    memory: Option<memory_core::MemoryId>,
    decision: Option<i64>,
    export: Vec<u8>,
}

async fn brain_over(faulty: Arc<FaultyStore<store_sqlite::SqliteStore>>) -> Brain {
    Brain::builder()
        .store(faulty)
        .embedder(Arc::new(embed::HashingEmbedder::new(64).unwrap()))
        .index(brain_engines::exact_index(64).unwrap())
        .build()
        .await
        .unwrap()
}

fn session() -> Scope {
    Scope::user("alice").with_session("s1")
}

fn pattern() -> NewPattern {
    NewPattern {
        scope: Scope::user("alice"),
        pattern_type: "fix".into(),
        context: "the build fails on a missing linker".into(),
        solution: "install gcc".into(),
        language: Some("rust".into()),
        metadata: Metadata::new(),
    }
}

/// Everything stored, as text, without the export's header (it carries the time).
async fn dump(b: &Brain) -> String {
    let mut out = Vec::new();
    b.export_jsonl(&mut out, &NoProgress).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    let mut lines: Vec<&str> = text.lines().skip(1).collect();
    lines.sort_unstable();
    let s = b.store();
    // Policies with their versions and pattern entries are not all in the export.
    let mut extra = String::new();
    for name in s.list_policies().await.unwrap() {
        let p = s.get_policy(&name).await.unwrap().unwrap();
        extra.push_str(&format!("policy {name} v{}\n", p.version));
    }
    extra.push_str(&format!("{:?}\n", s.stats().await.unwrap()));
    for p in s
        .list_patterns(&PatternQuery::new(Scope::global(), 1000))
        .await
        .unwrap()
    {
        extra.push_str(&format!(
            "pattern {} {}/{}\n",
            p.id, p.success_count, p.failure_count
        ));
    }
    format!("{}\n{extra}", lines.join("\n"))
}

struct Scenario {
    name: &'static str,
    setup: Op,
    op: Op,
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "remember in a thread (with the predecessor's context)",
            setup: |b, _| {
                Box::pin(async move {
                    b.remember(NewMemory::new("the first turn").with_scope(session()))
                        .await
                        .map(|_| ())
                })
            },
            op: |b, _| {
                Box::pin(async move {
                    b.remember(NewMemory::new("the second turn").with_scope(session()))
                        .await
                        .map(|_| ())
                })
            },
        },
        Scenario {
            name: "remember_many over several embedding batches",
            setup: |_, _| Box::pin(async { Ok(()) }),
            op: |b, _| {
                Box::pin(async move {
                    let many = (0..300)
                        .map(|i| NewMemory::new(format!("memory {i}")).with_scope(session()))
                        .collect();
                    b.remember_many(many).await.map(|_| ())
                })
            },
        },
        Scenario {
            name: "update with new content (and its embedding)",
            setup: |_, _| Box::pin(async { Ok(()) }),
            op: |b, ids| {
                Box::pin(async move {
                    let patch = MemoryPatch {
                        content: Some("the release is on Friday".into()),
                        ..MemoryPatch::default()
                    };
                    b.update(ids.memory.unwrap(), patch).await.map(|_| ())
                })
            },
        },
        Scenario {
            name: "decision outcome (policy, pattern counts, event)",
            setup: |_, _| Box::pin(async { Ok(()) }),
            op: |b, ids| {
                Box::pin(async move {
                    b.update_decision_outcome(
                        ids.decision.unwrap(),
                        "it worked",
                        Reward::new(1.0).unwrap(),
                    )
                    .await
                    .map(|_| ())
                })
            },
        },
        Scenario {
            name: "feedback on a decision (event, preference, outcome)",
            setup: |_, _| Box::pin(async { Ok(()) }),
            op: |b, ids| {
                Box::pin(async move {
                    b.learn_from_feedback(&FeedbackRequest {
                        feedback: "excellent, that worked perfectly, thank you".into(),
                        task_context: "fixing the build".into(),
                        scope: Scope::user("alice"),
                        decision: ids.decision,
                        success: Some(true),
                        quality: None,
                    })
                    .await
                    .map(|_| ())
                })
            },
        },
        Scenario {
            name: "add a pattern (and its entry)",
            setup: |_, _| Box::pin(async { Ok(()) }),
            op: |b, _| {
                Box::pin(async move {
                    let mut p = pattern();
                    p.context = "a new problem".into();
                    b.add_pattern(p).await.map(|_| ())
                })
            },
        },
        Scenario {
            name: "prune",
            setup: |_, _| Box::pin(async { Ok(()) }),
            op: |b, _| {
                Box::pin(async move {
                    let rule = brain::PruneRule {
                        filter: memory_core::MemoryFilter::scoped(Scope::user("alice")),
                        max_importance: 1.0,
                        older_than: std::time::Duration::ZERO,
                    };
                    b.prune(&rule, false).await.map(|_| ())
                })
            },
        },
        Scenario {
            name: "import a file",
            setup: |_, _| Box::pin(async { Ok(()) }),
            op: |b, ids| {
                Box::pin(async move {
                    let mut input = std::io::Cursor::new(ids.export.clone());
                    b.import_jsonl(&mut input, &NoProgress).await.map(|_| ())
                })
            },
        },
    ]
}

/// A common starting point for every scenario: a thread memory, a pattern, a decision
/// linking it, and an export of another brain to import.
async fn common_setup(b: &Brain, ids: &mut Ids) {
    let m = b
        .remember(NewMemory::new("the release is on Thursday").with_scope(Scope::user("alice")))
        .await
        .unwrap();
    ids.memory = Some(m.id);
    let p = b.add_pattern(pattern()).await.unwrap().pattern;
    let d = b
        .record_decision(NewDecision {
            scope: Scope::user("alice"),
            agent_type: "coder".into(),
            context: "the build fails".into(),
            options: vec!["install gcc".into(), "use clang".into()],
            chosen_option: "install gcc".into(),
            reasoning: String::new(),
            metadata: Metadata::new()
                .with("pattern_id", p.id)
                .with("task_bucket", "build"),
        })
        .await
        .unwrap();
    ids.decision = Some(d.id);

    // Another brain's export: memories, a preference, a decision with an outcome and the
    // policy it taught.
    let other = Brain::builder()
        .store(brain_engines::sqlite_in_memory().unwrap())
        .embedder(Arc::new(embed::HashingEmbedder::new(64).unwrap()))
        .index(brain_engines::exact_index(64).unwrap())
        .build()
        .await
        .unwrap();
    let bob = Scope::user("bob");
    for i in 0..5 {
        other
            .remember(NewMemory::new(format!("bob's note {i}")).with_scope(bob.clone()))
            .await
            .unwrap();
    }
    other
        .set_preference(
            memory_core::NewPreference::new("editor", serde_json::json!("helix"))
                .with_scope(bob.clone()),
        )
        .await
        .unwrap();
    let d = other
        .record_decision(NewDecision {
            scope: bob.clone(),
            agent_type: "coder".into(),
            context: "which editor".into(),
            options: vec!["helix".into(), "vim".into()],
            chosen_option: "helix".into(),
            reasoning: String::new(),
            metadata: Metadata::new(),
        })
        .await
        .unwrap();
    other
        .update_decision_outcome(d.id, "fine", Reward::new(0.5).unwrap())
        .await
        .unwrap();
    let mut export = Vec::new();
    other.export_jsonl(&mut export, &NoProgress).await.unwrap();
    // Without the decision record, whose id the brain importing it already uses.
    let text = String::from_utf8(export).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains("\"record\":\"decision\""))
        .collect();
    assert!(kept.len() < text.lines().count() && kept.iter().any(|l| l.contains("policy")));
    ids.export = kept.join("\n").into_bytes();
}

async fn run(s: &Scenario, fail_at: Option<u64>) -> (u64, bool, String, String) {
    let faulty = Arc::new(FaultyStore::new(
        store_sqlite::SqliteStore::open_in_memory().unwrap(),
    ));
    let b = brain_over(faulty.clone()).await;
    let mut ids = Ids::default();
    common_setup(&b, &mut ids).await;
    (s.setup)(&b, &ids).await.unwrap();
    let before = dump(&b).await;
    let start = faulty.writes();
    if let Some(n) = fail_at {
        faulty.fail_write(n);
    }
    let result = (s.op)(&b, &ids).await;
    if fail_at.is_none()
        && let Err(e) = &result
    {
        eprintln!("{}: {e}", s.name);
    }
    let ok = result.is_ok();
    let writes = faulty.writes() - start;
    let after = dump(&b).await;
    (writes, ok, before, after)
}

#[tokio::test]
async fn every_multi_step_operation_commits_all_or_nothing() {
    for s in scenarios() {
        let (writes, ok, before, clean) = run(&s, None).await;
        assert!(ok, "{}: the clean run failed", s.name);
        assert!(writes > 0, "{}: wrote nothing", s.name);
        eprintln!(
            "{}: {writes} store write call(s), each failed in turn",
            s.name
        );
        assert_ne!(before, clean, "{}: the clean run changed nothing", s.name);
        for k in 0..writes {
            let (_, ok, before, after) = run(&s, Some(k)).await;
            if ok {
                // Succeeded past the failure (a retried or skipped step): it must have
                // written what the clean run wrote (ids and times aside, so compare the
                // shape: the same number of lines).
                assert_eq!(
                    after.lines().count(),
                    clean.lines().count(),
                    "{}: succeeded with write {k} failing but wrote something else",
                    s.name
                );
            } else {
                assert_eq!(
                    before, after,
                    "{}: failed at write {k} of {writes} but left a change",
                    s.name
                );
            }
        }
    }
}

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Trust at the facade: nothing crosses a scope (links read back from stored data,
//! learned policies), and no operation fails after it committed or half-commits.

use memory_core::RecordStoreExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use brain::{
    Brain, FeedbackRequest, MAX_CONTEXT_BYTES, MAX_POLICY_ARMS, PATTERN_KIND, RecallQuery,
};
use memory_core::{
    DerivedIndex, EmbeddingStore, ErrorKind, MemoryKind, MemoryPatch, Metadata, NewDecision,
    NewMemory, NewPattern, PatternOutcome, PatternQuery, Reward, Scope, VectorEntry, VectorHit,
    VectorIndex, VectorQuery,
};

async fn brain() -> Brain {
    Brain::builder()
        .store(brain_engines::sqlite_in_memory().unwrap())
        .embedder(Arc::new(embed::HashingEmbedder::new(256).unwrap()))
        .index(brain_engines::exact_index(256).unwrap())
        .build()
        .await
        .unwrap()
}

fn pattern(scope: Scope, context: &str, solution: &str) -> NewPattern {
    NewPattern {
        scope,
        pattern_type: "fix".into(),
        context: context.into(),
        solution: solution.into(),
        language: Some("rust".into()),
        metadata: Metadata::new(),
    }
}

fn decision(scope: Scope, options: &[&str], chosen: &str, metadata: Metadata) -> NewDecision {
    NewDecision {
        scope,
        agent_type: "coder".into(),
        context: "which tool runs the tests".into(),
        options: options.iter().map(|o| (*o).to_owned()).collect(),
        chosen_option: chosen.into(),
        reasoning: String::new(),
        metadata,
    }
}

fn kind_of(e: &brain::BrainError) -> Option<ErrorKind> {
    match e {
        brain::BrainError::Core(c) => Some(c.kind()),
        _ => None,
    }
}

/// Everything stored, as comparable text: counts, policies with versions, patterns with
/// counts, decisions with outcomes.
async fn state(b: &Brain) -> String {
    let s = b.store();
    let mut out = format!("{:?}\n", s.stats().await.unwrap());
    for name in s.list_policies().await.unwrap() {
        let p = s.get_policy(&name).await.unwrap().unwrap();
        out.push_str(&format!("policy {name} v{} {}\n", p.version, p.state));
    }
    for p in s
        .list_patterns(&PatternQuery::new(Scope::global(), 10_000))
        .await
        .unwrap()
    {
        out.push_str(&format!(
            "pattern {} {:?} {}/{}\n",
            p.id, p.scope, p.success_count, p.failure_count
        ));
    }
    let q = memory_core::DecisionQuery {
        scope: Scope::global(),
        agent_type: None,
        with_outcome: None,
        limit: 10_000,
    };
    for d in s.list_decisions(&q).await.unwrap() {
        out.push_str(&format!(
            "decision {} {:?} {:?}\n",
            d.id, d.outcome, d.reward
        ));
    }
    out
}

#[tokio::test]
async fn callers_cannot_write_the_kinds_the_brain_reads_back() {
    let b = brain().await;
    let alice = Scope::user("alice");
    let forged = NewMemory::new("how to fix the flaky test")
        .with_scope(alice.clone())
        .with_kind(MemoryKind::new(PATTERN_KIND).unwrap())
        .with_metadata(Metadata::new().with("pattern_id", 1));
    let e = b.remember(forged.clone()).await.unwrap_err();
    assert_eq!(kind_of(&e), Some(ErrorKind::InvalidInput), "{e}");
    assert!(e.to_string().contains("reserved"), "{e}");
    assert!(b.remember_many(vec![forged]).await.is_err());
    let mine = b
        .remember(NewMemory::new("an ordinary memory").with_scope(alice.clone()))
        .await
        .unwrap();
    let patch = MemoryPatch {
        kind: Some(MemoryKind::new(PATTERN_KIND).unwrap()),
        ..MemoryPatch::default()
    };
    assert!(b.update(mine.id, patch).await.is_err());
    // The brain's own pattern entries cannot be edited into other links either.
    let w = b
        .add_pattern(pattern(alice.clone(), "flaky test", "retry"))
        .await
        .unwrap();
    let entry = b
        .list(&memory_core::MemoryQuery::new(
            brain_patterns(alice.clone()),
            10,
        ))
        .await
        .unwrap();
    assert_eq!(entry.len(), 1);
    let patch = MemoryPatch {
        metadata: Some(Metadata::new().with("pattern_id", w.pattern.id + 1)),
        ..MemoryPatch::default()
    };
    assert!(b.update(entry[0].id, patch).await.is_err());
    assert_eq!(b.get(mine.id).await.unwrap().unwrap().kind.as_str(), "fact");
}

fn brain_patterns(scope: Scope) -> memory_core::MemoryFilter {
    memory_core::MemoryFilter::scoped(scope).with_kind(MemoryKind::new(PATTERN_KIND).unwrap())
}

#[tokio::test]
async fn forged_pattern_links_are_never_followed() {
    let b = brain().await;
    let alice = Scope::user("alice");
    let bob = Scope::user("bob");
    let secret = b
        .add_pattern(pattern(
            bob.clone(),
            "bob's private deploy key rotation",
            "rotate with vault",
        ))
        .await
        .unwrap()
        .pattern;
    for _ in 0..5 {
        b.pattern_outcome(secret.id, PatternOutcome::Success)
            .await
            .unwrap();
    }
    // A link forged below the facade (as an older brain or a direct store user could
    // have written it): Alice's memory of the reserved kind naming Bob's pattern.
    let forged = b
        .store()
        .put_memory(
            NewMemory::new("bob's private deploy key rotation")
                .with_scope(alice.clone())
                .with_kind(MemoryKind::new(PATTERN_KIND).unwrap())
                .with_metadata(
                    Metadata::new()
                        .with("pattern_id", secret.id)
                        .with("pattern_type", "fix"),
                ),
        )
        .await
        .unwrap();
    let found = b
        .find_similar_patterns(
            "private deploy key rotation",
            &PatternQuery::new(alice.clone(), 10),
        )
        .await
        .unwrap();
    assert!(
        found.iter().all(|m| m.pattern.scope == alice),
        "Bob's pattern reached Alice: {found:?}"
    );
    let hits = b
        .recall(&RecallQuery::new(
            "private deploy key rotation",
            alice.clone(),
        ))
        .await
        .unwrap();
    let hit = hits.iter().find(|h| h.memory.id == forged.id).unwrap();
    assert_eq!(
        hit.score.outcome, 0.0,
        "Bob's pattern counts ranked Alice's memory"
    );
    // Bob still sees his own, with its counts.
    let his = b
        .find_similar_patterns("deploy key rotation", &PatternQuery::new(bob.clone(), 10))
        .await
        .unwrap();
    assert_eq!(his.len(), 1);
    assert_eq!(his[0].pattern.success_count, 6);
}

#[tokio::test]
async fn decisions_link_only_what_their_scope_sees() {
    let b = brain().await;
    let alice = Scope::user("alice");
    let bob = Scope::user("bob");
    let bobs = b
        .add_pattern(pattern(bob.clone(), "bob's context", "bob's fix"))
        .await
        .unwrap()
        .pattern;
    let before = state(&b).await;
    let e = b
        .record_decision(decision(
            alice.clone(),
            &["a"],
            "a",
            Metadata::new().with("pattern_id", bobs.id),
        ))
        .await
        .unwrap_err();
    assert_eq!(kind_of(&e), Some(ErrorKind::NotFound), "{e}");
    let e = b
        .record_decision(decision(
            alice.clone(),
            &["a"],
            "a",
            Metadata::new()
                .with("routing_policy", "recommend/v2/00")
                .with("served_by", "a"),
        ))
        .await
        .unwrap_err();
    assert_eq!(kind_of(&e), Some(ErrorKind::InvalidInput), "{e}");
    assert_eq!(
        state(&b).await,
        before,
        "a refused decision wrote something"
    );

    // Bob's decision is out of reach of Alice's feedback.
    let d = b
        .record_decision(decision(bob.clone(), &["x", "y"], "x", Metadata::new()))
        .await
        .unwrap();
    let before = state(&b).await;
    let e = b
        .learn_from_feedback(&FeedbackRequest {
            feedback: "great, that worked perfectly".into(),
            task_context: "tests".into(),
            scope: alice.clone(),
            decision: Some(d.id),
            success: Some(true),
            quality: None,
        })
        .await
        .unwrap_err();
    assert_eq!(kind_of(&e), Some(ErrorKind::NotFound), "{e}");
    assert_eq!(state(&b).await, before, "refused feedback wrote something");
}

#[tokio::test]
async fn decisions_are_validated_before_anything_is_written() {
    let b = brain().await;
    let alice = Scope::user("alice");
    let before = state(&b).await;
    for (options, chosen) in [
        (vec![], "a"),
        (vec!["a", "b"], "c"),
        (vec!["a", ""], "a"),
        (vec!["a", "  "], "a"),
        (vec!["a", "a"], "a"),
    ] {
        let e = b
            .record_decision(decision(alice.clone(), &options, chosen, Metadata::new()))
            .await
            .unwrap_err();
        assert_eq!(
            kind_of(&e),
            Some(ErrorKind::InvalidInput),
            "{options:?} {chosen}: {e}"
        );
    }
    let d = b
        .record_decision(decision(alice.clone(), &["a", "b"], "b", Metadata::new()))
        .await
        .unwrap();
    let before_outcome = state(&b).await;
    assert_ne!(before, before_outcome);
    for outcome in ["", "   "] {
        let e = b
            .update_decision_outcome(d.id, outcome, Reward::new(1.0).unwrap())
            .await
            .unwrap_err();
        assert_eq!(kind_of(&e), Some(ErrorKind::InvalidInput), "{e}");
    }
    assert_eq!(state(&b).await, before_outcome);
    let e = b
        .recommend(&alice, "coder", "default", &[], false)
        .await
        .unwrap_err();
    assert_eq!(kind_of(&e), Some(ErrorKind::InvalidInput), "{e}");
}

async fn teach(b: &Brain, scope: &Scope, bucket: &str, chosen: &str, times: usize) {
    for _ in 0..times {
        let d = b
            .record_decision(decision(
                scope.clone(),
                &["nextest", "cargo test"],
                chosen,
                Metadata::new().with("task_bucket", bucket),
            ))
            .await
            .unwrap();
        b.update_decision_outcome(d.id, "it worked", Reward::new(1.0).unwrap())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn recommend_policies_belong_to_exactly_one_scope() {
    let b = brain().await;
    let alice = Scope::user("alice");
    teach(&b, &alice, "default", "nextest", 3).await;
    let options = vec!["cargo test".to_owned(), "nextest".to_owned()];
    let r = b
        .recommend(&alice, "coder", "default", &options, false)
        .await
        .unwrap();
    assert_eq!(r.ranked[0].option, "nextest");
    assert_eq!(r.ranked[0].observations, 3.0);
    // Nobody else ranks on Alice's outcomes: an agent-only scope, Alice's scope narrowed
    // to an agent, the global scope, and a bucket spelling the old policy name.
    for (scope, bucket) in [
        (Scope::global().with_agent("coder"), "default"),
        (alice.clone().with_agent("coder"), "default"),
        (alice.clone().with_session("s1"), "default"),
        (Scope::global(), "default"),
        (Scope::global(), "default/user/alice"),
        (Scope::user("bob"), "default"),
    ] {
        let r = b
            .recommend(&scope, "coder", bucket, &options, false)
            .await
            .unwrap();
        assert!(
            r.ranked.iter().all(|o| o.observations == 0.0),
            "{scope:?} {bucket}: {r:?}"
        );
        assert_ne!(
            r.policy,
            b.recommend(&alice, "coder", "default", &options, false)
                .await
                .unwrap()
                .policy
        );
    }
}

#[tokio::test]
async fn recommend_is_a_read_even_when_it_explores() {
    let b = brain().await;
    let alice = Scope::user("alice");
    teach(&b, &alice, "default", "nextest", 2).await;
    let before = state(&b).await;
    let mut firsts = std::collections::HashSet::new();
    for i in 0..60 {
        let options: Vec<String> = vec![
            "nextest".into(),
            "cargo test".into(),
            format!("new option {i}"),
        ];
        let r = b
            .recommend(&alice, "coder", "default", &options, true)
            .await
            .unwrap();
        assert_eq!(r.ranked.len(), 3);
        firsts.insert(r.ranked[0].option.clone());
    }
    assert_eq!(state(&b).await, before, "recommend wrote to the store");
    assert!(firsts.len() > 1, "exploration never varied: {firsts:?}");
}

#[tokio::test]
async fn an_outcome_that_cannot_be_learned_commits_nothing() {
    let b = brain().await;
    let alice = Scope::user("alice");
    let p = b
        .add_pattern(pattern(alice.clone(), "slow tests", "run them in parallel"))
        .await
        .unwrap()
        .pattern;
    // Fill the policy to its bound, one new option per outcome.
    for i in 0..MAX_POLICY_ARMS {
        let o = format!("option {i}");
        let d = b
            .record_decision(decision(alice.clone(), &[&o], &o, Metadata::new()))
            .await
            .unwrap();
        b.update_decision_outcome(d.id, "fine", Reward::new(0.5).unwrap())
            .await
            .unwrap();
    }
    let d = b
        .record_decision(decision(
            alice.clone(),
            &["one too many"],
            "one too many",
            Metadata::new().with("pattern_id", p.id),
        ))
        .await
        .unwrap();
    let before = state(&b).await;
    let e = b
        .update_decision_outcome(d.id, "it worked", Reward::new(1.0).unwrap())
        .await
        .unwrap_err();
    assert_eq!(kind_of(&e), Some(ErrorKind::InvalidInput), "{e}");
    assert_eq!(
        state(&b).await,
        before,
        "a failed outcome committed part of itself"
    );
    let stored = b.store().get_decision(d.id).await.unwrap().unwrap();
    assert_eq!(stored.outcome, None);
}

#[tokio::test]
async fn long_session_memories_never_brick_a_session() {
    let b = brain().await;
    let session = Scope::user("alice").with_session("s1");
    let long = "word ".repeat(120_000); // 600 KB
    for _ in 0..2 {
        b.remember(NewMemory::new(long.clone()).with_scope(session.clone()))
            .await
            .unwrap();
    }
    let hello = b
        .remember(NewMemory::new("hello").with_scope(session.clone()))
        .await
        .unwrap();
    assert!(hello.context.len() <= MAX_CONTEXT_BYTES);
    for m in b
        .list(&memory_core::MemoryQuery::new(
            memory_core::MemoryFilter::scoped(session.clone()),
            10,
        ))
        .await
        .unwrap()
    {
        assert!(m.context.len() <= MAX_CONTEXT_BYTES, "{}", m.context.len());
        assert!(m.content == "hello" || m.content == long, "content cut");
    }
    // The predecessor learned its next neighbour in the same write.
    let all = b
        .list(&memory_core::MemoryQuery::new(
            memory_core::MemoryFilter::scoped(session.clone()),
            10,
        ))
        .await
        .unwrap();
    assert_eq!(all.len(), 3);
    assert!(
        all.iter()
            .any(|m| m.content == long && m.context.ends_with("hello")),
        "no predecessor gained the next turn"
    );
}

/// An index whose catch-up and snapshot fail while `broken` is set.
struct FlakyIndex {
    inner: Arc<dyn DerivedIndex>,
    broken: AtomicBool,
}

fn broken() -> memory_core::Error {
    memory_core::Error::Unavailable {
        message: "snapshot directory raced by another process".into(),
        source: None,
    }
}

#[async_trait]
impl VectorIndex for FlakyIndex {
    fn dimension(&self) -> usize {
        self.inner.dimension()
    }
    async fn upsert(&self, entries: Vec<VectorEntry>) -> memory_core::Result<()> {
        self.inner.upsert(entries).await
    }
    async fn delete(&self, ids: &[memory_core::MemoryId]) -> memory_core::Result<usize> {
        self.inner.delete(ids).await
    }
    async fn search(&self, query: &VectorQuery) -> memory_core::Result<Vec<VectorHit>> {
        self.inner.search(query).await
    }
    async fn len(&self) -> memory_core::Result<usize> {
        self.inner.len().await
    }
}

#[async_trait]
impl DerivedIndex for FlakyIndex {
    async fn catch_up(&self, store: &dyn EmbeddingStore) -> memory_core::Result<usize> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(broken());
        }
        self.inner.catch_up(store).await
    }
    fn applied_seq(&self) -> u64 {
        self.inner.applied_seq()
    }
    async fn persist(&self) -> memory_core::Result<()> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(broken());
        }
        self.inner.persist().await
    }
}

#[tokio::test]
async fn a_committed_write_succeeds_even_when_the_index_cannot_follow() {
    let index = Arc::new(FlakyIndex {
        inner: brain_engines::exact_index(256).unwrap(),
        broken: AtomicBool::new(false),
    });
    let b = Brain::builder()
        .store(brain_engines::sqlite_in_memory().unwrap())
        .embedder(Arc::new(embed::HashingEmbedder::new(256).unwrap()))
        .index(index.clone())
        .build()
        .await
        .unwrap();
    let alice = Scope::user("alice");
    index.broken.store(true, Ordering::SeqCst);
    let m = b
        .remember(NewMemory::new("the release train leaves on Fridays").with_scope(alice.clone()))
        .await
        .expect("a stored memory is acknowledged");
    assert!(b.get(m.id).await.unwrap().is_some());
    let f = b
        .remember(NewMemory::new("to be forgotten").with_scope(alice.clone()))
        .await
        .unwrap();
    assert!(b.forget(f.id).await.unwrap());
    index.broken.store(false, Ordering::SeqCst);
    let hits = b
        .recall(&RecallQuery::new("when does the release train leave", alice).with_k(5))
        .await
        .unwrap();
    assert_eq!(hits[0].memory.id, m.id);
    assert!(hits.iter().all(|h| h.memory.id != f.id));
    assert_eq!(b.stats().await.unwrap().indexed, 1);
}

#[tokio::test]
async fn a_pattern_whose_entry_fails_is_taken_back() {
    // The entry's embedding is refused (another embedder pinned meanwhile), so the
    // pattern must not stay stored either.
    let store = brain_engines::sqlite_in_memory().unwrap();
    let b = Brain::builder()
        .store(store.clone())
        .embedder(Arc::new(embed::HashingEmbedder::new(256).unwrap()))
        .index(brain_engines::exact_index(256).unwrap())
        .build()
        .await
        .unwrap();
    let alice = Scope::user("alice");
    store
        .pin_embedder(&memory_core::EmbedderInfo {
            model_id: "another-model".into(),
            dimension: 256,
        })
        .await
        .unwrap();
    let before = state(&b).await;
    let e = b
        .add_pattern(pattern(alice.clone(), "a context", "a solution"))
        .await
        .unwrap_err();
    assert_eq!(kind_of(&e), Some(ErrorKind::Conflict), "{e}");
    assert_eq!(state(&b).await, before);
    let e = b
        .remember(NewMemory::new("written with the old model").with_scope(alice))
        .await
        .unwrap_err();
    assert_eq!(kind_of(&e), Some(ErrorKind::Conflict), "{e}");
    assert_eq!(state(&b).await, before);
}

#[tokio::test]
async fn an_import_cannot_bring_the_kinds_the_brain_reads_back() {
    let source = brain().await;
    source
        .remember(NewMemory::new("an ordinary memory").with_scope(Scope::user("alice")))
        .await
        .unwrap();
    let mut out = Vec::new();
    source
        .export_jsonl(&mut out, &brain::NoProgress)
        .await
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.contains("\"kind\":\"fact\""), "{text}");
    let forged = text.replace("\"kind\":\"fact\"", "\"kind\":\"code_pattern\"");
    let target = brain().await;
    let before = state(&target).await;
    let e = target
        .import_jsonl(&mut std::io::Cursor::new(forged), &brain::NoProgress)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("code_pattern"), "{e}");
    assert_eq!(state(&target).await, before);
}

//! Distillation through the brain: offline by default, provenance kept, the patterns
//! collection in step, stale marking on delete, and automatic runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail by panicking

use brain::config::EmbedderKind;
use brain::{Brain, BrainConfig};
use memory_core::RecordStoreExt;
use memory_core::{NewPattern, PatternQuery, Scope};
use serde_json::json;

fn config(dir: &std::path::Path) -> BrainConfig {
    let mut c = BrainConfig {
        data_dir: dir.to_path_buf(),
        ..Default::default()
    };
    c.embedder.kind = EmbedderKind::Hashing;
    c
}

const PORT: [(&str, &str); 3] = [
    (
        "address already in use port 8080 when starting the dev server",
        "kill the process holding port 8080 with fuser -k 8080/tcp",
    ),
    (
        "address already in use port 3000 when starting the dev server",
        "kill the process holding port 3000 with fuser -k 3000/tcp",
    ),
    (
        "address already in use port 5432 when starting the dev server",
        "kill the process holding port 5432 with fuser -k 5432/tcp",
    ),
];
const BORROW: [(&str, &str); 3] = [
    (
        "cannot borrow vector as mutable because it is also borrowed as immutable",
        "clone the value before the mutable borrow of the vector",
    ),
    (
        "cannot borrow map as mutable because it is also borrowed as immutable",
        "clone the value before the mutable borrow of the map",
    ),
    (
        "cannot borrow string as mutable because it is also borrowed as immutable",
        "clone the value before the mutable borrow of the string",
    ),
];

async fn fill(brain: &Brain, scope: &Scope) -> Vec<i64> {
    let mut ids = Vec::new();
    for (c, s) in PORT.iter().chain(BORROW.iter()) {
        let w = brain
            .add_pattern(NewPattern::new("error_fix", *c, *s).with_scope(scope.clone()))
            .await
            .unwrap();
        ids.push(w.pattern.id);
    }
    ids
}

#[tokio::test]
async fn distilled_patterns_are_stored_once_with_provenance_and_searchable() {
    let dir = tempfile::tempdir().unwrap();
    let brain = brain_engines::open(config(dir.path())).await.unwrap();
    let scope = Scope::user("ada");
    let ids = fill(&brain, &scope).await;

    let report = brain
        .distill(
            &scope,
            "error_fix",
            false,
            &distill::DistillOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(report.llm_calls, 0);
    assert_eq!(report.created.len(), 2, "{report:?}");
    let mut groups = report.groups.clone();
    groups.sort();
    assert_eq!(groups, vec![ids[..3].to_vec(), ids[3..].to_vec()]);
    let d = brain
        .store()
        .get_pattern(report.created[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.pattern_type, "distilled_error_fix");
    assert_eq!(d.success_count, 3);
    assert_eq!(d.metadata.get("method"), Some(&json!("extractive")));

    // Searchable by meaning like any pattern.
    let mut q = PatternQuery::new(scope.clone(), 5);
    q.pattern_type = Some("distilled_error_fix".into());
    let found = brain
        .find_similar_patterns("port already in use", &q)
        .await
        .unwrap();
    assert!(!found.is_empty());
    assert!(
        found
            .iter()
            .all(|m| m.pattern.pattern_type == "distilled_error_fix")
    );

    // Again: nothing new is stored.
    let again = brain
        .distill(
            &scope,
            "error_fix",
            false,
            &distill::DistillOptions::default(),
        )
        .await
        .unwrap();
    assert!(again.created.is_empty(), "{again:?}");
    let mut all = PatternQuery::new(scope.clone(), 100);
    all.pattern_type = Some("distilled_error_fix".into());
    assert_eq!(brain.store().list_patterns(&all).await.unwrap().len(), 2);

    // Deleting a source marks what was distilled from it as stale.
    assert!(brain.delete_pattern(ids[0]).await.unwrap());
    let stale: Vec<_> = brain
        .store()
        .list_patterns(&all)
        .await
        .unwrap()
        .into_iter()
        .filter(|p| p.metadata.get("stale") == Some(&json!(true)))
        .collect();
    assert_eq!(stale.len(), 1);
    assert!(
        stale[0]
            .metadata
            .get("distilled_from")
            .unwrap()
            .as_array()
            .unwrap()
            .contains(&json!(ids[0]))
    );
}

#[tokio::test]
async fn distilling_with_the_llm_without_a_provider_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let brain = brain_engines::open(config(dir.path())).await.unwrap();
    let e = brain
        .distill(
            &Scope::default(),
            "error_fix",
            true,
            &distill::DistillOptions::default(),
        )
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("no LLM provider is configured"),
        "{e}"
    );
}

#[tokio::test]
async fn a_type_is_distilled_automatically_every_n_patterns() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.distill.auto_after = Some(3);
    let brain = brain_engines::open(c).await.unwrap();
    let scope = Scope::user("ada");
    let mut q = PatternQuery::new(scope.clone(), 100);
    q.pattern_type = Some("distilled_error_fix".into());
    for (i, (ctx, sol)) in PORT.iter().enumerate() {
        brain
            .add_pattern(NewPattern::new("error_fix", *ctx, *sol).with_scope(scope.clone()))
            .await
            .unwrap();
        let n = brain.store().list_patterns(&q).await.unwrap().len();
        assert_eq!(n, usize::from(i == 2), "after {} patterns", i + 1);
    }
}
